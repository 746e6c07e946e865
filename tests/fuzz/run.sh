#!/bin/sh
# Builds the libFuzzer harnesses with clang (build-fuzz/) and runs each for SECONDS (default 30)
# on a scratch copy of its seed corpus; exits non-zero on any crash, leak, timeout or OOM.
set -eu
secs="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
. tools/deps.sh
hitl_install_deps
hitl_install_deps $HITL_FUZZ_PACKAGES
dir="${HITL_FUZZ_BUILD:-build-fuzz}"
# absolute: fuzz_cli runs each command in a scratch directory, where libFuzzer may write a crash
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DHITL_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target hitl_fuzz
harnesses="${HITL_FUZZ_ONLY:-fuzz_npy fuzz_ratings_csv fuzz_text fuzz_labelstudio fuzz_idx fuzz_jsonl
  fuzz_h5 fuzz_cli fuzz_http}"
out="$dir/fuzz-out"
mkdir -p "$out"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for h in $harnesses; do
    work="$out/$h"
    rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
    cp tests/fuzz/corpus/"$h"/* "$work/corpus/"
    echo "== $h: ${secs}s" >&2
    if ! "$dir/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" >"$work/log" 2>&1; then
        failed=1
        echo "$h FAILED; log: $work/log" >&2
        for a in "$work"/artifacts/*; do
            [ -e "$a" ] && echo "  reproducer: $a (rerun: $dir/tests/fuzz/$h $a)" >&2
        done
    fi
    grep -E '^stat::number_of_executed_units|^Done ' "$work/log" | sed "s/^/  /" >&2 || true
done
exit "$failed"

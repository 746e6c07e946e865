#!/bin/sh
# The main job on the bundled dataset: build hitl (Release) and rank the UCI digits pool by
# model uncertainty, from the stored probabilities and again from embeddings through the head.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
hitl_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target hitl >/dev/null
set -x
build/cli/hitl score datasets/digits.h5 --probs probs --ids ids --method all --rank-by margin \
    --top-k 10 --out build/digits-scores.h5
build/cli/hitl score datasets/digits.h5 --features features --head datasets/digits_head.h5 \
    --ids ids --method entropy --normalize --threshold 0.8 --top-k 0

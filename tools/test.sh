#!/bin/sh
# Builds hitl and runs the whole test suite: Check unit tests, CLI tests as data, and interop
# tests against numpy/h5py. HITL_SANITIZE=1 builds and runs it under ASan+UBSan instead;
# HITL_VALGRIND=1 runs the Check unit tests under valgrind's memcheck in build-valgrind
# (uninitialised reads, which ASan does not see, and definite leaks);
# HITL_MPI=1 builds hitl for MPI in build-mpi (installing Open MPI) and runs the tests of what
# MPI changes: every score test, and mpirun -n 1..4 against one process.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
hitl_install_deps
tests=""
if [ "${HITL_MPI:-0}" = 1 ]; then
    hitl_install_deps $HITL_MPI_PACKAGES
    dir=build-mpi
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DHITL_WERROR=ON -DHITL_MPI=ON >/dev/null
    tests="score|topk|mpi|light_hitl"
elif [ "${HITL_VALGRIND:-0}" = 1 ]; then
    hitl_install_deps $HITL_VALGRIND_PACKAGES
    dir=build-valgrind
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHITL_VALGRIND=ON -DHITL_WERROR=ON \
        >/dev/null
    tests="^check_"
elif [ "${HITL_SANITIZE:-0}" = 1 ]; then
    dir=build-asan
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DHITL_SANITIZE=ON -DHITL_WERROR=ON >/dev/null
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
    dir=build
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DHITL_WERROR=ON >/dev/null
fi
cmake --build "$dir" -j"$(nproc)"
cd "$dir" && ctest --output-on-failure -j"$(nproc)" ${tests:+-R "$tests"}

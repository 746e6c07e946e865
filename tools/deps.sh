#!/bin/sh
# Installs the Debian packages hitl builds, tests and benchmarks with, when any is missing.
# Sourced by tools/demo.sh and tools/test.sh; safe to run again (does nothing when all are there).
HITL_PACKAGES="build-essential cmake pkg-config libopenblas-dev libopenblas-openmp-dev libhdf5-dev libsqlite3-dev
  libjansson-dev zlib1g-dev check libssl-dev sqlite3 python3 python3-numpy python3-h5py python3-scipy
  python3-sklearn python3-statsmodels python3-nltk python3-nbformat jupyter-nbconvert python3-ipykernel
  python3-matplotlib openssl libmicrohttpd-dev chromium chromium-driver python3-selenium"
# Fashion-MNIST (gzipped IDX files in /usr/share/datasets/fashion-mnist), for the learning-curve
# experiment and benchmarks; the test suite does not need it.
HITL_DATA_PACKAGES="dataset-fashion-mnist"
# Only the MPI build (HITL_MPI=1 tools/test.sh, cmake -DHITL_MPI=ON) needs these: Open MPI and
# HDF5's Open MPI build, which installs beside the serial one.
HITL_MPI_PACKAGES="openmpi-bin libopenmpi-dev libhdf5-openmpi-dev"
# Only HITL_VALGRIND=1 tools/test.sh needs this.
HITL_VALGRIND_PACKAGES="valgrind"
# Only tests/fuzz/run.sh needs these: clang with libFuzzer and the OpenMP runtime it links.
HITL_FUZZ_PACKAGES="clang libclang-rt-14-dev libomp-dev"

# The browser test's chromedriver reaches chromium at "localhost": a machine with no entry for
# it (a bare debootstrap chroot has no /etc/hosts; an installed Debian always has one) gets
# the loopback lines every Debian /etc/hosts starts with.
hitl_localhost() {
    getent hosts localhost >/dev/null 2>&1 && return 0
    [ "$(id -u)" -eq 0 ] || return 0
    echo "adding localhost to /etc/hosts (it had no entry)" >&2
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >>/etc/hosts
}

# hitl_install_deps [PACKAGE...]: the given packages, by default $HITL_PACKAGES.
hitl_install_deps() {
    hitl_localhost
    missing=""
    for p in ${*:-$HITL_PACKAGES}; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
            $missing >&2
}

#!/bin/sh
# The main job on the bundled dataset: build hitl (Release), rank the UCI digits pool by model
# uncertainty (from the stored probabilities, then from embeddings through the head), and draw
# learning curves on it: the active-learning loop with an oracle, six strategies against random
# sampling, three seeds (a second or two).
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
    --ids ids --method entropy --normalize --threshold 0.95 --top-k 0
build/cli/hitl simulate --features datasets/digits.h5 --seed-labels 20 --batch 20 --rounds 15 \
    --out build/digits-curves

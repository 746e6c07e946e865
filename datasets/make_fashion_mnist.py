#!/usr/bin/python3
"""Convert Debian's Fashion-MNIST (package dataset-fashion-mnist) into an hitl pool in HDF5.

Why: the bundled digits pool is tiny (1797 rows); benchmarks and demos at scale want a larger
*real* pool. Fashion-MNIST ships as gzipped IDX files in /usr/share/datasets/fashion-mnist
(`apt-get install dataset-fashion-mnist`, no download at run time). This writes 70,000 rows:
/features float32 [N, 784] (pixel / 255), /labels int64, /ids, a `classes` root attribute with
the 10 class names, and, like datasets/make_digits.py, a linear head trained on a small labelled
subset with its /logits and /probs (plus HEAD.h5 holding /W, /b) so `hitl score` has real
uncertainty to rank. --tile K repeats the pool K times for larger N (same images, new ids).

Run: /usr/bin/python3 datasets/make_fashion_mnist.py [--out tests/bench/data/fashion_mnist.h5]
     [--head tests/bench/data/fashion_mnist_head.h5] [--labelled 100] [--tile 1]
"""
import argparse
import gzip
import os
import struct

import h5py
import numpy as np

SRC = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SEED = 20240601


def read_idx(path):
    """Reads a gzipped IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:  # 0x08: unsigned byte, the only type these files use
        raise SystemExit("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def softmax(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=SRC, help="folder holding the four IDX .gz files")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/bench/data/fashion_mnist.h5"))
    ap.add_argument("--head", default=os.path.join(ROOT, "tests/bench/data/fashion_mnist_head.h5"))
    ap.add_argument("--labelled", type=int, default=100,
                    help="images (stratified, fixed seed) the head is trained on; 0: no head")
    ap.add_argument("--tile", type=int, default=1, help="repeat the 70,000 rows this many times")
    args = ap.parse_args()

    if not os.path.isdir(args.src):
        raise SystemExit("%s: not found; install it with: apt-get install dataset-fashion-mnist"
                         % args.src)
    # Train split first, then test, as in the original release: rows 0..59999 then 60000..69999.
    images = np.concatenate([read_idx(os.path.join(args.src, "%s-images-idx3-ubyte.gz" % s))
                             for s in ("train", "t10k")])
    labels = np.concatenate([read_idx(os.path.join(args.src, "%s-labels-idx1-ubyte.gz" % s))
                             for s in ("train", "t10k")]).astype(np.int64)
    x = (images.reshape(len(images), -1) / np.float32(255.0)).astype(np.float32)
    n, d = x.shape

    str_t = h5py.string_dtype()
    classes = np.array(CLASSES, dtype=object)
    head = None
    if args.labelled > 0:
        from sklearn.linear_model import LogisticRegression
        rng = np.random.default_rng(SEED)
        per = max(1, args.labelled // 10)
        labelled = np.sort(np.concatenate(
            [rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in range(10)]))
        clf = LogisticRegression(multi_class="multinomial", solver="lbfgs", max_iter=5000)
        clf.fit(x[labelled], labels[labelled])
        head = (clf.coef_.T.astype(np.float32).copy(order="C"), clf.intercept_.astype(np.float32),
                labelled.astype(np.int64))
        os.makedirs(os.path.dirname(os.path.abspath(args.head)), exist_ok=True)
        with h5py.File(args.head, "w") as f:
            f.attrs.create("classes", classes, dtype=str_t)
            f.create_dataset("W", data=head[0])
            f.create_dataset("b", data=head[1])

    total = n * args.tile
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        f.attrs.create("classes", classes, dtype=str_t)
        f.attrs["source"] = ("Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando SE, MIT), "
                             "Debian package dataset-fashion-mnist")
        feats = f.create_dataset("features", (total, d), np.float32)
        f.create_dataset("labels", data=np.tile(labels, args.tile))
        f.create_dataset("ids", data=np.array(["fmnist-%07d" % i for i in range(total)],
                                              dtype=object), dtype=str_t)
        if head is not None:
            logits = (x @ head[0] + head[1]).astype(np.float32)
            probs = softmax(logits).astype(np.float32)
            dl = f.create_dataset("logits", (total, 10), np.float32)
            dp = f.create_dataset("probs", (total, 10), np.float32)
            for ds in (dl, dp):
                ds.attrs.create("classes", classes, dtype=str_t)
            f.create_dataset("labelled", data=head[2])
        for t in range(args.tile):  # one tile at a time: memory stays at one copy of the pool
            feats[t * n:(t + 1) * n] = x
            if head is not None:
                dl[t * n:(t + 1) * n] = logits
                dp[t * n:(t + 1) * n] = probs
    print("fashion-mnist: %d rows x %d features -> %s%s" % (
        total, d, args.out, "" if head is None else " (head -> %s)" % args.head))


if __name__ == "__main__":
    main()

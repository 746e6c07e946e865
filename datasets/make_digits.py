#!/usr/bin/python3
"""Build the bundled example pool, datasets/digits.h5, from the UCI handwritten digits.

Why: `hitl score` needs a small *real* pool to demonstrate and test on: features, true labels, a
linear head trained on only a few labelled images (so the rest of the pool is genuinely
uncertain), and the head's logits and probabilities. The images ship inside Debian's
python3-sklearn (sklearn/datasets/data/digits.csv.gz), so nothing is downloaded.

Run: /usr/bin/python3 datasets/make_digits.py   (writes digits.h5, digits_head.h5 and
digits_probs.npy next to this script; deterministic: same inputs, same numbers).
"""
import os

import h5py
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240601          # fixed: picks the labelled subset
N_LABELLED = 40          # 4 images per class: enough to learn something, far from certain
CLASSES = [str(c) for c in range(10)]


def pick_labelled(labels, per_class, rng):
    """A stratified random subset: `per_class` row indices of each class, sorted."""
    rows = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in range(10)]
    return np.sort(np.concatenate(rows)).astype(np.int64)


def softmax(z):
    """Row-wise softmax in float64 (stable: shift by the row maximum)."""
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    digits = load_digits()
    # Pixels are integers 0..16; scale to [0, 1] in float32 (the pool's feature dtype).
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    n, d = x.shape
    assert (n, d) == (1797, 64), (n, d)

    rng = np.random.default_rng(SEED)
    labelled = pick_labelled(y, N_LABELLED // 10, rng)

    # lbfgs with multinomial loss is deterministic for a fixed input (no random state used).
    clf = LogisticRegression(multi_class="multinomial", solver="lbfgs", C=1.0, max_iter=5000,
                             tol=1e-8)
    clf.fit(x[labelled], y[labelled])
    assert list(clf.classes_) == list(range(10))

    w = clf.coef_.T.astype(np.float32).copy(order="C")   # [64, 10]
    b = clf.intercept_.astype(np.float32)                 # [10]
    # The head's logits exactly as hitl computes them: float32 X @ W + b.
    logits = (x @ w + b).astype(np.float32)
    probs = softmax(logits).astype(np.float32)

    # The stored numbers must agree with each other and with scikit-learn.
    ref = clf.predict_proba(x)
    assert np.allclose(logits, x.astype(np.float64) @ w.astype(np.float64) + b, atol=1e-5)
    assert np.allclose(probs, softmax(logits), atol=1e-6)
    assert np.allclose(probs, ref, atol=1e-5), np.abs(probs - ref).max()
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    ids = np.array(["digit-%04d" % i for i in range(n)], dtype=object)
    str_t = h5py.string_dtype()
    classes = np.array(CLASSES, dtype=object)

    # track_times=False keeps the files byte-stable across runs (no creation timestamps).
    with h5py.File(os.path.join(HERE, "digits.h5"), "w", track_order=False) as f:
        f.attrs.create("classes", classes, dtype=str_t)
        f.attrs["source"] = ("UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak "
                             "1998), CC BY 4.0, via scikit-learn load_digits()")
        f.create_dataset("features", data=x, track_times=False)
        f.create_dataset("labels", data=y, track_times=False)
        f.create_dataset("ids", data=ids, dtype=str_t, track_times=False)
        for name, arr in (("probs", probs), ("logits", logits)):
            ds = f.create_dataset(name, data=arr, track_times=False)
            ds.attrs.create("classes", classes, dtype=str_t)
        f.create_dataset("labelled", data=labelled, track_times=False)

    with h5py.File(os.path.join(HERE, "digits_head.h5"), "w") as f:
        f.attrs.create("classes", classes, dtype=str_t)
        f.create_dataset("W", data=w, track_times=False)
        f.create_dataset("b", data=b, track_times=False)

    np.save(os.path.join(HERE, "digits_probs.npy"), np.ascontiguousarray(probs, np.float32))

    pool = np.setdiff1d(np.arange(n), labelled)
    acc = float((probs[pool].argmax(axis=1) == y[pool]).mean())
    top2 = np.sort(probs, axis=1)[:, -2:]
    margin = 1.0 - (top2[:, 1] - top2[:, 0])
    print("digits: %d rows, %d features, %d labelled; head accuracy on the rest %.3f; "
          "margin score min %.3f median %.3f max %.3f"
          % (n, d, len(labelled), acc, margin.min(), np.median(margin), margin.max()))


if __name__ == "__main__":
    main()

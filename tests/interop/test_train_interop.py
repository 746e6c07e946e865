#!/usr/bin/env python3
"""Interop test for `hitl train` against scikit-learn's LogisticRegression (lbfgs, same C, fitted
to tol 1e-10) on the bundled digits: held-out accuracy within 0.5 points, W and the centred b
close, the objective at hitl's head within 1e-6 of sklearn's optimum; soft labels from an export
against sklearn on rows expanded per class with the soft labels as sample weights; balanced class
weights; and `hitl score --head` with the trained head ranking rows as numpy does."""
import argparse
import json
import os
import subprocess
import sys
import unittest

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression

HITL = None
WORK = None
DIGITS = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "digits.h5")


def run(*args, code=0):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=600)
    if p.returncode != code:
        raise AssertionError(f"hitl {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p


def objective(W, b, X, Y, sw, C):
    """sklearn's: C sum_i sw_i sum_c -Y_ic ln p_ic + ||W||^2 / 2, divided by C sum(sw)."""
    z = X.astype(np.float64) @ W + b
    z -= z.max(1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -(sw[:, None] * Y * lp).sum() / sw.sum() + 0.5 * (W**2).sum() / (C * sw.sum())


def load_head(path):
    with h5py.File(path, "r") as h:
        return h["W"][:].astype(np.float64), h["b"][:].astype(np.float64), list(h.attrs["classes"])


class TrainInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        with h5py.File(DIGITS, "r") as f:
            cls.X = f["features"][:]
            cls.y = f["labels"][:]
            cls.labelled = f["labelled"][:]
        cls.split = os.path.join(WORK, "split.h5")
        with h5py.File(cls.split, "w") as g:
            g["train"] = np.arange(1000, dtype=np.int64)

    def check_against_sklearn(self, head, rows, C, sk_kwargs=None, sw=None):
        X, y = self.X[rows], self.y[rows]
        sk = LogisticRegression(C=C, tol=1e-10, max_iter=20000, **(sk_kwargs or {})).fit(X, y)
        W, b, classes = load_head(head)
        self.assertEqual(classes, [str(i) for i in range(10)])
        test = np.setdiff1d(np.arange(len(self.y)), rows)
        acc = ((self.X[test] @ W + b).argmax(1) == self.y[test]).mean()
        sk_acc = sk.score(self.X[test], self.y[test])
        print(f"  {len(rows)} rows, C={C}: held-out accuracy hitl {acc:.4f} sklearn {sk_acc:.4f}, "
              f"max |W - W_sk| {np.abs(W - sk.coef_.T).max():.2e} (max |W_sk| "
              f"{np.abs(sk.coef_).max():.2f})", file=sys.stderr)
        self.assertLessEqual(abs(acc - sk_acc), 0.005)
        # same minimiser: float32 gradients stop at max |grad| 1e-5, strong convexity 1/(C n)
        self.assertLess(np.abs(W - sk.coef_.T).max(), 0.02 * max(1.0, np.abs(sk.coef_).max()))
        bs = sk.intercept_
        self.assertLess(np.abs((b - b.mean()) - (bs - bs.mean())).max(), 0.05)
        Y = np.eye(10)[y]
        w = np.ones(len(rows)) if sw is None else sw
        f_h = objective(W, b, X, Y, w, C)
        f_s = objective(sk.coef_.T, sk.intercept_, X, Y, w, C)
        self.assertGreater(f_h, f_s - 1e-7)  # sklearn's is the optimum ...
        self.assertLess(f_h - f_s, 1e-6)  # ... and hitl's within 1e-6 of it
        return W, b

    def test_digits_1000_rows(self):
        head = os.path.join(WORK, "head1000.h5")
        p = run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels",
                "--rows", f"{self.split}:train", "--C", "1", "--out", head, "--json")
        rep = json.loads(p.stdout)
        self.assertTrue(rep["converged"])
        self.assertEqual((rep["n_rows"], rep["n_features"], rep["n_classes"]), (1000, 64, 10))
        self.assertAlmostEqual(rep["l2"], 1e-3)
        self.check_against_sklearn(head, np.arange(1000), 1.0)
        # --l2 is the documented map of C: l2 = 1 / (C n)
        head2 = os.path.join(WORK, "head1000_l2.h5")
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels",
            "--rows", f"{self.split}:train", "--l2", "0.01", "--out", head2)
        self.check_against_sklearn(head2, np.arange(1000), 0.1)

    def test_every_blas_kernel_converges(self):
        # The CPU picks OpenBLAS's kernel, and each rounds float32 differently: with a tolerance
        # no float32 gradient reaches, every kernel this CPU runs must still stop converged (by
        # the flat-loss rule) at sklearn's minimiser, and the kernels' heads must agree.
        with open("/proc/cpuinfo") as f:
            flags = f.read().split()
        kernels = ["", "Prescott"] + [k for k, f in (("Sandybridge", "avx"), ("Haswell", "avx2"),
                                                      ("SkylakeX", "avx512f")) if f in flags]
        heads = []
        for k in kernels:
            head = os.path.join(WORK, f"head_kernel_{k or 'default'}.h5")
            env = dict(os.environ, OPENBLAS_CORETYPE=k)
            p = subprocess.run([HITL, "train", "--features", f"{DIGITS}:features", "--labels",
                                f"{DIGITS}:labels", "--rows", f"{self.split}:train", "--tol",
                                "1e-9", "--out", head, "--json"], capture_output=True, text=True,
                               env=env, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", k)  # no "stopped without converging" warning
            rep = json.loads(p.stdout)
            self.assertTrue(rep["converged"], (k, rep))
            self.assertEqual(rep["stop"], "flat", (k, rep))
            self.assertLess(rep["iterations"], 500, (k, rep))
            heads.append(self.check_against_sklearn(head, np.arange(1000), 1.0))
        # the minimiser is determined to max |grad| / (1 / (C n)) = 1e-5 / 1e-3: 1e-2
        for W, b in heads[1:]:
            self.assertLess(np.abs(W - heads[0][0]).max(), 1e-2)

    def test_npy_labels_and_rows(self):
        # .npy vectors (int32 labels, uint16 rows) give the head the HDF5 datasets give
        head = os.path.join(WORK, "head_npy.h5")
        ref = os.path.join(WORK, "head_h5.h5")
        labels, rows = os.path.join(WORK, "labels.npy"), os.path.join(WORK, "rows.npy")
        np.save(labels, self.y.astype(np.int32))
        np.save(rows, self.labelled.astype(np.uint16))
        run("train", "--features", f"{DIGITS}:features", "--labels", labels, "--rows", rows,
            "--C", "10", "--out", head)
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels",
            "--rows", f"{DIGITS}:labelled", "--C", "10", "--out", ref)
        W, b, _ = load_head(head)
        W2, b2, _ = load_head(ref)
        self.assertTrue(np.array_equal(W, W2) and np.array_equal(b, b2))

    def test_labelled_rows(self):
        head = os.path.join(WORK, "head_labelled.h5")
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels", "--rows",
            f"{DIGITS}:labelled", "--C", "10", "--out", head)
        self.check_against_sklearn(head, self.labelled, 10.0)

    def test_balanced_class_weights(self):
        rows = np.concatenate([np.where(self.y == c)[0][: 10 + 15 * c] for c in range(10)])
        rows.sort()
        path = os.path.join(WORK, "imbalanced.h5")
        with h5py.File(path, "w") as g:
            g["rows"] = rows.astype(np.int64)
        head = os.path.join(WORK, "head_balanced.h5")
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels", "--rows",
            f"{path}:rows", "--class-weight", "balanced", "--C", "1", "--out", head)
        cnt = np.bincount(self.y[rows], minlength=10)
        sw = (len(rows) / (10 * cnt))[self.y[rows]]
        self.check_against_sklearn(head, rows, 1.0, {"class_weight": "balanced"}, sw)

    def test_export_soft_labels(self):
        """An export as `hitl export --format hdf5` lays it out; soft targets equal sklearn fitted
        on every (row, class) pair weighted by the soft label."""
        rng = np.random.default_rng(3)
        rows = np.sort(rng.choice(len(self.y), 300, replace=False))
        hard = self.y[rows]
        other = (hard + 1 + rng.integers(0, 9, len(rows))) % 10
        soft = np.zeros((len(rows), 10), np.float32)
        soft[np.arange(len(rows)), hard] = 0.75
        soft[np.arange(len(rows)), other] += 0.25
        path = os.path.join(WORK, "export.h5")
        with h5py.File(path, "w") as g:
            g["ids"] = np.array([f"digit-{r}" for r in rows], dtype=h5py.string_dtype())
            g["rows"] = rows.astype(np.int64)
            g["labels"] = hard.astype(np.int32)
            g["soft_labels"] = soft
            g.attrs["classes"] = np.array([str(i) for i in range(10)], dtype=h5py.string_dtype())
        head = os.path.join(WORK, "head_soft.h5")
        p = run("train", "--features", f"{DIGITS}:features", "--labels", path, "--soft", "--C",
                "1", "--out", head, "--json")
        self.assertTrue(json.loads(p.stdout)["soft"])
        W, b, _ = load_head(head)
        Xe = np.repeat(self.X[rows], 10, axis=0)
        ye = np.tile(np.arange(10), len(rows))
        sw = soft.astype(np.float64).ravel()
        keep = sw > 0
        sk = LogisticRegression(C=1.0, tol=1e-10, max_iter=20000).fit(
            Xe[keep], ye[keep], sample_weight=sw[keep])
        self.assertLess(np.abs(W - sk.coef_.T).max(), 0.02 * max(1.0, np.abs(sk.coef_).max()))
        f_h = objective(W, b, self.X[rows], soft.astype(np.float64), np.ones(len(rows)), 1.0)
        f_s = objective(sk.coef_.T, sk.intercept_, self.X[rows], soft.astype(np.float64),
                        np.ones(len(rows)), 1.0)
        self.assertLess(abs(f_h - f_s), 1e-6)
        # the hard labels of the same export give a different head
        head_h = os.path.join(WORK, "head_hard.h5")
        run("train", "--features", f"{DIGITS}:features", "--labels", path, "--C", "1", "--out",
            head_h)
        Wh, _, _ = load_head(head_h)
        self.assertGreater(np.abs(Wh - W).max(), 0.05)

    def test_score_with_trained_head(self):
        head = os.path.join(WORK, "head_score.h5")
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels", "--rows",
            f"{DIGITS}:labelled", "--out", head)
        W, b, _ = load_head(head)
        p = run("score", DIGITS, "--features", "features", "--head", head, "--method", "margin",
                "--top-k", "20", "--json")
        top = json.loads(p.stdout)["top"]
        z = self.X.astype(np.float64) @ W + b
        z -= z.max(1, keepdims=True)
        pr = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        s = -np.sort(-pr, axis=1)
        margin = 1 - (s[:, 0] - s[:, 1])
        order = np.lexsort((np.arange(len(margin)), -margin))
        got = [t["row"] for t in top]
        # float32 in hitl: compare as sets of near-equal scores, then exact where gaps are clear
        for r, t in zip(got, top):
            self.assertAlmostEqual(t["score"], margin[r], places=4)
        self.assertTrue(all(margin[r] >= margin[order[19]] - 1e-5 for r in got))
        self.assertGreaterEqual(len(set(got) & set(order[:20].tolist())), 18)

    def test_errors(self):
        out = os.path.join(WORK, "bad.h5")
        bad = os.path.join(WORK, "short.h5")
        with h5py.File(bad, "w") as g:
            g["labels"] = np.zeros(5, np.int64)
        p = run("train", "--features", f"{DIGITS}:features", "--labels", f"{bad}:labels", "--out",
                out, code=3)
        self.assertIn("5 entries", p.stderr)
        run("train", "--features", f"{DIGITS}:features", "--out", out, code=2)
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels", "--l2",
            "1", "--C", "1", "--out", out, code=2)
        run("train", "--features", f"{DIGITS}:features", "--labels", f"{DIGITS}:labels",
            "--classes", "a,b", "--out", out, code=3)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    HITL, WORK = args.hitl, args.work
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)

#!/usr/bin/python3
"""Interop tests for `hitl convert` and `hitl simulate`.

convert: IDX files written here with Python's gzip and struct modules (the format as LeCun's
page defines it) come back through h5py with every value; Debian's Fashion-MNIST, when
installed, converts to the same arrays numpy reads from the IDX files directly.
simulate: on the bundled digits, the JSON, HDF5 (h5py) and notebook (nbformat) outputs agree,
runs are deterministic for a seed, the first point of every strategy is the same (the seed
rows are shared), each point's accuracy is that of scikit-learn's LogisticRegression trained on
the rows labelled so far (the run reports them), and bad input exits with the documented code
and one line naming the problem."""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = os.path.normpath(os.path.join(HERE, "..", "..", "datasets"))
FMNIST = "/usr/share/datasets/fashion-mnist"
HITL = WORK = None


def hitl(*args, check=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr}")
    return p


def write_idx(path, a, code, gz=True):
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    data = struct.pack(">HBB", 0, code, a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape)
    data += np.ascontiguousarray(a, dtype=dt).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, code, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Convert(unittest.TestCase):
    def test_uint8_images_gzipped(self):
        rng = np.random.default_rng(1)
        img = rng.integers(0, 256, size=(50, 7, 5), dtype=np.uint8)
        lab = rng.integers(0, 3, size=50, dtype=np.uint8)
        write_idx(os.path.join(WORK, "img.gz"), img, 0x08)
        write_idx(os.path.join(WORK, "lab"), lab, 0x08, gz=False)
        out = os.path.join(WORK, "conv.h5")
        j = json.loads(hitl("convert", "--images", os.path.join(WORK, "img.gz"), "--labels",
                            os.path.join(WORK, "lab"), "--classes", "a,b,c", "--out", out,
                            "--json").stdout)
        self.assertEqual((j["rows"], j["cols"], j["type"]), (50, 35, "uint8"))
        with h5py.File(out, "r") as f:
            x = f["features"][()]
            self.assertEqual(x.dtype, np.float32)
            np.testing.assert_array_equal(x, (img.reshape(50, 35) / np.float32(255)).astype(
                np.float32))
            np.testing.assert_array_equal(f["labels"][()], lab.astype(np.int64))
            self.assertEqual([c.decode() if isinstance(c, bytes) else c
                              for c in f.attrs["classes"]], ["a", "b", "c"])

    def test_other_types_and_scale(self):
        a = np.array([[-3.5, 2.25], [1e6, -0.0]], dtype=np.float64)
        write_idx(os.path.join(WORK, "f64.idx"), a, 0x0E, gz=False)
        out = os.path.join(WORK, "f64.h5")
        hitl("convert", "--images", os.path.join(WORK, "f64.idx"), "--out", out, "--scale", "2")
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["features"][()], (a * 2).astype(np.float32))
            self.assertNotIn("labels", f)
        b = np.array([[-300, 7], [32767, -32768]], dtype=np.int16)
        write_idx(os.path.join(WORK, "i16.idx.gz"), b, 0x0B)
        hitl("convert", "--images", os.path.join(WORK, "i16.idx.gz"), "--out", out)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["features"][()], b.astype(np.float32))

    def test_bad_files(self):
        good = os.path.join(WORK, "good.idx")
        write_idx(good, np.zeros((4, 2), np.uint8), 0x08, gz=False)
        lab = os.path.join(WORK, "lab3.idx")
        write_idx(lab, np.zeros(3, np.uint8), 0x08, gz=False)
        out = os.path.join(WORK, "bad.h5")
        p = hitl("convert", "--images", good, "--labels", lab, "--out", out, check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("3 labels", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        self.assertFalse(os.path.exists(out))
        with open(good, "r+b") as f:  # cut the values short
            f.truncate(10)
        p = hitl("convert", "--images", good, "--out", out, check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("truncated", p.stderr)
        p = hitl("convert", "--images", os.path.join(WORK, "missing.idx"), "--out", out,
                 check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.idx", p.stderr)
        p = hitl("convert", "--out", out, check=False)
        self.assertEqual(p.returncode, 2)
        write_idx(lab, np.array([0, 5, 1, 1], np.uint8), 0x08, gz=False)
        write_idx(good, np.zeros((4, 2), np.uint8), 0x08, gz=False)
        p = hitl("convert", "--images", good, "--labels", lab, "--classes", "a,b", "--out", out,
                 check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("class names", p.stderr)
        # int32 2147483647 is 2^31 as a float32: no class index (it once passed the check and
        # was cast to int32, undefined behaviour)
        write_idx(lab, np.array([0, 1, 2147483647, 1], np.int32), 0x0C, gz=False)
        p = hitl("convert", "--images", good, "--labels", lab, "--out", out, check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("label 2 is 2.14748e+09, not a class index", p.stderr)
        self.assertFalse(os.path.exists(out))

    @unittest.skipUnless(os.path.isdir(FMNIST), "dataset-fashion-mnist is not installed")
    def test_fashion_mnist(self):
        out = os.path.join(WORK, "fm-test.h5")
        hitl("convert", "--images", os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"),
             "--labels", os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"), "--classes",
             "fashion-mnist", "--out", out)
        img = read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))
        lab = read_idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))
        with h5py.File(out, "r") as f:
            self.assertEqual(f["features"].shape, (10000, 784))
            np.testing.assert_array_equal(
                f["features"][()], (img.reshape(10000, 784) / np.float32(255)).astype(np.float32))
            np.testing.assert_array_equal(f["labels"][()], lab)
            self.assertEqual(len(f.attrs["classes"]), 10)


class Simulate(unittest.TestCase):
    ARGS = ["--features", os.path.join(DATASETS, "digits.h5"), "--seed-labels", "30",
            "--batch", "30", "--rounds", "6", "--seeds", "2"]

    @classmethod
    def setUpClass(cls):
        cls.prefix = os.path.join(WORK, "digits-curves")
        p = hitl("simulate", *cls.ARGS, "--strategies", "random,margin,kcenter,badge", "--out",
                 cls.prefix, "--json")
        cls.j = json.loads(p.stdout)

    def test_outputs_agree(self):
        j = self.j
        self.assertEqual((j["pool_rows"], j["test_rows"], j["features"], j["classes"]),
                         (1348, 449, 64, 10))
        with open(self.prefix + ".json") as f:
            self.assertEqual(json.load(f)["strategies"][1]["accuracy_mean"],
                             j["strategies"][1]["accuracy_mean"])
        with h5py.File(self.prefix + ".h5", "r") as f:
            names = [s.decode() if isinstance(s, bytes) else s for s in f.attrs["strategies"]]
            self.assertEqual(names, ["random", "margin", "kcenter", "badge"])
            np.testing.assert_array_equal(f.attrs["seeds"], [1, 2])
            for s in j["strategies"]:
                g = f[s["strategy"]]
                np.testing.assert_array_equal(g["labelled"][()], s["labelled"])
                acc = np.array([r["accuracy"] for r in s["runs"]])
                np.testing.assert_allclose(g["accuracy"][()], acc, rtol=1e-8)
                np.testing.assert_allclose(acc.mean(axis=0), s["accuracy_mean"], rtol=1e-8)
                np.testing.assert_allclose(acc.std(axis=0, ddof=1), s["accuracy_sd"], rtol=1e-6,
                                           atol=1e-12)
                self.assertEqual(s["labelled"], [30 + 30 * r for r in range(7)])
        import nbformat
        nb = nbformat.read(self.prefix + ".ipynb", as_version=4)
        nbformat.validate(nb)
        with open(self.prefix + ".svg") as f:
            svg = f.read()
        self.assertTrue(svg.startswith("<svg") and svg.rstrip().endswith("</svg>"))

    def test_shared_seed_rows_and_determinism(self):
        first = {s["strategy"]: [r["accuracy"][0] for r in s["runs"]]
                 for s in self.j["strategies"]}
        # every strategy trains its first head on the same seed rows
        self.assertEqual(len({tuple(v) for v in first.values()}), 1)
        again = json.loads(hitl("simulate", *self.ARGS, "--strategies", "margin,badge",
                                "--json").stdout)
        for s in again["strategies"]:
            mine = next(t for t in self.j["strategies"] if t["strategy"] == s["strategy"])
            self.assertEqual([r["accuracy"] for r in s["runs"]],
                             [r["accuracy"] for r in mine["runs"]])

    def test_random_beats_nothing_and_learns(self):
        for s in self.j["strategies"]:
            self.assertGreater(s["accuracy_mean"][-1], s["accuracy_mean"][0])
            self.assertGreater(s["final_accuracy_mean"], 0.85)

    def test_annotators(self):
        j = json.loads(hitl("simulate", *self.ARGS, "--strategies", "random", "--annotators",
                            "3x0.2", "--json").stdout)
        s = j["strategies"][0]
        self.assertEqual(s["annotations"], [3 * v for v in s["labelled"]])
        # 3 annotators wrong 20% of the time over 10 classes: the majority (3-way ties drawn) is
        # right with probability 0.512 + 0.384 + 0.096 (8/9) (1/3) = 0.924
        la = np.array([r["label_accuracy"][-1] for r in s["runs"]])
        self.assertTrue(np.all((la > 0.85) & (la < 0.99)), la)
        j = json.loads(hitl("simulate", *self.ARGS, "--strategies", "random", "--annotators",
                            "0,0", "--aggregate", "dawid-skene", "--json").stdout)
        la = np.array([r["label_accuracy"] for r in j["strategies"][0]["runs"]])
        self.assertTrue(np.all(la == 1.0))

    def test_heads_match_scikit_learn(self):
        """Each point's accuracy is that of LogisticRegression(C=1) on the rows labelled so far
        (the run reports them), within half a percentage point."""
        from sklearn.linear_model import LogisticRegression
        with h5py.File(os.path.join(DATASETS, "digits.h5"), "r") as f:
            x, y = f["features"][()], f["labels"][()]
        for name, rows in (("train", slice(0, 1300)), ("test", slice(1300, None))):
            with h5py.File(os.path.join(WORK, f"digits-{name}.h5"), "w") as f:
                f["features"], f["labels"] = x[rows], y[rows]
        j = json.loads(hitl("simulate", "--features", os.path.join(WORK, "digits-train.h5"),
                            "--test", os.path.join(WORK, "digits-test.h5"), "--strategies",
                            "margin,kcenter", "--seed-labels", "40", "--batch", "40", "--rounds",
                            "3", "--seeds", "1", "--max-iter", "1000", "--json").stdout)
        xt, yt = x[1300:], y[1300:]
        for s in j["strategies"]:
            run = s["runs"][0]
            self.assertEqual(len(run["rows"]), 160)
            self.assertEqual(len(set(run["rows"])), 160)
            for point, n in enumerate(s["labelled"]):
                rows = run["rows"][:int(n)]
                clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8).fit(x[rows], y[rows])
                ref = float(np.mean(clf.predict(xt) == yt))
                self.assertLess(abs(run["accuracy"][point] - ref), 0.005,
                                (s["strategy"], n, run["accuracy"][point], ref))

    def test_bad_input(self):
        cases = [
            (["--strategies", "coreset"], 2, "unknown strategy 'coreset'"),
            (["--annotators", "0.1,1.5"], 2, "--annotators"),
            (["--batch", "0"], 2, "--batch"),
            (["--labels", os.path.join(DATASETS, "digits.h5") + ":labelled"], 3, "40 labels"),
            (["--test", os.path.join(DATASETS, "digits.h5") + ":probs"], 3, "10 features"),
        ]
        for extra, code, text in cases:
            p = hitl("simulate", *self.ARGS, *extra, check=False)
            self.assertEqual(p.returncode, code, (extra, p.stderr))
            self.assertIn(text, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        p = hitl("simulate", "--features", os.path.join(WORK, "nope.h5"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope.h5", p.stderr)


def main():
    global HITL, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    HITL = os.path.abspath(args.hitl)
    WORK = os.path.abspath(args.work)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()

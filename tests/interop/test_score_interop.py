#!/usr/bin/env python3
"""Interop test for `hitl score`: h5py reads the --out file, numpy recomputes every score in
float64 from the same input, and the top-k must equal numpy's full sort (score descending, then
row ascending) for several block sizes and thread counts. Inputs: HDF5 (chunked and contiguous,
float32 and float64), .npy, logits, and embeddings through a linear head."""
import argparse
import json
import os
import subprocess
import sys
import unittest

import h5py
import numpy as np

HITL = None
WORK = None
METHODS = ["lc", "margin", "ratio", "entropy"]


def np_scores(p):
    """The documented definitions, in float64."""
    p = p.astype(np.float64)
    s = -np.sort(-p, axis=1)
    p1, p2 = s[:, 0], s[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)
    return {"lc": 1 - p1, "margin": 1 - (p1 - p2), "ratio": p2 / p1, "entropy": -plogp.sum(1)}


def softmax(z, t=1.0):
    z = z.astype(np.float64) / t
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def np_top(score, k):
    order = np.lexsort((np.arange(len(score)), -score))
    return order[:k]


def run(*args):
    p = subprocess.run([HITL, "score", *map(str, args)], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"hitl score {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p


class ScoreInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        rng = np.random.default_rng(11)
        n, c = 20011, 12  # prime N: no block or chunk divides it
        cls.probs = rng.dirichlet(np.full(c, 0.3), size=n).astype(np.float32)
        cls.logits = rng.normal(0, 3, size=(n, c)).astype(np.float32)
        d = 48
        cls.x = rng.normal(0, 1, size=(n, d)).astype(np.float32)
        cls.w = rng.normal(0, 0.3, size=(d, c)).astype(np.float32)
        cls.b = rng.normal(0, 1, size=c).astype(np.float32)
        cls.pool = os.path.join(WORK, "pool.h5")
        with h5py.File(cls.pool, "w") as f:
            f.create_dataset("probs", data=cls.probs, chunks=(1000, c))
            f.create_dataset("probs_contig", data=cls.probs)
            f.create_dataset("probs64", data=cls.probs.astype(np.float64), chunks=(333, c))
            # chunks narrower than a row (h5py's chunks=True on a narrow matrix), read by bands
            # of their columns; a last band narrower than the others; compressed chunks
            f.create_dataset("probs_cols", data=cls.probs, chunks=(1000, 1))
            f.create_dataset("probs_band5", data=cls.probs, chunks=(777, 5))
            f.create_dataset("probs_gzip", data=cls.probs, chunks=(1000, 3), compression="gzip",
                             compression_opts=1)
            f.create_dataset("probs_gzshuf", data=cls.probs, chunks=(2000, c), compression="gzip",
                             shuffle=True)
            f.create_dataset("logits", data=cls.logits, chunks=(4096, c))
            f.create_dataset("x", data=cls.x, chunks=(500, d))
        cls.head = os.path.join(WORK, "head.h5")
        with h5py.File(cls.head, "w") as f:
            f["W"] = cls.w
            f["b"] = cls.b
            f.attrs["classes"] = [f"c{i}" for i in range(c)]
        cls.npy = os.path.join(WORK, "probs.npy")
        np.save(cls.npy, cls.probs)

    def check_out(self, out, ref, tol, k=100, probs=None):
        with h5py.File(out, "r") as f:
            if probs is not None:  # every row's class and its probability (argmax: first of a tie)
                self.assertEqual(f["pred"].dtype, np.int32)
                np.testing.assert_array_equal(f["pred"][...], probs.argmax(1))
                np.testing.assert_allclose(f["p1"][...], probs.max(1), rtol=1e-6)
            for m in METHODS:
                got = f[f"scores/{m}"][...]
                self.assertEqual(got.dtype, np.float32)
                self.assertEqual(got.shape, ref[m].shape)
                np.testing.assert_allclose(got, ref[m], rtol=tol, atol=tol, err_msg=m)
                top = f[f"top/{m}"][...]
                self.assertEqual(top.dtype, np.int64)
                # the ranking is over hitl's own float32 scores; compare with numpy's sort of them
                np.testing.assert_array_equal(top, np_top(got, k), err_msg=m)
                # and the true top rows by the float64 reference score are the same set, up to
                # rows whose scores tie within float32 rounding at the cut
                cut = np.sort(ref[m])[::-1][k - 1]
                self.assertTrue(np.all(ref[m][top] >= cut - 2 * tol), m)

    def test_probs_all_methods_every_block_and_thread_count(self):
        ref = np_scores(self.probs)
        first = None
        for dset in ("probs", "probs_contig", "probs64", "probs_cols", "probs_band5",
                     "probs_gzip", "probs_gzshuf"):
            for block, threads in ((None, None), (1000, 1), (777, 2), (20011, 2), (1, 1)):
                if block == 1 and dset != "probs":
                    continue
                out = os.path.join(WORK, f"out-{dset}-{block}-{threads}.h5")
                args = [self.pool, "--probs", dset, "--method", "all", "--top-k", "100",
                        "--out", out, "--json"]
                if block:
                    args += ["--block-rows", block]
                if threads:
                    args += ["--threads", threads]
                js = json.loads(run(*args).stdout)
                self.check_out(out, ref, 2e-6, probs=self.probs)
                if first is None:
                    first = js
                self.assertEqual(js["top"], first["top"], f"{dset} block {block} thr {threads}")

    def test_out_carries_the_ids(self):
        """--out with --ids copies the pool's ids to /ids, as they are (strings or integers)."""
        pool = os.path.join(WORK, "pool-ids.h5")
        ids = np.array([f"doc-{i:06d}" for i in range(len(self.probs))], dtype=object)
        with h5py.File(pool, "w") as f:
            f["probs"] = self.probs
            f.create_dataset("ids", data=ids, dtype=h5py.string_dtype())
            f["nums"] = np.arange(len(self.probs), dtype=np.int64) * 7
            f["short"] = np.arange(10, dtype=np.int64)
        for dset, want in (("ids", list(ids)), ("nums", list(np.arange(len(self.probs)) * 7))):
            out = os.path.join(WORK, f"ids-{dset}.h5")
            run(pool, "--probs", "probs", "--ids", dset, "--top-k", 3, "--out", out)
            with h5py.File(out, "r") as f:
                got = f["ids"].asstr()[...] if dset == "ids" else f["ids"][...]
                self.assertEqual(list(got), want)
                np.testing.assert_array_equal(f["pred"][...], self.probs.argmax(1))
        out = os.path.join(WORK, "ids-short.h5")
        p = subprocess.run([HITL, "score", pool, "--probs", "probs", "--ids", "short", "--out",
                            out], capture_output=True, text=True)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertFalse(os.path.exists(out))  # no half-written score file

    def test_corrupt_compressed_chunk(self):
        """A stored chunk that does not inflate is an error naming the file (exit 3), on the
        path that inflates on every thread and on HDF5's own; no score file is left."""
        path = os.path.join(WORK, "corrupt.h5")
        with h5py.File(path, "w") as f:
            d = f.create_dataset("probs", data=self.probs, chunks=(1000, 12),
                                 compression="gzip")
            info = d.id.get_chunk_info(3)
        with open(path, "r+b") as f:  # scramble the middle of chunk 3's deflate stream
            f.seek(info.byte_offset + info.size // 2)
            f.write(bytes(64))
        for block in (None, 777):  # split (chunk-aligned blocks) and HDF5's own path
            out = os.path.join(WORK, "corrupt-out.h5")
            args = [HITL, "score", path, "--probs", "probs", "--out", out]
            if block:
                args += ["--block-rows", str(block)]
            p = subprocess.run(args, capture_output=True, text=True)
            self.assertIn(p.returncode, (1, 3), p.stderr)
            self.assertIn("corrupt.h5", p.stderr)
            self.assertFalse(os.path.exists(out))

    def test_without_mpi_under_a_launcher(self):
        """A build without MPI started as one of several ranks refuses (exit 2) instead of
        scoring the pool once per rank; as the one rank of a launcher it just runs."""
        data = os.path.join(os.path.dirname(os.path.realpath(HITL)), "hitl-data")
        needed = subprocess.run(["readelf", "-d", data], capture_output=True, text=True).stdout
        if "libmpi" in needed:
            self.skipTest("built with MPI: tests/interop/test_score_mpi.py runs it")
        path = os.path.join(WORK, "mpi-less.h5")
        with h5py.File(path, "w") as f:
            f["probs"] = self.probs[:50]
        env = dict(os.environ, OMPI_COMM_WORLD_SIZE="3", OMPI_COMM_WORLD_RANK="0")
        p = subprocess.run([HITL, "score", path, "--probs", "probs"], capture_output=True,
                           text=True, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("one of 3 MPI ranks", p.stderr)
        self.assertIn("-DHITL_MPI=ON", p.stderr)
        env.update(OMPI_COMM_WORLD_RANK="2")  # the other ranks refuse alike, silently
        p = subprocess.run([HITL, "score", path, "--probs", "probs"], capture_output=True,
                           text=True, env=env)
        self.assertEqual((p.returncode, p.stderr), (2, ""))
        env.update(OMPI_COMM_WORLD_SIZE="1", OMPI_COMM_WORLD_RANK="0")
        p = subprocess.run([HITL, "score", path, "--probs", "probs", "--json"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["n_rows"], 50)

    def test_shards_are_one_pool(self):
        """Files given together are shards of one pool: rows numbered across them in order,
        --ids read from each, one global top-k and threshold list, /scores for every row:
        the same, bit for bit, as the whole file; uneven shards, an empty one, HDF5 and .npy,
        every thread count."""
        n = len(self.probs)
        cuts = [0, 4000, 4000, 12345, n]  # an empty shard, uneven sizes
        paths, npys = [], []
        for i in range(4):
            part = self.probs[cuts[i]:cuts[i + 1]]
            path = os.path.join(WORK, f"shard{i}.h5")
            with h5py.File(path, "w") as f:
                f.create_dataset("probs", data=part.reshape(-1, self.probs.shape[1]),
                                 chunks=(500, self.probs.shape[1]) if len(part) else None)
                f["ids"] = np.arange(cuts[i], cuts[i + 1], dtype=np.int64) * 3
            paths.append(path)
            npy = os.path.join(WORK, f"shard{i}.npy")
            np.save(npy, part.reshape(-1, self.probs.shape[1]))
            npys.append(npy)
        whole = os.path.join(WORK, "whole-ids.h5")
        with h5py.File(whole, "w") as f:
            f["probs"] = self.probs
            f["ids"] = np.arange(n, dtype=np.int64) * 3
        args = ["--top-k", 300, "--threshold", 0.999, "--method", "all", "--json"]
        want = json.loads(run(whole, "--probs", "probs", "--ids", "ids", *args).stdout)
        self.assertEqual(want["top"][0]["id"], want["top"][0]["row"] * 3)
        for threads in (1, 2):
            got = json.loads(run(*paths, "--probs", "probs", "--ids", "ids", *args, "--threads",
                                 threads).stdout)
            self.assertEqual(got["n_rows"], n)
            self.assertEqual(got["top"], want["top"])
            self.assertEqual(got["above"], want["above"])
        got = json.loads(run(*npys, *args).stdout)
        self.assertEqual([t["row"] for t in got["top"]], [t["row"] for t in want["top"]])
        self.assertEqual([t["score"] for t in got["top"]], [t["score"] for t in want["top"]])
        out_w, out_s = os.path.join(WORK, "sh-w.h5"), os.path.join(WORK, "sh-s.h5")
        run(whole, "--probs", "probs", "--method", "all", "--out", out_w)
        run(*paths, "--probs=probs", "--method", "all", "--out", out_s, "--ids", "ids")
        with h5py.File(out_w) as a, h5py.File(out_s) as b:
            for m in METHODS:
                np.testing.assert_array_equal(a[f"scores/{m}"][...], b[f"scores/{m}"][...])
            np.testing.assert_array_equal(a["pred"][...], b["pred"][...])
            # the shards' ids joined in order: the whole file's
            np.testing.assert_array_equal(b["ids"][...], np.arange(n, dtype=np.int64) * 3)
        # string ids of two layouts (variable-length, fixed 'S'), joined as UTF-8 strings
        sids = [f"it\u00e9m-{i}" for i in range(n)]
        for i, path in enumerate(paths):
            with h5py.File(path, "a") as f:
                part = sids[cuts[i]:cuts[i + 1]]
                f["sids"] = (np.array([s.encode() for s in part], dtype="S16") if i % 2 else
                             np.array(part, dtype=h5py.string_dtype()))
        run(*paths, "--probs=probs", "--out", out_s, "--ids", "sids")
        with h5py.File(out_s) as b:
            self.assertEqual([v.decode() for v in b["ids"][...]], sids)
        bad = os.path.join(WORK, "shard-bad.h5")
        with h5py.File(bad, "w") as f:
            f["probs"] = self.probs[:10, :5]
        p = subprocess.run([HITL, "score", paths[0], bad, "--probs", "probs"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("columns", p.stderr)

    def test_npy_equals_hdf5(self):
        out_h5, out_npy = os.path.join(WORK, "a.h5"), os.path.join(WORK, "b.h5")
        run(self.pool, "--probs", "probs", "--method", "all", "--out", out_h5)
        run(self.npy, "--method", "all", "--out", out_npy)
        with h5py.File(out_h5) as a, h5py.File(out_npy) as b:
            for m in METHODS:
                np.testing.assert_array_equal(a[f"scores/{m}"][...], b[f"scores/{m}"][...])
                np.testing.assert_array_equal(a[f"top/{m}"][...], b[f"top/{m}"][...])

    def test_logits_and_temperature(self):
        for t in (1.0, 0.5, 3.0):
            out = os.path.join(WORK, f"logits-{t}.h5")
            run(self.pool, "--logits", "logits", "--method", "all", "--temperature", t,
                "--top-k", 100, "--out", out)
            self.check_out(out, np_scores(softmax(self.logits, t)), 2e-6)

    def test_normalized_entropy(self):
        out = os.path.join(WORK, "norm.h5")
        run(self.pool, "--probs", "probs", "--method", "entropy", "--normalize", "--out", out)
        with h5py.File(out) as f:
            got = f["scores/entropy"][...]
        ref = np_scores(self.probs)["entropy"] / np.log(self.probs.shape[1])
        np.testing.assert_allclose(got, ref, atol=2e-6)

    def test_head_path(self):
        out = os.path.join(WORK, "head-out.h5")
        js = json.loads(run(self.pool, "--features", "x", "--head", self.head, "--method", "all",
                            "--top-k", "100", "--out", out, "--json").stdout)
        z = self.x.astype(np.float64) @ self.w.astype(np.float64) + self.b
        ref = np_scores(softmax(z))
        self.check_out(out, ref, 2e-5)
        pred = np.argmax(z, 1)
        for r in js["top"]:
            self.assertEqual(r["pred"], f"c{pred[r['row']]}")

    def test_digits_dataset(self):
        digits = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "digits.h5")
        out = os.path.join(WORK, "digits-out.h5")
        run(digits, "--probs", "probs", "--method", "all", "--top-k", 100, "--out", out)
        with h5py.File(digits) as f:
            p = f["probs"][...]
        self.check_out(out, np_scores(p), 2e-6)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORK = a.hitl, a.work
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

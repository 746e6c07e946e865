#!/usr/bin/env python3
"""MPI test for `hitl-data score` (built with HITL_MPI=ON): `mpirun --oversubscribe -n P` for
P = 1..4 must give exactly the one-process result on the same input: the --json report (rows,
ids, scores, order, the --threshold list, skipped rows) byte for byte, and every dataset of the
--out file (h5py) bit for bit. Inputs cover what splits unevenly: N not divisible by P, blocks
fewer than ranks (a rank with no rows), k larger than a rank's rows, contiguous, chunked, gzip
and .npy pools, shards of uneven sizes (one empty), logits, and embeddings through a linear head.
A bad row must fail alike (the same first bad row, message and exit code), leaving no --out file.
The truth is the same binary run as one process, which the serial interop test checks against
numpy."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import unittest

import h5py
import numpy as np

HITL = None
MPIRUN = None
WORK = None
RANKS = (1, 2, 3, 4)
# Open MPI refuses root without these; CI and the fresh-machine check run as root.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def score(args, ranks=0):
    """(exit code, stdout, stderr) of `hitl-data score ARGS`, under mpirun when ranks > 0."""
    cmd = [HITL, "score", *map(str, args)]
    if ranks:
        cmd = [MPIRUN, "--oversubscribe", "-n", str(ranks), *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV, cwd=WORK)
    return p.returncode, p.stdout, p.stderr


def report(stdout):
    """The --json report without the --out path, which each run names differently."""
    r = json.loads(stdout)
    r.pop("out", None)
    return r


class ScoreMPI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        rng = np.random.default_rng(17)
        n, c, d = 10007, 6, 24  # prime N: no P or block divides it
        cls.probs = rng.dirichlet(np.full(c, 0.4), size=n).astype(np.float32)
        cls.probs[::97] = cls.probs[5]  # many exact ties across rank boundaries
        ids = np.array([f"item-{i:05d}".encode() for i in range(n)])
        with h5py.File(cls.path("contig.h5"), "w") as f:
            f["probs"] = cls.probs
            f["ids"] = ids
            f["probs"].attrs["classes"] = [f"c{i}" for i in range(c)]
        with h5py.File(cls.path("chunked.h5"), "w") as f:
            f.create_dataset("probs", data=cls.probs, chunks=(1000, c))
            f["ids"] = np.arange(n, dtype=np.int64) * 3
        with h5py.File(cls.path("gzip.h5"), "w") as f:
            f.create_dataset("probs", data=cls.probs, chunks=(700, c), compression="gzip",
                             shuffle=True)
        np.save(cls.path("pool.npy"), cls.probs)
        cuts = [0, 4000, 4000, 4001, 9000, n]  # uneven, one shard empty
        for i in range(len(cuts) - 1):
            with h5py.File(cls.path(f"shard{i}.h5"), "w") as f:
                f.create_dataset("probs", data=cls.probs[cuts[i]:cuts[i + 1]],
                                 maxshape=(None, c))
                f["ids"] = ids[cuts[i]:cuts[i + 1]]
        with h5py.File(cls.path("logits.h5"), "w") as f:
            f["logits"] = rng.normal(0, 2, size=(n, c)).astype(np.float32)
        with h5py.File(cls.path("feat.h5"), "w") as f:
            f["x"] = rng.normal(0, 1, size=(n, d)).astype(np.float32)
        with h5py.File(cls.path("head.h5"), "w") as f:
            f["W"] = rng.normal(0, 0.4, size=(d, c)).astype(np.float32)
            f["b"] = rng.normal(0, 0.1, size=c).astype(np.float32)
        with h5py.File(cls.path("tiny.h5"), "w") as f:
            f["probs"] = cls.probs[:5]
        bad = cls.probs.copy()
        bad[8123, 1] = -0.5  # the first bad row, in the last rank's part for every P
        bad[9100, 2] = np.nan
        with h5py.File(cls.path("bad.h5"), "w") as f:
            f["probs"] = bad

    @staticmethod
    def path(name):
        return os.path.join(WORK, name)

    def same_as_one_process(self, name, args, out=True, datasets=None):
        """Scores ARGS as one process and under 1..4 ranks; the reports and files must match."""
        base = list(args) + ["--json"]
        one_out = self.path(f"{name}-one.h5")
        rc, stdout, err = score(base + (["--out", one_out] if out else []))
        self.assertEqual(rc, 0, err)
        want = report(stdout)
        for p in RANKS:
            with self.subTest(case=name, ranks=p):
                got_out = self.path(f"{name}-{p}.h5")
                rc, stdout, err = score(base + (["--out", got_out] if out else []), ranks=p)
                self.assertEqual(rc, 0, err)
                self.assertEqual(report(stdout), want)
                if out:
                    self.same_file(one_out, got_out, datasets)
        return want

    def same_file(self, a, b, datasets):
        with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
            names = []
            fa.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) else None)
            if datasets:
                self.assertEqual(sorted(names), sorted(datasets))
            got = []
            fb.visititems(lambda k, v: got.append(k) if isinstance(v, h5py.Dataset) else None)
            self.assertEqual(sorted(got), sorted(names))
            for k in names:
                x, y = fa[k][()], fb[k][()]
                self.assertEqual(x.dtype, y.dtype, k)
                if x.dtype == object:  # variable-length strings: compare the values
                    self.assertEqual(list(x), list(y), k)
                else:  # bit for bit: NaN (skipped rows) compares equal only this way
                    self.assertEqual(x.tobytes(), y.tobytes(), k)

    def test_contiguous_all_methods_threshold_string_ids(self):
        r = self.same_as_one_process(
            "contig", ["contig.h5", "--probs", "probs", "--method", "all", "--top-k", "300",
                       "--threshold", "0.97", "--ids", "ids"],
            datasets=["scores/lc", "scores/margin", "scores/ratio", "scores/entropy", "pred",
                      "p1", "ids", "top/lc", "top/margin", "top/ratio", "top/entropy"])
        self.assertEqual(len(r["top"]), 300)
        self.assertGreater(r["n_above"], 0)
        self.assertTrue(r["top"][0]["id"].startswith("item-"))

    def test_chunked_small_blocks_int_ids(self):
        # 11 blocks of 1000 rows over up to 4 ranks: 2-3 blocks each
        self.same_as_one_process("chunked", ["chunked.h5", "--probs", "probs", "--top-k", "2500",
                                             "--ids", "ids", "--threads", "2"])

    def test_gzip(self):
        self.same_as_one_process("gzip", ["gzip.h5", "--probs", "probs", "--top-k", "100",
                                          "--method", "entropy", "--threads", "1"])

    def test_npy(self):
        self.same_as_one_process("npy", ["pool.npy", "--top-k", "50", "--block-rows", "999"])

    def test_shards(self):
        shards = [f"shard{i}.h5" for i in range(5)]
        r = self.same_as_one_process("shards", shards + ["--probs", "probs", "--top-k", "200",
                                                         "--threshold", "0.95", "--block-rows",
                                                         "1500", "--ids", "ids"])
        self.assertEqual(r["top"][0]["id"], "item-%05d" % r["top"][0]["row"])

    def test_logits_and_head(self):
        self.same_as_one_process("logits", ["logits.h5", "--logits", "logits", "--top-k", "40",
                                            "--temperature", "1.5", "--method", "all"])
        self.same_as_one_process("head", ["feat.h5", "--features", "x", "--head", "head.h5",
                                          "--top-k", "40", "--block-rows", "2048"])

    def test_ranks_without_rows_and_k_beyond_a_rank(self):
        # 5 rows in blocks of 2: three blocks, so with 4 ranks one has none; k = 4 is more
        # than any rank's rows, and k = 20 more than the pool's
        for k in ("4", "20"):
            r = self.same_as_one_process(f"tiny{k}", ["tiny.h5", "--probs", "probs", "--top-k", k,
                                                      "--block-rows", "2"])
            self.assertEqual(len(r["top"]), min(int(k), 5))

    def test_bad_row_fails_alike(self):
        rc1, out1, err1 = score(["bad.h5", "--probs", "probs", "--block-rows", "512", "--out",
                                 self.path("bad-one.h5")])
        self.assertEqual(rc1, 3)
        self.assertIn("row 8123", err1)
        self.assertFalse(os.path.exists(self.path("bad-one.h5")))
        for p in RANKS:
            with self.subTest(ranks=p):
                out = self.path(f"bad-{p}.h5")
                rc, stdout, err = score(["bad.h5", "--probs", "probs", "--block-rows", "512",
                                         "--out", out], ranks=p)
                self.assertNotEqual(rc, 0)
                # rank 0 alone reports, with the one process's message
                self.assertEqual([l for l in err.splitlines() if l.startswith("hitl")],
                                 [err1.strip()])
                self.assertFalse(os.path.exists(out), "a failed pass leaves no score file")
        # skipped instead of failing: the same count and first skipped row
        self.same_as_one_process("renorm", ["bad.h5", "--probs", "probs", "--renormalize",
                                            "--top-k", "30", "--block-rows", "512"])

    def test_usage_error_once(self):
        rc1, _, err1 = score(["contig.h5", "--probs", "probs", "--top-k", "x"])
        self.assertEqual(rc1, 2)
        rc, _, err = score(["contig.h5", "--probs", "probs", "--top-k", "x"], ranks=3)
        self.assertNotEqual(rc, 0)
        # every rank refuses alike; rank 0 alone says so
        self.assertEqual([l for l in err.splitlines() if l.startswith("hitl")],
                         [l for l in err1.splitlines() if l.startswith("hitl")])

    def test_missing_dataset_fails_alike(self):
        rc1, _, err1 = score(["contig.h5", "--probs", "nope"])
        for p in (1, 3):
            rc, _, err = score(["contig.h5", "--probs", "nope"], ranks=p)
            self.assertNotEqual(rc, 0)
            self.assertEqual([l for l in err.splitlines() if l.startswith("hitl")], [err1.strip()])


def main():
    global HITL, MPIRUN, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True, help="hitl-data built with HITL_MPI=ON")
    ap.add_argument("--mpirun", default=shutil.which("mpirun"))
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    HITL, MPIRUN, WORK = args.hitl, args.mpirun, args.work
    if not MPIRUN:
        sys.exit("test_score_mpi: no mpirun (Debian's openmpi-bin)")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()

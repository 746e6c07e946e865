#!/usr/bin/python3
"""Benchmark `hitl score` against numpy and against the memory-read floor (issue 2, item 10), and
across file layouts (issue 17).

What: generates large pools under tests/bench/data/ (gitignored) with h5py, then in one run times,
for each case, the read floor (tests/bench/read_floor.c: the same HDF5 block reads with no
computation), `hitl score` (margin, entropy, all; the linear-head path), (a) a modAL-style numpy pass
(load everything, np.sort per row, scipy.stats.entropy, np.argsort) and (b) the fastest idiomatic
numpy we could write (chunked read_direct, np.partition / argpartition, float32), plus OpenBLAS
sgemm on the head's shapes in memory (tests/bench/sgemm_floor.c). Every runner is a separate
process run --repeats times, interleaved; we report the median, the peak RSS (GNU time) and the
ratios against the acceptance targets, and save a small JSON to tests/bench/results/.
With --layouts (issue 17) it writes the same probability rows (10M x 10 and 1M x 1000; --quick
200k x 10 and 20k x 1000) as six layouts: contiguous, chunks (65536, C) (C = 1000: (1024, 1000),
about the same bytes), h5py chunks=True, gzip level 1 with chunks=True, a .npy file and 4 uneven
HDF5 shards; for each it measures, interleaved, the read floor of that file in hitl's blocks and
`hitl score --top-k 1000 --json` with --threads 1 and 2 (wall time, peak RSS, page faults),
checks that every run lists the same top-k, and reports the issue's goals as a markdown table,
followed by the start-up time of a 100-row file; JSON to tests/bench/results/layouts-DATE.json.

Why: the acceptance targets are relative (x-fold faster than numpy, within 2x of reading the
bytes, within 1.5x of each layout's own floor), so they must be measured side by side, on the
same warm files, in the same run.

Run:  /usr/bin/python3 tests/bench/bench_score.py            (full sizes: ~7 GB of data)
      /usr/bin/python3 tests/bench/bench_score.py --quick    (small sizes, about a minute)
      /usr/bin/python3 tests/bench/bench_score.py --layouts  (full sizes: ~27 GB of data)
      /usr/bin/python3 tests/bench/bench_score.py --layouts --quick --repeats 1
Needs Debian's python3-numpy, python3-h5py, python3-scipy (python3-threadpoolctl optional), GNU
time and the project built (build/cli/hitl and hitl-data, build/tests/bench/hitl_read_floor,
hitl_sgemm_floor); --hitl PATH points at another build tree's cli/hitl.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
K = 1000

# Acceptance targets of issue 2.
TARGETS = {
    "vs_modal": 50.0,          # hitl margin at least 50x faster than the modAL-style pass
    "vs_fast_numpy": 20.0,     # ... and 20x faster than the fastest numpy
    "margin_vs_floor": 2.0,    # within 2x of the read floor
    "entropy_vs_floor": 3.0,
    "all_vs_floor": 4.0,
    "rss_mib": 256.0,          # peak RSS of every hitl run
    "head_vs_read_x": 2.0,     # head path within 2x of reading X once
    "head_vs_sgemm": 0.70,     # at D=768, C=1000: at least 70% of sgemm's speed
}

# ---- data ----------------------------------------------------------------------------------------
# Full and --quick sizes. The D=768, C=1000 case uses N=200,000 (614 MB of X) rather than 1M to
# keep the file small: its ratio to sgemm does not depend on N once N is many blocks long.
SIZES = {
    "full": {"p10m": (10_000_000, 10), "p1m": (1_000_000, 1000), "h512": (1_000_000, 512, 10),
             "h768": (200_000, 768, 1000)},
    "quick": {"p10m": (200_000, 10), "p1m": (20_000, 1000), "h512": (20_000, 512, 10),
              "h768": (5_000, 768, 1000)},
}
CASES = ["p10m", "p1m", "h512", "h768"]


def h5_ok(path, dset, shape):
    """True when `path` holds `dset` with exactly `shape` (so generation can be skipped)."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return dset in f and f[dset].shape == tuple(shape) and f[dset].dtype == np.float32
    except OSError:
        return False


def write_classes(f, c):
    """The root attribute `classes` of a probability pool: "0" .. "C-1"."""
    import h5py
    f.attrs.create("classes", np.array([str(i) for i in range(c)], dtype=object),
                   dtype=h5py.string_dtype())


def make_probs(path, n, c, seed):
    """Dirichlet-ish probability rows (gamma(0.5) for few classes, exponential = Dirichlet(1) for
    many, which is faster to draw), normalised in float64 and stored float32, contiguous. Written
    in chunks of about 64 MB so memory stays bounded whatever N is."""
    import h5py
    if h5_ok(path, "probs", (n, c)):
        return
    rng = np.random.default_rng(seed)
    chunk = max(1, (16 << 20) // c)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        ds = f.create_dataset("probs", (n, c), np.float32)  # no chunks: contiguous layout
        write_classes(f, c)
        for r0 in range(0, n, chunk):
            m = min(chunk, n - r0)
            if c <= 32:
                g = rng.standard_gamma(0.5, size=(m, c))
            else:
                g = rng.standard_exponential(size=(m, c), dtype=np.float32).astype(np.float64)
            g /= g.sum(axis=1, keepdims=True)
            ds[r0:r0 + m] = g.astype(np.float32)
    os.replace(tmp, path)


def make_features(path, n, d, seed):
    """Gaussian embeddings X [n, d] float32, contiguous, written in chunks."""
    import h5py
    if h5_ok(path, "features", (n, d)):
        return
    rng = np.random.default_rng(seed)
    chunk = max(1, (16 << 20) // d)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        ds = f.create_dataset("features", (n, d), np.float32)
        for r0 in range(0, n, chunk):
            m = min(chunk, n - r0)
            ds[r0:r0 + m] = rng.standard_normal(size=(m, d), dtype=np.float32)
    os.replace(tmp, path)


def make_head(path, d, c, seed):
    """A random linear head in the layout hitl reads: /W [d, c], /b [c], root attr classes.
    W ~ N(0, 1/d) * 3 so the logits have spread (rows are neither uniform nor one-hot)."""
    import h5py
    if h5_ok(path, "W", (d, c)):
        return
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((d, c)) * (3.0 / np.sqrt(d))).astype(np.float32)
    b = (rng.standard_normal(c) * 0.1).astype(np.float32)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs.create("classes", np.array(["class-%d" % i for i in range(c)], dtype=object),
                       dtype=h5py.string_dtype())
        f.create_dataset("W", data=w)
        f.create_dataset("b", data=b)
    os.replace(tmp, path)


def prepare(case, size, data_dir):
    """Creates the files of one case if missing; returns a dict of paths and shapes."""
    os.makedirs(data_dir, exist_ok=True)
    if case in ("p10m", "p1m"):
        n, c = size
        path = os.path.join(data_dir, "probs_n%d_c%d.h5" % (n, c))
        make_probs(path, n, c, seed=1000 + c)
        return {"file": path, "dset": "probs", "n": n, "c": c, "bytes": n * c * 4}
    n, d, c = size
    path = os.path.join(data_dir, "features_n%d_d%d.h5" % (n, d))
    head = os.path.join(data_dir, "head_d%d_c%d.h5" % (d, c))
    make_features(path, n, d, seed=2000 + d)
    make_head(head, d, c, seed=3000 + d + c)
    return {"file": path, "dset": "features", "head": head, "n": n, "d": d, "c": c,
            "bytes": n * d * 4}


def warm(path):
    """One untimed read of the whole file so every timed run reads from the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(64 << 20):
            pass


# ---- numpy workers (run in a child process: `bench_score.py --worker ...`) -----------------------
def softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def worker_modal(args):
    """modAL-style: load the whole dataset, np.sort every row, scipy entropy, np.argsort."""
    import h5py
    from scipy.stats import entropy
    t0 = time.perf_counter()
    with h5py.File(args.file, "r") as f:
        p = f[args.dset][:]
    if args.head:
        with h5py.File(args.head, "r") as f:
            w, b = f["W"][:], f["b"][:]
        p = softmax_rows(p @ w + b)
    scores = {}
    if args.method in ("margin", "lc", "ratio", "all"):
        s = np.sort(p, axis=1)
        if args.method in ("lc", "all"):
            scores["lc"] = 1.0 - s[:, -1]
        if args.method in ("margin", "all"):
            scores["margin"] = 1.0 - (s[:, -1] - s[:, -2])
        if args.method in ("ratio", "all"):
            scores["ratio"] = s[:, -2] / s[:, -1]
    if args.method in ("entropy", "all"):
        scores["entropy"] = entropy(p, axis=1)
    rank = scores["margin" if args.method == "all" else args.method]
    top = np.argsort(-rank, kind="stable")[:args.top_k]
    return time.perf_counter() - t0, top


class TopK:
    """Running top-k over chunks with hitl's order (higher score first, ties to the lower row):
    keep the chunk's rows at or above its k-th score (argpartition), merge with the kept rows and
    cut back to k with a lexsort (at most ~2k rows)."""

    def __init__(self, k):
        self.k = k
        self.s = np.empty(0, np.float32)
        self.r = np.empty(0, np.int64)

    def offer(self, s, r0):
        k = self.k
        if len(self.s) == k:  # only rows beating the current k-th can enter (ties lose to it)
            idx = np.flatnonzero(s > self.s[-1])
            s = s[idx]
            if len(s) == 0:
                return
        else:
            idx = np.arange(len(s))
        if len(s) > k:
            kth = s[np.argpartition(s, len(s) - k)[len(s) - k]]
            sel = np.flatnonzero(s >= kth)  # every tie of the k-th score stays a candidate
            idx, s = idx[sel], s[sel]
        cs = np.concatenate([self.s, s])
        cr = np.concatenate([self.r, idx.astype(np.int64) + r0])
        order = np.lexsort((cr, -cs))[:k]
        self.s, self.r = cs[order], cr[order]

    def rows(self):
        return self.r


def top2_partition(p):
    """The two largest values of every row with np.partition (the textbook way)."""
    c = p.shape[1]
    part = np.partition(p, c - 2, axis=1)
    return part[:, -1], part[:, -2]


def top2_best(p):
    """The two largest values of every row, the fastest way we found; overwrites p.
    Few classes: a running max over the columns of the transposed block (10 vector ops on
    contiguous columns beat np.partition's per-row call about 10x at C=10). Many classes: argmax,
    knock the winner out, max again (about 20x faster than np.partition at C=1000). Ties at the
    top give p2 == p1 either way."""
    m, c = p.shape
    if c <= 32:
        pt = np.ascontiguousarray(p.T)
        p1 = pt[0].copy()
        p2 = np.full_like(p1, -np.inf)
        for j in range(1, c):
            x = pt[j]
            np.maximum(p2, np.minimum(p1, x), out=p2)
            np.maximum(p1, x, out=p1)
        return p1, p2
    rows = np.arange(m)
    idx = p.argmax(axis=1)
    p1 = p[rows, idx]
    p[rows, idx] = -np.inf
    return p1, p.max(axis=1)


def worker_fast(args):
    """Chunked numpy, float32 throughout: read_direct into one reused buffer, the top two of each
    row (np.partition, or with --variant best the faster ways of top2_best), entropy as an einsum
    of p and log(max(p, tiny)), and a running top-k (argpartition of the rows above the current
    k-th score)."""
    import h5py
    top2 = top2_best if args.variant == "best" else top2_partition
    t0 = time.perf_counter()
    f = h5py.File(args.file, "r")
    ds = f[args.dset]
    n, d = ds.shape
    w = b = None
    if args.head:
        with h5py.File(args.head, "r") as fh:
            w, b = fh["W"][:], fh["b"][:]
    # About 2 MB of input per chunk (fits in L2); larger chunks measured slower.
    chunk = args.chunk or max(1, (2 << 20) // (d * 4))
    buf = np.empty((min(chunk, n), d), np.float32)
    tiny = np.float32(np.finfo(np.float32).tiny)
    one = np.float32(1.0)
    top = TopK(args.top_k)
    for r0 in range(0, n, chunk):
        m = min(chunk, n - r0)
        p = buf[:m]
        ds.read_direct(p, np.s_[r0:r0 + m], np.s_[0:m])
        if w is not None:
            # Head path: z = X W + b (OpenBLAS sgemm), margin from the shifted exponentials.
            z = p @ w
            z += b
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            tot = z.sum(axis=1)
            p1, p2 = top2(z)
            score = one - (p1 - p2) / tot
        else:
            if args.method in ("entropy", "all"):
                ent = -np.einsum("ij,ij->i", p, np.log(np.maximum(p, tiny)))
            if args.method in ("margin", "lc", "ratio", "all"):
                p1, p2 = top2(p)
                margin = one - (p1 - p2)
            if args.method == "all":  # every score, as `hitl score --method all` computes
                _lc = one - p1  # noqa: F841 (the work is the point)
                _ratio = p2 / p1  # noqa: F841
            score = ent if args.method == "entropy" else margin
        top.offer(score, r0)
    rows = top.rows()
    f.close()
    return time.perf_counter() - t0, rows


def run_worker(args):
    fn = worker_modal if args.worker == "modal" else worker_fast
    seconds, rows = fn(args)
    info = {}
    try:
        import threadpoolctl
        info = [{k: v for k, v in d.items() if k in ("internal_api", "version", "architecture",
                                                     "num_threads", "threading_layer")}
                for d in threadpoolctl.threadpool_info()]
    except ImportError:
        info = "threadpoolctl not installed"
    json.dump({"seconds": seconds, "top": [int(r) for r in rows], "blas": info}, sys.stdout)


# ---- running and timing ----------------------------------------------------------------------
GNU_TIME = "/usr/bin/time"


def run_measured(cmd, env=None, gnu_time=True):
    """Runs cmd once as a whole process; returns a dict: wall (seconds, exec to exit), rss_mib,
    faults (minor + major page faults), rc, out, err. With gnu_time (and /usr/bin/time present)
    the process runs under GNU time, whose %M, %R and %F are the process's own peak RSS and
    faults as its wait4 sees them: wait4's ru_maxrss here would be polluted, since Linux carries
    the spawning process's high-water mark into the child at exec, and this script holds far
    more memory than hitl. Without it (start-up timings, where GNU time's own fork and exec would
    show) the faults come from this process's os.wait4 and rss_mib is None."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        full = cmd
        if gnu_time and os.access(GNU_TIME, os.X_OK):
            full = [GNU_TIME, "-f", "%M %R %F", "-o", rss_file.name] + cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = {"wall": wall, "rss_mib": ru.ru_maxrss / 1024.0 if gnu_time else None,
               "faults": ru.ru_minflt + ru.ru_majflt, "rc": p.returncode,
               "out": out.read().decode(), "err": err.read().decode()}
        if full is not cmd:
            try:
                rss, minflt, majflt = (int(v) for v in
                                       rss_file.read().strip().splitlines()[-1].split())
                res["rss_mib"], res["faults"] = rss / 1024.0, minflt + majflt
            except (ValueError, IndexError):
                pass
        return res


def run_timed(cmd, env=None):
    """Runs cmd once; returns (wall seconds, peak RSS MiB, exit code, stdout, stderr): see
    run_measured."""
    r = run_measured(cmd, env)
    return r["wall"], r["rss_mib"], r["rc"], r["out"], r["err"]


def numpy_env():
    """The numpy children's environment: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed when set
    (they may pin a slower kernel); hitl's own runs keep the environment untouched."""
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    return env


class Runner:
    """One timed command. kind: 'wall' (time the process) or 'self' (the child prints JSON with
    its own 'seconds', used for numpy, where the interpreter and import time are not counted,
    and for sgemm, which times only the multiplications)."""

    def __init__(self, name, cmd, kind, env=None, is_hitl=False, json_cmd=None):
        self.name, self.cmd, self.kind, self.env = name, cmd, kind, env
        self.is_hitl, self.json_cmd = is_hitl, json_cmd
        self.times, self.rss, self.self_times = [], [], []
        self.error = None
        self.top = None
        self.extra = {}

    def once(self, timed=True):
        wall, rss, rc, out, err = run_timed(self.cmd, self.env)
        if rc != 0:
            line = (err.strip().splitlines() or ["(no message)"])[-1]
            self.error = "exit %d: %s" % (rc, line)
            return False
        if not timed:
            return True
        secs = wall
        if self.kind == "self" or out.lstrip().startswith("{"):
            try:
                d = json.loads(out)
                self.self_times.append(d["seconds"])
                if self.kind == "self":
                    secs = d["seconds"]
                if "top" in d and self.top is None:
                    self.top = d["top"]
                for key in ("blas", "gflops", "openblas_threads", "block_rows"):
                    if key in d:
                        self.extra[key] = d[key]
            except (ValueError, KeyError):
                pass
        self.times.append(secs)
        self.rss.append(rss)
        return True

    def warmup(self):
        """One untimed run; for hitl a --json run whose top rows are checked against numpy."""
        if self.json_cmd:
            wall, rss, rc, out, err = run_timed(self.json_cmd, self.env)
            if rc != 0:
                self.error = "exit %d: %s" % (rc, (err.strip().splitlines() or ["?"])[-1])
                return False
            try:
                self.top = [int(t["row"]) for t in json.loads(out)["top"]]
            except (ValueError, KeyError, TypeError) as e:
                self.extra["json_error"] = str(e)
            return True
        if self.kind == "self" and self.cmd[0] == sys.executable:
            return True  # numpy passes: the file is warm already and each run is long
        return self.once(timed=False)

    def median(self):
        return statistics.median(self.times) if self.times else None

    def summary(self):
        d = {"cmd": " ".join(os.path.relpath(c, ROOT) if os.path.isabs(c) else c
                             for c in self.cmd),
             "median_s": self.median(), "times_s": self.times,
             "peak_rss_mib": max(self.rss) if self.rss else None}
        if self.self_times and self.kind == "wall":
            d["self_reported_median_s"] = statistics.median(self.self_times)
        if self.error:
            d["error"] = self.error
        d.update(self.extra)
        return d


def case_runners(case, spec, opts):
    """The runners of one case, in the order they are timed."""
    py = [sys.executable, os.path.abspath(__file__), "--worker"]
    hitl, floor, sgemm = opts.hitl, opts.read_floor, opts.sgemm_floor
    f, ds = spec["file"], spec["dset"]
    env = numpy_env()
    rs = [Runner("read floor", [floor, f, ds], "wall")]
    if case in ("p10m", "p1m"):
        for m in ("margin", "entropy", "all"):
            cmd = [hitl, "score", f, "--probs", ds, "--method", m, "--top-k", str(K)]
            rs.append(Runner("hitl " + m, cmd, "wall", is_hitl=True, json_cmd=cmd + ["--json"]))
        variants = (("modAL-style", ["modal"]), ("numpy np.partition", ["fast", "--variant",
                                                                        "partition"]),
                    ("fastest numpy", ["fast", "--variant", "best"]))
        for label, w in variants:
            for m in ("margin", "entropy", "all"):
                if m == "entropy" and label == "numpy np.partition":
                    continue  # no top-two step: the same code as fastest numpy entropy
                rs.append(Runner(label + " " + m, py + w + ["--file", f, "--dset", ds,
                                                            "--method", m, "--top-k", str(K)],
                                 "self", env=env))
    else:
        cmd = [hitl, "score", f, "--features", ds, "--head", spec["head"], "--method", "margin",
               "--top-k", str(K)]
        rs.append(Runner("hitl head margin", cmd, "wall", is_hitl=True,
                         json_cmd=cmd + ["--json"]))
        rs.append(Runner("fastest numpy head margin",
                         py + ["fast", "--file", f, "--dset", ds, "--head", spec["head"],
                               "--method", "margin", "--top-k", str(K)], "self", env=env))
        if case == "h512":
            rs.append(Runner("modAL-style head margin",
                             py + ["modal", "--file", f, "--dset", ds, "--head", spec["head"],
                                   "--method", "margin", "--top-k", str(K)], "self", env=env))
        else:
            rs.append(Runner("sgemm floor", [sgemm, str(spec["n"]), str(spec["d"]),
                                             str(spec["c"])], "self"))
    return rs


def overlap(a, b):
    if a is None or b is None:
        return None
    return len(set(a) & set(b)) / max(1, min(len(a), len(b)))


def evaluate(results):
    """The acceptance checks from the medians: a list of (target, measured, goal, pass)."""
    checks = []

    def med(case, name):
        r = results.get(case, {}).get("runners", {}).get(name)
        return r["median_s"] if r and r.get("median_s") else None

    def add(label, measured, goal, higher_is_better):
        if measured is None:
            checks.append((label, None, goal, None))
        else:
            ok = measured >= goal if higher_is_better else measured <= goal
            checks.append((label, measured, goal, ok))

    for case in ("p10m", "p1m"):
        if case not in results:
            continue
        m = med(case, "hitl margin")
        fl = med(case, "read floor")
        a = med(case, "modAL-style margin")
        b = med(case, "fastest numpy margin")
        bp = med(case, "numpy np.partition margin")
        add("%s margin: x faster than modAL-style" % case, a / m if a and m else None,
            TARGETS["vs_modal"], True)
        add("%s margin: x faster than fastest numpy" % case, b / m if b and m else None,
            TARGETS["vs_fast_numpy"], True)
        add("%s margin: x faster than np.partition numpy" % case, bp / m if bp and m else None,
            TARGETS["vs_fast_numpy"], True)
        for meth, key in (("margin", "margin_vs_floor"), ("entropy", "entropy_vs_floor"),
                          ("all", "all_vs_floor")):
            t = med(case, "hitl " + meth)
            add("%s %s: x read floor" % (case, meth), t / fl if t and fl else None,
                TARGETS[key], False)
    if "h512" in results:
        h = med("h512", "hitl head margin")
        x = med("h512", "read floor")
        add("h512 head margin: x read X once", h / x if h and x else None,
            TARGETS["head_vs_read_x"], False)
    if "h768" in results:
        h = med("h768", "hitl head margin")
        s = med("h768", "sgemm floor")
        add("h768 head margin: fraction of sgemm speed", s / h if h and s else None,
            TARGETS["head_vs_sgemm"], True)
    rss = [r["peak_rss_mib"] for c in results.values() for n, r in c["runners"].items()
           if n.startswith("hitl") and r.get("peak_rss_mib")]
    add("hitl peak RSS MiB (max over runs)", max(rss) if rss else None, TARGETS["rss_mib"], False)
    return checks


def fmt(v, spec="%.3f"):
    return "-" if v is None else spec % v


def machine_info():
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "nproc": os.cpu_count(), "uname": " ".join(platform.uname()[:3]),
            "openblas_env": {v: os.environ.get(v) for v in ("OPENBLAS_CORETYPE",
                                                            "OPENBLAS_L2_SIZE",
                                                            "OPENBLAS_NUM_THREADS",
                                                            "OMP_NUM_THREADS")}}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        info["git"] = (rev or "no commit") + ("-dirty" if dirty else "")
    except OSError:
        pass
    return info


# ---- layouts (issue 17) --------------------------------------------------------------------------
# The same pool (make_probs's rows, seed 1000 + C) in six layouts, each scored with one and with two
# threads against the read floor of that very file, in one run. Full sizes as issue 17 words them;
# --quick takes 1/50 of the rows.
LAYOUT_SIZES = {"full": {"p10m": (10_000_000, 10), "p1m": (1_000_000, 1000)},
                "quick": {"p10m": (200_000, 10), "p1m": (20_000, 1000)}}
LAYOUT_CASES = ["p10m", "p1m"]
LAYOUTS = ["contiguous", "chunks", "auto", "gzip", "npy", "shards"]
SHARD_WEIGHTS = (0.41, 0.07, 0.33, 0.19)  # 4 uneven shards, whose edges fall inside blocks
TINY_ROWS = 100
BLOCK_BYTES = 1 << 20        # HITL_BLOCK_BYTES (io/files/hitl_files.h), hitl_block_rows' budget
SCORED_BYTES = 24            # sizeof(hitl_scored): float score, float p1, int32 pred, int64 row
CHUNK_BYTES_MAX = 4 << 20    # the 'chunks' layout's chunk stays within this (fixed_chunk_rows)
COPY_BYTES = 64 << 20        # about this many bytes of rows per slice when a layout is written
PAGE = 4096
LAYOUT_GOALS = {
    "floor_x": 1.5, "floor_plus_s": 0.020,      # 2 threads, whole process: <= 1.5 floor + 20 ms
    "gzip_floor_x": 0.7,                         # gzip, 2 threads: <= 0.7 x the one-core floor
    "threads_x": 1.05, "threads_plus_s": 0.005,  # t2 <= t1, allowing 5 % + 5 ms of noise
    "faults_x": 2.0,                             # page faults <= 2 x the pages the buffers need
    "tiny_s": 0.015,                             # a 100-row file scored in under 15 ms
}
BUDGET_FORMULA = (
    "page-fault budget = %g x ceil(buffers / 4096); buffers = T x (B*C*4 block of rows + "
    "3 x B*4 margin scores, pred, p1 + K*24 top-k heap [gzip: + B/N of the dataset's stored "
    "bytes + one inflated chunk, chunk_rows*chunk_cols*4]) + K*24 merged top-k [unfiltered "
    "chunks narrower than a row: + B*chunk_cols*4, the band buffer]; T = threads the pass runs "
    "(at most its number of blocks), B = block rows, K = %d (pass_open in io/files/score_pass.c, "
    "h5_fetch / h5_decode / read_bands in io/files/matrix_h5.c); measured faults are the whole "
    "process's minor + major faults less those of scoring a 100-row file with the same "
    "threads (start-up: libraries, relocations, thread stacks)" % (LAYOUT_GOALS["faults_x"], K))


class LayoutError(Exception):
    """A runner of the layouts mode failed (its exit code and last line of stderr)."""


def fixed_chunk_rows(c):
    """Rows per chunk of the 'chunks' layout: 65536 as issue 17 names it while such a chunk holds
    at most 4 MiB (C <= 16); wider rows halve it until the chunk fits, which keeps it near the
    bytes of (65536, 10) (2.6 MB): C = 1000 gives (1024, 1000), 4.1 MB, two chunks a block."""
    rows = 65536
    while rows > 1 and rows * c * 4 > CHUNK_BYTES_MAX:
        rows //= 2
    return rows


def shard_rows(n):
    """The rows of each of the 4 uneven shards: SHARD_WEIGHTS of N, the last takes the rest."""
    rows = [int(n * w) for w in SHARD_WEIGHTS[:-1]]
    return rows + [n - sum(rows)]


def layout_spec(name, n, c, data_dir):
    """What one layout's files are called and how h5py creates them (make_layout writes them)."""
    base = os.path.join(data_dir, "probs_n%d_c%d" % (n, c))
    spec = {"layout": name, "n": n, "c": c, "dset": "probs", "create": {},
            "files": [base + "_%s.h5" % name]}
    if name == "contiguous":  # the pool of the p10m / p1m cases itself
        spec.update(label="contiguous", files=[base + ".h5"])
    elif name == "chunks":
        r = fixed_chunk_rows(c)
        spec.update(label="chunks (%d, %d)" % (r, c), files=[base + "_chunks%d.h5" % r],
                    create={"chunks": (r, c)})
    elif name == "auto":
        spec.update(label="h5py chunks=True", create={"chunks": True})
    elif name == "gzip":
        spec.update(label="gzip 1, chunks=True", files=[base + "_gzip1.h5"],
                    create={"chunks": True, "compression": "gzip", "compression_opts": 1})
    elif name == "npy":
        spec.update(label=".npy", files=[base + ".npy"], dset=None)
    elif name == "shards":
        rows = shard_rows(n)
        spec.update(label="4 shards (%s rows)" % " + ".join(str(r) for r in rows), shard_rows=rows,
                    files=[base + "_shard%dof%d.h5" % (i + 1, len(rows)) for i in range(len(rows))])
    else:
        raise ValueError("unknown layout %r" % name)
    return spec


def h5_props(path):
    """Shape, type and storage of `path`'s /probs; None when the file or dataset is not there."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            ds = f.get("probs")
            if not isinstance(ds, h5py.Dataset):
                return None
            return {"shape": ds.shape, "float32": ds.dtype == np.float32, "chunks": ds.chunks,
                    "compression": ds.compression, "compression_opts": ds.compression_opts,
                    "shuffle": ds.shuffle, "stored_bytes": ds.id.get_storage_size()}
    except OSError:
        return None


def layout_ok(spec):
    """True when spec's files are present with the right shape and layout (generation skipped)."""
    n, c = spec["n"], spec["c"]
    if spec["layout"] == "npy":
        try:
            a = np.load(spec["files"][0], mmap_mode="r")
        except (OSError, ValueError):
            return False
        return a.shape == (n, c) and a.dtype == np.dtype("<f4") and a.flags.c_contiguous
    shapes = [(r, c) for r in spec.get("shard_rows", [n])]
    want = spec["create"]
    for path, shape in zip(spec["files"], shapes):
        p = h5_props(path)
        if not p or p["shape"] != shape or not p["float32"] or p["shuffle"]:
            return False
        chunks = want.get("chunks")
        if (p["chunks"] is None) != (chunks is None):
            return False
        if isinstance(chunks, tuple) and p["chunks"] != chunks:
            return False
        if (p["compression"], p["compression_opts"]) != (want.get("compression"),
                                                         want.get("compression_opts")):
            return False
    return True


def make_layout(spec, src):
    """Writes spec's files from the contiguous pool `src` unless they are there already, so that
    every layout holds exactly the same values. Rows are copied in slices of whole chunks, about
    64 MB each (memory stays bounded, and no chunk is written twice), into a .tmp file renamed
    at the end. Returns the seconds spent (0 when skipped)."""
    import h5py
    if layout_ok(spec):
        return 0.0
    t0 = time.perf_counter()
    n, c = spec["n"], spec["c"]
    with h5py.File(src, "r") as fs:
        ds_src = fs["probs"]
        if spec["layout"] == "npy":
            path = spec["files"][0]
            tmp = path + ".tmp"
            step = max(1, COPY_BYTES // (c * 4))
            with open(tmp, "wb") as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                         "shape": (n, c)})
                for r0 in range(0, n, step):
                    f.write(np.ascontiguousarray(ds_src[r0:r0 + step], dtype="<f4").tobytes())
            os.replace(tmp, path)
            return time.perf_counter() - t0
        first = 0
        for path, m in zip(spec["files"], spec.get("shard_rows", [n])):
            tmp = path + ".tmp"
            with h5py.File(tmp, "w") as f:
                write_classes(f, c)
                ds = f.create_dataset("probs", (m, c), np.float32, **spec["create"])
                cr = ds.chunks[0] if ds.chunks else 1
                step = max(cr, COPY_BYTES // (c * 4) // cr * cr)
                for r0 in range(0, m, step):
                    k = min(step, m - r0)
                    ds[r0:r0 + k] = ds_src[first + r0:first + r0 + k]
            os.replace(tmp, path)
            first += m
    return time.perf_counter() - t0


def score_block(n, c, chunk_rows):
    """The rows per block `hitl score` reads, as pass_open in io/files/score_pass.c picks them
    (its --json does not report them): hitl_block_rows(C), about 8 MiB of rows, rounded down to
    whole chunks (at least one) when the dataset is chunked, and at most N."""
    block = BLOCK_BYTES // (c * 4) if 0 < c <= BLOCK_BYTES // 4 else 1
    if chunk_rows:
        block = block // chunk_rows * chunk_rows if block > chunk_rows else chunk_rows
    return min(block, n) if n else 1


def describe_layout(spec):
    """Adds what the pass and the budget depend on, read from the written files: the chunk
    shape, whether the chunks are deflated (hitl then fetches them under its lock and inflates
    them on every thread) or narrower than a row (read by bands of columns), the stored and
    on-disk bytes, and the block rows."""
    n, c = spec["n"], spec["c"]
    props = [h5_props(f) for f in spec["files"]] if spec["dset"] else []
    chunks = props[0]["chunks"] if props else None
    spec["chunks"] = list(chunks) if chunks else None
    spec["deflate"] = bool(props and props[0]["compression"] == "gzip")
    spec["chunk_rows"] = chunks[0] if chunks and spec["layout"] != "shards" else 0
    spec["band_cols"] = chunks[1] if chunks and not spec["deflate"] and chunks[1] < c else 0
    spec["stored_bytes"] = sum(p["stored_bytes"] for p in props) if props else n * c * 4
    spec["disk_bytes"] = sum(os.path.getsize(f) for f in spec["files"])
    if spec["layout"] in ("auto", "gzip"):
        spec["label"] += " (%d, %d)" % tuple(chunks)
    spec["block"] = score_block(n, c, spec["chunk_rows"])
    spec["nblocks"] = -(-n // spec["block"])
    return spec


def threads_used(spec, threads):
    """The threads the pass runs: never more than it has blocks."""
    return max(1, min(threads, spec["nblocks"]))


def buffer_bytes(spec, threads):
    """What the pass allocates and touches for `hitl score --method margin --top-k K` with this
    many threads (BUDGET_FORMULA says it in words)."""
    n, c, b = spec["n"], spec["c"], spec["block"]
    per_thread = b * c * 4 + 3 * b * 4 + K * SCORED_BYTES
    if spec["deflate"]:
        per_thread += -(-spec["stored_bytes"] * b // n) + spec["chunks"][0] * spec["chunks"][1] * 4
    total = threads_used(spec, threads) * per_thread + K * SCORED_BYTES
    if spec["band_cols"]:
        total += b * spec["band_cols"] * 4
    return total


def fault_budget(spec, threads):
    return int(LAYOUT_GOALS["faults_x"] * -(-buffer_bytes(spec, threads) // PAGE))


def checked(r, cmd):
    """r from run_measured; raises LayoutError when the process failed."""
    if r["rc"] != 0:
        line = (r["err"].strip().splitlines() or ["(no message)"])[-1]
        raise LayoutError("%s: exit %d: %s" % (" ".join(os.path.basename(x) for x in cmd[:2]),
                                               r["rc"], line))
    return r


def floor_once(spec, floor_bin):
    """One read-floor measurement of a layout: (whole-process seconds, the floor's own seconds).
    The floor is hitl_read_floor over the same files and dataset in the same blocks as `hitl
    score` (for gzip that is HDF5's own read, inflating in H5Dread on one core; for the shards
    one process reading them in sequence through hitl_matrix_open_shards, as hitl does)."""
    cmd = [floor_bin] + spec["files"] + [spec["dset"] or "-", "--block-rows", str(spec["block"])]
    r = checked(run_measured(cmd), cmd)
    d = json.loads(r["out"])
    if d["block_rows"] != spec["block"] or d["rows"] != spec["n"]:
        raise LayoutError("read floor read %s rows in blocks of %s, not %d in blocks of %d" % (
            d["rows"], d["block_rows"], spec["n"], spec["block"]))
    return r["wall"], d["seconds"]


def hitl_layout_cmd(hitl, spec, threads):
    cmd = [hitl, "score"] + spec["files"]
    cmd += ["--probs", spec["dset"]] if spec["dset"] else ["--probs"]  # .npy: no dataset named
    return cmd + ["--top-k", str(K), "--json", "--threads", str(threads)]


def hitl_once(hitl, spec, threads):
    """One `hitl score` run: (run_measured's dict, its top-k as (row, score, pred, p1) tuples)."""
    cmd = hitl_layout_cmd(hitl, spec, threads)
    r = checked(run_measured(cmd), cmd)
    try:
        d = json.loads(r["out"])
        top = [(t["row"], t["score"], t["pred"], t["p1"]) for t in d["top"]]
    except (ValueError, KeyError, TypeError) as e:
        raise LayoutError("hitl score --json: unreadable output (%s)" % e)
    if d.get("n_rows") != spec["n"]:
        raise LayoutError("hitl score saw %s rows, not %d" % (d.get("n_rows"), spec["n"]))
    return r, top


class TopCheck:
    """Holds the first top-k of one size and every difference from it: rows, order, scores, pred
    and p1 must be identical across layouts and thread counts (the order is total, ties to the
    lower row). pred compares as text: the HDF5 pools name their classes "0" .. "C-1" (--json
    prints the name), a .npy file names none (--json prints the index)."""

    def __init__(self):
        self.ref = self.ref_name = None
        self.runs = 0
        self.mismatches = []

    def add(self, name, top):
        top = [(row, score, str(pred), p1) for row, score, pred, p1 in top]
        self.runs += 1
        if self.ref is None:
            self.ref, self.ref_name = top, name
            return
        if top == self.ref:
            return
        i = next((i for i, (a, b) in enumerate(zip(top, self.ref)) if a != b),
                 min(len(top), len(self.ref)))
        self.mismatches.append("%s differs from %s at rank %d: %s against %s" % (
            name, self.ref_name, i, top[i] if i < len(top) else "(end)",
            self.ref[i] if i < len(self.ref) else "(end)"))


def layout_orders(specs, repeats, interleave_all):
    """The order runs go in: a list of (spec, repeat), where repeat -1 is the untimed warm-up.
    interleave_all: each repeat runs every layout in turn (the files fit in the page cache
    together); else layout by layout, each file warmed just before its runs, so that a file
    larger than what the cache can hold beside the others is still read warm."""
    if interleave_all:
        return [(s, -1) for s in specs] + [(s, i) for i in range(repeats) for s in specs]
    return [(s, i) for s in specs for i in range(-1, repeats)]


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measure_layouts(case, n, c, opts, names, repeats, check):
    """Generates (when missing) and measures every layout of one size; returns its results."""
    t0 = time.perf_counter()
    src = prepare(case, (n, c), opts.data)["file"]
    specs = []
    for name in names:
        spec = layout_spec(name, n, c, opts.data)
        if name != "contiguous":
            make_layout(spec, src)
        specs.append(describe_layout(spec))
    gen = time.perf_counter() - t0
    total = sum(s["disk_bytes"] for s in specs)
    interleave_all = total <= mem_available() // 2
    print("\n== layouts %s: N=%d x C=%d (%.0f MB of files%s); %s" % (
        case, n, c, total / 1e6, ", generated in %.0f s" % gen if gen > 1 else "",
        "every layout in turn each repeat" if interleave_all else
        "layout by layout (the files do not fit in half the free memory together)"), flush=True)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print("  note: 1-minute load average %.2f before this size: other work shares the cores, "
              "expect noisy timings" % load_before, flush=True)
    m = {s["layout"]: {"floor": [], "floor_own": [], "t1": [], "t2": [], "rss1": [], "rss2": [],
                       "faults1": [], "faults2": [], "error": None} for s in specs}
    warmed = set()
    for spec, rep in layout_orders(specs, repeats, interleave_all):
        r = m[spec["layout"]]
        if r["error"]:
            continue
        if spec["layout"] not in warmed:
            for f in spec["files"]:
                warm(f)
            warmed.add(spec["layout"])
        try:  # floor, one thread, two threads: interleaved
            fl, fl_own = floor_once(spec, opts.read_floor)
            runs = [(t,) + hitl_once(opts.hitl, spec, t) for t in (1, 2)]
        except LayoutError as e:
            r["error"] = str(e)
            print("  %s: %s" % (spec["label"], e), flush=True)
            continue
        for t, run, top in runs:
            check.add("%s %s --threads %d" % (case, spec["layout"], t), top)
        if rep < 0:
            continue  # the untimed warm-up: its top-k is checked all the same
        r["floor"].append(fl)
        r["floor_own"].append(fl_own)
        for t, run, top in runs:
            r["t%d" % t].append(run["wall"])
            r["rss%d" % t].append(run["rss_mib"])
            r["faults%d" % t].append(run["faults"])
        if spec is specs[-1] if interleave_all else rep == repeats - 1:
            print("  %s repeat %d/%d done" % ("all layouts" if interleave_all else spec["layout"],
                                              rep + 1, repeats), flush=True)

    out = {"n": n, "c": c, "bytes": n * c * 4, "interleaved_across_layouts": interleave_all,
           "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
           "layouts": {}}
    g = LAYOUT_GOALS
    for spec in specs:
        r = m[spec["layout"]]
        d = {k: spec[k] for k in ("label", "files", "chunks", "deflate", "band_cols", "block",
                                  "nblocks", "stored_bytes", "disk_bytes")}
        d["files"] = [os.path.relpath(f, ROOT) for f in d["files"]]
        d["cmd_t2"] = " ".join(os.path.relpath(x, ROOT) if os.path.isabs(x) else x
                               for x in hitl_layout_cmd(opts.hitl, spec, 2))
        d["threads_used"] = {"t1": 1, "t2": threads_used(spec, 2)}
        d["budget_bytes"] = {"t1": buffer_bytes(spec, 1), "t2": buffer_bytes(spec, 2)}
        d["fault_budget"] = {"t1": fault_budget(spec, 1), "t2": fault_budget(spec, 2)}
        for key in ("floor", "floor_own", "t1", "t2", "rss1", "rss2", "faults1", "faults2"):
            d[key + "_runs"] = r[key]
        if r["error"]:
            d["error"] = r["error"]
        if r["floor"]:
            fl, t1, t2 = (statistics.median(r[k]) for k in ("floor", "t1", "t2"))
            f1, f2 = (statistics.median(r[k]) for k in ("faults1", "faults2"))
            if spec["deflate"]:
                limit, rule = g["gzip_floor_x"] * fl, "t2 <= %g x floor" % g["gzip_floor_x"]
            else:
                limit = g["floor_x"] * fl + g["floor_plus_s"]
                rule = "t2 <= %g x floor + %g s" % (g["floor_x"], g["floor_plus_s"])
            rss = [x for x in r["rss1"] + r["rss2"] if x is not None]
            d.update(floor_s=fl, t1_s=t1, t2_s=t2, ratio_t2_floor=t2 / fl,
                     peak_rss_mib=max(rss) if rss else None, faults={"t1": f1, "t2": f2},
                     goals={"time": {"rule": rule, "limit_s": limit, "pass": t2 <= limit},
                            "threads": {"rule": "t2 <= %g x t1 + %g s" % (
                                g["threads_x"], g["threads_plus_s"]),
                                "limit_s": g["threads_x"] * t1 + g["threads_plus_s"],
                                "pass": t2 <= g["threads_x"] * t1 + g["threads_plus_s"]},
                            "faults": {"rule": "faults - start-up faults <= budget, each "
                                                "thread count",
                                       "startup": opts.fault_base,
                                       "pass": f1 - opts.fault_base[1] <= d["fault_budget"]["t1"]
                                       and f2 - opts.fault_base[2] <= d["fault_budget"]["t2"]}})
        out["layouts"][spec["layout"]] = d
    return out


def pf(ok):
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def print_layout_table(res):
    """The size's results as a markdown table."""
    print("\n  N=%d x C=%d, median of the repeats, seconds (whole processes, warm page cache)\n"
          % (res["n"], res["c"]))
    print("| layout | block (blocks) | floor | hitl t1 | hitl t2 | t2 / floor | time goal | "
          "time | t2 <= t1 | pass faults t1 / t2 | budget t1 / t2 | faults | RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- "
          "| ---: |")
    for d in res["layouts"].values():
        if "goals" not in d:
            print("| %s | %d (%d) | %s |%s" % (d["label"], d["block"], d["nblocks"],
                                               d.get("error", "not measured"), " |" * 10))
            continue
        g = d["goals"]
        t2 = fmt(d["t2_s"]) + ("" if d["threads_used"]["t2"] == 2 else " (1 thr)")
        print("| %s | %d (%d) | %s | %s | %s | %.2f | %s %s | %s | %s | %d / %d | %d / %d | %s | "
              "%s |" % (d["label"], d["block"], d["nblocks"], fmt(d["floor_s"]), fmt(d["t1_s"]),
                        t2, d["ratio_t2_floor"], "<=", fmt(g["time"]["limit_s"]),
                        pf(g["time"]["pass"]), pf(g["threads"]["pass"]),
                        d["faults"]["t1"] - g["faults"]["startup"][1],
                        d["faults"]["t2"] - g["faults"]["startup"][2],
                        d["fault_budget"]["t1"], d["fault_budget"]["t2"],
                        pf(g["faults"]["pass"]), fmt(d["peak_rss_mib"], "%.0f")))


def startup_faults(opts):
    """The page faults of starting hitl and scoring a 100-row file (libraries, relocations,
    thread stacks), per thread count, median of 5 under GNU time like the layout runs: what a
    pass's own faults are counted above, so the budget compares the buffers with the buffers."""
    path = os.path.join(opts.data, "probs_n%d_c10.h5" % TINY_ROWS)
    os.makedirs(opts.data, exist_ok=True)
    make_probs(path, TINY_ROWS, 10, seed=1010)
    base = {}
    for t in (1, 2):
        cmd = [opts.hitl, "score", path, "--probs", "probs", "--top-k", str(K), "--json",
               "--threads", str(t)]
        base[t] = statistics.median(run_measured(cmd)["faults"] for _ in range(5))
    return base


def measure_tiny(opts, runs):
    """Start-up: a 100 x 10 HDF5 pool scored by the light `hitl` (which execs hitl-data) and by
    hitl-data itself, with `hitl-data --help` and /bin/true as references, interleaved, `runs`
    times each after one untimed run. Timed straight from this script (no GNU time in between),
    so /bin/true's time is what fork, exec and wait4 cost from here."""
    path = os.path.join(opts.data, "probs_n%d_c10.h5" % TINY_ROWS)
    os.makedirs(opts.data, exist_ok=True)
    make_probs(path, TINY_ROWS, 10, seed=1010)
    warm(path)
    hitl_data = os.path.join(os.path.dirname(os.path.abspath(opts.hitl)), "hitl-data")
    score = ["score", path, "--probs", "probs", "--top-k", str(K), "--json"]
    runners = [("hitl score (light hitl, execs hitl-data)", [opts.hitl] + score, True),
               ("hitl-data score", [hitl_data] + score, True),
               ("hitl-data --help", [hitl_data, "--help"], False),
               ("/bin/true", ["/bin/true"], False)]
    times = {name: [] for name, _, _ in runners}
    faults = {name: [] for name, _, _ in runners}
    errors = {}
    for i in range(-1, runs):
        for name, cmd, _ in runners:
            if name in errors:
                continue
            r = run_measured(cmd, gnu_time=False)
            if r["rc"] != 0:
                errors[name] = "exit %d: %s" % (r["rc"], (r["err"].strip().splitlines() or
                                                          ["(no message)"])[-1])
            elif i >= 0:
                times[name].append(r["wall"])
                faults[name].append(r["faults"])
    out = {"file": os.path.relpath(path, ROOT), "rows": TINY_ROWS, "cols": 10, "runs": runs,
           "runners": {}}
    base = statistics.median(times["/bin/true"]) if times["/bin/true"] else 0.0
    print("\n== start-up: %d x 10 HDF5 pool, median of %d runs each (timed from this script; "
          "/bin/true is the cost of starting any process from here)\n" % (TINY_ROWS, runs))
    print("| command | median ms | min ms | minus /bin/true ms | faults | goal < %g ms |"
          % (LAYOUT_GOALS["tiny_s"] * 1e3))
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, cmd, has_goal in runners:
        d = {"cmd": " ".join(os.path.relpath(x, ROOT) if os.path.isabs(x) else x for x in cmd),
             "times_s": times[name], "faults_runs": faults[name]}
        if name in errors:
            d["error"] = errors[name]
            print("| %s | %s | | | | FAIL |" % (name, errors[name]))
        elif times[name]:
            med = statistics.median(times[name])
            d.update(median_s=med, min_s=min(times[name]),
                     faults=statistics.median(faults[name]))
            if has_goal:
                d["pass"] = med < LAYOUT_GOALS["tiny_s"]
            print("| %s | %.1f | %.1f | %.1f | %d | %s |" % (
                name, med * 1e3, min(times[name]) * 1e3, (med - base) * 1e3, d["faults"],
                pf(d.get("pass"))))
        out["runners"][name] = d
    return out, bool(errors)


def save_results(opts, doc, kind):
    """Writes doc to --out, else tests/bench/results/KIND-DATE[-quick].json (not with --no-save)."""
    if opts.no_save:
        return
    path = opts.out or os.path.join(HERE, "results", "%s-%s%s.json" % (
        kind, datetime.date.today().isoformat(), "-quick" if opts.quick else ""))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("\nresults: %s" % os.path.relpath(path, os.getcwd()))


def run_layouts(opts, cases, names):
    """The layouts mode (issue 17): every size, every layout, then the start-up runs; prints the
    tables, saves the JSON. Exit code 1 when a top-k differed or a runner failed (a missed goal
    is a measurement, not a failure of the script)."""
    repeats = opts.repeats or 3
    sizes = LAYOUT_SIZES["quick" if opts.quick else "full"]
    print("layouts benchmark: %s sizes, %d repeats, cases %s, layouts %s" % (
        "quick" if opts.quick else "full", repeats, ",".join(cases), ",".join(names)), flush=True)
    checks = {case: TopCheck() for case in cases}
    results = {}
    opts.fault_base = startup_faults(opts)
    print("start-up faults (a 100-row file, counted out of each pass's): %d with 1 thread, %d "
          "with 2" % (opts.fault_base[1], opts.fault_base[2]), flush=True)
    for case in cases:
        n, c = sizes[case]
        results[case] = measure_layouts(case, n, c, opts, names, repeats, checks[case])
        print_layout_table(results[case])
        check = checks[case]
        results[case]["top_identical"] = not check.mismatches
        results[case]["top_runs_checked"] = check.runs
        results[case]["top_mismatches"] = check.mismatches
        if check.runs:
            print("\n  top-%d rows, order, scores, pred and p1: %s across the %d hitl runs of "
                  "this size (every layout, both thread counts, warm-up runs included)" % (
                      K, "identical" if not check.mismatches else "DIFFERENT", check.runs))
    tiny, tiny_failed = measure_tiny(opts, opts.tiny_runs)

    g = LAYOUT_GOALS
    print("\nGoals (issue 17): time: with --threads 2, at most %g x the floor + %g s (gzip: at "
          "most %g x the one-core floor); t2 <= t1: --threads 2 within %g x + %g s of "
          "--threads 1 (noise tolerance); faults: %s. '(1 thr)': the file is one block, so "
          "--threads 2 runs one thread." % (g["floor_x"], g["floor_plus_s"],
                                            g["gzip_floor_x"], g["threads_x"],
                                            g["threads_plus_s"], BUDGET_FORMULA))
    errors = ["%s %s: %s" % (case, name, d["error"]) for case, res in results.items()
              for name, d in res["layouts"].items() if d.get("error")]
    mismatches = [m for c in checks.values() for m in c.mismatches]
    same = not mismatches
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "mode": "layouts",
           "quick": opts.quick, "repeats": repeats, "top_k": K, "machine": machine_info(),
           "method": "median wall time of each whole process (exec to exit) under GNU time, "
                     "warm page cache; the floor is hitl_read_floor on the same file in the "
                     "same blocks; faults and peak RSS from GNU time (the process's wait4)",
           "goals": LAYOUT_GOALS, "fault_budget": BUDGET_FORMULA, "cases": results,
           "tiny": tiny, "top_identical": same, "errors": errors}
    save_results(opts, doc, "layouts")
    for e in errors:
        print("FAILED: %s" % e, file=sys.stderr)
    for mm in mismatches:
        print("FAILED: top-k mismatch: %s" % mm, file=sys.stderr)
    if not same or errors or tiny_failed:
        print("FAILED: the layouts run is not valid (see above)", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description="Benchmark `hitl score` (see tests/bench/README.md).")
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl"))
    ap.add_argument("--read-floor", default=None,
                    help="hitl_read_floor binary (default: next to --hitl's build tree)")
    ap.add_argument("--sgemm-floor", default=None, help="hitl_sgemm_floor binary (same default)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per runner (default 5, "
                    "2 with --quick; 3 with --layouts); the median is reported")
    ap.add_argument("--quick", action="store_true", help="small sizes, to smoke-test the script")
    ap.add_argument("--cases", default=None,
                    help="comma list of %s (default all; with --layouts: %s)" % (
                        ",".join(CASES), ",".join(LAYOUT_CASES)))
    ap.add_argument("--layouts", action="store_true",
                    help="issue 17: the pool in every file layout, against each file's read floor, "
                    "with 1 and 2 threads, then the start-up of a tiny file")
    ap.add_argument("--layout-names", default=",".join(LAYOUTS),
                    help="with --layouts: comma list of %s" % ",".join(LAYOUTS))
    ap.add_argument("--tiny-runs", type=int, default=20,
                    help="with --layouts: runs of each start-up command (default 20)")
    ap.add_argument("--data", default=os.path.join(HERE, "data"), help="where pools are generated")
    ap.add_argument("--out", default=None, help="results JSON (default "
                    "tests/bench/results/score-DATE.json; -quick suffix with --quick)")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    # Child-process mode for the numpy passes.
    ap.add_argument("--worker", choices=["modal", "fast"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--dset", help=argparse.SUPPRESS)
    ap.add_argument("--head", help=argparse.SUPPRESS)
    ap.add_argument("--method", default="margin", help=argparse.SUPPRESS)
    ap.add_argument("--top-k", type=int, default=K, help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--variant", choices=["best", "partition"], default="best",
                    help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        return run_worker(opts)

    bindir = os.path.dirname(os.path.dirname(os.path.abspath(opts.hitl)))  # build/cli/hitl -> build
    opts.read_floor = opts.read_floor or os.path.join(bindir, "tests/bench/hitl_read_floor")
    opts.sgemm_floor = opts.sgemm_floor or os.path.join(bindir, "tests/bench/hitl_sgemm_floor")
    if opts.layouts:
        cases = [c for c in (opts.cases or ",".join(LAYOUT_CASES)).split(",") if c]
        names = [n for n in opts.layout_names.split(",") if n]
        for c in cases:
            if c not in LAYOUT_CASES:
                ap.error("unknown case %r with --layouts (known: %s)" % (
                    c, ", ".join(LAYOUT_CASES)))
        for n in names:
            if n not in LAYOUTS:
                ap.error("unknown layout %r (known: %s)" % (n, ", ".join(LAYOUTS)))
        for label, path in (("hitl", opts.hitl), ("read floor", opts.read_floor)):
            if not os.access(path, os.X_OK):
                ap.error("%s binary %s not found: build the project first" % (label, path))
        return run_layouts(opts, cases, names)
    repeats = opts.repeats or (2 if opts.quick else 5)
    sizes = SIZES["quick" if opts.quick else "full"]
    cases = [c for c in (opts.cases or ",".join(CASES)).split(",") if c]
    for c in cases:
        if c not in sizes:
            ap.error("unknown case %r (known: %s)" % (c, ", ".join(CASES)))
    for label, path in (("hitl", opts.hitl), ("read floor", opts.read_floor),
                        ("sgemm floor", opts.sgemm_floor)):
        if not os.access(path, os.X_OK):
            print("warning: %s binary %s not found: its rows will be empty" % (label, path),
                  file=sys.stderr)

    print("benchmark: %s sizes, %d repeats, cases %s" % ("quick" if opts.quick else "full",
                                                         repeats, ",".join(cases)), flush=True)
    results = {}
    numpy_blas = None  # what threadpoolctl saw in the numpy children
    for case in cases:
        t0 = time.perf_counter()
        spec = prepare(case, sizes[case], opts.data)
        gen = time.perf_counter() - t0
        shape = "N=%d x C=%d" % (spec["n"], spec["c"]) if "d" not in spec else \
            "N=%d x D=%d, head C=%d" % (spec["n"], spec["d"], spec["c"])
        print("\n== %s: %s (%.0f MB%s)" % (case, shape, spec["bytes"] / 1e6,
                                          ", generated in %.0f s" % gen if gen > 1 else ""),
              flush=True)
        warm(spec["file"])
        load_before = os.getloadavg()[0]
        if load_before > 0.5:
            print("  note: 1-minute load average %.2f before this case: other work shares the "
                  "cores, expect noisy timings" % load_before, flush=True)
        runners = case_runners(case, spec, opts)
        live = []
        for r in runners:
            if not os.access(r.cmd[0], os.X_OK):
                r.error = "not built: %s" % r.cmd[0]
            elif r.warmup():
                live.append(r)
        for i in range(repeats):  # interleaved, so drift hits every runner alike
            for r in list(live):
                if not r.once():
                    live.remove(r)
            print("  repeat %d/%d done" % (i + 1, repeats), flush=True)

        out = {"shape": shape, "bytes": spec["bytes"], "runners": {},
               "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
        print("  %-28s %9s %9s %9s %8s %9s" % ("runner", "median s", "min s", "max s", "RSS MiB",
                                               "GB/s in"))
        for r in runners:
            s = r.summary()
            out["runners"][r.name] = s
            med = s["median_s"]
            if r.error and med is None:
                print("  %-28s %s" % (r.name, r.error))
                continue
            print("  %-28s %9s %9s %9s %8s %9s" % (
                r.name, fmt(med, "%.4f"), fmt(min(r.times), "%.4f"), fmt(max(r.times), "%.4f"),
                fmt(s["peak_rss_mib"], "%.0f"), fmt(spec["bytes"] / med / 1e9, "%.2f")))
        # Do hitl and the fastest numpy pick the same rows in the same order? Both break ties to
        # the lower row; a score that rounds differently at the k-th place may still swap a row.
        fast = {r.name.split()[-1]: r.top for r in runners if r.name.startswith("fastest numpy")}
        for r in runners:
            if r.is_hitl and r.top is not None:
                ref = fast.get(r.name.split()[-1] if r.name.split()[-1] != "all" else "margin")
                ov = overlap(r.top, ref)
                if ov is not None:
                    same = list(r.top) == list(ref)
                    out["runners"][r.name]["top_overlap_with_numpy"] = ov
                    out["runners"][r.name]["top_same_order_as_numpy"] = same
                    print("  %s: top-%d vs fastest numpy: overlap %.4f, %s" % (
                        r.name, K, ov, "same rows in the same order" if same else "order differs"))
        for r in runners:
            if "blas" in r.extra:
                numpy_blas = r.extra.pop("blas")
                out["runners"][r.name].pop("blas", None)
        results[case] = out

    checks = evaluate(results)
    print("\n== acceptance targets (issue 2), from the medians above")
    print("  %-46s %10s %8s  %s" % ("target", "measured", "goal", "result"))
    for label, measured, goal, ok in checks:
        sense = ">=" if ("faster" in label or "fraction" in label) else "<="
        print("  %-46s %10s %8s  %s" % (label, fmt(measured, "%.3f"), sense + "%g" % goal,
                                        "-" if ok is None else ("PASS" if ok else "FAIL")))
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "quick": opts.quick, "repeats": repeats, "top_k": K, "machine": machine_info(),
           "method": "median wall time of each process (hitl, read floor); numpy and sgemm "
                     "report their own time (excludes interpreter start and imports); warm "
                     "page cache",
           "cases": results,
           "targets": [{"target": l, "measured": m, "goal": g, "pass": ok}
                       for l, m, g, ok in checks]}
    doc["machine"]["numpy_blas"] = numpy_blas
    save_results(opts, doc, "score")


if __name__ == "__main__":
    sys.exit(main())

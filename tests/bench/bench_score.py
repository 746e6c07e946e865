#!/usr/bin/python3
"""Benchmark `hitl score` against numpy and against the memory-read floor (issue 2, item 10).

What: generates large pools under tests/bench/data/ (gitignored) with h5py, then in one run times,
for each case, the read floor (tests/bench/read_floor.c: the same HDF5 block reads with no
computation), `hitl score` (margin, entropy, all; the linear-head path), (a) a modAL-style numpy pass
(load everything, np.sort per row, scipy.stats.entropy, np.argsort) and (b) the fastest idiomatic
numpy we could write (chunked read_direct, np.partition / argpartition, float32), plus OpenBLAS
sgemm on the head's shapes in memory (tests/bench/sgemm_floor.c). Every runner is a separate
process run --repeats times, interleaved; we report the median, the peak RSS (wait4) and the ratios
against the acceptance targets, and save a small JSON to tests/bench/results/.

Why: the acceptance targets are relative (x-fold faster than numpy, within 2x of reading the
bytes), so they must be measured side by side, on the same warm files, in the same run.

Run:  /usr/bin/python3 tests/bench/bench_score.py            (full sizes: ~7 GB of data)
      /usr/bin/python3 tests/bench/bench_score.py --quick    (small sizes, about a minute)
Needs Debian's python3-numpy, python3-h5py, python3-scipy (python3-threadpoolctl optional) and
the project built (build/cli/hitl, build/tests/bench/hitl_read_floor, hitl_sgemm_floor).
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
        f.attrs.create("classes", np.array([str(i) for i in range(c)], dtype=object),
                       dtype=h5py.string_dtype())
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


def run_timed(cmd, env=None):
    """Runs cmd once; returns (wall seconds, peak RSS MiB, exit code, stdout, stderr). The wall
    time covers the whole process (exec to exit). The peak RSS comes from GNU time's %M: wait4's
    ru_maxrss would be polluted, since Linux carries the spawning process's high-water mark into
    the child at exec, and this script holds far more memory than hitl."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        full = cmd
        if os.access(GNU_TIME, os.X_OK):
            full = [GNU_TIME, "-f", "%M", "-o", rss_file.name] + cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss = ru.ru_maxrss / 1024.0
        if full is not cmd:
            try:
                rss = int(rss_file.read().strip().splitlines()[-1]) / 1024.0
            except (ValueError, IndexError):
                pass
        return wall, rss, p.returncode, out.read().decode(), err.read().decode()


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


def main():
    ap = argparse.ArgumentParser(description="Benchmark `hitl score` (see tests/bench/README.md).")
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl"))
    ap.add_argument("--read-floor", default=None,
                    help="hitl_read_floor binary (default: next to --hitl's build tree)")
    ap.add_argument("--sgemm-floor", default=None, help="hitl_sgemm_floor binary (same default)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per runner (default 5, "
                    "2 with --quick); the median is reported")
    ap.add_argument("--quick", action="store_true", help="small sizes, to smoke-test the script")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma list of %s" % ",".join(CASES))
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
    repeats = opts.repeats or (2 if opts.quick else 5)
    sizes = SIZES["quick" if opts.quick else "full"]
    cases = [c for c in opts.cases.split(",") if c]
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
    if not opts.no_save:
        path = opts.out or os.path.join(HERE, "results", "score-%s%s.json" % (
            datetime.date.today().isoformat(), "-quick" if opts.quick else ""))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print("\nresults: %s" % os.path.relpath(path, os.getcwd()))


if __name__ == "__main__":
    sys.exit(main())

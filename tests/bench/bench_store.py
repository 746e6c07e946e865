#!/usr/bin/env python3
"""Benchmark of the annotation store (issue 3): enqueue 1,000,000 items from an HDF5 pool, then
next+label round trips on that 1M-item queue by 8 annotator processes at once, through the io
library (tests/stress/annotator.c) and through the hitl command. Reports medians of repeated
runs, latency percentiles, and peak RSS. Not a test: run by hand (see tests/bench/README.md)."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def timed(argv):
    """Runs argv; returns (seconds, peak RSS MiB of that child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {p.stderr}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(rss, before) / 1024, p.stdout


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def make_pool(path, n, c, seed=1):
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("probs", (n, c), np.float32)
        for i in range(0, n, 1 << 18):
            m = min(1 << 18, n - i)
            d[i:i + m] = rng.dirichlet(np.ones(c), size=m).astype(np.float32)
        f["ids"] = np.arange(n, dtype=np.int64) * 7 + 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--per-worker", type=int, default=1000)
    ap.add_argument("--cli-rounds", type=int, default=200)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    hitl = os.path.join(a.build, "cli", "hitl")
    worker = os.path.join(a.build, "tests", "hitl_test_annotator")
    work = tempfile.mkdtemp(prefix="hitl-bench-store-")
    pool = os.path.join(work, "pool.h5")
    make_pool(pool, a.n, 10)
    res = {"n": a.n}

    # enqueue the whole pool: 90% by uncertainty, 10% blind
    times, rss = [], []
    for r in range(a.repeats):
        db = os.path.join(work, f"q{r}.db")
        subprocess.run([hitl, "init", db, "--classes", "a,b,c,d,e,f,g,h,i,j"], check=True,
                       capture_output=True)
        dt, mib, _ = timed([hitl, "queue", db, "--from", pool, "--probs", "probs", "--ids", "ids",
                            "--method", "margin", "--top-k", str(a.n * 9 // 10), "--blind",
                            str(a.n // 10), "--seed", "1"])
        times.append(dt)
        rss.append(mib)
    res["enqueue_s_median"] = statistics.median(times)
    res["enqueue_peak_rss_mib"] = max(rss)
    print(f"enqueue {a.n} items: median {statistics.median(times):.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in times)}), peak RSS {max(rss):.0f} MiB")

    # 8 annotator processes through the library, on the 1M-item queue
    db = os.path.join(work, "q0.db")
    lat = []
    for r in range(a.repeats):
        logs = [os.path.join(work, f"lat-{r}-{i}.log") for i in range(8)]
        procs = [subprocess.Popen([worker, db, f"w{r}-{i}", str(i), logs[i], "--max",
                                   str(a.per_worker)], stderr=subprocess.PIPE, text=True)
                 for i in range(8)]
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0 or err:
                sys.exit(f"annotator failed: {err}")
        for path in logs:
            with open(path) as f:
                lat += [float(line.split("\t")[2]) for line in f]
    res["library_p50_ms"] = pct(lat, 0.5) * 1e3
    res["library_p99_ms"] = pct(lat, 0.99) * 1e3
    print(f"library next+label, 8 processes: p50 {res['library_p50_ms']:.2f} ms, "
          f"p90 {pct(lat, 0.9) * 1e3:.2f} ms, p99 {res['library_p99_ms']:.2f} ms "
          f"({len(lat)} round trips)")

    # through the hitl command: one annotator, and 8 at once
    def cli_rounds(name, rounds, out):
        for _ in range(rounds):
            t = time.perf_counter()
            p = subprocess.run([hitl, "next", db, "--annotator", name, "--json"],
                               capture_output=True, text=True, check=True)
            item = json.loads(p.stdout)["item"]
            subprocess.run([hitl, "label", db, item, "a", "--annotator", name], check=True)
            out.append(time.perf_counter() - t)

    solo = []
    cli_rounds("cli-solo", a.cli_rounds, solo)
    res["cli_solo_p50_ms"] = pct(solo, 0.5) * 1e3
    res["cli_solo_p99_ms"] = pct(solo, 0.99) * 1e3
    print(f"hitl next+label, one annotator: p50 {res['cli_solo_p50_ms']:.2f} ms, "
          f"p99 {res['cli_solo_p99_ms']:.2f} ms ({len(solo)} round trips)")
    script = ("import json,subprocess,sys,time\n"
              "h,db,name,n=sys.argv[1],sys.argv[2],sys.argv[3],int(sys.argv[4])\n"
              "for _ in range(n):\n"
              " t=time.perf_counter()\n"
              " p=subprocess.run([h,'next',db,'--annotator',name,'--json'],capture_output=True,"
              "text=True,check=True)\n"
              " subprocess.run([h,'label',db,json.loads(p.stdout)['item'],'a','--annotator',name],"
              "check=True)\n"
              " print(time.perf_counter()-t)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, hitl, db, f"cli-{i}",
                               str(a.cli_rounds // 4)], stdout=subprocess.PIPE, text=True)
             for i in range(8)]
    many = []
    for p in procs:
        out, _ = p.communicate()
        many += [float(x) for x in out.split()]
    res["cli_8_p50_ms"] = pct(many, 0.5) * 1e3
    res["cli_8_p99_ms"] = pct(many, 0.99) * 1e3
    print(f"hitl next+label, 8 annotators at once: p50 {res['cli_8_p50_ms']:.2f} ms, "
          f"p99 {res['cli_8_p99_ms']:.2f} ms ({len(many)} round trips)")
    targets = [("enqueue 1M < 15 s", res["enqueue_s_median"] < 15),
               ("library p50 < 2 ms", res["library_p50_ms"] < 2),
               ("library p99 < 20 ms", res["library_p99_ms"] < 20),
               ("command p50 < 10 ms (one annotator)", res["cli_solo_p50_ms"] < 10)]
    for name, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {name}")
    res["targets"] = dict(targets)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()

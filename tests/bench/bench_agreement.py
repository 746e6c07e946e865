#!/usr/bin/env python3
"""Benchmark of issue 4's agreement target: Krippendorff's alpha (nominal) and every pairwise
Cohen kappa over 1,000,000 items x 5 annotators with 20% of ratings missing, hitl's engine
side by side with the fastest numpy we could write, in one run (see tests/bench/README.md).

Runners, each timed in its own process on data already in memory, medians of --repeats:
  hitl engine      tests/bench/agreement_bench.c: hitl_agreement_compute() on the ratings table
                   (the table's build from triplets is timed apart), default threads and 1
  numpy per pair   one np.bincount per annotator pair over (ratings on the item, label a,
                   label b), a sentinel label for missing: the pair's confusion matrix and its
                   share of the coincidence matrix in one pass (the fastest general numpy)
  numpy configs    one np.bincount over each item's configuration (which annotator gave which
                   label, (L+1)^A codes), expanded: fastest of all, but only while (L+1)^A is small
  hitl CLI         `hitl agreement --ratings FILE.csv --bootstrap 0 --json` end to end, CSV
                   parsing included (informative: numpy's runners start from an array)
All runners' alpha and kappas must agree to 1e-9."""
import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def make_data(path, n, a, labels, missing, seed=1):
    """int8 [n, a]: label or -1. Each annotator gives the item's true label with p = .75."""
    if os.path.exists(path) and os.path.getsize(path) == n * a:
        return
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, labels, n)
    x = np.where(rng.random((n, a)) < 0.75, truth[:, None], rng.integers(0, labels, (n, a)))
    x = x.astype(np.int8)
    x[rng.random((n, a)) < missing] = -1
    x.tofile(path)


def make_csv(path, x):
    if os.path.exists(path):
        return
    n, a = x.shape
    with open(path + ".tmp", "w") as f:
        f.write("item,annotator,label\n")
        for start in range(0, n, 100000):
            blk = x[start:start + 100000]
            u, k = np.nonzero(blk >= 0)
            lines = [f"i{start + i},a{j},{blk[i, j]}\n" for i, j in zip(u.tolist(), k.tolist())]
            f.write("".join(lines))
    os.replace(path + ".tmp", path)


def kappa(t):
    n = t.sum()
    po = np.trace(t) / n
    pe = (t.sum(1) @ t.sum(0)) / (n * n)
    return (po - pe) / (1 - pe)


def alpha_nominal(o):
    nc = o.sum(1)
    n = nc.sum()
    return 1 - (n - 1) * (n - np.trace(o)) / (n * n - (nc * nc).sum())


def numpy_per_pair(x, labels):
    """Per pair: bincount of (m - 2, label a, label b) with label L meaning missing."""
    n, a = x.shape
    b1 = labels + 1
    small = np.int16 if (a - 1) * b1 * b1 < 2 ** 15 else np.intp  # int16 codes: 1.6x faster
    m = (x >= 0).sum(1, dtype=np.int16)
    mcode = (np.clip(m - 2, 0, a - 2) * (b1 * b1)).astype(small)
    xs = np.where(x < 0, labels, x).astype(small).T.copy()  # one contiguous row per annotator
    o = np.zeros((labels, labels))
    pairs = {}
    for i in range(a):
        xi = mcode + xs[i] * b1
        for j in range(i + 1, a):
            t = np.bincount(xi + xs[j], minlength=(a - 1) * b1 * b1)
            t = t.reshape(a - 1, b1, b1)[:, :labels, :labels]
            pairs[(i, j)] = kappa(t.sum(0))
            for k in range(a - 1):  # items with k + 2 ratings weigh 1 / (k + 1)
                o += (t[k] + t[k].T) / (k + 1)
    return alpha_nominal(o), pairs


def numpy_configs(x, labels):
    """One bincount over item configurations, then the few distinct ones expanded."""
    n, a = x.shape
    b1 = labels + 1
    code = np.zeros(n, np.int32)
    for j in range(a - 1, -1, -1):
        code *= b1
        code += x[:, j]
        code += 1
    h = np.bincount(code, minlength=b1 ** a)
    cfg = np.array(list(itertools.product(range(b1), repeat=a)))[:, ::-1] - 1
    keep = h > 0
    h, cfg = h[keep].astype(np.float64), cfg[keep]
    present = cfg >= 0
    m = present.sum(1)
    cnt = np.stack([(cfg == c).sum(1) for c in range(labels)], 1).astype(np.float64)
    two = m >= 2
    c, w = cnt[two], h[two] / (m[two] - 1)
    o = (c * w[:, None]).T @ c
    o[np.diag_indices(labels)] -= (c * w[:, None]).sum(0)
    pairs = {}
    for i in range(a):
        for j in range(i + 1, a):
            both = present[:, i] & present[:, j]
            t = np.bincount(cfg[both, i] * labels + cfg[both, j], weights=h[both],
                            minlength=labels * labels)
            pairs[(i, j)] = kappa(t.reshape(labels, labels))
    return alpha_nominal(o), pairs


def worker(args):
    """Times one numpy variant in this process: a warm-up run, then --repeats timed runs."""
    x = np.fromfile(args.file, dtype=np.int8).reshape(args.n, args.a)
    fn = {"per-pair": numpy_per_pair, "configs": numpy_configs}[args.worker]
    fn(x, args.labels)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        alpha, pairs = fn(x, args.labels)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "alpha": alpha,
                      "pairs": [[i, j, k] for (i, j), k in sorted(pairs.items())]}))


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description="Benchmark hitl agreement (tests/bench/README.md).")
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl"))
    ap.add_argument("--engine", default=None,
                    help="hitl_agreement_bench (default: tests/bench/ of the --hitl build tree)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every runner")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--a", type=int, default=5)
    ap.add_argument("--labels", type=int, default=5)
    ap.add_argument("--missing", type=float, default=0.2)
    ap.add_argument("--quick", action="store_true", help="100,000 items, to smoke-test")
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI runner")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--worker", choices=["per-pair", "configs"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.n = 100_000
    build = os.path.dirname(os.path.dirname(os.path.abspath(args.hitl)))
    engine = args.engine or os.path.join(build, "tests", "bench", "hitl_agreement_bench")
    os.makedirs(args.data, exist_ok=True)
    tag = f"ratings_n{args.n}_a{args.a}_l{args.labels}_m{int(args.missing * 100)}"
    data = os.path.join(args.data, tag + ".bin")
    make_data(data, args.n, args.a, args.labels, args.missing)
    x = np.fromfile(data, dtype=np.int8).reshape(args.n, args.a)
    csv_path = os.path.join(args.data, tag + ".csv")
    if not args.no_cli:
        make_csv(csv_path, x)
    print(f"{args.n:,} items x {args.a} annotators, {args.labels} labels, "
          f"{(x >= 0).sum():,} ratings ({np.mean(x < 0):.1%} missing)")

    times = {k: [] for k in ("hitl engine", "hitl engine, 1 thread", "numpy per pair",
                             "numpy configs", "hitl CLI (CSV in)")}
    build_times, results = [], {}
    engine_cmd = [engine, data, str(args.n), str(args.a), str(args.labels), "--repeats",
                  str(args.repeats)]
    py = [sys.executable, os.path.abspath(__file__), "--file", data, "--n", str(args.n), "--a",
          str(args.a), "--labels", str(args.labels), "--repeats", str(args.repeats)]
    for _ in range(args.rounds):  # interleaved, so drift hits every runner alike
        r = run_json(engine_cmd)
        times["hitl engine"] += r["compute_s"]
        build_times.append(r["build_s"])
        results["hitl engine"] = r
        r = run_json(engine_cmd + ["--threads", "1"])
        times["hitl engine, 1 thread"] += r["compute_s"]
        for name, w in (("numpy per pair", "per-pair"), ("numpy configs", "configs")):
            r = run_json(py + ["--worker", w])
            times[name] += r["times"]
            results[name] = r
        if not args.no_cli:
            t0 = time.perf_counter()
            r = run_json([args.hitl, "agreement", "--ratings", csv_path, "--bootstrap", "0",
                          "--json"])
            times["hitl CLI (CSV in)"].append(time.perf_counter() - t0)
            results["hitl CLI"] = r
    if args.no_cli:
        del times["hitl CLI (CSV in)"]

    # every runner computed the same numbers
    ref = results["hitl engine"]
    for name in ("numpy per pair", "numpy configs"):
        r = results[name]
        assert abs(r["alpha"] - ref["alpha"]) < 1e-9, (name, r["alpha"], ref["alpha"])
        for (i, j, k), (i2, j2, _, k2) in zip(r["pairs"], ref["pairs"]):
            assert (i, j) == (i2, j2) and abs(k - k2) < 1e-9, (name, i, j, k, k2)
    if "hitl CLI" in results:
        assert abs(results["hitl CLI"]["krippendorff_alpha"] - ref["alpha"]) < 1e-8

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["hitl engine"]
    print(f"\nalpha {ref['alpha']:.9f}; {len(ref['pairs'])} pairs, kappa(0,1) "
          f"{ref['pairs'][0][3]:.9f} (all runners agree to 1e-9)")
    print(f"ratings table built from triplets in {statistics.median(build_times):.4f} s "
          "(median; not in the engine's times)\n")
    print(f"{'runner':<24} {'median s':>10} {'min s':>10} {'max s':>10} {'x hitl engine':>14}")
    for k, v in times.items():
        print(f"{k:<24} {med[k]:>10.4f} {min(v):>10.4f} {max(v):>10.4f} {med[k] / base:>14.1f}")
    fastest = min(med["numpy per pair"], med["numpy configs"])
    ratio = fastest / base
    print(f"\ntarget: alpha + all pairwise kappas >= 10x faster than the fastest numpy: "
          f"{ratio:.1f}x -> {'PASS' if ratio >= 10 else 'FAIL'}")
    print(f"        against the general numpy (per pair): {med['numpy per pair'] / base:.1f}x")
    if not args.no_save:
        out = args.out or os.path.join(HERE, "results", "agreement-" +
                                       datetime.date.today().isoformat() +
                                       ("-quick" if args.quick else "") + ".json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        with open(out, "w") as f:
            json.dump({"machine": platform.machine(), "cpus": os.cpu_count(),
                       "python": platform.python_version(), "numpy": np.__version__,
                       "git": rev, "n": args.n, "annotators": args.a, "labels": args.labels,
                       "missing": args.missing, "repeats": args.repeats, "rounds": args.rounds,
                       "times": times, "medians": med, "build_s": build_times,
                       "ratio_vs_fastest_numpy": ratio,
                       "ratio_vs_numpy_per_pair": med["numpy per pair"] / base}, f, indent=1)
        print(f"saved {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark of issue 4's agreement target: Krippendorff's alpha (nominal) and every pairwise
Cohen kappa over 1,000,000 items x 5 annotators with 20% of ratings missing, hitl's engine
side by side with the fastest numpy we could write, in one run (see tests/bench/README.md).

Runners, each timed in its own process on data already in memory, medians of --repeats:
  hitl matrix      tests/bench/agreement_bench.c --input matrix: hitl_agreement_compute_matrix()
                   on the same int8 matrix numpy gets, default threads and 1, and its portable
                   loop (where the CPU has AVX-512 VBMI, the default loop uses it)
  hitl table       hitl_agreement_compute() on the ratings table (CSR, what the CSV reader and
                   the store give; its build from triplets is timed apart)
  numpy per pair   one np.bincount per annotator pair over (ratings on the item, label a,
                   label b), a sentinel label for missing: the pair's confusion matrix and its
                   share of the coincidence matrix in one pass (the fastest general numpy)
  numpy configs    one np.bincount over each item's configuration (which annotator gave which
                   label, (L+1)^A codes), expanded: fastest of all, but only while (L+1)^A is small
  hitl CLI         `hitl agreement --ratings FILE.csv --bootstrap 0 --json` end to end, CSV
                   parsing included, and `--matrix FILE.npy` (informative: numpy's runners start
                   from an array)
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
    """One bincount over item configurations (which annotator gave which label, (L+1)^A codes),
    then the few distinct configurations expanded. The codes come from look-up tables over two
    columns at a time (np.take on the matrix's bytes viewed as uint16) into int16: numpy cannot
    fuse a chain of per-column operations, so fewer, narrower passes win (4.2 ms for the codes
    and the bincount here, against 5.8 ms per column in int32). The expansion is vectorised: every
    pair's confusion table from one product of one-hot configuration matrices."""
    n, a = x.shape
    b1 = labels + 1
    h_size = b1 ** a
    small = np.int16 if h_size <= 2 ** 15 else np.int32
    pw = b1 ** np.arange(a)
    byte = np.arange(256).astype(np.uint8).view(np.int8).astype(np.int64)
    part = [np.where(byte < 0, 0, (byte + 1) * pw[c]) for c in range(a)]
    xb = x.view(np.uint8)
    code = np.zeros(n, small)
    for j in range(0, a, 2):
        if j + 1 < a:
            lut = (part[j][None, :] + part[j + 1][:, None]).ravel().astype(small)
            idx = np.ndarray((n,), dtype="<u2", buffer=xb, offset=j, strides=(a,))
        else:
            lut, idx = part[j].astype(small), xb[:, j]
        code += np.take(lut, idx)
    h = np.bincount(code, minlength=h_size)
    keep = np.nonzero(h)[0]
    hk = h[keep].astype(np.float64)
    cfg = (keep[:, None] // pw) % b1 - 1  # [K, a]: label or -1
    m = (cfg >= 0).sum(1)
    onehot = (cfg[:, :, None] == np.arange(labels)).astype(np.float64)  # [K, a, L]
    cnt = onehot.sum(1)
    two = m >= 2
    c, w = cnt[two], hk[two] / (m[two] - 1)
    o = (c * w[:, None]).T @ c
    o[np.diag_indices(labels)] -= (c * w[:, None]).sum(0)
    oh = onehot.reshape(len(keep), a * labels)
    tt = ((oh * hk[:, None]).T @ oh).reshape(a, labels, a, labels)
    pairs = {(i, j): kappa(tt[i, :, j, :]) for i in range(a) for j in range(i + 1, a)}
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


def vbmi():
    """Whether this CPU has AVX-512 VBMI (hitl matrix's default loop then uses it)."""
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512vbmi " in f.read().replace("\n", " ")
    except OSError:
        return None


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
    npy_path = os.path.join(args.data, tag + ".npy")
    if not args.no_cli:
        make_csv(csv_path, x)
        if not os.path.exists(npy_path):
            np.save(npy_path, x)
    print(f"{args.n:,} items x {args.a} annotators, {args.labels} labels, "
          f"{(x >= 0).sum():,} ratings ({np.mean(x < 0):.1%} missing)")

    times = {k: [] for k in ("hitl matrix", "hitl matrix, 1 thread", "hitl matrix, portable",
                             "hitl table",
                             "hitl table, 1 thread", "numpy per pair", "numpy configs",
                             "hitl CLI (CSV in)", "hitl CLI (.npy in)")}
    build_times, results = [], {}
    engine_cmd = [engine, data, str(args.n), str(args.a), str(args.labels), "--repeats",
                  str(args.repeats)]
    py = [sys.executable, os.path.abspath(__file__), "--file", data, "--n", str(args.n), "--a",
          str(args.a), "--labels", str(args.labels), "--repeats", str(args.repeats)]
    for _ in range(args.rounds):  # interleaved, so drift hits every runner alike
        for name, extra in (("hitl matrix", ["--input", "matrix"]),
                            ("hitl matrix, 1 thread", ["--input", "matrix", "--threads", "1"]),
                            ("hitl matrix, portable", ["--input", "matrix", "--portable", "1"]),
                            ("hitl table", []), ("hitl table, 1 thread", ["--threads", "1"])):
            r = run_json(engine_cmd + extra)
            times[name] += r["compute_s"]
            results[name] = r
        build_times.append(r["build_s"])
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
            t0 = time.perf_counter()
            r = run_json([args.hitl, "agreement", "--matrix", npy_path, "--bootstrap", "0",
                          "--json"])
            times["hitl CLI (.npy in)"].append(time.perf_counter() - t0)
            results["hitl CLI (.npy in)"] = r
    if args.no_cli:
        del times["hitl CLI (CSV in)"], times["hitl CLI (.npy in)"]

    # every runner computed the same numbers
    ref = results["hitl matrix"]
    for name in ("hitl matrix, portable", "hitl table", "numpy per pair", "numpy configs"):
        r = results[name]
        assert abs(r["alpha"] - ref["alpha"]) < 1e-9, (name, r["alpha"], ref["alpha"])
        assert len(r["pairs"]) == len(ref["pairs"]), name
        for p, (i2, j2, _, k2) in zip(r["pairs"], ref["pairs"]):
            i, j, k = p[0], p[1], p[-1]  # hitl's rows carry n too
            assert (i, j) == (i2, j2) and abs(k - k2) < 1e-9, (name, i, j, k, k2)
    for name in ("hitl CLI", "hitl CLI (.npy in)"):
        if name in results:
            assert abs(results[name]["krippendorff_alpha"] - ref["alpha"]) < 1e-8, name

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["hitl matrix"]
    print(f"\nalpha {ref['alpha']:.9f}; {len(ref['pairs'])} pairs, kappa(0,1) "
          f"{ref['pairs'][0][3]:.9f} (all runners agree to 1e-9)")
    print(f"ratings table built from triplets in {statistics.median(build_times):.4f} s "
          "(median; not in hitl table's times)\n")
    print(f"{'runner':<24} {'median s':>10} {'min s':>10} {'max s':>10} {'x hitl matrix':>14}")
    for k, v in times.items():
        print(f"{k:<24} {med[k]:>10.4f} {min(v):>10.4f} {max(v):>10.4f} {med[k] / base:>14.1f}")
    fastest = min(med["numpy per pair"], med["numpy configs"])
    ratio = fastest / base
    print(f"\ntarget: alpha + all pairwise kappas >= 10x faster than the fastest numpy: "
          f"{ratio:.1f}x -> {'PASS' if ratio >= 10 else 'FAIL'} (hitl matrix: the same input)")
    print(f"        against the general numpy (per pair): {med['numpy per pair'] / base:.1f}x")
    print(f"        hitl matrix, portable loop, against the fastest numpy: "
          f"{fastest / med['hitl matrix, portable']:.1f}x")
    print(f"        hitl table against the fastest numpy: {fastest / med['hitl table']:.1f}x")
    if not args.no_save:
        out = args.out or os.path.join(HERE, "results", "agreement-" +
                                       datetime.date.today().isoformat() +
                                       ("-quick" if args.quick else "") + ".json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        with open(out, "w") as f:
            json.dump({"machine": platform.machine(), "cpus": os.cpu_count(), "avx512vbmi": vbmi(),
                       "python": platform.python_version(), "numpy": np.__version__,
                       "git": rev, "n": args.n, "annotators": args.a, "labels": args.labels,
                       "missing": args.missing, "repeats": args.repeats, "rounds": args.rounds,
                       "times": times, "medians": med, "build_s": build_times,
                       "ratio_vs_fastest_numpy": ratio,
                       "ratio_vs_numpy_per_pair": med["numpy per pair"] / base,
                       "portable_ratio_vs_fastest_numpy": fastest / med["hitl matrix, portable"],
                       "table_ratio_vs_fastest_numpy": fastest / med["hitl table"]}, f, indent=1)
        print(f"saved {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())

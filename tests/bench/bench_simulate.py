#!/usr/bin/python3
"""Benchmarks for issue 6, side by side in one run (see tests/bench/README.md, "hitl simulate").

loop:    the active-learning loop on Fashion-MNIST (60,000 train / 10,000 test, 784 features):
         `hitl simulate --strategies margin` against the same loop written with scikit-learn
         (LogisticRegression(C=1), lbfgs) and modAL's margin selection (predict_proba on the
         unlabelled pool, top-2 by np.partition, multi_argmax by np.argpartition), from the same
         seed rows, with the same rounds, batch and iteration budget. Time per round = training
         plus selection (test scoring is left out of both); accuracy per round for both. Also
         scikit-learn warm-started as hitl is (warm_start=True, 30 iterations after the first
         fit). The three loops run in turn --repeats times; medians over the repeats.
kcenter: k-center greedy picking 1,000 rows of a 100,000 x 512 float32 matrix (standard
         normal, fixed seed): hitl_kcenter_greedy (tests/bench/kcenter_bench.c) against the
         straightforward numpy loop (per pick: ((X - X[c]) ** 2).sum(1), np.minimum, argmax) and
         a norm-expansion numpy loop (X @ c with cached row norms), all with the same first pick
         (farthest from the mean) and ties to the lower row; the picks are compared.

Run: /usr/bin/python3 tests/bench/bench_simulate.py [--cases loop,kcenter] [--quick]
Needs python3-sklearn, python3-h5py and dataset-fashion-mnist (Debian packages).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FMNIST = "/usr/share/datasets/fashion-mnist"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fmnist(hitl, data):
    """The train and test pool files, made once with `hitl convert`."""
    paths = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        out = os.path.join(data, f"fmnist-{split}.h5")
        if not os.path.exists(out):
            subprocess.run([hitl, "convert", "--images",
                            os.path.join(FMNIST, f"{prefix}-images-idx3-ubyte.gz"), "--labels",
                            os.path.join(FMNIST, f"{prefix}-labels-idx1-ubyte.gz"), "--classes",
                            "fashion-mnist", "--out", out], check=True)
        paths[split] = out
    return paths


def sklearn_loop(x, y, xt, yt, seed_rows, batch, rounds, max_iter, warm_iter=None):
    """The loop as a scikit-learn + modAL script writes it; with warm_iter, the estimator is
    kept and warm-started (warm_start=True) with that many iterations after the first fit, as
    hitl simulate does."""
    from sklearn.linear_model import LogisticRegression
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    labelled = list(seed_rows)
    taken = np.zeros(len(x), bool)
    taken[labelled] = True
    secs, acc = [], []
    clf = LogisticRegression(C=1.0, max_iter=max_iter, warm_start=warm_iter is not None)
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        if warm_iter is not None and r > 0:
            clf.set_params(max_iter=warm_iter)
        if warm_iter is None:
            clf = LogisticRegression(C=1.0, max_iter=max_iter)
        clf.fit(x[labelled], y[labelled])
        t_train = time.perf_counter() - t0
        acc.append(float(np.mean(clf.predict(xt) == yt)))
        if r == rounds:
            secs.append(t_train)
            break
        t0 = time.perf_counter()
        pool = np.flatnonzero(~taken)
        proba = clf.predict_proba(x[pool])
        part = np.partition(-proba, 1, axis=1)  # modAL classifier_margin
        margin = -part[:, 0] + part[:, 1]
        pick = np.argpartition(margin, batch - 1)[:batch]  # multi_argmax(-margin, batch)
        rows = pool[pick]
        taken[rows] = True
        labelled.extend(rows.tolist())
        secs.append(t_train + time.perf_counter() - t0)
    return secs, acc


def case_loop(args, out):
    paths = fmnist(args.hitl, args.data)
    rounds, batch, seed_labels = args.rounds, args.batch, args.seed_labels
    cmd = [args.hitl, "simulate", "--features", paths["train"], "--test", paths["test"],
           "--strategies", "margin", "--seeds", "1", "--rounds", str(rounds), "--batch",
           str(batch), "--seed-labels", str(seed_labels), "--json"]
    with h5py.File(paths["train"], "r") as f:
        x, y = f["features"][()], f["labels"][()]
    with h5py.File(paths["test"], "r") as f:
        xt, yt = f["features"][()], f["labels"][()]
    # the three loops in turn, --repeats times; each statistic is the median over the repeats
    hms, sms, wms, hws, sws, wws = [], [], [], [], [], []
    for rep in range(args.repeats):
        log(f"run {rep + 1}/{args.repeats}: hitl:", " ".join(cmd))
        t0 = time.perf_counter()
        j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        hws.append(time.perf_counter() - t0)
        run = j["strategies"][0]["runs"][0]
        hitl_secs = run["seconds"]  # train + select per round; the last point trains only
        hms.append(statistics.median(hitl_secs[:-1]))
        log("  scikit-learn + modAL-style loop ...")
        t0 = time.perf_counter()
        sk_secs, sk_acc = sklearn_loop(x, y, xt, yt, run["rows"][:seed_labels], batch, rounds,
                                       100)
        sws.append(time.perf_counter() - t0)
        sms.append(statistics.median(sk_secs[:-1]))
        log("  scikit-learn warm-started (30 iterations after the first fit) ...")
        t0 = time.perf_counter()
        skw_secs, skw_acc = sklearn_loop(x, y, xt, yt, run["rows"][:seed_labels], batch, rounds,
                                         100, warm_iter=30)
        wws.append(time.perf_counter() - t0)
        wms.append(statistics.median(skw_secs[:-1]))
    hm, sm, wm = statistics.median(hms), statistics.median(sms), statistics.median(wms)
    hitl_wall, sk_wall, skw_wall = (statistics.median(v) for v in (hws, sws, wws))
    res = {
        "data": "Fashion-MNIST 60000 x 784 train, 10000 test",
        "rounds": rounds, "batch": batch, "seed_labels": seed_labels,
        "repeats": args.repeats,
        "per_repeat_median_round_seconds": {"hitl": hms, "sklearn_modal": sms,
                                            "sklearn_warm": wms},
        "hitl": {"median_round_seconds": hm, "wall_seconds": hitl_wall,
                 "accuracy": run["accuracy"], "round_seconds": hitl_secs},
        "sklearn_modal": {"median_round_seconds": sm, "wall_seconds": sk_wall,
                          "accuracy": sk_acc, "round_seconds": sk_secs},
        "sklearn_warm": {"median_round_seconds": wm, "wall_seconds": skw_wall,
                         "accuracy": skw_acc, "round_seconds": skw_secs},
        "ratio_median_round": sm / hm,
        "ratio_median_round_warm": wm / hm,
        "ratio_wall": sk_wall / hitl_wall,
    }
    out["loop"] = res
    print(f"loop, margin, {rounds} rounds of {batch} on Fashion-MNIST (medians of {args.repeats}):")
    print(f"  time per round (median)  hitl {hm:.3f} s   sklearn+modAL {sm:.3f} s   "
          f"ratio {sm / hm:.1f}x")
    print(f"  whole loop (wall)        hitl {hitl_wall:.1f} s   sklearn+modAL {sk_wall:.1f} s   "
          f"ratio {sk_wall / hitl_wall:.1f}x")
    print(f"  sklearn warm-started as hitl: {wm:.3f} s per round ({wm / hm:.1f}x), "
          f"final accuracy {skw_acc[-1]:.4f}")
    print(f"  final test accuracy      hitl {run['accuracy'][-1]:.4f}   "
          f"sklearn+modAL {sk_acc[-1]:.4f}   (first point {run['accuracy'][0]:.4f} vs "
          f"{sk_acc[0]:.4f}, same seed rows)")


def numpy_kcenter_plain(x, k):
    mind = ((x - x.mean(axis=0)) ** 2).sum(axis=1)
    picks = []
    c = int(np.argmax(mind))
    mind[:] = np.inf
    for _ in range(k):
        picks.append(c)
        mind[c] = -1
        if len(picks) == k:
            break
        d = ((x - x[c]) ** 2).sum(axis=1)
        mind = np.where(mind < 0, mind, np.minimum(mind, d))
        c = int(np.argmax(mind))
    return picks


def numpy_kcenter_norms(x, k):
    xn = np.einsum("ij,ij->i", x, x)
    mean = x.mean(axis=0)
    mind = xn + mean @ mean - 2 * (x @ mean)
    picks = []
    c = int(np.argmax(mind))
    mind[:] = np.inf
    for _ in range(k):
        picks.append(c)
        mind[c] = -1
        if len(picks) == k:
            break
        d = xn + xn[c] - 2 * (x @ x[c])
        np.maximum(d, 0, out=d)
        live = mind >= 0
        mind[live] = np.minimum(mind[live], d[live])
        c = int(np.argmax(mind))
    return picks


def case_kcenter(args, out):
    n, d, k = (20000, 128, 200) if args.quick else (100000, 512, 1000)
    path = os.path.join(args.data, f"kcenter_{n}x{d}.npy")
    if not os.path.exists(path):
        np.save(path, np.random.default_rng(6).standard_normal((n, d), dtype=np.float32))
    x = np.load(path)
    log(f"k-center {k} of {n} x {d}: hitl ...")
    p = subprocess.run([args.kcenter_bench, path, str(k), "--repeats", str(args.repeats)],
                       check=True, capture_output=True, text=True)
    h = json.loads(p.stdout)
    hitl_t = statistics.median(h["seconds"])
    times_plain, times_norms = [], []
    for r in range(args.plain_repeats):
        log(f"  numpy straightforward, run {r + 1} ...")
        t0 = time.perf_counter()
        plain = numpy_kcenter_plain(x, k)
        times_plain.append(time.perf_counter() - t0)
    for r in range(args.repeats):
        log(f"  numpy norm expansion, run {r + 1} ...")
        t0 = time.perf_counter()
        norms = numpy_kcenter_norms(x, k)
        times_norms.append(time.perf_counter() - t0)
    tp, tn = statistics.median(times_plain), statistics.median(times_norms)
    same_plain = sum(a == b for a, b in zip(h["picks"], plain))
    same_norms = sum(a == b for a, b in zip(h["picks"], norms))
    out["kcenter"] = {"n": n, "d": d, "k": k, "hitl_seconds": h["seconds"],
                      "numpy_plain_seconds": times_plain, "numpy_norms_seconds": times_norms,
                      "ratio_plain": tp / hitl_t, "ratio_norms": tn / hitl_t,
                      "picks_equal_plain": same_plain, "picks_equal_norms": same_norms}
    print(f"k-center greedy, {k} of {n} x {d} float32 (medians):")
    print(f"  hitl {hitl_t:.2f} s   numpy straightforward {tp:.2f} s ({tp / hitl_t:.1f}x)   "
          f"numpy norm expansion {tn:.2f} s ({tn / hitl_t:.1f}x)")
    print(f"  picks equal to hitl's: straightforward {same_plain}/{k}, norms {same_norms}/{k}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl"))
    ap.add_argument("--kcenter-bench",
                    default=os.path.join(ROOT, "build/tests/bench/hitl_kcenter_bench"))
    ap.add_argument("--data", default=os.path.join(ROOT, "tests/bench/data"))
    ap.add_argument("--cases", default="loop,kcenter")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed-labels", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--plain-repeats", type=int, default=1,
                    help="runs of the straightforward numpy k-center (minutes each)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/bench/results/simulate.json"))
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.repeats = 3, 1
    os.makedirs(args.data, exist_ok=True)
    out = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d %H:%M")}
    for case in args.cases.split(","):
        {"loop": case_loop, "kcenter": case_kcenter}[case](args, out)
    if not args.no_save:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        log("saved", args.out)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Benchmark `hitl-data score` under MPI against threads (issue 17).

What: on the pools bench_score.py generates (10M x 10 and 1M x 1000 float32, contiguous, page
cache warm), times as whole processes, interleaved, --repeats times each: one process with
--threads 1 and --threads 2 (the serial build), and `mpirun -n 1` and `mpirun -n 2` of the MPI
build with --threads 1 per rank; also `mpirun -n 1/2 /bin/true`, what the launcher alone costs.
Reports medians, the speed-up of 2 threads over 1 and of 2 ranks over 1, and checks that every
run printed the same top-k.

Why: on one 2-core machine both split the same cores; the ranks pay the launcher, MPI start-up
and parallel HDF5's collective opens, the threads none of that. The numbers say what MPI costs
where it is not needed, and that its split scales like the threads' does.

Run:  /usr/bin/python3 tests/bench/bench_score.py --layouts --layout-names contiguous  (data)
      /usr/bin/python3 tests/bench/bench_score_mpi.py [--repeats 5] [--quick]
Needs build/ (serial) and build-mpi/ (cmake -DHITL_MPI=ON) built, and Debian's openmpi-bin.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bench_score  # noqa: E402  (run_measured, make_probs: the same runner and data)

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl-data"))
    ap.add_argument("--hitl-mpi", default=os.path.join(ROOT, "build-mpi/cli/hitl-data"))
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small pools, to smoke-test")
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--out", help="results JSON (default: print only)")
    a = ap.parse_args()

    sizes = [(200_000, 10), (20_000, 1000)] if a.quick else [(10_000_000, 10), (1_000_000, 1000)]
    results = []
    for n, c in sizes:
        path = os.path.join(a.data, "probs_n%d_c%d.h5" % (n, c))
        bench_score.make_probs(path, n, c, seed=1)
        args = ["score", path, "--probs", "probs", "--top-k", "1000", "--json"]
        # shared memory only: probing for a fabric this VM lacks (UCX) adds 0.2 s to MPI_Init
        mpi = [a.mpirun, "--oversubscribe", "--mca", "pml", "ob1", "--mca", "btl", "self,vader",
               "-n"]
        runners = {
            "threads 1": [a.hitl] + args + ["--threads", "1"],
            "threads 2": [a.hitl] + args + ["--threads", "2"],
            "mpirun -n 1": mpi + ["1", a.hitl_mpi] + args + ["--threads", "1"],
            "mpirun -n 2": mpi + ["2", a.hitl_mpi] + args + ["--threads", "1"],
            "mpirun -n 1 true": mpi + ["1", "/bin/true"],
            "mpirun -n 2 true": mpi + ["2", "/bin/true"],
        }
        times = {k: [] for k in runners}
        tops = set()
        for cmd in runners.values():  # warm the page cache and the binaries
            bench_score.run_measured(cmd, env=ENV, gnu_time=False)
        for _ in range(a.repeats):
            for name, cmd in runners.items():
                r = bench_score.run_measured(cmd, env=ENV, gnu_time=False)
                if r["rc"] != 0:
                    sys.exit("%s failed (%d): %s" % (name, r["rc"], r["err"][-500:]))
                times[name].append(r["wall"])
                if "true" not in name:
                    tops.add(json.dumps(json.loads(r["out"])["top"]))
        if len(tops) != 1:
            sys.exit("the runs disagree on the top-k for %d x %d" % (n, c))
        med = {k: statistics.median(v) for k, v in times.items()}
        res = {"n": n, "c": c, "repeats": a.repeats, "median_s": med,
               "thread_speedup": med["threads 1"] / med["threads 2"],
               "rank_speedup": med["mpirun -n 1"] / med["mpirun -n 2"]}
        results.append(res)
        print("\n%d x %d, top-1000, median of %d (seconds):" % (n, c, a.repeats))
        for k, v in med.items():
            print("  %-18s %.3f" % (k, v))
        print("  2 threads over 1: %.2fx; 2 ranks over 1: %.2fx; same top-k in every run"
              % (res["thread_speedup"], res["rank_speedup"]))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark of issue 5's targets: `hitl export` of 1,000,000 labelled items to HDF5 (with and
without pool features), JSONL and CSV, and `hitl import` of a 100,000-task Label Studio JSON
export. Wall time and peak RSS per run from GNU time; medians over --repeats runs. Not a test:
see tests/bench/README.md."""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CLASSES = [f"c{i}" for i in range(10)]


def run_timed(argv):
    """Wall seconds and peak RSS (MB) of one run, through /usr/bin/time -v."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)}: exit {p.returncode}\n{p.stderr[-3000:]}")
    rss = next(int(line.split(":")[1]) for line in p.stderr.splitlines()
               if "Maximum resident set size" in line)
    return wall, rss / 1024.0


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def labelled_store(hitl, path, n, seed=1):
    """n items, all with a final label: two labels each from a pool of 20 annotators; 90% agree,
    10% disagree and carry an adjudicator's decision. Inserted with SQL (the setup is not what
    is measured); the store is made by `hitl init` so its schema is hitl's own."""
    stamp = path + ".done"
    if os.path.exists(stamp) and open(stamp).read().strip() == str(n):
        return
    fresh(path)
    subprocess.run([hitl, "init", path, "--classes", ",".join(CLASSES), "--overlap", "2",
                    "--actor", "bench"], check=True, capture_output=True)
    rng = np.random.default_rng(seed)
    score = rng.random(n).astype(np.float32)
    p1 = (0.1 + 0.9 * rng.random(n)).astype(np.float32)
    pred = rng.integers(10, size=n)
    truth = rng.integers(10, size=n)
    blind = rng.random(n) < 0.1
    disagree = rng.random(n) < 0.1
    second = np.where(disagree, (truth + 1 + rng.integers(9, size=n)) % 10, truth)
    ann_a = rng.integers(20, size=n)
    ann_b = (ann_a + 1 + rng.integers(19, size=n)) % 20
    now = "2026-01-01T00:00:00.000Z"
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO items(id, pool_id, pool_row, batch, reason, score, method, model, seed,"
        " source, pred, p1, route, required, position, queued_at, n_labels, state, final_label,"
        " final_kind, final_by, final_at) VALUES(?, ?, ?, 'bench', ?, ?, 'margin', 'bench-model',"
        " 1, 'pool.h5:probs', ?, ?, NULL, 2, ?, ?, 2, 2, ?, ?, ?, ?)",
        ((i + 1, f"item-{i:07d}", i, int(blind[i]), float(score[i]), int(pred[i]),
          float(p1[i]), i, now, int(truth[i]), "adjudicated" if disagree[i] else "agreed",
          "reviewer" if disagree[i] else None, now) for i in range(n)))
    con.executemany(
        "INSERT INTO labels(item, annotator, label, leased_at, created, created_at)"
        " VALUES(?, ?, ?, ?, ?, ?)",
        ((i + 1, f"annotator-{a}", int(lab), 1.7e9 + i - 5, 1.7e9 + i, now)
         for i in range(n) for a, lab in ((ann_a[i], truth[i]), (ann_b[i], second[i]))))
    con.executemany(
        "INSERT INTO decisions(item, actor, label, previous, overrode, kind, justification,"
        " created_at) VALUES(?, 'reviewer', ?, NULL, 0, 'adjudicate',"
        " 'the second annotator misread the item', ?)",
        ((int(i) + 1, int(truth[i]), now) for i in np.flatnonzero(disagree)))
    con.execute("COMMIT")
    con.close()
    with open(stamp, "w") as f:
        f.write(str(n))


def features_pool(path, n, d):
    if os.path.exists(path):
        with h5py.File(path, "r") as f:
            if f["features"].shape == (n, d):
                return
    rng = np.random.default_rng(2)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("features", (n, d), np.float32)
        for r0 in range(0, n, 1 << 18):
            k = min(1 << 18, n - r0)
            ds[r0:r0 + k] = rng.standard_normal((k, d), dtype=np.float32)


def open_store_and_tasks(hitl, work, n):
    """A store with n open items (one label each) and Label Studio's full JSON export of them,
    each task annotated once in the documented shape."""
    base = os.path.join(work, f"import-base-{n}.db")
    tasks_path = os.path.join(work, f"ls-tasks-{n}.json")
    stamp = base + ".done"
    if os.path.exists(stamp) and os.path.exists(tasks_path):
        return base, tasks_path
    fresh(base)
    subprocess.run([hitl, "init", base, "--classes", ",".join(CLASSES), "--overlap", "1",
                    "--actor", "bench"], check=True, capture_output=True)
    rng = np.random.default_rng(3)
    con = sqlite3.connect(base)
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO items(id, pool_id, pool_row, batch, reason, score, method, pred, p1,"
        " required, position, queued_at, data) VALUES(?, ?, ?, 'bench', 0, 0.5, 'margin', 1,"
        " 0.5, 1, ?, '2026-01-01T00:00:00.000Z', ?)",
        ((i + 1, f"task-{i:06d}", i, i, json.dumps({"id": f"task-{i:06d}",
                                                    "text": f"text of item {i}"}))
         for i in range(n)))
    con.execute("COMMIT")
    con.close()
    subprocess.run([hitl, "export", base, "--format", "label-studio", "--out", tasks_path],
                   check=True, capture_output=True)
    with open(tasks_path) as f:
        tasks = json.load(f)
    for k, t in enumerate(tasks):
        t["id"] = k + 1
        t["annotations"] = [{
            "id": 10 * k + 1, "completed_by": {"id": 1 + k % 8, "email": f"a{k % 8}@example.org"},
            "result": [{"id": "x", "from_name": "choice", "to_name": "text", "type": "choices",
                        "value": {"choices": [CLASSES[int(rng.integers(10))]]}}],
            "was_cancelled": False, "ground_truth": False,
            "created_at": "2024-03-01T12:00:00.000000Z", "updated_at": "2024-03-01T12:00:00Z",
            "lead_time": 3.25, "task": k + 1}]
    with open(tasks_path, "w") as f:
        json.dump(tasks, f)
    with open(stamp, "w") as f:
        f.write(str(n))
    return base, tasks_path


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build", "cli", "hitl"))
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--features-dim", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="50k items, 5k tasks, 2 repeats")
    a = ap.parse_args()
    if a.quick:
        a.items, a.tasks, a.repeats = 50_000, 5_000, 2
    hitl = os.path.abspath(a.hitl)
    os.makedirs(a.data, exist_ok=True)
    work = os.path.abspath(a.data)

    t0 = time.perf_counter()
    db = os.path.join(work, f"export-{a.items}.db")
    labelled_store(hitl, db, a.items)
    pool = os.path.join(work, f"features-{a.items}x{a.features_dim}.h5")
    features_pool(pool, a.items, a.features_dim)
    base, tasks_path = open_store_and_tasks(hitl, work, a.tasks)
    print(f"setup: {time.perf_counter() - t0:.1f} s ({a.items:,} labelled items, "
          f"{a.tasks:,} Label Studio tasks of {os.path.getsize(tasks_path) / 1e6:.0f} MB)")

    per_million = 1e6 / a.items
    cases = [
        ("export hdf5", ["export", db, "--format", "hdf5", "--out", os.path.join(work, "o.h5")],
         10.0 / per_million),
        (f"export hdf5 + features ({a.features_dim} floats)",
         ["export", db, "--format", "hdf5", "--out", os.path.join(work, "of.h5"), "--features",
          f"{pool}:features"], 10.0 / per_million),
        ("export jsonl", ["export", db, "--format", "jsonl", "--out",
                          os.path.join(work, "o.jsonl")], 10.0 / per_million),
        ("export csv", ["export", db, "--format", "csv", "--out", os.path.join(work, "o.csv")],
         10.0 / per_million),
    ]
    rows = []
    for name, argv, target in cases:
        runs = [run_timed([hitl, *argv]) for _ in range(a.repeats)]
        rows.append((name, a.items, runs, target))
    runs = []
    for _ in range(a.repeats):
        db_i = os.path.join(work, "import-run.db")
        fresh(db_i)
        shutil.copy(base, db_i)
        runs.append(run_timed([hitl, "import", db_i, "--format", "label-studio", tasks_path]))
        n = sqlite3.connect(db_i).execute("SELECT count(*) FROM labels").fetchone()[0]
        if n != a.tasks:
            sys.exit(f"import wrote {n} labels, want {a.tasks}")
    rows.append(("import label-studio json", a.tasks, runs, 20.0 * a.tasks / 100_000))

    print(f"\n{'operation':<36} {'records':>10} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'peak RSS MB':>11} {'target s':>9}")
    for name, n, runs, target in rows:
        walls = [w for w, _ in runs]
        med = statistics.median(walls)
        print(f"{name:<36} {n:>10,} {med:>9.2f} {min(walls):>7.2f} {max(walls):>7.2f} "
              f"{max(r for _, r in runs):>11.0f} {target:>8.1f} {'ok' if med < target else 'MISS'}")


if __name__ == "__main__":
    main()

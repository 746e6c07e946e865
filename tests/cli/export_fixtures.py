#!/usr/bin/env python3
"""Fixtures for tests/cli/export.test (hitl export, import, report), then the shared runner:
`export_fixtures.py --hitl H --work W export.test` builds a small store through hitl itself (3
classes, overlap 2, 4 uncertain and 2 blind items, 2 of them labelled by two annotators) and
Label Studio files for it, each bad one with exactly one fault, then runs run_cli_tests.main()."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_cli_tests  # noqa: E402


def make_export_fixtures(hitl, work):
    os.makedirs(work, exist_ok=True)
    j = lambda name: os.path.join(work, name)  # noqa: E731
    db = j("e-store.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    probs = np.random.default_rng(2).dirichlet(np.ones(3), size=20).astype(np.float32)
    with h5py.File(j("e-pool.h5"), "w") as f:
        f["probs"] = probs
        f["ids"] = np.array([f"it-{i:02d}" for i in range(20)], dtype=object).astype("S")
        f["features"] = np.arange(20 * 4, dtype=np.float32).reshape(20, 4)

    def run(*args):
        subprocess.run([hitl, *map(str, args)], check=True, capture_output=True)

    run("init", db, "--classes", "cat,dog,owl", "--overlap", 2, "--actor", "admin")
    run("queue", db, "--from", j("e-pool.h5"), "--probs", "probs", "--ids", "ids", "--method",
        "margin", "--top-k", 4, "--blind", 2, "--seed", 1, "--batch", "b1")
    items = [r.split("|")[0] for r in subprocess.run(
        ["sqlite3", db, "SELECT pool_id FROM items ORDER BY id"], capture_output=True,
        text=True, check=True).stdout.split()]
    # item 0: both say cat (final); item 1: cat and dog (waits for adjudication)
    run("label", db, items[0], "cat", "--annotator", "ann")
    run("label", db, items[0], "cat", "--annotator", "bea")
    run("label", db, items[1], "cat", "--annotator", "ann")
    run("label", db, items[1], "dog", "--annotator", "bea")

    def task(k, pid, choices, ann_id):
        return {"id": 100 + k, "data": {"hitl_id": pid, "text": f"item {k}"},
                "annotations": [{"id": ann_id, "completed_by": 5, "was_cancelled": False,
                                 "lead_time": 1.5, "created_at": "2024-01-02T03:04:05Z",
                                 "result": [{"from_name": "choice", "to_name": "text",
                                             "type": "choices", "value": {"choices": choices}}]}]}

    good = [task(0, items[2], ["owl"], 1), task(1, items[3], ["dog"], 2),
            task(2, "not-ours", ["cat"], 3), task(3, items[0], ["owl"], 4)]
    with open(j("e-ls-good.json"), "w") as f:
        json.dump(good, f)
    with open(j("e-ls-truncated.json"), "w") as f:
        f.write(json.dumps(good)[:-60])
    baddata = [good[0], dict(good[1], data="x")]  # a task without data is taken; not this
    with open(j("e-ls-baddata.json"), "w") as f:
        json.dump(baddata, f)
    with open(j("e-ls-unknown.json"), "w") as f:
        json.dump([good[0], good[1], task(2, items[4], ["zebra"], 9)], f)
    with open(j("e-ls-unknown.csv"), "w", newline="") as f:
        f.write("annotation_id,annotator,choice,hitl_id,lead_time\r\n"
                f"11,ann,cat,{items[4]},2.0\r\n12,ann,\"wolf, grey\",{items[5]},1.0\r\n")
    with open(j("e-ls-nocolumn.csv"), "w", newline="") as f:
        f.write(f"annotator,label,hitl_id\r\nann,cat,{items[4]}\r\n")
    open(j("e-empty.json"), "w").close()
    # the store under another name, for the report's outputs that must not overwrite it
    if os.path.exists(j("e-store-link.html")):
        os.remove(j("e-store-link.html"))
    os.link(db, j("e-store-link.html"))


def main():
    args = sys.argv[1:]
    make_export_fixtures(args[args.index("--hitl") + 1], args[args.index("--work") + 1])
    return run_cli_tests.main()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Crash safety under load (issue 7): annotator processes, `hitl queue` imports (with and
without --data) and `hitl export` in every format run against one store while a killer sends
SIGKILL to random ones of them and restarts them. Afterwards the store opens cleanly and its
audit chain verifies, every label an annotator logged as committed is stored, no label is
stored twice, the store's counters match its rows, every killed import landed whole (with its
payloads) or not at all and re-running it finishes it, and no export destination ever held a
half-written file. --repeat N runs the whole test N times; --seed S replays a killer schedule."""
import argparse
import csv
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

import h5py
import numpy as np

HITL = WORKER = WORK = None
SEED = None
DURATION = 10.0  # seconds of killing
RERUNS = 5  # killed imports that left nothing, re-run to finish them
N_ANNOTATORS = 4
POOL = 50000
TOP_K, BLIND = 300, 30
CLASSES = ["cat", "dog", "owl"]
CSV_COLUMNS = 24 + len(CLASSES)  # the fixed columns of `hitl export --format csv`, then p_<class>


def hitl(*args, ok=True, timeout=300):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def db_rows(db, sql, *params):
    con = sqlite3.connect(db, timeout=60)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def export_records(path, fmt):
    """The record count of a complete export file; AssertionError when it is not complete."""
    if fmt == "hdf5":
        with h5py.File(path, "r") as f:
            # the attributes are written last, when every dataset is whole
            assert f.attrs.get("layout") in (b"hitl-export-1", "hitl-export-1"), dict(f.attrs)
            n = f["ids"].shape[0]
            for name in ("rows", "labels", "is_blind", "n_labels", "agreement", "scores",
                         "pred", "p1"):
                assert f[name].shape[0] == n, (name, f[name].shape, n)
            assert f["soft_labels"].shape == (n, len(CLASSES))
            f["labels"][...]  # every chunk readable
            f["soft_labels"][...]
            return n
    with open(path, "rb") as f:
        data = f.read()
    if fmt == "jsonl":
        if not data:
            return 0
        assert data.endswith(b"\n"), "jsonl export does not end with a newline"
        lines = data.decode().split("\n")[:-1]
        for line in lines:
            rec = json.loads(line)
            assert rec["label"] in CLASSES, rec
        return len(lines)
    assert data.endswith(b"\r\n"), "csv export does not end with CRLF"
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0][0] == "id" and len(rows[0]) == CSV_COLUMNS, rows[0]
    for r in rows[1:]:
        assert len(r) == CSV_COLUMNS, r
        assert r[2] in CLASSES, r
    return len(rows) - 1


class Crash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.pool = os.path.join(WORK, "crash-pool.h5")
        cls.jsonl = os.path.join(WORK, "crash-items.jsonl")
        if not (os.path.exists(cls.pool) and os.path.exists(cls.jsonl)):
            rng = np.random.default_rng(11)
            probs = rng.dirichlet(np.full(len(CLASSES), 0.7), size=POOL).astype(np.float32)
            with h5py.File(cls.pool + ".tmp", "w") as f:
                f["probs"] = probs
                f["ids"] = np.array([f"img-{i:06d}" for i in range(POOL)], dtype="S")
            os.replace(cls.pool + ".tmp", cls.pool)
            with open(cls.jsonl + ".tmp", "w") as f:
                for i in range(POOL):
                    f.write(json.dumps({"id": f"img-{i:06d}", "text": f"picture {i}"}) + "\n")
            os.replace(cls.jsonl + ".tmp", cls.jsonl)

    def setUp(self):
        self.dir = os.path.join(WORK, "crash")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "crash.db")
        hitl("init", self.db, "--classes", ",".join(CLASSES), "--overlap", 2, "--lease", 2,
             "--actor", "admin")
        self.rnd = random.Random(SEED)
        self.kills = {"annotator": 0, "queue": 0, "export": 0}
        self.imports = []  # (batch, with_data, killed)
        self.exports = {"hdf5": None, "csv": None, "jsonl": None}  # last (digest, records)
        self.export_runs = 0
        self.export_killed_landed = 0
        self.n_import = 0
        self.n_export = 0
        self.procs = []

    def tearDown(self):
        for p in self.procs:  # after a failure, nothing is left running
            if p.poll() is None:
                p.kill()
            if not p.stderr.closed:
                p.communicate()

    def spawn(self, args, **kw):
        p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, **kw)
        self.procs = [q for q in self.procs if q.returncode is None] + [p]
        return p

    # ---- the processes ----------------------------------------------------------------------

    def start_annotator(self, i):
        self.ann_runs += 1
        return self.spawn([WORKER, self.db, f"annotator-{i}", str(1000 * i + self.ann_runs),
                           self.logs[i], "--agree"], stdout=subprocess.DEVNULL)

    def import_args(self, batch, seed, with_data):
        args = [HITL, "queue", self.db, "--from", self.pool, "--probs", "probs", "--ids", "ids",
                "--method", "margin", "--top-k", str(TOP_K), "--blind", str(BLIND), "--seed",
                str(seed), "--batch", batch, "--json"]
        return args + (["--data", self.jsonl] if with_data else [])

    def start_import(self):
        self.n_import += 1
        batch, with_data = f"imp-{self.n_import:04d}", self.n_import % 2 == 0
        p = self.spawn(self.import_args(batch, self.n_import, with_data), stdout=subprocess.PIPE)
        p.hitl_batch, p.hitl_data = batch, with_data
        return p

    def start_export(self):
        self.n_export += 1
        fmt = ("hdf5", "csv", "jsonl")[self.n_export % 3]
        out = os.path.join(self.dir, f"out.{'h5' if fmt == 'hdf5' else fmt}")
        p = self.spawn([HITL, "export", self.db, "--format", fmt, "--out", out, "--json"],
                       stdout=subprocess.PIPE)
        p.hitl_format, p.hitl_out = fmt, out
        return p

    # ---- what each ending must leave --------------------------------------------------------

    def check_import(self, p, killed):
        out, err = p.communicate()
        batch, with_data = p.hitl_batch, p.hitl_data
        n, no_data = db_rows(self.db, "SELECT count(*), count(*) - count(data) FROM items "
                                      "WHERE batch = ?", batch)[0]
        if not killed:
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(json.loads(out)["added"], TOP_K + BLIND)
        # the importer runs alone, so this is what the killed import itself left
        self.assertIn(n, (0, TOP_K + BLIND), f"half an import: {batch} has {n} items")
        if with_data:
            self.assertEqual(no_data, 0, f"{batch}: {no_data} of {n} items without payload")
        self.imports.append((batch, with_data, killed))

    def check_export(self, p, killed):
        out, err = p.communicate()
        fmt, dest = p.hitl_format, p.hitl_out
        self.export_runs += 1
        if not killed:
            self.assertEqual(p.returncode, 0, err)
            n = export_records(dest, fmt)
            self.assertEqual(n, json.loads(out)["records"])
            with open(dest, "rb") as f:
                self.exports[fmt] = (hashlib.sha256(f.read()).hexdigest(), n)
            return
        last = self.exports[fmt]
        if not os.path.exists(dest):
            self.assertIsNone(last, f"{dest} vanished")
            return
        with open(dest, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if last and digest == last[0]:
            return  # the previous export, untouched
        # killed after its rename: then it is a whole new export
        n = export_records(dest, fmt)
        if last:
            self.assertGreaterEqual(n, last[1])  # final labels only accumulate
        self.exports[fmt] = (digest, n)
        self.export_killed_landed += 1

    def end_annotator(self, p, killed):
        _, err = p.communicate()
        if not killed:
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(err, "")

    # ---- the run ----------------------------------------------------------------------------

    def test_kill_everything(self):
        self.logs = [os.path.join(self.dir, f"annotator-{i}.log") for i in range(N_ANNOTATORS)]
        for name in self.logs:
            open(name, "w").close()
        self.ann_runs = 0
        # some work before the annotators start
        hitl(*self.import_args("imp-0000", 0, True)[1:])
        self.imports.append(("imp-0000", True, False))
        ann = [self.start_annotator(i) for i in range(N_ANNOTATORS)]
        imp, exp = self.start_import(), self.start_export()
        t0 = time.time()
        while True:
            stopping = time.time() - t0 > DURATION
            # restart whatever ended by itself (an annotator with nothing left comes back later)
            for i, p in enumerate(ann):
                if p.poll() is not None:
                    self.end_annotator(p, False)
                    ann[i] = self.start_annotator(i)
            if imp.poll() is not None:
                self.check_import(imp, False)
                imp = self.start_import()
            if exp.poll() is not None:
                self.check_export(exp, False)
                exp = self.start_export()
            if stopping:
                break
            time.sleep(self.rnd.uniform(0.005, 0.1))
            role = self.rnd.choice(["annotator", "queue", "export"])
            if role == "annotator":
                i = self.rnd.randrange(N_ANNOTATORS)
                if ann[i].poll() is None:
                    ann[i].send_signal(signal.SIGKILL)
                    ann[i].wait()
                    self.kills[role] += 1
                    self.end_annotator(ann[i], True)
                    ann[i] = self.start_annotator(i)
            elif role == "queue" and imp.poll() is None:
                imp.send_signal(signal.SIGKILL)
                imp.wait()
                self.kills[role] += 1
                self.check_import(imp, True)
                imp = self.start_import()
            elif role == "export" and exp.poll() is None:
                exp.send_signal(signal.SIGKILL)
                exp.wait()
                self.kills[role] += 1
                self.check_export(exp, True)
                exp = self.start_export()
        # the end: everything still running is killed too
        for p in ann:
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.end_annotator(p, True)
        imp.send_signal(signal.SIGKILL)
        imp.wait()
        self.check_import(imp, True)
        exp.send_signal(signal.SIGKILL)
        exp.wait()
        self.check_export(exp, True)
        for role in self.kills:
            self.assertGreaterEqual(self.kills[role], 5, self.kills)
        self.check_store()

    def test_bad_payload_line_queues_nothing(self):
        """A queue import with --data is one transaction: a bad line leaves no batch behind."""
        bad = os.path.join(self.dir, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"id": "img-000001", "text": "fine"}\nnot json\n')
        before = db_rows(self.db, "SELECT * FROM audit")
        args = self.import_args("bad", 1, False) + ["--data", bad]
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("bad.jsonl': line 2: not a JSON object", p.stderr)
        self.assertEqual(db_rows(self.db, "SELECT count(*) FROM items"), [(0,)])
        self.assertEqual(db_rows(self.db, "SELECT * FROM audit"), before)
        hitl("audit", "verify", self.db)

    def check_store(self):
        db = self.db
        # the store opens cleanly, SQLite finds nothing wrong, the audit chain verifies
        status = json.loads(hitl("status", db, "--json").stdout)
        self.assertEqual(db_rows(db, "PRAGMA integrity_check"), [("ok",)])
        self.assertEqual(db_rows(db, "PRAGMA foreign_key_check"), [])
        verify = json.loads(hitl("audit", "verify", db, "--json").stdout)
        self.assertTrue(verify["ok"], verify)

        # no label twice; every label a worker logged as committed is stored, as logged
        labels = db_rows(db, "SELECT i.pool_id, l.annotator, l.label FROM labels l "
                             "JOIN items i ON i.id = l.item")
        pairs = [(p, a) for p, a, _ in labels]
        self.assertEqual(len(pairs), len(set(pairs)), "a label is stored twice")
        stored = {(p, a): lab for p, a, lab in labels}
        logged = torn = 0
        for i, name in enumerate(self.logs):
            with open(name) as f:
                lines = f.read().split("\n")
            torn += lines[-1] != ""  # the final kill cut the last record short
            for line in lines[:-1]:
                fields = line.split("\t")
                if len(fields) < 3:  # half a record: its writer was killed mid-write
                    torn += 1
                    continue
                pid, label = fields[0], fields[1]
                key = (pid, f"annotator-{i}")
                self.assertIn(key, stored, f"logged label lost: {key}")
                self.assertEqual(CLASSES[stored[key]], label, key)
                logged += 1
        self.assertGreater(logged, 500)
        self.assertLessEqual(torn, self.kills["annotator"] + N_ANNOTATORS)  # one per kill at most
        self.assertEqual(status["labels"], len(labels))

        # the counters every write keeps agree with the rows
        bad = db_rows(db, "SELECT id, n_labels, n_leases FROM items i WHERE "
                          "n_labels != (SELECT count(*) FROM labels WHERE item = i.id) OR "
                          "n_leases != (SELECT count(*) FROM leases WHERE item = i.id)")
        self.assertEqual(bad, [])
        bad = db_rows(db, "SELECT id FROM items WHERE state = 2 AND final_label IS NULL "
                          "OR n_labels > required")
        self.assertEqual(bad, [])
        n_audit_labels = db_rows(db, "SELECT count(*) FROM audit WHERE event = 'label'")[0][0]
        self.assertEqual(n_audit_labels, len(labels))

        # each import is whole or absent, with its one audit event; re-running finishes it
        queue_events = {}
        for (payload,) in db_rows(db, "SELECT payload FROM audit WHERE event = 'queue'"):
            b = json.loads(payload)["batch"]
            queue_events[b] = queue_events.get(b, 0) + 1
        rerun = landed = 0
        for batch, with_data, killed in self.imports:
            n = db_rows(db, "SELECT count(*) FROM items WHERE batch = ?", batch)[0][0]
            landed += killed and n > 0
            self.assertIn(n, (0, TOP_K + BLIND), batch)
            self.assertEqual(queue_events.get(batch, 0), 1 if n else 0, batch)
            if not killed:
                self.assertEqual(n, TOP_K + BLIND, batch)
            if n == 0 and rerun < RERUNS:
                seed = int(batch.split("-")[1])
                r = json.loads(hitl(*self.import_args(batch, seed, with_data)[1:]).stdout)
                self.assertEqual(r["added"], TOP_K + BLIND)
                n = db_rows(db, "SELECT count(*) FROM items WHERE batch = ?", batch)[0][0]
                self.assertEqual(n, TOP_K + BLIND, batch)
                rerun += 1
            if with_data:
                missing = db_rows(db, "SELECT count(*) FROM items WHERE batch = ? AND "
                                      "data IS NULL", batch)[0][0]
                self.assertEqual(missing, 0, batch)
        self.assertEqual(len(set(db_rows(db, "SELECT pool_id FROM items"))),
                         db_rows(db, "SELECT count(*) FROM items")[0][0])

        # after it all the store takes work again, and exports whole files
        fin = subprocess.run([WORKER, db, "finisher", "7", "--max", "50"], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(fin.returncode, 0, fin.stderr)
        for fmt, ext in (("hdf5", "h5"), ("csv", "csv"), ("jsonl", "jsonl")):
            out = os.path.join(self.dir, f"final.{ext}")
            r = json.loads(hitl("export", db, "--format", fmt, "--out", out, "--json").stdout)
            self.assertEqual(export_records(out, fmt), r["records"])
            complete = db_rows(db, "SELECT count(*) FROM items WHERE state = 2")[0][0]
            self.assertEqual(r["records"], complete)
        hitl("audit", "verify", db)
        leftovers = [f for f in os.listdir(self.dir) if ".part-" in f]
        # the next export to a destination removes what killed exports left beside it
        for fmt, ext in (("hdf5", "h5"), ("csv", "csv"), ("jsonl", "jsonl")):
            hitl("export", db, "--format", fmt, "--out", os.path.join(self.dir, f"out.{ext}"))
        self.assertEqual([f for f in os.listdir(self.dir) if ".part-" in f], [])
        print(f"\n  seed {SEED}: kills {self.kills}; {len(self.imports)} imports "
              f"({sum(k for _, _, k in self.imports)} killed: {landed} had landed whole, the "
              f"others left nothing; {rerun} of those re-run), "
              f"{self.export_runs} exports ({self.export_killed_landed} killed once their file "
              f"was in place, "
              f"{len(leftovers)} .part files of killed exports left), {logged} logged labels, "
              f"{len(labels)} stored", file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=1, help="run the test N times")
    ap.add_argument("--seed", type=int, default=None, help="the killer's seed (default: random)")
    ap.add_argument("--duration", type=float, default=DURATION, help="seconds of killing")
    a, rest = ap.parse_known_args()
    HITL, WORKER, WORK, DURATION = a.hitl, a.worker, a.work, a.duration
    failed = 0
    for run in range(a.repeat):
        SEED = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
        print(f"run {run + 1}/{a.repeat}, seed {SEED}", file=sys.stderr)
        prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
        if not prog.result.wasSuccessful():
            failed += 1
    if a.repeat > 1:
        print(f"{a.repeat - failed} of {a.repeat} runs passed", file=sys.stderr)
    sys.exit(1 if failed else 0)

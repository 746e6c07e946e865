#!/usr/bin/env python3
"""A full disk during a write (issue 7): `hitl queue` into a store near the limit, `hitl next`,
`hitl label` and `hitl annotate` writes, and `hitl export` in hdf5, csv and jsonl each fail
with one clear line on stderr and a non-zero exit, and leave nothing half-written: the store
verifies and holds exactly what it held (every table compared), and an export destination
keeps its earlier file or stays absent. The disk is a small tmpfs when mount works (root, no
container rules against it), else every file is capped with RLIMIT_FSIZE (SIGXFSZ ignored, so
writes fail with EFBIG); the test says which. --mode picks one; --repeat N runs it N times."""
import argparse
import errno
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import unittest

import h5py
import numpy as np

HITL = WORKER = WORK = None
MODE = "auto"
SHOW = False
CLASSES = ["cat", "dog", "owl"]
POOL = 20000
TMPFS_SIZE = 16 << 20
FRAME = 4096 + 24  # a WAL frame: one page and its header
# what a clear message says about running out of space
REASON = re.compile(r"database or disk is full|No space left on device|File too large")


def db_rows(db, sql, *params):
    # read-only: closing it leaves the store's WAL as hitl left it (a writable last connection
    # would checkpoint and delete it)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def snapshot(db):
    """Every table, every row."""
    tables = [t for (t,) in db_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "ORDER BY name")]
    return {t: db_rows(db, f"SELECT * FROM {t} ORDER BY 1") for t in tables}


def checkpoint(db):
    """Moves everything into the main file and empties the WAL: each write then appends."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


class Disk:
    """A directory where only `headroom` more bytes can be written, one way or the other."""

    def __init__(self, root):
        self.dir = os.path.join(root, "fulldisk")
        os.makedirs(self.dir, exist_ok=True)
        self.mounted = False
        if MODE in ("auto", "tmpfs"):
            try:  # a mount left by a killed run first
                subprocess.run(["umount", self.dir], capture_output=True)
                p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755",
                                    "tmpfs", self.dir], capture_output=True, text=True)
                self.mounted, why = p.returncode == 0, p.stderr.strip()
            except OSError as e:  # no mount command at all
                why = str(e)
            if MODE == "tmpfs" and not self.mounted:
                raise unittest.SkipTest(f"cannot mount a tmpfs: {why}")
        self.mode = "tmpfs" if self.mounted else "rlimit"

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.dir], check=True)

    def clear(self):
        for name in os.listdir(self.dir):
            os.remove(os.path.join(self.dir, name))

    def fill(self, headroom):
        """tmpfs: a filler file leaves `headroom` bytes free (0: none at all)."""
        filler = os.path.join(self.dir, "filler")
        st = os.statvfs(self.dir)
        want = st.f_bavail * st.f_frsize - headroom
        chunk = b"\0" * (1 << 20)
        with open(filler, "wb", buffering=0) as f:
            try:
                while want > 0:
                    want -= f.write(chunk[:min(len(chunk), want)])
                while headroom == 0:
                    f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        return filler

    def run(self, args, headroom, grows=None, input=None):
        """Runs hitl with `headroom` bytes left: on the tmpfs, or past the end of the file
        `grows` (the store's WAL; None for a new file) under RLIMIT_FSIZE."""
        if self.mounted:
            filler = self.fill(headroom)
            try:
                return subprocess.run([HITL, *map(str, args)], capture_output=True, text=True,
                                      input=input, timeout=120)
            finally:
                os.remove(filler)
        limit = (os.path.getsize(grows) if grows and os.path.exists(grows) else 0) + headroom

        def cap():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run([HITL, *map(str, args)], capture_output=True, text=True,
                              input=input, timeout=120, preexec_fn=cap)


def hitl(*args, ok=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


class FullDisk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        cls.disk = Disk(WORK)
        cls.addClassCleanup(cls.disk.close)
        print(f"\n  full disk by {cls.disk.mode}"
              + (f" ({TMPFS_SIZE >> 20} MiB tmpfs)" if cls.disk.mounted
                 else " (RLIMIT_FSIZE, SIGXFSZ ignored)"), file=sys.stderr)
        tpl = os.path.join(WORK, "fulldisk-templates")
        shutil.rmtree(tpl, ignore_errors=True)
        os.makedirs(tpl)
        rng = np.random.default_rng(5)
        cls.pool = os.path.join(tpl, "pool.h5")
        with h5py.File(cls.pool, "w") as f:
            f["probs"] = rng.dirichlet(np.full(len(CLASSES), 0.7), size=POOL).astype(np.float32)
            f["ids"] = np.array([f"img-{i:06d}" for i in range(POOL)], dtype="S")
        cls.jsonl = os.path.join(tpl, "items.jsonl")
        with open(cls.jsonl, "w") as f:
            for i in range(POOL):
                f.write(json.dumps({"id": f"img-{i:06d}", "text": f"picture {i} " * 4}) + "\n")
        # a store with a small queue, and one with 3300 labelled (final) items
        cls.queued = os.path.join(tpl, "queued.db")
        hitl("init", cls.queued, "--classes", ",".join(CLASSES), "--actor", "admin")
        cls.queue(cls.queued, 200, 20, 1, "first")
        checkpoint(cls.queued)
        cls.labelled = os.path.join(tpl, "labelled.db")
        hitl("init", cls.labelled, "--classes", ",".join(CLASSES), "--actor", "admin")
        cls.queue(cls.labelled, 3000, 300, 1, "first")
        p = subprocess.run([WORKER, cls.labelled, "ann", "1", "--agree"], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        checkpoint(cls.labelled)

    @classmethod
    def queue_args(cls, db, k, b, seed, batch):
        return ["queue", db, "--from", cls.pool, "--probs", "probs", "--ids", "ids", "--method",
                "margin", "--top-k", k, "--blind", b, "--seed", seed, "--batch", batch, "--data",
                cls.jsonl, "--json"]

    @classmethod
    def queue(cls, db, k, b, seed, batch):
        return json.loads(hitl(*cls.queue_args(db, k, b, seed, batch)).stdout)

    def store(self, template):
        """A copy of `template` on the small disk, opened once (so its -shm and -wal exist)."""
        self.disk.clear()
        db = os.path.join(self.disk.dir, "store.db")
        shutil.copy(template, db)
        hitl("status", db)
        return db

    def assert_clear_failure(self, p, cmd, names=()):
        # exit 1, a runtime failure: not 0, and not a crash after the message (HDF5 1.10 did)
        self.assertEqual(p.returncode, 1, f"hitl {cmd}: {p.stdout} {p.stderr}")
        lines = p.stderr.strip().splitlines()
        if SHOW:
            print(f"    exit {p.returncode}: {p.stderr.strip()}", file=sys.stderr)
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(f"hitl {cmd}: "), lines[0])
        self.assertRegex(lines[0], REASON)
        for name in names:
            self.assertIn(name, lines[0])

    def assert_intact(self, db, before):
        self.assertEqual(snapshot(db), before)
        self.assertEqual(db_rows(db, "PRAGMA integrity_check"), [("ok",)])
        hitl("audit", "verify", db)
        hitl("status", db)

    def wal(self, db):
        return db + "-wal"

    # ---- the store ----------------------------------------------------------------------------

    def test_queue_import_near_limit(self):
        db = self.store(self.queued)
        before = snapshot(db)
        args = self.queue_args(db, 4000, 400, 2, "big")
        for headroom in (0, 16 * FRAME, 512 << 10):
            p = self.disk.run(args, headroom, grows=self.wal(db))
            self.assert_clear_failure(p, "queue", [db])
            self.assert_intact(db, before)
        # with the space back, the same import goes through whole
        r = json.loads(hitl(*args).stdout)
        self.assertEqual(r["added"], 4400)
        self.assertEqual(db_rows(db, "SELECT count(*), count(data) FROM items WHERE batch = 'big'"),
                         [(4400, 4400)])

    def sweep(self, template, cmd, prepare=None, input=None, intact=None):
        """Runs `hitl cmd` on a fresh copy of `template` with room for 0, 1, 2, ... WAL frames
        until it succeeds. Each failure must be clear and leave the store intact; some must
        come at the write itself, not at opening the store (which needs room for its -shm)."""
        stages = []
        for frames in range(0, 40):
            db = self.store(template)
            args = [cmd, db] + (prepare(db) if prepare else [])
            before = snapshot(db)
            p = self.disk.run(args, frames * FRAME, grows=self.wal(db), input=input)
            if p.returncode == 0:
                self.assertEqual(p.stderr, "")
                break
            self.assert_clear_failure(p, cmd, [db])
            (intact or self.assert_intact)(db, before)
            stages.append("open" if "cannot open" in p.stderr else "write")
        else:
            self.fail(f"hitl {cmd} never succeeded")
        self.assertIn("write", stages, f"hitl {cmd}: {stages}")
        return db, p

    def test_next_label_skip_on_full_disk(self):
        def leased(db):  # ann holds a lease on the first item
            item = json.loads(hitl("next", db, "--annotator", "ann", "--json").stdout)["item"]
            return [item, "cat", "--annotator", "ann"]

        db, _ = self.sweep(self.queued, "label", leased)
        self.assertEqual(db_rows(db, "SELECT annotator, label FROM labels"), [("ann", 0)])
        db, _ = self.sweep(self.queued, "skip", lambda db: leased(db)[:1] + ["--annotator", "ann"])
        self.assertEqual(db_rows(db, "SELECT annotator FROM skips"), [("ann",)])
        db, _ = self.sweep(self.queued, "next", lambda db: ["--annotator", "bob"])
        self.assertEqual(db_rows(db, "SELECT annotator FROM leases"), [("bob",)])

    def test_annotate_on_full_disk(self):
        """With little room the lease may fit and the label not: the session then ends with
        the error (exit 1), never with a quiet exit 0; the label is not half-stored."""
        outcomes = []

        def intact(db, before):
            after = snapshot(db)
            for t in ("skips", "decisions", "classes"):
                self.assertEqual(after[t], before[t], t)
            settings = lambda snap: [r for r in snap["meta"] if r[0] != "audit_head"]
            self.assertEqual(settings(after), settings(before))
            self.assertEqual(after["audit"][:len(before["audit"])], before["audit"])
            # what was written went in whole transactions: a lease, then maybe the label (the
            # write that failed was the next lease); never a label without its event
            new = [r[4] for r in after["audit"][len(before["audit"]):]]
            self.assertTrue(set(new) <= {"lease", "lease_renewed", "label", "final"}, new)
            self.assertEqual(len(after["labels"]) - len(before["labels"]), new.count("label"))
            self.assertEqual(db_rows(db, "SELECT count(*) FROM items i WHERE n_labels != (SELECT "
                                         "count(*) FROM labels WHERE item = i.id) OR n_leases != "
                                         "(SELECT count(*) FROM leases WHERE item = i.id)"), [(0,)])
            self.assertEqual(db_rows(db, "PRAGMA integrity_check"), [("ok",)])
            hitl("audit", "verify", db)
            outcomes.append(new)

        db, p = self.sweep(self.queued, "annotate", lambda db: ["--annotator", "ann"],
                           input="a\nq\n", intact=intact)
        self.assertIn("1 labelled this session", p.stdout)
        self.assertEqual(db_rows(db, "SELECT annotator, label FROM labels"), [("ann", 0)])
        self.assertIn(["lease"], outcomes)  # a session leased the item, then could not label it

    # ---- exports ------------------------------------------------------------------------------

    def test_export_on_full_disk(self):
        cases = [(fmt, ext, earlier, room) for fmt, ext in (("hdf5", "h5"), ("csv", "csv"),
                                                            ("jsonl", "jsonl"))
                 for earlier in (False, True) for room in (0, 64 << 10)]
        for fmt, ext, earlier, room in cases:
            with self.subTest(format=fmt, earlier=earlier, room=room):
                db = self.store(self.labelled)
                out = os.path.join(self.disk.dir, f"out.{ext}")
                old = None
                if earlier:  # an earlier export at the destination must survive
                    hitl("export", db, "--format", fmt, "--out", out)
                    with open(out, "rb") as f:
                        old = f.read()
                before = snapshot(db)
                p = self.disk.run(("export", db, "--format", fmt, "--out", out), room)
                self.assert_clear_failure(p, "export", [db if "cannot open" in p.stderr else out])
                self.assert_intact(db, before)
                if earlier:
                    with open(out, "rb") as f:
                        self.assertEqual(f.read(), old, f"{fmt}: the earlier export changed")
                else:
                    self.assertFalse(os.path.exists(out), f"{fmt}: a file was left")
                self.assertEqual([f for f in os.listdir(self.disk.dir) if ".part" in f], [])
        # with the space back it is whole, and h5py reads it
        hitl("export", db, "--format", "hdf5", "--out", os.path.join(self.disk.dir, "ok.h5"))
        with h5py.File(os.path.join(self.disk.dir, "ok.h5"), "r") as f:
            self.assertEqual(f["labels"].shape, (3300,))


    def test_export_fits_but_not_its_audit_event(self):
        """A small export fits where its audit event does not: the file is whole and in place,
        the error says so, and the store is unchanged."""
        seen = set()
        for frames in range(0, 40):
            db = self.store(self.queued)
            # ten labels first (final: overlap 1), so the WAL is past the -shm's 32 KiB
            w = subprocess.run([WORKER, db, "ann", "1", "--max", "10"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(w.returncode, 0, w.stderr)
            out = os.path.join(self.disk.dir, "small.csv")
            before = snapshot(db)
            p = self.disk.run(("export", db, "--format", "csv", "--out", out), frames * FRAME,
                              grows=self.wal(db))
            if p.returncode == 0:
                self.assertEqual(export_lines(out), 11)
                break
            self.assert_clear_failure(p, "export", [db if "cannot open" in p.stderr else out])
            self.assert_intact(db, before)
            self.assertEqual([f for f in os.listdir(self.disk.dir) if ".part" in f], [])
            if "is written, but the export is not in the audit trail" in p.stderr:
                seen.add("not audited")
                self.assertEqual(export_lines(out), 11)  # whole: header and 10 records
            else:
                seen.add("not written")
                self.assertFalse(os.path.exists(out))
        else:
            self.fail("the export never succeeded")
        self.assertIn("not audited", seen)


def export_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\r\n"), data[-40:]
    return data.count(b"\r\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--mode", choices=("auto", "tmpfs", "rlimit"), default="auto",
                    help="how to make the disk full (auto: tmpfs when mount works)")
    ap.add_argument("--repeat", type=int, default=1, help="run the tests N times")
    ap.add_argument("--show", action="store_true", help="print each failed command's message")
    a, rest = ap.parse_known_args()
    HITL, WORKER, WORK, MODE, SHOW = a.hitl, a.worker, a.work, a.mode, a.show
    failed = 0
    for run in range(a.repeat):
        print(f"run {run + 1}/{a.repeat}", file=sys.stderr)
        prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
        if not prog.result.wasSuccessful():
            failed += 1
    if a.repeat > 1:
        print(f"{a.repeat - failed} of {a.repeat} runs passed", file=sys.stderr)
    sys.exit(1 if failed else 0)

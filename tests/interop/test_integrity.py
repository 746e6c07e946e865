#!/usr/bin/env python3
"""Integrity of the store against someone who can edit the file (tests/README: the tamper
matrix). Each case builds a real store with the hitl command, edits it with Python's sqlite3
module the way an attacker with the sqlite3 shell would, and checks that `hitl audit verify`
exits 3 naming what differs, with a saved head (--head), a signed checkpoint (--pubkey) or an
export (--export) where the edit rewrote the chain consistently. Also: outputs never overwrite
inputs, exports stream into pipes, a copied store is whole, backups under load, and the queue's
naming and honesty rules."""
import argparse
import csv
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import unittest

import h5py
import numpy as np

HITL = WORKER = WORK = None


def hitl(*args, ok=True, **kw):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def sql(db, statement, *params):
    con = sqlite3.connect(db)
    try:
        rows = con.execute(statement, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def canonical(seq, ts, actor, actor_type, event, item, payload):
    """The canonical line hitl hashes (ASCII names only here: json.dumps escapes as jansson)."""
    q = lambda s: json.dumps(s, ensure_ascii=True)
    return (f'{{"actor":{q(actor)},"actor_type":{q(actor_type)},"event":{q(event)},'
            f'"item":{"null" if item is None else q(item)},"payload":{payload},"seq":{seq},'
            f'"ts":{q(ts)}}}')


def rehash(db):
    """What an attacker who read the README does: recompute every hash and the head."""
    con = sqlite3.connect(db)
    prev = "0" * 64
    rows = con.execute("SELECT seq, ts, actor, actor_type, event, item, payload FROM audit "
                       "ORDER BY seq").fetchall()
    for seq, ts, actor, atype, event, item, payload in rows:
        line = canonical(seq, ts, actor, atype, event, item, payload)
        h = hashlib.sha256((prev + "\n" + line).encode()).hexdigest()
        con.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
        prev = h
    con.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{len(rows)} {prev}",))
    con.commit()
    con.close()


class Integrity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        rng = np.random.default_rng(11)
        cls.n = 400
        cls.pool = os.path.join(WORK, "integrity-pool.h5")
        with h5py.File(cls.pool, "w") as f:
            f["probs"] = rng.dirichlet(np.full(3, 0.7), size=cls.n).astype(np.float32)
            f["ids"] = np.array([f"doc-{i:04d}" for i in range(cls.n)], dtype=object).astype("S")
        cls.jsonl = os.path.join(WORK, "integrity-items.jsonl")
        with open(cls.jsonl, "w") as f:
            for i in range(cls.n):
                f.write(json.dumps({"id": f"doc-{i:04d}", "text": f"note {i}"}) + "\n")
        key = os.path.join(WORK, "signing.pem")
        if not os.path.exists(key):
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", key + ".pub"],
                           check=True)
        cls.key, cls.pub = key, key + ".pub"

    def store(self, name, labelled=12):
        """A store with 20 queued items (payloads attached), `labelled` of them labelled by two
        annotators (every third in disagreement, adjudicated), one skip and one override."""
        db = os.path.join(WORK, name)
        for suffix in ("", "-wal", "-shm", ".hitl-head"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        hitl("init", db, "--classes", "cat,dog,owl", "--overlap", 2, "--actor", "admin")
        hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids", "--top-k", 16,
             "--blind", 4, "--seed", 5, "--data", self.jsonl, "--actor", "admin")
        items = [r[0] for r in sql(db, "SELECT pool_id FROM items ORDER BY position")]
        for k, item in enumerate(items[:labelled]):
            hitl("label", db, item, "cat", "--annotator", "ann")
            hitl("label", db, item, "dog" if k % 3 == 2 else "cat", "--annotator", "bob")
            if k % 3 == 2:
                hitl("adjudicate", db, item, "dog", "--actor", "qa",
                     "--justification", "the ears are a dog's, see the tail")
        hitl("skip", db, items[labelled], "--annotator", "ann", "--reason", "blurry")
        if labelled:
            hitl("adjudicate", db, items[0], "owl", "--actor", "qa",
                 "--justification", "an owl on second look, feathers")
        self.items = items
        return db

    def verify(self, db, *extra):
        return hitl("audit", "verify", db, *extra, ok=False)

    def assert_caught(self, db, *words, extra=()):
        p = self.verify(db, *extra)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        for w in words:
            self.assertIn(w, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)  # one line

    # ---- the matrix --------------------------------------------------------------------------

    def test_untouched_store_verifies(self):
        db = self.store("untouched.db")
        p = self.verify(db, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertTrue(r["ok"])
        self.assertEqual(r["labels"], 24)
        self.assertEqual(r["items"], 20)

    def test_label_row_edited(self):
        db = self.store("label-edit.db")
        sql(db, "UPDATE labels SET label = 2 WHERE annotator = 'ann' AND item = "
                "(SELECT id FROM items WHERE pool_id = ?)", self.items[1])
        self.assert_caught(db, self.items[1], "label by 'ann'", "'owl'")

    def test_final_label_edited(self):
        db = self.store("final-edit.db")
        sql(db, "UPDATE items SET final_label = 2 WHERE pool_id = ?", self.items[1])
        self.assert_caught(db, self.items[1], "final_label")

    def test_payload_edited(self):
        db = self.store("payload-edit.db")
        sql(db, "UPDATE items SET data = '{\"id\":\"x\",\"text\":\"forged\"}' WHERE pool_id = ?",
            self.items[5])
        self.assert_caught(db, "payloads")

    def test_audit_record_edited_deleted_inserted_reordered(self):
        for kind in ("edit", "delete", "insert", "reorder"):
            db = self.store(f"audit-{kind}.db")
            if kind == "edit":
                sql(db, "UPDATE audit SET payload = replace(payload, '\"cat\"', '\"dog\"') "
                        "WHERE seq = 5")
            elif kind == "delete":
                sql(db, "DELETE FROM audit WHERE seq = 5")
            elif kind == "insert":
                sql(db, "INSERT INTO audit SELECT seq + 1000, ts, actor, actor_type, event, item, "
                        "payload, prev_hash, hash FROM audit WHERE seq = 5")
            else:
                sql(db, "UPDATE audit SET seq = -1 WHERE seq = 5")
                sql(db, "UPDATE audit SET seq = 5 WHERE seq = 6")
                sql(db, "UPDATE audit SET seq = 6 WHERE seq = -1")
            self.assert_caught(db, "audit chain broken")

    def test_tail_cut_and_head_moved(self):
        db = self.store("tail.db")
        head = hitl("audit", "head", db).stdout.strip()
        n = int(head.split(":")[0])
        for who in ("zed", "yan"):  # leases: events that explain no row
            hitl("next", db, "--annotator", who)
        sql(db, "DELETE FROM leases")
        last = sql(db, "SELECT hash FROM audit WHERE seq = ?", n)[0][0]
        saved = hitl("audit", "head", db).stdout.strip()
        sql(db, "DELETE FROM audit WHERE seq > ?", n)
        sql(db, "UPDATE meta SET value = ? WHERE key = 'audit_head'", f"{n} {last}")
        self.assertEqual(self.verify(db).returncode, 0)  # undetectable from the file alone
        self.assert_caught(db, "is gone", extra=("--head", saved))

    def test_whole_trail_deleted(self):
        db = self.store("trail.db", labelled=0)
        saved = hitl("audit", "head", db).stdout.strip()
        sql(db, "DELETE FROM audit")
        sql(db, "UPDATE meta SET value = '0' WHERE key = 'audit_head'")
        self.assert_caught(db, "is gone", extra=("--head", saved))
        self.assertEqual(self.verify(db).returncode, 3)  # the items are no longer explained

    def test_consistent_rewrite_after_a_label_change(self):
        db = self.store("rewrite.db")
        saved = hitl("audit", "head", db).stdout.strip()
        hitl("audit", "sign", db, "--key", self.key, "--actor", "qa")
        item = self.items[3]  # two agreeing labels, final "cat"
        sql(db, "UPDATE labels SET label = 1 WHERE item = (SELECT id FROM items WHERE pool_id = ?)",
            item)
        sql(db, "UPDATE items SET final_label = 1 WHERE pool_id = ?", item)
        sql(db, "UPDATE audit SET payload = replace(payload, '\"cat\"', '\"dog\"') "
                "WHERE item = ? AND event IN ('label', 'final')", item)
        rehash(db)
        self.assertEqual(self.verify(db).returncode, 0)  # the file alone cannot tell
        self.assert_caught(db, "rewritten", extra=("--head", saved))
        self.assert_caught(db, "checkpoint", "rewritten", extra=("--pubkey", self.pub))

    def test_duplicate_key(self):
        db = self.store("dupkey.db")
        sql(db, "UPDATE audit SET payload = '{\"label\":\"cat\",\"label\":\"dog\",\"leased\":false}'"
                " WHERE event = 'label' AND item = ? AND actor = 'ann'", self.items[4])
        rehash(db)
        self.assert_caught(db, "unique keys")
        db = self.store("dupkey-data.db")
        sql(db, "UPDATE items SET data = '{\"id\":\"a\",\"id\":\"b\"}' WHERE pool_id = ?",
            self.items[6])
        self.assert_caught(db, "unique keys")

    def test_export_edited_after_export(self):
        for fmt, ext in (("jsonl", "jsonl"), ("csv", "csv"), ("hdf5", "h5")):
            db = self.store(f"export-check-{fmt}.db")
            out = os.path.join(WORK, f"check.{ext}")
            hitl("export", db, "--format", fmt, "--final", "majority", "--out", out)
            self.assertEqual(self.verify(db, "--export", out).returncode, 0, fmt)
            hitl("label", db, self.items[14], "owl", "--annotator", "ann")  # later work is fine
            self.assertEqual(self.verify(db, "--export", out).returncode, 0, fmt)
            if fmt == "hdf5":
                with h5py.File(out, "a") as f:
                    lab = f["labels"][:]
                    lab[2] = (lab[2] + 1) % 3
                    f["labels"][:] = lab
            elif fmt == "jsonl":
                with open(out) as f:
                    records = [json.loads(line) for line in f]
                records[2]["label"] = "owl" if records[2]["label"] != "owl" else "cat"
                with open(out, "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in records)
            else:
                with open(out, newline="") as f:
                    rows = list(csv.reader(f))
                col = rows[0].index("label")
                rows[3][col] = "owl" if rows[3][col] != "owl" else "cat"
                with open(out, "w", newline="") as f:
                    csv.writer(f).writerows(rows)
            self.assert_caught(db, "the export labels item", extra=("--export", out))

    # ---- outputs and copies ------------------------------------------------------------------

    def test_outputs_never_overwrite_inputs(self):
        db = self.store("outputs.db")
        with open(db, "rb") as f:
            before = f.read()
        for fmt in ("csv", "jsonl", "hdf5"):
            p = hitl("export", db, "--format", fmt, "--out", db, ok=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("input", p.stderr)
        p = hitl("report", db, "--notebook", db, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        # the report's other outputs too, refused before its export is written (and audited)
        pool_before = open(self.pool, "rb").read()
        page = os.path.join(WORK, "outputs-page.html")  # what --html makes of outputs-page.ipynb
        if os.path.exists(page):
            os.remove(page)
        os.link(db, page)
        nb = os.path.join(WORK, "outputs-report.ipynb")
        for extra in (("--notebook", self.pool, "--features", f"{self.pool}:probs"),
                      ("--notebook", nb, "--export", self.pool, "--pool", f"{self.pool}:probs"),
                      ("--notebook", nb, "--export", db),
                      ("--notebook", page[:-5] + ".ipynb", "--html")):
            p = hitl("report", db, *extra, ok=False)
            self.assertEqual(p.returncode, 2, (extra, p.stderr))
            self.assertIn("is an input of this command", p.stderr)
        os.remove(page)
        self.assertFalse(os.path.exists(nb))
        self.assertEqual(open(self.pool, "rb").read(), pool_before)
        p = hitl("backup", db, db, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        with open(db, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.verify(db).returncode, 0)

    def test_exports_stream_into_pipes(self):
        db = self.store("stream.db")
        finals = sql(db, "SELECT count(*) FROM items WHERE state = 2")[0][0]
        for out in ("-", "/dev/stdout"):
            p = subprocess.run([HITL, "export", db, "--format", "jsonl", "--out", out],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.decode().splitlines()
            self.assertEqual(len(lines), finals)
            self.assertTrue(all(json.loads(l)["id"].startswith("doc-") for l in lines))
            self.assertNotIn(b"exported", p.stdout)  # the summary goes to stderr
        self.assertFalse(os.path.isfile("/dev/stdout") and not os.path.islink("/dev/stdout"))

    def test_copy_of_the_file_is_the_store(self):
        db = self.store("copyme.db")
        self.assertFalse(os.path.exists(db + "-wal"))  # merged by the last close
        copy = os.path.join(WORK, "copied.db")
        shutil.copyfile(db, copy)
        self.assertEqual(self.verify(copy).returncode, 0)
        self.assertEqual(hitl("status", copy, "--json").returncode, 0)

    def test_read_only_store(self):
        """On a read-only mount (a bind mount when this user may mount, as root in CI), else a
        read-only file: verify, status and export work; the export says it is not recorded."""
        db = self.store("readonly.db")
        ro = os.path.join(WORK, "ro-mount")
        os.makedirs(ro, exist_ok=True)
        mounted = False
        if os.geteuid() == 0:
            mounted = subprocess.run(["mount", "--bind", WORK, ro], capture_output=True).returncode == 0
            mounted = mounted and subprocess.run(["mount", "-o", "remount,bind,ro", ro],
                                                 capture_output=True).returncode == 0
            if not mounted:
                subprocess.run(["umount", ro], capture_output=True)
                self.skipTest("root, and cannot mount read-only here: a 0444 file stays writable")
            path = os.path.join(ro, "readonly.db")
        else:
            os.chmod(db, 0o444)
            path = db
        try:
            self.assertEqual(self.verify(path).returncode, 0, self.verify(path).stderr)
            self.assertEqual(hitl("status", path).returncode, 0)
            out = os.path.join(WORK, "ro.jsonl")
            p = hitl("export", path, "--format", "jsonl", "--out", out)
            self.assertIn("not recorded", p.stderr)
            self.assertEqual(self.verify(path, "--export", out).returncode, 0)
        finally:
            if mounted:
                subprocess.run(["umount", ro], check=True)
            else:
                os.chmod(db, 0o644)

    def test_backup_while_annotators_work(self):
        db = os.path.join(WORK, "busy.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        hitl("init", db, "--classes", "cat,dog,owl", "--overlap", 1)
        hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids", "--top-k", 380,
             "--blind", 0, "--seed", 1)
        workers = [subprocess.Popen([WORKER, db, f"w{i}", str(i)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE) for i in range(8)]
        while sql(db, "SELECT count(*) FROM labels")[0][0] < 40:
            pass
        committed = {r for r in sql(db, "SELECT item, annotator FROM labels")}
        backup = os.path.join(WORK, "busy-backup.db")
        if os.path.exists(backup):
            os.remove(backup)
        hitl("backup", db, backup)
        for w in workers:
            w.wait(timeout=120)
        self.assertEqual(self.verify(backup).returncode, 0)
        held = {r for r in sql(backup, "SELECT item, annotator FROM labels")}
        self.assertTrue(committed <= held)
        self.assertEqual(self.verify(db).returncode, 0)

    # ---- the queue ---------------------------------------------------------------------------

    def test_mixed_identifiers_refused(self):
        db = self.store("mixed.db")
        before = sql(db, "SELECT count(*) FROM items")
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--top-k", 5, "--blind", 0,
                 "--seed", 2, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("two items", p.stderr)
        self.assertEqual(sql(db, "SELECT count(*) FROM items"), before)

    def test_concurrent_queues_report_what_they_hold(self):
        db = os.path.join(WORK, "race.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        hitl("init", db, "--classes", "cat,dog,owl")
        args = ["queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids",
                "--top-k", "150", "--blind", "15", "--json"]
        procs = [subprocess.Popen([HITL, *args, "--seed", str(s), "--batch", f"race-{s}"],
                                  stdout=subprocess.PIPE, text=True) for s in (1, 2)]
        for p in procs:
            out, _ = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0)
            r = json.loads(out)
            held = sql(db, "SELECT count(*), sum(reason = 1) FROM items WHERE batch = ?",
                       r["batch"])[0]
            self.assertEqual(r["added"], held[0])
            self.assertEqual(r["blind"], held[1])
            self.assertEqual(r["uncertain"] + r["blind"], r["added"])
        self.assertEqual(self.verify(db).returncode, 0)

    def test_data_onto_a_labelled_item_refused(self):
        db = self.store("data-labelled.db")
        before = sql(db, "SELECT * FROM items ORDER BY id")
        changed = os.path.join(WORK, "changed.jsonl")
        with open(changed, "w") as f:
            f.write(json.dumps({"id": self.items[1], "text": "another picture"}) + "\n")
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids",
                 "--top-k", 1, "--blind", 0, "--seed", 9, "--data", changed, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(self.items[1], p.stderr)
        self.assertEqual(sql(db, "SELECT * FROM items ORDER BY id"), before)


    # ---- names and text ------------------------------------------------------------------

    def test_names_and_text(self):
        db = self.store("names.db", labelled=2)
        item = self.items[5]
        before = sql(db, "SELECT count(*) FROM audit")
        for bad in ("ann\nforged line", "\x1b[2J", "    ", "x" * 100000, ""):
            p = hitl("label", db, item, "cat", "--annotator", bad, ok=False)
            self.assertEqual(p.returncode, 2, (bad[:10], p.stderr))
            self.assertNotIn("\x1b", p.stderr)
        for opt, value in (("--annotator", b"caf\xe9"), ("--reason", b"bad \xff byte")):
            args = [HITL.encode(), b"skip", db.encode(), item.encode()]
            args += [b"--annotator", b"ann"] if opt == "--reason" else []
            p = subprocess.run(args + [opt.encode(), value], capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn(opt.encode(), p.stderr)
        p = hitl("adjudicate", db, self.items[0], "dog", "--actor", "qa",
                 "--justification", " " * 40, ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        p = hitl("adjudicate", db, self.items[0], "dog", "--actor", "qa",
                 "--justification", "\U0001F600" * 5, ok=False)  # 20 bytes, 5 characters
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("got 5", p.stderr)
        self.assertEqual(sql(db, "SELECT count(*) FROM audit"), before)
        hitl("skip", db, item, "--annotator", "cy")
        p = hitl("label", db, item, "cat", "--annotator", "cy", ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("skipped", p.stderr)
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids", "--top-k",
                 1, "--blind", 0, "--seed", 3, "--data", WORK, ok=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("directory", p.stderr)
        # names typed before these rules, or written behind hitl's back, print escaped
        sql(db, "UPDATE labels SET annotator = 'x\x1b[2Jy' WHERE annotator = 'bob'")
        out = hitl("status", db).stdout
        self.assertNotIn("\x1b", out)
        self.assertIn("\\x1b", out)

    def test_accounts(self):
        db = self.store("accounts.db", labelled=0)
        p = hitl("user", "add", db, "ann", "--role", "annotator", "--json")
        token = json.loads(p.stdout)["token"]
        self.assertRegex(token, "^[0-9a-f]{64}$")
        stored = sql(db, "SELECT token_hash, role FROM accounts WHERE name = 'ann'")[0]
        self.assertEqual(stored, (hashlib.sha256(token.encode()).hexdigest(), "annotator"))
        self.assertNotIn(token, open(db, "rb").read().decode("latin-1"))  # only its hash
        hitl("user", "add", db, "qa", "--role", "reviewer")
        rotated = json.loads(hitl("user", "token", db, "ann", "--json").stdout)["token"]
        self.assertNotEqual(rotated, token)
        hitl("user", "revoke", db, "qa")
        events = sql(db, "SELECT payload FROM audit WHERE event = 'account' ORDER BY seq")
        actions = [json.loads(e[0])["action"] for e in events]
        self.assertEqual(actions, ["add", "add", "rotate", "revoke"])
        self.assertEqual(json.loads(events[2][0])["token_hash"],
                         hashlib.sha256(rotated.encode()).hexdigest())
        listed = json.loads(hitl("user", "list", db, "--json").stdout)["accounts"]
        self.assertEqual([(a["name"], a["role"], a["revoked"]) for a in listed],
                         [("ann", "annotator", False), ("qa", "reviewer", True)])
        self.assertEqual(self.verify(db).returncode, 0)
        for args, code, words in ((("add", db, "ann", "--role", "admin"), 3, "exists"),
                                  (("add", db, "zed", "--role", "boss"), 2, "boss"),
                                  (("add", db, "zed"), 2, "--role"),
                                  (("token", db, "qa"), 3, "revoked"),
                                  (("revoke", db, "nobody"), 3, "nobody"),
                                  (("add", db, "a\nb", "--role", "admin"), 2, "NAME")):
            p = hitl("user", *args, ok=False)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(words, p.stderr)
        # what someone with the file would do: raise a role, slip in a token, revive an account
        good = os.path.join(WORK, "accounts-good.db")
        shutil.copy(db, good)
        for statement, words in (
                ("UPDATE accounts SET role = 'admin' WHERE name = 'ann'", "account 'ann'"),
                ("UPDATE accounts SET token_hash = '%s' WHERE name = 'ann'"
                 % hashlib.sha256(b"mine").hexdigest(), "account 'ann'"),
                ("UPDATE accounts SET revoked_at = NULL WHERE name = 'qa'", "account 'qa'"),
                ("INSERT INTO accounts VALUES ('eve', 'admin', 'ab', '2026-01-01', NULL)",
                 "account 'eve' is not in the chain"),
                ("DELETE FROM accounts WHERE name = 'qa'", "account 'qa' is missing")):
            shutil.copy(good, db)
            sql(db, statement)
            self.assert_caught(db, words)

    def test_schema_two_store_gains_accounts(self):
        db = self.store("schema2.db", labelled=2)
        sql(db, "DROP TABLE accounts")
        sql(db, "PRAGMA user_version = 2")
        self.assertEqual(self.verify(db).returncode, 0)  # read as it is
        hitl("user", "add", db, "ann", "--role", "annotator")
        self.assertEqual(sql(db, "PRAGMA user_version"), [(4,)])
        self.assertEqual(self.verify(db).returncode, 0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORKER, WORK = a.hitl, a.worker, a.work
    unittest.main(argv=[sys.argv[0], "-v", *rest])

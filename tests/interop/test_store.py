#!/usr/bin/env python3
"""Tests of the annotation store through the hitl command, checked with Python's sqlite3 module
and numpy: reproducible queues, blind share and reasons, no duplicates across batches, overlap
and lease rules, routing counts, every bad input (with nothing written), tampering made with the
sqlite3 shell, 8 annotator processes at once, and annotators killed with SIGKILL mid-run."""
import argparse
import collections
import csv
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


def hitl(*args, ok=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def db_rows(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def margin(p):
    s = -np.sort(-p.astype(np.float64), axis=1)
    return 1 - (s[:, 0] - s[:, 1])


def snapshot(db):
    """Everything a failed command must leave untouched."""
    out = {}
    for t in ("items", "labels", "skips", "leases", "decisions", "audit", "meta"):
        out[t] = db_rows(db, f"SELECT * FROM {t} ORDER BY 1")
    return out


class Store(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        rng = np.random.default_rng(3)
        cls.n = 3000
        cls.probs = rng.dirichlet(np.full(3, 0.7), size=cls.n).astype(np.float32)
        cls.pool = os.path.join(WORK, "store-pool.h5")
        with h5py.File(cls.pool, "w") as f:
            f["probs"] = cls.probs
            f["ids"] = np.array([f"img-{i:05d}" for i in range(cls.n)], dtype=object).astype("S")
        cls.jsonl = os.path.join(WORK, "items.jsonl")
        with open(cls.jsonl, "w") as f:
            for i in range(cls.n):
                f.write(json.dumps({"id": f"img-{i:05d}", "text": f"picture {i}"}) + "\n")

    def fresh(self, name, overlap=1, lease=600, extra=()):
        db = os.path.join(WORK, name)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        hitl("init", db, "--classes", "cat,dog,owl", "--overlap", overlap, "--lease", lease,
             "--actor", "admin", *extra)
        return db

    def queue(self, db, k, b, seed, *extra):
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids",
                 "--method", "margin", "--top-k", k, "--blind", b, "--seed", seed, "--json", *extra)
        return json.loads(p.stdout)

    def test_reproducible_queue_and_blind_share(self):
        a, b, c = (self.fresh(f"repro-{x}.db") for x in "abc")
        self.queue(a, 40, 10, 1)
        self.queue(b, 40, 10, 1)
        self.queue(c, 40, 10, 2)
        q = "SELECT pool_id, reason, position, score FROM items ORDER BY position"
        qa, qb, qc = db_rows(a, q), db_rows(b, q), db_rows(c, q)
        self.assertEqual(qa, qb)  # same inputs and seed: the same queue
        blind_a = {r[0] for r in qa if r[1] == 1}
        blind_c = {r[0] for r in qc if r[1] == 1}
        self.assertEqual(len(blind_a), 10)
        self.assertNotEqual(blind_a, blind_c)  # another seed: other blind rows
        # the uncertain rows are numpy's top 40 by margin (ties to the lower row), in order
        m = margin(self.probs)
        top = np.lexsort((np.arange(self.n), -m))[:40]
        unc = [r for r in qa if r[1] == 0]
        self.assertEqual([r[0] for r in unc], [f"img-{i:05d}" for i in top])
        self.assertEqual(unc, [r for r in qc if r[1] == 0])
        np.testing.assert_allclose([r[3] for r in unc], m[top], atol=2e-6)
        # blind rows come from outside the top and are spread through the batch
        self.assertFalse(blind_a & {r[0] for r in unc})
        pos = [i for i, r in enumerate(qa) if r[1] == 1]
        self.assertLessEqual(max(np.diff([-1] + pos + [50])), 6)
        # the reason, method, seed and batch are recorded on every entry
        meta = db_rows(a, "SELECT DISTINCT method, seed, batch FROM items")
        self.assertEqual(len(meta), 1)
        self.assertEqual(meta[0][:2], ("margin", 1))

    def test_blind_is_uniform(self):
        """Each free row is equally likely to be drawn: over many seeds, a chi-square test."""
        counts = np.zeros(self.n)
        db = self.fresh("uniform.db")
        for seed in range(60):
            if seed:
                db = self.fresh("uniform.db")
            self.queue(db, 0, 100, seed)
            for (pid,) in db_rows(db, "SELECT pool_id FROM items"):
                counts[int(pid[4:])] += 1
        expected = 60 * 100 / self.n
        chi2 = ((counts - expected) ** 2 / expected).sum()
        # 2999 degrees of freedom: mean 2999, sd 77; 5 sd either way
        self.assertLess(abs(chi2 - (self.n - 1)), 5 * np.sqrt(2 * (self.n - 1)))

    def test_no_duplicates_across_batches(self):
        db = self.fresh("dups.db")
        r1 = self.queue(db, 100, 50, 1, "--batch", "one")
        r2 = self.queue(db, 100, 50, 1, "--batch", "two")
        self.assertEqual((r1["added"], r2["added"]), (150, 150))
        self.assertEqual(r2["already_queued"], 150)
        ids = db_rows(db, "SELECT pool_id FROM items")
        self.assertEqual(len(ids), 300)
        self.assertEqual(len(set(ids)), 300)
        # the second batch's uncertain rows are the next 100 by margin
        m = margin(self.probs)
        order = np.lexsort((np.arange(self.n), -m))
        two = db_rows(db, "SELECT pool_id FROM items WHERE batch='two' AND reason=0 "
                          "ORDER BY position")
        first_blind = {int(p[4:]) for (p,) in db_rows(
            db, "SELECT pool_id FROM items WHERE batch='one' AND reason=1")}
        expect = [i for i in order if i not in set(order[:100]) | first_blind][:100]
        self.assertEqual([int(p[4:]) for (p,) in two], expect)

    def test_data_payload_and_where_the_prediction_shows(self):
        # `uncertain`: never on a blind item; `always`: on every item, blind ones too, so that
        # nothing marks a blind item (hitl_prediction_shown)
        for setting in ("uncertain", "always"):
            db = self.fresh(f"data-{setting}.db", extra=("--show-prediction", setting))
            r = self.queue(db, 3, 3, 5, "--data", self.jsonl)
            self.assertEqual(r["data_attached"], 6)
            self.assertEqual(r["data_ignored"], self.n - 6)
            seen = blind_shown = 0
            while True:
                item = json.loads(hitl("next", db, "--annotator", "ann", "--json").stdout)
                if item["item"] is None:
                    break
                self.assertEqual(item["data"]["id"], item["item"])
                self.assertEqual(item["classes"], ["cat", "dog", "owl"])
                self.assertNotIn("reason", item)
                blind = db_rows(db, "SELECT reason FROM items WHERE pool_id=?", item["item"])[0][0]
                if blind and setting == "uncertain":
                    self.assertIsNone(item["prediction"])
                else:
                    self.assertIn(item["prediction"], ["cat", "dog", "owl"])
                    blind_shown += blind
                hitl("label", db, item["item"], "cat", "--annotator", "ann")
                seen += 1
            self.assertEqual(seen, 6)
            self.assertEqual(blind_shown, 3 if setting == "always" else 0)

    def test_overlap_and_lease_rules(self):
        db = self.fresh("overlap.db", overlap=2)
        self.queue(db, 5, 0, 1)
        nxt = lambda who: json.loads(hitl("next", db, "--annotator", who, "--json").stdout)["item"]
        x = nxt("ann")
        self.assertEqual(nxt("bob"), x)  # breadth-first: the started item first
        y = nxt("cyd")
        self.assertNotEqual(y, x)  # x is fully leased (2 of 2)
        self.assertEqual(nxt("ann"), x)  # a held lease comes back
        hitl("label", db, x, "cat", "--annotator", "ann")
        self.assertNotEqual(nxt("ann"), x)  # never an item the annotator labelled
        hitl("label", db, x, "cat", "--annotator", "bob")
        self.assertEqual(db_rows(db, "SELECT state, final_label FROM items WHERE pool_id=?", x),
                         [(2, 0)])  # two agreeing labels: final
        # a second label by the same annotator, and a third label, are refused
        p = hitl("label", db, x, "dog", "--annotator", "ann", ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("already labelled", p.stderr)

    def test_expired_leases_return(self):
        db = self.fresh("expiry.db", lease=1)
        self.queue(db, 1, 0, 1)
        nxt = lambda who: json.loads(hitl("next", db, "--annotator", who, "--json").stdout)["item"]
        x = nxt("ann")
        self.assertIsNone(nxt("bob"))  # the only item is leased
        time.sleep(1.3)
        # bob's own lease must outlast the rest of the test, however slow the machine (ASan)
        hitl("set", db, "lease", 600, "--actor", "admin")
        self.assertEqual(nxt("bob"), x)  # ann's lease expired
        events = [json.loads(l)["event"] for l in hitl("audit", "show", db, "--item", x)
                  .stdout.splitlines()]
        self.assertIn("lease_expired", events)
        p = hitl("label", db, x, "cat", "--annotator", "ann", ok=False)  # ann lost the lease
        self.assertEqual(p.returncode, 3)
        self.assertIn("holds no lease", p.stderr)

    def test_annotate_loop(self):
        """The interactive loop, driven through its prompt: a label by its key, one by name, a
        skip, an undo, a bad key, then quit."""
        db = self.fresh("annotate.db")
        self.queue(db, 4, 0, 1, "--data", self.jsonl)
        order = [p for (p,) in db_rows(db, "SELECT pool_id FROM items ORDER BY position")]
        p = subprocess.run([HITL, "annotate", db, "--annotator", "ann"], input="b\nowl\ns\nu\n"
                           "zebra\ncat\nq\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("picture", p.stdout)  # the payload is shown
        self.assertIn("undid your label on " + order[1], p.stdout)
        self.assertIn("type a key or a class name", p.stdout)  # the bad key
        got = dict(db_rows(db, "SELECT i.pool_id, l.label FROM labels l JOIN items i "
                               "ON i.id = l.item"))
        # b -> dog on the first, owl on the second, a skip of the third; at the fourth, u undoes
        # the owl and the second comes back at once: zebra is refused, cat labels it; q
        self.assertEqual(got, {order[0]: 1, order[1]: 0})
        self.assertEqual(p.stdout.count(f"item {order[1]}\n"), 2)
        skipped = db_rows(db, "SELECT i.pool_id FROM skips s JOIN items i ON i.id = s.item")
        self.assertEqual(skipped, [(order[2],)])
        hitl("audit", "verify", db)

    def test_kcenter_queue(self):
        """--method kcenter queues the picks of k-center greedy over the embeddings (here the
        probability rows themselves), as a float64 numpy reference makes them: the first pick
        farthest from the mean, then each farthest from its nearest earlier pick."""
        db = self.fresh("kcenter.db")
        self.queue(db, 25, 0, 1, "--method", "kcenter", "--embeddings", "probs")
        x = self.probs.astype(np.float64)
        d = ((x - x.mean(0)) ** 2).sum(1)
        picks = []
        nearest = np.full(self.n, np.inf)
        first = int(np.argmax(d))
        picks.append(first)
        nearest = np.minimum(nearest, ((x - x[first]) ** 2).sum(1))
        while len(picks) < 25:
            nearest[picks] = -1
            p = int(np.argmax(nearest))
            picks.append(p)
            nearest = np.minimum(nearest, ((x - x[p]) ** 2).sum(1))
        got = [int(p[4:]) for (p,) in db_rows(db, "SELECT pool_id FROM items ORDER BY position")]
        self.assertEqual(got, picks)
        self.assertEqual(db_rows(db, "SELECT DISTINCT method FROM items"), [("kcenter",)])
        # a second batch starts from the rows already queued
        self.queue(db, 5, 0, 1, "--method", "kcenter", "--embeddings", "probs")
        more = [int(p[4:]) for (p,) in db_rows(db, "SELECT pool_id FROM items ORDER BY position")]
        nearest[picks] = -1
        for _ in range(5):
            p = int(np.argmax(nearest))
            self.assertEqual(more[len(picks)], p)
            picks.append(p)
            nearest = np.minimum(nearest, ((x - x[p]) ** 2).sum(1))
            nearest[picks] = -1

    def test_badge_queue(self):
        """--method badge: k-means++ over gradient embeddings (here embeddings = probabilities):
        the first pick is the row of largest ||p - onehot||^2 (||x||^2 + 1) (numpy, float64),
        the picks are distinct, reproducible for a seed, lean to uncertain rows, and a second
        batch never repeats a queued row."""
        def picks(db):
            return [int(p[4:]) for (p,) in db_rows(db, "SELECT pool_id FROM items ORDER BY position")]
        db = self.fresh("badge.db")
        self.queue(db, 20, 0, 7, "--method", "badge", "--embeddings", "probs")
        got = picks(db)
        self.assertEqual(len(set(got)), 20)
        x = self.probs.astype(np.float64)
        a = x.copy()
        a[np.arange(self.n), x.argmax(1)] -= 1
        g2 = (a ** 2).sum(1) * ((x ** 2).sum(1) + 1)
        self.assertEqual(got[0], int(np.argmax(g2)))
        self.assertEqual(db_rows(db, "SELECT DISTINCT method FROM items"), [("badge",)])
        self.assertGreater(np.mean(margin(self.probs[got])), np.mean(margin(self.probs)))
        again = self.fresh("badge2.db")
        self.queue(again, 20, 0, 7, "--method", "badge", "--embeddings", "probs")
        self.assertEqual(picks(again), got)
        self.queue(db, 30, 0, 7, "--method", "badge", "--embeddings", "probs")
        more = picks(db)
        self.assertEqual(more[:20], got)
        self.assertEqual(len(set(more)), 50)

    def test_routing_counts(self):
        db = self.fresh("route.db", overlap=3)
        r = self.queue(db, 500, 0, 1, "--route", "high=0.9,medium=0.6")
        m = margin(self.probs)
        top = np.lexsort((np.arange(self.n), -m))[:500]
        s = m[top]
        # float32 scores against the thresholds, like hitl
        s32 = s.astype(np.float32)
        self.assertEqual(r["review"], int((s32 > np.float32(0.9)).sum()))
        self.assertEqual(r["flag"], int(((s32 > np.float32(0.6)) & (s32 <= np.float32(0.9))).sum()))
        self.assertEqual(r["proceed"], int((s32 <= np.float32(0.6)).sum()))
        self.assertEqual(r["added"], r["review"] + r["flag"])
        req = dict(db_rows(db, "SELECT route, max(required) FROM items GROUP BY route"))
        self.assertEqual(req, {"review": 3, "flag": 1})

    def test_class_names_in_another_case(self):
        """hitl label and adjudicate take a class typed in another case when only one class
        matches it, recorded as the project spells it; between "cat" and "CAT", "Cat" is
        refused (exit 3)."""
        db = self.fresh("case.db", overlap=2)
        self.queue(db, 2, 0, 1)
        x = json.loads(hitl("next", db, "--annotator", "ann", "--json").stdout)["item"]
        hitl("label", db, x, "CAT", "--annotator", "ann")
        hitl("next", db, "--annotator", "bob", "--json")
        hitl("label", db, x, "Dog", "--annotator", "bob")
        self.assertEqual(sorted(db_rows(db, "SELECT annotator, label FROM labels")),
                         [("ann", 0), ("bob", 1)])
        p = hitl("adjudicate", db, x, "oWl", "--actor", "qa", "--justification", "x" * 30,
                 "--json")
        self.assertEqual(json.loads(p.stdout)["label"], "owl")
        self.assertEqual(db_rows(db, "SELECT final_label FROM items WHERE pool_id = ?", x),
                         [(2,)])
        hitl("audit", "verify", db)
        two = os.path.join(WORK, "case2.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(two + suffix):
                os.remove(two + suffix)
        hitl("init", two, "--classes", "cat,CAT", "--actor", "admin")
        with h5py.File(os.path.join(WORK, "case2.h5"), "w") as f:
            f["probs"] = self.probs[:10, :2] / self.probs[:10, :2].sum(1, keepdims=True)
        hitl("queue", two, "--from", os.path.join(WORK, "case2.h5"), "--probs", "probs",
             "--method", "margin", "--top-k", 1, "--blind", 0, "--seed", 1)
        y = json.loads(hitl("next", two, "--annotator", "ann", "--json").stdout)["item"]
        p = hitl("label", two, y, "Cat", "--annotator", "ann", ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("unknown label", p.stderr)
        hitl("label", two, y, "CAT", "--annotator", "ann")

    def test_routing_every_row_recorded(self):
        """--route without --top-k routes every free row: the proceed count is every row at or
        below medium that the blind sample did not take (it once said 0), and --out records
        every row's route, so the auto-accepted predictions can be used."""
        db = self.fresh("route-all.db", overlap=2)
        out = os.path.join(WORK, "routes.csv")
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids", "--method",
                 "margin", "--route", "high=0.9,medium=0.6", "--blind", 30, "--seed", 4,
                 "--out", out, "--json")
        r = json.loads(p.stdout)
        s32 = margin(self.probs).astype(np.float32)
        review = int((s32 > np.float32(0.9)).sum())
        flag = int(((s32 > np.float32(0.6)) & (s32 <= np.float32(0.9))).sum())
        below = int((s32 <= np.float32(0.6)).sum())
        self.assertEqual((r["review"], r["flag"], r["blind"]), (review, flag, 30))
        self.assertEqual(r["proceed"], below - 30)  # the blind rows come from below medium
        self.assertGreater(r["proceed"], 1000)
        self.assertEqual(r["added"], review + flag + 30)
        with open(out, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), self.n)  # every free row, once
        self.assertEqual(sorted(int(x["row"]) for x in rows), list(range(self.n)))
        counts = collections.Counter(x["route"] for x in rows)
        self.assertEqual(counts, {"review": review, "flag": flag, "blind": 30,
                                  "proceed": r["proceed"]})
        classes = ["cat", "dog", "owl"]
        for x in rows:
            i = int(x["row"])
            self.assertEqual(x["id"], f"img-{i:05d}")
            self.assertEqual(x["pred"], classes[int(np.argmax(self.probs[i]))])
            self.assertAlmostEqual(float(x["p1"]), float(self.probs[i].max()), places=6)
        queued = {p_ for (p_,) in db_rows(db, "SELECT pool_id FROM items")}
        self.assertEqual(queued, {x["id"] for x in rows if x["route"] != "proceed"})
        # the file is never an input
        p = hitl("queue", db, "--from", self.pool, "--probs", "probs", "--method", "margin",
                 "--top-k", 1, "--blind", 0, "--seed", 1, "--out", self.pool, ok=False)
        self.assertEqual(p.returncode, 2)

    def test_bad_inputs_write_nothing(self):
        db = self.fresh("bad.db", overlap=2)
        self.queue(db, 3, 0, 1)
        x = json.loads(hitl("next", db, "--annotator", "ann", "--json").stdout)["item"]
        hitl("next", db, "--annotator", "bob", "--json")
        before = snapshot(db)
        cases = [
            (("label", db, "no-such-item", "cat", "--annotator", "ann"), 3, "unknown item"),
            (("label", db, x, "zebra", "--annotator", "ann"), 3, "unknown label 'zebra'"),
            (("label", db, x, "cat", "--annotator", "cyd"), 3, "holds no lease"),
            (("adjudicate", db, x, "cat", "--actor", "qa", "--justification", "too short"), 3,
             "at least 20 characters"),
            (("adjudicate", db, x, "cat", "--actor", "qa", "--justification", "x" * 30), 3,
             "no disagreement"),
            (("skip", db, "no-such-item", "--annotator", "ann"), 3, "unknown item"),
            (("label", db, x, "cat"), 2, "--annotator"),
            (("audit", "show", db, "--item", "no-such-item"), 3, "unknown item"),
            # 1e-50 is 0 as a float32, which once meant the default temperature, 1
            (("queue", db, "--from", "pool.h5", "--logits", "logits", "--method", "margin",
              "--top-k", "1", "--blind", "0", "--seed", "1", "--temperature", "1e-50"), 2,
             "bad --temperature '1e-50'"),
        ]
        for args, code, msg in cases:
            p = hitl(*args, ok=False)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(msg, p.stderr, args)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertEqual(snapshot(db), before, args)
        hitl("label", db, x, "cat", "--annotator", "ann")
        after = snapshot(db)
        p = hitl("label", db, x, "dog", "--annotator", "ann", ok=False)  # double label
        self.assertEqual(p.returncode, 3)
        self.assertEqual(snapshot(db), after)

    def test_unknown_corrupt_and_future_databases(self):
        p = hitl("status", os.path.join(WORK, "missing.db"), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.db", p.stderr)
        junk = os.path.join(WORK, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database at all, just some bytes" * 100)
        p = hitl("status", junk, ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("junk.db", p.stderr)
        db = self.fresh("corrupt.db")
        self.queue(db, 50, 0, 1)
        hitl("status", db)  # checkpoints nothing by itself; make the main file hold the data
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(db, "r+b") as f:  # scribble over the middle pages
            f.seek(4096)
            f.write(os.urandom(8192))
        p = hitl("status", db, ok=False)
        self.assertIn(p.returncode, (1, 3))
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        future = self.fresh("future.db")
        subprocess.run(["sqlite3", future, "PRAGMA user_version=7"], check=True)
        p = hitl("status", future, ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("newer hitl (schema 7", p.stderr)
        p = hitl("init", future, "--classes", "a,b", ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("already exists", p.stderr)

    def labelled_store(self, name):
        db = self.fresh(name, overlap=2)
        self.queue(db, 4, 0, 1)
        for who in ("ann", "bob"):
            for _ in range(4):
                x = json.loads(hitl("next", db, "--annotator", who, "--json").stdout)["item"]
                hitl("label", db, x, "cat" if who == "ann" else "dog", "--annotator", who)
        return db

    def test_adjudicate_list_shows_what_needs_deciding(self):
        db = self.labelled_store("adjlist.db")  # four items: ann said cat, bob dog
        listed = json.loads(hitl("adjudicate", db, "--list", "--json").stdout)["items"]
        waiting = [r[0] for r in db_rows(
            db, "SELECT pool_id FROM items WHERE state = 1 ORDER BY position")]
        self.assertEqual([x["item"] for x in listed], waiting)
        self.assertEqual(len(waiting), 4)
        for x in listed:
            self.assertEqual(x["state"], "awaiting_adjudication")
            self.assertIsNone(x["final"])
            self.assertEqual([(l["annotator"], l["label"]) for l in x["labels"]],
                             [("ann", "cat"), ("bob", "dog")])
            pred = db_rows(db, "SELECT c.name FROM items i JOIN classes c ON c.idx = i.pred"
                               " WHERE pool_id = ?", x["item"])[0][0]
            self.assertEqual(x["prediction"], pred)
        hitl("adjudicate", db, waiting[0], "cat", "--actor", "qa",
             "--justification", "whiskers and a cat's ears")
        text = hitl("adjudicate", db, "--list").stdout
        self.assertNotIn(waiting[0] + " ", text)
        self.assertIn("3 items awaiting adjudication", text)
        self.assertEqual(hitl("adjudicate", db, "--list", "x", ok=False).returncode, 2)

    def test_annotate_keys_names_undo_and_payload(self):
        # digit class names: keys are letters, so typing "3" means the class "3", never the
        # third menu entry; "B" is the key b (class "7"); "owl" matches "Owl" in any case
        db = os.path.join(WORK, "annotate-digits.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        hitl("init", db, "--classes", "3,7,Owl", "--actor", "admin")
        data = os.path.join(WORK, "annotate-items.jsonl")
        with open(data, "w") as f:
            for i in range(self.n):
                f.write(json.dumps({"id": f"img-{i:05d}", "text": "first line\nsecond line "
                                    + "word " * 30, "meta": {"k": i}}) + "\n")
        hitl("queue", db, "--from", self.pool, "--probs", "probs", "--ids", "ids", "--top-k", 4,
             "--blind", 0, "--seed", 1, "--data", data)
        order = [r[0] for r in db_rows(db, "SELECT pool_id FROM items ORDER BY position")]
        # 1st: "3"; 2nd: key B; then undo (the 2nd comes back) and "owl"; 3rd: skip; quit
        p = subprocess.run([HITL, "annotate", db, "--annotator", "ann", "--show", "text",
                            "--width", "40"], input="3\nB\nu\nowl\n/skip\nq\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        labels = dict(db_rows(db, "SELECT i.pool_id, c.name FROM labels l JOIN items i"
                                  " ON i.id = l.item JOIN classes c ON c.idx = l.label"))
        self.assertEqual(labels, {order[0]: "3", order[1]: "Owl"})
        skipped = [r[0] for r in db_rows(db, "SELECT i.pool_id FROM skips s JOIN items i"
                                             " ON i.id = s.item")]
        self.assertEqual(skipped, [order[2]])
        out = p.stdout
        self.assertIn("[a] 3  [b] 7  [c] Owl", out)
        self.assertNotIn("[s]", out)
        self.assertIn("it comes back now", out)
        self.assertEqual(out.count(f"item {order[1]}"), 2)  # shown again after the undo
        self.assertIn("[0 labelled by you, 4 left for you]", out)
        self.assertIn("[2 labelled by you, 2 left for you]", out)
        self.assertNotIn("meta", out)  # --show text
        self.assertNotIn("\\n", out)  # newlines kept, not escaped
        for line in out.splitlines():
            self.assertLessEqual(len(line), 80, line)  # wrapped (the menu line aside)
        self.assertIn("  text: first line\n", out)

    def test_audit_catches_tampering(self):
        db = self.labelled_store("tamper.db")
        self.assertEqual(json.loads(hitl("audit", "verify", db, "--json").stdout)["ok"], True)
        n = db_rows(db, "SELECT count(*) FROM audit")[0][0]
        lab = db_rows(db, "SELECT min(seq) FROM audit WHERE event = 'label'")[0][0]
        tamper = {
            "update": "UPDATE audit SET payload = replace(payload, '\"cat\"', '\"dog\"') "
                      f"WHERE seq = {lab}",
            "delete": "DELETE FROM audit WHERE seq = 6",
            "delete-last": f"DELETE FROM audit WHERE seq = {n}",
            "insert": f"INSERT INTO audit VALUES({n + 1}, '2026-01-01T00:00:00.000Z', 'eve', "
                      f"'human', 'label', 'x', '{{}}', 'ab', 'cd')",
            "reorder": "UPDATE audit SET seq = -1 WHERE seq = 7; UPDATE audit SET seq = 7 "
                       "WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = -1",
            "actor": "UPDATE audit SET actor = 'mallory' WHERE seq = 9",
        }
        want = {"update": lab, "delete": 6, "delete-last": n, "insert": n + 1, "reorder": 7,
                "actor": 9}
        for kind, sql in tamper.items():
            copy = os.path.join(WORK, f"tamper-{kind}.db")
            shutil.copy(db, copy)
            subprocess.run(["sqlite3", copy, sql], check=True)
            p = hitl("audit", "verify", copy, ok=False)
            self.assertEqual(p.returncode, 3, kind)
            self.assertIn(f"broken at event {want[kind]}", p.stderr, kind)

    def test_every_change_is_audited(self):
        db = self.labelled_store("events.db")
        x = db_rows(db, "SELECT pool_id FROM items WHERE state = 1 LIMIT 1")[0][0]
        hitl("adjudicate", db, x, "owl", "--actor", "qa", "--justification", "neither: an owl " * 3)
        hitl("adjudicate", db, x, "cat", "--actor", "qa2", "--justification", "looking again " * 3)
        hitl("set", db, "lease", "30", "--actor", "admin")
        events = [json.loads(l) for l in hitl("audit", "export", db, "--jsonl").stdout.splitlines()]
        kinds = [e["event"] for e in events]
        for k in ("init", "queue", "lease", "label", "disagreement", "adjudicate", "override",
                  "settings"):
            self.assertIn(k, kinds)
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)))
        labels = db_rows(db, "SELECT count(*) FROM labels")[0][0]
        self.assertEqual(kinds.count("label"), labels)
        ov = [e for e in events if e["event"] == "override"][0]
        self.assertEqual((ov["payload"]["before"], ov["payload"]["after"]), ("owl", "cat"))
        status = json.loads(hitl("status", db, "--json").stdout)
        rates = {a["name"]: a for a in status["actors"]}
        self.assertEqual(rates["qa2"]["override_rate"], 1.0)
        # the alert is hitl health's verdict: 1 override of 1 decision is too little to judge
        health = json.loads(hitl("health", db, "--json").stdout)
        at_risk = {r["subject"] for r in health["reasons"] if r["rule"] == "override_rate"}
        self.assertEqual({n for n, a in rates.items() if a["alert"]}, at_risk)
        self.assertFalse(rates["qa2"]["alert"])
        self.assertEqual(rates["qa"]["overrides"], 0)
        self.assertEqual(status["items_complete"], 1)

    def run_workers(self, db, n, logs, extra=()):
        procs = []
        for i in range(n):
            procs.append(subprocess.Popen([WORKER, db, f"annotator-{i}", str(100 + i), logs[i],
                                           *extra], stderr=subprocess.PIPE, text=True))
        return procs

    def check_complete(self, db, items, r):
        rows = db_rows(db, "SELECT item, count(*), count(DISTINCT annotator) FROM labels "
                           "GROUP BY item")
        self.assertEqual(len(rows), items)
        self.assertTrue(all(c == r and d == r for _, c, d in rows))
        self.assertEqual(db_rows(db, "SELECT count(*) FROM labels")[0][0], items * r)
        self.assertEqual(db_rows(db, "SELECT count(*) FROM leases")[0][0], 0)
        self.assertEqual(db_rows(db, "PRAGMA integrity_check")[0][0], "ok")
        hitl("audit", "verify", db)

    def test_eight_annotators_at_once(self):
        db = self.fresh("concurrent.db", overlap=2)
        self.queue(db, 2000, 0, 1)
        logs = [os.path.join(WORK, f"conc-{i}.log") for i in range(8)]
        for l in logs:
            open(l, "w").close()
        procs = self.run_workers(db, 8, logs)
        for p in procs:
            _, err = p.communicate(timeout=600)
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(err, "")  # no busy error, nothing at all on stderr
        self.check_complete(db, 2000, 2)
        logged = 0
        for name in logs:
            with open(name) as f:
                logged += len(f.read().splitlines())
        self.assertEqual(logged, 4000)  # no label lost

    def test_kill9_mid_run(self):
        db = self.fresh("kill.db", overlap=2, lease=2)
        self.queue(db, 2000, 0, 1)
        logs = [os.path.join(WORK, f"kill-{i}.log") for i in range(8)]
        for l in logs:
            open(l, "w").close()
        rnd = random.Random(9)
        procs = self.run_workers(db, 8, logs)
        kills = 0
        deadline = time.time() + 300
        while time.time() < deadline:
            time.sleep(rnd.uniform(0.01, 0.06))
            alive = [i for i, p in enumerate(procs) if p.poll() is None]
            if not alive:
                break
            if kills < 40:
                i = rnd.choice(alive)
                procs[i].send_signal(signal.SIGKILL)
                procs[i].communicate()
                kills += 1
                # the killed annotator comes back under the same name
                procs[i] = subprocess.Popen([WORKER, db, f"annotator-{i}", str(200 + kills),
                                             logs[i]], stderr=subprocess.PIPE, text=True)
        for p in procs:
            p.communicate(timeout=300)
        self.assertGreaterEqual(kills, 10)
        # leases held by killed processes expire (2 s); a last worker finishes the queue
        time.sleep(2.2)
        final = subprocess.run([WORKER, db, "finisher", "1"], capture_output=True, text=True)
        self.assertEqual(final.returncode, 0, final.stderr)
        final = subprocess.run([WORKER, db, "finisher-2", "2"], capture_output=True, text=True)
        self.assertEqual(final.returncode, 0, final.stderr)
        rows = db_rows(db, "SELECT count(*), count(DISTINCT item || '/' || annotator) FROM labels")
        self.assertEqual(rows[0][0], rows[0][1])  # no label twice
        # every label a worker saw committed is in the store
        stored = set(db_rows(db, "SELECT i.pool_id, l.annotator FROM labels l JOIN items i "
                                 "ON i.id = l.item"))
        for i, name in enumerate(logs):
            with open(name) as f:
                for line in f.read().splitlines():
                    fields = line.split("\t")
                    if len(fields) < 3:  # half a record: its writer was killed mid-write
                        continue
                    self.assertIn((fields[0], f"annotator-{i}"), stored)
        per_item = db_rows(db, "SELECT count(*) FROM labels GROUP BY item")
        self.assertEqual(len(per_item), 2000)
        self.assertTrue(all(c == 2 for (c,) in per_item))
        self.assertEqual(db_rows(db, "PRAGMA integrity_check")[0][0], "ok")
        hitl("audit", "verify", db)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORKER, WORK = a.hitl, a.worker, a.work
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

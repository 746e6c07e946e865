#!/usr/bin/env python3
"""The quality commands on a store built through the hitl CLI (planted labels by four annotators,
one of them a rubber stamper, adjudications and overrides; the model is mostly wrong on the items
it was unsure of, as uncertainty sampling makes it), each checked by an independent path:
agreement and aggregate against the file forms on the labels exported with Python's sqlite3,
calibrate against numpy on the stored predictions and on the pool rows read with h5py, health
against counts, percentiles and Krippendorff's alpha computed here from the database, and the
audit tampered with the sqlite3 shell."""
import argparse
import collections
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

import h5py
import numpy as np

HITL = WORK = None
CLASSES = ["cat", "dog", "owl"]


def hitl(*args, ok=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def hjson(*args):
    return json.loads(hitl(*args).stdout)


def rows(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def alpha_nominal(units):
    """Krippendorff's alpha, nominal, from the coincidence matrix (Krippendorff 2011,
    'Computing Krippendorff's Alpha-Reliability', sec. C): units are lists of labels."""
    o = np.zeros((len(CLASSES), len(CLASSES)))
    for vals in units:
        m = len(vals)
        if m < 2:
            continue
        for i in range(m):
            for j in range(m):
                if i != j:
                    o[vals[i], vals[j]] += 1.0 / (m - 1)
    nc = o.sum(axis=1)
    n = nc.sum()
    do = (o.sum() - np.trace(o)) / n
    de = (n * n - (nc * nc).sum()) / (n * (n - 1))
    return 1 - do / de


def wilson(k, n, z=1.959963984540054):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def calib_reference(probs, y, B=15):
    """Top-label metrics as docs/README define them, in numpy."""
    n, C = probs.shape
    conf = probs.max(axis=1).astype(np.float64)
    pred = probs.argmax(axis=1)
    corr = (pred == y).astype(np.float64)
    inner = np.arange(1, B) / B
    b = np.searchsorted(inner, conf, side="left")  # b/B < conf <= (b+1)/B
    ece, mce, bins = 0.0, 0.0, []
    for k in range(B):
        s = b == k
        if s.any():
            gap = abs(corr[s].mean() - conf[s].mean())
            ece += s.sum() / n * gap
            mce = max(mce, gap)
        bins.append((int(s.sum()), conf[s].mean() if s.any() else None,
                     corr[s].mean() if s.any() else None))
    order = np.lexsort((np.arange(n), conf))
    em = 0.0
    for k in range(B):
        s = order[k * n // B:(k + 1) * n // B]
        if len(s):
            em += abs(corr[s].sum() - conf[s].sum())
    onehot = np.eye(C)[y]
    p64 = probs.astype(np.float64)
    return {
        "n": n, "accuracy": corr.mean(), "accuracy_ci": wilson(corr.sum(), n), "ece": ece,
        "ece_equal_mass": em / n, "mce": mce, "bins": bins,
        "confusion": [[int(((y == i) & (pred == j)).sum()) for j in range(C)] for i in range(C)],
        "brier_multiclass": ((p64 - onehot) ** 2).sum(axis=1).mean(),
        "brier_top_label": ((conf - corr) ** 2).mean(),
        "nll": -np.log(np.maximum(p64[np.arange(n), y], 1e-15)).mean(),
    }


def plant(db, pool, rng, skill, rubber=0, top_k=60, blind=30):
    """A store queued from `pool` (margin, top_k uncertain and blind random items, two labels
    each, predictions shown on the uncertain ones) and labelled through the CLI: first `rubber`
    labels by 'rub', who gives whatever the model says where it is shown, then the annotators
    of `skill` (the share of their labels that are the truth) in turn; ties adjudicated to the
    truth by 'qa'. The truth is the model's class on 80% of the blind items but only 25% of
    those queued because it was unsure, where accurate annotators then rarely agree with it."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    hitl("init", db, "--classes", ",".join(CLASSES), "--overlap", 2, "--show-prediction",
         "uncertain", "--min-justification", 5, "--actor", "admin")
    hitl("queue", db, "--from", pool, "--probs", "probs", "--ids", "ids", "--method", "margin",
         "--top-k", top_k, "--blind", blind, "--seed", 1, "--actor", "admin")
    items = rows(db, "SELECT pool_id, pred, reason FROM items")
    truth = {pid: (pred if rng.random() < (0.8 if reason == 1 else 0.25)
                   else (pred + rng.integers(1, 3)) % 3) for pid, pred, reason in items}

    def choose(who, pid, shown):
        if who == "rub":  # agrees with whatever the model says, else labels honestly
            return CLASSES.index(shown) if shown else truth[pid]
        if rng.random() < skill[who]:
            return truth[pid]
        return (truth[pid] + rng.integers(1, 3)) % 3

    def work(who, limit):
        done = 0
        while done < limit:
            j = hjson("next", db, "--annotator", who, "--json")
            if j["item"] is None:
                return False
            hitl("label", db, j["item"], CLASSES[choose(who, j["item"], j["prediction"])],
                 "--annotator", who)
            done += 1
        return True

    if rubber:
        work("rub", rubber)
    active = list(skill)
    while active:
        active = [w for w in active if work(w, 1)]
    for (pid,) in rows(db, "SELECT pool_id FROM items WHERE state = 1"):
        hitl("adjudicate", db, pid, CLASSES[truth[pid]], "--actor", "qa", "--justification",
             "checked the picture")
    return truth


def markdown(nb_path):
    with open(nb_path) as f:
        nb = json.load(f)
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


class StoreQuality(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        rng = np.random.default_rng(11)
        n = 600
        cls.probs = rng.dirichlet(np.full(3, 0.6), size=n).astype(np.float32)
        cls.pool = os.path.join(WORK, "pool.h5")
        with h5py.File(cls.pool, "w") as f:
            f["probs"] = cls.probs
            f["ids"] = np.array([f"img-{i:04d}" for i in range(n)], dtype=object).astype("S")
        cls.db = os.path.join(WORK, "quality.db")
        plant(cls.db, cls.pool, rng, {"ann": 0.92, "bob": 0.88, "cy": 0.85}, rubber=45)
        cls.overridden = [pid for pid, in rows(
            cls.db, "SELECT pool_id FROM items WHERE state = 2 AND reason = 1 ORDER BY id LIMIT 5")]
        for pid in cls.overridden:
            (final,), = rows(cls.db, "SELECT final_label FROM items WHERE pool_id = ?", pid)
            hitl("adjudicate", cls.db, pid, CLASSES[(final + 1) % 3], "--actor", "boss",
                 "--justification", "second look")

    def export_csv(self, db, path):
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["item", "annotator", "label"])
            for r in rows(db, "SELECT i.pool_id, l.annotator, c.name FROM labels l"
                              " JOIN items i ON i.id = l.item JOIN classes c ON c.idx = l.label"
                              " ORDER BY i.id, l.annotator"):
                w.writerow(r)

    def test_planted_store(self):
        """The store is what the test meant to build: a full round, every item final."""
        self.assertEqual(rows(self.db, "SELECT COUNT(*) FROM items")[0][0], 90)
        self.assertEqual(rows(self.db, "SELECT COUNT(*) FROM labels")[0][0], 180)
        self.assertEqual(rows(self.db, "SELECT COUNT(*) FROM items WHERE state != 2")[0][0], 0)
        self.assertGreater(rows(self.db, "SELECT COUNT(*) FROM decisions WHERE kind = "
                                         "'adjudicate'")[0][0], 5)

    def test_agreement_db_equals_file(self):
        csvp = os.path.join(WORK, "ratings.csv")
        self.export_csv(self.db, csvp)
        for level, weights in (("nominal", "none"), ("ordinal", "quadratic")):
            a = hjson("agreement", self.db, "--level", level, "--weights", weights, "--seed", 5,
                      "--bootstrap", 200, "--json")
            b = hjson("agreement", "--ratings", csvp, "--labels", ",".join(CLASSES), "--level",
                      level, "--weights", weights, "--seed", 5, "--bootstrap", 200, "--json")
            self.assertEqual(a["store"], self.db)
            for k in ("n_items", "n_annotators", "n_ratings", "labels"):
                self.assertEqual(a[k], b[k], k)
            for k in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1",
                      "scott_pi"):
                self.assertAlmostEqual(a[k], b[k], places=8, msg=k)
                lo, hi = a["ci"][k]
                self.assertAlmostEqual(lo, b["ci"][k][0], places=8)
                self.assertAlmostEqual(hi, b["ci"][k][1], places=8)
            pa = {tuple(sorted((p["a"], p["b"]))): p for p in a["pairs"]}
            pb = {tuple(sorted((p["a"], p["b"]))): p for p in b["pairs"]}
            self.assertEqual(pa.keys(), pb.keys())
            for k in pa:
                self.assertEqual(pa[k]["n"], pb[k]["n"])
                self.assertAlmostEqual(pa[k]["cohen_kappa"], pb[k]["cohen_kappa"], places=8)
            for lab in CLASSES:
                self.assertAlmostEqual(a["per_label"][lab], b["per_label"][lab], places=8)
        # the store form also compares everyone with the final labels: count them here
        a = hjson("agreement", self.db, "--bootstrap", 0, "--json")
        fin = dict(rows(self.db, "SELECT pool_id, final_label FROM items"))
        for v in a["vs_final"]:
            got = rows(self.db, "SELECT i.pool_id, l.label FROM labels l JOIN items i"
                                " ON i.id = l.item WHERE l.annotator = ?", v["annotator"])
            self.assertEqual(v["n"], len(got))
            self.assertAlmostEqual(v["agreement"],
                                   np.mean([lab == fin[p] for p, lab in got]), places=8)
        # alpha from the coincidence matrix, computed here
        units = {}
        for item, lab in rows(self.db, "SELECT item, label FROM labels"):
            units.setdefault(item, []).append(lab)
        self.assertAlmostEqual(a["krippendorff_alpha"], alpha_nominal(units.values()), places=8)

    def test_aggregate_db_equals_file(self):
        csvp = os.path.join(WORK, "ratings-agg.csv")
        self.export_csv(self.db, csvp)
        a = hjson("aggregate", self.db, "--method", "majority", "--json")
        b = hjson("aggregate", "--ratings", csvp, "--labels", ",".join(CLASSES), "--method",
                  "majority", "--json")
        decided = [i.pop("decided") for i in a["items"]]  # only a store knows its decisions
        self.assertEqual(a["items"], b["items"])
        self.assertEqual(a["n_ties"], b["n_ties"])
        # every label with its count (a tie's competing labels), and the items a person
        # decided marked with the store's final label (issue 13, point 5)
        labels = {}
        for pid, lab in rows(self.db, "SELECT i.pool_id, c.name FROM labels l JOIN items i"
                                      " ON i.id = l.item JOIN classes c ON c.idx = l.label"):
            labels.setdefault(pid, collections.Counter())[lab] += 1
        finals = {pid: (CLASSES[f], k, by) for pid, f, k, by in rows(
            self.db, "SELECT pool_id, final_label, final_kind, final_by FROM items"
                     " WHERE final_kind IN ('adjudicated', 'override')")}
        self.assertTrue(finals)
        for it, d in zip(a["items"], decided):
            self.assertEqual(it["counts"], dict(labels[it["item"]]))
            if it["status"] == "tie":
                self.assertEqual(sorted(it["counts"].values()), [1, 1])
            want = finals.get(it["item"])
            self.assertEqual(d, None if want is None else
                             {"label": want[0], "kind": want[1], "by": want[2]})
        self.assertTrue(any(d and it["status"] == "tie" for it, d in zip(a["items"], decided)))
        self.assertTrue(any(d and d["kind"] == "override" for d in decided))
        # a tie here is exactly an item whose two labels differ
        n_diff = rows(self.db, "SELECT COUNT(*) FROM (SELECT item FROM labels GROUP BY item"
                               " HAVING MIN(label) != MAX(label))")[0][0]
        self.assertEqual(a["n_ties"], n_diff)
        a = hjson("aggregate", self.db, "--method", "dawid-skene", "--json")
        b = hjson("aggregate", "--ratings", csvp, "--labels", ",".join(CLASSES), "--method",
                  "dawid-skene", "--json")
        self.assertEqual([i["label"] for i in a["items"]], [i["label"] for i in b["items"]])

    def blind(self):
        return rows(self.db, "SELECT pool_row, pred, p1, final_label FROM items"
                             " WHERE reason = 1 AND state = 2 ORDER BY id")

    def check_calib(self, got, ref, full):
        self.assertEqual(got["n"], ref["n"])
        for k in ("accuracy", "ece", "ece_equal_mass", "mce", "brier_top_label"):
            self.assertAlmostEqual(got[k], ref[k], places=6, msg=k)
        self.assertAlmostEqual(got["accuracy_ci"][0], ref["accuracy_ci"][0], places=8)
        self.assertAlmostEqual(got["accuracy_ci"][1], ref["accuracy_ci"][1], places=8)
        self.assertEqual(got["confusion"], ref["confusion"])
        self.assertEqual([b["count"] for b in got["bins"]], [b[0] for b in ref["bins"]])
        for g, r in zip(got["bins"], ref["bins"]):
            if r[0]:
                self.assertAlmostEqual(g["confidence"], r[1], places=6)
                self.assertAlmostEqual(g["accuracy"], r[2], places=8)
        if full:
            self.assertAlmostEqual(got["brier_multiclass"], ref["brier_multiclass"], places=6)
            self.assertAlmostEqual(got["nll"], ref["nll"], places=6)

    def test_calibrate_from_stored_predictions(self):
        b = self.blind()
        self.assertEqual(len(b), 30)
        y = np.array([r[3] for r in b])
        pred = np.array([r[1] for r in b])
        p1 = np.array([r[2] for r in b], dtype=np.float32)
        # a one-hot-like matrix with the stored top probability reproduces the top-label metrics
        probs = np.zeros((len(b), 3), dtype=np.float64)
        probs[np.arange(len(b)), pred] = p1
        got = hjson("calibrate", self.db, "--bins", 10, "--json")
        ref = calib_reference(probs, y, B=10)
        self.check_calib(got, ref, full=False)
        self.assertIsNone(got["brier_multiclass"])
        self.assertIsNone(got["nll"])
        self.assertIn("--probs", got["brier_multiclass_reason"])
        self.assertIsNone(got["temperature"])
        got = hjson("calibrate", self.db, "--fit-temperature", "--json")
        self.assertIsNone(got["temperature"])
        self.assertIn("--probs", got["temperature_reason"])
        # the overrides count: boss's labels are the final ones
        self.assertEqual(sum(map(sum, got["confusion"])), 30)

    def test_calibrate_from_pool_rows(self):
        b = self.blind()
        r = np.array([x[0] for x in b])
        y = np.array([x[3] for x in b])
        with h5py.File(self.pool) as f:
            probs = f["probs"][np.sort(r)][np.argsort(np.argsort(r))]
        np.testing.assert_array_equal(probs.argmax(axis=1), [x[1] for x in b])
        np.testing.assert_allclose(probs.max(axis=1), [x[2] for x in b], atol=1e-6)
        got = hjson("calibrate", self.db, "--probs", f"{self.pool}:probs", "--fit-temperature",
                    "--json")
        self.check_calib(got, calib_reference(probs, y), full=True)
        # the fitted temperature is the NLL minimum: no grid point does better
        z = np.log(np.maximum(probs.astype(np.float64), 1e-300))

        def nll(t):
            s = z / t
            s -= s.max(axis=1, keepdims=True)
            lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            return -lp[np.arange(len(y)), y].mean()

        t = got["temperature"]["value"]
        self.assertAlmostEqual(got["temperature"]["nll"], nll(t), places=6)
        grid = np.exp(np.linspace(np.log(0.05), np.log(20), 400))
        self.assertLessEqual(got["temperature"]["nll"], min(nll(g) for g in grid) + 1e-6)

    def expected_health(self, db, min_sample=20):
        """Per annotator [labels, shown, agreed, right, right_approved, wrong, wrong_approved]:
        shown where the prediction was (uncertain items), right or wrong by the final label."""
        show = rows(db, "SELECT value FROM meta WHERE key = 'show-prediction'")
        shown_on = bool(show) and show[0][0] != "never"
        ann = {}
        for who, reason, pred, lab, state, final in rows(
                db, "SELECT l.annotator, i.reason, i.pred, l.label, i.state, i.final_label"
                    " FROM labels l JOIN items i ON i.id = l.item"):
            a = ann.setdefault(who, [0] * 7)
            a[0] += 1
            if shown_on and reason == 0 and pred is not None:
                a[1] += 1
                a[2] += lab == pred
                if state == 2 and final is not None:
                    k = 3 if final == pred else 5
                    a[k] += 1
                    a[k + 1] += lab == pred
        act = {}
        for who, over in rows(db, "SELECT actor, overrode FROM decisions"):
            a = act.setdefault(who, [0, 0])
            a[0] += 1
            a[1] += over
        audited = sum(1 for _ in rows(db, "SELECT 1 FROM labels l JOIN items i ON i.id = l.item"
                                          " WHERE EXISTS (SELECT 1 FROM audit a WHERE a.item ="
                                          " i.pool_id AND a.event = 'label' AND a.actor ="
                                          " l.annotator)"))
        reasons = []
        for who, (n, s, g, r, ra, w, wa) in sorted(ann.items()):
            if shown_on and w >= min_sample and wa / w > 0.95:
                reasons.append(("rubber_stamping", who))
            if shown_on and r >= min_sample and ra / r < 0.5:
                reasons.append(("inefficient", who))
        return ann, act, audited, reasons

    def test_health_numbers_and_rubber_stamper(self):
        h = hjson("health", self.db, "--json")
        ann, act, audited, reasons = self.expected_health(self.db)
        # the verdict first: the planted rubber stamper, and only it; the accurate annotators
        # agree with the shown prediction rarely (the model is mostly wrong on these items), and
        # that is no fault
        got = [(r["rule"], r["subject"]) for r in h["reasons"] if r["severity"] == "degraded"]
        self.assertEqual(got, [("rubber_stamping", "rub")])
        self.assertEqual(got, reasons)
        self.assertEqual(h["show_prediction"], "uncertain")
        keys = ("labels", "shown", "agreed", "right", "right_approved", "wrong", "wrong_approved")
        self.assertEqual({a["name"]: [a[k] for k in keys] for a in h["annotators"]}, ann)
        for a in h["annotators"]:
            self.assertAlmostEqual(a["model_agreement"], a["agreed"] / a["shown"], places=8)
            self.assertAlmostEqual(a["wrong_approval"], a["wrong_approved"] / a["wrong"], places=8)
            if a["right"]:
                self.assertAlmostEqual(a["right_approval"], a["right_approved"] / a["right"],
                                       places=8)
        self.assertEqual({a["name"]: [a["decisions"], a["overrides"]] for a in h["actors"]}, act)
        self.assertEqual(act["boss"], [5, 5])
        lat = np.array([r[0] for r in rows(self.db, "SELECT created - leased_at FROM labels"
                                                    " WHERE leased_at IS NOT NULL")])
        self.assertEqual(h["latency"]["n"], 180)
        self.assertAlmostEqual(h["latency"]["mean"], lat.mean(), places=8)
        self.assertAlmostEqual(h["latency"]["p50"], np.percentile(lat, 50), places=8)
        self.assertAlmostEqual(h["latency"]["p90"], np.percentile(lat, 90), places=8)
        self.assertEqual(h["audit"]["labels"], 180)
        self.assertEqual(h["audit"]["audited"], audited)
        self.assertEqual(audited, 180)
        self.assertTrue(h["audit"]["chain_ok"])
        units = {}
        for item, lab in rows(self.db, "SELECT item, label FROM labels"):
            units.setdefault(item, []).append(lab)
        self.assertAlmostEqual(h["krippendorff_alpha"], alpha_nominal(units.values()), places=8)
        raw = {a["name"]: a for a in h["annotators"]}
        for who in ("ann", "bob"):
            self.assertGreaterEqual(raw[who]["shown"], 20)
            self.assertLess(raw[who]["model_agreement"], 0.5)
            self.assertLess(raw[who]["wrong_approval"], 0.1)
        self.assertGreaterEqual(raw["rub"]["wrong"], 20)
        self.assertGreaterEqual(ann["rub"][5], 20)
        self.assertEqual(h["status"], "degraded")
        self.assertEqual(h["reasons"][0]["value"], 1.0)
        # boss overrode 5 of 5: judged only with a smaller minimum sample
        self.assertNotIn("override_rate", [r["rule"] for r in h["reasons"]])
        h3 = hjson("health", self.db, "--min-sample", 3, "--json")
        over = [r for r in h3["reasons"] if r["rule"] == "override_rate"]
        self.assertEqual([(r["subject"], r["value"], r["severity"]) for r in over],
                         [("boss", 1.0, "at_risk")])
        text = hitl("health", self.db).stdout
        self.assertIn("degraded", text)
        self.assertIn("rubber_stamping (rub)", text)

    def test_report_and_calibrate_agree(self):
        """The report's calibration is hitl calibrate's: the same ECE, MCE, accuracy and
        top-label Brier on the same store for the same bins, by default and with --bins, and the
        notebook names the variant and the bin count."""
        db = self.copy("calib-report.db")
        nb = os.path.join(WORK, "calib-report.ipynb")
        for bins in ((), ("--bins", 10), ("--bins", 4)):
            cal = hjson("calibrate", db, "--json", *bins)
            rep = hjson("report", db, "--notebook", nb, "--json", *bins)
            self.assertEqual(rep["ece"], cal["ece"], bins)
            self.assertEqual(rep["n_bins"], cal["n_bins"], bins)
            self.assertEqual(rep["mce"], cal["mce"], bins)
            self.assertEqual(rep["blind_accuracy"], cal["accuracy"], bins)
            self.assertEqual(rep["blind_accuracy_ci"], cal["accuracy_ci"], bins)
            self.assertEqual(rep["brier_top_label"], cal["brier_top_label"], bins)
            self.assertIn(f"| ECE (top label, {cal['n_bins']} equal-width bins) | "
                          f"{cal['ece']:.4f} |", markdown(nb))
        self.assertEqual(cal["n_bins"], 4)
        self.assertEqual(hjson("calibrate", db, "--json")["n_bins"], 15)

    def test_report_shows_the_health_verdict(self):
        """hitl report judges with hitl health's scorecard: the same status and reasons, the
        rubber stamper named in both; and a store of accurate annotators on uncertain items,
        who rarely agree with the shown prediction, is healthy in both."""
        healthy = os.path.join(WORK, "healthy.db")
        plant(healthy, self.pool, np.random.default_rng(12), {"ann": 0.97, "bob": 0.95},
              top_k=40, blind=10)
        stores = ((healthy, "healthy"), (self.copy("report.db"), "degraded"))
        for db, status in stores:
            h = hjson("health", db, "--json")
            nb = os.path.join(WORK, os.path.basename(db) + ".ipynb")
            r = hjson("report", db, "--notebook", nb, "--json")
            self.assertEqual(h["status"], status, db)
            self.assertEqual(r["health"]["status"], h["status"], db)
            self.assertEqual(r["health"]["reasons"], h["reasons"], db)
            text = markdown(nb)
            self.assertIn(f"## Health: {status}\n", text)
            for x in h["reasons"]:
                who = f" ({x['subject']})" if x["subject"] else ""
                self.assertIn(f"**{x['severity']}** `{x['rule']}`{who}", text)
        # the rubber stamper, named by both
        self.assertIn("rubber_stamping (rub)", hitl("health", stores[1][0]).stdout)
        self.assertIn("`rubber_stamping` (rub)", markdown(os.path.join(WORK, "report.db.ipynb")))
        # the healthy store's annotators agree with the shown prediction rarely, as is right
        h = hjson("health", healthy, "--json")
        for a in h["annotators"]:
            self.assertGreaterEqual(a["shown"], 20)
            self.assertLess(a["model_agreement"], 0.5)
        self.assertEqual(h["reasons"], [])

    def copy(self, name):
        dst = os.path.join(WORK, name)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(dst + suffix):
                os.remove(dst + suffix)
        subprocess.run(["sqlite3", self.db, f".backup '{dst}'"], check=True)
        return dst

    def test_predictions_never_shown(self):
        db = self.copy("never.db")
        hitl("set", db, "show-prediction", "never", "--actor", "admin")
        h = hjson("health", db, "--json")
        self.assertEqual(h["show_prediction"], "never")
        self.assertTrue(all(a["model_agreement"] is None and a["shown"] == 0
                            for a in h["annotators"]))
        self.assertNotIn("rubber_stamping", [r["rule"] for r in h["reasons"]])
        self.assertNotEqual(h["status"], "degraded")

    def test_tampered_audit(self):
        db = self.copy("tampered.db")
        (seq,), = rows(db, "SELECT MIN(seq) FROM audit WHERE event = 'label'")
        subprocess.run(["sqlite3", db, f"UPDATE audit SET actor = 'mallory' WHERE seq = {seq}"],
                       check=True)
        h = hjson("health", db, "--json")
        self.assertEqual(h["status"], "degraded")
        self.assertFalse(h["audit"]["chain_ok"])
        self.assertEqual(h["audit"]["bad_seq"], seq)
        broken = [r for r in h["reasons"] if r["rule"] == "audit_chain_broken"]
        self.assertEqual([(r["value"], r["severity"]) for r in broken], [(seq, "degraded")])
        # that label's event now names someone else: 179 of 180, still above 0.99
        self.assertEqual(h["audit"]["audited"], 179)
        self.assertNotIn("audit_incomplete", [r["rule"] for r in h["reasons"]])
        # two label events deleted: 178 of 180 audited, below 0.99
        db = self.copy("deleted.db")
        subprocess.run(["sqlite3", db, "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit"
                        " WHERE event = 'label' ORDER BY seq DESC LIMIT 2)"], check=True)
        h = hjson("health", db, "--json")
        self.assertEqual(h["audit"]["audited"], 178)
        self.assertAlmostEqual(h["audit"]["completeness"], 178 / 180, places=8)
        rules = {r["rule"]: r["severity"] for r in h["reasons"]}
        self.assertEqual(rules.get("audit_incomplete"), "at_risk")
        self.assertEqual(rules.get("audit_chain_broken"), "degraded")
        self.assertEqual(h["status"], "degraded")

    def test_usage_and_errors(self):
        csvp = os.path.join(WORK, "ratings.csv")
        self.export_csv(self.db, csvp)
        for args in (("agreement", self.db, "--ratings", csvp),
                     ("agreement", self.db, "--labels", "a,b"),
                     ("aggregate", self.db, "--ratings", csvp, "--method", "majority"),
                     ("calibrate", self.db, "--labels", f"{self.pool}:probs"),
                     ("calibrate", self.db, "--probs", "nodset"),
                     ("health",), ("health", self.db, "extra")):
            p = hitl(*args, ok=False)
            self.assertEqual(p.returncode, 2, args)
        p = hitl("health", os.path.join(WORK, "missing.db"), ok=False)
        self.assertEqual(p.returncode, 1)
        # a pool with the wrong number of classes
        bad = os.path.join(WORK, "pool2.h5")
        with h5py.File(bad, "w") as f:
            f["probs"] = np.full((600, 2), 0.5, dtype=np.float32)
            f["short"] = np.full((10, 3), 1 / 3, dtype=np.float32)
        p = hitl("calibrate", self.db, "--probs", f"{bad}:probs", ok=False)
        self.assertEqual(p.returncode, 3)
        p = hitl("calibrate", self.db, "--probs", f"{bad}:short", ok=False)  # rows outside it
        self.assertEqual(p.returncode, 3)
        self.assertIn("outside", p.stderr)
        # interval level needs numeric classes
        p = hitl("agreement", self.db, "--level", "interval", ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("not a number", p.stderr)
        self.assertIn("health DB", hitl("health", "--help").stdout)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    args, rest = ap.parse_known_args()
    HITL, WORK = args.hitl, args.work
    shutil.rmtree(WORK, ignore_errors=True)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)

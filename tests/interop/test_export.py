#!/usr/bin/env python3
"""Exports, the Label Studio round trip and the QA notebook, checked against independent peers:
h5py reads every HDF5 export and each value is recomputed from the store with sqlite3; Python's
csv and json modules parse the CSV and JSONL; Dawid-Skene is re-run in numpy; Label Studio files
are built here in the documented shapes (full JSON, JSON_MIN, CSV quoted and not) and imported;
nbformat validates the notebook, ElementTree parses its charts, statsmodels and NLTK check its
numbers, and jupyter nbconvert runs it end to end."""
import argparse
import collections
import copy
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

import h5py
import numpy as np

HITL = WORK = None
HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.normpath(os.path.join(HERE, "..", "..", "datasets", "digits.h5"))
CLASSES = [str(i) for i in range(10)]
ODD = 'carol, "the" reviewer'  # an annotator whose name needs quoting everywhere


def hitl(*args, ok=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=600)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def q(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def snapshot(db):
    """Every table: what a command that must write nothing has to leave as it was."""
    tables = [t for (t,) in q(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: q(db, f"SELECT * FROM {t} ORDER BY 1") for t in sorted(tables)}


def fresh(name):
    db = os.path.join(WORK, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


def payloads(path):
    with open(path, "w") as f:
        for i in range(1797):
            f.write(json.dumps({"id": f"digit-{i:04d}",
                                "text": f'digit {i}, "drawn"\nby hand, \u00fc'}) + "\n")


# ---- expected records, recomputed from the store ------------------------------------------------

def expected(db, rule):
    """{pool_id: record} for the final labels under `rule`, in queue order, and the tie count."""
    items = q(db, "SELECT id, pool_id, pool_row, reason, score, pred, p1, state, final_label,"
                  " final_kind, method, batch FROM items ORDER BY id")
    votes = collections.defaultdict(list)
    for item, who, label, at in q(db, "SELECT item, annotator, label, created_at FROM labels"):
        votes[item].append((who, label, at))
    decisions = {}
    for item, actor, just, at in q(db, "SELECT item, actor, justification, created_at FROM"
                                       " decisions ORDER BY id"):
        decisions[item] = (actor, just, at)
    out, ties = collections.OrderedDict(), 0
    for (iid, pid, row, reason, score, pred, p1, state, final, kind, method, batch) in items:
        v = votes[iid]
        counts = np.bincount([lab for _, lab, _ in v], minlength=10)
        if state == 2:
            label = final
        elif rule == "majority" and state == 1:
            top = counts.max()
            if (counts == top).sum() != 1:
                ties += 1
                continue
            label, kind = int(counts.argmax()), "majority"
        else:
            continue
        n = len(v)
        # an adjudicated or overridden label is certain: one-hot (issue 13, point 3), as is one
        # without votes; else the vote shares
        decided = state == 2 and kind != "agreed"
        soft = (counts / n).astype(np.float32) if n and not decided \
            else np.eye(10, dtype=np.float32)[label]
        out[pid] = dict(row=row, label=label, kind=kind, soft=soft, n=n,
                        agreement=counts[label] / n if n else float("nan"),
                        blind=reason == 1, score=np.float32(score), pred=pred,
                        p1=np.float32(p1), votes=sorted(v), decision=decisions.get(iid),
                        method=method, batch=batch)
    return out, ties


def dawid_skene_numpy(db, smoothing=0.01, tol=1e-6, max_iter=100):
    """Dawid & Skene's EM as hitl documents it (vote-share start; M-step with pseudo-counts;
    E-step; stop when the log-likelihood moves by at most tol of itself), over every label."""
    rows = q(db, "SELECT item, annotator, label FROM labels ORDER BY item, annotator")
    item_ids = sorted({r[0] for r in rows})
    who = sorted({r[1] for r in rows})
    ii = np.array([item_ids.index(r[0]) for r in rows])
    aa = np.array([who.index(r[1]) for r in rows])
    ll_ = np.array([r[2] for r in rows])
    N, A, K = len(item_ids), len(who), 10
    T = np.zeros((N, K))
    np.add.at(T, (ii, ll_), 1.0)
    T /= T.sum(1, keepdims=True)
    prev = -np.inf
    for it in range(1, max_iter + 1):
        prior = (T.sum(0) + smoothing) / (N + K * smoothing)
        conf = np.full((A, K, K), smoothing)
        for i, a, l in zip(ii, aa, ll_):
            conf[a, :, l] += T[i]
        conf /= conf.sum(2, keepdims=True)
        logt = np.tile(np.log(prior), (N, 1))
        for i, a, l in zip(ii, aa, ll_):
            logt[i] += np.log(conf[a, :, l])
        mx = logt.max(1, keepdims=True)
        z = np.exp(logt - mx).sum(1, keepdims=True)
        T = np.exp(logt - mx) / z
        ll = float((mx + np.log(z)).sum())
        if it > 1 and abs(ll - prev) <= tol * abs(ll):
            break
        prev = ll
    return dict(zip(item_ids, T))


class Project(unittest.TestCase):
    """One project from the bundled digits pool: 60 uncertain and 20 blind items, 3 labels each
    from simulated annotators of known accuracy, some adjudicated, one overridden."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        with h5py.File(DIGITS, "r") as f:
            cls.truth = f["labels"][()]
            cls.features = f["features"][()]
        cls.data = os.path.join(WORK, "digits-items.jsonl")
        payloads(cls.data)
        cls.db = fresh("export.db")
        hitl("init", cls.db, "--classes", ",".join(CLASSES), "--overlap", 3, "--actor", "admin",
             "--min-justification", 5)
        hitl("queue", cls.db, "--from", DIGITS, "--probs", "probs", "--ids", "ids", "--method",
             "margin", "--top-k", 60, "--blind", 20, "--seed", 4, "--model", "digits-lr",
             "--data", cls.data)
        rng = np.random.default_rng(8)
        items = q(cls.db, "SELECT pool_id, pool_row FROM items ORDER BY id")
        accuracy = {"alice": 0.95, "bob": 0.8, ODD: 0.6}
        for k, (pid, row) in enumerate(items):
            true = int(cls.truth[row])
            if k % 11 == 5:  # three different labels: a tie no majority breaks
                given = {"alice": true, "bob": (true + 1) % 10, ODD: (true + 2) % 10}
            else:
                given = {a: true if rng.random() < p else int(rng.integers(10))
                         for a, p in accuracy.items()}
            for a, lab in given.items():
                hitl("label", cls.db, pid, lab, "--annotator", a)
        # adjudicate two disagreements, one with a justification that needs CSV quoting
        waiting = [p for (p,) in q(cls.db, "SELECT pool_id FROM items WHERE state = 1"
                                           " ORDER BY id")]
        cls.adjudicated = waiting[:2]
        hitl("adjudicate", cls.db, waiting[0], 3, "--actor", "rev", "--justification",
             'loop closed, "3" not 8\nsee scan')
        hitl("adjudicate", cls.db, waiting[1], 5, "--actor", "rev", "--justification",
             "plain reason")
        agreed = q(cls.db, "SELECT pool_id, final_label FROM items WHERE state = 2 AND"
                           " final_kind = 'agreed' ORDER BY id")[0]
        cls.overridden = agreed[0]
        hitl("adjudicate", cls.db, agreed[0], (agreed[1] + 1) % 10, "--actor", "rev2",
             "--justification", "annotators all missed the tail")

    def export(self, fmt, name, *extra):
        out = os.path.join(WORK, name)
        if os.path.exists(out):
            os.remove(out)
        p = hitl("export", self.db, "--format", fmt, "--out", out, "--json", *extra)
        return out, json.loads(p.stdout)

    # ---- HDF5 ----

    def check_h5(self, path, rule):
        want, ties = expected(self.db, rule)
        with h5py.File(path, "r") as f:
            self.assertEqual(list(f.attrs["classes"]), CLASSES)
            self.assertEqual(f.attrs["final"], rule)
            ids = list(f["ids"].asstr()[()])
            self.assertEqual(ids, list(want))  # every final item, in queue order
            self.assertEqual(f["labels"].dtype, np.int32)
            self.assertEqual(f["soft_labels"].dtype, np.float32)
            self.assertEqual(f["soft_labels"].shape, (len(ids), 10))
            for i, pid in enumerate(ids):
                w = want[pid]
                self.assertEqual(f["rows"][i], w["row"])
                self.assertEqual(f["labels"][i], w["label"], pid)
                np.testing.assert_array_equal(f["soft_labels"][i], w["soft"])
                self.assertEqual(bool(f["is_blind"][i]), w["blind"])
                self.assertEqual(f["n_labels"][i], w["n"])
                np.testing.assert_array_equal(f["agreement"][i], np.float32(w["agreement"]))
                self.assertEqual(f["scores"][i], w["score"])
                self.assertEqual(f["pred"][i], w["pred"])
                self.assertEqual(f["p1"][i], w["p1"])
        return want, ties

    def test_hdf5_adjudicated(self):
        out, j = self.export("hdf5", "adj.h5")
        want, _ = self.check_h5(out, "adjudicated")
        self.assertEqual(j["records"], len(want))
        pending = q(self.db, "SELECT count(*) FROM items WHERE state < 2 AND n_labels > 0")[0][0]
        self.assertEqual(j["pending"], pending)
        self.assertGreater(pending, 0)
        self.assertEqual(want[self.adjudicated[0]]["label"], 3)
        self.assertEqual(want[self.overridden]["kind"], "override")

    def test_hdf5_majority_never_breaks_ties(self):
        out, j = self.export("hdf5", "maj.h5", "--final", "majority")
        want, ties = self.check_h5(out, "majority")
        self.assertGreater(ties, 0)
        self.assertEqual(j["ties"], ties)
        tied = q(self.db, "SELECT pool_id FROM items i WHERE state = 1 AND (SELECT count(DISTINCT"
                          " label) FROM labels WHERE item = i.id) = 3")
        self.assertTrue(tied)
        for (pid,) in tied:
            self.assertNotIn(pid, want)

    def test_hdf5_features_copied_from_the_pool(self):
        out, j = self.export("hdf5", "feat.h5", "--features", f"{DIGITS}:features")
        with h5py.File(out, "r") as f:
            rows = f["rows"][()]
            self.assertEqual(f["features"].dtype, np.float32)
            np.testing.assert_array_equal(f["features"][()], self.features[rows])
            self.assertTrue(f["features"].chunks)

    def test_dawid_skene_matches_numpy(self):
        out, j = self.export("hdf5", "ds.h5", "--final", "dawid-skene")
        self.assertTrue(j["ds_converged"])
        post = dawid_skene_numpy(self.db)
        by_pid = dict(q(self.db, "SELECT pool_id, id FROM items"))
        decided = dict(q(self.db, "SELECT pool_id, final_label FROM items WHERE state = 2 AND"
                                  " final_kind != 'agreed'"))
        complete = {p for (p,) in q(self.db, "SELECT pool_id FROM items WHERE state >= 1")}
        with h5py.File(out, "r") as f:
            ids = list(f["ids"].asstr()[()])
            self.assertLessEqual(set(ids), complete)
            self.assertEqual(len(complete - set(ids)), j["ties"])  # only ties are left out
            for i, pid in enumerate(ids):
                soft = f["soft_labels"][i]
                if pid in decided:  # an adjudicator's decision wins, one-hot
                    self.assertEqual(f["labels"][i], decided[pid])
                    np.testing.assert_array_equal(soft, np.eye(10, dtype=np.float32)[decided[pid]])
                else:  # the posterior, and its argmax the label
                    np.testing.assert_allclose(soft, post[by_pid[pid]], atol=2e-6)
                    self.assertEqual(f["labels"][i], int(np.argmax(post[by_pid[pid]])))
                    self.assertEqual(f["labels"][i], int(np.argmax(soft)))
            self.assertTrue(set(ids) & set(decided))  # both kinds are checked

    # ---- JSONL and CSV ----

    def test_jsonl_matches_db(self):
        out, j = self.export("jsonl", "all.jsonl", "--final", "majority")
        want, _ = expected(self.db, "majority")
        data = dict(q(self.db, "SELECT pool_id, data FROM items"))
        with open(out, encoding="utf-8") as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[-1], "")  # every line ends with a newline
        recs = [json.loads(line) for line in lines[:-1]]
        self.assertEqual([r["id"] for r in recs], list(want))
        for r in recs:
            w = want[r["id"]]
            self.assertEqual(r["row"], w["row"])
            self.assertEqual(r["label"], CLASSES[w["label"]])
            self.assertEqual(r["label_index"], w["label"])
            self.assertEqual(r["final"], w["kind"])
            self.assertEqual([np.float32(r["soft_label"][c]) for c in CLASSES], list(w["soft"]))
            self.assertEqual(r["n_labels"], w["n"])
            self.assertAlmostEqual(r["agreement"], w["agreement"], places=8)
            self.assertEqual(sorted((x["annotator"], int(x["label"]), x["at"])
                                    for x in r["labels"]), w["votes"])
            self.assertEqual(r["reason"], "blind" if w["blind"] else "uncertain")
            self.assertEqual(np.float32(r["score"]), w["score"])
            self.assertEqual(np.float32(r["p1"]), w["p1"])
            self.assertEqual(r["pred"], CLASSES[w["pred"]])
            self.assertEqual((r["method"], r["model"], r["batch"]),
                             ("margin", "digits-lr", w["batch"]))
            self.assertEqual(r["data"], json.loads(data[r["id"]]))
            d = w["decision"]
            self.assertEqual((r["adjudicator"], r["justification"], r["decided_at"]),
                             d if d else (None, None, None))

    def test_csv_rfc4180_matches_db(self):
        out, j = self.export("csv", "all.csv", "--final", "majority")
        want, _ = expected(self.db, "majority")
        with open(out, newline="", encoding="utf-8") as f:
            raw = f.read()
        self.assertIn("\r\n", raw)  # RFC 4180 record ends
        with open(out, newline="", encoding="utf-8") as f:
            recs = list(csv.DictReader(f))
        self.assertEqual([r["id"] for r in recs], list(want))
        odd_seen = just_seen = False
        for r in recs:
            w = want[r["id"]]
            self.assertEqual(int(r["row"]), w["row"])
            self.assertEqual(r["label"], CLASSES[w["label"]])
            self.assertEqual(r["final"], w["kind"])
            self.assertEqual(int(r["n_labels"]), w["n"])
            names, votes = json.loads(r["annotators"]), json.loads(r["votes"])
            self.assertEqual(sorted(zip(names, map(int, votes))),
                             sorted((a, lab) for a, lab, _ in w["votes"]))
            odd_seen |= ODD in names
            self.assertEqual([np.float32(r[f"p_{c}"]) for c in CLASSES], list(w["soft"]))
            self.assertEqual(np.float32(r["score"]), w["score"])
            self.assertEqual(r["reason"], "blind" if w["blind"] else "uncertain")
            if w["decision"]:
                self.assertEqual(r["justification"], w["decision"][1])
                just_seen |= "\n" in r["justification"] and '"' in r["justification"]
        self.assertTrue(odd_seen and just_seen)

    # ---- atomicity, audit, errors ----

    def test_export_is_audited(self):
        before = q(self.db, "SELECT count(*) FROM audit WHERE event = 'export'")[0][0]
        out, j = self.export("csv", "audited.csv")
        ev = q(self.db, "SELECT actor, payload FROM audit WHERE event = 'export' ORDER BY seq")
        self.assertEqual(len(ev), before + 1)
        payload = json.loads(ev[-1][1])
        self.assertEqual((payload["format"], payload["path"], payload["count"]),
                         ("csv", out, j["records"]))
        hitl("audit", "verify", self.db)

    def test_failed_exports_leave_nothing(self):
        before = snapshot(self.db)
        p = hitl("export", self.db, "--format", "hdf5", "--out", "/nonexistent-dir/x.h5", ok=False)
        self.assertEqual(p.returncode, 1)
        short = os.path.join(WORK, "short-pool.h5")
        with h5py.File(short, "w") as f:
            f["features"] = self.features[:100]  # exported rows reach past it
        out = os.path.join(WORK, "short.h5")
        p = hitl("export", self.db, "--format", "hdf5", "--out", out, "--features",
                 f"{short}:features", ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("is outside", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse([x for x in os.listdir(WORK) if x.startswith("short.h5.part")])
        p = hitl("export", self.db, "--format", "hdf5", "--out", out, "--features",
                 f"{DIGITS}:nope", ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertEqual(snapshot(self.db), before)  # not even an audit event

    def test_usage_errors(self):
        for args, text in [(("--format", "xml", "--out", "x"), "unknown format"),
                           (("--format", "csv"), "--out FILE is required"),
                           (("--out", "x"), "--format is required"),
                           (("--format", "csv", "--out", "x", "--features", f"{DIGITS}:f"),
                            "only with --format hdf5"),
                           (("--format", "hdf5", "--out", "x", "--final", "vote"), "--final")]:
            p = hitl("export", self.db, *args, ok=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(text, p.stderr)

    # ---- the report ----

    def report(self, name, *extra):
        nb_path = os.path.join(WORK, name)
        p = hitl("report", self.db, "--notebook", nb_path, "--json", *extra)
        return nb_path, json.loads(p.stdout)

    def test_report_numbers_and_schema(self):
        import nbformat
        from nltk.metrics.agreement import AnnotationTask
        from statsmodels.stats.proportion import proportion_confint
        nb_path, j = self.report("report.ipynb", "--features", f"{DIGITS}:features",
                                 "--pool", f"{DIGITS}:probs")
        nb = nbformat.read(nb_path, as_version=4)
        nbformat.validate(nb)
        self.assertEqual((nb.nbformat, nb.nbformat_minor), (4, 5))
        self.assertEqual(len({c.id for c in nb.cells}), len(nb.cells))
        # calibration on the blind items, recomputed: p1 and pred at query time vs final label
        rows = q(self.db, "SELECT p1, pred, final_label FROM items WHERE reason = 1 AND"
                          " state = 2 AND pred IS NOT NULL")
        conf = np.array([np.float32(r[0]) for r in rows], dtype=np.float64)
        hit = np.array([r[1] == r[2] for r in rows], dtype=float)
        self.assertEqual(j["blind_scored"], len(rows))
        self.assertAlmostEqual(j["blind_accuracy"], hit.mean(), places=8)
        lo, hi = proportion_confint(int(hit.sum()), len(hit), alpha=0.05, method="wilson")
        np.testing.assert_allclose(j["blind_accuracy_ci"], [lo, hi], atol=1e-8)
        self.assertEqual(j["n_bins"], 15)  # hitl calibrate's default too
        b = np.clip(np.ceil(conf * 15) - 1, 0, 14).astype(int)
        ece = sum(abs(hit[b == k].mean() - conf[b == k].mean()) * (b == k).mean()
                  for k in range(15) if (b == k).any())
        self.assertAlmostEqual(j["ece"], ece, places=7)
        self.assertAlmostEqual(j["brier_top_label"], np.mean((conf - hit) ** 2), places=7)
        # agreement: Krippendorff's alpha as NLTK computes it (every item has 3 labels)
        task = AnnotationTask(data=[(a, str(i), str(lab)) for i, a, lab in
                                    q(self.db, "SELECT item, annotator, label FROM labels")])
        self.assertAlmostEqual(j["alpha"], task.alpha(), places=7)
        # the summary tells the store's own counts; charts are SVG that a real parser reads
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        queued, final = q(self.db, "SELECT count(*), sum(state = 2) FROM items")[0]
        self.assertIn(f"**{queued}** items queued; **{final}** have a final label", text)
        # health is hitl health's verdict (rev2's 1 override of 1 decision is too little to judge)
        h = json.loads(hitl("health", self.db, "--json").stdout)
        self.assertEqual(j["health"]["status"], h["status"])
        self.assertEqual(j["health"]["reasons"], h["reasons"])
        self.assertIn(f"## Health: {h['status']}\n", text)
        self.assertNotIn("override_rate", [x["rule"] for x in h["reasons"]])
        self.assertIn("| rev2 | 1 | 1 | 100.0% |  |", text)
        svgs = [o.data["image/svg+xml"] for c in nb.cells if c.cell_type == "code"
                for o in c.outputs]
        self.assertEqual(len(svgs), 5)
        for s in svgs:
            root = ET.fromstring(s)
            self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertTrue(any('carol, &quot;the&quot;' in s for s in svgs))

    def test_report_and_calibrate_agree(self):
        """One calibration in the engine: the report and hitl calibrate give the same numbers
        for the same bins on the same store, by default and with --bins."""
        for bins in ((), ("--bins", "10"), ("--bins", "7")):
            _, rep = self.report("agree.ipynb", *bins)
            cal = json.loads(hitl("calibrate", self.db, "--json", *bins).stdout)
            for k_rep, k_cal in (("ece", "ece"), ("n_bins", "n_bins"), ("blind_scored", "n"),
                                 ("mce", "mce"), ("blind_accuracy", "accuracy"),
                                 ("brier_top_label", "brier_top_label")):
                self.assertEqual(rep[k_rep], cal[k_cal], (bins, k_rep))
            self.assertEqual(rep["blind_accuracy_ci"], cal["accuracy_ci"])

    def test_report_runs_end_to_end(self):
        import nbformat
        nb_path, j = self.report("run.ipynb", "--features", f"{DIGITS}:features", "--html")
        self.assertTrue(os.path.exists(nb_path[:-6] + ".h5"))
        out = os.path.join(WORK, "run.executed.ipynb")
        p = subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", nb_path,
                            "--output", os.path.basename(out)], capture_output=True, text=True,
                           timeout=600, cwd=WORK)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        nb = nbformat.read(out, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        self.assertFalse([o for o in outputs if o.output_type == "error"])
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        self.assertIn(f"{j['exported']} items with a final label", printed)
        self.assertIn("cross-validated accuracy", printed)
        self.assertIn("baseline fitted on all", printed)
        # the charts were not run, so they are still there
        self.assertEqual(sum("image/svg+xml" in o.get("data", {}) for o in outputs), 5)
        self.assertEqual(j["html"], "written")
        with open(nb_path[:-6] + ".html", encoding="utf-8") as f:
            self.assertIn("<svg", f.read())

    def test_report_without_features_still_runs(self):
        import nbformat
        nb_path, j = self.report("nofeat.ipynb", "--final", "majority")
        out = os.path.join(WORK, "nofeat.executed.ipynb")
        p = subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", nb_path,
                            "--output", os.path.basename(out)], capture_output=True, text=True,
                           timeout=600, cwd=WORK)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        nb = nbformat.read(out, as_version=4)
        printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                          for o in c.outputs)
        self.assertIn("the export has no /features", printed)


# ---- Label Studio ---------------------------------------------------------------------------------

def ls_project(name):
    """A store with 24 uncertain and 8 blind items, overlap 2, predictions shown on uncertain."""
    db = fresh(name)
    hitl("init", db, "--classes", ",".join(CLASSES), "--overlap", 2, "--show-prediction",
         "uncertain", "--actor", "admin")
    data = os.path.join(WORK, "ls-items.jsonl")
    if not os.path.exists(data):
        payloads(data)
    hitl("queue", db, "--from", DIGITS, "--probs", "probs", "--ids", "ids", "--method", "margin",
         "--top-k", 24, "--blind", 8, "--seed", 9, "--data", data)
    return db


def annotate(tasks, truth_of):
    """Label Studio's full export of `tasks` (as hitl wrote them), two annotations each in the
    documented result shape: user 1 by id, the other as an object with an email; task 3's second
    annotation is cancelled. Returns the tasks and the labels and skips to expect."""
    tasks = copy.deepcopy(tasks)
    labels, skips = [], []
    for k, t in enumerate(tasks):
        t["id"] = 500 + k
        t["project"] = 7
        pid = t["data"]["hitl_id"]
        anns = []
        for j in range(2):
            lab = truth_of(pid) if (j == 0 or k % 4) else (truth_of(pid) + 1) % 10
            who = 1 if j == 0 else {"id": 9, "email": "b@example.org", "first_name": "B"}
            name = "1" if j == 0 else "b@example.org"
            cancelled = k == 3 and j == 1
            anns.append({"id": 9000 + 2 * k + j, "completed_by": who,
                         "result": [] if cancelled else [
                             {"id": f"r{k}{j}", "from_name": "choice", "to_name": "text",
                              "type": "choices", "value": {"choices": [CLASSES[lab]]}}],
                         "was_cancelled": cancelled, "ground_truth": False,
                         "created_at": f"2024-05-01T10:{k:02d}:0{j}.250000Z",
                         "updated_at": f"2024-05-01T10:{k:02d}:0{j}.250000Z",
                         "lead_time": 2.5 + j, "task": t["id"]})
            (skips if cancelled else labels).append((pid, name, lab))
        t["annotations"] = anns
    return tasks, sorted(labels), sorted(skips)


def json_min(tasks):
    """What Label Studio's JSON_MIN export makes of them (label-studio-converter's shape)."""
    out = []
    for t in tasks:
        for a in t["annotations"]:
            if a["was_cancelled"]:
                continue  # JSON_MIN leaves cancelled annotations out
            rec = dict(t["data"])
            rec["id"] = t["id"]
            rec["choice"] = a["result"][0]["value"]["choices"][0]
            who = a["completed_by"]
            rec["annotator"] = who["email"] if isinstance(who, dict) else who
            rec.update(annotation_id=a["id"], created_at=a["created_at"],
                       updated_at=a["updated_at"], lead_time=a["lead_time"])
            out.append(rec)
    return out


def write_csv(path, records, quoting, delimiter=","):
    keys = sorted({k for r in records for k in r})
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=keys, quoting=quoting, delimiter=delimiter)
        w.writeheader()
        for r in records:
            w.writerow(r)


class LabelStudio(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK, exist_ok=True)
        with h5py.File(DIGITS, "r") as f:
            cls.truth = f["labels"][()]
        cls.db = ls_project("ls.db")
        cls.tasks_path = os.path.join(WORK, "ls-tasks.json")
        hitl("export", cls.db, "--format", "label-studio", "--out", cls.tasks_path)
        with open(cls.tasks_path, encoding="utf-8") as f:
            cls.tasks = json.load(f)
        row = dict(q(cls.db, "SELECT pool_id, pool_row FROM items"))
        cls.truth_of = staticmethod(lambda pid: int(cls.truth[row[pid]]))
        cls.annotated, cls.want_labels, cls.want_skips = annotate(cls.tasks, cls.truth_of)

    def labels_in(self, db):
        return sorted((p, a, lab) for p, a, lab in q(
            db, "SELECT i.pool_id, l.annotator, l.label FROM labels l JOIN items i"
                " ON i.id = l.item"))

    def skips_in(self, db):
        return sorted((p, a) for p, a in q(
            db, "SELECT i.pool_id, s.annotator FROM skips s JOIN items i ON i.id = s.item"))

    def write(self, name, obj):
        path = os.path.join(WORK, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f)
        return path

    def test_tasks_label_studio_imports(self):
        items = {p: (reason, pred, p1, data) for p, reason, pred, p1, data in q(
            self.db, "SELECT pool_id, reason, pred, p1, data FROM items")}
        self.assertEqual(len(self.tasks), len(items))
        self.assertEqual([t["data"]["hitl_id"] for t in self.tasks],
                         [p for (p,) in q(self.db, "SELECT pool_id FROM items ORDER BY id")])
        with open(self.tasks_path, encoding="utf-8") as f:
            self.assertNotIn("blind", f.read())  # annotators never learn why an item is there
        for t in self.tasks:
            reason, pred, p1, data = items[t["data"]["hitl_id"]]
            payload = dict(t["data"])
            del payload["hitl_id"]
            self.assertEqual(payload, json.loads(data))
            (pr,) = t["predictions"]
            self.assertEqual(np.float32(pr["score"]), np.float32(p1))  # the confidence
            self.assertEqual(pr["model_version"], "hitl-margin")
            if reason == 1:
                self.assertEqual(pr["result"], [])  # blind stays blind
            else:
                self.assertEqual(pr["result"], [{"from_name": "choice", "to_name": "text",
                                                 "type": "choices",
                                                 "value": {"choices": [CLASSES[pred]]}}])

    def test_full_json_round_trip_and_idempotence(self):
        db = ls_project("ls-full.db")
        path = self.write("ls-full.json", self.annotated)
        p = hitl("import", db, "--format", "label-studio", path, "--json")
        j = json.loads(p.stdout)
        self.assertEqual((j["form"], j["tasks"], j["labels"], j["skips"]),
                         ("json", len(self.tasks), len(self.want_labels), len(self.want_skips)))
        self.assertEqual(self.labels_in(db), self.want_labels)  # every label round-trips
        self.assertEqual(self.skips_in(db), [(p_, a) for p_, a, _ in self.want_skips])
        # settled as `hitl label` settles: agreeing pairs final, others wait for adjudication
        by_item = collections.defaultdict(list)
        for pid, _, lab in self.want_labels:
            by_item[pid].append(lab)
        for pid, state, final in q(db, "SELECT pool_id, state, final_label FROM items"):
            labs = by_item[pid]
            if len(labs) == 2 and labs[0] == labs[1]:
                self.assertEqual((state, final), (2, labs[0]))
            elif len(labs) == 2:
                self.assertEqual(state, 1)
            else:
                self.assertEqual(state, 0)
        # Label Studio's times: created_at kept, lead_time as the seconds on the item
        t0 = q(db, "SELECT created_at, created - leased_at FROM labels l JOIN items i ON"
                   " i.id = l.item WHERE i.pool_id = ? AND annotator = '1'",
               self.annotated[0]["data"]["hitl_id"])[0]
        self.assertEqual(t0[0], "2024-05-01T10:00:00.250Z")
        self.assertAlmostEqual(t0[1], 2.5, places=6)
        hitl("audit", "verify", db)
        imp = q(db, "SELECT actor_type, payload FROM audit WHERE event = 'import'")
        self.assertEqual(len(imp), 1)
        self.assertEqual(json.loads(imp[0][1])["labels"], len(self.want_labels))
        self.assertEqual(q(db, "SELECT count(*) FROM audit WHERE event = 'label'")[0][0],
                         len(self.want_labels))
        # the same file again: nothing written at all
        before = snapshot(db)
        p = hitl("import", db, "--format", "label-studio", path, "--json")
        j = json.loads(p.stdout)
        self.assertEqual((j["labels"], j["skips"], j["already_imported"]),
                         (0, 0, len(self.want_labels) + len(self.want_skips)))
        self.assertEqual(snapshot(db), before)
        # so is the same annotations' JSON_MIN and CSV export
        path_min = self.write("ls-same-min.json", json_min(self.annotated))
        path_csv = os.path.join(WORK, "ls-same.csv")
        write_csv(path_csv, json_min(self.annotated), csv.QUOTE_MINIMAL)
        for f in (path_min, path_csv):
            j = json.loads(hitl("import", db, "--format", "label-studio", f, "--json").stdout)
            self.assertEqual(j["labels"], 0)
            self.assertEqual(j["already_imported"], len(self.want_labels))
        self.assertEqual(snapshot(db), before)

    def test_json_min_csv_and_tsv_forms(self):
        recs = json_min(self.annotated)
        path_min = self.write("ls-min.json", recs)
        path_plain = os.path.join(WORK, "ls-plain.csv")
        write_csv(path_plain, recs, csv.QUOTE_MINIMAL)  # pandas' to_csv
        path_quoted = os.path.join(WORK, "ls-quoted.csv")
        recs_q = [dict(r, was_cancelled=False) for r in recs]
        write_csv(path_quoted, recs_q, csv.QUOTE_NONNUMERIC)  # the newer csv writer
        with open(path_quoted, encoding="utf-8") as f:
            self.assertTrue(f.readline().startswith('"'))
        # the TSV export: pandas' to_csv with sep="\t"; a data field holding a tab, a comma, a
        # quote and a line break is quoted, one holding only commas is not
        recs_t = [dict(r, note='a\tb, "c"\nd' if k % 2 else "plain, text")
                  for k, r in enumerate(recs)]
        path_tsv = os.path.join(WORK, "ls-export.tsv")
        write_csv(path_tsv, recs_t, csv.QUOTE_MINIMAL, delimiter="\t")
        with open(path_tsv, encoding="utf-8") as f:
            self.assertIn("\t", f.readline())
        # label-studio-converter's TSV (exports/csv2.py): csv.DictWriter with QUOTE_NONNUMERIC
        # and a tab, on a file opened without newline="" (its lines end "\r\n")
        path_tsv_q = os.path.join(WORK, "ls-converter.tsv")
        recs_tq = [dict(r, was_cancelled=False, lead_time=2.5) for r in recs_t]
        keys = sorted({k for r in recs_tq for k in r})
        with open(path_tsv_q, "w", encoding="utf8") as f:
            w = csv.DictWriter(f, fieldnames=keys, quoting=csv.QUOTE_NONNUMERIC, delimiter="\t")
            w.writeheader()
            for r in recs_tq:
                w.writerow(r)
        for path, form in ((path_min, "json-min"), (path_plain, "csv"), (path_quoted, "csv"),
                           (path_tsv, "tsv"), (path_tsv_q, "tsv")):
            db = ls_project(f"ls-{os.path.basename(path)}.db")
            j = json.loads(hitl("import", db, "--format", "label-studio", path, "--json").stdout)
            self.assertEqual((j["form"], j["labels"], j["skips"]),
                             (form, len(self.want_labels), 0), path)
            self.assertEqual(self.labels_in(db), self.want_labels)
            j = json.loads(hitl("import", db, "--format", "label-studio", path, "--json").stdout)
            self.assertEqual(j["labels"], 0)

    def test_problems_are_counted_not_written(self):
        db = ls_project("ls-problems.db")
        path = self.write("ls-first.json", self.annotated)
        hitl("import", db, "--format", "label-studio", path)
        extra = copy.deepcopy(self.annotated[:3])
        extra[0]["data"]["hitl_id"] = "not-in-the-project"  # unknown item
        for a in extra[1]["annotations"]:
            a["id"] += 100000  # new annotation ids by the same annotators: duplicates
        extra[2]["annotations"] = [dict(extra[2]["annotations"][0], id=77777, completed_by=42)]
        empty = copy.deepcopy(self.annotated[4])
        empty["annotations"] = [dict(empty["annotations"][0], id=88888, completed_by=43,
                                     result=[])]
        before = self.labels_in(db)
        p = hitl("import", db, "--format", "label-studio",
                 self.write("ls-extra.json", extra + [empty]), "--json")
        j = json.loads(p.stdout)
        self.assertEqual((j["unknown_items"], j["duplicates"], j["complete"], j["empty"],
                          j["labels"]), (2, 2, 1, 1, 0))
        kinds = collections.Counter(x["kind"] for x in j["problems"])
        self.assertEqual(kinds, {"unknown_item": 2, "duplicate": 2, "complete": 1, "empty": 1})
        self.assertEqual({x["task"] for x in j["problems"]}, {0, 1, 2, 3})
        self.assertEqual(self.labels_in(db), before)
        p = hitl("import", db, "--format", "label-studio", self.write("ls-extra2.json", extra))
        self.assertIn("task 0: item 'not-in-the-project' is not in the project", p.stderr)

    def test_one_task_object_and_tasks_without_data(self):
        """Label Studio's cloud storage writes one task object per file; a task without "data"
        (Label Studio takes them) is counted, not an error; a file whose tasks carry no
        data.hitl_id records nothing: exit 3 saying why."""
        db = ls_project("ls-one.db")
        t = self.annotated[0]
        j = json.loads(hitl("import", db, "--format", "label-studio",
                            self.write("ls-one-task.json", t), "--json").stdout)
        want = [x for x in self.want_labels if x[0] == t["data"]["hitl_id"]]
        self.assertEqual((j["form"], j["tasks"], j["labels"]), ("json", 1, len(want)))
        self.assertEqual(self.labels_in(db), want)
        mixed = [dict(x) for x in self.annotated[1:4]]
        del mixed[1]["data"]
        j = json.loads(hitl("import", db, "--format", "label-studio",
                            self.write("ls-no-data.json", mixed), "--json").stdout)
        self.assertEqual(j["tasks"], 3)
        self.assertEqual(j["unknown_items"], len(mixed[1]["annotations"]))
        self.assertEqual({x["task"] for x in j["problems"]}, {1})
        self.assertGreater(j["labels"], 0)
        # no task names an item: nothing to import, and the reason
        before = snapshot(db)
        foreign = [{"id": 1, "data": {"text": "a"}, "annotations": t["annotations"]},
                   {"id": 2, "annotations": t["annotations"]}]
        p = hitl("import", db, "--format", "label-studio", self.write("ls-foreign.json", foreign),
                 ok=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("without data.hitl_id", p.stderr)
        self.assertEqual(snapshot(db), before)

    def test_user_map_and_edited_annotations(self):
        """--user-map names Label Studio's users; an annotation changed in Label Studio after
        its import is a conflict (exit 3, nothing written), never dropped silently."""
        db = ls_project("ls-users.db")
        users = os.path.join(WORK, "users.csv")
        with open(users, "w", encoding="utf-8") as f:
            f.write("id,name\n1,alice@example.org\n")
        hitl("import", db, "--format", "label-studio", self.write("ls-u.json", self.annotated),
             "--user-map", users)
        want = sorted((p_, "alice@example.org" if a == "1" else a, lab)
                      for p_, a, lab in self.want_labels)
        self.assertEqual(self.labels_in(db), want)
        # the same user given by id or as an object with the id only: one name
        self.assertNotIn("1", {a for _, a, _ in self.labels_in(db)})
        for bad, msg in (("id,name\n1\n", "want id,name"), ("1,a\n1,b\n", "mapped twice")):
            with open(users, "w", encoding="utf-8") as f:
                f.write(bad)
            p = hitl("import", db, "--format", "label-studio", self.write("ls-u2.json", []),
                     "--user-map", users, ok=False)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn(msg, p.stderr)
        # edited in Label Studio since: another choice, then cancelled
        db = ls_project("ls-edit.db")
        hitl("import", db, "--format", "label-studio", self.write("ls-e.json", self.annotated))
        before = snapshot(db)
        for how in ("choice", "cancel"):
            edited = copy.deepcopy(self.annotated)
            a = edited[2]["annotations"][0]
            if how == "choice":
                old = a["result"][0]["value"]["choices"][0]
                a["result"][0]["value"]["choices"] = [CLASSES[(CLASSES.index(old) + 1) % 10]]
            else:
                a["was_cancelled"], a["result"] = True, []
            p = hitl("import", db, "--format", "label-studio",
                     self.write(f"ls-e-{how}.json", edited), ok=False)
            self.assertEqual(p.returncode, 3, (how, p.stderr))
            self.assertIn(f"the annotation of '{edited[2]['data']['hitl_id']}' by '1' was "
                          f"imported as the label", p.stderr)
            self.assertIn("nothing was imported", p.stderr)
            self.assertEqual(snapshot(db), before, how)
        # unchanged: still nothing to do, exit 0
        p = hitl("import", db, "--format", "label-studio", self.write("ls-e.json", self.annotated))
        self.assertEqual(snapshot(db), before)

    def test_labelling_config(self):
        """--config OUT.xml: the config the tasks need, a Choice per class over data.$to_name;
        an Image for an image field; never onto an input."""
        import xml.etree.ElementTree as ET
        out = os.path.join(WORK, "cfg-tasks.json")
        cfg = os.path.join(WORK, "cfg.xml")
        j = json.loads(hitl("export", self.db, "--format", "label-studio", "--out", out,
                            "--config", cfg, "--json").stdout)
        self.assertEqual(j["config"], cfg)
        root = ET.parse(cfg).getroot()
        self.assertEqual(root.tag, "View")
        text, choices = list(root)
        self.assertEqual((text.tag, text.get("name"), text.get("value")), ("Text", "text", "$text"))
        self.assertEqual((choices.tag, choices.get("name"), choices.get("toName")),
                         ("Choices", "choice", "text"))
        self.assertEqual([c.get("value") for c in choices], CLASSES)
        with open(out, encoding="utf-8") as f:
            for t in json.load(f):  # the tasks fill what the config reads
                self.assertIn("text", t["data"])
        hitl("export", self.db, "--format", "label-studio", "--out", out, "--config", cfg,
             "--from-name", "digit", "--to-name", "image")
        root = ET.parse(cfg).getroot()
        self.assertEqual((root[0].tag, root[0].get("value"), root[1].get("name")),
                         ("Image", "$image", "digit"))
        for out2, target in ((out + ".2", self.db), (out, out)):  # the store; the tasks file
            p = hitl("export", self.db, "--format", "label-studio", "--out", out2,
                     "--config", target, ok=False)
            self.assertEqual(p.returncode, 2, p.stderr)
        p = hitl("export", self.db, "--format", "csv", "--out", out + ".csv", "--config", cfg,
                 ok=False)
        self.assertEqual(p.returncode, 2)

    def test_malformed_files_write_nothing(self):
        db = ls_project("ls-bad.db")
        before = snapshot(db)
        good = json.dumps(self.annotated)
        # truncated inside task 3: tasks 0..2 are fine but must not be written either
        cut = len(json.dumps(self.annotated[:3])) - 1 + len(", ") + 40
        cases = [("truncated", good[:cut], "task 3"),
                 ("data-not-object", [t if k != 2 else dict(t, data="x")
                                      for k, t in enumerate(self.annotated)],
                  'task 2: "data" is not an object'),
                 ("unknown-choice", None, "task 4: unknown choice 'zebra'"),
                 ("two-choices", None, "task 1: annotation 9003 has 2 choices"),
                 ("not-a-task", "[42]", "task 0 is not a JSON object"),
                 ("no-close", good[:-1], "truncated JSON: no ']'")]
        bad = copy.deepcopy(self.annotated)
        bad[4]["annotations"][0]["result"][0]["value"]["choices"] = ["zebra"]
        cases[2] = ("unknown-choice", bad, cases[2][2])
        two = copy.deepcopy(self.annotated)
        two[1]["annotations"][1]["result"][0]["value"]["choices"] = ["1", "2"]
        cases[3] = ("two-choices", two, cases[3][2])
        for name, content, message in cases:
            path = os.path.join(WORK, f"ls-bad-{name}.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(content if isinstance(content, str) else json.dumps(content))
            p = hitl("import", db, "--format", "label-studio", path, ok=False)
            self.assertEqual(p.returncode, 3, (name, p.stderr))
            self.assertIn(message, p.stderr, name)
            self.assertEqual(snapshot(db), before, name)
        recs = json_min(self.annotated)
        recs[5]["choice"] = "zebra"
        path = os.path.join(WORK, "ls-bad.csv")
        write_csv(path, recs, csv.QUOTE_MINIMAL)
        p = hitl("import", db, "--format", "label-studio", path, ok=False)
        self.assertEqual(p.returncode, 3)
        with open(path, newline="", encoding="utf-8") as f:  # the line record 5 starts on
            reader = csv.reader(f)
            next(reader)
            starts = []
            for _ in reader:
                starts.append(line + 1 if starts else 2)
                line = reader.line_num
        line = starts[5]
        self.assertIn(f"line {line} (record 5): unknown choice 'zebra'", p.stderr)
        self.assertEqual(snapshot(db), before)
        # a TSV whose last record lost its fields past the third: named by the line it starts
        # on, as Python's csv module counts lines (quoted line breaks included)
        path = os.path.join(WORK, "ls-short.tsv")
        write_csv(path, json_min(self.annotated), csv.QUOTE_MINIMAL, delimiter="\t")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter="\t")
            rows, line = [], 0
            for row in reader:
                rows.append(row)
                start, line = line + 1, reader.line_num
        rows[-1] = rows[-1][:3]
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, delimiter="\t").writerows(rows)
        p = hitl("import", db, "--format", "label-studio", path, ok=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn(f"line {start}: 3 fields, the header has {len(rows[0])}", p.stderr)
        self.assertEqual(snapshot(db), before)
        p = hitl("import", db, "--format", "label-studio", "/nonexistent.json", ok=False)
        self.assertEqual(p.returncode, 1)


def main():
    global HITL, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORK = os.path.abspath(a.hitl), os.path.abspath(a.work)
    if os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()

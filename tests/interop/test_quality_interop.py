#!/usr/bin/env python3
"""Interop test for `hitl agreement`, `hitl aggregate` and `hitl calibrate` against the real
peers, on random tables and samples, through the CLI and its --json output (9 significant
digits, hence the 1e-8 tolerances):
  - scikit-learn cohen_kappa_score (unweighted, linear, quadratic) for every annotator pair,
  - statsmodels fleiss_kappa on complete tables, and on the label-vs-rest tables (per label),
  - NLTK AnnotationTask.alpha with missing ratings: nominal (binary_distance), interval
    (interval_distance), ratio and ordinal (Krippendorff's metrics as distance functions),
  - scikit-learn calibration_curve, brier_score_loss, log_loss, accuracy_score, confusion_matrix,
    precision_recall_fscore_support; statsmodels' Wilson interval; scipy's bounded scalar
    minimiser for the temperature.
sklearn's brier_score_loss is binary: on a binary problem hitl's multiclass Brier is twice it
(both classes' squared errors are equal), and on C classes it is the sum of the C one-vs-rest
binary scores; both identities are checked. hitl's top-label Brier is brier_score_loss of
"the top class is right" against the top probability. float64 probabilities are binned as
stored: confidences on the bin edges land where calibration_curve puts them. Gwet's AC1, Scott's pi and percent agreement have
no Debian peer; they are checked against numpy written from Gwet (2014)'s formulas. Rating
matrices (`--matrix`, .npy in every dtype and HDF5) give exactly the numbers of the same table
as a ratings CSV, and match scikit-learn and NLTK."""
import argparse
import csv
import json
import os
import subprocess
import sys
import unittest

import h5py
import numpy as np
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance, interval_distance
from scipy.optimize import minimize_scalar
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, brier_score_loss, cohen_kappa_score,
                             confusion_matrix, log_loss, precision_recall_fscore_support)
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

HITL = None
WORK = None
TOL = 1e-8


def hitl(*args):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


def random_table(rng, n_items, n_ann, n_labels, missing, agree=0.6):
    """[n_items, n_ann] label indices, -1 where missing (items keep at least one rating)."""
    truth = rng.integers(0, n_labels, n_items)
    noise = rng.integers(0, n_labels, (n_items, n_ann))
    m = np.where(rng.random((n_items, n_ann)) < agree, truth[:, None], noise)
    m[rng.random((n_items, n_ann)) < missing] = -1
    return m


def write_ratings(path, m, names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "annotator", "label"])
        for u in range(m.shape[0]):
            for a in range(m.shape[1]):
                if m[u, a] >= 0:
                    w.writerow([f"item{u}", f"ann{a}", names[m[u, a]]])


def triples(m, values):
    return [(f"ann{a}", f"item{u}", values[m[u, a]])
            for u in range(m.shape[0]) for a in range(m.shape[1]) if m[u, a] >= 0]


class AgreementInterop(unittest.TestCase):
    def test_cohen_every_pair_every_weighting(self):
        rng = np.random.default_rng(1)
        for shape in ((300, 4, 5, 0.3), (500, 6, 3, 0.5), (200, 2, 7, 0.0)):
            m = random_table(rng, *shape)
            names = [str(10 * (c + 1)) for c in range(shape[2])]
            path = os.path.join(WORK, "cohen.csv")
            write_ratings(path, m, names)
            for weights in ("none", "linear", "quadratic"):
                js = hitl("agreement", "--ratings", path, "--weights", weights, "--bootstrap", 0,
                          "--json")
                self.assertEqual(len(js["pairs"]), shape[1] * (shape[1] - 1) // 2)
                for p in js["pairs"]:
                    a, b = int(p["a"][3:]), int(p["b"][3:])
                    both = (m[:, a] >= 0) & (m[:, b] >= 0)
                    want = cohen_kappa_score(m[both, a], m[both, b], labels=range(shape[2]),
                                             weights=None if weights == "none" else weights)
                    self.assertEqual(p["n"], int(both.sum()))
                    self.assertAlmostEqual(p["cohen_kappa"], want, delta=TOL, msg=(shape, weights))
                    self.assertAlmostEqual(p["agreement"], np.mean(m[both, a] == m[both, b]),
                                           delta=TOL)

    def test_fleiss_and_per_label_against_statsmodels(self):
        rng = np.random.default_rng(2)
        for n_items, n_ann, n_labels in ((100, 3, 4), (400, 7, 5), (60, 2, 2)):
            m = random_table(rng, n_items, n_ann, n_labels, 0.0, agree=0.5)
            path = os.path.join(WORK, "fleiss.csv")
            write_ratings(path, m, [f"c{k}" for k in range(n_labels)])
            js = hitl("agreement", "--ratings", path, "--bootstrap", 0, "--json")
            table, _ = aggregate_raters(m, n_cat=n_labels)
            self.assertAlmostEqual(js["fleiss_kappa"], fleiss_kappa(table), delta=TOL)
            self.assertAlmostEqual(js["scott_pi"], fleiss_kappa(table), delta=TOL)
            for k in range(n_labels):  # label k against the rest: Fleiss (1971)'s kappa_j
                two = np.stack([table[:, k], table.sum(1) - table[:, k]], 1)
                self.assertAlmostEqual(js["per_label"][f"c{k}"], fleiss_kappa(two), delta=TOL)
            # with one rating removed, Fleiss' kappa is not defined
            m[0, 0] = -1
            write_ratings(path, m, [f"c{k}" for k in range(n_labels)])
            js = hitl("agreement", "--ratings", path, "--bootstrap", 0, "--json")
            self.assertIsNone(js["fleiss_kappa"])
            self.assertIn("ratings", js["fleiss_kappa_reason"])

    def test_krippendorff_alpha_every_level_against_nltk(self):
        rng = np.random.default_rng(3)
        for n_items, n_ann, n_labels, missing in ((120, 5, 4, 0.4), (80, 3, 6, 0.2)):
            m = random_table(rng, n_items, n_ann, n_labels, missing)
            values = np.cumsum(rng.uniform(0.5, 3.0, n_labels))  # increasing, positive
            names = [f"{v:.6f}" for v in values]
            values = np.array([float(s) for s in names])
            path = os.path.join(WORK, "alpha.csv")
            write_ratings(path, m, names)
            data = triples(m, values)
            # the ordinal metric needs the pairable values' margins n_g (Krippendorff 2011)
            pairable = (m >= 0).sum(1) >= 2
            n_g = np.bincount(m[pairable][m[pairable] >= 0], minlength=n_labels)
            rank = {v: i for i, v in enumerate(values)}

            def ordinal(a, b):
                i, j = sorted((rank[a], rank[b]))
                return (n_g[i:j + 1].sum() - (n_g[i] + n_g[j]) / 2) ** 2 if i != j else 0.0

            def ratio(a, b):
                return ((a - b) / (a + b)) ** 2

            peers = {"nominal": binary_distance, "interval": interval_distance, "ratio": ratio,
                     "ordinal": ordinal}
            for level, dist in peers.items():
                want = AnnotationTask(data, distance=dist).alpha()
                js = hitl("agreement", "--ratings", path, "--level", level, "--bootstrap", 0,
                          "--json")
                self.assertAlmostEqual(js["krippendorff_alpha"], want, delta=TOL, msg=level)

    def test_gwet_scott_percent_from_the_formulas(self):
        rng = np.random.default_rng(4)
        m = random_table(rng, 250, 5, 4, 0.45)
        path = os.path.join(WORK, "gwet.csv")
        write_ratings(path, m, ["a", "b", "c", "d"])
        js = hitl("agreement", "--ratings", path, "--bootstrap", 0, "--json")
        r = np.stack([(m == k).sum(1) for k in range(4)], 1).astype(float)
        ri = r.sum(1)
        two = ri >= 2
        pa = np.mean((r[two] * (r[two] - 1)).sum(1) / (ri[two] * (ri[two] - 1)))
        pi = (r[ri > 0] / ri[ri > 0, None]).mean(0)
        pe_ac1 = (pi * (1 - pi)).sum() / 3
        pe_pi = (pi ** 2).sum()
        self.assertAlmostEqual(js["percent_agreement"], pa, delta=TOL)
        self.assertAlmostEqual(js["gwet_ac1"], (pa - pe_ac1) / (1 - pe_ac1), delta=TOL)
        self.assertAlmostEqual(js["scott_pi"], (pa - pe_pi) / (1 - pe_pi), delta=TOL)

    def test_bootstrap_interval_is_reproducible(self):
        rng = np.random.default_rng(5)
        m = random_table(rng, 400, 4, 3, 0.3)
        path = os.path.join(WORK, "boot.csv")
        write_ratings(path, m, ["x", "y", "z"])
        a = hitl("agreement", "--ratings", path, "--bootstrap", 300, "--seed", 11, "--json")
        b = hitl("agreement", "--ratings", path, "--bootstrap", 300, "--seed", 11, "--threads", 1,
                 "--json")
        self.assertEqual(a["ci"], b["ci"])
        lo, hi = a["ci"]["krippendorff_alpha"]
        self.assertLess(lo, a["krippendorff_alpha"])
        self.assertGreater(hi, a["krippendorff_alpha"])


def run_rc(*args):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


class MatrixInterop(unittest.TestCase):
    """`hitl agreement --matrix`: the same numbers as the ratings CSV of the same table (which
    the tests above check against the peers), and scikit-learn and NLTK directly, for .npy in
    every dtype and HDF5 with class names."""

    def check_same(self, mat, csv_js, n_ann):
        for key in ("n_annotators", "n_ratings", "percent_agreement", "fleiss_kappa",
                    "krippendorff_alpha", "gwet_ac1", "scott_pi"):
            self.assertEqual(mat[key], csv_js[key], key)
        self.assertEqual(list(mat["per_label"].values()), list(csv_js["per_label"].values()))
        self.assertEqual(len(mat["pairs"]), n_ann * (n_ann - 1) // 2)
        # the CSV numbers annotators as they first appear: match pairs by name
        ref = {tuple(sorted((int(q["a"][3:]), int(q["b"][3:])))): q for q in csv_js["pairs"]}
        for p in mat["pairs"]:
            q = ref[(int(p["a"]), int(p["b"]))]
            self.assertEqual((p["n"], p["agreement"], p["cohen_kappa"]),
                             (q["n"], q["agreement"], q["cohen_kappa"]))

    def test_matrix_matches_csv_and_peers(self):
        rng = np.random.default_rng(21)
        shapes = ((300, 4, 5, 0.3, "i1"), (500, 6, 3, 0.5, "i8"), (200, 2, 7, 0.0, "u1"),
                  (400, 3, 4, 0.2, "f4"), (250, 5, 3, 0.4, "f8"), (300, 7, 2, 0.3, "i2"))
        for n_items, n_ann, n_labels, missing, dtype in shapes:
            m = random_table(rng, n_items, n_ann, n_labels, missing)
            m[:, 0] = np.where((m >= 0).sum(1) == 0, 0, m[:, 0])  # every item rated: same items
            names = [str(c) for c in range(n_labels)]
            csv_path = os.path.join(WORK, "matrix.csv")
            write_ratings(csv_path, m, names)
            x = m.astype(dtype)
            if dtype.startswith("f"):
                x[m < 0] = np.nan if dtype == "f4" else -2.5  # NaN or any negative: no rating
            npy = os.path.join(WORK, f"matrix_{dtype}.npy")
            np.save(npy, x)
            for weights in ("none", "quadratic"):
                mat = hitl("agreement", "--matrix", npy, "--weights", weights, "--bootstrap", 0,
                           "--json")
                ref = hitl("agreement", "--ratings", csv_path, "--weights", weights,
                           "--bootstrap", 0, "--json")
                self.assertEqual(mat["matrix"], npy)
                self.assertEqual(mat["n_items"], n_items)
                self.check_same(mat, ref, n_ann)
                for p in mat["pairs"]:
                    a, b = int(p["a"]), int(p["b"])
                    both = (m[:, a] >= 0) & (m[:, b] >= 0)
                    want = cohen_kappa_score(m[both, a], m[both, b], labels=range(n_labels),
                                             weights=None if weights == "none" else weights)
                    self.assertAlmostEqual(p["cohen_kappa"], want, delta=TOL, msg=dtype)
            # alpha against NLTK: nominal, and interval on the label indices
            data = triples(m, np.arange(n_labels, dtype=float))
            for level, dist in (("nominal", binary_distance), ("interval", interval_distance)):
                mat = hitl("agreement", "--matrix", npy, "--level", level, "--bootstrap", 0,
                           "--json")
                want = AnnotationTask(data, distance=dist).alpha()
                self.assertAlmostEqual(mat["krippendorff_alpha"], want, delta=TOL, msg=level)
            # with a bootstrap (through a ratings table), the estimate is unchanged
            boot = hitl("agreement", "--matrix", npy, "--bootstrap", 50, "--json")
            lo, hi = boot["ci"]["krippendorff_alpha"]
            self.assertLessEqual(lo, boot["krippendorff_alpha"])
            self.assertGreaterEqual(hi, boot["krippendorff_alpha"])

    def test_hdf5_matrix_with_class_names(self):
        rng = np.random.default_rng(22)
        m = random_table(rng, 300, 4, 3, 0.25)
        m[:, 0] = np.where((m >= 0).sum(1) == 0, 1, m[:, 0])
        path = os.path.join(WORK, "matrix.h5")
        with h5py.File(path, "w") as f:
            d = f.create_dataset("crowd/labels", data=m.astype(np.int32), chunks=(64, 4))
            d.attrs["classes"] = ["cat", "dog", "owl"]
        csv_path = os.path.join(WORK, "matrix_h5.csv")
        write_ratings(csv_path, m, ["cat", "dog", "owl"])
        labels = "cat,dog,owl"  # the CSV's order is then the matrix's
        mat = hitl("agreement", "--matrix", path + ":crowd/labels", "--bootstrap", 0, "--json")
        ref = hitl("agreement", "--ratings", csv_path, "--labels", labels, "--bootstrap", 0,
                   "--json")
        self.assertEqual(mat["labels"], ["cat", "dog", "owl"])
        self.assertEqual(list(mat["per_label"]), ["cat", "dog", "owl"])
        self.check_same(mat, ref, 4)
        # --labels renames them; numeric names are the interval level's values
        mat = hitl("agreement", "--matrix", path + ":/crowd/labels", "--labels", "1,2,10",
                   "--level", "interval", "--bootstrap", 0, "--json")
        data = triples(m, np.array([1.0, 2.0, 10.0]))
        self.assertAlmostEqual(mat["krippendorff_alpha"],
                               AnnotationTask(data, distance=interval_distance).alpha(), delta=TOL)

    def test_aggregate_matrix_matches_csv(self):
        rng = np.random.default_rng(23)
        m = random_table(rng, 400, 5, 4, 0.3)
        m[:, 0] = np.where((m >= 0).sum(1) == 0, 2, m[:, 0])
        npy = os.path.join(WORK, "agg.npy")
        np.save(npy, m.astype(np.int16))
        csv_path = os.path.join(WORK, "agg.csv")
        write_ratings(csv_path, m, ["a", "b", "c", "d"])
        common = ["--labels", "a,b,c,d", "--json"]
        mat = hitl("aggregate", "--matrix", npy, "--method", "majority", *common)
        ref = hitl("aggregate", "--ratings", csv_path, "--method", "majority", *common)
        self.assertEqual(mat["matrix"], npy)
        for key in ("n_items", "n_decided", "n_ties"):
            self.assertEqual(mat[key], ref[key], key)
        self.assertEqual([i["item"] for i in mat["items"]], [str(u) for u in range(400)])
        strip = [{k: v for k, v in i.items() if k != "item"} for i in mat["items"]]
        self.assertEqual(strip, [{k: v for k, v in i.items() if k != "item"}
                                 for i in ref["items"]])
        # Dawid-Skene: the same fit (the CSV numbers annotators in another order)
        mat = hitl("aggregate", "--matrix", npy, "--method", "dawid-skene", *common)
        ref = hitl("aggregate", "--ratings", csv_path, "--method", "dawid-skene", *common)
        self.assertAlmostEqual(mat["log_likelihood"], ref["log_likelihood"],
                               delta=1e-9 * abs(ref["log_likelihood"]))
        self.assertEqual([i["label"] for i in mat["items"]], [i["label"] for i in ref["items"]])
        for p, q in zip(mat["items"], ref["items"]):
            for k in "abcd":
                self.assertAlmostEqual(p["posterior"][k], q["posterior"][k], delta=1e-7)

    def test_matrix_refusals(self):
        bad = os.path.join(WORK, "bad.npy")
        np.save(bad, np.array([[0, 1], [1, 2.5]]))
        rc, out, err = run_rc("agreement", "--matrix", bad)
        self.assertEqual(rc, 3)
        self.assertIn("row 1, column 1: 2.5 is not a label", err)
        self.assertEqual(err.count("\n"), 1)
        np.save(bad, np.array([[0, 1], [127, 1]], dtype=np.int16))
        rc, out, err = run_rc("agreement", "--matrix", bad)
        self.assertEqual(rc, 3)
        self.assertIn("row 1, column 0: 127 is not a label (a whole number from 0 to 126", err)
        np.save(bad, np.array([[0, 1], [2, 1]], dtype=np.int8))
        rc, out, err = run_rc("agreement", "--matrix", bad, "--labels", "a,b")
        self.assertEqual(rc, 3)
        self.assertIn("item 1, annotator 0: label 2 out of range (2 labels)", err)
        np.save(bad, np.array([["a", "b"], ["c", "d"]]))
        rc, out, err = run_rc("agreement", "--matrix", bad)
        self.assertEqual(rc, 3)
        self.assertIn("unsupported dtype '<U1' (need integers, float32 or float64)", err)
        np.save(bad, np.array([[0], [1]], dtype=np.int8))
        rc, out, err = run_rc("agreement", "--matrix", bad)
        self.assertEqual(rc, 3)
        self.assertIn("only one annotator", err)
        rc, out, err = run_rc("agreement", "--matrix", bad, "--final", "x.csv")
        self.assertEqual(rc, 2)
        rc, out, err = run_rc("agreement", "--matrix", bad, "--ratings", "x.csv")
        self.assertEqual(rc, 2)
        rc, out, err = run_rc("agreement", "--matrix", os.path.join(WORK, "matrix.h5"))
        self.assertEqual(rc, 2)  # an HDF5 file needs :DSET
        rc, out, err = run_rc("agreement", "--matrix", os.path.join(WORK, "none.npy"))
        self.assertEqual(rc, 1)
        self.assertIn("cannot open", err)


def numpy_dawid_skene(m, k, iters, smoothing=0.01):
    """Dawid & Skene (1979) EM written from the paper in numpy: vote-share start, M-step with
    `smoothing` pseudo-counts, E-step; exactly `iters` iterations."""
    n, a = m.shape
    t = np.stack([(m == c).sum(1) for c in range(k)], 1).astype(float)
    t /= t.sum(1, keepdims=True)
    for _ in range(iters):
        prior = (t.sum(0) + smoothing) / (n + k * smoothing)
        conf = np.full((a, k, k), smoothing)
        for j in range(a):
            seen = m[:, j] >= 0
            for lab in range(k):
                conf[j, :, lab] += t[seen & (m[:, j] == lab)].sum(0)
        conf /= conf.sum(2, keepdims=True)
        logt = np.tile(np.log(prior), (n, 1))
        for j in range(a):
            seen = m[:, j] >= 0
            logt[seen] += np.log(conf[j][:, m[seen, j]]).T
        logt -= logt.max(1, keepdims=True)
        t = np.exp(logt)
        t /= t.sum(1, keepdims=True)
    return t, prior, conf


class AggregateInterop(unittest.TestCase):
    def test_dawid_skene_matches_numpy_and_beats_majority(self):
        rng = np.random.default_rng(6)
        n, k = 1500, 3
        truth = rng.choice(k, size=n, p=[0.5, 0.3, 0.2])
        good = np.eye(k) * 0.8 + 0.2 / k
        careless = np.array([[0.7, 0.2, 0.1]] * k)
        conf = [good, good, careless, careless, careless]
        m = np.full((n, 5), -1)
        for i in range(n):
            for a in rng.choice(5, size=3, replace=False):
                m[i, a] = rng.choice(k, p=conf[a][truth[i]])
        path = os.path.join(WORK, "ds.csv")
        write_ratings(path, m, ["a", "b", "c"])
        js = hitl("aggregate", "--ratings", path, "--method", "dawid-skene", "--max-iter", 40,
                  "--tol", "1e-300", "--json")
        self.assertEqual(js["iterations"], 40)
        self.assertFalse(js["converged"])
        t, prior, _ = numpy_dawid_skene(m, k, 40)
        got = np.array([[it["posterior"][c] for c in "abc"] for it in js["items"]])
        np.testing.assert_allclose(got, t, atol=1e-8)
        np.testing.assert_allclose([js["priors"][c] for c in "abc"], prior, atol=1e-8)
        # against the planted truth: Dawid-Skene beats majority vote (ties credited 1/tied)
        js = hitl("aggregate", "--ratings", path, "--method", "dawid-skene", "--json")
        self.assertTrue(js["converged"])
        ds_acc = np.mean([it["label"] == "abc"[truth[i]] for i, it in enumerate(js["items"])])
        mv = hitl("aggregate", "--ratings", path, "--method", "majority", "--json")
        mv_acc = 0.0
        for i, it in enumerate(mv["items"]):
            if it["status"] == "decided":
                mv_acc += it["label"] == "abc"[truth[i]]
            else:
                counts = np.bincount(m[i][m[i] >= 0], minlength=k)
                tied = np.flatnonzero(counts == counts.max())
                mv_acc += (truth[i] in tied) / len(tied)
        mv_acc /= n
        self.assertGreater(ds_acc, mv_acc + 0.02, (ds_acc, mv_acc))


class CalibrationInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(7)
        cls.files = {}
        for c, n in ((2, 3000), (6, 4000)):
            z = rng.normal(0, 2, (n, c))
            y = np.array([rng.choice(c, p=np.exp(r) / np.exp(r).sum()) for r in z])
            p = np.exp(z * 1.7)  # overconfident
            p = (p / p.sum(1, keepdims=True)).astype(np.float32)
            path = os.path.join(WORK, f"calib{c}.h5")
            with h5py.File(path, "w") as f:
                f["probs"] = p
                f["y"] = y
            cls.files[c] = (path, p.astype(np.float64), y)

    def run_calib(self, c, *extra):
        path = self.files[c][0]
        return hitl("calibrate", "--probs", f"{path}:probs", "--labels", f"{path}:y", "--json",
                    *extra)

    def test_reliability_bins_against_calibration_curve(self):
        for c in (2, 6):
            _, p, y = self.files[c]
            js = self.run_calib(c)
            conf, pred = p.max(1), p.argmax(1)
            correct = (pred == y).astype(int)
            prob_true, prob_pred = calibration_curve(correct, conf, n_bins=15, strategy="uniform")
            bins = [b for b in js["bins"] if b["count"] > 0]
            np.testing.assert_allclose([b["accuracy"] for b in bins], prob_true, atol=TOL)
            np.testing.assert_allclose([b["confidence"] for b in bins], prob_pred, atol=1e-7)
            # ECE from the same bins as sklearn's: sum |B_b| / n |acc_b - conf_b|
            ids = np.searchsorted(np.linspace(0, 1, 16)[1:-1], conf)
            counts = np.bincount(ids, minlength=15)
            ece = np.sum(counts[counts > 0] / len(y) * np.abs(prob_true - prob_pred))
            self.assertAlmostEqual(js["ece"], ece, delta=1e-7)
            mce = np.max(np.abs(prob_true - prob_pred))
            self.assertAlmostEqual(js["mce"], mce, delta=1e-7)
            # equal mass: ranks [floor(b n / B), floor((b + 1) n / B)) by confidence
            order = np.lexsort((np.arange(len(y)), conf))
            edges = (np.arange(16) * len(y)) // 15
            em = sum(abs(correct[order[s:e]].sum() - conf[order[s:e]].sum())
                     for s, e in zip(edges[:-1], edges[1:]))
            self.assertAlmostEqual(js["ece_equal_mass"], em / len(y), delta=1e-7)

    def test_scores_against_sklearn_and_statsmodels(self):
        for c in (2, 6):
            _, p, y = self.files[c]
            js = self.run_calib(c)
            pred = p.argmax(1)
            self.assertAlmostEqual(js["accuracy"], accuracy_score(y, pred), delta=TOL)
            lo, hi = proportion_confint(int((pred == y).sum()), len(y), method="wilson")
            np.testing.assert_allclose(js["accuracy_ci"], [lo, hi], atol=TOL)
            one_vs_rest = sum(brier_score_loss(y == k, p[:, k]) for k in range(c))
            self.assertAlmostEqual(js["brier_multiclass"], one_vs_rest, delta=1e-7)
            if c == 2:
                self.assertAlmostEqual(js["brier_multiclass"], 2 * brier_score_loss(y, p[:, 1]),
                                       delta=1e-7)
            top = brier_score_loss(pred == y, p.max(1))
            self.assertAlmostEqual(js["brier_top_label"], top, delta=1e-8)
            self.assertAlmostEqual(js["nll"], log_loss(y, p, labels=range(c)), delta=1e-7)
            self.assertEqual(js["confusion"], confusion_matrix(y, pred, labels=range(c)).tolist())
            prec, rec, f1, sup = precision_recall_fscore_support(y, pred, labels=range(c),
                                                                 zero_division=0)
            for k, row in enumerate(js["per_class"]):
                self.assertEqual(row["support"], sup[k])
                for key, want in (("precision", prec[k]), ("recall", rec[k]), ("f1", f1[k])):
                    if row[key] is not None:
                        self.assertAlmostEqual(row[key], want, delta=TOL)

    def test_float64_edges_against_calibration_curve(self):
        """Confidences exactly on the edges k/B, stored as float64: each is in the bin it closes,
        as calibration_curve puts it, whatever float32 would have made of it."""
        rng = np.random.default_rng(9)
        for B, n in ((15, 1500), (10, 1000)):
            top = np.concatenate([np.arange(8, B + 1) / B, rng.uniform(0.5, 1, n - (B - 7))])
            if B == 10:  # linspace's 0.6 and 0.7 are not 6/10 and 7/10: keep 0.8, 0.9, 1
                top = np.concatenate([[0.8, 0.9, 1.0] * 3, rng.uniform(0.5, 1, n - 9)])
            p = np.stack([top, 1 - top], 1)
            y = (rng.random(n) > top).astype(np.int64)
            path = os.path.join(WORK, f"edges{B}.h5")
            with h5py.File(path, "w") as f:
                f["probs"] = p
                f["y"] = y
            js = hitl("calibrate", "--probs", f"{path}:probs", "--labels", f"{path}:y", "--bins",
                      B, "--json")
            conf, correct = p.max(1), (p.argmax(1) == y).astype(int)
            prob_true, prob_pred = calibration_curve(correct, conf, n_bins=B, strategy="uniform")
            bins = [b for b in js["bins"] if b["count"] > 0]
            np.testing.assert_allclose([b["accuracy"] for b in bins], prob_true, atol=TOL)
            np.testing.assert_allclose([b["confidence"] for b in bins], prob_pred, atol=1e-12)
            ids = np.searchsorted(np.linspace(0, 1, B + 1)[1:-1], conf)
            self.assertEqual([b["count"] for b in js["bins"]],
                             np.bincount(ids, minlength=B).tolist())
            # the float32 rounding of these edges would move them up a bin
            f32 = np.searchsorted(np.linspace(0, 1, B + 1)[1:-1], conf.astype(np.float32))
            self.assertNotEqual(np.bincount(f32, minlength=B).tolist(),
                                [b["count"] for b in js["bins"]])

    def test_temperature_against_scipy(self):
        for c in (2, 6):
            _, p, y = self.files[c]
            js = self.run_calib(c, "--fit-temperature")
            z = np.log(np.maximum(p.astype(np.float32).astype(np.float64), 1e-15))

            def nll(log_t):
                s = z / np.exp(log_t)
                s -= s.max(1, keepdims=True)
                return np.mean(np.log(np.exp(s).sum(1)) - s[np.arange(len(y)), y])

            best = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100)), method="bounded",
                                   options={"xatol": 1e-9})
            t = js["temperature"]
            self.assertAlmostEqual(t["value"], np.exp(best.x), delta=1e-5 * np.exp(best.x))
            self.assertAlmostEqual(t["nll"], best.fun, delta=TOL)
            self.assertGreater(t["value"], 1.3)  # the data were sharpened by 1.7
            self.assertLess(t["nll"], js["nll"])


def main():
    global HITL, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORK = a.hitl, a.work
    os.makedirs(WORK, exist_ok=True)
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() and prog.result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

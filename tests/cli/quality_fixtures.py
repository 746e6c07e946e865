#!/usr/bin/env python3
"""Fixtures for tests/cli/quality.test (hitl agreement, aggregate, calibrate), then the shared
runner: `quality_fixtures.py --hitl H --work W quality.test` writes the files below into W and
runs run_cli_tests.main() on the same arguments. Every file is a published worked example or
small enough to check by hand; the bad ones hold exactly one fault each."""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_cli_tests  # noqa: E402

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers x 12 units
KRIPP = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# Fleiss (1971), Table 1: 30 patients x 6 psychiatrists, 5 diagnoses
FLEISS = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]
DIAGNOSES = ["depression", "personality disorder", "schizophrenia", "neurosis", "other"]


def write(path, text):
    with open(path, "w", newline="") as f:
        f.write(text)


def make_quality_fixtures(work):
    os.makedirs(work, exist_ok=True)
    j = lambda name: os.path.join(work, name)  # noqa: E731
    # Krippendorff's data, columns in another order plus an ignored one
    rows = ["annotator,comment,label,item"]
    for a, vals in KRIPP.items():
        rows += [f"{a},,{v},unit{u + 1}" for u, v in enumerate(vals) if v is not None]
    write(j("q-kripp.csv"), "\n".join(rows) + "\n")
    # its final labels: the majority of each unit (unit 6 and 12: none)
    final = {1: 1, 2: 2, 3: 3, 4: 3, 5: 2, 7: 4, 8: 1, 9: 2, 10: 5, 11: 1}
    write(j("q-final.csv"), "item,label\n" + "".join(f"unit{u},{v}\n" for u, v in final.items()))
    # Gwet (2014): two abstractors, 100 pregnancies (irrCAC's cont3x3abstractors)
    tab = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    names = ["Ectopic", "AIU", "NIU"]
    rows, u = ["item,annotator,label"], 0
    for i in range(3):
        for k in range(3):
            for _ in range(tab[i][k]):
                rows += [f"p{u},abstractor 1,{names[i]}", f"p{u},abstractor 2,{names[k]}"]
                u += 1
    write(j("q-abstractors.csv"), "\r\n".join(rows) + "\r\n")
    # Fleiss (1971), the diagnoses by name (quoted where they hold a space: RFC 4180 allows it)
    rows = ["item,annotator,label"]
    for p, r in enumerate(FLEISS):
        rows += [f'patient{p + 1},psychiatrist{k + 1},"{DIAGNOSES[v - 1]}"' for k, v in enumerate(r)]
    write(j("q-fleiss.csv"), "\n".join(rows) + "\n")
    # ordered words: low < mid < high only with --labels
    write(j("q-words.csv"), "item,annotator,label\n1,a,low\n1,b,mid\n2,a,high\n2,b,high\n"
          "3,a,mid\n3,b,mid\n4,a,low\n4,b,high\n")
    # majority vote by hand: i1 -> cat (2 of 3), i2 -> tie cat/dog, i3 -> dog
    write(j("q-votes.csv"), "item,annotator,label\ni1,a,cat\ni1,b,cat\ni1,c,dog\ni2,a,cat\n"
          "i2,b,dog\ni3,c,dog\ni3,a,dog\n")
    # Dawid-Skene: 2000 items, 2 careful annotators and 3 careless ones who mostly say "a"
    rng = np.random.default_rng(4)
    truth = rng.choice(3, size=2000, p=[0.5, 0.3, 0.2])
    conf = [np.eye(3) * 0.85 + 0.05] * 2 + [np.array([[0.8, 0.1, 0.1]] * 3)] * 3
    rows = ["item,annotator,label"]
    for i, t in enumerate(truth):
        for a in rng.choice(5, size=3, replace=False):
            rows.append(f"x{i},ann{a},{'abc'[rng.choice(3, p=conf[a][t])]}")
    write(j("q-ds.csv"), "\n".join(rows) + "\n")
    write(j("q-ds-truth.csv"), "item,label\n" + "".join(f"x{i},{'abc'[t]}\n"
                                                      for i, t in enumerate(truth)))
    # bad ratings files, one fault each
    write(j("q-empty.csv"), "")
    write(j("q-nolabel.csv"), "item,annotator,rating\n1,a,x\n1,b,y\n")
    write(j("q-header-only.csv"), "item,annotator,label\n")
    write(j("q-one-annotator.csv"), "item,annotator,label\n1,a,x\n2,a,y\n3,a,x\n")
    write(j("q-nonnumeric.csv"), "item,annotator,label\n1,a,3\n1,b,4\n2,a,3\n2,b,high\n")
    write(j("q-unclosed.csv"), 'item,annotator,label\n1,a,x\n1,b,"y\n2,a,x\n')
    write(j("q-twice.csv"), "item,annotator,label\n1,a,x\n1,b,y\n2,a,x\n1,a,y\n")
    write(j("q-fields.csv"), "item,annotator,label\n1,a,x\n1,b\n")
    write(j("q-apart.csv"), "item,annotator,label\n1,a,x\n2,b,y\n")
    # calibration: the 5 x 3 sample of tests/unit/check_engine_calibration.c (ECE .18 with 2
    # bins, by hand) and one bad file per fault
    probs = np.array([[.9, .05, .05], [.2, .7, .1], [.4, .3, .3], [.3, .3, .4], [.5, .5, 0]],
                     np.float32)
    with h5py.File(j("q-calib.h5"), "w") as f:
        f.create_dataset("probs", data=probs).attrs["classes"] = ["cat", "dog", "owl"]
        f["y"] = np.array([0, 0, 0, 1, 1], np.int64)
        f["y8"] = np.array([0, 0, 0, 1, 1], np.uint8)
        f["y0"] = np.zeros(5, np.int64)
        f["y_short"] = np.array([0, 0, 0, 1], np.int64)
        f["y_class7"] = np.array([0, 0, 7, 1, 1], np.int64)
        f["y_negative"] = np.array([0, 0, -1, 1, 1], np.int64)
        f["y_float"] = np.array([0, 0, 0, 1, 1], np.float32)
        bad = probs.copy()
        bad[3, 1] = np.nan
        f["probs_nan"] = bad
        off = probs.copy()
        off[2] *= 1.5
        f["probs_off"] = off
        f["one_class"] = np.ones((5, 1), np.float32)
    # float64 confidences on bin edges, binned as stored: 0.8 is in (0.7, 0.8] of 10 bins (its
    # float32 rounding, 0.800000012, would be in (0.8, 0.9]); 0.7 in (0.6, 0.7]
    edges = np.array([[.8, .2], [.2, .8], [.7, .3], [.9, .1]], np.float64)
    with h5py.File(j("q-edges.h5"), "w") as f:
        f["probs"] = edges
        f["y"] = np.array([0, 1, 1, 0], np.int64)
    np.save(j("q-edges.npy"), edges)
    np.save(j("q-calib.npy"), probs)
    np.save(j("q-y.npy"), np.array([0, 0, 0, 1, 1], np.uint16))  # .npy labels: any integer type
    np.save(j("q-y-col.npy"), np.array([[0], [0], [0], [1], [1]], np.int64))  # one column
    np.save(j("q-y-float.npy"), np.array([0, 0, 0.5, 1, 1]))  # not whole
    np.save(j("q-y-big.npy"), np.array([0, 0, 2 ** 63, 1, 1], np.uint64))
    write(j("q-not-hdf5.h5"), "not HDF5\n")


def main():
    args = sys.argv[1:]
    work = args[args.index("--work") + 1]
    make_quality_fixtures(work)
    return run_cli_tests.main()


if __name__ == "__main__":
    sys.exit(main())

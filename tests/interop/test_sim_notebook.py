#!/usr/bin/env python3
"""The learning-curve notebook of `hitl simulate`, checked against its real peers: h5py writes a
curves file in the layout the CLI writes, a small C writer (hitl_test_sim_notebook) writes the
notebook for the same numbers, nbformat validates it, ElementTree parses its chart, numpy
recomputes its table, and jupyter nbconvert runs it: the table its code cells print from the
HDF5 file is the one hitl wrote, cell for cell."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import unittest
import warnings
import xml.etree.ElementTree as ET

import h5py
import numpy as np

WRITER = WORK = None
SVG = "{http://www.w3.org/2000/svg}"
LABELLED = np.array([20.0, 40.0, 60.0, 80.0, 100.0])
SPENT = 2 * LABELLED  # two simulated annotators label every row: the x axis is labels spent


def make_curves():
    """Three strategies: random and margin-kcenter over three seeds with timings, entropy over
    one seed with a point that has no accuracy and no timings."""
    rng = np.random.default_rng(7)
    base = 0.9 - 0.5 * np.exp(-SPENT / 80)
    curves = {}
    for name, lift, seeds in (("random", 0.0, 3), ("margin-kcenter", 0.06, 3),
                              ("entropy", 0.03, 1)):
        acc = base + lift * (SPENT / 200) + rng.normal(0, 0.01, (seeds, len(LABELLED)))
        secs = rng.uniform(0.01, 0.2, (seeds, len(LABELLED)))
        if name == "entropy":
            acc[0, 2] = np.nan
            secs[:] = np.nan
        curves[name] = {"accuracy": np.round(acc, 4), "seconds": secs}
    return curves


def write_h5(path, curves):
    with h5py.File(path, "w") as f:
        f.attrs.create("strategies", list(curves), dtype=h5py.string_dtype())
        f.attrs["seeds"] = np.arange(1, 4, dtype=np.int64)
        for name, c in curves.items():
            g = f.create_group(name)
            g["labelled"] = LABELLED
            g["accuracy"] = c["accuracy"]
            g["seconds"] = c["seconds"]
            g["label_accuracy"] = np.ones_like(c["accuracy"])
            g["annotations"] = SPENT


def write_notebook(nb_path, curves_path, curves, baseline):
    spec = []
    for name, c in curves.items():
        acc, secs = c["accuracy"], c["seconds"]
        has_secs = int(np.isfinite(secs).any())
        spec.append(f"series {name} {acc.shape[0]} {acc.shape[1]} {has_secs}")
        spec.append(" ".join(map(repr, SPENT.tolist())))  # as hitl simulate passes them
        spec.append(" ".join(map(repr, acc.ravel().tolist())))
        if has_secs:
            spec.append(" ".join(map(repr, secs.ravel().tolist())))
    p = subprocess.run([WRITER, nb_path, curves_path, baseline or "-"], input="\n".join(spec),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"the writer failed ({p.returncode}): {p.stderr}")


def md_table(nb):
    """The results table hitl wrote: rows of cells, the header first."""
    src = next(c.source for c in nb.cells if c.id.endswith("-results"))
    rows = [line.strip().strip("|").split(" | ") for line in src.splitlines()
            if line.startswith("| ")]
    rows = [[v.strip() for v in r] for r in rows]
    return [r for r in rows if not all(re.fullmatch(r":?-+:?", v) for v in r)]


def printed_table(text, first):
    """The table the notebook printed: from the line that starts with `first`, columns apart by
    two spaces or more."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start:]
            if line.strip() and not line.startswith("no final accuracy")]


def execute(nb_path, env=None):
    import nbformat
    out = nb_path[:-6] + ".executed.ipynb"
    p = subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", nb_path,
                        "--output", os.path.basename(out)], capture_output=True, text=True,
                       timeout=240, cwd=os.path.dirname(nb_path), env=env)
    if p.returncode != 0:
        raise AssertionError(f"nbconvert failed: {p.stderr[-3000:]}")
    return nbformat.read(out, as_version=4)


class SimNotebook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.curves = make_curves()
        write_h5(os.path.join(WORK, "curves.h5"), cls.curves)
        cls.nb_path = os.path.join(WORK, "sim.ipynb")
        write_notebook(cls.nb_path, "curves.h5", cls.curves, "random")

    def test_schema_and_chart(self):
        import nbformat
        nb = nbformat.read(self.nb_path, as_version=4)
        nbformat.validate(nb)
        self.assertEqual((nb.nbformat, nb.nbformat_minor), (4, 5))
        self.assertEqual(len({c.id for c in nb.cells}), len(nb.cells))
        self.assertEqual(nb.metadata.kernelspec.name, "python3")
        svgs = [o.data["image/svg+xml"] for c in nb.cells if c.cell_type == "code"
                for o in c.outputs]
        self.assertEqual(len(svgs), 1)
        root = ET.fromstring(svgs[0])
        self.assertEqual(root.tag, SVG + "svg")
        paths = root.findall(f".//{SVG}path")
        means = [p for p in paths if p.get("class") == "mean"]
        bands = [p for p in paths if p.get("class") == "band"]
        self.assertEqual([p.find(SVG + "title").text for p in means], list(self.curves))
        self.assertEqual(len(bands), 2)  # entropy has one seed
        self.assertEqual(means[0].get("stroke-dasharray"), "6 4")  # random: the baseline look
        self.assertEqual(means[2].get("d").count("M"), 2)  # entropy breaks at its NaN point
        legend = [t.text for t in root.iter(SVG + "text")]
        for name in self.curves:
            self.assertIn(name, legend)

    def test_table_matches_numpy(self):
        import nbformat
        nb = nbformat.read(self.nb_path, as_version=4)
        head, *rows = md_table(nb)
        with warnings.catch_warnings():  # entropy's NaN point is a column without a number
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = {n: np.nanmean(c["accuracy"], axis=0) for n, c in self.curves.items()}
        target = mean["random"][-1]
        self.assertEqual(head[4], f"labels to reach {target:.4f}")

        def reach(n):
            y = mean[n]
            ok = np.isfinite(y)
            x, y = SPENT[ok], y[ok]
            i = int(np.argmax(y >= target))
            if y[i] < target:
                return np.nan
            return x[0] if i == 0 else np.interp(target, y[i - 1:i + 1], x[i - 1:i + 1])

        for row, (name, c) in zip(rows, self.curves.items()):
            self.assertEqual(row[0], name)
            self.assertEqual(int(row[1]), c["accuracy"].shape[0])
            self.assertEqual(row[2], "200")
            final = c["accuracy"][:, -1]
            parts = row[3].split(" \u00b1 ")
            self.assertAlmostEqual(float(parts[0]), final.mean(), delta=5.1e-5)
            if len(final) > 1:
                self.assertAlmostEqual(float(parts[1]), final.std(ddof=1), delta=5.1e-5)
            else:
                self.assertEqual(len(parts), 1)
            want = reach(name)
            if np.isnan(want):
                self.assertEqual(row[4:6], ["never", "n/a"])
            else:
                self.assertAlmostEqual(float(row[4]), want, delta=0.051)
                if name == "random":
                    self.assertEqual(row[5], "baseline")
                else:
                    self.assertAlmostEqual(float(row[5].rstrip("%")),
                                           100 * (1 - want / reach("random")), delta=0.051)
            secs = c["seconds"][:, :-1]  # the rounds that picked a batch
            if np.isfinite(secs).any():
                self.assertAlmostEqual(float(row[6]), np.nanmedian(secs),
                                       delta=np.nanmedian(secs) * 5e-3)
            else:
                self.assertEqual(row[6], "n/a")

    def test_runs_and_prints_the_same_table(self):
        nb = execute(self.nb_path)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        self.assertFalse([o for o in outputs if o.output_type == "error"])
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        self.assertIn("3 strategies over 3 seeds (1, 2, 3): random, margin-kcenter, entropy",
                      printed)
        table = printed_table(printed, "strategy")[:1 + len(self.curves)]
        self.assertEqual(table, md_table(nb))
        self.assertIn("random: 1.0000 of the labels on the 100 training rows are right "
                      "(200 labels spent)", printed)
        # the chart was not run, so it is still there; matplotlib drew its own
        self.assertEqual(sum("image/svg+xml" in o.get("data", {}) for o in outputs), 1)
        self.assertEqual(sum("image/png" in o.get("data", {}) for o in outputs), 1)

    def test_without_baseline_or_matplotlib(self):
        nb_path = os.path.join(WORK, "plain.ipynb")
        write_notebook(nb_path, "curves.h5", self.curves, None)
        fake = os.path.join(WORK, "no-matplotlib", "matplotlib")
        os.makedirs(fake, exist_ok=True)
        with open(os.path.join(fake, "__init__.py"), "w") as f:
            f.write("raise ImportError('matplotlib hidden by the test')\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(fake))
        nb = execute(nb_path, env)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        self.assertFalse([o for o in outputs if o.output_type == "error"])
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        self.assertIn("matplotlib is not installed", printed)
        table = printed_table(printed, "strategy")[:1 + len(self.curves)]
        self.assertEqual(table, md_table(nb))
        self.assertEqual(len(table[0]), 5)  # no comparison columns without a baseline


def main():
    global WRITER, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--writer", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    WRITER, WORK = os.path.abspath(a.writer), os.path.abspath(a.work)
    if os.path.isdir(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""CLI tests as data: each block of a .test file is a command, its expected exit code and what
its stdout and stderr must (or must not) contain. Fixtures (good and bad input files) are made
here with numpy and h5py, so every case names a real file.

Block format (blocks start with '### name'; '#' lines are comments):
  ### what the case checks
  args: score {work}/nan.h5 --probs probs        (shell words; {work}, {datasets} expanded)
  exit: 3
  stdout: text that must appear                  (repeatable)
  stderr: text that must appear                  (repeatable)
  not-stdout: text that must not appear          (repeatable)
  stderr-lines: 1                                (exact number of stderr lines)
  json: top.0.row = 1790                         (stdout parsed as JSON; dotted path = value)
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = os.path.normpath(os.path.join(HERE, "..", "..", "datasets"))


def write_npy_fortran(path, a):
    np.save(path, np.asfortranarray(a))


def make_fixtures(work):
    """Small files whose scores are known by hand, and one file per kind of bad input."""
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(4), size=1000).astype(np.float32)
    # rows 10 and 20 tie exactly at margin 1 (two equal top probabilities)
    probs[10] = [0.4, 0.4, 0.1, 0.1]
    probs[20] = [0.1, 0.45, 0.45, 0.0]
    with h5py.File(os.path.join(work, "pool.h5"), "w") as f:
        d = f.create_dataset("probs", data=probs, chunks=(7, 4))
        d.attrs["classes"] = ["cat", "dog", "fox", "owl"]
        f.create_dataset("ids", data=np.arange(1000, dtype=np.int64) + 5000)
        f.create_dataset("sids", data=[f"item-{i}" for i in range(1000)],
                         dtype=h5py.string_dtype())
        f.create_dataset("uids", data=[f"\u00e9t\u00e9-{i}" for i in range(1000)],
                         dtype=h5py.string_dtype())
        f.create_dataset("logits", data=np.log(np.maximum(probs, 1e-30)).astype(np.float32))
        f.create_dataset("probs64", data=probs.astype(np.float64))
        f["probs64"].attrs["classes"] = "cat,dog,fox,owl"  # one comma-joined string
        f.create_dataset("rank1", data=probs[:, 0])
        f.create_dataset("rank3", data=probs.reshape(1000, 2, 2))
        f.create_dataset("ints", data=(probs * 100).astype(np.int64))
        f.create_dataset("one_class", data=np.ones((10, 1), np.float32))
        bad = probs.copy()
        bad[123, 2] = np.nan
        f.create_dataset("nan_row", data=bad)
        neg = probs.copy()
        neg[456, 0] = -0.25
        neg[456, 1] += 0.25
        f.create_dataset("negative_row", data=neg)
        off = probs.copy()
        off[789] *= 1.01
        f.create_dataset("sum_off", data=off)
        f.create_dataset("short_ids", data=np.arange(10, dtype=np.int64))
    np.save(os.path.join(work, "pool.npy"), probs)
    write_npy_fortran(os.path.join(work, "fortran.npy"), probs)
    np.save(os.path.join(work, "ints.npy"), (probs * 100).astype(np.int32))
    with open(os.path.join(work, "not_hdf5.h5"), "w") as f:
        f.write("this is not an HDF5 file\n")


def parse_blocks(path):
    blocks, cur = [], None
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("### "):
                cur = {"name": line[4:].strip(), "line": lineno, "checks": []}
                blocks.append(cur)
            elif not line.strip() or line.startswith("#"):
                continue
            elif cur is None:
                raise SystemExit(f"{path}:{lineno}: text before the first '### ' block")
            else:
                key, _, value = line.partition(":")
                cur["checks"].append((key.strip(), value.strip()))
    return blocks


def json_path(obj, path):
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def run_block(hitl, work, b):
    subs = {"work": work, "datasets": DATASETS}
    checks = b["checks"]
    args = next(v for k, v in checks if k == "args")
    argv = [hitl] + [w.format(**subs) for w in shlex.split(args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    fails = []
    for key, value in checks:
        value_x = value.format(**subs) if key != "json" else value
        if key == "args":
            continue
        if key == "exit" and p.returncode != int(value):
            fails.append(f"exit {p.returncode}, want {value}")
        elif key == "stdout" and value_x not in p.stdout:
            fails.append(f"stdout lacks {value_x!r}")
        elif key == "not-stdout" and value_x in p.stdout:
            fails.append(f"stdout has {value_x!r}")
        elif key == "stderr" and value_x not in p.stderr:
            fails.append(f"stderr lacks {value_x!r}")
        elif key == "stderr-lines" and len(p.stderr.splitlines()) != int(value):
            fails.append(f"stderr has {len(p.stderr.splitlines())} lines, want {value}")
        elif key == "json":
            path, _, want = value.partition("=")
            try:
                got = json_path(json.loads(p.stdout), path.strip())
                if got != json.loads(want.strip()):
                    fails.append(f"json {path.strip()} = {got!r}, want {want.strip()}")
            except (ValueError, KeyError, IndexError, TypeError) as e:
                fails.append(f"json {path.strip()}: {e!r}")
        elif key not in ("exit", "stdout", "not-stdout", "stderr", "stderr-lines", "json"):
            fails.append(f"unknown check {key!r}")
    return fails, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("tests", nargs="+")
    a = ap.parse_args()
    make_fixtures(a.work)
    passed = failed = 0
    for t in a.tests:
        for b in parse_blocks(t):
            fails, p = run_block(a.hitl, a.work, b)
            if fails:
                failed += 1
                print(f"FAIL {os.path.basename(t)}:{b['line']} {b['name']}")
                for f in fails:
                    print(f"    {f}")
                print(f"    stdout: {p.stdout[:500]!r}\n    stderr: {p.stderr[:500]!r}")
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())

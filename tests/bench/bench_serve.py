#!/usr/bin/python3
"""Load benchmark of `hitl serve` (issue 16): 32 concurrent keep-alive HTTP annotator clients,
each looping GET /api/v1/next then POST /api/v1/items/ID/label, for --seconds on a 100,000-item
queue with overlap 2; side by side, the same loop through the command line (`hitl next --json`
then `hitl label`, one process each) and through the io library (tests/stress/annotator.c, the
`hitl_test_annotator` that bench_store.py uses: hitl_store_next then hitl_store_label in one
process per annotator). Not a test: run by hand (tests/bench/README.md).

What is measured, per loop: labels per second (labels answered, over the wall time of the
phase), p50 / p90 / p99 of one next+label round trip (from sending the next request to having
the label's answer), and for the server its peak RSS (VmHWM of /proc/PID/status, read before it
is stopped) and CPU seconds, with the clients' own CPU seconds beside them (the clients share
the machine's cores with the server). After each loop the store is checked: the labels in it
are exactly the labels that were answered 200 (none lost, none doubled), no item holds more
labels than the overlap, and `hitl audit verify` passes.

Each loop runs on its own copy of one freshly built store (hitl init, hitl queue --data, hitl
user add for the HTTP accounts). The clients are --client-procs Python processes with --clients
threads between them, each thread one account on one keep-alive http.client connection (with --python-clients), or by
default tests/bench/serve_client.c (hitl_serve_client: one C thread per account on its own
keep-alive connection, a few microseconds of CPU a request, so that on a 2-core machine the
clients do not take the cores the server is measured on); they start together at a set time,
after the server is up.

Run:  /usr/bin/python3 tests/bench/bench_serve.py               (60 s of HTTP load, ~2 min)
      /usr/bin/python3 tests/bench/bench_serve.py --seconds 20
Needs the project built (build/cli/hitl, build/tests/hitl_test_annotator) and Debian's
python3-numpy and python3-h5py.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLASSES = ["cat", "dog", "owl"]

# issue 16's goals for the HTTP loop
GOALS = {"labels_per_s": 2000.0, "p99_ms": 25.0, "rss_mib": 100.0}


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def fmt(v, spec="%.2f"):
    return "-" if v is None else spec % v


def label_of(item):
    return CLASSES[zlib.crc32(item.encode()) % len(CLASSES)]


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stderr.strip()}")
    return p


# ---- the store ----------------------------------------------------------------------------

def build_store(hitl, work, n, overlap, accounts):
    """A fresh store of n items (90% uncertainty, 10% blind) with payloads, and the HTTP
    accounts: (path, {name: token})."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(16)
    ids = [f"item-{i:06d}" for i in range(n)]
    pool = os.path.join(work, "pool.h5")
    with h5py.File(pool, "w") as f:
        f["probs"] = rng.dirichlet(np.full(len(CLASSES), 0.8), size=n).astype(np.float32)
        f["ids"] = np.array(ids, dtype=object).astype(h5py.string_dtype("utf-8"))
    jsonl = os.path.join(work, "items.jsonl")
    words = ["leaf", "stone", "river", "cloud", "ember", "frost", "meadow", "salt"]
    with open(jsonl, "w") as f:
        for i, item in enumerate(ids):
            text = " ".join(words[(i * 7 + k) % len(words)] for k in range(8 + i % 9))
            f.write(json.dumps({"id": item, "text": text, "image": f"img/{i}.png"}) + "\n")
    db = os.path.join(work, "template.db")
    run([hitl, "init", db, "--classes", ",".join(CLASSES), "--overlap", str(overlap),
         "--actor", "bench"])
    run([hitl, "queue", db, "--from", pool, "--probs", "probs", "--ids", "ids", "--method",
         "margin", "--top-k", str(n - n // 10), "--blind", str(n // 10), "--seed", "1",
         "--data", jsonl, "--actor", "bench"])
    tokens = {}
    for name in accounts:
        p = run([hitl, "user", "add", db, name, "--role", "annotator", "--json",
                 "--actor", "bench"])
        tokens[name] = json.loads(p.stdout)["token"]
    return db, tokens


def fresh_copy(template, path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copy(template, path)  # closed by the last command: the file is the whole store
    return path


def check_store(hitl, db, answered, overlap):
    """answered: (item, annotator) pairs that got their label. The store must hold exactly
    those, no item over the overlap, and verify."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        stored = con.execute("SELECT i.pool_id, l.annotator FROM labels l JOIN items i "
                             "ON i.id = l.item").fetchall()
        most = con.execute("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM labels "
                           "GROUP BY item)").fetchone()[0]
        over = con.execute("SELECT count(*) FROM items WHERE n_labels > required").fetchone()[0]
    finally:
        con.close()
    t = time.perf_counter()
    v = subprocess.run([hitl, "audit", "verify", db], capture_output=True, text=True)
    verify_s = time.perf_counter() - t
    s_stored, s_answered = set(stored), set(answered)
    return {"labels_answered": len(answered), "labels_stored": len(stored),
            "answered_twice": len(answered) - len(s_answered),
            "lost": len(s_answered - s_stored), "unanswered_in_store": len(s_stored - s_answered),
            "max_labels_per_item": most, "items_over_overlap": over,
            "overlap": overlap, "audit_verify_exit": v.returncode,
            "audit_verify_s": round(verify_s, 2), "audit_verify_err": v.stderr.strip()[:300],
            "ok": (s_stored == s_answered and len(answered) == len(s_answered)
                   and most <= overlap and over == 0 and v.returncode == 0)}


# ---- the HTTP clients (a child process: --worker) -------------------------------------------

def client_thread(port, name, token, start_at, end_at, out):
    import http.client
    from urllib.parse import quote
    lat, done, errors, conns, empty = [], [], {}, 0, 0
    get_h = {"Authorization": "Bearer " + token}
    post_h = {**get_h, "X-Hitl-Request": "1", "Content-Type": "application/json"}
    conn = None
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < end_at:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conns += 1
            t0 = time.perf_counter()
            conn.request("GET", "/api/v1/next", headers=get_h)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                errors[f"next {r.status}"] = errors.get(f"next {r.status}", 0) + 1
                continue
            item = json.loads(body)["item"]
            if item is None:
                empty += 1
                break
            conn.request("POST", "/api/v1/items/%s/label" % quote(item, safe=""),
                         body=json.dumps({"label": label_of(item)}), headers=post_h)
            r = conn.getresponse()
            r.read()
            t1 = time.perf_counter()
            if r.status == 200:
                lat.append((t1 - t0) * 1e3)
                done.append(item)
            else:
                errors[f"label {r.status}"] = errors.get(f"label {r.status}", 0) + 1
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
    finished = time.time()
    if conn is not None:
        conn.close()
    out[name] = {"latency_ms": lat, "items": done, "errors": errors, "connections": conns,
                 "nothing_left": empty, "finished_at": finished}


def run_worker(opts):
    with open(opts.tokens) as f:
        tokens = json.load(f)
    out, threads = {}, []
    for name in opts.names.split(","):
        t = threading.Thread(target=client_thread,
                             args=(opts.port, name, tokens[name], opts.start_at,
                                   opts.start_at + opts.seconds, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    with open(opts.out, "w") as f:
        json.dump(out, f)
    return 0


# ---- the three loops --------------------------------------------------------------------------

def proc_status(pid):
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "Threads"):
                got[k] = int(v.split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    got["cpu_s"] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return got


def children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def http_loop(opts, db, tokens, work):
    log = os.path.join(work, "serve.log")
    argv = [opts.hitl, "serve", db, "--listen", "127.0.0.1:0"]
    if opts.server_threads:
        argv += ["--threads", str(opts.server_threads)]
    if opts.quiet:
        argv.append("--quiet")
    with open(log, "w") as logf:
        server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=logf)
    port = None
    for _ in range(500):
        with open(log) as f:
            m = re.match(r"hitl serve: listening on http://127\.0\.0\.1:(\d+)/", f.readline())
        if m:
            port = int(m.group(1))
            break
        if server.poll() is not None:
            break
        time.sleep(0.01)
    if port is None:
        server.kill()
        sys.exit(f"hitl serve did not start: {open(log).read()[-500:]}")
    names = sorted(tokens)
    tok_file = os.path.join(work, "tokens.json")
    with open(tok_file, "w") as f:
        json.dump(tokens, f)
    procs, outs = [], []
    start_at = time.time() + 1.5  # every client process up and waiting before the clock starts
    k = max(1, min(opts.client_procs, len(names)))
    cpu0, srv0 = children_cpu(), proc_status(server.pid)["cpu_s"]
    if opts.python_clients:
        for i in range(k):
            out = os.path.join(work, f"clients-{i}.json")
            outs.append(out)
            procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--worker", "--port", str(port),
                 "--tokens", tok_file, "--names", ",".join(names[i::k]), "--start-at",
                 repr(start_at), "--seconds", str(opts.seconds), "--out", out]))
    else:  # one process, a thread and a keep-alive connection per account (serve_client.c)
        k = 1
        out = os.path.join(work, "clients-c.json")
        outs.append(out)
        procs.append(subprocess.Popen([opts.client_bin, str(port), tok_file, repr(start_at),
                                       str(opts.seconds), out]))
    for p in procs:
        if p.wait() != 0:
            server.kill()
            sys.exit("a client process failed")
    st = proc_status(server.pid)
    client_cpu = children_cpu() - cpu0
    t = time.perf_counter()
    server.send_signal(signal.SIGTERM)
    rc = server.wait(timeout=60)
    stop_s = time.perf_counter() - t
    clients = {}
    for out in outs:
        with open(out) as f:
            clients.update(json.load(f))
    wall = max(c["finished_at"] for c in clients.values()) - start_at
    lat = [x for c in clients.values() for x in c["latency_ms"]]
    answered = [(item, name) for name, c in clients.items() for item in c["items"]]
    errors = {}
    for c in clients.values():
        for e, n in c["errors"].items():
            errors[e] = errors.get(e, 0) + n
    with open(log) as f:
        text = f.read()
    log_lines = sum(1 for line in text.splitlines() if not line.startswith("hitl serve:"))
    leaked = any(tok in text for tok in tokens.values())
    res = summary("HTTP (hitl serve)", len(names), len(answered), wall, lat)
    res.update({"server_peak_rss_mib": st["VmHWM"] / 1024, "server_rss_end_mib":
                st["VmRSS"] / 1024, "server_threads": st["Threads"],
                "server_cpu_s": round(st["cpu_s"] - srv0, 2),
                "server_cpu_ms_per_label": ((st["cpu_s"] - srv0) * 1e3 / len(answered)
                                            if answered else None),
                "clients_cpu_s": round(client_cpu, 2), "client_processes": k,
                "errors": errors, "connections": sum(c["connections"] for c in clients.values()),
                "clients_with_nothing_left": sum(c["nothing_left"] > 0 for c in clients.values()),
                "server_exit": rc, "server_stop_s": round(stop_s, 2), "log_lines": log_lines,
                "token_in_log": leaked})
    res["store"] = check_store(opts.hitl, db, answered, opts.overlap)
    return res


def summary(name, clients, labels, wall, lat):
    return {"loop": name, "clients": clients, "labels": labels, "seconds": round(wall, 2),
            "labels_per_s": labels / wall if wall > 0 else None,
            "p50_ms": pct(lat, 0.5), "p90_ms": pct(lat, 0.9), "p99_ms": pct(lat, 0.99),
            "max_ms": max(lat) if lat else None}


def cli_loop(opts, db):
    """`hitl next --json` then `hitl label`, one process each, by --cli-clients annotators at
    once for --cli-seconds."""
    names = [f"cli-{i:02d}" for i in range(opts.cli_clients)]
    lat, answered, errors = [], [], []
    lock = threading.Lock()
    start = time.time()
    end = start + opts.cli_seconds

    def annotator(name):
        while time.time() < end:
            t0 = time.perf_counter()
            p = subprocess.run([opts.hitl, "next", db, "--annotator", name, "--json"],
                               capture_output=True, text=True)
            if p.returncode != 0:
                with lock:
                    errors.append(p.stderr.strip())
                continue
            item = json.loads(p.stdout)["item"]
            if item is None:
                return
            q = subprocess.run([opts.hitl, "label", db, item, label_of(item), "--annotator",
                                name], capture_output=True, text=True)
            dt = (time.perf_counter() - t0) * 1e3
            with lock:
                if q.returncode == 0:
                    lat.append(dt)
                    answered.append((item, name))
                else:
                    errors.append(q.stderr.strip())

    cpu0 = children_cpu()
    threads = [threading.Thread(target=annotator, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - start
    res = summary("CLI (hitl next + hitl label)", len(names), len(answered), wall, lat)
    res.update({"clients_cpu_s": round(children_cpu() - cpu0, 2), "errors": len(errors),
                "first_error": errors[0][:300] if errors else None})
    res["store"] = check_store(opts.hitl, db, answered, opts.overlap)
    return res


def library_loop(opts, db, work):
    """tests/stress/annotator.c: hitl_store_next then hitl_store_label, one process per
    annotator (as bench_store.py runs it), --lib-per-worker round trips each."""
    if not os.access(opts.worker_bin, os.X_OK):
        return {"loop": "library (hitl_test_annotator)", "skipped":
                f"{opts.worker_bin} is not built"}
    n = opts.lib_workers or opts.clients
    logs = [os.path.join(work, f"lib-{i:02d}.log") for i in range(n)]
    cpu0 = children_cpu()
    start = time.time()
    procs = [subprocess.Popen([opts.worker_bin, db, f"lib-{i:02d}", str(i + 1), logs[i],
                               "--max", str(opts.lib_per_worker)], stderr=subprocess.PIPE,
                              text=True) for i in range(n)]
    errors = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0 or err:
            errors.append(err.strip())
    wall = time.time() - start
    lat, answered = [], []
    for i, path in enumerate(logs):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    answered.append((parts[0], f"lib-{i:02d}"))
                    lat.append(float(parts[2]) * 1e3)
    res = summary("library (hitl_test_annotator)", n, len(answered), wall, lat)
    res.update({"clients_cpu_s": round(children_cpu() - cpu0, 2), "errors": len(errors),
                "first_error": errors[0][:300] if errors else None,
                "note": "processes start together; the wall time includes their start"})
    res["store"] = check_store(opts.hitl, db, answered, opts.overlap)
    return res


# ---- report ---------------------------------------------------------------------------------

def machine_info():
    info = {"python": platform.python_version(), "nproc": os.cpu_count(),
            "uname": " ".join(platform.uname()[:3]),
            "load_average_1min_before": round(os.getloadavg()[0], 2)}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        info["git"] = (rev or "no commit") + ("-dirty" if dirty else "")
    except OSError:
        pass
    return info


def print_table(loops):
    print("\n%-32s %7s %8s %8s %9s %8s %8s %8s %9s" % (
        "loop", "clients", "labels", "seconds", "labels/s", "p50 ms", "p90 ms", "p99 ms",
        "RSS MiB"))
    for r in loops:
        if "skipped" in r:
            print("%-32s skipped: %s" % (r["loop"], r["skipped"]))
            continue
        print("%-32s %7d %8d %8.1f %9s %8s %8s %8s %9s" % (
            r["loop"], r["clients"], r["labels"], r["seconds"], fmt(r["labels_per_s"], "%.1f"),
            fmt(r["p50_ms"]), fmt(r["p90_ms"]), fmt(r["p99_ms"]),
            fmt(r.get("server_peak_rss_mib"), "%.1f")))
    print()
    for r in loops:
        if "store" in r:
            s = r["store"]
            print("%-32s store: %d answered, %d stored, %d lost, %d doubled, %d unanswered; "
                  "max %d labels an item (overlap %d); audit verify exit %d (%.1f s)%s" % (
                      r["loop"], s["labels_answered"], s["labels_stored"], s["lost"],
                      s["answered_twice"], s["unanswered_in_store"], s["max_labels_per_item"],
                      s["overlap"], s["audit_verify_exit"], s["audit_verify_s"],
                      "" if s["ok"] else "  << FAIL"))


def main():
    ap = argparse.ArgumentParser(description="Load benchmark of hitl serve "
                                             "(tests/bench/README.md).")
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build/cli/hitl"))
    ap.add_argument("--worker-bin", default=None, help="hitl_test_annotator (default: the same "
                    "build tree's tests/hitl_test_annotator)")
    ap.add_argument("--seconds", type=float, default=60, help="HTTP load duration (60)")
    ap.add_argument("--clients", type=int, default=32, help="HTTP annotator clients (32)")
    ap.add_argument("--client-procs", type=int, default=4,
                    help="Python processes the HTTP clients are spread over (4)")
    ap.add_argument("--items", type=int, default=100_000, help="queue length (100,000)")
    ap.add_argument("--overlap", type=int, default=2)
    ap.add_argument("--server-threads", type=int, default=0,
                    help="hitl serve --threads (default: the server's own)")
    ap.add_argument("--quiet", action="store_true",
                    help="hitl serve --quiet (by default each request is logged, to a file)")
    ap.add_argument("--cli-clients", type=int, default=8, help="CLI annotators at once (8)")
    ap.add_argument("--cli-seconds", type=float, default=10, help="CLI loop duration (10)")
    ap.add_argument("--lib-workers", type=int, default=0,
                    help="library annotator processes (default: --clients)")
    ap.add_argument("--lib-per-worker", type=int, default=400,
                    help="library round trips per process (400)")
    ap.add_argument("--python-clients", action="store_true",
                    help="HTTP clients in Python (http.client) instead of hitl_serve_client")
    ap.add_argument("--client-bin", default=os.path.join(ROOT, "build/tests/bench/hitl_serve_client"))
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--no-library", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", default=None,
                    help="results JSON (default tests/bench/results/serve-DATE.json)")
    ap.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    # child-process mode: a group of HTTP clients
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tokens", help=argparse.SUPPRESS)
    ap.add_argument("--names", help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        return run_worker(opts)
    opts.hitl = os.path.abspath(opts.hitl)
    bindir = os.path.dirname(os.path.dirname(opts.hitl))  # build/cli/hitl -> build
    opts.worker_bin = opts.worker_bin or os.path.join(bindir, "tests", "hitl_test_annotator")
    if not os.access(opts.hitl, os.X_OK):
        sys.exit(f"{opts.hitl} is not built")

    info = machine_info()
    if info["load_average_1min_before"] > 0.5:
        print("note: 1-minute load average %.2f: other work shares the cores, expect noisy "
              "figures" % info["load_average_1min_before"], flush=True)
    work = tempfile.mkdtemp(prefix="hitl-bench-serve-")
    try:
        t = time.perf_counter()
        accounts = [f"ann-{i:02d}" for i in range(opts.clients)]
        template, tokens = build_store(opts.hitl, work, opts.items, opts.overlap, accounts)
        print(f"store: {opts.items} items, overlap {opts.overlap}, {len(accounts)} accounts "
              f"(built in {time.perf_counter() - t:.1f} s)", flush=True)
        loops = []
        print(f"HTTP: {opts.clients} keep-alive clients for {opts.seconds:g} s ...", flush=True)
        loops.append(http_loop(opts, fresh_copy(template, os.path.join(work, "serve.db")),
                               tokens, work))
        if not opts.no_cli:
            print(f"CLI: {opts.cli_clients} annotators for {opts.cli_seconds:g} s ...",
                  flush=True)
            loops.append(cli_loop(opts, fresh_copy(template, os.path.join(work, "cli.db"))))
        if not opts.no_library:
            print(f"library: {opts.lib_workers or opts.clients} processes x "
                  f"{opts.lib_per_worker} ...", flush=True)
            loops.append(library_loop(opts, fresh_copy(template, os.path.join(work, "lib.db")),
                                      work))
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    print_table(loops)
    h = loops[0]
    print("\nHTTP: server CPU %.1f s (%s ms a label), clients' CPU %.1f s, over %.1f s of wall "
          "time on %d cores (1-minute load average %.1f before, %.1f after); %d connections for "
          "%d clients; errors %s; SIGTERM: exit %d in %.2f s; %d log lines%s"
          % (h["server_cpu_s"], fmt(h["server_cpu_ms_per_label"], "%.2f"), h["clients_cpu_s"],
             h["seconds"], os.cpu_count(), info["load_average_1min_before"],
             os.getloadavg()[0],
             h["connections"], h["clients"], h["errors"] or "none", h["server_exit"],
             h["server_stop_s"], h["log_lines"],
             "; A TOKEN IS IN THE LOG" if h["token_in_log"] else ""))
    goals = [("HTTP labels/s >= %g" % GOALS["labels_per_s"], h["labels_per_s"],
              h["labels_per_s"] is not None and h["labels_per_s"] >= GOALS["labels_per_s"]),
             ("HTTP p99 next+label < %g ms" % GOALS["p99_ms"], h["p99_ms"],
              h["p99_ms"] is not None and h["p99_ms"] < GOALS["p99_ms"]),
             ("server peak RSS < %g MiB" % GOALS["rss_mib"], h["server_peak_rss_mib"],
              h["server_peak_rss_mib"] < GOALS["rss_mib"]),
             ("no label lost or doubled, overlap kept, audit verifies (every loop)", None,
              all(r["store"]["ok"] for r in loops if "store" in r))]
    print()
    for name, v, ok in goals:
        print("  %-4s  %-70s %s" % ("PASS" if ok else "MISS", name, fmt(v, "%.1f")))
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "machine": info, "load_average_1min_after": round(os.getloadavg()[0], 2),
           "options": {k: v for k, v in vars(opts).items()
                       if k not in ("worker", "port", "tokens", "names", "start_at")},
           "loops": loops, "goals": [{"goal": n, "measured": v, "pass": ok}
                                     for n, v, ok in goals]}
    if not opts.no_save:
        path = opts.out or os.path.join(HERE, "results", "serve-%s.json" %
                                        datetime.date.today().isoformat())
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print("\nresults: %s" % os.path.relpath(path, os.getcwd()))
    return 0 if goals[-1][2] else 1


if __name__ == "__main__":
    sys.exit(main())

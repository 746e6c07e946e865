#!/usr/bin/python3
"""Benchmark of live decisions over `hitl serve` (issue 18). Not a test: run by hand.

Two measures, against issue 18's goals:

  submissions   decisions submitted per second (POST /api/v1/decisions, each answered 201
                once it is durable: its own synchronous=FULL transaction) by --clients
                concurrent keep-alive connections spread over --procs client processes, for
                --seconds; risks uniform in 0..1, so every route is taken. Goal >= 1,000/s.
  wake          the wait-to-wake latency with --waiters requests waiting at once (GET
                /api/v1/decisions/N?wait=120, one per decision, approve route, one approval
                required): one reviewer then approves the decisions one after another on a
                keep-alive connection, and each waiting request's answer is timed against its
                settling vote: from the vote being sent (the durable commit included) and from
                the vote's own answer. --rounds rounds. Goal p99 < 20 ms.

Printed as a table; the figures, the machine and the settings are written as JSON (--out, by
default tests/bench/results/decisions-DATE.json; --no-save for none). After the run the store
must hold exactly the decisions answered 201 and pass `hitl audit verify`.

Run:  /usr/bin/python3 tests/bench/bench_decisions.py                 (~40 s)
      /usr/bin/python3 tests/bench/bench_decisions.py --seconds 5 --rounds 1
Needs the project built (build/cli/hitl). Standard library only.
"""
import argparse
import asyncio
import datetime
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOALS = {"submissions_per_s": 1000.0, "wake_p99_ms": 20.0}
REASON = "benchmark approval: the amount matches the order"


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else None


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def proc_cpu(pid):
    """CPU seconds (user + system) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Threads", "VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


# ---- a minimal keep-alive HTTP/1.1 client on asyncio streams --------------------------------

class Conn:
    def __init__(self, port, token, source=None):
        self.port, self.token, self.source = port, token, source
        self.r = self.w = None

    async def open(self):
        self.r, self.w = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(self.source, 0) if self.source else None)

    async def request(self, method, path, body=None, keep=True):
        if self.w is None:
            await self.open()
        data = b"" if body is None else json.dumps(body).encode()
        self.w.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {self.token}\r\nX-Hitl-Request: 1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                      + ("" if keep else "Connection: close\r\n") + "\r\n").encode() + data)
        await self.w.drain()
        head = await self.r.readuntil(b"\r\n\r\n")
        status = int(head.split(None, 2)[1])
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        payload = await self.r.readexactly(int(m.group(1))) if m else await self.r.read()
        t = time.monotonic()
        if not keep or re.search(rb"(?i)\r\nconnection: *close", head):
            self.close()
        return status, json.loads(payload), t

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


# ---- the submission load: one client process ------------------------------------------------

def client_main(a):
    """--client: a.conns connections submitting until a.stop_at (time.time()); writes
    {"ok": n, "bad": n, "lat": [seconds, ...]} to a.result."""
    out = {"ok": 0, "bad": 0, "lat": []}
    rng = random.Random(a.seed)

    async def conn_loop(k):
        c = Conn(a.port, a.token)
        i = 0
        while time.time() < a.stop_at:
            i += 1
            body = {"id": f"{a.tag}-{k}-{i}", "action": f"refund {i}", "risk": rng.random(),
                    "payload": {"order": i, "amount": round(rng.uniform(1, 500), 2)}}
            t = time.monotonic()
            try:
                s, j, t1 = await c.request("POST", "/api/v1/decisions", body)
            except (OSError, EOFError, ValueError):
                out["bad"] += 1
                c.close()
                continue
            if s == 201:
                out["ok"] += 1
                out["lat"].append(t1 - t)
            else:
                out["bad"] += 1
        c.close()

    async def main():
        await asyncio.sleep(max(0.0, a.start_at - time.time()))
        await asyncio.gather(*[conn_loop(k) for k in range(a.conns)])

    asyncio.run(main())
    with open(a.result, "w") as f:
        json.dump(out, f)


def submissions(hitl, port, pid, token, work, opts):
    procs = []
    per = [opts.clients // opts.procs + (1 if k < opts.clients % opts.procs else 0)
           for k in range(opts.procs)]
    start_at = time.time() + 1.0
    stop_at = start_at + opts.seconds
    for k in range(opts.procs):
        res = os.path.join(work, f"client-{k}.json")
        procs.append((subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--client", "--port", str(port),
             "--token", token, "--conns", str(per[k]), "--start-at", repr(start_at),
             "--stop-at", repr(stop_at), "--tag", f"p{k}", "--seed", str(k), "--result", res]),
            res))
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, t0 = proc_cpu(pid), time.monotonic()
    peak = 0
    while time.time() < stop_at:
        peak = max(peak, proc_status(pid)["VmRSS"])
        time.sleep(0.2)
    cpu1, t1 = proc_cpu(pid), time.monotonic()
    ok = bad = 0
    lat = []
    for p, res in procs:
        p.wait()
        with open(res) as f:
            r = json.load(f)
        ok, bad, lat = ok + r["ok"], bad + r["bad"], lat + r["lat"]
    wall = t1 - t0
    return {"clients": opts.clients, "procs": opts.procs, "seconds": round(wall, 2),
            "answered_201": ok, "failed": bad, "per_s": ok / wall,
            "p50_ms": 1e3 * pct(lat, 0.5), "p99_ms": 1e3 * pct(lat, 0.99),
            "server_cpu_s": round(cpu1 - cpu0, 2), "server_rss_mib": peak / 1024}


# ---- wake latency ------------------------------------------------------------------------------

async def wake_round(port, svc, rev, n_wait, tag):
    sub = Conn(port, svc)
    ids = []
    for i in range(n_wait):
        s, j, _ = await sub.request("POST", "/api/v1/decisions",
                                    {"id": f"{tag}-{i}", "action": "refund", "risk": 0.95})
        assert s == 201 and j["status"] == "pending", (s, j)
        ids.append(j["decision"])
    sub.close()
    woke = {}

    async def wait(n):
        c = Conn(port, svc)
        s, j, t = await c.request("GET", f"/api/v1/decisions/{n}?wait=120", keep=False)
        woke[n] = (j["status"], t)

    waiters = [asyncio.create_task(wait(n)) for n in ids]
    await asyncio.sleep(1.0)
    assert not woke, "requests returned before any vote"
    order = ids[:]
    random.Random(tag).shuffle(order)
    voter = Conn(port, rev)
    sent = {}
    for n in order:
        t = time.monotonic()
        s, j, t1 = await voter.request("POST", f"/api/v1/decisions/{n}/approve",
                                       {"reason": REASON})
        assert s == 200 and j["status"] == "approved", (s, j)
        sent[n] = (t, t1)
        await asyncio.sleep(0.005)  # one settling vote at a time
    voter.close()
    await asyncio.wait_for(asyncio.gather(*waiters), 130)
    rows = []
    for n in ids:
        status, tw = woke[n]
        assert status == "approved", (n, status)
        rows.append((tw - sent[n][0], tw - sent[n][1], sent[n][1] - sent[n][0]))
    return rows


def wake(port, svc, rev, opts):
    rows = []
    for r in range(opts.rounds):
        rows += asyncio.run(wake_round(port, svc, rev, opts.waiters, f"wake{r}"))
    from_sent = [x[0] for x in rows]
    from_ack = [x[1] for x in rows]
    vote = [x[2] for x in rows]
    return {"waiters": opts.waiters, "rounds": opts.rounds, "samples": len(rows),
            "from_vote_sent_p50_ms": 1e3 * pct(from_sent, 0.5),
            "from_vote_sent_p99_ms": 1e3 * pct(from_sent, 0.99),
            "from_vote_sent_max_ms": 1e3 * max(from_sent),
            "from_vote_answer_p50_ms": 1e3 * pct(from_ack, 0.5),
            "from_vote_answer_p99_ms": 1e3 * pct(from_ack, 0.99),
            "vote_round_trip_p50_ms": 1e3 * pct(vote, 0.5),
            "vote_round_trip_p99_ms": 1e3 * pct(vote, 0.99)}


# ---- the run -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hitl", default=os.path.join(ROOT, "build", "cli", "hitl"))
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--waiters", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="hitl serve --threads")
    ap.add_argument("--work", default=None, help="kept when given (default: a temp dir)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-save", action="store_true")
    # one client process of the submission load (internal)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    for k in ("port", "token", "conns", "start-at", "stop-at", "tag", "seed", "result"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.client:
        opts.port, opts.conns, opts.seed = int(opts.port), int(opts.conns), int(opts.seed)
        opts.start_at, opts.stop_at = float(opts.start_at), float(opts.stop_at)
        return client_main(opts)

    hitl = os.path.abspath(opts.hitl)
    if not os.access(hitl, os.X_OK):
        sys.exit(f"no hitl at {hitl}: build it first (cmake --build build -j2)")
    work = opts.work or tempfile.mkdtemp(prefix="hitl-bench-decisions-")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "store.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.remove(f)
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"note: 1-minute load average {load:.2f}: other work shares the cores, expect "
              f"noisy figures")
    run([hitl, "init", db, "--classes", "yes,no", "--actor", "bench"])
    tok = {}
    for name, role in (("svc", "system"), ("rev", "reviewer")):
        tok[name] = json.loads(run([hitl, "user", "add", db, name, "--role", role, "--json",
                                    "--actor", "bench"]).stdout)["token"]
    argv = [hitl, "serve", db, "--listen", "127.0.0.1:0", "--quiet"]
    if opts.threads:
        argv += ["--threads", str(opts.threads)]
    srv = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    m = re.fullmatch(r"hitl serve: listening on http://127\.0\.0\.1:(\d+)/\n",
                     srv.stderr.readline())
    if not m:
        srv.kill()
        sys.exit("hitl serve did not start")
    port = int(m.group(1))
    try:
        print(f"submissions: {opts.clients} keep-alive clients in {opts.procs} processes for "
              f"{opts.seconds:g} s ...", flush=True)
        sub = submissions(hitl, port, srv.pid, tok["svc"], work, opts)
        run([hitl, "set", db, "decision-approvals", "high=1,flag=1", "--actor", "bench"])
        print(f"wake: {opts.waiters} waiting requests, {opts.rounds} rounds ...", flush=True)
        threads_before = proc_status(srv.pid)["Threads"]
        wk = wake(port, tok["svc"], tok["rev"], opts)
        st = proc_status(srv.pid)
        wk["server_threads"] = st["Threads"]
        wk["server_threads_before"] = threads_before
        peak_rss = st["VmHWM"] / 1024
    finally:
        srv.terminate()
        rc = srv.wait(30)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    stored = con.execute("SELECT count(*) FROM gates WHERE caller_id NOT LIKE 'wake%'").fetchone()
    con.close()
    verify = subprocess.run([hitl, "audit", "verify", db], capture_output=True, text=True)
    checks = {"server_exit": rc, "stored_equals_answered": stored[0] == sub["answered_201"],
              "stored": stored[0], "audit_verify": verify.returncode == 0}

    print()
    print("%-44s %12s" % ("submissions", ""))
    print("  %-42s %12d" % ("answered 201", sub["answered_201"]))
    print("  %-42s %12d" % ("failed", sub["failed"]))
    print("  %-42s %12.0f" % ("per second", sub["per_s"]))
    print("  %-42s %12.2f" % ("latency p50 ms", sub["p50_ms"]))
    print("  %-42s %12.2f" % ("latency p99 ms", sub["p99_ms"]))
    print("  %-42s %12.2f" % ("server CPU s (of %.1f s wall)" % sub["seconds"],
                              sub["server_cpu_s"]))
    print("  %-42s %12.1f" % ("server RSS MiB", sub["server_rss_mib"]))
    print("%-44s %12s" % (f"wake ({wk['waiters']} waiting, {wk['samples']} samples)", ""))
    for k, label in (("from_vote_sent_p50_ms", "from the vote sent, p50 ms"),
                     ("from_vote_sent_p99_ms", "from the vote sent, p99 ms"),
                     ("from_vote_sent_max_ms", "from the vote sent, max ms"),
                     ("from_vote_answer_p50_ms", "from the vote's answer, p50 ms"),
                     ("from_vote_answer_p99_ms", "from the vote's answer, p99 ms"),
                     ("vote_round_trip_p50_ms", "the vote's round trip, p50 ms"),
                     ("vote_round_trip_p99_ms", "the vote's round trip, p99 ms")):
        print("  %-42s %12.2f" % (label, wk[k]))
    print("  %-42s %12s" % ("server threads before / during",
                            f"{wk['server_threads_before']} / {wk['server_threads']}"))
    print("  %-42s %12.1f" % ("server peak RSS MiB", peak_rss))
    print()
    goals = [("submissions per second >= %g" % GOALS["submissions_per_s"],
              sub["per_s"] >= GOALS["submissions_per_s"], sub["per_s"]),
             ("wake p99 < %g ms (from the vote sent)" % GOALS["wake_p99_ms"],
              wk["from_vote_sent_p99_ms"] < GOALS["wake_p99_ms"], wk["from_vote_sent_p99_ms"]),
             ("wake p99 < %g ms (from the vote's answer)" % GOALS["wake_p99_ms"],
              wk["from_vote_answer_p99_ms"] < GOALS["wake_p99_ms"],
              wk["from_vote_answer_p99_ms"])]
    for name, ok, v in goals:
        print("  %-4s  %-50s %.1f" % ("PASS" if ok else "MISS", name, v))
    print("  store: %d decisions stored for %d answered; audit verify %s" % (
        stored[0], sub["answered_201"], "passes" if checks["audit_verify"] else "FAILS"))

    doc = {"bench": "decisions", "date": datetime.datetime.now(datetime.timezone.utc)
           .strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "load_1min": load, "python": platform.python_version()},
           "settings": {k: getattr(opts, k) for k in ("seconds", "clients", "procs", "waiters",
                                                      "rounds", "threads")},
           "submissions": sub, "wake": wk, "server_peak_rss_mib": peak_rss, "checks": checks,
           "goals": {name: {"met": ok, "value": v} for name, ok, v in goals}}
    if not opts.no_save:
        path = opts.out or os.path.join(HERE, "results", "decisions-%s.json" %
                                        datetime.date.today().isoformat())
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        print("\nresults: %s" % os.path.relpath(path, os.getcwd()))
    if not opts.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(v for k, v in checks.items() if k not in ("server_exit", "stored")) else 1


if __name__ == "__main__":
    sys.exit(main())

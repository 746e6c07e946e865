#!/usr/bin/env python3
"""`hitl serve` against its contract (issue 16), over real HTTP (the standard library's
http.client) on an ephemeral loopback port: every endpoint, every role, every error code.

Each test gets its own copy of one store (built with `hitl init`, `hitl queue --data` and `hitl
user add`) and its own server. Every refused request is checked against a dump of the whole store
(sqlite3 iterdump, read-only: items, labels, skips, decisions, leases, audit, accounts, meta)
taken before and after it. When a test ends its server is stopped with SIGTERM (exit 0 within
5 s), the store must pass `hitl audit verify`, the log must hold one line per request and no
token or session id. The failed-login limit blocks 127.0.0.1 for a minute, so those tests run
against servers of their own. Last, blind items must not be told apart from uncertainty items
by anything the server sends."""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
from datetime import datetime, timezone
from urllib.parse import quote

import h5py
import numpy as np

HITL = WORK = None
CLASSES = ["cat", "dog", "owl"]
ODD_IDS = ["a/b c", "héllo ✓", "q?x#y&z=1", "100%"]
ROLES = ("annotator", "reviewer", "admin", "system")
BODY_LIMIT = 64 * 1024
LEASE = 600


def hitl(*args, ok=True, **kw):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def sql(db, statement, *params):
    """A read-only query (never writes the store the server has open)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(statement, params).fetchall()
    finally:
        con.close()


def dump(db):
    """The whole store as SQL text, read-only: every table, leases and the audit chain too."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def add_user(db, name, role):
    p = hitl("user", "add", db, name, "--role", role, "--json", "--actor", "admin-cli")
    j = json.loads(p.stdout)
    assert list(j) == ["name", "role", "token"] and j["name"] == name and j["role"] == role, j
    assert re.fullmatch(r"[0-9a-f]{64}", j["token"]), j
    return j["token"]


def build_store(directory, ids, payloads, top_k, blind, overlap=2, show="never", seed=3):
    """A fresh store in `directory`: a pool of len(ids) rows (3 classes), every row queued (top_k
    by margin, blind at random), each with its payload."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    rng = np.random.default_rng(seed)
    pool = os.path.join(directory, "pool.h5")
    with h5py.File(pool, "w") as f:
        f["probs"] = rng.dirichlet(np.full(3, 0.8), size=len(ids)).astype(np.float32)
        f["ids"] = np.array(ids, dtype=object).astype(h5py.string_dtype("utf-8"))
    jsonl = os.path.join(directory, "items.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        for i, item in enumerate(ids):
            f.write(json.dumps({"id": item, **payloads[i]}, ensure_ascii=False) + "\n")
    db = os.path.join(directory, "store.db")
    hitl("init", db, "--classes", ",".join(CLASSES), "--overlap", overlap, "--show-prediction",
         show, "--min-justification", 20, "--lease", LEASE, "--actor", "admin-cli")
    hitl("queue", db, "--from", pool, "--probs", "probs", "--ids", "ids", "--method", "margin",
         "--top-k", top_k, "--blind", blind, "--seed", seed, "--data", jsonl,
         "--actor", "admin-cli")
    assert sql(db, "SELECT count(*) FROM items") == [(len(ids),)]
    return db


def queue_order(db):
    return [r[0] for r in sql(db, "SELECT pool_id FROM items ORDER BY position")]


def labels_of(db, annotator=None):
    q = ("SELECT i.pool_id, l.annotator, c.name FROM labels l JOIN items i ON i.id = l.item "
         "JOIN classes c ON c.idx = l.label")
    rows = sql(db, q + (" WHERE l.annotator = ?" if annotator else ""),
               *([annotator] if annotator else []))
    return sorted(rows)


def ordered(data):
    """JSON with its objects as lists of pairs: the order the server sent them in."""
    return json.loads(data, object_pairs_hook=lambda pairs: pairs)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        got = [v for k, v in self.headers if k.lower() == name.lower()]
        return got[0] if got else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


class Server:
    """`hitl serve DB --listen 127.0.0.1:0`: the port from its first stderr line, the rest of
    stderr collected by a thread."""

    def __init__(self, db, media=None, extra=()):
        argv = [HITL, "serve", db, "--listen", "127.0.0.1:0", *extra]
        if media:
            argv += ["--media", media]
        self.db = db
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                     errors="replace")
        self.first = self.proc.stderr.readline()
        m = re.fullmatch(r"hitl serve: listening on http://127\.0\.0\.1:(\d+)/\n", self.first)
        if not m:
            self.proc.kill()
            raise AssertionError(f"first stderr line: {self.first!r}")
        self.port = int(m.group(1))
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.requests = 0
        self.secrets = set()  # tokens and session ids: never in the log

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self):
        """SIGTERM: (exit code, seconds to exit)."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        dt = time.monotonic() - t
        self.reader.join(10)
        self.proc.stderr.close()
        return rc, dt

    def log(self):
        return "".join(self.lines)


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\S+) (\S+) (\d{3}) \d+\.\d ms (\S+) "
                      r"127\.0\.0\.1\n")


class ServeCase(unittest.TestCase):
    """Helpers: a server per test, requests that check the security headers of every response,
    refusals that check the store did not change."""

    maxDiff = None

    def start(self, db, media=None, extra=(), tokens=()):
        srv = Server(db, media, extra)
        srv.secrets |= set(tokens)
        self.addCleanup(self.finish, srv)
        return srv

    def finish(self, srv):
        """SIGTERM: exit 0 within 5 s; no secret in the log, one line per request; the store
        verifies (the exit time is checked last, so that a slow exit hides nothing else)."""
        rc, dt = srv.stop() if srv.proc.poll() is None else (srv.proc.returncode, 0.0)
        self.assertEqual(rc, 0, srv.log())
        log = srv.log()
        for s in srv.secrets:
            self.assertNotIn(s, log, "a token or session id is in the server's log")
        lines = [l for l in srv.lines if not l.startswith("hitl serve: ")]
        for l in lines:
            self.assertRegex(l, LOG_LINE)
        self.assertEqual(len(lines), srv.requests, "one log line per request:\n" + log)
        p = hitl("audit", "verify", srv.db, ok=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertLess(dt, 5.0, "SIGTERM: the server took too long to exit")

    def call(self, srv, method, path, body=None, token=None, cookie=None, csrf=True, raw=None,
             headers=None, chunked=False):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
            if len(token) >= 16:
                srv.secrets.add(token)
        if cookie is not None:
            h["Cookie"] = "hitl_session=" + cookie
        if method == "POST" and csrf:
            h.setdefault("X-Hitl-Request", "1")
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        try:
            if chunked:
                conn.request(method, path, body=iter([data[i:i + 4096]
                                                      for i in range(0, len(data), 4096)]),
                             headers=h, encode_chunked=True)
            else:
                conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Resp(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        srv.requests += 1
        self.check_headers(resp, path)
        return resp

    def check_headers(self, r, path):
        csp = r.header("Content-Security-Policy")
        self.assertIsNotNone(csp, f"{path}: no Content-Security-Policy")
        self.assertIn("frame-ancestors 'none'", csp, path)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", path)
        if path.startswith("/api/"):
            if path.split("?")[0].endswith(".svg") and r.status == 200:
                return  # a chart: test_charts checks its headers
            self.assertEqual(r.all("Cache-Control"), ["no-store"], path)
            self.assertTrue(r.header("Content-Type").startswith("application/json"), path)

    def ok(self, srv, method, path, status=200, **kw):
        r = self.call(srv, method, path, **kw)
        self.assertEqual(r.status, status, f"{method} {path}: {r.body[:300]!r}")
        return r.json

    def refused(self, srv, status, method, path, **kw):
        """The request is refused with `status` and {"error": "..."}; the store is unchanged."""
        before = dump(srv.db)
        r = self.call(srv, method, path, **kw)
        self.assertEqual(r.status, status, f"{method} {path}: {r.body[:300]!r}")
        self.assertIsInstance(r.json, dict, r.body[:300])
        self.assertEqual(list(r.json), ["error"], r.body[:300])
        self.assertIsInstance(r.json["error"], str)
        self.assertTrue(r.json["error"])
        self.assertEqual(dump(srv.db), before, f"the refused {method} {path} changed the store")
        return r

    @staticmethod
    def item_path(item, action=None):
        return f"/api/v1/items/{quote(item, safe='')}" + (f"/{action}" if action else "")


# ---- the store every API test starts from --------------------------------------------------

TEMPLATE = {}  # db, tokens by name, roles by name


def template():
    if TEMPLATE:
        return TEMPLATE
    ids = [f"doc-{i:02d}" for i in range(26)] + ODD_IDS
    payloads = [{"text": f"note {i} about {item}", "image": f"img/{i}.png"}
                for i, item in enumerate(ids)]
    db = build_store(os.path.join(WORK, "template"), ids, payloads, top_k=20, blind=10)
    users = {"ann": "annotator", "bob": "annotator", "cay": "annotator", "dee": "annotator",
             "eve": "annotator", "fay": "annotator", "rev": "reviewer", "rex": "reviewer",
             "adm": "admin", "svc": "system"}
    TEMPLATE.update(db=db, roles=users, tokens={n: add_user(db, n, r) for n, r in users.items()},
                    payloads={item: {"id": item, **p} for item, p in zip(ids, payloads)})
    return TEMPLATE


class Api(ServeCase):
    def setUp(self):
        t = template()
        self.dir = os.path.join(WORK, self.id().split(".")[-1])
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "store.db")
        shutil.copy(t["db"], self.db)  # closed: the file is the whole store
        self.tok = t["tokens"]
        self.payloads = t["payloads"]
        self.order = queue_order(self.db)
        self.media = os.path.join(self.dir, "media")
        os.makedirs(os.path.join(self.media, "img"))
        self.srv = self.start(self.db, self.media, tokens=self.tok.values())

    # shorthands: as an account
    def get(self, who, path, status=200):
        return self.ok(self.srv, "GET", path, status, token=self.tok[who])

    def post(self, who, path, body=None, status=200, **kw):
        return self.ok(self.srv, "POST", path, status, body=body, token=self.tok[who], **kw)

    def next(self, who):
        j = self.get(who, "/api/v1/next")
        return j["item"]

    def label(self, who, item, label):
        j = self.post(who, self.item_path(item, "label"), {"label": label})
        self.assertEqual(ordered(json.dumps(j)), [("item", item), ("label", label)])

    def deny(self, status, who, method, path, body=None, **kw):
        return self.refused(self.srv, status, method, path, body=body, token=self.tok[who], **kw)

    def me(self, who):
        return self.get(who, "/api/v1/me")

    # ---- login, cookie, logout ----------------------------------------------------------------

    def test_login_cookie_logout(self):
        r = self.call(self.srv, "POST", "/api/v1/login", {"token": self.tok["ann"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(ordered(r.body), [("name", "ann"), ("role", "annotator")])
        cookies = r.all("Set-Cookie")
        self.assertEqual(len(cookies), 1, cookies)
        parts = [p.strip() for p in cookies[0].split(";")]
        m = re.fullmatch(r"hitl_session=([0-9a-f]{64})", parts[0])
        self.assertTrue(m, cookies[0])
        sid = m.group(1)
        self.srv.secrets.add(sid)
        attrs = {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True)
                 for p in parts[1:]}
        self.assertIs(attrs.get("httponly"), True, cookies[0])
        self.assertEqual(attrs.get("samesite"), "Strict", cookies[0])
        self.assertGreater(int(attrs.get("max-age", "0")), 0, cookies[0])
        self.assertNotIn(self.tok["ann"], cookies[0])
        # the cookie authenticates GETs, and POSTs with the header
        me = self.ok(self.srv, "GET", "/api/v1/me", cookie=sid)
        self.assertEqual((me["name"], me["role"]), ("ann", "annotator"))
        item = self.ok(self.srv, "GET", "/api/v1/next", cookie=sid)["item"]
        self.assertEqual(item, self.order[0])
        self.ok(self.srv, "POST", self.item_path(item, "label"), body={"label": "cat"}, cookie=sid)
        self.assertEqual(labels_of(self.db, "ann"), [(item, "ann", "cat")])
        # a second login is a second session; logout ends only its own
        r2 = self.call(self.srv, "POST", "/api/v1/login", {"token": self.tok["ann"]})
        sid2 = re.match(r"hitl_session=([0-9a-f]{64})", r2.header("Set-Cookie")).group(1)
        self.srv.secrets.add(sid2)
        self.assertNotEqual(sid, sid2)
        # logout without the header is refused and ends nothing
        self.refused(self.srv, 403, "POST", "/api/v1/logout", cookie=sid, csrf=False)
        self.ok(self.srv, "GET", "/api/v1/me", cookie=sid)
        r = self.call(self.srv, "POST", "/api/v1/logout", cookie=sid)
        self.assertEqual(r.status, 200, r.body)
        gone = r.header("Set-Cookie")
        self.assertIsNotNone(gone)
        self.assertRegex(gone, r"^hitl_session=;")
        self.assertIn("Max-Age=0", gone)
        self.refused(self.srv, 401, "GET", "/api/v1/me", cookie=sid)
        self.refused(self.srv, 401, "POST", self.item_path(self.order[1], "label"),
                     body={"label": "cat"}, cookie=sid)
        self.ok(self.srv, "GET", "/api/v1/me", cookie=sid2)
        # bad tokens, and bodies that are no login
        self.srv.secrets.add("0" * 64)
        self.refused(self.srv, 401, "POST", "/api/v1/login", body={"token": "0" * 64})
        self.refused(self.srv, 401, "POST", "/api/v1/login", body={"token": self.tok["ann"][:-1]})
        self.refused(self.srv, 401, "POST", "/api/v1/login", body={"token": ""})
        r = self.refused(self.srv, 403, "POST", "/api/v1/login", body={"token": self.tok["ann"]},
                         csrf=False)
        self.assertIsNone(r.header("Set-Cookie"))
        self.refused(self.srv, 400, "POST", "/api/v1/login",
                     body={"token": self.tok["ann"], "name": "bob"})
        self.refused(self.srv, 400, "POST", "/api/v1/login",
                     raw=b"token=" + self.tok["ann"].encode())
        self.refused(self.srv, 400, "POST", "/api/v1/login", body={"token": 7})
        # a cookie that is not a session, and no credentials at all
        self.refused(self.srv, 401, "GET", "/api/v1/me", cookie="f" * 64)
        self.refused(self.srv, 401, "GET", "/api/v1/me", cookie="x")
        self.refused(self.srv, 401, "GET", "/api/v1/me")
        self.refused(self.srv, 401, "GET", "/api/v1/next")
        self.refused(self.srv, 401, "POST", self.item_path(self.order[1], "label"),
                     body={"label": "cat"})
        # the bearer token wins over a cookie
        me = self.ok(self.srv, "GET", "/api/v1/me", cookie=sid2, token=self.tok["bob"])
        self.assertEqual(me["name"], "bob")

    # ---- CSRF: the header on every POST -------------------------------------------------------

    def test_every_post_needs_the_header(self):
        ann = self.tok["ann"]
        item = self.next("ann")
        self.label("bob", self.order[1], "dog")
        r = self.call(self.srv, "POST", "/api/v1/login", {"token": ann})
        sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        self.srv.secrets.add(sid)
        cases = [("/api/v1/login", {"token": ann}),
                 ("/api/v1/logout", None),
                 (self.item_path(item, "label"), {"label": "cat"}),
                 (self.item_path(item, "skip"), None),
                 (self.item_path(self.order[1], "undo"), None),
                 (self.item_path(self.order[1], "adjudicate"),
                  {"label": "cat", "justification": "a long enough reason, surely"})]
        for path, body in cases:
            for cred in ({"cookie": sid}, {"token": ann}, {"token": self.tok["bob"]},
                         {"token": self.tok["rev"]}):
                for hdr in (None, {"X-Hitl-Request": "0"}, {"X-Hitl-Request": ""},
                            {"X-Hitl-Request": "true"}):
                    self.refused(self.srv, 403, "POST", path, body=body, csrf=hdr is not None,
                                 headers=hdr, **cred)
        # still logged in, and nothing was done
        self.assertEqual(self.ok(self.srv, "GET", "/api/v1/me", cookie=sid)["progress"],
                         {"labelled": 0, "skipped": 0, "left": 30})
        self.assertEqual(labels_of(self.db), [(self.order[1], "bob", "dog")])

    # ---- me ------------------------------------------------------------------------------------

    def test_me_progress_by_hand(self):
        o = self.order
        j = self.me("ann")
        self.assertEqual(ordered(json.dumps(j)), [
            ("name", "ann"), ("role", "annotator"),
            ("progress", [("labelled", 0), ("skipped", 0), ("left", 30)])])
        self.assertEqual(self.next("ann"), o[0])
        self.label("ann", o[0], "cat")
        self.assertEqual(self.next("ann"), o[1])
        self.post("ann", self.item_path(o[1], "skip"))
        self.assertEqual(self.me("ann")["progress"], {"labelled": 1, "skipped": 1, "left": 28})
        # bob completes o[0]'s overlap; cay and dee fill o[1] (ann skipped it: free again)
        self.assertEqual(self.next("bob"), o[0])
        self.assertEqual(self.next("cay"), o[1])
        self.assertEqual(self.next("dee"), o[1])
        self.assertEqual(self.me("ann")["progress"], {"labelled": 1, "skipped": 1, "left": 28})
        # eve and fay fill o[2] with their leases: no room left for ann there
        self.assertEqual(self.next("eve"), o[2])
        self.assertEqual(self.next("fay"), o[2])
        self.assertEqual(self.me("ann")["progress"], {"labelled": 1, "skipped": 1, "left": 27})
        # ann's own lease still counts as hers to do
        self.assertEqual(self.next("ann"), o[3])
        self.assertEqual(self.me("ann")["progress"], {"labelled": 1, "skipped": 1, "left": 27})
        self.label("bob", o[0], "cat")
        self.assertEqual(self.me("bob")["progress"], {"labelled": 1, "skipped": 0, "left": 27})
        for who, role in (("rev", "reviewer"), ("adm", "admin")):
            j = self.me(who)
            self.assertEqual(list(j), ["name", "role", "progress"])
            self.assertEqual((j["name"], j["role"]), (who, role))
        j = self.me("svc")
        self.assertEqual(ordered(json.dumps(j)), [("name", "svc"), ("role", "system")])

    # ---- next ----------------------------------------------------------------------------------

    def test_next_shape_and_lease(self):
        t0 = datetime.now(timezone.utc)
        r = self.call(self.srv, "GET", "/api/v1/next", token=self.tok["ann"])
        self.assertEqual(r.status, 200)
        pairs = ordered(r.body)
        self.assertEqual([k for k, _ in pairs], ["item", "payload", "classes", "lease_expires"])
        j = r.json
        self.assertEqual(j["item"], self.order[0])
        self.assertEqual(j["payload"], self.payloads[j["item"]])
        self.assertEqual(j["classes"], CLASSES)
        self.assertRegex(j["lease_expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        exp = datetime.fromisoformat(j["lease_expires"].replace("Z", "+00:00"))
        self.assertLess(abs((exp - t0).total_seconds() - LEASE), 30)
        self.assertEqual(sql(self.db, "SELECT l.annotator FROM leases l JOIN items i ON "
                                      "i.id = l.item WHERE i.pool_id = ?", j["item"]), [("ann",)])
        # the same item again while ann holds it; nothing leaks why it was queued
        self.assertEqual(self.next("ann"), self.order[0])
        self.assertNotIn(b"blind", r.body)
        self.assertNotIn(b"uncertain", r.body)
        self.assertNotIn(b"score", r.body)

    def test_next_follows_hitl_next(self):
        """Overlap 2, breadth first: the same requests through the API and through `hitl next`
        on a twin store give the same items, and the items worked out by hand."""
        twin = os.path.join(self.dir, "twin.db")
        shutil.copy(template()["db"], twin)
        o = self.order
        script = [("ann", "next", o[0]), ("bob", "next", o[0]), ("cay", "next", o[1]),
                  ("ann", "label", o[0]), ("cay", "next", o[1]), ("dee", "next", o[1]),
                  ("eve", "next", o[2]), ("ann", "next", o[2]), ("fay", "next", o[3]),
                  ("bob", "skip", o[0]), ("fay", "next", o[3]), ("eve", "label", o[2]),
                  ("fay", "label", o[3]), ("fay", "next", o[0]), ("bob", "next", o[3])]
        for who, what, expect in script:
            if what == "next":
                got = self.next(who)
                p = hitl("next", twin, "--annotator", who, "--json")
                self.assertEqual(got, json.loads(p.stdout)["item"], (who, what))
                self.assertEqual(got, expect, (who, what))
            elif what == "label":
                self.label(who, expect, "cat")
                hitl("label", twin, expect, "cat", "--annotator", who)
            else:
                self.post(who, self.item_path(expect, "skip"))
                hitl("skip", twin, expect, "--annotator", who)
        self.assertEqual(labels_of(self.db), labels_of(twin))
        lease_q = ("SELECT i.pool_id, l.annotator FROM leases l JOIN items i ON i.id = l.item "
                   "ORDER BY 1, 2")
        self.assertEqual(sql(self.db, lease_q), sql(twin, lease_q))

    def test_next_when_nothing_is_left(self):
        for k in range(30):
            item = self.next("ann")
            self.assertIsNotNone(item, k)
            self.label("ann", item, CLASSES[k % 3])
        r = self.call(self.srv, "GET", "/api/v1/next", token=self.tok["ann"])
        self.assertEqual(r.status, 200)
        self.assertEqual(ordered(r.body), [("item", None), ("payload", None),
                                           ("classes", CLASSES), ("lease_expires", None)])
        self.assertEqual(self.me("ann")["progress"], {"labelled": 30, "skipped": 0, "left": 0})
        self.assertEqual(sorted(i for i, _, _ in labels_of(self.db, "ann")), sorted(self.order))

    # ---- label ---------------------------------------------------------------------------------

    def test_label_and_its_refusals(self):
        o = self.order
        self.assertEqual(self.next("ann"), o[0])
        self.label("ann", o[0], "dog")
        self.assertEqual(labels_of(self.db), [(o[0], "ann", "dog")])
        ev = sql(self.db, "SELECT actor, actor_type FROM audit WHERE event = 'label' AND item = ?",
                 o[0])
        self.assertEqual(ev, [("ann", "human")])
        path = self.item_path(o[1], "label")
        self.deny(400, "ann", "POST", path, {"label": "emu"})                   # unknown label
        self.deny(400, "ann", "POST", path, {"label": "Cat"})
        self.deny(404, "ann", "POST", self.item_path("no-such-item", "label"), {"label": "cat"})
        self.deny(409, "ann", "POST", self.item_path(o[0], "label"), {"label": "cat"})  # twice
        self.deny(409, "ann", "POST", self.item_path(o[0], "label"), {"label": "dog"})
        # o[1] fully leased by two others
        self.assertEqual(self.next("cay"), o[0])
        self.assertEqual(self.next("dee"), o[1])
        self.assertEqual(self.next("eve"), o[1])
        self.deny(409, "ann", "POST", path, {"label": "cat"})
        self.deny(409, "fay", "POST", path, {"label": "cat"})
        # bodies
        mine = self.next("ann")
        self.assertEqual(mine, o[2])
        path = self.item_path(mine, "label")
        self.deny(400, "ann", "POST", path, {"label": "cat", "annotator": "bob"})
        self.deny(400, "ann", "POST", path, {"label": "cat", "label2": "cat"})
        self.deny(400, "ann", "POST", path, raw=b"label=cat")
        self.deny(400, "ann", "POST", path, raw=b'{"label":"cat"')
        self.deny(400, "ann", "POST", path, raw=b'{"label":"cat","label":"dog"}')  # duplicate
        self.deny(400, "ann", "POST", path, raw=b'{"label":"cat","label":"cat"}')
        self.deny(400, "ann", "POST", path, raw=b'["cat"]')
        self.deny(400, "ann", "POST", path, raw=b'"cat"')
        self.deny(400, "ann", "POST", path, raw=b"null")
        self.deny(400, "ann", "POST", path, raw=b"")
        self.deny(400, "ann", "POST", path, {})
        self.deny(400, "ann", "POST", path, {"label": 1})
        self.deny(400, "ann", "POST", path, {"label": None})
        self.deny(400, "ann", "POST", path, {"label": ["cat"]})
        self.deny(400, "ann", "POST", path, raw=b'{"label":"c\\u0000at"}')
        self.deny(400, "ann", "POST", path, raw=b'{"label":"\xff"}')
        # too large: declared, and sent chunked without a length
        big = b'{"label":"cat","pad":"' + b"a" * BODY_LIMIT + b'"}'
        self.deny(413, "ann", "POST", path, raw=big)
        self.deny(413, "ann", "POST", path, raw=big, chunked=True)
        self.deny(413, "ann", "POST", path, raw=b'{"label":"cat"}' + b" " * (BODY_LIMIT - 14))
        # at the limit exactly it is read: JSON padded with white space to 64 KiB
        exact = b'{"label":"owl"}' + b" " * (BODY_LIMIT - 15)
        self.assertEqual(len(exact), BODY_LIMIT)
        r = self.call(self.srv, "POST", path, raw=exact, token=self.tok["ann"], chunked=True)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(labels_of(self.db, "ann"), sorted([(o[0], "ann", "dog"),
                                                            (o[2], "ann", "owl")]))
        # a free item (no lease) can be labelled directly
        self.label("bob", o[5], "cat")
        # the item gets complete: a third label is refused
        self.label("cay", o[0], "dog")
        self.deny(409, "fay", "POST", self.item_path(o[0], "label"), {"label": "dog"})

    # ---- skip and undo -------------------------------------------------------------------------

    def test_skip_and_undo(self):
        o = self.order
        self.assertEqual(self.next("ann"), o[0])
        j = self.post("ann", self.item_path(o[0], "skip"))
        self.assertEqual(ordered(json.dumps(j)), [("item", o[0])])
        self.assertEqual(self.next("ann"), o[1])  # never offered again
        self.post("ann", self.item_path(o[2], "skip"), {"reason": "blurry"})
        self.assertEqual(sql(self.db, "SELECT s.reason FROM skips s JOIN items i ON i.id = s.item "
                                      "WHERE i.pool_id = ?", o[2]), [("blurry",)])
        self.deny(404, "ann", "POST", self.item_path("nope", "skip"))
        self.deny(400, "ann", "POST", self.item_path(o[3], "skip"), {"annotator": "bob"})
        self.deny(400, "ann", "POST", self.item_path(o[3], "skip"), {"reason": 3})
        self.deny(409, "ann", "POST", self.item_path(o[0], "skip"))   # skipped already
        self.label("ann", o[1], "cat")
        self.deny(409, "ann", "POST", self.item_path(o[1], "skip"))   # labelled already
        self.assertEqual(self.me("ann")["progress"], {"labelled": 1, "skipped": 2, "left": 27})
        # undo: my label goes, the item comes back to me first
        self.assertEqual(self.next("ann"), o[3])
        self.label("ann", o[3], "dog")
        j = self.post("ann", self.item_path(o[1], "undo"))
        self.assertEqual(ordered(json.dumps(j)), [("item", o[1])])
        self.assertEqual(labels_of(self.db, "ann"), [(o[3], "ann", "dog")])
        self.assertEqual(self.next("ann"), o[1])
        self.label("ann", o[1], "owl")
        self.assertEqual(labels_of(self.db, "ann"), sorted([(o[1], "ann", "owl"),
                                                            (o[3], "ann", "dog")]))
        # undo of what is not mine
        self.label("bob", o[4], "cat")
        self.deny(409, "ann", "POST", self.item_path(o[4], "undo"))    # bob's label
        self.deny(409, "ann", "POST", self.item_path(o[5], "undo"))    # nobody's
        self.deny(409, "ann", "POST", self.item_path(o[0], "undo"))    # my skip, no label
        self.deny(404, "ann", "POST", self.item_path("nope", "undo"))
        self.deny(400, "ann", "POST", self.item_path(o[3], "undo"), {"item": o[4]})
        # once a person decided the final label, the label stays
        self.label("bob", o[3], "cat")
        self.post("rev", self.item_path(o[3], "adjudicate"),
                  {"label": "dog", "justification": "the snout is a dog's snout, clearly"})
        self.deny(409, "ann", "POST", self.item_path(o[3], "undo"))
        self.deny(409, "bob", "POST", self.item_path(o[3], "undo"))
        self.assertEqual(self.me("ann")["progress"], {"labelled": 2, "skipped": 2, "left": 26})

    # ---- history -------------------------------------------------------------------------------

    def test_history(self):
        self.assertEqual(self.get("ann", "/api/v1/history"), {"history": []})
        done = []
        for k in range(22):
            item = self.next("ann")
            self.label("ann", item, CLASSES[k % 3])
            done.append((item, "label", CLASSES[k % 3]))
        item = self.next("ann")
        self.post("ann", self.item_path(item, "skip"))
        done.append((item, "skip", None))
        r = self.call(self.srv, "GET", "/api/v1/history", token=self.tok["ann"])
        self.assertEqual(r.status, 200)
        pairs = ordered(r.body)
        self.assertEqual([k for k, _ in pairs], ["history"])
        entries = pairs[0][1]
        self.assertEqual(len(entries), 20)
        for e in entries:
            self.assertEqual([k for k, _ in e], ["item", "action", "label", "at"])
            self.assertRegex(dict(e)["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        got = [(dict(e)["item"], dict(e)["action"], dict(e)["label"]) for e in entries]
        self.assertEqual(got, done[::-1][:20])
        ats = [dict(e)["at"] for e in entries]
        self.assertEqual(ats, sorted(ats, reverse=True))
        # an undone label leaves the history; other people's work never enters it
        self.post("ann", self.item_path(done[21][0], "undo"))
        self.label("bob", self.order[29], "cat")
        got = [(e["item"], e["action"], e["label"])
               for e in self.get("ann", "/api/v1/history")["history"]]
        self.assertEqual(got, [done[22]] + done[::-1][2:21])
        self.assertEqual([(e["item"], e["label"]) for e in
                          self.get("bob", "/api/v1/history")["history"]],
                         [(self.order[29], "cat")])

    # ---- odd item ids --------------------------------------------------------------------------

    def test_odd_item_ids(self):
        for k, item in enumerate(ODD_IDS):
            self.label("ann", item, CLASSES[k % 3])
            v = self.get("rev", self.item_path(item))
            self.assertEqual(v["item"], item)
            self.assertEqual(v["payload"], self.payloads[item])
            self.assertEqual([(l["annotator"], l["label"]) for l in v["labels"]],
                             [("ann", CLASSES[k % 3])])
        self.assertEqual(labels_of(self.db, "ann"),
                         sorted((i, "ann", CLASSES[k % 3]) for k, i in enumerate(ODD_IDS)))
        hist = [e["item"] for e in self.get("ann", "/api/v1/history")["history"]]
        self.assertEqual(hist, ODD_IDS[::-1])
        self.post("bob", self.item_path(ODD_IDS[0], "skip"))
        self.post("ann", self.item_path(ODD_IDS[1], "undo"))
        self.assertEqual(self.next("ann"), ODD_IDS[1])
        # the id is one path segment only when its "/" is escaped
        self.refused(self.srv, 404, "POST", "/api/v1/items/a/b%20c/label", body={"label": "cat"},
                     token=self.tok["bob"])
        # a near miss is another item
        self.deny(404, "bob", "POST", self.item_path("a/b c ", "label"), {"label": "cat"})
        self.deny(404, "bob", "POST", self.item_path("hello ✓", "label"), {"label": "cat"})
        # escapes that do not decode
        for bad in ("/api/v1/items/%zz/label", "/api/v1/items/%4/label", "/api/v1/items/x%/label",
                    "/api/v1/items/a%00b/label"):
            self.refused(self.srv, 400, "POST", bad, body={"label": "cat"}, token=self.tok["bob"])
        self.refused(self.srv, 400, "POST", self.item_path("x" * 1100, "label"),
                     body={"label": "cat"}, token=self.tok["bob"])

    # ---- adjudication --------------------------------------------------------------------------

    def disagree(self, item, a="ann", b="bob"):
        self.label(a, item, "cat")
        self.label(b, item, "dog")

    def test_adjudication(self):
        o = self.order
        self.disagree(o[0])
        self.disagree(o[1], "ann", "rev")  # a reviewer who labelled
        self.label("ann", o[2], "owl")
        self.label("bob", o[2], "owl")    # agreed: final already
        r = self.call(self.srv, "GET", "/api/v1/adjudication", token=self.tok["rev"])
        self.assertEqual(r.status, 200)
        pairs = ordered(r.body)
        self.assertEqual([k for k, _ in pairs], ["classes", "min_justification", "items"])
        j = r.json
        self.assertEqual(j["classes"], CLASSES)
        self.assertEqual(j["min_justification"], 20)
        self.assertEqual([v["item"] for v in j["items"]], [o[0], o[1]])
        preds = dict(sql(self.db, "SELECT i.pool_id, c.name FROM items i JOIN classes c "
                                  "ON c.idx = i.pred"))
        for v, raw in zip(j["items"], dict(pairs)["items"]):
            self.assertEqual([k for k, _ in raw],
                             ["item", "payload", "prediction", "state", "final", "labels"])
            self.assertEqual(v["payload"], self.payloads[v["item"]])
            self.assertEqual(v["prediction"], preds[v["item"]])
            self.assertEqual(v["state"], "awaiting_adjudication")
            self.assertIsNone(v["final"])
            for l in dict(raw)["labels"]:
                self.assertEqual([k for k, _ in l], ["annotator", "label", "at"])
        self.assertEqual([(l["annotator"], l["label"]) for l in j["items"][0]["labels"]],
                         [("ann", "cat"), ("bob", "dog")])
        self.assertEqual(self.get("adm", "/api/v1/adjudication"), j)
        self.deny(403, "ann", "GET", "/api/v1/adjudication")
        # adjudicate: the refusals
        path = self.item_path(o[0], "adjudicate")
        good = "the ears and the tail say dog"
        self.deny(403, "ann", "POST", path, {"label": "dog", "justification": good})
        self.deny(403, "bob", "POST", path, {"label": "dog", "justification": good})
        nineteen = " ".join("abcdefghijklmnopqrs")
        self.deny(400, "rev", "POST", path, {"label": "dog", "justification": nineteen})
        self.deny(400, "rev", "POST", path, {"label": "dog", "justification": "x" * 19 + " \t\n"})
        self.deny(400, "rev", "POST", path, {"label": "dog", "justification": " " * 40})
        self.deny(400, "rev", "POST", path, {"label": "dog", "justification": ""})
        self.deny(400, "rev", "POST", path, {"label": "dog"})
        self.deny(400, "rev", "POST", path, {"justification": good})
        self.deny(400, "rev", "POST", path, {"label": "emu", "justification": good})
        self.deny(400, "rev", "POST", path, {"label": "dog", "justification": good,
                                              "actor": "rex"})
        self.deny(400, "rev", "POST", path, raw=b"{")
        self.deny(404, "rev", "POST", self.item_path("nope", "adjudicate"),
                  {"label": "dog", "justification": good})
        self.deny(409, "rev", "POST", self.item_path(o[1], "adjudicate"),
                  {"label": "dog", "justification": good})
        # OK: 20 non-space characters are enough
        twenty = " ".join("abcdefghijklmnopqrst")
        j = self.post("rev", path, {"label": "dog", "justification": twenty})
        self.assertEqual(ordered(json.dumps(j)), [("item", o[0]), ("label", "dog"),
                                                  ("overrode", j["overrode"])])
        self.assertIsInstance(j["overrode"], bool)
        d = sql(self.db, "SELECT d.actor, c.name, d.justification FROM decisions d JOIN items i "
                         "ON i.id = d.item JOIN classes c ON c.idx = d.label WHERE i.pool_id = ?",
                o[0])
        self.assertEqual(d, [("rev", "dog", twenty)])
        self.assertEqual(sql(self.db, "SELECT actor, actor_type FROM audit WHERE item = ? AND "
                                      "event = 'adjudicate'", o[0]), [("rev", "human")])
        # another reviewer decides the one rev labelled
        j = self.post("rex", self.item_path(o[1], "adjudicate"), {"label": "owl",
                                                                   "justification": good})
        self.assertEqual((j["item"], j["label"]), (o[1], "owl"))
        self.assertEqual(self.get("rev", "/api/v1/adjudication")["items"], [])
        # override of a final label (agreed owl) by an admin
        j = self.post("adm", self.item_path(o[2], "adjudicate"), {"label": "cat",
                                                                   "justification": good})
        self.assertEqual((j["item"], j["label"], j["overrode"]), (o[2], "cat", True))
        self.assertEqual(sql(self.db, "SELECT actor FROM audit WHERE item = ? AND event = "
                                      "'override'", o[2]), [("adm",)])
        # the item view
        v = self.get("rev", self.item_path(o[0]))
        self.assertEqual(list(v), ["item", "payload", "prediction", "state", "final", "labels"])
        self.assertEqual(v["state"], "final")
        self.assertEqual((v["final"]["label"], v["final"]["by"]), ("dog", "rev"))
        self.assertEqual([(l["annotator"], l["label"]) for l in v["labels"]],
                         [("ann", "cat"), ("bob", "dog")])
        self.assertEqual(self.get("rev", self.item_path(o[2]))["final"]["label"], "cat")
        open_item = self.get("adm", self.item_path(o[9]))
        self.assertEqual((open_item["state"], open_item["final"], open_item["labels"]),
                         ("open", None, []))
        self.deny(403, "ann", "GET", self.item_path(o[0]))
        self.deny(404, "rev", "GET", self.item_path("nope"))

    # ---- status and health ---------------------------------------------------------------------

    def test_status_and_health_equal_the_commands(self):
        o = self.order
        self.disagree(o[0])
        self.label("ann", o[1], "cat")
        self.label("bob", o[1], "cat")
        self.post("cay", self.item_path(o[2], "skip"))
        self.next("dee")
        self.post("rev", self.item_path(o[0], "adjudicate"),
                  {"label": "cat", "justification": "whiskers and a cat's ears"})
        want = json.loads(hitl("status", self.db, "--json").stdout)
        # asked again and again, between other requests: an answer that depends on what the
        # server did before (memory left over from another request) shows on one of them
        for k in range(12):
            for who in ("rev", "rex", "adm"):
                got = self.get(who, "/api/v1/status")
                self.assertEqual(got, want, f"GET /api/v1/status as {who}, time {k + 1}")
            self.get("adm", "/api/v1/health")
            self.get("rev", "/api/v1/adjudication")
        self.assertEqual(got["labels"], 4)
        self.assertEqual(got["skips"], 1)
        self.deny(403, "ann", "GET", "/api/v1/status")
        got = self.get("adm", "/api/v1/health")
        want = json.loads(hitl("health", self.db, "--json").stdout)
        self.assertIn("store", got)
        got.pop("store")
        want.pop("store")
        self.assertEqual(got, want)
        for who in ("ann", "rev", "rex"):
            self.deny(403, who, "GET", "/api/v1/health")

    def test_charts(self):
        """The report's charts as SVG, for admins; 404 with the reason while there is nothing to
        draw."""
        for path in ("/api/v1/charts/calibration.svg", "/api/v1/charts/agreement.svg"):
            self.deny(404, "adm", "GET", path)
            for who in ("ann", "rev", "svc"):
                self.deny(403, who, "GET", path)
        blind = [r[0] for r in sql(self.db, "SELECT pool_id FROM items WHERE reason = 1 "
                                            "ORDER BY position")]
        for k, item in enumerate(blind[:6]):
            self.label("ann", item, CLASSES[k % 3])
            self.label("bob", item, CLASSES[k % 3] if k % 2 else CLASSES[(k + 1) % 3])
        for path in ("/api/v1/charts/calibration.svg", "/api/v1/charts/agreement.svg"):
            r = self.call(self.srv, "GET", path, token=self.tok["adm"])
            self.assertEqual(r.status, 200, r.body[:300])
            self.assertTrue(r.header("Content-Type").startswith("image/svg+xml"))
            self.assertEqual(r.all("Cache-Control"), ["no-store"], f"{path}: an API response")
            self.assertTrue(r.body.lstrip().startswith((b"<svg", b"<?xml")), r.body[:100])

    # ---- every role on every endpoint ----------------------------------------------------------

    def test_roles(self):
        o = self.order
        self.disagree(o[0])
        good = "a long enough justification here"
        # (method, path, body, who may): a refused caller must change nothing even where the
        # request would otherwise do something; an allowed one is shown to pass the role check
        # by an answer other than 401/403 on an item that does not exist
        routes = [("GET", "/api/v1/next", None, "annotator reviewer admin"),
                  ("GET", "/api/v1/history", None, "annotator reviewer admin"),
                  ("POST", self.item_path(o[5], "label"), {"label": "cat"},
                   "annotator reviewer admin"),
                  ("POST", self.item_path(o[5], "skip"), None, "annotator reviewer admin"),
                  ("POST", self.item_path(o[0], "undo"), None, "annotator reviewer admin"),
                  ("GET", "/api/v1/adjudication", None, "reviewer admin"),
                  ("POST", self.item_path(o[0], "adjudicate"),
                   {"label": "dog", "justification": good}, "reviewer admin"),
                  ("GET", self.item_path(o[0]), None, "reviewer admin"),
                  ("GET", "/api/v1/status", None, "reviewer admin"),
                  ("GET", "/api/v1/health", None, "admin"),
                  ("GET", "/api/v1/charts/calibration.svg", None, "admin"),
                  ("GET", "/api/v1/charts/agreement.svg", None, "admin")]
        who_of = {"annotator": "cay", "reviewer": "rex", "admin": "adm", "system": "svc"}
        for role in ROLES:
            who = who_of[role]
            self.assertEqual(self.me(who)["role"], role)
            for method, path, body, may in routes:
                if role in may.split():
                    if method == "GET":  # a chart with nothing to draw yet is 404
                        r = self.call(self.srv, method, path, token=self.tok[who])
                        self.assertIn(r.status, (200, 404) if "/charts/" in path else (200,),
                                      (who, path, r.body[:200]))
                    else:
                        unknown = re.sub(r"/items/[^/]+/", "/items/no-such-item/", path)
                        self.deny(404, who, method, unknown, body)
                else:
                    self.deny(403, who, method, path, body)
        # the annotator ann (who labelled o[0]) may not adjudicate it either
        self.deny(403, "ann", "POST", self.item_path(o[0], "adjudicate"),
                  {"label": "cat", "justification": good})

    def test_system_role(self):
        o = self.order
        self.disagree(o[0])
        self.assertEqual(self.me("svc"), {"name": "svc", "role": "system"})
        good = "a long enough justification here"
        for method, path, body in [
                ("GET", "/api/v1/next", None), ("GET", "/api/v1/history", None),
                ("POST", self.item_path(o[3], "label"), {"label": "cat"}),
                ("POST", self.item_path(o[3], "skip"), None),
                ("POST", self.item_path(o[0], "undo"), None),
                ("GET", "/api/v1/adjudication", None),
                ("POST", self.item_path(o[0], "adjudicate"), {"label": "dog",
                                                              "justification": good}),
                ("GET", self.item_path(o[0]), None), ("GET", "/api/v1/status", None),
                ("GET", "/api/v1/health", None),
                ("GET", "/api/v1/charts/calibration.svg", None),
                ("GET", "/api/v1/charts/agreement.svg", None)]:
            self.deny(403, "svc", method, path, body)
        r = self.call(self.srv, "POST", "/api/v1/login", {"token": self.tok["svc"]})
        self.assertEqual((r.status, r.json), (200, {"name": "svc", "role": "system"}))
        sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        self.srv.secrets.add(sid)
        self.refused(self.srv, 403, "GET", "/api/v1/next", cookie=sid)

    # ---- revoke and rotate while serving --------------------------------------------------------

    def test_revoke_and_rotate_while_serving(self):
        r = self.call(self.srv, "POST", "/api/v1/login", {"token": self.tok["ann"]})
        sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        self.srv.secrets.add(sid)
        self.ok(self.srv, "GET", "/api/v1/me", cookie=sid)
        self.ok(self.srv, "GET", "/api/v1/me", token=self.tok["ann"])
        item = self.next("ann")
        hitl("user", "revoke", self.db, "ann", "--actor", "admin-cli")
        self.refused(self.srv, 401, "GET", "/api/v1/me", token=self.tok["ann"])
        self.refused(self.srv, 401, "GET", "/api/v1/me", cookie=sid)
        self.refused(self.srv, 401, "POST", self.item_path(item, "label"), body={"label": "cat"},
                     token=self.tok["ann"])
        self.refused(self.srv, 401, "POST", self.item_path(item, "label"), body={"label": "cat"},
                     cookie=sid)
        self.refused(self.srv, 401, "POST", "/api/v1/login", body={"token": self.tok["ann"]})
        # rotation: the old token stops at once, the new one works
        r = self.call(self.srv, "POST", "/api/v1/login", {"token": self.tok["bob"]})
        bob_sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        self.srv.secrets.add(bob_sid)
        p = hitl("user", "token", self.db, "bob", "--json", "--actor", "admin-cli")
        new = json.loads(p.stdout)["token"]
        self.srv.secrets.add(new)
        self.refused(self.srv, 401, "GET", "/api/v1/me", token=self.tok["bob"])
        self.assertEqual(self.ok(self.srv, "GET", "/api/v1/me", token=new)["name"], "bob")
        # the account events are in the chain
        events = [json.loads(l) for l in
                  hitl("audit", "export", self.db, "--jsonl").stdout.splitlines()]
        acts = [(e["payload"]["action"], e["payload"]["name"], e["actor"]) for e in events
                if e["event"] == "account"]
        adds = [(a, n) for a, n, _ in acts if a == "add"]
        self.assertEqual(sorted(adds), sorted(("add", n) for n in template()["roles"]))
        self.assertIn(("revoke", "ann", "admin-cli"), acts)
        self.assertIn(("rotate", "bob", "admin-cli"), acts)
        for e in events:
            if e["event"] == "account":
                self.assertNotIn(self.tok[e["payload"]["name"]], json.dumps(e))
                self.assertNotIn(new, json.dumps(e))

    # ---- media ---------------------------------------------------------------------------------

    def test_media(self):
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        with open(os.path.join(self.media, "img", "0.png"), "wb") as f:
            f.write(png)
        with open(os.path.join(self.media, "note.txt"), "w") as f:
            f.write("hello\n")
        secret = os.path.join(self.dir, "secret.txt")
        with open(secret, "w") as f:
            f.write("SECRET-OUTSIDE\n")
        sibling = self.media + "2"  # a directory whose name extends the media directory's
        os.makedirs(sibling, exist_ok=True)
        with open(os.path.join(sibling, "x.txt"), "w") as f:
            f.write("SECRET-SIBLING\n")
        os.symlink(secret, os.path.join(self.media, "link.txt"))
        os.symlink(self.dir, os.path.join(self.media, "linkdir"))
        os.symlink("../secret.txt", os.path.join(self.media, "rel.txt"))
        r = self.call(self.srv, "GET", "/media/img/0.png", token=self.tok["ann"])
        self.assertEqual((r.status, r.body), (200, png))
        self.assertEqual(r.header("Content-Type"), "image/png")
        r = self.call(self.srv, "GET", "/media/note.txt", token=self.tok["ann"])
        self.assertEqual((r.status, r.body), (200, b"hello\n"))
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        r = self.call(self.srv, "GET", "/media/img%2F0.png", token=self.tok["ann"])
        self.assertEqual((r.status, r.body), (200, png))
        escapes = ["/media/../secret.txt", "/media/img/../../secret.txt",
                   "/media/%2e%2e/secret.txt", "/media/%2E%2E%2Fsecret.txt",
                   "/media/..%2fsecret.txt", "/media/img/%2e%2e/%2e%2e/secret.txt",
                   "/media/" + quote(secret, safe=""), "/media/" + quote(secret, safe="/"),
                   "/media//" + secret.lstrip("/"), "/media/link.txt", "/media/rel.txt",
                   "/media/linkdir/secret.txt", "/media/../media2/x.txt",
                   "/media/%2e%2e/media2/x.txt", "/media/../store.db", "/media/../../../etc/passwd",
                   "/media/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/media/img",
                   "/media/img/", "/media/nope.png", "/media/."]
        for path in escapes:
            r = self.refused(self.srv, 404, "GET", path, token=self.tok["ann"])
            self.assertNotIn(b"SECRET", r.body)
        self.refused(self.srv, 400, "GET", "/media/%zz", token=self.tok["ann"])
        self.refused(self.srv, 400, "GET", "/media/a%00b", token=self.tok["ann"])
        self.refused(self.srv, 405, "POST", "/media/note.txt", token=self.tok["ann"])

    def test_no_media_directory(self):
        self._cleanups.clear()
        self.finish(self.srv)  # this test's server was started with --media: stop it
        srv = self.start(self.db, None, tokens=self.tok.values())
        self.refused(srv, 404, "GET", "/media/anything.png", token=self.tok["ann"])
        self.refused(srv, 404, "GET", "/media/../store.db", token=self.tok["ann"])

    # ---- unknown paths and methods; the page ---------------------------------------------------

    def test_paths_and_methods(self):
        o = self.order
        tok = self.tok["adm"]
        for path in ("/api/v1/nope", "/api/v1/", "/api/v1", "/api/v2/me", "/nope", "/api/v1/me/",
                     "/api/v1/items/", "/api/v1/items", self.item_path(o[0], "frobnicate"),
                     self.item_path(o[0]) + "/label/x", "/API/V1/ME", "/media/"):
            self.refused(self.srv, 404, "GET", path, token=tok)
            self.refused(self.srv, 404, "POST", path, token=tok)
        for path in ("/api/v1/login", "/api/v1/logout", self.item_path(o[0], "label"),
                     self.item_path(o[0], "skip"), self.item_path(o[0], "undo"),
                     self.item_path(o[0], "adjudicate")):
            self.refused(self.srv, 405, "GET", path, token=tok)
            self.refused(self.srv, 405, "PUT", path, token=tok, body={"label": "cat"})
        for path in ("/api/v1/me", "/api/v1/next", "/api/v1/history", "/api/v1/adjudication",
                     "/api/v1/status", "/api/v1/health", self.item_path(o[0])):
            self.refused(self.srv, 405, "POST", path, token=tok)
            self.refused(self.srv, 405, "DELETE", path, token=tok)
        # a query string does not change the route
        self.assertEqual(self.get("ann", "/api/v1/me?x=1")["name"], "ann")
        # the page, once it is compiled in (io/http/static): no inline script under the CSP
        r = self.call(self.srv, "GET", "/")
        self.assertIn(r.status, (200, 404))
        self.assertNotIn("unsafe-inline", r.header("Content-Security-Policy"))
        if r.status == 200:
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
            self.assertNotRegex(r.body.decode(), r"<script(?![^>]*\bsrc=)[^>]*>")

    def test_security_headers_everywhere(self):
        """call() checks every response of every test; here each kind of response once more,
        including refusals before authentication and the page."""
        o = self.order
        for method, path, kw in [
                ("GET", "/", {}), ("GET", "/index.html", {}), ("GET", "/api/v1/me", {}),
                ("GET", "/api/v1/me", {"token": self.tok["ann"]}),
                ("GET", "/api/v1/nope", {}), ("GET", "/api/v1/login", {}),
                ("POST", "/api/v1/login", {"body": {"token": "1" * 64}}),
                ("POST", "/api/v1/logout", {"csrf": False}),
                ("POST", self.item_path(o[0], "label"), {"raw": b"x" * (BODY_LIMIT + 1),
                                                          "token": self.tok["ann"]}),
                ("GET", "/media/%zz", {}), ("GET", "/media/nope", {})]:
            r = self.call(self.srv, method, path, **kw)
            self.assertLess(r.status, 500)
            self.assertEqual(r.header("X-Frame-Options"), "DENY")

    # ---- stopping ------------------------------------------------------------------------------

    def test_sigterm_with_requests_in_flight(self):
        """Keep-alive annotators label flat out on a queue they cannot finish; SIGTERM: exit 0
        within 5 s, every label answered 200 is in the store, none is there twice, and the
        store verifies."""
        self._cleanups.clear()  # this test's own store and server
        self.finish(self.srv)
        ids = [f"load-{i:05d}" for i in range(3000)]
        db = build_store(os.path.join(self.dir, "load"), ids, [{"text": i} for i in ids],
                         top_k=2700, blind=300)
        who = ["ann", "bob", "cay", "dee"]
        tok = {w: add_user(db, w, "annotator") for w in who}
        srv = Server(db)
        done = {w: [] for w in who}
        late = []  # requests sent well after the signal and answered all the same
        stop = threading.Event()
        signalled = [float("inf")]

        def work(w):
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            h = {"Authorization": "Bearer " + tok[w]}
            try:
                while not stop.is_set():
                    sent = time.monotonic()
                    conn.request("GET", "/api/v1/next", headers=h)
                    r = conn.getresponse()
                    item = json.loads(r.read())["item"]
                    if sent > signalled[0] + 0.5:
                        late.append(sent - signalled[0])
                    sent = time.monotonic()
                    conn.request("POST", self.item_path(item, "label"),
                                 body=json.dumps({"label": "cat"}),
                                 headers={**h, "X-Hitl-Request": "1"})
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        done[w].append(item)
                    if sent > signalled[0] + 0.5:
                        late.append(sent - signalled[0])
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                conn.close()

        threads = [threading.Thread(target=work, args=(w,)) for w in who]
        for t in threads:
            t.start()
        time.sleep(1.0)
        signalled[0] = time.monotonic()
        rc, dt = srv.stop()
        stop.set()
        for t in threads:
            t.join(15)
        self.assertEqual(rc, 0, srv.log()[-2000:])
        self.assertIn("hitl serve: terminated", srv.log())
        answered = sorted((i, w, "cat") for w in who for i in done[w])
        self.assertGreater(len(answered), 10)
        stored = labels_of(db)
        self.assertEqual(len(set(stored)), len(stored))
        self.assertTrue(set(answered) <= set(stored), "a label answered 200 is not in the store")
        self.assertLessEqual(len(stored) - len(answered), len(who))  # at most one cut off each
        for s in tok.values():
            self.assertNotIn(s, srv.log())
        p = hitl("audit", "verify", db, ok=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertLess(dt, 5.0, f"SIGTERM with keep-alive clients: {dt:.2f} s to exit; "
                                 f"{len(late)} requests sent 0.5 s to {max(late, default=0):.1f} s"
                                 f" after the signal were still answered")

    def test_sigterm_idle_and_with_an_idle_keepalive_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        conn.request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + self.tok["ann"]})
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        self.srv.requests += 1
        # the connection stays open, idle: it holds no request in flight
        self._cleanups.clear()
        try:
            self.finish(self.srv)
        finally:
            conn.close()


# ---- the failed-login limit: each against a server of its own ---------------------------------

class LoginLimit(ServeCase):
    def setUp(self):
        t = template()
        self.dir = os.path.join(WORK, self.id().split(".")[-1])
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "store.db")
        shutil.copy(t["db"], self.db)
        self.tok = t["tokens"]
        self.media = os.path.join(self.dir, "media")
        os.makedirs(self.media)
        with open(os.path.join(self.media, "a.txt"), "w") as f:
            f.write("a\n")
        self.srv = self.start(self.db, self.media, tokens=self.tok.values())
        self.item = queue_order(self.db)[0]

    def credentials_blocked(self):
        """Every credential from the address is refused unread (a login, a bearer token, good or
        bad); a request with none is answered as usual (401)."""
        s, ann = self.srv, self.tok["ann"]
        path = ServeCase.item_path(self.item, "label")
        self.refused(s, 429, "GET", "/api/v1/me", token=ann)
        self.refused(s, 429, "GET", "/api/v1/next", token=ann)
        self.refused(s, 429, "GET", "/api/v1/status", token=self.tok["adm"])
        self.refused(s, 429, "POST", path, body={"label": "cat"}, token=ann)
        self.refused(s, 429, "POST", "/api/v1/login", body={"token": ann})
        self.refused(s, 429, "POST", "/api/v1/login", body={"token": "2" * 64})
        self.refused(s, 401, "GET", "/api/v1/me")

    def test_failed_logins_block_the_address(self):
        s = self.srv
        bad = [f"{k:064x}" for k in range(10)]
        s.secrets |= set(bad)
        for t in bad[:9]:
            self.refused(s, 401, "POST", "/api/v1/login", body={"token": t})
        # nine failures: a good login still works
        r = self.call(s, "POST", "/api/v1/login", {"token": self.tok["ann"]})
        self.assertEqual(r.status, 200)
        sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        s.secrets.add(sid)
        self.ok(s, "GET", "/api/v1/me", token=self.tok["ann"])
        self.refused(s, 401, "POST", "/api/v1/login", body={"token": bad[9]})  # the tenth
        self.credentials_blocked()
        # a session opened before the block is no guess (256 bits): the people already logged in
        # behind the same address go on working
        self.assertEqual(self.ok(s, "GET", "/api/v1/me", cookie=sid)["name"], "ann")
        self.ok(s, "POST", ServeCase.item_path(self.item, "label"), body={"label": "cat"},
                cookie=sid)

    def test_bad_bearer_tokens_block_the_address(self):
        s = self.srv
        bad = [f"{k:064x}" for k in range(100, 110)]
        for t in bad[:5]:
            self.refused(s, 401, "GET", "/api/v1/me", token=t)
        for t in bad[5:]:
            self.refused(s, 401, "POST", ServeCase.item_path(self.item, "label"),
                         body={"label": "cat"}, token=t)
        self.credentials_blocked()

    def test_media_needs_an_account_and_a_block_spares_sessions(self):
        s = self.srv
        self.refused(s, 401, "GET", "/media/a.txt")  # media is the project's data
        r = self.call(s, "POST", "/api/v1/login", {"token": self.tok["ann"]})
        sid = re.match(r"hitl_session=([0-9a-f]{64})", r.header("Set-Cookie")).group(1)
        s.secrets.add(sid)
        for k in range(10):
            self.refused(s, 401, "POST", "/api/v1/login", body={"token": f"{k:064x}"})
        self.refused(s, 429, "GET", "/media/a.txt", token=self.tok["ann"])
        self.refused(s, 401, "GET", "/media/a.txt")
        r = self.call(s, "GET", "/media/a.txt", cookie=sid)
        self.assertEqual((r.status, r.body), (200, b"a\n"))
        self.assertEqual(r.all("Cache-Control"), ["private, max-age=3600"])


# ---- blind items cannot be told apart --------------------------------------------------------

def separated(a, b):
    """p of a two-sided two-sample test that a and b come from one distribution: Mann-Whitney U
    (scipy) when scipy is there, else a permutation test of the difference in means."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    try:
        from scipy.stats import mannwhitneyu
        return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    except ImportError:
        rng = np.random.default_rng(0)
        both = np.concatenate([a, b])
        obs = abs(a.mean() - b.mean())
        hits = 0
        for _ in range(10000):
            rng.shuffle(both)
            hits += abs(both[:len(a)].mean() - both[len(a):].mean()) >= obs
        return (hits + 1) / 10001


class Blind(ServeCase):
    """50 uncertainty and 50 blind items with payloads of one shape (texts of random length drawn
    the same way for all): an annotator fetches and labels every one. The keys, their order, the
    headers and the byte sizes must not separate the groups, under every show-prediction."""

    def run_store(self, show):
        ids = [f"item-{i:03d}" for i in range(100)]
        rng = random.Random(16)
        words = ["leaf", "stone", "river", "cloud", "ember", "frost", "meadow", "salt"]
        payloads = [{"text": " ".join(rng.choice(words) for _ in range(rng.randint(6, 14))),
                     "source": "scan", "width": rng.randint(100, 999)} for _ in ids]
        db = build_store(os.path.join(WORK, f"blind-{show}"), ids, payloads, top_k=50, blind=50,
                         overlap=1, show=show, seed=9)
        token = add_user(db, "ann", "annotator")
        srv = self.start(db, tokens=[token])
        blind = dict(sql(db, "SELECT pool_id, reason = 1 FROM items"))
        self.assertEqual(sum(blind.values()), 50)
        preds = dict(sql(db, "SELECT i.pool_id, c.name FROM items i JOIN classes c "
                             "ON c.idx = i.pred"))
        rows = []
        for k in range(100):
            t = time.perf_counter()
            r = self.call(srv, "GET", "/api/v1/next", token=token)
            t_next = time.perf_counter() - t
            self.assertEqual(r.status, 200)
            item = r.json["item"]
            self.assertIsNotNone(item, k)
            label = CLASSES[k % 3]
            t = time.perf_counter()
            rl = self.call(srv, "POST", self.item_path(item, "label"), {"label": label},
                           token=token)
            t_label = time.perf_counter() - t
            self.assertEqual(rl.status, 200)
            pl = {"id": item, **payloads[ids.index(item)]}
            self.assertEqual(r.json["payload"], pl)
            overhead = len(r.body) - len(json.dumps(pl, separators=(",", ":")))
            rows.append(dict(item=item, blind=blind[item], keys=[k for k, _ in ordered(r.body)],
                             size=len(r.body), overhead=overhead,
                             headers=[h.lower() for h, _ in r.headers if h.lower() != "date"],
                             label_keys=[k for k, _ in ordered(rl.body)], label_size=len(rl.body),
                             label_headers=[h.lower() for h, _ in rl.headers
                                            if h.lower() != "date"],
                             prediction=r.json.get("prediction", "absent"), ms=t_next * 1e3,
                             label_ms=t_label * 1e3))
        end = self.call(srv, "GET", "/api/v1/next", token=token)
        self.assertEqual(end.status, 200)
        self.assertEqual({k: v for k, v in end.json.items() if k != "classes"},
                         {k: None for k in end.json if k != "classes"})
        return rows, preds, [k for k, _ in ordered(end.body)]

    def check(self, show):
        rows, preds, end_keys = self.run_store(show)
        groups = {g: [r for r in rows if r["blind"] == g] for g in (0, 1)}
        self.assertEqual(len(groups[1]), 50)
        keys = ["item", "payload", "classes", "lease_expires"]
        if show == "always":
            keys.append("prediction")
        for field in ("keys", "headers", "label_keys", "label_headers"):
            seen = {g: {tuple(r[field]) for r in groups[g]} for g in (0, 1)}
            self.assertEqual(len(seen[0]), 1, (show, field, seen[0]))
            self.assertEqual(seen[0], seen[1], (show, field))
        self.assertEqual(groups[1][0]["keys"], keys)
        self.assertEqual(end_keys, keys)
        for r in rows:
            if show == "always":  # the model's guess on every item, blind ones too
                self.assertEqual(r["prediction"], preds[r["item"]], r["item"])
            else:
                self.assertEqual(r["prediction"], "absent", r["item"])
        # the bytes the server adds around the payload are the same for every item; the sizes
        # as a whole do not separate the groups either
        for field in ("overhead", "label_size"):
            self.assertEqual({r[field] for r in groups[0]}, {r[field] for r in groups[1]},
                             (show, field))
        sizes = {g: [r["size"] for r in groups[g]] for g in (0, 1)}
        mean_gap = abs(np.mean(sizes[0]) - np.mean(sizes[1]))
        p = separated(sizes[0], sizes[1])
        ms = {g: float(np.median([r["ms"] for r in groups[g]])) for g in (0, 1)}
        print(f"\n  show-prediction {show}: next sizes uncertain {np.mean(sizes[0]):.1f} B, blind "
              f"{np.mean(sizes[1]):.1f} B (Mann-Whitney p = {p:.3f}); median next ms uncertain "
              f"{ms[0]:.2f}, blind {ms[1]:.2f}", file=sys.stderr)
        self.assertGreater(p, 0.01, (show, sizes))
        self.assertLess(mean_gap, 8, show)

    def test_never(self):
        self.check("never")

    def test_uncertain(self):
        # the store shows predictions on uncertainty items only: the API must show none at all,
        # or their absence would mark the blind items
        self.check("uncertain")

    def test_always(self):
        self.check("always")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", required=True)
    ap.add_argument("--work", required=True)
    a, rest = ap.parse_known_args()
    HITL, WORK = os.path.abspath(a.hitl), os.path.abspath(a.work)
    os.makedirs(WORK, exist_ok=True)
    unittest.main(argv=[sys.argv[0], "-v", *rest])

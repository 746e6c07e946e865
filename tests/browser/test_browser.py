#!/usr/bin/env python3
"""The annotation page of `hitl serve` in a real browser (Debian's chromium and chromedriver
through python3-selenium, headless).

A store is built from the bundled digits pool (payloads naming PNG files in a --media folder),
with two annotators, a reviewer and an admin. Then, through the page only: the annotator logs
in with a token, labels 20 items with the keyboard (classes 0..9 on letter keys), skips one and
undoes one (the item comes back and is labelled again); a second annotator disagrees on one
item and agrees on another; the reviewer adjudicates the disagreement with a justification; the
admin opens the project view. The store must then hold exactly those labels, skips and decision,
the audit chain must verify, and the server must stop on SIGTERM with exit 0.

A second session (class Decisions, its own store and server) covers live decisions: a system
account asks through the API (a refund at risk 0.9, a suspension at 0.5 that the page's refresh
brings in); two reviewers approve the refund on the Decisions view, one rejects the suspension
and the admin settles it there; the service then reads the refund as approved, `hitl decisions`
shows the suspension's review rejected, and the chain verifies.

Screenshots (PNG) of each page go to $HITL_SCREENSHOTS (default: a new temporary folder, named
on stderr). The hitl binary is $HITL_BIN or --hitl (default build/cli/hitl). Skipped, with the
reason, only when selenium, chromium or chromedriver is missing.

    /usr/bin/python3 tests/browser/test_browser.py [--hitl build/cli/hitl] [--work DIR]
"""
import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HITL = os.environ.get("HITL_BIN") or os.path.join(ROOT, "build", "cli", "hitl")
WORK = None
SHOTS = os.environ.get("HITL_SCREENSHOTS")
CHROMIUM = os.environ.get("HITL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HITL_CHROMEDRIVER", "/usr/bin/chromedriver")
CLASSES = [str(d) for d in range(10)]
WAIT = 15  # seconds for any one thing to appear on the page

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM_MISSING = None
except ImportError as e:  # pragma: no cover
    SELENIUM_MISSING = f"python3-selenium is not installed ({e})"


def missing_browser():
    if SELENIUM_MISSING:
        return SELENIUM_MISSING
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} not found (Debian package {pkg})"
    return None


def hitl(*args, ok=True):
    p = subprocess.run([HITL, *map(str, args)], capture_output=True, text=True, timeout=120)
    if ok and p.returncode != 0:
        raise AssertionError(f"hitl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
    return p


def png_gray(path, pixels, scale):
    """A grayscale PNG of a 2-D uint8 array, each pixel a scale x scale block (zlib + struct)."""
    rows = []
    for r in pixels:
        line = b"".join(bytes([int(v)]) * scale for v in r)
        rows.extend([b"\x00" + line] * scale)
    h, w = len(rows), len(rows[0]) - 1

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def screenshots_folder():
    """$HITL_SCREENSHOTS or --screenshots, else one new temporary folder for every session."""
    global SHOTS
    if not SHOTS:
        SHOTS = tempfile.mkdtemp(prefix="hitl-screenshots-")
        print(f"test_browser: screenshots in {SHOTS}", file=sys.stderr)
    os.makedirs(SHOTS, exist_ok=True)
    return SHOTS


def api(url, method="GET", body=None, token=None):
    """(status, JSON answer) of a request to hitl serve's API, as a service makes it."""
    req = urllib.request.Request(url, method=method, headers={"Accept": "application/json"},
                                 data=None if body is None else json.dumps(body).encode())
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if method != "GET":
        req.add_header("X-Hitl-Request", "1")
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None


def db_rows(db, sql, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


class Page(unittest.TestCase):
    """A store, `hitl serve` on it and a headless browser; a subclass builds the store
    (build_store: cls.db, cls.tokens, optionally cls.media) and runs one session on it."""

    LOG = "serve.log"
    media = None

    @classmethod
    def setUpClass(cls):
        reason = missing_browser()
        if reason:
            raise unittest.SkipTest(reason)
        if not os.access(HITL, os.X_OK):
            raise AssertionError(f"no hitl binary at {HITL} (set HITL_BIN or --hitl)")
        cls.own_work = not WORK  # a folder of our own is removed afterwards
        cls.work = WORK or tempfile.mkdtemp(prefix="hitl-browser-")
        os.makedirs(cls.work, exist_ok=True)
        cls.shots = screenshots_folder()
        cls.server = cls.driver = None
        try:
            cls.build_store()
            cls.start_server()
            cls.start_browser()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "driver", None):
            cls.driver.quit()
            cls.driver = None
        if getattr(cls, "server", None) and cls.server.poll() is None:
            cls.server.kill()
            cls.server.wait()
        if getattr(cls, "own_work", False):
            shutil.rmtree(cls.work, ignore_errors=True)

    # ------------------------------------------------------------ fixtures

    @classmethod
    def start_server(cls):
        cls.log = os.path.join(cls.work, cls.LOG)
        log = open(cls.log, "w")
        media = ["--media", cls.media] if cls.media else []
        cls.server = subprocess.Popen([HITL, "serve", cls.db, "--listen", "127.0.0.1:0", *media],
                                      stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(cls.log) as f:
                first = f.readline()
                rest = first + f.read()
            m = re.match(r"hitl serve: listening on (http://127\.0\.0\.1:\d+/)", first)
            if m:
                cls.url = m.group(1)
                return
            if cls.server.poll() is not None:
                raise AssertionError(f"hitl serve exited {cls.server.returncode}: {rest}")
            time.sleep(0.05)
        raise AssertionError(f"hitl serve did not say where it listens: {rest!r}")

    @classmethod
    def start_browser(cls):
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,800", "--hide-scrollbars", "--lang=en-US",
                  "--no-first-run", "--disable-extensions"):
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
        cls.driver.set_page_load_timeout(30)
        cls.viewport(1280, 800)

    # ------------------------------------------------------------ helpers

    @classmethod
    def viewport(cls, width, height, mobile=False):
        cls.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def until(self, cond, what, wait=WAIT):
        try:
            return WebDriverWait(self.driver, wait, poll_frequency=0.05).until(lambda d: cond())
        except TimeoutException:
            self.fail(f"timed out waiting for {what}; console: {self.console()}")

    def visible(self, element_id):
        return self.js("const e = document.getElementById(arguments[0]);"
                       "return !!e && !e.hidden && e.offsetParent !== null;", element_id)

    def visible_css(self, css):
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return !!e && !e.hidden && e.offsetParent !== null;", css)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def console(self):
        entries = self.driver.get_log("browser")
        self.console_log.extend(entries)
        return [e["message"] for e in entries if e["level"] in ("SEVERE", "WARNING")]

    def shot(self, name):
        self.js("document.getElementById('toast').hidden = true;")
        path = os.path.join(self.shots, name)
        self.assertTrue(self.driver.save_screenshot(path), path)
        self.screens.append(path)

    def press(self, key):
        ActionChains(self.driver).send_keys(key).perform()

    def login(self, name, view):
        d = self.driver
        d.get(self.url)
        self.until(lambda: self.visible("token"), "the login form")
        d.find_element(By.ID, "token").send_keys(self.tokens[name] + Keys.ENTER)
        self.until(lambda: self.visible("view-" + view), f"{name}'s {view} view")
        self.assertEqual(d.find_element(By.ID, "who-name").text, name)

    def logout(self):
        self.driver.find_element(By.ID, "logout").click()
        self.until(lambda: self.visible("view-login"), "the login view after logging out")

    def assert_no_csp_violation(self):
        self.console()
        csp = [e["message"] for e in self.console_log if "Content Security Policy" in e["message"]]
        self.assertEqual(csp, [])

    def stop_server(self):
        """SIGTERM: the server stops with exit 0, and its log never holds a token."""
        self.server.send_signal(signal.SIGTERM)
        try:
            rc = self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("hitl serve did not stop within 20 s of SIGTERM")
        log = self.read_log()
        self.assertEqual(rc, 0, log[-2000:])
        for token in self.tokens.values():
            self.assertNotIn(token, log)

    def check_screens(self):
        for p in self.screens:
            with open(p, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", p)
        print(f"test_browser: screenshots: {', '.join(self.screens)}", file=sys.stderr)


class Browser(Page):
    """One end-to-end annotation session; the steps share the store, so they run as one test."""

    @classmethod
    def build_store(cls):
        import h5py  # Debian's python3-h5py, as every interop test
        cls.db = os.path.join(cls.work, "browser.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(cls.db + suffix):
                os.remove(cls.db + suffix)
        cls.media = os.path.join(cls.work, "media")
        shutil.rmtree(cls.media, ignore_errors=True)
        os.makedirs(os.path.join(cls.media, "digits"))
        pool = os.path.join(ROOT, "datasets", "digits.h5")
        with h5py.File(pool, "r") as f:
            ids = [x.decode() if isinstance(x, bytes) else str(x) for x in f["ids"][:]]
            features = f["features"][:]
        # predictions shown on every item (`always`), so the page's suggestion is exercised
        hitl("init", cls.db, "--classes", ",".join(CLASSES), "--overlap", 2,
             "--show-prediction", "always", "--actor", "admin")
        items = os.path.join(cls.work, "items.jsonl")
        with open(items, "w") as f:
            for i, pid in enumerate(ids):
                f.write(json.dumps({
                    "id": pid,
                    "image": f"digits/{pid}.png",
                    "question": "Which digit is this?\nSkip it when you cannot tell.",
                    "source": f"UCI optdigits, test row {i} <scanned & normalised>",
                }) + "\n")
        hitl("queue", cls.db, "--from", pool, "--probs", "probs", "--ids", "ids",
             "--method", "margin", "--top-k", 24, "--blind", 6, "--seed", 1, "--data", items)
        queued = [r[0] for r in db_rows(cls.db, "SELECT pool_id FROM items")]
        row_of = {pid: i for i, pid in enumerate(ids)}
        for pid in queued:  # 8x8 pixels 0..1, dark ink on white, 16x
            px = [[255 - round(255 * min(max(float(v), 0.0), 1.0)) for v in features[row_of[pid]][r * 8:r * 8 + 8]]
                  for r in range(8)]
            png_gray(os.path.join(cls.media, "digits", f"{pid}.png"), px, 16)
        cls.tokens = {}
        for name, role in (("ana", "annotator"), ("ben", "annotator"), ("rita", "reviewer"),
                           ("ada", "admin")):
            cls.tokens[name] = json.loads(hitl("user", "add", cls.db, name, "--role", role,
                                               "--json").stdout)["token"]

    # ------------------------------------------------------------ helpers

    def shown_item(self):
        """The item the annotate view shows once no request is in flight, else None."""
        return self.js("""
            const card = document.getElementById('item-card');
            if (!card || card.classList.contains('busy')) return null;
            if (!document.getElementById('item-done').hidden) return '';
            if (document.getElementById('item-body').hidden) return null;
            return card.dataset.item || null;""")

    def wait_item(self, not_this=None):
        return self.until(lambda: (lambda s: s if s is not None and s != not_this else None)(
            self.shown_item()), f"an item other than {not_this!r}")

    def keys(self):
        """class name -> the key its button shows."""
        pairs = self.js("""return [...document.querySelectorAll('#class-buttons .class-btn')]
            .map(b => [b.dataset.class, (b.querySelector('kbd') || {}).textContent || '']);""")
        return dict(pairs)

    def progress(self):
        return {k: int(self.driver.find_element(By.ID, f"p-{k}").text)
                for k in ("labelled", "skipped", "left")}

    def label_shown(self, cls):
        """Labels the shown item with cls through its key; returns (item, next item)."""
        item = self.wait_item()
        self.assertTrue(item, "no item to label")
        key = self.keys()[cls]
        self.press(key.lower())
        return item, self.wait_item(not_this=item)

    # ------------------------------------------------------------ the session

    def test_session(self):
        self.screens, self.console_log = [], []
        d = self.driver
        d.get(self.url)
        self.until(lambda: self.visible("view-login"), "the login view")
        self.shot("login.png")

        # a wrong token is refused on the page
        d.find_element(By.ID, "token").send_keys("0" * 64 + Keys.ENTER)
        self.until(lambda: self.visible("login-error"), "the bad-token message")

        # ---- ana: 20 labels with the keyboard, one skip, one undo
        self.login("ana", "annotate")
        item = self.wait_item()
        self.assertTrue(item, "the annotator was given no item")
        keys = self.keys()
        self.assertEqual(list(keys), CLASSES)
        for c, k in keys.items():  # letters only; never a digit; never a class's own name
            self.assertRegex(k, r"^[A-Z]$", f"class {c} has key {k!r}")
        self.assertEqual(len(set(keys.values())), len(CLASSES))
        # the payload as readable text: a label per field, newlines kept, markup shown as text
        fields = d.find_element(By.ID, "item-fields")
        self.assertIn("Which digit is this?\nSkip it when you cannot tell.", fields.text)
        self.assertIn("<scanned & normalised>", fields.text)
        self.assertEqual(self.js("return document.querySelectorAll('#item-fields scanned').length"), 0)
        self.assertEqual([e.text for e in fields.find_elements(By.CSS_SELECTOR, ".field > dt")],
                         ["IMAGE", "QUESTION", "SOURCE"])
        self.assertNotIn('"id"', fields.text)
        self.assertNotIn("{", fields.text)
        white = self.js("return getComputedStyle(document.querySelector('#item-fields .text')).whiteSpace")
        self.assertEqual(white, "pre-wrap")
        # the image from --media, loaded
        self.until(lambda: self.js("const i = document.querySelector('#item-fields img');"
                                   "return !!i && i.complete && i.naturalWidth > 0;"),
                   "the item's image from /media/")
        src = self.js("return document.querySelector('#item-fields img').src")
        self.assertEqual(src, f"{self.url}media/digits/{item}.png")
        # the model's suggestion, shown as such and on its button
        self.until(lambda: self.visible("item-prediction"), "the model's suggestion")
        suggested = d.find_element(By.ID, "item-prediction-label").text
        self.assertIn(suggested, CLASSES)
        self.assertEqual(self.js("return [...document.querySelectorAll('.class-btn.suggested')]"
                                 ".map(b => b.dataset.class)"), [suggested])
        # never why the item was queued
        body = d.find_element(By.TAG_NAME, "body").text.lower()
        for word in ("blind", "uncertain", "reason", "margin", "score"):
            self.assertNotIn(word, body)

        ana = {}
        start = self.progress()
        self.assertEqual(start["labelled"], 0)
        for n in range(20):
            cls = CLASSES[n % 10]
            done, _ = self.label_shown(cls)
            self.assertNotIn(done, ana)
            ana[done] = cls
            if n == 9:
                self.until(lambda: len(d.find_elements(By.CSS_SELECTOR, "#history .h-entry")) >= 10,
                           "ten decisions in the history")
                self.shot("annotator-1280x800.png")
        self.assertEqual(self.progress()["labelled"], 20)
        self.assertEqual(self.progress()["left"], start["left"] - 20)

        skipped = self.wait_item()
        self.press(Keys.SPACE)
        after_skip = self.wait_item(not_this=skipped)
        self.assertTrue(after_skip)
        self.assertEqual(self.progress()["skipped"], 1)
        history = self.js("return [...document.querySelectorAll('#history .h-entry')]"
                          ".map(e => [e.dataset.item, e.dataset.action]);")
        self.assertEqual(history[0], [skipped, "skip"])
        last = [h for h in history if h[1] == "label"][0][0]
        self.assertEqual(last, list(ana)[-1])
        # undo the last label (Backspace): the item comes back and is labelled anew
        self.press(Keys.BACK_SPACE)
        back = self.wait_item(not_this=after_skip)
        self.assertEqual(back, last, "after an undo, the undone item is shown again")
        self.assertEqual(self.progress()["labelled"], 19)
        relabel = CLASSES[(CLASSES.index(ana[last]) + 5) % 10]
        done, _ = self.label_shown(relabel)
        self.assertEqual(done, last)
        ana[last] = relabel
        self.assertEqual(self.progress()["labelled"], 20)

        # the phone-sized page: nothing wider than the screen, buttons on screen
        self.viewport(390, 844, mobile=True)
        self.until(lambda: self.js("return document.documentElement.scrollWidth") <= 390,
                   "the page to fit 390 px")
        rect = self.js("const r = document.querySelector('#class-buttons').getBoundingClientRect();"
                       "return [r.left, r.right];")
        self.assertGreaterEqual(rect[0], 0)
        self.assertLessEqual(rect[1], 390)
        self.shot("annotator-390x844.png")
        self.viewport(1280, 800)
        self.logout()

        # ---- ben: disagrees with ana on her first item, agrees on the rest (overlap 2), so
        # that items reach a final label (blind ones among them: the calibration chart)
        self.login("ben", "annotate")
        ben, ben_skips, disagreed = {}, [], None
        for _ in range(len(ana) + 5):
            if len(ben) == len(ana):
                break
            item = self.wait_item()
            self.assertTrue(item, "ben ran out of items before labelling ana's")
            if item not in ana:  # one ana holds but has not labelled: not ours to compare
                self.press(Keys.SPACE)
                self.wait_item(not_this=item)
                ben_skips.append(item)
                continue
            if disagreed is None:
                disagreed = item
                cls = CLASSES[(CLASSES.index(ana[item]) + 1) % 10]
            else:
                cls = ana[item]
            done, _ = self.label_shown(cls)
            ben[done] = cls
        self.assertEqual(set(ben), set(ana))
        self.logout()

        # ---- rita: adjudicates the disagreement with a justification
        self.login("rita", "review")
        card = f'.review-item[data-item="{disagreed}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, card), "the disagreement in the queue")
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, ".review-item")), 1)
        votes = self.js(f"""return [...document.querySelectorAll('{card} .rv-votes tr')]
            .map(r => [...r.cells].slice(0, 2).map(c => c.textContent));""")
        self.assertEqual(sorted(votes), sorted([["ana", ana[disagreed]], ["ben", ben[disagreed]]]))
        final = ana[disagreed]
        d.find_element(By.CSS_SELECTOR, f'{card} input[type=radio][value="{final}"]').click()
        just = d.find_element(By.CSS_SELECTOR, f"{card} .rv-just")
        submit = d.find_element(By.CSS_SELECTOR, f"{card} .rv-submit")
        just.send_keys("too short")
        self.assertIn("8 / 20", d.find_element(By.CSS_SELECTOR, f"{card} .rv-count").text)
        self.assertFalse(submit.is_enabled())
        just.send_keys(Keys.CONTROL, "a")
        just.send_keys(Keys.DELETE)
        self.until(lambda: "0 / 20" in d.find_element(By.CSS_SELECTOR, f"{card} .rv-count").text,
                   "the count to follow the text")
        reason = "Compared with the scan at full size: the strokes match this class."
        just.send_keys(reason)
        self.until(lambda: submit.is_enabled(), "the decide button to enable")
        # the annotators' progress beside the queue
        side = d.find_element(By.ID, "review-annotators").text
        self.assertIn("ana", side)
        self.assertIn("ben", side)
        self.shot("reviewer.png")
        submit.click()
        self.until(lambda: not d.find_elements(By.CSS_SELECTOR, card), "the decided item to leave")
        self.until(lambda: "Nothing to decide" in d.find_element(By.ID, "review-summary").text,
                   "an empty adjudication queue")
        self.logout()

        # ---- ada: the project view (status, health, charts)
        self.login("ada", "admin")
        self.until(lambda: d.find_element(By.ID, "health-status").text.strip(), "the health status")
        self.until(lambda: "ana" in d.find_element(By.ID, "admin-annotators").text,
                   "the annotators' table")
        for chart in ("chart-calibration", "chart-agreement"):
            self.until(lambda: self.js(
                "const i = document.getElementById(arguments[0]);"
                "return (i.complete && i.naturalWidth > 0) || !!i.parentElement.querySelector('.chart-missing');",
                chart), f"{chart} to load or be reported missing")
        charts = {c: self.js("const i = document.getElementById(arguments[0]);"
                             "return i.naturalWidth > 0 ? 'drawn' : "
                             "i.parentElement.querySelector('.chart-missing').textContent;", c)
                  for c in ("chart-calibration", "chart-agreement")}
        self.assertEqual(charts, {"chart-calibration": "drawn", "chart-agreement": "drawn"})
        self.shot("admin.png")
        d.execute_script("document.querySelector('.charts').scrollIntoView()")
        self.shot("admin-charts.png")
        self.logout()

        # the page kept to the CSP: no violation reported
        self.assert_no_csp_violation()

        # ---- stop the server: SIGTERM, exit 0
        self.stop_server()

        # ---- the store holds exactly what was done on the page
        got = set(db_rows(self.db, """SELECT i.pool_id, l.annotator, c.name FROM labels l
            JOIN items i ON i.id = l.item JOIN classes c ON c.idx = l.label"""))
        want = {(i, "ana", c) for i, c in ana.items()} | {(i, "ben", c) for i, c in ben.items()}
        self.assertEqual(got, want)
        skips = set(db_rows(self.db, "SELECT i.pool_id, s.annotator FROM skips s "
                                     "JOIN items i ON i.id = s.item"))
        self.assertEqual(skips, {(skipped, "ana")} | {(i, "ben") for i in ben_skips})
        decisions = db_rows(self.db, """SELECT i.pool_id, d.actor, c.name, d.justification
            FROM decisions d JOIN items i ON i.id = d.item JOIN classes c ON c.idx = d.label""")
        self.assertEqual(decisions, [(disagreed, "rita", final, reason)])
        out = os.path.join(self.work, "export.jsonl")
        hitl("export", self.db, "--format", "jsonl", "--out", out)
        with open(out) as f:
            finals = {r["id"]: r["label"] for r in map(json.loads, f)}
        self.assertEqual(finals, {i: (final if i == disagreed else c) for i, c in ana.items()})
        status = json.loads(hitl("status", self.db, "--json").stdout)
        per = {a["name"]: (a["labels"], a["skips"]) for a in status["annotators"]}
        self.assertEqual(per, {"ana": (20, 1), "ben": (20, len(ben_skips))})
        hitl("audit", "verify", self.db)
        self.check_screens()


class Decisions(Page):
    """Live decisions on the page: a service (system account) asks through the API; reviewers
    vote and an admin settles through the Decisions view; the store and the chain agree."""

    LOG = "serve-decisions.log"
    REFRESH = 12  # seconds for the page's own refresh (every 5 s) to show a change

    @classmethod
    def build_store(cls):
        cls.db = os.path.join(cls.work, "decisions.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(cls.db + suffix):
                os.remove(cls.db + suffix)
        hitl("init", cls.db, "--classes", "ok,fraud", "--actor", "admin")
        cls.tokens = {}
        for name, role in (("svc", "system"), ("rita", "reviewer"), ("rob", "reviewer"),
                           ("ada", "admin")):
            cls.tokens[name] = json.loads(hitl("user", "add", cls.db, name, "--role", role,
                                               "--json").stdout)["token"]

    def call(self, method, path, body=None, who="svc"):
        return api(f"{self.url}api/v1/{path}", method, body, self.tokens[who])

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def open_decisions(self, name, home, tabs):
        d = self.driver
        self.login(name, home)
        shown = [a.text for a in d.find_elements(By.CSS_SELECTOR, "#tabs a") if a.is_displayed()]
        self.assertEqual(shown, tabs)
        d.find_element(By.ID, "tab-decisions").click()
        self.until(lambda: self.visible("view-decisions"), f"{name}'s decisions view")
        self.until(lambda: self.text("#dec-updated").startswith("Updated"), "the first load")

    def write_reason(self, card, text):
        """Types a reason into a card; returns its approve and reject buttons."""
        box = self.driver.find_element(By.CSS_SELECTOR, f"{card} .dc-reason")
        self.js("document.getElementById('toast').hidden = true;"  # the last vote's toast
                "arguments[0].scrollIntoView({block: 'center'});", box)
        box.click()
        box.send_keys(text)
        return (self.driver.find_element(By.CSS_SELECTOR, f"{card} .dc-approve"),
                self.driver.find_element(By.CSS_SELECTOR, f"{card} .dc-reject"))

    def fits_phone(self, buttons):
        self.viewport(390, 844, mobile=True)
        self.until(lambda: self.js("return document.documentElement.scrollWidth") <= 390,
                   "the page to fit 390 px")
        for b in buttons:
            r = self.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right, r.height];", b)
            self.assertGreaterEqual(r[0], 0)
            self.assertLessEqual(r[1], 390)
            self.assertGreaterEqual(r[2], 36)  # a finger's worth

    def test_decisions(self):
        self.screens, self.console_log = [], []
        d = self.driver

        # ---- the service asks about a refund: high risk, it waits for two approvals
        st, refund = self.call("POST", "decisions", {
            "id": "refund-8812", "action": "Refund 120 EUR on order 8812", "risk": 0.9,
            "model": "refunds-v3",
            "payload": {"order": 8812, "customer": "Jo Park <jo@example.com>",
                        "reason_given": "Parcel arrived damaged.\nPhoto attached.",
                        "items": ["kettle", "mug"]}})
        self.assertEqual(st, 201, refund)
        self.assertEqual((refund["route"], refund["status"], refund["required"]),
                         ("approve", "pending", 2))
        a = refund["decision"]
        card_a = f'#dec-pending .decision[data-decision="{a}"]'

        # ---- rita: the Decisions tab beside Review; the refund, readable
        self.open_decisions("rita", "review", ["Annotate", "Review", "Decisions"])
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, card_a), "the refund on the page")
        self.assertEqual(self.text(f"{card_a} .dc-route"), "waits for approval")
        self.assertEqual(self.text(f"{card_a} .dc-action"), "Refund 120 EUR on order 8812")
        self.assertEqual(self.text(f"{card_a} .dc-caller"), "(refund-8812)")
        self.assertEqual(self.text(f"{card_a} .dc-risk"), "0.90")
        self.assertEqual(self.text(f"{card_a} .dc-approvals"), "0 of 2")
        self.assertIn("svc", self.text(f"{card_a} .dc-from"))
        self.assertIn("refunds-v3", self.text(f"{card_a} .dc-from"))
        self.assertEqual(self.text(f"{card_a} .dc-votes"), "None yet.")
        payload = d.find_element(By.CSS_SELECTOR, f"{card_a} .dc-payload")
        self.assertEqual(sorted(e.text for e in payload.find_elements(By.CSS_SELECTOR, ".field > dt")),
                         ["CUSTOMER", "ITEMS", "ORDER", "REASON GIVEN"])
        self.assertIn("Parcel arrived damaged.\nPhoto attached.", payload.text)
        self.assertIn("Jo Park <jo@example.com>", payload.text)
        self.assertEqual(len(payload.find_elements(By.CSS_SELECTOR, "li")), 2)  # the list, as one
        self.assertNotIn("{", payload.text)
        self.assertNotIn('"', payload.text)
        # the time left, counted down live (the store's default deadline is 4 h)
        left = self.text(f"{card_a} .dc-time")
        self.assertRegex(left, r"^3 h 59 min \d\d s$")
        self.until(lambda: self.text(f"{card_a} .dc-time") != left, "the countdown to tick")
        self.until(lambda: "1 decision waiting for review (1 for your vote)" in self.text("#dec-summary"),
                   "the summary")

        # a reason too short holds the buttons back; the live count is of visible characters
        approve, reject = self.write_reason(card_a, "Order  8812 ")
        self.assertIn("9 / 20", self.text(f"{card_a} .dc-count"))
        self.assertFalse(approve.is_enabled())
        self.assertFalse(reject.is_enabled())

        # ---- while rita writes, the service flags a suspension (medium risk: it proceeded);
        # the page's refresh shows it without a reload, and leaves rita's text and focus alone
        st, flag = self.call("POST", "decisions", {
            "id": "suspend-77", "action": "Suspend account 77", "risk": 0.5,
            "payload": {"account": 77, "signals": {"chargebacks": 3, "new_device": True}}})
        self.assertEqual(st, 201, flag)
        self.assertEqual((flag["route"], flag["status"], flag["review"], flag["required"]),
                         ("flag", "proceeded", "pending", 1))
        b = flag["decision"]
        card_b = f'#dec-pending .decision[data-decision="{b}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, card_b),
                   "the flagged decision after a refresh", wait=self.REFRESH)
        self.assertEqual(self.text(f"{card_b} .dc-route"), "proceeded, review after")
        self.assertEqual(self.text(f"{card_b} .dc-approvals"), "0 of 1")
        self.assertIn("CHARGEBACKS\n3", self.text(f"{card_b} .dc-payload"))
        self.assertIn("2 decisions waiting for review (2 for your vote)", self.text("#dec-summary"))
        self.assertEqual(self.js("return document.activeElement.id"), f"dc-reason-{a}")
        self.press("was delivered damaged; the photo shows the broken kettle.")  # still focused
        self.until(lambda: approve.is_enabled() and reject.is_enabled(), "the buttons to enable")
        self.assertIn("/ 20", self.text(f"{card_a} .dc-count"))
        self.js("window.scrollTo(0, 0)")
        self.shot("decisions.png")

        # rita approves the refund: one of two, it keeps waiting
        reason_a1 = self.js(f"return document.querySelector('{card_a} .dc-reason').value")
        self.assertEqual(reason_a1, "Order  8812 was delivered damaged; the photo shows the broken kettle.")
        approve.click()
        self.until(lambda: self.visible_css(f"{card_a} .dc-mine"), "rita's vote on the card")
        self.assertIn("1 of 2 approvals", self.text(f"{card_a} .dc-mine"))
        self.assertEqual(self.text(f"{card_a} .dc-approvals"), "1 of 2")
        self.assertFalse(self.visible_css(f"{card_a} .dc-form"))
        self.assertEqual(self.js(f"""return [...document.querySelectorAll('{card_a} .dc-votes li')]
            .map(l => [l.dataset.reviewer, l.dataset.vote]);"""), [["rita", "approve"]])

        # rita rejects the suspension: it escalates to the admins
        _, reject_b = self.write_reason(card_b, "No chargeback is older than a week; the device "
                                                "change matches a phone upgrade.")
        self.until(lambda: reject_b.is_enabled(), "reject to enable")
        reject_b.click()
        out_b = f'.outcome[data-decision="{b}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, out_b), "the outcome of the rejection")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, out_b).get_attribute("data-review"), "escalated")
        self.assertIn("to an admin", self.text(f"{out_b} .oc-text"))
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, card_b))
        st, got = self.call("GET", f"decisions/{b}")
        self.assertEqual((st, got["status"], got["review"]), (200, "proceeded", "escalated"))
        self.until(lambda: self.visible("dec-admin-note") and "1 escalated or expired decision waits"
                   in self.text("#dec-admin-note"), "the note on what waits for an admin",
                   wait=self.REFRESH)
        self.logout()

        # ---- rob: sees rita's vote and reason, approves: the refund is approved
        self.open_decisions("rob", "review", ["Annotate", "Review", "Decisions"])
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, card_a), "the refund for rob")
        self.assertEqual(self.text(f"{card_a} .dc-approvals"), "1 of 2")
        self.assertIn("rita approved", self.text(f"{card_a} .dc-votes"))
        self.assertIn(reason_a1, self.text(f"{card_a} .dc-votes"))
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, f'.decision[data-decision="{b}"]'))
        self.assertTrue(self.visible("dec-settle-block") is False)
        approve, reject = self.write_reason(card_a, "Courier confirmed the damage report for 8812.")
        self.until(lambda: approve.is_enabled(), "approve to enable")
        approve.click()
        out_a = f'.outcome[data-decision="{a}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, out_a), "the outcome of the approval")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, out_a).get_attribute("data-review"), "approved")
        self.assertIn("Approved: 2 of 2 approvals. The service may go ahead.", self.text(f"{out_a} .oc-text"))
        self.assertEqual(self.js(f"""return [...document.querySelectorAll('{out_a} .oc-votes li')]
            .map(l => l.dataset.reviewer);"""), ["rita", "rob"])
        self.logout()

        # ---- ada (admin): the escalated suspension, to settle; on a phone too
        self.open_decisions("ada", "admin", ["Annotate", "Review", "Decisions", "Project"])
        settle_b = f'#dec-settle .decision[data-decision="{b}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, settle_b), "the escalation for the admin")
        self.assertTrue(self.visible("dec-settle-block"))
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, f'.decision[data-decision="{a}"]'))
        self.assertIn("Escalated after a rejection", self.text(f"{settle_b} .dc-state"))
        self.assertIn("rita rejected", self.text(f"{settle_b} .dc-votes"))
        self.assertIn("phone upgrade", self.text(f"{settle_b} .dc-votes"))
        self.assertRegex(self.text(f"{settle_b} .dc-time"), r"^for \d+ s$")
        self.assertIn("1 for you to settle", self.text("#dec-summary"))
        approve, reject = self.write_reason(settle_b, "Agreed with rita: the signals are benign; "
                                                      "restore account 77.")
        self.until(lambda: reject.is_enabled(), "reject to enable for the admin")
        self.assertEqual(reject.text, "Reject and settle")
        self.fits_phone([approve, reject])
        self.js("arguments[0].scrollIntoView({block: 'end'})", reject)
        self.shot("decisions-390x844.png")
        self.viewport(1280, 800)
        reject.click()
        out_b = f'.outcome[data-decision="{b}"]'
        self.until(lambda: d.find_elements(By.CSS_SELECTOR, out_b), "the outcome of the settling")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, out_b).get_attribute("data-review"), "rejected")
        self.assertIn("Rejected by ada, who settled it.", self.text(f"{out_b} .oc-text"))
        self.shot("decisions-admin.png")
        self.until(lambda: "Nothing waits for review" in self.text("#dec-summary"),
                   "an empty list after a refresh", wait=self.REFRESH)
        self.logout()
        self.assert_no_csp_violation()

        # ---- what the service and the store say
        st, got = self.call("GET", f"decisions/{a}")
        self.assertEqual(st, 200, got)
        self.assertEqual((got["status"], got["review"], got["approvals"]), ("approved", "approved", 2))
        self.assertEqual(sorted((v["reviewer"], v["vote"]) for v in got["votes"]),
                         [("rita", "approve"), ("rob", "approve")])
        listed = {x["decision"]: x for x in json.loads(hitl("decisions", self.db, "--json").stdout)["decisions"]}
        self.assertEqual((listed[b]["review"], listed[b]["status"], listed[b]["settled_by"]),
                         ("rejected", "proceeded", "ada"))
        self.assertEqual([(v["reviewer"], v["vote"]) for v in listed[b]["votes"]],
                         [("rita", "reject"), ("ada", "reject")])
        self.stop_server()
        hitl("audit", "verify", self.db)
        self.check_screens()


def main():
    global HITL, WORK, SHOTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--hitl", default=HITL)
    ap.add_argument("--work", default=None)
    ap.add_argument("--screenshots", default=SHOTS)
    args, rest = ap.parse_known_args()
    HITL, WORK, SHOTS = os.path.abspath(args.hitl), args.work, args.screenshots
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()

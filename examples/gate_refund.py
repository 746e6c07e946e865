#!/usr/bin/env python3
"""usage: gate_refund.py --server URL --order ORDER --amount AMOUNT --risk RISK
                      [--model NAME] [--wait SECONDS] [--poll SECONDS] [--max-time SECONDS]
                      [--ledger FILE]

A refund service that asks hitl before it pays: the refund is a live decision
(POST /api/v1/decisions), and the money moves only when hitl answers "approved" (reviewers
signed it off) or "proceeded" (the risk was low enough to go ahead; a flagged one is reviewed
afterwards). "rejected" is not paid. "escalated" or "expired" wait for an admin: the service
checks again every --poll seconds until an admin settles it or --max-time runs out.

  HITL_TOKEN      the token of a system account: hitl user add DB NAME --role system --json
  --server URL    where `hitl serve` listens, e.g. http://127.0.0.1:8080
  --order ORDER   the order to refund; the decision's id is "refund-ORDER", so a retry (or a
                  second run for the same order) gets the first decision back, never a second
  --amount N      the amount; --risk R the model's risk score in 0..1; --model NAME its name
  --wait S        how long one request waits for the outcome (default 60, at most 300)
  --poll S        between checks of an escalated or expired decision (default 5)
  --max-time S    give up after this long (default 3600)
  --ledger FILE   where the payment is recorded (default refunds.ledger); one line per order

Network errors and 5xx answers are retried with backoff: resubmitting is safe (the same id is
the same decision) and so is waiting again (GET /api/v1/decisions/N?wait=S answers at once once
the decision is settled). Standard library only.

exit codes: 0 paid (approved or proceeded), 1 not paid (rejected, or still escalated/expired
at --max-time), 2 usage, 3 hitl refused the request or could not be reached in --max-time.
"""
import argparse
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


class Refused(Exception):
    """hitl answered with a 4xx: retrying will not help."""


class Hitl:
    def __init__(self, server, token, give_up_at):
        u = urllib.parse.urlsplit(server)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"--server must be http://HOST:PORT or https://HOST:PORT: {server}")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.token = token
        self.give_up_at = give_up_at

    def _once(self, method, path, body, timeout):
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout)
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        data = None
        if method == "POST":
            headers["X-Hitl-Request"] = "1"  # hitl serve refuses a POST without it
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def call(self, method, path, body=None, timeout=30):
        """The answer's JSON, retrying network errors and 5xx with backoff until --max-time."""
        delay = 0.2
        while True:
            try:
                status, raw = self._once(method, path, body, timeout)
                if status < 500:
                    j = json.loads(raw) if raw else {}
                    if status >= 400:
                        raise Refused(f"{method} {path}: {status} {j.get('error', raw[:200])}")
                    return j
                why = f"{status} {raw[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                why = f"{type(e).__name__}: {e}"
            if time.monotonic() + delay > self.give_up_at:
                raise TimeoutError(f"{method} {path}: hitl unreachable ({why})")
            print(f"  retrying {method} {path} in {delay:.1f} s ({why})", file=sys.stderr)
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 5.0)


def pay(ledger, order, amount, decision):
    """The action the decision gates: here a line in the ledger, once per order."""
    if os.path.exists(ledger):
        with open(ledger, encoding="utf-8") as f:
            if any(line.split("\t", 1)[0] == order for line in f):
                print(f"refund {order}: already paid")
                return
    with open(ledger, "a", encoding="utf-8") as f:
        f.write(f"{order}\t{amount}\tdecision {decision['decision']}\t{decision['status']}\n")
        f.flush()
        os.fsync(f.fileno())
    who = ", ".join(v["reviewer"] for v in decision["votes"] if v["vote"] == "approve")
    print(f"refund {order}: paid {amount} (decision {decision['decision']}, "
          f"{decision['status']}{' by ' + who if who else ''})")


def main():
    ap = argparse.ArgumentParser(description="A refund gated on hitl's live decisions.",
                                 usage=__doc__.split("\n\n")[0][len("usage: "):])
    ap.add_argument("--server", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--amount", required=True)
    ap.add_argument("--risk", required=True, type=float)
    ap.add_argument("--model", default=None)
    ap.add_argument("--wait", type=float, default=60)
    ap.add_argument("--poll", type=float, default=5)
    ap.add_argument("--max-time", type=float, default=3600)
    ap.add_argument("--ledger", default="refunds.ledger")
    a = ap.parse_args()
    token = os.environ.get("HITL_TOKEN", "")
    if not token:
        ap.error("set HITL_TOKEN to a system account's token")
    if not 0 <= a.risk <= 1 or not 0 <= a.wait <= 300 or a.poll <= 0:
        ap.error("--risk must be in 0..1, --wait in 0..300 s, --poll above 0")
    try:
        hitl = Hitl(a.server, token, time.monotonic() + a.max_time)
    except ValueError as e:
        ap.error(str(e))

    body = {"id": f"refund-{a.order}", "action": f"refund {a.amount} to order {a.order}",
            "payload": {"order": a.order, "amount": a.amount}, "risk": a.risk}
    if a.model:
        body["model"] = a.model
    try:
        d = hitl.call("POST", "/api/v1/decisions", body)
        print(f"decision {d['decision']}: route {d['route']}, {d['status']}")
        n = d["decision"]
        while True:
            s = d["status"]
            if s in ("approved", "proceeded"):
                pay(a.ledger, a.order, a.amount, d)
                return 0
            if s == "rejected":
                print(f"refund {a.order}: not paid, rejected")
                return 1
            left = hitl.give_up_at - time.monotonic()
            if left <= 0:
                print(f"refund {a.order}: not paid, still {s} after {a.max_time:g} s")
                return 1
            if s == "pending":  # held by the server until a vote settles it or the wait ends
                w = min(a.wait, max(left, 0))
                d = hitl.call("GET", f"/api/v1/decisions/{n}?wait={w:g}", timeout=w + 30)
            else:  # escalated or expired: an admin settles it; look again now and then
                print(f"decision {n}: {s}, waiting for an admin", file=sys.stderr)
                time.sleep(min(a.poll, left))
                d = hitl.call("GET", f"/api/v1/decisions/{n}")
    except Refused as e:
        print(f"refund {a.order}: hitl refused: {e}", file=sys.stderr)
        return 3
    except TimeoutError as e:
        print(f"refund {a.order}: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

"""A local stand-in for the Okta System Log API and the GitHub audit log API,
written from their documentation: authentication, pagination by Link headers,
and rate-limit headers with refusals, so the pollers are tested against what
the vendors promise (no vendor is reachable from here).

    saas_api_server.py PORT FIXTURES_DIR

Okta (developer.okta.com, "System Log API" and "Rate limits"):
  GET /api/v1/logs  Authorization: SSWS <token>
    since, after, limit (<= 1000), sortOrder=ASCENDING. A polling request (no
    `until`) always answers with Link rel="next", also on an empty page.
    X-Rate-Limit-Limit / -Remaining / -Reset (epoch seconds) on every answer;
    over the limit: 429 with errorCode E0000047.
GitHub (docs.github.com, "Audit log" REST endpoints and "Rate limits for the REST API"):
  GET /orgs/{org}/audit-log  Authorization: Bearer <token>
    phrase=created:>=<ISO>, order=asc, per_page (<= 100), after. Link rel="next"
    while more events follow. x-ratelimit-limit / -remaining / -used / -reset /
    -resource; over the primary limit: 403 with remaining 0; a secondary limit:
    403 with retry-after.
Both also refuse, now and then, as if another client had used the shared
budget (429 / secondary 403), and count requests that came on the same
connection before the time the server said to wait for ("violations").

Test control:
  POST /_admin/add?api=okta|github&tag=T&n=N[&age_ms=A]   N events T-0..T-(N-1), A ms in the past
  GET  /_admin/stats
"""

import calendar
import copy
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = {"okta": "SSWS okta-test-token", "github": "Bearer github-test-token"}
WINDOW_S = 2
LIMIT = {"okta": 12, "github": 10}
# Every Nth request is refused as if another client had used the budget.
SPURIOUS_EVERY = {"okta": 17, "github": 13}

lock = threading.Lock()
events = {"okta": [], "github": []}  # sorted by (time_ms, id)
stats = {api: {"requests": 0, "limited": 0, "violations": 0, "served": 0} for api in events}
windows = {api: {"start": 0.0, "used": 0} for api in events}
# Per API and client connection: a process that was told to wait and was
# then killed is not the one that asks again from a new connection.
blocked_until = {}
templates = {}


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def parse_iso(text):
    """RFC 3339 (UTC, optional fraction) to epoch milliseconds."""
    text = text.strip().replace("+00:00", "Z").rstrip("Z")
    whole, _, frac = text.partition(".")
    ms = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000
    return ms + (int((frac + "000")[:3]) if frac else 0)


def add(api, tag, n, age_ms):
    now = int(time.time() * 1000) - age_ms
    with lock:
        for i in range(n):
            t = now + i  # distinct, increasing times
            if api == "okta":
                e = copy.deepcopy(templates["okta"])
                e["uuid"] = f"{tag}-{i}"
                e["published"] = iso(t)
                events[api].append((t, e["uuid"], e))
            else:
                e = copy.deepcopy(templates["github"])
                e["_document_id"] = f"{tag}-{i}"
                e["@timestamp"] = t
                e["created_at"] = t
                events[api].append((t, e["_document_id"], e))
        events[api].sort(key=lambda x: (x[0], x[1]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def budget(self, api):
        """(allowed, headers, refusal) under the window and the spurious refusals."""
        now = time.time()
        with lock:
            s = stats[api]
            s["requests"] += 1
            client = (api, self.client_address)
            if now < blocked_until.get(client, 0.0):
                s["violations"] += 1
            w = windows[api]
            if now - w["start"] >= WINDOW_S:
                w["start"], w["used"] = now, 0
            reset = int(w["start"] + WINDOW_S) + 1
            spurious = s["requests"] % SPURIOUS_EVERY[api] == 0
            if w["used"] >= LIMIT[api] or spurious:
                s["limited"] += 1
                blocked_until[client] = reset - 0.05 if not spurious or api == "okta" else now + 1 - 0.05
                return False, reset, spurious
            w["used"] += 1
            return True, reset, False

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_admin/add":
            add(q["api"], q["tag"], int(q["n"]), int(q.get("age_ms", "0")))
            self.send(200, {"ok": True})
        else:
            self.send(404, {"message": "Not Found"})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_admin/stats":
            with lock:
                self.send(200, stats)
            return
        if url.path == "/api/v1/logs":
            self.okta(q)
        elif url.path.startswith("/orgs/") and url.path.endswith("/audit-log"):
            self.github(q, url.path)
        else:
            self.send(404, {"message": "Not Found"})

    def okta(self, q):
        if self.headers.get("Authorization") != TOKENS["okta"]:
            self.send(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
            return
        allowed, reset, _ = self.budget("okta")
        with lock:
            w = windows["okta"]
            remaining = max(0, LIMIT["okta"] - w["used"])
        limits = [("X-Rate-Limit-Limit", str(LIMIT["okta"])), ("X-Rate-Limit-Remaining", str(remaining)),
                  ("X-Rate-Limit-Reset", str(reset))]
        if not allowed:
            self.send(429, {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}, limits)
            return
        limit = min(int(q.get("limit", "100")), 1000)
        since = parse_iso(q["since"]) if "since" in q else 0
        with lock:
            rows = [e for e in events["okta"] if e[0] >= since]
            if "after" in q:
                ids = [r[1] for r in rows]
                start = ids.index(q["after"]) + 1 if q["after"] in ids else 0
                rows = rows[start:]
            page = rows[:limit]
            stats["okta"]["served"] += len(page)
        after = page[-1][1] if page else q.get("after")
        nxt = {k: v for k, v in q.items() if k != "after"}
        if after:
            nxt["after"] = after
        host = self.headers.get("Host")
        link = f'<http://{host}/api/v1/logs?{urllib.parse.urlencode(nxt)}>; rel="next"'
        self.send(200, [r[2] for r in page], limits + [("Link", f'<http://{host}{self.path}>; rel="self", ' + link)])

    def github(self, q, path):
        if self.headers.get("Authorization") != TOKENS["github"]:
            self.send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
            return
        allowed, reset, spurious = self.budget("github")
        with lock:
            remaining = max(0, LIMIT["github"] - windows["github"]["used"])
        limits = [("x-ratelimit-limit", str(LIMIT["github"])), ("x-ratelimit-remaining", str(remaining)),
                  ("x-ratelimit-used", str(LIMIT["github"] - remaining)), ("x-ratelimit-reset", str(reset)),
                  ("x-ratelimit-resource", "audit_log")]
        if not allowed:
            if spurious:
                self.send(403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
                          limits + [("retry-after", "1")])
            else:
                self.send(403, {"message": "API rate limit exceeded for user."}, limits)
            return
        per_page = min(int(q.get("per_page", "30")), 100)
        phrase = q.get("phrase", "")
        since = 0
        for term in phrase.split():
            if term.startswith("created:>="):
                since = parse_iso(term[len("created:>="):])
        with lock:
            rows = [e for e in events["github"] if e[0] >= since]
            if "after" in q:
                t, i = q["after"].split(":", 1)
                rows = [r for r in rows if (r[0], r[1]) > (int(t), i)]
            page = rows[:per_page]
            more = len(rows) > per_page
            stats["github"]["served"] += len(page)
        headers = list(limits)
        if more:
            nxt = dict(q)
            nxt["after"] = f"{page[-1][0]}:{page[-1][1]}"
            headers.append(("Link", f'<http://{self.headers.get("Host")}{path}?{urllib.parse.urlencode(nxt)}>; rel="next"'))
        self.send(200, [r[2] for r in page], headers)


def main():
    port, fixtures = int(sys.argv[1]), sys.argv[2]
    with open(f"{fixtures}/okta/okta-docs__system-log-logevent-example.json") as f:
        doc = json.load(f)
        templates["okta"] = doc[0] if isinstance(doc, list) else doc
    with open(f"{fixtures}/github_audit/github-docs__enterprise-audit-log-example.json") as f:
        templates["github"] = json.load(f)[0]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

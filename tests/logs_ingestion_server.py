"""The Azure Monitor Logs Ingestion API and the Entra ID token endpoint it
trusts, for the tests, written from Microsoft's documentation ("Logs
Ingestion API in Azure Monitor": endpoint, headers, limits; "Microsoft
identity platform and the OAuth 2.0 client credentials flow": the token
request with a secret or a client assertion, and its error response;
"Azure Monitor service limits": 1 MB per call, 429 with Retry-After). Not
a mock of auditfed: it knows nothing about it.

    logs_ingestion_server.py PORT STATE_DIR --tenant T --dcr-id ID --dcr FILE...
        [--client ID:SECRET]... [--federated ID:ASSERTION]... [--forbidden ID]...
        [--token-lifetime S] [--throttle P] [--unavailable P] [--revoke-every N]

Token endpoint: POST /{tenant}/oauth2/v2.0/token (form): grant_type
client_credentials, client_id, scope (https://monitor.azure.com//.default),
and client_secret or client_assertion_type
urn:ietf:params:oauth:client-assertion-type:jwt-bearer + client_assertion.
Answers {"token_type":"Bearer","expires_in":S,"ext_expires_in":S,
"access_token":...}; errors are {"error":..., "error_description":
"AADSTS...: ..."} (400 invalid_request / unsupported_grant_type /
invalid_scope, 401 invalid_client).

Ingestion: POST /dataCollectionRules/{ID}/streams/{stream}?api-version=2023-01-01
with Authorization: Bearer, Content-Type: application/json, optional
Content-Encoding: gzip, a JSON array of objects. 204 when accepted. Errors
carry x-ms-error-code and {"error":{"code":...,"message":...}}:
401 (no, unknown or expired token), 403 (the client lacks the role on the
DCR: --forbidden), 404 (unknown DCR), 400 (unknown stream, bad api-version,
not a JSON array), 413 (over 1 MB compressed or not), 429 and 503 with
Retry-After (random fractions --throttle and --unavailable of the calls).

Tokens live in memory: after a restart the old ones are unknown (401), as
after a key rollover; --revoke-every N forgets every token after each N-th
accepted call (a revocation while clients hold unexpired tokens). The DCRs (--dcr, the JSON of docs/sentinel/) declare
each stream's columns: accepted rows are appended to STATE_DIR/<stream>.jsonl;
like the real service, columns a stream does not declare are dropped and
values of the wrong type are nulled — both are logged to
STATE_DIR/problems.log so the tests can insist there are none.
"""

import argparse
import datetime
import gzip
import json
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_CALL = 1_000_000
SCOPES = {"https://monitor.azure.com//.default", "https://monitor.azure.com/.default"}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

args = None
lock = threading.Lock()
tokens = {}  # access token -> (client id, expires at)
streams = {}  # stream name -> {column: type}
files = {}
stats = {"calls": 0, "rows": 0, "throttled": 0, "unavailable": 0, "too_large": 0, "unauthorized": 0}


def log(name, msg):
    with lock:
        with open(f"{args.state_dir}/{name}", "a") as f:
            f.write(f"{time.time():.3f} {msg}\n")


def type_ok(kind, value):
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "real":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "dynamic":
        return True
    if kind == "datetime":
        if not isinstance(value, str):
            return False
        try:
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def api_error(self, status, code, message, headers=None):
        h = {"x-ms-error-code": code}
        h.update(headers or {})
        self.send(status, {"error": {"code": code, "message": message}}, h)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == f"/{args.tenant}/oauth2/v2.0/token":
            return self.token()
        if url.path.endswith("/oauth2/v2.0/token"):
            self.read_body()
            tenant = url.path.split("/")[1]
            return self.send(400, {"error": "invalid_request",
                                   "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        m = re.fullmatch(r"/dataCollectionRules/([^/]+)/streams/([^/]+)", url.path)
        if m:
            return self.ingest(m.group(1), urllib.parse.unquote(m.group(2)), urllib.parse.parse_qs(url.query))
        self.read_body()
        self.send(404, {"error": {"code": "NotFound", "message": f"no route {url.path}"}})

    def token(self):
        form = urllib.parse.parse_qs(self.read_body().decode())
        get = lambda k: (form.get(k) or [None])[0]
        if get("grant_type") != "client_credentials":
            return self.send(400, {"error": "unsupported_grant_type",
                                   "error_description": "AADSTS70003: The app requested an unsupported grant type."})
        if get("scope") not in SCOPES:
            return self.send(400, {"error": "invalid_scope",
                                   "error_description": f"AADSTS1002012: The provided value for scope {get('scope')} is not valid."})
        client = get("client_id")
        if get("client_secret") is not None:
            ok = args.clients.get(client) == get("client_secret")
        elif get("client_assertion_type") == JWT_BEARER:
            ok = args.federated.get(client) == get("client_assertion")
        else:
            return self.send(400, {"error": "invalid_request",
                                   "error_description": "AADSTS7000218: The request body must contain client_assertion or client_secret."})
        if not ok:
            log("token.log", f"refused client={client}")
            return self.send(401, {"error": "invalid_client",
                                   "error_description": "AADSTS7000215: Invalid client secret provided."})
        token = secrets.token_urlsafe(32)
        with lock:
            tokens[token] = (client, time.time() + args.token_lifetime)
        log("token.log", f"issued client={client} lifetime={args.token_lifetime}")
        self.send(200, {"token_type": "Bearer", "expires_in": args.token_lifetime,
                        "ext_expires_in": args.token_lifetime, "access_token": token})

    def ingest(self, dcr, stream, query):
        raw = self.read_body()
        with lock:
            stats["calls"] += 1
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with lock:
            known = tokens.get(token)
        if known is None or known[1] < time.time():
            with lock:
                stats["unauthorized"] += 1
            log("ingest.log", f"401 token={'expired' if known else 'unknown'}")
            return self.api_error(401, "InvalidToken" if known is None else "ExpiredAuthenticationToken",
                                  "The access token is missing, invalid or expired.")
        if known[0] in args.forbidden:
            return self.api_error(403, "Forbidden",
                                  f"The client '{known[0]}' does not have authorization to perform action 'Microsoft.Insights/Telemetry/Write' over the data collection rule.")
        if dcr != args.dcr_id:
            return self.api_error(404, "NotFound", f"Data collection rule with immutable Id '{dcr}' not found.")
        if query.get("api-version") != ["2023-01-01"]:
            return self.api_error(400, "InvalidApiVersion", f"api-version {query.get('api-version')} is not supported.")
        if stream not in streams:
            return self.api_error(400, "InvalidStream", f"Stream '{stream}' is not declared by the data collection rule.")
        body = raw
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(raw)
            except OSError as e:
                return self.api_error(400, "InvalidContentEncoding", str(e))
        if len(raw) > MAX_CALL or len(body) > MAX_CALL:
            with lock:
                stats["too_large"] += 1
            log("ingest.log", f"413 compressed={len(raw)} body={len(body)}")
            return self.api_error(413, "ContentLengthLimitExceeded",
                                  f"Maximum request body size is {MAX_CALL} bytes; got {len(body)}.")
        roll = random.random()
        if roll < args.throttle:
            with lock:
                stats["throttled"] += 1
            return self.api_error(429, "TooManyRequests", "Rate limit exceeded.", {"Retry-After": "1"})
        if roll < args.throttle + args.unavailable:
            with lock:
                stats["unavailable"] += 1
            return self.api_error(503, "ServiceUnavailable", "Try again later.", {"Retry-After": "1"})
        try:
            rows = json.loads(body)
        except ValueError as e:
            return self.api_error(400, "InvalidContent", f"The body is not valid JSON: {e}")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return self.api_error(400, "InvalidContent", "The body must be a JSON array of objects.")
        columns = streams[stream]
        kept = []
        for row in rows:
            out = {}
            for k, v in row.items():
                if k not in columns:
                    log("problems.log", f"{stream}: undeclared column {k} dropped")
                    continue
                if not type_ok(columns[k], v):
                    log("problems.log", f"{stream}: column {k} ({columns[k]}) got {v!r:.80}: nulled")
                    v = None
                out[k] = v
            kept.append(out)
        with lock:
            f = files.get(stream)
            if f is None:
                f = files[stream] = open(f"{args.state_dir}/{stream}.jsonl", "a")
            for row in kept:
                f.write(json.dumps(row) + "\n")
            f.flush()
            stats["rows"] += len(kept)
            stats["accepted_calls"] = stats.get("accepted_calls", 0) + 1
            if args.revoke_every and stats["accepted_calls"] % args.revoke_every == 0:
                tokens.clear()
        log("ingest.log", f"204 stream={stream} rows={len(kept)} bytes={len(body)} "
                          f"request={self.headers.get('x-ms-client-request-id')}")
        self.send(204)

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                return self.send(200, dict(stats))
        self.send(404, {"error": {"code": "NotFound", "message": self.path}})


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("state_dir")
    p.add_argument("--tenant", required=True)
    p.add_argument("--dcr-id", required=True)
    p.add_argument("--dcr", action="append", default=[])
    p.add_argument("--client", action="append", default=[])
    p.add_argument("--federated", action="append", default=[])
    p.add_argument("--forbidden", action="append", default=[])
    p.add_argument("--token-lifetime", type=int, default=3599)
    p.add_argument("--throttle", type=float, default=0.0)
    p.add_argument("--unavailable", type=float, default=0.0)
    p.add_argument("--revoke-every", type=int, default=0)
    args = p.parse_args()
    args.clients = dict(c.split(":", 1) for c in args.client)
    args.federated = dict(c.split(":", 1) for c in args.federated)
    for path in args.dcr:
        with open(path) as f:
            dcr = json.load(f)
        for name, decl in dcr["properties"]["streamDeclarations"].items():
            streams[name] = {c["name"]: c["type"] for c in decl["columns"]}
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"logs_ingestion_server: listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

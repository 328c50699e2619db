"""A Splunk HTTP Event Collector for the tests, written from Splunk's
documented protocol (Splunk Enterprise "Format events for HTTP Event
Collector", "HTTP Event Collector REST API endpoints", "About HTTP Event
Collector Indexer Acknowledgment", "Troubleshoot HTTP Event Collector"
status codes). Not a mock of auditfed: it knows nothing about it.

    hec_server.py PORT STATE_DIR [--token T]... [--disabled-token T]...
                  [--index I]... [--busy P] [--ack-delay-ms MIN:MAX] [--lose-acks P]
                  [--refuse-containing TEXT] [--kill-on-ack FILE]

Endpoints:
  GET  /services/collector/health       200 {"text":"HEC is healthy","code":17}
  POST /services/collector/event        concatenated JSON envelopes, gzip allowed
  POST /services/collector/ack          {"acks":[id,...]} -> {"acks":{"id":bool}}

Authorization is `Splunk <token>`. With acknowledgement on (always here) a
channel GUID is required (X-Splunk-Request-Channel or ?channel=). Status
codes as documented: 0 Success, 1 Token disabled (403), 2 Token is required
(401), 3 Invalid authorization (401), 4 Invalid token (403), 5 No data (400),
6 Invalid data format (400, with invalid-event-number), 7 Incorrect index
(400, with invalid-event-number), 9 Server is busy (503), 10 Data channel is
missing (400), 11 Invalid data channel (400), 12 Event field is required
(400), 13 Event field cannot be blank (400), 17 HEC is healthy.

--busy P answers a fraction P of requests with 9 (Server is busy);
acknowledgements turn true after a random delay; --lose-acks P never
acknowledges a fraction P of requests (as after an indexer failure: the
client must resend). Events count as indexed when their ack turns true;
they are appended to STATE_DIR/indexed.jsonl (one envelope per line).
Everything the server does is logged to STATE_DIR/hec.log.

Fault injection for the client's crash safety (not protocol behaviour):
--refuse-containing TEXT answers 6 (Invalid data format, with its
invalid-event-number) to a request holding an envelope whose JSON contains
TEXT, as Splunk does for an event its parser refuses. --kill-on-ack FILE:
when FILE exists ("PID DELAY_MS"), the first acknowledgement poll answered
with a true ack removes it and sends SIGKILL to PID DELAY_MS after the
answer (the client dies between Splunk's confirmation and whatever it does
next); logged as "killed pid=PID delay_ms=DELAY_MS".
"""

import argparse
import gzip
import json
import os
import signal
import random
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

args = None
lock = threading.Lock()
kill_lock = threading.Lock()
# channel -> {"next": int, "pending": {ack_id: (ready_at, envelopes or None)}}
channels = {}
indexed_file = None
log_file = None


def log(msg):
    with lock:
        log_file.write(f"{time.time():.3f} {msg}\n")
        log_file.flush()


def decode_envelopes(body):
    """Concatenated JSON objects (whitespace allowed between them)."""
    decoder = json.JSONDecoder()
    text = body.decode("utf-8")
    pos, out = 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            raise ValueError(len(out))
        if not isinstance(obj, dict):
            raise ValueError(len(out))
        out.append(obj)


def settle(channel_state):
    """Moves acknowledged requests' events to indexed.jsonl."""
    now = time.time()
    for ack_id, (ready_at, envelopes) in list(channel_state["pending"].items()):
        if envelopes is not None and ready_at <= now and not channel_state["done"].get(ack_id):
            for env in envelopes:
                indexed_file.write(json.dumps(env, separators=(",", ":")) + "\n")
            indexed_file.flush()
            channel_state["done"][ack_id] = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        log("http " + (fmt % a))

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def authorize(self):
        auth = self.headers.get("Authorization")
        if not auth:
            self.reply(401, {"text": "Token is required", "code": 2})
            return False
        scheme, _, token = auth.partition(" ")
        if scheme != "Splunk" or not token:
            self.reply(401, {"text": "Invalid authorization", "code": 3})
            return False
        if token in args.disabled_token:
            self.reply(403, {"text": "Token disabled", "code": 1})
            return False
        if token not in args.token:
            self.reply(403, {"text": "Invalid token", "code": 4})
            return False
        return True

    def channel(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        channel = self.headers.get("X-Splunk-Request-Channel") or (query.get("channel") or [None])[0]
        if not channel:
            self.reply(400, {"text": "Data channel is missing", "code": 10})
            return None
        if not GUID.match(channel):
            self.reply(400, {"text": "Invalid data channel", "code": 11})
            return None
        return channel

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/services/collector/health":
            if random.random() < args.busy:
                self.reply(503, {"text": "Server is busy", "code": 9})
            else:
                self.reply(200, {"text": "HEC is healthy", "code": 17})
        else:
            self.reply(404, {"text": "The requested URL was not found on this server.", "code": 404})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            data = self.body()
        except OSError:
            self.reply(400, {"text": "Invalid data format", "code": 6})
            return
        if not self.authorize():
            return
        channel = self.channel()
        if channel is None:
            return
        if path == "/services/collector/event":
            self.event(channel, data)
        elif path == "/services/collector/ack":
            self.ack(channel, data)
        else:
            self.reply(404, {"text": "The requested URL was not found on this server.", "code": 404})

    def event(self, channel, data):
        if random.random() < args.busy:
            log(f"busy channel={channel}")
            self.reply(503, {"text": "Server is busy", "code": 9})
            return
        if not data.strip():
            self.reply(400, {"text": "No data", "code": 5})
            return
        try:
            envelopes = decode_envelopes(data)
        except (ValueError, UnicodeDecodeError) as e:
            n = e.args[0] if e.args and isinstance(e.args[0], int) else 0
            self.reply(400, {"text": "Invalid data format", "code": 6, "invalid-event-number": n})
            return
        for n, env in enumerate(envelopes):
            if "event" not in env:
                self.reply(400, {"text": "Event field is required", "code": 12, "invalid-event-number": n})
                return
            if env["event"] in ("", None, {}):
                self.reply(400, {"text": "Event field cannot be blank", "code": 13, "invalid-event-number": n})
                return
            if args.refuse_containing and args.refuse_containing in json.dumps(env):
                log(f"refused channel={channel} invalid-event-number={n}")
                self.reply(400, {"text": "Invalid data format", "code": 6, "invalid-event-number": n})
                return
            if args.index and env.get("index") not in args.index:
                self.reply(400, {"text": "Incorrect index", "code": 7, "invalid-event-number": n})
                return
        lo, hi = args.ack_delay
        with lock:
            state = channels.setdefault(channel, {"next": 0, "pending": {}, "done": {}})
            ack_id = state["next"]
            state["next"] += 1
            lost = random.random() < args.lose_acks
            state["pending"][ack_id] = (
                time.time() + random.uniform(lo, hi) / 1000.0,
                None if lost else envelopes,
            )
        log(f"accepted channel={channel} ackId={ack_id} events={len(envelopes)} lost={lost}")
        self.reply(200, {"text": "Success", "code": 0, "ackId": ack_id})

    def ack(self, channel, data):
        try:
            ids = json.loads(data)["acks"]
            ids = [int(i) for i in ids]
        except (ValueError, KeyError, TypeError):
            self.reply(400, {"text": "Invalid data format", "code": 6})
            return
        with lock:
            state = channels.setdefault(channel, {"next": 0, "pending": {}, "done": {}})
            settle(state)
            answer = {str(i): bool(state["done"].get(i)) for i in ids}
        self.reply(200, {"acks": answer})
        if args.kill_on_ack and any(answer.values()):
            self.wfile.flush()
            kill_on_ack()


def kill_on_ack():
    """Kills the process named in --kill-on-ack's file, once per file."""
    with kill_lock:
        try:
            with open(args.kill_on_ack) as f:
                pid, delay_ms = (int(x) for x in f.read().split())
            os.remove(args.kill_on_ack)
        except (OSError, ValueError):
            return
    time.sleep(delay_ms / 1000.0)
    try:
        os.kill(pid, signal.SIGKILL)
        log(f"killed pid={pid} delay_ms={delay_ms}")
    except OSError as e:
        log(f"kill pid={pid} failed: {e}")


def main():
    global args, indexed_file, log_file
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("state_dir")
    p.add_argument("--token", action="append", default=[])
    p.add_argument("--disabled-token", action="append", default=[])
    p.add_argument("--index", action="append", default=[])
    p.add_argument("--busy", type=float, default=0.0)
    p.add_argument("--ack-delay-ms", default="0:0")
    p.add_argument("--lose-acks", type=float, default=0.0)
    p.add_argument("--refuse-containing")
    p.add_argument("--kill-on-ack")
    args = p.parse_args()
    lo, hi = (float(x) for x in args.ack_delay_ms.split(":"))
    args.ack_delay = (lo, hi)
    indexed_file = open(f"{args.state_dir}/indexed.jsonl", "a")
    log_file = open(f"{args.state_dir}/hec.log", "a")
    # Indexing happens whether or not the client polls: a client that dies
    # after sending still gets its events indexed (and may resend them).
    def indexer():
        while True:
            with lock:
                for state in channels.values():
                    settle(state)
            time.sleep(0.05)

    threading.Thread(target=indexer, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"hec_server: listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

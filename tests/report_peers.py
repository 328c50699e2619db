#!/usr/bin/env python3
"""The peers a scheduled report delivers to, for auditfed's tests:

- an SMTP server (aiosmtpd, a maintained package) that requires STARTTLS
  and then AUTH (PLAIN or LOGIN) with one user, and saves every message it
  accepts as OUT/mail-N/ (body.txt, every attachment by its file name,
  envelope.json);
- an HTTP webhook receiver that saves every POST body as OUT/hook-N.json.

Usage: report_peers.py OUT SMTP_PORT HTTP_PORT CERT KEY USER PASSWORD
Writes OUT/ready when both listen. Exit 3 when aiosmtpd is missing.
"""

import email
import email.policy
import http.server
import json
import pathlib
import ssl
import sys
import threading
import time

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError as e:
    print(f"missing Python package: {e.name} (pip install aiosmtpd)", file=sys.stderr)
    sys.exit(3)

out = pathlib.Path(sys.argv[1])
smtp_port, http_port = int(sys.argv[2]), int(sys.argv[3])
cert, key, user, password = sys.argv[4:8]
out.mkdir(parents=True, exist_ok=True)
lock = threading.Lock()
counter = {"mail": 0, "hook": 0, "auth_failures": 0}


def next_dir(kind):
    with lock:
        counter[kind] += 1
        return counter[kind]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = next_dir("mail")
        folder = out / f"mail-{n}"
        folder.mkdir()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        (folder / "body.txt").write_text(body.get_content() if body else "")
        for part in message.iter_attachments():
            (folder / part.get_filename()).write_bytes(part.get_payload(decode=True))
        (folder / "envelope.json").write_text(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": message["subject"],
            "tls": session.ssl is not None,
            "authenticated": session.authenticated,
        }))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    if not ok:
        with lock:
            counter["auth_failures"] += 1
    return AuthResult(success=ok)


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = next_dir("hook")
        (out / f"hook-{n}.json").write_bytes(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=smtp_port,
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_require_tls=True,
    auth_required=True,
)
controller.start()
hook = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
(out / "ready").write_text("ready")
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()

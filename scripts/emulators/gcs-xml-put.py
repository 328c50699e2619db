#!/usr/bin/env python3
"""A pass-through proxy in front of fake-gcs-server for the tests.

object_store writes to Google Cloud Storage with the XML API's plain object
upload (`PUT /<bucket>/<object>`,
https://cloud.google.com/storage/docs/xml-api/put-object-upload). fake-gcs-server
does not implement that request yet (fsouza/fake-gcs-server#331), while it
serves everything else object_store sends (XML listing, GET with ranges, HEAD,
DELETE). This proxy turns that one request into the JSON API's media upload
(`POST /upload/storage/v1/b/<bucket>/o?uploadType=media&name=<object>`) and
answers the way the XML API does (empty body, ETag and x-goog-generation
headers); every other request is relayed unchanged.

Usage: gcs-xml-put.py LISTEN_PORT UPSTREAM_PORT
"""

import http.client
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_port = 0

    def log_message(self, fmt, *args):
        sys.stderr.write("gcs-xml-put: " + (fmt % args) + "\n")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream(self, method, path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp, data

    def _reply(self, status, headers, data, head=False):
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data) if not head else int(dict(
            (k.lower(), v) for k, v in headers).get("content-length", 0))))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _relay(self):
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        url = urllib.parse.urlsplit(self.path)
        bucket, _, encoded_name = url.path.lstrip("/").partition("/")
        if self.command == "PUT" and encoded_name and not url.query:
            self._xml_put(bucket, urllib.parse.unquote(encoded_name), body, headers)
            return
        resp, data = self._upstream(self.command, self.path, body, headers)
        self._reply(resp.status, resp.getheaders(), data, head=self.command == "HEAD")

    def _xml_put(self, bucket, name, body, headers):
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        upload_headers = {
            "Host": headers.get("Host", ""),
            "Content-Type": headers.get("Content-Type", "application/octet-stream"),
        }
        resp, data = self._upstream(
            "POST", f"/upload/storage/v1/b/{bucket}/o?{query}", body, upload_headers
        )
        if resp.status != 200:
            self._reply(resp.status, resp.getheaders(), data)
            return
        stored = json.loads(data)
        self._reply(
            200,
            [
                ("ETag", '"%s"' % stored.get("etag", "")),
                ("x-goog-generation", str(stored.get("generation", ""))),
            ],
            b"",
        )

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _relay


def main():
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    Proxy.upstream_port = upstream
    ThreadingHTTPServer(("127.0.0.1", listen), Proxy).serve_forever()


if __name__ == "__main__":
    main()

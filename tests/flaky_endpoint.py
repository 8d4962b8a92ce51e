"""An HTTP endpoint on 127.0.0.1 in front of the moto server that answers the next N requests
with 503 and forwards the rest unchanged: AWS having a bad minute, over real HTTP."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from http_receiver import serving


class Outage:
    """How many of the next requests fail, and how many did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.remaining = 0
        self.refused = 0

    def next_requests(self, count: int) -> None:
        with self._lock:
            self.remaining = count

    def take(self) -> bool:
        with self._lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            self.refused += 1
            return True


@contextmanager
def flaky_endpoint(target: str) -> Iterator[tuple[str, Outage]]:
    """Yields the endpoint's URL and its outage control; requests go on to `target`."""
    outage = Outage()
    upstream = urlsplit(target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if outage.take():
                self.send_response(503, "Service Unavailable")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                connection.request(self.command, self.path, body, dict(self.headers))
                reply = connection.getresponse()
                payload = reply.read()
                self.send_response(reply.status, reply.reason)
                # A HEAD's length is the object's, and it has no body to send.
                head = self.command == "HEAD"
                dropped = (
                    "transfer-encoding",
                    "connection",
                    *(() if head else ("content-length",)),
                )
                for name, value in reply.getheaders():
                    if name.lower() not in dropped:
                        self.send_header(name, value)
                if not head:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield url, outage

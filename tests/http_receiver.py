"""An HTTP server on 127.0.0.1 that keeps what is POSTed to it: the stand-in for a lineage server
or an SNS web subscriber (AWS Chatbot) in the tests; and one that answers each GET as a test says
(an AWS endpoint throttling, or one that shows how a request was signed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Posted:
    path: str
    body: bytes


@contextmanager
def http_receiver(
    status: int | Callable[[], int] = 200,
) -> Iterator[tuple[str, list[Posted]]]:
    """Yields the server's base URL and the requests posted to it, in order; answers `status`
    (or what it returns at each request: a server that is down, then back)."""
    posted: list[Posted] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            posted.append(Posted(self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status() if callable(status) else status)
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield url, posted


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded server of `handler` on a free port of 127.0.0.1, for the block: its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def answering(answer: Callable[[BaseHTTPRequestHandler], tuple[int, bytes]]) -> Iterator[str]:
    """A server whose answer to each GET is `answer(request)`: its status and body."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, body = answer(self)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield url

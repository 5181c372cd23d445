"""Loopback HTTP for the fakes: a server for any handler, and a proxy that slows AWS.

Speaks plain HTTP/1.1 (Content-Length or chunked bodies, any method) on 127.0.0.1 and
hands each request to a function `(path, headers, body) -> (status, headers, body)`, so
that every fake in `bot.sim.fakes` is one such function and a real client (boto3, the
Slack SDK, the `anthropic` client) reaches it through its endpoint URL. The latency
proxy forwards to a real endpoint (the emulator) after a delay: a slow region, as the
bot's timeouts and concurrent evidence gathering meet one. Neither records anything;
the fakes behind them do.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@contextmanager
def serve(handle: Handler) -> Iterator[str]:
    """Run `handle(path, headers, body) -> (status, headers, body)` on 127.0.0.1."""

    class _Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body = self._read_chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
            status, headers, payload = handle(self.path, dict(self.headers), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _read_chunked(self) -> bytes:
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - http.server's names

        def log_message(self, *args: Any) -> None:
            pass

    class _Server(ThreadingHTTPServer):
        request_queue_size = 128  # benchmarks open dozens of connections at once

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (a deadline passed) is expected here

    server = _Server(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def latency_proxy(target: str, delay_s: float, only: str | None = None) -> Handler:
    """Forward every request to `target` after sleeping `delay_s`: a slow AWS region.

    With `only`, just the requests whose path contains it are slowed (one slow service).
    """

    def handle(path: str, headers: dict[str, str], body: bytes):
        if only is None or only in path:
            time.sleep(delay_s)
        forwarded = {
            k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")
        }
        method = "POST" if body else "GET"
        request = urllib.request.Request(  # noqa: S310 - the target is the loopback emulator
            target + path, data=body or None, headers=forwarded, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, _keep(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, _keep(error.headers), error.read()

    return handle


def _keep(headers: Any) -> dict[str, str]:
    return {
        k: v
        for k, v in headers.items()
        if k.lower() in ("content-type", "x-amzn-requestid", "x-amz-request-id")
    }

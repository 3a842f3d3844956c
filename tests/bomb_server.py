"""A tiny plain-HTTP server on loopback that answers every GET with a gzip bomb."""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INFLATED_BYTES = 100 * 1024 * 1024


def gzip_of_zeros(size: int = INFLATED_BYTES) -> bytes:
    """A gzip member that inflates to ``size`` zero bytes (about 0.1% of it on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.compress(bytes(size % len(block))))
    parts.append(packer.flush())
    return b"".join(parts)


@contextmanager
def gzip_bomb_server() -> Iterator[str]:
    """Serve the bomb as ``Content-Encoding: gzip`` XML; yields the feed URL."""
    body = gzip_of_zeros()
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stopped reading: as it should
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="gzip-bomb", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

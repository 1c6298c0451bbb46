"""Real HTTP on 127.0.0.1: the API host and the download host on two ports, one router behind both.

Uses the standard library's ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive),
which is plenty for the 16 concurrent clients the tests drive. Injected resets really drop the
socket (RST via ``SO_LINGER`` 0); truncated bodies send fewer bytes than ``Content-Length`` and close.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from asc_nb.sandbox.faults import ConnectionReset, Truncated

if TYPE_CHECKING:
    from asc_nb.sandbox import Sandbox


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: headers and body go out in separate writes on keep-alive connections: without TCP_NODELAY,
    #: Nagle + delayed ACK add ~40 ms to every reused-connection request
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests and notebooks read stdout

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        try:
            status, out_headers, content = self.server.sandbox.handle(
                self.command, self.server.origin + self.path, headers, body
            )
        except ConnectionReset:
            self._reset()
            return
        except Truncated as cut:
            self._head(cut.status, cut.headers, int(cut.headers["Content-Length"]))
            self.wfile.write(cut.body)
            self.wfile.flush()
            self._reset()
            return
        self._head(status, out_headers, None if status == 204 else len(content))
        if self.command != "HEAD" and status != 204:
            self.wfile.write(content)

    def _head(self, status: int, headers: dict[str, str], length: int | None) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(headers.get("Content-Length", length)))
        self.end_headers()

    def _reset(self) -> None:
        """Drop the connection hard (TCP RST), as a crashed peer or a load balancer would."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = do_HEAD = _serve


@dataclass
class ServerHandle:
    """What ``with sandbox.serve() as srv`` yields."""

    base_url: str
    download_base_url: str
    api_port: int
    download_port: int


@contextlib.contextmanager
def serve(
    sandbox: Sandbox, port: int = 0, download_port: int = 0, host: str = "127.0.0.1"
) -> Iterator[ServerHandle]:
    """Run both hosts in background threads until the block exits (then close their sockets)."""
    api = _Server((host, port), sandbox)
    dl = _Server((host, download_port), sandbox)
    sandbox.register_origins(api.origin, dl.origin)
    threads = [
        threading.Thread(
            target=s.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"asc-sandbox-{s.origin}",
        )
        for s in (api, dl)
    ]
    for t in threads:
        t.start()
    try:
        yield ServerHandle(api.origin, dl.origin, api.server_address[1], dl.server_address[1])
    finally:
        for s in (api, dl):
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join(timeout=5)
        sandbox.unregister_origins(api.origin, dl.origin)

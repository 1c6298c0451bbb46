"""Run a loopback sandbox in a child process, so the benchmark process measures only the client.

The server's CPU (data generation, HTTP handling) and memory then never count against the
client's timings or peak RSS.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


def _serve(conn: Any, options: dict[str, Any], nodelay: bool) -> None:
    from asc_nb.sandbox import Sandbox

    if not nodelay:
        # The sandbox's server sets TCP_NODELAY (headers and body go out in separate writes on
        # keep-alive connections; with Nagle, delayed ACKs add ~40 ms to each reused request).
        # --server-nagle turns it off again to show that artefact.
        from asc_nb.sandbox import server as _srv

        _srv._Handler.disable_nagle_algorithm = False
    if "tiles" in options:  # the generator-backed big world (asc_nb.sandbox.bigworld)
        from asc_nb.sandbox.bigworld import BigSandbox

        sb = BigSandbox(**options)
    else:
        sb = Sandbox(**options)
    with sb.serve() as srv:
        conn.send(
            {
                "base_url": srv.base_url,
                "key_id": sb.key_id,
                "issuer_id": sb.issuer_id,
                "private_key_pem": sb.private_key_pem,
            }
        )
        while True:
            msg = conn.recv()
            if msg == "stop":
                return
            if msg == "calls":
                conn.send(list(sb.calls))


class Server:
    def __init__(self, conn: Any, info: dict[str, Any]):
        self.conn, self.info = conn, info

    def client(self, **kwargs: Any):
        import asc_nb

        creds = asc_nb.Credentials(self.info["key_id"], self.info["issuer_id"], self.info["private_key_pem"])
        return asc_nb.Client(creds, base_url=self.info["base_url"], **kwargs)

    def calls(self) -> list[tuple[str, str, str]]:
        """Every request the server has seen: (method, host kind, path with query)."""
        self.conn.send("calls")
        return self.conn.recv()


@contextmanager
def sandbox_server(nodelay: bool = False, **options: Any) -> Iterator[Server]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, options, nodelay), daemon=True)
    proc.start()
    try:
        yield Server(parent, parent.recv())
    finally:
        with suppress(BrokenPipeError, OSError):
            parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()

"""In-process httpx transports: the sandbox without sockets, for tests and the embedded mode.

Both hosts are served by URL host (``api.asc-sandbox.invalid`` / ``downloads.asc-sandbox.invalid``).
Injected network faults look like what httpx raises on a real socket: a reset raises
``httpx.RemoteProtocolError`` before any response, a truncated body raises it while the body
is being read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import anyio
import httpx

from asc_nb.sandbox.faults import ConnectionReset, Truncated

if TYPE_CHECKING:
    from asc_nb.sandbox import Sandbox


class _TruncatedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields the bytes that arrived, then fails like a peer that closed mid-body."""

    def __init__(self, data: bytes, expected: int) -> None:
        self.data, self.expected = data, expected

    def _error(self) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body "
            f"(received {len(self.data)} bytes, expected {self.expected})"
        )

    def __iter__(self) -> Iterator[bytes]:
        if self.data:
            yield self.data
        raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data
        raise self._error()


def _respond(sandbox: Sandbox, request: httpx.Request, body: bytes) -> httpx.Response:
    try:
        status, headers, content = sandbox.handle(
            request.method, str(request.url), dict(request.headers), body
        )
    except ConnectionReset:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from None
    except Truncated as cut:
        return httpx.Response(
            cut.status,
            headers=cut.headers,
            stream=_TruncatedStream(cut.body, int(cut.headers["Content-Length"])),
            request=request,
        )
    headers = dict(headers)
    if request.method != "HEAD" and status != 204:
        headers["Content-Length"] = str(len(content))
    return httpx.Response(status, headers=headers, content=content, request=request)


class SandboxTransport(httpx.BaseTransport):
    """``httpx.Client(transport=sandbox.transport())``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _respond(self.sandbox, request, request.read())


class AsyncSandboxTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=sandbox.async_transport())``; the router runs in a worker thread
    so slow faults and concurrent downloads overlap as they would over a network."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return await anyio.to_thread.run_sync(_respond, self.sandbox, request, body)

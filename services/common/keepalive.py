"""HTTP/1.1 over kept-alive connections, for plain `http://` calls between the sandbox's own services.

    client = build_http_client("http://identity:8001")   # uses KeepAliveTransport for http:// by default
    transport = KeepAliveTransport()                      # or by hand: httpx.AsyncClient(transport=transport)

httpx's own transport (httpcore, anyio, h11) costs about 1.5 ms of CPU per call on the sandbox's 2-core machine,
where a round trip over asyncio streams costs 0.07 ms (benchmarks/gateway.py, docs/benchmarks.md): on the gateway,
which makes two or three such calls per request, that was most of its CPU. This transport keeps httpx's client API
(requests, responses, timeouts, errors, event hooks) and replaces only the wire: one asyncio stream per connection,
the request written in one piece, the response read by its `Content-Length` or chunks.

What it does and does not do:
- `http://` only; any other scheme (a client's `https://` JWKS URI) goes to httpx's own transport.
- Connections are reused per origin, most recently used first; one idle for longer than `keepalive_expiry` (shorter
  than uvicorn's 5 s keep-alive) or closed by the peer is dropped, never written to.
- A request is never sent twice: a connection that fails mid-way is closed and the error raised, as httpx does.
- Timeouts are httpx's: `connect` to open, `write` to send, `read` for the response head and again for its body,
  `pool` to wait for a free slot when `max_connections` requests are in flight.
- Errors are httpx's (`ConnectError`, `ReadError`, `RemoteProtocolError`, the `...Timeout`s), so callers that catch
  `httpx.HTTPError` fail closed as before.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

_MAX_HEAD = 256 * 1024  # response head (status line and headers) limit, bytes
_NO_BODY_STATUS = frozenset({204, 304})


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    def usable(self, expiry: float) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and time.monotonic() - self.idle_since < expiry

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_idle_per_origin: int = 20,
        keepalive_expiry: float = 2.0,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._fallback = fallback
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport()
            return await self._fallback.handle_async_request(request)
        if self._closed:
            raise httpx.ConnectError("The transport is closed.", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        origin = (url.host, url.port or 80)
        message = _request_bytes(request, await request.aread())
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("No free connection slot in time.", request=request) from None
        try:
            connection = await self._connection(origin, timeouts.get("connect"), request)
            try:
                status, headers, body, reusable = await _exchange(connection, message, request, timeouts)
            except BaseException:
                connection.close()
                raise
            if reusable and not self._closed:
                self._release(origin, connection)
            else:
                connection.close()
        finally:
            self._slots.release()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _connection(
        self, origin: tuple[str, int], connect_timeout: float | None, request: httpx.Request
    ) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable(self._expiry):
                return connection
            connection.close()
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(*origin, limit=_MAX_HEAD)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"No connection to {origin[0]}:{origin[1]} in time.", request=request) from None
        except OSError as error:
            raise httpx.ConnectError(f"{type(error).__name__}: {error}", request=request) from None
        return _Connection(reader, writer)

    def _release(self, origin: tuple[str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request as it goes on the wire: httpx's headers, with the body's length stated (never chunked)."""
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered in (b"transfer-encoding", b"content-length"):
            continue
        lines.append(name + b": " + value)
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _exchange(
    connection: _Connection, message: bytes, request: httpx.Request, timeouts: dict[str, float | None]
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Send one request and read its whole response: status, headers, body, and whether the connection may be
    reused."""
    try:
        async with asyncio.timeout(timeouts.get("write")):
            connection.writer.write(message)
            await connection.writer.drain()
    except TimeoutError:
        raise httpx.WriteTimeout("The request was not sent in time.", request=request) from None
    except OSError as error:
        raise httpx.WriteError(f"{type(error).__name__}: {error}", request=request) from None
    try:
        return await _response(connection.reader, request.method, timeouts.get("read"))
    except TimeoutError:
        raise httpx.ReadTimeout("The response did not arrive in time.", request=request) from None
    except asyncio.IncompleteReadError:
        raise httpx.RemoteProtocolError(
            "The server closed the connection before the response was complete.", request=request
        ) from None
    except (asyncio.LimitOverrunError, ValueError) as error:
        raise httpx.RemoteProtocolError(f"Malformed response ({type(error).__name__}).", request=request) from None
    except OSError as error:
        raise httpx.ReadError(f"{type(error).__name__}: {error}", request=request) from None


async def _response(
    reader: asyncio.StreamReader, method: str, read_timeout: float | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    async with asyncio.timeout(read_timeout):
        status, version, headers = await _head(reader)
        while 100 <= status < 200:  # informational answers (none expected) come before the real one
            status, version, headers = await _head(reader)
    framing, length, close = _framing(headers, version)
    if method == "HEAD" or status in _NO_BODY_STATUS:
        framing, length = "length", 0
    async with asyncio.timeout(read_timeout):
        if framing == "chunked":
            body = await _chunked(reader)
        elif framing == "length":
            body = await reader.readexactly(length) if length else b""
        else:
            body, close = await reader.read(-1), True
    return status, headers, body, not close


async def _head(reader: asyncio.StreamReader) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = raw[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x status line")
    status = int(rest[:3])
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError("header line without a colon")
        headers.append((name.strip(), value.strip()))
    return status, version, headers


def _framing(headers: list[tuple[bytes, bytes]], version: bytes) -> tuple[str, int, bool]:
    """How the body is delimited ("chunked", "length" or "eof"), its length, and whether the server closes."""
    framing, length = "eof", 0
    close = version == b"HTTP/1.0"
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length" and framing != "chunked":
            framing, length = "length", int(value)
            if length < 0:
                raise ValueError("negative Content-Length")
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            framing = "chunked"
        elif lowered == b"connection":
            tokens = value.lower()
            close = b"close" in tokens or (close and b"keep-alive" not in tokens)
    return framing, length, close


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, ignored
                pass
            return b"".join(parts)
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        parts.append(chunk[:-2])

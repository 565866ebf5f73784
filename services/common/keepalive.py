"""HTTP/1.1 over kept-alive connections, for plain `http://` calls between the sandbox's own services.

    client = build_http_client("http://identity:8001")   # uses KeepAliveTransport for http:// by default
    transport = KeepAliveTransport()                      # or by hand: httpx.AsyncClient(transport=transport)

httpx's own transport (httpcore, anyio, h11) costs about 1.5 ms of CPU per call on the sandbox's 2-core machine,
where a round trip over asyncio streams costs 0.07 ms (benchmarks/gateway.py, docs/benchmarks.md): on the gateway,
which makes two or three such calls per request, that was most of its CPU. This transport keeps httpx's client API
(requests, responses, timeouts, errors, event hooks) and replaces only the wire: one asyncio stream per connection,
the request written in one piece, the response parsed by httptools (llhttp, the C parser uvicorn serves with, already
in the lock), so the HTTP framing (lengths, chunks, keep-alive, malformed or smuggling-shaped answers) is decided
by a well-kept parser and not by this module; what is left here is the connection pool.

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
import re
import time
from dataclasses import dataclass, field

import httptools
import httpx

_MAX_HEAD = 256 * 1024  # response head (status line and headers) limit, bytes
_READ_SIZE = 64 * 1024
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field-name
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")  # RFC 9110 field-value: no CR, LF, NUL or other control


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
                reader, writer = await asyncio.open_connection(*origin)
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
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            # httpx accepts "a\r\nEvil: 1" as a header value; written as is, it would be a second header (h11,
            # under httpx's own transport, refuses it the same way)
            raise httpx.LocalProtocolError(f"Illegal header {name[:40]!r}: not sent.", request=request)
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
    except (httptools.HttpParserError, ValueError) as error:
        raise httpx.RemoteProtocolError(f"Malformed response ({type(error).__name__}).", request=request) from None
    except OSError as error:
        raise httpx.ReadError(f"{type(error).__name__}: {error}", request=request) from None


class _Answer:
    """One response as httptools' parser (llhttp, the parser uvicorn serves with) reports it."""

    __slots__ = ("body", "done", "head_done", "headers", "keep_alive", "parser", "unasked")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.head_done = self.done = self.unasked = self.keep_alive = False

    def on_message_begin(self) -> None:
        if self.done:  # a second answer in the same bytes, which nobody asked for: do not reuse the connection
            self.unasked = True
        self.headers, self.body, self.head_done = [], [], False  # also after an informational (1xx) answer

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()  # asked here: the parser forgets it after the message

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() >= 200:  # an informational answer comes before the real one
            self.done = True

    def delimited_by_eof(self) -> bool:
        """Whether the body runs to the end of the connection (neither a length nor chunks were given)."""
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


async def _response(
    reader: asyncio.StreamReader, method: str, read_timeout: float | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    answer = _Answer()
    received = 0
    async with asyncio.timeout(read_timeout):
        while not answer.done:
            if method == "HEAD" and answer.head_done and answer.parser.get_status_code() >= 200:
                break  # an answer to HEAD has no body, whatever its Content-Length says
            data = await reader.read(_READ_SIZE)
            if not data:
                if answer.head_done and answer.delimited_by_eof():
                    return answer.parser.get_status_code(), answer.headers, b"".join(answer.body), False
                raise asyncio.IncompleteReadError(b"", None)
            received += len(data)
            if not answer.head_done and received > _MAX_HEAD:
                raise ValueError("response head too long")
            answer.parser.feed_data(data)
    reusable = answer.keep_alive and not answer.unasked
    return answer.parser.get_status_code(), answer.headers, b"".join(answer.body), reusable

"""The kit's KeepAliveTransport against scripted HTTP/1.1 servers on a free port: framing, reuse, and that every way a
call can fail ends in the httpx error a caller already catches (never a hang, never a request sent twice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from services.common.http import build_http_client
from services.common.keepalive import KeepAliveTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Scripted:
    """A server that answers each request with the next scripted answer, and records what it received."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                writer.write(self.answers.pop(0))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[str]:
    listening = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listening.close()


def ok(body: bytes = b'{"ok":true}', *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body), extra, body,
    )  # fmt: skip


async def test_requests_go_over_one_kept_alive_connection_with_their_body_and_headers() -> None:
    script = Scripted([ok(b'{"n":1}'), ok(b'{"n":2}'), ok(b'{"n":3}')])
    async with server(script) as url, build_http_client(url) as client:
        first = await client.post("/v1/decisions?x=1", json={"a": 1}, headers={"X-Thing": "yes"})
        second = await client.get("/v1/other")
        third = await client.put("/v1/third", content=b"raw")
    assert [first.json(), second.json(), third.json()] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert script.connections == 1
    sent = script.requests[0]
    assert sent.startswith(b"POST /v1/decisions?x=1 HTTP/1.1\r\n")
    assert b"\r\nX-Thing: yes\r\n" in sent and b"\r\nContent-Length: 7\r\n" in sent
    assert sent.endswith(b'\r\n\r\n{"a":1}')
    assert script.requests[1].startswith(b"GET /v1/other HTTP/1.1\r\n")
    assert b"content-length" not in script.requests[1].lower()
    assert script.requests[2].endswith(b"\r\n\r\nraw")


async def test_a_chunked_answer_is_read_whole_and_the_connection_reused() -> None:
    chunked = (
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n"
    )
    script = Scripted([chunked, ok()])
    async with server(script) as url, build_http_client(url) as client:
        first = await client.get("/a")
        second = await client.get("/b")
    assert (first.status_code, first.text) == (201, "hello world")
    assert second.json() == {"ok": True}
    assert script.connections == 1


async def test_no_content_and_head_answers_have_no_body() -> None:
    script = Scripted([b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n", ok()])
    async with server(script) as url, build_http_client(url) as client:
        empty = await client.delete("/x")
        head = await client.head("/y")
        after = await client.get("/z")
    assert (empty.status_code, empty.content) == (204, b"")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "42")
    assert after.json() == {"ok": True}
    assert script.connections == 1


async def test_an_answer_with_connection_close_is_not_followed_on_its_connection() -> None:
    script = Scripted([ok(b'{"n":1}', extra=b"connection: close\r\n"), ok(b'{"n":2}')])  # the server would go on
    async with server(script) as url, build_http_client(url) as client:
        assert (await client.get("/1")).json() == {"n": 1}
        assert (await client.get("/2")).json() == {"n": 2}
    assert script.connections == 2


async def test_a_body_without_length_is_read_to_the_end_and_its_connection_dropped() -> None:
    script = Scripted([b"HTTP/1.0 200 OK\r\n\r\nuntil the end", ok()], close_after=True)
    async with server(script) as url, build_http_client(url) as client:
        assert (await client.get("/1")).text == "until the end"
        assert (await client.get("/2")).json() == {"ok": True}
    assert script.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_written_to() -> None:
    script = Scripted([ok(b'{"n":1}'), ok(b'{"n":2}')], close_after=True)  # the server drops each connection
    async with server(script) as url, build_http_client(url) as client:
        assert (await client.get("/1")).json() == {"n": 1}
        await asyncio.sleep(0.05)  # the peer's FIN arrives at the idle connection
        assert (await client.get("/2")).json() == {"n": 2}
    assert script.connections == 2
    assert len(script.requests) == 2


async def test_a_connection_idle_past_its_expiry_is_replaced() -> None:
    script = Scripted([ok(), ok()])
    transport = KeepAliveTransport(keepalive_expiry=0.0)
    async with server(script) as url, httpx.AsyncClient(base_url=url, transport=transport) as client:
        await client.get("/1")
        await client.get("/2")
    assert script.connections == 2


async def test_a_server_that_answers_nothing_is_a_remote_protocol_error_sent_once() -> None:
    received: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    async with server(hang_up) as url, build_http_client(url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/decisions", json={})
    assert len(received) == 1


async def test_a_truncated_body_is_a_remote_protocol_error() -> None:
    script = Scripted([b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort"], close_after=True)
    async with server(script) as url, build_http_client(url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        # shapes of request smuggling, which llhttp refuses: two lengths, or a length and chunks
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ],
)
async def test_a_malformed_answer_is_a_remote_protocol_error(answer: bytes) -> None:
    async with server(Scripted([answer])) as url, build_http_client(url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/x")


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)

    async with server(silent) as url, httpx.AsyncClient(base_url=url, timeout=0.2, transport=KeepAliveTransport()) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/x")


async def test_nobody_listening_is_a_connect_error() -> None:
    async with server(Scripted([])) as url:
        pass  # closed: the port is free again
    async with build_http_client(url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/x")


async def test_a_full_pool_waits_for_a_slot_and_times_out() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        writer.write(ok())
        await writer.drain()
        writer.close()

    async with server(slow) as url:
        transport = KeepAliveTransport(max_connections=1)
        timeout = httpx.Timeout(5.0, pool=0.1)
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=timeout) as client:
            first = asyncio.create_task(client.get("/1"))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await client.get("/2")
            release.set()
            assert (await first).json() == {"ok": True}


async def test_a_cancelled_call_closes_its_connection() -> None:
    script = Scripted([ok()])
    started, stalled = asyncio.Event(), []

    async def stall_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if stalled:
            await script(reader, writer)
            return
        stalled.append(await reader.readuntil(b"\r\n\r\n"))
        started.set()
        await reader.read(-1)  # never answers; sees the client close
        writer.close()

    async with server(stall_first) as url, build_http_client(url) as client:
        call = asyncio.create_task(client.get("/stalls"))
        await started.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert (await client.get("/next")).json() == {"ok": True}  # on a new connection, not the cancelled one
    assert (len(stalled), script.connections) == (1, 1)


async def test_other_schemes_go_to_httpx_own_transport() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"keys": []})

    transport = KeepAliveTransport(fallback=httpx.MockTransport(answer))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.get("https://client.example/jwks.json")).json() == {"keys": []}
    assert seen == ["https://client.example/jwks.json"]


async def test_a_closed_transport_refuses_calls() -> None:
    transport = KeepAliveTransport()
    await transport.aclose()
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/x"))


async def test_an_informational_answer_is_skipped_for_the_real_one() -> None:
    script = Scripted([b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"n":1}'), ok(b'{"n":2}')])
    async with server(script) as url, build_http_client(url) as client:
        assert (await client.post("/1", json={})).json() == {"n": 1}
        assert (await client.get("/2")).json() == {"n": 2}
    assert script.connections == 1


@pytest.mark.parametrize("header", [("X-Thing", "a\r\nEvil: 1"), ("X-Thing", "nul\x00"), ("Bad Name", "v")])
async def test_a_header_that_would_split_the_request_is_refused_and_nothing_is_sent(header: tuple[str, str]) -> None:
    script = Scripted([ok()])
    async with server(script) as url, build_http_client(url) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get("/x", headers=dict([header]))
    assert script.requests == []

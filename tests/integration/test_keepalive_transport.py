"""KeepAliveTransport over real loopback sockets: framing, keep-alive, failures, TLS, closing.

Most servers here are raw `asyncio.start_server` handlers that answer byte by byte, so each test
sends exactly the answer it means (a chunk extension, a cut answer, a garbage status line) and
counts the connections it accepts; one test runs httpx's own client over the transport against
uvicorn (h11), a server we did not write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import httpx
import pytest

from daemon.intake.server import bind_tcp, serve_asgi
from daemon.remote import keepalive_transport
from daemon.remote.keepalive_transport import KeepAliveTransport

pytestmark = pytest.mark.anyio

GUARD = 10.0  # seconds: a hang guard only, never a timing assertion
TIMEOUTS = {"connect": GUARD, "read": GUARD, "write": GUARD, "pool": GUARD}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# --- a loopback server whose answers each test writes byte by byte ---------------------------


@dataclass
class Received:
    """One request as the server read it off the wire."""

    connection: int
    method: bytes
    target: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Peer:
    """The server's side of one accepted connection."""

    def __init__(
        self,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server: RawServer,
    ) -> None:
        self.index = index
        self.reader = reader
        self.writer = writer
        self.server = server
        self.requests = 0
        self.client_closed = asyncio.Event()  # the client closed its end (we read EOF)
        self.closed = asyncio.Event()  # our end is closed

    async def request(self) -> Received | None:
        """The next request on this connection, or None once the client has closed it."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.client_closed.set()
            return None
        lines = head[:-4].split(b"\r\n")
        method, target, version = lines[0].split(b" ")
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip()))
        lengths = [int(value) for name, value in headers if name.lower() == b"content-length"]
        body = await self.reader.readexactly(lengths[0]) if lengths else b""
        received = Received(self.index, method, target, version, headers, body)
        self.requests += 1
        self.server.received.append(received)
        return received

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        if not self.closed.is_set():
            self.writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):  # the client may have reset it
                await self.writer.wait_closed()
            self.closed.set()

    def send_fin_now(self) -> None:
        """Close our sending half at once, without a turn of the event loop."""
        self.writer.get_extra_info("socket").shutdown(socket.SHUT_WR)


Script = Callable[[Peer], Awaitable[None]]


class RawServer:
    """`asyncio.start_server` on 127.0.0.1 running `script` for each accepted connection."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.peers: list[Peer] = []
        self.received: list[Received] = []
        self.errors: list[BaseException] = []
        self._handlers: set[asyncio.Task[Any]] = set()  # one per accepted connection
        self._scripts: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def accepted(self) -> int:
        return len(self.peers)

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.close()
        for peer in self.peers:
            await peer.close()
        for script in self._scripts:
            script.cancel()
        if self._handlers:  # each ends once its script has (or its handshake failed)
            await asyncio.wait(self._handlers, timeout=GUARD)
        await self._server.wait_closed()
        if exc is None and self.errors:
            raise self.errors[0]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        if self.tls is not None:
            # Our own handshake: one the client refuses ends here, where asyncio's own TLS
            # accept would report it to the loop's exception handler in debug mode.
            try:
                await writer.start_tls(self.tls)
            except (OSError, ssl.SSLError):
                writer.close()
                return
        peer = Peer(len(self.peers), reader, writer, self)
        self.peers.append(peer)
        # The script runs in a task of its own, so __aexit__ can cancel it while this handler
        # (whose end asyncio checks) still ends normally.
        script = asyncio.create_task(self._run(peer))
        self._scripts.add(script)
        await asyncio.wait([script])
        self._scripts.discard(script)
        await peer.close()

    async def _run(self, peer: Peer) -> None:
        try:
            await self.script(peer)
        except ConnectionError:
            pass  # the client reset the connection: some tests do exactly that
        except Exception as exc:  # surfaced by __aexit__, so a broken script fails its test
            self.errors.append(exc)


def answering(*answers: bytes) -> Script:
    """Answer the n-th request on each connection with answers[n] (the last one repeats)."""

    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            await peer.send(answers[min(peer.requests, len(answers)) - 1])

    return script


async def fetch(
    transport: KeepAliveTransport,
    url: str,
    method: str = "GET",
    *,
    timeouts: dict[str, float] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request straight through the transport, its answer read and closed."""
    request = httpx.Request(method, url, extensions={"timeout": timeouts or TIMEOUTS}, **kwargs)
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- requests and answers --------------------------------------------------------------------


def held_answers() -> tuple[asyncio.Event, asyncio.Event, Any]:
    """A server script that answers each request OK only once `release` is set; `asked` is set
    when a request has arrived."""
    asked = asyncio.Event()
    release = asyncio.Event()

    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            asked.set()
            await release.wait()
            await peer.send(OK)

    return asked, release, script


async def test_a_post_arrives_exactly_as_sent_and_its_answer_comes_back() -> None:
    answer = (
        b"HTTP/1.1 201 Created\r\n"
        b"Content-Type: text/xml; charset=utf-8\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"X-Answer:   spaced out   \r\n"
        b"Content-Length: 17\r\n\r\n"
        b"<created id='7'/>"
    )
    body = b"<soap:Envelope>\xc3\xa9t\xc3\xa9</soap:Envelope>"
    async with RawServer(answering(answer)) as server, KeepAliveTransport() as transport:
        response = await fetch(
            transport,
            server.url("/rpc/services/CreateObject?company=acme&x=a%20b"),
            "POST",
            content=body,
            headers={"SOAPAction": '""', "Content-Type": "text/xml; charset=utf-8"},
        )
    (received,) = server.received
    assert received.method == b"POST"
    assert received.target == b"/rpc/services/CreateObject?company=acme&x=a%20b"
    assert received.version == b"HTTP/1.1"
    assert received.header(b"Host") == [f"127.0.0.1:{server.port}".encode()]
    assert (b"SOAPAction", b'""') in received.headers
    assert received.header(b"Content-Type") == [b"text/xml; charset=utf-8"]
    assert received.header(b"Content-Length") == [str(len(body)).encode()]
    assert received.header(b"Transfer-Encoding") == []
    assert received.body == body
    assert response.status_code == 201
    assert response.reason_phrase == "Created"
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-answer"] == "spaced out"
    assert response.content == b"<created id='7'/>"
    assert response.extensions["http_version"] == b"HTTP/1.1"


async def test_a_get_carries_no_body_and_no_content_length() -> None:
    async with RawServer(answering(OK)) as server, KeepAliveTransport() as transport:
        response = await fetch(transport, server.url("/a%2Fb/c?q=1&q=2"))
    (received,) = server.received
    assert (received.method, received.target) == (b"GET", b"/a%2Fb/c?q=1&q=2")
    assert received.header(b"Content-Length") == []
    assert received.body == b""
    assert response.content == b"ok"


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Evil", "a\r\nInjected: 1"), ("X-Evil", "a\nb"), ("X-Evil", "a\rb")],
    ids=["crlf", "lf", "cr"],
)
async def test_a_line_break_inside_a_request_header_is_refused(name: str, value: str) -> None:
    async with RawServer(answering(OK)) as server, KeepAliveTransport() as transport:
        with pytest.raises(httpx.LocalProtocolError, match="X-Evil"):
            await fetch(transport, server.url(), headers={name: value})
        response = await fetch(transport, server.url())  # the transport is still fine
    assert response.content == b"ok"
    assert [r.header(b"Injected") for r in server.received] == [[]]


async def test_an_async_stream_body_is_sent_whole_with_its_length() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async with RawServer(answering(OK)) as server, KeepAliveTransport() as transport:
        response = await fetch(transport, server.url(), "PUT", content=parts())
    (received,) = server.received
    assert received.body == b"one,two,three"
    assert received.header(b"Content-Length") == [b"13"]
    assert received.header(b"Transfer-Encoding") == []
    assert response.status_code == 200


async def test_httpx_client_works_on_top_of_the_transport() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + (
        b'{"seen": 1}'
    )
    async with RawServer(answering(answer)) as server:
        async with httpx.AsyncClient(
            transport=KeepAliveTransport(), timeout=httpx.Timeout(GUARD)
        ) as client:
            first = await client.post(server.url("/x"), params={"a": "b c"}, json={"k": "v"})
            second = await client.get(server.url("/y"))
        # Closing the client closed the transport, and with it the kept-alive connection.
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
    assert first.json() == {"seen": 1}
    assert second.status_code == 200
    assert isinstance(first.elapsed, dt.timedelta)
    assert [r.target for r in server.received] == [b"/x?a=b+c", b"/y"]
    assert server.received[0].body == b'{"k":"v"}'
    assert server.accepted == 1


async def test_httpx_client_with_uvicorn_keeps_one_connection() -> None:
    clients: list[tuple[str, int]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        clients.append(scope["client"])
        answer = scope["method"].encode() + b" " + scope["path"].encode() + b" " + body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer})

    sock = bind_tcp("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with anyio.create_task_group() as group:
        group.start_soon(functools.partial(serve_asgi, app, sock, drain_seconds=1.0))
        async with httpx.AsyncClient(
            transport=KeepAliveTransport(), timeout=httpx.Timeout(GUARD)
        ) as client:  # the socket already listens: the first request waits for uvicorn
            answers = [(await client.post(f"{url}/n/{n}", content=b"x" * n)).text for n in range(5)]
        group.cancel_scope.cancel()
    assert answers == [f"POST /n/{n} " + "x" * n for n in range(5)]
    # uvicorn answers with chunked encoding when the app gives no length: all on one connection.
    assert len(set(clients)) == 1


# --- framing ----------------------------------------------------------------------------------


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n"
    b"1\r\n,\r\n"
    b'6 ; ext ; other="q;d"\r\n world\r\n'
    b"A\r\n0123456789\r\n"
    b"0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
)


@pytest.mark.parametrize(
    ("answer", "content"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", b""),
        (CHUNKED, b"hello, world0123456789"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", b""),
    ],
    ids=["content-length", "empty", "chunked-extensions-trailers", "chunked-empty"],
)
async def test_framed_answers_keep_the_connection(answer: bytes, content: bytes) -> None:
    async with RawServer(answering(answer, OK)) as server, KeepAliveTransport() as transport:
        first = await fetch(transport, server.url())
        # The next answer is read from where this one ended: nothing of it was left behind.
        second = await fetch(transport, server.url())
    assert first.content == content
    assert second.content == b"ok"
    assert server.accepted == 1


async def test_an_answer_framed_by_the_close_is_read_to_the_end() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await peer.send(b"the close")
        await peer.close()

    async with RawServer(script) as server, KeepAliveTransport() as transport:
        first = await fetch(transport, server.url())
        second = await fetch(transport, server.url())
    assert first.content == b"until the close"
    assert second.content == b"until the close"
    assert server.accepted == 2


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ],
    ids=["204", "304", "head-length", "head-chunked"],
)
async def test_answers_without_a_body(method: str, answer: bytes) -> None:
    async with RawServer(answering(answer, OK)) as server, KeepAliveTransport() as transport:
        first = await fetch(transport, server.url(), method)
        second = await fetch(transport, server.url())
    assert first.content == b""
    assert first.status_code == int(answer[9:12])
    assert second.content == b"ok"
    assert server.accepted == 1
    assert server.received[0].method == method.encode()


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    ],
    ids=["100", "100-twice", "103"],
)
async def test_interim_answers_are_skipped(interim: bytes) -> None:
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
    async with RawServer(answering(interim + final, OK)) as server, KeepAliveTransport() as t:
        first = await fetch(t, server.url(), "POST", content=b"body")
        second = await fetch(t, server.url())
    assert (first.status_code, first.content) == (200, b"done")
    assert "link" not in first.headers
    assert second.content == b"ok"
    assert server.accepted == 1


# --- keep-alive -------------------------------------------------------------------------------


async def test_sequential_requests_share_one_connection() -> None:
    async with RawServer(answering(OK)) as server, KeepAliveTransport() as transport:
        for n in range(20):
            response = await fetch(transport, server.url(f"/{n}"), "POST", content=b"%d" % n)
            assert response.content == b"ok"
    assert server.accepted == 1
    assert [r.body for r in server.received] == [b"%d" % n for n in range(20)]


async def test_concurrent_requests_wait_for_one_of_max_connections() -> None:
    limit, requests = 3, 12
    in_flight = 0
    most_in_flight = 0
    all_busy = asyncio.Event()

    async def script(peer: Peer) -> None:
        nonlocal in_flight, most_in_flight
        while (await peer.request()) is not None:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            if in_flight == limit:
                all_busy.set()
            await all_busy.wait()  # nobody is answered until every connection is busy
            in_flight -= 1
            await peer.send(OK)

    async with (
        RawServer(script) as server,
        KeepAliveTransport(max_connections=limit) as t,
        anyio.create_task_group() as group,
    ):
        for n in range(requests):
            group.start_soon(fetch, t, server.url(f"/{n}"))
    assert len(server.received) == requests
    assert most_in_flight == limit
    assert server.accepted == limit  # the other 9 waited for a connection and reused it


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        # Both framings is how answers get smuggled: the chunks are read, the connection dropped.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n",
    ],
    ids=["close", "close-among-tokens", "http-1.0", "chunked-and-length"],
)
async def test_an_answer_that_ends_the_connection_is_not_reused(answer: bytes) -> None:
    # The server keeps the connection open anyway: only the client's reading decides.
    async with RawServer(answering(answer)) as server, KeepAliveTransport() as transport:
        first = await fetch(transport, server.url())
        second = await fetch(transport, server.url())
    assert first.content == second.content == b"ok"
    assert first.extensions["http_version"] == answer[:8]
    assert server.accepted == 2
    assert [r.connection for r in server.received] == [0, 1]


async def test_a_keep_alive_token_list_keeps_the_connection() -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: keep-alive, x-closed\r\nContent-Length: 2\r\n\r\nok"
    async with RawServer(answering(answer)) as server, KeepAliveTransport() as transport:
        await fetch(transport, server.url())
        await fetch(transport, server.url())
    assert server.accepted == 1


async def test_each_origin_keeps_its_own_connection() -> None:
    async with (
        RawServer(answering(OK)) as one,
        RawServer(answering(OK)) as other,
        KeepAliveTransport() as transport,
    ):
        for _ in range(3):
            await fetch(transport, one.url())
            await fetch(transport, other.url())
    assert (one.accepted, other.accepted) == (1, 1)


async def test_idle_connections_of_other_origins_give_way_to_the_limit() -> None:
    async with (
        RawServer(answering(OK)) as one,
        RawServer(answering(OK)) as other,
        KeepAliveTransport(max_connections=1) as transport,
    ):
        await fetch(transport, one.url())
        await fetch(transport, other.url())  # one's idle connection is closed to make room
        with anyio.fail_after(GUARD):
            await one.peers[0].client_closed.wait()
        await fetch(transport, one.url())
    assert (one.accepted, other.accepted) == (2, 1)


# --- connections the server closed while idle -------------------------------------------------


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.close()  # an idle timeout on the server's side

    async with RawServer(script) as server, KeepAliveTransport() as transport:
        await fetch(transport, server.url())
        with anyio.fail_after(GUARD):
            await server.peers[0].closed.wait()
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert server.accepted == 2
    assert [r.connection for r in server.received] == [0, 1]


async def test_a_close_that_just_arrived_is_seen_before_writing() -> None:
    # The server's FIN is in the client's socket, but asyncio has not had a turn to read it.
    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            if peer.requests > 1:
                return  # a request written to the dying connection: never answered
            await peer.send(OK)

    async with RawServer(script) as server, KeepAliveTransport() as transport:
        await fetch(transport, server.url())
        server.peers[0].send_fin_now()
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert [r.connection for r in server.received] == [0, 1]


async def test_an_answer_left_on_an_idle_connection_is_not_taken_for_the_next() -> None:
    # Some servers say 408 to an idle connection before closing it.
    late = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        if peer.index == 0:
            await peer.send(late)
            await peer.close()
        else:
            while (await peer.request()) is not None:
                await peer.send(OK)

    async with RawServer(script) as server, KeepAliveTransport() as transport:
        await fetch(transport, server.url())
        with anyio.fail_after(GUARD):
            await server.peers[0].closed.wait()
        response = await fetch(transport, server.url())
    assert response.status_code == 200
    assert server.accepted == 2


# --- failures ---------------------------------------------------------------------------------


async def test_connect_refused_is_a_connect_error() -> None:
    async with KeepAliveTransport() as transport:
        with pytest.raises(httpx.ConnectError):
            await fetch(transport, f"http://127.0.0.1:{free_port()}/")


async def test_an_unsupported_scheme_is_refused() -> None:
    async with KeepAliveTransport() as transport:
        with pytest.raises(httpx.UnsupportedProtocol):
            await fetch(transport, "ftp://127.0.0.1/file")


async def test_max_connections_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        KeepAliveTransport(max_connections=0)


def bad_then_ok(answer: bytes) -> Script:
    """Answer every request on the first connection with `answer`, on later ones with OK."""

    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            await peer.send(answer if peer.index == 0 else OK)

    return script


def silent_then(answer: bytes) -> Script:
    """Never answer the first connection's request; answer the later ones."""

    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            if peer.index == 0:
                continue  # read on, answer nothing, until the client gives up and closes
            await peer.send(answer)

    return script


async def test_no_answer_in_time_is_a_read_timeout_and_the_connection_is_dropped() -> None:
    async with RawServer(silent_then(OK)) as server, KeepAliveTransport() as transport:
        with pytest.raises(httpx.ReadTimeout):
            await fetch(transport, server.url(), timeouts={**TIMEOUTS, "read": 0.05})
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert server.accepted == 2


async def test_httpx_timeout_on_a_client_reaches_the_transport() -> None:
    async with (
        RawServer(silent_then(OK)) as server,
        httpx.AsyncClient(
            transport=KeepAliveTransport(), timeout=httpx.Timeout(GUARD, read=0.05)
        ) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url())
        assert (await client.get(server.url())).text == "ok"
    assert server.accepted == 2


async def test_no_free_connection_in_time_is_a_pool_timeout() -> None:
    asked, release, script = held_answers()

    async with RawServer(script) as server, KeepAliveTransport(max_connections=1) as t:
        async with anyio.create_task_group() as group:
            busy: list[httpx.Response] = []

            async def hold() -> None:
                busy.append(await fetch(t, server.url("/busy")))

            group.start_soon(hold)
            with anyio.fail_after(GUARD):
                await asked.wait()
            with pytest.raises(httpx.PoolTimeout):
                await fetch(t, server.url("/waits"), timeouts={**TIMEOUTS, "pool": 0.05})
            release.set()
        after = await fetch(t, server.url("/after"))
    assert busy[0].content == after.content == b"ok"
    assert [r.target for r in server.received] == [b"/busy", b"/after"]
    assert server.accepted == 1


@pytest.mark.parametrize(
    "cut",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: t\r\n",
    ],
    ids=["nothing", "mid-head", "mid-body", "mid-chunk", "between-chunks", "mid-trailers"],
)
async def test_the_server_closing_mid_answer_is_a_remote_protocol_error(cut: bytes) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send(cut)
        else:
            await peer.send(OK)

    async with RawServer(script) as server, KeepAliveTransport() as transport:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(transport, server.url())
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert server.accepted == 2


BAD_ANSWERS = {
    "not-http": b"SMTP/1.0 220 mail.example.com\r\n\r\n",
    "http-2": b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
    "letters-for-status": b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
    "four-digit-status": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "two-digit-status": b"HTTP/1.1 20\r\nContent-Length: 0\r\n\r\n",
    "no-space-after-status": b"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
    "header-without-colon": b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n",
    "header-folded": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n",
    "header-name-with-space": b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
    "header-space-before-colon": b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n",
    "header-empty-name": b"HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n",
    "length-not-a-number": b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
    "length-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    "length-signed": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "length-list": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
    "length-conflicting": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "length-over-limit": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n",
    "chunk-size-not-hex": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk-size-0x": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
    "chunk-size-negative": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n",
    "chunk-size-underscore": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n0123456789abcdef\r\n"
    ),
    "chunk-size-empty": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
    "chunk-without-crlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX",
    "chunk-over-limit": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n",
    "unknown-transfer-encoding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "switching-protocols": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    "head-too-long": b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
}


@pytest.mark.parametrize("answer", list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
async def test_a_malformed_answer_is_a_remote_protocol_error(answer: bytes) -> None:
    # The server keeps the connection open after the bad answer: the client must drop it.
    async with RawServer(bad_then_ok(answer)) as server, KeepAliveTransport() as transport:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(transport, server.url())
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert server.accepted == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + b"x" * 17,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n9\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 17,
    ],
    ids=["content-length", "chunked", "until-close"],
)
async def test_a_body_over_the_limit_is_a_remote_protocol_error(answer: bytes) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer + b"x" * 64)
        await peer.close()

    async with (
        RawServer(script) as server,
        KeepAliveTransport(max_body_bytes=16) as transport,
    ):
        with pytest.raises(keepalive_transport.AnswerOverLimit, match="16 byte limit"):
            await fetch(transport, server.url())


async def test_a_body_at_the_limit_is_accepted() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 16)
        await peer.close()

    async with (
        RawServer(script) as server,
        KeepAliveTransport(max_body_bytes=16) as transport,
    ):
        response = await fetch(transport, server.url())
    assert response.content == b"x" * 16


# --- TLS --------------------------------------------------------------------------------------


@dataclass
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command-line tool is not installed")
    folder = tmp_path_factory.mktemp("tls")
    made = Certificate(folder / "cert.pem", folder / "key.pem")
    options = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    subject = "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    subprocess.run(
        [openssl, *options.split(), *subject.split(), "-keyout", made.key, "-out", made.cert],
        check=True,
        capture_output=True,
    )
    return made


def server_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


async def test_tls_with_an_untrusted_certificate_is_a_connect_error(
    certificate: Certificate,
) -> None:
    async with (
        RawServer(answering(OK), tls=server_context(certificate)) as server,
        KeepAliveTransport() as transport,
    ):
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
            await fetch(transport, server.url())
    assert server.accepted == 0


async def test_tls_with_a_trusting_context_keeps_one_connection(certificate: Certificate) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate.cert))
    async with (
        RawServer(answering(CHUNKED, OK), tls=server_context(certificate)) as server,
        KeepAliveTransport(ssl_context=trusting) as transport,
    ):
        first = await fetch(transport, server.url("/a"), "POST", content=b"secret")
        second = await fetch(transport, server.url("/b"))
        await transport.aclose()
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
    assert first.content == b"hello, world0123456789"
    assert second.content == b"ok"
    assert server.received[0].body == b"secret"
    assert server.accepted == 1


async def test_tls_connection_the_server_closed_while_idle_is_replaced(
    certificate: Certificate,
) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.close()

    trusting = ssl.create_default_context(cafile=str(certificate.cert))
    async with (
        RawServer(script, tls=server_context(certificate)) as server,
        KeepAliveTransport(ssl_context=trusting) as transport,
    ):
        await fetch(transport, server.url())
        with anyio.fail_after(GUARD):
            await server.peers[0].closed.wait()
        response = await fetch(transport, server.url())
    assert response.content == b"ok"
    assert server.accepted == 2


# --- closing ----------------------------------------------------------------------------------


async def test_aclose_closes_idle_connections_and_refuses_new_requests() -> None:
    both_busy = asyncio.Event()

    async def script(peer: Peer) -> None:
        while (await peer.request()) is not None:
            if len(peer.server.received) == 2:
                both_busy.set()
            await both_busy.wait()
            await peer.send(OK)

    async with RawServer(script) as server:
        transport = KeepAliveTransport()
        async with anyio.create_task_group() as group:
            group.start_soon(fetch, transport, server.url())
            group.start_soon(fetch, transport, server.url())
        assert server.accepted == 2
        await transport.aclose()
        with anyio.fail_after(GUARD):
            for peer in server.peers:
                await peer.client_closed.wait()
        with pytest.raises(RuntimeError, match="closed"):
            await fetch(transport, server.url())
        await transport.aclose()  # twice is harmless
    assert server.accepted == 2


async def test_a_connection_in_use_during_aclose_is_closed_when_its_answer_ends() -> None:
    asked, release, script = held_answers()

    async with RawServer(script) as server:
        transport = KeepAliveTransport()
        async with anyio.create_task_group() as group:
            answers: list[httpx.Response] = []

            async def ask() -> None:
                answers.append(await fetch(transport, server.url()))

            group.start_soon(ask)
            with anyio.fail_after(GUARD):
                await asked.wait()
            await transport.aclose()
            release.set()
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
    assert answers[0].content == b"ok"


async def test_a_cancelled_request_drops_its_connection() -> None:
    async with RawServer(silent_then(OK)) as server, KeepAliveTransport() as transport:
        with anyio.move_on_after(0.05) as scope:
            await fetch(transport, server.url())
        assert scope.cancelled_caught
        response = await fetch(transport, server.url())
        with anyio.fail_after(GUARD):
            await server.peers[0].client_closed.wait()
    assert response.content == b"ok"
    assert server.accepted == 2

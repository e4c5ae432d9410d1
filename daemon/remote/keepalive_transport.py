"""A lean HTTP/1.1 keep-alive transport for httpx, for the many small calls of one MIS server.

`httpx.AsyncHTTPTransport` (httpcore over h11, in pure Python) spends ~0.5 ms of CPU on each
request; a Pace push makes 16 SOAP calls, so that alone cost ~10 ms of the event loop per order
(the push bench). This transport speaks only what such calls need: HTTP/1.1 requests whose body
is read whole before sending (bytes, or a stream read to its end), keep-alive connections (at
most `max_connections` open over all origins, each origin's reused newest first), answers framed
by Content-Length, chunked encoding or the connection's close, interim 1xx answers skipped, TLS
with the default verified context (or the one given), and the four httpx timeouts from each
request's extensions (the read timeout bounds the whole answer). Failures are the httpx
exceptions httpx's own transport raises (ConnectError, ReadTimeout, RemoteProtocolError...), so
callers classify them the same way; after any failure the connection is closed, never reused.

Like httpx's own transport, the answer comes back as a stream: read it (`await response.aread()`)
before its `.content`; an `httpx.AsyncClient` over this transport does that itself.

A kept-alive connection is reused only if its socket has nothing to read: an idle connection
that turns readable has been closed by the server (or holds an answer nobody asked for, like a
408 before an idle close), so a request is never written to a connection known to be dead, even
when asyncio has not yet had a turn to see the close.

Not handled, by design: proxies, HTTP/2, 101 Switching Protocols (Upgrade), transfer-codings
other than chunked, trailers (read past, not kept). Callers that need them use httpx's own
transport: `for_url` steps aside for httpx's when the environment (HTTPS_PROXY, HTTP_PROXY,
ALL_PROXY, NO_PROXY, as every other esd client honours them) sends a URL through a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import select
import ssl
import urllib.parse
import urllib.request
from collections.abc import Mapping

import httpx

__all__ = [
    "DEFAULT_MAX_BODY",
    "AnswerOverLimit",
    "KeepAliveTransport",
    "environment_proxy",
    "for_url",
]

_MAX_HEAD = 64 * 1024
#: bytes an answer body may have unless the transport is given its own limit
DEFAULT_MAX_BODY = 64 * 1024 * 1024
_DEFAULT_TIMEOUT = 30.0
_READ_SIZE = 64 * 1024

# RFC 9112: status-line = HTTP-version SP 3DIGIT SP [reason-phrase]; field-name is a token and
# no whitespace may stand between it and the colon; chunk-size is hex, extensions after ";".
_STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_HEADER_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00\r\n]*?)[ \t]*",
)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")


class AnswerOverLimit(httpx.RemoteProtocolError):
    """An answer body over the transport's limit: refused, the rest left unread."""


class _Connection:
    """One open connection and the origin it belongs to."""

    __slots__ = ("origin", "reader", "writer")

    def __init__(
        self,
        origin: tuple[str, str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer

    def idle_and_alive(self) -> bool:
        """Still usable after sitting idle: open, and nothing arrived on it since its answer.

        asyncio learns of the server's close only on its next turn, so the socket itself is
        asked: an idle HTTP/1.1 connection that is readable holds a FIN, a reset or bytes
        nobody asked for; none of these may be taken for the next request's answer.
        """
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def environment_proxy(url: str) -> str | None:
    """The proxy the environment sends `url` through (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY,
    lower or upper case, minus NO_PROXY), or None for a direct connection."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or not parts.hostname:
        return None
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if urllib.request.proxy_bypass(host):  # NO_PROXY (the environment, on Linux)
        return None
    return proxy


def for_url(url: str, *, max_body_bytes: int = DEFAULT_MAX_BODY) -> httpx.AsyncBaseTransport:
    """The transport for calls to `url`: this lean one for a direct connection, httpx's own
    (which speaks to proxies) when the environment sends `url` through a proxy."""
    proxy = environment_proxy(url)
    if proxy is None:
        return KeepAliveTransport(max_body_bytes=max_body_bytes)
    return httpx.AsyncHTTPTransport(proxy=proxy)


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive over asyncio streams; see the module docstring."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections: must be 1 or more, got {max_connections}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes: must be 1 or more, got {max_body_bytes}")
        self._max = max_connections
        self._max_body = max_body_bytes
        self._ssl = ssl_context
        self._idle: list[_Connection] = []  # oldest first
        self._open = 0  # connections open: in use plus idle, never more than self._max
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def aclose(self) -> None:
        """Close the idle connections; one in use is closed when its answer ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._drop(connection)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed: it takes no more requests")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"unsupported URL scheme {url.scheme!r}: only http and https", request=request
            )
        timeouts = _timeouts(request.extensions.get("timeout"))
        body = await request.aread()
        head = _request_head(request, len(body))
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        try:
            async with asyncio.timeout(timeouts["pool"]):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None
        try:
            connection = await self._connection(origin, timeouts["connect"], request)
            try:
                status, version, reason, headers, content, reusable = await self._exchange(
                    connection, request, head, body, timeouts
                )
            except BaseException:
                self._drop(connection)
                raise
            if reusable and not self._closed:
                self._idle.append(connection)
            else:
                self._drop(connection)
        finally:
            self._slots.release()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": version, "reason_phrase": reason},
            request=request,
        )

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1

    async def _connection(
        self, origin: tuple[str, str, int], timeout: float | None, request: httpx.Request
    ) -> _Connection:
        idle = self._idle
        for index in range(len(idle) - 1, -1, -1):  # newest first: the least likely timed out
            connection = idle[index]
            if connection.origin == origin:
                del idle[index]
                if connection.idle_and_alive():
                    return connection
                self._drop(connection)
        # This request holds a slot and no connection, so if all are open some are idle (of
        # other origins): the oldest give way.
        while idle and self._open >= self._max:
            self._drop(idle.pop(0))
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("connect timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from None
        self._open += 1
        return _Connection(origin, reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx.Request,
        head: bytes,
        body: bytes,
        timeouts: Mapping[str, float | None],
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]], bytes, bool]:
        try:
            connection.writer.write(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                connection.writer.write(body)
            async with asyncio.timeout(timeouts["write"]):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("write timed out", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from None
        try:
            async with asyncio.timeout(timeouts["read"]):
                return await _answer(connection.reader, request, self._max_body)
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out", request=request) from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError(
                "the server closed the connection before a whole answer", request=request
            ) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                f"answer line longer than {_MAX_HEAD} bytes", request=request
            ) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from None


async def _answer(
    reader: asyncio.StreamReader, request: httpx.Request, limit: int
) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]], bytes, bool]:
    """Status, HTTP version, reason, headers, body, and whether the connection may be reused."""
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        if len(raw) > _MAX_HEAD:
            raise httpx.RemoteProtocolError("answer head too long", request=request)
        status, version, reason, headers = _parse_head(raw, request)
        if status >= 200:
            break
        if status == 101:
            raise httpx.RemoteProtocolError(
                "101 Switching Protocols: upgrades are not supported", request=request
            )
        # Any other 1xx is interim (100 Continue, 103 Early Hints): the real answer follows.
    connection = b""
    encoding = b""
    length: bytes | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            if length is not None and value != length:
                raise httpx.RemoteProtocolError(
                    "conflicting Content-Length headers", request=request
                )
            length = value
        elif lowered == b"transfer-encoding":
            encoding = value.lower() if not encoding else encoding + b", " + value.lower()
        elif lowered == b"connection":
            connection = connection + b"," + value
    keep_alive = version == b"HTTP/1.1" and not (
        connection and b"close" in [token.strip().lower() for token in connection.split(b",")]
    )
    if request.method == "HEAD" or status in (204, 304):
        return status, version, reason, headers, b"", keep_alive
    if encoding:
        if encoding != b"chunked":
            raise httpx.RemoteProtocolError(
                f"unsupported Transfer-Encoding {encoding.decode('latin-1')!r}: only chunked",
                request=request,
            )
        content = await _read_chunked(reader, request, limit)
        # Both framings at once is how answers are smuggled: read by the chunks, then drop it.
        keep_alive = keep_alive and length is None
    elif length is not None:
        content = await reader.readexactly(_content_length(length, request, limit))
    else:
        content = await _read_to_close(reader, request, limit)
        keep_alive = False
    return status, version, reason, headers, content, keep_alive


def _timeouts(given: object) -> dict[str, float | None]:
    found = given if isinstance(given, Mapping) else {}
    return {key: found.get(key, _DEFAULT_TIMEOUT) for key in ("connect", "read", "write", "pool")}


def _request_head(request: httpx.Request, length: int) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    names = set()
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered in (b"content-length", b"transfer-encoding", b"connection"):
            continue
        names.add(lowered)
        lines.append(name + b": " + value)
    if b"host" not in names:
        lines.append(b"Host: " + request.url.netloc)
    if length or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(length).encode("ascii"))
    lines.append(b"Connection: keep-alive")
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    if head.count(b"\n") != len(lines) + 1 or head.count(b"\r") != len(lines) + 1:
        # A CR or LF inside a header would end it early and let its rest pose as a header.
        for name, value in request.headers.raw:
            if any(c in name + value for c in b"\r\n"):
                raise httpx.LocalProtocolError(
                    f"header {name.decode('latin-1')!r}: CR or LF in its name or value",
                    request=request,
                )
    return head


def _parse_head(
    raw: bytes, request: httpx.Request
) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    lines = raw[:-4].split(b"\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise httpx.RemoteProtocolError(
            f"not an HTTP/1.x status line: {lines[0][:80]!r}", request=request
        )
    version, code, reason = status_line.groups()
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        header = _HEADER_LINE.fullmatch(line)
        if header is None:
            raise httpx.RemoteProtocolError(
                f"malformed answer header: {line[:80]!r}", request=request
            )
        name, value = header.groups()
        headers.append((name, value))
    return int(code), version, reason or b"", headers


def _over_limit(request: httpx.Request, limit: int, length: int | None = None) -> AnswerOverLimit:
    size = f"{length} bytes, " if length is not None else ""
    url = request.url.copy_with(username=None, password=None, query=None)
    return AnswerOverLimit(
        f"answer of {url} too large: {size}over the {limit} byte limit (max_answer_bytes)",
        request=request,
    )


def _content_length(value: bytes, request: httpx.Request, limit: int) -> int:
    if not (value.isdigit() and value.isascii()):
        raise httpx.RemoteProtocolError(
            f"malformed Content-Length: {value[:40]!r}", request=request
        )
    length = int(value)
    if length > limit:
        raise _over_limit(request, limit, length)
    return length


async def _read_chunked(reader: asyncio.StreamReader, request: httpx.Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        found = _CHUNK_SIZE.fullmatch(line, 0, len(line) - 2)
        if found is None:
            raise httpx.RemoteProtocolError(
                f"malformed chunk size line: {line[:40]!r}", request=request
            )
        chunk = int(found.group(1), 16)
        if chunk == 0:
            break
        size += chunk
        if size > limit:
            raise _over_limit(request, limit)
        data = await reader.readexactly(chunk + 2)
        if data[-2:] != b"\r\n":
            raise httpx.RemoteProtocolError("chunk not followed by CRLF", request=request)
        parts.append(data[:-2])
    trailers = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: read past, not kept
        trailers += len(line)
        if trailers > _MAX_HEAD:
            raise httpx.RemoteProtocolError("answer trailers too long", request=request)
    return b"".join(parts)


async def _read_to_close(reader: asyncio.StreamReader, request: httpx.Request, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while part := await reader.read(_READ_SIZE):
        size += len(part)
        if size > limit:
            raise _over_limit(request, limit)
        parts.append(part)
    return b"".join(parts)

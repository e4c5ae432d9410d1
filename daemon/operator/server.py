"""The operator socket server: protocol v1 over a unix socket, one task per connection.

The daemon hands `OperatorServer` a handler that turns a `Request` into a result mapping (and may
stream progress); this module only moves lines. Every answer leaves through `redact`, so no
secret the handler lets slip reaches the operator. A client that stops reading stalls only its
own connection: a send that cannot finish within `send_timeout` drops that client, and a
command keeps running to its end when its client goes away (a half-done push is worse than an
unread answer).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeAlias

import anyio
import anyio.abc
import structlog

from daemon.errors import EsdError, OperatorError, OperatorProtocolError
from daemon.operator.protocol import (
    MAX_LINE_BYTES,
    DecodedLine,
    LineDecoder,
    LineError,
    Request,
    RequestId,
    encode_answer,
    error_answer,
    parse_request,
    progress_answer,
    request_id_of,
    result_answer,
)
from daemon.operator.transport import SocketChannel, UnixListener, connect_unix

__all__ = ["Handler", "OperatorServer", "Progress"]

Progress: TypeAlias = Callable[[Mapping[str, Any]], Awaitable[None]]
Handler: TypeAlias = Callable[[Request, Progress], Awaitable[Mapping[str, Any]]]

log = structlog.get_logger(__name__)

INTERNAL_ERROR_MESSAGE: Final = "internal error (see daemon log)"
# sockaddr_un.sun_path is 108 bytes on Linux, NUL included.
_MAX_SOCKET_PATH: Final = 107
_RECEIVE_CHUNK: Final = 65536
_LIVENESS_TIMEOUT: Final = 5.0
#: What the reserved connection (see OperatorServer) may ask: enough to see what is going on.
RESERVED_COMMANDS: Final = frozenset({"status", "ping"})
#: The reserved connection's idle timeout (at most): it is for one quick look, not for parking.
_RESERVED_IDLE_TIMEOUT: Final = 5.0
# The answer of last resort, when not even an error answer with the client's id can be encoded.
_LAST_RESORT_LINE: Final = encode_answer(
    error_answer(None, "InternalError", INTERNAL_ERROR_MESSAGE)
)


def _identity(value: Any) -> Any:
    return value


class _Connection:
    """One client: sends answers until the client goes away or stalls, then stays quiet."""

    def __init__(
        self,
        stream: SocketChannel,
        number: int,
        redact: Callable[[Any], Any],
        max_line: int,
        send_timeout: float,
        *,
        reserved: bool = False,
    ) -> None:
        self.stream = stream
        self.number = number
        self.alive = True
        #: admitted into the reserved slot: only RESERVED_COMMANDS are answered
        self.reserved = reserved
        #: requests run so far (a garbled line is answered but is no request)
        self.requests = 0
        #: a request is being answered right now
        self.running = False
        self._redact = redact
        self._max_line = max_line
        self._send_timeout = send_timeout
        #: who connected (SO_PEERCRED): recorded in what the operator's commands change
        self.peer_uid = stream.peer_uid()

    def encode(self, answer: Mapping[str, Any]) -> bytes:
        """Redact and encode; raise if the answer is not JSON data or too long for a line."""
        line = encode_answer(self._redact(answer))
        if len(line) - 1 > self._max_line:
            raise OperatorError(
                f"answer too large ({len(line) - 1} bytes, limit {self._max_line}): "
                "ask for less (a smaller limit or a narrower filter)"
            )
        return line

    async def send_line(self, line: bytes) -> None:
        """Send one encoded line; a client that is gone or stalled is dropped, not raised."""
        if not self.alive:
            return
        with anyio.move_on_after(self._send_timeout) as scope:
            try:
                await self.stream.send(line)
            except OSError:
                self.alive = False
                log.debug("operator.client_gone", connection=self.number)
                return
        if scope.cancelled_caught:
            # Part of the line may have gone out: the stream cannot carry more answers.
            self.alive = False
            log.warning("operator.client_stalled", connection=self.number)

    async def send_final(self, answer: Mapping[str, Any], request_id: RequestId | None) -> None:
        """Send a final answer; one that cannot be encoded becomes an error answer. Never raises
        for what is in `answer` or `request_id`."""
        try:
            line = self.encode(answer)
        except OperatorError as exc:
            line = _error_line(request_id, "OperatorError", str(exc))
        except Exception:
            # repr: the id may be the very text that could not be encoded.
            log.exception(
                "operator.answer_unencodable", connection=self.number, id=repr(request_id)
            )
            # Constant text and the client's own id: nothing here needs redacting.
            line = _error_line(request_id, "InternalError", INTERNAL_ERROR_MESSAGE)
        await self.send_line(line)


def _error_line(request_id: RequestId | None, error_type: str, message: str) -> bytes:
    """An error answer line for `request_id`; if even that cannot be encoded (the id is what
    failed), the constant InternalError line with a null id, which always can."""
    try:
        return encode_answer(error_answer(request_id, error_type, message))
    except Exception:
        return _LAST_RESORT_LINE


class OperatorServer:
    """Serves protocol v1 on a unix socket at `path` until cancelled.

    `handler(request, progress)` returns the result mapping, or raises an `EsdError` subclass
    (answered as `{"type": <class name>, "message": str(exc)}`); any other exception is logged
    with its traceback and answered as `InternalError`. `progress(mapping)` streams one
    progress line for the request being answered.

    At most `max_connections` connections are served at once, plus one reserved connection
    that answers only `status` and `ping` (RESERVED_COMMANDS), so an operator can always see
    what is going on when the others are all taken: a newcomer takes the reserved slot from an
    idle holder (never from one being answered), else it is refused. A
    connection that completes no request line within `idle_timeout` seconds (the reserved one:
    within 5 s at most) is closed; the clock restarts after each request is answered, never
    while one runs.
    """

    def __init__(
        self,
        path: Path,
        handler: Handler,
        *,
        mode: int = 0o660,
        redact: Callable[[Any], Any] = _identity,
        max_connections: int = 64,
        max_line: int = MAX_LINE_BYTES,
        send_timeout: float = 30.0,
        idle_timeout: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self._handler = handler
        self._mode = mode
        self._redact = redact
        self._max_connections = max_connections
        self._max_line = max_line
        self._send_timeout = send_timeout
        self._idle_timeout = idle_timeout
        self._active = 0
        #: the connection in the reserved slot, and the scope that evicts it (see `_admit`)
        self._reserved: tuple[_Connection, anyio.CancelScope] | None = None
        self._accepted = 0
        self._bound: tuple[int, int] | None = None

    @property
    def active_connections(self) -> int:
        """Connections being served right now (the reserved one included)."""
        return self._active + (self._reserved is not None)

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen, answer every connection in its own task, remove the socket file on exit."""
        await self._clear_stale_socket()
        listener = self._listen()
        try:
            with listener:
                await self._accept_loop(listener, task_status)
        finally:
            self._remove_socket()

    async def _accept_loop(
        self, listener: UnixListener, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        async with anyio.create_task_group() as tg:
            log.info("operator.listening", path=str(self.path), mode=oct(self._mode))
            task_status.started()
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:  # EMFILE and friends: wait for descriptors to free
                    log.error("operator.accept_failed", error=exc.strerror)
                    await anyio.sleep(0.1)
                    continue
                self._accepted += 1
                tg.start_soon(self._serve_connection, stream, self._accepted)

    # --- socket file -----------------------------------------------------------------------

    async def _clear_stale_socket(self) -> None:
        path = self.path
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            raise OperatorError(
                f"socket path too long ({len(os.fsencode(path))} bytes, "
                f"at most {_MAX_SOCKET_PATH}): {path}"
            )
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise OperatorError(f"{path} exists and is not a socket: remove it or move the socket")
        live = True
        with anyio.move_on_after(_LIVENESS_TIMEOUT):
            try:
                probe = await connect_unix(path)
            except (ConnectionRefusedError, FileNotFoundError):
                live = False
            except OSError as exc:
                raise OperatorError(f"cannot check socket {path}: {exc.strerror}") from None
            else:
                probe.close()
        if live:
            raise OperatorError(f"another esd daemon is already listening on {path}")
        log.info("operator.stale_socket_removed", path=str(path))
        os.unlink(path)

    def _listen(self) -> UnixListener:
        try:
            listener = UnixListener.bind(self.path, mode=self._mode)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.ENOENT:
                reason = f"directory {self.path.parent} does not exist"
            raise OperatorError(f"cannot listen on {self.path}: {reason}") from None
        info = os.lstat(self.path)
        self._bound = (info.st_dev, info.st_ino)
        return listener

    def _remove_socket(self) -> None:
        # Only our own socket: a daemon started since may have bound a new one at this path.
        if self._bound is None:
            return
        try:
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self._bound:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        self._bound = None

    # --- connections -----------------------------------------------------------------------

    def _too_many_message(self) -> str:
        return f"too many operator connections (limit {self._max_connections}); try again later"

    async def _serve_connection(self, stream: SocketChannel, number: int) -> None:
        """Serve one connection. Whatever goes wrong in it ends this connection only: an
        exception that escaped would cancel the accept loop's task group, and the daemon."""
        try:
            with stream:
                await self._admit(stream, number)
        except Exception:
            log.exception("operator.connection_crashed", connection=number)

    async def _admit(self, stream: SocketChannel, number: int) -> None:
        reserved = False
        if self._active >= self._max_connections:
            holder = self._reserved
            if holder is not None and holder[0].running:
                log.warning("operator.too_many_connections", limit=self._max_connections)
                conn = _Connection(stream, number, self._redact, self._max_line, self._send_timeout)
                answer = error_answer(None, "OperatorError", self._too_many_message())
                await conn.send_final(answer, None)
                return
            if holder is not None:
                # The newest connection wins a reserved slot whose holder is idle: a client
                # parked there cannot keep an operator's `status` out, however many of them
                # keep connecting (one that is being answered is never evicted).
                log.warning("operator.reserved_connection_evicted", connection=holder[0].number)
                holder[1].cancel()
            reserved = True
            log.warning(
                "operator.reserved_connection", connection=number, limit=self._max_connections
            )
        conn = _Connection(
            stream, number, self._redact, self._max_line, self._send_timeout, reserved=reserved
        )
        scope = anyio.CancelScope()
        if reserved:
            self._reserved = (conn, scope)
        else:
            self._active += 1
        try:
            with scope:
                await self._converse(conn)
        finally:
            if not reserved:
                self._active -= 1
            elif self._reserved is not None and self._reserved[0] is conn:
                self._reserved = None

    async def _converse(self, conn: _Connection) -> None:
        decoder = LineDecoder(self._max_line)
        idle_timeout = self._idle_timeout
        if conn.reserved:
            idle_timeout = min(idle_timeout, _RESERVED_IDLE_TIMEOUT)
        # A deadline for the next complete request line, not a timeout per receive: a client
        # trickling bytes that never end a line must not hold its slot forever.
        deadline = anyio.current_time() + idle_timeout
        while conn.alive:
            data: bytes | None = None
            with anyio.move_on_after(deadline - anyio.current_time()):
                try:
                    data = await conn.stream.receive(_RECEIVE_CHUNK)
                except OSError:
                    return
            if data == b"":
                # The client half-closed: answer a last line that had no newline, then stop.
                for line in decoder.finish():
                    if not await self._answer(conn, line):
                        return
                return
            if data is None:
                log.info("operator.client_idle", connection=conn.number, seconds=idle_timeout)
                return
            requests_before = conn.requests
            for line in decoder.feed(data):
                if not await self._answer(conn, line):
                    return
            if conn.requests != requests_before:
                deadline = anyio.current_time() + idle_timeout

    async def _answer(self, conn: _Connection, line: DecodedLine | LineError) -> bool:
        """Answer one line; False when the connection must close."""
        if isinstance(line, LineError):
            answer = error_answer(None, OperatorProtocolError.__name__, line.message)
            await conn.send_final(answer, None)
            return not line.fatal
        try:
            request = parse_request(line.value, line.line_no)
        except OperatorProtocolError as exc:
            request_id = request_id_of(line.value)
            answer = error_answer(request_id, OperatorProtocolError.__name__, str(exc))
            await conn.send_final(answer, request_id)
            return True
        await self._run(conn, dataclasses.replace(request, peer_uid=conn.peer_uid))
        return conn.alive

    async def _run(self, conn: _Connection, request: Request) -> None:
        conn.requests += 1
        if conn.reserved and request.cmd not in RESERVED_COMMANDS:
            message = (
                f"too many operator connections (limit {self._max_connections}): this one is "
                f"kept for {' and '.join(sorted(RESERVED_COMMANDS, reverse=True))} only; "
                "try again later"
            )
            await conn.send_final(error_answer(request.id, "OperatorError", message), request.id)
            return

        async def progress(update: Mapping[str, Any]) -> None:
            # Encoding errors are the handler's bug: they surface in the handler.
            line = conn.encode(progress_answer(request.id, update))
            await conn.send_line(line)

        log.debug("operator.request", connection=conn.number, id=request.id, cmd=request.cmd)
        conn.running = True
        try:
            result = await self._handler(request, progress)
            answer = result_answer(request.id, result)
        except EsdError as exc:
            log.info("operator.request_failed", cmd=request.cmd, error=type(exc).__name__)
            answer = error_answer(request.id, type(exc).__name__, str(exc))
        except Exception:
            log.exception("operator.handler_crashed", cmd=request.cmd, id=request.id)
            answer = error_answer(request.id, "InternalError", INTERNAL_ERROR_MESSAGE)
        try:
            await conn.send_final(answer, request.id)
        finally:
            conn.running = False

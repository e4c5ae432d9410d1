"""The operator socket client: what the `esd` CLI talks to the daemon through.

`OperatorClient` is an async context manager holding one connection; `call` sends one request
and returns its result, passing progress lines to `on_progress` as they arrive. An error answer
is raised as the daemon.errors class it names. `call_sync` wraps one call for the CLI.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Self, TypeAlias

import anyio
import anyio.lowlevel

from daemon import errors
from daemon.closing import AsyncClosing
from daemon.errors import DaemonNotRunning, EsdError, OperatorError, OperatorProtocolError
from daemon.operator.protocol import (
    MAX_LINE_BYTES,
    DecodedLine,
    ErrorAnswer,
    LineDecoder,
    LineError,
    ProgressAnswer,
    ResultAnswer,
    encode_request,
    parse_answer,
)
from daemon.operator.transport import SocketChannel, connect_unix

__all__ = ["OnProgress", "OperatorClient", "call_sync", "error_from_answer"]

OnProgress: TypeAlias = Callable[[dict[str, Any]], Awaitable[None] | None]

_RECEIVE_CHUNK = 65536


def error_from_answer(error_type: str, message: str) -> EsdError:
    """The daemon.errors exception an error answer names; OperatorError for any other name
    (such as InternalError)."""
    cls = getattr(errors, error_type, None) if error_type in errors.__all__ else None
    if not (isinstance(cls, type) and issubclass(cls, EsdError)):
        return OperatorError(message)
    try:
        return cls(message)
    except TypeError:
        # A class with a richer constructor (TransitionNotAllowed): keep the daemon's text.
        exc = cls.__new__(cls)
        EsdError.__init__(exc, message)
        return exc


def _not_running(path: Path, exc: OSError) -> DaemonNotRunning:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return DaemonNotRunning(f"daemon not running: no socket at {path}")
    if isinstance(exc, ConnectionRefusedError):
        return DaemonNotRunning(
            f"daemon not running: nothing listens on {path} (stale socket file)"
        )
    if isinstance(exc, PermissionError):
        return DaemonNotRunning(f"permission denied on {path}: join the esd group")
    return DaemonNotRunning(f"cannot connect to {path}: {exc.strerror or exc}")


class OperatorClient(AsyncClosing):
    """One connection to the daemon's operator socket.

    `timeout` bounds the connect and each wait for the next answer line, so a command that keeps
    streaming progress may run longer than `timeout` in total.
    """

    def __init__(
        self, path: Path, *, timeout: float = 30.0, max_line: int = MAX_LINE_BYTES
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._stream: SocketChannel | None = None
        self._decoder = LineDecoder(max_line)
        self._lines: deque[DecodedLine | LineError] = deque()
        self._next_id = 0

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def connect(self) -> None:
        """Connect; raise DaemonNotRunning naming the path and why when nobody answers."""
        try:
            with anyio.fail_after(self.timeout):
                self._stream = await connect_unix(self.path)
        except TimeoutError:
            raise OperatorError(
                f"the daemon on {self.path} did not accept a connection within {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise _not_running(self.path, exc) from None

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        await anyio.lowlevel.checkpoint()

    async def call(
        self,
        cmd: str,
        args: Mapping[str, Any] | None = None,
        *,
        on_progress: OnProgress | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its result; raise the error class the daemon names."""
        stream = self._require_stream()
        self._next_id += 1
        request_id = self._next_id
        try:
            with anyio.fail_after(self.timeout):
                await stream.send(encode_request(request_id, cmd, args))
        except TimeoutError:
            await self._broken()
            raise OperatorError(f"the daemon on {self.path} does not read requests") from None
        except OSError:
            await self._broken()
            raise OperatorError(f"connection to the daemon on {self.path} lost") from None
        while True:
            answer = await self._next_answer()
            if answer.id != request_id and not (
                answer.id is None and isinstance(answer, ErrorAnswer)
            ):
                await self._broken()
                raise OperatorProtocolError(
                    f"answer for id {answer.id!r} while waiting for id {request_id}"
                )
            if isinstance(answer, ProgressAnswer):
                if on_progress is not None:
                    outcome = on_progress(answer.progress)
                    if inspect.isawaitable(outcome):
                        await outcome
                continue
            if isinstance(answer, ResultAnswer):
                return answer.result
            raise error_from_answer(answer.type, answer.message)

    def _require_stream(self) -> SocketChannel:
        if self._stream is None:
            raise OperatorError(f"not connected to the daemon on {self.path}")
        return self._stream

    async def _broken(self) -> None:
        # After a timeout or a garbled answer the stream position is unknown: never reuse it.
        await self.aclose()

    async def _next_answer(self) -> ProgressAnswer | ResultAnswer | ErrorAnswer:
        while not self._lines:
            stream = self._require_stream()
            try:
                with anyio.fail_after(self.timeout):
                    data = await stream.receive(_RECEIVE_CHUNK)
            except TimeoutError:
                await self._broken()
                raise OperatorError(
                    f"no answer from the daemon on {self.path} within {self.timeout:g} s"
                ) from None
            except OSError:
                data = b""
            if not data:
                await self._broken()
                raise OperatorError(
                    f"the daemon on {self.path} closed the connection before answering"
                )
            self._lines.extend(self._decoder.feed(data))
        line = self._lines.popleft()
        try:
            if isinstance(line, LineError):
                raise OperatorProtocolError(f"bad answer from the daemon: {line.message}")
            return parse_answer(line.value)
        except OperatorProtocolError:
            await self._broken()
            raise


def call_sync(
    path: Path,
    cmd: str,
    args: Mapping[str, Any] | None = None,
    *,
    on_progress: OnProgress | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Connect, make one call, close: for code that has no event loop (the CLI)."""

    async def call_once() -> dict[str, Any]:
        async with OperatorClient(path, timeout=timeout) as client:
            return await client.call(cmd, args, on_progress=on_progress)

    return anyio.run(call_once)

"""Bytes over unix stream sockets for the operator server and client: listen, accept, connect.

Why not anyio's UNIXSocketStream and UNIXSocketListener: on the asyncio backend (anyio 4.16)
they wake the waiting task by calling `future.set_result` straight from the selector callback,
so a cancellation (a timeout, the daemon stopping) delivered in the same loop iteration as the
socket becoming ready makes the loop report `InvalidStateError` ("Exception in callback
Future.set_result(None)"; agronholm/anyio#1267 fixed the aclose side of it only).
`anyio.wait_readable` and `anyio.wait_writable` guard against exactly that, so these few lines
drive a non-blocking socket with them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from pathlib import Path
from typing import Self

import anyio
import anyio.lowlevel

from daemon.closing import Closing

__all__ = ["SocketChannel", "UnixListener", "connect_unix"]

# A connect() that finds the listen backlog full answers EAGAIN; poll() on a socket that is not
# connected yet says "writable" at once, so waiting for writability would spin: retry instead.
_CONNECT_RETRY_SECONDS = 0.01


class SocketChannel(Closing):
    """One connected unix stream socket: receive, send, half-close, close."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock

    def peer_uid(self) -> int | None:
        """The uid of the process at the other end (SO_PEERCRED, as the kernel saw it at
        connect), None where the platform cannot tell."""
        if not hasattr(socket, "SO_PEERCRED"):
            return None
        try:
            creds = self._sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
        except OSError:
            return None
        _pid, uid, _gid = struct.unpack("3i", creds)
        return int(uid)

    @property
    def closed(self) -> bool:
        """True once close() ran."""
        return self._sock.fileno() < 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """The next bytes; b"" at end of stream. Raises OSError (e.g. reset by peer)."""
        await anyio.lowlevel.checkpoint()
        while True:
            try:
                return self._sock.recv(max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._sock)

    async def send(self, data: bytes) -> None:
        """Send all of `data`. Raises OSError (BrokenPipeError when the peer is gone)."""
        await anyio.lowlevel.checkpoint()
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                await anyio.wait_writable(self._sock)
                continue
            view = view[sent:]

    def send_eof(self) -> None:
        """Tell the peer nothing more will be sent (it still may answer)."""
        self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._sock.close()


#: accept errors that mean "no descriptor to give the connection"
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})


class UnixListener(Closing):
    """A listening unix stream socket bound to a path.

    It keeps one descriptor in reserve (/dev/null, opened at start): when an accept fails for
    want of descriptors (EMFILE, ENFILE), the reserve is closed and the accept tried again at
    once, so the operator gets in even while a flood of webhook connections takes every
    descriptor the moment one comes free (the webhook listener accepts whole bursts, and won
    every race against a retry here). The reserve is taken again when it can be.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._reserve: int | None = None
        self._take_reserve()

    def _take_reserve(self) -> None:
        if self._reserve is None:
            with contextlib.suppress(OSError):
                self._reserve = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def _give_up_reserve(self) -> bool:
        if self._reserve is None:
            return False
        os.close(self._reserve)
        self._reserve = None
        return True

    @classmethod
    def bind(cls, path: Path, *, mode: int, backlog: int = 128) -> Self:
        """Bind `path` (which must not exist), chmod it to `mode`, listen. Raises OSError."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(path))
            os.chmod(path, mode)
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def accept(self) -> SocketChannel:
        """The next connection. Raises OSError (e.g. EMFILE when out of descriptors)."""
        await anyio.lowlevel.checkpoint()
        self._take_reserve()
        while True:
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                await anyio.wait_readable(self._sock)
                self._take_reserve()
                continue
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS and self._give_up_reserve():
                    continue  # the reserve's descriptor is this connection's now
                raise
            return SocketChannel(conn)

    def close(self) -> None:
        """Stop listening (idempotent); the socket file stays for the caller to remove."""
        self._sock.close()
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None


async def connect_unix(path: Path) -> SocketChannel:
    """Connect to the unix socket at `path`. Raises OSError: FileNotFoundError,
    ConnectionRefusedError (nobody listens), PermissionError, ..."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        while True:
            try:
                sock.connect(os.fspath(path))
            except BlockingIOError:
                await anyio.sleep(_CONNECT_RETRY_SECONDS)
                continue
            return SocketChannel(sock)
    except BaseException:
        sock.close()
        raise

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


class UnixListener(Closing):
    """A listening unix stream socket bound to a path."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock

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
        while True:
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                await anyio.wait_readable(self._sock)
                continue
            return SocketChannel(conn)

    def close(self) -> None:
        """Stop listening (idempotent); the socket file stays for the caller to remove."""
        self._sock.close()


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

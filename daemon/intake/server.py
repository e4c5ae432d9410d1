"""Serving an ASGI app with uvicorn inside the daemon's task group.

uvicorn is a well-kept HTTP/1.1 server (h11), so no HTTP parsing of ours faces the network.
We bind the socket ourselves (before READY=1, so a bind error stops the start), with
IPPROTO_TCP so asyncio sets TCP_NODELAY (without it each answer on a kept-alive connection
waited ~40 ms for Nagle), and we keep uvicorn's hands off signals and logging: SIGTERM belongs
to the daemon's drain, and uvicorn's logs go through our JSON, redacting handler.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import anyio
import uvicorn

__all__ = ["bind_tcp", "serve_asgi"]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon owns SIGTERM/SIGINT


def bind_tcp(address: str, port: int, *, backlog: int = 512) -> socket.socket:
    """A listening TCP socket (port 0: the kernel picks one)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve_asgi(app: Any, sock: socket.socket, *, drain_seconds: float = 5.0) -> None:
    """Serve `app` on the bound `sock` until cancelled, then shut down gracefully."""
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http="h11",
        timeout_graceful_shutdown=int(max(1, drain_seconds)),
        timeout_keep_alive=30,
    )
    server = _QuietServer(config)
    try:
        await server.serve(sockets=[sock])
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(drain_seconds):
            if server.started:
                await server.shutdown(sockets=[sock])
        sock.close()

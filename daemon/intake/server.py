"""Serving an ASGI app with uvicorn inside the daemon's task group.

uvicorn is a well-kept HTTP/1.1 server (h11), so no HTTP parsing of ours faces the network.
We bind the socket ourselves (before READY=1, so a bind error stops the start), with
IPPROTO_TCP so asyncio sets TCP_NODELAY (without it each answer on a kept-alive connection
waited ~40 ms for Nagle), and we keep uvicorn's hands off signals and logging: SIGTERM belongs
to the daemon's drain, and uvicorn's logs go through our JSON, redacting handler. Connections
are guarded (a cap, idle and header timeouts, rate-limited accept errors): daemon/intake/
connections.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import anyio
import uvicorn

from daemon.intake.connections import AcceptFailureLog, ConnectionCounters, guarded_protocol
from daemon.intake.limits import ACCEPT_BURST, ListenerLimits

__all__ = ["bind_tcp", "serve_asgi"]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon owns SIGTERM/SIGINT


def bind_tcp(address: str, port: int, *, backlog: int = ACCEPT_BURST) -> socket.socket:
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


async def serve_asgi(
    app: Any,
    sock: socket.socket,
    *,
    drain_seconds: float = 5.0,
    limits: ListenerLimits | None = None,
    counters: ConnectionCounters | None = None,
) -> None:
    """Serve `app` on the bound `sock` until cancelled, then shut down gracefully."""
    limits = limits or ListenerLimits()
    counters = counters or ConnectionCounters()
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=guarded_protocol(limits, counters),
        timeout_graceful_shutdown=int(max(1, drain_seconds)),
        # The protocol sets its own (fractional) keep-alive timeout; this is uvicorn's copy.
        timeout_keep_alive=max(1, int(limits.idle_timeout_seconds)),
        # uvicorn would listen() again with its 2048: keep the queue, and so the accept
        # burst the descriptor budget counts on (limits.ACCEPT_BURST), ours.
        backlog=limits.backlog,
    )
    server = _QuietServer(config)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    quiet_accepts = AcceptFailureLog(counters, previous)
    loop.set_exception_handler(quiet_accepts)
    try:
        await server.serve(sockets=[sock])
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(drain_seconds):
            if server.started:
                await server.shutdown(sockets=[sock])
        sock.close()
        if loop.get_exception_handler() is quiet_accepts:
            loop.set_exception_handler(previous)

"""A sandbox's life: uvicorn in a daemon thread on a loopback socket (with connections the app
can cut), `LoopbackSandbox` (start, stop, url, a context manager), and the command line that
serves one until a signal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr

from daemon.testing.asgi import ARRIVED, StreamLog, StreamReport, Transports

__all__ = [
    "LoopbackSandbox",
    "ThreadedServer",
    "cuttable_protocol",
    "sandbox_arguments",
    "serve_until_signalled",
]


def cuttable_protocol(transports: Transports) -> type[H11Protocol]:
    """uvicorn's h11 protocol, remembering each connection's transport (by scope["client"])
    in `transports`, so the app can abort it: a real reset, not a 500; and stamping each
    request's arrival in its scope (`ARRIVED`)."""

    class _CuttableH11Protocol(H11Protocol):
        _peer: tuple[str, int] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # the same function uvicorn uses to fill scope["client"]
            self._peer = get_remote_addr(transport)
            if self._peer is not None:
                transports[self._peer] = transport

        def data_received(self, data: bytes) -> None:
            # A request arrives when its bytes are read, not when uvicorn has parsed them and
            # called the app: a sandbox's latency counts from here, its own HTTP parsing
            # inside it, as a remote server's is (uvicorn's h11 parsing is pure Python).
            before, now = self.scope, self.loop.time()
            super().data_received(data)
            if self.scope is not before:  # a request's head was read: its scope is new
                self.scope[ARRIVED] = now  # type: ignore[literal-required]

        def connection_lost(self, exc: Exception | None) -> None:
            if self._peer is not None and transports.get(self._peer) is self.transport:
                del transports[self._peer]
            super().connection_lost(exc)

    return _CuttableH11Protocol


class ThreadedServer:
    """An ASGI app served by uvicorn from a daemon thread on a loopback socket."""

    def __init__(self, app: Any, transports: Transports, *, host: str, port: int, name: str):
        self._app = app
        self._transports = transports
        self._host = host
        self._port = port
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url: str | None = None

    def start(self, timeout: float = 10.0) -> str:
        """Bind, serve, and return the base URL once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every kept-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            http=cuttable_protocol(self._transports),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # scope["client"] must stay the real peer
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self._name} did not start on port {port}")
            time.sleep(0.005)
        host = f"[{self._host}]" if family == socket.AF_INET6 else self._host
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        """Stop serving; cut open connections; wait for the thread."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        self.url = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(10)
            if thread.is_alive():  # pragma: no cover - a stuck request
                server.force_exit = True
                thread.join(10)
        if sock is not None:
            sock.close()


class LoopbackSandbox:
    """The life of a sandbox: `start`, `stop`, `url`, and use as a context manager.

    A subclass sets `self._http` (a `ThreadedServer`) and `self._streams` (its app's
    `StreamLog`) in its constructor and names itself in `label` for error messages.
    """

    label = "sandbox"
    _http: ThreadedServer
    _streams: StreamLog

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (once started)."""
        if self._http.url is None:
            raise RuntimeError(f"the {self.label} is not started")
        return self._http.url

    def start(self, timeout: float = 10.0) -> None:
        """Bind, serve from a daemon thread, and return once connections are accepted."""
        self._http.start(timeout)

    def stop(self) -> None:
        """Stop serving; cut open connections; wait for the thread."""
        self._http.stop()

    def streamed(self) -> list[StreamReport]:
        """What the "drip" and "huge" faults sent, oldest first (kept until `reset`)."""
        return self._streams.reports()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sandbox_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """A sandbox's command line, with the options they all have: --host and --port."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser


def serve_until_signalled(sandbox: LoopbackSandbox) -> None:
    """Serve `sandbox` until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server thread starts, so it inherits the mask and only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    sandbox.start()
    try:
        print(json.dumps({"url": sandbox.url}), flush=True)
        signal.sigwait(stop_signals)
    finally:
        sandbox.stop()

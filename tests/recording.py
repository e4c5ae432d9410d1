"""Recording a sandbox's HTTP exchanges, for the recorded fixtures of tests/providers/<name>/
fixtures/ (each folder's `record.py` picks and writes the ones it keeps).

`record_exchanges(sandbox)` serves a not-yet-started `LoopbackSandbox` through an ASGI wrapper
that keeps each request's and answer's bytes as they went over the wire.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon.testing.asgi import Message, Receive, Scope, Send
from daemon.testing.loopback_http import LoopbackSandbox, ThreadedServer

__all__ = ["Exchange", "record_exchanges", "write_fixtures"]


@dataclasses.dataclass
class Exchange:
    """One HTTP request and its answer."""

    method: str
    path: str
    query: str
    request: bytes = b""
    status: int = 0
    response: bytes = b""


class _Recording:
    """An ASGI app around another, keeping every request and its answer."""

    def __init__(self, inner: Any, exchanges: list[Exchange]) -> None:
        self._inner = inner
        self._exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        exchange = Exchange(scope["method"], scope["path"], scope["query_string"].decode())

        async def recording_receive() -> Message:
            message = await receive()
            exchange.request += message.get("body", b"")
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await self._inner(scope, recording_receive, recording_send)
        self._exchanges.append(exchange)


def record_exchanges(sandbox: LoopbackSandbox) -> list[Exchange]:
    """Serve `sandbox` (not started yet) through a recorder; the list fills as calls come.

    A `LoopbackSandbox` subclass keeps its ASGI app as `_app` and serves it with `_http` (see
    daemon.testing.loopback_http); the recorder takes the server's place, on the same app."""
    app = getattr(sandbox, "_app")  # noqa: B009 - every sandbox of this repository has one
    exchanges: list[Exchange] = []
    sandbox._http = ThreadedServer(
        _Recording(app, exchanges),
        app.transports,
        host="127.0.0.1",
        port=0,
        name=f"{sandbox.label} (recorded)",
    )
    return exchanges


def write_fixtures(
    folder: Path, picked: Mapping[str, Exchange], calls: Sequence[str], extension: str
) -> None:
    """Write each picked exchange into `folder` as `<name>.request.<extension>` (where the
    request had a body) and `<name>.response.<extension>`, and `calls.json`: every call, as
    `calls` names them, and the HTTP status of each picked one."""
    for name, exchange in picked.items():
        if exchange.request:
            (folder / f"{name}.request.{extension}").write_bytes(exchange.request)
        (folder / f"{name}.response.{extension}").write_bytes(exchange.response)
    statuses = {name: exchange.status for name, exchange in picked.items()}
    text = json.dumps({"calls": list(calls), "statuses": statuses}, indent=1) + "\n"
    (folder / "calls.json").write_text(text, encoding="utf-8")

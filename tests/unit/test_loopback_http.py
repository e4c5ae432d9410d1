"""The sandboxes' HTTP server: each request's arrival is stamped when its bytes are read."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from daemon.testing.asgi import ARRIVED, Receive, Scope, Send, read_body, respond
from daemon.testing.loopback_http import ThreadedServer


class _Stamps:
    """An ASGI app that answers 200 and keeps, per request, its ARRIVED stamp and the
    loop's time when the app was called."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.seen.append((scope.get(ARRIVED), asyncio.get_running_loop().time()))
        await read_body(receive, 1 << 20)
        await respond(send, 200, b"{}", b"application/json", [])


def test_each_request_is_stamped_on_arrival_before_the_app_is_called() -> None:
    app = _Stamps()
    server = ThreadedServer(app, {}, host="127.0.0.1", port=0, name="stamps")
    url = server.start()
    try:
        with httpx.Client(base_url=url) as client:  # one kept-alive connection: 3 requests
            for body in (b"", b"x" * 100_000, b"{}"):
                assert client.post("/", content=body).status_code == 200
    finally:
        server.stop()
    assert len(app.seen) == 3
    for arrived, called in app.seen:
        assert isinstance(arrived, float), "the protocol stamps every request's scope"
        assert arrived <= called
    stamps = [arrived for arrived, _ in app.seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3, "a new stamp per request"

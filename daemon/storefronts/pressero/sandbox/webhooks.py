"""Webhook delivery: each storefront change's envelope, posted from a delivery thread so an
in-process daemon is never blocked, its outcome recorded.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable
from typing import Any

import httpx

from daemon.storefronts.pressero.sandbox.data import WEBHOOK_TIMEOUT

__all__ = ["Deliverer", "Outgoing"]


@dataclasses.dataclass(slots=True)
class Outgoing:
    url: str
    body: bytes
    headers: dict[str, str]
    record: dict[str, Any]  # the entry in the webhook log; filled in under the store's lock


class Deliverer:
    """Posts queued webhooks in order from one thread, so no caller's event loop is blocked."""

    def __init__(self, done: Callable[[Outgoing, int | None, str], None]) -> None:
        self._done = done
        self._queue: queue.Queue[Outgoing | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pressero-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(WEBHOOK_TIMEOUT + 5)

    def submit(self, outgoing: Outgoing) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(outgoing)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=WEBHOOK_TIMEOUT) as http:
            while (outgoing := self._queue.get()) is not None:
                status, error = _post(http, outgoing)
                self._done(outgoing, status, error)
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


def _post(http: httpx.Client, outgoing: Outgoing) -> tuple[int | None, str]:
    try:
        response = http.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, ""

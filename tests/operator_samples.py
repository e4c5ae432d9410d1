"""Parts of sample operator answers shared by the CLI test (a toy daemon answers them) and the
render test (they are rendered): the same history of one pushed item of order 1001."""

from __future__ import annotations

from typing import Any

__all__ = ["ORDER_EVENTS", "ORDER_TRACE"]

#: the "trace" of an `order` answer: item 1 pushed by event 17
ORDER_TRACE: list[dict[str, Any]] = [
    {
        "at": "2025-05-01T08:05:00+00:00",
        "seq": 1,
        "account": "pace-main",
        "from": "ready",
        "to": "pushed",
        "trigger": "push_ok",
        "event_id": 17,
        "reason": None,
    }
]

#: the "events" of an `order` answer: the snapshot that was event 17
ORDER_EVENTS: list[dict[str, Any]] = [
    {
        "id": 17,
        "source": "pressero",
        "kind": "order.snapshot",
        "status": "done",
        "received_at": "2025-05-01T08:00:00+00:00",
    }
]

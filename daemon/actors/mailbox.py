"""An actor's mailbox: an unbounded queue of messages, read by the actor's loop.

Posting never blocks (a caller on the engine's path must not wait on an actor); the loop reads
with `async for` until the mailbox is closed, and a restarted loop goes on with what is queued.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

import anyio

__all__ = ["Mailbox"]

_Message = TypeVar("_Message")


class Mailbox(Generic[_Message]):
    """Messages for one actor, oldest first."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[_Message](math.inf)

    def tell(self, message: _Message) -> None:
        """Post a message; never blocks."""
        self._send.send_nowait(message)

    @property
    def queued(self) -> int:
        """How many messages wait."""
        return self._receive.statistics().current_buffer_used

    def close(self) -> None:
        """Close both ends: the loop's `async for` ends, a later `tell` raises."""
        self._send.close()
        self._receive.close()

    def __aiter__(self) -> AsyncIterator[_Message]:
        return self._receive

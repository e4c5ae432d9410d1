"""`Store`: the Pressero sandbox's data with its thread-safe entry points (the lock taken)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.data import OrderOptions
from daemon.storefronts.pressero.sandbox.handlers import ApiHandlers
from daemon.storefronts.pressero.sandbox.webhooks import Outgoing

__all__ = ["Store"]


class Store(ApiHandlers):
    """Sites, workflows, orders, shipments, tokens, faults, webhooks and call counts.

    Public methods take the lock; `_`-methods expect it held.
    """

    # -- public, thread-safe --------------------------------------------------------------------

    def token_valid(self, authorization: str | None) -> bool:
        if authorization is None:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.casefold() != g.AUTH_SCHEME.casefold() or not token:
            return False
        with self._lock:
            issued = self.tokens.get(token.strip())
            ttl = self.faults["token_ttl_seconds"]
            return issued is not None and (not ttl or self._clock() - issued < ttl)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def lose_next_webhooks(self, count: int) -> None:
        with self._lock:
            self.lose_next += count

    def place_order(
        self, items: Sequence[Mapping[str, Any]], **options: Unpack[OrderOptions]
    ) -> tuple[int, Outgoing | None]:
        with self._lock:
            number = self._place_order(items, **options)
            emit = options.get("emit", True)
            outgoing = self._emit("OrderPlaced", number, None) if emit else None
        return number, outgoing

    def change(self, action: str, order_number: int, item_seq: int | None) -> Outgoing | None:
        """Apply a storefront change and make its webhook (None when lost or no target)."""
        with self._lock:
            type_name = self._change(action, order_number, item_seq)
            return self._emit(type_name, order_number, item_seq)

    def webhook(
        self,
        type_name: str,
        site_id: str,
        order_number: int,
        item_seq: int | None,
        security_key: str | None,
        url: str,
    ) -> Outgoing:
        with self._lock:
            return self._outgoing(type_name, site_id, order_number, item_seq, security_key, url)

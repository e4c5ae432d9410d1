"""The Pressero storefront as the spine's storefront actor sees it: read orders, list recent ones.

Only I/O lives here; mapping the raw answers to esd's model happens in the handler of the
`storefront.order` event (daemon.engine.storefront_handlers), so a malformed answer is kept
in the inbox, raw, and can be replayed after a fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.config import Site, Storefront
from daemon.errors import BusinessRuleError
from daemon.storefronts.pressero.client import PresseroClient

__all__ = ["PresseroStorefront", "note_marker"]


def note_marker(generation: int) -> str:
    """The tag that makes one note request findable in the item's history."""
    return f"[esd {generation}]"


class PresseroStorefront:
    """One Pressero subscriber's admin API, for the sites configured under it."""

    provider = "pressero"

    def __init__(self, storefront: Storefront, sites: Sequence[Site]) -> None:
        credentials = storefront.credentials
        self.client = PresseroClient(
            storefront.url,
            credentials.get("username", ""),
            credentials.get("password", ""),
            credentials.get("subscriber_id", ""),
            credentials.get("consumer_id", ""),
            timeout=storefront.timeout_seconds,
            call_deadline_seconds=storefront.call_deadline_seconds,
            max_answer_bytes=storefront.max_answer_bytes,
        )
        # The search answers name a site by its id or domain; configs name it by key.
        self._site_keys: dict[str, str] = {}
        for site in sites:
            self._site_keys[site.site_id.lower()] = site.key
            self._site_keys[site.key.lower()] = site.key

    async def read_order(self, order_number: str) -> dict[str, Any]:
        """The raw order details and items answers, and the buyer's user and address book."""
        details = await self.client.order_details(order_number)
        items = await self.client.order_items(order_number)
        return {"details": details, "items": items, **await self.client.buyer(details, items)}

    async def recent_orders(self, start: dt.datetime, end: dt.datetime) -> Mapping[str, list[str]]:
        """Order numbers placed in [start, end], per configured site key."""
        found: dict[str, list[str]] = {}
        for row in await self.client.orders_between(start, end):
            key = self._site_keys.get(row.site_id.lower()) or self._site_keys.get(
                row.domain.lower()
            )
            if key is not None:
                found.setdefault(key, []).append(str(row.order_number))
        return found

    async def write(self, data: Mapping[str, Any]) -> str:
        """Do one write-back (`op`: mis_id, status or shipment); say what was done.

        Setting the MIS id or the stage is idempotent. A shipment is added only for tracking
        numbers the item does not have yet, and a note (`note`: failed or pushed again) only if
        the item's status history lacks its marker, so a retried write never doubles one.
        """
        order, seq, op = str(data["order"]), int(data["seq"]), str(data["op"])
        if op == "mis_id":
            await self.client.set_item_mis_id(order, seq, str(data["mis_id"]))
            return f"MisId {data['mis_id']}"
        if op == "status":
            notes = f"MIS status: {data.get('mis_status')}"
            stage = await self.client.set_item_status(order, seq, str(data["stage"]), notes=notes)
            return f"stage {stage.name}"
        if op == "shipment":
            have = {s.tracking for s in await self.client.item_shipments(order, seq)}
            added = [t for t in data.get("tracking", []) if t and t not in have]
            for tracking in added:
                await self.client.add_shipment(order, [seq], tracking=tracking)
            return f"shipments added: {', '.join(added) or 'none (already there)'}"
        if op == "note":
            # The lease's generation is one request: a retry after a lost answer finds it.
            marker = note_marker(int(data["generation"]))
            if marker in await self.client.item_status_history(order, seq):
                return "note already there"
            await self.client.add_item_note(order, seq, f"{data['text']} {marker}")
            return f"note: {data.get('kind')}"
        raise BusinessRuleError(f"unknown write-back {op!r}")

    async def aclose(self) -> None:
        await self.client.aclose()

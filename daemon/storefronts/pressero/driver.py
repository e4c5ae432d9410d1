"""The Pressero storefront behind the storefront contract (daemon.storefronts.contract).

`PresseroStorefront` does only I/O, through `PresseroClient`: mapping the raw answers to esd's
model happens in the handler of the `storefront.order` event (through `STOREFRONT.
order_from_answer`), so a malformed answer is kept in the inbox, raw, and can be replayed
after a fix. `STOREFRONT` is the plug-in's spec, the one name the registry loads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.config import Site, Storefront
from daemon.orders.model import Order
from daemon.storefronts.contract import StorefrontDriver, StorefrontSpec
from daemon.storefronts.pressero import settings, webhook
from daemon.storefronts.pressero.client import PresseroClient
from daemon.storefronts.pressero.mapping import KNOWN_TYPES, order_from_api

__all__ = ["STOREFRONT", "PresseroStorefront", "note_marker"]


def note_marker(generation: int) -> str:
    """The tag that makes one note request findable in the item's history."""
    return f"[esd {generation}]"


class PresseroStorefront(StorefrontDriver):
    """One Pressero subscriber's admin API, for the sites configured under it.

    Setting the MIS id or the stage is idempotent. A shipment is added only for tracking
    numbers the item does not have yet, and a note only if the item's status history lacks
    its marker, so a retried write never doubles one.
    """

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
            self._site_keys[str(site.settings.get("site_id") or site.key).lower()] = site.key
            self._site_keys[site.key.lower()] = site.key

    async def read_order(self, order_number: str) -> dict[str, Any]:
        """The raw order details and items answers, and the buyer's user and address book."""
        details = await self.client.order_details(order_number)
        items = await self.client.order_items(order_number)
        return {"details": details, "items": items, **await self.client.buyer(details, items)}

    async def list_recent_orders(
        self, start: dt.datetime, end: dt.datetime
    ) -> Mapping[str, list[str]]:
        found: dict[str, list[str]] = {}
        for row in await self.client.orders_between(start, end):
            key = self._site_keys.get(row.site_id.lower()) or self._site_keys.get(
                row.domain.lower()
            )
            if key is not None:
                found.setdefault(key, []).append(str(row.order_number))
        return found

    async def write_mis_id(self, order: str, seq: int, mis_id: str) -> str:
        await self.client.set_item_mis_id(order, seq, mis_id)
        return f"MisId {mis_id}"

    async def write_status(self, order: str, seq: int, stage: str, mis_status: str) -> str:
        notes = f"MIS status: {mis_status}"
        found = await self.client.set_item_status(order, seq, stage, notes=notes)
        return f"stage {found.name}"

    async def add_shipment(self, order: str, seq: int, tracking: Sequence[str]) -> str:
        have = {s.tracking for s in await self.client.item_shipments(order, seq)}
        added = [t for t in tracking if t and t not in have]
        for number in added:
            await self.client.add_shipment(order, [seq], tracking=number)
        return f"shipments added: {', '.join(added) or 'none (already there)'}"

    async def write_note(
        self, order: str, seq: int, text: str, generation: int, kind: str = ""
    ) -> str:
        # The lease's generation is one request: a retry after a lost answer finds it.
        marker = note_marker(generation)
        if marker in await self.client.item_status_history(order, seq):
            return "note already there"
        await self.client.add_item_note(order, seq, f"{text} {marker}")
        return f"note: {kind}"

    async def aclose(self) -> None:
        await self.client.aclose()


def order_from_answer(
    answer: Mapping[str, Any], site: str, site_name: str, files_generated: Sequence[int]
) -> Order:
    """`read_order`'s answer (details, items, the buyer's user and address book) as esd's
    order; an answer stored before esd read the buyer has only the item rows' names."""
    return order_from_api(
        answer.get("details"),
        answer.get("items"),
        site,
        site_name,
        files_generated=list(files_generated),
        user_json=answer.get("user"),
        address_book_json=answer.get("address_book"),
    )


STOREFRONT = StorefrontSpec(
    name=PresseroStorefront.provider,
    driver_class=PresseroStorefront,
    judge=webhook.judge,
    order_from_answer=order_from_answer,
    fetching_types=frozenset(KNOWN_TYPES),
    files_ready_type="OrderItemFilesGenerated",
    site_keys=settings.SITE_KEYS,
    secret_site_keys=settings.SECRET_SITE_KEYS,
    read_site_settings=settings.read_site_settings,
    credential_keys=settings.CREDENTIAL_KEYS,
    credentials_problems=settings.credentials_problems,
    public_credential_keys=settings.PUBLIC_CREDENTIAL_KEYS,
)

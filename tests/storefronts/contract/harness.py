"""What the storefront conformance suite needs from each registered storefront.

Every name in daemon.storefronts.registry.STOREFRONTS must have a harness here (the suite
fails otherwise): a running sandbox of that storefront over real HTTP, the plug-in's own
site keys, a way to sign a webhook as the storefront does, a sample order, one-shot
"the answer is lost after the write is done" faults per write-back, and what the
storefront holds for an item afterwards.
"""

from __future__ import annotations

import dataclasses
from importlib import import_module
from typing import Protocol

__all__ = ["HARNESSES", "ItemState", "StorefrontHarness", "load"]

#: storefront name -> "module:class" of its harness
HARNESSES: dict[str, str] = {
    "pressero": "tests.storefronts.pressero.harness:PresseroHarness",
}


@dataclasses.dataclass(frozen=True)
class ItemState:
    """One storefront item as the storefront holds it (read from its sandbox)."""

    mis_id: str | None
    stage: str | None
    tracking: tuple[str, ...]  # one entry per shipment
    notes: tuple[str, ...]  # one entry per note esd added


class StorefrontHarness(Protocol):
    """One storefront's side of the suite (started by `start`, stopped by `stop`)."""

    #: the registry name
    name: str
    #: a stage `write_status` can move an item to
    stage: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None:
        """Back to the seeded state, no faults."""

    def storefront_toml(self, name: str) -> str:
        """The `[storefronts.<name>]` table (provider, url, credentials) of the sandbox."""

    def site_toml(self) -> str:
        """The plug-in's own keys for a `[sites.X]` table (webhook key, site id, ...)."""

    def signed_webhook(self, order: str, message_id: str) -> tuple[bytes, dict[str, str]]:
        """A delivery saying `order` was placed, signed as the storefront signs it."""

    def unsigned(self, headers: dict[str, str]) -> dict[str, str]:
        """`headers` without the signature."""

    def wrongly_signed(self, order: str, message_id: str) -> tuple[bytes, dict[str, str]]:
        """A delivery signed with the wrong key."""

    def place_order(self) -> str:
        """A sample order (one item, seq 1) placed on the storefront, no webhook sent."""

    def lose_answer_of_next(self, op: str, order: str, seq: int) -> None:
        """The next write-back `op` (mis_id, status, shipment, note) to the item is done by
        the storefront, and its answer lost (the connection cut after the commit)."""

    def item(self, order: str, seq: int) -> ItemState: ...


def load(name: str) -> StorefrontHarness:
    """A new harness for storefront `name`."""
    try:
        module, _, cls = HARNESSES[name].partition(":")
    except KeyError:
        raise LookupError(f"storefront {name!r} has no conformance harness (add it)") from None
    harness: StorefrontHarness = getattr(import_module(module), cls)()
    return harness

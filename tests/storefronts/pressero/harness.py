"""The Pressero side of the storefront conformance suite: its sandbox, signer and a sample order."""

from __future__ import annotations

import json
from typing import Any

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from daemon.storefronts.pressero.signature import expected_hash
from tests.storefronts.contract.harness import ItemState

PASSWORD = "conformance-Pressero-9x"
SITE = DEFAULT_SITES[0]


class PresseroHarness:
    """A Pressero sandbox over real HTTP on loopback."""

    name = "pressero"
    stage = "Prepress"

    def __init__(self) -> None:
        self.sandbox = PresseroSandbox(password=PASSWORD)

    def start(self) -> None:
        self.sandbox.start()

    def stop(self) -> None:
        self.sandbox.stop()

    def reset(self) -> None:
        self.sandbox.reset()

    def storefront_toml(self, name: str) -> str:
        return (
            f'[storefronts.{name}]\nprovider = "pressero"\nurl = "{self.sandbox.url}"\n'
            f"[storefronts.{name}.credentials]\n"
            f'username = "{self.sandbox.username}"\npassword = "{PASSWORD}"\n'
            f'subscriber_id = "{self.sandbox.subscriber_id}"\n'
        )

    def site_toml(self) -> str:
        return f'site_id = "{SITE.site_id}"\nsecurity_key = "{SITE.security_key}"\n'

    def _envelope(self, order: str, message_id: str) -> bytes:
        envelope = {
            g.ENVELOPE_TYPE: g.TYPE_CODES.get("OrderPlaced", 0),
            g.ENVELOPE_TYPE_NAME: "OrderPlaced",
            g.ENVELOPE_TIMESTAMP: "2026-12-01T10:00:00.0000000Z",
            g.ENVELOPE_SUBSCRIBER_ID: self.sandbox.subscriber_id,
            g.ENVELOPE_SITE_ID: SITE.site_id,
            g.ENVELOPE_MESSAGE_ID: message_id,
            g.ENVELOPE_DATA: {g.EVENT_ORDER_NUMBER: int(order), "SiteId": SITE.site_id},
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    def _signed(self, body: bytes, key: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            g.MESSAGE_HASH_HEADER: expected_hash(key, body, g.DEFAULT_HASH_VARIANT),
        }

    def signed_webhook(self, order: str, message_id: str) -> tuple[bytes, dict[str, str]]:
        body = self._envelope(order, message_id)
        return body, self._signed(body, SITE.security_key)

    def unsigned(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k != g.MESSAGE_HASH_HEADER}

    def wrongly_signed(self, order: str, message_id: str) -> tuple[bytes, dict[str, str]]:
        body = self._envelope(order, message_id)
        return body, self._signed(body, SITE.security_key + "-not")

    def place_order(self) -> str:
        return str(self.sandbox.place_order(emit=False))

    def _row(self, order: str, seq: int) -> dict[str, Any]:
        found = next(o for o in self.sandbox.state()["orders"] if o["OrderNumber"] == int(order))
        return dict(next(r for r in found["Items"] if r["OrderItemSeq"] == seq))

    def lose_answer_of_next(self, op: str, order: str, seq: int) -> None:
        route_id = self._row(order, seq)["OrderItemNumber"]
        method, prefix = {
            "mis_id": ("PUT", f"/api/v2/Orders/{order}/Item/{route_id}"),
            "status": ("PUT", f"/api/V2/Orders/{order}/Item/{route_id}/Status/"),
            "note": ("PUT", f"/api/V2/Orders/{order}/Item/{route_id}/Status/"),
            "shipment": ("POST", "/api/V2/Orders/Shipments"),
        }[op]
        fault = {"path_prefix": prefix, "method": method, "kind": "drop_after_commit"}
        self.sandbox.set_faults(fail_next=[fault])

    def item(self, order: str, seq: int) -> ItemState:
        state = self.sandbox.state()
        row = self._row(order, seq)
        mine = [
            h
            for h in state["status_history"]
            if h["OrderNumber"] == int(order) and h["OrderItemSeq"] == seq
        ]
        return ItemState(
            mis_id=row.get(g.MIS_ID_FIELD) or None,
            stage=row.get("WorkflowStagePrinter"),
            tracking=tuple(
                s["ShipTracking"]
                for s in state["shipments"]
                if s["OrderNumber"] == int(order) and s["OrderItemSeq"] == seq
            ),
            notes=tuple(str(h["Notes"]) for h in mine if "[esd " in str(h["Notes"])),
        )

"""The Pressero sandbox's data (`StoreState`): what is kept, its seeding and reset, the state
snapshot, and the helpers every handler shares; the base of `Store`.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.data import FAULT_KINDS, FAULT_KNOBS, SandboxSite
from daemon.storefronts.pressero.sandbox.webhooks import Deliverer, Outgoing
from daemon.storefronts.pressero.sandbox.wire import field, utcnow, wire_datetime
from daemon.storefronts.pressero.signature import HashVariant
from daemon.testing.json_sandbox import JsonStore, Rejected

__all__ = ["StoreState"]


class StoreState(JsonStore):
    """Sites, workflows, orders, shipments, tokens, faults, webhooks and call counts, and the
    helpers every handler shares (the lock held). The first of a chain: `StorefrontChanges`,
    `ApiHandlers`, then `Store`, each seeing what the earlier ones define."""

    error_key = "Message"
    fault_knobs = FAULT_KNOBS
    fault_kinds = FAULT_KINDS
    fold_case = True

    def __init__(
        self,
        username: str,
        password: str,
        subscriber_id: str,
        sites: Sequence[SandboxSite],
        workflows: Mapping[str, Sequence[tuple[str, str]]],
        orders: Sequence[Mapping[str, Any]],
        hash_variant: HashVariant,
        clock: Callable[[], float],
    ) -> None:
        if not sites:
            raise ValueError("the sandbox needs at least one site")
        super().__init__()
        self._username = username
        self._password = password
        self.subscriber_id = subscriber_id
        self.sites = {site.site_id: site for site in sites}
        self._seed_workflows = {wid: tuple(stages) for wid, stages in workflows.items()}
        self._seed_orders = [copy.deepcopy(dict(order)) for order in orders]
        self.hash_variant = hash_variant
        self._clock = clock
        self.webhook_target: str | None = None
        self.deliverer = Deliverer(self.delivered)
        self._reset()

    def _reset(self) -> None:
        self.workflows = {
            wid: [
                {
                    g.STAGE_ID_FIELD: stage_id,
                    "Seq": str(seq),
                    g.STAGE_NAME_FIELD: name,
                    g.STAGE_CUSTOMER_NAME_FIELD: name,
                    "Description": name,
                }
                for seq, (name, stage_id) in enumerate(stages, start=1)
            ]
            for wid, stages in self._seed_workflows.items()
        }
        self.headers: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        # keyed by `user_key(site, user id)`: the buyers of the orders placed here
        self.users: dict[str, dict[str, Any]] = {}
        self.address_books: dict[str, dict[str, Any]] = {}
        self.next_order = 1001
        self.next_item_number = 20001
        for i, order in enumerate(self._seed_orders):
            self._seed_order(copy.deepcopy(order), f"orders[{i}]")
        self.shipments: list[dict[str, Any]] = []
        self.status_history: list[dict[str, Any]] = []
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.faults: dict[str, Any] = copy.deepcopy(dict(FAULT_KNOBS))
        self.rng = random.Random(0)
        self.webhook_rng = random.Random(0)
        self.lose_next = 0
        self.webhooks: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()

    def _seed_order(self, order: dict[str, Any], where: str) -> None:
        rows = order.pop("Items", None)
        number = field(order, "OrderNumber")
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"{where}.OrderNumber: must be a positive integer")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError(f"{where}.Items: must be a list of objects")
        if field(order, "OrderDate") is None:
            raise ValueError(f"{where}.OrderDate: required (searches go by it)")
        self.headers[number] = order
        self.rows[number] = rows
        self.next_order = max(self.next_order, number + 1)
        for row in rows:
            item_number = field(row, g.ITEM_ROUTE_ID_FIELD)
            if isinstance(item_number, int) and not isinstance(item_number, bool):
                self.next_item_number = max(self.next_item_number, item_number + 1)

    def delivered(self, outgoing: Outgoing, status: int | None, error: str) -> None:
        """Record how a webhook's delivery went."""
        with self._lock:
            outgoing.record["status"] = status
            outgoing.record["error"] = error

    # -- shared parts (lock held) ---------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {
            "subscriber_id": self.subscriber_id,
            "sites": [
                {"site_id": s.site_id, "name": s.name, "domain": s.domain}
                for s in self.sites.values()
            ],
            "workflows": copy.deepcopy(self.workflows),
            "orders": [
                copy.deepcopy({**self.headers[n], "Items": self.rows[n]})
                for n in sorted(self.headers)
            ],
            "shipments": copy.deepcopy(self.shipments),
            "status_history": copy.deepcopy(self.status_history),
            "tokens_issued": self.tokens_issued,
            "webhook_target": self.webhook_target,
            "webhooks": copy.deepcopy(self.webhooks),
            "faults": copy.deepcopy(self.faults),
            "calls": dict(self.calls),
        }

    def _apply_faults(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        faults = super()._apply_faults(checked)
        if "seed" in checked:
            self.webhook_rng = random.Random(checked["seed"])
        return faults

    def _order_number(self, text: str) -> int:
        number = int(text) if text.isdigit() else None
        if number is None or number not in self.headers:
            raise Rejected(404, f"order not found: {text}")
        return number

    def _header(self, order_number: int) -> dict[str, Any]:
        header = self.headers.get(order_number)
        if header is None:
            raise LookupError(f"order not found: {order_number}")
        return header

    def _row_by_seq(self, order_number: int, seq: int) -> dict[str, Any]:
        self._header(order_number)
        for row in self.rows[order_number]:
            if field(row, "OrderItemSeq") == seq:
                return row
        raise LookupError(f"order {order_number} has no item {seq}")

    def _row_by_route_id(self, order_number: int, text: str) -> dict[str, Any]:
        for row in self.rows[order_number]:
            if str(field(row, g.ITEM_ROUTE_ID_FIELD)) == text:
                return row
        raise Rejected(404, f"item not found: {text} in order {order_number}")

    def _stage_named(self, workflow_id: str, name: str) -> dict[str, Any] | None:
        return next(
            (s for s in self.workflows.get(workflow_id, []) if s[g.STAGE_NAME_FIELD] == name),
            None,
        )

    def _set_stage(self, row: dict[str, Any], stage: Mapping[str, Any], notes: str) -> None:
        row.update(
            WorkflowStageId=stage[g.STAGE_ID_FIELD],
            WorkflowStageNumber=int(stage["Seq"]),
            WorkflowStagePrinter=stage[g.STAGE_NAME_FIELD],
            WorkflowStageCustomer=stage[g.STAGE_CUSTOMER_NAME_FIELD],
            WorkflowStageDate=wire_datetime(utcnow()),
        )
        self.status_history.append(
            {
                "OrderNumber": field(row, "OrderNumber"),
                "OrderItemSeq": field(row, "OrderItemSeq"),
                "Stage": stage[g.STAGE_NAME_FIELD],
                "Notes": notes,
            }
        )

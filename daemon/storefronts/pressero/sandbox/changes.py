"""The storefront's own changes (`StorefrontChanges`): placing an order, approving, denying,
paying, cancelling, files generated, and the signed webhook each makes.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.data import (
    CANCELLED_STAGE,
    FIRST_STAGE,
    default_address_book,
    default_site_user,
    generated_files,
    user_key,
)
from daemon.storefronts.pressero.sandbox.state import StoreState
from daemon.storefronts.pressero.sandbox.webhooks import Outgoing
from daemon.storefronts.pressero.sandbox.wire import field, utcnow, wire_datetime
from daemon.storefronts.pressero.signature import expected_hash

__all__ = ["StorefrontChanges"]


class StorefrontChanges(StoreState):
    """The storefront's own changes (orders placed, items approved, ...) and the webhooks
    they make; the lock is held."""

    # -- storefront changes (lock held) ---------------------------------------------------------

    def _place_order(
        self,
        items: Sequence[Mapping[str, Any]] = ({},),
        *,
        site: str | None = None,
        paid: bool = True,
        payment_method: str = "Credit Card",
        approved: bool = True,
        order_date: dt.datetime | str | None = None,
        requested_ship_date: dt.date | str | None = None,
        user: Mapping[str, Any] | None = None,
        site_user: Mapping[str, Any] | None = None,
        address_book: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        emit: bool = True,
    ) -> int:
        site_id = site if site is not None else next(iter(self.sites))
        if site_id not in self.sites:
            raise LookupError(f"unknown site {site_id!r} (known: {', '.join(self.sites)})")
        if not self.workflows:
            raise LookupError("the sandbox has no workflow to put items in")
        the_site = self.sites[site_id]
        workflow_id = next(iter(self.workflows))
        first_stage = self._stage_named(workflow_id, FIRST_STAGE) or self.workflows[workflow_id][0]
        number = self.next_order
        self.next_order += 1
        when = order_date or dt.datetime.now(dt.UTC)
        placed = when if isinstance(when, str) else wire_datetime(when)
        due = requested_ship_date
        due_text = due if isinstance(due, str) or due is None else f"{due.isoformat()}T00:00:00"
        order_id = str(uuid.uuid4())
        ordered_by = {
            "OrderedByFirstName": "Pat",
            "OrderedByLastName": "Buyer",
            "OrderedByEmail": "pat.buyer@example.com",
            "OrderedByDepartment": "",
            g.USER_INTEGRATION_ID_FIELD: "",
            **(user or {}),
        }
        bill_to = {
            "BillTo": "Pat Buyer",
            "BillToFirstName": "Pat",
            "BillToLastName": "Buyer",
            "BillToBusiness": "Acme Corp",
            "BillToAddress1": "1 Main Street",
            "BillToAddress2": "",
            "BillToAddress3": "",
            "BillToCity": "Springfield",
            "BilltoStateProvince": "IL",
            "BillToPostal": "62701",
            "BillToCountry": "US",
            "BillToPhone": "+1 217 555 0100",
            "BillToEmail": "ap@acme.example",
        }
        rows = []
        for index, spec in enumerate(items):
            seq = index + 1
            item_number = self.next_item_number
            self.next_item_number += 1
            row: dict[str, Any] = {
                "OrderId": order_id,
                "OrderNumber": number,
                "OrderItemId": str(uuid.uuid4()),
                "OrderItemNumber": item_number,
                "OrderItemSeq": seq,
                "OrderDate": placed,
                "SiteId": site_id,
                "SiteName": the_site.name,
                "Domain": the_site.domain,
                "ProductName": f"Product {seq}",
                "ItemName": f"Product {seq}",
                "OrderItemOptionsText": "",
                "PrinterPartNumber": f"SKU-{seq:03d}",
                "ClientPartNumber": "",
                g.PRODUCT_OBJECT_FIELD: {
                    "ProductId": str(uuid.uuid4()),
                    g.PRODUCT_INTEGRATION_ID_FIELD: "",
                },
                "Quantity": 100,
                "Price": 25.0,
                "ItemTax": 0.0,
                "Shipping": 0.0,
                "PONumber": "",
                "ItemNotes": "",
                "ShippingMethod": "UPS Ground",
                "ShipTo": "Pat Buyer",
                "ShipToFirstName": "Pat",
                "ShipToLastName": "Buyer",
                "ShipToBusiness": "Acme Corp",
                "ShipToAddress1": "1 Main Street",
                "ShipToAddress2": "",
                "ShipToAddress3": "",
                "ShipToCity": "Springfield",
                "ShiptoStateProvince": "IL",
                "ShipToPostal": "62701",
                "ShipToCountry": "US",
                "ShipToPhone": "+1 217 555 0100",
                "ShipToEmail": "pat.buyer@example.com",
                "RequestedShipDate": due_text,
                "ApprovedDate": placed if approved else None,
                "WorkflowId": workflow_id,
                "WorkflowStageId": first_stage[g.STAGE_ID_FIELD],
                "WorkflowStageNumber": int(first_stage["Seq"]),
                "WorkflowStageDate": placed,
                "WorkflowStagePrinter": first_stage[g.STAGE_NAME_FIELD],
                "WorkflowStageCustomer": first_stage[g.STAGE_CUSTOMER_NAME_FIELD],
                "IsPaid": paid,
                "IsApproved": approved,
                "IsDenied": False,
                "IsApprovedWithModifications": False,
                "MisId": "",
                "OrderItemMISID": "",
                "JobNumber": "",
                g.EDOC_SESSION_FIELD: "",
                g.EDOC_FILES_READY_FIELD: False,
                g.ITEM_FILES_FIELD: [],
                g.SHIPS_SEPARATELY_FIELD: False,
                g.PAYMENT_METHOD_FIELD: payment_method,
                **ordered_by,
                **bill_to,
            }
            row.update(spec)
            rows.append(row)
        totals = {
            "OrderSubtotal": sum(float(field(r, "Price") or 0) for r in rows),
            "OrderShipping": sum(float(field(r, "Shipping") or 0) for r in rows),
            "OrderTax": sum(float(field(r, "ItemTax") or 0) for r in rows),
            "OrderDiscount": 0.0,
        }
        totals["OrderTotal"] = (
            totals["OrderSubtotal"] + totals["OrderShipping"] + totals["OrderTax"]
        )
        for row in rows:
            for name, value in totals.items():
                row.setdefault(name, value)
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, ordered_by["OrderedByEmail"]))
        key = user_key(site_id, user_id)
        if site_user is not None or key not in self.users:
            self.users[key] = {**default_site_user(user_id, ordered_by), **(site_user or {})}
        if address_book is not None or key not in self.address_books:
            self.address_books[key] = copy.deepcopy(
                dict(address_book)
                if address_book is not None
                else default_address_book(self.users[key])
            )
        self.headers[number] = {
            "ID": order_id,
            "OrderId": order_id,
            "OrderNumber": number,
            "PrinterOrderId": "",
            "OrderDate": placed,
            "ReqShipDate": due_text or "0001-01-01T00:00:00",
            "SiteId": site_id,
            g.USER_ID_FIELD: user_id,
            g.PAYMENT_METHOD_FIELD: payment_method,
            g.ORDER_NOTES_FIELD: "",
            "IsPaid": paid,
            **totals,
            **(header or {}),
        }
        self.rows[number] = rows
        return number

    def _change(self, action: str, order_number: int, item_seq: int | None) -> str:
        """Apply one storefront change; return the webhook type it fires."""
        if action == "paid":
            header = self._header(order_number)
            header["IsPaid"] = True
            for row in self.rows[order_number]:
                row["IsPaid"] = True
            return "PaymentReceived"
        if item_seq is None:
            raise LookupError(f"{action} needs an item seq")
        row = self._row_by_seq(order_number, item_seq)
        if action == "approve":
            row.update(IsApproved=True, IsDenied=False, ApprovedDate=wire_datetime(utcnow()))
            return "OrderItemApproved"
        if action == "deny":
            row.update(IsApproved=False, IsDenied=True)
            return "OrderItemDenied"
        if action == "cancel":
            stage = self._stage_named(str(row.get("WorkflowId", "")), CANCELLED_STAGE)
            if stage is None:
                raise LookupError(f"the item's workflow has no stage {CANCELLED_STAGE!r}")
            self._set_stage(row, stage, "cancelled by the storefront")
            return "OrderItemStatusChanged"
        if action == "files_generated":
            row[g.EDOC_FILES_READY_FIELD] = True
            row[g.ITEM_FILES_FIELD] = generated_files(
                str(field(row, "Domain")), order_number, item_seq
            )
            return "OrderItemFilesGenerated"
        raise LookupError(
            f"unknown action {action!r} (known: approve, deny, paid, cancel, files_generated)"
        )

    def _emit(self, type_name: str, order_number: int, item_seq: int | None) -> Outgoing | None:
        """The webhook a change fires; None if it is lost or nobody listens (logged either way)."""
        site_id = str(field(self._header(order_number), "SiteId"))
        lost = False
        if self.lose_next > 0:
            self.lose_next -= 1
            lost = True
        elif self.faults["lost_webhook_rate"]:
            lost = self.webhook_rng.random() < self.faults["lost_webhook_rate"]
        target = self.webhook_target
        outgoing = self._outgoing(type_name, site_id, order_number, item_seq, None, target or "")
        outgoing.record["lost"] = lost
        if lost or target is None:
            outgoing.record["error"] = "lost" if lost else "no webhook target"
            return None
        return outgoing

    def _outgoing(
        self,
        type_name: str,
        site_id: str,
        order_number: int,
        item_seq: int | None,
        security_key: str | None,
        url: str,
    ) -> Outgoing:
        site = self.sites.get(site_id)
        if site is None:
            raise LookupError(f"unknown site {site_id!r} (known: {', '.join(self.sites)})")
        header = self.headers.get(order_number, {})
        data: dict[str, Any] = {
            g.EVENT_ORDER_NUMBER: order_number,
            "OrderId": field(header, "OrderId") or "",
            "SiteId": site_id,
        }
        if item_seq is not None:
            data[g.EVENT_ORDER_SEQ] = item_seq
        message_id = str(uuid.uuid4())
        envelope = {
            g.ENVELOPE_TYPE: g.TYPE_CODES.get(type_name, 0),
            g.ENVELOPE_TYPE_NAME: type_name,
            g.ENVELOPE_TIMESTAMP: utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            g.ENVELOPE_SUBSCRIBER_ID: self.subscriber_id,
            g.ENVELOPE_SITE_ID: site_id,
            g.ENVELOPE_MESSAGE_ID: message_id,
            g.ENVELOPE_DATA: data,
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        key = site.security_key if security_key is None else security_key
        headers = {
            "Content-Type": "application/json",
            g.MESSAGE_HASH_HEADER: expected_hash(key, body, self.hash_variant),
        }
        record: dict[str, Any] = {
            "message_id": message_id,
            "type_name": type_name,
            "site_id": site_id,
            "order_number": order_number,
            "item_seq": item_seq,
            "target": url,
            "lost": False,
            "status": None,
            "error": "",
        }
        self.webhooks.append(record)
        return Outgoing(url, body, headers, record)

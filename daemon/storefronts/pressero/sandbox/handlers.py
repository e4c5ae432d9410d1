"""The API and admin handlers of the Pressero sandbox (`ApiHandlers`): authentication, order
search and reads, item status and updates, shipments, workflows, site users, address books.
"""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import secrets
import uuid

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.changes import StorefrontChanges
from daemon.storefronts.pressero.sandbox.data import (
    MAX_PAGE_SIZE,
    PLACE_ORDER_ARGUMENTS,
    UPDATABLE_ITEM_FIELDS,
    user_key,
)
from daemon.storefronts.pressero.sandbox.wire import (
    field,
    json_object,
    query_int,
    read_datetime,
    search_filter,
)
from daemon.testing.json_sandbox import JsonAnswer, Rejected

__all__ = ["ApiHandlers"]


class ApiHandlers(StorefrontChanges):
    """The handlers of the API and admin routes (`Route.handler`); the lock is held."""

    # -- API handlers (lock held) ---------------------------------------------------------------

    def _authenticate(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = json_object(body)
        username = field(data, g.AUTH_USERNAME_FIELD)
        password = field(data, g.AUTH_PASSWORD_FIELD)
        subscriber = field(data, g.AUTH_SUBSCRIBER_ID_FIELD) or ""
        if not (
            isinstance(username, str)
            and isinstance(password, str)
            and isinstance(subscriber, str)
            and hmac.compare_digest(username.encode(), self._username.encode())
            and hmac.compare_digest(password.encode(), self._password.encode())
            and subscriber.casefold() == self.subscriber_id.casefold()
        ):
            raise Rejected(401, "Invalid credentials")
        token = secrets.token_hex(20)
        self.tokens[token] = self._clock()
        self.tokens_issued += 1
        return JsonAnswer(200, {g.TOKEN_FIELD: token})

    def _search_orders(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        page_number = query_int(query, g.PAGE_NUMBER_PARAM, 0, 0, 1_000_000)
        page_size = query_int(query, g.PAGE_SIZE_PARAM, 50, 1, MAX_PAGE_SIZE)
        data = json_object(body)
        start = read_datetime(field(data, g.SEARCH_START_FIELD), g.SEARCH_START_FIELD)
        end = read_datetime(field(data, g.SEARCH_END_FIELD), g.SEARCH_END_FIELD)
        filters = field(data, g.SEARCH_FILTERS_FIELD) or []
        if not isinstance(filters, list):
            raise Rejected(400, f"{g.SEARCH_FILTERS_FIELD}: expected a list")
        checks = [search_filter(f, f"{g.SEARCH_FILTERS_FIELD}[{i}]") for i, f in enumerate(filters)]
        rows = []
        for number in sorted(self.headers):
            placed = read_datetime(field(self.headers[number], "OrderDate"), "OrderDate")
            if not start <= placed <= end:
                continue
            for row in sorted(self.rows[number], key=lambda r: field(r, "OrderItemSeq") or 0):
                if all(check(row) for check in checks):
                    rows.append(row)
        first = page_number * page_size
        return JsonAnswer(
            200,
            {
                g.PAGE_ITEMS_FIELD: copy.deepcopy(rows[first : first + page_size]),
                "PageNumber": page_number,
                "PageSize": page_size,
                g.PAGE_TOTAL_FIELD: len(rows),
            },
        )

    def _order_details(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        details = {**self.headers[number], "Items": self.rows[number]}
        return JsonAnswer(200, copy.deepcopy(details))

    def _order_items(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        return JsonAnswer(200, copy.deepcopy(self.rows[number]))

    def _set_item_status(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        workflow_id = str(field(row, "WorkflowId") or "")
        wanted = params["stage_id"].casefold()
        stage = next(
            (
                s
                for s in self.workflows.get(workflow_id, [])
                if s[g.STAGE_ID_FIELD].casefold() == wanted
            ),
            None,
        )
        if stage is None:
            raise Rejected(400, f"Invalid workflow stage {params['stage_id']}")
        notes = query.get(g.STATUS_NOTES_PARAM, [""])[0]
        self._set_stage(row, stage, notes)
        return JsonAnswer(200, True)

    def _item_status_history(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        seq = field(row, "OrderItemSeq")
        return JsonAnswer(
            200,
            [
                copy.deepcopy(h)
                for h in self.status_history
                if h["OrderNumber"] == number and h["OrderItemSeq"] == seq
            ],
        )

    def _update_item(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        number = self._order_number(params["order_number"])
        row = self._row_by_route_id(number, params["item_number"])
        data = json_object(body)
        updates = {}
        for name, value in data.items():
            canonical = next(
                (f for f in UPDATABLE_ITEM_FIELDS if f.casefold() == name.casefold()), None
            )
            if canonical is None:
                allowed = ", ".join(UPDATABLE_ITEM_FIELDS)
                raise Rejected(400, f"field {name!r} cannot be updated (updatable: {allowed})")
            if not isinstance(value, str):
                raise Rejected(400, f"field {name!r} must be a string")
            updates[canonical] = value
        row.update(updates)
        return JsonAnswer(200, copy.deepcopy(row))

    def _add_shipment(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = json_object(body)
        order_id = field(data, "OrderId")
        number = next(
            (n for n, h in self.headers.items() if str(field(h, "OrderId")) == order_id), None
        )
        if number is None:
            raise Rejected(404, f"order not found: {order_id}")
        info = field(data, "ShipmentInfo")
        if not isinstance(info, dict):
            raise Rejected(400, "ShipmentInfo: expected an object")
        tracking = field(info, "Tracking")
        if not isinstance(tracking, str) or not tracking:
            raise Rejected(400, "ShipmentInfo.Tracking: required")
        ship_date = field(info, "ShipDate")
        try:
            dt.date.fromisoformat(str(ship_date)[:10])
        except ValueError:
            raise Rejected(400, "ShipmentInfo.ShipDate: expected a date") from None
        cost = field(info, "Cost") or 0
        if isinstance(cost, bool) or not isinstance(cost, int | float):
            raise Rejected(400, "ShipmentInfo.Cost: expected a number")
        items = field(info, "Items")
        if not isinstance(items, list) or not items:
            raise Rejected(400, "ShipmentInfo.Items: expected a non-empty list")
        by_id = {str(field(row, "OrderItemId")): row for row in self.rows[number]}
        targets = []
        for i, entry in enumerate(items):
            item_id = field(entry, "OrderItemId") if isinstance(entry, dict) else None
            if not isinstance(item_id, str) or item_id not in by_id:
                raise Rejected(400, f"ShipmentInfo.Items[{i}]: no such item in order {number}")
            targets.append(by_id[item_id])
        method = field(data, "SiteShippingMethodName") or ""
        shipment_id = str(uuid.uuid4())
        for row in targets:
            self.shipments.append(
                {
                    "ShipmentId": shipment_id,
                    "OrderId": order_id,
                    "OrderItemId": row["OrderItemId"],
                    "OrderNumber": number,
                    "OrderItemSeq": field(row, "OrderItemSeq"),
                    "ShipDate": str(ship_date)[:10],
                    "ShipMethod": method,
                    "ShipTracking": tracking,
                    "ShipCost": float(cost),
                    "IntegrationID": "",
                }
            )
            row.update(
                ShipmentDate=str(ship_date)[:10], ShipmentTracking=tracking, ShipmentCost=cost
            )
        return JsonAnswer(200, {"ShipmentId": shipment_id})

    def _item_shipments(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        order_id = params["order_id"].casefold()
        item_id = params["order_item_id"].casefold()
        found = [
            {k: v for k, v in s.items() if k not in ("OrderNumber", "OrderItemSeq")}
            for s in self.shipments
            if s["OrderId"].casefold() == order_id and s["OrderItemId"].casefold() == item_id
        ]
        return JsonAnswer(200, found)

    def _workflow_stages(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        wanted = params["workflow_id"].casefold()
        for workflow_id, stages in self.workflows.items():
            if workflow_id.casefold() == wanted:
                return JsonAnswer(200, copy.deepcopy(stages))
        raise Rejected(404, f"workflow not found: {params['workflow_id']}")

    def _site_user(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        user = self.users.get(user_key(params["site"], params["user_id"]))
        if user is None:
            raise Rejected(404, f"user not found: {params['user_id']} in site {params['site']}")
        return JsonAnswer(200, copy.deepcopy(user))

    def _address_book(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        book = self.address_books.get(user_key(params["site"], params["user_id"]))
        if book is None:
            raise Rejected(404, f"user not found: {params['user_id']} in site {params['site']}")
        return JsonAnswer(200, copy.deepcopy(book))

    # -- admin handlers (lock held) -------------------------------------------------------------

    def _admin_faults(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        try:
            checked = self.check_faults(json_object(body))
        except ValueError as exc:
            raise Rejected(422, str(exc)) from None
        return JsonAnswer(200, self._apply_faults(checked))

    def _admin_place_order(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = json_object(body)
        for name, value in data.items():
            kind = PLACE_ORDER_ARGUMENTS.get(name)
            if kind is None:
                known = ", ".join(PLACE_ORDER_ARGUMENTS)
                raise Rejected(422, f"unknown argument {name!r} (known: {known})")
            if not isinstance(value, kind):
                raise Rejected(422, f"{name}: must be a JSON {kind.__name__}")
        if not all(isinstance(item, dict) for item in data.get("items", [])):
            raise Rejected(422, "items: must be a list of objects")
        if "order_date" in data:
            try:
                read_datetime(data["order_date"], "order_date")
            except Rejected as exc:
                raise Rejected(422, exc.message) from None
        if "requested_ship_date" in data:
            try:
                dt.date.fromisoformat(data["requested_ship_date"][:10])
            except ValueError:
                raise Rejected(422, "requested_ship_date: must be an ISO date") from None
        try:
            number = self._place_order(**data)
            outgoing = self._emit("OrderPlaced", number, None) if data.get("emit", True) else None
        except (LookupError, TypeError) as exc:
            raise Rejected(422, str(exc)) from None
        if outgoing is not None:
            self.deliverer.submit(outgoing)
        return JsonAnswer(200, {"OrderNumber": number})

    def _admin_order_action(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = json_object(body) if body else {}
        seq = data.get("item_seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            raise Rejected(422, "item_seq: must be an integer")
        try:
            number = self._order_number(params["order_number"])
            type_name = self._change(params["action"], number, seq)
            outgoing = self._emit(type_name, number, seq)
        except LookupError as exc:
            raise Rejected(422, str(exc.args[0])) from None
        if outgoing is not None:
            self.deliverer.submit(outgoing)
        return JsonAnswer(200, {"TypeName": type_name, "sent": outgoing is not None})

    def _admin_webhook_target(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        url = json_object(body).get("url")
        if url is not None and not isinstance(url, str):
            raise Rejected(422, "url: must be a string or null")
        self.webhook_target = url
        return JsonAnswer(200, {"url": url})

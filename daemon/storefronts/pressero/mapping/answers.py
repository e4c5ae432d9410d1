"""The client's small answers (token, pages, workflow stages, item ids, search rows, shipments)
read, and its request bodies (search, shipment) built.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from daemon.errors import BadEventPayload
from daemon.orders.model import (
    Address,
)
from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.mapping.fields import Row, list_or_page


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """One page of a paged answer: its rows and the total across all pages."""

    items: tuple[Mapping[str, Any], ...]
    total: int


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowStage:
    """One stage of a workflow (pressero.md §1.6)."""

    stage_id: str
    name: str  # the printer's (internal) label
    customer_name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class PresseroItemRef:
    """What the write routes need to address one item."""

    seq: int
    route_id: int  # the number the `Item/{...}` routes take (g.ITEM_ROUTE_ID_FIELD)
    item_id: str  # the item GUID (shipments)
    order_id: str  # the order GUID (shipments)
    workflow_id: str
    shipping_method: str
    stage_id: str = ""  # the item's current workflow stage (`WorkflowStageId`, seen in code)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchRow:
    """One row of `v2/Orders/Search`: an order item, with its order and site."""

    order_number: int
    item_seq: int | None
    order_id: str
    site_id: str
    site_name: str
    domain: str
    order_date: dt.datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Shipment:
    """One shipment of an item (pressero.md §1.4 read model, `Models/ShipmentData.cs`)."""

    shipment_id: str
    order_item_id: str
    ship_date: dt.date | None
    method: str
    tracking: str
    cost: Decimal


def parse_token(data: object) -> str:
    """The token of a `V2/Authentication` answer (pressero.md §1.2)."""
    return Row(data, "authentication").text(g.TOKEN_FIELD, required=True)


def parse_page(data: object, where: str) -> Page:
    """One page: `{"Items": [...], "TotalItems": n}` (pressero.md §1.3)."""
    page = Row(data, where)
    rows = page.get(g.PAGE_ITEMS_FIELD)
    if not isinstance(rows, list):
        raise BadEventPayload(f"{where}.{g.PAGE_ITEMS_FIELD}: expected a list")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise BadEventPayload(f"{where}.{g.PAGE_ITEMS_FIELD}[{i}]: expected an object")
    total = page.integer(g.PAGE_TOTAL_FIELD, required=True, minimum=0)
    assert total is not None
    return Page(items=tuple(rows), total=total)


def parse_stages(data: object, where: str) -> tuple[WorkflowStage, ...]:
    """A workflow's stages, from a bare list or a page (pressero.md §1.6)."""
    rows = list_or_page(data, where)
    stages = []
    for i, raw in enumerate(rows):
        row = Row(raw, f"{where}[{i}]")
        stages.append(
            WorkflowStage(
                stage_id=row.text(g.STAGE_ID_FIELD, required=True),
                name=row.text(g.STAGE_NAME_FIELD, required=True),
                customer_name=row.text(g.STAGE_CUSTOMER_NAME_FIELD),
            )
        )
    return tuple(stages)


def find_stage(stages: Iterable[WorkflowStage], name: str) -> WorkflowStage | None:
    """The stage called `name` (any case, surrounding spaces ignored), or None."""
    wanted = name.strip().casefold()
    return next((stage for stage in stages if stage.name.strip().casefold() == wanted), None)


def parse_item_refs(data: object, where: str) -> dict[int, PresseroItemRef]:
    """seq -> what the write routes need, from an items answer (kit child rows left out)."""
    refs: dict[int, PresseroItemRef] = {}
    for i, raw in enumerate(list_or_page(data, where)):
        row = Row(raw, f"{where}[{i}]")
        if row.text(g.KIT_PARENT_FIELD):
            continue
        seq = row.integer("OrderItemSeq", required=True, minimum=1)
        route_id = row.integer(g.ITEM_ROUTE_ID_FIELD, required=True, minimum=0)
        assert seq is not None and route_id is not None
        refs[seq] = PresseroItemRef(
            seq=seq,
            route_id=route_id,
            item_id=row.text("OrderItemId"),
            order_id=row.text("OrderId"),
            workflow_id=row.text("WorkflowId"),
            shipping_method=row.text("ShippingMethod"),
            stage_id=row.text("WorkflowStageId"),
        )
    return refs


def parse_search_row(data: object, where: str) -> SearchRow:
    """One row of `v2/Orders/Search` (pressero.md §1.5)."""
    row = Row(data, where)
    order_number = row.integer("OrderNumber", required=True, minimum=1)
    assert order_number is not None
    return SearchRow(
        order_number=order_number,
        item_seq=row.integer("OrderItemSeq", minimum=0) or None,
        order_id=row.text("OrderId"),
        site_id=row.text("SiteId"),
        site_name=row.text("SiteName"),
        domain=row.text("Domain"),
        order_date=row.datetime("OrderDate"),
    )


def parse_shipments(data: object, where: str) -> tuple[Shipment, ...]:
    """An item's shipments (pressero.md §1.4, `Models/ShipmentData.cs`)."""
    shipments = []
    for i, raw in enumerate(list_or_page(data, where)):
        row = Row(raw, f"{where}[{i}]")
        shipments.append(
            Shipment(
                shipment_id=row.text("ShipmentId"),
                order_item_id=row.text("OrderItemId"),
                ship_date=row.date("ShipDate"),
                method=row.text("ShipMethod"),
                tracking=row.text("ShipTracking"),
                cost=row.decimal("ShipCost"),
            )
        )
    return tuple(shipments)


def format_search_date(when: dt.datetime) -> str:
    """A search bound as Pressero takes it, in UTC (naive means UTC already)."""
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime(g.SEARCH_DATE_FORMAT)


def search_body(
    start: dt.datetime, end: dt.datetime, filters: Iterable[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    """The body of `v2/Orders/Search`: a date window, (column, value, operator) filters, sorted
    by order number (pressero.md §1.3, §1.4)."""
    return {
        g.SEARCH_START_FIELD: format_search_date(start),
        g.SEARCH_END_FIELD: format_search_date(end),
        g.SEARCH_SORT_FIELD: {"Member": "OrderNumber", "Direction": "Ascending"},
        g.SEARCH_FILTERS_FIELD: [
            {"Column": column, "Value": value, "Operator": operator}
            for column, value, operator in filters
        ],
    }


def shipment_body(
    order_id: str,
    item_ids: Iterable[str],
    *,
    shipping_method: str,
    tracking: str,
    ship_date: dt.date,
    cost: Decimal = Decimal("0"),
    address: Address | None = None,
) -> dict[str, Any]:
    """The body of `V2/Orders/Shipments` (pressero.md §1.4, `Data/ShipmentDAL.cs`)."""
    to = address or Address()
    return {
        "OrderId": order_id,
        "SiteShippingMethodName": shipping_method,
        "ShipmentInfo": {
            "ShipDate": ship_date.isoformat(),
            "Tracking": tracking,
            "Cost": float(cost),
            "Address": {
                "FirstName": to.first_name,
                "LastName": to.last_name,
                "Address1": to.address1,
                "StateProvince": to.state,
                "Postal": to.zip,
                "Country": to.country,
            },
            "Items": [{"OrderItemId": item_id} for item_id in item_ids],
        },
    }

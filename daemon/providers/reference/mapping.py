"""Translation between esd's order model and the reference MIS wire format, both ways; no I/O.

Requests: `job_request` and `line_request` build the JSON bodies the client posts. Answers:
`parse_*` read the JSON the MIS returns into small frozen records, raising `WireFormatError`
that names the wrong field; `product_record` and `status_report` turn those into the
provider-neutral records of `daemon.providers.contract`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict, TypeVar

from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import LineStatus, ProductRecord, StatusReport

__all__ = [
    "Job",
    "JobRequest",
    "Line",
    "LineRequest",
    "Product",
    "ProductPage",
    "WireFormatError",
    "job_request",
    "line_key",
    "line_request",
    "parse_created_id",
    "parse_job",
    "parse_jobs",
    "parse_ping",
    "parse_products_page",
    "parse_webhook_line",
    "product_record",
    "status_report",
]


class WireFormatError(ValueError):
    """An MIS answer does not have the shape the reference API documents."""


class JobRequest(TypedDict):
    """Body of `POST /api/jobs`."""

    reference: str
    customer: str
    description: str
    due_date: str | None


class LineRequest(TypedDict):
    """Body of `POST /api/jobs/{job_id}/lines`."""

    line_key: str
    description: str
    quantity: int
    price: str


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    """One job line as the MIS reports it."""

    line_id: str
    line_key: str
    description: str
    quantity: int
    price: Decimal
    status: str
    tracking: tuple[str, ...] = ()
    shipped_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One MIS job with its lines."""

    job_id: str
    reference: str
    customer: str
    description: str
    due_date: dt.date | None
    status: str
    lines: tuple[Line, ...]
    created_at: str

    def line_by_key(self, key: str) -> Line | None:
        """Return the first (oldest) line with this `line_key`, or None."""
        return next((line for line in self.lines if line.line_key == key), None)

    def line_by_id(self, line_id: str) -> Line | None:
        """Return the line with this id, or None."""
        return next((line for line in self.lines if line.line_id == line_id), None)


@dataclasses.dataclass(frozen=True, slots=True)
class Product:
    """One catalogue product."""

    sku: str
    name: str
    price: Decimal | None
    stock: int | None
    category: str


@dataclasses.dataclass(frozen=True, slots=True)
class ProductPage:
    """One page of the catalogue and the catalogue's total size."""

    items: tuple[Product, ...]
    total: int


# -- requests -----------------------------------------------------------------------------------


def line_key(seq: int) -> str:
    """The key a line carries so a later push can find it: the storefront item's sequence."""
    return str(seq)


def job_request(order: Order, reference: str, settings: Mapping[str, Any]) -> JobRequest:
    """The job for `order`, booked to the user's MIS customer or the account's default one."""
    customer = order.user.integration_id or str(settings["customer"])
    site = order.site_name or order.site
    due = order.requested_ship_date
    return {
        "reference": reference,
        "customer": customer,
        "description": f"{site} order {order.order_number}",
        "due_date": due.isoformat() if due is not None else None,
    }


def line_request(item: OrderItem) -> LineRequest:
    """The job line for one storefront item; its price includes the item's shipping."""
    return {
        "line_key": line_key(item.seq),
        "description": f"{item.seq} {item.product_name}",
        "quantity": item.quantity,
        "price": str(item.price + item.shipping_cost),
    }


# -- answers ------------------------------------------------------------------------------------


def parse_ping(data: object) -> tuple[str, str]:
    """(product, version) from `GET /api/ping`."""
    body = _object(data, "ping")
    return _str(body, "product", "ping"), _str(body, "version", "ping")


def parse_created_id(data: object, key: str, where: str) -> str:
    """The new object's id (`job_id`, `line_id`) from a create answer."""
    return _str(_object(data, where), key, where)


def parse_jobs(data: object) -> list[Job]:
    """The jobs of a `GET /api/jobs` answer, in the MIS's order (oldest first)."""
    items = _object(data, "jobs").get("items")
    if not isinstance(items, list):
        raise WireFormatError("jobs.items: expected a list")
    return [parse_job(item, f"jobs.items[{i}]") for i, item in enumerate(items)]


def parse_job(data: object, where: str = "job") -> Job:
    """One job object."""
    body = _object(data, where)
    lines = body.get("lines")
    if not isinstance(lines, list):
        raise WireFormatError(f"{where}.lines: expected a list")
    return Job(
        job_id=_str(body, "job_id", where),
        reference=_str(body, "reference", where),
        customer=_str(body, "customer", where),
        description=_str(body, "description", where),
        due_date=_optional_date(body, "due_date", where),
        status=_str(body, "status", where),
        lines=tuple(_parse_line(line, f"{where}.lines[{i}]") for i, line in enumerate(lines)),
        created_at=_str(body, "created_at", where),
    )


def parse_products_page(data: object) -> ProductPage:
    """One page of `GET /api/products`."""
    body = _object(data, "products")
    items = body.get("items")
    if not isinstance(items, list):
        raise WireFormatError("products.items: expected a list")
    total = _int(body, "total", "products")
    products = []
    for i, item in enumerate(items):
        where = f"products.items[{i}]"
        product = _object(item, where)
        price = product.get("price")
        stock = product.get("stock")
        products.append(
            Product(
                sku=_str(product, "sku", where),
                name=_str(product, "name", where),
                price=None if price is None else _decimal(product, "price", where),
                stock=None if stock is None else _int(product, "stock", where),
                category=str(product.get("category") or ""),
            )
        )
    return ProductPage(items=tuple(products), total=total)


def product_record(product: Product) -> ProductRecord:
    """The storefront import's view of one MIS product."""
    return ProductRecord(
        sku=product.sku,
        name=product.name,
        price=product.price,
        stock=product.stock,
        category_ids=(product.category,) if product.category else (),
    )


def status_report(item_seq: int, line: Line) -> StatusReport:
    """The status of one pushed item, from its MIS line."""
    return StatusReport(
        item_seq=item_seq, status=line.status, tracking=line.tracking, shipped_at=line.shipped_at
    )


def parse_webhook_line(data: object, where: str) -> LineStatus:
    """One line of a status webhook (daemon.providers.reference.webhook)."""
    body = _object(data, where)
    tracking = _tracking(body, where)
    return LineStatus(
        external_id=_str(body, "line_id", where),
        status=_str(body, "status", where),
        tracking=tracking,
        shipped_at=_optional_datetime(body, "shipped_at", where),
    )


def _parse_line(data: object, where: str) -> Line:
    body = _object(data, where)
    tracking = _tracking(body, where)
    return Line(
        line_id=_str(body, "line_id", where),
        line_key=_str(body, "line_key", where),
        description=_str(body, "description", where),
        quantity=_int(body, "quantity", where),
        price=_decimal(body, "price", where),
        status=_str(body, "status", where),
        tracking=tracking,
        shipped_at=_optional_datetime(body, "shipped_at", where),
    )


def _object(data: object, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireFormatError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def _tracking(body: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """A line's tracking numbers: a list of strings, none where the key is absent."""
    tracking = body.get("tracking", [])
    if not isinstance(tracking, list) or not all(isinstance(t, str) for t in tracking):
        raise WireFormatError(f"{where}.tracking: expected a list of strings")
    return tuple(tracking)


def _str(body: Mapping[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise WireFormatError(f"{where}.{key}: expected a string")
    return value


def _int(body: Mapping[str, Any], key: str, where: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireFormatError(f"{where}.{key}: expected an integer")
    return value


def _decimal(body: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise WireFormatError(f"{where}.{key}: expected a decimal number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise WireFormatError(f"{where}.{key}: {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise WireFormatError(f"{where}.{key}: {value!r} is not a finite number")
    return number


_When = TypeVar("_When", dt.date, dt.datetime)


def _optional_date(body: Mapping[str, Any], key: str, where: str) -> dt.date | None:
    return _optional_iso(body, key, where, dt.date.fromisoformat, "date", "a date (YYYY-MM-DD)")


def _optional_datetime(body: Mapping[str, Any], key: str, where: str) -> dt.datetime | None:
    return _optional_iso(
        body, key, where, dt.datetime.fromisoformat, "date-time", "an ISO date-time"
    )


def _optional_iso(
    body: Mapping[str, Any],
    key: str,
    where: str,
    parse: Callable[[str], _When],
    kind: str,
    form: str,
) -> _When | None:
    """`body[key]` parsed by `parse`: None where absent or null, else a string in ISO form."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireFormatError(f"{where}.{key}: expected a {kind} string or null")
    try:
        return parse(value)
    except ValueError:
        raise WireFormatError(f"{where}.{key}: {value!r} is not {form}") from None

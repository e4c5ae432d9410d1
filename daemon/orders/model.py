"""The storefront-neutral order model every storefront adapter produces and every MIS driver reads.

An order snapshot is what the daemon knows of one storefront order at one moment. Storefront
adapters (Pressero first) build it from webhooks and API reads; it is stored as JSON in the
inbox and in the `orders` table, so `to_json`/`from_json` are exact inverses and `from_json`
names the field that is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from daemon.errors import BadEventPayload

__all__ = [
    "Address",
    "Approval",
    "ItemFile",
    "KitChild",
    "Order",
    "OrderItem",
    "Payment",
    "SiteUser",
]


class Approval(StrEnum):
    """Approval state of one item (B2B approval plans)."""

    APPROVED = "approved"
    DENIED = "denied"
    PENDING = "pending"


class Payment(StrEnum):
    """Payment state of the order."""

    PAID = "paid"
    OPEN_TERMS = "open_terms"
    UNPAID = "unpaid"


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """A postal address with the person at it."""

    first_name: str = ""
    last_name: str = ""
    middle_name: str = ""
    business: str = ""
    title: str = ""
    email: str = ""
    phone: str = ""
    cell_phone: str = ""
    address1: str = ""
    address2: str = ""
    address3: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class SiteUser:
    """The storefront user who placed the order."""

    user_id: str = ""
    email: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    title: str = ""
    phone: str = ""
    cell_phone: str = ""
    integration_id: str = ""
    address: Address = dataclasses.field(default_factory=Address)
    # the buyer's department (company) and user groups, as the storefront names them: a MIS
    # account may route orders by them (Tharstern customer codes, seed 002)
    department: str = ""
    groups: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class KitChild:
    """One component of a kit item, with its own quantity and cost."""

    name: str
    quantity: int
    cost: Decimal
    sku: str = ""
    integration_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ItemFile:
    """One print-ready file of an item, as the storefront serves it: an http(s) URL the MIS
    fetches (Tharstern attaches it to the job by `Content_URL`), and the file's name."""

    url: str
    name: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class OrderItem:
    """One line of an order."""

    seq: int
    item_id: str = ""
    product_name: str = ""
    product_integration_id: str = ""
    quantity: int = 1
    price: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    shipping_cost: Decimal = Decimal("0")
    approval: Approval = Approval.APPROVED
    cancelled: bool = False
    edoc_pending: bool = False
    ship_to: Address = dataclasses.field(default_factory=Address)
    shipping_method: str = ""
    ships_separately: bool = False
    po_number: str = ""
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    kit_children: tuple[KitChild, ...] = ()
    notes: str = ""
    # the options the buyer chose, as the storefront prints them (Pace job part description)
    pricing_details: str = ""
    # the printer's part number: MIS product codes are imported into it (Tharstern, seed 000)
    sku: str = ""
    # the MIS id the storefront holds for the item (written by esd, or by the hosted
    # integration before esd went live: then esd adopts it instead of pushing again)
    mis_id: str = ""
    # the item's print-ready files, once the storefront has them (Pressero: after eDocBuilder
    # generated them); a snapshot stored before this field existed has none
    files: tuple[ItemFile, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Order:
    """A snapshot of one storefront order."""

    site: str
    order_number: str
    order_id: str = ""
    site_name: str = ""
    order_date: dt.datetime | None = None
    requested_ship_date: dt.date | None = None
    payment: Payment = Payment.UNPAID
    user: SiteUser = dataclasses.field(default_factory=SiteUser)
    bill_to: Address = dataclasses.field(default_factory=Address)
    items: tuple[OrderItem, ...] = ()
    notes: str = ""
    subtotal: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    total: Decimal = Decimal("0")

    def item(self, seq: int) -> OrderItem:
        """Return the item with this sequence number."""
        for item in self.items:
            if item.seq == seq:
                return item
        raise KeyError(seq)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict; `Order.from_json` reverses it exactly."""
        encoded = _encode(self)
        assert isinstance(encoded, dict)
        return encoded

    @classmethod
    def from_json(cls, data: object, where: str = "order") -> Order:
        """Build an order from JSON data, naming the first field that is wrong."""
        return _decode(cls, data, where)


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


T = TypeVar("T")


def _decode(cls: type[T], data: object, where: str) -> T:
    if not isinstance(data, Mapping):
        raise BadEventPayload(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BadEventPayload(f"{where}: unknown field {unknown[0]!r}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _decode_value(hints[name], value, f"{where}.{name}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise BadEventPayload(f"{where}: {exc}") from exc


_HINT_CACHE: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINT_CACHE.get(cls)
    if hints is None:
        import typing

        hints = typing.get_type_hints(cls)
        _HINT_CACHE[cls] = hints
    return hints


def _decode_value(hint: Any, value: object, where: str) -> object:
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _decode_value(args[0], value, where)
    if dataclasses.is_dataclass(hint):
        return _decode(hint, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list):
            raise BadEventPayload(f"{where}: expected a list")
        (inner, _ellipsis) = typing.get_args(hint)
        return tuple(_decode_value(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise BadEventPayload(f"{where}: expected an object of strings")
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return hint(value)
        except ValueError:
            allowed = ", ".join(m.value for m in hint)
            raise BadEventPayload(f"{where}: {value!r} is not one of {allowed}") from None
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadEventPayload(f"{where}: expected a number")
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise BadEventPayload(f"{where}: {value!r} is not a number") from None
        if not result.is_finite():
            raise BadEventPayload(f"{where}: {value!r} is not a finite number")
        return result
    if hint is dt.datetime:
        try:
            return dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise BadEventPayload(f"{where}: {value!r} is not an ISO date-time") from None
    if hint is dt.date:
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise BadEventPayload(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    if hint is bool:
        if not isinstance(value, bool):
            raise BadEventPayload(f"{where}: expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadEventPayload(f"{where}: expected an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise BadEventPayload(f"{where}: expected a string")
        return value
    raise BadEventPayload(f"{where}: cannot decode {hint!r}")  # pragma: no cover

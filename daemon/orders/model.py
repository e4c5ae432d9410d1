"""The storefront-neutral order model every storefront adapter produces and every MIS driver reads.

An order snapshot is what the daemon knows of one storefront order at one moment. Storefront
adapters (Pressero first) build it from webhooks and API reads; it is stored as JSON in the
inbox and in the `orders` table, so `to_json`/`from_json` are exact inverses and `from_json`
names the field that is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Callable, Mapping
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

#: decodes one JSON value found at `where` (a path like "order.items[0].seq", for errors)
_Decoder = Callable[[object, str], Any]

# A decoder per type hint, built once from the dataclasses' type hints and kept: looking the
# hints up again for every value cost more than the decoding itself, and an order is decoded on
# intake, on every push and after it (the push bench).
_DECODERS: dict[object, _Decoder] = {}


def _decode(cls: type[T], data: object, where: str) -> T:
    decoded: T = _decoder(cls)(data, where)
    return decoded


def _decoder(hint: object) -> _Decoder:
    found = _DECODERS.get(hint)
    if found is None:
        found = _build_decoder(hint)
        _DECODERS[hint] = found
    return found


def _build_decoder(hint: Any) -> _Decoder:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _optional_decoder(next(a for a in typing.get_args(hint) if a is not type(None)))
    if dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)  # type: ignore[arg-type]
    if origin is tuple:
        return _tuple_decoder(typing.get_args(hint)[0])
    if origin is Mapping or origin is dict:
        return _decode_strings
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum_decoder(hint)
    simple = _SIMPLE_DECODERS.get(hint)
    if simple is None:  # pragma: no cover - every field of the model has a decoder
        raise TypeError(f"cannot decode {hint!r}")
    return simple


def _optional_decoder(hint: object) -> _Decoder:
    def decode(value: object, where: str) -> object:
        # Built on first use: a dataclass's decoder may name a type not yet decodable.
        return None if value is None else _decoder(hint)(value, where)

    return decode


def _dataclass_decoder(cls: type) -> _Decoder:
    names = frozenset(f.name for f in dataclasses.fields(cls))
    hints = typing.get_type_hints(cls)
    fields: dict[str, _Decoder] = {}

    def decode(data: object, where: str) -> object:
        if not isinstance(data, Mapping):
            raise BadEventPayload(f"{where}: expected an object, got {type(data).__name__}")
        if not names.issuperset(data):
            unknown = sorted(set(data) - names)
            raise BadEventPayload(f"{where}: unknown field {unknown[0]!r}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                field = fields[name] = _decoder(hints[name])
            kwargs[name] = field(value, f"{where}.{name}")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise BadEventPayload(f"{where}: {exc}") from exc

    return decode


def _tuple_decoder(inner: object) -> _Decoder:
    def decode(value: object, where: str) -> object:
        if not isinstance(value, list):
            raise BadEventPayload(f"{where}: expected a list")
        each = _decoder(inner)
        return tuple(each(v, f"{where}[{i}]") for i, v in enumerate(value))

    return decode


def _decode_strings(value: object, where: str) -> object:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadEventPayload(f"{where}: expected an object of strings")
    return dict(value)


def _enum_decoder(hint: type[StrEnum]) -> _Decoder:
    def decode(value: object, where: str) -> object:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return hint(value)
        except ValueError:
            allowed = ", ".join(m.value for m in hint)
            raise BadEventPayload(f"{where}: {value!r} is not one of {allowed}") from None

    return decode


def _decode_decimal(value: object, where: str) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadEventPayload(f"{where}: expected a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise BadEventPayload(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise BadEventPayload(f"{where}: {value!r} is not a finite number")
    return result


def _decode_datetime(value: object, where: str) -> object:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise BadEventPayload(f"{where}: {value!r} is not an ISO date-time") from None


def _decode_date(value: object, where: str) -> object:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BadEventPayload(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _decode_bool(value: object, where: str) -> object:
    if not isinstance(value, bool):
        raise BadEventPayload(f"{where}: expected true or false")
    return value


def _decode_int(value: object, where: str) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadEventPayload(f"{where}: expected an integer")
    return value


def _decode_str(value: object, where: str) -> object:
    if not isinstance(value, str):
        raise BadEventPayload(f"{where}: expected a string")
    return value


_SIMPLE_DECODERS: dict[object, _Decoder] = {
    Decimal: _decode_decimal,
    dt.datetime: _decode_datetime,
    dt.date: _decode_date,
    bool: _decode_bool,
    int: _decode_int,
    str: _decode_str,
}

"""The advanced mapping: a small declarative list of edits of the estimate request JSON.

Seed 002 asks for "JSON/node mapping tweaks" and "advanced mapping to shape estimate requests
(parts/processes and configurable mapping code)". esd keeps that code declarative, in the
config, checked by `esd check-config`: an array of tables, run in order after the simple
mapping (`estimate_request`), each one of

    op = "set"             path, value          put `value` (any TOML/JSON value) at `path`
    op = "copy"            path, from[, default] put an order field at `path` (sources below);
                                                when the field is empty, `default` if given,
                                                else the request is left as it was
    op = "append_process"  process[, path]      append `process` (a table of Tharstern process
                                                fields, e.g. {ProcessTypeID = 12}) to the list
                                                at `path`; default "Processes" (the product's)
    op = "remove"          path                 take out what is at `path` (nothing: no change)

Paths are `json_paths` paths (`Parts[Name=Cover].PaperCode`). Sources of `copy`:

    order.<field>          an `Order` field: order_number, order_id, site, site_name,
                           order_date, requested_ship_date, notes, subtotal, shipping, tax,
                           total, payment
    user.<field>           a `SiteUser` field (email, first_name, integration_id, ...)
    bill_to.<field>        an `Address` field of the bill-to address
    item.<field>           an `OrderItem` field: seq, item_id, product_name, quantity, price,
                           tax, shipping_cost, sku, po_number, notes, pricing_details, ...
    ship_to.<field>        an `Address` field of the item's ship-to address
    item.attributes.<name> the item's attribute `<name>` (all the rest, dots and spaces too)

Values copied: text stays text, whole numbers stay numbers, money becomes a JSON number, dates
ISO text. Every problem names the operation's index and key (`operations[2].path`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Literal

from daemon.errors import BusinessRuleError, cut, quoted
from daemon.orders.model import Address, Order, OrderItem, SiteUser
from daemon.providers.tharstern import json_paths
from daemon.providers.tharstern.json_paths import MISSING, JsonPath, PathError

__all__ = [
    "OPERATIONS",
    "Operation",
    "apply_operations",
    "operation_problems",
    "parse_operations",
    "source_problem",
    "source_value",
]

OpName = Literal["set", "copy", "append_process", "remove"]
#: the operations and the keys each takes (besides `op`)
OPERATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "set": ("path", "value"),
    "copy": ("path", "from", "default"),
    "append_process": ("path", "process"),
    "remove": ("path",),
}
_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "set": ("path", "value"),
    "copy": ("path", "from"),
    "append_process": ("process",),
    "remove": ("path",),
}
_DEFAULT_PROCESS_LIST: Final = "Processes"
_ATTRIBUTES: Final = "item.attributes."
_SOURCE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "order": tuple(
        f.name for f in dataclasses.fields(Order) if f.name not in ("items", "user", "bill_to")
    ),
    "user": tuple(f.name for f in dataclasses.fields(SiteUser) if f.name != "address"),
    "bill_to": tuple(f.name for f in dataclasses.fields(Address)),
    "item": tuple(
        f.name
        for f in dataclasses.fields(OrderItem)
        if f.name not in ("ship_to", "attributes", "kit_children")
    ),
    "ship_to": tuple(f.name for f in dataclasses.fields(Address)),
}

Problems = list[tuple[str, str]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One checked operation; `index` is its place in the list, for error messages."""

    index: int
    op: OpName
    path: JsonPath
    value: object = None
    source: str = ""
    default: object = MISSING

    def describe(self) -> str:
        """E.g. "operation 2 (set Parts[0].Pages)"."""
        return f"operation {self.index} ({self.op} {self.path})"


def operation_problems(value: object, key: str = "operations") -> Problems:
    """Everything wrong with an operations list, as (key path, message) pairs."""
    return parse_operations(value, key)[1]


def parse_operations(
    value: object, key: str = "operations"
) -> tuple[tuple[Operation, ...], Problems]:
    """The operations as written under `key` (an array of tables), and their problems."""
    if value is None:
        return (), []
    if not isinstance(value, list | tuple):
        return (), [
            (key, "expected an array of tables, each with op = set, copy, append_process or remove")
        ]
    operations: list[Operation] = []
    problems: Problems = []
    for index, entry in enumerate(value):
        at = f"{key}[{index}]"
        operation = _operation(index, entry, at, problems)
        if operation is not None:
            operations.append(operation)
    return tuple(operations), problems


def source_problem(source: object) -> str | None:
    """What is wrong with a `copy` source, or None when esd can read it."""
    if not isinstance(source, str) or not source.strip():
        return f"expected an order field such as order.order_number, got {quoted(source)}"
    text = source.strip()
    if text.startswith(_ATTRIBUTES):
        return None if text[len(_ATTRIBUTES) :] else "names no attribute after item.attributes."
    family, _, name = text.partition(".")
    fields = _SOURCE_FIELDS.get(family)
    if fields is None:
        known = ", ".join(f"{f}." for f in (*_SOURCE_FIELDS, "item.attributes"))
        return f"{quoted(text)}: the source must start with {known}"
    if name not in fields:
        return f"{quoted(text)}: {family} has no field {quoted(name)} (known: {', '.join(fields)})"
    return None


def source_value(order: Order, item: OrderItem, source: str) -> object:
    """The JSON value of a (checked) `copy` source for this item; `MISSING` when it is empty."""
    if source.startswith(_ATTRIBUTES):
        wanted = source[len(_ATTRIBUTES) :]
        found = item.attributes.get(wanted)
        if found is None:  # attribute names are matched case-insensitively as a fallback
            folded = wanted.casefold()
            found = next((v for k, v in item.attributes.items() if k.casefold() == folded), None)
        return found if found else MISSING
    family, _, name = source.partition(".")
    holder: object = {
        "order": order,
        "user": order.user,
        "bill_to": order.bill_to,
        "item": item,
        "ship_to": item.ship_to,
    }[family]
    return _json_scalar(getattr(holder, name))


def apply_operations(
    request: Mapping[str, Any], operations: Sequence[Operation], order: Order, item: OrderItem
) -> dict[str, Any]:
    """`request` edited by `operations` in order; a new document (the input is not changed).

    An operation that cannot be applied to this request (e.g. `Parts[3]` in a product type
    with two parts) is a `BusinessRuleError` naming the operation, its path and the item.
    """
    result = dict(request)
    for operation in operations:
        try:
            result = _apply(result, operation, order, item)
        except PathError as exc:
            raise BusinessRuleError(
                f"order {order.order_number} item {item.seq}: advanced mapping "
                f"{operation.describe()}: {exc}"
            ) from None
    return result


# -- reading ------------------------------------------------------------------------------------


def _operation(index: int, entry: object, at: str, problems: Problems) -> Operation | None:
    if not isinstance(entry, Mapping):
        problems.append((at, "expected a table with op and path"))
        return None
    name = entry.get("op")
    if not isinstance(name, str) or name not in OPERATIONS:
        problems.append(
            (f"{at}.op", f"expected one of {', '.join(OPERATIONS)}, got {quoted(name)}")
        )
        return None
    allowed = ("op", *OPERATIONS[name])
    count = len(problems)
    for extra in sorted(str(k) for k in entry if k not in allowed):
        problems.append(
            (f"{at}.{cut(extra)}", f"not a key of {name} (its keys: {', '.join(allowed)})")
        )
    for needed in _REQUIRED[name]:
        if needed not in entry:
            problems.append((f"{at}.{needed}", f"required by {name}"))
    if len(problems) > count:
        return None
    path_text = entry.get("path", _DEFAULT_PROCESS_LIST if name == "append_process" else None)
    try:
        path = json_paths.parse_path(path_text)
    except PathError as exc:
        problems.append((f"{at}.path", str(exc)))
        return None
    if any(s.append for s in path.segments):
        problems.append((f"{at}.path", "Name[] is not needed here: append_process appends"))
        return None
    if name == "set":
        problem = _json_problem(entry["value"])
        if problem:
            problems.append((f"{at}.value", problem))
            return None
        return Operation(index, "set", path, value=_plain(entry["value"]))
    if name == "copy":
        problem = source_problem(entry["from"])
        if problem:
            problems.append((f"{at}.from", problem))
            return None
        default: object = MISSING
        if "default" in entry:
            problem = _json_problem(entry["default"])
            if problem:
                problems.append((f"{at}.default", problem))
                return None
            default = _plain(entry["default"])
        return Operation(index, "copy", path, source=str(entry["from"]).strip(), default=default)
    if name == "append_process":
        if path.segments[-1].index is not None or path.segments[-1].match is not None:
            problems.append(
                (f"{at}.path", "must name a list of processes (e.g. Parts[0].Processes)")
            )
            return None
        process = entry["process"]
        if not isinstance(process, Mapping) or not process:
            problems.append(
                (f"{at}.process", "expected a table of process fields, e.g. {ProcessTypeID = 12}")
            )
            return None
        problem = _json_problem(process)
        if problem:
            problems.append((f"{at}.process", problem))
            return None
        return Operation(index, "append_process", path, value=_plain(process))
    return Operation(index, "remove", path)


def _json_problem(value: object, depth: int = 0) -> str | None:
    if depth > 20:
        return "nested too deeply (more than 20 levels)"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return f'{value.isoformat()!r}: write dates as text, e.g. "2024-06-05"'
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, list | tuple):
        return next((p for v in value if (p := _json_problem(v, depth + 1))), None)
    if isinstance(value, Mapping):
        return next((p for v in value.values() if (p := _json_problem(v, depth + 1))), None)
    return f"{type(value).__name__} is not a JSON value"


def _plain(value: object) -> object:
    """A TOML value as plain JSON data (tables from a read-only config become dicts)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- applying -----------------------------------------------------------------------------------


def _apply(
    request: dict[str, Any], operation: Operation, order: Order, item: OrderItem
) -> dict[str, Any]:
    if operation.op == "set":
        return json_paths.write(request, operation.path, operation.value)
    if operation.op == "copy":
        value = source_value(order, item, operation.source)
        if value is MISSING:
            value = operation.default
        if value is MISSING:
            return request
        return json_paths.write(request, operation.path, value)
    if operation.op == "append_process":
        target = json_paths.read(request, operation.path)
        if target is not MISSING and not isinstance(target, list):
            raise PathError(f"{operation.path} is not a list")
        last = dataclasses.replace(operation.path.segments[-1], append=True)
        appended = JsonPath(operation.path.text, (*operation.path.segments[:-1], last))
        return json_paths.write(request, appended, operation.value)
    return json_paths.remove(request, operation.path)


def _json_scalar(value: object) -> object:
    if value is None or value == "":
        return MISSING
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json_scalar(v) for v in value]
    return str(value)

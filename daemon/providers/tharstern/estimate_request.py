"""An estimate item as Tharstern's estimate request, and the job made from its estimate.

Infigo: "Infigo retrieves a sample estimate request from Tharstern with default values ... we
overwrite certain parts of that estimate then return it to Tharstern" (reference §1.8); seed 002:
"map ... attributes to Tharstern estimate structures", "optionally use advanced mapping to shape
estimate requests (parts/processes and configurable mapping code)". So `estimate_request` starts
from the example of the item's product type (`GET EstRequest/{productType}/Example`, its
`Details`) and, on a copy (the example is fetched once and used for many items), writes in turn:

1. what every request needs (names in `guesses`): ProductTypeId, Title "<order>-<seq>
   <product>", Quantity (the item's), RequiredDateTime (`dispatch_date`, dd-MMM-yy),
   Customer.Code, DeliveryCustomer.Code (when the I/O half made a delivery address), Ref1 (the
   item's push reference, `estimate_reference`: what finds an estimate a lost answer made) and
   Ref2 (the order number); TotalPrice when a price is sent (`pricing`);
2. the simple attribute mapping of the item's product rule (`product_map`), rule by rule in
   the order written: paper code, GSM, pages, colours of the chosen part, the quantity, and a
   finishing process appended to the product's (or the part's) Processes;
3. the account's `operations`, then the product rule's own (`estimate_operations`).

Anything the example cannot take (a part index or name it does not have, "value" for pages on
an attribute value that is not a number) is a `BusinessRuleError` naming the order, the item
and the rule (`products[0].attributes[1]`), not a silently different estimate.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from daemon.errors import BusinessRuleError, quoted
from daemon.orders.model import Order, OrderItem
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern import json_paths
from daemon.providers.tharstern.dispatch_date import estimate_date_text
from daemon.providers.tharstern.estimate_operations import apply_operations
from daemon.providers.tharstern.json_paths import JsonPath, PathError
from daemon.providers.tharstern.pricing import money
from daemon.providers.tharstern.product_map import FROM_VALUE, AttributeRule, NumberSetting
from daemon.providers.tharstern.product_routing import EstimateItem
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = [
    "estimate_reference",
    "estimate_request",
    "estimate_title",
    "job_from_estimate",
]

_WHOLE: Final = re.compile(r"\s*\d+\s*")
_PATHS: Final[dict[str, JsonPath]] = {}


def estimate_reference(reference: str, seq: int) -> str:
    """The push reference of one item's estimate (and job): the order's reference and the
    item's sequence number, so each item's estimate is found again on its own."""
    return f"{reference}/{seq}"


def estimate_title(order: Order, item: OrderItem) -> str:
    """The estimate's title: "<order number>-<item seq> <product name>"."""
    return f"{order.order_number}-{item.seq} {item.product_name}".strip()


def estimate_request(
    example: Mapping[str, Any],
    order: Order,
    entry: EstimateItem,
    settings: TharsternSettings,
    *,
    customer_code: str,
    reference: str,
    required_date: dt.date,
    price: Decimal | None = None,
    delivery_code: str = "",
) -> dict[str, Any]:
    """The estimate request JSON for one estimate item (steps in the module docstring); a new
    document: `example` is not changed. `reference` is the order's push reference; `price` is
    `pricing.item_price(...)` (None: no price sent)."""
    item = entry.item
    base: list[tuple[str, object]] = [
        (g.ESTIMATE_PRODUCT_TYPE, entry.product_type),
        (g.ESTIMATE_TITLE, estimate_title(order, item)),
        (g.ESTIMATE_QUANTITY, item.quantity),
        (g.ESTIMATE_REQUIRED_DATE, estimate_date_text(required_date)),
        (g.ESTIMATE_CUSTOMER_CODE, customer_code),
        (g.ESTIMATE_REF_PUSH, estimate_reference(reference, item.seq)),
        (g.ESTIMATE_REF_ORDER, order.order_number),
    ]
    if delivery_code:
        base.append((g.ESTIMATE_DELIVERY_CODE, delivery_code))
    if price is not None:
        base.append((g.ESTIMATE_TOTAL_PRICE, money(price)))
    request = json_paths.write_all(example, [(_path(path), value) for path, value in base])
    for rule in entry.rule.attributes:
        value = rule.applies_to(item.attributes)
        if value is not None:
            request = _apply_attribute(request, rule, value, order, item)
    request = apply_operations(request, settings.operations, order, item)
    return apply_operations(request, entry.rule.operations, order, item)


def job_from_estimate(
    estimate_id: int, reference: str, order: Order, seq: int, settings: TharsternSettings
) -> dict[str, Any]:
    """The `job/createfromestimate` body: the estimate, the item's push reference and the
    order number as references, and the production-ready and workflow flags of the settings
    ([CODE] ROIOrders sends both true)."""
    return {
        g.JOB_ESTIMATE_ID: estimate_id,
        g.JOB_REF_PUSH: estimate_reference(reference, seq),
        g.JOB_REF_ORDER: order.order_number,
        g.JOB_PRODUCTION_READY: settings.production_ready,
        g.JOB_SUBMIT_TO_WORKFLOW: settings.submit_to_workflow,
    }


# -- the simple attribute mapping ---------------------------------------------------------------


def _apply_attribute(
    request: dict[str, Any], rule: AttributeRule, value: str, order: Order, item: OrderItem
) -> dict[str, Any]:
    where = f"order {order.order_number} item {item.seq}: {rule.where or 'attribute rule'}"
    part = _part_path(request, rule, where)
    edits: list[tuple[JsonPath, object]] = []
    if rule.paper_code is not None:
        edits.append((_under(part, g.PART_PAPER_CODE), rule.paper_code))
    if rule.gsm is not None:
        edits.append((_under(part, g.PART_GSM), rule.gsm))
    pages = _number(rule.pages, value, where, "pages")
    if pages is not None:
        edits.append((_under(part, g.PART_PAGES), pages))
    front = _number(rule.front_colours, value, where, "front_colours")
    if front is not None:
        edits.append((_under(part, g.PART_FRONT_COLOURS), str(front)))
    back = _number(rule.back_colours, value, where, "back_colours")
    if back is not None:
        edits.append((_under(part, g.PART_BACK_COLOURS), str(back)))
    quantity = _number(rule.quantity, value, where, "quantity")
    if quantity is not None:
        edits.append((_path(g.ESTIMATE_QUANTITY), quantity))
    if rule.process is not None:
        process: dict[str, object] = {g.PROCESS_TYPE_ID: rule.process.process_type_id}
        if rule.process.cost_centre_id is not None:
            process[g.PROCESS_COST_CENTRE_ID] = rule.process.cost_centre_id
        if rule.process.outwork_id is not None:
            process[g.PROCESS_OUTWORK_ID] = rule.process.outwork_id
        if rule.process.material_code:
            process[g.PROCESS_MATERIAL_CODE] = rule.process.material_code
        if rule.process.value:
            process[g.PROCESS_VALUE] = rule.process.value
        owner = part if rule.process_on_part else None
        edits.append((_under(owner, g.ESTIMATE_PROCESSES + "[]"), process))
    try:
        return json_paths.write_all(request, edits)
    except PathError as exc:
        raise BusinessRuleError(f"{where}: {exc}") from None


def _part_path(request: Mapping[str, Any], rule: AttributeRule, where: str) -> JsonPath | None:
    """The path of the part the rule edits; None when the rule touches no part field."""
    touches_part = (
        rule.paper_code is not None
        or rule.gsm is not None
        or rule.pages is not None
        or rule.front_colours is not None
        or rule.back_colours is not None
        or (rule.process is not None and rule.process_on_part)
    )
    if not touches_part:
        return None
    parts = json_paths.read(request, _path(g.ESTIMATE_PARTS))
    count = len(parts) if isinstance(parts, list) else 0
    if isinstance(rule.part, int):
        if rule.part >= count:
            raise BusinessRuleError(
                f"{where}: part {rule.part} is not in the example estimate request of this "
                f"product type (it has {count} part{'' if count == 1 else 's'})"
            )
        return _path(f"{g.ESTIMATE_PARTS}[{rule.part}]")
    names = [
        str(p.get(g.PART_NAME, "")) if isinstance(p, Mapping) else ""
        for p in (parts if isinstance(parts, list) else [])
    ]
    wanted = rule.part.strip().casefold()
    for index, name in enumerate(names):
        if name.strip().casefold() == wanted:
            return _path(f"{g.ESTIMATE_PARTS}[{index}]")
    raise BusinessRuleError(
        f"{where}: no part named {quoted(rule.part)} in the example estimate request "
        f"(its parts: {', '.join(quoted(n) for n in names) or 'none'})"
    )


def _number(setting: NumberSetting, value: str, where: str, name: str) -> int | None:
    if setting is None:
        return None
    if setting == FROM_VALUE:
        if not _WHOLE.fullmatch(value):
            raise BusinessRuleError(
                f"{where}: {name} is the attribute's value, and {quoted(value)} is not a whole "
                "number"
            )
        return int(value)
    return int(setting)


def _under(parent: JsonPath | None, child: str) -> JsonPath:
    if parent is None:
        return _path(child)
    return json_paths.parse_path(f"{parent.text}.{child}")


def _path(text: str) -> JsonPath:
    path = _PATHS.get(text)
    if path is None:
        path = _PATHS[text] = json_paths.parse_path(text)
    return path

"""Which path each item of an order takes into Tharstern: a sales-order stock line, or an estimate
request that becomes a job (issue 14: "Two paths, chosen per product").

- A product rule (`product_map`) that matches the item decides: `stock_item` -> a stock line of
  that Tharstern product code; `product_type` -> an estimate item of that product type.
- No rule, and `stock_from_sku` (default on): an item with a part number is the Tharstern stock
  product of that code. Seed 000: the import brings "the Tharstern product name, the item #" and
  "Item # is mapped to both the private and public product number fields in Pressero"; the
  Aleyant cXML page: "type the Tharstern product code inside the Pressero product page,
  Integration ID field". So the item's SKU is tried first, then its product integration id.
- Nothing: a `BusinessRuleError` naming the item and its product (an operator must map it).
- Denied and cancelled items are excluded (`daemon.orders.push_rules.pushable_items`), as for
  Pace: they are never routed, whatever the caller passes.

Pure: the stock line's numeric Tharstern id (`StockItemID`) is the I/O half's look-up
(`GET products?productCode=`); here a stock line carries the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from daemon.errors import BusinessRuleError, quoted
from daemon.orders.model import Order, OrderItem
from daemon.orders.push_rules import pushable_items
from daemon.providers.tharstern.product_map import ProductRule
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = ["EstimateItem", "Routes", "StockLine", "matching_rule", "route_items"]


@dataclasses.dataclass(frozen=True, slots=True)
class StockLine:
    """An item sent as a line of a sales order: the Tharstern product code and quantity."""

    item: OrderItem
    stock_code: str
    #: the rule that routed it; None when it came by its part number (`stock_from_sku`)
    rule: ProductRule | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EstimateItem:
    """An item sent as an estimate request of a product type, then made a job."""

    item: OrderItem
    product_type: int
    rule: ProductRule


@dataclasses.dataclass(frozen=True, slots=True)
class Routes:
    """The pushable items of one order, split by path, each in sequence order."""

    stock: tuple[StockLine, ...] = ()
    estimates: tuple[EstimateItem, ...] = ()

    @property
    def seqs(self) -> tuple[int, ...]:
        """Every routed item's sequence number, in order."""
        return tuple(
            sorted([s.item.seq for s in self.stock] + [e.item.seq for e in self.estimates])
        )


def product_keys(item: OrderItem) -> tuple[str, ...]:
    """What a rule's `product` is compared with: integration id, SKU, product name."""
    return (item.product_integration_id, item.sku, item.product_name)


def matching_rule(item: OrderItem, rules: Sequence[ProductRule]) -> ProductRule | None:
    """The rule for this item: the matching one with the most variant conditions, the first
    written between equals; None when no rule matches."""
    keys = product_keys(item)
    best: ProductRule | None = None
    for rule in rules:
        if rule.matches(keys, item.attributes) and (
            best is None or len(rule.variant) > len(best.variant)
        ):
            best = rule
    return best


def route_items(order: Order, items: Sequence[OrderItem], settings: TharsternSettings) -> Routes:
    """Route the pushable (neither denied nor cancelled) `items` of `order`.

    `BusinessRuleError` when no item is left, or when an item has no route (naming it).
    """
    pushable = pushable_items(items)
    if not pushable:
        raise BusinessRuleError(
            f"order {order.order_number}: no item to send to Tharstern (all denied or cancelled)"
        )
    stock: list[StockLine] = []
    estimates: list[EstimateItem] = []
    for item in pushable:
        rule = matching_rule(item, settings.products)
        if rule is not None and rule.product_type is not None:
            estimates.append(EstimateItem(item, rule.product_type, rule))
        elif rule is not None:
            stock.append(StockLine(item, rule.stock_item, rule))
        elif settings.stock_from_sku and (item.sku.strip() or item.product_integration_id.strip()):
            stock.append(StockLine(item, (item.sku or item.product_integration_id).strip()))
        else:
            raise BusinessRuleError(
                f"order {order.order_number} item {item.seq}: product "
                f"{quoted(item.product_name or item.product_integration_id)} is not mapped to "
                "Tharstern: add a products rule (stock_item or product_type)"
                + ("" if settings.stock_from_sku else " or turn stock_from_sku on")
            )
    return Routes(tuple(stock), tuple(estimates))

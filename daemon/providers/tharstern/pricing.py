"""Whether and which storefront price goes to Tharstern (seed 002: "how/when price is sent,
shipping/tax inclusion"; Infigo's "Send price in orderline": Never / Always / with logic).

    price_mode                   the price sent for an item
    none (default)               nothing: Tharstern prices it (seed 000 "Use Tharstern pricing")
    item_price                   the item's price (a line total, as the storefront gives it)
    price_with_tax_and_shipping  the item's price + its tax (with `price_includes_tax`) + its
                                 freight (with `price_includes_shipping`), both on by default;
                                 an item's tax and freight are split from the order's as for
                                 Pace (`daemon.orders.charges`)

`price_stock_items = false` sends no price on stock lines, whose price is Tharstern's static
price list (Infigo's "Send price with logic": do not send when the price came from a static
price list; send when it came from an estimate request). Money is rounded to cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from daemon.orders.charges import ItemCharges
from daemon.orders.model import OrderItem
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = ["item_price", "money"]

_CENT: Final = Decimal("0.01")


def item_price(
    item: OrderItem, charges: ItemCharges, settings: TharsternSettings, *, stock: bool
) -> Decimal | None:
    """The price to send for `item` (rules above); None: send none."""
    if settings.price_mode == "none" or (stock and not settings.price_stock_items):
        return None
    price = item.price
    if settings.price_mode == "price_with_tax_and_shipping":
        if settings.price_includes_tax:
            price += charges.tax
        if settings.price_includes_shipping:
            price += charges.freight
    return price.quantize(_CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> float:
    """A price as the JSON number Tharstern reads (cents exact for any realistic amount)."""
    return float(amount.quantize(_CENT, rounding=ROUND_HALF_UP))

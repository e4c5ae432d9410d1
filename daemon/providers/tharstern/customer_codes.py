"""Which Tharstern customer an order goes under (seed 002: "Correctly assign Tharstern customer
codes at storefront and department level so estimates/orders route under the right Tharstern
'customer'").

The first that applies, in this order:

1. the buyer's department, when `department_codes` maps it (Infigo: "Per-department override:
   Departments -> Connect Link -> ExternalId = the Tharstern customer code"; "A user can belong
   to only one department");
2. the buyer's user groups, when `group_codes` maps one of them (Pressero has user groups
   where Infigo has departments). Several mapped groups with different codes: a business error
   naming them (picking one would route the order to a guessed customer);
3. the site's `customer_code`, else the account's (the "Storefront Customer Code is the fallback
   default");
4. the CustomerCode used for Tharstern products (seed 000).

Names are compared trimmed and case-insensitively; the site's tables are merged over the
account's by `TharsternSettings.with_site` before this runs.

Tharstern cannot create customers through its API (Aleyant: "in the current version of
Tharstern API is not possible for Pressero to create users"), so a code Tharstern does not know
is a business error naming the code and the setting it came from (`missing_customer`): the
operator creates the customer in Tharstern or fixes the mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from daemon.errors import BusinessRuleError, quoted
from daemon.orders.model import Order
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = [
    "CodeSource",
    "CustomerChoice",
    "customer_code_for",
    "customer_for_order",
    "missing_customer",
]

CodeSource = Literal["department", "group", "site", "products"]


@dataclasses.dataclass(frozen=True, slots=True)
class CustomerChoice:
    """The customer code chosen, and why (for messages and the journal)."""

    code: str
    source: CodeSource
    #: the department or group name that mapped it ("" for site / products)
    name: str = ""

    def setting(self) -> str:
        """The setting the code came from, e.g. "department_codes.Marketing"."""
        if self.source == "department":
            return f"department_codes.{self.name}"
        if self.source == "group":
            return f"group_codes.{self.name}"
        if self.source == "site":
            return "customer_code"
        return "products_customer_code"


def customer_code_for(
    settings: TharsternSettings, *, department: str = "", groups: Sequence[str] = ()
) -> CustomerChoice:
    """The customer code for a buyer of this department and these groups (rules above)."""
    wanted = department.strip()
    if wanted and (code := settings.department_codes.get(wanted.casefold())):
        return CustomerChoice(code, "department", wanted)
    mapped: dict[str, str] = {}
    for group in groups:
        name = group.strip()
        code = settings.group_codes.get(name.casefold()) if name else None
        if code:
            mapped.setdefault(code, name)
    if len(mapped) > 1:
        found = ", ".join(f"{quoted(name)} -> {quoted(code)}" for code, name in mapped.items())
        raise BusinessRuleError(
            f"the buyer's user groups map to different Tharstern customers ({found}): map the "
            "buyer's department in department_codes, or keep one of these groups in group_codes"
        )
    if mapped:
        code, name = next(iter(mapped.items()))
        return CustomerChoice(code, "group", name)
    if settings.customer_code:
        return CustomerChoice(settings.customer_code, "site")
    return CustomerChoice(settings.products_customer_code, "products")


def customer_for_order(order: Order, settings: TharsternSettings) -> CustomerChoice:
    """`customer_code_for` the order's buyer; a business error names the order."""
    try:
        return customer_code_for(
            settings, department=order.user.department, groups=order.user.groups
        )
    except BusinessRuleError as exc:
        raise BusinessRuleError(f"order {order.order_number}: {exc.message}") from None


def missing_customer(order: Order, choice: CustomerChoice) -> BusinessRuleError:
    """The error for a customer code Tharstern does not know (`GET customers?customerCode=`
    found nothing): it names the code and the setting it came from."""
    return BusinessRuleError(
        f"order {order.order_number}: Tharstern has no customer {quoted(choice.code)} (from "
        f"{choice.setting()}); Tharstern cannot create customers through its API: create it "
        "in Tharstern or correct the setting"
    )

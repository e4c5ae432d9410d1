"""The push benchmark's targets: one bench profile per provider (`tests.bench.push` runs them).

A target says how to start its sandbox in the bench's child process, which seed operations the
parent may call there, how the sandbox's counters read, the account tables of the config, the
orders pushed (the provider's common case) and the aim (orders/s over the latency-bound limit).
Adding a provider to `make bench` is one more `PushTarget` in `TARGETS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from daemon.orders.model import Address, Approval, Order, OrderItem, Payment, SiteUser
from tests.pace_helpers import contact_fields, pace_account_toml

__all__ = ["TARGETS", "PushTarget", "SandboxControl", "bench_order"]


class SandboxControl(Protocol):
    """The parent's handle on the child's sandbox: one JSON command, one answer."""

    url: str

    def call(self, op: str, **args: Any) -> Any: ...


@dataclasses.dataclass(frozen=True, slots=True)
class PushTarget:
    name: str
    #: (in the child) a new, not yet started sandbox
    make_sandbox: Callable[[], Any]
    #: (in the child) the seed operations the parent may call, by name
    sandbox_ops: Callable[[Any], Mapping[str, Callable[..., Any]]]
    #: (in the child) answer every call `latency_ms` after it arrived
    set_latency: Callable[[Any, int], Any]
    #: (in the child) {"calls": {operation: n}, "answered": {"calls", "seconds"}, "objects": {...}}
    counts: Callable[[Any], dict[str, Any]]
    #: (in the parent) seed what the common case needs, through `SandboxControl.call`
    seed: Callable[[SandboxControl], None]
    #: the config tables of the account and the site "shop" at the sandbox's url
    account_toml: Callable[[str, int], str]
    #: order number, n-th order -> the order pushed
    order: Callable[[str, int], Order]
    scenario: str
    #: orders/s over the latency-bound limit aimed at
    aim: float


def bench_address(k: int) -> Address:
    return Address(
        first_name="Pat",
        last_name=f"Buyer{k}",
        business=f"Bench Customer {k}",
        email=f"buyer{k}@bench.example",
        phone=f"555-01{k:02d}",
        address1=f"{k + 1} Market St",
        city="Springfield",
        state="IL",
        zip="62701",
    )


def bench_order(
    number: str, k: int, products: tuple[tuple[str, int], ...], *, sku: tuple[str, ...] = ()
) -> Order:
    """An approved, paid order of `products` (name, quantity) by the k-th buyer, one address."""
    where = bench_address(k)
    user = SiteUser(
        email=where.email,
        first_name=where.first_name,
        last_name=where.last_name,
        phone=where.phone,
        address=where,
    )
    items = tuple(
        OrderItem(
            seq=seq,
            product_name=name,
            quantity=quantity,
            price=Decimal("25.00"),
            approval=Approval.APPROVED,
            ship_to=where,
            sku=sku[seq - 1] if sku else "",
        )
        for seq, (name, quantity) in enumerate(products, start=1)
    )
    return Order(
        site="shop",
        order_number=number,
        site_name="Print Shop",
        payment=Payment.PAID,
        user=user,
        items=items,
    )


# -- EFI Pace --------------------------------------------------------------------------------------

#: known Pace customers the orders cycle over
PACE_CUSTOMERS = 10
_PACE_LOGIN = "esd"
_PACE_PASSWORD = "bench-pace-pw-7Hq2"


def _pace_sandbox() -> Any:
    from daemon.providers.pace.sandbox import PaceSandbox

    return PaceSandbox(_PACE_LOGIN, _PACE_PASSWORD)


def _pace_counts(sandbox: Any) -> dict[str, Any]:
    state = sandbox.state()
    return {
        "calls": state["calls"],
        "answered": state["answered"],
        "wsdl_fetches": state["wsdl_fetches"],
        "objects": {name: len(rows) for name, rows in state["objects"].items()},
    }


def _pace_seed(sandbox: SandboxControl) -> None:
    """The known customers: each with one contact holding its user's e-mail and address."""
    for k in range(PACE_CUSTOMERS):
        where = bench_address(k)
        customer = f"C{k:03d}"
        sandbox.call(
            "seed_customer", customer_id=customer, cust_name=where.business, email=where.email
        )
        sandbox.call(
            "seed_contact", customer=customer, **contact_fields(where), active=True, shipTo=True
        )


PACE = PushTarget(
    name="pace",
    make_sandbox=_pace_sandbox,
    sandbox_ops=lambda s: {"seed_customer": s.seed_customer, "seed_contact": s.seed_contact},
    set_latency=lambda s, ms: s.set_faults(latency_ms=ms),
    counts=_pace_counts,
    seed=_pace_seed,
    account_toml=lambda url, concurrency: pace_account_toml(
        url,
        _PACE_PASSWORD,
        login=_PACE_LOGIN,
        concurrency=concurrency,
        rate_per_second=10000.0,
        create_customer=False,
    ),
    order=lambda number, n: bench_order(
        number, n % PACE_CUSTOMERS, (("Flyers", 250), ("Business Cards", 500))
    ),
    scenario=(
        f"known customer found by e-mail ({PACE_CUSTOMERS} seeded, each with its address as a "
        "contact); 2 items, one address"
    ),
    aim=0.8,
)


# -- Tharstern -------------------------------------------------------------------------------------

_TH_LOGIN = "esd@bench.example"
_TH_PASSWORD = "bench-th-pw-9Kd3"
#: the objects a Tharstern sandbox holds, counted for `created`
_TH_OBJECTS = ("contacts", "addresses", "orders", "estimates", "jobs", "attachments")


def _tharstern_sandbox() -> Any:
    from daemon.providers.tharstern.sandbox import TharsternSandbox

    return TharsternSandbox(_TH_LOGIN, _TH_PASSWORD)


def _tharstern_counts(sandbox: Any) -> dict[str, Any]:
    state = sandbox.state()
    return {
        "calls": state["calls"],
        "answered": state["answered"],
        "objects": {name: len(state[name]) for name in _TH_OBJECTS},
    }


def _tharstern_toml(url: str, concurrency: int) -> str:
    # No webhook secret: the account is polled, first after 300 s, outside the measured span.
    return f"""
[accounts.tharstern]
provider = "tharstern"
concurrency = {concurrency}
rate_per_second = 10000.0
status_poll_seconds = 300
[accounts.tharstern.credentials]
url = "{url}"
login = "{_TH_LOGIN}"
password = "{_TH_PASSWORD}"
[accounts.tharstern.settings]
products_customer_code = "ESP001"
[[accounts.tharstern.settings.products]]
product = "Flyers"
product_type = 12
[[accounts.tharstern.settings.products]]
product = "Brochures"
product_type = 14
[sites.shop]
name = "Print Shop"
[[sites.shop.activations]]
account = "tharstern"
enable = true
is_live = true
"""


def _tharstern_target(name: str, order: Callable[[str, int], Order], scenario: str) -> PushTarget:
    return PushTarget(
        name=name,
        make_sandbox=_tharstern_sandbox,
        sandbox_ops=lambda s: {},
        set_latency=lambda s, ms: s.set_faults(latency_ms=ms),
        counts=_tharstern_counts,
        seed=lambda sandbox: None,
        account_toml=_tharstern_toml,
        order=order,
        scenario=scenario,
        aim=0.9,  # issue 14
    )


#: the stock path: two stock items (Tharstern product codes as part numbers), one sales order
THARSTERN_STOCK = _tharstern_target(
    "tharstern-stock",
    lambda number, n: bench_order(
        number, n % 10, (("Business cards", 2), ("Letterheads", 1)), sku=("BC-STOCK", "LH-STOCK")
    ),
    "2 stock items, one address: the buyer's contact, a delivery address, one sales order",
)
#: the estimate path: two products of Tharstern product types, an estimate and a job each
THARSTERN_ESTIMATE = _tharstern_target(
    "tharstern-estimate",
    lambda number, n: bench_order(number, n % 10, (("Flyers", 500), ("Brochures", 100))),
    "2 estimate items, one address: the buyer's contact, a delivery address, an estimate and a"
    " job per item",
)

TARGETS: Mapping[str, PushTarget] = {t.name: t for t in (PACE, THARSTERN_STOCK, THARSTERN_ESTIMATE)}

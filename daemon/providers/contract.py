"""The contract every MIS driver implements (Pace over SOAP, Tharstern over REST, PressWise, ...).

A driver is the I/O half of one provider: the daemon hands it the ready items of one order and
gets back external ids, or a classified error. The spine owns retries, timers and state; the
driver owns the conversation with the MIS and makes each create idempotent:

- `push_order` resumes from `journal`: every completed step (customer, job, parts, ...) is
  recorded there by `journal.record` before the next one starts, so a retry after a crash or a
  network error starts at the step that failed. Before creating the top-level object a driver
  looks for one it already made, by `reference` (deterministic per account and order).
- `find_pushed` is the reconciliation at start-up for orders found in `pushing`: what does the
  MIS already hold for this order? Nothing yet → the spine re-pushes.
- Errors: raise `TransientError` (network, 5xx, 429 with retry_after) or `PermanentError`
  (business rules, bad credentials) from `daemon.errors`; anything else is a driver bug and is
  treated as permanent with the traceback kept.

Capabilities are declared, not probed, so the operator and the spine know what to schedule:
PressWise has no status feed (manual sync only), Tharstern pushes status by webhook, Pace is
polled; Tharstern and PressWise supply products, Pace does not; Tharstern prices live.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from daemon.errors import ConfigError, ConfigProblem
from daemon.orders.model import Order, OrderItem

__all__ = [
    "Capabilities",
    "CategoryRecord",
    "ConnectionReport",
    "Driver",
    "ImportKind",
    "ItemRef",
    "JudgedWebhook",
    "LineStatus",
    "PriceRecord",
    "ProductRecord",
    "PushJournal",
    "PushResult",
    "StatusMode",
    "StatusReport",
    "StockRecord",
    "WebhookJudge",
    "WebhookRejection",
    "check_account",
    "push_reference",
]


class StatusMode(StrEnum):
    """How job status and tracking come back from the MIS."""

    WEBHOOK = "webhook"  # the MIS calls us (Tharstern subscriptions)
    POLL = "poll"  # we ask on a schedule (Pace)
    MANUAL = "manual"  # only when the operator asks (PressWise)


class ImportKind(StrEnum):
    """What an import batch brings from the MIS into the storefront."""

    PRODUCTS = "products"
    CATEGORIES = "categories"
    PRICES = "prices"
    STOCK = "stock"


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can do; the spine schedules only what is declared here."""

    status: StatusMode
    imports: frozenset[ImportKind] = frozenset()
    live_pricing: bool = False
    #: with `StatusMode.WEBHOOK`: poll too, on the account's `status_poll_seconds`, for lost
    #: webhooks (Tharstern's subscriptions); final statuses stop both
    poll_fallback: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ItemRef:
    """One storefront item as the MIS knows it after a push."""

    item_seq: int
    external_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class PushResult:
    """The MIS objects created (or found) for the pushed items of one order."""

    order_external_id: str
    items: tuple[ItemRef, ...]
    #: things the operator must hear of although the push succeeded (seed 004: an invalid
    #: Customer ID is ignored, and the alert e-mails say so); each becomes one alert
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class StatusReport:
    """MIS status of one pushed item, with tracking numbers when shipped."""

    item_seq: int
    status: str
    tracking: tuple[str, ...] = ()
    shipped_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LineStatus:
    """MIS status of one pushed item as the MIS names it (by the external id esd stored at the
    push): what a status webhook carries, since the MIS knows no storefront item sequence."""

    external_id: str
    status: str
    tracking: tuple[str, ...] = ()
    shipped_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class JudgedWebhook:
    """A status webhook that passed its provider's authentication: stored under `dedupe_key`
    (a redelivery carries the same one and is acknowledged and ignored).

    `problem`: it authenticated but its body could not be read (a payload the provider's parser
    does not know). It is stored all the same, with its body and the problem, and kept as a
    poisoned event that `esd status` counts and `esd events --status poisoned` shows: nothing an
    MIS sent with the right secret is lost to a parser that is wrong."""

    dedupe_key: str
    reports: tuple[LineStatus, ...]
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookRejection:
    """Why a status webhook is refused: the HTTP status (401/403 bad auth, 400 malformed), a
    short reason counted by `esd status`, and a detail that never quotes a secret."""

    status: int
    reason: str
    detail: str


#: (account settings, account credentials, method, lower-cased headers, raw body) -> verdict;
#: pure and sans-IO, so it is unit-tested without sockets
WebhookJudge = Callable[
    [Mapping[str, Any], Mapping[str, str], str, Mapping[str, str], bytes],
    JudgedWebhook | WebhookRejection,
]


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionReport:
    """The answer to "test the connection"."""

    ok: bool
    detail: str
    server_version: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ProductRecord:
    """One MIS product as the storefront import needs it."""

    sku: str
    name: str
    price: Decimal | None = None
    stock: int | None = None
    category_ids: tuple[str, ...] = ()
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class CategoryRecord:
    """One MIS product category."""

    category_id: str
    name: str
    parent_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class PriceRecord:
    """A price for a SKU at a quantity break."""

    sku: str
    quantity: int
    price: Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class StockRecord:
    """On-hand stock for a SKU."""

    sku: str
    on_hand: int


class PushJournal(Protocol):
    """Per-order record of completed push steps, kept by the spine across crashes."""

    def get(self, step: str) -> Mapping[str, Any] | None:
        """Return what `step` produced last time, or None if it never completed."""
        ...

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        """Durably record that `step` completed with `result` (JSON-ready)."""
        ...


def check_account(
    settings_problems: Iterable[tuple[str, str]], credentials_problems: Iterable[tuple[str, str]]
) -> None:
    """Raise `ConfigError` naming every problem (key path, message) of an account's settings
    and credentials, as `settings.KEY` and `credentials.KEY`; return if there is none."""
    problems = [
        ConfigProblem("", f"settings.{key}" if key else "settings", message)
        for key, message in settings_problems
    ] + [ConfigProblem("", f"credentials.{key}", message) for key, message in credentials_problems]
    if problems:
        raise ConfigError(problems)


def push_reference(account: str, site: str, order_number: str) -> str:
    """The deterministic reference a driver writes into the MIS to find its own creates."""
    return f"esd:{account}:{site}:{order_number}"


class Driver(abc.ABC):
    """One configured service account's connection to its MIS."""

    provider: ClassVar[str]
    #: declared per class; a driver whose settings change what it can do (the reference
    #: provider's `status = "webhook"`) sets its own in `__init__`, so read it off the instance
    capabilities: Capabilities
    #: MIS statuses after which an item's status is no longer polled (compared lower-case)
    final_statuses: ClassVar[frozenset[str]] = frozenset(
        {"shipped", "closed", "complete", "completed", "cancelled", "invoiced"}
    )

    def __init__(
        self, account: str, settings: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> None:
        self.account = account
        self.settings = settings
        # Kept apart from `settings` so nothing that logs or shows settings can leak a secret.
        self.credentials = credentials
        #: site key -> that site's activation settings (per-site overrides), set by the daemon
        self.site_settings: Mapping[str, Mapping[str, Any]] = {}

    @abc.abstractmethod
    async def test_connection(self) -> ConnectionReport:
        """Check credentials and reachability without changing anything."""

    @abc.abstractmethod
    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        """Create the order's ready `items` in the MIS, resuming from `journal`."""

    @abc.abstractmethod
    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        """Return what the MIS already holds for this order, or None if nothing complete."""

    async def fetch_status(
        self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
    ) -> Sequence[StatusReport]:
        """Return current MIS status and tracking for pushed items (POLL and MANUAL modes)."""
        raise NotImplementedError(f"{self.provider} does not report status")

    def order_of_item(self, external_id: str) -> str | None:
        """The MIS order an item id belongs to, for items esd adopted (it knows only their
        storefront MisId, not the order); None: this MIS cannot tell, so no status poll."""
        return None

    def fetch_products(self) -> AsyncIterator[Sequence[ProductRecord]]:
        """Yield pages of products (if `ImportKind.PRODUCTS` is declared)."""
        raise NotImplementedError(f"{self.provider} does not supply products")

    def fetch_categories(self) -> AsyncIterator[Sequence[CategoryRecord]]:
        """Yield pages of categories (if `ImportKind.CATEGORIES` is declared)."""
        raise NotImplementedError(f"{self.provider} does not supply categories")

    def fetch_prices(self) -> AsyncIterator[Sequence[PriceRecord]]:
        """Yield pages of prices (if `ImportKind.PRICES` is declared)."""
        raise NotImplementedError(f"{self.provider} does not supply prices")

    def fetch_stock(self) -> AsyncIterator[Sequence[StockRecord]]:
        """Yield pages of stock levels (if `ImportKind.STOCK` is declared)."""
        raise NotImplementedError(f"{self.provider} does not supply stock")

    async def aclose(self) -> None:  # noqa: B027 (a no-op default, not abstract)
        """Release connections."""

"""What every storefront plug-in gives the spine: a driver, a webhook judge, a mapping, site keys.

The storefront side mirrors the MIS side (daemon.providers.contract): the core (engine
handlers, intake, config, the storefront actor) knows only this module and the registry
(daemon.storefronts.registry); each storefront lives in its own folder and declares itself in
one `StorefrontSpec`, the `STOREFRONT` of its driver module.

- `StorefrontDriver`: the I/O of one storefront API connection: read an order (raw answers,
  mapped later by the handler so a malformed answer is kept and replayable), list the recent
  orders (the reconciliation poll), and the write-backs (MisId, status, shipment, note), each
  idempotent: a retry after a lost answer never doubles anything.
- `Judge`: a raw webhook request (site, lower-cased headers, body bytes) becomes an inbox event
  (`Accept`) or a refusal (`Reject`), sans-IO. The event's kind is `WEBHOOK_KIND`; its payload
  carries `provider` (the plug-in's name), `site`, `type` and `order`.
- `order_from_answer`: the raw answer of `read_order` mapped to esd's `Order` (pure).
- Site keys: the keys of a `[sites.X]` table that are the storefront's own (a security key,
  the storefront's id of the site, ...), declared and checked by the plug-in, not the core.
- Credential keys: the keys `[storefronts.NAME.credentials]` must give, and an optional
  check of their values, declared by the plug-in as a provider manifest declares its own.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from daemon.errors import BusinessRuleError

if TYPE_CHECKING:  # the config module reads site keys through the registry: no import cycle
    from daemon.config import Site, Storefront
    from daemon.orders.model import Order
    from daemon.store.inbox import NewEvent

__all__ = [
    "WEBHOOK_KIND",
    "Accept",
    "CredentialsCheck",
    "Judge",
    "OrderMapper",
    "Reject",
    "SiteSettingsReader",
    "StorefrontDriver",
    "StorefrontSpec",
    "legacy_webhook_kind",
]

#: the inbox event kind of every storefront's webhook delivery (payload names the `provider`)
WEBHOOK_KIND = "storefront.webhook"


def legacy_webhook_kind(provider: str) -> str:
    """The kind a provider's webhooks were stored under before `WEBHOOK_KIND` (stores in the
    field hold them: they are still read, as an alias, with the provider taken from the kind)."""
    return f"{provider}.webhook"


@dataclasses.dataclass(frozen=True, slots=True)
class Accept:
    """Store this event, then answer 2xx."""

    event: NewEvent


@dataclasses.dataclass(frozen=True, slots=True)
class Reject:
    """Answer `status`; `reason` is the counter `esd status` shows, `detail` the answer text."""

    status: int
    reason: str
    detail: str


#: (site, headers with lower-cased names, raw body) -> the verdict
Judge = Callable[["Site", Mapping[str, str], bytes], "Accept | Reject"]

#: (raw read_order answer, site key, site name, seqs whose files are ready) -> the order
OrderMapper = Callable[[Mapping[str, Any], str, str, Sequence[int]], "Order"]

#: (site key, the site's storefront keys as written, secrets resolved) ->
#: (the checked settings, with defaults; problems as (key, message), never quoting a secret)
SiteSettingsReader = Callable[
    [str, Mapping[str, Any]], tuple[dict[str, Any], list[tuple[str, str]]]
]

#: the resolved `[storefronts.NAME.credentials]` -> problems as (key, message); a message never
#: quotes a value (every credential may be a secret)
CredentialsCheck = Callable[[Mapping[str, str]], list[tuple[str, str]]]


class StorefrontDriver(abc.ABC):
    """One storefront API connection (a `[storefronts.X]`) for the sites configured under it.

    Errors are `TransientError` (retried with backoff by the lease) or `PermanentError` (an
    alert); each write returns a short text saying what was done, for the `storefront.written`
    event.
    """

    #: the plug-in's name (the registry key, `provider` in the config)
    provider: ClassVar[str]

    @abc.abstractmethod
    def __init__(self, storefront: Storefront, sites: Sequence[Site]) -> None: ...

    @abc.abstractmethod
    async def read_order(self, order_number: str) -> dict[str, Any]:
        """The raw answers that describe the order (JSON-able), for `order_from_answer`."""

    @abc.abstractmethod
    async def list_recent_orders(
        self, start: dt.datetime, end: dt.datetime
    ) -> Mapping[str, list[str]]:
        """Order numbers placed in [start, end], per configured site key."""

    @abc.abstractmethod
    async def write_mis_id(self, order: str, seq: int, mis_id: str) -> str:
        """Set the item's MIS id (idempotent)."""

    @abc.abstractmethod
    async def write_status(self, order: str, seq: int, stage: str, mis_status: str) -> str:
        """Move the item to the storefront stage `stage` (idempotent)."""

    @abc.abstractmethod
    async def add_shipment(self, order: str, seq: int, tracking: Sequence[str]) -> str:
        """Add a shipment for each tracking number the item does not have yet."""

    @abc.abstractmethod
    async def write_note(
        self, order: str, seq: int, text: str, generation: int, kind: str = ""
    ) -> str:
        """Add the note once: `generation` names the request, so a retry finds it written
        (`kind`: failed or pushed, for the answer text)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the connection."""

    async def recent_orders(self, start: dt.datetime, end: dt.datetime) -> Mapping[str, list[str]]:
        """`list_recent_orders` (the name the storefront actor has always called)."""
        return await self.list_recent_orders(start, end)

    async def write(self, data: Mapping[str, Any]) -> str:
        """Do one write-back lease (`op`: mis_id, status, shipment or note); say what was done."""
        order, seq, op = str(data["order"]), int(data["seq"]), str(data["op"])
        if op == "mis_id":
            return await self.write_mis_id(order, seq, str(data["mis_id"]))
        if op == "status":
            return await self.write_status(
                order, seq, str(data["stage"]), str(data.get("mis_status"))
            )
        if op == "shipment":
            tracking = [str(t) for t in data.get("tracking", []) if t]
            return await self.add_shipment(order, seq, tracking)
        if op == "note":
            return await self.write_note(
                order, seq, str(data["text"]), int(data["generation"]), str(data.get("kind"))
            )
        raise BusinessRuleError(f"unknown write-back {op!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class StorefrontSpec:
    """A storefront plug-in as the core sees it."""

    name: str
    driver_class: type[StorefrontDriver]
    judge: Judge
    order_from_answer: OrderMapper
    #: webhook types whose order is read again (other types are stored and logged only)
    fetching_types: frozenset[str]
    #: the webhook type that says an item's files are ready (None: the plug-in has none)
    files_ready_type: str | None
    #: the plug-in's keys in a `[sites.X]` table, and which of them hold a secret
    site_keys: tuple[str, ...]
    secret_site_keys: frozenset[str]
    read_site_settings: SiteSettingsReader
    #: the keys `[storefronts.NAME.credentials]` must give (each a non-empty string)
    credential_keys: tuple[str, ...] = ()
    #: the plug-in's own check of the credentials; None: only `credential_keys` are required
    credentials_problems: CredentialsCheck | None = None
    #: credential keys that identify rather than authenticate (a user name, an account id):
    #: not scrubbed from logs, where a short one would mangle every line
    public_credential_keys: frozenset[str] = frozenset()

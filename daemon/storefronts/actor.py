"""One storefront connection as an actor: reads orders and runs the reconciliation poll.

Like the driver actors it never changes state itself: what it reads goes into the inbox
through `Engine.apply` (the raw answer, mapped by the handler), and its failures come back as
`storefront.fetch_failed` events, whose handler schedules the durable retry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import structlog

from daemon.actors.connection_health import ConnectionHealth
from daemon.actors.mailbox import Mailbox
from daemon.actors.poll_rounds import PollRounds, Round
from daemon.actors.supervisor import Health
from daemon.config import Site, Storefront
from daemon.engine.engine import Engine
from daemon.errors import PermanentError, TransientError
from daemon.events import (
    FetchFailed,
    StorefrontOrder,
    StorefrontPoll,
    StorefrontPollTimer,
    WriteFailed,
    Written,
    kind_of,
    to_payload,
)
from daemon.logs import REDACTOR
from daemon.store.inbox import NewEvent
from daemon.store.timers import ensure_timer
from daemon.storefronts import registry

__all__ = ["Fetch", "PollOrders", "StorefrontActor", "Write"]

log = structlog.get_logger("esd.storefront")


@dataclasses.dataclass(frozen=True, slots=True)
class Fetch:
    """Read one order (for the request with id `generation`)."""

    site: str
    order: str
    generation: int


@dataclasses.dataclass(frozen=True, slots=True)
class PollOrders:
    """Run the reconciliation poll."""


@dataclasses.dataclass(frozen=True, slots=True)
class Write:
    """Write one thing back to the storefront (JSON of the lease's data: op, site, order, ...)."""

    data: str


Message = Fetch | PollOrders | Write


class StorefrontActor:
    """The actor of one `[storefronts.X]`."""

    def __init__(
        self, storefront: Storefront, sites: Sequence[Site], engine: Engine, concurrency: int = 4
    ) -> None:
        self._storefront = storefront
        self._sites = tuple(sites)
        self.engine = engine
        self.driver = registry.driver_class(storefront.provider)(storefront, sites)
        self.health = Health(f"storefront:{storefront.name}")
        alerts = engine.config.alerts
        #: whether the storefront answers (fed by every call of the client's)
        self.connection = ConnectionHealth(
            "storefront",
            storefront.name,
            down_after_seconds=alerts.down_after_seconds,
            down_after_failures=alerts.down_after_failures,
        )
        #: reconciliation polls, numbered, for `esd poll --wait`
        self.poll_rounds = PollRounds()
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._mailbox = Mailbox[Message]()
        self._in_flight: set[tuple[str, str, int]] = set()

    @property
    def storefront(self) -> Storefront:
        """This storefront as the config in force has it (a reload may change its poll
        interval and window)."""
        return self.engine.config.storefronts.get(self._storefront.name, self._storefront)

    @property
    def sites(self) -> tuple[Site, ...]:
        """Its sites as the config in force has them."""
        sites = self.engine.config.sites
        return tuple(sites.get(site.key, site) for site in self._sites)

    def tell(self, message: Message) -> None:
        """Post a message; never blocks."""
        self._mailbox.tell(message)

    def close(self) -> None:
        self._mailbox.close()

    @property
    def queued(self) -> int:
        return self._mailbox.queued

    async def run(self) -> None:
        """The actor's life (restarted by the supervisor after a crash)."""
        self._in_flight.clear()
        await self._ensure_poll_timer()
        async with anyio.create_task_group() as tg:
            async for message in self._mailbox:
                if isinstance(message, Fetch):
                    key = (message.site, message.order, message.generation)
                    if key not in self._in_flight:
                        self._in_flight.add(key)
                        tg.start_soon(self._fetch, message)
                elif isinstance(message, Write):
                    tg.start_soon(self._write, json.loads(message.data))
                else:
                    tg.start_soon(self.poll)

    async def _ensure_poll_timer(self) -> None:
        # The first poll runs at start: it catches what was missed while esd was down.
        async with self.engine.db.transaction() as txn:
            await ensure_timer(
                txn,
                "storefront_poll",
                self.storefront.name,
                self.engine.clock.now(),
                to_payload(StorefrontPollTimer(self.storefront.name)),
            )
        self.engine.notify_timers()

    async def _apply(self, dedupe: str, payload: object, subject: str | None) -> Any:
        """Store and apply one typed payload of this actor's (stored as `to_payload` has it)."""
        return await self.engine.apply_when_stored(
            NewEvent(
                f"storefront:{self.storefront.name}",
                dedupe,
                kind_of(payload),
                to_payload(payload),
                subject,
            )
        )

    async def _fetch(self, message: Fetch) -> None:
        site, order, generation = message.site, message.order, message.generation
        subject = f"{site}/{order}"
        name = self.storefront.name
        try:
            async with self._limiter:
                with self.connection.call("read_order"):
                    raw = await self.driver.read_order(order)
            applied = await self._apply(
                f"{subject}@{generation}",
                StorefrontOrder(name, self.driver.provider, site, order, generation, raw),
                subject,
            )
            if applied.error:
                # The answer is kept (poisoned, raw) for a replay after a fix; stop asking.
                await self._apply(
                    uuid.uuid4().hex,
                    FetchFailed(
                        name,
                        site,
                        order,
                        generation,
                        permanent=True,
                        error=f"answer kept as event {applied.event_id}: {applied.error}",
                    ),
                    subject,
                )
            log.info(
                "storefront.fetched",
                site=site,
                order=order,
                event_id=applied.event_id,
                duplicate=applied.duplicate,
                error=applied.error,
            )
        except (TransientError, PermanentError) as exc:
            await self._apply(
                uuid.uuid4().hex,
                FetchFailed(
                    name,
                    site,
                    order,
                    generation,
                    permanent=isinstance(exc, PermanentError),
                    error=REDACTOR.redact(f"{type(exc).__name__}: {exc}"),
                    retry_after=getattr(exc, "retry_after", None),
                ),
                subject,
            )
        finally:
            self._in_flight.discard((site, order, generation))

    async def _write(self, data: dict[str, Any]) -> None:
        """Do one write-back; report it (or its failure) as an event."""
        subject = f"{data['site']}/{data['order']}"
        # The lease's own fields (`account`: only a note's lease names it).
        lease = (
            data["storefront"],
            data["site"],
            data["order"],
            data["seq"],
            data["op"],
            data["generation"],
            data.get("account"),
        )
        try:
            async with self._limiter:
                with self.connection.call("write"):
                    done = await self.driver.write(data)
            await self._apply(uuid.uuid4().hex, Written(*lease, done=done), subject)
            log.info(
                "storefront.written",
                site=data["site"],
                order=data["order"],
                seq=data["seq"],
                op=data["op"],
                done=done,
            )
        except (TransientError, PermanentError) as exc:
            await self._apply(
                uuid.uuid4().hex,
                WriteFailed(
                    *lease,
                    permanent=isinstance(exc, PermanentError),
                    error=REDACTOR.redact(f"{type(exc).__name__}: {exc}"),
                    retry_after=getattr(exc, "retry_after", None),
                ),
                subject,
            )

    async def poll(self) -> int:
        """List the orders of the rolling window and hand them to the engine, per site."""
        with self.poll_rounds.round() as current:
            current.done = await self._poll(current)
            return current.done

    async def _poll(self, current: Round) -> int:
        end = dt.datetime.fromtimestamp(self.engine.clock.now(), dt.UTC)
        start = end - dt.timedelta(seconds=self.storefront.poll_window_seconds)
        try:
            async with self._limiter:
                with self.connection.call("poll"):
                    found = await self.driver.recent_orders(start, end)
        except (TransientError, PermanentError) as exc:
            # The next poll covers the same window again (it overlaps): nothing is lost.
            error = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
            current.failed(error)
            log.warning("storefront.poll_failed", storefront=self.storefront.name, error=error)
            return 0
        for site in self.sites:
            orders = found.get(site.key, [])
            await self._apply(
                f"{site.key}@{end.isoformat()}",
                StorefrontPoll(
                    self.storefront.name,
                    site.key,
                    tuple(orders),
                    start.isoformat(),
                    end.isoformat(),
                ),
                None,
            )
        log.info(
            "storefront.polled",
            storefront=self.storefront.name,
            orders=sum(len(v) for v in found.values()),
        )
        return sum(len(v) for v in found.values())

"""Prometheus metrics at `GET /metrics` on the webhook listener (prometheus-client).

One `CollectorRegistry` per daemon (never the library's global one), so several daemons can
run in one process (the tests). What is counted where it happens stays a plain integer in its
owner (the webhook app's counters, each connection's calls) and is read at scrape time: the
intake's hot path pays one integer increment, no lock. What the store holds (items by account
and state, inbox depth, poisoned events, timers due) is read from the store at scrape time.
Only the push duration is a library Histogram (observed once per push, far off the intake).

No label or value carries a secret: account, storefront, operation, state and reason names
only (a webhook's rejection reason is one of the judge's fixed words, never request text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from daemon.actors.connection_health import STATE_CODES, ConnectionHealth
from daemon.clock import Clock
from daemon.store import inbox
from daemon.store.database import Database
from daemon.store.items import item_counts
from daemon.store.timers import count_due

__all__ = ["CONTENT_TYPE", "Metrics"]

#: the text exposition format's content type
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: push durations: a SOAP push is several calls, from tens of milliseconds to the deadline
PUSH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The daemon's registry and what fills it."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.push_seconds = Histogram(
            "esd_push_duration_seconds",
            "Duration of one push of an order's ready items to the MIS.",
            ["account"],
            buckets=PUSH_BUCKETS,
            registry=self.registry,
        )
        self._collector = _Collector()
        self.registry.register(self._collector)

    def watch(
        self,
        connections: Sequence[ConnectionHealth],
        webhook_stats: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """Read these connections' calls and states (and the webhook counters) at scrape time."""
        self._collector.connections = list(connections)
        self._collector.webhook_stats = webhook_stats

    def observer(self, account: str) -> Callable[[float], None]:
        """What a driver actor calls with each push's duration in seconds."""
        return self.push_seconds.labels(account=account).observe

    async def scrape(self) -> bytes:
        """Read the store's numbers, then render every metric (the text format)."""
        async with self.db.reading() as reading:
            txn = reading.off_loop()  # counts over every item and event: not on the loop
            items = await item_counts(txn)
            counts = await inbox.count_by_status(txn)
            due = await count_due(txn, self.clock.now())
        self._collector.store = _StoreNumbers(
            items=[(i.account, i.state, i.count) for i in items],
            pending=counts["pending"],
            poisoned=counts["poisoned"],
            timers_due=due,
        )
        return generate_latest(self.registry)


class _StoreNumbers:
    __slots__ = ("items", "pending", "poisoned", "timers_due")

    def __init__(
        self, items: list[tuple[str, str, int]], pending: int, poisoned: int, timers_due: int
    ) -> None:
        self.items = items
        self.pending = pending
        self.poisoned = poisoned
        self.timers_due = timers_due


class _Collector(Collector):
    """The metrics read at scrape time from their owners (and the store snapshot)."""

    def __init__(self) -> None:
        self.connections: list[ConnectionHealth] = []
        self.webhook_stats: Callable[[], Mapping[str, Any]] | None = None
        self.store = _StoreNumbers([], 0, 0, 0)

    def collect(self) -> Iterable[Metric]:
        items = GaugeMetricFamily(
            "esd_items", "Order items by account and state.", labels=["account", "state"]
        )
        for account, state, n in self.store.items:
            items.add_metric([account, state], n)
        yield items
        yield GaugeMetricFamily(
            "esd_inbox_pending", "Inbox events stored, not processed yet.", self.store.pending
        )
        yield GaugeMetricFamily(
            "esd_inbox_poisoned", "Inbox events that failed to process.", self.store.poisoned
        )
        yield GaugeMetricFamily(
            "esd_timers_due", "Durable timers due now and not fired yet.", self.store.timers_due
        )
        if self.webhook_stats is not None:
            stats = self.webhook_stats()
            yield CounterMetricFamily(
                "esd_webhooks_accepted",
                "Webhook deliveries stored in the inbox (duplicates not included).",
                stats.get("accepted", 0),
            )
            yield CounterMetricFamily(
                "esd_webhooks_duplicates",
                "Webhook deliveries answered 200 as duplicates of a stored one.",
                stats.get("duplicates", 0),
            )
            rejected = CounterMetricFamily(
                "esd_webhooks_rejected", "Webhook requests rejected, by reason.", labels=["reason"]
            )
            for reason, n in sorted(dict(stats.get("rejections", {})).items()):
                rejected.add_metric([reason], n)
            yield rejected
        calls = {
            "mis": CounterMetricFamily(
                "esd_mis_calls",
                "Calls to the MIS by account, operation and outcome.",
                labels=["account", "operation", "outcome"],
            ),
            "storefront": CounterMetricFamily(
                "esd_storefront_calls",
                "Calls to the storefront by storefront, operation and outcome.",
                labels=["storefront", "operation", "outcome"],
            ),
        }
        states = GaugeMetricFamily(
            "esd_connection_state",
            "Connection state: 0 ok, 1 degraded, 2 down.",
            labels=["kind", "name"],
        )
        for connection in self.connections:
            for (operation, outcome), n in sorted(connection.calls.items()):
                calls[connection.kind].add_metric([connection.name, operation, outcome], n)
            states.add_metric([connection.kind, connection.name], STATE_CODES[connection.state])
        yield from calls.values()
        yield states

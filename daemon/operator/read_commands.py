"""The operator commands that read: status, order, why, list, events, event."""

from __future__ import annotations

import os
import time
from typing import Any

from daemon import __version__
from daemon.clock import iso
from daemon.engine.context import order_subject
from daemon.errors import (
    NotFound,
    OperatorProtocolError,
    unknown_name,
)
from daemon.operator.command_base import CommandBase, Progress, arg, event_summary, optional_str
from daemon.orders.push_rules import evaluate
from daemon.store import inbox
from daemon.store.alerts import alert_mail_counts
from daemon.store.items import count_items, find_items, item_accounts, item_counts, items_of_order
from daemon.store.orders import (
    order_stored,
    stored_order,
    stored_sites,
)
from daemon.store.timers import next_timer
from daemon.store.transitions import (
    item_trace,
)


class ReadCommands(CommandBase):
    """The commands that only read: straight from the store."""

    async def ping(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return {"pong": True}

    async def status(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        extra = self._status_extra()
        accounts: dict[str, Any] = {}
        async with self.db.reading() as reading:
            txn = reading.off_loop()  # counts over every item and event: not on the loop
            item_numbers = await item_counts(txn)
            counts = await inbox.count_by_status(txn)
            mail_counts = await alert_mail_counts(txn)
            upcoming = await next_timer(txn)
        for name, account in self.engine.config.accounts.items():
            accounts[name] = {
                "provider": account.provider,
                "environment": account.environment,  # test or live: whose credentials
                "states": {},
                "actor": extra.get("actors", {}).get(
                    name,
                    {
                        "health": "stopped",
                        "restarts": 0,
                        "last_error": None,
                        "in_flight": 0,
                        "queued": 0,
                    },
                ),
            }
        for number in item_numbers:
            entry = accounts.setdefault(
                number.account, {"provider": "?", "states": {}, "actor": None}
            )
            entry["states"][number.state] = number.count
        return {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": iso(self.started_at),
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "accounts": accounts,
            "inbox": {
                "pending": counts["pending"],
                "poisoned": counts["poisoned"],
                "processed_since_start": self.engine.processed,
                "total": sum(counts.values()),
            },
            "retries_rearmed_since_start": self.engine.rearmed,
            "next_timer": None
            if upcoming is None
            else {
                "due_at": iso(upcoming.due_at),
                "kind": upcoming.kind,
                "subject": upcoming.subject,
            },
            "rejections": dict(extra.get("rejections", {})),
            "storefronts": dict(extra.get("storefronts", {})),
            "alerts": {
                "total": sum(mail_counts.values()),
                **{f"mail_{status}": n for status, n in mail_counts.items()},
            },
            "webhooks": extra.get("webhooks"),
            "store": extra.get("store"),
            "config": extra.get("config"),
            "connections": dict(extra.get("connections", {})),
        }

    async def order(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args, from_events=True)
            stored = await order_stored(txn, site, order_number)
            items = await items_of_order(txn, site, order_number)
            by_id = {i.id: i for i in items}
            trace = await item_trace(txn, list(by_id))
            events = await inbox.list_events(
                txn, subject=order_subject(site, order_number), limit=500
            )
        return {
            "site": site,
            "order": order_number,
            "stored": stored,
            "items": [
                {
                    "seq": i.seq,
                    "account": i.account,
                    "state": i.state,
                    "adopted": i.adopted,
                    "external_id": i.external_id,
                    "order_external_id": i.order_external_id,
                    "last_error": i.last_error,
                    "reasons": list(i.reasons),
                    "mis_status": i.mis_status,
                    "tracking": list(i.tracking),
                    "attempts": i.attempts,
                    "next_retry_at": iso(i.next_retry_at),
                    "updated_at": iso(i.updated_at),
                }
                for i in items
            ],
            "trace": [
                {
                    "at": iso(t.at),
                    "seq": by_id[t.subject_id].seq,
                    "account": by_id[t.subject_id].account,
                    "from": t.from_state,
                    "to": t.to_state,
                    "trigger": t.trigger,
                    "event_id": t.event_id,
                    "reason": t.reason,
                }
                for t in trace
            ],
            "events": [
                {
                    "id": e.id,
                    "source": e.source,
                    "kind": e.kind,
                    "status": e.status,
                    "received_at": iso(e.received_at),
                    "error": e.error,
                }
                for e in reversed(events)
            ],
        }

    async def why(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args, from_events=True)
            items = await items_of_order(txn, site, order_number)
            stored = await stored_order(txn, site, order_number)
            poisoned = await inbox.list_events(
                txn, status="poisoned", subject=order_subject(site, order_number), limit=100
            )
        decision = evaluate(stored) if stored is not None else None
        answer = []
        for item in items:
            reasons = list(item.reasons)
            if item.state in ("failed", "retrying") and item.last_error:
                reasons = [item.last_error]
            elif decision is not None and item.state == "pending":
                reasons = list(decision.held.get(item.seq, reasons))
            answer.append(
                {"seq": item.seq, "account": item.account, "state": item.state, "reasons": reasons}
            )
        if not items:
            site_cfg = self.engine.config.sites.get(site)
            if site_cfg is not None and not site_cfg.live_accounts():
                answer.append(
                    {
                        "seq": 0,
                        "account": "",
                        "state": "-",
                        "reasons": [f"site {site} has no live account (Enable + IsLive)"],
                    }
                )
        return {
            "site": site,
            "order": order_number,
            "stored": stored is not None,
            "items": answer,
            # Events that failed to apply: nothing they asked for happened.
            "poisoned": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "error": e.error,
                    "received_at": iso(e.received_at),
                }
                for e in reversed(poisoned)
            ],
        }

    async def list_items(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        state = optional_str(args, "state")
        states = self.engine.charts.order_item.states
        if state is not None and state not in states:
            raise unknown_name("state", state, states)
        async with self.db.reading() as txn:
            if args.get("site") is not None:
                known_sites = {*self.engine.config.sites, *await stored_sites(txn)}
                site = optional_str(args, "site")
                if site not in known_sites:
                    raise unknown_name("site", str(site), known_sites)
            if args.get("account") is not None:
                self._account_arg(args, await item_accounts(txn))
        filters = {key: optional_str(args, key) for key in ("state", "site", "account")}
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        async with self.db.reading() as reading:
            txn = reading.off_loop()  # a count (and up to 10,000 rows): not on the loop
            total = await count_items(txn, **filters)
            found = await find_items(txn, **filters, limit=limit)
        return {
            "items": [
                {
                    "site": i.site,
                    "order": i.order_number,
                    "seq": i.seq,
                    "account": i.account,
                    "state": i.state,
                    "updated_at": iso(i.updated_at),
                    "last_error": i.last_error,
                }
                for i in found
            ],
            "total": total,
        }

    async def events(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        status = optional_str(args, "status")
        if status is not None and status not in ("pending", "done", "poisoned"):
            raise unknown_name("event status", status, ("pending", "done", "poisoned"))
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        async with self.db.reading() as txn:
            records = await inbox.list_events(txn, status=status, limit=limit)
        return {"events": [event_summary(e) for e in records]}

    async def event(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        event_id = arg(args, "id", int)
        async with self.db.reading() as txn:
            record = await inbox.get_event(txn, event_id)
        if record is None:
            raise NotFound(f"no event {event_id}")
        return {
            **event_summary(record),
            "payload": record.payload,
            "traceback": record.traceback,
            "subject": record.subject,
            "processed_at": iso(record.processed_at),
        }

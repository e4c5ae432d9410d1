"""The daemon's answers to operator commands (shapes: docs/operator-protocol.md).

Reads come straight from the store. Commands that change something (push, replay, submit) are
inputs like any other: they are stored in the inbox as operator events and applied through the
engine, so they appear in the order's trace and in the event list.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from daemon import __version__
from daemon.clock import iso
from daemon.engine.engine import Engine
from daemon.engine.handlers import order_subject
from daemon.errors import NotFound, OperatorProtocolError, UnknownCommand
from daemon.operator.protocol import Request
from daemon.orders.model import Order
from daemon.orders.push_rules import evaluate
from daemon.providers.contract import Driver
from daemon.store import inbox
from daemon.store.database import Txn
from daemon.store.items import items_of_order
from daemon.store.timers import next_timer

__all__ = ["OperatorCommands"]

Progress = Callable[[Mapping[str, Any]], Awaitable[None]]


class OperatorCommands:
    """Answers the operator socket's commands for one running daemon."""

    def __init__(
        self,
        engine: Engine,
        status_extra: Callable[[], Mapping[str, Any]],
        drivers: Mapping[str, Driver] | None = None,
    ) -> None:
        self.drivers = dict(drivers or {})
        self.engine = engine
        self.db = engine.db
        self.started_at = time.time()
        self._status_extra = status_extra
        self._commands: dict[
            str, Callable[[dict[str, Any], Progress], Awaitable[dict[str, Any]]]
        ] = {
            "ping": self.ping,
            "status": self.status,
            "order": self.order,
            "why": self.why,
            "list": self.list_items,
            "push": self.push,
            "events": self.events,
            "event": self.event,
            "replay": self.replay,
            "submit": self.submit,
            "sync": self.sync,
            "poll": self.poll,
            "import": self.start_import,
            "test-connection": self.test_connection,
        }

    async def handle(self, request: Request, progress: Progress) -> Mapping[str, Any]:
        """Dispatch one request."""
        command = self._commands.get(request.cmd)
        if command is None:
            raise UnknownCommand(
                f"unknown command {request.cmd!r} (known: {', '.join(sorted(self._commands))})"
            )
        return await command(dict(request.args), progress)

    # --- reads --------------------------------------------------------------------------

    async def ping(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        return {"pong": True}

    async def status(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        extra = self._status_extra()
        accounts: dict[str, Any] = {}
        async with self.db.reading() as txn:
            rows = await txn.fetchall(
                "SELECT account, state, COUNT(*) AS n FROM items GROUP BY account, state"
            )
            counts = await inbox.count_by_status(txn)
            alert_rows = await txn.fetchall(
                "SELECT mail_status, COUNT(*) AS n FROM alerts GROUP BY mail_status"
            )
            upcoming = await next_timer(txn)
        for name, account in self.engine.config.accounts.items():
            accounts[name] = {
                "provider": account.provider,
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
        for row in rows:
            entry = accounts.setdefault(
                row["account"], {"provider": "?", "states": {}, "actor": None}
            )
            entry["states"][row["state"]] = row["n"]
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
                "total": sum(r["n"] for r in alert_rows),
                **{f"mail_{r['mail_status']}": r["n"] for r in alert_rows},
            },
            "webhooks": extra.get("webhooks"),
        }

    async def _resolve_order(self, txn: Txn, args: dict[str, Any]) -> tuple[str, str]:
        order_number = _arg(args, "order", str)
        site = args.get("site")
        if site is not None and not isinstance(site, str):
            raise OperatorProtocolError('argument "site" must be a string')
        if site is None:
            rows = await txn.fetchall(
                "SELECT site FROM orders WHERE order_number = ? ORDER BY site", (order_number,)
            )
            if not rows:
                raise NotFound(f"no order {order_number}")
            if len(rows) > 1:
                sites = ", ".join(r[0] for r in rows)
                raise OperatorProtocolError(
                    f"order {order_number} exists on several sites ({sites}): give --site"
                )
            site = str(rows[0][0])
        elif (
            await txn.scalar(
                "SELECT 1 FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
            )
            is None
        ):
            raise NotFound(f"no order {order_number} on site {site}")
        return site, order_number

    async def order(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args)
            items = await items_of_order(txn, site, order_number)
            by_id = {i.id: i for i in items}
            trace_rows = await txn.fetchall(
                "SELECT * FROM transitions WHERE chart = 'order_item' AND subject_id IN"
                f" ({','.join('?' * len(by_id)) or 'NULL'}) ORDER BY id",
                list(by_id),
            )
            events = await inbox.list_events(
                txn, subject=order_subject(site, order_number), limit=500
            )
        return {
            "site": site,
            "order": order_number,
            "items": [
                {
                    "seq": i.seq,
                    "account": i.account,
                    "state": i.state,
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
                    "at": iso(r["at"]),
                    "seq": by_id[r["subject_id"]].seq,
                    "account": by_id[r["subject_id"]].account,
                    "from": r["from_state"],
                    "to": r["to_state"],
                    "trigger": r["trigger"],
                    "event_id": r["event_id"],
                    "reason": r["reason"],
                }
                for r in trace_rows
            ],
            "events": [
                {
                    "id": e.id,
                    "source": e.source,
                    "kind": e.kind,
                    "status": e.status,
                    "received_at": iso(e.received_at),
                }
                for e in reversed(events)
            ],
        }

    async def why(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args)
            items = await items_of_order(txn, site, order_number)
            snapshot = await txn.scalar(
                "SELECT snapshot FROM orders WHERE site = ? AND order_number = ?",
                (site, order_number),
            )
        decision = evaluate(Order.from_json(json.loads(snapshot))) if snapshot else None
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
        return {"site": site, "order": order_number, "items": answer}

    async def list_items(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        clauses, params = [], []
        for key, column in (("state", "state"), ("site", "site"), ("account", "account")):
            value = args.get(key)
            if value is not None:
                if not isinstance(value, str):
                    raise OperatorProtocolError(f'argument "{key}" must be a string')
                clauses.append(f"{column} = ?")
                params.append(value)
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.db.reading() as txn:
            total = await txn.scalar(f"SELECT COUNT(*) FROM items {where}", params)
            rows = await txn.fetchall(
                f"SELECT site, order_number, seq, account, state, updated_at, last_error FROM items"
                f" {where} ORDER BY updated_at DESC, id DESC LIMIT ?",
                (*params, limit),
            )
        return {
            "items": [
                {
                    "site": r["site"],
                    "order": r["order_number"],
                    "seq": r["seq"],
                    "account": r["account"],
                    "state": r["state"],
                    "updated_at": iso(r["updated_at"]),
                    "last_error": r["last_error"],
                }
                for r in rows
            ],
            "total": total,
        }

    async def events(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        status = args.get("status")
        if status is not None and status not in ("pending", "done", "poisoned"):
            raise OperatorProtocolError('argument "status" must be pending, done or poisoned')
        limit = args.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10000:
            raise OperatorProtocolError('argument "limit" must be an integer from 1 to 10000')
        async with self.db.reading() as txn:
            records = await inbox.list_events(txn, status=status, limit=limit)
        return {"events": [_event_summary(e) for e in records]}

    async def event(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        event_id = _arg(args, "id", int)
        async with self.db.reading() as txn:
            record = await inbox.get_event(txn, event_id)
        if record is None:
            raise NotFound(f"no event {event_id}")
        return {
            **_event_summary(record),
            "payload": record.payload,
            "traceback": record.traceback,
            "subject": record.subject,
            "processed_at": iso(record.processed_at),
        }

    # --- changes ------------------------------------------------------------------------

    async def push(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        async with self.db.reading() as txn:
            site, order_number = await self._resolve_order(txn, args)
        account = args.get("account")
        if account is not None and account not in self.engine.config.accounts:
            known = ", ".join(sorted(self.engine.config.accounts))
            raise OperatorProtocolError(f"unknown account {account!r} (known: {known})")
        await progress({"message": f"asking to push order {order_number} on {site}"})
        applied = await self.engine.apply(
            inbox.NewEvent(
                source="operator",
                dedupe_key=uuid.uuid4().hex,
                kind="operator.push",
                payload={"site": site, "order": order_number, "account": account},
                subject=order_subject(site, order_number),
            )
        )
        if applied.error:
            raise OperatorProtocolError(applied.error)
        moved = applied.result or []
        for move in moved:
            await progress(
                {
                    "message": f"item {move['seq']} for {move['account']}: "
                    f"{move['from']} -> {move['to']}"
                }
            )
        if not moved:
            await progress({"message": "nothing to push: no failed, retrying or newly ready items"})
        return {"items": moved}

    async def replay(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        event_id = _arg(args, "id", int)
        applied = await self.engine.apply(
            inbox.NewEvent(
                source="operator",
                dedupe_key=uuid.uuid4().hex,
                kind="operator.replay",
                payload={"event_id": event_id},
            )
        )
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        await self.engine.process_pending()
        async with self.db.reading() as txn:
            record = await inbox.get_event(txn, event_id)
        assert record is not None
        return {"id": event_id, "status": record.status, "error": record.error}

    async def sync(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        account = args.get("account")
        if account is not None and not isinstance(account, str):
            raise OperatorProtocolError('argument "account" must be a string')
        applied = await self.engine.apply(
            inbox.NewEvent("operator", uuid.uuid4().hex, "operator.sync", {"account": account})
        )
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        await progress({"message": f"status poll asked of {', '.join(applied.result)}"})
        return {"accounts": applied.result}

    async def poll(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        storefront = args.get("storefront")
        if storefront is not None and not isinstance(storefront, str):
            raise OperatorProtocolError('argument "storefront" must be a string')
        applied = await self.engine.apply(
            inbox.NewEvent(
                "operator", uuid.uuid4().hex, "operator.poll", {"storefront": storefront}
            )
        )
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        return {"storefronts": applied.result}

    async def start_import(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        account = _arg(args, "account", str)
        kind = _arg(args, "kind", str)
        if kind not in ("products", "categories", "prices", "stock"):
            raise OperatorProtocolError(
                'argument "kind" must be products, categories, prices or stock'
            )
        applied = await self.engine.apply(
            inbox.NewEvent(
                "operator", uuid.uuid4().hex, "import.request", {"account": account, "kind": kind}
            )
        )
        if applied.error:
            raise OperatorProtocolError(applied.error.split(": ", 1)[-1])
        batch_id = int(applied.result)
        await progress({"message": f"import batch {batch_id} queued"})
        last = None
        while True:  # stream the batch's progress until it ends or waits on a timer
            async with self.db.reading() as txn:
                row = await txn.fetchone(
                    "SELECT state, pages, records, last_error FROM import_batches WHERE id = ?",
                    (batch_id,),
                )
            assert row is not None
            current = (row["state"], row["pages"], row["records"])
            if current != last:
                await progress(
                    {
                        "message": f"batch {batch_id}: {row['state']}, "
                        f"{row['pages']} pages, {row['records']} records"
                    }
                )
                last = current
            if row["state"] in ("done", "failed", "retrying"):
                return {
                    "batch": batch_id,
                    "state": row["state"],
                    "pages": row["pages"],
                    "records": row["records"],
                    "last_error": row["last_error"],
                }
            await anyio.sleep(0.1)

    async def test_connection(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Each account's driver checks its credentials and reachability (changes nothing)."""
        account = args.get("account")
        if account is not None and account not in self.drivers:
            known = ", ".join(sorted(self.drivers))
            raise OperatorProtocolError(f"unknown account {account!r} (known: {known})")
        names = [account] if account else sorted(self.drivers)
        reports: dict[str, Any] = {}
        for name in names:
            await progress({"message": f"testing {name}"})
            try:
                with anyio.fail_after(60):
                    report = await self.drivers[name].test_connection()
                reports[name] = {
                    "ok": report.ok,
                    "detail": report.detail,
                    "server_version": report.server_version,
                }
            except Exception as exc:  # a failed check is an answer, not a crash
                reports[name] = {
                    "ok": False,
                    "detail": f"{type(exc).__name__}: {exc}",
                    "server_version": "",
                }
        return {"accounts": reports}

    async def submit(self, args: dict[str, Any], progress: Progress) -> dict[str, Any]:
        source = _arg(args, "source", str)
        dedupe_key = _arg(args, "dedupe_key", str)
        kind = _arg(args, "kind", str)
        payload = args.get("payload")
        if not isinstance(payload, dict):
            raise OperatorProtocolError('argument "payload" must be an object')
        subject = None
        order = payload.get("order")
        if isinstance(order, dict) and isinstance(order.get("site"), str):
            subject = order_subject(order["site"], str(order.get("order_number")))
        stored = await self.engine.ingest(
            inbox.NewEvent(source, dedupe_key, kind, payload, subject=subject)
        )
        return {"id": stored.id, "duplicate": stored.duplicate}


def _arg(args: Mapping[str, Any], name: str, kind: type) -> Any:
    value = args.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise OperatorProtocolError(f'argument "{name}" must be a {kind.__name__}')
    return value


def _event_summary(e: inbox.EventRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "source": e.source,
        "kind": e.kind,
        "dedupe_key": e.dedupe_key,
        "status": e.status,
        "received_at": iso(e.received_at),
        "error": e.error,
        "attempts": e.attempts,
    }

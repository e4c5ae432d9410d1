"""Import batches: requested, claimed by an actor, fed page by page, ended or retried."""

from __future__ import annotations

from daemon.engine import retry_bookkeeping
from daemon.engine.alerts import raise_alert
from daemon.engine.context import Context
from daemon.engine.effects import Import
from daemon.engine.machines import fire, record_created
from daemon.engine.retry_bookkeeping import Bookkeeping
from daemon.errors import BadEventPayload
from daemon.events import (
    ImportClaim,
    ImportPage,
    ImportRequest,
    ImportResult,
    ImportRetryTimer,
    to_payload,
)
from daemon.store import imports as batches
from daemon.store.imports import ImportBatch

__all__ = [
    "on_import_claim",
    "on_import_page",
    "on_import_request",
    "on_import_result",
    "on_import_retry_timer",
]


async def _batch(ctx: Context, batch_id: int) -> ImportBatch:
    row = await batches.import_batch(ctx.txn, batch_id)
    if row is None:
        raise BadEventPayload(f"event {ctx.event.id}: no import batch {batch_id}")
    return row


async def _fire_batch(ctx: Context, batch: ImportBatch, trigger: str, reason: str | None) -> str:
    return await fire(
        ctx.txn,
        ctx.charts.import_batch,
        int(batch.id),
        str(batch.state),
        trigger,
        event_id=ctx.event.id,
        reason=reason,
        now=ctx.now,
    )


async def on_import_request(ctx: Context) -> int:
    """Start an import for an account: resume an unfinished batch or rerun a failed one first."""
    request = ctx.payload(ImportRequest)
    account, kind = request.account, request.kind
    if account not in ctx.config.accounts:
        raise BadEventPayload(f"event {ctx.event.id}: unknown account {account!r}")
    latest = await batches.latest_batch(ctx.txn, account, kind)
    if latest is not None and latest.state in ("pending", "running", "retrying"):
        return int(latest.id)  # one batch of a kind at a time
    if latest is not None and latest.state == "failed":
        await _fire_batch(ctx, latest, "rerun", "import requested again")
        await batches.reset_failures(ctx.txn, int(latest.id))
        ctx.effects.add(Import(account, int(latest.id)))
        return int(latest.id)
    batch_id = await batches.create_batch(
        ctx.txn, account, kind, ctx.charts.import_batch.initial, ctx.now
    )
    await record_created(
        ctx.txn,
        ctx.charts.import_batch,
        batch_id,
        event_id=ctx.event.id,
        reason=f"{kind} import requested",
        now=ctx.now,
    )
    ctx.effects.add(Import(account, batch_id))
    return batch_id


async def on_import_claim(ctx: Context) -> bool:
    batch = await _batch(ctx, ctx.payload(ImportClaim).batch_id)
    if batch.state != "pending":
        return False
    await _fire_batch(ctx, batch, "start", "driver slot taken")
    return True


async def on_import_page(ctx: Context) -> int:
    page = ctx.payload(ImportPage)
    batch = await _batch(ctx, page.batch_id)
    records = page.records
    await batches.add_page(ctx.txn, batch, records, ctx.now)
    return len(records)


async def on_import_result(ctx: Context) -> str:
    result = ctx.payload(ImportResult)
    batch = await _batch(ctx, result.batch_id)
    outcome, error = result.outcome, result.error
    if batch.state != "running":
        return str(batch.state)
    if outcome == "done":
        await batches.reset_failures(ctx.txn, int(batch.id), clear_error=True)
        return await _fire_batch(ctx, batch, "succeed", f"{batch.records} records")
    if outcome == "permanent":
        await batches.set_last_error(ctx.txn, int(batch.id), error)
        await raise_alert(ctx, batch.account, f"import {batch.id}", error)
        return await _fire_batch(ctx, batch, "fail_permanent", error)
    if outcome == "interrupted":
        return await _fire_batch(ctx, batch, "interrupted", "daemon stopped during the import")
    failure = retry_bookkeeping.after_failure(
        ctx.config.retry,
        Bookkeeping(int(batch.attempts), batch.first_failure_at),
        now=ctx.now,
        retry_after=result.retry_after,
        rng=ctx.rng,
    )
    decision, attempts, first = failure.decision, failure.attempts, failure.first_failure_at
    await batches.record_failure(
        ctx.txn,
        int(batch.id),
        attempts=attempts,
        first_failure_at=first,
        next_retry_at=decision.due_at,
        error=error,
    )
    if decision.give_up:
        await raise_alert(ctx, batch.account, f"import {batch.id}", f"{decision.reason}: {error}")
        return await _fire_batch(ctx, batch, "give_up", f"{decision.reason}: {error}")
    timer = ImportRetryTimer(int(batch.id))
    await retry_bookkeeping.arm(
        ctx.txn, "import_retry", str(batch.id), failure.due_at, to_payload(timer)
    )
    return await _fire_batch(ctx, batch, "fail_transient", f"{error} ({decision.reason})")


async def on_import_retry_timer(ctx: Context, timer: ImportRetryTimer) -> int:
    """A failed import batch may run again."""
    batch_id = timer.batch_id
    batch = await _batch(ctx, batch_id)
    if batch.state == "retrying":
        await _fire_batch(ctx, batch, "retry_due", "retry timer fired")
        ctx.effects.add(Import(batch.account, batch_id))
    return batch_id

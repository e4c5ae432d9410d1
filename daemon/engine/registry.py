"""Which handler applies each event kind, and which each timer kind (one table, one place)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from daemon.engine import imports, item_retries, operator_events, orders, push, status
from daemon.engine import storefront_handlers as sf
from daemon.engine.context import Context, Handler
from daemon.engine.events import TimerFired, parse_timer
from daemon.errors import BadEventPayload

__all__ = ["HANDLERS", "TIMER_HANDLERS"]

#: a timer handler takes its kind's typed payload (daemon.engine.events.TIMER_PAYLOADS)
TimerHandler = Callable[[Context, Any], Awaitable[Any]]

#: timer kind -> what its firing does
TIMER_HANDLERS: Mapping[str, TimerHandler] = {
    "retry": item_retries.on_retry_timer,
    "status_poll": status.on_status_poll_timer,
    "import_retry": imports.on_import_retry_timer,
    "storefront_fetch": sf.on_fetch_timer,
    "storefront_poll": sf.on_storefront_poll_timer,
    "storefront_write": sf.on_write_timer,
}


async def on_timer_fired(ctx: Context) -> Any:
    """A durable timer came due."""
    fired = ctx.payload(TimerFired)
    handler = TIMER_HANDLERS.get(fired.kind)
    if handler is None:
        raise BadEventPayload(f"event {ctx.event.id}: unknown timer kind {fired.kind!r}")
    return await handler(ctx, parse_timer(fired.kind, fired.payload, event_id=ctx.event.id))


async def on_push_result(ctx: Context) -> Any:
    """A driver's result, then the MIS ids written back to the storefront."""
    result = await push.on_push_result(ctx)
    await sf.after_push(ctx, result)
    return result


async def on_status_report(ctx: Context) -> Any:
    """MIS status and tracking, then the storefront stage and shipments written back."""
    changes = await status.on_status_report(ctx)
    await sf.after_status(ctx, changes)
    return changes


async def on_mis_webhook(ctx: Context) -> Any:
    """MIS status pushed by webhook: handled as a poll's status report is."""
    changes = await status.on_mis_webhook(ctx)
    await sf.after_status(ctx, changes)
    return changes


#: event kind -> its handler (every kind's payload: daemon.engine.events)
HANDLERS: Mapping[str, Handler] = {
    "order.snapshot": orders.on_order_snapshot,
    "push.claim": push.on_push_claim,
    "push.result": on_push_result,
    "status.report": on_status_report,
    "mis.webhook": on_mis_webhook,
    "timer.fired": on_timer_fired,
    "operator.push": operator_events.on_operator_push,
    "operator.replay": operator_events.on_operator_replay,
    "operator.sync": operator_events.on_operator_sync,
    "import.request": imports.on_import_request,
    "import.claim": imports.on_import_claim,
    "import.page": imports.on_import_page,
    "import.result": imports.on_import_result,
    **sf.STOREFRONT_HANDLERS,
}

"""The poll fallback: status and tracking read from Tharstern's jobs and sales orders.

For lost webhooks and for shops that do not enable subscriptions (issue 14): an estimate item's
external id is its JobNo (`jobs?jobNo=`), a stock line's the OrderNo of its sales order
(`orders?orderNOs=`). The status is the record's status text, the tracking numbers the
consignment numbers of its deliveries (every name a guess, `guesses`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.errors import NotFound
from daemon.providers.contract import ItemRef, StatusReport
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.client import TharsternClient

__all__ = ["record_status", "status_of_items"]


def record_status(record: Mapping[str, Any]) -> tuple[str, tuple[str, ...], dt.datetime | None]:
    """(status text, tracking numbers, dispatch time) of a jobs or orders item."""
    status = ""
    for key in g.STATUS_TEXT:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            status = value.strip()
            break
    tracking: list[str] = []
    shipped: dt.datetime | None = None
    deliveries = record.get(g.DELIVERIES)
    for delivery in deliveries if isinstance(deliveries, list) else []:
        if not isinstance(delivery, Mapping):
            continue
        number = delivery.get(g.DELIVERY_TRACKING)
        if isinstance(number, str) and number.strip() and number.strip() not in tracking:
            tracking.append(number.strip())
        when = delivery.get(g.DELIVERY_DATE)
        if isinstance(when, str) and when:
            with contextlib.suppress(ValueError):  # an unreadable date: no date, not no status
                shipped = dt.datetime.fromisoformat(when)
    return status, tuple(tracking), shipped


async def status_of_items(
    client: TharsternClient,
    order_number: str,
    pushed: Sequence[ItemRef],
    is_job: Callable[[ItemRef], bool],
    name: Callable[[str], str],
) -> list[StatusReport]:
    """The reports of `pushed`, each record read once; `is_job` says which path an item took
    (the other is tried when it finds nothing), `name` maps a Tharstern status to esd's."""
    seen: dict[str, Mapping[str, Any]] = {}
    reports: list[StatusReport] = []
    for ref in pushed:
        key = ref.external_id
        record = seen.get(key)
        if record is None:
            readers = [client.job, client.order_by_no]
            if not is_job(ref):
                readers.reverse()
            for read in readers:
                record = await read(key)
                if record is not None:
                    break
            if record is None:
                raise NotFound(
                    f"status of order {order_number}: Tharstern has no job or sales order "
                    f"{key} (item {ref.item_seq})"
                )
            seen[key] = record
        status, tracking, shipped = record_status(record)
        reports.append(StatusReport(ref.item_seq, name(status), tracking, shipped))
    return reports

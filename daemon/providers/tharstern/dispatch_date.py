"""The date an order or job is required / to be dispatched (seed 002: "delivery/dispatch date
rules"), with the holiday maths shared with Pace's promise date (`daemon.orders.promise_date`):
the buyer's requested ship date unchanged, else the order's date (or `today`) + `dispatch_days`
calendar days, moved past the custom holidays (and weekends with `dispatch_skips_weekends`).

And the two ways Tharstern writes it: the estimate request's "dd-MMM-yy" ([CODE] ROIOrders,
`guesses.ESTIMATE_DATE_FORMAT`), written with English month names whatever the machine's locale
is; and the sales order's ISO 8601 UTC text ([CODE] "RequiredDate":"<ISO-8601 UTC>").
"""

from __future__ import annotations

import datetime as dt

from daemon.orders.model import Order
from daemon.orders.promise_date import promise_date
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = ["dispatch_date", "estimate_date_text", "order_date_text"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def dispatch_date(order: Order, settings: TharsternSettings, *, today: dt.date) -> dt.date:
    """The required / dispatch date of `order` (rules above); `today` is the push's day (no
    clock is read here), used only when the order has no date."""
    return promise_date(
        requested_ship_date=order.requested_ship_date,
        order_date=order.order_date.date() if order.order_date is not None else None,
        today=today,
        days=settings.dispatch_days,
        holidays=settings.holidays,
        skip_weekends=settings.dispatch_skips_weekends,
    )


def estimate_date_text(day: dt.date) -> str:
    """`day` as the estimate request writes it: "05-Jun-24" (dd-MMM-yy, English months)."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year % 100:02d}"


def order_date_text(moment: dt.date | dt.datetime) -> str:
    """`moment` as the sales order writes it: ISO 8601 in UTC with a Z ("2024-06-05T00:00:00Z");
    a date is its midnight, a naive date-time is taken as UTC."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

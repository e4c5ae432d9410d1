"""The required / dispatch date (seed 002: "delivery/dispatch date rules"): the requested ship
date, else the order date + N days, past the holiday list of the same form as Pace's."""

from __future__ import annotations

import datetime as dt

import pytest

from daemon.providers.tharstern.dispatch_date import (
    dispatch_date,
    estimate_date_text,
    order_date_text,
)
from daemon.providers.tharstern.settings import parse_settings
from tests.providers.tharstern.samples import MINIMAL_SETTINGS, item, order

D = dt.date
MONDAY = dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC)
TODAY = D(2024, 6, 10)


@pytest.mark.parametrize(
    ("settings", "requested", "ordered", "expected"),
    [
        # the requested ship date wins, unchanged
        ({}, D(2024, 6, 20), MONDAY, D(2024, 6, 20)),
        # else order date + 3 calendar days (the default, as Pace's)
        ({}, None, MONDAY, D(2024, 6, 6)),
        ({"dispatch_days": 5}, None, MONDAY, D(2024, 6, 8)),  # a Saturday: calendar days
        ({"dispatch_days": 5, "dispatch_skips_weekends": True}, None, MONDAY, D(2024, 6, 10)),
        # a holiday, in the seed's "2021-10-28|2022-07-18" form, moves it on
        ({"holidays": "2024-06-06|2024-06-07"}, None, MONDAY, D(2024, 6, 8)),
        ({"holidays": ["2024-06-06"]}, None, MONDAY, D(2024, 6, 7)),
        # no order date: today + N
        ({}, None, None, D(2024, 6, 13)),
    ],
)
def test_dispatch_date(
    settings: dict[str, object], requested: D | None, ordered: dt.datetime | None, expected: D
) -> None:
    parsed = parse_settings({**MINIMAL_SETTINGS, **settings})
    got = dispatch_date(
        order(item(1), requested_ship_date=requested, order_date=ordered), parsed, today=TODAY
    )
    assert got == expected


@pytest.mark.parametrize(
    ("day", "text"),
    [(D(2024, 6, 5), "05-Jun-24"), (D(2009, 12, 31), "31-Dec-09"), (D(2000, 1, 1), "01-Jan-00")],
)
def test_the_estimate_date_is_dd_mmm_yy_in_english(day: D, text: str) -> None:
    # [CODE] ROIOrders sends RequiredDateTime as "dd-MMM-yy"
    assert estimate_date_text(day) == text


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (D(2024, 6, 5), "2024-06-05T00:00:00Z"),
        (dt.datetime(2024, 6, 5, 10, 15, 30, 999), "2024-06-05T10:15:30Z"),
        (
            dt.datetime(2024, 6, 5, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-06-04T23:00:00Z",
        ),
    ],
)
def test_the_order_date_is_iso_utc(moment: D | dt.datetime, text: str) -> None:
    # [CODE] orders/submit: "RequiredDate":"<ISO-8601 UTC>"
    assert order_date_text(moment) == text

"""The Pace promise / scheduled ship date: requested date wins, else order date + N calendar days
(seed 004), moved past custom holidays; past weekends too only with promise_skips_weekends."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.orders.promise_date import is_working_day, next_working_day, promise_date

D = dt.date
# The seed's example holiday list: "2021-10-28|2022-07-18".
SEED_HOLIDAYS = frozenset({D(2021, 10, 28), D(2022, 7, 18)})
TODAY = D(2024, 5, 6)  # a Monday


@pytest.mark.parametrize(
    ("requested", "order_date", "days", "holidays", "skip_weekends", "expected"),
    [
        # the requested ship date wins, unchanged, even on a weekend, a holiday or in the past
        (D(2024, 5, 20), D(2024, 5, 1), 3, (), False, D(2024, 5, 20)),
        (D(2024, 5, 11), D(2024, 5, 1), 3, (), True, D(2024, 5, 11)),  # a Saturday
        (D(2021, 10, 28), D(2021, 10, 1), 3, SEED_HOLIDAYS, False, D(2021, 10, 28)),
        (D(2020, 1, 1), D(2024, 5, 1), 3, (), False, D(2020, 1, 1)),
        # the seed: order date + 3 calendar days; a weekend day is a calendar day like any other
        (None, D(2024, 5, 6), 3, (), False, D(2024, 5, 9)),  # Mon -> Thu
        (None, D(2024, 5, 8), 3, (), False, D(2024, 5, 11)),  # Wed -> Sat
        (None, D(2024, 5, 9), 3, (), False, D(2024, 5, 12)),  # Thu -> Sun
        (None, D(2024, 5, 10), 3, (), False, D(2024, 5, 13)),  # Fri -> Mon
        # promise_skips_weekends: a Saturday or Sunday promise moves to Monday
        (None, D(2024, 5, 8), 3, (), True, D(2024, 5, 13)),  # Wed -> Sat -> Mon
        (None, D(2024, 5, 9), 3, (), True, D(2024, 5, 13)),  # Thu -> Sun -> Mon
        (None, D(2024, 5, 10), 3, (), True, D(2024, 5, 13)),  # weekends inside still count
        # landing on one of the seed's holidays moves to the next day that is not one
        (None, D(2021, 10, 25), 3, SEED_HOLIDAYS, False, D(2021, 10, 29)),  # Thu holiday -> Fri
        (None, D(2022, 7, 15), 3, SEED_HOLIDAYS, False, D(2022, 7, 19)),  # Mon holiday -> Tue
        # a holiday inside the span does not add a day (calendar days)
        (None, D(2021, 10, 27), 2, SEED_HOLIDAYS, False, D(2021, 10, 29)),
        # a holiday on a Friday: to Saturday by the seed, to Monday when weekends are skipped
        (None, D(2024, 5, 7), 3, {D(2024, 5, 10)}, False, D(2024, 5, 11)),
        (None, D(2024, 5, 7), 3, {D(2024, 5, 10)}, True, D(2024, 5, 13)),
        # a run of holidays (and, skipped, a weekend)
        (None, D(2024, 5, 6), 3, {D(2024, 5, 9), D(2024, 5, 10)}, False, D(2024, 5, 11)),
        (
            None,
            D(2024, 5, 6),
            3,
            {D(2024, 5, 9), D(2024, 5, 10), D(2024, 5, 13)},
            True,
            D(2024, 5, 14),
        ),
        # zero days: the order day itself, unless it is a day off
        (None, D(2024, 5, 6), 0, (), False, D(2024, 5, 6)),
        (None, D(2024, 5, 11), 0, (), False, D(2024, 5, 11)),
        (None, D(2024, 5, 11), 0, (), True, D(2024, 5, 13)),
        # other numbers of days (site or account Promise Date)
        (None, D(2024, 5, 6), 10, (), False, D(2024, 5, 16)),
        (None, D(2024, 12, 30), 3, {D(2025, 1, 2)}, False, D(2025, 1, 3)),  # across the year end
    ],
)
def test_promise_date(
    requested: dt.date | None,
    order_date: dt.date | None,
    days: int,
    holidays: frozenset[dt.date] | set[dt.date] | tuple[()],
    skip_weekends: bool,
    expected: dt.date,
) -> None:
    got = promise_date(
        requested_ship_date=requested,
        order_date=order_date,
        today=TODAY,
        days=days,
        holidays=holidays,
        skip_weekends=skip_weekends,
    )
    assert got == expected


def test_without_an_order_date_the_base_is_today() -> None:
    got = promise_date(requested_ship_date=None, order_date=None, today=D(2024, 5, 8), days=3)
    assert got == D(2024, 5, 11)


def test_the_order_date_not_today_is_the_base_so_a_late_retry_promises_the_same_day() -> None:
    first = promise_date(
        requested_ship_date=None, order_date=D(2024, 5, 6), today=D(2024, 5, 6), days=3
    )
    retry = promise_date(
        requested_ship_date=None, order_date=D(2024, 5, 6), today=D(2024, 5, 20), days=3
    )
    assert first == retry == D(2024, 5, 9)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="promise days must be 0 or more, got -1"):
        promise_date(requested_ship_date=None, order_date=None, today=TODAY, days=-1)


@pytest.mark.parametrize(
    ("day", "holidays", "skip_weekends", "working", "next_day"),
    [
        (D(2024, 5, 10), (), False, True, D(2024, 5, 10)),
        (D(2024, 5, 11), (), False, True, D(2024, 5, 11)),
        (D(2024, 5, 11), (), True, False, D(2024, 5, 13)),
        (D(2024, 5, 12), (), True, False, D(2024, 5, 13)),
        (D(2021, 10, 28), SEED_HOLIDAYS, False, False, D(2021, 10, 29)),
        (D(2021, 10, 28), (), False, True, D(2021, 10, 28)),
    ],
)
def test_working_days(
    day: dt.date,
    holidays: frozenset[dt.date] | tuple[()],
    skip_weekends: bool,
    working: bool,
    next_day: dt.date,
) -> None:
    assert is_working_day(day, holidays, skip_weekends=skip_weekends) is working
    assert next_working_day(day, holidays, skip_weekends=skip_weekends) == next_day


@given(
    order_date=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31)),
    days=st.integers(min_value=0, max_value=60),
    holidays=st.frozensets(
        st.dates(min_value=D(2000, 1, 1), max_value=D(2091, 6, 30)), max_size=40
    ),
    skip_weekends=st.booleans(),
)
def test_the_promise_is_the_first_working_day_on_or_after_order_date_plus_days(
    order_date: dt.date, days: int, holidays: frozenset[dt.date], skip_weekends: bool
) -> None:
    got = promise_date(
        requested_ship_date=None,
        order_date=order_date,
        today=TODAY,
        days=days,
        holidays=holidays,
        skip_weekends=skip_weekends,
    )
    earliest = order_date + dt.timedelta(days=days)
    assert got >= earliest
    assert is_working_day(got, holidays, skip_weekends=skip_weekends)
    span = (earliest + dt.timedelta(days=n) for n in range((got - earliest).days))
    assert not any(is_working_day(day, holidays, skip_weekends=skip_weekends) for day in span)

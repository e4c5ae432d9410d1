"""The promise / dispatch date of a job, and the custom holiday list it skips: shared by every MIS
that is given "a requested ship date, else the order date + N days" (EFI Pace seed 004 "Promise
Date" and "Scheduled Ship and Promise"; Tharstern's "delivery/dispatch date rules", seed 002).

The seed: "Pressero's Requested Ship Date. If empty Constant: current date + 3 days", and the
"Promise Date" parameter is "the number of calendar days to add to the order date"; custom
holidays are a parameter too, but the seed does not say how they count. esd decides:

1. A requested ship date wins, as the buyer asked for it: it is used unchanged, even on a
   weekend, a holiday or in the past (the buyer and the shop agreed on it; moving it silently
   would be worse than showing it).
2. Otherwise the base day is the order's date, or `today` when the order has none. The order
   date, not the day of the push, so that a retry or a re-push days later promises the same
   day; `today` is a parameter (no clock is read here).
3. `days` calendar days are added: weekends and holidays inside the span count, as the seed's
   "calendar days" says.
4. If that day is a custom holiday, it moves to the next day that is not one: the seed gives
   the holiday list for exactly this. Weekends are calendar days like any other, as the seed
   says; a shop that is closed at weekends sets `promise_skips_weekends` (off by default), and
   then a Saturday or Sunday moves on too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from typing import Final

from daemon.errors import quoted

__all__ = ["is_working_day", "next_working_day", "parse_holidays", "promise_date"]

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

_SATURDAY = 5


def is_working_day(
    day: dt.date, holidays: Collection[dt.date] = (), *, skip_weekends: bool = False
) -> bool:
    """True when `day` is not a custom holiday (nor a Saturday or Sunday, with
    `skip_weekends`)."""
    return day not in holidays and not (skip_weekends and day.weekday() >= _SATURDAY)


def next_working_day(
    day: dt.date, holidays: Collection[dt.date] = (), *, skip_weekends: bool = False
) -> dt.date:
    """`day` itself when it is a working day, else the first working day after it."""
    # Terminates: at most len(holidays) + 2 days can be skipped in a row.
    while not is_working_day(day, holidays, skip_weekends=skip_weekends):
        day += dt.timedelta(days=1)
    return day


def promise_date(
    *,
    requested_ship_date: dt.date | None,
    order_date: dt.date | None,
    today: dt.date,
    days: int,
    holidays: Collection[dt.date] = (),
    skip_weekends: bool = False,
) -> dt.date:
    """The promise (and scheduled ship) date of a job; see the module docstring for the rules."""
    if days < 0:
        raise ValueError(f"promise days must be 0 or more, got {days}")
    if requested_ship_date is not None:
        return requested_ship_date
    base = order_date if order_date is not None else today
    return next_working_day(base + dt.timedelta(days=days), holidays, skip_weekends=skip_weekends)


def parse_holidays(
    value: object, problems: list[tuple[str, str]], key: str = "holidays"
) -> frozenset[dt.date]:
    """A holiday list setting as dates: the seed's "2021-10-28|2022-07-18" text, or a list of
    dates (TOML dates or "YYYY-MM-DD" strings); each bad entry is a problem naming its key
    (`key`, or `key[i]` in a list) in `problems`. None: no holidays."""
    if value is None:
        return frozenset()
    entries: Iterable[tuple[str, object]]
    if isinstance(value, str):
        entries = [(key, part.strip()) for part in value.split("|") if part.strip()]
    elif isinstance(value, list | tuple):
        entries = [(f"{key}[{i}]", part) for i, part in enumerate(value)]
    else:
        problems.append((key, "expected dates YYYY-MM-DD separated by '|'"))
        return frozenset()
    days: set[dt.date] = set()
    for at, entry in entries:
        if isinstance(entry, dt.datetime):
            problems.append((at, f"{entry.isoformat()!r} is a date-time; expected a date"))
        elif isinstance(entry, dt.date):
            days.add(entry)
        elif isinstance(entry, str) and _ISO_DATE.fullmatch(entry.strip()):
            try:
                days.add(dt.date.fromisoformat(entry.strip()))
            except ValueError:
                problems.append((at, f"{quoted(entry)} is not a date (YYYY-MM-DD)"))
        else:
            problems.append((at, f"{quoted(entry)} is not a date (YYYY-MM-DD)"))
    return frozenset(days)

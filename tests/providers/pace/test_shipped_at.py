"""When a JobShipment was shipped, on newer and older Pace servers (`shipment_shipped_at`).

pace.md §6 "Version drift": newer servers have JobShipment `dateTime`; older ones split it into
`date` and `time`, the time of day being an xs:dateTime on 1970-01-01 (pace.md §2; BB recombines
date + time).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from daemon.providers.pace.status_poll import shipment_shipped_at

UTC = dt.UTC
DAY = dt.datetime(2026, 3, 2, tzinfo=UTC)
CLOCK = dt.datetime(1970, 1, 1, 14, 35, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("shipment", "expected"),
    [
        pytest.param(
            {"dateTime": dt.datetime(2026, 3, 2, 9, 5, tzinfo=UTC)},
            dt.datetime(2026, 3, 2, 9, 5, tzinfo=UTC),
            id="newer: dateTime as it is",
        ),
        pytest.param(
            {"dateTime": dt.datetime(2026, 3, 2, 9, 5, tzinfo=UTC), "date": DAY, "time": CLOCK},
            dt.datetime(2026, 3, 2, 9, 5, tzinfo=UTC),
            id="dateTime wins when both are there",
        ),
        pytest.param(
            {"date": DAY, "time": CLOCK},
            dt.datetime(2026, 3, 2, 14, 35, 10, tzinfo=UTC),
            id="older: date + time of day",
        ),
        pytest.param(
            {"date": DAY.replace(hour=7), "time": CLOCK},
            dt.datetime(2026, 3, 2, 14, 35, 10, tzinfo=UTC),
            id="older: the date's own clock part gives way to time",
        ),
        pytest.param({"date": DAY, "time": None}, DAY, id="older: date without a time"),
        pytest.param(
            {"date": dt.date(2026, 3, 2), "time": CLOCK},
            dt.datetime(2026, 3, 2, 14, 35, 10, tzinfo=UTC),
            id="a plain date joins the time too",
        ),
        pytest.param({"dateTime": None, "date": None, "time": CLOCK}, None, id="no date"),
        pytest.param({}, None, id="no date fields at all"),
    ],
)
def test_shipped_at(shipment: dict[str, Any], expected: dt.datetime | None) -> None:
    assert shipment_shipped_at(shipment) == expected

"""Reading orders through each storefront's driver (picked by the registry) from its sandbox
over real HTTP, and mapping the answer to esd's `Order` with the plug-in's mapping."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from daemon.errors import PermanentError
from daemon.storefronts import registry
from tests.storefronts.contract.common import SITE, driver_for
from tests.storefronts.contract.harness import StorefrontHarness

pytestmark = pytest.mark.anyio


async def test_read_an_order_and_map_it(harness: StorefrontHarness, tmp_path: Path) -> None:
    number = harness.place_order()
    driver = driver_for(harness, tmp_path)
    try:
        answer = await driver.read_order(number)
    finally:
        await driver.aclose()
    json.dumps(answer)  # stored raw in the inbox: it must be JSON
    order = registry.spec(harness.name).order_from_answer(answer, SITE, "Print Shop", [])
    assert (order.site, order.order_number) == (SITE, number)
    assert [item.seq for item in order.items] == [1]


async def test_an_unknown_order_is_a_permanent_error(
    harness: StorefrontHarness, tmp_path: Path
) -> None:
    driver = driver_for(harness, tmp_path)
    try:
        with pytest.raises(PermanentError):
            await driver.read_order("987654")
    finally:
        await driver.aclose()


async def test_the_recent_orders_name_the_configured_site(
    harness: StorefrontHarness, tmp_path: Path
) -> None:
    number = harness.place_order()
    now = dt.datetime.now(dt.UTC)
    driver = driver_for(harness, tmp_path)
    try:
        found = await driver.list_recent_orders(now - dt.timedelta(hours=1), now)
    finally:
        await driver.aclose()
    assert number in found.get(SITE, [])

"""Every write-back (MisId, status, shipment, note) is idempotent under a lost answer: the
storefront does the write, the answer never arrives, the lease retries, and the storefront
holds it once. Driven through the driver's `write` (what the storefront actor calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon.errors import TransientError
from daemon.storefronts.contract import StorefrontDriver
from tests.storefronts.contract.common import SITE, driver_for
from tests.storefronts.contract.harness import ItemState, StorefrontHarness

pytestmark = pytest.mark.anyio


async def write_until_done(driver: StorefrontDriver, data: dict[str, Any]) -> list[str]:
    """What the lease does: try, and on a transient failure try again (a few times)."""
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(await driver.write(data))
            return outcomes
        except TransientError as exc:
            outcomes.append(f"transient: {exc}")
    raise AssertionError(f"the write never succeeded: {outcomes}")


WRITES: dict[str, dict[str, Any]] = {
    "mis_id": {"mis_id": "J4200-01"},
    "status": {"mis_status": "In Production"},  # the stage is the harness's
    "shipment": {"tracking": ["1Z999AA10123456784"]},
    "note": {"text": "esd could not push this item to mis: refused.", "kind": "failed"},
}


def expected(op: str, harness: StorefrontHarness, state: ItemState) -> bool:
    if op == "mis_id":
        return state.mis_id == "J4200-01"
    if op == "status":
        return state.stage == harness.stage
    if op == "shipment":
        return state.tracking == ("1Z999AA10123456784",)
    return len(state.notes) == 1 and "refused" in state.notes[0]


@pytest.mark.parametrize("op", sorted(WRITES))
async def test_a_write_back_whose_answer_is_lost_is_done_once(
    harness: StorefrontHarness, tmp_path: Path, op: str
) -> None:
    number = harness.place_order()
    data = {"site": SITE, "order": number, "seq": 1, "op": op, "generation": 7, **WRITES[op]}
    if op == "status":
        data["stage"] = harness.stage
    before = harness.item(number, 1)
    assert not expected(op, harness, before), "the sample order already has it"
    driver = driver_for(harness, tmp_path)
    try:
        harness.lose_answer_of_next(op, number, 1)
        outcomes = await write_until_done(driver, data)
        assert outcomes[0].startswith("transient"), f"the fault did not bite: {outcomes}"
        assert expected(op, harness, harness.item(number, 1)), harness.item(number, 1)
        # and a later redelivery of the same lease (a restart, a re-armed timer) changes nothing
        await driver.write(data)
    finally:
        await driver.aclose()
    assert expected(op, harness, harness.item(number, 1)), harness.item(number, 1)

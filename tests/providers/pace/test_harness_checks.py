"""The Pace harness's own checks after the crash proof (`extra_checks_after_crash`) accept what
one clean push makes and refuse what a crash could leave wrong: they must be able to fail."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from daemon.providers.contract import PushResult, push_reference
from daemon.providers.pace.sandbox import PaceSandbox
from tests.providers.contract.harness import MemoryJournal
from tests.providers.pace.harness import HARNESS, ORDER

SECRET = "pace-harness-pw-3c9e"


@pytest.fixture(scope="module")
def pushed() -> Iterator[tuple[dict[str, Any], PushResult]]:
    """The sandbox's state after one clean push of the harness's order, and its result."""
    with PaceSandbox("esd", SECRET) as sandbox:
        driver = HARNESS.driver(sandbox.url, SECRET)
        reference = push_reference("pace", ORDER.site, ORDER.order_number)

        async def push() -> PushResult:
            try:
                return await driver.push_order(ORDER, ORDER.items, MemoryJournal(), reference)
            finally:
                await driver.aclose()

        result = anyio.run(push)
        yield sandbox.state(), result


def _store(result: PushResult) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE items (seq INTEGER, external_id TEXT)")
    db.executemany(
        "INSERT INTO items VALUES (?, ?)", [(r.item_seq, r.external_id) for r in result.items]
    )
    return db


def test_a_clean_push_passes(pushed: tuple[dict[str, Any], PushResult]) -> None:
    state, result = pushed
    check = HARNESS.extra_checks_after_crash
    assert check is not None
    db = _store(result)
    try:
        check(state, db)
    finally:
        db.close()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda s: s["objects"]["Job"].append(s["objects"]["Job"][0]), id="two-jobs"),
        pytest.param(lambda s: s["objects"]["Job"][0].update(importID=None), id="no-importID"),
        pytest.param(lambda s: s["objects"]["Customer"].append({}), id="two-customers"),
        pytest.param(lambda s: s["objects"]["JobPart"].pop(), id="a-part-missing"),
        pytest.param(lambda s: s["objects"]["Contact"][0].update(email="x@y"), id="wrong-contact"),
    ],
)
def test_a_spoiled_state_fails(pushed: tuple[dict[str, Any], PushResult], spoil: Any) -> None:
    state, result = pushed
    spoiled = copy.deepcopy(state)
    spoil(spoiled)
    check = HARNESS.extra_checks_after_crash
    assert check is not None
    db = _store(result)
    try:
        with pytest.raises(AssertionError):
            check(spoiled, db)
    finally:
        db.close()


def test_wrong_external_ids_fail(pushed: tuple[dict[str, Any], PushResult]) -> None:
    state, result = pushed
    check = HARNESS.extra_checks_after_crash
    assert check is not None
    db = _store(result)
    try:
        db.execute("UPDATE items SET external_id = 'x:09' WHERE seq = 2")
        with pytest.raises(AssertionError):
            check(state, db)
    finally:
        db.close()

"""The contract every provider keeps, against its sandbox over real sockets: a push makes each
object once however many answers are lost, errors come classified, no secret shows, status
comes back in the declared mode, imports exist exactly where declared."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from daemon.errors import PermanentError, TransientError
from daemon.providers.contract import (
    Driver,
    ImportKind,
    PushResult,
    StatusMode,
    push_reference,
)
from tests.providers.contract.conftest import SECRET
from tests.providers.contract.harness import Harness, MemoryJournal, Sandbox

pytestmark = pytest.mark.anyio

#: a push that meets a lost answer is retried at most this often before the test gives up
ATTEMPTS = 10


async def _push(
    harness: Harness, driver: Driver, journal: MemoryJournal
) -> tuple[PushResult, list[str]]:
    """Push the harness's order as the spine would: again after each transient error, resuming
    from the same journal; return the result and the transient errors met."""
    order = harness.order
    reference = push_reference(harness.account, order.site, order.order_number)
    errors: list[str] = []

    for _ in range(ATTEMPTS):
        try:
            return await driver.push_order(order, order.items, journal, reference), errors
        except TransientError as exc:
            errors.append(str(exc))
    raise AssertionError(f"no push in {ATTEMPTS} attempts: {errors}")


@pytest.fixture
async def driver(harness: Harness, sandbox: Sandbox) -> AsyncIterator[Driver]:
    made = harness.driver(sandbox.url, SECRET)
    yield made
    await made.aclose()


async def test_a_push_makes_each_object_once_and_reports_every_item(
    harness: Harness, sandbox: Sandbox, driver: Driver
) -> None:
    result, errors = await _push(harness, driver, MemoryJournal())
    assert errors == []
    assert sorted(ref.item_seq for ref in result.items) == [i.seq for i in harness.order.items]
    made = harness.created(sandbox.state())
    assert made and all(count >= 1 for count in made.values())
    # Pushed again from a fresh journal (the journal was lost): the objects are found, not made.
    again, _ = await _push(harness, driver, MemoryJournal())
    assert again.order_external_id == result.order_external_id
    assert again.items == result.items
    assert harness.created(sandbox.state()) == made


async def test_a_lost_answer_after_each_kind_of_create_still_makes_each_object_once(
    harness: Harness, sandbox: Sandbox, driver: Driver, lost_create: dict[str, object]
) -> None:
    result, _ = await _push(harness, driver, MemoryJournal())
    expected = harness.created(sandbox.state())
    sandbox.reset()
    fault = lost_create
    sandbox.set_faults(fail_next=[fault])
    lost, errors = await _push(harness, driver, MemoryJournal())
    assert sandbox.state()["faults"]["fail_next"] == [], f"the order never met {fault}"
    assert errors, f"the driver did not notice the lost answer of {fault}"
    assert all(SECRET not in error for error in errors)
    assert harness.created(sandbox.state()) == expected
    assert len(lost.items) == len(result.items)


async def test_lost_answers_with_crashes_between_steps_make_each_object_once(
    harness: Harness, sandbox: Sandbox, driver: Driver
) -> None:
    """A fifth of all answers lost, and the journal's last step lost with each one (a crash
    between the create and the record): finds must see every create."""
    await _push(harness, driver, MemoryJournal())
    expected = harness.created(sandbox.state())
    sandbox.reset()
    sandbox.set_faults(**{harness.lost_answer_rate_knob: 0.2, "seed": 3})
    journal = MemoryJournal()
    order = harness.order
    reference = push_reference(harness.account, order.site, order.order_number)

    for _ in range(ATTEMPTS * 4):
        try:
            await driver.push_order(order, order.items, journal, reference)
            break
        except TransientError:
            if journal.steps:
                del journal.done[journal.steps.pop()]
    else:
        raise AssertionError("no push")
    sandbox.set_faults(**{harness.lost_answer_rate_knob: 0.0})
    assert harness.created(sandbox.state()) == expected


async def test_errors_are_classified_and_show_no_secret(
    harness: Harness, sandbox: Sandbox, driver: Driver, capsys: pytest.CaptureFixture[str]
) -> None:
    order = harness.order
    reference = push_reference(harness.account, order.site, order.order_number)
    sandbox.set_faults(fail_next=[dict(harness.transient_fault)] * 6)
    with pytest.raises(TransientError) as transient:
        await driver.push_order(order, order.items, MemoryJournal(), reference)
    sandbox.set_faults(fail_next=[])
    wrong = harness.driver(sandbox.url, "not-the-" + SECRET)
    try:
        with pytest.raises(PermanentError) as permanent:
            await wrong.push_order(order, order.items, MemoryJournal(), reference)
        report = await wrong.test_connection()
    finally:
        await wrong.aclose()
    assert report.ok is False
    assert harness.created(sandbox.state()) == {}  # a refused push made nothing
    shown = [str(transient.value), repr(transient.value), str(permanent.value)]
    captured = capsys.readouterr()
    shown += [repr(permanent.value), report.detail, repr(driver), repr(wrong)]
    shown += [captured.out, captured.err]
    assert all(SECRET not in text for text in shown)


async def test_test_connection_answers_without_changing_anything(
    harness: Harness, sandbox: Sandbox, driver: Driver
) -> None:
    report = await driver.test_connection()
    assert report.ok is True, report.detail
    assert SECRET not in report.detail
    assert harness.created(sandbox.state()) == {}


async def test_status_comes_back_in_the_declared_mode(
    harness: Harness, sandbox: Sandbox, driver: Driver
) -> None:
    mode = driver.capabilities.status
    if mode is StatusMode.WEBHOOK:
        pytest.skip(f"{harness.provider} reports status by webhook, not by a call")
    assert harness.advance_status is not None, "a provider that is asked for status says how"
    result, _ = await _push(harness, driver, MemoryJournal())
    expected = harness.advance_status(sandbox, result)
    reports = await driver.fetch_status(harness.order, result.items, result.order_external_id)
    got = {r.item_seq: (r.status, tuple(r.tracking)) for r in reports}
    assert got == expected


async def test_imports_exist_exactly_where_declared(harness: Harness, driver: Driver) -> None:
    fetchers = {
        ImportKind.PRODUCTS: driver.fetch_products,
        ImportKind.CATEGORIES: driver.fetch_categories,
        ImportKind.PRICES: driver.fetch_prices,
        ImportKind.STOCK: driver.fetch_stock,
    }

    async def first_page(kind: ImportKind) -> object:
        async for page in fetchers[kind]():
            return page
        return None

    for kind in ImportKind:
        if kind in driver.capabilities.imports:
            assert await first_page(kind), f"{kind} declared but nothing came"
        else:
            with pytest.raises(NotImplementedError):
                await first_page(kind)

"""Going live beside the hosted Embedded Services: the cut-off maths, the adoption decision,
their configuration and mapping (pure), and what the engine does with them (no sockets)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from daemon.config import Activation, parse_config
from daemon.engine.engine import Engine
from daemon.errors import ConfigError
from daemon.orders.go_live import CutOff, cut_off, is_foreign_mis_id, placed_before, skip_reason
from daemon.orders.model import Order, OrderItem
from daemon.statecharts import load_charts
from daemon.store.database import Database
from daemon.store.items import ItemRow, items_of_order
from daemon.storefronts.pressero.mapping import order_from_api
from tests.helpers import ManualClock, config_text, make_order
from tests.unit.test_engine import actor_event, ingest_and_process, snapshot

UTC = dt.UTC
D1 = dt.datetime(2026, 12, 1, tzinfo=UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- the cut-off ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("placed_after", "first_live", "expected"),
    [
        (None, None, None),
        (D1, None, CutOff(D1, "push_orders_placed_after")),
        (
            None,
            at("2026-12-01T08:30:00.750+00:00"),
            CutOff(at("2026-12-01T08:30:00Z"), "first live"),
        ),
        (D1, at("2026-12-02T10:00:00Z"), CutOff(at("2026-12-02T10:00:00Z"), "first live")),
        (
            at("2026-12-03T00:00:00Z"),
            at("2026-12-02T10:00:00Z"),
            CutOff(at("2026-12-03T00:00:00Z"), "push_orders_placed_after"),
        ),
        (D1, D1, CutOff(D1, "push_orders_placed_after")),  # a tie names the setting
        (at("2026-12-01T01:00:00+01:00"), None, CutOff(D1, "push_orders_placed_after")),
    ],
)
def test_the_cut_off_is_the_later_of_the_setting_and_first_live(
    placed_after: dt.datetime | None, first_live: dt.datetime | None, expected: CutOff | None
) -> None:
    assert cut_off(placed_after, first_live) == expected


@pytest.mark.parametrize(
    ("order_date", "expected"),
    [
        (at("2026-11-30T23:59:59Z"), True),
        (at("2026-12-01T00:00:00Z"), False),  # at the cut-off is not before it
        (at("2026-12-01T00:00:00"), False),  # no zone: UTC, as Pressero's
        (at("2026-11-30T23:59:59"), True),
        (at("2026-12-01T00:59:59+01:00"), True),
        (None, False),  # no date: nothing to hold it back by
    ],
)
def test_placed_before_compares_in_utc(order_date: dt.datetime | None, expected: bool) -> None:
    assert placed_before(order_date, CutOff(D1, "push_orders_placed_after")) is expected


def test_an_order_in_the_second_esd_went_live_is_after_the_cut_off() -> None:
    # Storefront dates are whole seconds: 08:30:00 placed at 08:30:00.9 is not "before".
    limit = cut_off(None, at("2026-12-01T08:30:00.900+00:00"))
    assert not placed_before(at("2026-12-01T08:30:00Z"), limit)
    assert placed_before(at("2026-12-01T08:29:59Z"), limit)


PUSH = Activation(account="mis", enable=True, is_live=True, settings={})


@pytest.mark.parametrize(
    ("activation", "order_date", "operator_asked", "expected"),
    [
        (
            PUSH,
            at("2026-11-30T10:00:00Z"),
            False,
            "placed 2026-11-30 10:00:00 UTC before the cut-off 2026-12-01"
            " (push_orders_placed_after)",
        ),
        (PUSH, at("2026-11-30T10:00:00Z"), True, None),
        (PUSH, at("2026-12-01T10:00:00Z"), False, None),
        (PUSH, None, False, None),
        (
            dataclasses.replace(PUSH, orders="status_only"),
            at("2026-12-05T10:00:00Z"),
            True,
            'orders = "status_only": esd creates nothing in the MIS for this activation, and'
            " the storefront item carries no MisId to adopt",
        ),
    ],
)
def test_skip_reasons(
    activation: Activation,
    order_date: dt.datetime | None,
    operator_asked: bool,
    expected: str | None,
) -> None:
    limit = CutOff(D1, "push_orders_placed_after")
    assert skip_reason(activation, order_date, limit, operator_asked=operator_asked) == expected


def test_a_date_only_order_shows_its_date() -> None:
    reason = skip_reason(
        PUSH,
        at("2026-11-30T00:00:00Z"),
        CutOff(D1, "push_orders_placed_after"),
        operator_asked=False,
    )
    assert reason == "placed 2026-11-30 before the cut-off 2026-12-01 (push_orders_placed_after)"


@pytest.mark.parametrize(
    ("mis_id", "esd_ids", "foreign"),
    [
        ("", set(), False),
        ("   ", {None}, False),
        ("J0500-01", set(), True),
        ("J0500-01", {None}, True),
        ("J0500-01", {"J0500-01"}, False),  # esd wrote it (for this or another account)
        (" J0500-01 ", {"J0500-01", None}, False),
        ("J0500-01", {"J0600-01"}, True),
    ],
)
def test_adoption_is_for_a_mis_id_esd_did_not_write(
    mis_id: str, esd_ids: set[str | None], foreign: bool
) -> None:
    assert is_foreign_mis_id(mis_id, esd_ids) is foreign


# --- configuration and mapping -------------------------------------------------------------


def activation_config(tmp_path: Path, lines: str, accounts: int = 1) -> str:
    names = {f"mis{i}" if i else "mis": {"url": "http://127.0.0.1:9"} for i in range(accounts)}
    text = config_text(tmp_path, accounts=names)
    return text.replace(
        'account = "mis"\nenable = true\nis_live = true\n',
        f'account = "mis"\nenable = true\nis_live = true\n{lines}\n',
        1,
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("push_orders_placed_after = 2026-12-01", D1),
        ("push_orders_placed_after = 2026-12-01T09:00:00", at("2026-12-01T09:00:00Z")),
        ("push_orders_placed_after = 2026-12-01T10:00:00+01:00", at("2026-12-01T09:00:00Z")),
        ('push_orders_placed_after = "2026-12-01T09:00:00Z"', at("2026-12-01T09:00:00Z")),
    ],
)
def test_push_orders_placed_after_takes_dates_and_date_times(
    tmp_path: Path, line: str, expected: dt.datetime
) -> None:
    config = parse_config(activation_config(tmp_path, line), file="t.toml", environ={})
    activation = config.sites["shop"].activation("mis")
    assert activation is not None
    assert activation.push_orders_placed_after == expected
    assert activation.orders == "push" and activation.adopt_mis_id


@pytest.mark.parametrize(
    ("lines", "where", "says"),
    [
        ('push_orders_placed_after = "last week"', "push_orders_placed_after", "expected a date"),
        ('orders = "create"', "orders", "status_only"),
        ('orders = "status_only"\nadopt_mis_id = false', "adopt_mis_id", "would do nothing"),
        ('adopt_mis_id = "yes"', "adopt_mis_id", "true or false"),
    ],
)
def test_bad_go_live_settings_are_named(tmp_path: Path, lines: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(activation_config(tmp_path, lines), file="t.toml", environ={})
    text = str(caught.value)
    assert f"sites.shop.activations[0].{where}" in text
    assert says in text


def test_the_mapping_reads_the_mis_id_of_an_item_row() -> None:
    header = {"OrderNumber": 7, "OrderId": "o-7"}
    rows = [
        {
            "OrderNumber": 7,
            "OrderItemSeq": 1,
            "Quantity": 1,
            "MisId": "J0500-01",
            "OrderItemMISID": "x",
        },
        {
            "OrderNumber": 7,
            "OrderItemSeq": 2,
            "Quantity": 1,
            "MisId": "",
            "OrderItemMISID": "J0500-02",
        },
        {"OrderNumber": 7, "OrderItemSeq": 3, "Quantity": 1},
    ]
    order = order_from_api(header, rows, "shop")
    assert [i.mis_id for i in order.items] == ["J0500-01", "J0500-02", ""]


# --- the engine ----------------------------------------------------------------------------


def run(
    tmp_path: Path, lines: str, body: Callable[[Engine], Awaitable[None]], accounts: int = 1
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3")
        try:
            config = parse_config(activation_config(tmp_path, lines, accounts), environ={})
            engine = Engine(db, load_charts(), config, ManualClock(), rng=random.Random(1))
            await body(engine)
        finally:
            await db.close()

    anyio.run(main)


async def items(engine: Engine, order: str = "1001") -> dict[tuple[str, int], ItemRow]:
    async with engine.db.reading() as txn:
        return {(i.account, i.seq): i for i in await items_of_order(txn, "shop", order)}


def with_mis_ids(*mis_ids: str) -> Order:
    order = make_order(items=len(mis_ids))
    return dataclasses.replace(
        order,
        items=tuple(
            dataclasses.replace(i, mis_id=m) for i, m in zip(order.items, mis_ids, strict=True)
        ),
    )


def test_a_mis_id_bearing_item_is_adopted_and_the_rest_pushed(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        await ingest_and_process(engine, snapshot(with_mis_ids("J0500-01", "")))
        got = await items(engine)
        assert got["mis", 1].state == "pushed" and got["mis", 1].adopted
        assert got["mis", 1].external_id == "J0500-01"
        assert "MisId J0500-01" in got["mis", 1].reasons[0]
        assert got["mis", 2].state == "ready" and not got["mis", 2].adopted
        # A later snapshot neither moves nor rewrites the adopted item.
        await ingest_and_process(engine, snapshot(with_mis_ids("J0500-01", ""), key="k2"))
        assert (await items(engine))["mis", 1] == got["mis", 1]

    run(tmp_path, "", body)


def test_a_mis_id_esd_wrote_is_not_adopted_by_another_account(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        await ingest_and_process(engine, snapshot(with_mis_ids("")))
        for account in ("mis", "mis1"):
            await ingest_and_process(engine, actor_event("push.claim", account=account))
        await ingest_and_process(
            engine,
            actor_event(
                "push.result",
                account="mis",
                outcome="pushed",
                order_external_id="J1",
                items=[{"seq": 1, "external_id": "J1-01"}],
            ),
        )
        # The storefront now shows esd's own MisId: account mis1 must still push its own.
        await ingest_and_process(engine, snapshot(with_mis_ids("J1-01"), key="k2"))
        got = await items(engine)
        assert got["mis", 1].state == "pushed" and not got["mis", 1].adopted
        assert got["mis1", 1].state == "pushing" and not got["mis1", 1].adopted

    run(tmp_path, "", body, accounts=2)


def test_adopt_mis_id_false_pushes_and_never_overwrites_the_mis_id(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        await ingest_and_process(engine, snapshot(with_mis_ids("HOSTED-7")))
        assert (await items(engine))["mis", 1].state == "ready"
        await ingest_and_process(engine, actor_event("push.claim"))
        await ingest_and_process(
            engine,
            actor_event(
                "push.result",
                outcome="pushed",
                order_external_id="J1",
                items=[{"seq": 1, "external_id": "J1-01"}],
            ),
        )
        async with engine.db.reading() as txn:
            writes = await txn.scalar("SELECT COUNT(*) FROM timers WHERE kind = 'storefront_write'")
        assert writes == 0

    run(tmp_path, "adopt_mis_id = false", body)


def test_status_only_never_readies_an_item_and_adopts_the_others(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        await ingest_and_process(engine, snapshot(with_mis_ids("", "J0500-02")))
        got = await items(engine)
        assert got["mis", 1].state == "skipped"
        assert "status_only" in got["mis", 1].reasons[0]
        assert got["mis", 2].state == "pushed" and got["mis", 2].adopted
        # The operator's Push Order does not make status only create anything.
        await ingest_and_process(engine, actor_event("operator.push", account=None))
        assert (await items(engine))["mis", 1].state == "skipped"

    run(tmp_path, 'orders = "status_only"', body)


def test_an_order_before_the_cut_off_is_skipped_until_the_operator_pushes_it(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        old = dataclasses.replace(make_order(items=1), order_date=at("2026-11-30T10:00:00Z"))
        await ingest_and_process(engine, snapshot(old))
        got = await items(engine)
        assert got["mis", 1].state == "skipped"
        assert got["mis", 1].reasons == (
            "placed 2026-11-30 10:00:00 UTC before the cut-off 2026-12-01"
            " (push_orders_placed_after)",
        )
        await ingest_and_process(engine, actor_event("operator.push", account=None))
        got = await items(engine)
        assert got["mis", 1].state == "ready" and got["mis", 1].operator_asked
        # The storefront sends it again: the operator's word holds.
        await ingest_and_process(engine, snapshot(old, key="k2"))
        assert (await items(engine))["mis", 1].state == "ready"

    run(tmp_path, "push_orders_placed_after = 2026-12-01", body)


def test_a_later_cut_off_setting_releases_nothing_but_an_earlier_one_does(tmp_path: Path) -> None:
    # Moving push_orders_placed_after back (a config change) unskips the order on its next read.
    async def first(engine: Engine) -> None:
        order = dataclasses.replace(make_order(items=1), order_date=at("2026-11-30T10:00:00Z"))
        await ingest_and_process(engine, snapshot(order))
        assert (await items(engine))["mis", 1].state == "skipped"

    async def second(engine: Engine) -> None:
        order = dataclasses.replace(make_order(items=1), order_date=at("2026-11-30T10:00:00Z"))
        await ingest_and_process(engine, snapshot(order, key="k2"))
        got = await items(engine)
        assert got["mis", 1].state == "ready" and got["mis", 1].reasons == ()

    run(tmp_path, "push_orders_placed_after = 2026-12-01", first)
    run(tmp_path, "push_orders_placed_after = 2026-11-01", second)


def test_order_item_defaults_carry_no_mis_id() -> None:
    assert OrderItem(seq=1).mis_id == ""

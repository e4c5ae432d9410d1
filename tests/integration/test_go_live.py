"""Going live beside the hosted Embedded Services, over real sockets: the real daemon, the
Pressero sandbox sending signed webhooks, and the reference MIS sandbox counting its creates."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.operator.render import render
from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Pw-42"
MIS_PASSWORD = "mis-pw-1"
#: the MIS's create calls (the sandbox counts calls per route)
CREATE_JOB = "POST /api/jobs"


def is_create(call: str) -> bool:
    return call == CREATE_JOB or (call.startswith("POST /api/jobs/") and call.endswith("/lines"))


class Stack:
    def __init__(self, tmp_path: Path, pressero: PresseroSandbox, mis: ReferenceSandbox) -> None:
        self.tmp_path = tmp_path
        self.pressero = pressero
        self.mis = mis
        self.sock = tmp_path / "esd.sock"
        self.db = tmp_path / "esd.sqlite3"
        self.daemon: DaemonProcess | None = None

    def start(self, activation_lines: str = "") -> DaemonProcess:
        text = config_text(
            self.tmp_path,
            accounts={"mis": {"url": self.mis.url, "password": MIS_PASSWORD, "poll": 3600}},
            account_extra='[accounts.mis.storefront_stages]\nshipped = "Shipping"\n',
            retry="initial_seconds = 1\nmax_seconds = 2\ngive_up_after_seconds = 600\njitter = 0",
            site_extra=pressero_site_keys(SITE),
            extra=pressero_storefront_toml(
                self.pressero, PRESSERO_PASSWORD, poll_seconds=3600, poll_window_seconds=7200
            ),
        )
        live = 'account = "mis"\nenable = true\nis_live = true\n'
        assert live in text
        text = text.replace(live, live + activation_lines + "\n", 1)
        config = self.tmp_path / "esd.toml"
        config.write_text(text)
        self.daemon = DaemonProcess(config, self.tmp_path)
        self.daemon.start()
        port = self.daemon.call(self.sock, "status")["webhooks"]["port"]
        self.pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        return self.daemon

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        assert self.daemon is not None
        return self.daemon.call(self.sock, cmd, args or {})

    def state(self, order: int, seq: int = 1) -> str | None:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute(
                "SELECT state FROM items WHERE order_number = ? AND seq = ?", (str(order), seq)
            ).fetchone()
        return None if row is None else str(row[0])

    def creates(self) -> int:
        calls = self.mis.state()["calls"]
        return sum(int(n) for call, n in calls.items() if is_create(call))

    def storefront_item(self, order: int, seq: int = 1) -> dict[str, Any]:
        found = next(o for o in self.pressero.state()["orders"] if o["OrderNumber"] == order)
        return dict(next(i for i in found["Items"] if i["OrderItemSeq"] == seq))

    def hosted_job(self, lines: int = 1) -> tuple[str, list[str]]:
        """A job the hosted integration created in the MIS before esd went live."""
        auth = (self.mis.login, MIS_PASSWORD)
        with httpx.Client(base_url=self.mis.url, auth=auth) as client:
            job = client.post(
                "/api/jobs",
                json={"reference": "hosted:1", "customer": "C100", "description": "hosted"},
            )
            job.raise_for_status()
            job_id = str(job.json()["job_id"])
            ids = []
            for n in range(lines):
                line = client.post(
                    f"/api/jobs/{job_id}/lines",
                    json={"line_key": str(n), "description": "x", "quantity": 1, "price": "1"},
                )
                line.raise_for_status()
                ids.append(str(line.json()["line_id"]))
        return job_id, ids


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    the_stack = Stack(tmp_path, pressero, mis)
    try:
        yield the_stack
    finally:
        if the_stack.daemon is not None:
            the_stack.daemon.close()
        pressero.stop()
        mis.stop()


def test_an_order_the_hosted_service_pushed_is_adopted_not_created(stack: Stack) -> None:
    daemon = stack.start()
    hosted = stack.pressero.place_order(items=({"MisId": "J0500-01"},))
    wait_until(lambda: stack.state(hosted) == "pushed", 30, "the hosted order adopted")
    # A new order in the same start is pushed, so the MIS is reachable and creates work.
    fresh = stack.pressero.place_order()
    wait_until(lambda: stack.state(fresh) == "pushed", 30, "the new order pushed")
    jobs = stack.mis.state()["jobs"]
    assert [j["reference"].rpartition(":")[2] for j in jobs] == [str(fresh)], "one create only"
    assert stack.mis.state()["calls"][CREATE_JOB] == 1
    answer = stack.call("order", {"order": str(hosted)})
    assert answer["items"][0]["adopted"] is True
    assert answer["items"][0]["external_id"] == "J0500-01"
    assert "adopted" in render("order", answer).splitlines()[3]
    assert stack.call("order", {"order": str(fresh)})["items"][0]["adopted"] is False
    wait_until(lambda: stack.storefront_item(fresh)["MisId"], 30, "the new order's MisId")
    # The hosted service's MisId is never overwritten, and `esd push` does not push it again.
    stack.call("push", {"order": str(hosted)})
    stack.call("sync", {})
    assert stack.storefront_item(hosted)["MisId"] == "J0500-01"
    assert stack.state(hosted) == "pushed"
    assert stack.mis.state()["calls"][CREATE_JOB] == 1
    assert daemon.terminate() == 0


def test_status_only_creates_nothing_and_syncs_status_of_adopted_items(stack: Stack) -> None:
    job_id, (line_id,) = stack.hosted_job()
    before = stack.creates()
    stack.start('orders = "status_only"')
    adopted = stack.pressero.place_order(items=({"MisId": line_id},))
    unknown = stack.pressero.place_order()
    wait_until(lambda: stack.state(adopted) == "pushed", 30, "the MisId order adopted")
    wait_until(lambda: stack.state(unknown) == "skipped", 30, "the order without MisId skipped")
    why = stack.call("why", {"order": str(unknown)})
    assert "status_only" in why["items"][0]["reasons"][0]
    # Even the operator's push creates nothing for a status-only activation.
    stack.call("push", {"order": str(unknown)})
    assert stack.state(unknown) == "skipped"
    # The MIS ships the adopted line: status and tracking come back to esd and the storefront.
    stack.mis.set_line_status(job_id, line_id, "shipped", ["1Z999AA10123456784"])
    stack.call("sync", {})

    def synced() -> bool:
        item = stack.call("order", {"order": str(adopted)})["items"][0]
        return bool(item["mis_status"] == "shipped" and item["tracking"])

    wait_until(synced, 30, "the adopted item's status polled")
    wait_until(
        lambda: stack.storefront_item(adopted)["WorkflowStagePrinter"] == "Shipping",
        30,
        "the stage written back",
    )
    wait_until(
        lambda: (
            [s["ShipTracking"] for s in stack.pressero.state()["shipments"]]
            == ["1Z999AA10123456784"]
        ),
        30,
        "the shipment written back",
    )
    assert stack.storefront_item(adopted)["MisId"] == line_id
    assert stack.creates() == before, "status only never calls a create"


def test_an_order_placed_before_going_live_waits_for_the_operator(stack: Stack) -> None:
    stack.start()
    placed = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    old = stack.pressero.place_order(order_date=placed)  # its webhook arrives after go-live
    fresh = stack.pressero.place_order()
    wait_until(lambda: stack.state(fresh) == "pushed", 30, "the new order pushed")
    wait_until(lambda: stack.state(old) == "skipped", 30, "the old order left alone")
    assert len(stack.mis.state()["jobs"]) == 1
    reason = stack.call("why", {"order": str(old)})["items"][0]["reasons"][0]
    assert reason.startswith(f"placed {placed:%Y-%m-%d %H:%M:%S} UTC before the cut-off ")
    assert reason.endswith("(first live)")
    # A webhook again (the order changed) still leaves it alone.
    stack.pressero.mark_paid(old)
    stack.call("poll", {})
    assert stack.state(old) == "skipped"
    # The operator asks: it is pushed, once.
    moved = stack.call("push", {"order": str(old)})
    assert moved, moved
    wait_until(lambda: stack.state(old) == "pushed", 30, "the operator's push")
    wait_until(lambda: stack.storefront_item(old)["MisId"], 30, "its MisId written back")
    references = sorted(j["reference"] for j in stack.mis.state()["jobs"])
    assert len(references) == len(set(references)) == 2

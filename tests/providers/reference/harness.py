"""The reference provider's harness for the conformance suite (tests/providers/contract/)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from daemon.providers.contract import Driver, PushResult
from daemon.providers.reference.driver import ReferenceDriver
from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.helpers import make_order
from tests.providers.contract.harness import Harness, Sandbox


def _driver(url: str, password: str) -> Driver:
    return ReferenceDriver(
        "mis", {"customer": "C100"}, {"url": url, "login": "esd", "password": password}
    )


def _account_toml(url: str, password: str) -> str:
    return textwrap.dedent(
        f"""
        [accounts.mis]
        provider = "reference"
        concurrency = 2
        rate_per_second = 1000.0
        status_poll_seconds = 300
        [accounts.mis.credentials]
        url = "{url}"
        login = "esd"
        password = "{password}"
        [accounts.mis.settings]
        customer = "C100"
        [sites.shop]
        name = "Print Shop"
        [[sites.shop.activations]]
        account = "mis"
        enable = true
        is_live = true
        """
    )


def _created(state: Mapping[str, Any]) -> dict[str, int]:
    jobs = state["jobs"]
    made = {"job": len(jobs), "line": sum(len(job["lines"]) for job in jobs)}
    return {kind: count for kind, count in made.items() if count}


def _advance(sandbox: Sandbox, result: PushResult) -> dict[int, tuple[str, tuple[str, ...]]]:
    assert isinstance(sandbox, ReferenceSandbox)
    expected: dict[int, tuple[str, tuple[str, ...]]] = {}
    for ref in result.items:
        tracking = (f"1Z{ref.item_seq:04d}",)
        sandbox.set_line_status(result.order_external_id, ref.external_id, "shipped", tracking)
        expected[ref.item_seq] = ("shipped", tracking)
    return expected


HARNESS = Harness(
    provider="reference",
    sandbox=lambda login, password: ReferenceSandbox(login, password),
    driver=_driver,
    order=make_order("5001", items=3),
    account_toml=_account_toml,
    account="mis",
    created=_created,
    lost_create_answers=(
        {"path_prefix": "/api/jobs", "method": "POST", "kind": "drop_after_commit"},
        {"path_prefix": "/api/jobs/", "method": "POST", "kind": "drop_after_commit"},
    ),
    transient_fault={"kind": "503"},
    advance_status=_advance,
)

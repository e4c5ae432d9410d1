"""Tharstern statuses as reported, final statuses, and the storefront stage (seed 000: "map the
order status you want used"; seed 002: "Tharstern job status ... flow back")."""

from __future__ import annotations

import pytest

from daemon.providers.contract import LineStatus, StatusReport
from daemon.providers.tharstern.settings import parse_settings
from daemon.providers.tharstern.status_mapping import (
    is_final,
    reported_line,
    reported_report,
    reported_status,
    storefront_stage,
)
from tests.providers.tharstern.samples import FULL_SETTINGS, MINIMAL_SETTINGS

FULL = parse_settings(FULL_SETTINGS)
STAGES = {"In Production": "In Production", "Despatched": "Shipped"}


@pytest.mark.parametrize(
    ("sent", "reported", "final", "stage"),
    [
        ("40", "In Production", False, "In Production"),  # a code, named by status_names
        ("dispatched", "Despatched", True, "Shipped"),  # a spelling, mapped
        (" Despatched ", "Despatched", True, "Shipped"),
        ("Invoiced", "Invoiced", True, None),  # final, no stage mapped
        ("On Hold", "On Hold", False, None),  # kept as sent
    ],
)
def test_full_account(sent: str, reported: str, final: bool, stage: str | None) -> None:
    assert reported_status(sent, FULL) == reported
    assert is_final(sent, FULL) is final
    assert storefront_stage(reported, STAGES) == stage


def test_the_guessed_final_statuses_by_default() -> None:
    settings = parse_settings(MINIMAL_SETTINGS)
    assert [s for s in ("Despatched", "delivered", "In Production") if is_final(s, settings)] == [
        "Despatched",
        "delivered",
    ]


def test_a_stage_is_looked_up_as_the_spine_does() -> None:
    # daemon.engine.storefront_writes.after_status: the exact key, else the lower-case key
    assert storefront_stage("DESPATCHED", {"despatched": "Shipped"}) == "Shipped"
    assert storefront_stage("Despatched", {"Despatched": ""}) is None


def test_lines_and_reports_keep_everything_but_the_status() -> None:
    line = LineStatus("J100", "40", ("1Z9",))
    assert reported_line(line, FULL) == LineStatus("J100", "In Production", ("1Z9",))
    report = StatusReport(2, "Dispatched", ("1Z9",))
    assert reported_report(report, FULL) == StatusReport(2, "Despatched", ("1Z9",))

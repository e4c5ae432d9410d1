"""Tharstern job / order statuses as esd reports them, and which of them are final.

Seed 000: "This is also where you can map the order status you want used in Tharstern" and
"Order Status. Are order status changes in Tharstern sent to the Pressero order history?"; seed
002: "Tharstern job status and tracking numbers flow back into Infigo".

Two steps, so the storefront side stays the spine's:
1. `reported_status`: the status Tharstern sent (a name, or a code where a shop's webhook sends
   codes) becomes the name esd records: `status_names` maps it (trimmed, case-insensitively),
   else it is kept as sent (trimmed).
2. The account's `storefront_stages` table (spine config, as for Pace) maps that name to a
   storefront stage when the status is written back; `storefront_stage` does the same look-up
   for `esd check-config` and tests.

Final statuses (`final_statuses`, default guessed in `guesses.FINAL_STATUSES`) stop the poll
fallback: the driver's `final_statuses` should be `settings.final_statuses`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from daemon.providers.contract import LineStatus, StatusReport
from daemon.providers.tharstern.settings import TharsternSettings

__all__ = ["is_final", "reported_line", "reported_report", "reported_status", "storefront_stage"]


def reported_status(status: str, settings: TharsternSettings) -> str:
    """The status name esd records for what Tharstern sent (step 1 above)."""
    text = status.strip()
    return settings.status_names.get(text.casefold(), text)


def reported_line(line: LineStatus, settings: TharsternSettings) -> LineStatus:
    """A webhook / poll line with its status as esd reports it."""
    return dataclasses.replace(line, status=reported_status(line.status, settings))


def reported_report(report: StatusReport, settings: TharsternSettings) -> StatusReport:
    """A poll report with its status as esd reports it."""
    return dataclasses.replace(report, status=reported_status(report.status, settings))


def is_final(status: str, settings: TharsternSettings) -> bool:
    """True when nothing changes after this (reported) status: the poll stops caring."""
    return reported_status(status, settings).casefold() in settings.final_statuses


def storefront_stage(status: str, storefront_stages: Mapping[str, str]) -> str | None:
    """The storefront stage the spine writes for a reported status (exact, else lower-case
    key, as `daemon.engine.storefront_writes.after_status` looks it up); None: unmapped."""
    return storefront_stages.get(status) or storefront_stages.get(status.lower()) or None

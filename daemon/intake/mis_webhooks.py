"""MIS status webhooks (sans-IO): `POST /webhooks/mis/<account>` routed to its provider's judge.

Only an account whose driver declares `StatusMode.WEBHOOK` (after reading its settings) and
whose provider has a `webhook_judge` hook has a route; any other name is 404, so an unknown
account and one that is polled look alike from outside. The provider's judge authenticates the
delivery in its own way (a shared secret, a signature, basic auth) and reads the statuses; it
becomes the inbox event `mis.webhook`, deduped by the judge's key, stored before the 2xx like a
storefront webhook (daemon.intake.webhook_app), and handled as a poll's status report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from daemon.events import MisLineStatus, MisWebhook, to_payload
from daemon.intake.judgement import Accept, Reject
from daemon.providers.contract import Driver, StatusMode, WebhookJudge, WebhookRejection
from daemon.providers.registry import webhook_judge
from daemon.store.inbox import NewEvent

__all__ = ["EVENT_KIND", "MIS_PREFIX", "MisHook", "MisRoute", "mis_hooks", "route"]

MIS_PREFIX = "/webhooks/mis/"

#: the inbox event kind of an MIS status webhook
EVENT_KIND = "mis.webhook"


@dataclasses.dataclass(frozen=True, slots=True)
class MisHook:
    """One account that takes status webhooks, with what its judge needs."""

    account: str
    settings: Mapping[str, Any]
    credentials: Mapping[str, str] = dataclasses.field(repr=False)  # secrets
    judge: WebhookJudge = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class MisRoute:
    """A request for an account's webhook route; `judge` decides it once the body is read."""

    hook: MisHook
    method: str

    def judge(self, headers: Mapping[str, str], body: bytes) -> Accept | Reject:
        """Accept the delivery as a `mis.webhook` event, or refuse it as the judge says."""
        hook = self.hook
        verdict = hook.judge(hook.settings, hook.credentials, self.method, headers, body)
        if isinstance(verdict, WebhookRejection):
            return Reject(verdict.status, verdict.reason, verdict.detail)
        reports = tuple(
            MisLineStatus(
                r.external_id,
                r.status,
                tuple(r.tracking),
                None if r.shipped_at is None else r.shipped_at.isoformat(),
            )
            for r in verdict.reports
        )
        return Accept(
            NewEvent(
                source=f"mis:{hook.account}",
                dedupe_key=verdict.dedupe_key,
                kind=EVENT_KIND,
                payload=to_payload(
                    MisWebhook(
                        hook.account,
                        verdict.dedupe_key,
                        reports,
                        verdict.problem,
                        body.decode("utf-8", "replace") if verdict.problem else "",
                    )
                ),
                subject=f"mis:{hook.account}",
            )
        )


def mis_hooks(
    accounts: Mapping[str, tuple[str, Driver]],
) -> dict[str, MisHook]:
    """The accounts (name -> (provider, driver)) whose status comes by webhook."""
    hooks: dict[str, MisHook] = {}
    for name, (provider, driver) in accounts.items():
        judge = webhook_judge(provider)
        if driver.capabilities.status is StatusMode.WEBHOOK and judge is not None:
            hooks[name] = MisHook(name, driver.settings, driver.credentials, judge)
    return hooks


def route(method: str, path: str, hooks: Mapping[str, MisHook]) -> MisRoute | Reject | None:
    """The account a MIS webhook is for, a rejection (404/405), or None: not a MIS path."""
    if not path.startswith(MIS_PREFIX):
        return None
    account = path[len(MIS_PREFIX) :]
    if not account or "/" in account:
        return Reject(404, "unknown_path", "expected /webhooks/mis/<account>")
    hook = hooks.get(account)
    if hook is None:
        return Reject(404, "unknown_account", f"no account {account[:100]!r} takes webhooks")
    if method != "POST":
        return Reject(405, "bad_method", f"{method} is not allowed; use POST")
    return MisRoute(hook, method)

"""The reference provider's status webhook judge, and the `/webhooks/mis/<account>` route (pure)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.intake import mis_webhooks
from daemon.intake.judgement import Accept, Reject
from daemon.providers.contract import JudgedWebhook, LineStatus, StatusMode, WebhookRejection
from daemon.providers.reference.driver import ReferenceDriver, settings_problems
from daemon.providers.reference.webhook import sign, webhook_judge

SECRET = "hook-Secret-77"
CREDENTIALS = {
    "url": "http://127.0.0.1:9",
    "login": "esd",
    "password": "pw",
    "webhook_secret": SECRET,
}
SETTINGS: dict[str, Any] = {"customer": "C100", "status": "webhook"}


def delivery(**changes: Any) -> bytes:
    body: dict[str, Any] = {
        "delivery_id": "D7",
        "job_id": "J1001",
        "lines": [
            {
                "line_id": "J1001-01",
                "status": "shipped",
                "tracking": ["1Z1"],
                "shipped_at": "2024-05-01T10:00:00+00:00",
            }
        ],
    }
    body.update(changes)
    return json.dumps(body).encode()


def judged(body: bytes, headers: dict[str, str] | None = None) -> JudgedWebhook | WebhookRejection:
    if headers is None:
        headers = {"x-esd-signature": sign(SECRET, body)}
    return webhook_judge(SETTINGS, CREDENTIALS, "POST", headers, body)


def test_a_signed_delivery_carries_its_line_statuses_and_dedupe_key() -> None:
    verdict = judged(delivery())
    assert verdict == JudgedWebhook(
        dedupe_key="D7",
        reports=(
            LineStatus("J1001-01", "shipped", ("1Z1",), dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)),
        ),
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"x-esd-signature": "sha256=" + "0" * 64}, "bad_signature"),
        ({"x-esd-signature": sign("another secret", delivery())}, "bad_signature"),
    ],
)
def test_an_unsigned_or_forged_delivery_is_401_and_never_quotes_the_secret(
    headers: dict[str, str], reason: str
) -> None:
    verdict = judged(delivery(), headers)
    assert isinstance(verdict, WebhookRejection)
    assert (verdict.status, verdict.reason) == (401, reason)
    assert SECRET not in verdict.detail


def test_the_signature_covers_the_raw_bytes() -> None:
    body = delivery()
    tampered = body.replace(b"shipped", b"cancel!")
    verdict = judged(tampered, {"x-esd-signature": sign(SECRET, body)})
    assert isinstance(verdict, WebhookRejection) and verdict.reason == "bad_signature"


def test_an_account_without_a_secret_refuses_every_delivery() -> None:
    body = delivery()
    credentials = {k: v for k, v in CREDENTIALS.items() if k != "webhook_secret"}
    verdict = webhook_judge(SETTINGS, credentials, "POST", {"x-esd-signature": "x"}, body)
    assert isinstance(verdict, WebhookRejection)
    assert (verdict.status, verdict.reason) == (401, "no_webhook_secret")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected an object"),
        (delivery(delivery_id=""), "webhook.delivery_id"),
        (delivery(delivery_id="D" * 201), "webhook.delivery_id"),
        (delivery(job_id=5), "webhook.job_id"),
        (delivery(lines=[]), "webhook.lines"),
        (delivery(lines=[{"line_id": "J1001-01"}]), "webhook.lines[0].status"),
        (
            delivery(lines=[{"line_id": "L", "status": "s", "tracking": "1Z"}]),
            "webhook.lines[0].tracking",
        ),
    ],
)
def test_a_signed_but_malformed_delivery_is_400_naming_the_field(body: bytes, where: str) -> None:
    verdict = judged(body)
    assert isinstance(verdict, WebhookRejection)
    assert (verdict.status, verdict.reason) == (400, "malformed")
    assert where in verdict.detail


def test_the_status_setting_picks_the_mode_per_account_and_poll_stays_the_default() -> None:
    polled = ReferenceDriver("a", {"customer": "C100"}, CREDENTIALS)
    pushed = ReferenceDriver("b", SETTINGS, CREDENTIALS)
    assert polled.capabilities.status is StatusMode.POLL
    assert pushed.capabilities.status is StatusMode.WEBHOOK
    assert pushed.capabilities.imports == polled.capabilities.imports
    assert ReferenceDriver.capabilities.status is StatusMode.POLL
    assert settings_problems({"customer": "C100", "status": "push"}) == [
        ("status", "must be one of: poll, webhook")
    ]


def test_webhook_mode_without_a_secret_stops_the_start_naming_the_key() -> None:
    credentials = {k: v for k, v in CREDENTIALS.items() if k != "webhook_secret"}
    with pytest.raises(ConfigError, match=r"credentials\.webhook_secret"):
        ReferenceDriver("b", SETTINGS, credentials)


def test_only_webhook_mode_accounts_have_a_route() -> None:
    hooks = mis_webhooks.mis_hooks(
        {
            "polled": ("reference", ReferenceDriver("polled", {"customer": "C100"}, CREDENTIALS)),
            "pushed": ("reference", ReferenceDriver("pushed", SETTINGS, CREDENTIALS)),
        }
    )
    assert sorted(hooks) == ["pushed"]
    assert SECRET not in repr(hooks["pushed"])
    polled = mis_webhooks.route("POST", "/webhooks/mis/polled", hooks)
    assert isinstance(polled, Reject) and polled.status == 404
    assert mis_webhooks.route("POST", "/webhooks/pressero/shop", hooks) is None
    for path in ("/webhooks/mis/", "/webhooks/mis/pushed/x"):
        rejected = mis_webhooks.route("POST", path, hooks)
        assert isinstance(rejected, Reject) and rejected.status == 404
    wrong_method = mis_webhooks.route("GET", "/webhooks/mis/pushed", hooks)
    assert isinstance(wrong_method, Reject) and wrong_method.status == 405

    routed = mis_webhooks.route("POST", "/webhooks/mis/pushed", hooks)
    assert isinstance(routed, mis_webhooks.MisRoute)
    body = delivery()
    accepted = routed.judge({"x-esd-signature": sign(SECRET, body)}, body)
    assert isinstance(accepted, Accept)
    event = accepted.event
    assert (event.kind, event.source, event.dedupe_key) == ("mis.webhook", "mis:pushed", "D7")
    assert event.payload["reports"] == [
        {
            "external_id": "J1001-01",
            "status": "shipped",
            "tracking": ["1Z1"],
            "shipped_at": "2024-05-01T10:00:00+00:00",
        }
    ]
    refused = routed.judge({}, body)
    assert isinstance(refused, Reject) and refused.status == 401

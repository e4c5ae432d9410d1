"""Tharstern's webhooks as the sandbox sends them, over a real socket, judged: the shared
secret checked before anything is read, the body parsed to job / order statuses with tracking,
a redelivery keeping its dedupe key, unreadable bodies kept naming what is wrong."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from daemon.providers.contract import JudgedWebhook, WebhookRejection
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.providers.tharstern.webhook import webhook_judge
from tests.helpers import loopback_http
from tests.providers.tharstern.harness import SETTINGS

SECRET = "th-hook-Secret-55/x"
CREDENTIALS = {"url": "http://x", "login": "esd", "password": "pw", "webhook_secret": SECRET}

Received = list[tuple[dict[str, str], bytes]]


@pytest.fixture
def received() -> Iterator[tuple[str, Received]]:
    got: Received = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with lock:
                got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url, got


@pytest.fixture
def sandbox() -> Iterator[TharsternSandbox]:
    with TharsternSandbox("esd", "pw") as box:
        yield box


def _job(sandbox: TharsternSandbox) -> str:
    """A job made as a push would make it (directly in the sandbox's data)."""
    import httpx

    base = sandbox.api_url
    token = httpx.get(
        f"{base}/authentication/GenerateAPIToken",
        params={"email": "esd", "password": "pw", "applicationId": "t"},
    ).json()["Details"]["Token"]
    auth = {"Authorization": g.token_authorization(token)}
    example = httpx.get(f"{base}/EstRequest/12/Example", headers=auth).json()["Details"]
    example["Customer"] = {"Code": "ESP001"}
    made = httpx.post(f"{base}/estrequest", json=example, headers=auth).json()
    estimate_id = made["Details"]["Estimate"]["ID"]
    job = httpx.post(
        f"{base}/job/createfromestimate", json={"EstimateID": estimate_id}, headers=auth
    ).json()
    return str(job["Details"]["JobNo"])


def test_a_status_and_a_delivery_come_back_as_line_statuses(
    sandbox: TharsternSandbox, received: tuple[str, Received]
) -> None:
    url, got = received
    job_no = _job(sandbox)
    sandbox.set_webhook(url, SECRET)
    sandbox.set_job_status(job_no, "In Production")
    sandbox.add_delivery(job_no, "CN77881")
    assert len(got) == 2
    verdicts = [webhook_judge(SETTINGS, CREDENTIALS, "POST", h, b) for h, b in got]
    assert all(isinstance(v, JudgedWebhook) for v in verdicts)
    first, second = (v for v in verdicts if isinstance(v, JudgedWebhook))
    assert [(r.external_id, r.status, r.tracking) for r in first.reports] == [
        (job_no, "In Production", ())
    ]
    assert [(r.external_id, r.status, r.tracking) for r in second.reports] == [
        (job_no, "Despatched", ("CN77881",))
    ]
    assert second.reports[0].shipped_at is not None
    assert first.dedupe_key != second.dedupe_key
    # The same delivery sent again keeps its key: the spine acknowledges and ignores it.
    sandbox.redeliver()
    again = webhook_judge(SETTINGS, CREDENTIALS, "POST", got[-1][0], got[-1][1])
    assert isinstance(again, JudgedWebhook) and again.dedupe_key == second.dedupe_key


def test_a_wrong_or_missing_secret_is_refused_unread(
    sandbox: TharsternSandbox, received: tuple[str, Received]
) -> None:
    url, got = received
    job_no = _job(sandbox)
    sandbox.set_webhook(url, SECRET)
    sandbox.set_job_status(job_no, "Printing")
    sandbox.redeliver(secret="not-the-secret")
    headers, body = got[-1]
    wrong = webhook_judge(SETTINGS, CREDENTIALS, "POST", headers, body)
    assert isinstance(wrong, WebhookRejection) and wrong.status == 401
    assert wrong.reason == "bad_secret" and SECRET not in wrong.detail
    missing = webhook_judge(SETTINGS, CREDENTIALS, "POST", {}, body)
    assert isinstance(missing, WebhookRejection) and missing.reason == "missing_secret"
    unset = webhook_judge(SETTINGS, {"url": "http://x"}, "POST", got[0][0], body)
    assert isinstance(unset, WebhookRejection) and unset.reason == "no_webhook_secret"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"EventId": "E1", "Status": "Printing"}'],
    ids=["not-json", "no-event", "no-job-or-order"],
)
def test_an_authenticated_body_it_cannot_read_is_kept_naming_why(body: bytes) -> None:
    # Issue 14: "an unparseable delivery is kept and shown": accepted with its problem (the
    # spine stores it and keeps it as poisoned), deduped by its bytes, never refused.
    headers = {g.WEBHOOK_SECRET_HEADER.lower(): SECRET}
    verdict = webhook_judge(SETTINGS, CREDENTIALS, "POST", headers, body)
    assert isinstance(verdict, JudgedWebhook)
    assert verdict.reports == () and verdict.problem.startswith("webhook")
    again = webhook_judge(SETTINGS, CREDENTIALS, "POST", headers, body)
    assert isinstance(again, JudgedWebhook) and again.dedupe_key == verdict.dedupe_key
    assert SECRET not in verdict.problem

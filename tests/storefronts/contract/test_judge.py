"""Webhooks through the real webhook app over a real socket, for every storefront: a signed
one is stored before the 2xx, an unsigned or wrongly signed one is refused with nothing
stored, a redelivery (same message id) is acknowledged and ignored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daemon.storefronts.contract import WEBHOOK_KIND
from tests.intake_server import IntakeServer
from tests.storefronts.contract.common import SITE, storefront_config
from tests.storefronts.contract.harness import StorefrontHarness


@pytest.fixture
def intake(harness: StorefrontHarness, tmp_path: Path) -> Iterator[tuple[IntakeServer, str]]:
    with IntakeServer(storefront_config(harness, tmp_path), tmp_path) as server:
        yield server, f"{server.url}/webhooks/{harness.name}/{SITE}"


def stored(server: IntakeServer) -> list[dict[str, object]]:
    return [e for e in server.events() if e["kind"] == WEBHOOK_KIND]


def test_a_signed_webhook_is_stored_before_the_2xx(
    harness: StorefrontHarness, intake: tuple[IntakeServer, str]
) -> None:
    server, url = intake
    message_id = str(uuid.uuid4())
    body, headers = harness.signed_webhook("4100", message_id)
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert 200 <= answer.status_code < 300, answer.text
    (event,) = stored(server)  # read right after the answer: durable before it
    payload = json.loads(str(event["payload"]))
    assert (payload["provider"], payload["site"], payload["order"]) == (harness.name, SITE, "4100")
    assert event["dedupe_key"] == message_id and event["subject"] == f"{SITE}/4100"


def test_a_redelivery_is_acknowledged_and_ignored(
    harness: StorefrontHarness, intake: tuple[IntakeServer, str]
) -> None:
    server, url = intake
    body, headers = harness.signed_webhook("4101", str(uuid.uuid4()))
    first = httpx.post(url, content=body, headers=headers, timeout=10)
    again = httpx.post(url, content=body, headers=headers, timeout=10)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert len(stored(server)) == 1


@pytest.mark.parametrize("how", ["unsigned", "wrongly signed"])
def test_an_unsigned_or_wrongly_signed_webhook_is_refused_and_nothing_stored(
    harness: StorefrontHarness, intake: tuple[IntakeServer, str], how: str
) -> None:
    server, url = intake
    if how == "unsigned":
        body, headers = harness.signed_webhook("4102", str(uuid.uuid4()))
        headers = harness.unsigned(headers)
    else:
        body, headers = harness.wrongly_signed("4102", str(uuid.uuid4()))
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answer.status_code in (401, 403), answer.text
    assert server.events() == []


def test_a_webhook_for_another_storefront_path_is_not_found(
    harness: StorefrontHarness, intake: tuple[IntakeServer, str]
) -> None:
    server, url = intake
    body, headers = harness.signed_webhook("4103", str(uuid.uuid4()))
    wrong = url.replace(f"/webhooks/{harness.name}/", "/webhooks/no-such-storefront/")
    answer = httpx.post(wrong, content=body, headers=headers, timeout=10)
    assert answer.status_code == 404 and server.events() == []

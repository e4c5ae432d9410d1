"""Webhook intake over a real socket: signature, limits, dedupe, durable before 2xx."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import make_config
from tests.intake_server import IntakeServer, envelope, signed

KEY = "site-Key-7f3a"
SITE = '\n[sites.shop]\nsecurity_key = "' + KEY + '"\n'
URL = "/webhooks/pressero/shop"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeServer]:
    tmp = tmp_path_factory.mktemp("intake")
    config = make_config(tmp, extra="")
    # the helper's site `shop` has no key: rebuild it with one
    from daemon.config import parse_config
    from tests.helpers import config_text

    text = config_text(tmp).replace(
        '[sites.shop]\nname = "Print Shop"\n',
        f'[sites.shop]\nname = "Print Shop"\nsecurity_key = "{KEY}"\n',
    )
    config = parse_config(text, environ={})
    with IntakeServer(config, tmp, max_body_bytes=4096) as running:
        yield running


@pytest.fixture
def client(server: IntakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def test_a_signed_webhook_is_stored_before_the_200_and_a_redelivery_is_ignored(
    server: IntakeServer, client: httpx.Client
) -> None:
    body = envelope("OrderItemApproved", 5001, seq=2, message_id="m-5001")
    first = client.post(URL, content=body, headers=signed(KEY, body))
    assert first.status_code == 200 and first.json()["duplicate"] is False
    stored = [e for e in server.events() if e["dedupe_key"] == "m-5001"]
    assert len(stored) == 1, "durable before the answer"
    payload = json.loads(stored[0]["payload"])
    assert (payload["type"], payload["order"], payload["item_seq"]) == (
        "OrderItemApproved",
        "5001",
        2,
    )
    assert stored[0]["subject"] == "shop/5001" and stored[0]["source"] == "pressero:shop"
    again = client.post(URL, content=body, headers=signed(KEY, body))
    assert again.status_code == 200 and again.json() == {**first.json(), "duplicate": True}
    assert len([e for e in server.events() if e["dedupe_key"] == "m-5001"]) == 1


def test_unknown_types_are_stored_and_acknowledged(
    server: IntakeServer, client: httpx.Client
) -> None:
    body = envelope("SomethingNew", 5002, message_id="m-new")
    assert client.post(URL, content=body, headers=signed(KEY, body)).status_code == 200
    assert any(e["dedupe_key"] == "m-new" for e in server.events())


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "reason"),
    [
        ("POST", URL, {"MessageHash": "0" * 40}, envelope(message_id="bad"), 401, "bad_signature"),
        ("POST", URL, {}, envelope(message_id="unsigned"), 401, "missing_signature"),
        ("POST", URL, None, b"{not json", 400, "malformed"),
        ("POST", URL, None, b'{"TypeName": "OrderPlaced"}', 400, "malformed"),
        # signed, but a surrogate UTF-8-encoded (no UTF-8 text has one) or written as a JSON
        # escape: refused whole, never a 500, never a row that fails its batch's INSERT
        (
            "POST",
            URL,
            None,
            envelope(message_id="m-s1").replace(b"m-s1", b"\xed\xa0\x80"),
            400,
            "malformed",
        ),
        ("POST", URL, None, envelope(message_id="m-\ud800"), 400, "malformed"),
        ("POST", URL, None, b"x" * 5000, 413, "too_large"),
        ("GET", URL, {}, b"", 405, "bad_method"),
        ("POST", "/webhooks/pressero/elsewhere", {}, b"{}", 404, "unknown_site"),
        ("POST", "/nope", {}, b"{}", 404, "unknown_path"),
    ],
)
def test_bad_requests_get_the_right_status_and_store_nothing(
    server: IntakeServer,
    client: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str] | None,
    body: bytes,
    status: int,
    reason: str,
) -> None:
    before = len(server.events())
    counted = server.app.rejections[reason] if server.app else 0
    response = client.request(
        method, path, content=body, headers=signed(KEY, body) if headers is None else headers
    )
    assert response.status_code == status
    assert response.json()["ok"] is False and response.json()["error"]
    assert len(server.events()) == before
    assert server.app is not None and server.app.rejections[reason] == counted + 1


def test_a_chunked_body_over_the_limit_is_refused(
    server: IntakeServer, client: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    response = client.post(URL, content=chunks(), headers={"MessageHash": "x"})
    assert response.status_code == 413


def test_a_signed_body_sent_in_chunks_is_stored_whole(
    server: IntakeServer, client: httpx.Client
) -> None:
    body = envelope("OrderItemApproved", 5101, seq=1, message_id="m-chunked")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16):
            yield body[start : start + 16]

    response = client.post(URL, content=chunks(), headers=signed(KEY, body))
    assert response.status_code == 200 and response.json()["duplicate"] is False
    [stored] = [e for e in server.events() if e["dedupe_key"] == "m-chunked"]
    assert json.loads(stored["payload"])["body"] == body.decode()


def test_concurrent_deliveries_share_commits(server: IntakeServer) -> None:
    bodies = [envelope("OrderPlaced", 6000 + n, message_id=f"c-{n}") for n in range(64)]
    commits_before = server.commits

    def post(body: bytes) -> int:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            return http.post(URL, content=body, headers=signed(KEY, body)).status_code

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(post, bodies))
    assert statuses == [200] * 64
    stored = {e["dedupe_key"] for e in server.events()}
    assert {f"c-{n}" for n in range(64)} <= stored
    assert server.commits - commits_before < 64, "group commit: fewer fsyncs than requests"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=6000),
        st.text(max_size=300).map(str.encode),
        st.builds(
            envelope,
            st.sampled_from(["OrderPlaced", "PaymentReceived", "X"]),
            st.integers(1, 10**6),
            message_id=st.uuids().map(str),
        ),
    ),
    sign=st.sampled_from(["right", "wrong", "none"]),
    replay=st.booleans(),
)
def test_any_body_gets_a_4xx_or_is_stored_whole_never_a_crash(
    server: IntakeServer, client: httpx.Client, body: bytes, sign: str, replay: bool
) -> None:
    headers = {"right": signed(KEY, body), "wrong": {"MessageHash": "ab" * 20}, "none": {}}[sign]
    before = {e["id"] for e in server.events()}
    answers = [client.post(URL, content=body, headers=headers) for _ in range(2 if replay else 1)]
    assert all(a.status_code in (200, 400, 401, 413) for a in answers)
    new = [e for e in server.events() if e["id"] not in before]
    if answers[0].status_code == 200:
        assert sign == "right"
        assert [a.json()["duplicate"] for a in answers[1:]] == [True] * (len(answers) - 1)
        fresh = not answers[0].json()["duplicate"]
        assert len(new) == (1 if fresh else 0), "stored once (or an earlier delivery's id)"
        stored = [e for e in server.events() if e["id"] == answers[0].json()["event"]]
        if fresh:
            assert json.loads(stored[0]["payload"])["body"] == body.decode(), "stored verbatim"
    else:
        assert new == [], "nothing half-stored"

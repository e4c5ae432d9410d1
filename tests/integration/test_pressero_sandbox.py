"""PresseroSandbox as a storefront: signed webhooks, lost webhooks, faults, admin API, `python -m`.

Webhooks go to `Receiver`, a plain HTTP server on loopback that records what it is sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import anyio
import httpx
import pytest

from daemon.orders.model import Approval, ItemFile, Payment
from daemon.storefronts.pressero.guesses import MESSAGE_HASH_HEADER
from daemon.storefronts.pressero.mapping import order_from_api, parse_envelope
from daemon.storefronts.pressero.sandbox import (
    DEFAULT_PASSWORD,
    DEFAULT_SITES,
    DEFAULT_SUBSCRIBER_ID,
    DEFAULT_USERNAME,
    PresseroSandbox,
    SandboxSite,
)
from daemon.storefronts.pressero.signature import HashVariant, detect_variant, verify

SITE = DEFAULT_SITES[0]


class Receiver:
    """Records each POST (headers, body) and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/pressero"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[PresseroSandbox]:
    with PresseroSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running_sandbox: PresseroSandbox) -> Iterator[PresseroSandbox]:
    running_sandbox.reset()
    yield running_sandbox
    running_sandbox.webhook_target = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as listening:
        yield listening


def assert_signed(headers: dict[str, str], body: bytes, key: str = SITE.security_key) -> None:
    assert headers["content-type"] == "application/json"
    assert verify(key, body, headers[MESSAGE_HASH_HEADER.lower()], HashVariant.KEY_BODY_HEX)


# -- webhooks -----------------------------------------------------------------------------------


def test_send_webhook_signs_the_exact_body(sandbox: PresseroSandbox, receiver: Receiver) -> None:
    order = sandbox.place_order(emit=False)
    status = sandbox.send_webhook(receiver.url, "OrderItemApproved", SITE.site_id, order, 1)
    again = sandbox.send_webhook(receiver.url, "OrderItemApproved", SITE.site_id, order, 1)
    assert (status, again) == (200, 200)
    (headers, body), (_, body_again) = receiver.received
    assert_signed(headers, body)
    envelope = parse_envelope(body)
    assert (envelope.type_name, envelope.type_code) == ("OrderItemApproved", 7)
    assert (envelope.order_number, envelope.item_seq) == (order, 1)
    assert (envelope.site_id, envelope.subscriber_id) == (SITE.site_id, DEFAULT_SUBSCRIBER_ID)
    again_id = parse_envelope(body_again).message_id
    assert envelope.message_id != again_id
    logged = sandbox.state()["webhooks"]
    assert [(w["message_id"], w["status"]) for w in logged] == [
        (envelope.message_id, 200),
        (again_id, 200),
    ]


def test_send_webhook_returns_the_listeners_status(sandbox: PresseroSandbox) -> None:
    with Receiver(status=401) as refusing:
        status = sandbox.send_webhook(refusing.url, "OrderPlaced", SITE.site_id, 1001)
    assert status == 401


def test_a_wrong_key_signs_wrongly(sandbox: PresseroSandbox, receiver: Receiver) -> None:
    sandbox.send_webhook(receiver.url, "OrderPlaced", SITE.site_id, 1, security_key="guess")
    ((headers, body),) = receiver.received
    assert not verify(SITE.security_key, body, headers["messagehash"], HashVariant.KEY_BODY_HEX)
    assert verify("guess", body, headers["messagehash"], HashVariant.KEY_BODY_HEX)


def test_send_webhook_to_nobody_raises_and_is_logged(sandbox: PresseroSandbox) -> None:
    with Receiver() as gone:
        url = gone.url
    with pytest.raises(httpx.ConnectError):
        sandbox.send_webhook(url, "OrderPlaced", SITE.site_id, 1)
    (logged,) = sandbox.state()["webhooks"]
    assert logged["status"] is None and logged["error"].startswith("ConnectError")


def test_send_webhook_refuses_an_unknown_site(sandbox: PresseroSandbox) -> None:
    with pytest.raises(LookupError, match="unknown site 'nope'"):
        sandbox.send_webhook("http://127.0.0.1:9/", "OrderPlaced", "nope", 1)


def test_send_webhook_async(sandbox: PresseroSandbox, receiver: Receiver) -> None:
    async def send() -> int:
        return await sandbox.send_webhook_async(receiver.url, "PaymentReceived", SITE.site_id, 7)

    assert anyio.run(send) == 200
    ((headers, body),) = receiver.received
    assert_signed(headers, body)
    assert parse_envelope(body).type_name == "PaymentReceived"


@pytest.mark.parametrize("variant", list(HashVariant))
def test_the_hash_variant_is_a_knob(variant: HashVariant, receiver: Receiver) -> None:
    with PresseroSandbox(hash_variant=variant) as sandbox:
        sandbox.send_webhook(receiver.url, "OrderPlaced", SITE.site_id, 1)
    ((headers, body),) = receiver.received
    assert detect_variant(SITE.security_key, body, headers["messagehash"]) is variant


def test_storefront_changes_send_their_webhooks_in_order(
    sandbox: PresseroSandbox, receiver: Receiver
) -> None:
    sandbox.webhook_target = receiver.url
    items = [{"ProductName": "Cards", "EdocSessionId": "e-1"}, {}, {}, {}]
    order = sandbox.place_order(items, paid=False, approved=False)
    ids = [
        sandbox.approve_item(order, 1),
        sandbox.deny_item(order, 2),
        sandbox.cancel_item(order, 3),
        sandbox.files_generated(order, 1),
        sandbox.mark_paid(order),
    ]
    log = sandbox.wait_for_webhooks()
    assert [(b["TypeName"], b["Data"].get("OrderItemSeq")) for b in receiver.bodies()] == [
        ("OrderPlaced", None),
        ("OrderItemApproved", 1),
        ("OrderItemDenied", 2),
        ("OrderItemStatusChanged", 3),
        ("OrderItemFilesGenerated", 1),
        ("PaymentReceived", None),
    ]
    for headers, body in receiver.received:
        assert_signed(headers, body)
    assert [b["MessageID"] for b in receiver.bodies()[1:]] == ids
    assert all(entry["status"] == 200 and not entry["lost"] for entry in log)
    (state,) = sandbox.state()["orders"]
    mapped = order_from_api(state, None, "shop")
    assert mapped.payment is Payment.PAID
    assert [(i.approval, i.cancelled, i.edoc_pending) for i in mapped.items] == [
        (Approval.APPROVED, False, False),
        (Approval.DENIED, False, False),
        (Approval.PENDING, True, False),
        (Approval.PENDING, False, False),
    ]
    # the generated production PDF is on the row (guessed fields, built from `guesses`)
    name = f"{order}-1-production.pdf"
    assert mapped.item(1).files == (
        ItemFile(f"https://{SITE.domain}/edocfiles/{order}/1/{name}", name),
    )
    assert [i.files for i in mapped.items[1:]] == [(), (), ()]


def test_lost_webhooks_are_not_sent(sandbox: PresseroSandbox, receiver: Receiver) -> None:
    sandbox.webhook_target = receiver.url
    order = sandbox.place_order(approved=False)
    sandbox.lose_next_webhook()
    lost = sandbox.approve_item(order, 1)
    sent = sandbox.mark_paid(order)
    log = sandbox.wait_for_webhooks()
    assert lost is None and sent is not None
    assert [b["TypeName"] for b in receiver.bodies()] == ["OrderPlaced", "PaymentReceived"]
    assert [(w["type_name"], w["lost"]) for w in log] == [
        ("OrderPlaced", False),
        ("OrderItemApproved", True),
        ("PaymentReceived", False),
    ]
    # the change itself happened: only its news was lost
    (state,) = sandbox.state()["orders"]
    assert state["Items"][0]["IsApproved"] is True


def test_lost_webhook_rate_replays_with_a_seed(
    sandbox: PresseroSandbox, receiver: Receiver
) -> None:
    sandbox.webhook_target = receiver.url

    def outcome() -> list[bool]:
        order = sandbox.place_order([{}] * 12, emit=False)
        return [sandbox.approve_item(order, seq) is None for seq in range(1, 13)]

    sandbox.set_faults(lost_webhook_rate=0.5, seed=11)
    first = outcome()
    sandbox.set_faults(seed=11)
    assert outcome() == first
    assert True in first and False in first
    sandbox.set_faults(lost_webhook_rate=1)
    assert outcome() == [True] * 12
    sandbox.wait_for_webhooks()
    assert len(receiver.received) == first.count(False) * 2


def test_changes_without_a_target_are_logged_not_sent(sandbox: PresseroSandbox) -> None:
    order = sandbox.place_order()
    assert sandbox.mark_paid(order) is None
    assert [w["error"] for w in sandbox.state()["webhooks"]] == ["no webhook target"] * 2


def test_changes_name_what_is_missing(sandbox: PresseroSandbox) -> None:
    with pytest.raises(LookupError, match="order not found: 99"):
        sandbox.approve_item(99, 1)
    order = sandbox.place_order(emit=False)
    with pytest.raises(LookupError, match=f"order {order} has no item 4"):
        sandbox.deny_item(order, 4)


# -- the API's own behaviour --------------------------------------------------------------------


def login(http: httpx.Client) -> dict[str, str]:
    answer = http.post(
        "/api/v2/authentication",
        json={
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
            "subscriberid": DEFAULT_SUBSCRIBER_ID,
        },
    )
    assert answer.status_code == 200
    return {"Authorization": f"Token {answer.json()['Token']}"}


def test_routes_and_field_names_ignore_case(sandbox: PresseroSandbox) -> None:
    order = sandbox.place_order(emit=False)
    with httpx.Client(base_url=sandbox.url) as http:
        headers = login(http)  # lower-case field names, "Token" scheme
        details = http.get(f"/API/V2/ORDERS/{order}/DETAILS", headers=headers)
        unauthorized = http.get(f"/api/v2/orders/{order}/Details")
        wrong_method = http.delete(f"/api/v2/orders/{order}/Details", headers=headers)
    assert details.status_code == 200 and details.json()["OrderNumber"] == order
    assert unauthorized.status_code == 401
    assert wrong_method.status_code == 405


def test_drop_really_cuts_the_connection(sandbox: PresseroSandbox) -> None:
    order = sandbox.place_order(emit=False)
    item = sandbox.state()["orders"][0]["Items"][0]["OrderItemNumber"]
    with httpx.Client(base_url=sandbox.url) as http:
        headers = login(http)  # a kept-alive connection to cut
        for kind, mis_id in (("drop", ""), ("drop_after_commit", "J-1")):
            sandbox.set_faults(fail_next=[{"kind": kind, "method": "PUT"}])
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                http.put(
                    f"/api/v2/Orders/{order}/Item/{item}", json={"MisId": "J-1"}, headers=headers
                )
            assert sandbox.state()["orders"][0]["Items"][0]["MisId"] == mis_id
        assert http.get(f"/api/v2/orders/{order}/items", headers=headers).status_code == 200


def test_random_faults_replay_with_a_seed(sandbox: PresseroSandbox) -> None:
    def outcomes() -> list[int]:
        with httpx.Client(base_url=sandbox.url) as http:
            return [http.get("/api/workflows/x/Stages").status_code for _ in range(30)]

    sandbox.set_faults(error_rate=0.4, seed=42)
    first = outcomes()
    sandbox.set_faults(seed=42)
    assert outcomes() == first
    assert {401, 503} == set(first)  # faults strike before the token check


def test_the_admin_api_over_http(sandbox: PresseroSandbox, receiver: Receiver) -> None:
    with httpx.Client(base_url=sandbox.url) as http:
        bad = http.post("/_admin/faults", json={"eror_rate": 1})
        target = http.post("/_admin/webhook_target", json={"url": receiver.url})
        placed = http.post(
            "/_admin/orders", json={"items": [{"Quantity": 3}, {}], "approved": False}
        )
        number = placed.json()["OrderNumber"]
        approved = http.post(f"/_admin/orders/{number}/approve", json={"item_seq": 2})
        unknown = http.post(f"/_admin/orders/{number}/explode", json={"item_seq": 2})
        missing = http.post("/_admin/orders/4242/paid")
        bad_arguments = [
            http.post("/_admin/orders", json=arguments)
            for arguments in (
                {"colour": "red"},
                {"items": "abc"},
                {"items": [1]},
                {"paid": "yes"},
                {"order_date": "soon"},
                {"requested_ship_date": "soon"},
            )
        ]
        sandbox.wait_for_webhooks()
        state = http.get("/_admin/state").json()
        reset = http.post("/_admin/reset")
        after = http.get("/_admin/state").json()
    assert bad.status_code == 422
    assert bad.json()["Message"].startswith("faults.eror_rate: unknown knob")
    assert target.json() == {"url": receiver.url}
    assert approved.json() == {"TypeName": "OrderItemApproved", "sent": True}
    assert unknown.status_code == 422 and "unknown action 'explode'" in unknown.json()["Message"]
    assert missing.status_code == 404
    assert [answer.status_code for answer in bad_arguments] == [422] * 6
    assert bad_arguments[0].json()["Message"].startswith("unknown argument 'colour' (known: items")
    assert [b["TypeName"] for b in receiver.bodies()] == ["OrderPlaced", "OrderItemApproved"]
    (order,) = state["orders"]
    assert [(i["Quantity"], i["IsApproved"]) for i in order["Items"]] == [(3, False), (100, True)]
    assert reset.status_code == 200 and after["orders"] == [] and after["webhooks"] == []


def test_state_keeps_site_keys_out(sandbox: PresseroSandbox) -> None:
    text = json.dumps(sandbox.state())
    assert SITE.security_key not in text and DEFAULT_PASSWORD not in text


def test_the_python_api_checks_its_input(sandbox: PresseroSandbox) -> None:
    with pytest.raises(ValueError, match=r"faults\.fail_next\[0\]\.kind: must be one of"):
        sandbox.set_faults(fail_next=[{"kind": "explode"}])
    with pytest.raises(ValueError, match=r"faults\.lost_webhook_rate: must be a fraction"):
        sandbox.set_faults(lost_webhook_rate=2)
    with pytest.raises(LookupError, match="unknown site 'x'"):
        sandbox.place_order(site="x")
    with pytest.raises(ValueError, match=r"orders\[0\]\.Items: must be a list"):
        PresseroSandbox(orders=[{"OrderNumber": 1, "OrderDate": "2025-01-01T00:00:00"}])


def test_more_sites_each_with_its_key(receiver: Receiver) -> None:
    other = SandboxSite("site-2", "Other Shop", "other.example", "other-key")
    with PresseroSandbox(sites=(SITE, other), webhook_target=receiver.url) as sandbox:
        sandbox.place_order(site="site-2")
        sandbox.wait_for_webhooks()
    ((headers, body),) = receiver.received
    assert parse_envelope(body).site_id == "site-2"
    assert_signed(headers, body, key="other-key")


def test_python_m_entry_point_serves_until_terminated(receiver: Receiver) -> None:
    command = [
        sys.executable,
        "-m",
        "daemon.storefronts.pressero.sandbox",
        "--port",
        "0",
        "--site-id",
        "shop-7",
        "--site-key",
        "k-7",
        "--webhook-target",
        receiver.url,
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready = json.loads(process.stdout.readline())
            with httpx.Client(base_url=ready["url"]) as http:
                headers = login(http)
                placed = http.post("/_admin/orders", json={}).json()
                details = http.get(
                    f"/api/v2/orders/{placed['OrderNumber']}/Details", headers=headers
                )
        finally:
            process.terminate()
            code = process.wait(timeout=15)
    assert set(ready) == {"url"}
    assert details.json()["SiteId"] == "shop-7"
    assert code == 0
    ((headers, body),) = receiver.received  # OrderPlaced was delivered before SIGTERM
    assert_signed(headers, body, key="k-7")

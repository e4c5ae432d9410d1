"""Every MIS and storefront call has an overall deadline and a size limit, over real sockets.

The sandboxes' "drip" fault sends an answer (or a WSDL) one byte at a time, so that no single
read ever times out; "huge" sends 200 MB. A dripped call must end at its deadline with a
transient `CallDeadlineExceeded`; a huge answer must be refused at the limit, without the rest
being read (the sandbox reports how much it handed to the connection before the client left).
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from daemon.errors import AnswerTooLarge, CallDeadlineExceeded, NetworkError
from daemon.providers.pace.find_expressions import equals as eq
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.providers.pace.soap_client import PaceClient
from daemon.providers.reference.client import ReferenceClient
from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.client import PresseroClient
from daemon.storefronts.pressero.sandbox import PresseroSandbox
from daemon.testing.asgi import StreamReport
from tests.pace_helpers import pace_sandbox_fixtures

pytestmark = pytest.mark.anyio

PASSWORD = "deadline-pw-7Hq!"
#: a guard against a hang, far above any deadline used here: never a timing assertion
GUARD = 60
CAP = 1024 * 1024
#: what may sit in socket buffers between the sandbox and the client when it stops reading
MARGIN = 32 * 1024 * 1024

running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures("esd", PASSWORD)


def pace_client(box: PaceSandbox, **options: object) -> PaceClient:
    return PaceClient(box.url, "esd", PASSWORD, **options)  # type: ignore[arg-type]


async def streamed(
    box: PaceSandbox | ReferenceSandbox | PresseroSandbox, kind: str
) -> StreamReport:
    """The one `kind` answer the sandbox streamed, once it has seen its end (the client's
    hang-up). By kind: a stream of the test before may end (and be reported) after the reset
    between tests, on a loaded machine."""
    with anyio.fail_after(GUARD):
        while not [r for r in box.streamed() if r.kind == kind]:
            await anyio.sleep(0.02)
    (report,) = [r for r in box.streamed() if r.kind == kind]
    return report


async def assert_cut_early(box: PaceSandbox | ReferenceSandbox | PresseroSandbox) -> None:
    report = await streamed(box, "huge")
    assert report.closed_early, "the client hung up before the end of the answer"
    assert report.sent < CAP + MARGIN < report.planned


async def test_a_dripped_wsdl_ends_at_the_deadline_as_a_network_error(
    sandbox: PaceSandbox,
) -> None:
    sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "drip"}], drip_interval_ms=100)
    async with pace_client(sandbox, call_deadline_seconds=1.5) as client:
        with anyio.fail_after(GUARD), pytest.raises(CallDeadlineExceeded) as caught:
            await client.find("Job", eq("job", "1"))
        assert isinstance(caught.value, NetworkError)  # transient: retried durably
        assert "1.5s call deadline" in str(caught.value)
        assert "load FindObjects WSDL" in str(caught.value)
        # The next load is not held by the abandoned one: it loads and answers.
        with anyio.fail_after(GUARD):
            assert await client.find("Job", eq("job", "1")) == []
    assert sandbox.state()["wsdl_fetches"]["FindObjects"] == 2  # not retried in the call


async def test_a_load_stuck_on_a_dripped_wsdl_holds_other_calls_no_longer_than_the_deadline(
    sandbox: PaceSandbox,
) -> None:
    sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "drip"}], drip_interval_ms=100)
    outcomes: list[str] = []
    async with pace_client(sandbox, call_deadline_seconds=1.5) as client:

        async def one() -> None:
            try:
                await client.find("Job", eq("job", "1"))
            except CallDeadlineExceeded:
                outcomes.append("deadline")
            else:
                outcomes.append("answered")

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(one)
    # Each ended: none waited on the lock beyond its own deadline; the dripped one failed.
    assert len(outcomes) == 3
    assert "deadline" in outcomes


async def test_a_dripped_soap_answer_ends_at_the_deadline(sandbox: PaceSandbox) -> None:
    async with pace_client(sandbox, call_deadline_seconds=1.5) as client:
        await client.find("Job", eq("job", "1"))  # the WSDL is loaded
        sandbox.set_faults(fail_next=[{"operation": "find", "kind": "drip"}], drip_interval_ms=100)
        with anyio.fail_after(GUARD), pytest.raises(CallDeadlineExceeded, match="find Job"):
            await client.find("Job", eq("job", "1"))
    report = await streamed(sandbox, "drip")
    assert report.closed_early


async def test_a_huge_soap_answer_is_refused_at_the_limit_unread(sandbox: PaceSandbox) -> None:
    async with pace_client(sandbox, max_answer_bytes=CAP) as client:
        await client.find("Job", eq("job", "1"))
        sandbox.set_faults(fail_next=[{"operation": "find", "kind": "huge"}])
        with anyio.fail_after(GUARD), pytest.raises(AnswerTooLarge) as caught:
            await client.find("Job", eq("job", "1"))
    text = str(caught.value)
    assert f"{sandbox.url}/rpc/services/FindObjects" in text and f"{CAP} byte limit" in text
    assert PASSWORD not in text
    await assert_cut_early(sandbox)


async def test_a_huge_wsdl_is_refused_at_the_limit_unread(sandbox: PaceSandbox) -> None:
    sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "huge"}])
    async with pace_client(sandbox, max_wsdl_bytes=CAP) as client:
        with anyio.fail_after(GUARD), pytest.raises(AnswerTooLarge) as caught:
            await client.find("Job", eq("job", "1"))
    text = str(caught.value)
    assert "load FindObjects WSDL" in text
    assert f"{sandbox.url}/rpc/services/FindObjects" in text
    assert f"{CAP} byte limit (max_wsdl_bytes)" in text
    await assert_cut_early(sandbox)


@pytest.fixture
def reference() -> Iterator[ReferenceSandbox]:
    with ReferenceSandbox(login="esd", password=PASSWORD) as box:
        yield box


async def test_reference_calls_have_a_deadline_and_a_size_limit(
    reference: ReferenceSandbox,
) -> None:
    client = ReferenceClient(
        reference.url, "esd", PASSWORD, call_deadline_seconds=1.5, max_answer_bytes=CAP
    )
    try:
        reference.set_faults(fail_next=[{"kind": "drip"}], drip_interval_ms=100)
        with anyio.fail_after(GUARD), pytest.raises(CallDeadlineExceeded, match="ping"):
            await client.ping()
        assert (await streamed(reference, "drip")).closed_early
        assert reference.state()["calls"]["GET /api/ping"] == 1  # not retried in the call
        reference.reset()
        reference.set_faults(fail_next=[{"kind": "huge"}])
        with anyio.fail_after(GUARD), pytest.raises(AnswerTooLarge, match="byte limit"):
            await client.ping()
        await assert_cut_early(reference)
    finally:
        await client.aclose()


@pytest.fixture
def pressero() -> Iterator[PresseroSandbox]:
    with PresseroSandbox("admin@shop.example", PASSWORD, subscriber_id="SUB-1") as box:
        yield box


async def test_storefront_calls_have_a_deadline_and_a_size_limit(pressero: PresseroSandbox) -> None:
    async with PresseroClient(
        pressero.url,
        "admin@shop.example",
        PASSWORD,
        "SUB-1",
        call_deadline_seconds=1.5,
        max_answer_bytes=CAP,
    ) as client:
        pressero.set_faults(fail_next=[{"kind": "drip"}], drip_interval_ms=100)
        with anyio.fail_after(GUARD), pytest.raises(CallDeadlineExceeded, match="log in"):
            await client.authenticate()
        assert (await streamed(pressero, "drip")).closed_early
        pressero.reset()
        pressero.set_faults(fail_next=[{"kind": "huge"}])
        with anyio.fail_after(GUARD), pytest.raises(AnswerTooLarge, match="byte limit"):
            await client.authenticate()
        await assert_cut_early(pressero)

"""The journaled creates of a Tharstern push, each one `daemon.providers.kit.ensure_step`.

No Tharstern create is idempotent (posting twice makes two), so each step first asks the journal,
then looks in Tharstern for what an earlier attempt made without hearing the answer, and only
then creates. Every look-up is by the push reference or what it determines (guesses):

    step                journal value                 found again by
    contact             {"email": text}               contacts?customerCode=, by e-mail
    address:<code>      {"address_id": int}           addresses?customerCode=&code=<code>, the
                                                      code a digest of the push reference and
                                                      the address
    sales_order:<seqs>  {"order_no": text,            orders?keyword=<order number>, Ref2 = the
                         "order_id": int}             sales order's reference, the same seqs
    estimate:<seq>      {"estimate_id": int}          estimates?keyword=<order number>, Ref1 =
                                                      the push reference, the item's title
    job:<seq>           {"job_no": text}              jobs?keyword=<order number>, the estimate
    artwork:<seq>       {"files": int}                attachments?moduleType=2&recordNo=<job>,
                                                      by Content_URL (only missing ones are sent)

Tharstern's quirk of answering `Success: false` although it made the estimate is settled by the
same look-up, inside the create: no retry, so never a second estimate.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog

from daemon.errors import BusinessRuleError
from daemon.orders.model import Address, ItemFile, OrderItem
from daemon.providers.contract import PushJournal
from daemon.providers.kit import ensure_step, journal_int, journal_text
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.client import TharsternClient
from daemon.providers.tharstern.estimate_request import estimate_reference

__all__ = [
    "address_code",
    "ensure_address",
    "ensure_artwork",
    "ensure_contact",
    "ensure_estimate",
    "ensure_job",
    "ensure_sales_order",
    "estimate_matches",
    "find_estimate",
    "find_job",
    "find_sales_order",
    "missing_artwork",
    "unsent_stock_files",
]

log = structlog.get_logger(__name__)


def address_code(reference: str, address: Address) -> str:
    """The delivery address code of `address` in the push `reference`: a digest of both, so it
    is the same on every attempt and in every later batch of the order's items (an address a
    lost answer made is found again), and differs between an order's addresses (guesses)."""
    fields = "\x1f".join(str(getattr(address, f.name)) for f in dataclasses.fields(address))
    digest = hashlib.sha256(f"{reference}\x1e{fields}".encode()).hexdigest()
    return ("E" + digest)[: g.ADDRESS_CODE_LENGTH]


async def ensure_address(
    client: TharsternClient,
    journal: PushJournal,
    customer_code: str,
    code: str,
    body: Mapping[str, Any],
) -> int:
    """The delivery address `code` under `customer_code` (`body` is its `address/create`)."""

    async def find() -> int | None:
        found = await client.find_addresses(customer_code, code)
        return int(found[0]["ID"]) if found else None

    async def create() -> int:
        made = await client.create_address(body, what=f"create delivery address {code}")
        log.info("tharstern.address.created", code=code, address=made)
        return made

    return await ensure_step(
        journal, f"address:{code}", "address_id", read=journal_int, find=find, create=create
    )


async def ensure_contact(
    client: TharsternClient,
    journal: PushJournal,
    customer_code: str,
    email: str,
    body: Mapping[str, Any],
) -> str:
    """The buyer (`email`) a contact of `customer_code`, added only when missing."""

    async def find() -> str | None:
        wanted = email.casefold()
        for contact in await client.contacts(customer_code):
            if str(contact.get(g.CONTACT_EMAIL, "")).strip().casefold() == wanted:
                return email
        return None

    async def create() -> str:
        await client.add_contact(body, what=f"add contact {email} to customer {customer_code}")
        log.info("tharstern.contact.created", customer=customer_code)
        return email

    return await ensure_step(
        journal, "contact", "email", read=journal_text, find=find, create=create
    )


async def find_sales_order(
    client: TharsternClient, order_number: str, reference: str, seqs: Sequence[int]
) -> tuple[str, int] | None:
    """(OrderNo, ID) of the sales order this push made for the lines `seqs`, or None."""
    wanted = sorted(str(s) for s in seqs)
    for found in await client.find_orders(order_number):
        if str(found.get("Ref2", "")) != reference:
            continue
        lines = found.get("Items")
        got = (
            sorted(str(line.get("Ref1", "")) for line in lines if isinstance(line, Mapping))
            if isinstance(lines, list)
            else []
        )
        if got == wanted:
            return str(found.get("OrderNo") or found.get("ID")), int(found["ID"])
    return None


async def ensure_sales_order(
    client: TharsternClient,
    journal: PushJournal,
    order_number: str,
    reference: str,
    seqs: Sequence[int],
    body: Callable[[], Awaitable[Mapping[str, Any]]],
) -> str:
    """The sales order of the stock lines `seqs` (`body` makes its `orders/submit`, only when
    it must be created); its OrderNo."""
    made: dict[str, int] = {}

    async def find() -> str | None:
        found = await find_sales_order(client, order_number, reference, seqs)
        if found is None:
            return None
        made["order_id"] = found[1]
        log.info("tharstern.sales_order.found", order=order_number, order_no=found[0])
        return found[0]

    async def create() -> str:
        order_id = await client.submit_order(
            await body(), what=f"submit sales order of {order_number}"
        )
        record = await client.order(order_id)
        made["order_id"] = order_id
        order_no = str(record.get("OrderNo") or order_id) if record else str(order_id)
        log.info("tharstern.sales_order.created", order=order_number, order_no=order_no)
        return order_no

    return await ensure_step(
        journal,
        "sales_order:" + "-".join(str(seq) for seq in sorted(seqs)),
        "order_no",
        read=journal_text,
        find=find,
        create=create,
        extra=lambda: dict(made),
    )


def estimate_matches(found: Mapping[str, Any], reference: str, seq: int) -> bool:
    """Is `found` (an `estimates` or `jobs` item) what this push made for item `seq`? Its Ref1
    is the item's push reference (`estimate_request.estimate_reference`)."""
    return str(found.get(g.ESTIMATE_REF_PUSH, "")) == estimate_reference(reference, seq)


async def find_estimate(
    client: TharsternClient, order_number: str, reference: str, seq: int
) -> int | None:
    """The ID of the estimate this push made for item `seq`, or None."""
    for found in await client.find_estimates(order_number):
        if estimate_matches(found, reference, seq):
            return int(found["ID"])
    return None


async def ensure_estimate(
    client: TharsternClient,
    journal: PushJournal,
    seq: int,
    order_number: str,
    reference: str,
    build: Callable[[], Awaitable[Mapping[str, Any]]],
) -> int:
    """The estimate of item `seq`; `build` makes its request (from the example) when needed."""

    async def find() -> int | None:
        return await find_estimate(client, order_number, reference, seq)

    async def create() -> int:
        what = f"request the estimate of order {order_number} item {seq}"
        answer = await client.request_estimate(await build(), what=what)
        if answer.success and answer.estimate_id is not None:
            log.info(
                "tharstern.estimate.created",
                order=order_number,
                seq=seq,
                estimate=answer.estimate_id,
            )
            return answer.estimate_id
        # The quirk: Success false although made. The look-up decides, never a retry.
        found = await find()
        if found is not None:
            log.info(
                "tharstern.estimate.created_although_refused",
                order=order_number,
                seq=seq,
                estimate=found,
            )
            return found
        reasons = "; ".join(answer.problems) or "no reason given"
        raise BusinessRuleError(f"{what}: Tharstern refused the estimate: {reasons}")

    return await ensure_step(
        journal, f"estimate:{seq}", "estimate_id", read=journal_int, find=find, create=create
    )


async def find_job(
    client: TharsternClient, order_number: str, reference: str, seq: int, estimate_id: int
) -> str | None:
    """The JobNo of the job made from `estimate_id` for item `seq` by this push, or None."""
    for found in await client.find_jobs(order_number):
        if found.get("EstimateID") == estimate_id and estimate_matches(found, reference, seq):
            return str(found[g.CREATED_JOB_NO])
    return None


async def ensure_job(
    client: TharsternClient,
    journal: PushJournal,
    seq: int,
    order_number: str,
    reference: str,
    estimate_id: int,
    body: Mapping[str, Any],
    *,
    initial_status: str,
) -> str:
    """The job of item `seq`'s estimate (`body` is its `job/createfromestimate`), with the
    initial status set: an update, idempotent, done before the step counts."""

    async def find() -> str | None:
        return await find_job(client, order_number, reference, seq, estimate_id)

    async def create() -> str:
        what = f"create the job of order {order_number} item {seq}"
        job_no = await client.create_job(body, what=what)
        log.info("tharstern.job.created", order=order_number, seq=seq, job=job_no)
        return job_no

    async def finish(job_no: str) -> None:
        if initial_status:
            update = {g.CREATED_JOB_NO: job_no, "StatusDescription": initial_status}
            await client.update_job(update, what=f"set the initial status of job {job_no}")

    return await ensure_step(
        journal,
        f"job:{seq}",
        "job_no",
        read=journal_text,
        find=find,
        create=create,
        finish=finish,
    )


async def missing_artwork(
    client: TharsternClient, job_no: str, files: Sequence[ItemFile]
) -> list[ItemFile]:
    """The `files` job `job_no` does not hold yet, by `Content_URL`."""
    held = {
        str(a.get("Content_URL", ""))
        for a in await client.attachments(g.ATTACHMENT_MODULE_JOB, job_no)
    }
    return [file for file in files if file.url not in held]


async def ensure_artwork(
    client: TharsternClient,
    journal: PushJournal,
    seq: int,
    job_no: str,
    files: Sequence[ItemFile],
) -> int:
    """Item `seq`'s print-ready files attached to its job by URL, once each."""
    missing: list[ItemFile] = []

    async def find() -> int | None:
        missing[:] = await missing_artwork(client, job_no, files)
        return None if missing else len(files)

    async def create() -> int:
        items = [
            {
                "Filename": file.name or _filename(file.url),
                "ModuleType": {"Value": g.ATTACHMENT_MODULE_JOB},
                "RecordNo": job_no,
                "Type": {"Value": g.ATTACHMENT_TYPE_ARTWORK},
                "Details": "print-ready file from the storefront",
                "Content_URL": file.url,
            }
            for file in missing
        ]
        await client.add_attachments(items, what=f"attach the artwork of job {job_no}")
        log.info("tharstern.artwork.attached", job=job_no, files=len(items))
        return len(files)

    return await ensure_step(
        journal, f"artwork:{seq}", "files", read=journal_int, find=find, create=create
    )


def _filename(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rpartition("/")[2]
    return name or "artwork"


def unsent_stock_files(item: OrderItem, order_no: str) -> str | None:
    """The operator's warning for a stock item that has print-ready files, or None: they are
    not sent. A sales order takes files only as their contents (`orders/submitorderasset
    {OrderId, Filename, Content_Base64}`, seen in code), which esd would have to download,
    with no known look-up to send each once; Tharstern's `attachments` modules known are the
    estimate and the job. Names only, never the URLs (a signed URL carries its token)."""
    files = artwork_files(item)
    if not files:
        return None
    names = ", ".join(file.name or _filename(file.url) for file in files)
    return (
        f"item {item.seq}: {len(files)} print-ready file(s) not sent to Tharstern ({names}):"
        f" a sales order takes files only as their contents (orders/submitorderasset), which"
        f" esd does not send; attach them to sales order {order_no} by hand"
    )


def artwork_files(item: OrderItem) -> tuple[ItemFile, ...]:
    """The item's print-ready files, attached to its job by URL (seed 000: "Is artwork from an
    order sent to Tharstern as well as the order data?"). They come from the storefront
    (`OrderItem.files`: for Pressero, once eDocBuilder generated them); each URL once."""
    files: list[ItemFile] = []
    for file in item.files:
        if all(f.url != file.url for f in files):
            files.append(file)
    return tuple(files)

"""The reference MIS driver: pushes orders as jobs with one line per item, exactly once.

Neither create in the reference API is idempotent, so every create is guarded twice: the
journal says which steps finished, and before creating the driver looks for what an earlier
attempt may have created without hearing the answer (the job by its reference, a line by its
`line_key`). A retry, or a restart after a crash at any point, therefore never makes a second job
or a second line.

Steps recorded in the journal: `job` → `{"job_id": ...}`, then `line:<seq>` → `{"line_id": ...}`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog

from daemon.errors import DriverError, NotFound
from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import (
    ConnectionReport,
    Driver,
    ItemRef,
    ProductRecord,
    PushJournal,
    PushResult,
    StatusMode,
    StatusReport,
    check_account,
)
from daemon.providers.kit import (
    ensure_step,
    journal_text,
    required_credentials_problems,
    url_scheme_problems,
)
from daemon.providers.kit.settings_reader import SettingsReader, table_problem
from daemon.providers.reference import MANIFEST
from daemon.providers.reference.client import DEFAULT_TIMEOUT, ReferenceClient
from daemon.providers.reference.mapping import (
    Job,
    job_request,
    line_key,
    line_request,
    product_record,
    status_report,
)
from daemon.providers.reference.webhook import webhook_judge
from daemon.remote.deadline import LIMIT_KEYS, CallLimits, limits_problems

__all__ = [
    "PRODUCT_PAGE_SIZE",
    "ReferenceDriver",
    "credentials_problems",
    "driver_class",
    "settings_problems",
    "webhook_judge",
]

#: products asked for per page during an import
PRODUCT_PAGE_SIZE = 10

_SETTINGS = ("customer", "timeout_seconds", "status", *LIMIT_KEYS)
#: `status` setting -> how status comes back (webhook: daemon.providers.reference.webhook)
_STATUS_MODES = {"poll": StatusMode.POLL, "webhook": StatusMode.WEBHOOK}

log = structlog.get_logger(__name__)


def settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with an account's `reference` settings, as (key, message) pairs."""
    if not isinstance(settings, Mapping):
        return table_problem(settings)
    read = SettingsReader(settings)
    customer = settings.get("customer")
    if customer is None:
        read.problem("customer", "required: the MIS customer id that orders are booked to")
    elif not isinstance(customer, str) or not customer.strip():
        read.problem("customer", "must be a non-empty string")
    read.seconds("timeout_seconds", DEFAULT_TIMEOUT)
    if settings.get("status", "poll") not in _STATUS_MODES:
        read.problem("status", f"must be one of: {', '.join(_STATUS_MODES)}")
    read.problems += limits_problems(settings)
    read.unknown_keys(_SETTINGS, secret_keys=())
    return read.problems


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is missing from the account's credentials; values are never quoted."""
    problems = required_credentials_problems(
        credentials, MANIFEST.credential_keys
    ) + url_scheme_problems(credentials)
    secret = credentials.get("webhook_secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        problems.append(("webhook_secret", "must be a non-empty string"))
    return problems


def _webhook_secret_problems(
    settings: Mapping[str, Any], credentials: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Webhook mode without a secret would refuse every delivery: say so at the start."""
    if settings.get("status") == "webhook" and not credentials.get("webhook_secret"):
        return [("webhook_secret", 'required with status = "webhook": the signing secret')]
    return []


class ReferenceDriver(Driver):
    """One account's connection to a reference MIS."""

    provider = "reference"
    #: the default; each account's `status` setting picks its own status mode (`__init__`)
    capabilities = MANIFEST.capabilities

    def __init__(
        self, account: str, settings: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> None:
        super().__init__(account, settings, credentials)
        check_account(
            settings_problems(settings),
            credentials_problems(credentials) + _webhook_secret_problems(settings, credentials),
        )
        self.capabilities = dataclasses.replace(
            type(self).capabilities, status=_STATUS_MODES[settings.get("status", "poll")]
        )
        limits = CallLimits.of(settings)
        self._client = ReferenceClient(
            credentials["url"],
            credentials["login"],
            credentials["password"],
            timeout=float(settings.get("timeout_seconds", DEFAULT_TIMEOUT)),
            call_deadline_seconds=limits.deadline_seconds,
            max_answer_bytes=limits.max_answer_bytes,
        )

    async def test_connection(self) -> ConnectionReport:
        try:
            product, version = await self._client.ping()
        except DriverError as exc:
            return ConnectionReport(ok=False, detail=exc.message)
        return ConnectionReport(
            ok=True, detail=f"{product} {version} answers", server_version=version
        )

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        job_id = await self._ensure_job(order, journal, reference)
        job: list[Job] = []  # read once, only if some line step is not journaled yet
        refs: list[ItemRef] = []
        for item in items:

            async def find(item: OrderItem = item) -> str | None:
                if not job:
                    job.append(await self._client.get_job(job_id))
                existing = job[0].line_by_key(line_key(item.seq))
                if existing is None:
                    return None
                log.info(
                    "reference.line.found", account=self.account, job=job_id, line=existing.line_id
                )
                return existing.line_id

            async def create(item: OrderItem = item) -> str:
                line_id = await self._client.add_line(job_id, line_request(item))
                log.info("reference.line.created", account=self.account, job=job_id, line=line_id)
                return line_id

            line_id = await ensure_step(
                journal, f"line:{item.seq}", "line_id", read=journal_text, find=find, create=create
            )
            refs.append(ItemRef(item.seq, line_id))
        return PushResult(order_external_id=job_id, items=tuple(refs))

    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        jobs = await self._client.find_jobs(reference)
        if not jobs:
            return None
        job = jobs[0]
        refs: list[ItemRef] = []
        for item in items:
            line = job.line_by_key(line_key(item.seq))
            if line is None:
                return None
            refs.append(ItemRef(item.seq, line.line_id))
        return PushResult(order_external_id=job.job_id, items=tuple(refs))

    async def fetch_status(
        self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
    ) -> Sequence[StatusReport]:
        job = await self._client.get_job(order_external_id)
        reports: list[StatusReport] = []
        for ref in pushed:
            line = job.line_by_id(ref.external_id)
            if line is None:
                raise NotFound(
                    f"status of order {order.order_number}: job {job.job_id} "
                    f"has no line {ref.external_id} (item {ref.item_seq})"
                )
            reports.append(status_report(ref.item_seq, line))
        return reports

    def order_of_item(self, external_id: str) -> str | None:
        """The job of a line id: "J1001" of "J1001-01" (the sandbox's `add_line` numbering)."""
        job, dash, _line = external_id.rpartition("-")
        return job if dash and job else None

    async def fetch_products(self) -> AsyncIterator[Sequence[ProductRecord]]:
        page = 1
        while True:
            batch = await self._client.products(page, PRODUCT_PAGE_SIZE)
            if not batch.items:
                return
            yield [product_record(product) for product in batch.items]
            if page * PRODUCT_PAGE_SIZE >= batch.total:
                return
            page += 1

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _ensure_job(self, order: Order, journal: PushJournal, reference: str) -> str:
        async def find() -> str | None:
            found = await self._client.find_jobs(reference)
            if not found:
                return None
            # An earlier attempt created it but never heard back; the oldest one is ours.
            job_id = found[0].job_id
            log.info("reference.job.found", account=self.account, reference=reference, job=job_id)
            return job_id

        async def create() -> str:
            request = job_request(order, reference, self.settings)
            job_id = await self._client.create_job(request)
            log.info("reference.job.created", account=self.account, reference=reference, job=job_id)
            return job_id

        return await ensure_step(
            journal, "job", "job_id", read=journal_text, find=find, create=create
        )


driver_class = ReferenceDriver

"""The Tharstern driver: an order's items out along two paths, exactly once; status back.

Per order (issue 14, seed 000 / 002): the pushable items are routed by the product map
(`product_routing`): stock items become the lines of a sales order (one per delivery address),
products of a Tharstern product type become an estimate request each (from the type's example
request, edited by the mapping) and a job from that estimate, with the item's print-ready files
attached to the job by URL. Delivery addresses are created under the order's customer code
first; the customer itself must exist (Tharstern's API cannot create one).

Every create goes through `push_steps` (journal -> find -> create -> record). The external id
of an estimate item is its JobNo, of a stock item the OrderNo of its sales order: what
Tharstern's webhooks name (`webhook`) and what the poll fallback reads (`status_poll`).

Status mode: an account with a `webhook_secret` credential takes Tharstern's webhooks
(`StatusMode.WEBHOOK`) and is polled as well, on the account's `status_poll_seconds`, for lost
webhooks (`Capabilities.poll_fallback`; `poll_fallback = false` turns that off); one
without is polled only (`StatusMode.POLL`, the shop that does not enable subscriptions).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import structlog

from daemon.errors import BusinessRuleError, DriverError
from daemon.orders.charges import ItemCharges, item_charges
from daemon.orders.model import Address, Order, OrderItem
from daemon.providers.contract import (
    ConnectionReport,
    Driver,
    ItemRef,
    PushJournal,
    PushResult,
    StatusMode,
    StatusReport,
    check_account,
)
from daemon.providers.tharstern import MANIFEST
from daemon.providers.tharstern import push_steps as steps
from daemon.providers.tharstern.client import Product, TharsternClient
from daemon.providers.tharstern.customer_codes import customer_for_order, missing_customer
from daemon.providers.tharstern.delivery_address import address_body, contact_body, has_address
from daemon.providers.tharstern.dispatch_date import dispatch_date
from daemon.providers.tharstern.estimate_request import estimate_request, job_from_estimate
from daemon.providers.tharstern.pricing import item_price
from daemon.providers.tharstern.product_routing import EstimateItem, Routes, StockLine, route_items
from daemon.providers.tharstern.sales_order import (
    OrderLine,
    sales_order,
    sales_order_reference,
    stock_lines_by_address,
)
from daemon.providers.tharstern.settings import (
    TharsternSettings,
    parse_settings,
    parse_site_overrides,
)
from daemon.providers.tharstern.settings import alert_emails as alert_emails
from daemon.providers.tharstern.settings import credentials_problems as credentials_problems
from daemon.providers.tharstern.settings import settings_problems as settings_problems
from daemon.providers.tharstern.settings import (
    site_settings_problems as site_settings_problems,
)
from daemon.providers.tharstern.status_mapping import reported_status
from daemon.providers.tharstern.status_poll import status_of_items

__all__ = [
    "TharsternDriver",
    "alert_emails",
    "credentials_problems",
    "settings_problems",
    "site_settings_problems",
]

log = structlog.get_logger(__name__)


class TharsternDriver(Driver):
    """One account's connection to a Tharstern MIS."""

    provider = "tharstern"
    capabilities = MANIFEST.capabilities

    def __init__(
        self,
        account: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, str],
        *,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        super().__init__(account, settings, credentials)
        check_account(settings_problems(settings), credentials_problems(credentials))
        self._parsed = parse_settings(settings)
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        # Webhooks need their secret; without one the account is polled. With one, the poll
        # stays on as the fallback for lost webhooks unless `poll_fallback = false`.
        mode = StatusMode.WEBHOOK if credentials.get("webhook_secret") else StatusMode.POLL
        self.capabilities = dataclasses.replace(
            type(self).capabilities,
            status=mode,
            poll_fallback=mode is StatusMode.WEBHOOK and self._parsed.poll_fallback,
        )
        self.final_statuses = frozenset(self._parsed.final_statuses)  # type: ignore[misc]
        self._client = TharsternClient(
            credentials["url"],
            credentials["login"],
            credentials["password"],
            credentials.get("application_id") or self._parsed.application_id,
            timeout=self._parsed.timeout_seconds,
            call_deadline_seconds=self._parsed.limits.deadline_seconds,
            max_answer_bytes=self._parsed.limits.max_answer_bytes,
        )
        #: product code -> its Tharstern product (stable; read once per driver)
        self._products: dict[str, Product] = {}
        #: product type -> its example estimate request (a template: `estimate_request` edits a
        #: copy, so one fetch serves every estimate item of that type, as products above)
        self._examples: dict[int, Mapping[str, Any]] = {}
        #: customer codes seen to exist (a code in use is not deleted behind a push's back)
        self._customers: set[str] = set()

    def __repr__(self) -> str:
        return f"TharsternDriver({self.account!r})"

    @property
    def client(self) -> TharsternClient:
        """The client (its `calls` count what a push costs)."""
        return self._client

    async def test_connection(self) -> ConnectionReport:
        code = self._parsed.default_customer_code
        try:
            await self._client.authenticate()
            found = await self._client.customer(code)
        except DriverError as exc:
            return ConnectionReport(ok=False, detail=exc.message)
        if found is None:
            return ConnectionReport(
                ok=False, detail=f"signed in, but Tharstern has no customer {code}"
            )
        return ConnectionReport(ok=True, detail=f"signed in; customer {code} found")

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        settings = self._settings_of(order.site)
        routes = route_items(order, items, settings)
        choice = customer_for_order(order, settings)
        if choice.code not in self._customers:
            if await self._client.customer(choice.code) is None:
                raise missing_customer(order, choice)
            self._customers.add(choice.code)
        push = _Push(
            order,
            reference,
            settings,
            choice.code,
            dispatch_date(order, settings, today=self._today()),
            item_charges(order, items),
        )
        await self._ensure_contact(push, journal)
        addresses = await self._ensure_addresses(push, routes, journal)
        refs: dict[int, str] = {}
        order_nos: list[str] = []
        warnings: list[str] = []
        for address, lines in stock_lines_by_address(routes.stock):
            order_no = await self._ensure_sales_order(
                push, lines, addresses.get(address, ""), journal
            )
            order_nos.append(order_no)
            refs.update((line.item.seq, order_no) for line in lines)
            warnings.extend(
                warning
                for line in lines
                if (warning := steps.unsent_stock_files(line.item, order_no)) is not None
            )
        job_nos: list[str] = []
        for estimate in routes.estimates:
            job_no = await self._ensure_estimate_job(
                push, estimate, addresses.get(estimate.item.ship_to, ""), journal
            )
            job_nos.append(job_no)
            refs[estimate.item.seq] = job_no
        log.info(
            "tharstern.pushed",
            account=self.account,
            order=order.order_number,
            sales_orders=order_nos,
            jobs=job_nos,
        )
        return PushResult(
            order_external_id=(order_nos or job_nos)[0],
            items=tuple(ItemRef(seq, refs[seq]) for seq in sorted(refs)),
            warnings=tuple(warnings),
        )

    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        settings = self._settings_of(order.site)
        try:
            routes = route_items(order, items, settings)
        except BusinessRuleError:
            return None
        refs: dict[int, str] = {}
        first: list[str] = []
        for _address, lines in stock_lines_by_address(routes.stock):
            seqs = [line.item.seq for line in lines]
            found = await steps.find_sales_order(
                self._client, order.order_number, sales_order_reference(reference, seqs), seqs
            )
            if found is None:
                return None
            first.append(found[0])
            refs.update((seq, found[0]) for seq in seqs)
        for estimate in routes.estimates:
            seq = estimate.item.seq
            estimate_id = await steps.find_estimate(
                self._client, order.order_number, reference, seq
            )
            if estimate_id is None:
                return None
            job_no = await steps.find_job(
                self._client, order.order_number, reference, seq, estimate_id
            )
            if job_no is None:
                return None
            files = steps.artwork_files(estimate.item)
            if files and await steps.missing_artwork(self._client, job_no, files):
                return None  # the push is not finished: it resumes and attaches them
            first.append(job_no)
            refs[seq] = job_no
        if not refs:
            return None
        return PushResult(
            order_external_id=first[0], items=tuple(ItemRef(s, refs[s]) for s in sorted(refs))
        )

    async def fetch_status(
        self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
    ) -> Sequence[StatusReport]:
        settings = self._settings_of(order.site)
        try:
            routes = route_items(order, order.items, settings)
            jobs = {e.item.seq for e in routes.estimates}
        except BusinessRuleError:
            jobs = set()

        return await status_of_items(
            self._client,
            order.order_number,
            pushed,
            lambda ref: ref.item_seq in jobs,
            lambda status: reported_status(status, settings),
        )

    def order_of_item(self, external_id: str) -> str | None:
        """An item's JobNo or OrderNo names its Tharstern record by itself: the poll reads it
        (items esd adopted from the storefront's MisId included)."""
        return external_id or None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the parts of a push -------------------------------------------------------------------

    def _settings_of(self, site: str) -> TharsternSettings:
        overrides = self.site_settings.get(site)
        if not overrides:
            return self._parsed
        return self._parsed.with_site(parse_site_overrides(overrides))

    async def _ensure_contact(self, push: _Push, journal: PushJournal) -> None:
        """The buyer as a contact of the order's customer (ROIOrders looks the contact up and
        adds it when missing). Asked on every push: a contact may be removed in Tharstern."""
        email = push.order.user.email.strip()
        if email:
            body = contact_body(push.customer, push.order.user)
            await steps.ensure_contact(self._client, journal, push.customer, email, body)

    async def _ensure_addresses(
        self, push: _Push, routes: Routes, journal: PushJournal
    ) -> dict[Address, str]:
        """Each distinct ship-to of the routed items as a delivery address: address -> code."""
        codes: dict[Address, str] = {}
        for item in [s.item for s in routes.stock] + [e.item for e in routes.estimates]:
            address = item.ship_to
            if address in codes or not has_address(address):
                continue
            code = steps.address_code(push.reference, address)
            body = address_body(push.customer, code, address)
            await steps.ensure_address(self._client, journal, push.customer, code, body)
            codes[address] = code
        return codes

    async def _ensure_sales_order(
        self,
        push: _Push,
        lines: Sequence[StockLine],
        delivery_code: str,
        journal: PushJournal,
    ) -> str:
        seqs = [line.item.seq for line in lines]
        reference = sales_order_reference(push.reference, seqs)

        async def body() -> Mapping[str, Any]:
            order_lines = [
                OrderLine(
                    line.item,
                    await self._stock_id(push.order, line),
                    price=item_price(line.item, push.charge(line.item), push.settings, stock=True),
                )
                for line in lines
            ]
            return sales_order(
                push.order,
                order_lines,
                push.settings,
                customer_code=push.customer,
                reference=reference,
                required_date=push.required,
                today=self._today(),
                delivery_code=delivery_code,
            )

        return await steps.ensure_sales_order(
            self._client, journal, push.order.order_number, reference, seqs, body
        )

    async def _stock_id(self, order: Order, line: StockLine) -> int:
        product = self._products.get(line.stock_code)
        if product is None:
            product = await self._client.product_by_code(line.stock_code)
            if product is None:
                raise BusinessRuleError(
                    f"order {order.order_number} item {line.item.seq}: Tharstern has no "
                    f"product {line.stock_code}"
                )
            self._products[line.stock_code] = product
        return product.product_id

    async def _example(self, product_type: int) -> Mapping[str, Any]:
        example = self._examples.get(product_type)
        if example is None:
            example = await self._client.estimate_example(product_type)
            self._examples[product_type] = example
        return example

    async def _ensure_estimate_job(
        self, push: _Push, estimate: EstimateItem, delivery_code: str, journal: PushJournal
    ) -> str:
        item = estimate.item
        order = push.order

        async def build() -> Mapping[str, Any]:
            return estimate_request(
                await self._example(estimate.product_type),
                order,
                estimate,
                push.settings,
                customer_code=push.customer,
                reference=push.reference,
                required_date=push.required,
                price=item_price(item, push.charge(item), push.settings, stock=False),
                delivery_code=delivery_code,
            )

        estimate_id = await steps.ensure_estimate(
            self._client, journal, item.seq, order.order_number, push.reference, build
        )
        job_no = await steps.ensure_job(
            self._client,
            journal,
            item.seq,
            order.order_number,
            push.reference,
            estimate_id,
            job_from_estimate(estimate_id, push.reference, order, item.seq, push.settings),
            initial_status=push.settings.initial_status,
        )
        files = steps.artwork_files(item)
        if files:
            await steps.ensure_artwork(self._client, journal, item.seq, job_no, files)
        return job_no


@dataclasses.dataclass(frozen=True, slots=True)
class _Push:
    """What every step of one push shares."""

    order: Order
    reference: str
    settings: TharsternSettings
    customer: str
    required: dt.date
    charges: Mapping[int, ItemCharges]

    def charge(self, item: OrderItem) -> ItemCharges:
        return self.charges.get(item.seq) or ItemCharges(freight=Decimal(0), tax=Decimal(0))

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
(`StatusMode.WEBHOOK`); one without is polled (`StatusMode.POLL`, the shop that does not
enable subscriptions).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from daemon.errors import BusinessRuleError, DriverError
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
from daemon.providers.kit import required_credentials_problems, url_scheme_problems
from daemon.providers.tharstern import MANIFEST
from daemon.providers.tharstern import push_steps as steps
from daemon.providers.tharstern.client import TharsternClient
from daemon.providers.tharstern.product_routing import EstimateItem, Routes, StockLine, route_items
from daemon.providers.tharstern.settings import (
    TharsternSettings,
    parse_settings,
    parse_site_overrides,
)
from daemon.providers.tharstern.settings import alert_emails as alert_emails
from daemon.providers.tharstern.settings import settings_problems as settings_problems
from daemon.providers.tharstern.settings import (
    site_settings_problems as site_settings_problems,
)
from daemon.providers.tharstern.status_poll import status_of_items

__all__ = [
    "TharsternDriver",
    "alert_emails",
    "artwork_urls",
    "credentials_problems",
    "settings_problems",
    "site_settings_problems",
]

log = structlog.get_logger(__name__)

#: credentials beyond the manifest's required keys: an application id that wins over the
#: setting, and the shared secret of the webhooks
_OPTIONAL_CREDENTIALS = ("application_id", "webhook_secret")


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is missing or malformed in an account's credentials; values are never quoted."""
    problems = required_credentials_problems(
        credentials, MANIFEST.credential_keys
    ) + url_scheme_problems(credentials)
    for key in _OPTIONAL_CREDENTIALS:
        value = credentials.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append((key, "must be a non-empty string when given"))
    return problems


def artwork_urls(item: OrderItem) -> tuple[str, ...]:
    """The item's print-ready file URLs. ADAPTER: the order model has no file list yet, so the
    URLs are read from the item's attributes whose name starts with "artwork" or "file url"
    (case-insensitive), each an http(s) URL, in name order."""
    urls: list[str] = []
    for name in sorted(item.attributes):
        folded = name.strip().casefold()
        value = str(item.attributes[name]).strip()
        wanted = folded.startswith(("artwork", "file url", "file_url", "fileurl"))
        if wanted and value.startswith(("http://", "https://")) and value not in urls:
            urls.append(value)
    return tuple(urls)


class TharsternDriver(Driver):
    """One account's connection to a Tharstern MIS."""

    provider = "tharstern"
    capabilities = MANIFEST.capabilities

    def __init__(
        self, account: str, settings: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> None:
        super().__init__(account, settings, credentials)
        check_account(settings_problems(settings), credentials_problems(credentials))
        self._parsed = parse_settings(settings)
        mode = StatusMode.WEBHOOK if credentials.get("webhook_secret") else StatusMode.POLL
        self.capabilities = dataclasses.replace(type(self).capabilities, status=mode)
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
        self._products: dict[str, steps_product] = {}
        #: customer codes seen to exist (Tharstern cannot delete one behind a push's back)
        self._customers: set[str] = set()

    def __repr__(self) -> str:
        return f"TharsternDriver({self.account!r})"

    @property
    def client(self) -> TharsternClient:
        """The client (its `calls` count what a push costs)."""
        return self._client

    async def test_connection(self) -> ConnectionReport:
        try:
            await self._client.authenticate()
            code = self._parsed.default_customer_code
            found = await self._client.customer(code)
        except DriverError as exc:
            return ConnectionReport(ok=False, detail=exc.message)
        if found is None:
            return ConnectionReport(
                ok=False,
                detail=f"signed in, but Tharstern has no customer {code} (products_customer_code)",
            )
        return ConnectionReport(ok=True, detail=f"signed in; customer {code} found")

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        settings = self._settings_of(order.site)
        routes = route_items(order, items, settings)
        customer = customer_code(order, settings)
        await self._check_customer(order, customer)
        addresses = await self._ensure_addresses(order, routes, customer, journal, reference)
        refs: dict[int, str] = {}
        order_nos: list[str] = []
        for number, (address, lines) in enumerate(_by_address(routes.stock), start=1):
            order_no = await self._ensure_sales_order(
                order, lines, addresses.get(address), customer, number, journal, reference, settings
            )
            order_nos.append(order_no)
            refs.update((line.item.seq, order_no) for line in lines)
        job_nos: list[str] = []
        for estimate in routes.estimates:
            job_no = await self._ensure_estimate_job(
                order,
                estimate,
                addresses.get(estimate.item.ship_to),
                customer,
                journal,
                reference,
                settings,
            )
            job_nos.append(job_no)
            refs[estimate.item.seq] = job_no
        items_out = tuple(ItemRef(seq, refs[seq]) for seq in sorted(refs))
        log.info(
            "tharstern.pushed",
            account=self.account,
            order=order.order_number,
            sales_orders=order_nos,
            jobs=job_nos,
        )
        return PushResult(order_external_id=(order_nos or job_nos)[0], items=items_out)

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
        for _address, lines in _by_address(routes.stock):
            seqs = [line.item.seq for line in lines]
            found = await steps.find_sales_order(self._client, order.order_number, reference, seqs)
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
            job_no = await steps.find_job(self._client, order.order_number, reference, estimate_id)
            if job_no is None:
                return None
            urls = artwork_urls(estimate.item)
            if urls and await steps.missing_artwork(self._client, job_no, urls):
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

        def name(status: str) -> str:
            return settings.status_names.get(status.strip().casefold(), status)

        return await status_of_items(
            self._client, order.order_number, pushed, lambda ref: ref.item_seq in jobs, name
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the parts of a push -------------------------------------------------------------------

    def _settings_of(self, site: str) -> TharsternSettings:
        overrides = self.site_settings.get(site)
        if not overrides:
            return self._parsed
        return self._parsed.with_site(parse_site_overrides(overrides))

    async def _check_customer(self, order: Order, code: str) -> None:
        if code in self._customers:
            return
        if await self._client.customer(code) is None:
            raise BusinessRuleError(
                f"order {order.order_number}: Tharstern has no customer {code}; create it in "
                "Tharstern (its API cannot) or map the site or department to another code"
            )
        self._customers.add(code)

    async def _ensure_addresses(
        self, order: Order, routes: Routes, customer: str, journal: PushJournal, reference: str
    ) -> dict[Address, str]:
        """Each distinct ship-to of the routed items as a delivery address: address -> code."""
        codes: dict[Address, str] = {}
        for item in [s.item for s in routes.stock] + [e.item for e in routes.estimates]:
            address = item.ship_to
            if address in codes or not address.address1.strip():
                continue
            number = len(codes) + 1
            code = steps.address_code(reference, number)
            body = address_body(customer, code, address)
            await steps.ensure_address(self._client, journal, number, customer, code, body)
            codes[address] = code
        return codes

    async def _ensure_sales_order(
        self,
        order: Order,
        lines: Sequence[StockLine],
        delivery_code: str | None,
        customer: str,
        number: int,
        journal: PushJournal,
        reference: str,
        settings: TharsternSettings,
    ) -> str:
        seqs = [line.item.seq for line in lines]
        done = journal.get(f"sales_order:{number}")
        if done is None:  # the product ids are needed only to create
            stock_ids = [await self._stock_id(order, line) for line in lines]
        else:
            stock_ids = [0 for _ in lines]
        body = sales_order_body(
            order, lines, stock_ids, customer, delivery_code, reference, settings
        )
        return await steps.ensure_sales_order(
            self._client, journal, number, order.order_number, reference, seqs, body
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

    async def _ensure_estimate_job(
        self,
        order: Order,
        estimate: EstimateItem,
        delivery_code: str | None,
        customer: str,
        journal: PushJournal,
        reference: str,
        settings: TharsternSettings,
    ) -> str:
        item = estimate.item

        async def build() -> Mapping[str, Any]:
            example = await self._client.estimate_example(estimate.product_type)
            return estimate_body(
                example, order, estimate, customer, delivery_code, reference, settings
            )

        estimate_id = await steps.ensure_estimate(
            self._client, journal, item.seq, order.order_number, reference, build
        )
        job_no = await steps.ensure_job(
            self._client,
            journal,
            item.seq,
            order.order_number,
            reference,
            estimate_id,
            production_ready=settings.production_ready,
            submit_to_workflow=settings.submit_to_workflow,
            initial_status=settings.initial_status,
        )
        urls = artwork_urls(item)
        if urls:
            await steps.ensure_artwork(self._client, journal, item.seq, job_no, urls)
        return job_no


steps_product = Any  # the client's `Product` (kept loose: the cache only stores it)


def _by_address(lines: Sequence[StockLine]) -> list[tuple[Address, list[StockLine]]]:
    """Stock lines grouped by their ship-to, in the order each address first appears."""
    groups: dict[Address, list[StockLine]] = {}
    for line in lines:
        groups.setdefault(line.item.ship_to, []).append(line)
    return list(groups.items())


# -- ADAPTERS: pure mapping the th-map half owns; minimal stand-ins until its modules land -------


def customer_code(order: Order, settings: TharsternSettings) -> str:
    """ADAPTER: the site's / account's customer code (department and group codes: th-map)."""
    return settings.default_customer_code


def required_date(order: Order, settings: TharsternSettings) -> dt.date:
    """ADAPTER: the requested ship date, else the order date + `dispatch_days` calendar days."""
    if order.requested_ship_date is not None:
        return order.requested_ship_date
    placed = order.order_date.date() if order.order_date is not None else dt.date.today()
    return placed + dt.timedelta(days=settings.dispatch_days)


def address_body(customer: str, code: str, address: Address) -> dict[str, Any]:
    """ADAPTER: the `address/create` body (ROIOrders `TharDeliveryAddress`)."""
    name = " ".join(p for p in (address.first_name, address.last_name) if p)
    return {
        "CustomerCode": customer,
        "Code": code,
        "Name": address.business or name or code,
        "Address": {
            "AddressLines": [
                line for line in (address.address1, address.address2, address.address3) if line
            ],
            "City": address.city,
            "Region": address.state,
            "Country": address.country,
            "Postcode": address.zip,
            "Telephone": address.phone or address.cell_phone,
            "Fax": "",
        },
        "Contact": name,
        "ContactEmail": address.email,
    }


def sales_order_body(
    order: Order,
    lines: Sequence[StockLine],
    stock_ids: Sequence[int],
    customer: str,
    delivery_code: str | None,
    reference: str,
    settings: TharsternSettings,
) -> dict[str, Any]:
    """ADAPTER: one `Orders[]` entry of `orders/submit` (ROIOrders `CreateSalesOrderAsync`)."""
    body: dict[str, Any] = {
        "UniqueSubmitOrderID": reference,
        "InvoiceCustomer": {"Code": customer},
        "RequiredDate": required_date(order, settings).isoformat(),
        "OrderDate": (order.order_date or dt.datetime.now(dt.UTC)).isoformat(),
        "Ref1": order.order_number,
        "Ref2": reference,
        "Items": [
            {
                "StockItemID": stock_id,
                "Quantity": line.item.quantity,
                "Ref1": str(line.item.seq),
                "Ref2": line.item.item_id,
            }
            for line, stock_id in zip(lines, stock_ids, strict=True)
        ],
    }
    if delivery_code:
        body["DeliveryCustomer"] = {"Code": delivery_code}
    if settings.initial_status:
        body["Status"] = settings.initial_status
    return body


def estimate_body(
    example: Mapping[str, Any],
    order: Order,
    estimate: EstimateItem,
    customer: str,
    delivery_code: str | None,
    reference: str,
    settings: TharsternSettings,
) -> dict[str, Any]:
    """ADAPTER: the example request with the order's values written in (ref 1.8)."""
    item = estimate.item
    body = dict(example)
    body["Title"] = f"{steps.estimate_title_key(order.order_number, item.seq)} {item.product_name}"
    body["ProductTypeId"] = estimate.product_type
    body["Quantity"] = item.quantity
    body["RequiredDateTime"] = required_date(order, settings).strftime("%d-%b-%y")
    body["Customer"] = {**dict(example.get("Customer") or {}), "Code": customer}
    body["DeliveryCustomer"] = {"Code": delivery_code or ""}
    body["Ref1"] = reference
    body["Ref2"] = order.order_number
    return body

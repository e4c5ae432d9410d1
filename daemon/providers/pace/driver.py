"""The EFI Pace driver (seed 004): an order becomes one Job with its parts, contacts, materials,
shipments and cartons, exactly once however often the push is interrupted; status comes back by
polling.

This module composes the parts of the provider folder into the `Driver` contract:

- `settings_checks`  the checks the manifest names, and the account parsed once both pass;
- `push_plan`        the pure mapping of one order (`PushPlan`), the items' external ids;
- `push_steps`       the push: every step, its journal key and how it is found again after a
                     lost answer (the step list is in its docstring); `push_customer` the
                     customer and contact steps (seed step 3);
- `pushed_lookup`    a complete push found in Pace when the journal is lost (`find_pushed`);
- `status_poll`      the job's admin status and the items' tracking (`fetch_status`);
- `ship_via`         Ship Via by the storefront's shipping method name.

Two things are fixed here for a whole push: "today" is the shop's date (`timezone` setting,
else the system's zone) when the push starts, journaled as the "start" step so that a resumed
push dates alike; and the style of the Job's date fields (`date_fields`, or asked of Pace's
WSDL once per driver when it is "auto").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.errors import DriverError, PermanentError
from daemon.orders.model import Order, OrderItem
from daemon.providers.contract import (
    ConnectionReport,
    Driver,
    ItemRef,
    PushJournal,
    PushResult,
    StatusReport,
)
from daemon.providers.kit import journal_text
from daemon.providers.pace import MANIFEST, pushed_lookup, status_poll
from daemon.providers.pace.job_mapping import (
    DateFieldNames,
    date_field_names,
    date_field_names_for,
)
from daemon.providers.pace.lookups import where as _where
from daemon.providers.pace.push_customer import INACTIVE_CUSTOMER_STATUSES
from daemon.providers.pace.push_plan import PushPlan, plan_push, settings_for_site
from daemon.providers.pace.push_steps import REFERENCE_FIELD, Push
from daemon.providers.pace.settings_checks import (
    alert_emails,
    credentials_problems,
    parse_account,
    settings_problems,
    site_settings_problems,
)
from daemon.providers.pace.ship_via import SHIP_VIA_NAMES_SHOWN, SHIP_VIA_SCAN_LIMIT
from daemon.providers.pace.soap_client import PaceClient

__all__ = [
    "INACTIVE_CUSTOMER_STATUSES",
    "REFERENCE_FIELD",
    "SHIP_VIA_NAMES_SHOWN",
    "SHIP_VIA_SCAN_LIMIT",
    "PaceDriver",
    "alert_emails",
    "credentials_problems",
    "driver_class",
    "settings_problems",
    "site_settings_problems",
]


class PaceDriver(Driver):
    """One account's connection to an EFI Pace server."""

    provider = "pace"
    capabilities = MANIFEST.capabilities
    #: the job's admin status is what we report; `C` (closed) ends the polling (pace.md §6)
    final_statuses = frozenset({"C"})

    def __init__(
        self,
        account: str,
        settings: Mapping[str, Any],
        credentials: Mapping[str, str],
        *,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        super().__init__(account, settings, credentials)
        self.pace = parse_account(settings, credentials)
        zone = self.pace.zone()
        self._today = today or (lambda: dt.datetime.now(zone).date())
        self._client = PaceClient(
            self.pace.url,
            credentials["login"],
            credentials["password"],
            company=self.pace.company or None,
            timeout=self.pace.timeout_seconds,
            call_deadline_seconds=self.pace.call_deadline_seconds,
            max_answer_bytes=self.pace.max_answer_bytes,
            max_wsdl_bytes=self.pace.max_wsdl_bytes,
            timezone=zone,
        )
        self._names: DateFieldNames | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the contract ---------------------------------------------------------------------------

    async def test_connection(self) -> ConnectionReport:
        try:
            names = await self._date_names()
            await self._client.find("Job", _where("test connection", job="esd-connection-test"))
        except DriverError as exc:
            return ConnectionReport(ok=False, detail=exc.message)
        return ConnectionReport(
            ok=True,
            detail=f"EFI Pace answers at {self.pace.url} ({names.style} date fields)",
        )

    async def push_order(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult:
        today = await self._start(journal)
        plan = self._plan(order, items, today)
        names = await self._date_names()
        push = Push(self._client, self.account, order, plan, journal, today, names)
        return await push.run(reference)

    async def find_pushed(
        self, order: Order, items: Sequence[OrderItem], journal: PushJournal, reference: str
    ) -> PushResult | None:
        return await pushed_lookup.find_pushed(
            self._client,
            self.account,
            order,
            items,
            journal,
            reference,
            lambda: self._plan(order, items, self._today()),
        )

    def order_of_item(self, external_id: str) -> str | None:
        """The job of a JobPart key: "1001" of "1001:02"."""
        return status_poll.job_of_item(external_id)

    async def fetch_status(
        self, order: Order, pushed: Sequence[ItemRef], order_external_id: str
    ) -> Sequence[StatusReport]:
        return await status_poll.fetch_status(
            self._client,
            order,
            pushed,
            order_external_id,
            lambda items: self._plan(order, items, self._today()),
        )

    # -- helpers --------------------------------------------------------------------------------

    async def _start(self, journal: PushJournal) -> dt.date:
        done = journal.get("start")
        if done is not None:
            text = journal_text(done, "today", "start")
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise PermanentError("push journal step 'start' has a malformed 'today'") from None
        today = self._today()
        await journal.record("start", {"today": today.isoformat()})
        return today

    async def _date_names(self) -> DateFieldNames:
        if self._names is None:
            if self.pace.date_fields == "auto":
                self._names = date_field_names_for(await self._client.job_promise_fields())
            else:
                self._names = date_field_names(self.pace.date_fields)
        return self._names

    def _plan(self, order: Order, items: Sequence[OrderItem], today: dt.date) -> PushPlan:
        settings = settings_for_site(self.pace, self.site_settings, order)
        return plan_push(settings, order, items, today)


driver_class = PaceDriver

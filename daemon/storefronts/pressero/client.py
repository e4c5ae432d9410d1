"""Async HTTP client for Pressero's v6 API: one method per resource, one place for auth and paging.

Auth (pressero.md §1.2): `POST api/V2/Authentication` with the admin login returns a token sent
as `Authorization: token <T>`. Pressero does not say when a token expires, so the client logs
in again after `token_max_age` seconds and, once, when a call answers 401: the call is then
repeated with the new token; a second 401 is `AuthenticationFailed`.

Paging (§1.3): `_paged` walks `pageNumber`/`pageSize` until `TotalItems` rows were seen; every
list-shaped resource (orders now; products, users, stock later) goes through it.

Every failure is a `daemon.errors.DriverError` from `daemon.remote.http_errors`, except a
malformed order (`order`), which is the `BadEventPayload` that `mapping.order_from_api` names.
Each call has an overall deadline and its answer a size limit (`daemon.remote.deadline`).
The password and the token stay inside this object: no message or log line built here
contains either.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
import structlog

from daemon.closing import AsyncClosing
from daemon.errors import (
    AuthenticationFailed,
    BadEventPayload,
    BusinessRuleError,
    NotFound,
    ServerError,
)
from daemon.orders.model import Address, Order
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    call_deadline,
    read_capped,
)
from daemon.remote.http_errors import error_for_response, json_answer, transport_errors
from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.mapping import (
    PresseroItemRef,
    SearchRow,
    Shipment,
    WorkflowStage,
    find_stage,
    order_from_api,
    parse_item_refs,
    parse_page,
    parse_search_row,
    parse_shipments,
    parse_stages,
    parse_token,
    search_body,
    shipment_body,
)

__all__ = ["DEFAULT_PAGE_SIZE", "DEFAULT_TIMEOUT", "PresseroClient"]

DEFAULT_TIMEOUT = 30.0
#: rows per page; clients seen in code ask for 1000 or more (pressero.md §1.3), we stay modest
DEFAULT_PAGE_SIZE = 200
#: a safety stop for a server whose `TotalItems` never comes true
MAX_PAGES = 10_000

log = structlog.get_logger(__name__)

T = TypeVar("T")


class PresseroClient(AsyncClosing):
    """Talks to one Pressero subscriber's admin API at `base_url` (`https://admin.<region>...`).

    `subscriber_id` and `consumer_id` go into the login as Pressero asks (§1.2); they are ids,
    not secrets. Use it as an async context manager, or call `aclose`.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        subscriber_id: str = "",
        consumer_id: str = "",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        token_max_age: float = g.TOKEN_MAX_AGE_SECONDS,
        page_size: int = DEFAULT_PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._deadline = call_deadline_seconds
        self._max_answer = max_answer_bytes
        self._http = httpx.AsyncClient(
            base_url=_api_base(base_url),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        self._login = {
            g.AUTH_USERNAME_FIELD: username,
            g.AUTH_PASSWORD_FIELD: password,
            g.AUTH_SUBSCRIBER_ID_FIELD: subscriber_id,
            g.AUTH_CONSUMER_ID_FIELD: consumer_id,
        }
        self._token_max_age = token_max_age
        self._page_size = page_size
        self._clock = clock
        self._token: str | None = None
        self._token_at = 0.0
        self._auth_lock = anyio.Lock()
        self._stages: dict[str, tuple[WorkflowStage, ...]] = {}

    def __repr__(self) -> str:
        return f"PresseroClient({str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- auth -----------------------------------------------------------------------------------

    async def authenticate(self) -> None:
        """Log in now (checks the credentials); later calls reuse the token."""
        async with self._auth_lock:
            await self._log_in()

    async def _current_token(self) -> str:
        async with self._auth_lock:
            expired = self._clock() - self._token_at >= self._token_max_age
            if self._token is None or expired:
                await self._log_in()
            assert self._token is not None
            return self._token

    async def _renewed_token(self, rejected: str) -> str:
        """A token other than `rejected`: another task's fresh one, or a new login."""
        async with self._auth_lock:
            if self._token is None or self._token == rejected:
                await self._log_in()
            assert self._token is not None
            return self._token

    async def _log_in(self) -> None:
        what = "log in to Pressero"
        self._token = None
        response = await self._exchange(
            self._http.build_request("POST", g.AUTH_ROUTE, json=self._login), what
        )
        log.debug("pressero.http", method="POST", route=g.AUTH_ROUTE, status=response.status_code)
        status = response.status_code
        if 400 <= status < 500 and status != 429:
            # Never quote the answer: a login endpoint may echo what it was sent.
            raise AuthenticationFailed(
                f"{what}: HTTP {status}: credentials rejected "
                "(check username, password and subscriber id)"
            )
        error = error_for_response(response, what=what)
        if error is not None:
            raise error
        try:
            self._token = parse_token(json_answer(response, what=what))
        except BadEventPayload:
            # Not the parser's message: it would quote the value, and that may be a token.
            raise ServerError(f"{what}: the answer has no {g.TOKEN_FIELD}") from None
        self._token_at = self._clock()
        log.info("pressero.logged_in")

    # -- orders ---------------------------------------------------------------------------------

    async def search_order_items(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        filters: Iterable[tuple[str, str, str]] = (),
        page_size: int | None = None,
    ) -> AsyncIterator[SearchRow]:
        """Every order-item row whose order date is in [start, end], over all pages.

        `filters` are (column, value, operator) triples (pressero.md §1.3).
        """
        body = search_body(start, end, filters)
        what = f"search orders from {body[g.SEARCH_START_FIELD]} to {body[g.SEARCH_END_FIELD]}"
        index = 0
        async for row in self._paged(
            "POST", g.ORDER_SEARCH_ROUTE, what=what, json=body, page_size=page_size
        ):
            yield _parsed(what, functools.partial(parse_search_row, where=f"search[{index}]"), row)
            index += 1

    async def orders_between(self, start: dt.datetime, end: dt.datetime) -> list[SearchRow]:
        """One row per order placed in [start, end] (its first row), by order number.

        The reconciliation poll's question: which orders exist that a lost webhook may hide?
        """
        orders: dict[int, SearchRow] = {}
        async for row in self.search_order_items(start, end):
            orders.setdefault(row.order_number, row)
        return [orders[number] for number in sorted(orders)]

    async def order_details(self, order_number: int | str) -> Mapping[str, Any]:
        """The order header, `v2/orders/{n}/Details` (raw JSON)."""
        what = f"read order {order_number}"
        route = _route(g.ORDER_DETAILS_ROUTE, order_number=order_number)
        data = await self._call("GET", route, g.ORDER_DETAILS_ROUTE, what=what)
        if not isinstance(data, Mapping):
            raise ServerError(f"{what}: unexpected answer: expected an object")
        return data

    async def order_items(self, order_number: int | str) -> object:
        """The order's item rows, `v2/orders/{n}/items` (raw JSON: a list, or a page)."""
        what = f"read items of order {order_number}"
        route = _route(g.ORDER_ITEMS_ROUTE, order_number=order_number)
        return await self._call("GET", route, g.ORDER_ITEMS_ROUTE, what=what)

    async def site_user(self, site_id: str, user_id: str) -> Mapping[str, Any]:
        """One user of a site, g.USER_ROUTE (raw JSON)."""
        what = f"read user {user_id} of site {site_id}"
        route = _route(g.USER_ROUTE, site=site_id, user_id=user_id)
        data = await self._call("GET", route, g.USER_ROUTE, what=what)
        if not isinstance(data, Mapping):
            raise ServerError(f"{what}: unexpected answer: expected an object")
        return data

    async def address_book(self, site_id: str, user_id: str) -> Mapping[str, Any]:
        """A site user's address book, g.ADDRESS_BOOK_ROUTE (raw JSON)."""
        what = f"read the address book of user {user_id} of site {site_id}"
        route = _route(g.ADDRESS_BOOK_ROUTE, site=site_id, user_id=user_id)
        data = await self._call("GET", route, g.ADDRESS_BOOK_ROUTE, what=what)
        if not isinstance(data, Mapping):
            raise ServerError(f"{what}: unexpected answer: expected an object")
        return data

    async def buyer(self, details: Mapping[str, Any], items: object) -> dict[str, Any]:
        """`{"user", "address_book"}`: the raw answers for the order's buyer, None when unknown.

        The user and site ids come from the order's answers (g.USER_ID_FIELD,
        g.USER_SITE_ID_FIELD). A user Pressero no longer has (404: deleted since the order)
        reads as None, so the order maps from its item rows as before; any other failure
        raises, and the fetch is retried.
        """
        rows = items if isinstance(items, list) else _field(items, g.PAGE_ITEMS_FIELD)
        first = rows[0] if isinstance(rows, list) and rows else None
        user_id = _text_field(details, g.USER_ID_FIELD)
        site_id = _text_field(details, g.USER_SITE_ID_FIELD) or _text_field(
            first, g.USER_SITE_ID_FIELD
        )
        answers: dict[str, Any] = {"user": None, "address_book": None}
        if not user_id or not site_id:
            return answers
        try:
            answers["user"] = await self.site_user(site_id, user_id)
            answers["address_book"] = await self.address_book(site_id, user_id)
        except NotFound as exc:
            log.warning("pressero.buyer_not_found", user=user_id, site=site_id, error=str(exc))
        return answers

    async def order(
        self,
        order_number: int | str,
        site_key: str,
        site_name: str = "",
        *,
        files_generated: Collection[int] = (),
    ) -> Order:
        """The order as esd's model; a malformed answer raises `BadEventPayload` naming the field.

        `files_generated`: seqs whose `OrderItemFilesGenerated` webhook was seen.
        """
        details = await self.order_details(order_number)
        items = await self.order_items(order_number)
        buyer = await self.buyer(details, items)
        return order_from_api(
            details,
            items,
            site_key,
            site_name,
            files_generated=files_generated,
            user_json=buyer["user"],
            address_book_json=buyer["address_book"],
        )

    async def item_refs(self, order_number: int | str) -> dict[int, PresseroItemRef]:
        """seq -> the ids the write routes need, for every item of the order."""
        what = f"read items of order {order_number}"
        data = await self.order_items(order_number)
        return _parsed(what, lambda d: parse_item_refs(d, "items"), data)

    async def _item_ref(self, order_number: int | str, seq: int, what: str) -> PresseroItemRef:
        refs = await self.item_refs(order_number)
        ref = refs.get(seq)
        if ref is None:
            raise NotFound(f"{what}: order {order_number} has no item {seq} ({_items(refs)})")
        return ref

    # -- workflow status ------------------------------------------------------------------------

    async def workflow_stages(
        self, workflow_id: str, *, refresh: bool = False
    ) -> tuple[WorkflowStage, ...]:
        """The stages of one workflow (cached: stages rarely change)."""
        if refresh or workflow_id not in self._stages:
            what = f"read stages of workflow {workflow_id}"
            route = _route(g.WORKFLOW_STAGES_ROUTE, workflow_id=workflow_id)
            data = await self._call("GET", route, g.WORKFLOW_STAGES_ROUTE, what=what)
            self._stages[workflow_id] = _parsed(what, lambda d: parse_stages(d, "stages"), data)
        return self._stages[workflow_id]

    async def set_item_status(
        self, order_number: int | str, item_seq: int, stage_name: str, *, notes: str = ""
    ) -> WorkflowStage:
        """Move one item to the stage called `stage_name` in its workflow; return the stage.

        An unknown stage is a `BusinessRuleError` naming the workflow's stages.
        """
        what = f"set status of order {order_number} item {item_seq} to {stage_name!r}"
        ref = await self._item_ref(order_number, item_seq, what)
        if not ref.workflow_id:
            raise BusinessRuleError(f"{what}: the item has no workflow")
        stages = await self.workflow_stages(ref.workflow_id)
        stage = find_stage(stages, stage_name)
        if stage is None:  # a stage added since we cached the workflow?
            stages = await self.workflow_stages(ref.workflow_id, refresh=True)
            stage = find_stage(stages, stage_name)
        if stage is None:
            known = ", ".join(repr(s.name) for s in stages) or "none"
            raise BusinessRuleError(
                f"{what}: workflow {ref.workflow_id} has no such stage; known stages: {known}"
            )
        route = _route(
            g.ITEM_STATUS_ROUTE,
            order_number=order_number,
            item_number=ref.route_id,
            stage_id=stage.stage_id,
        )
        params = {g.STATUS_NOTES_PARAM: notes}
        await self._call("PUT", route, g.ITEM_STATUS_ROUTE, what=what, params=params, body=False)
        return stage

    async def item_status_history(self, order_number: int | str, item_seq: int) -> str:
        """One item's status history, as the answer's JSON text (its shape is guessed)."""
        what = f"read status history of order {order_number} item {item_seq}"
        ref = await self._item_ref(order_number, item_seq, what)
        route = _route(
            g.ITEM_STATUS_HISTORY_ROUTE, order_number=order_number, item_number=ref.route_id
        )
        data = await self._call("GET", route, g.ITEM_STATUS_HISTORY_ROUTE, what=what)
        return json.dumps(data, ensure_ascii=False)

    async def add_item_note(self, order_number: int | str, item_seq: int, note: str) -> None:
        """A note for the shop's staff on one item, its workflow stage left as it is.

        Pressero has no note API: the status PUT with the item's current stage carries it
        (`guesses.ITEM_NOTE_ROUTE`). A note over `STATUS_NOTES_MAX_CHARS` is a ValueError.
        """
        if len(note) > g.STATUS_NOTES_MAX_CHARS:
            raise ValueError(f"a note has at most {g.STATUS_NOTES_MAX_CHARS} characters")
        what = f"add a note to order {order_number} item {item_seq}"
        ref = await self._item_ref(order_number, item_seq, what)
        if not ref.stage_id:
            raise BusinessRuleError(f"{what}: the item has no workflow stage to note it under")
        route = _route(
            g.ITEM_NOTE_ROUTE,
            order_number=order_number,
            item_number=ref.route_id,
            stage_id=ref.stage_id,
        )
        params = {g.STATUS_NOTES_PARAM: note}
        await self._call("PUT", route, g.ITEM_NOTE_ROUTE, what=what, params=params, body=False)

    # -- item fields and shipments --------------------------------------------------------------

    async def update_item(
        self, order_number: int | str, item_seq: int, fields: Mapping[str, Any]
    ) -> None:
        """Change fields of one item, e.g. `{"MisId": "J1001"}` (pressero.md §1.4)."""
        if not fields:
            raise ValueError("update_item needs at least one field")
        what = f"update fields {', '.join(sorted(fields))} of order {order_number} item {item_seq}"
        ref = await self._item_ref(order_number, item_seq, what)
        route = _route(g.ITEM_UPDATE_ROUTE, order_number=order_number, item_number=ref.route_id)
        await self._call(
            "PUT", route, g.ITEM_UPDATE_ROUTE, what=what, json=dict(fields), body=False
        )

    async def set_item_mis_id(self, order_number: int | str, item_seq: int, mis_id: str) -> None:
        """Record the MIS's id for one item in Pressero."""
        await self.update_item(order_number, item_seq, {g.MIS_ID_FIELD: mis_id})

    async def add_shipment(
        self,
        order_number: int | str,
        item_seqs: Sequence[int],
        *,
        tracking: str,
        ship_date: dt.date | None = None,
        cost: Decimal = Decimal("0"),
        shipping_method: str | None = None,
        address: Address | None = None,
    ) -> None:
        """Record one shipment with its tracking number (or URL) for the given items.

        The shipping method defaults to the first item's; the date to today (UTC).
        """
        if not item_seqs:
            raise ValueError("add_shipment needs at least one item")
        seqs = ", ".join(str(seq) for seq in item_seqs)
        what = f"add shipment {tracking!r} to order {order_number} items {seqs}"
        known = await self.item_refs(order_number)
        missing = [seq for seq in item_seqs if seq not in known]
        if missing:
            raise NotFound(
                f"{what}: order {order_number} has no item {missing[0]} ({_items(known)})"
            )
        refs = [known[seq] for seq in item_seqs]
        body = shipment_body(
            refs[0].order_id,
            [ref.item_id for ref in refs],
            shipping_method=refs[0].shipping_method if shipping_method is None else shipping_method,
            tracking=tracking,
            ship_date=ship_date or dt.datetime.now(dt.UTC).date(),
            cost=cost,
            address=address,
        )
        await self._call(
            "POST", g.SHIPMENTS_ROUTE, g.SHIPMENTS_ROUTE, what=what, json=body, body=False
        )

    async def item_shipments(self, order_number: int | str, item_seq: int) -> tuple[Shipment, ...]:
        """The shipments recorded for one item."""
        what = f"read shipments of order {order_number} item {item_seq}"
        ref = await self._item_ref(order_number, item_seq, what)
        route = _route(g.ITEM_SHIPMENTS_ROUTE, order_id=ref.order_id, order_item_id=ref.item_id)
        data = await self._call("GET", route, g.ITEM_SHIPMENTS_ROUTE, what=what)
        return _parsed(what, lambda d: parse_shipments(d, "shipments"), data)

    # -- the one place for auth, errors and paging ----------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        route: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json: object = None,
        body: bool = True,
    ) -> object:
        """Send with the current token; on a 401 log in again once and resend.

        `route` is the template, for logs; `body=False`: the answer's body is not needed.
        """
        token = await self._current_token()
        response = await self._send(method, path, route, token, what, params, json)
        if response.status_code == 401:
            log.info("pressero.token_rejected", route=route)
            token = await self._renewed_token(rejected=token)
            response = await self._send(method, path, route, token, what, params, json)
        error = error_for_response(response, what=what)
        if error is not None:
            raise error
        return json_answer(response, what=what) if body else None

    async def _send(
        self,
        method: str,
        path: str,
        route: str,
        token: str,
        what: str,
        params: Mapping[str, str] | None,
        json: object,
    ) -> httpx.Response:
        headers = {"Authorization": f"{g.AUTH_SCHEME} {token}"}
        request = self._http.build_request(method, path, params=params, json=json, headers=headers)
        response = await self._exchange(request, what)
        log.debug("pressero.http", method=method, route=route, status=response.status_code)
        return response

    async def _exchange(self, request: httpx.Request, what: str) -> httpx.Response:
        """Send `request`; its whole answer within the call deadline and the size limit."""
        with call_deadline(self._deadline, what), transport_errors(what):
            streamed = await self._http.send(request, stream=True)
            return await read_capped(streamed, self._max_answer, what)

    async def _paged(
        self,
        method: str,
        route: str,
        *,
        what: str,
        json: object = None,
        params: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Mapping[str, Any]]:
        """Every row of a paged resource, fetching page after page until `TotalItems`."""
        size = page_size or self._page_size
        seen = 0
        for number in range(g.FIRST_PAGE, g.FIRST_PAGE + MAX_PAGES):
            query = {
                **(params or {}),
                g.PAGE_NUMBER_PARAM: str(number),
                g.PAGE_SIZE_PARAM: str(size),
            }
            where = f"{what}: page {number}"
            data = await self._call(method, route, route, what=where, params=query, json=json)
            page = _parsed(where, lambda d: parse_page(d, "page"), data)
            for row in page.items:
                yield row
            seen += len(page.items)
            if not page.items or seen >= page.total:
                return
        raise ServerError(f"{what}: still more rows after {MAX_PAGES} pages")


def _api_base(base_url: str) -> str:
    """`https://admin.x.v6.pressero.com` or `.../api` -> `https://admin.x.v6.pressero.com/api/`."""
    url = base_url.rstrip("/")
    if not url.endswith("/" + g.API_PREFIX):
        url += "/" + g.API_PREFIX
    return url + "/"


def _route(template: str, **values: object) -> str:
    """`template` with each `{name}` filled by one URL path segment (ids are not trusted)."""
    return template.format(**{name: quote(str(value), safe="") for name, value in values.items()})


def _field(data: object, name: str) -> Any:
    """`data[name]` of a JSON object, the name matched case-insensitively; None otherwise."""
    if not isinstance(data, Mapping):
        return None
    folded = name.casefold()
    return next((v for k, v in data.items() if isinstance(k, str) and k.casefold() == folded), None)


def _text_field(data: object, name: str) -> str:
    value = _field(data, name)
    return (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )


def _items(refs: Mapping[int, PresseroItemRef]) -> str:
    return "items: " + (", ".join(str(seq) for seq in sorted(refs)) or "none")


def _parsed(what: str, parse: Callable[[object], T], data: object) -> T:
    """`parse(data)`; an answer of the wrong shape is Pressero's fault: a `ServerError`."""
    try:
        return parse(data)
    except BadEventPayload as exc:
        raise ServerError(f"{what}: unexpected answer: {exc}") from exc

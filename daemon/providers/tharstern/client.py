"""Async HTTP client for the Tharstern REST API: one method per endpoint, nothing more.

Every name it uses comes from `daemon.providers.tharstern.guesses` (with its evidence). The
client owns three things the driver must not see:

- the token: `authentication/GenerateAPIToken` once, sent as `Authorization: Basic ...`,
  fetched again (once) when an answer is 401; the all-zero token is bad credentials
  (`AuthenticationFailed`, permanent);
- the `{Status, Details}` envelope: unwrapped; `Success: false` becomes a `BusinessRuleError`
  naming Tharstern's own reasons (`Details.Result.Problems`, `Status.Message`), except where the
  caller asks for the verdict itself (`estrequest`, whose Success-false-although-created quirk
  the driver settles by a look-up);
- error classification: network failures and 5xx transient (`daemon.providers.http_errors`),
  a 400 with ASP.NET `ModelState` a permanent business error naming each field.

The e-mail, password and token never reach a message or a log line: the token request's query
is built here and its URL is never shown (httpx's own request log is below esd's log level and
redacted besides, `daemon.logs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import httpx
import structlog

from daemon.errors import AuthenticationFailed, BusinessRuleError, ServerError
from daemon.providers.tharstern import guesses as g
from daemon.remote import json_text, keepalive_transport
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    call_deadline,
    read_capped,
)
from daemon.remote.http_errors import (
    error_for_response,
    json_answer,
    server_text,
    transport_errors,
)
from daemon.remote.in_call_retry import retry_if_read

__all__ = [
    "DEFAULT_TIMEOUT",
    "EstimateAnswer",
    "Product",
    "TharsternClient",
    "api_base",
    "model_state_message",
]

DEFAULT_TIMEOUT = 10.0

log = structlog.get_logger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Product:
    """A Tharstern product (stock item) as a push needs it."""

    product_id: int
    code: str
    #: non-zero: the product is estimate-driven (CODE, ref 1.6)
    product_type_id: int


@dataclasses.dataclass(frozen=True, slots=True)
class EstimateAnswer:
    """What `estrequest` answered: the estimate made (None when the answer names none) and the
    verdict, which may be false although the estimate exists (the quirk, guesses)."""

    success: bool
    estimate_id: int | None
    estimate_ref: str
    problems: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Envelope:
    success: bool
    details: Mapping[str, Any]
    message: str


def api_base(url: str) -> str:
    """The API root of the server at `url` (guesses.API_ROOT appended where it is missing)."""
    base = url.rstrip("/")
    lowered = base.lower()
    root = g.API_ROOT.lower()
    if lowered.endswith(root):
        return base
    if lowered.endswith(root.rpartition("/")[0]):  # ".../TharsternAPI"
        return base + "/api"
    return base + g.API_ROOT


def model_state_message(body: object) -> str | None:
    """`field: reason; ...` of an ASP.NET 400 answer's `ModelState`, or None if it has none."""
    if not isinstance(body, Mapping):
        return None
    lowered = {str(k).lower(): v for k, v in body.items()}
    state = lowered.get(g.MODEL_STATE.lower())
    if not isinstance(state, Mapping) or not state:
        return None
    parts = []
    for field, reasons in state.items():
        texts = reasons if isinstance(reasons, list) else [reasons]
        said = "; ".join(str(t).strip() for t in texts if str(t).strip()) or "invalid"
        parts.append(f"{field}: {said}")
    return server_text("; ".join(parts))


class TharsternClient:
    """Talks to one Tharstern API with an API login (e-mail), password and application id."""

    def __init__(
        self,
        url: str,
        login: str,
        password: str,
        application_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._login = login
        self._password = password
        self._application_id = application_id
        self._deadline = call_deadline_seconds
        self._max_answer = max_answer_bytes
        self._token: str | None = None
        self._token_lock = anyio.Lock()
        #: calls made, per endpoint (the token included): what the bench counts per order
        self.calls: dict[str, int] = {}
        self._base = api_base(url) + "/"
        # Calls go straight to the transport, one prepared request each, as Pace's do: the
        # httpx client's per-request work (URL merging, cookies, auth and redirect flows) and
        # httpcore's pool cost ~1.2 ms of CPU a call more than the lean keep-alive transport,
        # and a stock push makes 6 calls (the push bench). Behind a proxy (HTTPS_PROXY, not
        # NO_PROXY) `for_url` gives httpx's own transport, which speaks it.
        self._transport = transport or keepalive_transport.for_url(
            self._base, max_body_bytes=max_answer_bytes
        )
        self._timeouts = httpx.Timeout(timeout).as_dict()

    def __repr__(self) -> str:  # the base URL only: never the login or the token
        return f"TharsternClient({self._base!r})"

    # -- authentication --------------------------------------------------------------------

    async def authenticate(self) -> None:
        """Fetch a token now (test_connection): bad credentials are `AuthenticationFailed`."""
        async with self._token_lock:
            self._token = None
            await self._fresh_token(None)

    # -- products ---------------------------------------------------------------------------

    async def product_by_code(self, code: str) -> Product | None:
        """The product whose code is `code` (the storefront item's SKU), or None."""
        what = f"read product {code}"
        details = await self._details("GET", g.PRODUCTS_PATH, what, {g.PRODUCT_CODE_PARAM: code})
        for item in _items(details, what):
            product_id = _int(item.get(g.PRODUCT_ID), f"{what}: Items[].{g.PRODUCT_ID}")
            found = str(item.get(g.PRODUCT_CODE) or code)
            if found.casefold() != code.casefold():
                continue  # a loose search; only the exact code is the product
            type_id = item.get(g.PRODUCT_TYPE_ID) or 0
            return Product(product_id, found, _int(type_id, f"{what}: {g.PRODUCT_TYPE_ID}"))
        return None

    # -- estimates and jobs -----------------------------------------------------------------

    async def estimate_example(self, product_type_id: int) -> dict[str, Any]:
        """The sample estimate request of a product type, to overwrite and send back."""
        what = f"read the example estimate request of product type {product_type_id}"
        path = g.ESTIMATE_EXAMPLE_PATH.format(product_type=product_type_id)
        return dict(await self._details("GET", path, what))

    async def request_estimate(self, request: Mapping[str, Any], *, what: str) -> EstimateAnswer:
        """POST an estimate request (not idempotent). The verdict comes back as it is: the
        caller settles a false one by looking the estimate up (the quirk, guesses)."""
        envelope = await self._call("POST", g.ESTIMATE_REQUEST_PATH, what, json=request)
        details = envelope.details
        estimate_id = _dig(details, g.CREATED_ESTIMATE)
        ref = _dig(details, g.CREATED_ESTIMATE_REF)
        number = None
        if estimate_id not in (None, 0, ""):
            number = _int(estimate_id, f"{what}: Details.Estimate.ID")
        return EstimateAnswer(
            envelope.success and number is not None,
            number,
            str(ref) if ref is not None else "",
            _problems(details) or ((envelope.message,) if envelope.message else ()),
        )

    async def find_estimates(self, keyword: str) -> list[Mapping[str, Any]]:
        """Estimates whose keyword search matches `keyword` (loosely: the caller filters)."""
        what = f"find estimates by keyword {keyword}"
        details = await self._details("GET", g.ESTIMATES_PATH, what, {g.KEYWORD_PARAM: keyword})
        return _items(details, what)

    async def create_job(self, body: Mapping[str, Any], *, what: str) -> str:
        """Make the job of an estimate (`job/createfromestimate`, not idempotent); its JobNo."""
        details = await self._details("POST", g.JOB_FROM_ESTIMATE_PATH, what, json=body)
        job_no = details.get(g.CREATED_JOB_NO)
        if job_no in (None, "", 0):
            nested = details.get("Job")
            job_no = nested.get(g.CREATED_JOB_NO) if isinstance(nested, Mapping) else None
        if job_no in (None, "", 0):
            raise ServerError(f"{what}: the answer names no {g.CREATED_JOB_NO}")
        return str(job_no)

    async def find_jobs(self, keyword: str) -> list[Mapping[str, Any]]:
        """Jobs whose keyword search matches `keyword` (loosely: the caller filters)."""
        what = f"find jobs by keyword {keyword}"
        details = await self._details("GET", g.JOBS_PATH, what, {g.KEYWORD_PARAM: keyword})
        return _items(details, what)

    async def job(self, job_no: str) -> Mapping[str, Any] | None:
        """The job numbered `job_no`, or None."""
        what = f"read job {job_no}"
        details = await self._details("GET", g.JOBS_PATH, what, {g.JOB_NO_PARAM: job_no})
        for item in _items(details, what):
            if str(item.get(g.CREATED_JOB_NO)) == job_no:
                return item
        return None

    async def update_job(self, job: Mapping[str, Any], *, what: str) -> None:
        """Change a job (the initial status): idempotent, the same body twice is one change."""
        await self._details("POST", g.JOB_UPDATE_PATH, what, json=job)

    # -- sales orders -----------------------------------------------------------------------

    async def submit_order(self, order: Mapping[str, Any], *, what: str) -> int:
        """Submit one sales order (`{"Orders": [order]}`, not idempotent); return its ID. An ID
        of 0 is Tharstern's refusal, its reason in StatusDetails (CODE, ref 1.4)."""
        details = await self._details("POST", g.ORDER_SUBMIT_PATH, what, json=order)
        orders = details.get(g.SUBMITTED_ORDERS)
        if not isinstance(orders, list) or not orders or not isinstance(orders[0], Mapping):
            raise ServerError(f"{what}: the answer has no Details.{g.SUBMITTED_ORDERS}[0]")
        first = orders[0]
        order_id = _int(first.get(g.SUBMITTED_ORDER_ID) or 0, f"{what}: Orders[0].ID")
        if order_id == 0:
            reason = str(first.get(g.SUBMITTED_ORDER_DETAILS) or "no reason given")
            raise BusinessRuleError(f"{what}: Tharstern refused the order: {server_text(reason)}")
        return order_id

    async def find_orders(self, keyword: str) -> list[Mapping[str, Any]]:
        """Sales orders whose keyword search matches `keyword` (the caller filters)."""
        what = f"find sales orders by keyword {keyword}"
        details = await self._details("GET", g.ORDERS_PATH, what, {g.KEYWORD_PARAM: keyword})
        return _items(details, what)

    async def order(self, order_id: int) -> Mapping[str, Any] | None:
        """The sales order with this ID, or None."""
        what = f"read sales order {order_id}"
        params = {g.ORDER_IDS_PARAM: str(order_id)}
        details = await self._details("GET", g.ORDERS_PATH, what, params)
        for item in _items(details, what):
            if item.get(g.SUBMITTED_ORDER_ID) == order_id:
                return item
        return None

    async def order_by_no(self, order_no: str) -> Mapping[str, Any] | None:
        """The sales order numbered `order_no`, or None."""
        what = f"read sales order {order_no}"
        params = {g.ORDER_NOS_PARAM: order_no}
        details = await self._details("GET", g.ORDERS_PATH, what, params)
        for item in _items(details, what):
            if str(item.get("OrderNo", "")) == order_no:
                return item
        return None

    # -- customers, addresses, attachments --------------------------------------------------

    async def customer(self, code: str) -> Mapping[str, Any] | None:
        """The customer with this code, or None (Tharstern cannot create one via the API)."""
        what = f"read customer {code}"
        details = await self._details("GET", g.CUSTOMERS_PATH, what, {g.CUSTOMER_CODE_PARAM: code})
        for item in _items(details, what):
            if str(item.get("Code", "")).casefold() == code.casefold():
                return item
        return None

    async def create_address(self, address: Mapping[str, Any], *, what: str) -> int:
        """Create a delivery address under a customer (not idempotent); return its ID."""
        details = await self._details("POST", g.ADDRESS_CREATE_PATH, what, json=address)
        items = _items(details, what)
        if not items:
            raise ServerError(f"{what}: the answer has no Details.Items[0]")
        return _int(items[0].get(g.CREATED_ADDRESS_ID), f"{what}: Items[0].ID")

    async def find_addresses(self, customer_code: str, code: str) -> list[Mapping[str, Any]]:
        """The customer's delivery addresses with this code."""
        what = f"find delivery address {code} of customer {customer_code}"
        params = {g.CUSTOMER_CODE_PARAM: customer_code, g.ADDRESS_CODE_PARAM: code}
        details = await self._details("GET", g.ADDRESSES_PATH, what, params)
        return [a for a in _items(details, what) if str(a.get("Code", "")) == code]

    async def contacts(self, customer_code: str) -> list[Mapping[str, Any]]:
        """The contacts of a customer."""
        what = f"read the contacts of customer {customer_code}"
        params = {g.CUSTOMER_CODE_PARAM: customer_code}
        return _items(await self._details("GET", g.CONTACTS_PATH, what, params), what)

    async def add_contact(self, contact: Mapping[str, Any], *, what: str) -> None:
        """Add a contact to a customer (not idempotent: the same person twice is two)."""
        await self._details("POST", g.CONTACTS_PATH, what, json={"Items": [dict(contact)]})

    async def add_attachments(self, items: Sequence[Mapping[str, Any]], *, what: str) -> None:
        """Attach files by URL (not idempotent: the same file twice is two attachments)."""
        await self._details("POST", g.ATTACHMENTS_PATH, what, json={"Items": list(items)})

    async def attachments(self, module: int, record_no: str) -> list[Mapping[str, Any]]:
        """What a job (module 2) or an estimate (module 1) holds."""
        what = f"read the attachments of record {record_no}"
        params = {g.ATTACHMENT_MODULE_PARAM: str(module), g.ATTACHMENT_RECORD_PARAM: record_no}
        details = await self._details("GET", g.ATTACHMENTS_PATH, what, params)
        return _items(details, what)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    # -- the envelope, the token, the errors ------------------------------------------------

    async def _details(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None = None,
        *,
        json: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """`Details` of a successful answer; Success false is a `BusinessRuleError`."""
        envelope = await self._call(method, path, what, params, json=json)
        if not envelope.success:
            reasons = _problems(envelope.details) or (
                (envelope.message,) if envelope.message else ("no reason given",)
            )
            raise BusinessRuleError(f"{what}: Tharstern refused: {server_text('; '.join(reasons))}")
        return envelope.details

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None = None,
        *,
        json: Mapping[str, Any] | None = None,
    ) -> _Envelope:
        return await retry_if_read(
            method, lambda: self._authorized(method, path, what, params, json), what=what
        )

    async def _authorized(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
    ) -> _Envelope:
        token = await self._current_token()
        response = await self._send(method, path, what, params, json, token)
        if response.status_code == 401:
            # The token expired (its lifetime is NOT FOUND, ref 1.3): fetch one again, once.
            # A 401 is answered before Tharstern acts, so sending a create again is safe.
            async with self._token_lock:
                token = await self._fresh_token(token)
            response = await self._send(method, path, what, params, json, token)
        return _envelope(response, what)

    async def _current_token(self) -> str:
        if self._token is not None:
            return self._token
        async with self._token_lock:
            return await self._fresh_token(None)

    async def _fresh_token(self, stale: str | None) -> str:
        """A token other than `stale` (the lock is held): another task may have fetched one."""
        if self._token is not None and self._token != stale:
            return self._token
        what = "sign in to Tharstern (GenerateAPIToken)"
        query = {
            "email": self._login,
            "password": self._password,
            "applicationId": self._application_id,
        }

        # Not retried here: the call it serves is (a read), or is the spine's to retry.
        response = await self._send("GET", g.TOKEN_PATH, what, query, None, None)
        envelope = _envelope(response, what)
        token = envelope.details.get(g.TOKEN_FIELD)
        if not envelope.success or not isinstance(token, str) or not token.strip():
            raise AuthenticationFailed(
                f"{what}: no token in the answer (check the API login, password and application id)"
            )
        if token.strip() == g.BAD_CREDENTIALS_TOKEN:
            raise AuthenticationFailed(
                f"{what}: credentials rejected (check the API login, password and application id)"
            )
        self._token = token.strip()
        return self._token

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
        token: str | None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = g.token_authorization(token)
        request = httpx.Request(
            method,
            self._base + path,
            params=params,
            json=json,
            headers=headers,
            extensions={"timeout": self._timeouts},
        )
        self.calls[path] = self.calls.get(path, 0) + 1
        with call_deadline(self._deadline, what), transport_errors(what):
            streamed = await self._transport.handle_async_request(request)
            streamed.request = request
            response = await read_capped(streamed, self._max_answer, what)
        log.debug("tharstern.http", method=method, path=path, status=response.status_code)
        return response


def _envelope(response: httpx.Response, what: str) -> _Envelope:
    if response.status_code == 400:
        try:
            body = json_text.loads(response.content)
        except ValueError:
            body = None
        fields = model_state_message(body)
        if fields is not None:
            raise BusinessRuleError(f"{what}: HTTP 400: Tharstern refused the request: {fields}")
    error = error_for_response(response, what=what)
    if error is not None:
        raise error
    data = json_answer(response, what=what)
    if not isinstance(data, Mapping):
        raise ServerError(f"{what}: the answer is not a JSON object")
    status = data.get(g.ENVELOPE_STATUS)
    if not isinstance(status, Mapping) or not isinstance(status.get(g.ENVELOPE_SUCCESS), bool):
        raise ServerError(f"{what}: the answer has no {g.ENVELOPE_STATUS}.{g.ENVELOPE_SUCCESS}")
    details = data.get(g.ENVELOPE_DETAILS)
    if details is None:
        details = {}
    if not isinstance(details, Mapping):
        raise ServerError(f"{what}: {g.ENVELOPE_DETAILS} is not an object")
    message = status.get(g.ENVELOPE_MESSAGE)
    return _Envelope(
        status[g.ENVELOPE_SUCCESS],
        details,
        server_text(message.strip()) if isinstance(message, str) else "",
    )


def _items(details: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    items = details.get(g.ITEMS)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ServerError(f"{what}: Details.{g.ITEMS} is not a list of objects")
    return items


def _problems(details: Mapping[str, Any]) -> tuple[str, ...]:
    found = _dig(details, g.PROBLEMS)
    if not isinstance(found, list):
        return ()
    return tuple(server_text(str(p).strip()) for p in found if str(p).strip())


def _dig(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    current: Any = data
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _int(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise ServerError(f"{where}: expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ServerError(f"{where}: expected a number")

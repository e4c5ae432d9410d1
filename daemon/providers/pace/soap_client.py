"""Async SOAP client for EFI Pace: find, read, create and update objects (zeep's WSDL, httpx).

One `PaceClient` talks to one Pace server (or one company of a multi-company server). Each of
the four services it uses (FindObjects, ReadObject, CreateObject, UpdateObject) has its own WSDL
at `{url}/rpc/services/{Service}?wsdl`, or `{url}/rpc/company:{company}/services/{Service}?wsdl`
(pace.md §1); zeep loads each on first use, in a worker thread (zeep loads WSDLs synchronously).
Each operation's request and answer elements, as zeep read them from that WSDL, become a
`soap_messages.MessagePlan`; calls build their envelope and read their answer from it (zeep's
per-call value objects cost ~1 ms of CPU a call; tests hold the plans' envelopes and readings
equal to zeep's), and go out with HTTP Basic auth through a `KeepAliveTransport`
(`daemon.remote.keepalive_transport`; httpx's default transport cost ~0.5 ms of CPU a call,
and is used instead when HTTPS_PROXY / NO_PROXY send the Pace URL through a proxy),
or any httpx transport given. Calls are sent to the configured URL, never to the WSDL's
soap:address (a Pace behind a proxy advertises its inside name, as the guide's
`http://viperfish/...` does).

Field names are the server's: `fields(type)` reads them from the loaded WSDL, and
`job_promise_fields()` / `pick_fields()` choose between the names of different Pace versions
(`promiseDate` + `promiseTime` on older servers, `promiseDateTime` on newer ones; pace.md §6).
A field the server's WSDL does not have is refused before anything is sent.

Values (`create`, `update`) follow the XSD type of each field: `str`; `int`; `Decimal` (or int,
float) for numbers; `bool`; for xsd:dateTime an aware `datetime` (sent in UTC), a naive
`datetime` (the shop's wall time in `timezone`, default the system's), a `date` (midnight of that
day in `timezone`), or a `time` (a legacy time-of-day field: the wall time on 1970-01-01,
pace.md §2); `None` sends xsi:nil (clears an optional field on update). Answers come back as
dicts of Python values (datetimes in UTC), nil as None.

Errors are `daemon.errors` classes, with Pace's own words where it gave some:

- a SOAP fault "Unable to locate object ..." is `NotFound`; faults that read as a refusal of
  the data and every `soap:Client` fault are `BusinessRuleError`; any other fault is a
  `ServerError` (transient: Pace's faults for a lost database connection look the same as any
  other). The fragments are `guesses.NOT_FOUND_FAULT_MARKERS` and `BUSINESS_FAULT_MARKERS`,
  each with its evidence: only "Field is required: Job[customer=null]" is a documented SOAP
  fault; "Unknown field ..." and the others are REST answers or guesses;
- HTTP 401/403 is `AuthenticationFailed`; 5xx without a SOAP fault, 429 and connection failures
  are transient, classified by `daemon.remote.http_errors`;
- XML with a DTD or entity declarations is refused (for WSDLs zeep's `forbid_dtd`,
  `forbid_entities`, `forbid_external`; answers are read by a parser that resolves no entity,
  loads no DTD and refuses a document declaring one): `PermanentError`, since it is an attack or
  a broken proxy, not a blip.

Every call, and every WSDL load, has an overall deadline (`call_deadline`, an anyio cancel
scope; `daemon.remote.deadline`): a server that drips its answer fails the call with
`CallDeadlineExceeded`, transient, instead of holding the push. Answers stop being read past
`max_answer_bytes`, WSDLs (and their XSDs) past `max_wsdl_bytes`: `AnswerTooLarge`, naming the
URL and the limit. A WSDL load runs in a worker thread that checks the deadline at every chunk
and reads with a timeout no longer than what is left of it; the load lock is taken inside the
deadline, so a stuck load holds other pushes back no longer than their own deadline.

Reads (find, read) are retried a few times at once on transient errors
(`daemon.remote.in_call_retry`); creates and updates never are. No message or log line built
here contains the password or the Authorization header; Pace's fault texts are scrubbed of them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread
import httpx
import structlog
import zeep
import zeep.exceptions
import zeep.transports
from zeep.wsdl.bindings.soap import Soap11Binding

from daemon.closing import AsyncClosing
from daemon.errors import (
    BusinessRuleError,
    CallDeadlineExceeded,
    DriverError,
    EsdError,
    NotFound,
    PermanentError,
    ServerError,
)
from daemon.providers.pace.find_expressions import FindExpression, field_path
from daemon.providers.pace.guesses import BUSINESS_FAULT_MARKERS, NOT_FOUND_FAULT_MARKERS
from daemon.providers.pace.objects import (
    KEY_FIELDS,
    SERVICE_VERBS,
    SERVICES,
    object_element,
    service_namespace,
)
from daemon.providers.pace.soap_messages import (
    HostileAnswer,
    MessagePlan,
    SoapFault,
    UnreadableAnswer,
    build_request,
    node_from_zeep,
    read_answer,
)
from daemon.remote import keepalive_transport
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_WSDL_BYTES,
    call_deadline,
    deadline_message,
    decoded_headers,
    read_capped,
    too_large,
)
from daemon.remote.http_errors import error_for_response, server_text, transport_errors
from daemon.remote.in_call_retry import retry_read

# KEY_FIELDS, SERVICES and service_namespace are `objects`' own, still importable from here.
__all__ = [
    "DEFAULT_MAX_WSDL_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WSDL_TIMEOUT",
    "KEY_FIELDS",
    "SERVICES",
    "PaceClient",
    "Sort",
    "fault_error",
    "service_namespace",
]

#: seconds for one SOAP call (Pace runs its business events inside a create)
DEFAULT_TIMEOUT = 30.0
#: seconds for loading one WSDL (guessed: real WSDLs are not public, and may be large)
DEFAULT_WSDL_TIMEOUT = 60.0

_INT_TYPES = frozenset({"int", "long", "short", "integer", "byte"})
_NUMBER_TYPES = frozenset({"decimal", "double", "float"})
_EPOCH = dt.date(1970, 1, 1)
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_COMPANY = re.compile(r"[^/?#\s]+")
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Fault texts that mean "no such object" / "Pace refused the data", lower-cased; each marker's
# evidence is in `guesses` (only "field is required" is a documented SOAP fault text).
_NOT_FOUND_FAULTS = tuple(marker.text for marker in NOT_FOUND_FAULT_MARKERS)
_BUSINESS_FAULTS = tuple(marker.text for marker in BUSINESS_FAULT_MARKERS)

log = structlog.get_logger(__name__)

# zeep ships py.typed but annotates little: its untyped calls go through Any.
_zeep: Any = zeep


@dataclasses.dataclass(frozen=True, slots=True)
class Sort:
    """One sort key of a find: a field (or path, see `field_path`) and its direction."""

    field: str
    descending: bool = False


def fault_error(what: str, code: str | None, message: str | None) -> DriverError:
    """The esd error a Pace SOAP fault means; `what` starts the message, Pace's text ends it."""
    text = server_text(message or "") or "no fault message"
    lowered = text.lower()
    if any(marker in lowered for marker in _NOT_FOUND_FAULTS):
        return NotFound(f"{what}: Pace: {text}")
    client_fault = (code or "").rpartition(":")[2] == "Client"
    if client_fault or any(marker in lowered for marker in _BUSINESS_FAULTS):
        return BusinessRuleError(f"{what}: Pace refused: {text}")
    return ServerError(f"{what}: Pace server fault: {text}")


class _HttpFailure(Exception):
    """An HTTP answer that is not a SOAP answer; classified by the caller, who knows `what`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _HostileXml(Exception):
    """An answer whose prolog declares a DTD: refused before any XML parser sees it."""


def _declares_dtd(content: bytes) -> bool:
    """Does a DOCTYPE come before the root element? (One after it is only text or CDATA.)

    Checked before parsing because some payloads (a billion-laughs bomb) make libxml2 fail
    before zeep's own `forbid_dtd` check runs, which would look like a garbled, retryable answer.
    """
    at = content.find(b"<!DOCTYPE")
    if at < 0:
        return False
    root = _ROOT_START.search(content)
    return root is None or at < root.start()


class _PaceTransport(zeep.transports.AsyncTransport):
    """zeep's transport, used only to load WSDLs (calls go out through `PaceClient._call`).

    One per load: it carries that load's deadline (a `time.monotonic()` instant), its size
    limit, and `abandoned`, set when the waiting task gave up (the deadline, or the daemon
    stopping), so the worker thread stops at the next chunk instead of reading on.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        wsdl_client: httpx.Client,
        *,
        what: str,
        timeout: float,
        deadline_seconds: float,
        max_bytes: int,
    ) -> None:
        super().__init__(client=client, wsdl_client=wsdl_client)  # type: ignore[no-untyped-call]
        self._what = what
        self._timeout = timeout
        self._deadline_seconds = deadline_seconds
        self._deadline_at = time.monotonic() + deadline_seconds
        self._max_bytes = max_bytes
        self.abandoned = threading.Event()

    def _left(self) -> float:
        left = self._deadline_at - time.monotonic()
        if left <= 0 or self.abandoned.is_set():
            raise CallDeadlineExceeded(deadline_message(self._what, self._deadline_seconds))
        return left

    def _load_remote_data(self, url: str) -> bytes:
        # No single read may wait past the deadline: a silent server ends the load there too.
        timeout = httpx.Timeout(min(self._timeout, self._left()))
        with self.wsdl_client.stream("GET", url, timeout=timeout) as response:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self._max_bytes:
                raise too_large(self._what, url, self._max_bytes, "max_wsdl_bytes")
            parts: list[bytes] = []
            size = 0
            for part in response.iter_bytes():
                self._left()
                size += len(part)
                if size > self._max_bytes:
                    raise too_large(self._what, url, self._max_bytes, "max_wsdl_bytes")
                parts.append(part)
        content = b"".join(parts)
        if response.status_code != 200:
            raise _HttpFailure(
                httpx.Response(
                    response.status_code,
                    headers=decoded_headers(response.headers),
                    content=content,
                    request=response.request,
                )
            )
        if _declares_dtd(content):
            raise _HostileXml
        return content


def _is_xml(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media in ("text/xml", "application/xml", "application/soap+xml")


@dataclasses.dataclass(frozen=True, slots=True)
class _Loaded:
    """One service's WSDL, loaded: the zeep client, its operations and their message plans."""

    client: Any  # zeep.AsyncClient
    service: str
    address: httpx.URL  # where calls go: our URL, not the WSDL's soap:address
    operations: frozenset[str]
    plans: dict[str, MessagePlan] = dataclasses.field(default_factory=dict)

    def plan(self, operation: str) -> MessagePlan:
        """The request and answer elements of `operation` (one of `operations`)."""
        found = self.plans.get(operation)
        if found is None:
            namespace = service_namespace(self.service)
            request = self.client.get_element(f"{{{namespace}}}{operation}")
            response = self.client.get_element(f"{{{namespace}}}{operation}Response")
            found = MessagePlan.of(node_from_zeep(request), node_from_zeep(response))
            self.plans[operation] = found
        return found


class PaceClient(AsyncClosing):
    """Talks to one Pace server (or company) at `url` with HTTP Basic credentials."""

    def __init__(
        self,
        url: str,
        login: str,
        password: str,
        *,
        company: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        wsdl_timeout: float = DEFAULT_WSDL_TIMEOUT,
        call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        max_wsdl_bytes: int = DEFAULT_MAX_WSDL_BYTES,
        timezone: dt.tzinfo | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._root = _services_root(url, company)
        self._timezone = timezone
        token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
        # What must never appear in an error or a log line, longest first. A password shorter
        # than 4 characters is not scrubbed: replacing it would garble every message.
        self._secrets = sorted(
            {secret for secret in (password, token) if len(secret) >= 4}, key=len, reverse=True
        )
        auth = httpx.BasicAuth(login, password)
        # Calls go straight to the transport (httpx's connection pool), one prepared request
        # each: the client's per-request work (auth flow, cookies, URL merging) cost more CPU
        # than the call's own envelope (the push bench). The client is zeep's, and closes it.
        # Behind a proxy (HTTPS_PROXY, not NO_PROXY) httpx's own transport, which speaks it.
        self._calls = transport or keepalive_transport.for_url(
            self._root, max_body_bytes=max_answer_bytes
        )
        self._deadline = call_deadline_seconds
        self._max_answer = max_answer_bytes
        self._max_wsdl = max_wsdl_bytes
        self._wsdl_timeout = wsdl_timeout
        self._http = httpx.AsyncClient(
            auth=auth, timeout=httpx.Timeout(timeout), transport=self._calls, follow_redirects=False
        )
        self._call_timeout = httpx.Timeout(timeout).as_dict()
        self._wsdl_http = httpx.Client(
            auth=auth, timeout=httpx.Timeout(wsdl_timeout), follow_redirects=False
        )
        self._settings = zeep.Settings(
            strict=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        self._loaded: dict[str, _Loaded] = {}
        self._elements: dict[tuple[str, str], dict[str, Any]] = {}
        self._load_lock = anyio.Lock()
        self._headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '""',
            "Authorization": f"Basic {token}",
        }

    async def aclose(self) -> None:
        """Close both connection pools (SOAP calls and WSDL loads)."""
        try:
            await self._http.aclose()
        finally:
            self._wsdl_http.close()

    # -- the four calls ---------------------------------------------------------------------------

    async def find(
        self,
        object_type: str,
        expression: FindExpression,
        sort: Sequence[Sort] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Primary keys (as Pace writes them, "1001:01" for a JobPart) of the objects matching
        `expression`, built with `daemon.providers.pace.find_expressions`."""
        _check_type(object_type)
        if not isinstance(expression, FindExpression):
            raise TypeError(
                "find expression: build it with daemon.providers.pace.find_expressions, "
                f"not {type(expression).__name__}"
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TypeError(f"find limit: must be an int, got {type(limit).__name__}")
        if limit is not None and limit < 1:
            raise ValueError(f"find limit: must be 1 or more, got {limit}")
        arguments: dict[str, Any] = {"in0": object_type, "in1": str(expression)}
        sorts = [{"descending": s.descending, "xpath": field_path(s.field)} for s in sort or ()]
        if limit is not None:
            operation = "findSortAndLimit"
            arguments.update(in2={"XPathDataSort": sorts} if sorts else None, in3=0, in4=limit)
        elif sorts:
            operation = "findAndSort"
            arguments["in2"] = {"XPathDataSort": sorts}
        else:
            operation = "find"
        what = f"find {object_type}"
        result = await retry_read(
            lambda: self._call("FindObjects", operation, what, arguments), what=what
        )
        return _keys(result)

    async def read(self, object_type: str, key: str | int) -> dict[str, Any]:
        """The whole object with primary key `key` ("1001:01" for a JobPart); NotFound if none."""
        _check_type(object_type)
        what = f"read {object_type} {key}"

        async def once() -> dict[str, Any]:
            elements = await self._object_elements("ReadObject", object_type)
            wanted = _key_fields(object_type, key, elements)
            operation = f"read{object_type}"
            result = await self._call(
                "ReadObject", operation, what, {object_element(object_type): wanted}
            )
            if result is None:
                raise ServerError(f"{what}: Pace answered without the object")
            return _as_dict(result)

        return await retry_read(once, what=what)

    async def create(self, object_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object (not idempotent: each call makes one); return it as Pace filled it."""
        _check_type(object_type)
        what = f"create {object_type}"
        elements = await self._object_elements("CreateObject", object_type)
        wire = self._wire_fields(what, fields, elements)
        operation = f"create{object_type}"
        result = await self._call(
            "CreateObject", operation, what, {object_element(object_type): wire}
        )
        if result is None:
            raise ServerError(f"{what}: Pace answered without the created object")
        return _as_dict(result)

    async def update(self, object_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Send `fields` as the object their key fields name; return the object.

        EFI's update takes the whole object instance (read it, change fields, send it back):
        a field left out may be cleared like a nil one (pace.md §2; `sandbox.UPDATE_SEMANTICS`),
        so callers send the object as read with their changes over it. If Pace answers without
        the object (as EFI's guide shows), it is read back.
        """
        _check_type(object_type)
        missing = [f for f in KEY_FIELDS[object_type] if fields.get(f) in (None, "")]
        if missing:
            raise ValueError(f"update {object_type}: key field {missing[0]!r} is missing")
        key = ":".join(str(fields[f]) for f in KEY_FIELDS[object_type])
        what = f"update {object_type} {key}"
        elements = await self._object_elements("UpdateObject", object_type)
        wire = self._wire_fields(what, fields, elements)
        operation = f"update{object_type}"
        result = await self._call(
            "UpdateObject", operation, what, {object_element(object_type): wire}
        )
        if result is None:
            return await self.read(object_type, key)
        return _as_dict(result)

    # -- the server's field names -----------------------------------------------------------------

    async def fields(self, object_type: str) -> tuple[str, ...]:
        """The field names of `object_type` in this server's CreateObject WSDL, in its order."""
        _check_type(object_type)
        return tuple(await self._object_elements("CreateObject", object_type))

    async def update_fields(self, object_type: str) -> tuple[str, ...]:
        """The field names `update` can send for `object_type` (this server's UpdateObject WSDL):
        what of a read object goes back in a read-modify-write."""
        _check_type(object_type)
        return tuple(await self._object_elements("UpdateObject", object_type))

    async def pick_fields(self, object_type: str, *candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The first of `candidates` whose fields this server's `object_type` all has.

        `PermanentError` naming the candidates when none fits (a Pace version esd does not know).
        """
        if not candidates:
            raise ValueError("pick_fields: give at least one candidate")
        known = set(await self.fields(object_type))
        for candidate in candidates:
            if candidate and known.issuperset(candidate):
                return candidate
        shown = " or ".join("+".join(c) for c in candidates)
        raise PermanentError(
            f"this Pace server's {object_type} has none of the fields {shown} (WSDL); "
            "a Pace version esd does not know"
        )

    async def job_promise_fields(self) -> tuple[str, ...]:
        """("promiseDate", "promiseTime") on older Pace, ("promiseDateTime",) on newer ones,
        as this server's WSDL says."""
        return await self.pick_fields("Job", ("promiseDateTime",), ("promiseDate", "promiseTime"))

    # -- plumbing -------------------------------------------------------------------------------

    async def _service(self, service: str) -> _Loaded:
        """The loaded WSDL of `service`; loaded once (a failed load is tried again next time)."""
        loaded = self._loaded.get(service)
        if loaded is not None:
            return loaded
        what = f"load {service} WSDL"

        async def load() -> _Loaded:
            # The lock is waited for inside the deadline: a load stuck behind a dripping server
            # holds the other pushes back no longer than their own deadline.
            with call_deadline(self._deadline, what):
                async with self._load_lock:
                    found = self._loaded.get(service)
                    if found is None:
                        found = await self._load_in_thread(service, what)
                        self._loaded[service] = found
                        log.debug("pace.wsdl_loaded", service=service)
                    return found

        return await retry_read(load, what=what)

    async def _load_in_thread(self, service: str, what: str) -> _Loaded:
        """`_load` in a worker thread (zeep loads synchronously), given up on when cancelled:
        the thread then stops at its next chunk, or at the latest when its read times out."""
        transport = _PaceTransport(
            client=self._http,
            wsdl_client=self._wsdl_http,
            what=what,
            timeout=self._wsdl_timeout,
            deadline_seconds=self._deadline,
            max_bytes=self._max_wsdl,
        )
        try:
            return await anyio.to_thread.run_sync(
                self._load, service, what, transport, abandon_on_cancel=True
            )
        finally:
            transport.abandoned.set()

    def _load(self, service: str, what: str, transport: _PaceTransport) -> _Loaded:
        """Load and check one WSDL (in a worker thread: zeep loads synchronously)."""
        try:
            with transport_errors(what):
                client = _zeep.AsyncClient(
                    f"{self._root}/{service}?wsdl",
                    transport=transport,
                    settings=self._settings,
                )
        except _HttpFailure as failure:
            raise self._http_error(what, failure.response) from None
        except (
            _HostileXml,
            zeep.exceptions.DTDForbidden,
            zeep.exceptions.EntitiesForbidden,
            zeep.exceptions.ExternalReferenceForbidden,
        ) as exc:
            raise PermanentError(
                f"{what}: refused: the WSDL declares a DTD, entities or external references "
                f"({type(exc).__name__}); an attack or a broken proxy"
            ) from None
        except DriverError:
            raise
        except Exception as exc:  # zeep and lxml raise many kinds for a document they cannot use
            raise PermanentError(
                self._clean(f"{what}: not a usable WSDL: {type(exc).__name__}: {exc}")
            ) from None
        bindings = [b for b in client.wsdl.bindings.values() if isinstance(b, Soap11Binding)]
        if not bindings:
            raise PermanentError(f"{what}: the WSDL has no SOAP 1.1 binding")
        binding: Any = bindings[0]
        address = httpx.URL(f"{self._root}/{service}")  # parsed once, not per call
        return _Loaded(client, service, address, frozenset(binding.all()))

    async def _object_elements(self, service: str, object_type: str) -> dict[str, Any]:
        """Field name -> zeep element of `object_type` as `service`'s WSDL declares it."""
        cached = self._elements.get((service, object_type))
        if cached is not None:
            return cached
        loaded = await self._service(service)
        verb = SERVICE_VERBS[service]
        operation = f"{verb}{object_type}"
        if operation not in loaded.operations:
            raise PermanentError(
                f"{verb} {object_type}: this Pace server has no {operation} (WSDL)"
            )
        element = loaded.client.get_element(f"{{{service_namespace(service)}}}{operation}")
        (_, wrapper), *_ = element.type.elements
        found = {name: field for name, field in wrapper.type.elements}
        self._elements[(service, object_type)] = found
        return found

    async def _call(
        self, service: str, operation: str, what: str, arguments: dict[str, Any]
    ) -> Any:
        loaded = await self._service(service)
        if operation not in loaded.operations:
            raise PermanentError(f"{what}: this Pace server has no {operation} (WSDL)")
        plan = loaded.plan(operation)
        try:
            message = build_request(plan, arguments)
        except (ValueError, TypeError) as exc:  # a value the WSDL's type cannot carry
            raise BusinessRuleError(self._clean(f"{what}: not valid for Pace: {exc}")) from None
        request = httpx.Request(
            "POST",
            loaded.address,
            content=message,
            headers=self._headers,
            extensions={"timeout": self._call_timeout},
        )
        with call_deadline(self._deadline, what), transport_errors(what):
            response = await self._calls.handle_async_request(request)
            response.request = request
            response = await read_capped(response, self._max_answer, what)
        status = response.status_code
        if not (status == 200 or (status == 500 and _is_xml(response))):
            raise self._http_error(what, response)
        try:
            if _declares_dtd(response.content):
                raise HostileAnswer("the answer declares a DTD")
            result = read_answer(plan, response.content)
        except SoapFault as fault:
            error = fault_error(what, fault.code, self._clean(fault.message or ""))
            log.debug(
                "pace.fault", operation=operation, code=fault.code, error=type(error).__name__
            )
            raise error from None
        except HostileAnswer as exc:
            raise PermanentError(
                f"{what}: refused the answer: it declares a DTD, entities or external references "
                f"({exc}); an attack or a broken proxy"
            ) from None
        except UnreadableAnswer as exc:
            raise ServerError(
                self._clean(f"{what}: unreadable answer from Pace: {exc}; not a SOAP envelope")
            ) from None
        log.debug("pace.call", service=service, operation=operation)
        return result

    def _http_error(self, what: str, response: httpx.Response) -> EsdError:
        if response.status_code == 404:
            return NotFound(f"{what}: HTTP 404: no such Pace service (check the URL and company)")
        error = error_for_response(response, what=what)
        if error is None:  # a 2xx other than 200: not a SOAP answer
            error = ServerError(f"{what}: HTTP {response.status_code}: not a SOAP answer")
        # The message may quote the server's page; scrub it in place (keeps retry_after).
        error.message = self._clean(error.message)
        error.args = (error.message,)
        return error

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _wire_fields(
        self, what: str, fields: Mapping[str, Any], elements: Mapping[str, Any]
    ) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(elements))
        if unknown:
            raise BusinessRuleError(
                f"{what}: this Pace server's object has no field {unknown[0]!r} (WSDL); "
                "use fields() / pick_fields() for names that differ between Pace versions"
            )
        return {
            name: _wire_value(what, name, value, _xsd_type(elements[name]), self._timezone)
            for name, value in fields.items()
        }


# -- pure helpers ---------------------------------------------------------------------------------


def _services_root(url: str, company: str | None) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError("Pace url: must be a non-empty http(s) URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Pace url: must be an http(s) URL with a host, e.g. https://pace.example")
    if parts.username is not None or parts.password is not None:
        raise ValueError("Pace url: must not contain a login or password; configure them apart")
    if parts.query or parts.fragment:
        raise ValueError("Pace url: must not have a query or fragment")
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    if company is None:
        return f"{base}/rpc/services"
    if not isinstance(company, str) or not _COMPANY.fullmatch(company):
        raise ValueError("Pace company: must be a company name without '/', '?', '#' or spaces")
    return f"{base}/rpc/company:{quote(company, safe='')}/services"


def _check_type(object_type: str) -> None:
    if not isinstance(object_type, str) or not _TYPE_NAME.fullmatch(object_type):
        raise ValueError(f"Pace object type: {object_type!r} is not a type name like 'JobPart'")
    if object_type not in KEY_FIELDS:
        raise ValueError(f"Pace object type: {object_type!r} is not one of {', '.join(KEY_FIELDS)}")


def _xsd_type(element: Any) -> str:
    qname = getattr(element.type, "qname", None)
    return str(qname.localname) if qname is not None else ""


def _key_fields(object_type: str, key: str | int, elements: Mapping[str, Any]) -> dict[str, Any]:
    """The key element(s) of a read: {"job": "1001", "jobPart": "01"} for "1001:01"."""
    names = KEY_FIELDS[object_type]
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise TypeError(f"read {object_type}: key must be a str or int, got {type(key).__name__}")
    text = str(key)
    values = text.rsplit(":", len(names) - 1) if len(names) > 1 else [text]
    if len(values) != len(names) or any(not v for v in values):
        raise ValueError(
            f"read {object_type}: key {text!r} must be {':'.join(names)} (e.g. '1001:01')"
        )
    wanted: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if _xsd_type(elements[name]) in _INT_TYPES:
            if not re.fullmatch(r"-?\d+", value):
                raise ValueError(
                    f"read {object_type}: key {name} must be an integer, got {value!r}"
                )
            wanted[name] = int(value)
        else:
            wanted[name] = value
    return wanted


def _to_utc(value: dt.datetime, zone: dt.tzinfo | None) -> dt.datetime:
    if value.tzinfo is None:
        # A naive datetime is the shop's wall time: in `zone`, or the system's zone.
        value = value.replace(tzinfo=zone) if zone is not None else value.astimezone()
    return value.astimezone(dt.UTC)


def _wire_value(what: str, name: str, value: Any, xsd_type: str, zone: dt.tzinfo | None) -> Any:
    """`value` for field `name` of XSD type `xsd_type`, as zeep should send it."""
    where = f"{what}: field {name}"
    if value is None:
        return None  # xsi:nil
    if xsd_type == "dateTime":
        if isinstance(value, dt.datetime):
            return _to_utc(value, zone)
        if isinstance(value, dt.date):
            return _to_utc(dt.datetime.combine(value, dt.time()), zone)
        if isinstance(value, dt.time):
            return dt.datetime.combine(_EPOCH, value.replace(tzinfo=None), dt.UTC)
        raise ValueError(f"{where}: needs a datetime, date or time, got {type(value).__name__}")
    if xsd_type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: needs a bool, got {type(value).__name__}")
        return value
    if xsd_type in _INT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: needs an int, got {type(value).__name__}")
        return value
    if xsd_type in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError(f"{where}: needs a Decimal, int or float, got {type(value).__name__}")
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{where}: {value} is not a finite number")
        return format(number, "f")  # XSD numbers have no exponent ("1E+2")
    if not isinstance(value, str):
        raise ValueError(f"{where}: needs a str, got {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        # Storefront data, not a bug here: the operator must correct the order.
        raise BusinessRuleError(
            f"{where}: character U+{ord(bad.group()):04X} at position {bad.start()} "
            "cannot be sent to Pace (not allowed in XML)"
        )
    return value


def _python_value(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def _as_dict(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise ServerError(f"Pace answered {type(result).__name__} where an object was expected")
    return {str(name): _python_value(value) for name, value in result.items()}


def _keys(result: Any) -> list[str]:
    """The key strings of a find answer (an ArrayOfString: {"string": [...]}, or nil)."""
    if result is None:
        return []
    items = result.get("string") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise ServerError("Pace answered a find without a list of keys")
    return [str(item) for item in items if item is not None]

"""The Pace sandbox's raw ASGI app (`SandboxApp`): routing, HTTP Basic auth, the WSDLs, and
each SOAP call carried out as its `FaultPlan` says around `Store`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from xml.sax.saxutils import escape as xml_escape

from lxml import etree

from daemon.providers.pace.objects import SERVICES
from daemon.providers.pace.sandbox.envelopes import (
    fault_body,
    hostile_body,
    operation_element,
    serialized,
)
from daemon.providers.pace.sandbox.faults import Fault
from daemon.providers.pace.sandbox.store import Store
from daemon.testing.asgi import (
    ARRIVED,
    AnswerPacer,
    BodyTooLarge,
    Headers,
    Receive,
    Scope,
    Send,
    StreamLog,
    authorized,
    basic_authorization,
    hang_up,
    read_body,
    respond,
    send_dripped,
    send_huge,
    still_there_after,
)
from daemon.testing.faults import FaultPlan

__all__ = ["SandboxApp"]

_MAX_BODY = 4 * 1024 * 1024
_PATH = re.compile(r"^/rpc(?:/company:(?P<company>[^/]+))?/services/(?P<name>[A-Za-z]+)$")


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    content_type: bytes = b"text/xml; charset=utf-8"
    headers: Headers = dataclasses.field(default_factory=list)


def _text(status: int, message: str, headers: Headers | None = None) -> _Answer:
    # Jetty-ish plain pages: what a proxy or the servlet container answers, not SOAP.
    page = f"<html><body><h2>HTTP ERROR {status}</h2><p>{xml_escape(message)}</p></body></html>"
    return _Answer(status, page.encode(), b"text/html; charset=utf-8", headers or [])


class SandboxApp:
    """The raw ASGI app: routing, auth, faults around `Store`."""

    def __init__(self, store: Store, login: str, password: str, company: str | None) -> None:
        self._store = store
        self._company = company
        self._authorization = basic_authorization(login, password)
        # client (host, port) -> its transport; touched only on the server's event loop
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        self.streams = StreamLog()
        self._pacer = AnswerPacer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        arrived: float = scope.get(ARRIVED) or asyncio.get_running_loop().time()
        try:
            body = await read_body(receive, _MAX_BODY)
        except BodyTooLarge as exc:
            await _respond(send, _text(413, str(exc)))
            return
        if body is None:  # the client left before sending its request
            return
        found = _PATH.match(scope["path"])
        if found is None or found.group("company") != self._company:
            await _respond(send, _text(404, f"No such service: {scope['path']}"))
            return
        if not authorized(scope, self._authorization):
            challenge = [(b"www-authenticate", b'Basic realm="Pace"')]
            await _respond(send, _text(401, "Unauthorized", challenge))
            return
        name = found.group("name")
        method = scope["method"]
        if method == "GET":
            await self._get(scope, receive, send, name)
        elif method == "POST" and name in SERVICES:
            await self._soap(scope, receive, send, name, body, arrived)
        elif name in SERVICES:
            allow = [(b"allow", b"GET, POST")]
            await _respond(send, _text(405, f"Method not allowed: {method}", allow))
        else:
            await _respond(send, _text(404, f"No such service: {name}"))

    async def _get(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        schema = self._store.schema
        query = scope["query_string"].decode("latin-1")
        if name in SERVICES and query.lower() == "wsdl":
            host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode("latin-1")
            location = f"http://{host}{scope['path']}"
            document = schema.wsdl_for(name, location)
        else:
            await _respond(send, _text(404, f"No such document: {name}?{query}"))
            return
        plan = self._store.plan_wsdl(name)
        if plan.before == "drop":
            await self._hang_up(scope, receive)
        elif plan.before == "503":
            await _respond(send, _text(503, "Service Unavailable (injected fault)"))
        elif plan.before in ("entity_bomb", "external_entity"):
            await _respond(send, _Answer(200, hostile_body(plan.before, "wsdl", name)))
        elif plan.before == "not_xml":
            await _respond(send, _text(200, "Please log in"))
        elif plan.before == "drip":
            await self._drip(send, receive, _Answer(200, document), plan)
        elif plan.before == "huge":
            await self._huge(send, receive, plan)
        else:
            await _respond(send, _Answer(200, document))

    async def _soap(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        service: str,
        body: bytes,
        arrived: float,
    ) -> None:
        schema_service = self._store.schema.services[service]
        try:
            element = operation_element(service, body, schema_service.operations)
        except Fault as fault:
            await _respond(send, _Answer(500, fault_body(fault.code, fault.message)))
            return
        operation = etree.QName(element).localname
        plan = self._store.plan(service, operation)
        try:
            self._store.check(service, operation, element)
            invalid = None
        except Fault as fault:
            invalid = fault  # answered after the latency, as every answer is
        # The latency is the answer time, counted from the request's arrival: reading, parsing,
        # checking and acting on it are part of it, as they are of a remote Pace's.
        loop = asyncio.get_running_loop()
        wait = self._pacer.wait(plan.latency, loop.time() - arrived)
        if plan.latency > 0 and not await still_there_after(wait, receive):
            return  # the client gave up waiting; nothing was done
        if plan.before == "drop":
            await self._hang_up(scope, receive)
            return
        if plan.before == "503":
            await _respond(send, _text(503, "Service Unavailable (injected fault)"))
            return
        if plan.before == "fault":
            await _respond(send, _Answer(500, fault_body("Server", plan.message)))
            return
        if plan.before in ("entity_bomb", "external_entity"):
            await _respond(send, _Answer(200, hostile_body(plan.before, operation, service)))
            return
        if plan.before == "not_xml":
            await _respond(send, _text(200, "Please log in"))
            return
        if plan.before == "huge":
            await self._huge(send, receive, plan)
            return
        try:
            if invalid is not None:
                raise invalid
            answer = _Answer(200, serialized(self._store.handle(service, operation, element)))
        except Fault as fault:
            answer = _Answer(500, fault_body(fault.code, fault.message))
        if plan.drop_after:
            await self._hang_up(scope, receive)
            return
        if plan.before == "drip":
            await self._drip(send, receive, answer, plan)
            return
        await _respond(send, answer)
        if plan.latency > 0:
            took = loop.time() - arrived
            self._store.count_answer(took)
            self._pacer.answered(plan.latency, took)

    async def _hang_up(self, scope: Scope, receive: Receive) -> None:
        """Close the client's TCP connection without answering."""
        await hang_up(self.transports, scope, receive)

    async def _drip(self, send: Send, receive: Receive, answer: _Answer, plan: FaultPlan) -> None:
        await send_dripped(
            send,
            receive,
            answer.status,
            answer.body,
            answer.content_type,
            plan.drip_interval,
            self.streams,
        )

    async def _huge(self, send: Send, receive: Receive, plan: FaultPlan) -> None:
        prefix = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        )
        content_type = b"text/xml; charset=utf-8"
        await send_huge(send, receive, prefix, plan.huge_bytes, content_type, self.streams)


async def _respond(send: Send, answer: _Answer) -> None:
    await respond(send, answer.status, answer.body, answer.content_type, answer.headers)

"""The webhook endpoint as a raw ASGI app: read the body within its limit, judge, store, answer.

The answer is 200 only after the event is durably in the inbox (group commit: concurrent
deliveries share one fsync). A duplicate delivery is answered 200 and ignored. If the store
cannot take the event (a full disk) the answer is 503 with Retry-After, so the sender's retry
(or our reconciliation poll) brings it again. Every rejection is counted for `esd status`.
`GET /healthz` answers 200 while the event loop runs (alive); `GET /readyz` answers the
daemon's readiness checks (daemon.intake.readiness); `GET /metrics` the Prometheus metrics
(daemon.metrics) unless turned off (`[listeners.webhook] metrics = false`).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from daemon import logs
from daemon.config import Config
from daemon.intake import mis_webhooks
from daemon.intake.connections import ConnectionCounters
from daemon.intake.judgement import Judge, Reject, route
from daemon.intake.readiness import Check, readiness
from daemon.logs import REDACTOR
from daemon.store.inbox import NewEvent, Stored
from daemon.storefronts import registry as storefronts

__all__ = ["JUDGES", "WebhookApp"]

log = structlog.get_logger("esd.intake")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

#: storefront provider (the path segment) -> its request judge (a plug-in loads when first hit)
JUDGES: Mapping[str, Judge] = storefronts.JUDGES


class WebhookApp:
    """ASGI app for `POST /webhooks/<storefront>/<site>`, `POST /webhooks/mis/<account>`
    (daemon.intake.mis_webhooks) and `GET /healthz`, `/readyz`, `/metrics`."""

    def __init__(
        self,
        config: Config,
        ingest: Callable[[NewEvent], Awaitable[Stored]],
        *,
        max_body_bytes: int,
        judges: Mapping[str, Judge] = JUDGES,
        checks: Mapping[str, Check] | None = None,
        metrics: Callable[[], Awaitable[bytes]] | None = None,
        mis: Mapping[str, mis_webhooks.MisHook] | None = None,
    ) -> None:
        self.config = config
        self.ingest = ingest
        self.max_body_bytes = max_body_bytes
        self.judges = judges
        #: `/readyz`'s named checks (the daemon adds "store")
        self.checks: dict[str, Check] = dict(checks or {})
        #: renders `/metrics` (None: not served, the path is unknown)
        self.metrics = metrics
        #: accounts whose MIS posts status to `/webhooks/mis/<account>`
        self.mis: Mapping[str, mis_webhooks.MisHook] = mis or {}
        self.rejections: collections.Counter[str] = collections.Counter()
        self.accepted = 0
        self.duplicates = 0
        #: the listener's connection guard counts here (serve_asgi(counters=...))
        self.connections = ConnectionCounters()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            await _answer(send, 200, {"ok": True})
            return
        if method == "GET" and path == "/readyz":
            await _answer(send, *readiness(self.checks))
            return
        if method == "GET" and path == "/metrics" and self.metrics is not None:
            await self._metrics(send)
            return
        routed = mis_webhooks.route(method, path, self.mis) or route(
            method, path, self.config, self.judges
        )
        if isinstance(routed, Reject):
            await self._reject(send, routed)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject(send, _too_large(self.max_body_bytes))
            return
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # the sender gave up; nothing was stored
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):  # rare: a body in several pieces
            pieces = await self._read_rest(receive, body)
            if pieces is None:
                return
            body = pieces
        if len(body) > self.max_body_bytes:
            await self._reject(send, _too_large(self.max_body_bytes))
            return
        if isinstance(routed, mis_webhooks.MisRoute):
            verdict = routed.judge(headers, body)
        else:
            verdict = self.judges[routed.provider](routed.site, headers, body)
        if isinstance(verdict, Reject):
            await self._reject(send, verdict)
            return
        event = verdict.event
        try:
            stored = await self.ingest(event)
        except Exception as exc:  # the store is down: the sender must retry
            log.error("webhook.store_failed", error=REDACTOR.redact(repr(exc)))
            self.rejections["store_unavailable"] += 1
            await _answer(
                send,
                503,
                {"ok": False, "error": "store unavailable, retry later"},
                retry_after=STORE_RETRY_AFTER_SECONDS,
            )
            return
        if stored.duplicate:
            self.duplicates += 1
        else:
            self.accepted += 1
        # debug, not info: every delivery is already an inbox row (`esd events`), and one
        # JSON log line per request cost ~15% of intake throughput (make bench). Below the
        # log level not even the call is made: building the bound logger cost ~4 us.
        if logs.enabled("debug"):
            log.debug(
                "webhook.stored",
                source=event.source,
                kind=event.kind,
                event_id=stored.id,
                duplicate=stored.duplicate,
                type=event.payload.get("type"),
                order=event.payload.get("order"),
            )
        start, body_message = _stored_answer(stored)
        await send(start)
        await send(body_message)

    async def _read_rest(self, receive: Receive, first: bytes) -> bytes | None:
        """The whole body from its first piece on, read until it ends or is over the limit
        (the caller refuses it then); None if the sender disconnected."""
        body = bytearray(first)
        while len(body) <= self.max_body_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        return bytes(body)

    async def _reject(self, send: Send, reject: Reject) -> None:
        self.rejections[reject.reason] += 1
        log.warning(
            "webhook.rejected",
            status=reject.status,
            reason=reject.reason,
            detail=REDACTOR.redact(reject.detail),
        )
        await _answer(send, reject.status, {"ok": False, "error": REDACTOR.redact(reject.detail)})

    async def _metrics(self, send: Send) -> None:
        assert self.metrics is not None
        try:
            data = await self.metrics()
        except Exception as exc:  # the store cannot be read: say so, do not crash the listener
            log.error("metrics.failed", error=REDACTOR.redact(f"{type(exc).__name__}: {exc}"))
            await _answer(send, 503, {"ok": False, "error": "metrics unavailable"})
            return
        headers = [
            (b"content-type", _METRICS_CONTENT_TYPE),
            (b"content-length", b"%d" % len(data)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def stats(self) -> dict[str, Any]:
        """Counters for `esd status`."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejections": dict(self.rejections),
            "connections": self.connections.as_dict(),
        }


def _too_large(limit: int) -> Reject:
    return Reject(413, "too_large", f"body over the {limit}-byte limit")


#: what a 503 for a store that cannot write asks the sender to wait (the daemon's own writers
#: retry within seconds; a minute keeps a storefront's redeliveries from piling up meanwhile)
STORE_RETRY_AFTER_SECONDS = 60

_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
_METRICS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# What `_answer` sends for {"ok": True, "event": id, "duplicate": ...}, byte for byte, without
# its JSON encoder: the answer to nearly every request.
_STORED_BODY = b'{"ok": true, "event": %d, "duplicate": %b}'


def _stored_answer(stored: Stored) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ASGI messages of the 200 to a stored (or duplicate) delivery."""
    data = _STORED_BODY % (stored.id, b"true" if stored.duplicate else b"false")
    headers = [_JSON_CONTENT_TYPE, (b"content-length", b"%d" % len(data))]
    return (
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": data},
    )


async def _answer(
    send: Send, status: int, body: Mapping[str, Any], *, retry_after: int | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [_JSON_CONTENT_TYPE, (b"content-length", str(len(data)).encode())]
    if status == 405:
        headers.append((b"allow", b"POST"))
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % retry_after))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})

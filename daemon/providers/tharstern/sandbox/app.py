"""The Tharstern sandbox's raw ASGI app: routing under the API root (case-insensitive, as IIS
routes it), token auth, the faults and the Success-false quirk around the `Store`."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.sandbox.store import (
    ADMIN_ROUTES,
    API_PREFIX,
    API_ROUTES,
    Store,
    refused,
)
from daemon.testing.asgi import Receive, Scope, Send, request_header
from daemon.testing.faults import FaultPlan
from daemon.testing.json_sandbox import JsonAnswer, JsonApp, answer_seconds, match_route

__all__ = ["SandboxApp"]


class SandboxApp(JsonApp):
    """The raw ASGI app: routing, token auth, faults and the quirk around `Store`."""

    error_key = "Message"

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        lowered = path.lower()
        if lowered.startswith(API_PREFIX):
            sub = lowered[len(API_PREFIX) :]
            found, params, allowed = match_route(API_ROUTES, method, sub)
            plan = self._store.plan(method, lowered, found.name if found else f"{method} {sub}")
            quirk = plan.before == "success_false" or (
                found is not None
                and found.handler == "estimate_request"
                and self._store.quirk_rolls()
            )
            if plan.before == "success_false":
                plan = dataclasses.replace(plan, before=None)
            act = functools.partial(
                self._api, scope, method, found, params, allowed, sub, query, body, quirk
            )
            await self.carry_out(scope, receive, send, plan, act)
            self._store.count_answer(answer_seconds(scope))
        elif path.startswith("/_admin/"):
            found, params, _ = match_route(ADMIN_ROUTES, method, path)
            if found is None:
                await self.respond(send, self.error(404, f"no such endpoint: {path}"))
            else:
                await self.respond(send, self._store.handle(found, params, query, body))
        else:
            await self.respond(send, self.error(404, f"no such endpoint: {path}"))

    def injected(self, plan: FaultPlan) -> JsonAnswer:
        if plan.before == "503":
            return self.error(503, "Service unavailable (injected fault)")
        if plan.before == "429":
            retry = [(b"retry-after", f"{plan.retry_after:g}".encode("ascii"))]
            return self.error(429, "Too many requests", retry)
        if plan.before == "400":
            return JsonAnswer(
                400, {"Message": "The request is invalid.", g.MODEL_STATE: {"": [plan.message]}}
            )
        raise AssertionError(f"no answer for the fault {plan.before!r}")  # pragma: no cover

    def _api(
        self,
        scope: Scope,
        method: str,
        found: Any,
        params: dict[str, str],
        allowed: list[str],
        sub: str,
        query: str,
        body: bytes,
        quirk: bool,
    ) -> JsonAnswer:
        if found is None:
            if allowed:
                return self.error(405, f"The requested resource does not support {method}.")
            return self.error(404, "No HTTP resource was found that matches the request URI.")
        if found.handler != "token" and not self._store.token_valid(
            request_header(scope, b"authorization")
        ):
            return self.error(401, "Authorization has been denied for this request.")
        answer = self._store.handle(found, params, query, body)
        if quirk and answer.status == 200:
            # The estimate is made; the answer says it was not, and names none (ROIOrders).
            return refused("", {"Result": {"Problems": []}})
        return answer

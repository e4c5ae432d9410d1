"""The Pressero sandbox's raw ASGI app (`SandboxApp`): routing, faults and token checks around
`Store`.
"""

from __future__ import annotations

import functools

from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.sandbox.data import DENIED
from daemon.storefronts.pressero.sandbox.routes import ADMIN_ROUTES, API_ROUTES, match
from daemon.storefronts.pressero.sandbox.store import Store
from daemon.testing.asgi import Receive, Scope, Send, request_header
from daemon.testing.faults import FaultPlan
from daemon.testing.json_sandbox import JsonAnswer, JsonApp, Rejected, Route

__all__ = ["SandboxApp"]


class SandboxApp(JsonApp):
    """The raw ASGI app: routing, faults and token checks around `Store`."""

    content_type = b"application/json; charset=utf-8"
    error_key = "Message"

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        try:
            if path.lower().startswith(f"/{g.API_PREFIX}/"):
                route, params = match(API_ROUTES, method, path)
                plan = self._store.plan(method, path, route.name if route else f"{method} {path}")
                act = functools.partial(self._api, scope, route, params, path, query, body)
                await self.carry_out(scope, receive, send, plan, act)
                return
            route, params = match(ADMIN_ROUTES, method, path)
        except Rejected as exc:
            await self.respond(send, self.error(exc.status, exc.message))
            return
        if route is None:
            await self.respond(send, self.error(404, f"no such endpoint: {path}"))
            return
        await self.respond(send, self._store.handle(route, params, query, body))

    def injected(self, plan: FaultPlan) -> JsonAnswer:
        if plan.before in ("500", "503"):
            return self.error(int(plan.before), "injected server error")
        if plan.before == "429":
            retry = [(b"retry-after", f"{plan.retry_after:g}".encode("ascii"))]
            return self.error(429, "Too many requests", retry)
        if plan.before == "401":  # as if the token had expired
            return self.error(401, DENIED)
        if plan.before == "400":
            return self.error(400, plan.message)
        raise AssertionError(f"no answer for the fault {plan.before!r}")  # pragma: no cover

    def _api(
        self,
        scope: Scope,
        route: Route | None,
        params: dict[str, str],
        path: str,
        query: str,
        body: bytes,
    ) -> JsonAnswer:
        if route is None:
            return self.error(404, f"no such endpoint: {path}")
        if route.handler != "authenticate" and not self._store.token_valid(_authorization(scope)):
            return self.error(401, DENIED)
        return self._store.handle(route, params, query, body)


def _authorization(scope: Scope) -> str | None:
    value = request_header(scope, b"authorization")
    return None if value is None else value.decode("latin-1")

"""The frame of the JSON sandboxes (reference MIS, Pressero): `JsonApp` (body limit, JSON
answers, a request's `FaultPlan` carried out), `JsonStore` (state behind one lock, fault knobs,
routed handlers) and the `Route` table they dispatch on. The Pace sandbox speaks SOAP and uses
only the lower pieces (`daemon.testing.asgi`, `daemon.testing.faults`).
"""

from __future__ import annotations

import abc
import asyncio
import copy
import dataclasses
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from daemon.testing.asgi import (
    ARRIVED,
    AnswerPacer,
    BodyTooLarge,
    Headers,
    Receive,
    Scope,
    Send,
    StreamLog,
    hang_up,
    read_body,
    respond,
    send_dripped,
    send_huge,
    still_there_after,
)
from daemon.testing.faults import (
    FaultPlan,
    check_fault_knobs,
    check_http_fail_next,
    take_http_fail_next,
)

__all__ = [
    "ARRIVED",
    "Handler",
    "JsonAnswer",
    "JsonApp",
    "JsonStore",
    "Rejected",
    "Route",
    "answer_seconds",
    "match_route",
    "route",
]


class Rejected(Exception):
    """A request a JSON sandbox refuses: answered with `status` and `message` as its error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class JsonAnswer:
    """An answer to send: `body` as JSON."""

    status: int
    body: object
    headers: Headers = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One routed request: `name` ("POST /api/jobs/{job_id}/lines") keys the call counts;
    `handler` names the `JsonStore` method that answers it, without its leading underscore."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: str


def route(method: str, template: str, handler: str, *, fold_case: bool = False) -> Route:
    """A route whose `{name}` segments of `template` become path parameters; `fold_case`: the
    path matches case-insensitively, with or without a trailing slash (as Pressero's routing)."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    if fold_case:
        return Route(method, re.compile(f"^{regex}/?$", re.I), f"{method} {template}", handler)
    return Route(method, re.compile(f"^{regex}$"), f"{method} {template}", handler)


def match_route(
    routes: Sequence[Route], method: str, path: str
) -> tuple[Route | None, dict[str, str], list[str]]:
    """(the route, its path parameters, the methods the path allows); no route: (None, {}, the
    methods other routes of the path allow)."""
    allowed = []
    for candidate in routes:
        found = candidate.pattern.match(path)
        if found is None:
            continue
        if candidate.method == method:
            return candidate, found.groupdict(), [method]
        allowed.append(candidate.method)
    return None, {}, allowed


Handler = Callable[[dict[str, str], dict[str, list[str]], bytes], JsonAnswer]


class JsonStore(abc.ABC):
    """A JSON sandbox's data, fault knobs and call counts behind one lock.

    Public methods take the lock; `_`-methods expect it held. A subclass names its knobs
    (`fault_knobs`, with at least latency_ms, retry_after, drop_rate, error_rate, seed and
    fail_next; `fault_kinds`; `fold_case`) and error key, sets `faults`, `rng` and `calls` in
    `_reset`, may roll more dice in `_more_dice`, and has a handler
    `_<Route.handler>(params, query, body)` per route; the admin routes "admin_state" and
    "admin_reset" are answered here.
    """

    #: the key of `{key: message}`, the body of an error answer
    error_key = "error"
    #: fault knob -> default; the `fail_next` kinds; are `fail_next` paths case-insensitive?
    fault_knobs: Mapping[str, object]
    fault_kinds: Sequence[str]
    fold_case = False

    faults: dict[str, Any]
    rng: random.Random
    calls: Counter[str]  # route name -> API calls

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def plan(self, method: str, path: str, call: str) -> FaultPlan:
        """Count an API call (`call`: its route's name) and decide what the faults do to it:
        the first matching `fail_next` entry, or else the dice."""
        with self._lock:
            self.calls[call] += 1
            faults = self.faults
            latency = faults["latency_ms"] / 1000
            retry_after = float(faults["retry_after"])
            queued = path.lower() if self.fold_case else path
            entry = take_http_fail_next(faults["fail_next"], method, queued)
            if entry is not None:
                return FaultPlan.queued(entry, latency, retry_after, faults)
            # Dice are rolled in a fixed order, only for knobs that are on, so a seed replays.
            for knob, kind in (("drop_rate", "drop"), ("error_rate", "503")):
                if faults[knob] and self.rng.random() < faults[knob]:
                    return FaultPlan(latency, kind)
            return self._more_dice(latency, retry_after)

    def check_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Check fault knobs; raise ValueError naming the first wrong one."""
        return check_fault_knobs(knobs, self.fault_knobs, self._check_fail_next)

    def set_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given fault knobs; return all of them."""
        checked = self.check_faults(knobs)
        with self._lock:
            return self._apply_faults(checked)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def handle(self, route: Route, params: dict[str, str], query: str, body: bytes) -> JsonAnswer:
        """Run one routed request; refusals become their error answers."""
        handler: Handler = getattr(self, f"_{route.handler}")
        try:
            with self._lock:
                return handler(params, parse_qs(query, keep_blank_values=True), body)
        except Rejected as exc:
            return JsonAnswer(exc.status, {self.error_key: exc.message})

    @abc.abstractmethod
    def _reset(self) -> None:
        """Back to the seeded state (sets `faults` to their defaults and a fresh `rng`)."""

    @abc.abstractmethod
    def _snapshot(self) -> dict[str, Any]:
        """A copy of everything, for `state`."""

    def _more_dice(self, latency: float, retry_after: float) -> FaultPlan:
        """The plan once drop and error were not rolled: a subclass may roll its own knobs."""
        return FaultPlan(latency)

    def _apply_faults(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        self.faults.update(checked)
        if "seed" in checked:
            self.rng = random.Random(checked["seed"])
        return copy.deepcopy(self.faults)

    def _check_fail_next(self, value: object) -> list[dict[str, Any]]:
        return check_http_fail_next(value, self.fault_kinds, fold_case=self.fold_case)

    def _admin_state(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        return JsonAnswer(200, self._snapshot())

    def _admin_reset(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        self._reset()
        return JsonAnswer(200, {"reset": True})


def answer_seconds(scope: Scope) -> float:
    """Seconds since the request of `scope` arrived (its whole answer time, once answered)."""
    return float(asyncio.get_running_loop().time() - scope[ARRIVED])


class JsonApp(abc.ABC):
    """The raw ASGI app of a JSON sandbox: reads the body (413 over `max_body`), answers JSON,
    and carries out the `FaultPlan` of an API request. A subclass routes in `serve` and says
    in `injected` what an injected fault answers."""

    content_type = b"application/json"
    #: the key of `{key: message}`, the body of an error answer
    error_key = "error"
    max_body = 1024 * 1024

    def __init__(self) -> None:
        # client (host, port) -> its transport; touched only on the server's event loop
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        self.streams = StreamLog()
        self._pacer = AnswerPacer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        # cuttable_protocol stamped it when the bytes were read; another server did not
        scope.setdefault(ARRIVED, asyncio.get_running_loop().time())
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await self.respond(send, self.error(413, str(exc)))
            return
        if body is None:  # the client left before sending its request
            return
        await self.serve(scope, receive, send, body)

    @abc.abstractmethod
    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Route and answer one request whose whole `body` was read."""

    @abc.abstractmethod
    def injected(self, plan: FaultPlan) -> JsonAnswer:
        """The answer of an injected fault (`plan.before`, not "drop") instead of acting."""

    def error(self, status: int, message: str, headers: Headers | None = None) -> JsonAnswer:
        """An error answer: `{error_key: message}`."""
        return JsonAnswer(status, {self.error_key: message}, headers or [])

    async def respond(self, send: Send, answer: JsonAnswer) -> None:
        body = json.dumps(answer.body).encode()
        await respond(send, answer.status, body, self.content_type, answer.headers)

    async def carry_out(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        plan: FaultPlan,
        act: Callable[[], JsonAnswer],
    ) -> None:
        """Answer an API request as its `plan` says: after the latency (nothing is done if the
        client leaves meanwhile), hang up or answer the injected fault instead of acting, or
        act (`act`) and then answer, or hang up (the lost answer).

        The latency is the answer time, counted from the request's arrival (`answer_seconds`):
        reading, routing and acting on it are part of it, as they are of a remote server's.
        """
        if ARRIVED not in scope:  # served without __call__ (a subclass's own entry)
            scope[ARRIVED] = asyncio.get_running_loop().time()
        wait = self._pacer.wait(plan.latency, answer_seconds(scope))
        if plan.latency > 0 and not await still_there_after(wait, receive):
            return  # the client gave up waiting; nothing was done
        if plan.before == "drop":
            await hang_up(self.transports, scope, receive)
            return
        if plan.before == "huge":  # nothing is done: a proxy's runaway answer
            prefix = b'{"items": ['
            await send_huge(send, receive, prefix, plan.huge_bytes, self.content_type, self.streams)
            return
        if plan.before not in (None, "drip"):
            await self.respond(send, self.injected(plan))
            return
        answer = act()
        if plan.drop_after:
            await hang_up(self.transports, scope, receive)
            return
        if plan.before == "drip":  # done, and its answer dripped
            body = json.dumps(answer.body).encode()
            await send_dripped(
                send,
                receive,
                answer.status,
                body,
                self.content_type,
                plan.drip_interval,
                self.streams,
            )
            return
        await self.respond(send, answer)
        if plan.latency > 0:
            self._pacer.answered(plan.latency, answer_seconds(scope))

"""A real HTTP reference MIS on loopback, with fault injection, for tests and the demo.

`ReferenceSandbox` runs a raw ASGI app under uvicorn in a daemon thread; its state (customers,
products, jobs, faults, call counts) is in memory behind one lock, so a test thread may read
and change it while requests are served. Like real MIS systems, creating a job or a line is
not idempotent: posting twice makes two. That is what the driver must cope with, and the
faults make it have to: a connection dropped before the server acts, or after it acted (the
lost answer), 503s, 429s with Retry-After, 422s, and latency.

A dropped connection is really cut: the sandbox speaks HTTP through a subclass of uvicorn's
h11 protocol that remembers each connection's transport, and the app aborts that transport
without writing a byte, so the client sees the server hang up (httpx RemoteProtocolError or
ReadError), not a 500.

Run `python -m daemon.providers.reference.sandbox --port 0 --login esd --password X`: it prints
`{"url": "http://127.0.0.1:PORT"}` on one line once it accepts connections and runs until
SIGTERM or SIGINT.

API (JSON; HTTP Basic auth on /api/*):

    GET  /api/ping                      {"product": "reference-mis", "version": "1.0"}
    POST /api/jobs                      {"reference", "customer", "description", "due_date"}
                                        -> 201 {"job_id": "J1001"}
    GET  /api/jobs?reference=R          {"items": [job, ...]} oldest first
    GET  /api/jobs/{job_id}             job, or 404
    POST /api/jobs/{job_id}/lines       {"line_key", "description", "quantity", "price"}
                                        -> 201 {"line_id": "J1001-01"}
    GET  /api/products?page=N&page_size=M   {"items": [product, ...], "total": T}

Admin (no auth): POST /_admin/faults (knobs, see `FAULT_KNOBS`), POST
/_admin/jobs/{job_id}/lines/{line_id}/status {"status", "tracking"}, GET /_admin/state,
POST /_admin/reset.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import dataclasses
import datetime as dt
import hmac
import json
import random
import re
import signal
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from daemon.sandbox_http import (
    BodyTooLarge,
    LoopbackSandbox,
    ThreadedServer,
    check_fault_knobs,
    check_http_fail_next,
    hang_up,
    read_body,
    still_there_after,
    valid_basic,
)

__all__ = [
    "DEFAULT_CUSTOMERS",
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "PRODUCT",
    "VERSION",
    "ReferenceSandbox",
    "default_products",
    "main",
]

PRODUCT = "reference-mis"
VERSION = "1.0"

#: customer id -> name; jobs may only be booked to these
DEFAULT_CUSTOMERS: Mapping[str, str] = {"C100": "Acme Print Buyers", "C200": "Northwind Marketing"}

#: what one `fail_next` entry can do to the next matching request
FAULT_KINDS = ("drop", "drop_after_commit", "503", "429", "422")

#: fault knob -> default; `set_faults` / POST /_admin/faults change only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "drop_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "seed": 0,
    "fail_next": [],
}

_MAX_BODY = 1024 * 1024
_JOB_FIELDS = ("reference", "customer", "description", "due_date")
_LINE_FIELDS = ("line_key", "description", "quantity", "price")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


def default_products() -> list[dict[str, Any]]:
    """The 25-product catalogue a fresh sandbox serves."""
    categories = ("business-cards", "flyers", "posters", "brochures", "banners")
    sizes = ("A6", "A5", "A4", "A3", "A2")
    products = []
    for i in range(25):
        category = categories[i % 5]
        products.append(
            {
                "sku": f"REF-{i + 1:03d}",
                "name": f"{category.replace('-', ' ').title()} {sizes[i // 5]}",
                "price": str(Decimal("9.50") + Decimal("1.25") * i),
                "stock": (i * 7) % 40,
                "category": category,
            }
        )
    return products


class _Rejected(Exception):
    """A request the API refuses: answered with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: object
    headers: Headers = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What the faults do to one /api request, decided when it arrives."""

    latency: float = 0.0
    before: str | None = None  # "drop", "503", "429", "422": instead of acting
    drop_after: bool = False  # act, then hang up
    message: str = ""
    retry_after: float = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str  # "POST /api/jobs/{job_id}/lines": the key of the call counts
    handler: str  # name of the `_Store` method


def _route(method: str, template: str, handler: str) -> _Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return _Route(method, re.compile(f"^{regex}$"), f"{method} {template}", handler)


_ROUTES = (
    _route("GET", "/api/ping", "ping"),
    _route("GET", "/api/jobs", "list_jobs"),
    _route("POST", "/api/jobs", "create_job"),
    _route("GET", "/api/jobs/{job_id}", "get_job"),
    _route("POST", "/api/jobs/{job_id}/lines", "add_line"),
    _route("GET", "/api/products", "list_products"),
    _route("POST", "/_admin/faults", "admin_faults"),
    _route("POST", "/_admin/jobs/{job_id}/lines/{line_id}/status", "admin_line_status"),
    _route("GET", "/_admin/state", "admin_state"),
    _route("POST", "/_admin/reset", "admin_reset"),
)


def _match(method: str, path: str) -> tuple[_Route | None, dict[str, str], list[str]]:
    """(route, path parameters, methods the path allows)."""
    allowed = []
    for route in _ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), [method]
        allowed.append(route.method)
    return None, {}, allowed


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _validated_faults(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Check fault knobs; raise ValueError naming the first wrong one."""
    return check_fault_knobs(knobs, FAULT_KNOBS, _validated_fail_next)


def _validated_fail_next(value: object) -> list[dict[str, Any]]:
    return check_http_fail_next(value, FAULT_KINDS)


class _Store:
    """The MIS's data, faults and call counts; every method takes the lock itself."""

    def __init__(self, customers: Mapping[str, str], products: Sequence[Mapping[str, Any]]):
        self._lock = threading.Lock()
        self._seed_customers = dict(customers)
        self._seed_products = [dict(p) for p in products]
        self._reset()

    def _reset(self) -> None:
        self.customers = dict(self._seed_customers)
        self.products = copy.deepcopy(self._seed_products)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.next_job = 1001
        self.faults: dict[str, Any] = copy.deepcopy(dict(FAULT_KNOBS))
        self.rng = random.Random(self.faults["seed"])
        self.calls: Counter[str] = Counter()

    # -- used by the app and by ReferenceSandbox ---------------------------------------------

    def plan(self, method: str, path: str, call: str) -> _Plan:
        """Count an /api call and decide what the faults do to it."""
        with self._lock:
            self.calls[call] += 1
            faults = self.faults
            latency = faults["latency_ms"] / 1000
            retry_after = float(faults["retry_after"])
            queue: list[dict[str, Any]] = faults["fail_next"]
            for i, entry in enumerate(queue):
                if path.startswith(entry["path_prefix"]) and entry["method"] in (None, method):
                    del queue[i]
                    if entry["kind"] == "drop_after_commit":
                        return _Plan(latency, drop_after=True)
                    return _Plan(latency, entry["kind"], False, entry["message"], retry_after)
            # Dice are rolled in a fixed order, only for knobs that are on, so a seed replays.
            for knob, kind in (("drop_rate", "drop"), ("error_rate", "503")):
                if faults[knob] and self.rng.random() < faults[knob]:
                    return _Plan(latency, kind)
            rate_limit = faults["rate_limit_rate"]
            if rate_limit and self.rng.random() < rate_limit:
                return _Plan(latency, "429", retry_after=retry_after)
            after = faults["drop_after_commit_rate"]
            drop_after = bool(after) and self.rng.random() < after
            return _Plan(latency, drop_after=drop_after)

    def set_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        checked = _validated_faults(knobs)
        with self._lock:
            return self._apply_faults(checked)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def set_line_status(
        self, job_id: str, line_id: str, status: str, tracking: Sequence[str]
    ) -> dict[str, Any]:
        with self._lock:
            return self._update_line(job_id, line_id, status, tracking)

    def handle(self, route: _Route, params: dict[str, str], query: str, body: bytes) -> _Answer:
        """Run one routed request; refusals become their error answers."""
        try:
            handler: Callable[[dict[str, str], dict[str, list[str]], bytes], _Answer]
            handler = getattr(self, f"_{route.handler}")
            with self._lock:
                return handler(params, parse_qs(query, keep_blank_values=True), body)
        except _Rejected as exc:
            return _Answer(exc.status, {"error": exc.message})

    # -- API handlers (called with the lock held) ---------------------------------------------

    def _ping(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> _Answer:
        return _Answer(200, {"product": PRODUCT, "version": VERSION})

    def _list_jobs(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        wanted = query.get("reference")
        jobs = [
            copy.deepcopy(job)
            for job in self.jobs.values()
            if wanted is None or job["reference"] == wanted[0]
        ]
        return _Answer(200, {"items": jobs})

    def _create_job(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        data = _json_object(body, _JOB_FIELDS)
        reference = _required_str(data, "reference")
        customer = _required_str(data, "customer")
        description = _str_field(data, "description")
        due_date = data.get("due_date")
        if due_date is not None:
            try:
                dt.date.fromisoformat(due_date if isinstance(due_date, str) else "")
            except ValueError:
                raise _Rejected(
                    422, "Field must be a date (YYYY-MM-DD) or null: due_date"
                ) from None
        if customer not in self.customers:
            raise _Rejected(422, f"customer not found: {customer}")
        job_id = f"J{self.next_job}"
        self.next_job += 1
        self.jobs[job_id] = {
            "job_id": job_id,
            "reference": reference,
            "customer": customer,
            "description": description,
            "due_date": due_date,
            "status": "open",
            "lines": [],
            "created_at": _now(),
        }
        return _Answer(201, {"job_id": job_id})

    def _get_job(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> _Answer:
        return _Answer(200, copy.deepcopy(self._job(params["job_id"])))

    def _add_line(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        job = self._job(params["job_id"])
        data = _json_object(body, _LINE_FIELDS)
        key = _required_str(data, "line_key")
        description = _str_field(data, "description")
        quantity = data.get("quantity")
        if quantity is None:
            raise _Rejected(422, "Field is required: quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise _Rejected(422, "Field must be a positive integer: quantity")
        price = data.get("price")
        if price is None:
            raise _Rejected(422, "Field is required: price")
        try:
            valid_price = isinstance(price, str) and Decimal(price).is_finite()
        except InvalidOperation:
            valid_price = False
        if not valid_price:
            raise _Rejected(422, "Field must be a decimal string: price")
        line_id = f"{job['job_id']}-{len(job['lines']) + 1:02d}"
        job["lines"].append(
            {
                "line_id": line_id,
                "line_key": key,
                "description": description,
                "quantity": quantity,
                "price": price,
                "status": "new",
                "tracking": [],
                "shipped_at": None,
            }
        )
        return _Answer(201, {"line_id": line_id})

    def _list_products(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        page = _query_int(query, "page", default=1, maximum=1_000_000)
        size = _query_int(query, "page_size", default=10, maximum=100)
        start = (page - 1) * size
        items = copy.deepcopy(self.products[start : start + size])
        return _Answer(200, {"items": items, "total": len(self.products)})

    # -- admin handlers (called with the lock held) -------------------------------------------

    def _admin_faults(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        data = _json_object(body, None)
        try:
            checked = _validated_faults(data)
        except ValueError as exc:
            raise _Rejected(422, str(exc)) from None
        return _Answer(200, self._apply_faults(checked))

    def _admin_line_status(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        data = _json_object(body, ("status", "tracking"))
        status = _required_str(data, "status")
        tracking = data.get("tracking", [])
        if not isinstance(tracking, list) or not all(isinstance(t, str) for t in tracking):
            raise _Rejected(422, "Field must be a list of strings: tracking")
        return _Answer(
            200, self._update_line(params["job_id"], params["line_id"], status, tracking)
        )

    def _admin_state(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        return _Answer(200, self._snapshot())

    def _admin_reset(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> _Answer:
        self._reset()
        return _Answer(200, {"reset": True})

    # -- shared parts (called with the lock held) ---------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {
            "customers": dict(self.customers),
            "products": copy.deepcopy(self.products),
            "jobs": copy.deepcopy(list(self.jobs.values())),
            "faults": copy.deepcopy(self.faults),
            "calls": dict(self.calls),
        }

    def _apply_faults(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        self.faults.update(checked)
        if "seed" in checked:
            self.rng = random.Random(checked["seed"])
        return copy.deepcopy(self.faults)

    def _update_line(
        self, job_id: str, line_id: str, status: str, tracking: Sequence[str]
    ) -> dict[str, Any]:
        line = self._line(job_id, line_id)
        line["status"] = status
        line["tracking"] = list(tracking)
        if status == "shipped" and line["shipped_at"] is None:
            line["shipped_at"] = _now()
        return copy.deepcopy(line)

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            raise _Rejected(404, f"job not found: {job_id}")
        return job

    def _line(self, job_id: str, line_id: str) -> dict[str, Any]:
        for line in self._job(job_id)["lines"]:
            if line["line_id"] == line_id:
                return line  # type: ignore[no-any-return]
        raise _Rejected(404, f"line not found: {line_id} in job {job_id}")


def _json_object(body: bytes, fields: Sequence[str] | None) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise _Rejected(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Rejected(422, "Body must be a JSON object")
    if fields is not None:
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise _Rejected(422, f"Unknown field: {unknown[0]}")
    return data


def _required_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise _Rejected(422, f"Field is required: {name}")
    if not isinstance(value, str):
        raise _Rejected(422, f"Field must be a string: {name}")
    return value


def _str_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise _Rejected(422, f"Field is required: {name}")
    if not isinstance(value, str):
        raise _Rejected(422, f"Field must be a string: {name}")
    return value


def _query_int(query: Mapping[str, list[str]], name: str, *, default: int, maximum: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        number = 0
    if not 1 <= number <= maximum:
        raise _Rejected(422, f"Query parameter must be an integer from 1 to {maximum}: {name}")
    return number


class _SandboxApp:
    """The raw ASGI app: routing, auth and faults around `_Store`."""

    def __init__(self, store: _Store, login: str, password: str) -> None:
        self._store = store
        token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}".encode("ascii")
        # client (host, port) -> its transport; touched only on the server's event loop
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        method: str = scope["method"]
        path: str = scope["path"]
        try:
            body = await read_body(receive, _MAX_BODY)
        except BodyTooLarge as exc:
            await _respond(send, _Answer(413, {"error": str(exc)}))
            return
        if body is None:  # the client left before sending its request
            return
        query = scope["query_string"].decode("latin-1")
        if path.startswith("/api/"):
            await self._api(scope, receive, send, method, path, query, body)
        elif path.startswith("/_admin/"):
            await _respond(send, self._route(method, path, query, body))
        else:
            await _respond(send, _Answer(404, {"error": f"no such endpoint: {path}"}))

    async def _api(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        path: str,
        query: str,
        body: bytes,
    ) -> None:
        route, _, _ = _match(method, path)
        plan = self._store.plan(method, path, route.name if route else f"{method} {path}")
        if plan.latency > 0 and not await still_there_after(plan.latency, receive):
            return  # the client gave up waiting; nothing was done
        if plan.before == "drop":
            await self._hang_up(scope, receive)
            return
        if plan.before == "503":
            await _respond(send, _Answer(503, {"error": "Service unavailable (injected fault)"}))
            return
        if plan.before == "429":
            retry = [(b"retry-after", f"{plan.retry_after:g}".encode("ascii"))]
            await _respond(send, _Answer(429, {"error": "Too many requests"}, retry))
            return
        if plan.before == "422":
            await _respond(send, _Answer(422, {"error": plan.message}))
            return
        if not self._authorized(scope):
            answer = _Answer(
                401,
                {"error": "Authentication required"},
                [(b"www-authenticate", b'Basic realm="reference-mis"')],
            )
        else:
            answer = self._route(method, path, query, body)
        if plan.drop_after:
            await self._hang_up(scope, receive)
            return
        await _respond(send, answer)

    def _route(self, method: str, path: str, query: str, body: bytes) -> _Answer:
        route, params, allowed = _match(method, path)
        if route is not None:
            return self._store.handle(route, params, query, body)
        if allowed:
            allow = [(b"allow", ", ".join(allowed).encode("ascii"))]
            return _Answer(405, {"error": f"method not allowed: {method} {path}"}, allow)
        return _Answer(404, {"error": f"no such endpoint: {path}"})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return valid_basic(value) and hmac.compare_digest(value, self._authorization)
        return False

    async def _hang_up(self, scope: Scope, receive: Receive) -> None:
        """Close the client's TCP connection without answering."""
        await hang_up(self.transports, scope, receive)


async def _respond(send: Send, answer: _Answer) -> None:
    body = json.dumps(answer.body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        *answer.headers,
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ReferenceSandbox(LoopbackSandbox):
    """A reference MIS served over HTTP on loopback from a background thread."""

    label = "reference sandbox"

    def __init__(
        self,
        login: str = "esd",
        password: str = "secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed_customers: Mapping[str, str] | Iterable[str] = DEFAULT_CUSTOMERS,
        seed_products: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        customers = (
            dict(seed_customers)
            if isinstance(seed_customers, Mapping)
            else {customer: customer for customer in seed_customers}
        )
        products = default_products() if seed_products is None else seed_products
        self.login = login
        self._store = _Store(customers, products)
        self._app = _SandboxApp(self._store, login, password)
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="reference sandbox"
        )

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: customers, products, jobs, faults, calls per route."""
        return self._store.state()

    def reset(self) -> None:
        """Back to the seeded state: no jobs, no faults, no calls."""
        self._store.reset()

    def set_line_status(
        self, job_id: str, line_id: str, status: str, tracking: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Move a job line on (as the print shop would); return the line."""
        try:
            return self._store.set_line_status(job_id, line_id, status, tracking)
        except _Rejected as exc:
            raise LookupError(exc.message) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = argparse.ArgumentParser(
        prog="python -m daemon.providers.reference.sandbox",
        description="Run a reference MIS sandbox on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--login", default="esd")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args(argv)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server thread starts, so it inherits the mask and only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    sandbox = ReferenceSandbox(args.login, args.password, host=args.host, port=args.port)
    sandbox.start()
    try:
        print(json.dumps({"url": sandbox.url}), flush=True)
        signal.sigwait(stop_signals)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()

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

Status webhooks (the provider's `status = "webhook"` mode, daemon.providers.reference.webhook):
after `set_webhook(url, secret)` each `set_line_status` POSTs the changed line to `url`, signed;
`redeliver()` sends the last delivery again (same `delivery_id`), and `lose_webhook=True` makes
a change's first delivery get lost (never sent) until `redeliver()` sends it.

Admin (no auth): POST /_admin/faults (knobs, see `FAULT_KNOBS`), POST
/_admin/jobs/{job_id}/lines/{line_id}/status {"status", "tracking"}, GET /_admin/state,
POST /_admin/reset.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from daemon.providers.reference.webhook import SIGNATURE_HEADER, sign
from daemon.testing.asgi import Receive, Scope, Send, authorized, basic_authorization
from daemon.testing.faults import FaultPlan
from daemon.testing.json_sandbox import JsonAnswer, JsonApp, JsonStore, Rejected, match_route, route
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
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
FAULT_KINDS = ("drop", "drop_after_commit", "503", "429", "422", "drip", "huge")

#: fault knob -> default; `set_faults` / POST /_admin/faults change only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "drop_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "drip_interval_ms": 500,  # "drip": the answer's bytes this far apart (the act is done)
    "huge_bytes": 200_000_000,  # "huge": an answer this large, chunked, instead of acting
    "seed": 0,
    "fail_next": [],
}

_JOB_FIELDS = ("reference", "customer", "description", "due_date")
_LINE_FIELDS = ("line_key", "description", "quantity", "price")


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


_ROUTES = (
    route("GET", "/api/ping", "ping"),
    route("GET", "/api/jobs", "list_jobs"),
    route("POST", "/api/jobs", "create_job"),
    route("GET", "/api/jobs/{job_id}", "get_job"),
    route("POST", "/api/jobs/{job_id}/lines", "add_line"),
    route("GET", "/api/products", "list_products"),
    route("POST", "/_admin/faults", "admin_faults"),
    route("POST", "/_admin/jobs/{job_id}/lines/{line_id}/status", "admin_line_status"),
    route("GET", "/_admin/state", "admin_state"),
    route("POST", "/_admin/reset", "admin_reset"),
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class _Store(JsonStore):
    """The MIS's data, faults and call counts; public methods take the lock themselves."""

    fault_knobs = FAULT_KNOBS
    fault_kinds = FAULT_KINDS

    def __init__(self, customers: Mapping[str, str], products: Sequence[Mapping[str, Any]]):
        super().__init__()
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

    def set_line_status(
        self, job_id: str, line_id: str, status: str, tracking: Sequence[str]
    ) -> dict[str, Any]:
        with self._lock:
            return self._update_line(job_id, line_id, status, tracking)

    # -- API handlers (called with the lock held) ---------------------------------------------

    def _ping(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> JsonAnswer:
        return JsonAnswer(200, {"product": PRODUCT, "version": VERSION})

    def _list_jobs(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        wanted = query.get("reference")
        jobs = [
            copy.deepcopy(job)
            for job in self.jobs.values()
            if wanted is None or job["reference"] == wanted[0]
        ]
        return JsonAnswer(200, {"items": jobs})

    def _create_job(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body, _JOB_FIELDS)
        reference = _required_str(data, "reference")
        customer = _required_str(data, "customer")
        description = _str_field(data, "description")
        due_date = data.get("due_date")
        if due_date is not None:
            try:
                dt.date.fromisoformat(due_date if isinstance(due_date, str) else "")
            except ValueError:
                raise Rejected(422, "Field must be a date (YYYY-MM-DD) or null: due_date") from None
        if customer not in self.customers:
            raise Rejected(422, f"customer not found: {customer}")
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
        return JsonAnswer(201, {"job_id": job_id})

    def _get_job(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        return JsonAnswer(200, copy.deepcopy(self._job(params["job_id"])))

    def _add_line(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        job = self._job(params["job_id"])
        data = _json_object(body, _LINE_FIELDS)
        key = _required_str(data, "line_key")
        description = _str_field(data, "description")
        quantity = data.get("quantity")
        if quantity is None:
            raise Rejected(422, "Field is required: quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise Rejected(422, "Field must be a positive integer: quantity")
        price = data.get("price")
        if price is None:
            raise Rejected(422, "Field is required: price")
        try:
            valid_price = isinstance(price, str) and Decimal(price).is_finite()
        except InvalidOperation:
            valid_price = False
        if not valid_price:
            raise Rejected(422, "Field must be a decimal string: price")
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
        return JsonAnswer(201, {"line_id": line_id})

    def _list_products(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        page = _query_int(query, "page", default=1, maximum=1_000_000)
        size = _query_int(query, "page_size", default=10, maximum=100)
        start = (page - 1) * size
        items = copy.deepcopy(self.products[start : start + size])
        return JsonAnswer(200, {"items": items, "total": len(self.products)})

    # -- admin handlers (called with the lock held) -------------------------------------------

    def _admin_faults(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body, None)
        try:
            checked = self.check_faults(data)
        except ValueError as exc:
            raise Rejected(422, str(exc)) from None
        return JsonAnswer(200, self._apply_faults(checked))

    def _admin_line_status(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        data = _json_object(body, ("status", "tracking"))
        status = _required_str(data, "status")
        tracking = data.get("tracking", [])
        if not isinstance(tracking, list) or not all(isinstance(t, str) for t in tracking):
            raise Rejected(422, "Field must be a list of strings: tracking")
        return JsonAnswer(
            200, self._update_line(params["job_id"], params["line_id"], status, tracking)
        )

    # -- shared parts (called with the lock held) ---------------------------------------------

    def _more_dice(self, latency: float, retry_after: float) -> FaultPlan:
        """After drop and error: a rate limit (429), then a lost answer (drop after commit)."""
        rate_limit = self.faults["rate_limit_rate"]
        if rate_limit and self.rng.random() < rate_limit:
            return FaultPlan(latency, "429", retry_after=retry_after)
        after = self.faults["drop_after_commit_rate"]
        return FaultPlan(latency, drop_after=bool(after) and self.rng.random() < after)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "customers": dict(self.customers),
            "products": copy.deepcopy(self.products),
            "jobs": copy.deepcopy(list(self.jobs.values())),
            "faults": copy.deepcopy(self.faults),
            "calls": dict(self.calls),
        }

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
            raise Rejected(404, f"job not found: {job_id}")
        return job

    def _line(self, job_id: str, line_id: str) -> dict[str, Any]:
        for line in self._job(job_id)["lines"]:
            if line["line_id"] == line_id:
                return line  # type: ignore[no-any-return]
        raise Rejected(404, f"line not found: {line_id} in job {job_id}")


def _json_object(body: bytes, fields: Sequence[str] | None) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise Rejected(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Rejected(422, "Body must be a JSON object")
    if fields is not None:
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise Rejected(422, f"Unknown field: {unknown[0]}")
    return data


def _required_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise Rejected(422, f"Field is required: {name}")
    if not isinstance(value, str):
        raise Rejected(422, f"Field must be a string: {name}")
    return value


def _str_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        raise Rejected(422, f"Field is required: {name}")
    if not isinstance(value, str):
        raise Rejected(422, f"Field must be a string: {name}")
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
        raise Rejected(422, f"Query parameter must be an integer from 1 to {maximum}: {name}")
    return number


class _SandboxApp(JsonApp):
    """The raw ASGI app: routing, auth and faults around `_Store`."""

    def __init__(self, store: _Store, login: str, password: str) -> None:
        super().__init__()
        self._store = store
        self._authorization = basic_authorization(login, password)

    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        if path.startswith("/api/"):
            route, _, _ = match_route(_ROUTES, method, path)
            plan = self._store.plan(method, path, route.name if route else f"{method} {path}")
            act = functools.partial(self._api, scope, method, path, query, body)
            await self.carry_out(scope, receive, send, plan, act)
        elif path.startswith("/_admin/"):
            await self.respond(send, self._route(method, path, query, body))
        else:
            await self.respond(send, self.error(404, f"no such endpoint: {path}"))

    def injected(self, plan: FaultPlan) -> JsonAnswer:
        if plan.before == "503":
            return self.error(503, "Service unavailable (injected fault)")
        if plan.before == "429":
            retry = [(b"retry-after", f"{plan.retry_after:g}".encode("ascii"))]
            return self.error(429, "Too many requests", retry)
        if plan.before == "422":
            return self.error(422, plan.message)
        raise AssertionError(f"no answer for the fault {plan.before!r}")  # pragma: no cover

    def _api(self, scope: Scope, method: str, path: str, query: str, body: bytes) -> JsonAnswer:
        if not authorized(scope, self._authorization):
            challenge = [(b"www-authenticate", b'Basic realm="reference-mis"')]
            return self.error(401, "Authentication required", challenge)
        return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: str, body: bytes) -> JsonAnswer:
        route, params, allowed = match_route(_ROUTES, method, path)
        if route is not None:
            return self._store.handle(route, params, query, body)
        if allowed:
            allow = [(b"allow", ", ".join(allowed).encode("ascii"))]
            return self.error(405, f"method not allowed: {method} {path}", allow)
        return self.error(404, f"no such endpoint: {path}")


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
        self._streams = self._app.streams
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="reference sandbox"
        )
        self._webhook: tuple[str, str] | None = None  # (url, secret)
        self._last_delivery: bytes | None = None
        self._next_delivery = 1
        #: (delivery_id, HTTP status answered, or 0: lost before it was sent), in send order
        self.webhook_deliveries: list[tuple[str, int]] = []

    def set_webhook(self, url: str | None, secret: str = "") -> None:
        """Post status changes to `url`, signed with `secret` (None: stop posting)."""
        self._webhook = None if url is None else (url, secret)

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: customers, products, jobs, faults, calls per route."""
        return self._store.state()

    def reset(self) -> None:
        """Back to the seeded state: no jobs, no faults, no calls."""
        self._store.reset()
        self._streams.clear()

    def set_line_status(
        self,
        job_id: str,
        line_id: str,
        status: str,
        tracking: Sequence[str] = (),
        *,
        lose_webhook: bool = False,
    ) -> dict[str, Any]:
        """Move a job line on (as the print shop would); return the line. With a webhook set
        the change is posted to it (`lose_webhook`: that first delivery is lost, unsent)."""
        try:
            line = self._store.set_line_status(job_id, line_id, status, tracking)
        except Rejected as exc:
            raise LookupError(exc.message) from None
        if self._webhook is not None:
            delivery = f"D{self._next_delivery}"
            self._next_delivery += 1
            body = {
                "delivery_id": delivery,
                "job_id": job_id,
                "lines": [
                    {
                        "line_id": line["line_id"],
                        "status": line["status"],
                        "tracking": line["tracking"],
                        "shipped_at": line["shipped_at"],
                    }
                ],
            }
            self._last_delivery = json.dumps(body).encode()
            if lose_webhook:
                self.webhook_deliveries.append((delivery, 0))
            else:
                self.redeliver()
        return line

    def redeliver(self, *, signature: str | None = None) -> int:
        """(Re)send the last delivery, byte for byte; return the HTTP status answered.
        `signature` replaces the correct one (a forged or stale secret)."""
        if self._webhook is None or self._last_delivery is None:
            raise LookupError("no webhook delivery to send")
        url, secret = self._webhook
        body = self._last_delivery
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature if signature is not None else sign(secret, body),
        }
        answer = httpx.post(url, content=body, headers=headers, timeout=10.0)
        self.webhook_deliveries.append((json.loads(body)["delivery_id"], answer.status_code))
        return answer.status_code


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = sandbox_arguments(
        "python -m daemon.providers.reference.sandbox", "Run a reference MIS sandbox on loopback."
    )
    parser.add_argument("--login", default="esd")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args(argv)
    serve_until_signalled(
        ReferenceSandbox(args.login, args.password, host=args.host, port=args.port)
    )


if __name__ == "__main__":
    main()

"""The Tharstern push benchmark: orders/s into the Tharstern sandbox at a fixed latency per call,
for each path (issue 14: "Tharstern push at 20 ms per call, at least 0.9 of the latency-bound
limit at concurrency 1 and 8; calls per order reported per path").

    python -m tests.bench.tharstern_push      # this part only; `make bench` includes it

For each path and concurrency the real daemon (`esd run`, a subprocess) pushes orders into a
`TharsternSandbox` (served from this process's thread; every API call waits `latency_ms`
before the sandbox acts). Paths: "stock" (one stock item: a delivery address and a sales order)
and "estimate" (one estimate item: a delivery address, an estimate from the type's example, a
job). One warm-up order is pushed first (the token, the customer check and the product id are
then cached by the driver, as in a running daemon); then `orders` orders are submitted over the
operator socket and the clock runs from the first submit to the last item's `pushed`.

Figures per run: `orders_per_s`, `calls_per_order` (counted by the sandbox over the measured
orders, and per endpoint), `limit_orders_per_s` = concurrency / (calls per order x latency),
`ratio` = orders_per_s / limit, push time per order (mean, p95, ideal), the daemon's CPU.
Speed is never asserted by a test. Environment: TH_PUSH_ORDERS (160: the orders at the highest
concurrency; lower ones proportionally fewer, at least 10), TH_PUSH_CONCURRENCY ("1,8"),
TH_PUSH_LATENCY_MS (20).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from daemon.orders.model import Address, Order, OrderItem, Payment, SiteUser
from daemon.providers.tharstern.sandbox import TharsternSandbox
from tests.bench.push import (
    _calibration_ms,
    _cpu_seconds,
    _diff,
    _item_states,
    _percentile,
    _phases,
    _rounded,
    _submit,
)
from tests.bench.settings import env_int
from tests.daemon_process import DaemonProcess

__all__ = ["AIM", "main", "run_push", "tharstern_benchmark"]

#: orders/s over the latency-bound limit that issue 14 aims at
AIM = 0.9
PATHS = ("stock", "estimate")

_LOGIN = "esd@bench.example"
_PASSWORD = "bench-th-pw-9Kd3"
_FIRST_ORDER = 3000
_WARM_UP_ORDER = "2999"


def _concurrencies() -> list[int]:
    value = os.environ.get("TH_PUSH_CONCURRENCY", "") or "1,8"
    parts = [p.strip() for p in value.split(",")]
    if not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise SystemExit(f"TH_PUSH_CONCURRENCY must be positive whole numbers, not {value!r}")
    return sorted({int(p) for p in parts})


def _order(number: str, path: str) -> Order:
    where = Address(
        first_name="Pat",
        last_name="Buyer",
        email="pat@bench.example",
        address1=f"{number} Market Street",
        city="Leeds",
        zip="LS1 1AA",
        country="GB",
    )
    if path == "stock":
        item = OrderItem(
            seq=1,
            product_name="Business cards",
            sku="BC-STOCK",
            quantity=2,
            price=Decimal("25"),
            ship_to=where,
        )
    else:
        item = OrderItem(
            seq=1, product_name="Flyers", quantity=500, price=Decimal("60"), ship_to=where
        )
    return Order(
        site="shop",
        order_number=number,
        site_name="Print Shop",
        payment=Payment.PAID,
        user=SiteUser(email=where.email, first_name="Pat", last_name="Buyer", address=where),
        items=(item,),
    )


def _config_text(folder: Path, url: str, concurrency: int) -> str:
    # No webhook secret: the account is polled, first after 300 s, outside the measured span.
    return textwrap.dedent(
        f"""
        [daemon]
        state_dir = "{folder}"
        socket = "{folder}/esd.sock"
        log_level = "info"
        drain_seconds = 5
        [listeners.webhook]
        enabled = false
        [accounts.tharstern]
        provider = "tharstern"
        concurrency = {concurrency}
        rate_per_second = 10000.0
        status_poll_seconds = 300
        [accounts.tharstern.credentials]
        url = "{url}"
        login = "{_LOGIN}"
        password = "{_PASSWORD}"
        [accounts.tharstern.settings]
        products_customer_code = "ESP001"
        [[accounts.tharstern.settings.products]]
        product = "Flyers"
        product_type = 12
        [sites.shop]
        name = "Print Shop"
        [[sites.shop.activations]]
        account = "tharstern"
        enable = true
        is_live = true
        """
    )


def run_push(
    folder: Path, *, path: str, concurrency: int, orders: int, latency_ms: int
) -> dict[str, Any]:
    """One run: a fresh sandbox and daemon, `orders` orders of `path` at `concurrency`."""
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "esd.sock"
    database = folder / "esd.sqlite3"
    numbers = [str(_FIRST_ORDER + n) for n in range(orders)]
    latency = latency_ms / 1000
    figures: dict[str, Any] = {
        "path": path,
        "concurrency": concurrency,
        "orders": orders,
        "load_average": round(os.getloadavg()[0], 2),
        "calibration_ms": _calibration_ms(),
    }
    with TharsternSandbox(_LOGIN, _PASSWORD) as sandbox:
        config = folder / "esd.toml"
        config.write_text(_config_text(folder, sandbox.url, concurrency), encoding="utf-8")
        daemon = DaemonProcess(config, folder)
        try:
            daemon.start()
            _submit(daemon, sock, _order(_WARM_UP_ORDER, path))
            warm = _wait_pushed_items(database, [_WARM_UP_ORDER], time.monotonic() + 60)
            if warm.get("pushed") != 1:
                raise RuntimeError(f"the warm-up order did not push: {warm}\n{daemon.log_text()}")
            sandbox.set_faults(latency_ms=latency_ms)
            before = dict(sandbox.state()["calls"])
            assert daemon.proc is not None
            cpu_before = _cpu_seconds(daemon.proc.pid)
            sandbox_before = _cpu_seconds(os.getpid())  # the sandbox serves from this process
            prepared = [_order(number, path) for number in numbers]
            deadline = time.monotonic() + 60 + 10 * orders * 12 * latency / concurrency
            started = time.time()
            for order in prepared:
                _submit(daemon, sock, order)
            states = _wait_pushed_items(database, numbers, deadline)
            calls = _diff(sandbox.state()["calls"], before)
            cpu = _cpu_seconds(daemon.proc.pid) - cpu_before
            sandbox_cpu = _cpu_seconds(os.getpid()) - sandbox_before
            if daemon.terminate() != 0:
                raise RuntimeError(f"the daemon did not stop cleanly\n{daemon.log_text()}")
        finally:
            daemon.close()
    if states.get("pushed", 0) != orders:
        return {**figures, "error": "not every item was pushed", "items": states}
    phases = _phases(database, numbers)
    last_pushed = max(pushed for _, pushed in phases.values())
    elapsed = last_pushed - started
    calls_per_order = sum(calls.values()) / orders
    limit = concurrency / (calls_per_order * latency) if latency else None
    rate = orders / elapsed
    pushes = [pushed - claimed for claimed, pushed in phases.values()]
    return {
        **figures,
        "latency_ms": latency_ms,
        "seconds": round(elapsed, 2),
        "orders_per_s": round(rate, 2),
        "limit_orders_per_s": round(limit, 2) if limit else None,
        "ratio": round(rate / limit, 2) if limit else None,
        "calls_per_order": round(calls_per_order, 2),
        "calls_per_order_by_endpoint": {
            name: round(n / orders, 2) for name, n in sorted(calls.items(), key=lambda kv: -kv[1])
        },
        "push_seconds": {
            "mean": round(statistics.fmean(pushes), 3),
            "p95": round(_percentile(pushes, 0.95), 3),
            "ideal": round(calls_per_order * latency, 3),
        },
        "daemon_ms_per_order": _rounded(cpu / orders * 1000, 1),
        "sandbox_ms_per_call": _rounded(sandbox_cpu / max(sum(calls.values()), 1) * 1000, 2),
    }


def _wait_pushed_items(database: Path, orders: Sequence[str], deadline: float) -> dict[str, int]:
    """Poll the store until every (one-item) order is pushed, one fails, or time is up."""
    while True:
        states = _item_states(database, orders) if database.exists() else {}
        if states.get("pushed", 0) == len(orders):
            return states
        if states.get("failed") or states.get("retrying") or time.monotonic() > deadline:
            return states
        time.sleep(0.05)


def tharstern_benchmark(folder: Path) -> dict[str, Any]:
    """Every path at every configured concurrency (files in `folder`); figures as JSON."""
    top_orders = env_int("TH_PUSH_ORDERS", 160)
    latency_ms = env_int("TH_PUSH_LATENCY_MS", 20)
    concurrencies = _concurrencies()
    top = max(concurrencies)
    runs = [
        run_push(
            folder / f"{path}-c{concurrency}",
            path=path,
            concurrency=concurrency,
            orders=max(10, top_orders * concurrency // top),
            latency_ms=latency_ms,
        )
        for path in PATHS
        for concurrency in concurrencies
    ]
    ratios = [run["ratio"] for run in runs if run.get("ratio") is not None]
    return {
        "latency_ms": latency_ms,
        "cpus": os.cpu_count(),
        "runs": runs,
        "aim": {"ratio": AIM, "met": len(ratios) == len(runs) and all(r >= AIM for r in ratios)},
    }


def main(argv: Sequence[str] | None = None) -> None:
    if list(sys.argv[1:] if argv is None else argv):
        raise SystemExit("usage: python -m tests.bench.tharstern_push")
    with tempfile.TemporaryDirectory(prefix="esd-bench-tharstern-") as tmp:
        print(json.dumps(tharstern_benchmark(Path(tmp)), indent=2))


if __name__ == "__main__":
    main()

"""Shared test helpers: configs, orders and a manual clock."""

from __future__ import annotations

import contextlib
import http.server
import textwrap
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from daemon.config import Config, parse_config
from daemon.orders.model import Approval, Order, OrderItem, Payment

RETRY_DEFAULTS = (
    "initial_seconds = 30\nmax_seconds = 3600\ngive_up_after_seconds = 86400\njitter = 0"
)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def daemon_tables_toml(state_dir: Path, *, drain_seconds: float) -> str:
    """The [listeners.webhook] (any free port) and [daemon] tables of a daemon run by a test:
    state and socket in `state_dir`, debug logs. The rest of the config follows."""
    return (
        f'[listeners.webhook]\nport = 0\n[daemon]\nstate_dir = "{state_dir}"\n'
        f'socket = "{state_dir}/esd.sock"\nlog_level = "debug"\ndrain_seconds = {drain_seconds}\n'
    )


def make_config(tmp_path: Path, **kwargs: Any) -> Config:
    """A valid config (see `config_text`)."""
    return parse_config(config_text(tmp_path, **kwargs), file="test.toml", environ={})


def config_text(
    tmp_path: Path,
    *,
    accounts: dict[str, dict[str, Any]] | None = None,
    site_accounts: list[tuple[str, bool, bool]] | None = None,
    retry: str = RETRY_DEFAULTS,
    extra: str = "",
    site_extra: str = "",
    account_extra: str = "",
    listener_extra: str = "",
) -> str:
    """Config text with one site `shop` activating the given accounts."""
    accounts = accounts or {"mis": {"url": "http://127.0.0.1:9", "customer": "C100"}}
    site_accounts = site_accounts or [(name, True, True) for name in accounts]
    parts = [
        f"""
        [listeners.webhook]
        address = "127.0.0.1"
        port = 0
        {listener_extra}
        [daemon]
        state_dir = "{tmp_path}"
        socket = "{tmp_path}/esd.sock"
        log_level = "debug"
        drain_seconds = 5
        [retry]
        {retry}
        """
    ]
    for name, acc in accounts.items():
        parts.append(
            f"""
            [accounts.{name}]
            provider = "reference"
            concurrency = {acc.get("concurrency", 4)}
            rate_per_second = {acc.get("rate", 1000.0)}
            status_poll_seconds = {acc.get("poll", 300)}
            [accounts.{name}.credentials]
            url = "{acc["url"]}"
            login = "esd"
            password = "{acc.get("password", "s3cret-pw")}"
            [accounts.{name}.settings]
            customer = "{acc.get("customer", "C100")}"
            """
        )
    parts.append(account_extra)
    parts.append('[sites.shop]\nname = "Print Shop"\n' + site_extra)
    for name, enable, live in site_accounts:
        parts.append(
            f"""
            [[sites.shop.activations]]
            account = "{name}"
            enable = {str(enable).lower()}
            is_live = {str(live).lower()}
            """
        )
    return "\n".join(textwrap.dedent(p) for p in parts) + extra


def make_order(
    number: str = "1001",
    *,
    items: int = 2,
    payment: Payment = Payment.PAID,
    approvals: list[Approval] | None = None,
    site: str = "shop",
    **item_kwargs: Any,
) -> Order:
    approvals = approvals or [Approval.APPROVED] * items
    return Order(
        site=site,
        order_number=number,
        site_name="Print Shop",
        payment=payment,
        items=tuple(
            OrderItem(
                seq=i + 1,
                product_name=f"Product {i + 1}",
                quantity=100 * (i + 1),
                price=Decimal("10.00"),
                approval=approvals[i],
                **item_kwargs,
            )
            for i in range(items)
        ),
    )


@contextlib.contextmanager
def loopback_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on loopback answering with `handler`; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""`make demo`: the real daemon against the bundled reference MIS sandbox, orders flowing.

Starts the sandbox (a real HTTP server on loopback) and `esd run` as a subprocess with a
throw-away config and store, feeds it orders that cover the push rules and the failure paths
through the operator socket, shows a live table of items moving through their states, then a
summary, and leaves nothing running. The Pressero storefront sandbox joins in a later issue.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from daemon.operator.client import call_sync
from daemon.orders.model import Approval, Order, OrderItem, Payment, SiteUser
from daemon.providers.reference.sandbox import ReferenceSandbox

__all__ = ["main"]

PASSWORD = "demo-Secret-9f2"  # the sandbox's; also proves redaction: grep the log for it

CONFIG = """
[daemon]
state_dir = "{dir}"
socket = "{dir}/esd.sock"
log_level = "info"
drain_seconds = 5

[retry]
initial_seconds = 1
multiplier = 2.0
max_seconds = 4
give_up_after_seconds = 600
jitter = 0.1

[accounts.mis]
provider = "reference"
concurrency = 4
rate_per_second = 50
status_poll_seconds = 3600
[accounts.mis.credentials]
url = "{url}"
login = "esd"
password = {{ env = "ESD_DEMO_PASSWORD" }}
[accounts.mis.settings]
customer = "C100"

[sites.shop]
name = "Demo Print Shop"
[[sites.shop.activations]]
account = "mis"
enable = true
is_live = true
"""


def _order(
    number: str,
    what: str,
    *,
    payment: Payment = Payment.PAID,
    approvals: tuple[Approval, ...] = (Approval.APPROVED, Approval.APPROVED),
    edoc: bool = False,
    cancelled: bool = False,
    customer: str = "",
) -> tuple[str, Order]:
    items = tuple(
        OrderItem(
            seq=i + 1,
            product_name=("Business cards", "Flyers A5", "Posters A2")[i % 3],
            quantity=250 * (i + 1),
            price=Decimal("49.90"),
            approval=approval,
            edoc_pending=edoc and i == 0,
            cancelled=cancelled and i == 1,
        )
        for i, approval in enumerate(approvals)
    )
    user = SiteUser(email="buyer@example.com", first_name="Ada", integration_id=customer)
    order = Order(
        site="shop",
        order_number=number,
        site_name="Demo Print Shop",
        payment=payment,
        user=user,
        items=items,
    )
    return what, order


SCENES = [
    _order("1001", "paid, all approved: pushed"),
    _order("1002", "open terms: pushed", payment=Payment.OPEN_TERMS),
    _order("1003", "unpaid: held until paid", payment=Payment.UNPAID),
    _order(
        "1004", "one denied: the rest is pushed", approvals=(Approval.APPROVED, Approval.DENIED)
    ),
    _order("1005", "awaits approval: held", approvals=(Approval.APPROVED, Approval.PENDING)),
    _order("1006", "eDocBuilder file pending: held", edoc=True),
    _order("1007", "cancelled item: excluded, rest pushed", cancelled=True),
    _order("1008", "MIS answers 503 twice: retried", approvals=(Approval.APPROVED,)),
    _order(
        "1009",
        "unknown MIS customer: failed, needs the operator",
        approvals=(Approval.APPROVED,),
        customer="C999",
    ),
]


def _submit(sock: Path, order: Order, version: str) -> None:
    call_sync(
        sock,
        "submit",
        {
            "source": "storefront:shop",
            "dedupe_key": f"{order.order_number}-{version}",
            "kind": "order.snapshot",
            "payload": {"order": order.to_json()},
        },
    )


def _table(sock: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = call_sync(sock, "list", {"limit": 1000})["items"]
    return sorted(items, key=lambda i: (i["order"], i["seq"]))


def _render(rows: list[dict[str, Any]], notes: dict[str, str], elapsed: float) -> str:
    lines = [
        f"esd demo  t={elapsed:5.1f}s",
        "",
        f"{'order':<6} {'item':<4} {'state':<9} {'scenario / last error'}",
    ]
    for row in rows:
        detail = row["last_error"] or notes.get(row["order"], "")
        lines.append(f"{row['order']:<6} {row['seq']:<4} {row['state']:<9} {detail[:70]}")
    return "\n".join(lines)


@contextlib.contextmanager
def _daemon(config: Path, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "ESD_DEMO_PASSWORD": PASSWORD}
    log = (workdir / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def _wait_socket(sock: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(Exception):
            call_sync(sock, "ping", {}, timeout=2)
            return
        time.sleep(0.1)
    raise SystemExit("the daemon did not open its socket within 30 s")


def run(workdir: Path) -> int:
    """The demo, in `workdir`; returns the exit code."""
    live = sys.stdout.isatty()
    sandbox = ReferenceSandbox(login="esd", password=PASSWORD)
    sandbox.start()
    try:
        config = workdir / "esd.toml"
        config.write_text(CONFIG.format(dir=workdir, url=sandbox.url))
        sock = workdir / "esd.sock"
        print(f"reference MIS sandbox on {sandbox.url}; daemon store in {workdir}")
        sandbox.set_faults(
            fail_next=[
                {"path_prefix": "/api/jobs", "method": "POST", "kind": "503"},
                {"path_prefix": "/api/jobs", "method": "POST", "kind": "503"},
            ],
            latency_ms=40,
        )
        with _daemon(config, workdir) as proc:
            _wait_socket(sock, proc, workdir / "daemon.log")
            notes = {order.order_number: what for what, order in SCENES}
            # 1008 first, so it is the order that meets the two 503s.
            for _, order in sorted(SCENES, key=lambda s: s[1].order_number != "1008"):
                _submit(sock, order, "v1")
            started = time.monotonic()
            paid_late = False
            last = ""
            while time.monotonic() - started < 40:
                rows = _table(sock)
                screen = _render(rows, notes, time.monotonic() - started)
                if live:
                    print("\x1b[2J\x1b[H" + screen, flush=True)
                elif screen.split("\n", 1)[1] != last.split("\n", 1)[-1]:
                    print(screen + "\n", flush=True)
                last = screen
                states = {(r["order"], r["seq"]): r["state"] for r in rows}
                if not paid_late and states.get(("1001", 1)) == "pushed":
                    paid_late = True  # the buyer of 1003 pays: a later event releases it
                    _, unpaid = SCENES[2]
                    import dataclasses

                    _submit(sock, dataclasses.replace(unpaid, payment=Payment.PAID), "paid")
                    notes["1003"] = "paid later: released and pushed"
                settled = (
                    paid_late
                    and not any(s in ("ready", "pushing", "retrying") for s in states.values())
                    and states.get(("1003", 1)) == "pushed"
                )
                if settled:
                    break
                time.sleep(0.3)
            print(_render(_table(sock), notes, time.monotonic() - started))
            _summary(sock, sandbox)
        log_text = (workdir / "daemon.log").read_text()
        leaked = PASSWORD in log_text
        print(
            f"\ndaemon log: {len(log_text.splitlines())} JSON lines, "
            f"secret {'LEAKED' if leaked else 'never written'}"
        )
        return 1 if leaked else 0
    finally:
        sandbox.stop()


def _summary(sock: Path, sandbox: ReferenceSandbox) -> None:
    status = call_sync(sock, "status", {})
    print("\nsummary")
    for name, account in status["accounts"].items():
        states = ", ".join(f"{k} {v}" for k, v in sorted(account["states"].items()))
        print(f"  account {name}: {states}")
    print(f"  inbox: {status['inbox']['total']} events, {status['inbox']['poisoned']} poisoned")
    state = sandbox.state()
    print(
        f"  MIS: {len(state['jobs'])} jobs, "
        f"{sum(len(j['lines']) for j in state['jobs'])} lines "
        "(one per pushed item: nothing twice)"
    )
    for number in ("1005", "1009"):
        why = call_sync(sock, "why", {"order": number})
        for item in why["items"]:
            print(f"  why {number} item {item['seq']}: {'; '.join(item['reasons'])}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="esd-demo-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())

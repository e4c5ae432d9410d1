"""`make demo`: the real daemon between the bundled Pressero and EFI Pace sandboxes.

Starts the Pressero sandbox (a real HTTP server sending signed webhooks), the Pace sandbox (a
SOAP server checking every request against its WSDL), and `esd run` as a subprocess with a
throw-away config and store. Orders are placed in the storefront to cover every push-rule
branch (paid, open terms, unpaid, awaiting approval, partly denied, pending eDoc file,
cancelled item) and the failure paths (a webhook the storefront loses, caught by the
reconciliation poll; Pace answering 503 to a job create, retried; a buyer Pace does not know,
failed with the seed's reason). A live table shows the items moving through their states;
then Pace closes a job and ships it, and the status and tracking come back to the storefront.
A summary shows the jobs, parts and shipments made; nothing is left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from daemon.operator.client import call_sync
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox

__all__ = [
    "SPINE_CONFIG",
    "daemon_process",
    "log_report",
    "main",
    "print_status",
    "running_daemon",
    "wait_socket",
    "wait_until",
    "write_config",
]

MIS_PASSWORD = "demo-Secret-9f2"  # also proves redaction: the log is grepped for them
STOREFRONT_PASSWORD = "demo-Pressero-7c1"
SITE = DEFAULT_SITES[0]

#: the daemon, retry, listener and storefront tables every demo shares (str.format fields:
#: dir, pressero_url, username, subscriber)
SPINE_CONFIG = """
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

[listeners.webhook]
address = "127.0.0.1"
port = 0

[storefronts.pressero]
provider = "pressero"
url = "{pressero_url}"
poll_seconds = 3
poll_window_seconds = 3600
[storefronts.pressero.credentials]
username = "{username}"
password = {{ env = "ESD_DEMO_STOREFRONT_PASSWORD" }}
subscriber_id = "{subscriber}"
"""

CONFIG = (
    SPINE_CONFIG
    + """
[accounts.pace]
provider = "pace"
concurrency = 4
rate_per_second = 100
status_poll_seconds = 3600
[accounts.pace.storefront_stages]
C = "Order Completed"
[accounts.pace.credentials]
url = "{mis_url}"
login = "esd-demo"
password = {{ env = "ESD_DEMO_MIS_PASSWORD" }}
[accounts.pace.settings]
create_customer = "N"
timezone = "UTC"

[sites.shop]
name = "Demo Print Shop"
storefront = "pressero"
site_id = "{site_id}"
security_key = {{ env = "ESD_DEMO_SITE_KEY" }}
[[sites.shop.activations]]
account = "pace"
enable = true
is_live = true
"""
)


def write_config(workdir: Path, pressero: PresseroSandbox, mis: PaceSandbox) -> Path:
    """The daemon's config between the two sandboxes, in `workdir`; its path."""
    config = workdir / "esd.toml"
    config.write_text(
        CONFIG.format(
            dir=workdir,
            pressero_url=pressero.url,
            mis_url=mis.url,
            username=pressero.username,
            subscriber=pressero.subscriber_id,
            site_id=SITE.site_id,
        )
    )
    return config


def _table(sock: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = call_sync(sock, "list", {"limit": 1000})["items"]
    return sorted(items, key=lambda i: (int(i["order"]), i["seq"]))


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
def daemon_process(config: Path, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`esd run` with the demo's secrets in its environment, its log in workdir/daemon.log;
    stopped with SIGTERM (then SIGKILL) on the way out."""
    env = {
        **os.environ,
        "ESD_DEMO_MIS_PASSWORD": MIS_PASSWORD,
        "ESD_DEMO_STOREFRONT_PASSWORD": STOREFRONT_PASSWORD,
        "ESD_DEMO_SITE_KEY": SITE.security_key,
    }
    log = (workdir / "daemon.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=_stop_with_parent,
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


def _stop_with_parent() -> None:
    """In the daemon's child process: SIGTERM when the demo or sandbox session dies, even by
    SIGKILL, so no daemon is left running on its own (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_PR_SET_PDEATHSIG = 1


def wait_socket(sock: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the daemon answers a ping on `sock` (SystemExit if it exits or never does)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(Exception):
            call_sync(sock, "ping", {}, timeout=2)
            return
        time.sleep(0.1)
    raise SystemExit("the daemon did not open its socket within 30 s")


@contextlib.contextmanager
def running_daemon(
    config: Path, workdir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    """`daemon_process` once it answers on workdir/esd.sock: (the process, the socket, the base
    URL of its webhook listener)."""
    sock = workdir / "esd.sock"
    with daemon_process(config, workdir) as proc:
        wait_socket(sock, proc, workdir / "daemon.log")
        port = call_sync(sock, "status", {})["webhooks"]["port"]
        yield proc, sock, f"http://127.0.0.1:{port}"


def wait_until(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    """`check()`'s first truthy answer, asked every 0.1 s (SystemExit naming `what` after
    `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"the demo waited {seconds:g} s for {what}")


def print_status(sock: Path) -> dict[str, Any]:
    """The summary's head every demo prints (each account's item states, the webhook counts);
    the daemon's status answer, for the lines that follow."""
    status: dict[str, Any] = call_sync(sock, "status", {})
    print("\nsummary")
    for name, account in status["accounts"].items():
        states = ", ".join(f"{k} {v}" for k, v in sorted(account["states"].items()))
        print(f"  account {name}: {states}")
    hooks = status["webhooks"]
    print(
        f"  webhooks: {hooks['accepted']} stored, {hooks['duplicates']} duplicates, "
        f"rejected {hooks['rejections'] or 'none'}"
    )
    return status


def log_report(workdir: Path, secrets: tuple[str, ...]) -> int:
    """Prints the daemon log's size and whether any of `secrets` reached it; the exit code
    (1 if one did)."""
    log_text = (workdir / "daemon.log").read_text()
    leaked = any(s in log_text for s in secrets)
    print(
        f"\ndaemon log: {len(log_text.splitlines())} JSON lines, "
        f"secrets {'LEAKED' if leaked else 'never written'}"
    )
    return 1 if leaked else 0


class _Scenes:
    """The orders of the demo, placed in the storefront, and the changes that follow."""

    def __init__(self, pressero: PresseroSandbox, mis: PaceSandbox) -> None:
        self.pressero = pressero
        self.mis = mis
        self.notes: dict[str, str] = {}
        self.later: list[tuple[str, Callable[[], object]]] = []
        self.n: dict[str, int] = {}

    def place(self, name: str, note: str, **kwargs: Any) -> int:
        number = self.pressero.place_order(**kwargs)
        self.n[name] = number
        self.notes[str(number)] = note
        return number

    def all(self) -> None:
        p = self.pressero
        # The print shop's customer, known to Pace by the buyer's e-mail (seed 004).
        self.mis.seed_customer("ACME", "Acme Corp")
        self.mis.seed_contact(
            "ACME", email="pat.buyer@example.com", firstName="Pat", lastName="Buyer"
        )
        # Pace answers the first job create with 503: that order is retried. It is placed
        # alone, and the rest only once the 503 has been spent, so the fault (and its label)
        # lands on this order in every run, not on whichever order's create comes first.
        self.mis.set_faults(latency_ms=10, fail_next=[{"operation": "createJob", "kind": "503"}])
        self.place("retried", "Pace answers 503 once: retried", items=({"ProductName": "Flyers"},))
        deadline = time.monotonic() + 30
        while self.mis.state()["faults"]["fail_next"]:
            if time.monotonic() > deadline:
                raise SystemExit("the retried order's job create never reached Pace")
            time.sleep(0.05)
        self.place(
            "paid",
            "paid, all approved: pushed",
            items=({"ProductName": "Business cards"}, {"ProductName": "Posters A2"}),
        )
        self.place("terms", "open terms: pushed", paid=False, payment_method="Open Terms")
        unpaid = self.place("unpaid", "unpaid: held until paid", paid=False)
        waiting = self.place("waiting", "awaits approval: held", approved=False)
        partly = self.place(
            "partly", "one item denied: the rest is pushed", approved=False, items=({}, {})
        )
        edoc = self.place(
            "edoc",
            "eDocBuilder file pending: held until generated",
            items=({"EdocSessionId": "edoc-77", "EdocFilesGenerated": False},),
        )
        cancelled = self.place(
            "cancelled", "cancelled item: excluded, rest pushed", approved=False, items=({}, {})
        )
        self.place(
            "unknown",
            "buyer unknown to Pace (Create Customer N): failed",
            user={"OrderedByEmail": "new.buyer@elsewhere.example"},
        )
        del waiting
        self.later = [
            ("deny", lambda: (p.approve_item(partly, 1), p.deny_item(partly, 2))),
            ("cancel", lambda: (p.cancel_item(cancelled, 2), p.approve_item(cancelled, 1))),
            ("edoc", lambda: p.files_generated(edoc, 1)),
            ("lost", lambda: self._pay_with_lost_webhook(unpaid)),
        ]
        self.notes[str(unpaid)] = "paid later, the webhook LOST: caught by the poll"

    def _pay_with_lost_webhook(self, order: int) -> None:
        self.pressero.lose_next_webhook()
        self.pressero.mark_paid(order)


def run(workdir: Path) -> int:
    """The demo, in `workdir`; returns the exit code."""
    live = sys.stdout.isatty()
    pressero = PresseroSandbox(password=STOREFRONT_PASSWORD)
    mis = PaceSandbox(login="esd-demo", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    try:
        config = write_config(workdir, pressero, mis)
        print(f"Pressero sandbox {pressero.url}, Pace sandbox {mis.url}, store in {workdir}")
        with running_daemon(config, workdir) as (_, sock, base):
            pressero.webhook_target = f"{base}/webhooks/pressero/shop"
            scenes = _Scenes(pressero, mis)
            scenes.all()
            started = time.monotonic()
            last = ""
            while time.monotonic() - started < 45:
                rows = _table(sock)
                states = {(r["order"], r["seq"]): r["state"] for r in rows}
                if scenes.later and states.get((str(scenes.n["paid"]), 1)) == "pushed":
                    for _, change in scenes.later:  # the storefront moves on
                        change()
                    scenes.later = []
                screen = _render(rows, scenes.notes, time.monotonic() - started)
                if live:
                    print("\x1b[2J\x1b[H" + screen, flush=True)
                elif screen.split("\n", 1)[1] != last.split("\n", 1)[-1]:
                    print(screen + "\n", flush=True)
                last = screen
                settled = (
                    not scenes.later
                    and states.get((str(scenes.n["unpaid"]), 1)) == "pushed"
                    and states.get((str(scenes.n["edoc"]), 1)) == "pushed"
                    and not any(s in ("ready", "pushing", "retrying") for s in states.values())
                )
                if settled:
                    break
                time.sleep(0.3)
            print(_render(_table(sock), scenes.notes, time.monotonic() - started))
            _status_back(sock, pressero, mis, scenes)
            _summary(sock, mis, scenes)
        return log_report(workdir, (MIS_PASSWORD, STOREFRONT_PASSWORD))
    finally:
        pressero.stop()
        mis.stop()


def _status_back(sock: Path, pressero: PresseroSandbox, mis: PaceSandbox, scenes: _Scenes) -> None:
    """Pace closes and ships the paid order's job: status and tracking reach the storefront."""
    number = scenes.n["paid"]
    job = call_sync(sock, "order", {"order": str(number)})["items"][0]["order_external_id"]
    mis.set_job_status(job, "C")
    mis.add_shipment_tracking(job, "1Z999AA10123456784")
    call_sync(sock, "sync", {})  # what `status_poll_seconds` does on its own

    def first_item() -> dict[str, Any]:
        order = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == number)
        return dict(order["Items"][0])

    def closed_and_shipped() -> dict[str, Any] | None:
        item = first_item()
        closed = item.get("WorkflowStagePrinter") == "Order Completed"
        return item if closed and item.get("ShipmentTracking") else None

    item: dict[str, Any] = wait_until("the closed job on the storefront", closed_and_shipped, 20)
    print(
        f"\nPace closed job {job} and shipped it: storefront order {number} item 1 is now "
        f"'{item.get('WorkflowStagePrinter')}', tracking {item.get('ShipmentTracking')}, "
        f"MisId {item.get('MisId')}"
    )


def _summary(sock: Path, mis: PaceSandbox, scenes: _Scenes) -> None:
    status = print_status(sock)
    print(f"  inbox: {status['inbox']['total']} events, {status['inbox']['poisoned']} poisoned")
    jobs, parts = mis.objects("Job"), mis.objects("JobPart")
    shipments = mis.objects("JobShipment")
    print(
        f"  Pace: {len(jobs)} jobs, {len(parts)} parts, {len(shipments)} shipments, "
        f"{len(mis.objects('Carton'))} cartons (one job per order, one part per item: "
        "nothing twice)"
    )
    retried = str(scenes.n["retried"])
    detail = call_sync(sock, "order", {"order": retried})
    retries = sum(1 for step in detail["trace"] if step["to"] == "retrying")
    now = ", ".join(sorted({item["state"] for item in detail["items"]}))
    print(f"  esd order {retried} (Pace answered 503 once): retried {retries} time(s), now {now}")
    for name in ("waiting", "unknown"):
        number = str(scenes.n[name])
        why = call_sync(sock, "why", {"order": number})
        for item in why["items"]:
            print(f"  esd why {number} (item {item['seq']}): {'; '.join(item['reasons'])}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="esd-demo-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())

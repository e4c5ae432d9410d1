"""`make demo`, the Tharstern part: the real daemon between the Pressero and Tharstern sandboxes.

One order is placed in the storefront with a stock item (a Tharstern product code as its part
number: a sales-order line) and an estimate item (Flyers, mapped to a Tharstern product type:
an estimate from the type's example, then a job, with its artwork attached by URL). Then the
print shop moves the job on: its status comes back by Tharstern's webhook; a change whose
webhook is lost is caught by the poll fallback; the despatch with its consignment number comes
back by webhook and reaches the storefront as a shipment. A summary shows what Tharstern holds
(each object once) and what the push cost in calls per path; nothing is left running.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from daemon.demo import (
    MIS_PASSWORD,
    SPINE_CONFIG,
    STOREFRONT_PASSWORD,
    log_report,
    print_status,
    running_daemon,
    wait_until,
)
from daemon.operator.client import call_sync
from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.storefronts.pressero import guesses as pg
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox

__all__ = ["main", "run"]

SITE = DEFAULT_SITES[0]
TH_LOGIN = "esd-demo@printshop.example"
WEBHOOK_SECRET = "demo-th-hook-4e1"
ARTWORK = "https://files.printshop.example/orders/flyers-print-ready.pdf"
TRACKING = "CN-DEMO-0042"

CONFIG = (
    SPINE_CONFIG
    + """
[accounts.tharstern]
provider = "tharstern"
concurrency = 2
rate_per_second = 100
status_poll_seconds = 3600
[accounts.tharstern.storefront_stages]
Despatched = "Shipping"
[accounts.tharstern.credentials]
url = "{mis_url}"
login = "{login}"
password = {{ env = "ESD_DEMO_MIS_PASSWORD" }}
webhook_secret = "{webhook_secret}"
[accounts.tharstern.settings]
products_customer_code = "ESP001"
application_id = "esd-demo"
initial_status = "Awaiting Artwork Check"
[[accounts.tharstern.settings.products]]
product = "Flyers"
product_type = 12

[sites.shop]
name = "Demo Print Shop"
storefront = "pressero"
site_id = "{site_id}"
security_key = {{ env = "ESD_DEMO_SITE_KEY" }}
[[sites.shop.activations]]
account = "tharstern"
enable = true
is_live = true
"""
)


def run(workdir: Path) -> int:
    """The Tharstern demo, in `workdir`; returns the exit code."""
    pressero = PresseroSandbox(password=STOREFRONT_PASSWORD)
    mis = TharsternSandbox(login=TH_LOGIN, password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    try:
        config = workdir / "esd.toml"
        config.write_text(
            CONFIG.format(
                dir=workdir,
                pressero_url=pressero.url,
                mis_url=mis.url,
                login=TH_LOGIN,
                webhook_secret=WEBHOOK_SECRET,
                username=pressero.username,
                subscriber=pressero.subscriber_id,
                site_id=SITE.site_id,
            )
        )
        print(f"\nPressero sandbox {pressero.url}, Tharstern sandbox {mis.url}, store in {workdir}")
        with running_daemon(config, workdir) as (_, sock, base):
            pressero.webhook_target = f"{base}/webhooks/pressero/shop"
            mis.set_webhook(f"{base}/webhooks/mis/tharstern", WEBHOOK_SECRET)
            number = pressero.place_order(
                items=(
                    {"ProductName": "Business cards", "PrinterPartNumber": "BC-STOCK"},
                    {
                        "ProductName": "Flyers",
                        "Quantity": 500,
                        # its print-ready file, as eDocBuilder leaves it on the item row
                        pg.ITEM_FILES_FIELD: [
                            {
                                pg.ITEM_FILE_URL_FIELD: ARTWORK,
                                pg.ITEM_FILE_NAME_FIELD: "flyers-print-ready.pdf",
                            }
                        ],
                    },
                )
            )

            def items() -> list[dict[str, Any]]:
                found = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == number)
                return [dict(i) for i in found["Items"]]

            wait_until("both items pushed", lambda: all(i.get("MisId") for i in items()))
            mis_ids = {i["OrderItemSeq"]: i["MisId"] for i in items()}
            state = mis.state()
            print(
                f"order {number}: item 1 (stock BC-STOCK) -> sales order {mis_ids[1]}, "
                f"item 2 (Flyers, product type 12) -> job {mis_ids[2]}"
            )
            job = str(mis_ids[2])

            def mis_status() -> str:
                detail = call_sync(sock, "order", {"order": str(number)})
                return str(next(i for i in detail["items"] if i["seq"] == 2)["mis_status"] or "")

            mis.set_job_status(job, "In Production")
            wait_until("In Production by webhook", lambda: mis_status() == "In Production")
            print(f"Tharstern: job {job} In Production -> by webhook, esd records it")
            mis.set_job_status(job, "Finishing", lose_webhook=True)
            call_sync(sock, "sync", {"wait": True})  # what status_poll_seconds does on its own
            wait_until("the lost change polled", lambda: mis_status() == "Finishing")
            print(f"Tharstern: job {job} Finishing, its webhook LOST -> caught by the poll")
            mis.add_delivery(job, TRACKING)
            wait_until("the shipment on the storefront", lambda: pressero.state()["shipments"])
            flyers = next(i for i in items() if i["OrderItemSeq"] == 2)
            print(
                f"Tharstern: job {job} Despatched with consignment {TRACKING} -> storefront "
                f"item 2 is now '{flyers.get('WorkflowStagePrinter')}', tracking "
                f"{flyers.get('ShipmentTracking')}"
            )
            _summary(sock, mis, state)
        return log_report(workdir, (MIS_PASSWORD, STOREFRONT_PASSWORD, WEBHOOK_SECRET))
    finally:
        pressero.stop()
        mis.stop()


def _summary(sock: Path, mis: TharsternSandbox, pushed: dict[str, Any]) -> None:
    state = mis.state()
    print_status(sock)
    print(
        f"  Tharstern: {len(state['contacts'])} contact, {len(state['addresses'])} delivery "
        f"address, {len(state['orders'])} sales "
        f"order, {len(state['estimates'])} estimate, {len(state['jobs'])} job, "
        f"{len(state['attachments'])} attachment (nothing twice)"
    )
    calls = pushed["calls"]
    print(f"  the push: {sum(calls.values())} API calls ({', '.join(sorted(calls))})")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="esd-demo-tharstern-") as tmp:
        return run(Path(tmp))


if __name__ == "__main__":
    sys.exit(main())

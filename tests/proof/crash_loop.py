"""Part 1, the crash loop: storefront -> daemon -> Pace under faults on both sides and SIGKILLs.

Orders are placed in the Pressero sandbox (all items approved at placement, so each order goes
to Pace in one push; some have several items, some two ship-to addresses); its webhooks go to
the real daemon, which reads the order back and pushes it into the Pace sandbox. Both sandboxes
inject faults (resets, timeouts, 5xx, Pressero 429 with Retry-After, answers lost after the
write); the daemon is SIGKILLed at random moments (seeded) and restarted each time. Then the
faults stop, every order settles, and the checker counts (`check`): every webhook the sandbox
saw acknowledged has its event in the store, one Pace Job per order (importID = the push
reference), one JobPart per item, one JobShipment per distinct address, no item stuck.

Sizes: PROOF_ORDERS (200), PROOF_KILLS (30), PROOF_SEED (12), PROOF_FAULT_RATE (0.2: the
share of calls that get a fault, on each side), PROOF_ORDER_INTERVAL_MS (350),
PROOF_SETTLE_SECONDS (300).
"""

from __future__ import annotations

import collections
import contextlib
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from daemon.providers.contract import push_reference
from tests.proof.common import Promises, env_float, env_int, read_store
from tests.proof.stack import Stack

__all__ = ["check", "observe", "plant", "run"]

_SECOND_ADDRESS = {
    "ShipTo": "Bob Baker",
    "ShipToFirstName": "Bob",
    "ShipToLastName": "Baker",
    "ShipToAddress1": "9 Elm Street",
    "ShipToCity": "Shelbyville",
    "ShipToPostal": "62565",
    "ShipToEmail": "bob.baker@example.com",
}
_STUCK = ("pending", "ready", "pushing", "retrying")


def _items(rng: random.Random, n: int) -> list[dict[str, Any]]:
    count = rng.choice((1, 1, 2, 2, 3))
    items: list[dict[str, Any]] = [
        {"ProductName": f"Product {n}-{seq}", "Quantity": 100 * seq} for seq in range(1, count + 1)
    ]
    if count > 1 and rng.random() < 0.4:
        items[-1].update(_SECOND_ADDRESS)
    return items


def _address(item: dict[str, Any]) -> str:
    return str(item.get("ShipToAddress1", "1 Main Street"))


def _pressero_faults(rate: float, seed: int) -> dict[str, Any]:
    return {"error_rate": rate * 0.4, "drop_rate": rate * 0.3, "latency_ms": 5, "seed": seed}


def _pace_faults(rate: float, seed: int) -> dict[str, Any]:
    return {
        "error_rate": rate * 0.3,
        "drop_rate": rate * 0.2,
        "fault_rate": rate * 0.2,
        "drop_after_commit_rate": rate * 0.3,
        "latency_ms": 5,
        "seed": seed,
    }


_ONE_SHOTS = (  # Pressero one-shot faults queued now and then: kind, method, path
    ("429", None, "/api"),
    ("drop_after_commit", "PUT", "/api/v2/orders"),
    ("drop_after_commit", None, "/api"),
    ("500", None, "/api"),
)


def drive(
    stack: Stack,
    *,
    orders: int,
    kills: int,
    seed: int,
    fault_rate: float,
    interval: float,
    settle_seconds: float,
) -> dict[str, Any]:
    """Place the orders and kill the daemon; return what was placed and what was done."""
    assert stack.pressero is not None
    rng = random.Random(seed)
    placed: dict[str, list[dict[str, Any]]] = {}
    injected: collections.Counter[str] = collections.Counter()
    kill_times: list[float] = []
    stack.pressero.set_faults(**_pressero_faults(fault_rate, seed))
    stack.pace.set_faults(**_pace_faults(fault_rate, seed))
    started = time.monotonic()
    stack.daemon.start()
    placing_error: list[BaseException] = []

    def place() -> None:
        # Its own thread, so orders (and their webhooks) also arrive while the daemon is down.
        assert stack.pressero is not None
        try:
            for n in range(orders):
                items = _items(rng, n)
                user = {"OrderedByEmail": f"buyer{n}@proof.example"}
                number = stack.pressero.place_order(items, user=user)
                placed[str(number)] = items
                if rng.random() < fault_rate:
                    kind, method, path = rng.choice(_ONE_SHOTS)
                    queue = stack.pressero.state()["faults"]["fail_next"]
                    entry = {"kind": kind, "method": method, "path_prefix": path}
                    stack.pressero.set_faults(fail_next=[*queue, entry])
                    injected[f"pressero_{kind}"] += 1
                time.sleep(interval)
        except BaseException as exc:  # surfaced by drive
            placing_error.append(exc)

    placer = threading.Thread(target=place, name="proof-placer", daemon=True)
    kill_rng = random.Random(seed + 1)
    placer.start()
    while placer.is_alive() or len(kill_times) < kills:
        time.sleep(kill_rng.uniform(0.3, 2.5))
        if len(kill_times) < kills:
            stack.daemon.kill()
            kill_times.append(round(time.monotonic() - started, 2))
            stack.daemon.start()
    placer.join()
    if placing_error:
        raise placing_error[0]
    placing = time.monotonic() - started
    stack.pressero.set_faults(error_rate=0.0, drop_rate=0.0, latency_ms=0, fail_next=[])
    stack.pace.set_faults(
        error_rate=0.0, drop_rate=0.0, fault_rate=0.0, drop_after_commit_rate=0.0, latency_ms=0
    )
    wanted = sum(len(items) for items in placed.values())
    deadline = time.monotonic() + settle_seconds
    while time.monotonic() < deadline:
        rows = read_store(stack.database, "SELECT state, COUNT(*) FROM items GROUP BY state")
        states = dict(rows)
        if states.get("pushed", 0) + states.get("failed", 0) >= wanted and not any(
            states.get(s) for s in _STUCK
        ):
            break
        time.sleep(0.5)
    settled = time.monotonic() - started - placing
    stack.pressero.wait_for_webhooks(30)
    terminated = stack.daemon.terminate()
    pace_calls = sum(stack.pace.state()["calls"].values())
    pressero_calls = sum(stack.pressero.state()["calls"].values())
    return {
        "placed": placed,
        "kill_times": kill_times,
        "injected_one_shot": dict(injected),
        "pace_calls": pace_calls,
        "pressero_calls": pressero_calls,
        "placing_seconds": round(placing, 1),
        "settle_seconds": round(settled, 1),
        "exit_code": terminated,
    }


def observe(stack: Stack, placed: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What the storefront, the store and Pace hold now (read, never written)."""
    assert stack.pressero is not None
    deliveries = stack.pressero.state()["webhooks"]
    stored = {
        str(key)
        for (key,) in read_store(
            stack.database, "SELECT dedupe_key FROM events WHERE source = 'pressero:shop'"
        )
    }
    items = read_store(stack.database, "SELECT order_number, seq, state FROM items")
    objects = stack.pace.state()["objects"]
    return {
        "placed": placed,
        "deliveries": deliveries,
        "stored": stored,
        "items": [(str(o), int(s), str(state)) for o, s, state in items],
        "jobs": objects["Job"],
        "parts": objects["JobPart"],
        "shipments": objects["JobShipment"],
    }


def check(seen: dict[str, Any]) -> tuple[Promises, dict[str, Any]]:
    """The promises over an observation; and its figures."""
    promises = Promises()
    placed: dict[str, list[dict[str, Any]]] = seen["placed"]
    acked = [d for d in seen["deliveries"] if d["status"] is not None and 200 <= d["status"] < 300]
    statuses = collections.Counter(str(d["status"]) for d in seen["deliveries"])
    lost = [d["message_id"] for d in acked if d["message_id"] not in seen["stored"]]
    promises.expect("acknowledged webhooks lost", len(lost), 0)
    by_reference: collections.Counter[str] = collections.Counter(
        str(job.get("importID")) for job in seen["jobs"]
    )
    job_of: dict[str, str] = {str(job.get("importID")): str(job["job"]) for job in seen["jobs"]}
    parts: collections.Counter[str] = collections.Counter(str(p["job"]) for p in seen["parts"])
    addresses: dict[str, list[str]] = collections.defaultdict(list)
    for shipment in seen["shipments"]:
        addresses[str(shipment.get("job"))].append(str(shipment.get("address1")))
    wrong_jobs, wrong_parts, wrong_shipments = [], [], []
    for number, items in placed.items():
        reference = push_reference("pace", "shop", number)
        if by_reference[reference] != 1:
            wrong_jobs.append({"order": number, "jobs": by_reference[reference]})
            continue
        job = job_of[reference]
        if parts[job] != len(items):
            wrong_parts.append({"order": number, "items": len(items), "parts": parts[job]})
        wanted = sorted({_address(item) for item in items})
        if sorted(addresses[job]) != wanted:
            wrong_shipments.append({"order": number, "wanted": wanted, "got": addresses[job]})
    strays = sorted(set(by_reference) - {push_reference("pace", "shop", n) for n in placed})
    promises.expect("orders without exactly one Pace Job", wrong_jobs[:10], [])
    promises.expect("Jobs of no placed order", strays[:10], [])
    promises.expect("Jobs without one JobPart per item", wrong_parts[:10], [])
    promises.expect("Jobs without one JobShipment per address", wrong_shipments[:10], [])
    states = collections.Counter(state for _, _, state in seen["items"])
    wanted_items = sum(len(items) for items in placed.values())
    promises.expect("items pushed", states.get("pushed", 0), wanted_items)
    stuck = [(o, s, state) for o, s, state in seen["items"] if state in _STUCK]
    promises.expect("items stuck", stuck[:10], [])
    figures = {
        "orders": len(placed),
        "items": wanted_items,
        "multi_item_orders": sum(1 for items in placed.values() if len(items) > 1),
        "two_address_orders": sum(
            1 for items in placed.values() if len({_address(i) for i in items}) > 1
        ),
        "webhooks_sent": len(seen["deliveries"]),
        "webhooks_by_status": dict(sorted(statuses.items())),
        "webhooks_acknowledged": len(acked),
        "webhook_events_stored": len(seen["stored"]),
        "jobs": len(seen["jobs"]),
        "parts": len(seen["parts"]),
        "shipments": len(seen["shipments"]),
        "item_states": dict(states),
    }
    return promises, figures


def plant(stack: Stack, kind: str) -> str:
    """Break a promise behind the daemon's back (the daemon is stopped): the checker must see
    it. Returns what was done."""
    if kind == "duplicate_job":
        job = stack.pace.state()["objects"]["Job"][0]
        twin = {**job, "job": "9" + str(job["job"])}
        stack.pace._store.seed("Job", twin)
        return f"a second Job {twin['job']} with importID {job['importID']}"
    if kind == "lost_event":
        assert stack.pressero is not None
        acked = next(d for d in stack.pressero.state()["webhooks"] if d["status"] == 200)
        with contextlib.closing(sqlite3.connect(stack.database)) as db:
            db.execute(
                "DELETE FROM events WHERE source = 'pressero:shop' AND dedupe_key = ?",
                (acked["message_id"],),
            )
            db.commit()
        return f"deleted the stored event of acknowledged webhook {acked['message_id']}"
    raise ValueError(f"no such plant for the crash loop: {kind}")


def run(folder: Path, plant_kind: str = "", **sizes: Any) -> dict[str, Any]:
    """Part 1 at the configured (or given) sizes; its figures and promises."""
    orders = sizes.get("orders", env_int("PROOF_ORDERS", 200))
    kills = sizes.get("kills", env_int("PROOF_KILLS", 30))
    seed = sizes.get("seed", env_int("PROOF_SEED", 12))
    rate = sizes.get("fault_rate", env_float("PROOF_FAULT_RATE", 0.2))
    interval = sizes.get("interval", env_int("PROOF_ORDER_INTERVAL_MS", 350) / 1000)
    settle = sizes.get("settle_seconds", env_int("PROOF_SETTLE_SECONDS", 300))
    stack = Stack(folder, concurrency=4)
    try:
        done = drive(
            stack,
            orders=orders,
            kills=kills,
            seed=seed,
            fault_rate=rate,
            interval=interval,
            settle_seconds=settle,
        )
        planted = plant(stack, plant_kind) if plant_kind else ""
        promises, figures = check(observe(stack, done["placed"]))
        promises.expect("daemon exit code after SIGTERM", done["exit_code"], 0)
        promises.at_most("SIGKILLs short of the wanted", kills - len(done["kill_times"]), 0)
    finally:
        stack.close()
    return {
        "seed": seed,
        "kills": len(done["kill_times"]),
        "kill_times_s": done["kill_times"],
        "fault_rate": rate,
        "faults": {
            "pressero_rates": _pressero_faults(rate, seed),
            "pace_rates": _pace_faults(rate, seed),
            "pressero_one_shot": done["injected_one_shot"],
            "pace_calls": done["pace_calls"],
            "pressero_calls": done["pressero_calls"],
            "pace_faults_expected": round(done["pace_calls"] * rate),
        },
        **figures,
        "placing_seconds": done["placing_seconds"],
        "settle_seconds": done["settle_seconds"],
        **({"planted": planted} if planted else {}),
        "promises": promises.checks,
        "broken": promises.broken,
    }

"""Part 3, a hostile MIS: the Pace sandbox answers SOAP calls and WSDL fetches with an entity
bomb, an external entity (file:///etc/hostname), a drip, a huge body, not XML; the real daemon
pushes one order against each. Each must be refused or retried cleanly: the items settle
(pushed, or failed for a refused answer) within the deadline, never stuck in pushing; the
daemon's RSS stays bounded (PROOF_RSS_GROWTH_MB, 150); nothing read through an entity."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.bench.push_targets import PACE
from tests.proof.common import Promises, env_int, read_store, rss_kb
from tests.proof.stack import Stack

__all__ = ["run"]

_KINDS = ("none", "entity_bomb", "external_entity", "drip", "huge", "not_xml")
_DEADLINE = 3
_SETTINGS = (
    f"call_deadline_seconds = {_DEADLINE}\nmax_answer_bytes = 2000000\nmax_wsdl_bytes = 4000000\n"
)


def _settle(stack: Stack, order: str, items: int, timeout: float) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    while True:
        rows = read_store(
            stack.database,
            "SELECT state, COUNT(*) FROM items WHERE order_number = ? GROUP BY state",
            (order,),
        )
        states = {str(s): int(n) for s, n in rows}
        done = states.get("pushed", 0) + states.get("failed", 0)
        if done == items or time.monotonic() - started > timeout:
            return states, round(time.monotonic() - started, 1)
        time.sleep(0.2)


def run(folder: Path, **_: Any) -> dict[str, Any]:
    growth = env_int("PROOF_RSS_GROWTH_MB", 150)
    stack = Stack(folder, storefront=False, pace_settings=_SETTINGS)
    stack.pace.set_faults(drip_interval_ms=200, huge_bytes=50_000_000)
    promises = Promises()
    cases: dict[str, Any] = {}
    try:
        hostname = Path("/etc/hostname").read_text().strip()
    except OSError:
        hostname = ""
    number = 8000
    try:
        stack.daemon.start()
        rss_before = rss_kb(stack.pid)
        for target in ("soap", "wsdl"):
            for kind in _KINDS:
                number += 1
                if target == "wsdl":  # a fresh daemon loads its WSDLs at its first push
                    stack.daemon.terminate()
                    stack.daemon.start()
                operation = "wsdl" if target == "wsdl" else None
                if kind != "none":
                    stack.pace.set_faults(fail_next=[{"operation": operation, "kind": kind}])
                order = PACE.order(str(number), number)
                stack.submit(order.to_json(), f"{number}-v1")
                states, seconds = _settle(stack, str(number), 2, 60)
                cases[f"{target}:{kind}"] = {"items": states, "settled_s": seconds}
                promises.holds(
                    f"{target}:{kind} settled (pushed or failed)",
                    sum(states.get(s, 0) for s in ("pushed", "failed")) == 2,
                    states,
                )
                if kind == "none":
                    promises.expect(f"{target}: a clean push pushed", states, {"pushed": 2})
                rss = rss_kb(stack.pid)
                cases[f"{target}:{kind}"]["rss_mb"] = round(rss / 1024, 1)
                if target == "soap":
                    promises.at_most(
                        f"RSS growth after {kind} (MB)",
                        round((rss - rss_before) / 1024, 1),
                        growth,
                    )
        errors = " ".join(
            str(e or "") for (e,) in read_store(stack.database, "SELECT last_error FROM items")
        )
        jobs = str(stack.pace.state()["objects"]["Job"])
        if len(hostname) >= 4:
            promises.holds(
                "nothing read through an external entity",
                hostname not in errors and hostname not in jobs,
            )
        promises.holds("daemon alive", stack.alive())
        promises.expect("daemon exit code after SIGTERM", stack.daemon.terminate(), 0)
    finally:
        stack.close()
    return {
        "call_deadline_seconds": _DEADLINE,
        "rss_mb_before": round(rss_before / 1024, 1),
        "cases": cases,
        "promises": promises.checks,
        "broken": promises.broken,
    }

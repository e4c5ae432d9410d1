"""`GET /readyz`: is this daemon able to keep what it acknowledges? Named checks, collected.

Each check is a function answering (ok, details); the daemon is ready when every one is ok.
The answer is 200 or 503 with a JSON body naming each check and the failing ones, for a load
balancer, a monitoring probe or a person with curl. A check that raises counts as failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.actors.connection_health import ConnectionHealth
from daemon.logs import REDACTOR

__all__ = ["Check", "connections_check", "flags_check", "readiness"]

#: one named condition: (ok, what to show about it)
Check = Callable[[], tuple[bool, Mapping[str, Any]]]


def readiness(checks: Mapping[str, Check]) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of `/readyz` for these checks."""
    results: dict[str, dict[str, Any]] = {}
    failing: list[str] = []
    for name, check in checks.items():
        try:
            ok, details = check()
        except Exception as exc:
            ok, details = False, {"error": REDACTOR.redact(f"{type(exc).__name__}: {exc}")}
        results[name] = {"ok": ok, **details}
        if not ok:
            failing.append(name)
    body = {"ready": not failing, "failing": failing, "checks": results}
    return (503 if failing else 200), body


def connections_check(connections: Sequence[ConnectionHealth]) -> Check:
    """Ready while no connection (MIS account, storefront) is down; a degraded one is named
    but does not fail the check (a single failed call must not take the daemon out)."""

    def check() -> tuple[bool, Mapping[str, Any]]:
        down = [c.label for c in connections if c.state == "down"]
        degraded = [c.label for c in connections if c.state == "degraded"]
        return not down, {"down": down, "degraded": degraded}

    return check


def flags_check(flags: Mapping[str, bool]) -> Check:
    """Ready while every named flag is true (e.g. each listener is bound and serving)."""

    def check() -> tuple[bool, Mapping[str, Any]]:
        waiting = [name for name, up in flags.items() if not up]
        return not waiting, {"bound": [n for n, up in flags.items() if up], "not_bound": waiting}

    return check

"""`GET /readyz`: is this daemon able to keep what it acknowledges? Named checks, collected.

Each check is a function answering (ok, details); the daemon is ready when every one is ok.
The answer is 200 or 503 with a JSON body naming each check and the failing ones, for a load
balancer, a monitoring probe or a person with curl. A check that raises counts as failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from daemon.logs import REDACTOR

__all__ = ["Check", "readiness"]

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

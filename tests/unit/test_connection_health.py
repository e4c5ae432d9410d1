"""ConnectionHealth's classification and thresholds (one function's logic, no I/O)."""

from __future__ import annotations

import pytest

from daemon.actors.connection_health import ConnectionHealth
from daemon.errors import AuthenticationFailed, BusinessRuleError, NetworkError
from daemon.operator.render import render


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def health(clock: Clock) -> ConnectionHealth:
    return ConnectionHealth("mis", "pace", down_after_seconds=60, down_after_failures=3, now=clock)


def fail(h: ConnectionHealth, exc: Exception) -> None:
    with pytest.raises(type(exc)), h.call("push"):
        raise exc


def test_down_needs_both_the_streak_and_the_time_and_one_success_recovers() -> None:
    clock = Clock()
    h = health(clock)
    changes: list[str] = []
    h.on_change = lambda c: changes.append(c.state)
    for _ in range(5):  # many failures at once: degraded, not down (too short)
        fail(h, NetworkError("connection refused"))
    assert h.state == "degraded" and h.consecutive_failures == 5
    clock.t += 61
    fail(h, AuthenticationFailed("bad password"))
    assert h.state == "down" and h.last_error == "AuthenticationFailed: bad password"
    with h.call("status"):
        pass
    assert h.state == "ok" and h.consecutive_failures == 0 and h.failing_since is None
    assert changes == ["degraded", "down", "ok"]
    assert h.calls[("push", "transient")] == 5 and h.calls[("status", "ok")] == 1


def test_a_business_error_means_the_mis_answered() -> None:
    clock = Clock()
    h = health(clock)
    fail(h, NetworkError("reset"))
    fail(h, BusinessRuleError("customer not found"))
    assert h.state == "ok" and h.last_success_at == clock.t
    assert h.calls[("push", "permanent")] == 1


def test_status_table_shows_the_connections() -> None:
    clock = Clock()
    h = health(clock)
    h.record_report("probe", False, "EFI Pace answered HTTP 503")
    text = render("status", {"connections": {"pace": h.as_dict()}, "accounts": {}})
    assert "connection" in text and "degraded" in text and "HTTP 503" in text

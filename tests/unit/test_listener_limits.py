"""The listener's connection cap against the descriptor limit, and the accept-failure log."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from typing import Any

import pytest
import structlog.testing

from daemon.config import Listener
from daemon.errors import ListenerError
from daemon.intake.connections import AcceptFailureLog, ConnectionCounters
from daemon.intake.limits import ACCEPT_BURST, LINGERING_MAX, listener_limits

LISTENER = Listener("webhook", "127.0.0.1", 0, 1024, True, max_connections=512, reserved_fds=256)
OVERHEAD = ACCEPT_BURST + LINGERING_MAX + 256


def test_the_cap_is_kept_when_it_fits_under_the_limit() -> None:
    with structlog.testing.capture_logs() as logs:
        limits = listener_limits(LISTENER, soft_limit=512 + OVERHEAD)
    assert limits.max_connections == 512
    assert logs == []
    assert listener_limits(LISTENER, soft_limit=None).max_connections == 512


def test_the_cap_is_clamped_with_a_warning_when_it_does_not_fit() -> None:
    with structlog.testing.capture_logs() as logs:
        limits = listener_limits(LISTENER, soft_limit=800)
    assert limits.max_connections == 800 - OVERHEAD
    assert [(e["event"], e["configured"], e["clamped"], e["rlimit_nofile"]) for e in logs] == [
        ("listener.connection_cap_clamped", 512, 800 - OVERHEAD, 800)
    ]
    # The defaults fit the default soft limit of 1024 with room to spare.
    assert listener_limits(LISTENER, soft_limit=1024).max_connections == 512


def test_a_limit_with_no_room_at_all_refuses_the_start() -> None:
    with pytest.raises(ListenerError, match=r"RLIMIT_NOFILE 416\).*LimitNOFILE="):
        listener_limits(LISTENER, soft_limit=OVERHEAD)
    small = dataclasses.replace(LISTENER, reserved_fds=16)
    assert listener_limits(small, soft_limit=OVERHEAD).max_connections == 240


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _accept_failure(code: int) -> dict[str, Any]:
    return {
        "message": "socket.accept() out of system resource",
        "exception": OSError(code, "Too many open files"),
    }


def test_accept_failures_are_logged_once_per_interval_with_the_count_left_out() -> None:
    counters = ConnectionCounters()
    others: list[dict[str, Any]] = []
    clock = _Clock()
    handler = AcceptFailureLog(counters, lambda _loop, ctx: others.append(ctx), clock=clock)
    loop = asyncio.new_event_loop()
    try:
        with structlog.testing.capture_logs() as logs:
            for _ in range(500):
                handler(loop, _accept_failure(errno.EMFILE))
            clock.t += 10.0
            handler(loop, _accept_failure(errno.ENFILE))
            handler(loop, {"message": "something else", "exception": ValueError("x")})
    finally:
        loop.close()
    assert [(e["event"], e["errno"], e["suppressed"]) for e in logs] == [
        ("listener.accept_failed", "EMFILE", 0),
        ("listener.accept_failed", "ENFILE", 499),
    ]
    assert counters.accept_failures == 501
    assert [ctx["message"] for ctx in others] == ["something else"]

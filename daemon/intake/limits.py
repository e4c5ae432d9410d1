"""How many connections the webhook listener may hold, checked against the descriptor limit.

Every connection is a file descriptor, and so are the store, the operator socket and its
clients, and the connections to the MIS and storefront systems. If the listener may take them
all, the daemon cannot even accept an operator's `esd status`: so the listener's cap plus what
it may hold on top of it for a moment plus `reserved_fds` must fit under the soft
RLIMIT_NOFILE. We check at start and clamp the cap (with a warning) rather than raise the
limit: under the unit's `SystemCallFilter=~@resources` setrlimit fails anyway, and the limit is
the operator's to set (`LimitNOFILE=` in systemd/esd.service).
"""

from __future__ import annotations

import dataclasses
import resource

import structlog

from daemon.config import Listener
from daemon.errors import ListenerError

__all__ = ["ACCEPT_BURST", "LINGERING_MAX", "ListenerLimits", "listener_limits"]

log = structlog.get_logger("esd.intake")

#: The listen queue, and so the most connections asyncio accepts in one turn of the loop (it
#: calls accept() up to `backlog` times per readiness event) before our protocol can refuse
#: any of them: descriptors the listener can hold beyond its cap for a moment.
ACCEPT_BURST = 128
#: Refused connections kept open a moment for the client to read its 503 (see
#: connections.GuardedH11Protocol); beyond this many a refused one is closed at once.
LINGERING_MAX = 32


@dataclasses.dataclass(frozen=True, slots=True)
class ListenerLimits:
    """The connection limits one listener runs with."""

    max_connections: int = 512
    idle_timeout_seconds: float = 30.0
    header_timeout_seconds: float = 10.0
    backlog: int = ACCEPT_BURST


def descriptor_limit() -> int | None:
    """The soft RLIMIT_NOFILE of this process (None: unlimited)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def listener_limits(listener: Listener, *, soft_limit: int | None = -1) -> ListenerLimits:
    """The limits of `listener`, its cap clamped to what the descriptor limit leaves.

    Raises ListenerError when the limit leaves no room for a single connection.
    `soft_limit` is for tests; by default the process's own is read.
    """
    limit = descriptor_limit() if soft_limit == -1 else soft_limit
    cap = listener.max_connections
    if limit is not None:
        overhead = ACCEPT_BURST + LINGERING_MAX + listener.reserved_fds
        room = limit - overhead
        if room < 1:
            raise ListenerError(
                f"listeners.webhook: the descriptor limit (RLIMIT_NOFILE {limit}) leaves no "
                f"room for webhook connections: {listener.reserved_fds} are reserved for the "
                f"rest of the daemon and {ACCEPT_BURST + LINGERING_MAX} for accepting and "
                "refusing; raise LimitNOFILE= (systemd/esd.service) or lower reserved_fds"
            )
        if cap > room:
            log.warning(
                "listener.connection_cap_clamped",
                configured=cap,
                clamped=room,
                rlimit_nofile=limit,
                reserved_fds=listener.reserved_fds,
                accept_headroom=ACCEPT_BURST + LINGERING_MAX,
            )
            cap = room
    return ListenerLimits(
        max_connections=cap,
        idle_timeout_seconds=listener.idle_timeout_seconds,
        header_timeout_seconds=listener.header_timeout_seconds,
    )

"""What the provider conformance suite needs from each provider: its `Harness`.

Every provider registered in `daemon.providers.registry.PROVIDERS` supplies one in
`tests/providers/<name>/harness.py` as `HARNESS`; the suite runs every test against each (a
registered provider without one fails `test_every_registered_provider_has_a_harness`). What a
test skips is decided by the provider's declared `Capabilities`, never by a list here.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any, Protocol

from daemon.orders.model import Order
from daemon.providers.contract import Driver, PushResult


class Sandbox(Protocol):
    """What the suite uses of a provider's sandbox (a `daemon.testing.loopback_http`
    `LoopbackSandbox`)."""

    @property
    def url(self) -> str: ...

    def start(self, timeout: float = 10.0) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def set_faults(self, **knobs: Any) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Harness:
    """One provider, as the conformance suite drives it."""

    provider: str
    #: a running-to-be sandbox that accepts `login` / `password`
    sandbox: Callable[[str, str], Sandbox]
    #: the driver of an account on the sandbox at `url` with `password` (login "esd")
    driver: Callable[[str, str], Driver]
    #: an order whose push makes several objects, one of them per item at least
    order: Order
    #: the config tables of the account, live for the site "shop" (login "esd"): they follow
    #: the suite's [daemon], [listeners] and [retry] tables
    account_toml: Callable[[str, str], str]
    #: the account's name in `account_toml`
    account: str
    #: what the sandbox holds, counted per kind of object (compared before and after faults)
    created: Callable[[Mapping[str, Any]], dict[str, int]]
    #: the fault vocabulary: `fail_next` entries that lose the answer of one kind of create each
    #: (the create is done, the connection is cut); each must be met by a push of `order`
    lost_create_answers: Sequence[Mapping[str, Any]]
    #: a `fail_next` entry failing the next call as a transient fault (e.g. HTTP 503)
    transient_fault: Mapping[str, Any]
    #: the knob that makes every call wait this many ms before the MIS acts
    latency_knob: str = "latency_ms"
    #: the knob that loses this share of answers after the MIS acted
    lost_answer_rate_knob: str = "drop_after_commit_rate"
    #: move the pushed items on in the sandbox (as the shop would); return per item seq the
    #: status and the tracking numbers the driver must then report
    advance_status: (
        Callable[[Sandbox, PushResult], dict[int, tuple[str, tuple[str, ...]]]] | None
    ) = None
    #: the provider's own checks after the crash proof (test_crash_every_step): given the
    #: sandbox's `state()` and the daemon's store, assert what the counts of `created` cannot
    #: see (the MIS objects' identities, the items' external ids)
    extra_checks_after_crash: Callable[[Mapping[str, Any], sqlite3.Connection], None] | None = None


def harness_of(provider: str) -> Harness | None:
    """The `HARNESS` of `tests/providers/<provider>/harness.py`, or None if it has none."""
    try:
        module = import_module(f"tests.providers.{provider}.harness")
    except ModuleNotFoundError:
        return None
    found = getattr(module, "HARNESS", None)
    return found if isinstance(found, Harness) else None


class MemoryJournal:
    """A push journal in memory, as the spine's (in SQLite) behaves: what `record` kept, `get`
    returns; `steps` keeps the order the steps completed in."""

    def __init__(self) -> None:
        self.done: dict[str, Mapping[str, Any]] = {}
        self.steps: list[str] = []

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.done.get(step)

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        if step not in self.done:
            self.steps.append(step)
        self.done[step] = dict(result)

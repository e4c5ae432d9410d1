"""What the proof's parts share: promises, the daemon's config, the store read-only, sockets."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sqlite3
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.bench.settings import env_int

__all__ = [
    "Promises",
    "env_float",
    "env_int",
    "free_port",
    "planted",
    "read_store",
    "rss_kb",
]

PLANTS = ("lost_event", "duplicate_job", "unsigned_row")


def planted() -> str:
    """PROOF_PLANT: a fault planted in the real run so `make proof` can be shown to fail."""
    value = os.environ.get("PROOF_PLANT", "")
    if value and value not in PLANTS:
        raise SystemExit(f"PROOF_PLANT must be one of {', '.join(PLANTS)}, not {value!r}")
    return value


def env_float(name: str, default: float) -> float:
    """The non-negative number in environment variable `name`, or `default` when unset."""
    value = os.environ.get(name, "")
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise SystemExit(f"{name} must be a non-negative number, not {value!r}")
    return number


@dataclasses.dataclass
class Promises:
    """The promises one part checks: each a name, what was wanted and what was seen."""

    checks: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def expect(self, name: str, seen: Any, wanted: Any) -> bool:
        ok = bool(seen == wanted)
        self.checks.append({"promise": name, "seen": seen, "wanted": wanted, "ok": ok})
        return ok

    def at_most(self, name: str, seen: float, bound: float) -> bool:
        ok = seen <= bound
        self.checks.append({"promise": name, "seen": seen, "at_most": bound, "ok": ok})
        return ok

    def holds(self, name: str, ok: bool, detail: Any = None) -> bool:
        entry: dict[str, Any] = {"promise": name, "ok": bool(ok)}
        if detail is not None:
            entry["detail"] = detail
        self.checks.append(entry)
        return bool(ok)

    @property
    def broken(self) -> list[dict[str, Any]]:
        return [check for check in self.checks if not check["ok"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_store(database: Path, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `query` over the daemon's store, opened read-only (retried while it is locked
    or not yet created: the daemon may be starting)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
            ) as db:
                return list(db.execute(query, args).fetchall())
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def daemon_toml(
    folder: Path,
    *,
    state_dir: Path | None = None,
    port: int = 0,
    listener: str = "",
    daemon_extra: str = "",
    log_level: str = "info",
) -> str:
    """The [listeners.webhook], [daemon] and [retry] tables of a proof daemon."""
    return textwrap.dedent(
        f"""
        [listeners.webhook]
        address = "127.0.0.1"
        port = {port}
        {listener}
        [daemon]
        state_dir = "{state_dir or folder}"
        socket = "{folder}/esd.sock"
        log_level = "{log_level}"
        drain_seconds = 5
        {daemon_extra}
        [retry]
        initial_seconds = 1
        multiplier = 2.0
        max_seconds = 2
        give_up_after_seconds = 3600
        jitter = 0.0
        """
    )

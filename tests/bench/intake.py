"""The webhook intake benchmark: requests/s and ack latency, side by side with two baselines.

    python -m tests.bench.intake          # this part only; `make bench` includes it

Three servers, each in its own process on a loopback port, get the same load (same signed
bodies, connections and slice length) from wrk, or from a Python load generator in its own
process when wrk is not installed (`tests.bench.intake_load`):

- `hello`: a bare ASGI endpoint on the daemon's HTTP stack (the ceiling);
- `naive`: the daemon's webhook app storing each event in its own transaction (fsync each);
- `esd`: the daemon's webhook app with `Engine.ingest` (group commit), wired as the daemon
  wires it. Intake only, as in `tests.intake_server`: the event processor is not run.

Each server logs as the daemon does (JSON lines, level info: a stored webhook's line is debug, so
none) to a file, and stores with WAL and synchronous=FULL.

The aims (from the issue, never asserted by a test): esd at least half of hello's requests/s
and three times naive's. This VM's speed drifts by a third over seconds: hello alone, the same
code, gave 6181-9579 requests/s in 4-second runs, within one process and across processes. So
the three are measured interleaved: all three servers run for the whole benchmark (idle when not
loaded), and the load goes to one at a time in short slices, round after round, the order of
the three rotated each round so none always follows another. A kind's requests/s is its 2xx
answers over all its slices divided by the time of those slices; the headline ratios are those
of these totals, and each round's own ratios are listed too. Latency: the median over the
slices of each slice's p50 and p99, and the largest answer time of any slice.

Each store-backed slice sends bodies never sent before (new MessageIDs, written before the
slice). After the last round each store is counted: it must hold exactly as many events as its
server answered 200 (every one a new event), and at least what the load generator counted (wrk
drops the answers in flight at each slice's deadline: at most one per connection per slice).

Environment overrides: INTAKE_SECONDS (3, one slice), INTAKE_ROUNDS (6), INTAKE_CONNECTIONS
(32), INTAKE_THREADS (2, wrk threads), INTAKE_TOOL (wrk|python; default wrk if on PATH),
INTAKE_PROFILE_DIR (run the servers under cProfile and leave `<kind>.prof` there).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from daemon.config import parse_config
from daemon.storefronts.pressero.guesses import HashVariant
from tests.bench.intake_load import run_python_process, run_wrk, write_bodies, wrk_path
from tests.bench.intake_server import KINDS
from tests.bench.settings import env_int
from tests.helpers import config_text

__all__ = ["AIMS", "intake_benchmark", "main"]

#: esd's requests/s over hello's, and over naive's
AIMS = {"esd_vs_hello": 0.5, "esd_vs_naive": 3.0}

SITE_KEY = "bench-site-key-5d1c"

# Bodies for a store-backed slice: enough that no request repeats a MessageID. The fastest slice
# so far (hello's, which comes first) sizes them: its requests/s times the slice, times this.
_BODY_MARGIN = 1.5
_MIN_BODIES = 5_000
_HELLO_BODIES = 20_000

STORE_KINDS = ("naive", "esd")


def _write_config(folder: Path) -> tuple[Path, HashVariant]:
    """The servers' config file (site `shop` signed with SITE_KEY) and the site's hash form."""
    # The daemon's default log level (info), as in production: a stored webhook writes no line
    # (its inbox row is the record; the line is debug), a rejected one writes one.
    text = config_text(folder).replace('log_level = "debug"', 'log_level = "info"')
    text = text.replace(
        '[sites.shop]\nname = "Print Shop"\n',
        f'[sites.shop]\nname = "Print Shop"\nsecurity_key = "{SITE_KEY}"\n',
    )
    config = parse_config(text, environ={})  # fail here, not in three children
    path = folder / "esd.toml"
    path.write_text(text, encoding="utf-8")
    return path, HashVariant(config.sites["shop"].settings["hash_variant"])


@contextlib.contextmanager
def _server(
    kind: str, run: str, folder: Path, config: Path, profile_dir: Path | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run one intake server (files named `run`); yields its port and (filled once it
    stopped) its counters."""
    command = [
        sys.executable,
        "-m",
        "tests.bench.intake_server",
        kind,
        f"--config={config}",
        f"--db={folder / f'{run}.sqlite3'}",
        f"--log={folder / f'{run}.log'}",
    ]
    if profile_dir is not None:
        command.append(f"--profile={profile_dir / f'{run}.prof'}")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    final: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if not first:
            raise RuntimeError(f"intake server {kind} exited ({process.wait()}) before binding")
        port = int(json.loads(first)["port"])
        _wait_healthy(port)
        yield port, final
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        lines = rest.strip().splitlines()
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"intake server {kind} failed ({process.returncode})")
        final.update(json.loads(lines[-1]))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_healthy(port: int, timeout: float = 20.0) -> None:
    """Until the server answers an HTTP request (binding comes before serving)."""
    deadline = time.monotonic() + timeout
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(request)
                if conn.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"intake server on port {port} never answered /healthz")
        time.sleep(0.05)


def _count_events(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


class _Runner:
    """The three servers, up for the whole benchmark, and the slices of load sent to them."""

    def __init__(self, folder: Path, connections: int, seconds: int, threads: int, tool: str):
        self.folder = folder
        self.connections = connections
        self.seconds = seconds
        self.threads = threads
        self.tool = tool
        self.config, self.variant = _write_config(folder)
        profile = os.environ.get("INTAKE_PROFILE_DIR", "")
        self.profile_dir = Path(profile).resolve() if profile else None
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
        #: the most requests/s any slice of any kind has seen: sizes the bodies of the next
        self.fastest = 0

    def bodies(self, count: int, tag: str) -> list[Path]:
        files = self.threads if self.tool == "wrk" else 1
        return write_bodies(self.folder, count, files, key=SITE_KEY, variant=self.variant, tag=tag)

    def fresh_bodies(self, tag: str) -> list[Path]:
        """Bodies for one store-backed slice: more than the fastest server could take in it."""
        count = max(_MIN_BODIES, int(self.fastest * self.seconds * _BODY_MARGIN))
        return self.bodies(count, tag)

    def load(self, port: int, bodies: Sequence[Path]) -> dict[str, Any]:
        """One slice of load on `port`; its figures."""
        # Start each slice with nothing dirty in the page cache: a write-back of earlier work
        # (the memory bench's store, the bodies just written) would slow its fsyncs.
        os.sync()
        if self.tool == "wrk":
            wrk = wrk_path()
            assert wrk is not None
            figures = run_wrk(
                wrk,
                port,
                bodies,
                connections=self.connections,
                seconds=self.seconds,
                script_dir=self.folder,
            )
        else:
            figures = run_python_process(
                port, bodies, connections=self.connections, seconds=self.seconds
            )
        self.fastest = max(self.fastest, int(figures["rps"]))
        return figures

    def store_check(
        self, kind: str, slices: Sequence[dict[str, Any]], final: dict[str, Any]
    ) -> dict[str, Any]:
        """The store of `kind` against what its server and the load generator counted."""
        stored = _count_events(self.folder / f"{kind}.sqlite3")
        answered = int(final["accepted"]) + int(final["duplicates"])
        client_ok = sum(int(s["ok"]) for s in slices)
        return {
            "rows": stored,
            "server_200": answered,
            "client_200": client_ok,
            # every 200 is one new row; the client saw all of them but those in flight at the
            # end of each slice
            "consistent": stored == answered == final["accepted"]
            and 0 <= answered - client_ok <= self.connections * len(slices),
            "server_rejections": final["rejections"],
        }


def intake_benchmark(folder: Path) -> dict[str, Any]:
    """Run the three servers under the same load (files in `folder`, created if needed).

    Returns the figures as a JSON-able dict (the module docstring says what each means).
    """
    connections = env_int("INTAKE_CONNECTIONS", 32)
    seconds = env_int("INTAKE_SECONDS", 3)
    rounds = env_int("INTAKE_ROUNDS", 6)
    threads = env_int("INTAKE_THREADS", 2)
    tool = os.environ.get("INTAKE_TOOL", "") or ("wrk" if wrk_path() else "python")
    if tool not in ("wrk", "python") or (tool == "wrk" and wrk_path() is None):
        raise SystemExit(f"INTAKE_TOOL must be wrk (installed) or python, not {tool!r}")
    threads = min(threads, connections)
    folder.mkdir(parents=True, exist_ok=True)
    runner = _Runner(folder, connections, seconds, threads, tool)
    hello_bodies = runner.bodies(_HELLO_BODIES, "hello")  # hello stores nothing: may repeat
    slices: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    finals: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as servers:
        ports = {}
        for kind in KINDS:
            port, finals[kind] = servers.enter_context(
                _server(kind, kind, folder, runner.config, runner.profile_dir)
            )
            ports[kind] = port
        for round_number in range(rounds):
            # Rotated each round; round 0 starts with hello, whose slice sizes the bodies.
            turn = round_number % len(KINDS)
            for kind in KINDS[turn:] + KINDS[:turn]:
                if kind == "hello":
                    slices[kind].append(runner.load(ports[kind], hello_bodies))
                    continue
                bodies = runner.fresh_bodies(f"{kind}-{round_number}")
                slices[kind].append(runner.load(ports[kind], bodies))
                for path in bodies:
                    path.unlink()
    figures = {kind: _totals(each) for kind, each in slices.items()}
    per_round = [
        {
            "esd_vs_hello": _ratio(esd["rps"], hello["rps"]),
            "esd_vs_naive": _ratio(esd["rps"], naive["rps"]),
        }
        for hello, naive, esd in zip(slices["hello"], slices["naive"], slices["esd"], strict=True)
    ]
    vs_hello = figures["esd"]["rps"] / figures["hello"]["rps"]
    vs_naive = figures["esd"]["rps"] / figures["naive"]["rps"]
    store = {kind: runner.store_check(kind, slices[kind], finals[kind]) for kind in STORE_KINDS}
    return {
        "tool": tool,
        "connections": connections,
        "slice_seconds": seconds,
        "rounds": rounds,
        **({"threads": threads} if tool == "wrk" else {}),
        **figures,
        "esd_vs_hello": round(vs_hello, 2),
        "esd_vs_naive": round(vs_naive, 2),
        "per_round": per_round,
        "aims": {
            **AIMS,
            "met": vs_hello >= AIMS["esd_vs_hello"] and vs_naive >= AIMS["esd_vs_naive"],
            "rounds_meeting_both": sum(
                r["esd_vs_hello"] >= AIMS["esd_vs_hello"]
                and r["esd_vs_naive"] >= AIMS["esd_vs_naive"]
                for r in per_round
            ),
        },
        "errors": {kind: _summed_errors(each) for kind, each in slices.items()},
        "store": store,
        "store_consistent": all(check["consistent"] for check in store.values()),
        "bodies_repeated": any(s["wrapped"] for kind in STORE_KINDS for s in slices[kind]),
        "durability": "WAL, synchronous=FULL; each server in its own process and store",
    }


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator else 0.0


def _totals(slices: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A kind's figures over all its slices (the module docstring says how each is taken)."""
    ok = sum(int(s["ok"]) for s in slices)
    seconds = sum(float(s["seconds"]) for s in slices)
    return {
        "rps": round(ok / seconds) if seconds else 0,
        "p50_ms": round(statistics.median(float(s["p50_ms"]) for s in slices), 2),
        "p99_ms": round(statistics.median(float(s["p99_ms"]) for s in slices), 2),
        "max_ms": max(float(s["max_ms"]) for s in slices),
        "requests": sum(int(s["requests"]) for s in slices),
        "ok": ok,
        "seconds": round(seconds, 2),
        "rps_each_round": [s["rps"] for s in slices],
    }


def _summed_errors(slices: Sequence[dict[str, Any]]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for figures in slices:
        for name, count in figures["errors"].items():
            errors[name] = errors.get(name, 0) + int(count)
    return errors


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="esd-bench-intake-") as tmp:
        results = intake_benchmark(Path(tmp))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

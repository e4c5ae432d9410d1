"""The push pipeline benchmark: orders/s into each MIS at a fixed latency per call.

    python -m tests.bench.push [TARGET ...]   # this part only; `make bench` includes it

A target is one provider's bench profile (`tests.bench.push_targets`: its sandbox, how it is
seeded, its account tables, the orders and the aim). For each concurrency, the real daemon
(`esd run`, a subprocess) pushes orders into the target's sandbox served from another subprocess
(so neither shares the other's GIL; the sandbox is driven over its stdin by
`python -m tests.bench.push --sandbox TARGET`, see `_serve_sandbox`). Every call is answered
`latency_ms` after it arrived, as a remote MIS would answer (`sandbox_answer_ms` shows the answer
time the sandbox kept).

The orders are each target's common case (its `scenario`): for Pace, a known customer found by
the site user's e-mail, shipping to the address Pace already has as that customer's contact, so
nothing but the job and its children is created (`created` in the figures proves it). Each order
has 2 items, both to that one address.

One warm-up order is pushed first (the driver loads its WSDLs); then `orders` orders are submitted
over the operator socket (`submit`, one after the other) and the clock runs from the first submit
to the last item's `pushed` transition (read from the store, read-only). Figures per concurrency:

- `orders_per_s`; `calls_per_order` (the sandbox's call counts over the measured orders /
  `orders`; also per operation);
- `limit_orders_per_s`: the latency-bound limit, concurrency / (calls per order x latency);
  `ratio` = orders_per_s / limit (the aim: at least `AIM`); `sandbox_answer_ms`: the sandbox's
  mean time from a call's arrival to its answer (the latency the limit assumes, kept by the
  sandbox: what is left of the gap is the daemon's);
- where the time goes: `push_seconds` (claim -> pushed per order: mean, p50, p95; `ideal` is
  calls per order x latency), `overhead_ms_per_call` (the mean push's excess over the ideal, per
  call), `mean_in_flight` (the sum of push times over the measured span: how many pushes ran at
  once on average), `ramp_seconds` (first submit -> first claim) and `submit_seconds`;
- `cpu`: the CPU the daemon used over the measured span (cores, and ms per order: one event loop
  can give about 1000 ms/s, so orders/s cannot pass 1000 / daemon_ms_per_order), and the
  sandbox's (cores, and ms per SOAP call: its parsing, schema validation and acting, inside the
  latency), and the submitters' (ms per order: they run in this process, on this machine);
  `load_average` (1 min, before the run) and `calibration_ms` (a fixed loop's time
  just before the run): other work on the machine, or a slower machine, shows there.

Speed is never asserted by a test. Environment overrides: PUSH_ORDERS (400: the orders at the
highest concurrency; lower ones get proportionally fewer, at least 10, so each run takes about as
long), PUSH_CONCURRENCY ("1,4,8"), PUSH_LATENCY_MS (20), PUSH_TARGETS (every target),
PUSH_SUBMITTERS (4: orders are submitted over that many operator-socket connections at once, as
a storefront's webhooks arrive, so the submission round trip does not bound a fast MIS's rate).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from daemon.operator.client import OperatorClient
from daemon.orders.model import Order
from tests.bench.push_targets import TARGETS, PushTarget, SandboxControl
from tests.bench.settings import env_int
from tests.daemon_process import DaemonProcess

__all__ = ["every_push_benchmark", "main", "push_benchmark", "run_push", "wanted_targets"]

_FIRST_ORDER = 2000
#: operator-socket connections submitting the orders at once (PUSH_SUBMITTERS)
_SUBMITTERS = env_int("PUSH_SUBMITTERS", 4)
_WARM_UP_ORDER = "1999"
_POLL_SECONDS = 0.05


def _env_concurrencies() -> list[int]:
    value = os.environ.get("PUSH_CONCURRENCY", "") or "1,4,8"
    parts = [p.strip() for p in value.split(",")]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise SystemExit(
            f"PUSH_CONCURRENCY must be positive whole numbers separated by commas, not {value!r}"
        )
    return sorted({int(p) for p in parts})


# -- the orders and the known customers -----------------------------------------------------------


# -- the sandbox in its own process ---------------------------------------------------------------


class _SandboxProcess(SandboxControl):
    """A target's sandbox in a child process, driven by JSON lines over the child's stdin."""

    def __init__(self, target: PushTarget) -> None:
        self.target = target
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.push", "--sandbox", target.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = str(self._answer()["url"])

    @property
    def pid(self) -> int:
        return self._process.pid

    def call(self, op: str, **args: Any) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self._process.stdin.flush()
        return self._answer()["ok"]

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            name = self.target.name
            raise RuntimeError(f"the {name} sandbox process exited ({self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the {self.target.name} sandbox process: {answer['error']}")
        return answer

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()  # EOF: the child stops its server and exits
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


@contextlib.contextmanager
def _sandbox(target: PushTarget) -> Iterator[_SandboxProcess]:
    sandbox = _SandboxProcess(target)
    try:
        yield sandbox
    finally:
        sandbox.close()


def _serve_sandbox(target: PushTarget, commands: TextIO, answers: TextIO) -> None:
    """The child: serve the target's sandbox; answer one JSON line per command until EOF.

    Commands: {"op": "set_faults" | "counts" | one of the target's seed ops, "args": {...}}.
    `counts` is the sandbox's state without the objects themselves: calls per operation, the
    answered calls and their seconds, and the number of objects of each type.
    """
    sandbox = target.make_sandbox()
    sandbox.start()
    ops: Mapping[str, Any] = {
        **target.sandbox_ops(sandbox),
        "set_faults": lambda **knobs: target.set_latency(sandbox, int(knobs["latency_ms"])),
        "counts": lambda: target.counts(sandbox),
    }
    try:
        answers.write(json.dumps({"url": sandbox.url}) + "\n")
        answers.flush()
        for line in commands:
            try:
                command = json.loads(line)
                answer = {"ok": ops[command["op"]](**command.get("args", {}))}
            except Exception as exc:  # answered, so the bench names what went wrong
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            answers.write(json.dumps(answer, default=str) + "\n")
            answers.flush()
    finally:
        sandbox.stop()


# -- the daemon -----------------------------------------------------------------------------------


def _config_text(target: PushTarget, folder: Path, url: str, concurrency: int) -> str:
    # Retry defaults; the daemon's default log level; a rate that never limits (one token per
    # push); the status poll (first due after 300 s) stays out of the measured span; no webhook
    # listener (its default port may be taken, and nothing arrives there).
    return textwrap.dedent(
        f"""
        [daemon]
        state_dir = "{folder}"
        socket = "{folder}/esd.sock"
        log_level = "info"
        drain_seconds = 5
        [listeners.webhook]
        enabled = false
        """
    ) + target.account_toml(url, concurrency)


def _submit_args(order: Order) -> dict[str, Any]:
    return {
        "source": "storefront:shop",
        "dedupe_key": f"{order.order_number}-v1",
        "kind": "order.snapshot",
        "payload": {"order": order.to_json()},
    }


def _submit(daemon: DaemonProcess, sock: Path, order: Order) -> None:
    answer = daemon.call(sock, "submit", _submit_args(order))
    if answer.get("duplicate"):
        raise RuntimeError(f"order {order.order_number} was submitted twice")


def _submit_all(sock: Path, requests: Sequence[dict[str, Any]], submitters: int) -> None:
    """Submit every request over `submitters` operator-socket connections at once, each
    kept open and taking the next request once its last is answered, all on one event loop.

    The submitters stand in for a storefront on another machine, so they must cost this one
    little: a connection and an event loop per submit (`esd submit`'s way) cost 0.8-1.0 ms
    of CPU an order, half a core of this 2-core machine while the orders were submitted, and
    the daemon and the sandbox waited for it (now 0.2 ms: `cpu.submitters_ms_per_order`)."""
    left = iter(requests)

    async def submitter() -> None:
        async with OperatorClient(sock, timeout=30) as client:
            for args in left:  # shared: each takes the next (one loop, no preemption here)
                answer = await client.call("submit", args)
                if answer.get("duplicate"):
                    raise RuntimeError(f"{args['dedupe_key']} was submitted twice")

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(submitters):
                tg.start_soon(submitter)

    anyio.run(main)


def _item_states(database: Path, orders: Sequence[str]) -> dict[str, int]:
    """State -> items of `orders`, read from the store without writing to it."""
    marks = ",".join("?" * len(orders))
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            f"SELECT state, COUNT(*) FROM items WHERE order_number IN ({marks}) GROUP BY state",
            list(orders),
        ).fetchall()
    return {str(state): int(n) for state, n in rows}


def _wait_pushed(database: Path, orders: Sequence[str], deadline: float) -> dict[str, int]:
    """Poll the store until every item of `orders` is pushed (or one fails, or time is up)."""
    wanted = 2 * len(orders)
    while True:
        states = _item_states(database, orders) if database.exists() else {}
        if states.get("pushed", 0) == wanted:
            return states
        if states.get("failed") or states.get("retrying") or time.monotonic() > deadline:
            return states
        time.sleep(_POLL_SECONDS)


def _phases(database: Path, orders: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Order -> (first claim, last pushed) times of its items, from the transition history."""
    marks = ",".join("?" * len(orders))
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT i.order_number, MIN(CASE WHEN t.to_state = 'pushing' THEN t.at END),"
            " MAX(CASE WHEN t.to_state = 'pushed' THEN t.at END)"
            " FROM transitions t JOIN items i ON i.id = t.subject_id"
            f" WHERE t.chart = 'order_item' AND i.order_number IN ({marks})"
            " GROUP BY i.order_number",
            list(orders),
        ).fetchall()
    return {str(order): (float(claimed), float(pushed)) for order, claimed, pushed in rows}


def _calibration_ms() -> float:
    """A fixed pure-Python loop, best of 5, in ms: this machine's speed now (a shared VM's
    speed can change by half within minutes; lower is faster)."""
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        sum(i * i for i in range(100_000))
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:  # not Linux, or the process is gone
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _rounded(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}


def run_push(
    target: PushTarget, folder: Path, *, concurrency: int, orders: int, latency_ms: int
) -> dict[str, Any]:
    """One run: a fresh sandbox and daemon (files in `folder`), `orders` orders at `concurrency`.

    Returns the figures of the module docstring as a JSON-able dict.
    """
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "esd.sock"
    database = folder / "esd.sqlite3"
    numbers = [str(_FIRST_ORDER + n) for n in range(orders)]
    latency = latency_ms / 1000
    load = os.getloadavg()[0]
    calibration = _calibration_ms()
    with _sandbox(target) as sandbox:
        target.seed(sandbox)
        config = folder / "esd.toml"
        text = _config_text(target, folder, sandbox.url, concurrency)
        config.write_text(text, encoding="utf-8")
        daemon = DaemonProcess(config, folder)
        try:
            daemon.start()
            _submit(daemon, sock, target.order(_WARM_UP_ORDER, 0))
            warm = _wait_pushed(database, [_WARM_UP_ORDER], time.monotonic() + 60)
            if warm.get("pushed") != 2:
                raise RuntimeError(f"the warm-up order did not push: {warm}\n{daemon.log_text()}")
            sandbox.call("set_faults", latency_ms=latency_ms)
            before = sandbox.call("counts")
            assert daemon.proc is not None
            pids = {"daemon": daemon.proc.pid, "sandbox": sandbox.pid}
            cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
            prepared = [_submit_args(target.order(number, n)) for n, number in enumerate(numbers)]
            # Generous: ten times the latency-bound time of 40 calls per order.
            deadline = time.monotonic() + 60 + 10 * orders * 40 * latency / concurrency
            started = time.time()
            submitter_cpu = time.process_time()
            # Several submitters, as webhooks from a storefront arrive: one at a time, the
            # operator socket's round trip (not the push) would bound a fast MIS's rate.
            _submit_all(sock, prepared, _SUBMITTERS)
            submitter_cpu = time.process_time() - submitter_cpu
            submitted = time.time()
            states = _wait_pushed(database, numbers, deadline)
            after = sandbox.call("counts")
            cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            if daemon.terminate() != 0:
                raise RuntimeError(f"the daemon did not stop cleanly\n{daemon.log_text()}")
        finally:
            daemon.close()
    figures: dict[str, Any] = {
        "concurrency": concurrency,
        "submitters": _SUBMITTERS,
        "orders": orders,
        "load_average": round(load, 2),
        "calibration_ms": calibration,
    }
    if states.get("pushed", 0) != 2 * orders:
        return {**figures, "error": "not every item was pushed", "items": states}
    phases = _phases(database, numbers)
    first_claim = min(claimed for claimed, _ in phases.values())
    last_pushed = max(pushed for _, pushed in phases.values())
    elapsed = last_pushed - started
    calls = _diff(after["calls"], before["calls"])
    calls_per_order = sum(calls.values()) / orders
    span = time.time() - started  # the CPU was counted until now, a little past last_pushed
    # No limit without latency (a run at 0 ms shows the CPU-bound rate).
    limit = concurrency / (calls_per_order * latency) if latency else None
    rate = orders / elapsed
    pushes = [pushed - claimed for claimed, pushed in phases.values()]
    ideal = calls_per_order * latency
    answered = {k: after["answered"][k] - before["answered"][k] for k in ("calls", "seconds")}
    return {
        **figures,
        "latency_ms": latency_ms,
        "seconds": round(elapsed, 2),
        "orders_per_s": round(rate, 2),
        "limit_orders_per_s": round(limit, 2) if limit else None,
        "ratio": round(rate / limit, 2) if limit else None,
        "calls_per_order": round(calls_per_order, 2),
        "sandbox_answer_ms": round(answered["seconds"] / max(answered["calls"], 1) * 1000, 2),
        "calls_per_order_by_operation": {
            op: round(n / orders, 2) for op, n in sorted(calls.items(), key=lambda kv: -kv[1])
        },
        "created": _diff(after["objects"], before["objects"]),
        "push_seconds": {
            "mean": round(statistics.fmean(pushes), 3),
            "p50": round(_percentile(pushes, 0.5), 3),
            "p95": round(_percentile(pushes, 0.95), 3),
            "ideal": round(ideal, 3),
        },
        "overhead_ms_per_call": round(
            (statistics.fmean(pushes) - ideal) / calls_per_order * 1000, 2
        ),
        "mean_in_flight": round(sum(pushes) / (last_pushed - first_claim), 2),
        "cpu": {
            "daemon_cores": _rounded(cpu["daemon"] / span, 2),
            "daemon_ms_per_order": _rounded(cpu["daemon"] / orders * 1000, 1),
            "sandbox_cores": _rounded(cpu["sandbox"] / span, 2),
            "sandbox_ms_per_call": _rounded(cpu["sandbox"] / sum(calls.values()) * 1000, 2),
            "submitters_ms_per_order": _rounded(submitter_cpu / orders * 1000, 2),
        },
        "ramp_seconds": round(first_claim - started, 3),
        "submit_seconds": round(submitted - started, 2),
    }


def push_benchmark(folder: Path, target: PushTarget) -> dict[str, Any]:
    """Every configured concurrency (files in `folder`, created if needed); figures as JSON."""
    top_orders = env_int("PUSH_ORDERS", 400)
    latency_ms = env_int("PUSH_LATENCY_MS", 20)
    concurrencies = _env_concurrencies()
    top = max(concurrencies)
    runs = [
        run_push(
            target,
            folder / f"c{concurrency}",
            concurrency=concurrency,
            orders=max(10, top_orders * concurrency // top),
            latency_ms=latency_ms,
        )
        for concurrency in concurrencies
    ]
    ratios = [run["ratio"] for run in runs if run.get("ratio") is not None]
    return {
        "latency_ms": latency_ms,
        "cpus": os.cpu_count(),
        "scenario": f"{target.scenario}; one warm-up order first",
        "runs": runs,
        "aim": {
            "ratio": target.aim,
            "met": len(ratios) == len(runs) and all(r >= target.aim for r in ratios),
        },
        "processes": f"daemon (esd run) and {target.name} sandbox each in its own process",
    }


def wanted_targets(names: Sequence[str] = ()) -> list[PushTarget]:
    """The targets named (or in PUSH_TARGETS, or all), in the order given."""
    chosen = list(names) or [
        n.strip() for n in os.environ.get("PUSH_TARGETS", ",".join(TARGETS)).split(",") if n.strip()
    ]
    unknown = [n for n in chosen if n not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown push target(s) {unknown}; known: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in chosen]


def every_push_benchmark(folder: Path, names: Sequence[str] = ()) -> dict[str, Any]:
    """Target name -> its figures, for every wanted target."""
    return {t.name: push_benchmark(folder / t.name, t) for t in wanted_targets(names)}


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--sandbox"] and len(args) == 2:
        (target,) = wanted_targets(args[1:])
        _serve_sandbox(target, sys.stdin, sys.stdout)
        return
    if any(a.startswith("-") for a in args):
        raise SystemExit("usage: python -m tests.bench.push [TARGET ...]")
    with tempfile.TemporaryDirectory(prefix="esd-bench-push-") as tmp:
        results = every_push_benchmark(Path(tmp), args)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

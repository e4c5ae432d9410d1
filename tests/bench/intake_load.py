"""Loopback load for the intake benchmark: signed Pressero deliveries, wrk or pure Python.

The requests are prepared before the run: `write_bodies` writes signed webhook bodies (each a
unique MessageID, so the store never sees a duplicate) into one file per load thread, one
`<MessageHash>\\t<body>` line each. Both generators send them in order, cycling if they run out
(and say so: `wrapped`), over kept-alive HTTP/1.1 connections, and report the same figures:

    {"requests", "ok", "seconds", "rps", "p50_ms", "p99_ms", "max_ms", "wrapped",
     "errors": {"connect", "read", "write", "timeout", "non_2xx"}}

`rps` counts 2xx answers only, so a server that fails fast does not look fast.

- `run_wrk`: wrk with a Lua script that reads its thread's file in `init`, makes one request
  of the next line per `request()`, and prints the summary as JSON from `done()`. wrk stops
  at the deadline with requests in flight; those are neither counted nor waited for.
- `run_python` (`python -m tests.bench.intake_load`, in its own process): asyncio streams,
  one task per connection, a per-request latency list. It sends nothing new after the deadline
  and waits for the answers in flight, so every request sent is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from daemon.storefronts.pressero.guesses import HashVariant
from daemon.storefronts.pressero.signature import MESSAGE_HASH_HEADER, expected_hash
from tests.intake_server import envelope

__all__ = [
    "WEBHOOK_PATH",
    "run_python",
    "run_python_process",
    "run_wrk",
    "write_bodies",
    "wrk_path",
]

WEBHOOK_PATH = "/webhooks/pressero/shop"

_WRK_MARK = "ESD-WRK-JSON "

# Runs inside wrk (LuaJIT). `setup` (main state) gives each thread its file; each thread's
# `init` reads it; `request` formats the next line; `done` (main state) sums the wrap counts.
_WRK_SCRIPT = r"""
local files = {FILES}
local started = {}

function setup(thread)
  started[#started + 1] = thread
  thread:set("file", files[#started])
end

function init(args)
  -- Only read here: wrk starts a thread as soon as its init returns, before the next one's.
  lines = {}
  for line in io.lines(file) do
    lines[#lines + 1] = line
  end
  next_index = 0
  wrapped = 0
end

function request()
  next_index = next_index + 1
  if next_index > #lines then
    next_index = 1
    wrapped = wrapped + 1
  end
  local line = lines[next_index]
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", "{PATH}", {
    ["Content-Type"] = "application/json",
    ["{HASH_HEADER}"] = line:sub(1, tab - 1),
  }, line:sub(tab + 1))
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(started) do
    wraps = wraps + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    '{MARK}{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"non_2xx":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, wraps))
end
"""


def write_bodies(
    folder: Path, count: int, files: int, *, key: str, variant: HashVariant, tag: str
) -> list[Path]:
    """`count` signed deliveries with unique MessageIDs, dealt round-robin into `files` files."""
    paths = [folder / f"bodies-{tag}-{n}.txt" for n in range(files)]
    outs = [path.open("w", encoding="utf-8") for path in paths]
    try:
        for n in range(count):
            body = envelope("OrderItemApproved", 100000 + n, seq=1, message_id=f"{tag}-{n}")
            line = expected_hash(key, body, variant) + "\t" + body.decode() + "\n"
            outs[n % files].write(line)
    finally:
        for out in outs:
            out.close()
    return paths


def read_requests(paths: Sequence[Path], port: int) -> list[bytes]:
    """The prepared HTTP/1.1 requests of every file, interleaved as they were dealt."""
    per_file = [_requests_of(path, port) for path in paths]
    longest = max((len(reqs) for reqs in per_file), default=0)
    return [reqs[i] for i in range(longest) for reqs in per_file if i < len(reqs)]


def _requests_of(path: Path, port: int) -> list[bytes]:
    requests = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            signature, _, body = line.rstrip("\n").partition("\t")
            data = body.encode()
            head = (
                f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\n{MESSAGE_HASH_HEADER}: {signature}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            )
            requests.append(head.encode() + data)
    return requests


def wrk_path() -> str | None:
    """The wrk binary, if installed."""
    return shutil.which("wrk")


def run_wrk(
    wrk: str,
    port: int,
    bodies: Sequence[Path],
    *,
    connections: int,
    seconds: int,
    script_dir: Path,
) -> dict[str, Any]:
    """One wrk run (one thread per bodies file) against 127.0.0.1:`port`; its figures."""
    script = script_dir / "intake.lua"
    lua_files = "{" + ", ".join(json.dumps(str(p)) for p in bodies) + "}"
    script.write_text(
        _WRK_SCRIPT.replace("{FILES}", lua_files)
        .replace("{PATH}", WEBHOOK_PATH)
        .replace("{HASH_HEADER}", MESSAGE_HASH_HEADER)
        .replace("{MARK}", _WRK_MARK),
        encoding="utf-8",
    )
    command = [
        wrk,
        f"--threads={len(bodies)}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        "--latency",
        f"--script={script}",
        f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    found = [line for line in done.stdout.splitlines() if line.startswith(_WRK_MARK)]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[:500]}")
    raw = json.loads(found[-1][len(_WRK_MARK) :])
    duration = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["non_2xx"]
    return {
        "requests": raw["requests"],
        "ok": ok,
        "seconds": round(duration, 2),
        "rps": round(ok / duration),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "wrapped": raw["wrapped"],
        "errors": {k: raw[k] for k in ("connect", "read", "write", "timeout", "non_2xx")},
    }


def run_python_process(
    port: int, bodies: Sequence[Path], *, connections: int, seconds: int
) -> dict[str, Any]:
    """`run_python` in a child process (so it does not share a GIL with anything)."""
    command = [
        sys.executable,
        "-m",
        "tests.bench.intake_load",
        f"--port={port}",
        f"--connections={connections}",
        f"--seconds={seconds}",
        *map(str, bodies),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"python load failed ({done.returncode}): {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


async def run_python(
    port: int, bodies: Sequence[Path], *, connections: int, seconds: float
) -> dict[str, Any]:
    """Keep `connections` kept-alive connections busy for `seconds`; their figures."""
    requests = read_requests(bodies, port)
    if not requests:
        raise ValueError("no request bodies to send")
    tally = _Tally(requests)
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_connection(port, tally, deadline) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies = sorted(tally.latencies)
    done = len(latencies)
    return {
        "requests": done,
        "ok": tally.ok,
        "seconds": round(elapsed, 2),
        "rps": round(tally.ok / elapsed),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
        "max_ms": round((latencies[-1] if latencies else 0.0) * 1000, 2),
        "wrapped": tally.wrapped,
        "errors": {**tally.errors, "non_2xx": done - tally.ok},
    }


class _Tally:
    def __init__(self, requests: list[bytes]) -> None:
        self._requests = requests
        self._cycle = self._forever()
        self.latencies: list[float] = []
        self.ok = 0
        self.wrapped = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}

    def _forever(self) -> Iterator[bytes]:
        while True:
            yield from self._requests
            self.wrapped += 1

    def next_request(self) -> bytes:
        return next(self._cycle)


async def _connection(port: int, tally: _Tally, deadline: float) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        tally.errors["connect"] += 1
        return
    try:
        while time.perf_counter() < deadline:
            request = tally.next_request()
            sent = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
            except OSError:
                tally.errors["write"] += 1
                return
            try:
                status = await asyncio.wait_for(_read_response(reader), timeout=10)
            except TimeoutError:
                tally.errors["timeout"] += 1
                return
            except (OSError, asyncio.IncompleteReadError, ValueError):
                tally.errors["read"] += 1
                return
            tally.latencies.append(time.perf_counter() - sent)
            if 200 <= status < 400:
                tally.ok += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; its status. (Only what our servers send: Content-Length bodies.)"""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


def _percentile(ordered: Sequence[float], percent: float) -> float:
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered)) - 1))
    return ordered[rank]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.intake_load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("bodies", type=Path, nargs="+", help="files written by write_bodies")
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_python(args.port, args.bodies, connections=args.connections, seconds=args.seconds)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

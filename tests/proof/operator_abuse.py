"""Part 4, operator socket abuse: lone surrogates, garbage, huge lines, idle, half-closed and
rapidly cycling clients against the real daemon's unix socket; `status` must answer throughout
and the daemon stay up. Sizes: PROOF_OPERATOR_IDLE (100 idle clients), PROOF_OPERATOR_CYCLES
(500 connect/disconnect)."""

from __future__ import annotations

import collections
import socket
import time
from pathlib import Path
from typing import Any

from tests.proof.common import Promises, env_int
from tests.proof.stack import Stack

__all__ = ["run"]

_LINES = {
    "lone_surrogate_escaped": b'{"v": 1, "id": 1, "cmd": "order", "args": {"order": "\\ud800"}}\n',
    "lone_surrogate_raw": b'{"v": 1, "id": 2, "cmd": "order", "args": {"order": "\xed\xa0\x80"}}\n',
    "surrogate_in_cmd": b'{"v": 1, "id": 3, "cmd": "\\udfff"}\n',
    "garbage": b"\x00\xff\xfe garbage {{{{\n",
    "not_an_object": b"[1, 2, 3]\n",
    "deep": b"[" * 100_000 + b"\n",
    "huge_line": b'{"v": 1, "id": 4, "cmd": "status", "pad": "' + b"x" * 3_000_000 + b'"}\n',
    "invalid_utf8": b'{"v": 1, "id": 5, "cmd": "st\xc3\x28tus"}\n',
    "unknown_cmd": b'{"v": 1, "id": 6, "cmd": "rm -rf"}\n',
}


def _answer(path: Path, payload: bytes, *, half_close: bool = False) -> str:
    """The first answer line to `payload` (its "ok"/error type), or how the socket ended."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(20)
        conn.connect(str(path))
        try:
            conn.sendall(payload)
            if half_close:
                conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            return f"send ended: {type(exc).__name__}"
        data = b""
        try:
            while b"\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, ConnectionResetError) as exc:
            return type(exc).__name__
    return data.split(b"\n", 1)[0][:160].decode("utf-8", "replace") or "closed"


def run(folder: Path, **_options: Any) -> dict[str, Any]:
    idle = env_int("PROOF_OPERATOR_IDLE", 100)
    cycles = env_int("PROOF_OPERATOR_CYCLES", 500)
    stack = Stack(folder, storefront=False, daemon_extra="operator_idle_seconds = 5")
    promises = Promises()
    figures: dict[str, Any] = {}
    failures: collections.Counter[str] = collections.Counter()

    def status_answers(when: str) -> None:
        try:
            if "accounts" not in stack.status():
                failures[when] += 1
        except Exception:  # counted: the promise is that it answers
            failures[when] += 1

    try:
        stack.daemon.start()
        answers = {}
        for name, line in _LINES.items():
            answers[name] = _answer(stack.sock, line)
            status_answers(name)
        answers["half_closed_status"] = _answer(
            stack.sock, b'{"v": 1, "id": 9, "cmd": "status"}\n', half_close=True
        )
        figures["answers"] = answers
        held = []
        for _ in range(idle):
            conn = socket.socket(socket.AF_UNIX)
            conn.connect(str(stack.sock))
            held.append(conn)
        # Over the 64 served + 1 reserved connections, the idle ones hold every slot until the
        # operator idle timeout (5 s here) closes them: `status` must answer by then.
        started = time.monotonic()
        first_try = 0
        while True:
            try:
                answered = "accounts" in stack.status()
            except Exception:  # refused while the idle clients hold the slots
                answered = False
            if answered:
                break
            first_try += 1
            if time.monotonic() - started > 20:
                failures["with idle clients"] += 1
                break
            time.sleep(0.2)
        figures["status_with_idle_clients"] = {
            "refused_tries": first_try,
            "answered_after_s": round(time.monotonic() - started, 2),
        }
        for conn in held:
            conn.close()
        for n in range(cycles):
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(str(stack.sock))
                if n % 2:
                    conn.sendall(b'{"v": 1, "id": 1, "cmd": "status"}')  # no newline, then gone
            if n % 100 == 0:
                status_answers("cycling")
        status_answers("after")
        figures["idle_clients"] = idle
        figures["connect_disconnect_cycles"] = cycles
        promises.expect("status not answered", dict(failures), {})
        promises.holds("daemon alive", stack.alive())
        promises.holds(
            "a bad line is answered with an error, not a crash",
            all(
                a.startswith("{") or a in ("closed", "send ended: BrokenPipeError")
                for a in answers.values()
            ),
            answers,
        )
        promises.expect("daemon exit code after SIGTERM", stack.daemon.terminate(), 0)
    finally:
        stack.close()
    return {**figures, "promises": promises.checks, "broken": promises.broken}

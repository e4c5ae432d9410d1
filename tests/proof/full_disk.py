"""Part 5, a full disk: the daemon's state dir on a 2 MiB tmpfs (root only; skipped with the
reason otherwise), filled; webhooks get 503 (a 200 only for what was stored), the daemon stays
up; freed, everything acknowledged is processed."""

from __future__ import annotations

import os
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.daemon_process import wait_until
from tests.integration.test_full_disk import fill
from tests.proof.common import Promises, read_store
from tests.proof.fuzz import _envelope, _sign
from tests.proof.stack import Stack

__all__ = ["run"]


def run(folder: Path, **_options: Any) -> dict[str, Any]:
    where = folder / "small-fs"
    where.mkdir(parents=True)
    if os.geteuid() != 0:
        return {"skipped": "mounting a small tmpfs to fill needs root", "broken": []}
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        return {"skipped": f"cannot mount a tmpfs: {mounted.stderr.strip()}", "broken": []}
    promises = Promises()
    statuses: dict[str, dict[str, int]] = {"before": {}, "full": {}, "after": {}}
    acknowledged: list[str] = []
    rng = random.Random(0)
    try:
        stack = Stack(folder / "daemon", storefront=False, state_dir=where)
        try:
            stack.daemon.start()
            with httpx.Client(base_url=f"http://127.0.0.1:{stack.port}", timeout=30) as http:

                def post(phase: str) -> int:
                    message_id = f"disk-{uuid.uuid4()}"
                    body = _envelope(message_id, rng)
                    answer = http.post(
                        "/webhooks/pressero/shop",
                        content=body,
                        headers={"MessageHash": _sign(body), "Content-Type": "application/json"},
                    )
                    key = str(answer.status_code)
                    statuses[phase][key] = statuses[phase].get(key, 0) + 1
                    if answer.status_code == 200:
                        acknowledged.append(message_id)
                    return answer.status_code

                post("before")
                fill(where / "filler")
                wait_until(lambda: post("full") == 503, 60, "a webhook refused for the full disk")
                for _ in range(20):
                    post("full")
                promises.holds("daemon alive while full", stack.alive())
                (where / "filler").unlink()
                wait_until(lambda: stack.status()["store"]["state"] == "ok", 60, "store ok")
                for _ in range(5):
                    post("after")

                def processed() -> bool:
                    rows = read_store(
                        stack.database,
                        "SELECT dedupe_key, status FROM events WHERE source = 'pressero:shop'",
                    )
                    done = {str(k) for k, s in rows if s == "done"}
                    return all(m in done for m in acknowledged)

                wait_until(processed, 60, "every acknowledged webhook processed")
            bad = {
                p: {s: n for s, n in by.items() if s not in ("200", "503")}
                for p, by in statuses.items()
            }
            promises.expect("answers other than 200/503", {p: b for p, b in bad.items() if b}, {})
            promises.holds("503 while full", statuses["full"].get("503", 0) > 0)
            promises.expect("refused after freeing", statuses["after"].get("503", 0), 0)
            promises.expect("daemon exit code after SIGTERM", stack.daemon.terminate(), 0)
        finally:
            stack.close()
    except AssertionError as exc:
        promises.holds("full disk run", False, str(exc)[-500:])
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)
    return {
        "answers": statuses,
        "acknowledged": len(acknowledged),
        "promises": promises.checks,
        "broken": promises.broken,
    }

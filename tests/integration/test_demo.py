"""`make demo` runs to the end: every scenario settles, nothing twice, no secret in the log."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.daemon_process import ROOT

pytestmark = pytest.mark.slow


def test_the_demo_runs_and_settles() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "daemon.demo"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "secrets never written" in out
    assert "Pace: 7 jobs, 8 parts, 7 shipments, 7 cartons" in out
    assert "account pace: excluded 2, failed 1, pending 1, pushed 8" in out
    assert "caught by the poll" in out
    assert "is now 'Order Completed', tracking 1Z999AA10123456784" in out
    # The "503 once" label is on the order that was retried (it used to land on whichever
    # order's job create came first).
    (line,) = [line for line in out.splitlines() if "(Pace answered 503 once)" in line]
    assert line.endswith("retried 1 time(s), now pushed"), line
    number = line.split()[2]
    labelled = [row for row in out.splitlines() if "Pace answers 503 once: retried" in row]
    assert labelled and all(row.split()[0] == number for row in labelled), labelled

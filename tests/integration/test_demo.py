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

"""`make demo`'s Tharstern part runs to the end: both paths pushed, status by webhook, a lost
webhook caught by the poll, the despatch on the storefront, nothing twice, no secret in the log."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.daemon_process import ROOT

pytestmark = pytest.mark.slow


def test_the_tharstern_demo_runs_and_settles() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "daemon.demo_tharstern"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "secrets never written" in out
    assert "item 1 (stock BC-STOCK) -> sales order SO" in out
    assert "its webhook LOST -> caught by the poll" in out
    assert "is now 'Shipping', tracking CN-DEMO-0042" in out
    assert "1 contact, 1 delivery address, 1 sales order, 1 estimate, 1 job, 1 attachment" in out
    assert "account tharstern: pushed 2" in out

"""A store with a retrying item and no retry timer (what issue 12's lost timer left behind) is
re-armed when the real daemon starts, and the item is then pushed to the real sandbox."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow

PASSWORD = "pw-rearm-4b1d-never-shown"


def test_a_retrying_item_without_a_timer_is_rearmed_at_start_and_pushed(tmp_path: Path) -> None:
    sandbox = ReferenceSandbox(login="esd", password=PASSWORD)
    sandbox.start()
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"mis": {"url": sandbox.url, "password": PASSWORD}},
            # A retry an hour away: within the test only the re-armed timer can push the item.
            retry="initial_seconds = 3600\nmax_seconds = 3600\ngive_up_after_seconds = 86400"
            "\njitter = 0",
        )
    )
    daemon = DaemonProcess(config, tmp_path)

    def states() -> dict[str, int]:
        return dict(daemon.call(sock, "status")["accounts"]["mis"]["states"])

    try:
        sandbox.set_faults(error_rate=1.0)  # every MIS request answers 503: a transient failure
        daemon.start()
        order = make_order(items=2)
        daemon.call(
            sock,
            "submit",
            {
                "source": "storefront:shop",
                "dedupe_key": "1001-v1",
                "kind": "order.snapshot",
                "payload": {"order": order.to_json()},
            },
        )
        wait_until(lambda: states() == {"retrying": 2}, 60, "both items retrying")
        assert daemon.terminate() == 0
        # The old bug's leftovers: item 1's retry was due a minute ago and no timer holds it.
        db = sqlite3.connect(tmp_path / "esd.sqlite3")
        with db:
            db.execute("DELETE FROM timers WHERE kind = 'retry' AND subject LIKE '%/1'")
            db.execute("UPDATE items SET next_retry_at = ? WHERE seq = 1", (time.time() - 60,))
        db.close()
        sandbox.set_faults(error_rate=0.0)
        daemon.start()
        wait_until(lambda: states().get("pushed") == 1, 30, "the re-armed item pushed")
        status = daemon.call(sock, "status")
        assert status["retries_rearmed_since_start"] == 1
        assert status["accounts"]["mis"]["states"] == {"pushed": 1, "retrying": 1}
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        state = sandbox.state()
        sandbox.stop()
    log = daemon.log_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    rearmed = [r for r in records if r.get("event") == "retry.rearmed"]
    assert [(r["order"], r["seq"], r["account"]) for r in rearmed] == [("1001", 1, "mis")]
    assert [sorted(line["line_key"] for line in job["lines"]) for job in state["jobs"]] == [["1"]]
    assert PASSWORD not in log

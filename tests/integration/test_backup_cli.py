"""`esd backup FILE` against a running daemon: a consistent, checked copy of its store, with
the path taken from the daemon's own config (no secrets needed), while it keeps writing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from daemon.cli import main
from tests.daemon_process import DaemonProcess
from tests.helpers import config_text

pytestmark = pytest.mark.slow


def test_backup_of_a_running_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "esd.toml"
    # A secret from an unset variable: the daemon gets it, the operator's shell does not.
    config.write_text(
        config_text(tmp_path, accounts={"mis": {"url": "http://127.0.0.1:9"}}).replace(
            'password = "s3cret-pw"', 'password = { env = "ESD_TEST_BACKUP_PW" }'
        )
    )
    daemon = DaemonProcess(config, tmp_path, env={"ESD_TEST_BACKUP_PW": "pw-only-for-daemon"})
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        for n in range(20):
            daemon.call(
                sock,
                "submit",
                {"source": "operator", "dedupe_key": f"k{n}", "kind": "note", "payload": {}},
            )
        copy = tmp_path / "backup.sqlite3"
        assert main(["--config", str(config), "--json", "backup", str(copy)]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["source"] == str(tmp_path / "esd.sqlite3")
        assert result["bytes"] == copy.stat().st_size
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            keys = {r[0] for r in conn.execute("SELECT dedupe_key FROM events")}
        assert {f"k{n}" for n in range(20)} <= keys
        # Never over an existing file unless asked.
        assert main(["--config", str(config), "backup", str(copy)]) == 1
        assert "exists" in capsys.readouterr().err
        assert main(["--config", str(config), "backup", "--force", str(copy)]) == 0
        assert daemon.terminate() == 0
    finally:
        daemon.close()

"""plan_reload: what a reload applies, what it names for a restart (the daemon test is
tests/integration/test_reload.py); the journald stream check on real files."""

from __future__ import annotations

import io
import os
from pathlib import Path

from daemon.config import Config, parse_config
from daemon.logs import journal_priority, writes_to_journal
from daemon.reload import ConfigHolder, plan_reload
from tests.helpers import make_config

URL = "http://127.0.0.1:9"


def test_nothing_changed_is_an_empty_plan(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    plan = plan_reload(config, make_config(tmp_path))
    assert plan.changed == () and plan.needs_restart == ()
    assert plan.config == config


def test_live_keys_are_applied_and_the_rest_keeps_its_running_value(tmp_path: Path) -> None:
    running = make_config(tmp_path, accounts={"mis": {"url": URL, "poll": 300}})
    new = make_config(
        tmp_path,
        accounts={"mis": {"url": "http://10.0.0.1", "poll": 30, "concurrency": 9}},
        site_accounts=[("mis", True, False)],
        retry="initial_seconds = 3\nmax_seconds = 60\njitter = 0",
    )
    plan = plan_reload(running, new)
    assert set(plan.changed) == {
        "retry.initial_seconds",
        "retry.max_seconds",
        "accounts.mis.status_poll_seconds",
        "sites.shop.activations[0].is_live",
    }
    assert set(plan.needs_restart) == {
        "accounts.mis.credentials.url",
        "accounts.mis.concurrency",
    }
    merged = plan.config
    assert merged.retry.initial_seconds == 3
    assert merged.accounts["mis"].status_poll_seconds == 30
    assert merged.sites["shop"].live_accounts() == ()
    assert merged.accounts["mis"].credentials["url"] == URL
    assert merged.accounts["mis"].concurrency == 4


def test_an_added_account_is_one_key_and_a_changed_secret_is_named_never_shown(
    tmp_path: Path,
) -> None:
    running = make_config(tmp_path, accounts={"mis": {"url": URL, "password": "old-pw-123"}})
    new = make_config(
        tmp_path,
        accounts={
            "mis": {"url": URL, "password": "new-pw-456"},
            "mis2": {"url": URL},
        },
    )
    plan = plan_reload(running, new)
    assert set(plan.needs_restart) == {
        "accounts.mis.credentials.password",
        "accounts.mis2",
        "sites.shop.activations",  # a second activation: not live-changeable
    }
    assert "mis2" not in plan.config.accounts
    assert "new-pw-456" not in repr(plan.needs_restart) + repr(plan.changed)
    status = ConfigHolder(plan.config).status()
    assert "old-pw-123" not in repr(status)


def test_journal_stream_must_be_the_stream_written_to(tmp_path: Path) -> None:
    ours, other = tmp_path / "ours.log", tmp_path / "other.log"
    ours.touch()
    other.touch()
    stat = os.stat(ours)
    env = {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
    with ours.open("w") as stream, other.open("w") as elsewhere:
        assert writes_to_journal(stream, env)
        assert not writes_to_journal(elsewhere, env)  # redirected: not the journal any more
        assert not writes_to_journal(stream, {})
        assert not writes_to_journal(stream, {"JOURNAL_STREAM": "garbage"})
    assert not writes_to_journal(io.StringIO(), env)  # no descriptor at all


def test_journal_priorities() -> None:
    assert [journal_priority(level) for level in ("debug", "info", "warning", "error")] == [
        "<7>",
        "<6>",
        "<4>",
        "<3>",
    ]
    assert journal_priority("critical") == "<2>"
    assert journal_priority(None) == "<6>"


def test_stdlib_and_structlog_lines_both_carry_the_prefix(tmp_path: Path) -> None:
    import json
    import logging

    from daemon.logs import configure_logging, get_logger, reset_logging

    out = tmp_path / "out.log"
    with out.open("w") as stream:
        try:
            configure_logging("info", stream=stream, journal=True)
            get_logger("esd.test").error("thing.failed", order="P-1")
            logging.getLogger("uvicorn.error").warning("slow client")
            get_logger("esd.test").debug("below.the.level")
        finally:
            reset_logging()
    lines = out.read_text().splitlines()
    assert [line[:3] for line in lines] == ["<3>", "<4>"]
    assert json.loads(lines[0][3:])["event"] == "thing.failed"
    assert json.loads(lines[1][3:])["event"] == "slow client"


def environments_config(environment: str, test_password: str = "test-pw-2") -> Config:
    text = f"""
[accounts.mis]
provider = "reference"
environment = "{environment}"
[accounts.mis.credentials.live]
url = "{URL}"
login = "esd"
password = "live-pw-1"
[accounts.mis.credentials.test]
url = "http://127.0.0.1:8"
login = "esd-test"
password = "{test_password}"
[accounts.mis.settings]
customer = "C100"
"""
    return parse_config(text, file="test.toml", environ={})


def test_flipping_the_environment_is_a_credentials_change_that_waits_for_a_restart() -> None:
    running = environments_config("live")
    plan = plan_reload(running, environments_config("test"))
    # Named by the switch alone: both environments' credentials are as they were.
    assert plan.needs_restart == ("accounts.mis.environment",)
    assert plan.changed == ()
    account = plan.config.accounts["mis"]
    assert account.environment == "live"  # the driver keeps the credentials it started with
    assert account.credentials["password"] == "live-pw-1"
    # and the way back, after a restart into test
    back = plan_reload(environments_config("test"), environments_config("live"))
    assert back.needs_restart == ("accounts.mis.environment",)
    assert back.config.accounts["mis"].credentials["password"] == "test-pw-2"


def test_a_changed_secret_of_the_environment_not_in_use_is_named_by_its_path() -> None:
    plan = plan_reload(environments_config("live"), environments_config("live", "new-pw-3"))
    assert plan.needs_restart == ("accounts.mis.credentials.test.password",)
    assert "new-pw-3" not in repr(plan.needs_restart) + repr(plan.changed)
    assert "new-pw-3" not in repr(ConfigHolder(plan.config).status())


def test_moving_one_table_into_environment_tables_names_the_keys_moved(tmp_path: Path) -> None:
    flat = make_config(tmp_path, accounts={"mis": {"url": URL, "password": "live-pw-1"}})
    tables = environments_config("live")
    plan = plan_reload(flat, tables)
    assert set(plan.needs_restart) >= {
        "accounts.mis.credentials.url",
        "accounts.mis.credentials.live",
        "accounts.mis.credentials.test",
    }
    assert plan.config.accounts["mis"].credentials == flat.accounts["mis"].credentials

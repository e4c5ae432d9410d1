"""`esd` against the real daemon (issue 11, "Day-one operations"): arguments are checked before
anything is stored, `--wait` says whether the work worked, replay works on any stored input, and
who gave a command is in the order's trace."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.cli import main
from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow


class Env:
    def __init__(self, daemon: DaemonProcess, sock: Path, mis: ReferenceSandbox) -> None:
        self.daemon = daemon
        self.sock = sock
        self.mis = mis

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        return self.daemon.call(self.sock, cmd, args)

    def esd(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main(["--socket", str(self.sock), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    def inbox_total(self) -> int:
        total: int = self.call("status")["inbox"]["total"]
        return total

    def submit(self, number: str = "1001") -> int:
        order = make_order(number, items=1)
        answer = self.call(
            "submit",
            {
                "source": "storefront:shop",
                "dedupe_key": number,
                "kind": "order.snapshot",
                "payload": {"order": order.to_json()},
            },
        )
        event_id: int = answer["id"]
        return event_id

    def item(self, number: str = "1001") -> dict[str, Any]:
        items = self.call("order", {"order": number})["items"]
        return items[0] if items else {}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    mis = ReferenceSandbox(login="esd", password="s3cret-pw")
    mis.start()
    config = tmp_path / "esd.toml"
    assert mis.url is not None
    config.write_text(config_text(tmp_path, accounts={"mis": {"url": mis.url}}))
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.start()
        yield Env(daemon, tmp_path / "esd.sock", mis)
    finally:
        daemon.close()
        mis.stop()


def test_unknown_names_are_exit_2_with_a_suggestion_and_nothing_is_stored(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.submit("1001")
    wait_until(lambda: env.item().get("state") == "pushed", 30, "order 1001 pushed")
    before = env.inbox_total()
    for argv, expected in [
        (["sync", "nope"], "unknown account 'nope'"),
        (["sync", "mus"], "did you mean 'mis'?"),
        (["push", "1001", "mus"], "did you mean 'mis'?"),
        (["push", "1011"], "no order 1011; did you mean 1001?"),
        (["poll", "pressero"], "unknown storefront 'pressero'"),
        (["import", "nope", "products"], "unknown account 'nope'"),
        (["import", "mis", "prices"], "cannot import prices; it can import: products"),
        (["list", "--state", "faild"], "did you mean 'failed'?"),
        (["list", "--account", "mus"], "did you mean 'mis'?"),
        (["replay", "999"], "no event 999"),
        (["test-connection", "mus"], "did you mean 'mis'?"),
    ]:
        code, out, err = env.esd(capsys, *argv)
        assert code == 2, (argv, code, out, err)
        assert expected in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
    assert env.inbox_total() == before, "a refused command stored an event"
    assert env.call("events", {"status": "poisoned"})["events"] == []


def test_push_wait_exit_code_says_whether_the_push_worked(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.mis.set_faults(error_rate=1.0)  # every call answers 503: the push keeps failing
    env.submit("1001")
    wait_until(lambda: env.item().get("state") == "retrying", 30, "the push retrying")

    code, out, err = env.esd(capsys, "push", "1001", "--wait", "--wait-timeout", "60")
    assert code == 1, (out, err)
    assert "retrying -> ready" in out
    assert "item 1 for mis: retrying" in out, out
    assert "push failed: item 1 for mis retrying: ServerError" in err, err
    assert env.item()["state"] == "retrying"

    env.mis.set_faults(error_rate=0.0)
    code, out, err = env.esd(capsys, "push", "1001", "--wait")
    assert code == 0, (out, err)
    assert "item 1 for mis: pushed" in out, out
    assert env.item()["state"] == "pushed"

    uid = os.getuid()
    by = f"by uid {uid} ({pwd.getpwuid(uid).pw_name})"
    trace = env.call("order", {"order": "1001"})["trace"]
    pushes = [t for t in trace if t["trigger"] == "operator_push"]
    assert len(pushes) == 2 and all(by in t["reason"] for t in pushes), trace
    operator_events = [e for e in env.call("events")["events"] if e["kind"] == "operator.push"]
    assert operator_events
    assert env.call("event", {"id": operator_events[0]["id"]})["payload"]["by"] == (
        f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    )


def test_a_failed_import_exits_non_zero(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.mis.set_faults(error_rate=1.0)
    code, out, err = env.esd(capsys, "import", "mis", "products")
    assert code == 1, (out, err)
    assert "import failed" in err and "ServerError" in err, err
    env.mis.set_faults(error_rate=0.0)
    code, out, err = env.esd(capsys, "import", "mis", "products", "--wait")
    assert code == 0, (out, err)
    assert "done" in out


def test_replay_of_a_processed_event_changes_nothing_and_says_so(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = env.submit("1001")
    wait_until(lambda: env.item().get("state") == "pushed", 30, "order 1001 pushed")
    jobs_before = len(env.mis.state()["jobs"])
    trace_before = env.call("order", {"order": "1001"})["trace"]

    code, out, err = env.esd(capsys, "replay", str(event_id))
    assert code == 0, (out, err)
    assert f"event {event_id}: done; nothing changed" in out, out
    assert env.call("order", {"order": "1001"})["trace"] == trace_before
    assert len(env.mis.state()["jobs"]) == jobs_before, "a replay pushed twice"

    # An event that records what the daemon did is refused: replaying it would do it twice.
    claims = [e for e in env.call("events")["events"] if e["kind"] == "push.claim"]
    code, out, err = env.esd(capsys, "replay", str(claims[0]["id"]))
    assert code == 2 and "would do it twice" in err, (out, err)


def test_watch_prints_the_table_again_each_time_it_changes(env: Env) -> None:
    watch = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "--socket", str(env.sock), "watch", "--count", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = watch.stdout.readline()
        assert first.startswith("--- "), first  # a snapshot, not a terminal redraw
        assert "\x1b[" not in first
        env.submit("1001")  # the table changes: a second snapshot, and --count 2 is reached
        out, err = watch.communicate(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    assert out.count("--- ") == 1 and "1001" in out, out
    assert "0 of 0 shown" in out or "1 of 1 shown" in out


def test_completion_scripts_complete_commands_options_and_states(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    (tmp_path / "esd.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        line = " ".join(["esd", *words])
        probe = (
            f"source {tmp_path / 'esd.bash'}\n"
            f"COMP_WORDS=(esd {' '.join(words)}); COMP_CWORD={len(words)}; COMP_LINE='{line}'\n"
            '_esd; printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert {"push", "replay", "watch", "completion"} <= set(complete(""))
    assert complete("pu") == ["push"]
    assert complete("push", "1001", "--w") == ["--wait", "--wait-timeout"]
    assert complete("list", "--state", "fa") == ["failed"]
    assert complete("--socket", "/tmp/x.sock", "import", "mis", "pr") == ["products", "prices"]
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit && bashcompinit\n")


def test_sync_wait_says_whether_the_status_poll_worked(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.submit("1001")
    wait_until(lambda: env.item().get("state") == "pushed", 30, "order 1001 pushed")
    code, out, err = env.esd(capsys, "sync", "--wait")
    assert (code, err) == (0, ""), (out, err)
    assert "mis: 1 done, 0 failed" in out, out

    env.mis.set_faults(error_rate=1.0)  # the MIS answers 503 to the status call
    code, out, err = env.esd(capsys, "--json", "sync", "mis", "--wait")
    assert code == 1, (out, err)
    assert "sync failed: mis: order 1001:" in err and "503" in err, err
    env.mis.set_faults(error_rate=0.0)


def test_poll_wait_says_whether_the_storefront_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pressero = PresseroSandbox(password="poll-wait-pw")
    pressero.start()
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            site_extra=(
                f'storefront = "store"\nsite_id = "{DEFAULT_SITES[0].site_id}"\n'
                f'security_key = "{DEFAULT_SITES[0].security_key}"\n'
            ),
            extra=(
                f'[storefronts.store]\nprovider = "pressero"\nurl = "{pressero.url}"\n'
                "poll_seconds = 3600\npoll_window_seconds = 7200\n"
                "[storefronts.store.credentials]\n"
                f'username = "{pressero.username}"\npassword = "poll-wait-pw"\n'
                f'subscriber_id = "{pressero.subscriber_id}"\n'
            ),
        )
    )
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        pressero.place_order(emit=False)  # only the poll can find it
        assert main(["--socket", str(sock), "poll", "--wait"]) == 0
        out = capsys.readouterr().out
        assert "store: 1 orders listed, ok" in out and "store: 1 done, 0 failed" in out, out
        pressero.set_faults(error_rate=1.0)
        assert main(["--socket", str(sock), "poll", "store", "--wait"]) == 1
        err = capsys.readouterr().err
        assert "poll failed: store: ServerError" in err, err
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        pressero.stop()

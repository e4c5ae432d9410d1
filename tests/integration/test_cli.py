"""`esd` in-process (`main([...])`) against a toy OperatorServer running in a thread of its own."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from structlog.testing import capture_logs

from daemon.cli import main
from daemon.errors import NotFound, UnknownCommand
from daemon.operator.protocol import Request
from daemon.operator.server import OperatorServer, Progress
from tests.operator_samples import ORDER_EVENTS, ORDER_TRACE

STATUS = {
    "version": "0.1.0",
    "pid": 4242,
    "started_at": "2025-05-01T08:00:00+00:00",
    "uptime_seconds": 3725.0,
    "accounts": {
        "pace-main": {
            "provider": "pace",
            "environment": "live",
            "states": {"pushed": 3},
            "actor": {
                "health": "running",
                "restarts": 0,
                "last_error": None,
                "in_flight": 0,
                "queued": 1,
            },
        }
    },
    "inbox": {"pending": 0, "poisoned": 1, "total": 9},
    "next_timer": None,
    "rejections": {},
}

ORDER = {
    "site": "shop",
    "order": "1001",
    "items": [
        {
            "seq": 1,
            "account": "pace-main",
            "state": "pushed",
            "external_id": "J-77",
            "order_external_id": "O-5",
            "last_error": None,
            "reasons": [],
            "mis_status": None,
            "tracking": [],
            "attempts": 1,
            "next_retry_at": None,
            "updated_at": "2025-05-01T08:10:00+00:00",
        }
    ],
    "trace": ORDER_TRACE,
    "events": ORDER_EVENTS,
}


class ToyDaemon:
    """Answers like the daemon with fixed data; remembers every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    async def __call__(self, request: Request, progress: Progress) -> Mapping[str, Any]:
        self.requests.append(request)
        args = request.args
        match request.cmd:
            case "ping":
                return {"pong": True}
            case "status":
                return STATUS
            case "order":
                if args["order"] != "1001":
                    raise NotFound(f"no order {args['order']}")
                return ORDER
            case "why":
                if args["order"] == "hang":
                    await anyio.sleep_forever()
                return {
                    "site": "shop",
                    "order": args["order"],
                    "items": [
                        {"seq": 1, "account": "pace-main", "state": "held", "reasons": ["unpaid"]}
                    ],
                }
            case "list":
                return {
                    "items": [
                        {
                            "site": "shop",
                            "order": "1001",
                            "seq": 1,
                            "account": "pace-main",
                            "state": "failed",
                            "updated_at": "2025-05-01T08:10:00+00:00",
                            "last_error": "customer not found",
                        }
                    ],
                    "total": 1,
                }
            case "push":
                await progress({"message": "pushing item 1 to pace-main"})
                await progress({"message": "item 1 pushed"})
                return {
                    "items": [{"seq": 1, "account": "pace-main", "from": "ready", "to": "pushing"}]
                }
            case "events":
                return {"events": []}
            case "event":
                if args["id"] == 666:
                    raise RuntimeError("handler bug")
                return {
                    "id": args["id"],
                    "source": "pressero",
                    "kind": "order.snapshot",
                    "dedupe_key": "k",
                    "status": "poisoned",
                    "received_at": "2025-05-01T08:00:00+00:00",
                    "error": "BadEventPayload: no items",
                    "attempts": 3,
                    "payload": {"order": "1001"},
                    "traceback": "Traceback (most recent call last):\n  boom",
                }
            case "replay":
                return {"id": args["id"], "status": "pending"}
            case "submit":
                return {"id": 99, "duplicate": False}
            case "sync":
                await progress({"message": "status poll asked of pace-main"})
                return {"accounts": ["pace-main"]}
            case "import":
                await progress({"message": "import batch 3 queued"})
                return {"batch": 3, "state": "done", "pages": 1, "records": 12, "last_error": None}
        raise UnknownCommand(f"unknown command {request.cmd!r}")


@pytest.fixture
def toy() -> ToyDaemon:
    return ToyDaemon()


@pytest.fixture
def daemon(sock: Path, toy: ToyDaemon, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("ESD_SOCKET", raising=False)
    # The server's logs would land in the captured stdout, next to what esd prints.
    with capture_logs(), start_blocking_portal() as portal:
        future, _ = portal.start_task(OperatorServer(sock, toy).serve)
        yield sock
        future.cancel()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- talking to the daemon ----------------------------------------------------------------------


def test_ping(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--socket", str(daemon), "ping") == (0, "pong\n", "")


def test_status_table(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--socket", str(daemon), "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "esd 0.1.0, pid 4242, up 1h 2m (started 2025-05-01 08:00:00Z)"
    assert any(
        line.split()[:7] == ["pace-main", "pace", "live", "running", "0", "0", "1"]
        for line in lines
    )
    assert "inbox: 0 pending, 1 poisoned, 9 total" in lines


def test_order_shows_items_trace_events_and_sends_the_site(
    daemon: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "order", "1001", "--site", "shop")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "order 1001 on shop"
    items = next(i for i, line in enumerate(lines) if line.startswith("SEQ"))
    assert lines[items + 1].split()[:5] == ["1", "pace-main", "pushed", "J-77", "O-5"]
    assert lines.index("trace") > items
    assert lines.index("events") > lines.index("trace")
    assert toy.requests[-1] == Request(
        toy.requests[-1].id, "order", {"order": "1001", "site": "shop"}
    )


def test_json_prints_the_raw_result(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "--json", "order", "1001")
    assert code == 0
    assert json.loads(out) == ORDER
    # --json also works after the subcommand.
    code, out, _ = run(capsys, "status", "--json", "--socket", str(daemon))
    assert (code, json.loads(out)) == (0, STATUS)


def test_daemon_error_is_exit_1_with_one_line(
    daemon: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "--socket", str(daemon), "order", "404") == (
        1,
        "",
        "esd: NotFound: no order 404\n",
    )


def test_internal_error_is_exit_5(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--socket", str(daemon), "event", "666") == (
        5,
        "",
        "esd: internal error (see daemon log)\n",
    )


def test_timeout_is_exit_5(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--socket", str(daemon), "--timeout", "0.2", "why", "hang")
    assert (code, out) == (5, "")
    assert err == f"esd: no answer from the daemon on {daemon} within 0.2 s\n"


def test_why(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "why", "1001")
    assert code == 0
    assert out.splitlines() == ["order 1001 on shop", "item 1 (pace-main): held", "  - unpaid"]


def test_list_sends_only_given_filters(
    daemon: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "list", "--state", "failed", "--limit", "5")
    assert code == 0
    assert toy.requests[-1].args == {"state": "failed", "limit": 5}
    assert "customer not found" in out
    assert out.splitlines()[-1] == "1 of 1 shown"


def test_push_prints_progress_as_it_streams(
    daemon: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "push", "1001", "pace-main")
    assert code == 0
    assert toy.requests[-1].args == {"order": "1001", "account": "pace-main"}
    lines = out.splitlines()
    assert lines[:2] == ["pushing item 1 to pace-main", "item 1 pushed"]
    assert lines[3].split() == ["1", "pace-main", "ready", "pushing"]


def test_push_json_is_json_lines(daemon: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "--socket", str(daemon), "push", "1001", "--site", "shop")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"message": "pushing item 1 to pace-main"},
        {"message": "item 1 pushed"},
        {"items": [{"seq": 1, "account": "pace-main", "from": "ready", "to": "pushing"}]},
    ]


def test_events_event_replay(
    daemon: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "events", "--poisoned", "--limit", "3")
    assert (code, out) == (
        0,
        "ID  SOURCE  KIND  STATUS  ATTEMPTS  RECEIVED  DEDUPE KEY  ERROR\n(none)\n",
    )
    assert toy.requests[-1].args == {"status": "poisoned", "limit": 3}

    code, out, _ = run(capsys, "--socket", str(daemon), "events", "--status", "done")
    assert toy.requests[-1].args == {"status": "done"}

    code, out, _ = run(capsys, "--socket", str(daemon), "event", "5")
    assert code == 0
    assert toy.requests[-1].args == {"id": 5}
    assert "traceback:" in out
    assert "  boom" in out.splitlines()

    assert run(capsys, "--socket", str(daemon), "replay", "5") == (0, "event 5: pending\n", "")


def test_submit_sends_the_file_with_defaults(
    daemon: Path, sock_dir: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = sock_dir / "order.json"
    payload.write_bytes(b'{"order": "1001", "items": []}\n')
    code, out, _ = run(capsys, "--socket", str(daemon), "submit", str(payload))
    assert (code, out) == (0, "event 99 queued\n")
    assert toy.requests[-1].args == {
        "source": "operator",
        "dedupe_key": hashlib.sha256(payload.read_bytes()).hexdigest(),
        "kind": "order.snapshot",
        "payload": {"order": "1001", "items": []},
    }
    run(capsys, "--socket", str(daemon), "submit", str(payload), "--source", "x", "--kind", "k",
        "--dedupe-key", "d")  # fmt: skip
    assert {k: toy.requests[-1].args[k] for k in ("source", "kind", "dedupe_key")} == {
        "source": "x",
        "kind": "k",
        "dedupe_key": "d",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"{nope",
            "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)",
        ),
        (b"[1, 2]", "the payload must be a JSON object"),
        (b"\xff", "not UTF-8 text (byte 0)"),
    ],
)
def test_submit_bad_file_is_a_usage_error(
    daemon: Path, sock_dir: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = sock_dir / "bad.json"
    payload.write_bytes(content)
    assert run(capsys, "--socket", str(daemon), "submit", str(payload)) == (
        2,
        "",
        f"esd: {payload}: {message}\n",
    )


def test_submit_missing_file(sock: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--socket", str(sock), "submit", str(sock.parent / "none.json"))
    assert code == 2
    assert err == f"esd: cannot read {sock.parent / 'none.json'}: No such file or directory\n"


def test_sync_and_import(daemon: Path, toy: ToyDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--socket", str(daemon), "sync")
    assert (code, toy.requests[-1].args) == (0, {})
    assert out.splitlines() == ["status poll asked of pace-main", "status poll asked of: pace-main"]
    code, out, _ = run(capsys, "--socket", str(daemon), "import", "pace-main", "products")
    assert (code, toy.requests[-1].args) == (0, {"account": "pace-main", "kind": "products"})
    assert out.splitlines() == [
        "import batch 3 queued",
        "import batch 3: done, 1 pages, 12 records",
    ]
    assert run(capsys, "import", "pace-main", "widgets")[0] == 2


# --- where the socket is ------------------------------------------------------------------------


def test_esd_socket_environment_variable(
    daemon: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESD_SOCKET", str(daemon))
    assert run(capsys, "ping") == (0, "pong\n", "")
    # --socket beats the environment.
    monkeypatch.setenv("ESD_SOCKET", str(daemon.parent / "elsewhere.sock"))
    assert run(capsys, "--socket", str(daemon), "ping")[0] == 0


def test_socket_from_config_file(
    daemon: Path, sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sock_dir / "esd.toml"
    config.write_text(f'[daemon]\nsocket = "{daemon}"\n')
    assert run(capsys, "--config", str(config), "ping") == (0, "pong\n", "")


def test_socket_from_config_whose_secrets_this_shell_lacks(
    daemon: Path,
    sock_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ESD_TEST_CLI_UNSET", raising=False)
    config = sock_dir / "esd.toml"
    config.write_text(
        f'[daemon]\nsocket = "{daemon}"\n'
        '[accounts.a]\nprovider = "reference"\n'
        '[accounts.a.credentials]\ntoken = { env = "ESD_TEST_CLI_UNSET" }\n'
    )
    assert run(capsys, "--config", str(config), "ping") == (0, "pong\n", "")


def test_unreadable_config_is_exit_4(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ESD_SOCKET", raising=False)
    config = sock_dir / "esd.toml"
    config.write_text("[daemon\n")
    code, out, err = run(capsys, "--config", str(config), "ping")
    assert (code, out) == (4, "")
    assert err.startswith(f"{config}: TOML syntax error")
    assert err.endswith(f"esd: config invalid: 1 problem(s) in {config}\n")


def test_daemon_not_running_is_exit_3_with_one_line(
    sock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--socket", str(sock), "status")
    assert (code, out) == (3, "")
    assert err == f"esd: daemon not running: no socket at {sock}\n"


def test_default_socket_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ESD_SOCKET", raising=False)
    if Path("/run/esd/esd.sock").exists():
        pytest.skip("a real esd runs on this machine")
    code, _, err = run(capsys, "ping")
    assert code == 3
    assert "/run/esd/esd.sock" in err
    assert err.count("\n") == 1


# --- commands without a daemon ------------------------------------------------------------------


def test_statecharts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "statecharts")
    assert code == 0
    assert "stateDiagram-v2" in out
    assert "### `order_item`" in out


def test_check_config_ok_and_invalid(sock_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = sock_dir / "good.toml"
    good.write_text('[daemon]\nsocket = "/tmp/x.sock"\n')
    assert run(capsys, "check-config", "--config", str(good)) == (0, f"config OK: {good}\n", "")

    bad = sock_dir / "bad.toml"
    bad.write_text("[accounts.a]\n")
    code, out, err = run(capsys, "--config", str(bad), "check-config")
    assert code == 4
    assert out.splitlines() and all(line.startswith(f"{bad}:") for line in out.splitlines())
    assert f"{bad}:accounts.a.provider:" in out
    assert err.startswith("esd: config invalid:")


def test_run_calls_run_daemon_with_the_config_path(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Path] = []

    def run_daemon(config_path: Path) -> int:
        calls.append(config_path)
        return 7

    fake_app = types.ModuleType("daemon.app")
    fake_app.run_daemon = run_daemon  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "daemon.app", fake_app)
    config = sock_dir / "esd.toml"
    assert run(capsys, "run", "--config", str(config))[0] == 7
    assert run(capsys, "run")[0] == 7
    assert calls == [config, Path("/etc/esd/esd.toml")]


# --- usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["list", "--limit", "0"],
        ["events", "--poisoned", "--status", "done"],
        ["event", "abc"],
        ["order"],
        ["--timeout", "-1", "ping"],
    ],
)
def test_usage_errors_are_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage: esd" in err
    assert "Traceback" not in err


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "exit codes:" in out
    for line in (
        "0  ok",
        "1  the daemon answered an error",
        "3  daemon not running",
        "4  config invalid",
    ):
        assert line in out


PACE_WITHOUT_PASSWORD = """\
[accounts.pace-live]
provider = "pace"
[accounts.pace-live.credentials]
url = "pace.printshop.example"
login = "esd"
[sites.s]
name = "S"
[[sites.s.activations]]
account = "pace-live"
is_live = true
"""


def test_check_config_and_run_name_a_missing_pace_password_and_a_url_without_scheme(
    sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both used to pass check-config; `esd run` then exited 1 naming neither file nor account.
    bad = sock_dir / "pace.toml"
    bad.write_text(PACE_WITHOUT_PASSWORD)
    code, out, err = run(capsys, "check-config", "--config", str(bad))
    assert code == 4
    assert out.splitlines() == [
        f"{bad}:accounts.pace-live.credentials.password: required: a non-empty string",
        f"{bad}:accounts.pace-live.credentials.url: must start with http:// or https:// and a"
        " host, e.g. https://pace.example.com",
    ]
    assert err == f"esd: config invalid: 2 problem(s) in {bad}\n"
    # `esd run` refuses the same config with the same lines, before anything starts.
    code, run_out, run_err = run(capsys, "--config", str(bad), "run")
    assert (code, run_out) == (4, "")
    assert run_err == out + err


def test_check_config_skip_secrets_checks_all_but_secret_values(
    sock_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "esd.toml"
    for name in ("ESD_PACE_LIVE_PASSWORD", "ESD_PACE_TEST_PASSWORD", "ESD_SITE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    code, out, _ = run(capsys, "check-config", "--config", str(example))
    assert code == 4 and "ESD_PACE_LIVE_PASSWORD is not set" in out
    code, out, _ = run(capsys, "check-config", "--skip-secrets", "--config", str(example))
    assert (code, out) == (0, f"config OK: {example} (secret values not read: --skip-secrets)\n")
    # The form of a secret is still checked, and everything else too.
    broken = sock_dir / "broken.toml"
    broken.write_text(
        example.read_text()
        .replace('{ env = "ESD_SITE_KEY" }', '{ env = "" }')
        .replace("concurrency = 4", 'concurrency = "four"')
    )
    code, out, _ = run(capsys, "check-config", "--skip-secrets", "--config", str(broken))
    assert code == 4
    assert [line.split(":")[1] for line in out.splitlines()] == [
        "accounts.pace-live.concurrency",
        "sites.printshop.security_key",
    ]

"""sd_notify without libsystemd: environment parsing, message encoding, and real datagrams."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from daemon.logs import Redactor
from daemon.systemd_notify import (
    Notifier,
    NotifyConfig,
    encode_message,
    notify_config_from_environ,
    socket_address,
)

RECEIVE_TIMEOUT = 10.0  # generous: only bounds a failing test, never asserts timing


class Receiver:
    """The systemd side: a bound AF_UNIX datagram socket and the NOTIFY_SOCKET naming it."""

    def __init__(self, sock: socket.socket, notify_socket: str) -> None:
        self.sock = sock
        self.notify_socket = notify_socket

    def environ(self, **extra: str) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.notify_socket, **extra}

    def receive(self) -> bytes:
        self.sock.settimeout(RECEIVE_TIMEOUT)
        return self.sock.recv(65536)

    def assert_nothing_queued(self) -> None:
        self.sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            self.sock.recv(65536)


def _bound_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    return sock


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[Receiver]:
    path = tmp_path / "notify"
    with _bound_socket(str(path)) as sock:
        yield Receiver(sock, str(path))


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"esd-test-{uuid.uuid4().hex}"
    with _bound_socket("\0" + name) as sock:
        yield Receiver(sock, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    fixture = "path_receiver" if request.param == "path" else "abstract_receiver"
    result: Receiver = request.getfixturevalue(fixture)
    return result


# --- environment and encoding (no sockets) ----------------------------------------------------


def test_socket_address_for_path_and_abstract_names() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@systemd/notify") == "\0systemd/notify"


@pytest.mark.parametrize("value", ["", "@", "relative/path", "vsock:2:1234"])
def test_socket_address_rejects_what_we_cannot_use(value: str) -> None:
    assert socket_address(value) is None


def test_config_without_notify_socket_is_disabled() -> None:
    config = notify_config_from_environ({"WATCHDOG_USEC": "30000000"}, pid=os.getpid())
    assert config == NotifyConfig(address=None, watchdog_interval=None)


def test_config_unsupported_notify_socket_is_disabled_and_logged() -> None:
    with capture_logs() as logs:
        config = notify_config_from_environ({"NOTIFY_SOCKET": "vsock:2:9"}, pid=1)
    assert config.address is None
    assert [entry["event"] for entry in logs] == ["systemd.notify_socket_unsupported"]


def test_config_watchdog_is_half_of_watchdog_usec() -> None:
    environ = {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30000000"}
    assert notify_config_from_environ(environ, pid=42).watchdog_interval == 15.0


def test_config_watchdog_for_our_pid_only() -> None:
    environ = {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}
    assert notify_config_from_environ(environ, pid=42).watchdog_interval == 15.0
    assert notify_config_from_environ(environ, pid=43).watchdog_interval is None


@pytest.mark.parametrize(
    ("usec", "watchdog_pid"), [("0", ""), ("-5", ""), ("soon", ""), ("1000", "me")]
)
def test_config_invalid_watchdog_values_disable_the_watchdog(usec: str, watchdog_pid: str) -> None:
    environ = {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": usec, "WATCHDOG_PID": watchdog_pid}
    with capture_logs() as logs:
        config = notify_config_from_environ(environ, pid=42)
    assert config == NotifyConfig(address="/run/n", watchdog_interval=None)
    assert len(logs) == 1
    assert logs[0]["event"] in {"systemd.watchdog_usec_invalid", "systemd.watchdog_pid_invalid"}


def test_encode_message_joins_fields_with_newlines() -> None:
    assert encode_message(["READY=1", "STATUS=up, 3 orders"]) == b"READY=1\nSTATUS=up, 3 orders"
    assert encode_message(["STATUS=caf\u00e9"]) == "STATUS=caf\u00e9".encode()


@pytest.mark.parametrize("fields", [[], ["READY"], ["=1"], ["STATUS=a\nREADY=1"]])
def test_encode_message_rejects_malformed_fields(fields: list[str]) -> None:
    with pytest.raises(ValueError, match="sd_notify"):
        encode_message(fields)


# --- real datagrams ---------------------------------------------------------------------------


def test_from_environ_sends_the_exact_datagrams(receiver: Receiver) -> None:
    with Notifier.from_environ(receiver.environ(), redactor=Redactor(())) as notifier:
        assert notifier.enabled
        notifier.ready()
        assert receiver.receive() == b"READY=1"
        notifier.ready("serving 3 storefronts")
        assert receiver.receive() == b"READY=1\nSTATUS=serving 3 storefronts"
        notifier.status("pushing order P-1001")
        assert receiver.receive() == b"STATUS=pushing order P-1001"
        notifier.watchdog()
        assert receiver.receive() == b"WATCHDOG=1"
        notifier.extend_timeout(1.5)
        assert receiver.receive() == b"EXTEND_TIMEOUT_USEC=1500000"
        notifier.stopping()
        assert receiver.receive() == b"STOPPING=1"
        notifier.stopping("draining 2 pushes")
        assert receiver.receive() == b"STOPPING=1\nSTATUS=draining 2 pushes"
        notifier.notify("ERRNO=5", "BUSERROR=x")
        assert receiver.receive() == b"ERRNO=5\nBUSERROR=x"


def test_reloading_sends_monotonic_timestamp(path_receiver: Receiver) -> None:
    with Notifier.from_environ(path_receiver.environ()) as notifier:
        notifier.reloading()
    first, second = path_receiver.receive().split(b"\n")
    assert first == b"RELOADING=1"
    assert second.startswith(b"MONOTONIC_USEC=")
    assert int(second.partition(b"=")[2]) > 0


def test_status_is_one_line_and_bounded(path_receiver: Receiver) -> None:
    with Notifier.from_environ(path_receiver.environ()) as notifier:
        notifier.status("store\nunusable:\t disk  full")
        assert path_receiver.receive() == b"STATUS=store unusable: disk full"
        notifier.status("x" * 5000)
        long_status = path_receiver.receive()
    assert len(long_status) < 1000
    assert long_status.endswith(b"...")


def test_status_never_carries_a_secret(path_receiver: Receiver) -> None:
    redactor = Redactor(["hunter22"])
    with Notifier.from_environ(path_receiver.environ(), redactor=redactor) as notifier:
        notifier.status("login as esd/hunter22 refused")
    assert path_receiver.receive() == b"STATUS=login as esd/*** refused"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.stopping()
    notifier.reloading()
    notifier.status("x")
    notifier.watchdog()
    notifier.extend_timeout(5)

    async def main() -> None:
        with anyio.fail_after(RECEIVE_TIMEOUT):
            await notifier.run_watchdog()

    anyio.run(main)
    notifier.close()


def test_from_environ_defaults_to_os_environ(
    path_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_receiver.notify_socket)
    with Notifier.from_environ() as notifier:
        notifier.ready()
    assert path_receiver.receive() == b"READY=1"


def test_send_errors_are_logged_not_raised(tmp_path: Path) -> None:
    environ = {"NOTIFY_SOCKET": str(tmp_path / "systemd-went-away")}
    with Notifier.from_environ(environ) as notifier, capture_logs() as logs:
        notifier.ready("up")
    assert len(logs) == 1
    assert logs[0]["event"] == "systemd.notify_failed"
    assert logs[0]["fields"] == ["READY", "STATUS"]
    assert "No such file" in logs[0]["error"]


def test_closed_notifier_sends_nothing(path_receiver: Receiver) -> None:
    notifier = Notifier.from_environ(path_receiver.environ())
    notifier.close()
    notifier.close()
    notifier.ready()
    assert not notifier.enabled
    path_receiver.assert_nothing_queued()


def test_extend_timeout_needs_a_positive_duration(path_receiver: Receiver) -> None:
    with Notifier.from_environ(path_receiver.environ()) as notifier, pytest.raises(ValueError):
        notifier.extend_timeout(0)


def test_watchdog_disabled_when_watchdog_pid_is_another_process(path_receiver: Receiver) -> None:
    environ = path_receiver.environ(WATCHDOG_USEC="20000", WATCHDOG_PID=str(os.getpid() + 1))
    with Notifier.from_environ(environ) as notifier:
        assert notifier.watchdog_interval is None

        async def main() -> None:
            with anyio.fail_after(RECEIVE_TIMEOUT):
                await notifier.run_watchdog()

        anyio.run(main)
    path_receiver.assert_nothing_queued()


# --- run_watchdog ---------------------------------------------------------------------------


def _run_watchdog_for(notifier: Notifier, checks: int, healthy: Callable[[int], bool]) -> int:
    """Run the watchdog loop until it has asked `checks` times whether we are healthy; the
    loop is cancelled from inside the check, so no clock decides what the test sees."""
    calls = 0

    async def main() -> None:
        nonlocal calls
        with anyio.fail_after(RECEIVE_TIMEOUT) as outer, anyio.CancelScope() as scope:

            def is_healthy() -> bool:
                nonlocal calls
                calls += 1
                if calls >= checks:
                    scope.cancel()
                return healthy(calls)

            await notifier.run_watchdog(is_healthy=is_healthy)
        assert not outer.cancel_called

    anyio.run(main)
    return calls


def test_run_watchdog_pings_while_healthy(receiver: Receiver) -> None:
    environ = receiver.environ(WATCHDOG_USEC="20000", WATCHDOG_PID=str(os.getpid()))
    with Notifier.from_environ(environ) as notifier:
        assert notifier.watchdog_interval == 0.01
        calls = _run_watchdog_for(notifier, checks=3, healthy=lambda _: True)
    assert calls == 3
    assert [receiver.receive() for _ in range(3)] == [b"WATCHDOG=1"] * 3


def test_run_watchdog_skips_pings_while_unhealthy(path_receiver: Receiver) -> None:
    environ = path_receiver.environ(WATCHDOG_USEC="20000")
    with Notifier.from_environ(environ) as notifier, capture_logs() as logs:
        # healthy, unhealthy, unhealthy, healthy
        _run_watchdog_for(notifier, checks=4, healthy=lambda call: call in {1, 4})
    assert [path_receiver.receive() for _ in range(2)] == [b"WATCHDOG=1"] * 2
    path_receiver.assert_nothing_queued()
    skipped = [entry for entry in logs if entry["event"] == "watchdog.skipped"]
    assert [entry["reason"] for entry in skipped] == ["unhealthy", "unhealthy"]


def test_run_watchdog_treats_a_failing_health_check_as_unhealthy(path_receiver: Receiver) -> None:
    def healthy(call: int) -> bool:
        if call == 2:
            raise RuntimeError("store check blew up")
        return True

    with (
        Notifier.from_environ(path_receiver.environ(WATCHDOG_USEC="20000")) as notifier,
        capture_logs() as logs,
    ):
        _run_watchdog_for(notifier, checks=3, healthy=healthy)
    assert [path_receiver.receive() for _ in range(2)] == [b"WATCHDOG=1"] * 2
    path_receiver.assert_nothing_queued()
    (skipped,) = [entry for entry in logs if entry["event"] == "watchdog.skipped"]
    assert skipped["error"] == "store check blew up"

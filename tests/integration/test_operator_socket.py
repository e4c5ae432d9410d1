"""A real OperatorServer on a unix socket, a toy handler, real clients (raw and OperatorClient)."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from structlog.testing import capture_logs

from daemon.errors import (
    DaemonNotRunning,
    NotFound,
    OperatorError,
    OperatorProtocolError,
    TransitionNotAllowed,
    UnknownCommand,
)
from daemon.operator import client as client_module
from daemon.operator.client import OperatorClient, call_sync, error_from_answer
from daemon.operator.protocol import DecodedLine, LineDecoder, Request, encode_request
from daemon.operator.server import OperatorServer, Progress
from daemon.operator.transport import SocketChannel, connect_unix

SECRET = "hunter2"


def redact(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(SECRET, "***")
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class Toy:
    """A handler with one command per behaviour under test."""

    def __init__(self) -> None:
        self.gather_target = 0
        self.gathered = 0
        self.all_gathered = anyio.Event()
        self.gate = anyio.Event()
        self.finished = anyio.Event()
        self.big_answered = anyio.Event()
        #: when set, `status` waits for it (a status being answered on the reserved slot)
        self.hold_status: anyio.Event | None = None
        self.requests: list[Request] = []

    async def __call__(self, request: Request, progress: Progress) -> Mapping[str, Any]:
        self.requests.append(request)
        args = request.args
        match request.cmd:
            case "ping":
                return {"pong": True}
            case "status":
                if self.hold_status is not None:
                    await self.hold_status.wait()
                return {"version": "0.1.0", "pid": os.getpid(), "accounts": {}}
            case "order":
                if args.get("order") == "404":
                    raise NotFound("no order 404")
                return {"site": "s", "order": args.get("order"), "items": []}
            case "push":
                for step in range(3):
                    await progress({"message": f"step {step}"})
                return {"items": [{"seq": 1, "account": "pace", "from": "ready", "to": "pushing"}]}
            case "crash":
                raise RuntimeError(f"boom with {SECRET}")
            case "transition":
                raise TransitionNotAllowed("order_item", "pushed", "push")
            case "leaky_error":
                raise NotFound(f"no order, password {SECRET}")
            case "secret":
                await progress({"message": f"using {SECRET}"})
                return {"token": SECRET, "nested": [{"x": f"a{SECRET}b"}]}
            case "big":
                self.big_answered.set()
                return {"blob": "x" * int(args["size"])}
            case "not_json":
                return {"when": object()}
            case "gather":
                self.gathered += 1
                if self.gathered >= self.gather_target:
                    self.all_gathered.set()
                await self.all_gathered.wait()
                return {"n": self.gathered}
            case "hang":
                await anyio.sleep_forever()
            case "gated_push":
                await progress({"message": "started"})
                await self.gate.wait()
                await progress({"message": "still going"})
                self.finished.set()
                return {"items": []}
        raise UnknownCommand(f"unknown command {request.cmd!r}")


@asynccontextmanager
async def serving(server: OperatorServer) -> AsyncIterator[OperatorServer]:
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        yield server
        tg.cancel_scope.cancel()


class Raw:
    """A bare protocol client: bytes out, decoded answers in."""

    def __init__(self, stream: SocketChannel) -> None:
        self.stream = stream
        self.decoder = LineDecoder(max_line=8_000_000)
        self.pending: list[Any] = []

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def answers(self, count: int) -> list[dict[str, Any]]:
        with anyio.fail_after(10):
            while len(self.pending) < count:
                data = await self.stream.receive()
                assert data, f"end of stream after {self.pending}"
                for line in self.decoder.feed(data):
                    assert isinstance(line, DecodedLine)
                    self.pending.append(line.value)
        got, self.pending = self.pending[:count], self.pending[count:]
        return got

    async def at_eof(self) -> bool:
        with anyio.fail_after(10):
            try:
                extra = await self.stream.receive()
            except ConnectionResetError:
                return True
        if extra == b"":
            return True
        raise AssertionError(f"expected end of stream, got {extra!r}")


@asynccontextmanager
async def raw(path: Path) -> AsyncIterator[Raw]:
    with await connect_unix(path) as stream:
        yield Raw(stream)


# --- answers ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_commands_are_answered(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
        assert await client.call("ping") == {"pong": True}
        status = await client.call("status")
        assert status["pid"] == os.getpid()
        assert await client.call("order", {"order": "1001"}) == {
            "site": "s",
            "order": "1001",
            "items": [],
        }


@pytest.mark.anyio
async def test_socket_file_mode_is_0660_by_default(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())):
        info = os.stat(sock)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660


@pytest.mark.anyio
async def test_socket_mode_is_configurable(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy(), mode=0o600)):
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600


@pytest.mark.anyio
async def test_progress_streams_before_the_result(sock: Path) -> None:
    seen: list[dict[str, Any]] = []
    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
        result = await client.call("push", {"order": "1001"}, on_progress=seen.append)
    assert seen == [{"message": "step 0"}, {"message": "step 1"}, {"message": "step 2"}]
    assert result["items"][0]["to"] == "pushing"


@pytest.mark.anyio
async def test_async_progress_callback_is_awaited(sock: Path) -> None:
    seen: list[str] = []

    async def on_progress(update: dict[str, Any]) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(update["message"])

    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
        await client.call("push", on_progress=on_progress)
    assert seen == ["step 0", "step 1", "step 2"]


@pytest.mark.anyio
async def test_raw_answer_lines_follow_the_protocol(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), raw(sock) as conn:
        await conn.send(encode_request("p1", "push"))
        answers = await conn.answers(4)
    assert answers == [
        {"v": 1, "id": "p1", "progress": {"message": "step 0"}},
        {"v": 1, "id": "p1", "progress": {"message": "step 1"}},
        {"v": 1, "id": "p1", "progress": {"message": "step 2"}},
        {
            "v": 1,
            "id": "p1",
            "ok": True,
            "result": {"items": [{"seq": 1, "account": "pace", "from": "ready", "to": "pushing"}]},
        },
    ]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_esd_error_is_answered_by_class_name_and_raised_as_that_class(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())):
        async with raw(sock) as conn:
            await conn.send(encode_request(5, "order", {"order": "404"}))
            (answer,) = await conn.answers(1)
        assert answer == {
            "v": 1,
            "id": 5,
            "ok": False,
            "error": {"type": "NotFound", "message": "no order 404"},
        }
        async with OperatorClient(sock) as client:
            with pytest.raises(NotFound, match=r"^no order 404$"):
                await client.call("order", {"order": "404"})
            with pytest.raises(TransitionNotAllowed, match="no trigger 'push' from state"):
                await client.call("transition")
            with pytest.raises(UnknownCommand, match="unknown command 'nope'"):
                await client.call("nope")
            # The connection is still usable after error answers.
            assert await client.call("ping") == {"pong": True}


@pytest.mark.anyio
async def test_crash_is_internal_error_and_logged_with_traceback(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), raw(sock) as conn:
        with capture_logs() as logs:
            await conn.send(encode_request(1, "crash"))
            (answer,) = await conn.answers(1)
    assert answer["error"] == {
        "type": "InternalError",
        "message": "internal error (see daemon log)",
    }
    crashed = [entry for entry in logs if entry["event"] == "operator.handler_crashed"]
    assert len(crashed) == 1
    assert crashed[0]["cmd"] == "crash"
    assert crashed[0]["exc_info"] is True
    assert crashed[0]["log_level"] == "error"


@pytest.mark.anyio
async def test_internal_error_raises_operator_error_in_client(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
        with pytest.raises(OperatorError) as caught:
            await client.call("crash")
    assert type(caught.value) is OperatorError
    assert str(caught.value) == "internal error (see daemon log)"


@pytest.mark.anyio
async def test_unencodable_result_is_internal_error(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
        with pytest.raises(OperatorError, match="internal error"):
            await client.call("not_json")
        assert await client.call("ping") == {"pong": True}


@pytest.mark.anyio
async def test_malformed_lines_get_error_answers_and_the_connection_stays_usable(
    sock: Path,
) -> None:
    async with serving(OperatorServer(sock, Toy())), raw(sock) as conn:
        await conn.send(b"this is not json\n")
        await conn.send(b'{"v": 1, "id": 9, "cmd": 42}\n')
        await conn.send(b'{"v": 1, "id": 10, "cmd": "ping", "args": [1]}\n')
        await conn.send(b"[]\n")
        await conn.send(encode_request(11, "ping"))
        bad_json, bad_cmd, bad_args, not_object, ping = await conn.answers(5)
    assert bad_json["id"] is None
    assert bad_json["error"]["type"] == "OperatorProtocolError"
    assert bad_json["error"]["message"].startswith("line 1: not valid JSON")
    assert bad_cmd["id"] == 9
    assert bad_cmd["error"] == {
        "type": "OperatorProtocolError",
        "message": 'line 2: "cmd" must be a string',
    }
    assert bad_args["id"] == 10
    assert bad_args["error"]["message"] == 'line 3: "args" must be an object, not an array'
    assert not_object["error"]["message"] == (
        "line 4: a request must be a JSON object, not an array"
    )
    assert ping == {"v": 1, "id": 11, "ok": True, "result": {"pong": True}}


@pytest.mark.anyio
async def test_over_long_line_is_answered_then_the_connection_closes(sock: Path) -> None:
    server = OperatorServer(sock, Toy(), max_line=1000)
    async with serving(server), raw(sock) as conn:
        await conn.send(encode_request(1, "ping"))
        await conn.send(b"x" * 1500)
        first, error = await conn.answers(2)
        assert first["result"] == {"pong": True}
        assert error["error"] == {
            "type": "OperatorProtocolError",
            "message": "line 2: longer than 1000 bytes",
        }
        assert await conn.at_eof()


@pytest.mark.anyio
async def test_last_line_without_newline_is_answered_on_half_close(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), raw(sock) as conn:
        await conn.send(encode_request(1, "ping").rstrip(b"\n"))
        conn.stream.send_eof()
        (answer,) = await conn.answers(1)
        assert answer["result"] == {"pong": True}
        assert await conn.at_eof()


@pytest.mark.anyio
async def test_too_large_answer_becomes_an_error(sock: Path) -> None:
    server = OperatorServer(sock, Toy(), max_line=1000)
    async with serving(server), OperatorClient(sock) as client:
        with pytest.raises(OperatorError, match=r"answer too large \(\d+ bytes, limit 1000\)"):
            await client.call("big", {"size": 2000})
        assert (await client.call("big", {"size": 10}))["blob"] == "x" * 10


# --- redaction ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_answer_passes_through_redact(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy(), redact=redact)), raw(sock) as conn:
        await conn.send(encode_request(1, "secret"))
        await conn.send(encode_request(2, "leaky_error"))
        await conn.send(encode_request(3, "crash"))
        answers = await conn.answers(4)
    wire = json.dumps(answers)
    assert SECRET not in wire
    assert answers[0] == {"v": 1, "id": 1, "progress": {"message": "using ***"}}
    assert answers[1]["result"] == {"token": "***", "nested": [{"x": "a***b"}]}
    assert answers[2]["error"] == {"type": "NotFound", "message": "no order, password ***"}
    assert answers[3]["error"]["type"] == "InternalError"


@pytest.mark.anyio
async def test_a_failing_redactor_never_lets_the_answer_out(sock: Path) -> None:
    def broken(value: Any) -> Any:
        raise ValueError("redactor bug")

    async with serving(OperatorServer(sock, Toy(), redact=broken)), raw(sock) as conn:
        await conn.send(encode_request(1, "secret"))
        (answer,) = await conn.answers(1)
    assert answer == {
        "v": 1,
        "id": 1,
        "ok": False,
        "error": {"type": "InternalError", "message": "internal error (see daemon log)"},
    }


# --- connections --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_several_requests_on_one_connection_are_answered_in_order(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), raw(sock) as conn:
        await conn.send(
            encode_request(1, "ping")
            + encode_request(2, "order", {"order": "7"})
            + encode_request(3, "order", {"order": "404"})
            + encode_request(4, "push")
        )
        answers = await conn.answers(7)
    assert [a["id"] for a in answers] == [1, 2, 3, 4, 4, 4, 4]
    assert answers[1]["result"]["order"] == "7"
    assert answers[2]["ok"] is False
    assert "progress" in answers[3]
    assert answers[6]["ok"] is True


@pytest.mark.anyio
async def test_clients_are_served_concurrently(sock: Path) -> None:
    toy = Toy()
    toy.gather_target = 8
    results: list[dict[str, Any]] = []

    async def one_client() -> None:
        async with OperatorClient(sock, timeout=10) as client:
            results.append(await client.call("gather"))

    # Each "gather" answers only once all 8 are in the handler at once: served one by one,
    # this would never finish.
    async with serving(OperatorServer(sock, toy)):
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(8):
                    tg.start_soon(one_client)
    assert len(results) == 8
    assert all(r["n"] == 8 for r in results)


@pytest.mark.anyio
async def test_hung_clients_do_not_block_others(sock: Path) -> None:
    toy = Toy()
    async with (
        serving(OperatorServer(sock, toy, max_line=4_000_000)),
        raw(sock),  # connects and says nothing
        raw(sock) as half_line,
        raw(sock) as not_reading,
    ):
        await half_line.send(b'{"v": 1, "id": 1, "cmd": ')  # and never the rest
        # An answer far larger than the socket buffers, which this client does not read yet:
        # the server is stuck sending it.
        await not_reading.send(encode_request(1, "big", {"size": 3_000_000}))
        with anyio.fail_after(10):
            await toy.big_answered.wait()
            async with OperatorClient(sock) as client:
                assert await client.call("ping") == {"pong": True}
                assert await client.call("status")
            # The slow reader still gets its whole answer.
            (big,) = await not_reading.answers(1)
        assert len(big["result"]["blob"]) == 3_000_000


@pytest.mark.anyio
async def test_a_stalled_client_is_dropped_after_send_timeout(sock: Path) -> None:
    server = OperatorServer(sock, Toy(), max_line=4_000_000, send_timeout=0.2)
    async with serving(server), raw(sock) as never_reads:
        with capture_logs() as logs:
            await never_reads.send(encode_request(1, "big", {"size": 3_000_000}))
            with anyio.fail_after(10):
                while not any(entry["event"] == "operator.client_stalled" for entry in logs):
                    await anyio.sleep(0.01)
                while server.active_connections:
                    await anyio.sleep(0.01)
    assert server.active_connections == 0


@pytest.mark.anyio
async def test_command_runs_to_its_end_when_the_client_goes_away(sock: Path) -> None:
    toy = Toy()
    async with serving(OperatorServer(sock, toy)):
        async with raw(sock) as conn:
            await conn.send(encode_request(1, "gated_push"))
            (first,) = await conn.answers(1)
            assert first["progress"] == {"message": "started"}
        toy.gate.set()  # the client is gone: the next progress line has nowhere to go
        with anyio.fail_after(10):
            await toy.finished.wait()
        async with OperatorClient(sock) as client:
            assert await client.call("ping") == {"pong": True}


@pytest.mark.anyio
async def test_connection_limit_answers_with_a_clear_error(sock: Path) -> None:
    toy = Toy()
    async with serving(OperatorServer(sock, toy, max_connections=2)):
        async with OperatorClient(sock) as first, OperatorClient(sock) as second:
            assert await first.call("ping") == {"pong": True}
            assert await second.call("ping") == {"pong": True}
            # One more is kept for a look at what is going on: status and ping only.
            async with OperatorClient(sock) as reserved:
                assert await reserved.call("ping") == {"pong": True}
                assert (await reserved.call("status"))["pid"] == os.getpid()
                with pytest.raises(
                    OperatorError,
                    match=r"too many operator connections \(limit 2\): this one is kept for "
                    r"status and ping only",
                ):
                    await reserved.call("order", {"order": "1001"})
                # A newcomer takes the reserved slot from an idle holder ...
                async with OperatorClient(sock) as fourth:
                    assert await fourth.call("ping") == {"pong": True}
                    with pytest.raises(OperatorError, match="connection to the daemon"):
                        await reserved.call("ping")
                    # ... but never from one being answered: then it is refused outright.
                    toy.hold_status = anyio.Event()
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(fourth.call, "status")
                        with anyio.fail_after(10):
                            while not any(r.cmd == "status" for r in toy.requests[-1:]):
                                await anyio.sleep(0.01)
                        async with OperatorClient(sock) as fifth:
                            with pytest.raises(
                                OperatorError, match=r"too many operator connections \(limit 2\);"
                            ):
                                await fifth.call("ping")
                        toy.hold_status.set()
                    toy.hold_status = None
        # Slots free up when clients leave.
        async with OperatorClient(sock) as fifth:
            assert await fifth.call("order", {"order": "1001"})


@pytest.mark.anyio
async def test_a_request_line_is_what_keeps_a_connection_open(sock: Path) -> None:
    server = OperatorServer(sock, Toy(), idle_timeout=0.5)
    async with serving(server), raw(sock) as trickler, raw(sock) as asker:
        for client in (trickler, asker):  # both served, both with one request answered
            await client.send(encode_request(0, "ping"))
            assert (await client.answers(1))[0]["result"] == {"pong": True}
        assert server.active_connections == 2
        with anyio.fail_after(20):
            # Bytes that never end a line do not count: the deadline is for a whole request.
            while server.active_connections == 2:
                await trickler.send(b" ")
                await asker.send(encode_request(1, "ping"))
                assert (await asker.answers(1))[0]["result"] == {"pong": True}
                await anyio.sleep(0.05)
        assert await trickler.at_eof()
        assert server.active_connections == 1, "the asker's requests kept it open"


class BadText(NotFound):
    """An error whose text cannot even be produced (a bug somewhere in an error class)."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.anyio
async def test_a_crash_in_one_connection_ends_that_connection_only(sock: Path) -> None:
    async def handler(request: Request, progress: Progress) -> Mapping[str, Any]:
        if request.cmd == "bad_text":
            raise BadText()
        return {"pong": True}

    with capture_logs() as logs:
        async with serving(OperatorServer(sock, handler)):
            async with raw(sock) as doomed:
                await doomed.send(encode_request(1, "bad_text"))
                assert await doomed.at_eof()
            async with OperatorClient(sock) as client:
                assert await client.call("ping") == {"pong": True}
    crashes = [entry for entry in logs if entry["event"] == "operator.connection_crashed"]
    assert len(crashes) == 1 and crashes[0]["connection"] == 1


@pytest.mark.anyio
async def test_client_timeout_names_the_socket(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())), OperatorClient(sock, timeout=0.2) as client:
        with pytest.raises(
            OperatorError, match=f"no answer from the daemon on {sock} within 0.2 s"
        ):
            await client.call("hang")
        with pytest.raises(OperatorError, match="not connected"):
            await client.call("ping")


# --- the socket file ----------------------------------------------------------------------------


def make_stale_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


@pytest.mark.anyio
async def test_stale_socket_file_is_replaced(sock: Path) -> None:
    make_stale_socket(sock)
    with capture_logs() as logs:
        async with serving(OperatorServer(sock, Toy())), OperatorClient(sock) as client:
            assert await client.call("ping") == {"pong": True}
    assert {
        "event": "operator.stale_socket_removed",
        "path": str(sock),
        "log_level": "info",
    } in logs


@pytest.mark.anyio
async def test_socket_file_is_removed_on_exit(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())):
        assert sock.exists()
    assert not sock.exists()


@pytest.mark.anyio
async def test_refuses_to_take_over_a_live_daemons_socket(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy())):
        with pytest.raises(
            OperatorError, match=f"another esd daemon is already listening on {sock}"
        ):
            await OperatorServer(sock, Toy()).serve()
        # The first daemon is untouched.
        async with OperatorClient(sock) as client:
            assert await client.call("ping") == {"pong": True}
    assert not sock.exists()


@pytest.mark.anyio
async def test_refuses_a_path_that_is_not_a_socket(sock: Path) -> None:
    sock.write_text("precious")
    with pytest.raises(OperatorError, match="exists and is not a socket"):
        await OperatorServer(sock, Toy()).serve()
    assert sock.read_text() == "precious"


@pytest.mark.anyio
async def test_missing_directory_is_a_clear_error(sock_dir: Path) -> None:
    path = sock_dir / "missing" / "esd.sock"
    with pytest.raises(
        OperatorError, match=f"cannot listen on {path}: directory .* does not exist"
    ):
        await OperatorServer(path, Toy()).serve()


@pytest.mark.anyio
async def test_over_long_socket_path_is_a_clear_error(sock_dir: Path) -> None:
    path = sock_dir / ("x" * 120)
    with pytest.raises(OperatorError, match=r"socket path too long \(\d+ bytes, at most 107\)"):
        await OperatorServer(path, Toy()).serve()


# --- client connect errors ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_missing_socket_is_daemon_not_running(sock: Path) -> None:
    with pytest.raises(DaemonNotRunning) as caught:
        async with OperatorClient(sock):
            pass
    assert str(caught.value) == f"daemon not running: no socket at {sock}"


@pytest.mark.anyio
async def test_client_refused_socket_is_daemon_not_running(sock: Path) -> None:
    make_stale_socket(sock)
    with pytest.raises(DaemonNotRunning) as caught:
        async with OperatorClient(sock):
            pass
    assert str(caught.value) == (
        f"daemon not running: nothing listens on {sock} (stale socket file)"
    )


@pytest.mark.anyio
async def test_client_permission_denied_says_join_the_group(
    sock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root passes every permission check, so the refusal is staged at the connect call.
    async def denied(path: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(client_module, "connect_unix", denied)
    with pytest.raises(DaemonNotRunning) as caught:
        async with OperatorClient(sock):
            pass
    assert str(caught.value) == f"permission denied on {sock}: join the esd group"


@pytest.mark.skipif(os.geteuid() == 0, reason="root is never denied")
@pytest.mark.anyio
async def test_client_permission_denied_for_real(sock: Path) -> None:
    async with serving(OperatorServer(sock, Toy(), mode=0o000)):
        with pytest.raises(DaemonNotRunning, match="join the esd group"):
            async with OperatorClient(sock):
                pass


def test_call_sync_makes_one_call(sock: Path) -> None:
    async def scenario() -> dict[str, Any]:
        async with serving(OperatorServer(sock, Toy())):
            return await anyio.to_thread.run_sync(lambda: call_sync(sock, "ping"))

    assert anyio.run(scenario) == {"pong": True}


def test_call_sync_daemon_not_running(sock: Path) -> None:
    with pytest.raises(DaemonNotRunning):
        call_sync(sock, "ping")


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("NotFound", NotFound),
        ("OperatorProtocolError", OperatorProtocolError),
        ("TransitionNotAllowed", TransitionNotAllowed),
        ("InternalError", OperatorError),
        ("ConfigProblem", OperatorError),  # in daemon.errors, but not an exception
        ("__class__", OperatorError),
    ],
)
def test_error_from_answer(error_type: str, expected: type[Exception]) -> None:
    exc = error_from_answer(error_type, "the message")
    assert type(exc) is expected
    assert str(exc) == "the message"

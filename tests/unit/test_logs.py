"""Structured logs: the JSON line shape, levels, and that no secret ever reaches a line."""

from __future__ import annotations

import ast
import io
import json
import logging
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import daemon
from daemon.errors import ConfigError
from daemon.logs import (
    REDACTED,
    REDACTOR,
    Redactor,
    configure_logging,
    get_logger,
    reset_logging,
)

# Quote, slash, backslash, '@' and a space: every escaping layer (JSON, URL, repr) changes it.
SECRET = 'pa"ss/w\\rd@ 42'


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([SECRET])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def assert_no_secret(text: str, secret: str = SECRET) -> None:
    spellings = {
        secret,
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        repr(secret)[1:-1],
        json.dumps(repr(secret)[1:-1])[1:-1],
    }
    for spelling in spellings:
        assert spelling not in text, f"secret spelled {spelling!r} leaked into {text!r}"


# --- Redactor -------------------------------------------------------------------------------


def test_redact_replaces_every_occurrence() -> None:
    redactor = Redactor(["hunter22", "correct-horse"])
    assert redactor.redact("a hunter22 b hunter22 c correct-horse") == "a *** b *** c ***"


def test_redact_prefers_the_longest_secret() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact("x abcdefgh y") == "x *** y"


def test_redact_covers_url_encoded_json_escaped_and_repr_forms(redactor: Redactor) -> None:
    texts = [
        "https://mis.example/login?password=" + urllib.parse.quote(SECRET, safe=""),
        "password=" + urllib.parse.quote_plus(SECRET),
        json.dumps({"password": SECRET}),
        repr({"password": SECRET}),
        json.dumps(repr({"password": SECRET})),
    ]
    for text in texts:
        redacted = redactor.redact(text)
        assert_no_secret(redacted)
        assert REDACTED in redacted


def test_redact_covers_xml_escaped_form() -> None:
    redactor = Redactor(["a<b&c>d"])
    assert redactor.redact("<Password>a&lt;b&amp;c&gt;d</Password>") == "<Password>***</Password>"


def test_without_secrets_input_is_returned_unchanged() -> None:
    redactor = Redactor(())
    text = "nothing to hide"
    data = {"k": ["v"]}
    assert redactor.redact(text) is text
    assert redactor.redact_obj(data) is data


def test_empty_secrets_are_ignored() -> None:
    redactor = Redactor(["", ""])
    assert len(redactor) == 0
    assert redactor.redact("abc") == "abc"


def test_short_secrets_are_redacted_too_at_the_cost_of_over_redaction() -> None:
    redactor = Redactor(["ab"])
    assert redactor.redact("tab ab") == "t*** ***"


def test_update_adds_secrets_and_keeps_the_old_ones() -> None:
    redactor = Redactor(["old-password"])
    redactor.update(["new-password"])
    assert len(redactor) == 2
    assert redactor.redact("old-password new-password") == "*** ***"


def test_redact_obj_redacts_keys_values_and_nesting_without_mutating(redactor: Redactor) -> None:
    original = {
        SECRET: "key holds it",
        "list": [SECRET, 1, None],
        "tuple": (f"x{SECRET}x",),
        "set": frozenset({SECRET}),
        "nested": {"deeper": {"value": SECRET}},
    }
    redacted = redactor.redact_obj(original)
    assert redacted == {
        REDACTED: "key holds it",
        "list": [REDACTED, 1, None],
        "tuple": (f"x{REDACTED}x",),
        "set": frozenset({REDACTED}),
        "nested": {"deeper": {"value": REDACTED}},
    }
    assert original["list"] == [SECRET, 1, None]
    assert SECRET in original


def test_redactor_repr_never_shows_secrets(redactor: Redactor) -> None:
    assert_no_secret(repr(redactor))
    assert "1 secrets" in repr(redactor)


def test_module_redactor_exists_for_the_daemon_to_fill() -> None:
    assert isinstance(REDACTOR, Redactor)


@given(
    secret=st.text(st.characters(blacklist_characters="*"), min_size=1, max_size=12),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_a_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    redactor = Redactor([secret])
    text = before + secret + after + secret
    assert secret not in redactor.redact(text)
    assert secret not in redactor.redact(json.dumps({"k": text}, ensure_ascii=False))
    assert json.dumps(secret)[1:-1] not in redactor.redact(json.dumps(text))


# --- configure_logging ----------------------------------------------------------------------


def test_lines_are_json_with_timestamp_level_logger_event_first(stream: io.StringIO) -> None:
    configure_logging("info", stream=stream, redactor=Redactor(()))
    get_logger("esd.push").info("item.pushed", order="P-1001", job="J-77")
    (line,) = lines(stream)
    assert list(line) == ["timestamp", "level", "logger", "event", "order", "job"]
    assert line["level"] == "info"
    assert line["logger"] == "esd.push"
    assert line["event"] == "item.pushed"
    assert line["order"] == "P-1001"
    assert line["timestamp"].endswith("Z")
    parsed = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0)


def test_secret_in_values_keys_and_nesting_never_reaches_the_line(
    stream: io.StringIO, redactor: Redactor
) -> None:
    configure_logging("debug", stream=stream, redactor=redactor)
    log = get_logger("esd.test")
    log.info("login.tried", password=SECRET, url=f"https://h/?p={urllib.parse.quote(SECRET)}")
    log.info("weird.key", **{f"k-{SECRET}": "v"})
    log.debug("nested", request={"auth": {"user": "u", "password": SECRET}, "list": [SECRET]})
    output = stream.getvalue()
    assert_no_secret(output)
    parsed = lines(stream)
    assert parsed[0]["password"] == REDACTED
    assert "k-***" in parsed[1]
    assert parsed[2]["request"] == {"auth": {"user": "u", "password": REDACTED}, "list": [REDACTED]}


def test_secret_inside_an_objects_repr_is_redacted_in_the_rendered_line(
    stream: io.StringIO, redactor: Redactor
) -> None:
    class Credentials:
        def __repr__(self) -> str:
            return f"Credentials(password={SECRET!r})"

    configure_logging("info", stream=stream, redactor=redactor)
    get_logger("esd.test").info("client.built", credentials=Credentials())
    assert_no_secret(stream.getvalue())
    assert lines(stream)[0]["credentials"] == f"Credentials(password='{REDACTED}')"


def test_exception_message_and_traceback_are_redacted(
    stream: io.StringIO, redactor: Redactor
) -> None:
    configure_logging("info", stream=stream, redactor=redactor)
    log = get_logger("esd.test")
    try:
        raise RuntimeError(f"login refused for password {SECRET}")
    except RuntimeError:
        log.exception("push.failed", order="P-1")
    (line,) = lines(stream)
    assert line["level"] == "error"
    assert "Traceback (most recent call last)" in line["exception"]
    assert f"RuntimeError: login refused for password {REDACTED}" in line["exception"]
    assert_no_secret(stream.getvalue())


def test_stdlib_logging_goes_to_the_same_stream_as_redacted_json(
    stream: io.StringIO, redactor: Redactor
) -> None:
    configure_logging("info", stream=stream, redactor=redactor)
    logging.getLogger("httpx").warning("GET https://h/?password=%s failed", SECRET)
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("aiosqlite").error("query failed", exc_info=True)
    first, second = lines(stream)
    assert first["logger"] == "httpx"
    assert first["level"] == "warning"
    assert first["event"] == f"GET https://h/?password={REDACTED} failed"
    assert "timestamp" in first
    assert second["logger"] == "aiosqlite"
    assert f"ValueError: {REDACTED}" in second["exception"]
    assert_no_secret(stream.getvalue())


def test_stdlib_logging_error_path_is_redacted_too(
    stream: io.StringIO,
    redactor: Redactor,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("info", stream=stream, redactor=redactor)
    # Only our handler: pytest's own capture handler raises on the broken record below.
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "stream", None) is stream]
    assert len(ours) == 1
    monkeypatch.setattr(root, "handlers", ours)
    # A broken format string: stdlib's default handler would print the arguments to stderr.
    logging.getLogger("uvicorn").warning("%d items", SECRET)
    (line,) = lines(stream)
    assert line["event"] == "logging.failed"
    assert line["source_logger"] == "uvicorn"
    captured = capsys.readouterr()
    assert_no_secret(stream.getvalue() + captured.out + captured.err)


def test_level_filters_structlog_events(stream: io.StringIO) -> None:
    configure_logging("warning", stream=stream, redactor=Redactor(()))
    log = get_logger("esd.test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [line["event"] for line in lines(stream)] == ["w", "e"]


def test_debug_level_shows_debug_but_third_party_stays_at_warning(stream: io.StringIO) -> None:
    configure_logging("debug", stream=stream, redactor=Redactor(()))
    get_logger("esd.test").debug("ours")
    logging.getLogger("uvicorn.access").info("GET / 200")
    logging.getLogger("uvicorn.error").warning("theirs")
    assert [line["event"] for line in lines(stream)] == ["ours", "theirs"]


def test_unknown_level_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"'loud'.*debug, info, warning, error, critical"):
        configure_logging("loud", stream=io.StringIO())


def test_reconfiguring_replaces_the_stdlib_handler(stream: io.StringIO) -> None:
    old = io.StringIO()
    configure_logging("info", stream=old, redactor=Redactor(()))
    configure_logging("info", stream=stream, redactor=Redactor(()))
    logging.getLogger("httpx").warning("once")
    assert old.getvalue() == ""
    assert [line["event"] for line in lines(stream)] == ["once"]


def test_logger_made_before_configuration_uses_the_later_configuration(
    stream: io.StringIO, redactor: Redactor
) -> None:
    early = get_logger("esd.early")
    configure_logging("info", stream=stream, redactor=redactor)
    early.info("late.event", secret=SECRET)
    (line,) = lines(stream)
    assert line == {**line, "logger": "esd.early", "event": "late.event", "secret": REDACTED}


def test_secrets_added_after_configuration_are_redacted(stream: io.StringIO) -> None:
    redactor = Redactor(())
    configure_logging("info", stream=stream, redactor=redactor)
    redactor.update([SECRET])
    get_logger("esd.test").info("config.loaded", token=SECRET)
    assert lines(stream)[0]["token"] == REDACTED


# structlog's bound-logger methods take the event name as their first positional parameter,
# `event`: a log call passing `event=` (or a `**` spread that may hold that key) is a TypeError
# at run time, on whichever path logs it; this catches one before it ships.
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "critical", "exception", "fatal", "msg"}
    | {"log", "bind", "new", "try_unbind", "unbind"}
    | {"adebug", "ainfo", "awarning", "aerror", "acritical", "aexception", "alog"}
)


def _event_collisions(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _LOG_METHODS
        ):
            continue
        for keyword in node.keywords:
            if keyword.arg == "event" or keyword.arg is None:
                found.append((node.lineno, ast.unparse(node)[:120]))
    return found


def test_no_log_call_in_daemon_passes_an_event_keyword() -> None:
    root = Path(daemon.__file__).parent
    found = [
        f"{path.relative_to(root.parent)}:{line}: {call}"
        for path in sorted(root.rglob("*.py"))
        for line, call in _event_collisions(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "use event_id= (or another name): structlog's `event` is the message"


def test_the_event_keyword_scan_finds_a_collision() -> None:
    calls = 'log.info("x", event=1)\nlog.bind(**fields)\nlog.info("x", event_id=1)\n'
    assert [line for line, _ in _event_collisions(ast.parse(calls))] == [1, 2]


def test_base64_forms_of_a_secret_are_redacted_alone_and_inside_longer_base64() -> None:
    import base64

    redactor = Redactor()
    redactor.update(["s3cret-Pw-77"], logins=[("esd", "s3cret-Pw-77")])
    for data in (b"s3cret-Pw-77", b"\0esd\0s3cret-Pw-77", b"esd:s3cret-Pw-77"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(data).decode()
            assert redactor.redact(f"535 {text} x") == "535 *** x"
            assert redactor.redact(text.rstrip("=")) == REDACTED
    # under any other prefix, at each byte offset, the secret's whole groups are redacted
    for prefix in (b"\0someone-else\0", b"x", b"xy", b"xyz"):
        text = base64.b64encode(prefix + b"s3cret-Pw-77").decode()
        redacted = redactor.redact(text)
        assert REDACTED in redacted and len(redacted) < len(text)
    assert redactor.redact("aGVsbG8gd29ybGQ=") == "aGVsbG8gd29ybGQ=", "other base64 is kept"

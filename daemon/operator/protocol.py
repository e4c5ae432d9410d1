"""Operator socket protocol v1, sans-IO: newline-delimited JSON objects, UTF-8, 1 MiB per line.

A client sends `{"v": 1, "id": 7, "cmd": "order", "args": {"order": "1001"}}`; the daemon answers
that id with zero or more `{"v": 1, "id": 7, "progress": {...}}` lines and exactly one final
`{"v": 1, "id": 7, "ok": true, "result": {...}}` or
`{"v": 1, "id": 7, "ok": false, "error": {"type": "NotFound", "message": "no order 1001"}}`.
Requests on one connection are answered in order. docs/operator-protocol.md is the full text.

Everything here is pure: bytes in, values out. The server and the client wrap it thinly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeAlias, TypeVar, overload

from daemon.errors import OperatorProtocolError

__all__ = [
    "COMMANDS",
    "MAX_LINE_BYTES",
    "PROTOCOL_VERSION",
    "Answer",
    "DecodedLine",
    "ErrorAnswer",
    "LineDecoder",
    "LineError",
    "ProgressAnswer",
    "Request",
    "RequestId",
    "ResultAnswer",
    "check_arg_names",
    "encode_answer",
    "encode_error",
    "encode_progress",
    "encode_request",
    "encode_result",
    "error_answer",
    "int_arg",
    "object_arg",
    "parse_answer",
    "parse_request",
    "progress_answer",
    "request_id_of",
    "result_answer",
    "str_arg",
]

PROTOCOL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 1024 * 1024
# The commands of protocol v1, for help texts and UnknownCommand messages.
COMMANDS: Final = (
    "status",
    "order",
    "why",
    "list",
    "push",
    "events",
    "event",
    "replay",
    "submit",
    "sync",
    "poll",
    "import",
    "ping",
    "test-connection",
)

RequestId: TypeAlias = int | str
_REQUEST_KEYS: Final = frozenset({"v", "id", "cmd", "args"})


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """One parsed request: answer lines must carry the same `id`. `peer_uid` is who sent it
    (the socket peer's uid, set by the server; None when unknown)."""

    id: RequestId
    cmd: str
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    peer_uid: int | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class ProgressAnswer:
    """An intermediate answer line; more lines for the same id follow."""

    id: RequestId | None
    progress: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class ResultAnswer:
    """The final answer of a request that succeeded."""

    id: RequestId | None
    result: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """The final answer of a request that failed; `type` names a daemon.errors class."""

    id: RequestId | None
    type: str
    message: str


Answer: TypeAlias = ProgressAnswer | ResultAnswer | ErrorAnswer


@dataclasses.dataclass(frozen=True, slots=True)
class DecodedLine:
    """A line that held valid JSON (of any kind: checking its shape is parse_*'s job)."""

    line_no: int
    value: Any


@dataclasses.dataclass(frozen=True, slots=True)
class LineError:
    """A line that could not be decoded; `fatal` means the stream cannot go on (over-long line)."""

    line_no: int
    message: str
    fatal: bool = False


# --- encoding -----------------------------------------------------------------------------------


def encode_answer(answer: Mapping[str, Any]) -> bytes:
    """One answer (or request) object as a protocol line. Raises TypeError/ValueError if it is
    not plain JSON data (the server turns that into an InternalError answer)."""
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def encode_request(request_id: RequestId, cmd: str, args: Mapping[str, Any] | None = None) -> bytes:
    """The request line for `cmd` with `args`."""
    return encode_answer(
        {"v": PROTOCOL_VERSION, "id": request_id, "cmd": cmd, "args": dict(args or {})}
    )


def progress_answer(request_id: RequestId | None, progress: Mapping[str, Any]) -> dict[str, Any]:
    """The progress answer object (before redaction and encoding)."""
    return {"v": PROTOCOL_VERSION, "id": request_id, "progress": dict(progress)}


def result_answer(request_id: RequestId | None, result: Mapping[str, Any]) -> dict[str, Any]:
    """The success answer object (before redaction and encoding)."""
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": dict(result)}


def error_answer(request_id: RequestId | None, error_type: str, message: str) -> dict[str, Any]:
    """The error answer object (before redaction and encoding)."""
    return {
        "v": PROTOCOL_VERSION,
        "id": request_id,
        "ok": False,
        "error": {"type": error_type, "message": message},
    }


def encode_progress(request_id: RequestId | None, progress: Mapping[str, Any]) -> bytes:
    """A progress line."""
    return encode_answer(progress_answer(request_id, progress))


def encode_result(request_id: RequestId | None, result: Mapping[str, Any]) -> bytes:
    """A final success line."""
    return encode_answer(result_answer(request_id, result))


def encode_error(request_id: RequestId | None, error_type: str, message: str) -> bytes:
    """A final error line."""
    return encode_answer(error_answer(request_id, error_type, message))


# --- decoding -----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _decode_json(line_no: int, raw: bytes) -> DecodedLine | LineError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineError(line_no, f"line {line_no}: not valid UTF-8 (byte {exc.start})")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return LineError(
            line_no, f"line {line_no}: not valid JSON: {exc.msg} at column {exc.colno}"
        )
    except RecursionError:
        return LineError(line_no, f"line {line_no}: not valid JSON: nested too deeply")
    except ValueError as exc:  # NaN/Infinity, integers beyond the int-digits limit
        return LineError(line_no, f"line {line_no}: not valid JSON: {exc}")
    return DecodedLine(line_no, value)


class LineDecoder:
    """Splits a byte stream into lines and decodes each as JSON.

    Lines are numbered from 1 per stream; blank lines are skipped but counted. A line longer
    than `max_line` bytes (newline excluded) yields a fatal LineError as soon as that is known,
    without buffering it; its remaining bytes are dropped up to the next newline.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self._max_line = max_line
        self._buffer = bytearray()
        self._line_no = 0
        self._discarding = False

    @property
    def line_no(self) -> int:
        """The number of the last line completed (or reported as over-long)."""
        return self._line_no

    def feed(self, data: bytes) -> list[DecodedLine | LineError]:
        """Add received bytes; return every line they complete, in order."""
        out: list[DecodedLine | LineError] = []
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            if self._discarding:
                if newline >= 0:
                    self._discarding = False
            else:
                self._buffer += data[start:end]
                if len(self._buffer) > self._max_line:
                    self._line_no += 1
                    self._buffer.clear()
                    self._discarding = newline < 0
                    out.append(self._too_long())
                elif newline >= 0:
                    self._line_no += 1
                    self._complete(out)
            if newline < 0:
                break
            start = newline + 1
        return out

    def finish(self) -> list[DecodedLine | LineError]:
        """The stream ended: decode a last line that had no newline, if any."""
        out: list[DecodedLine | LineError] = []
        if self._buffer and not self._discarding:
            self._line_no += 1
            self._complete(out)
        self._buffer.clear()
        self._discarding = False
        return out

    def _complete(self, out: list[DecodedLine | LineError]) -> None:
        raw = bytes(self._buffer)
        self._buffer.clear()
        if raw.strip():
            out.append(_decode_json(self._line_no, raw))

    def _too_long(self) -> LineError:
        return LineError(
            self._line_no,
            f"line {self._line_no}: longer than {self._max_line} bytes",
            fatal=True,
        )


# --- requests -----------------------------------------------------------------------------------


def _valid_id(value: Any) -> bool:
    return (type(value) is int) or isinstance(value, str)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _not_text(text: str) -> int | None:
    """Where `text` holds a lone surrogate (which UTF-8 cannot encode), else None."""
    if text.isascii():  # the usual case, and a few ns
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _where_not_text(request: dict[str, Any]) -> str | None:
    """A message naming the first key or string of `request` that is not Unicode text.

    JSON's `\\ud800` escapes decode to lone surrogates: Python holds them, UTF-8 cannot encode
    them, so an answer echoing one could not be sent. Walked with a stack, not recursion: a
    line may nest as deep as json.loads allows. Paths are spelt `"args"["items"][0]`.
    """
    try:
        # The usual case, a line of text, is told in one pass in C: walking every key and
        # spelling its path was 3% of the daemon's CPU while orders were submitted in the push
        # bench. Only a line that fails it (or nests too deep for the encoder) is walked.
        json.dumps(request, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        pass
    else:
        return None
    stack: list[tuple[str, Any]] = [("", request)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            position = _not_text(value)
            if position is not None:
                return f"{path} is not valid Unicode text (a lone surrogate at position {position})"
        elif isinstance(value, dict):
            children: list[tuple[str, Any]] = []
            for key, child in value.items():
                position = _not_text(key)
                if position is not None:
                    where = f"a key in {path}" if path else "a key"
                    return (
                        f"{where} is not valid Unicode text "
                        f"(a lone surrogate at position {position})"
                    )
                # json.dumps escapes what is not ASCII: the name is safe to send back.
                name = json.dumps(key)
                children.append((f"{path}[{name}]" if path else name, child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", child) for i, child in reversed(list(enumerate(value))))
    return None


def request_id_of(value: Any) -> RequestId | None:
    """The id of a request line if it has a valid one, else None (for error answers).

    An id that could not be sent back (a lone surrogate) is not valid either.
    """
    if isinstance(value, dict) and _valid_id(value.get("id")):
        request_id: RequestId = value["id"]
        if isinstance(request_id, str) and _not_text(request_id) is not None:
            return None
        return request_id
    return None


def parse_request(value: Any, line_no: int) -> Request:
    """Check one decoded request line; raise OperatorProtocolError naming what is wrong."""
    where = f"line {line_no}"
    if not isinstance(value, dict):
        raise OperatorProtocolError(
            f"{where}: a request must be a JSON object, not {_type_name(value)}"
        )
    problem = _where_not_text(value)
    if problem is not None:
        raise OperatorProtocolError(f"{where}: {problem}")
    unknown = sorted(set(value) - _REQUEST_KEYS)
    if unknown:
        raise OperatorProtocolError(f"{where}: unknown key {unknown[0]!r}")
    if "v" not in value:
        raise OperatorProtocolError(
            f'{where}: "v" is missing (protocol version {PROTOCOL_VERSION})'
        )
    version = value["v"]
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise OperatorProtocolError(
            f'{where}: "v" must be {PROTOCOL_VERSION}, got {json.dumps(version)[:40]}'
        )
    if "id" not in value:
        raise OperatorProtocolError(f'{where}: "id" is missing')
    if not _valid_id(value["id"]):
        raise OperatorProtocolError(
            f'{where}: "id" must be an integer or a string, not {_type_name(value["id"])}'
        )
    cmd = value.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise OperatorProtocolError(f'{where}: "cmd" must be a string')
    args = value.get("args", {})
    if not isinstance(args, dict):
        raise OperatorProtocolError(f'{where}: "args" must be an object, not {_type_name(args)}')
    return Request(id=value["id"], cmd=cmd, args=args)


# --- answers ------------------------------------------------------------------------------------


def parse_answer(value: Any) -> Answer:
    """Check one decoded answer line (client side); raise OperatorProtocolError if malformed."""
    if not isinstance(value, dict):
        raise OperatorProtocolError(f"answer must be a JSON object, not {_type_name(value)}")
    version = value.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise OperatorProtocolError(
            f'answer "v" must be {PROTOCOL_VERSION}, got {json.dumps(version)[:40]}'
        )
    if "id" not in value:
        raise OperatorProtocolError('answer has no "id"')
    answer_id = value["id"]
    if answer_id is not None and not _valid_id(answer_id):
        raise OperatorProtocolError('answer "id" must be an integer, a string or null')
    if "progress" in value:
        if "ok" in value:
            raise OperatorProtocolError('answer has both "progress" and "ok"')
        progress = value["progress"]
        if not isinstance(progress, dict):
            raise OperatorProtocolError('answer "progress" must be an object')
        return ProgressAnswer(answer_id, progress)
    ok = value.get("ok")
    if ok is True:
        result = value.get("result")
        if not isinstance(result, dict):
            raise OperatorProtocolError('answer "result" must be an object')
        return ResultAnswer(answer_id, result)
    if ok is False:
        error = value.get("error")
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("type"), str)
            or not isinstance(error.get("message"), str)
        ):
            raise OperatorProtocolError(
                'answer "error" must be an object with string "type" and "message"'
            )
        return ErrorAnswer(answer_id, error["type"], error["message"])
    raise OperatorProtocolError('answer needs "progress" or "ok": true/false')


# --- arguments (for command handlers) ----------------------------------------------------------


class _Missing:
    """Marks a required argument (no default)."""


_REQUIRED: Final = _Missing()
_T = TypeVar("_T")


def _present(args: Mapping[str, Any], name: str, default: object) -> bool:
    if args.get(name) is not None:
        return True
    if isinstance(default, _Missing):
        raise OperatorProtocolError(f"argument {name!r} is required")
    return False


def check_arg_names(args: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise OperatorProtocolError naming the first argument not in `allowed` (a typo)."""
    known = set(allowed)
    unknown = sorted(set(args) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise OperatorProtocolError(f"unknown argument {unknown[0]!r} (expected: {expected})")


@overload
def str_arg(args: Mapping[str, Any], name: str) -> str: ...
@overload
def str_arg(args: Mapping[str, Any], name: str, default: _T) -> str | _T: ...
def str_arg(args: Mapping[str, Any], name: str, default: object = _REQUIRED) -> object:
    """Argument `name` as a non-empty string, or `default` (e.g. None) when absent or null.

    Raises OperatorProtocolError naming the argument when it is required and missing, or has
    the wrong type.
    """
    if not _present(args, name, default):
        return default
    value = args[name]
    if not isinstance(value, str) or not value:
        raise OperatorProtocolError(f"argument {name!r} must be a non-empty string")
    return value


@overload
def int_arg(args: Mapping[str, Any], name: str, *, minimum: int | None = None) -> int: ...
@overload
def int_arg(
    args: Mapping[str, Any], name: str, default: _T, *, minimum: int | None = None
) -> int | _T: ...
def int_arg(
    args: Mapping[str, Any], name: str, default: object = _REQUIRED, *, minimum: int | None = None
) -> object:
    """Argument `name` as an integer (not a boolean) of at least `minimum`; see str_arg."""
    if not _present(args, name, default):
        return default
    value = args[name]
    if type(value) is not int:
        raise OperatorProtocolError(f"argument {name!r} must be an integer")
    if minimum is not None and value < minimum:
        raise OperatorProtocolError(f"argument {name!r} must be at least {minimum}")
    return value


@overload
def object_arg(args: Mapping[str, Any], name: str) -> dict[str, Any]: ...
@overload
def object_arg(args: Mapping[str, Any], name: str, default: _T) -> dict[str, Any] | _T: ...
def object_arg(args: Mapping[str, Any], name: str, default: object = _REQUIRED) -> object:
    """Argument `name` as a JSON object; see str_arg."""
    if not _present(args, name, default):
        return default
    value = args[name]
    if not isinstance(value, dict):
        raise OperatorProtocolError(f"argument {name!r} must be an object")
    return value

"""Operator protocol v1 without sockets: encoding, line splitting, request and answer checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.errors import OperatorProtocolError
from daemon.operator.protocol import (
    MAX_LINE_BYTES,
    DecodedLine,
    ErrorAnswer,
    LineDecoder,
    LineError,
    ProgressAnswer,
    Request,
    ResultAnswer,
    check_arg_names,
    encode_error,
    encode_progress,
    encode_request,
    encode_result,
    int_arg,
    object_arg,
    parse_answer,
    parse_request,
    request_id_of,
    str_arg,
)


def decode_all(data: bytes, max_line: int = MAX_LINE_BYTES) -> list[DecodedLine | LineError]:
    decoder = LineDecoder(max_line)
    return decoder.feed(data) + decoder.finish()


# --- encoding -----------------------------------------------------------------------------------


def test_encode_request_is_one_json_line() -> None:
    line = encode_request(7, "order", {"order": "1001", "site": None})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == {
        "v": 1,
        "id": 7,
        "cmd": "order",
        "args": {"order": "1001", "site": None},
    }


def test_encode_request_without_args_sends_empty_object() -> None:
    assert json.loads(encode_request("a", "ping")) == {"v": 1, "id": "a", "cmd": "ping", "args": {}}


def test_encoded_answers_parse_back() -> None:
    assert parse_answer(json.loads(encode_progress(3, {"message": "hi"}))) == ProgressAnswer(
        3, {"message": "hi"}
    )
    assert parse_answer(json.loads(encode_result(3, {"pong": True}))) == ResultAnswer(
        3, {"pong": True}
    )
    assert parse_answer(json.loads(encode_error(None, "NotFound", "no order 1001"))) == (
        ErrorAnswer(None, "NotFound", "no order 1001")
    )


def test_encoding_keeps_utf8_and_escapes_newlines() -> None:
    line = encode_result(1, {"name": "Müller\nGmbH"})
    assert "Müller".encode() in line
    assert line.count(b"\n") == 1


def test_encoding_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError):
        encode_result(1, {"x": float("nan")})
    with pytest.raises(TypeError):
        encode_result(1, {"x": object()})


# --- requests -----------------------------------------------------------------------------------

GOOD_REQUESTS: list[tuple[str, Request]] = [
    ('{"v": 1, "id": 1, "cmd": "ping"}', Request(1, "ping", {})),
    (
        '{"v": 1, "id": "abc", "cmd": "order", "args": {"order": "9"}}',
        Request("abc", "order", {"order": "9"}),
    ),
    ('{"v": 1, "id": 0, "cmd": "status", "args": {}}', Request(0, "status", {})),
    ('{"cmd": "x", "id": -5, "v": 1}', Request(-5, "x", {})),
]


@pytest.mark.parametrize(("line", "expected"), GOOD_REQUESTS)
def test_good_requests(line: str, expected: Request) -> None:
    assert parse_request(json.loads(line), 1) == expected


BAD_REQUESTS: list[tuple[str, str]] = [
    ("[1, 2]", "line 3: a request must be a JSON object, not an array"),
    ('"ping"', "line 3: a request must be a JSON object, not a string"),
    ("null", "line 3: a request must be a JSON object, not null"),
    ('{"id": 1, "cmd": "ping"}', 'line 3: "v" is missing (protocol version 1)'),
    ('{"v": 2, "id": 1, "cmd": "ping"}', 'line 3: "v" must be 1, got 2'),
    ('{"v": true, "id": 1, "cmd": "ping"}', 'line 3: "v" must be 1, got true'),
    ('{"v": 1.0, "id": 1, "cmd": "ping"}', 'line 3: "v" must be 1, got 1.0'),
    ('{"v": 1, "cmd": "ping"}', 'line 3: "id" is missing'),
    (
        '{"v": 1, "id": null, "cmd": "ping"}',
        'line 3: "id" must be an integer or a string, not null',
    ),
    (
        '{"v": 1, "id": 1.5, "cmd": "ping"}',
        'line 3: "id" must be an integer or a string, not a number',
    ),
    (
        '{"v": 1, "id": true, "cmd": "ping"}',
        'line 3: "id" must be an integer or a string, not a boolean',
    ),
    (
        '{"v": 1, "id": [1], "cmd": "ping"}',
        'line 3: "id" must be an integer or a string, not an array',
    ),
    ('{"v": 1, "id": 1}', 'line 3: "cmd" must be a string'),
    ('{"v": 1, "id": 1, "cmd": 5}', 'line 3: "cmd" must be a string'),
    ('{"v": 1, "id": 1, "cmd": ""}', 'line 3: "cmd" must be a string'),
    (
        '{"v": 1, "id": 1, "cmd": "ping", "args": []}',
        'line 3: "args" must be an object, not an array',
    ),
    (
        '{"v": 1, "id": 1, "cmd": "ping", "args": null}',
        'line 3: "args" must be an object, not null',
    ),
    ('{"v": 1, "id": 1, "cmd": "ping", "arg": {}}', "line 3: unknown key 'arg'"),
    # \\ud800 escapes decode to lone surrogates, which no answer could carry back.
    (
        '{"v": 1, "id": "\\ud800", "cmd": "ping"}',
        'line 3: "id" is not valid Unicode text (a lone surrogate at position 0)',
    ),
    (
        '{"v": 1, "id": 1, "cmd": "ping", "args": {"a": [[{"b": "ok\\udfff"}]]}}',
        'line 3: "args"["a"][0][0]["b"] is not valid Unicode text (a lone surrogate at position 2)',
    ),
    (
        '{"v": 1, "id": 1, "cmd": "ping", "args": {"a": {"\\ud83d": 1}}}',
        'line 3: a key in "args"["a"] is not valid Unicode text (a lone surrogate at position 0)',
    ),
    (
        '{"v": 1, "id": 1, "\\ud83d": 1}',
        "line 3: a key is not valid Unicode text (a lone surrogate at position 0)",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD_REQUESTS)
def test_bad_requests_name_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(OperatorProtocolError) as caught:
        parse_request(json.loads(line), 3)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": 4, "cmd": 1}, 4),
        ({"id": "x"}, "x"),
        ({"id": "\ud800"}, None),  # could not be sent back
        ({"id": 1.5}, None),
        ({"id": True}, None),
        ({}, None),
        ([1], None),
        ("id", None),
    ],
)
def test_request_id_of_takes_only_valid_ids(value: Any, expected: Any) -> None:
    assert request_id_of(value) == expected


# --- line decoding ------------------------------------------------------------------------------


def test_decoder_splits_lines_across_chunks() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b'{"a"') == []
    assert decoder.feed(b": 1}\n[2") == [DecodedLine(1, {"a": 1})]
    assert decoder.feed(b"]\n3\n") == [DecodedLine(2, [2]), DecodedLine(3, 3)]
    assert decoder.finish() == []


def test_decoder_skips_blank_lines_but_counts_them() -> None:
    assert decode_all(b"\n  \r\n1\n") == [DecodedLine(3, 1)]


def test_decoder_accepts_crlf() -> None:
    assert decode_all(b'{"x": 1}\r\n') == [DecodedLine(1, {"x": 1})]


def test_decoder_finish_decodes_last_line_without_newline() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"1\n2") == [DecodedLine(1, 1)]
    assert decoder.finish() == [DecodedLine(2, 2)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"{nope\n",
            "line 1: not valid JSON: Expecting property name enclosed in double quotes at column 2",
        ),
        (b'{"a": 1} x\n', "line 1: not valid JSON: Extra data at column 10"),
        (b"\xff\xfe\n", "line 1: not valid UTF-8 (byte 0)"),
        (b"NaN\n", "line 1: not valid JSON: NaN is not valid JSON"),
        (b'{"x": -Infinity}\n', "line 1: not valid JSON: -Infinity is not valid JSON"),
        (b"[" * 100_000 + b"\n", "line 1: not valid JSON: nested too deeply"),
    ],
)
def test_decoder_reports_bad_lines_without_raising(raw: bytes, message: str) -> None:
    assert decode_all(raw) == [LineError(1, message, fatal=False)]


def test_decoder_reports_huge_integer_as_bad_json() -> None:
    (line,) = decode_all(b"1" * 5000 + b"\n")
    assert isinstance(line, LineError)
    assert line.message.startswith("line 1: not valid JSON:")
    assert not line.fatal


def test_line_of_exactly_max_length_is_accepted() -> None:
    payload = b'"' + b"x" * 8 + b'"'  # 10 bytes
    assert decode_all(payload + b"\n", max_line=10) == [DecodedLine(1, "x" * 8)]


def test_over_long_line_is_fatal_and_reported_once() -> None:
    decoder = LineDecoder(max_line=10)
    first = decoder.feed(b"1" * 8)
    second = decoder.feed(b"1" * 8)
    third = decoder.feed(b"1" * 100)
    assert first == []
    assert second == [LineError(1, "line 1: longer than 10 bytes", fatal=True)]
    assert third == []
    # The rest of that line is dropped; the stream can go on after its newline.
    assert decoder.feed(b"111\n2\n") == [DecodedLine(2, 2)]
    assert decoder.finish() == []


def test_over_long_line_within_one_chunk() -> None:
    assert decode_all(b"1" * 11 + b"\n5\n", max_line=10) == [
        LineError(1, "line 1: longer than 10 bytes", fatal=True),
        DecodedLine(2, 5),
    ]


def test_decoder_rejects_bad_limit() -> None:
    with pytest.raises(ValueError):
        LineDecoder(0)


# --- answers ------------------------------------------------------------------------------------

BAD_ANSWERS: list[tuple[Any, str]] = [
    ([], "answer must be a JSON object, not an array"),
    ({"id": 1, "ok": True, "result": {}}, 'answer "v" must be 1, got null'),
    ({"v": 1, "ok": True, "result": {}}, 'answer has no "id"'),
    (
        {"v": 1, "id": 1.5, "ok": True, "result": {}},
        'answer "id" must be an integer, a string or null',
    ),
    ({"v": 1, "id": 1, "progress": {}, "ok": True}, 'answer has both "progress" and "ok"'),
    ({"v": 1, "id": 1, "progress": "x"}, 'answer "progress" must be an object'),
    ({"v": 1, "id": 1, "ok": True}, 'answer "result" must be an object'),
    ({"v": 1, "id": 1, "ok": False, "error": "x"}, 'answer "error" must be an object'),
    ({"v": 1, "id": 1, "ok": False, "error": {"type": "X"}}, 'answer "error" must be an object'),
    ({"v": 1, "id": 1, "ok": 1, "result": {}}, 'answer needs "progress" or "ok"'),
    ({"v": 1, "id": 1}, 'answer needs "progress" or "ok"'),
]


@pytest.mark.parametrize(("value", "message"), BAD_ANSWERS)
def test_bad_answers(value: Any, message: str) -> None:
    with pytest.raises(
        OperatorProtocolError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_answer(value)


# --- argument helpers ---------------------------------------------------------------------------


def test_argument_helpers_return_values_and_defaults() -> None:
    args = {"order": "1001", "limit": 5, "payload": {"a": 1}, "site": None}
    assert str_arg(args, "order") == "1001"
    assert str_arg(args, "site", None) is None
    assert str_arg(args, "missing", "dflt") == "dflt"
    assert int_arg(args, "limit", minimum=1) == 5
    assert int_arg(args, "other", 100) == 100
    assert object_arg(args, "payload") == {"a": 1}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: str_arg({}, "order"), "argument 'order' is required"),
        (lambda: str_arg({"order": 1001}, "order"), "argument 'order' must be a non-empty string"),
        (lambda: str_arg({"order": ""}, "order"), "argument 'order' must be a non-empty string"),
        (lambda: int_arg({"id": "3"}, "id"), "argument 'id' must be an integer"),
        (lambda: int_arg({"id": True}, "id"), "argument 'id' must be an integer"),
        (
            lambda: int_arg({"limit": 0}, "limit", 100, minimum=1),
            "argument 'limit' must be at least 1",
        ),
        (lambda: object_arg({"payload": []}, "payload"), "argument 'payload' must be an object"),
        (
            lambda: check_arg_names({"stat": 1}, ["status", "limit"]),
            "unknown argument 'stat' (expected: limit, status)",
        ),
    ],
)
def test_argument_helpers_name_the_argument(call: Any, message: str) -> None:
    with pytest.raises(OperatorProtocolError) as caught:
        call()
    assert str(caught.value) == message


# --- fuzz ---------------------------------------------------------------------------------------


def _outcomes(data: bytes, cuts: list[int], max_line: int) -> list[object]:
    decoder = LineDecoder(max_line)
    lines: list[DecodedLine | LineError] = []
    previous = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        lines += decoder.feed(data[previous:cut])
        previous = cut
    lines += decoder.feed(data[previous:])
    lines += decoder.finish()
    outcomes: list[object] = []
    for line in lines:
        assert isinstance(line, DecodedLine | LineError)
        if isinstance(line, LineError):
            assert line.message.startswith(f"line {line.line_no}: ")
            outcomes.append(line)
            continue
        try:
            outcomes.append(parse_request(line.value, line.line_no))
        except OperatorProtocolError as exc:
            assert str(exc).startswith(f"line {line.line_no}: ")
            outcomes.append(str(exc))
    return outcomes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)
request_like = st.fixed_dictionaries(
    {},
    optional={
        "v": json_values | st.just(1),
        "id": json_values,
        "cmd": json_values,
        "args": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=300)
    | st.lists(request_like, max_size=4).map(
        lambda objs: b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    max_line=st.integers(min_value=1, max_value=120),
)
def test_fuzz_decoder_and_parser_give_only_documented_results(
    data: bytes, cuts: list[int], max_line: int
) -> None:
    # Never raises anything but the documented results, and chunking never changes them.
    assert _outcomes(data, cuts, max_line) == _outcomes(data, [], max_line)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_fuzz_parse_answer_raises_only_protocol_errors(value: Any) -> None:
    try:
        answer = parse_answer(value)
    except OperatorProtocolError:
        return
    assert isinstance(answer, ProgressAnswer | ResultAnswer | ErrorAnswer)

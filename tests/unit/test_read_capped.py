"""`read_capped`: an answer read whole within a byte limit, without copying one already read."""

from __future__ import annotations

import gzip

import anyio
import httpx
import pytest

from daemon.errors import AnswerTooLarge
from daemon.remote.deadline import read_capped

URL = "http://mis.example/api/orders"


def _answer(body: bytes, headers: list[tuple[str, str]], *, stream: bool = False) -> httpx.Response:
    """An answer as a transport gives it: its body in memory, or (`stream`) still to be read."""
    content: httpx.ByteStream | httpx.AsyncByteStream = httpx.ByteStream(body)
    if stream:

        class Parts(httpx.AsyncByteStream):
            async def __aiter__(self):  # type: ignore[no-untyped-def]
                yield body

        content = Parts()
    return httpx.Response(200, headers=headers, stream=content, request=httpx.Request("GET", URL))


def _read(response: httpx.Response, limit: int) -> httpx.Response:
    return anyio.run(read_capped, response, limit, "list orders")


def test_a_plain_answer_in_memory_comes_back_itself_and_read() -> None:
    answer = _answer(b'{"ok":true}', [("Content-Type", "application/json")])
    read = _read(answer, 100)
    assert read is answer
    assert read.content == b'{"ok":true}' and read.is_closed


@pytest.mark.parametrize(
    ("headers", "stream"),
    [
        ([], False),  # framed by the connection's close: no Content-Length to refuse it by
        ([], True),
        ([("Content-Length", "12")], False),
    ],
)
def test_an_answer_past_the_limit_is_refused(headers: list[tuple[str, str]], stream: bool) -> None:
    with pytest.raises(AnswerTooLarge, match=r"mis\.example/api/orders: larger than the 11 byte"):
        _read(_answer(b"x" * 12, headers, stream=stream), 11)


def test_a_compressed_answer_comes_back_decoded_without_its_coding() -> None:
    body = b'{"orders":[]}' * 20
    answer = _answer(gzip.compress(body), [("Content-Encoding", "gzip")])
    read = _read(answer, 1000)
    assert read is not answer
    assert read.content == body and "content-encoding" not in read.headers


def test_a_decoded_answer_past_the_limit_is_refused_though_its_coding_is_small() -> None:
    answer = _answer(gzip.compress(b"x" * 5000), [("Content-Encoding", "gzip")])
    with pytest.raises(AnswerTooLarge):
        _read(answer, 1000)


def test_a_chunked_answer_comes_back_without_its_framing() -> None:
    answer = _answer(b"abc", [("Transfer-Encoding", "chunked")])
    read = _read(answer, 100)
    assert read is not answer
    assert read.content == b"abc" and "transfer-encoding" not in read.headers

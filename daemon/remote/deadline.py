"""An overall deadline and a size limit for every MIS and storefront call, in one place.

httpx's timeouts bound each read, not the call: a server that drips one byte every couple of
seconds keeps a call (and the push holding it) alive for ever. So every call runs inside
`call_deadline`, an anyio cancel scope: when the deadline passes whatever the call is doing is
cancelled and the call fails with `CallDeadlineExceeded`, a `NetworkError`, so the spine retries
it durably (in-call retries skip it: a server that slow will not be quicker at once).

Answers are read as a stream and refused (`AnswerTooLarge`, permanent: retrying fetches the same
document) as soon as they pass their limit, so a huge answer is never held in memory whole.

The limits are per account (per storefront): `call_deadline_seconds` and `max_answer_bytes`
(and the Pace provider's `max_wsdl_bytes`), checked by `limits_problems` and read by
`CallLimits.of`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import httpx

from daemon.errors import AnswerTooLarge, CallDeadlineExceeded

__all__ = [
    "DEFAULT_CALL_DEADLINE_SECONDS",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_WSDL_BYTES",
    "LIMIT_KEYS",
    "CallLimits",
    "call_deadline",
    "deadline_message",
    "decoded_headers",
    "limits_problems",
    "read_capped",
    "shown_url",
    "too_large",
]

#: seconds one whole call (connect, send, the whole answer) may take
DEFAULT_CALL_DEADLINE_SECONDS = 120.0
#: bytes one answer may have
DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: bytes one WSDL or XSD document may have. No real Pace WSDL is public, so their size is not
#: known: this is a cap that stops a runaway answer, far above the reconstructed documents in
#: `daemon/providers/pace/wsdl/`.
DEFAULT_MAX_WSDL_BYTES = 10 * 1024 * 1024
#: the settings keys `limits_problems` checks
LIMIT_KEYS = ("call_deadline_seconds", "max_answer_bytes")


@dataclasses.dataclass(frozen=True, slots=True)
class CallLimits:
    """How long one call may take and how large its answer may be."""

    deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> CallLimits:
        """The limits an account's settings give (checked by `limits_problems` first)."""
        return cls(
            float(settings.get("call_deadline_seconds", DEFAULT_CALL_DEADLINE_SECONDS)),
            int(settings.get("max_answer_bytes", DEFAULT_MAX_ANSWER_BYTES)),
        )


def limits_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with `call_deadline_seconds` and `max_answer_bytes` in `settings`."""
    problems: list[tuple[str, str]] = []
    if "call_deadline_seconds" in settings and not _positive_number(
        settings["call_deadline_seconds"]
    ):
        problems.append(("call_deadline_seconds", "must be a number of seconds greater than 0"))
    if "max_answer_bytes" in settings and not _positive_integer(settings["max_answer_bytes"]):
        problems.append(("max_answer_bytes", "must be an integer number of bytes, 1 or more"))
    return problems


def _positive_number(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


def _positive_integer(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def deadline_message(what: str, seconds: float) -> str:
    return (
        f"{what}: no whole answer within the {seconds:g}s call deadline "
        "(call_deadline_seconds); the server is too slow or drips its answer"
    )


@contextlib.contextmanager
def call_deadline(seconds: float, what: str) -> Iterator[None]:
    """Cancel the block after `seconds` and raise `CallDeadlineExceeded` naming `what`.

    A cancellation from outside (the daemon stopping) is not turned into an error: it goes on.
    """
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        raise CallDeadlineExceeded(deadline_message(what, seconds))


def shown_url(url: httpx.URL | str) -> str:
    """`url` fit for an error text: without a login, password or query (tokens live there)."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def too_large(what: str, url: httpx.URL | str, limit: int, setting: str) -> AnswerTooLarge:
    return AnswerTooLarge(
        f"{what}: refused the answer of {shown_url(url)}: larger than the {limit} byte limit "
        f"({setting})"
    )


def decoded_headers(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    """The headers of an answer whose body was read (decoded): without its framing and
    content encoding, which would not describe the bytes a copy of it carries."""
    return [
        (name, value)
        for name, value in headers.raw
        if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]


def _whole_and_plain(response: httpx.Response) -> bool:
    """Whether the body is in memory (a byte stream) and stored as sent: no content or
    transfer coding that reading it would undo."""
    if not isinstance(response.stream, httpx.ByteStream):
        return False
    headers = response.headers
    coding = headers.get("content-encoding", "identity").strip().lower()
    return coding in ("", "identity") and "transfer-encoding" not in headers


async def read_capped(
    response: httpx.Response, limit: int, what: str, setting: str = "max_answer_bytes"
) -> httpx.Response:
    """`response` read whole as a stream, stopped (`AnswerTooLarge`) once past `limit` bytes;
    the answer comes back read (closed either way): as a new response, or as `response` itself
    when its body was in memory already and its headers describe exactly those bytes."""
    try:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_large(what, response.request.url, limit, setting)
        if _whole_and_plain(response):
            # The lean keep-alive transport's answers: read already, neither compressed nor
            # chunked, so reading them is a join and a copy would describe the same bytes.
            # (Building the copy was an eighth of a Tharstern call's CPU: 383 -> 333 us in a
            # loop of calls against the sandbox.)
            if len(await response.aread()) > limit:
                raise too_large(what, response.request.url, limit, setting)
            return response
        parts: list[bytes] = []
        size = 0
        async for part in response.aiter_bytes():
            size += len(part)
            if size > limit:
                raise too_large(what, response.request.url, limit, setting)
            parts.append(part)
    finally:
        await response.aclose()
    return httpx.Response(
        response.status_code,
        headers=decoded_headers(response.headers),
        content=b"".join(parts),
        request=response.request,
        extensions={
            key: value for key, value in response.extensions.items() if key != "network_stream"
        },
    )

"""Classify HTTP answers and transport failures into esd's `DriverError` hierarchy.

Every HTTP-based client (the reference MIS, Tharstern, PressWise, the Pressero storefront) calls
`error_for_response` on each answer and wraps each request in `transport_errors`, so the spine
sees one vocabulary: transient (retry later, maybe after `retry_after`) or permanent (an operator
must act). Messages name what was being done and the HTTP status; they never quote request
headers, URLs with credentials, or request bodies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import html
import math
import re
from collections.abc import Iterator

import httpx

from daemon.errors import (
    AnswerTooLarge,
    AuthenticationFailed,
    BusinessRuleError,
    DriverError,
    NetworkError,
    NotFound,
    PermanentError,
    RateLimited,
    ServerError,
)
from daemon.remote import json_text
from daemon.remote.json_text import JsonTooDeep
from daemon.remote.keepalive_transport import AnswerOverLimit

__all__ = [
    "MAX_SERVER_MESSAGE",
    "error_for_response",
    "html_summary",
    "json_answer",
    "parse_retry_after",
    "server_text",
    "transport_errors",
]

#: how much of a server's error message is kept in an exception text
MAX_SERVER_MESSAGE = 500

# Failures of the connection itself: the request may or may not have reached the server.
_TRANSPORT_FAILURES = (
    httpx.TimeoutException,  # connect/read/write/pool timeouts
    httpx.NetworkError,  # ConnectError, ReadError, WriteError, CloseError
    httpx.RemoteProtocolError,  # the server closed the connection without a (valid) answer
)


def error_for_response(response: httpx.Response, *, what: str) -> DriverError | None:
    """Return the error an HTTP answer means, or None for a 2xx success.

    `what` says what was being done ("create job for order 1001"); it starts the message.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    head = f"{what}: HTTP {status}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
        return RateLimited(f"{head}: rate limited{hint}", retry_after=retry_after)
    if status >= 500:
        return ServerError(_with_server_message(f"{head}: server error", response))
    if status in (401, 403):
        # The body is not quoted: some servers echo the login back.
        return AuthenticationFailed(f"{head}: credentials rejected (check login and password)")
    if status == 404:
        return NotFound(_with_server_message(f"{head}: not found", response))
    if 400 <= status < 500:
        return BusinessRuleError(_with_server_message(f"{head}: refused", response))
    # 1xx that leaked through or a 3xx the client did not follow: a wrong base URL, usually.
    return PermanentError(f"{head}: unexpected answer (check the configured URL)")


def json_answer(response: httpx.Response, *, what: str) -> object:
    """The answer's JSON body; one that is not JSON is the server's fault: `ServerError`."""
    try:
        return json_text.loads(response.content)
    except JsonTooDeep as exc:
        raise ServerError(f"{what}: HTTP {response.status_code}: answer is {exc.msg}") from exc
    except ValueError as exc:
        raise ServerError(f"{what}: HTTP {response.status_code}: answer is not JSON") from exc


@contextlib.contextmanager
def transport_errors(what: str) -> Iterator[None]:
    """Turn httpx connection failures inside the block into `daemon.errors.NetworkError`."""
    try:
        yield
    except AnswerOverLimit as exc:
        raise AnswerTooLarge(f"{what}: {exc}") from exc
    except _TRANSPORT_FAILURES as exc:
        # httpx texts ("timed out", "[Errno 111] Connection refused") carry no URL or header.
        detail = str(exc) or "no detail"
        raise NetworkError(f"{what}: {type(exc).__name__}: {detail}") from exc


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    A date in the past gives 0; a missing or unreadable value gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may lack the zone
        when = when.replace(tzinfo=dt.UTC)
    current = now if now is not None else dt.datetime.now(dt.UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=dt.UTC)
    return max(0.0, (when - current).total_seconds())


def _with_server_message(head: str, response: httpx.Response) -> str:
    message = _server_message(response)
    return f"{head}: {message}" if message else head


_HTML_START = re.compile(r"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_HTML_HEADING = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")


def html_summary(text: str, content_type: str = "") -> str | None:
    """'HTML page "502 Bad Gateway"' for an HTML error page (a proxy's, a web server's), from its
    title or first heading; None when `text` is not HTML. Markup never reaches a message."""
    if "html" not in content_type.lower() and not _HTML_START.match(text):
        return None
    for pattern in (_HTML_TITLE, _HTML_HEADING):
        found = pattern.search(text)
        if found:
            words = " ".join(html.unescape(_HTML_TAG.sub(" ", found.group(1))).split())
            if words:
                return f'HTML page "{words[:120]}"'
    return "HTML page without a title"


def _server_message(response: httpx.Response) -> str:
    """The server's own explanation: JSON `error`/`message`, an HTML page's title, else the
    body text; truncated."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError, httpx.ResponseNotRead):
        return ""
    text = text.strip()
    if not text:
        return ""
    page = html_summary(text, response.headers.get("content-type", ""))
    if page is not None:
        return page
    try:
        body = json_text.loads(text)
    except ValueError:  # JsonTooDeep included: the text is shown as it is
        message = text
    else:
        message = text
        if isinstance(body, dict):
            # ASP.NET answers {"Message": ...}: the key's case varies by server.
            lowered = {str(k).lower(): v for k, v in body.items()}
            for key in ("error", "message"):
                found = lowered.get(key)
                if isinstance(found, str) and found.strip():
                    message = found.strip()
                    break
                if isinstance(found, dict) and isinstance(found.get("message"), str):
                    message = found["message"].strip()
                    break
    return server_text(message)


def server_text(text: str) -> str:
    """A server's own words as esd shows them: one line (logs), at most `MAX_SERVER_MESSAGE`."""
    text = " ".join(text.split())
    if len(text) > MAX_SERVER_MESSAGE:
        return text[: MAX_SERVER_MESSAGE - 1] + "…"
    return text

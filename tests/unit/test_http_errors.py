"""HTTP answers and transport failures map onto esd's DriverError hierarchy."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from daemon.errors import (
    AuthenticationFailed,
    BusinessRuleError,
    DriverError,
    NetworkError,
    NotFound,
    PermanentError,
    RateLimited,
    ServerError,
)
from daemon.remote.http_errors import (
    MAX_SERVER_MESSAGE,
    error_for_response,
    html_summary,
    json_answer,
    parse_retry_after,
    transport_errors,
)

SECRET = "s3cr3t-Pa55"
WHAT = "create job for order 1001"


def response(
    status: int,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> httpx.Response:
    """An in-memory answer to a request that carried credentials everywhere it could."""
    request = httpx.Request(
        "POST",
        f"https://esd:{SECRET}@mis.example/api/jobs?token={SECRET}",
        headers={"Authorization": f"Basic {SECRET}", "X-Api-Key": SECRET},
        json={"password": SECRET},
    )
    if text is not None:
        return httpx.Response(status, headers=headers, text=text, request=request)
    if body is not None:
        return httpx.Response(status, headers=headers, json=body, request=request)
    return httpx.Response(status, headers=headers, request=request)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_success_is_no_error(status: int) -> None:
    assert error_for_response(response(status), what=WHAT) is None


@pytest.mark.parametrize(
    ("answer", "kind", "fragments"),
    [
        (response(500), ServerError, ["HTTP 500", "server error"]),
        (response(502, text="Bad Gateway"), ServerError, ["HTTP 502", "Bad Gateway"]),
        (response(503, {"error": "maintenance"}), ServerError, ["HTTP 503", "maintenance"]),
        (response(401), AuthenticationFailed, ["HTTP 401", "credentials rejected"]),
        (response(403, {"error": f"user esd/{SECRET}"}), AuthenticationFailed, ["HTTP 403"]),
        (response(404, {"error": "job not found: J9"}), NotFound, ["HTTP 404", "J9"]),
        (
            response(422, {"error": "Field is required: customer"}),
            BusinessRuleError,
            ["HTTP 422", "Field is required: customer"],
        ),
        (
            response(400, {"message": "bad due date"}),
            BusinessRuleError,
            ["HTTP 400", "bad due date"],
        ),
        (
            response(409, {"error": {"message": "duplicate"}}),
            BusinessRuleError,
            ["HTTP 409", "duplicate"],
        ),
        (response(422, text="plain words"), BusinessRuleError, ["plain words"]),
        (response(422, {"detail": "x"}), BusinessRuleError, ['{"detail":"x"}']),
        (response(418), BusinessRuleError, ["HTTP 418"]),
        (response(302, headers={"Location": "/login"}), PermanentError, ["HTTP 302", "URL"]),
    ],
)
def test_error_statuses(
    answer: httpx.Response, kind: type[DriverError], fragments: list[str]
) -> None:
    error = error_for_response(answer, what=WHAT)
    assert type(error) is kind
    assert str(error).startswith(WHAT + ": ")
    for fragment in fragments:
        assert fragment in str(error)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0"}, 0.0),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_429_is_rate_limited_with_retry_after(
    headers: dict[str, str], retry_after: float | None
) -> None:
    error = error_for_response(response(429, headers=headers), what=WHAT)
    assert isinstance(error, RateLimited)
    assert error.retry_after == retry_after
    assert "HTTP 429" in str(error)


def test_429_with_http_date_counts_from_now() -> None:
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    header = future.strftime("%a, %d %b %Y %H:%M:%S GMT")
    error = error_for_response(response(429, headers={"Retry-After": header}), what=WHAT)
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None
    assert 100 < error.retry_after <= 120


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 503])
def test_no_credentials_in_messages(status: int) -> None:
    body = {"error": "refused", "echo": "nothing"}
    error = error_for_response(response(status, body), what=WHAT)
    assert error is not None
    assert SECRET not in str(error)
    assert "Authorization" not in str(error)


def test_long_server_message_is_truncated() -> None:
    answer = response(422, {"error": "x" * 5000})
    error = error_for_response(answer, what=WHAT)
    assert isinstance(error, BusinessRuleError)
    quoted = str(error).split("refused: ", 1)[1]
    assert len(quoted) == MAX_SERVER_MESSAGE
    assert quoted.endswith("…")


def test_multiline_server_message_becomes_one_line() -> None:
    answer = response(422, text="line one\n  line two\r\n")
    error = error_for_response(answer, what=WHAT)
    assert str(error).endswith("refused: line one line two")


def test_undecodable_body_still_classified() -> None:
    answer = httpx.Response(
        500,
        content=b"\xff\xfe\xfa",
        headers={"Content-Type": "text/plain; charset=nonexistent-charset"},
        request=httpx.Request("GET", "https://mis.example/"),
    )
    error = error_for_response(answer, what=WHAT)
    assert isinstance(error, ServerError)


def test_json_answer_reads_the_body_or_blames_the_server() -> None:
    assert json_answer(response(200, {"job_id": "J1"}), what=WHAT) == {"job_id": "J1"}
    with pytest.raises(ServerError) as raised:
        json_answer(response(200, text=f"<html>{SECRET}</html>"), what=WHAT)
    assert str(raised.value) == f"{WHAT}: HTTP 200: answer is not JSON"


NOW = dt.datetime(2015, 10, 21, 7, 27, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("tomorrow", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past: go now
        ("Wednesday, 21-Oct-15 07:28:30 GMT", 90.0),  # RFC 850, obsolete but allowed
        ("Wed Oct 21 07:29:00 2015", 120.0),  # asctime, no zone: GMT
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_accepts_naive_now_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=naive) == 60.0


REQUEST = httpx.Request("GET", "https://mis.example/api/ping")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("timed out", request=REQUEST),
        httpx.ReadTimeout("timed out", request=REQUEST),
        httpx.WriteTimeout("timed out", request=REQUEST),
        httpx.PoolTimeout("no free connection", request=REQUEST),
        httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST),
        httpx.ReadError("[Errno 104] Connection reset by peer", request=REQUEST),
        httpx.WriteError("broken pipe", request=REQUEST),
        httpx.CloseError("close failed", request=REQUEST),
        httpx.RemoteProtocolError("Server disconnected", request=REQUEST),
        httpx.NetworkError("network down", request=REQUEST),
    ],
)
def test_transport_failures_become_network_errors(failure: httpx.TransportError) -> None:
    with pytest.raises(NetworkError) as caught, transport_errors(WHAT):
        raise failure
    assert caught.value.__cause__ is failure
    assert str(caught.value).startswith(f"{WHAT}: {type(failure).__name__}: ")
    assert str(failure) in str(caught.value)


@pytest.mark.parametrize(
    "other",
    [ValueError("not ours"), httpx.LocalProtocolError("our bug"), KeyError("k")],
)
def test_other_exceptions_pass_through(other: Exception) -> None:
    with pytest.raises(type(other)) as caught, transport_errors(WHAT):
        raise other
    assert caught.value is other


def test_transport_errors_is_silent_on_success() -> None:
    with transport_errors(WHAT):
        result = json.loads("[1]")
    assert result == [1]


def test_an_aspnet_message_key_is_read_whatever_its_case() -> None:
    response = httpx.Response(400, json={"Message": "The request is invalid."})
    error = error_for_response(response, what="set status")
    assert error is not None and str(error).endswith("The request is invalid.")


@pytest.mark.parametrize(
    ("body", "content_type", "summary"),
    [
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>x</h1></body></html>",
            "text/html",
            'HTML page "502 Bad Gateway"',
        ),
        (
            "<!DOCTYPE html>\n<!-- iis -->\n<html><body><h1>Service &amp; API\n Unavailable</h1>",
            "",
            'HTML page "Service & API Unavailable"',
        ),
        ("<html><body>down</body></html>", "text/html; charset=utf-8", "HTML page without a title"),
        ('{"Message": "no"}', "application/json", None),
        ("plain text error", "text/plain", None),
    ],
    ids=["nginx", "doctype, comment, entity", "no title", "json", "text"],
)
def test_an_html_error_page_is_summarised_by_its_title(
    body: str, content_type: str, summary: str | None
) -> None:
    assert html_summary(body, content_type) == summary
    if summary is not None:
        error = error_for_response(
            httpx.Response(503, text=body, headers={"content-type": content_type or "text/html"}),
            what="create job",
        )
        assert error is not None and str(error) == f"create job: HTTP 503: server error: {summary}"

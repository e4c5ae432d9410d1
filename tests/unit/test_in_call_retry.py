"""retry_read: a bare first try, then tenacity's schedule for the rest; only transient errors."""

from __future__ import annotations

import anyio
import pytest
import structlog

from daemon.errors import BusinessRuleError, NetworkError, RateLimited, ServerError
from daemon.remote.in_call_retry import READ_ATTEMPTS, retry_if_read, retry_read


def run_with(errors: list[Exception], attempts: int = READ_ATTEMPTS) -> tuple[object, int]:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    async def main() -> object:
        return await retry_read(call, what="read x", attempts=attempts, first_wait=0.001)

    try:
        result: object = anyio.run(main)
    except Exception as exc:  # the test inspects it
        result = exc
    return result, calls


def test_a_read_that_succeeds_is_called_once() -> None:
    assert run_with([]) == ("ok", 1)


@pytest.mark.parametrize("error", [NetworkError("reset"), ServerError("502")])
def test_transient_errors_are_tried_again_until_it_works(error: Exception) -> None:
    assert run_with([error, error]) == ("ok", 3)


def test_after_the_last_attempt_the_last_error_is_raised() -> None:
    errors: list[Exception] = [NetworkError(f"reset {n}") for n in range(READ_ATTEMPTS + 1)]
    result, calls = run_with(errors)
    assert calls == READ_ATTEMPTS
    assert isinstance(result, NetworkError) and str(result) == f"reset {READ_ATTEMPTS - 1}"


@pytest.mark.parametrize(
    "error", [BusinessRuleError("no"), RateLimited("429", retry_after=5.0), KeyError("bug")]
)
def test_other_errors_are_raised_at_once(error: Exception) -> None:
    result, calls = run_with([error])
    assert calls == 1 and result is error


def test_one_attempt_means_no_retry() -> None:
    error = NetworkError("reset")
    result, calls = run_with([error], attempts=1)
    assert calls == 1 and result is error


def test_each_retry_is_logged_with_its_attempt_number() -> None:
    with structlog.testing.capture_logs() as logs:
        run_with([NetworkError("a"), ServerError("b")])
    retries = [(e["attempt"], e["error"]) for e in logs if e["event"] == "http.read_retry"]
    assert retries == [(1, "NetworkError"), (2, "ServerError")]


@pytest.mark.parametrize(("method", "calls"), [("GET", 2), ("POST", 1), ("PUT", 1)])
def test_only_a_get_is_retried_in_the_call(method: str, calls: int) -> None:
    # a create whose answer was lost is the journal's to settle, never sent again here
    tries = 0

    async def call() -> str:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise NetworkError("reset")
        return "ok"

    async def main() -> object:
        try:
            return await retry_if_read(method, call, what=f"{method} x")
        except NetworkError as exc:
            return exc

    result = anyio.run(main)
    assert tries == calls
    assert (result == "ok") is (method == "GET")

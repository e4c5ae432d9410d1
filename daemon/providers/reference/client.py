"""Async HTTP client for the reference MIS JSON API: one method per endpoint, nothing more.

Every failure comes out as a `daemon.errors.DriverError` through `daemon.remote.http_errors`;
an answer of the wrong shape is a `ServerError` naming the field. Each call has an overall
deadline and its answer a size limit (`daemon.remote.deadline`). The login and password live
only inside the httpx auth object: no message or log line built here contains them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import structlog

from daemon.errors import ServerError
from daemon.providers.reference.mapping import (
    Job,
    JobRequest,
    LineRequest,
    ProductPage,
    WireFormatError,
    parse_created_id,
    parse_job,
    parse_jobs,
    parse_ping,
    parse_products_page,
)
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    call_deadline,
    read_capped,
)
from daemon.remote.http_errors import error_for_response, json_answer, transport_errors
from daemon.remote.in_call_retry import retry_if_read

__all__ = ["DEFAULT_TIMEOUT", "ReferenceClient"]

DEFAULT_TIMEOUT = 10.0

log = structlog.get_logger(__name__)

T = TypeVar("T")


class ReferenceClient:
    """Talks to one reference MIS at `base_url` with HTTP Basic credentials."""

    def __init__(
        self,
        base_url: str,
        login: str,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._deadline = call_deadline_seconds
        self._max_answer = max_answer_bytes
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(login, password),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    async def ping(self) -> tuple[str, str]:
        """Check reachability and credentials; return (product, version)."""
        data = await self._request("GET", "/api/ping", what="ping")
        return _parsed("ping", parse_ping, data)

    async def find_jobs(self, reference: str) -> list[Job]:
        """Jobs whose reference is exactly `reference`, oldest first."""
        what = f"find jobs with reference {reference}"
        data = await self._request("GET", "/api/jobs", what=what, params={"reference": reference})
        jobs = _parsed(what, parse_jobs, data)
        # A real MIS search may match loosely; only an exact reference is ours.
        return [job for job in jobs if job.reference == reference]

    async def get_job(self, job_id: str) -> Job:
        """One job with its lines."""
        what = f"read job {job_id}"
        data = await self._request("GET", f"/api/jobs/{_segment(job_id)}", what=what)
        return _parsed(what, parse_job, data)

    async def create_job(self, job: JobRequest) -> str:
        """Create a job (not idempotent: the MIS makes a new one each time); return its id."""
        what = f"create job {job['reference']}"
        data = await self._request("POST", "/api/jobs", what=what, json=job)
        return _parsed(what, lambda d: parse_created_id(d, "job_id", "created job"), data)

    async def add_line(self, job_id: str, line: LineRequest) -> str:
        """Add a line to a job (not idempotent either); return the line's id."""
        what = f"add line {line['line_key']} to job {job_id}"
        path = f"/api/jobs/{_segment(job_id)}/lines"
        data = await self._request("POST", path, what=what, json=line)
        return _parsed(what, lambda d: parse_created_id(d, "line_id", "created line"), data)

    async def products(self, page: int, page_size: int) -> ProductPage:
        """One page of the catalogue (pages count from 1)."""
        what = f"read products page {page}"
        params = {"page": str(page), "page_size": str(page_size)}
        data = await self._request("GET", "/api/products", what=what, params=params)
        return _parsed(what, parse_products_page, data)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> object:
        return await retry_if_read(
            method, lambda: self._once(method, path, what=what, params=params, json=json), what=what
        )

    async def _once(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
    ) -> object:
        request = self._http.build_request(method, path, params=params, json=json)
        with call_deadline(self._deadline, what), transport_errors(what):
            streamed = await self._http.send(request, stream=True)
            response = await read_capped(streamed, self._max_answer, what)
        log.debug("reference.http", method=method, path=path, status=response.status_code)
        error = error_for_response(response, what=what)
        if error is not None:
            raise error
        return json_answer(response, what=what)


def _parsed(what: str, parse: Callable[[object], T], data: object) -> T:
    try:
        return parse(data)
    except WireFormatError as exc:
        raise ServerError(f"{what}: unexpected answer: {exc}") from exc


def _segment(value: str) -> str:
    """`value` as one URL path segment (ids come from the MIS; do not trust their characters)."""
    return quote(value, safe="")

"""The Pace client honours HTTP(S)_PROXY and NO_PROXY as every other esd client does: its lean
keep-alive transport steps aside for httpx's own when a proxy applies. Proven with a real
forward proxy on loopback in front of the Pace sandbox."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import httpx
import pytest

from daemon.providers.pace.sandbox import PaceSandbox
from daemon.remote.keepalive_transport import KeepAliveTransport, environment_proxy, for_url
from tests.helpers import loopback_http
from tests.integration.test_pace_driver import (
    LOGIN,
    ORDER,
    PASSWORD,
    READY,
    REFERENCE,
    MemoryJournal,
    pace_driver,
    seed_acme,
)
from tests.pace_helpers import pace_sandbox_fixtures

running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures(LOGIN, PASSWORD)

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.mark.parametrize(
    ("environ", "url", "proxy"),
    [
        ({}, "https://pace.example.com", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://pace.example.com", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://pace.example.com", None),
        ({"http_proxy": "http://p:8080"}, "http://pace.example.com:8080", "http://p:8080"),
        ({"ALL_PROXY": "http://p:1"}, "https://pace.example.com", "http://p:1"),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com,localhost"},
            "https://pace.example.com",
            None,
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.org"},
            "https://pace.example.com",
            "http://p:1",
        ),
    ],
    ids=["none", "https", "https proxy, http url", "http", "all", "no_proxy", "no_proxy other"],
)
def test_environment_proxy(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], url: str, proxy: str | None
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == proxy
    transport = for_url(url)
    expected = KeepAliveTransport if proxy is None else httpx.AsyncHTTPTransport
    assert type(transport) is expected


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A plain HTTP forward proxy: absolute-URI requests, forwarded and counted."""

    seen: list[str] = []

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(f"{self.command} {self.path}")
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")
        }
        with httpx.Client(trust_env=False) as client:
            answer = client.request(self.command, self.path, content=body, headers=headers)
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    _ForwardProxy.seen = []
    with loopback_http(_ForwardProxy) as url:
        yield url


@pytest.mark.anyio
async def test_a_push_goes_through_the_proxy_the_environment_names(
    sandbox: PaceSandbox, proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_acme(sandbox)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    async with pace_driver(sandbox) as driver:
        result = await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
    assert result.order_external_id
    calls = [line for line in _ForwardProxy.seen if line.startswith("POST ")]
    wsdls = [line for line in _ForwardProxy.seen if line.startswith("GET ")]
    assert calls and all(line.startswith(f"POST {sandbox.url}/") for line in calls)
    assert wsdls, "the WSDL loads go through the proxy too"
    # Every SOAP call the sandbox answered came through the proxy.
    answered = sum(n for name, n in sandbox.state()["calls"].items())
    assert len(calls) == answered


@pytest.mark.anyio
async def test_no_proxy_keeps_the_direct_lean_transport(
    sandbox: PaceSandbox, proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_acme(sandbox)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with pace_driver(sandbox) as driver:
        await driver.push_order(ORDER, READY, MemoryJournal(), REFERENCE)
    assert _ForwardProxy.seen == []

"""An HTML error page from a proxy in front of the MIS (nginx's "502 Bad Gateway") becomes a
short error text, its status and title, in the item's last error, the operator's table and the
log; its markup never does."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import main
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text, loopback_http, make_order

pytestmark = pytest.mark.slow

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
    b"</body>\r\n</html>\r\n" + b"<!-- a padding comment -->\r\n" * 6
)


class _Proxy(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(NGINX_502)))
        self.end_headers()
        self.wfile.write(NGINX_502)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    with loopback_http(_Proxy) as url:
        yield url


def test_a_proxys_html_error_page_is_summarised(
    tmp_path: Path, proxy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "esd.toml"
    config.write_text(config_text(tmp_path, accounts={"mis": {"url": proxy}}))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        daemon.submit_order(sock, make_order("1001", items=1))

        def last_error() -> str | None:
            items = daemon.call(sock, "order", {"order": "1001"})["items"]
            return items[0]["last_error"] if items and items[0]["state"] == "retrying" else None

        error = wait_until(last_error, 30, "the push retrying after the proxy's 502")
        assert "HTTP 502" in error and 'HTML page "502 Bad Gateway"' in error, error
        assert "<" not in error, error
        for command in (["list"], ["order", "1001"]):
            assert main(["--socket", str(sock), *command]) == 0
            table = capsys.readouterr().out
            assert "ServerError" in table and "<" not in table, table
        assert 'HTML page "502 Bad Gateway"' in table
        assert daemon.terminate() == 0
    finally:
        daemon.close()
    log = daemon.log_text()
    assert "502 Bad Gateway" in log and "<title>" not in log and "<center>" not in log

"""`GET /metrics` scraped from the real daemon during a flow: Pressero sandbox webhooks, orders
pushed into the MIS sandbox, one webhook rejected; the values are the flow's."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Metrics-Pw-7"
MIS_PASSWORD = "mis-Metrics-Pw-8"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        content_type = answer.headers["content-type"]
        text = answer.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return content_type, samples


def value(samples: Samples, metric: str, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def pushed_items(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM items WHERE state = 'pushed'").fetchone()[0])


def write_config(tmp_path: Path, pressero: PresseroSandbox, mis: ReferenceSandbox) -> Path:
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"mis": {"url": mis.url, "password": MIS_PASSWORD}},
            site_extra=pressero_site_keys(SITE),
            extra=pressero_storefront_toml(
                pressero, PRESSERO_PASSWORD, poll_seconds=3600, poll_window_seconds=7200
            ),
        )
    )
    return config


def test_metrics_during_a_flow(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    daemon = DaemonProcess(write_config(tmp_path, pressero, mis), tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        pressero.place_order(items=({"ProductName": "Flyers"}, {"ProductName": "Cards"}))
        pressero.place_order()
        wait_until(lambda: pushed_items(db) == 3, 30, "three items pushed")
        # One webhook for a site esd does not know: rejected, counted by its reason.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/pressero/nosuchsite", data=b"{}", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as rejected:
            urllib.request.urlopen(request, timeout=10)
        assert rejected.value.code == 404
        rejected.value.close()

        def pushes_recorded() -> Samples | None:
            _, samples = scrape(port)
            count = value(samples, "esd_push_duration_seconds_count", account="mis")
            return samples if count == 2 else None

        samples = wait_until(pushes_recorded, 30, "both pushes in the histogram")
        content_type, _ = scrape(port)
        assert content_type.startswith("text/plain; version=0.0.4")
        status = daemon.call(sock, "status")
        accepted = status["webhooks"]["accepted"]
        assert accepted >= 2
        assert value(samples, "esd_webhooks_accepted_total") == accepted
        assert value(samples, "esd_webhooks_rejected_total", reason="unknown_site") == 1
        assert value(samples, "esd_items", account="mis", state="pushed") == 3
        assert value(samples, "esd_inbox_poisoned") == 0
        assert value(samples, "esd_inbox_pending") is not None
        assert value(samples, "esd_timers_due") is not None
        calls = value(samples, "esd_mis_calls_total", account="mis", operation="push", outcome="ok")
        assert calls == 2
        reads = value(
            samples,
            "esd_storefront_calls_total",
            storefront="pressero-main",
            operation="read_order",
            outcome="ok",
        )
        assert reads is not None and reads >= 2
        assert value(samples, "esd_connection_state", kind="mis", name="mis") == 0
        assert value(samples, "esd_connection_state", kind="storefront", name="pressero-main") == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read()
        for secret in (PRESSERO_PASSWORD, MIS_PASSWORD, SITE.security_key):
            assert secret.encode() not in text
        assert daemon.terminate() == 0

        # Turned off, the path is unknown.
        config = daemon.config
        config.write_text(
            config.read_text().replace("port = 0\n", "port = 0\nmetrics = false\n", 1)
        )
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        with pytest.raises(urllib.error.HTTPError) as off:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert off.value.code == 404
        off.value.close()
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        pressero.stop()
        mis.stop()

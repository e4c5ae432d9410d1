"""The built wheel, installed into a clean virtualenv with no extras, runs: `make wheel-check`.

`make test` runs the checkout with the test dependencies installed, so it can never see a
runtime dependency that only the test extras bring (zeep's AsyncTransport needs `packaging`:
the wheel crashed at start with a pace account), nor a file the daemon reads at run time that
the wheel leaves out. Here the wheel is built from the checkout, installed with pip into a
fresh venv, and its own `esd` script, run outside the checkout, checks the example config,
writes the install files, then runs against the Pressero and EFI Pace sandboxes (served by this
test process) until one order is a Pace job, and stops cleanly.

Figures (wheel build, install, start to READY=1) are printed as one JSON line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon import __version__
from daemon.providers.contract import push_reference
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.shipped_files import INSTALL_FILES
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.pace_helpers import pace_account_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PACE_PASSWORD = "wheel-pace-Pw#7"
PRESSERO_PASSWORD = "wheel-pressero-Pw#8"
EXAMPLE_ENV = {
    "ESD_PACE_LIVE_PASSWORD": "x-live",
    "ESD_PACE_TEST_PASSWORD": "x-test",
    "ESD_SITE_KEY": "x-key",
    "ESD_PRESSERO_PASSWORD": "x-pressero",
}
FIGURES: dict[str, float] = {}


class Installed:
    """A clean venv with the wheel installed."""

    def __init__(self, venv: Path) -> None:
        self.venv = venv
        self.esd = venv / "bin" / "esd"
        self.python = venv / "bin" / "python"

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.esd), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**_clean_env(), **(env or {})},
            timeout=120,
        )


def _clean_env() -> dict[str, str]:
    # Nothing of the checkout or of this test's venv may leak into the installed esd.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    return env


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        timeout=900,
        env=_clean_env(),
        cwd=python.parent,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    _pip(Path(sys.executable), "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(ROOT))
    FIGURES["wheel_build_seconds"] = round(time.monotonic() - started, 1)
    (wheel,) = (work / "dist").glob("esd-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    started = time.monotonic()
    _pip(venv / "bin" / "python", "install", str(wheel))
    FIGURES["wheel_install_seconds"] = round(time.monotonic() - started, 1)
    yield Installed(venv)
    print("\nwheel-check figures: " + json.dumps(FIGURES, sort_keys=True))


def test_the_clean_venv_has_no_test_extras(installed: Installed, tmp_path: Path) -> None:
    for module in ("pytest", "hypothesis", "aiosmtpd"):
        probe = subprocess.run(
            [str(installed.python), "-c", f"import {module}"],
            capture_output=True,
            cwd=tmp_path,
            env=_clean_env(),
        )
        assert probe.returncode != 0, f"{module} is installed in the clean venv"
    where = subprocess.run(
        [str(installed.python), "-c", "import daemon; print(daemon.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
        check=True,
    )
    assert where.stdout.startswith(str(installed.venv)), where.stdout


def test_version(installed: Installed, tmp_path: Path) -> None:
    done = installed.run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"esd {__version__}")


def test_install_files_and_check_config_from_the_wheel(
    installed: Installed, tmp_path: Path
) -> None:
    done = installed.run("install-files", str(tmp_path / "files"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for file in INSTALL_FILES:
        shipped = tmp_path / "files" / file.folder / file.name
        assert shipped.read_bytes() == (ROOT / file.folder / file.name).read_bytes()
        assert file.host_path in done.stdout
    again = installed.run("install-files", str(tmp_path / "files"), cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr

    example = tmp_path / "files" / "examples" / "esd.toml"
    checked = installed.run("check-config", "--config", str(example), cwd=tmp_path, env=EXAMPLE_ENV)
    assert (checked.returncode, checked.stdout.strip()) == (0, f"config OK: {example}")

    charts = installed.run("statecharts", cwd=tmp_path)
    from_checkout = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "statecharts"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert charts.returncode == 0 and charts.stdout == from_checkout.stdout


def test_the_installed_daemon_pushes_an_order_into_pace(
    installed: Installed, tmp_path: Path
) -> None:
    pace = PaceSandbox("esd", PACE_PASSWORD)
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    pace.start()
    pressero.start()
    config = tmp_path / "esd.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [listeners.webhook]
            port = 0
            [daemon]
            state_dir = "{tmp_path}"
            socket = "{tmp_path}/esd.sock"
            drain_seconds = 5
            [storefronts.pressero-main]
            provider = "pressero"
            url = "{pressero.url}"
            poll_seconds = 3600
            [storefronts.pressero-main.credentials]
            username = "{pressero.username}"
            password = "{PRESSERO_PASSWORD}"
            subscriber_id = "{pressero.subscriber_id}"
            """
        )
        + pace_account_toml(
            pace.url,
            PACE_PASSWORD,
            concurrency=1,
            rate_per_second=100.0,
            create_customer=True,
            site_extra=(
                f'storefront = "pressero-main"\nsite_id = "{SITE.site_id}"\n'
                f'security_key = "{SITE.security_key}"'
            ),
        )
    )
    daemon = DaemonProcess(config, tmp_path, env=_clean_env(), esd=[str(installed.esd)])
    sock = tmp_path / "esd.sock"
    try:
        started = time.monotonic()
        daemon.start(timeout=60)
        FIGURES["start_to_ready_seconds"] = round(time.monotonic() - started, 2)
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        number = pressero.place_order(items=({"ProductName": "Flyers", "Quantity": 250},))

        def pushed() -> bool:
            with sqlite3.connect(tmp_path / "esd.sqlite3") as db:
                row = db.execute(
                    "SELECT state FROM items WHERE order_number = ?", (str(number),)
                ).fetchone()
            return row is not None and row[0] == "pushed"

        wait_until(pushed, 60, "the order pushed by the installed daemon")
        shown = installed.run("--socket", str(sock), "--json", "order", str(number), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        (item,) = json.loads(shown.stdout)["items"]
        assert item["state"] == "pushed" and item["account"] == "pace"
        assert daemon.terminate() == 0
        assert not sock.exists(), "the socket file is removed on a clean stop"
    finally:
        daemon.close()
        jobs = pace.state()["objects"]["Job"]
        pace.stop()
        pressero.stop()
    (job,) = jobs
    assert job["importID"] == push_reference("pace", "shop", str(number))
    log = daemon.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert PACE_PASSWORD not in log and PRESSERO_PASSWORD not in log

"""Run the real daemon as a subprocess, watching its systemd notify messages on a real socket."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.operator.client import call_sync

ROOT = Path(__file__).resolve().parents[1]


class DaemonProcess:
    """`esd run` in a subprocess with NOTIFY_SOCKET pointing at a datagram socket we own."""

    def __init__(
        self,
        config: Path,
        workdir: Path,
        env: dict[str, str] | None = None,
        *,
        esd: list[str] | None = None,
        nofile: int | None = None,
    ) -> None:
        """`esd` is the command that runs esd (default: this interpreter's `-m daemon.cli` in
        the checkout; the wheel test passes an installed `esd` script, run outside it)."""
        self.config = config
        self.workdir = workdir
        self.env = env or {}
        self.esd = esd
        #: the soft RLIMIT_NOFILE to run the daemon under (as `ulimit -n`), None: ours
        self.nofile = nofile
        self.proc: subprocess.Popen[bytes] | None = None
        self.notify_path = workdir / "notify.sock"
        self.notify: socket.socket | None = None
        self.messages: list[str] = []
        self.runs = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"daemon-{self.runs}.log"

    def start(self, timeout: float = 30.0) -> None:
        if self.notify is None:
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(str(self.notify_path))
        self.runs += 1
        env = {
            **os.environ,
            **self.env,
            "NOTIFY_SOCKET": str(self.notify_path),
            "PYTHONUNBUFFERED": "1",
        }
        if "WATCHDOG_USEC" not in self.env:
            env.pop("WATCHDOG_USEC", None)
        esd = self.esd or [sys.executable, "-m", "daemon.cli"]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [*esd, "--config", str(self.config), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT if self.esd is None else self.workdir,
                preexec_fn=None if self.nofile is None else self._limit_descriptors,
            )
        self.wait_message("READY=1", timeout)

    def _limit_descriptors(self) -> None:
        """In the child before exec: lower the soft descriptor limit (the hard one stays)."""
        assert self.nofile is not None
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))

    def wait_message(self, wanted: str, timeout: float = 30.0) -> str:
        assert self.notify is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None and wanted == "READY=1":
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log_text()}")
            self.notify.settimeout(0.2)
            try:
                data = self.notify.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append(data)
            if wanted in data.split("\n"):
                return data
        raise AssertionError(f"no {wanted} within {timeout}s; log:\n{self.log_text()}")

    def log_text(self) -> str:
        return "\n".join(
            (self.workdir / f"daemon-{n}.log").read_text(errors="replace")
            for n in range(1, self.runs + 1)
            if (self.workdir / f"daemon-{n}.log").exists()
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.wait_message("STOPPING=1", timeout)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.notify is not None:
            self.notify.close()
            self.notify = None

    def call(self, socket_path: Path, cmd: str, args: dict[str, Any] | None = None) -> Any:
        return call_sync(socket_path, cmd, args or {}, timeout=30)

    def submit_order(self, socket_path: Path, order: Any, dedupe_key: str | None = None) -> Any:
        """`esd submit` of an order snapshot (an `Order`, or its JSON) from its storefront."""
        payload = order if isinstance(order, dict) else order.to_json()
        return self.call(
            socket_path,
            "submit",
            {
                "source": f"storefront:{payload['site']}",
                "dedupe_key": dedupe_key or str(payload["order_number"]),
                "kind": "order.snapshot",
                "payload": {"order": payload},
            },
        )


def wait_until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (a condition, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)

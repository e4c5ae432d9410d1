"""The real daemon between a Pressero sandbox and an EFI Pace sandbox, for the proof's parts."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from daemon.providers.pace.sandbox import PaceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess
from tests.pace_helpers import pace_account_toml
from tests.proof.common import daemon_toml, free_port

__all__ = ["PACE_PASSWORD", "PRESSERO_PASSWORD", "SITE", "Stack"]

SITE = DEFAULT_SITES[0]
PACE_PASSWORD = "proof-pace-pw-Rk3#q"
PRESSERO_PASSWORD = "proof-pressero-pw-9Lm"


class Stack:
    """Both sandboxes in this process (threads), the daemon a subprocess on a fixed webhook port
    (so a restarted daemon is found where the storefront sends to)."""

    def __init__(
        self,
        folder: Path,
        *,
        storefront: bool = True,
        concurrency: int = 4,
        pace_settings: str = "",
        listener: str = "",
        daemon_extra: str = "",
        state_dir: Path | None = None,
        poll_seconds: int = 2,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.sock = folder / "esd.sock"
        self.database = (state_dir or folder) / "esd.sqlite3"
        self.port = free_port()
        self.pace = PaceSandbox("esd", PACE_PASSWORD)
        self.pressero = PresseroSandbox(password=PRESSERO_PASSWORD) if storefront else None
        self.pace.start()
        if self.pressero is not None:
            self.pressero.start()
            self.pressero.webhook_target = self.webhook_url
        site_extra = f'security_key = "{SITE.security_key}"\nsite_id = "{SITE.site_id}"\n'
        extra = ""
        if self.pressero is not None:
            site_extra += 'storefront = "pressero-main"\n'
            extra = textwrap.dedent(
                f"""
                [storefronts.pressero-main]
                provider = "pressero"
                url = "{self.pressero.url}"
                poll_seconds = {poll_seconds}
                poll_window_seconds = 7200
                [storefronts.pressero-main.credentials]
                username = "{self.pressero.username}"
                password = "{PRESSERO_PASSWORD}"
                subscriber_id = "{self.pressero.subscriber_id}"
                """
            )
        account = pace_account_toml(
            self.pace.url,
            PACE_PASSWORD,
            concurrency=concurrency,
            rate_per_second=10000.0,
            create_customer=True,
            site_extra=site_extra,
        ).replace('timezone = "UTC"\n', f'timezone = "UTC"\n{pace_settings}\n', 1)
        config = folder / "esd.toml"
        config.write_text(
            daemon_toml(
                folder,
                state_dir=state_dir,
                port=self.port,
                listener=listener,
                daemon_extra=daemon_extra,
            )
            + account
            + extra,
            encoding="utf-8",
        )
        self.daemon = DaemonProcess(config, folder)

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/pressero/shop"

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def alive(self) -> bool:
        return self.daemon.proc is not None and self.daemon.proc.poll() is None

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.daemon.call(self.sock, "status")
        return answer

    def submit(self, order_json: dict[str, Any], dedupe_key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.daemon.call(
            self.sock,
            "submit",
            {
                "source": "storefront:shop",
                "dedupe_key": dedupe_key,
                "kind": "order.snapshot",
                "payload": {"order": order_json},
            },
        )
        return answer

    def close(self) -> None:
        try:
            self.daemon.close()
        finally:
            if self.pressero is not None:
                self.pressero.stop()
            self.pace.stop()

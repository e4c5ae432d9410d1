"""The webhook intake (engine + WebhookApp under uvicorn) running in a thread, for tests."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from daemon.config import Config
from daemon.engine.engine import Engine
from daemon.intake.server import bind_tcp, serve_asgi
from daemon.intake.webhook_app import WebhookApp
from daemon.statecharts import load_charts
from daemon.store.database import Database
from daemon.storefronts.pressero.guesses import HashVariant
from daemon.storefronts.pressero.signature import expected_hash
from tests.helpers import ManualClock


class IntakeServer:
    """Engine + WebhookApp on a real loopback port; the processor is NOT run (intake only)."""

    def __init__(self, config: Config, tmp_path: Path, *, max_body_bytes: int = 65536) -> None:
        self.config = config
        self.db_path = tmp_path / "intake.sqlite3"
        self.max_body_bytes = max_body_bytes
        self.url = ""
        self.commits = 0
        self.app: WebhookApp | None = None
        self._portal_cm: Any = None
        self._stop: anyio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> IntakeServer:
        self._thread = threading.Thread(target=lambda: anyio.run(self._main), daemon=True)
        self._thread.start()
        if not self._ready.wait(20) or self._error:
            raise RuntimeError(f"intake server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._thread is not None
        anyio.from_thread.run_sync(self._cancel.cancel, token=self._token)
        self._thread.join(20)

    async def _main(self) -> None:
        try:
            db = await Database.open(self.db_path)
            engine = Engine(db, load_charts(), self.config, ManualClock(), rng=random.Random(0))

            def counted() -> None:
                self.commits += 1

            engine.committer.on_commit.append(counted)
            self.app = WebhookApp(self.config, engine.ingest, max_body_bytes=self.max_body_bytes)
            sock = bind_tcp("127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            self._token = anyio.lowlevel.current_token()
            with anyio.CancelScope() as self._cancel:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(engine.committer.run)
                    tg.start_soon(serve_asgi, self.app, sock)
                    await anyio.sleep(0.05)
                    self._ready.set()
            await db.close()
        except BaseException as exc:  # pragma: no cover - surfaced by __enter__
            self._error = exc
            self._ready.set()
            raise

    def events(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.db_path) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]


def envelope(
    type_name: str = "OrderPlaced",
    order: int = 1001,
    seq: int | None = None,
    message_id: str | None = None,
    site_id: str = "shop",
) -> bytes:
    data: dict[str, Any] = {"OrderNumber": order}
    if seq is not None:
        data["OrderItemSeq"] = seq
    return json.dumps(
        {
            "Type": 10,
            "TypeName": type_name,
            "Timestamp": "2026-11-23T10:00:00Z",
            "SubscriberId": "sub-1",
            "SiteId": site_id,
            "MessageID": message_id or str(uuid.uuid4()),
            "Data": data,
        }
    ).encode()


def signed(key: str, body: bytes, variant: str = "key+body/hex") -> dict[str, str]:
    return {
        "MessageHash": expected_hash(key, body, HashVariant(variant)),
        "Content-Type": "application/json",
    }

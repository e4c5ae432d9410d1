"""Import batches over a real socket: products from the reference MIS into the store, with a
network error retried on a durable timer, and the operator's `import` streaming progress."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import anyio

from daemon.actors.driver_actor import DriverActor, RunImport
from daemon.actors.supervisor import supervise
from daemon.engine import effects as fx
from daemon.engine.engine import Engine
from daemon.providers.reference.driver import ReferenceDriver
from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from tests.daemon_process import DaemonProcess
from tests.helpers import ManualClock, config_text, make_config


def test_a_batch_imports_every_page_and_retries_a_network_error(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password="pw-imp-1") as sandbox:
        sandbox.set_faults(fail_next=[{"path_prefix": "/api/products", "kind": "503"}] * 3)

        async def main() -> None:
            clock = ManualClock()
            config = make_config(
                tmp_path, accounts={"mis": {"url": sandbox.url, "password": "pw-imp-1"}}
            )
            db = await Database.open(tmp_path / "esd.sqlite3")
            engine = Engine(db, load_charts(), config, clock, rng=random.Random(0))
            account = config.accounts["mis"]
            driver = ReferenceDriver("mis", account.settings, account.credentials)
            actor = DriverActor(account, driver, engine)

            def imports_only(effects: fx.Effects) -> None:
                for message in effects:
                    if isinstance(message, fx.Import):
                        actor.tell(RunImport(message.batch))

            engine.dispatch = imports_only

            async def batch() -> dict[str, Any]:
                async with db.reading() as txn:
                    row = await txn.fetchone("SELECT * FROM import_batches")
                return dict(row) if row else {}

            async with anyio.create_task_group() as tg:
                tg.start_soon(supervise, actor.health, actor.run)
                await engine.apply(
                    inbox.NewEvent(
                        "operator",
                        uuid.uuid4().hex,
                        "import.request",
                        {"account": "mis", "kind": "products"},
                    )
                )
                with anyio.fail_after(20):
                    while (await batch()).get("state") != "retrying":
                        await anyio.sleep(0.02)
                first = await batch()
                assert first["attempts"] == 1 and "ServerError" in first["last_error"]
                clock.t = first["next_retry_at"]  # the durable timer comes due
                assert await engine.fire_due_timers() == 1
                with anyio.fail_after(20):
                    while (await batch()).get("state") != "done":
                        await anyio.sleep(0.02)
                tg.cancel_scope.cancel()
            done = await batch()
            async with db.reading() as txn:
                records = await txn.scalar("SELECT COUNT(*) FROM imported_records")
                trail = await txn.fetchall(
                    "SELECT trigger FROM transitions WHERE chart = 'import_batch' ORDER BY id"
                )
            assert (done["records"], done["pages"], records) == (25, 3, 25)
            assert [t[0] for t in trail] == [
                "created",
                "start",
                "fail_transient",
                "retry_due",
                "start",
                "succeed",
            ]
            actor.close()
            await driver.aclose()
            await db.close()

        anyio.run(main)


def test_the_operator_import_command_streams_progress(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password="pw-imp-2") as sandbox:
        config = tmp_path / "esd.toml"
        config.write_text(
            config_text(tmp_path, accounts={"mis": {"url": sandbox.url, "password": "pw-imp-2"}})
        )
        daemon = DaemonProcess(config, tmp_path)
        try:
            daemon.start()
            import subprocess
            import sys

            from tests.daemon_process import ROOT

            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "daemon.cli",
                    "--socket",
                    str(tmp_path / "esd.sock"),
                    "import",
                    "mis",
                    "products",
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
            )
            assert run.returncode == 0, run.stdout + run.stderr
            assert "queued" in run.stdout and "25 records" in run.stdout
            assert daemon.terminate() == 0
        finally:
            daemon.close()

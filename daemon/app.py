"""The daemon: one task group holding the store, the engine, the actors and the listeners.

Start order: config -> logs (with secrets registered for redaction) -> store (migrated) ->
engine -> actors (each supervised; each reconciles what it left in `pushing` before pushing
anything) -> operator socket -> READY=1. SIGTERM/SIGINT: STOPPING=1, actors take no new work,
in-flight pushes get `drain_seconds` to finish, then everything is cancelled; whatever was
still pushing is reconciled at the next start.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import structlog

from daemon import __version__
from daemon.actors.driver_actor import DriverActor, Poll, RunImport, Wake
from daemon.actors.supervisor import supervise
from daemon.clock import Clock, SystemClock
from daemon.config import Config, load_config
from daemon.engine.engine import Engine
from daemon.engine.handlers import Effects
from daemon.errors import EsdError
from daemon.logs import REDACTOR, configure_logging
from daemon.operator.commands import OperatorCommands
from daemon.operator.server import OperatorServer
from daemon.providers.registry import driver_class
from daemon.statecharts import load_charts
from daemon.store.database import Database
from daemon.systemd_notify import Notifier

__all__ = ["Daemon", "run_daemon"]

log = structlog.get_logger("esd.daemon")


@dataclasses.dataclass
class Daemon:
    """A running daemon's parts (tests reach in through this)."""

    config: Config
    db: Database
    engine: Engine
    actors: dict[str, DriverActor]
    notifier: Notifier

    def dispatch(self, effects: Effects) -> None:
        """Route the effects of a commit to the actors' mailboxes."""
        for account in effects.wake:
            actor = self.actors.get(account)
            if actor is not None:
                actor.tell(Wake())
        for account in effects.poll:
            actor = self.actors.get(account)
            if actor is not None:
                actor.tell(Poll())
        for account, batch_id in effects.imports:
            actor = self.actors.get(account)
            if actor is not None:
                actor.tell(RunImport(batch_id))

    def status_extra(self) -> Mapping[str, Any]:
        return {
            "actors": {
                name: {
                    **actor.health.as_dict(),
                    "in_flight": actor.in_flight,
                    "queued": actor.queued,
                }
                for name, actor in self.actors.items()
            },
            "rejections": {},
        }


async def serve(
    config: Config,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    task_status: anyio.abc.TaskStatus[Daemon] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run the daemon until SIGTERM/SIGINT (or until cancelled)."""
    REDACTOR.update(config.secrets())
    notifier = notifier or Notifier.from_environ()
    clock = clock or SystemClock()
    db = await Database.open(config.daemon.database)
    actors: dict[str, DriverActor] = {}
    try:
        charts = load_charts()
        engine = Engine(db, charts, config, clock)
        for name, account in config.accounts.items():
            driver = driver_class(account.provider)(name, account.settings, account.credentials)
            actors[name] = DriverActor(account, driver, engine)
        daemon = Daemon(config, db, engine, actors, notifier)
        engine.dispatch = daemon.dispatch
        commands = OperatorCommands(engine, daemon.status_extra)
        server = OperatorServer(
            config.daemon.socket,
            commands.handle,
            mode=config.daemon.socket_mode,
            redact=REDACTOR.redact_obj,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(engine.committer.run)
            tg.start_soon(engine.run_processor)
            tg.start_soon(engine.run_timers)
            actor_scope = anyio.CancelScope()

            async def run_actors() -> None:
                with actor_scope:
                    async with anyio.create_task_group() as actor_tg:
                        for actor in actors.values():
                            actor_tg.start_soon(supervise, actor.health, actor.run)

            tg.start_soon(run_actors)
            await tg.start(server.serve)
            notifier.ready(f"esd {__version__}: {len(actors)} accounts")
            log.info(
                "daemon.ready",
                version=__version__,
                pid=os.getpid(),
                accounts=sorted(actors),
                socket=str(config.daemon.socket),
                database=str(config.daemon.database),
            )
            if config.daemon.watchdog:
                tg.start_soon(notifier.run_watchdog)
            task_status.started(daemon)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("daemon.stopping", signal=signal.Signals(signum).name)
                    break
            notifier.stopping("draining")
            await drain(daemon, config.daemon.drain_seconds)
            actor_scope.cancel()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for actor in actors.values():
                actor.close()
                await actor.driver.aclose()
            await db.close()
        log.info("daemon.stopped")


async def drain(daemon: Daemon, seconds: float) -> None:
    """Let in-flight pushes finish for up to `seconds`; start nothing new."""
    for actor in daemon.actors.values():
        actor.stop_accepting()
    with anyio.move_on_after(seconds) as scope:
        for actor in daemon.actors.values():
            await actor.wait_idle()
    if scope.cancelled_caught:
        left = {name: a.in_flight for name, a in daemon.actors.items() if a.in_flight}
        log.warning("daemon.drain_timeout", in_flight=left)


def run_daemon(config_path: Path) -> int:
    """`esd run`: load the config, run until stopped; the process exit code."""
    try:
        config = load_config(config_path)
    except EsdError as exc:
        print(f"esd: {exc}", file=sys.stderr)
        return 4
    configure_logging(config.daemon.log_level)
    try:
        anyio.run(lambda: serve(config))
    except EsdError as exc:
        log.error("daemon.failed", error=REDACTOR.redact(str(exc)))
        print(f"esd: {REDACTOR.redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0

"""The daemon: one task group holding the store, the engine, the actors and the listeners.

Start order: config -> logs (with secrets registered for redaction) -> store (migrated) ->
engine -> actors (each supervised; each reconciles what it left in `pushing` before pushing
anything) -> operator socket -> READY=1. SIGTERM/SIGINT: STOPPING=1, actors take no new work,
in-flight pushes get `drain_seconds` to finish, then everything is cancelled; whatever was
still pushing is reconciled at the next start. SIGHUP: the config file is read again and what
can change live is put in force (`Daemon.reload`, daemon.reload); the daemon keeps running.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import anyio
import structlog

from daemon import __version__
from daemon.actors import driver_actor
from daemon.actors.connection_health import ConnectionHealth
from daemon.actors.driver_actor import DriverActor
from daemon.actors.supervisor import supervise
from daemon.alerts.connection_alert import ConnectionAlerts
from daemon.alerts.mailer import AlertMailer
from daemon.alerts.store_alert import StoreAlert
from daemon.clock import Clock, SystemClock
from daemon.config import Config, load_config
from daemon.engine import effects as fx
from daemon.engine.effects import Effects
from daemon.engine.engine import Engine
from daemon.engine.orders import record_first_live
from daemon.errors import ConfigError, EsdError, ListenerError, StoreUnavailable
from daemon.intake.limits import ListenerLimits, listener_limits
from daemon.intake.mis_webhooks import mis_hooks
from daemon.intake.readiness import connections_check, flags_check
from daemon.intake.server import bind_tcp, serve_asgi
from daemon.intake.webhook_app import WebhookApp
from daemon.logs import REDACTOR, configure_logging
from daemon.metrics import Metrics
from daemon.operator.commands import OperatorCommands
from daemon.operator.server import OperatorServer
from daemon.providers.registry import driver_class
from daemon.reload import ConfigHolder, plan_reload
from daemon.statecharts import load_charts
from daemon.store import timers
from daemon.store.database import Database, Txn
from daemon.store.retention import run_retention
from daemon.storefronts import actor as storefront_actor
from daemon.storefronts.actor import StorefrontActor
from daemon.systemd_notify import Notifier

__all__ = ["ROUTES", "Daemon", "dispatch_effects", "run_daemon"]

log = structlog.get_logger("esd.daemon")


@dataclasses.dataclass
class Daemon:
    """A running daemon's parts (tests reach in through this)."""

    config: Config
    db: Database
    engine: Engine
    actors: dict[str, DriverActor]
    storefronts: dict[str, StorefrontActor]
    notifier: Notifier
    mailer: AlertMailer
    webhooks: WebhookApp | None = None
    webhook_port: int | None = None
    metrics: Metrics | None = None
    #: listener -> bound and serving (the `/readyz` "listeners" check)
    listening: dict[str, bool] = dataclasses.field(default_factory=dict)

    @property
    def connections(self) -> list[ConnectionHealth]:
        """Every MIS account's and storefront's connection health."""
        return [a.connection for a in self.actors.values()] + [
            r.connection for r in self.storefronts.values()
        ]

    def dispatch(self, effects: Effects) -> None:
        """Route the effects of a commit to the actors' mailboxes."""
        dispatch_effects(effects, self.actors, self.storefronts, self.mailer.notify)

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
            "storefronts": {
                name: {**reader.health.as_dict(), "queued": reader.queued}
                for name, reader in self.storefronts.items()
            },
            "rejections": dict(self.webhooks.rejections) if self.webhooks else {},
            "webhooks": {**self.webhooks.stats(), "port": self.webhook_port}
            if self.webhooks
            else None,
            "store": self.db.health.as_dict(),
            "config": self.engine.holder.status(),
            "connections": {c.label: c.as_dict() for c in self.connections},
        }

    async def reload(self) -> bool:
        """SIGHUP: read the config file again and put what can change live in force.

        An invalid file changes nothing: one error line lists its problems. Otherwise one new
        Config (the running one with the live parts of the file: daemon.reload) is swapped in
        while no write transaction runs, so no event sees two configs, and a push in flight
        finishes as it started. What needs a restart is named in one line and keeps its
        running value. True if the new config is in force."""
        holder = self.engine.holder
        running = holder.current
        path = running.path
        self.notifier.reloading()
        log.info("config.reloading", path=str(path))
        if path is None:  # a daemon started on a config that came from no file (tests)
            return self._reload_failed(["no config file to read again"])
        try:
            new = await anyio.to_thread.run_sync(load_config, path)
        except ConfigError as exc:
            return self._reload_failed([str(p) for p in exc.problems])
        except Exception as exc:  # a bug in reading it must not take the daemon down
            return self._reload_failed([f"cannot load {path}: {type(exc).__name__}: {exc}"])
        # Before anything about the new file is logged: its secrets are redacted too.
        REDACTOR.update(new.secrets(), logins=new.logins())
        plan = plan_reload(running, new)
        now = self.engine.clock.now()
        try:
            async with self.db.transaction() as txn:
                # An activation going live now has its go-live moment now (daemon.orders).
                await record_first_live(txn, plan.config, now)
                await _bring_polls_forward(txn, running, plan.config, now)
        except StoreUnavailable as exc:
            return self._reload_failed([f"the store cannot write: {exc}"])
        # No await between the commit and the swap: no transaction starts in between.
        holder.swap(plan.config, now, plan.needs_restart)
        self.engine.notify_timers()
        self.mailer.notify()
        if plan.config.daemon.log_level != running.daemon.log_level:
            configure_logging(plan.config.daemon.log_level)
        if plan.needs_restart:
            log.warning("config.reload_needs_restart", keys=list(plan.needs_restart))
        log.info("config.reloaded", path=str(path), changed=list(plan.changed))
        status = f"esd {__version__}: {len(self.actors)} accounts; config reloaded"
        if plan.needs_restart:
            status += f", {len(plan.needs_restart)} changes need a restart"
        self.notifier.ready(status)
        return True

    def _reload_failed(self, problems: list[str]) -> bool:
        problems = [REDACTOR.redact(p) for p in problems]
        self.engine.holder.last_error = "; ".join(problems)
        log.error("config.reload_failed", problems=problems, kept="the running config")
        self.notifier.ready(f"config reload failed, running on the old config: {problems[0]}")
        return False


class Addressee(Protocol):
    """An actor's way in (a driver actor's or a storefront actor's `tell`)."""

    def tell(self, message: Any, /) -> None: ...


#: effect type -> the message the actor its address names is told
ROUTES: Mapping[type[fx.Effect], Callable[[Any], object]] = {
    fx.Wake: lambda m: driver_actor.Wake(),
    fx.Poll: lambda m: driver_actor.Poll(),
    fx.Import: lambda m: driver_actor.RunImport(m.batch),
    fx.Fetch: lambda m: storefront_actor.Fetch(m.site, m.order, m.generation),
    fx.Write: lambda m: storefront_actor.Write(m.write),
    fx.PollStorefront: lambda m: storefront_actor.PollOrders(),
}


def dispatch_effects(
    effects: Iterable[fx.Effect],
    accounts: Mapping[str, Addressee],
    storefronts: Mapping[str, Addressee],
    mail: Callable[[], None],
) -> None:
    """The one dispatch: each message goes to the actor its address names, in commit order.

    A message for an actor that does not exist (an account removed from the config) is
    dropped; the durable state it stands for is still in the store. `Reprocess` is the
    engine's own (it runs its processor again) and goes nowhere here."""
    actors: Mapping[str, Mapping[str, Addressee]] = {"account": accounts, "storefront": storefronts}
    for message in effects:
        kind, name = message.address
        if kind == "mailer":
            mail()
            continue
        told = ROUTES.get(type(message))
        if told is None:
            continue  # the engine's own
        actor = actors[kind].get(name)
        if actor is not None:
            actor.tell(told(message))


async def _bring_polls_forward(txn: Txn, running: Config, new: Config, now: float) -> None:
    """A shorter poll interval counts from now: a poll timer due later than the new
    interval allows is moved to now + interval (a longer one applies from the next poll)."""
    moves = [
        ("status_poll", name, now + account.status_poll_seconds)
        for name, account in new.accounts.items()
        if account.status_poll_seconds < running.accounts[name].status_poll_seconds
    ]
    moves += [
        ("storefront_poll", name, now + storefront.poll_seconds)
        for name, storefront in new.storefronts.items()
        if storefront.poll_seconds < running.storefronts[name].poll_seconds
    ]
    for kind, subject, due_at in moves:
        await timers.bring_forward(txn, kind, subject, due_at)


async def serve(
    config: Config,
    *,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    task_status: anyio.abc.TaskStatus[Daemon] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run the daemon until SIGTERM/SIGINT (or until cancelled); SIGHUP reloads the config."""
    # The handlers are in place before anything can take long, and so before READY=1: a
    # SIGTERM at any moment after it takes the graceful path (one during the start is acted
    # on once the daemon is up), never the default action that kills the process unclean.
    # SIGHUP's default action is to terminate too: it is received here, and never kills.
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        await _serve(config, signals, clock=clock, notifier=notifier, task_status=task_status)


async def _serve(
    config: Config,
    signals: AsyncIterator[int],
    *,
    clock: Clock | None,
    notifier: Notifier | None,
    task_status: anyio.abc.TaskStatus[Daemon],
) -> None:
    REDACTOR.update(config.secrets(), logins=config.logins())
    notifier = notifier or Notifier.from_environ()
    clock = clock or SystemClock()
    db = await Database.open(config.daemon.database)
    actors: dict[str, DriverActor] = {}
    storefronts: dict[str, StorefrontActor] = {}
    sock = None
    limits = ListenerLimits()
    try:
        charts = load_charts()
        engine = Engine(db, charts, ConfigHolder(config, clock.now()), clock)
        metrics = Metrics(db, clock)
        async with db.transaction() as txn:
            # Before any order is judged: orders placed before this moment were the hosted
            # integration's to push (daemon.orders.go_live).
            await record_first_live(txn, config, clock.now())
        for name, account in config.accounts.items():
            driver = driver_class(account.provider)(name, account.settings, account.credentials)
            driver.site_settings = {
                site.key: activation.settings
                for site in config.sites.values()
                for activation in site.activations
                if activation.account == name
            }
            actors[name] = DriverActor(account, driver, engine, push_seconds=metrics.observer(name))
        for name, storefront in config.storefronts.items():
            sites = [s for s in config.sites.values() if s.storefront == name]
            storefronts[name] = StorefrontActor(storefront, sites, engine)
        mailer = AlertMailer(db, engine.holder, clock)
        daemon = Daemon(config, db, engine, actors, storefronts, notifier, mailer)
        daemon.metrics = metrics
        engine.dispatch = daemon.dispatch
        connection_alerts = ConnectionAlerts(db, engine.holder, clock, daemon.connections, mailer)
        await connection_alerts.restore()
        commands = OperatorCommands(
            engine,
            daemon.status_extra,
            {name: a.driver for name, a in actors.items()},
            connections={name: a.connection for name, a in actors.items()},
            status_rounds={name: a.status_rounds for name, a in actors.items()},
            poll_rounds={name: r.poll_rounds for name, r in storefronts.items()},
        )
        server = OperatorServer(
            config.daemon.socket,
            commands.handle,
            mode=config.daemon.socket_mode,
            redact=REDACTOR.redact_obj,
            idle_timeout=config.daemon.operator_idle_seconds,
        )
        listener = config.listeners.get("webhook")
        if listener is not None and listener.enabled:
            # Checked and bound before READY=1: a descriptor limit too low for the listener or a
            # port in use stops the start with a clear error.
            limits = listener_limits(listener)
            try:
                sock = bind_tcp(listener.address, listener.port)
            except OSError as exc:
                raise ListenerError(
                    f"cannot listen for webhooks on {listener.address}:{listener.port}: "
                    f"{exc.strerror}"
                ) from exc
            daemon.listening.update(operator=False, webhook=False)
            daemon.webhooks = WebhookApp(
                config,
                engine.ingest,
                max_body_bytes=listener.max_body_bytes,
                checks={
                    "store": db.health.check,
                    "listeners": flags_check(daemon.listening),
                    "connections": connections_check(daemon.connections),
                },
                metrics=metrics.scrape if listener.metrics else None,
                mis=mis_hooks({n: (a.account.provider, a.driver) for n, a in actors.items()}),
            )
        metrics.watch(
            daemon.connections, daemon.webhooks.stats if daemon.webhooks is not None else None
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(engine.committer.run)
            tg.start_soon(engine.run_processor)
            tg.start_soon(engine.run_timers)
            tg.start_soon(run_retention, db, config.daemon.retention_days, clock)
            tg.start_soon(mailer.run)  # idle until [alerts] smtp_host is set (maybe by a reload)
            tg.start_soon(StoreAlert(db, engine.holder, clock, mailer).run)
            tg.start_soon(connection_alerts.run)
            actor_scope = anyio.CancelScope()
            web_scope = anyio.CancelScope()
            web_done = anyio.Event()

            async def run_webhooks(app: WebhookApp, bound: Any) -> None:
                try:
                    with web_scope:
                        await serve_asgi(
                            app,
                            bound,
                            drain_seconds=config.daemon.drain_seconds,
                            limits=limits,
                            counters=app.connections,
                        )
                finally:
                    web_done.set()

            async def run_actors() -> None:
                with actor_scope:
                    async with anyio.create_task_group() as actor_tg:
                        for actor in actors.values():
                            actor_tg.start_soon(supervise, actor.health, actor.run)
                        for reader in storefronts.values():
                            actor_tg.start_soon(supervise, reader.health, reader.run)

            tg.start_soon(run_actors)
            await tg.start(server.serve)
            daemon.listening["operator"] = True
            if daemon.webhooks is not None and sock is not None:
                daemon.webhook_port = sock.getsockname()[1]
                tg.start_soon(run_webhooks, daemon.webhooks, sock)
                daemon.listening["webhook"] = True
                log.info(
                    "webhooks.listening",
                    address=listener.address if listener else None,
                    port=daemon.webhook_port,
                )
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
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await daemon.reload()
                    continue
                log.info("daemon.stopping", signal=signal.Signals(signum).name)
                break
            notifier.stopping("draining")
            # Webhooks first: a delivery waiting for its commit still gets its 200 (the
            # committer runs until the listener is closed), new ones get no connection.
            if daemon.webhooks is not None:
                web_scope.cancel()
                with anyio.move_on_after(config.daemon.drain_seconds):
                    await web_done.wait()
            await drain(daemon, config.daemon.drain_seconds)
            actor_scope.cancel()
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for actor in actors.values():
                actor.close()
                await actor.driver.aclose()
            for reader in storefronts.values():
                reader.close()
                await reader.driver.aclose()
            if sock is not None and sock.fileno() != -1:
                sock.close()
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
    """`esd run`: load the config, run until stopped; the process exit code.

    A bad config raises ConfigError before anything starts: the CLI reports it exactly as
    `esd check-config` does (exit 4)."""
    config = load_config(config_path)
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

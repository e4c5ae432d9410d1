"""One webhook intake server for the intake benchmark, run in its own process.

    python -m tests.bench.intake_server KIND --config FILE --db FILE --log FILE [--profile FILE]

KIND is one of:
- `hello`: a bare ASGI app answering 200 `{"ok":true}` (after reading the body), served by the
  daemon's stack (`bind_tcp` + `serve_asgi`): the ceiling of the HTTP server itself;
- `naive`: the daemon's `WebhookApp` (route, Pressero signature, envelope) storing each event
  in its own transaction: one fsync per request;
- `esd`: `WebhookApp` with `Engine.ingest` (group commit), wired as `daemon.app.serve` does.

It listens on 127.0.0.1, port 0, and prints one JSON line `{"port": N}` on stdout once bound.
On SIGTERM it stops serving and prints one more JSON line with its own counters (how many
events the app stored, answered as duplicates, rejected), then exits. Logs (JSON lines, level
info, as the daemon writes them) go to the `--log` file. With `--profile`, the main thread is
run under cProfile and the stats are dumped there (aiosqlite's own thread is not profiled).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

from daemon.clock import SystemClock
from daemon.config import Config, parse_config
from daemon.engine.engine import Engine
from daemon.intake.server import bind_tcp, serve_asgi
from daemon.intake.webhook_app import WebhookApp
from daemon.logs import REDACTOR, configure_logging
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database

__all__ = ["KINDS", "hello_app", "main"]

KINDS = ("hello", "naive", "esd")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

_HELLO_BODY = b'{"ok":true}'
_HELLO_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_HELLO_BODY)).encode()),
]


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The bare endpoint: read the request body, answer 200 `{"ok":true}`."""
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": _HELLO_HEADERS})
    await send({"type": "http.response.body", "body": _HELLO_BODY})


def _announce(fact: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(fact) + "\n")
    sys.stdout.flush()


async def _until_sigterm(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def serve(kind: str, config: Config, db_path: Path) -> None:
    """Serve `kind` until SIGTERM, then print the app's counters."""
    listener = config.listeners["webhook"]
    sock = bind_tcp("127.0.0.1", 0)
    if kind == "hello":
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_until_sigterm, scope)
                tg.start_soon(serve_asgi, hello_app, sock)
                _announce({"port": sock.getsockname()[1]})
        _announce({"kind": kind})
        return
    db = await Database.open(db_path)
    try:
        # The committer outlives the HTTP server: requests in flight at SIGTERM still get
        # their commit (and their answer) while uvicorn drains.
        async with anyio.create_task_group() as store_tg:
            ingest: Callable[[inbox.NewEvent], Awaitable[inbox.Stored]]
            if kind == "esd":
                engine = Engine(db, load_charts(), config, SystemClock())
                store_tg.start_soon(engine.committer.run)
                ingest = engine.ingest
            else:
                ingest = _one_commit_per_event(db)
            app = WebhookApp(config, ingest, max_body_bytes=listener.max_body_bytes)
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as http_tg:
                    http_tg.start_soon(_until_sigterm, scope)
                    http_tg.start_soon(serve_asgi, app, sock)
                    _announce({"port": sock.getsockname()[1]})
            store_tg.cancel_scope.cancel()
        _announce({"kind": kind, **app.stats()})
    finally:
        with anyio.CancelScope(shield=True):
            await db.close()


def _one_commit_per_event(db: Database) -> Callable[[inbox.NewEvent], Awaitable[inbox.Stored]]:
    """The naive store: each event in its own transaction, so each request waits one fsync."""
    clock = SystemClock()

    async def ingest(event: inbox.NewEvent) -> inbox.Stored:
        async with db.transaction() as txn:
            return await inbox.insert_event(txn, event, clock.now())

    return ingest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.intake_server")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--config", type=Path, required=True, help="esd TOML config file")
    parser.add_argument("--db", type=Path, required=True, help="SQLite store to create")
    parser.add_argument("--log", type=Path, required=True, help="file for the JSON log lines")
    parser.add_argument("--profile", type=Path, help="dump cProfile stats of the run here")
    args = parser.parse_args(argv)
    config = parse_config(args.config.read_text("utf-8"), file=str(args.config), environ={})
    REDACTOR.update(config.secrets())
    with args.log.open("a", encoding="utf-8") as log_file:
        configure_logging(config.daemon.log_level, stream=log_file)
        if args.profile is None:
            anyio.run(serve, args.kind, config, args.db)
        else:
            profiler = cProfile.Profile()
            profiler.runcall(anyio.run, serve, args.kind, config, args.db)
            profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

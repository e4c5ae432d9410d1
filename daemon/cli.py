"""`esd`, the command line: run the daemon, check its config, and ask it where orders stand.

Every command except `run`, `check-config` and `statecharts` is one request over the operator
socket (daemon/operator/). Output is a table for people, or the raw result with `--json`.
Expected failures print one line on stderr and set the exit code; never a traceback.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from daemon import __version__
from daemon.errors import (
    BadArgument,
    ConfigError,
    DaemonNotRunning,
    EsdError,
    OperatorError,
    OperatorProtocolError,
    StatechartError,
    unknown_name,
)

__all__ = [
    "DEFAULT_SOCKET",
    "EXIT_CONFIG",
    "EXIT_DAEMON_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_OK: Final = 0
EXIT_DAEMON_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_RUNNING: Final = 3
EXIT_CONFIG: Final = 4
EXIT_PROTOCOL: Final = 5

DEFAULT_SOCKET: Final = Path("/run/esd/esd.sock")
_DEFAULT_CONFIG: Final = Path("/etc/esd/esd.toml")
_DEFAULT_TIMEOUT: Final = 30.0
# push, sync and import wait on the MIS, whose calls may be slow between two progress lines.
_PUSH_TIMEOUT: Final = 300.0

_IMPORT_KINDS: Final = ("products", "categories", "prices", "stock")

_EPILOG: Final = """\
socket: --socket, else $ESD_SOCKET, else daemon.socket of --config, else /run/esd/esd.sock.
config (run, check-config): --config, else /etc/esd/esd.toml.

exit codes:
  0  ok
  1  the daemon answered an error (e.g. no such order), or what --wait waited for failed
  2  usage error (also: an unknown account, storefront, state, order or event)
  3  daemon not running (or socket not reachable: permission denied)
  4  config invalid
  5  protocol or internal error (garbled answer, timeout, daemon internal error)
"""


class _UsageError(Exception):
    """A bad argument found after parsing (e.g. an unreadable submit file)."""


def _err(message: str) -> None:
    print(f"esd: {message}", file=sys.stderr)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return value


# --- where things are ---------------------------------------------------------------------------


def _config_path(ns: argparse.Namespace) -> Path:
    config: Path | None = ns.config
    return config if config is not None else _DEFAULT_CONFIG


def _socket_from_config(path: Path) -> Path:
    """daemon.socket of the config file; raises ConfigError."""
    config_module = importlib.import_module("daemon.config")
    try:
        socket: Path = config_module.load_config(path).daemon.socket
        return socket
    except ConfigError as full_load_error:
        # An operator's shell lacks the daemon's secrets ($CREDENTIALS_DIRECTORY, env), so a
        # config the daemon loads fine may not load here: the socket key needs none of them.
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            raise full_load_error from None
        table = data.get("daemon", {})
        socket_value = table.get("socket") if isinstance(table, dict) else None
        if socket_value is None:
            return DEFAULT_SOCKET
        if isinstance(socket_value, str) and socket_value.startswith("/"):
            return Path(socket_value)
        raise full_load_error from None


def _socket_path(ns: argparse.Namespace) -> Path:
    if ns.socket is not None:
        socket: Path = ns.socket
        return socket
    from_env = os.environ.get("ESD_SOCKET")
    if from_env:
        return Path(from_env)
    if ns.config is not None:
        return _socket_from_config(ns.config)
    return DEFAULT_SOCKET


# --- output -------------------------------------------------------------------------------------


def _json_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _print_progress(as_json: bool) -> Callable[[dict[str, Any]], None]:
    from daemon.operator.render import render_progress

    def show(progress: dict[str, Any]) -> None:
        print(_json_line(progress) if as_json else render_progress(progress), flush=True)

    return show


def _call(
    ns: argparse.Namespace,
    cmd: str,
    args: Mapping[str, Any],
    *,
    timeout: float = _DEFAULT_TIMEOUT,
) -> int:
    """One request to the daemon, its result printed; the exit code."""
    from daemon.operator.client import call_sync
    from daemon.operator.render import render

    socket = _socket_path(ns)
    timeout = ns.timeout if ns.timeout is not None else timeout
    try:
        result = call_sync(socket, cmd, args, on_progress=_print_progress(ns.json), timeout=timeout)
    except DaemonNotRunning as exc:
        _err(str(exc))
        return EXIT_NOT_RUNNING
    except BadArgument as exc:  # checked by the daemon before it stored anything
        _err(str(exc))
        return EXIT_USAGE
    except OperatorProtocolError as exc:
        _err(f"protocol error: {exc}")
        return EXIT_PROTOCOL
    except EsdError as exc:
        if type(exc) is OperatorError:  # timeouts, lost connections, daemon internal errors
            _err(str(exc))
            return EXIT_PROTOCOL
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_DAEMON_ERROR
    print(_json_line(result) if ns.json else render(cmd, result))
    # A command that followed its work (push --wait, import) says whether the work worked.
    outcome = result.get("outcome")
    if isinstance(outcome, str) and outcome != "ok":
        _err(f"{cmd} {outcome}: {result.get('error') or 'no reason given'}")
        return EXIT_DAEMON_ERROR
    return EXIT_OK


# --- commands -----------------------------------------------------------------------------------


def _cmd_run(ns: argparse.Namespace) -> int:
    app = importlib.import_module("daemon.app")
    code: int = app.run_daemon(_config_path(ns))
    return code


def _cmd_check_config(ns: argparse.Namespace) -> int:
    path = _config_path(ns)
    problems = importlib.import_module("daemon.config").check_config(
        path, skip_secrets=ns.skip_secrets
    )
    if not problems:
        unchecked = " (secret values not read: --skip-secrets)" if ns.skip_secrets else ""
        print(f"config OK: {path}{unchecked}")
        return EXIT_OK
    return _config_invalid(problems, path, sys.stdout)


def _config_invalid(problems: Sequence[object], path: Path, out: TextIO) -> int:
    """Each problem on its own line, then one summary line on stderr: the same from
    `check-config` (problems on stdout) and from `run` (all on stderr)."""
    for problem in problems:
        print(problem, file=out)
    _err(f"config invalid: {len(problems)} problem(s) in {path}")
    return EXIT_CONFIG


def _cmd_install_files(ns: argparse.Namespace) -> int:
    from daemon.shipped_files import INSTALL_FILES, install_files

    target: Path = ns.directory
    try:
        written = install_files(target, overwrite=ns.force)
    except FileExistsError as exc:
        raise _UsageError(str(exc)) from None
    except OSError as exc:
        raise _UsageError(f"cannot write into {target}: {exc.strerror or exc}") from None
    for file, path in zip(INSTALL_FILES, written, strict=True):
        print(f"{path}  (install as {file.host_path})")
    return EXIT_OK


def _cmd_backup(ns: argparse.Namespace) -> int:
    from daemon.store.backup import backup_file

    database: Path | None = ns.database
    if database is None:
        # The admin's shell may lack the service's secrets: the database path needs none.
        config = importlib.import_module("daemon.config").load_config(
            _config_path(ns), skip_secrets=True
        )
        database = config.daemon.database
    done = backup_file(database, ns.file, overwrite=ns.force)
    result = {
        "source": str(done.source),
        "target": str(done.target),
        "bytes": done.bytes,
        "pages": done.pages,
        "schema_version": done.schema_version,
        "seconds": round(done.seconds, 3),
    }
    if ns.json:
        print(_json_line(result))
    else:
        print(
            f"{done.target}: {done.bytes} bytes, schema version {done.schema_version}, "
            f"copied from {done.source} in {done.seconds:.2f} s"
        )
    return EXIT_OK


def _cmd_statecharts(ns: argparse.Namespace) -> int:
    from daemon.statecharts import load_charts, mermaid_all

    print(mermaid_all(load_charts().all()))
    return EXIT_OK


def _cmd_status(ns: argparse.Namespace) -> int:
    return _call(ns, "status", {})


def _cmd_order(ns: argparse.Namespace) -> int:
    return _call(ns, "order", {"order": ns.order, "site": ns.site})


def _cmd_why(ns: argparse.Namespace) -> int:
    return _call(ns, "why", {"order": ns.order, "site": ns.site})


def _given(**args: Any) -> dict[str, Any]:
    return {key: value for key, value in args.items() if value is not None}


def _item_states() -> list[str]:
    from daemon.statecharts import load_charts

    return list(load_charts().order_item.states)


def _cmd_list(ns: argparse.Namespace) -> int:
    if ns.state is not None and ns.state not in (states := _item_states()):
        raise _UsageError(unknown_name("state", ns.state, states).message)
    args = _given(state=ns.state, site=ns.site, account=ns.account, limit=ns.limit)
    return _call(ns, "list", args)


def _wait(ns: argparse.Namespace) -> dict[str, Any]:
    if not ns.wait:
        return {}
    return {"wait": True, **_given(wait_timeout=ns.wait_timeout)}


def _wait_timeout(ns: argparse.Namespace) -> float:
    # The answer may follow the last progress line by the whole --wait-timeout.
    wait: float | None = ns.wait_timeout
    return max(_PUSH_TIMEOUT, (wait or 0) + 30)


def _cmd_push(ns: argparse.Namespace) -> int:
    args = {"order": ns.order, **_given(site=ns.site, account=ns.account), **_wait(ns)}
    return _call(ns, "push", args, timeout=_wait_timeout(ns))


def _cmd_events(ns: argparse.Namespace) -> int:
    status = "poisoned" if ns.poisoned else ns.status
    return _call(ns, "events", _given(status=status, limit=ns.limit))


def _cmd_event(ns: argparse.Namespace) -> int:
    return _call(ns, "event", {"id": ns.id})


def _cmd_replay(ns: argparse.Namespace) -> int:
    return _call(ns, "replay", {"id": ns.id})


def _cmd_submit(ns: argparse.Namespace) -> int:
    name = ns.file
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _UsageError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _UsageError(
            f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(payload, dict):
        raise _UsageError(f"{name}: the payload must be a JSON object")
    dedupe_key = ns.dedupe_key or hashlib.sha256(raw).hexdigest()
    args = {"source": ns.source, "dedupe_key": dedupe_key, "kind": ns.kind, "payload": payload}
    return _call(ns, "submit", args)


def _cmd_sync(ns: argparse.Namespace) -> int:
    args = {**_given(account=ns.account), **_wait(ns)}
    return _call(ns, "sync", args, timeout=_wait_timeout(ns))


def _cmd_poll(ns: argparse.Namespace) -> int:
    args = {**_given(storefront=ns.storefront), **_wait(ns)}
    return _call(ns, "poll", args, timeout=_wait_timeout(ns))


def _cmd_import(ns: argparse.Namespace) -> int:
    args = {"account": ns.account, "kind": ns.kind, **_wait(ns)}
    return _call(ns, "import", args, timeout=_wait_timeout(ns))


def _cmd_test_connection(ns: argparse.Namespace) -> int:
    return _call(ns, "test-connection", _given(account=ns.account), timeout=_PUSH_TIMEOUT)


def _cmd_ping(ns: argparse.Namespace) -> int:
    return _call(ns, "ping", {})


def _cmd_completion(ns: argparse.Namespace) -> int:
    from daemon.completion import completion_script

    print(completion_script(build_parser(), ns.shell, _item_states()), end="")
    return EXIT_OK


def _cmd_watch(ns: argparse.Namespace) -> int:
    """The items table, redrawn every --interval seconds until Ctrl-C (on a terminal), or
    printed again each time it changes (into a pipe or a file)."""
    import time

    from daemon.operator.client import call_sync
    from daemon.operator.render import render

    if ns.state is not None and ns.state not in (states := _item_states()):
        raise _UsageError(unknown_name("state", ns.state, states).message)
    args = _given(state=ns.state, site=ns.site, account=ns.account, limit=ns.limit)
    socket = _socket_path(ns)
    timeout = ns.timeout if ns.timeout is not None else _DEFAULT_TIMEOUT
    terminal = sys.stdout.isatty()
    last: str | None = None
    shown = 0
    try:
        while True:
            try:
                result = call_sync(socket, "list", args, timeout=timeout)
            except DaemonNotRunning as exc:
                _err(str(exc))
                return EXIT_NOT_RUNNING
            except BadArgument as exc:
                _err(str(exc))
                return EXIT_USAGE
            except EsdError as exc:
                _err(str(exc))
                return EXIT_PROTOCOL
            text = _json_line(result) if ns.json else render("list", result)
            if text != last:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                if terminal:  # redraw in place: cursor home, clear the screen
                    sys.stdout.write("\x1b[H\x1b[2J")
                    print(f"esd watch  {stamp}  (every {ns.interval:g} s, Ctrl-C to stop)\n")
                elif not ns.json:
                    print(f"--- {stamp}")
                print(text, flush=True)
                last = text
                shown += 1
                if ns.count is not None and shown >= ns.count:
                    return EXIT_OK
            time.sleep(ns.interval)
    except KeyboardInterrupt:
        return EXIT_OK


# --- parser -------------------------------------------------------------------------------------


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The same options on the main parser and on every subcommand, so `esd status --json` works
    # as well as `esd --json status`; SUPPRESS keeps a subcommand from erasing a value given
    # before it.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--socket", type=Path, metavar="PATH", default=default(None), help="operator socket"
    )
    parser.add_argument(
        "--config", type=Path, metavar="PATH", default=default(None), help="config file"
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print raw JSON results"
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        default=default(None),
        help=(
            f"wait this long for each answer line (default {_DEFAULT_TIMEOUT:g}; "
            f"push, sync, import {_PUSH_TIMEOUT:g})"
        ),
    )


def _wait_options(sub: argparse.ArgumentParser, until: str) -> None:
    sub.add_argument("--wait", action="store_true", help=f"stream progress and wait {until}")
    sub.add_argument(
        "--wait-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="give up waiting after this long, exit 1 (daemon default 300)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `esd` argument parser; each subcommand sets `func`."""
    parser = argparse.ArgumentParser(
        prog="esd",
        description="esd, the Embedded Services daemon, and its operator commands.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"esd {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], text: str) -> Any:
        sub = commands.add_parser(
            name,
            parents=[common],
            help=text,
            description=text,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(func=func)
        return sub

    add("run", _cmd_run, "run the daemon in the foreground (as systemd does)")
    sub = add("check-config", _cmd_check_config, "validate the config file and list every problem")
    sub.add_argument(
        "--skip-secrets",
        action="store_true",
        help="check all but the values of {env=...} and {credential=...} secrets (for a shell "
        "without the service's environment and credentials)",
    )
    add("statecharts", _cmd_statecharts, "print the statecharts as Mermaid diagrams")
    sub = add(
        "install-files",
        _cmd_install_files,
        "write the systemd unit, sysusers, tmpfiles and example config into a directory",
    )
    sub.add_argument("directory", metavar="DIR", type=Path, help="where to write them")
    sub.add_argument("--force", action="store_true", help="overwrite files already there")
    sub = add(
        "backup",
        _cmd_backup,
        "copy the store consistently, also while the daemon runs (SQLite online backup)",
    )
    sub.add_argument("file", metavar="FILE", type=Path, help="where to write the copy")
    sub.add_argument(
        "--database",
        type=Path,
        metavar="PATH",
        help="the store (default: daemon.database of --config)",
    )
    sub.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add("status", _cmd_status, "daemon health, accounts, inbox and timers")
    add("ping", _cmd_ping, "check that the daemon answers")
    sub = add("test-connection", _cmd_test_connection, "check each MIS account's credentials")
    sub.add_argument("account", metavar="ACCOUNT", nargs="?", help="only this account")

    for name, func, text in (
        ("order", _cmd_order, "one order: its items, their history and its events"),
        ("why", _cmd_why, "why each item of an order is in its state"),
    ):
        sub = add(name, func, text)
        sub.add_argument("order", metavar="ORDER", help="storefront order number")
        sub.add_argument("--site", help="storefront site (when order numbers repeat across sites)")

    sub = add("list", _cmd_list, "list order items")
    sub.add_argument("--state", help="only items in this state")
    sub.add_argument("--site", help="only this storefront site")
    sub.add_argument("--account", help="only this MIS account")
    sub.add_argument("--limit", type=_positive_int, help="at most this many (daemon default 100)")

    sub = add("push", _cmd_push, "push an order's ready items to the MIS now")
    sub.add_argument("order", metavar="ORDER", help="storefront order number")
    sub.add_argument("account", metavar="ACCOUNT", nargs="?", help="only to this MIS account")
    sub.add_argument("--site", help="storefront site")
    _wait_options(sub, "until each item is pushed or failed again (exit 1 if one failed)")

    sub = add("events", _cmd_events, "list inbox events")
    which = sub.add_mutually_exclusive_group()
    which.add_argument("--poisoned", action="store_true", help="same as --status poisoned")
    which.add_argument("--status", choices=("pending", "poisoned", "done"))
    sub.add_argument("--limit", type=_positive_int, help="at most this many")

    for name, func, text in (
        ("event", _cmd_event, "one inbox event with its payload and traceback"),
        (
            "replay",
            _cmd_replay,
            "process a stored event again (a poisoned one, or a processed storefront input)",
        ),
    ):
        sub = add(name, func, text)
        sub.add_argument("id", metavar="ID", type=_positive_int, help="event id")

    sub = add("sync", _cmd_sync, "ask the MIS for job status and tracking now")
    sub.add_argument("account", metavar="ACCOUNT", nargs="?", help="only this MIS account")
    _wait_options(sub, "until each account's status poll has run (exit 1 if a call failed)")

    sub = add("poll", _cmd_poll, "run the storefront reconciliation poll now (Synchronize)")
    sub.add_argument("storefront", metavar="STOREFRONT", nargs="?", help="only this storefront")
    _wait_options(sub, "until the poll has run (exit 1 if the storefront did not answer)")

    sub = add("import", _cmd_import, "import products, categories, prices or stock from a MIS")
    sub.add_argument("account", metavar="ACCOUNT", help="MIS account")
    sub.add_argument("kind", metavar="KIND", choices=_IMPORT_KINDS, help=" | ".join(_IMPORT_KINDS))
    _wait_options(sub, "through the batch's retries, until it is done or failed")

    sub = add("watch", _cmd_watch, "a live table of order items, until Ctrl-C")
    sub.add_argument("--state", help="only items in this state")
    sub.add_argument("--site", help="only this storefront site")
    sub.add_argument("--account", help="only this MIS account")
    sub.add_argument("--limit", type=_positive_int, help="at most this many (daemon default 100)")
    sub.add_argument(
        "--interval", type=_positive_float, default=1.0, metavar="SECONDS", help="default 1"
    )
    sub.add_argument(
        "--count",
        type=_positive_int,
        metavar="N",
        help="stop after showing the table N times (it is shown again only when it changed)",
    )

    sub = add("completion", _cmd_completion, "print a shell completion script")
    sub.add_argument("shell", choices=("bash", "zsh"), help="bash | zsh")

    sub = add("submit", _cmd_submit, "put a JSON payload into the inbox as an event")
    sub.add_argument("file", metavar="FILE", help="JSON file with the payload ('-' for stdin)")
    sub.add_argument("--source", default="operator", help="event source (default: operator)")
    sub.add_argument("--dedupe-key", help="dedupe key (default: sha256 of the file)")
    sub.add_argument(
        "--kind", default="order.snapshot", help="event kind (default: order.snapshot)"
    )
    return parser


def _exit_code(code: object) -> int:
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run `esd` with `argv` (default: sys.argv[1:]); return the exit code."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return _exit_code(exc.code)
    func: Callable[[argparse.Namespace], int] = ns.func
    try:
        return func(ns)
    except _UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ConfigError as exc:
        return _config_invalid(exc.problems, _config_path(ns), sys.stderr)
    except StatechartError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    except EsdError as exc:  # from `run`: the daemon could not start (store, socket in use, ...)
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_DAEMON_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader has all it wanted.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

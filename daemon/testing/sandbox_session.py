"""`make sandbox`: the daemon between the Pressero and Pace sandboxes, left running to try the
operator CLI against, with the storefront and the MIS driven from a command line, until Ctrl-C.

The first line printed is one JSON object (socket, config, URLs) for scripts; then how to point
`esd` at the daemon, then a `sandbox>` prompt reading one command per line (stdin need not be a
terminal: a test or a script can drive it). Commands:

    order [paid=false] [approved=false] [items=N] [email=ADDRESS]   place an order
    approve|deny|cancel ORDER SEQ        the storefront's approver or buyer acts on an item
    pay ORDER                            mark the order paid
    lose [N]                             the next N webhooks are lost (the poll catches them)
    ship ORDER                           Pace closes the order's job and ships it with tracking
    fault pace|pressero KNOB=VALUE ...   set fault knobs (VALUE as JSON, else a string)
    faults                               show both sandboxes' fault knobs
    help | quit

The store and the daemon's log stay in the directory given (default var/sandbox), so `esd`
commands keep working after the prompt has been left; a new session starts a new store.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from daemon.demo import (
    MIS_PASSWORD,
    SITE,
    STOREFRONT_PASSWORD,
    running_daemon,
    write_config,
)
from daemon.operator.client import call_sync
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.storefronts.pressero.sandbox import PresseroSandbox

__all__ = ["Session", "main"]

_PROMPT: Final = "sandbox> "
_MIS_LOGIN: Final = "esd-demo"  # as in daemon.demo.CONFIG


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _knobs(words: Sequence[str]) -> dict[str, Any]:
    knobs = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"expected KNOB=VALUE, got {word!r}")
        knobs[key] = _value(value)
    return knobs


class Session:
    """The sandboxes and the running daemon, and the commands that drive them."""

    def __init__(self, pressero: PresseroSandbox, mis: PaceSandbox, sock: Path) -> None:
        self.pressero = pressero
        self.mis = mis
        self.sock = sock
        self.commands: Mapping[str, Callable[[list[str]], str]] = {
            "order": self._order,
            "approve": lambda a: self._item(self.pressero.approve_item, a),
            "deny": lambda a: self._item(self.pressero.deny_item, a),
            "cancel": lambda a: self._item(self.pressero.cancel_item, a),
            "pay": self._pay,
            "lose": self._lose,
            "ship": self._ship,
            "fault": self._fault,
            "faults": lambda a: json.dumps(self._faults(), sort_keys=True),
            "help": lambda a: (__doc__ or "").split("Commands:", 1)[1].split("\n\nThe")[0],
        }

    def run_line(self, line: str) -> str:
        """Run one command line; its answer (an error is an answer too, never a crash)."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return f"error: {exc}"
        if not words:
            return ""
        name, args = words[0], words[1:]
        command = self.commands.get(name)
        if command is None:
            return f"error: unknown command {name!r}; try: {', '.join(sorted(self.commands))}"
        try:
            return command(args)
        except (ValueError, KeyError, IndexError, StopIteration) as exc:
            return f"error: {name}: {exc}"

    def _order(self, args: list[str]) -> str:
        options = _knobs(args)
        items = int(options.pop("items", 1))
        email = options.pop("email", None)
        unknown = set(options) - {"paid", "approved"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        if email is not None:
            options["user"] = {"OrderedByEmail": str(email)}
        number = self.pressero.place_order(
            items=tuple({"ProductName": f"Item {n}"} for n in range(1, items + 1)), **options
        )
        return f"placed order {number}"

    def _item(self, act: Callable[[int, int], object], args: list[str]) -> str:
        order, seq = (int(a) for a in args)
        act(order, seq)
        return f"order {order} item {seq}: done"

    def _pay(self, args: list[str]) -> str:
        (order,) = (int(a) for a in args)
        self.pressero.mark_paid(order)
        return f"order {order}: paid"

    def _lose(self, args: list[str]) -> str:
        count = int(args[0]) if args else 1
        self.pressero.lose_next_webhook(count)
        return f"the next {count} webhook(s) will be lost"

    def _ship(self, args: list[str]) -> str:
        (order,) = args
        items = call_sync(self.sock, "order", {"order": order})["items"]
        job = next(i["order_external_id"] for i in items if i["order_external_id"])
        self.mis.set_job_status(job, "C")
        self.mis.add_shipment_tracking(job, "1Z999AA10123456784")
        return f"Pace job {job}: closed and shipped (run `esd sync` or wait for the poll)"

    def _fault(self, args: list[str]) -> str:
        if not args or args[0] not in ("pace", "pressero"):
            raise ValueError("expected: fault pace|pressero KNOB=VALUE ...")
        box: PaceSandbox | PresseroSandbox = self.mis if args[0] == "pace" else self.pressero
        set_to = box.set_faults(**_knobs(args[1:]))
        return f"{args[0]} faults: {json.dumps(set_to, sort_keys=True)}"

    def _faults(self) -> dict[str, Any]:
        return {"pace": self.mis.state()["faults"], "pressero": self.pressero.state()["faults"]}


def _instructions(sock: Path, config: Path) -> str:
    esd = Path(sys.prefix) / "bin" / "esd"
    return f"""
The daemon runs between the sandboxes. In another shell:

    export ESD_SOCKET={sock}
    {esd} status              # accounts, storefronts, inbox, timers
    {esd} list                # every item and its state
    {esd} order 1001          # one order: items, trace, events
    {esd} why 1003            # why an item is held back
    {esd} push 1001           # the Push Order button
    {esd} poll                # the Synchronize button
    {esd} sync                # status and tracking from Pace now
    {esd} test-connection     # credentials and reachability of Pace
    {esd} events --poisoned   # inputs that could not be processed
    {esd} backup /tmp/esd-copy.sqlite3 --config {config}

Here: `order paid=false`, `pay N`, `fault pace error_rate=0.5`, `ship N`, `help`; Ctrl-C ends.
"""


def serve_session(workdir: Path, stdin: TextIO, stdout: TextIO) -> int:
    """Run the session until `quit`, Ctrl-C or SIGTERM; the exit code."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    # The daemon gets the demo's passwords from daemon.demo.daemon_process's environment.
    pressero = PresseroSandbox(password=STOREFRONT_PASSWORD)
    mis = PaceSandbox(login=_MIS_LOGIN, password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    try:
        config = write_config(workdir, pressero, mis)
        with running_daemon(config, workdir) as (proc, sock, base):
            pressero.webhook_target = f"{base}/webhooks/pressero/shop"
            # The buyer the sample orders come from is known to Pace (Create Customer N).
            mis.seed_customer("ACME", "Acme Corp")
            mis.seed_contact(
                "ACME", email="pat.buyer@example.com", firstName="Pat", lastName="Buyer"
            )
            session = Session(pressero, mis, sock)
            first = {
                "socket": str(sock),
                "config": str(config),
                "pressero": pressero.url,
                "pace": mis.url,
                "site": SITE.site_id,
            }
            print(json.dumps(first), file=stdout)
            for line in ("order", "order items=2", "order paid=false", "order approved=false"):
                print(f"{_PROMPT}{line}\n{session.run_line(line)}", file=stdout)
            print(_instructions(sock, config), file=stdout, flush=True)
            while True:
                if proc.poll() is not None:
                    print(f"the daemon exited ({proc.returncode}); see its log", file=stdout)
                    return 1
                print(_PROMPT, end="", file=stdout, flush=True)
                line = stdin.readline()
                if not line:  # stdin closed: keep serving until Ctrl-C or SIGTERM
                    signal.pause()
                    continue
                if line.strip() in ("quit", "exit"):
                    return 0
                print(session.run_line(line), file=stdout, flush=True)
    except KeyboardInterrupt:
        print("\nstopping", file=stdout)
        return 0
    finally:
        pressero.stop()
        mis.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daemon.testing.sandbox_session")
    parser.add_argument("--dir", type=Path, default=Path("var/sandbox"), help="store and log")
    ns = parser.parse_args(argv)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return serve_session(ns.dir.resolve(), sys.stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())

"""The daemon's answers to operator commands (shapes: docs/operator-protocol.md).

Reads come straight from the store. Commands that change something (push, replay, submit) are
inputs like any other: they are stored in the inbox as operator events and applied through the
engine, so they appear in the order's trace and in the event list, with who gave them (the
socket peer's uid). Their arguments are checked first: an unknown account, storefront, state,
order or event is a `BadArgument` naming the closest known one, and nothing is stored.

With `wait`, push and import follow what they started until it settles (or `wait_timeout`),
streaming each change as progress; the result's `outcome` says whether it worked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.errors import UnknownCommand
from daemon.operator.change_commands import ChangeCommands
from daemon.operator.command_base import Change, Command, Progress, operator_name
from daemon.operator.protocol import Request
from daemon.operator.read_commands import ReadCommands

__all__ = ["OperatorCommands", "operator_name"]


class OperatorCommands(ReadCommands, ChangeCommands):
    """Answers the operator socket's commands for one running daemon."""

    def _changes(self) -> dict[str, Change]:
        """The commands that change something; these are also told who asked."""
        return {"push": self.push, "replay": self.replay, "submit": self.submit}

    def _commands(self) -> dict[str, Command]:
        return {
            "ping": self.ping,
            "status": self.status,
            "order": self.order,
            "why": self.why,
            "list": self.list_items,
            "events": self.events,
            "event": self.event,
            "sync": self.sync,
            "poll": self.poll,
            "import": self.start_import,
            "test-connection": self.test_connection,
        }

    async def handle(self, request: Request, progress: Progress) -> Mapping[str, Any]:
        """Dispatch one request."""
        changes = self._changes()
        change = changes.get(request.cmd)
        if change is not None:
            return await change(dict(request.args), progress, operator_name(request.peer_uid))
        commands = self._commands()
        command = commands.get(request.cmd)
        if command is None:
            known = sorted({*commands, *changes})
            raise UnknownCommand(f"unknown command {request.cmd!r} (known: {', '.join(known)})")
        return await command(dict(request.args), progress)

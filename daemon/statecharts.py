"""Statecharts as data: `statecharts/*.toml` loaded into one shared `transitions` Machine each.

A Machine per object costs about 60 KB and 0.28 ms (pytransitions #379, #434) and we hold 100k
items, so each chart gets ONE Machine with `model=None`; a short-lived model is attached only
while one trigger fires, then removed. The state itself lives in SQLite. Firing a trigger the
chart lacks, or one not allowed from the current state, raises `TransitionNotAllowed`.

A chart has no conditions or callbacks, so the Machine's answer for a (state, trigger) pair
never changes: each is asked once and remembered (attaching the model, `Machine.add_model`,
was a quarter of the engine's samples in a push-bench profile).
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from transitions import Machine, MachineError

from daemon.errors import StatechartInvalid, TransitionNotAllowed
from daemon.shipped_files import shipped_dir

__all__ = ["Chart", "Statecharts", "chart_dir", "load_charts", "mermaid"]

_CHART_NAMES = ("order_item", "import_batch")


def chart_dir() -> Path:
    """Where the chart files are: the source checkout, else the installed data files."""
    return shipped_dir("statecharts")


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    """One arrow of a chart."""

    trigger: str
    sources: tuple[str, ...]
    dest: str


class _Subject:
    """The throwaway model a trigger fires on."""

    state: str


@dataclasses.dataclass(frozen=True)
class Chart:
    """One loaded statechart with its shared Machine."""

    name: str
    initial: str
    states: Mapping[str, str]
    transitions: tuple[Transition, ...]
    machine: Any = dataclasses.field(repr=False, compare=False)
    #: (state, trigger) -> the state it leads to, or None where it is not allowed
    _answers: dict[tuple[str, str], str | None] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @functools.cached_property
    def triggers(self) -> frozenset[str]:
        """Every trigger name the chart defines."""
        return frozenset(t.trigger for t in self.transitions)

    def next_state(self, state: str, trigger: str) -> str:
        """Return the state `trigger` leads to from `state`, or raise TransitionNotAllowed."""
        key = (state, trigger)
        if key in self._answers:
            known = self._answers[key]
            if known is None:
                raise TransitionNotAllowed(self.name, state, trigger)
            return known
        if state not in self.states or trigger not in self.triggers:
            raise TransitionNotAllowed(self.name, state, trigger)
        try:
            dest = self._ask_machine(state, trigger)
        except TransitionNotAllowed:
            self._answers[key] = None
            raise
        self._answers[key] = dest
        return dest

    def _ask_machine(self, state: str, trigger: str) -> str:
        subject = _Subject()
        self.machine.add_model(subject, initial=state)
        try:
            subject.trigger(trigger)  # type: ignore[attr-defined]
        except MachineError:
            raise TransitionNotAllowed(self.name, state, trigger) from None
        finally:
            self.machine.remove_model(subject)
        return subject.state

    def allowed(self, state: str, trigger: str) -> bool:
        """True when `trigger` may fire from `state`."""
        return any(t.trigger == trigger and state in t.sources for t in self.transitions)


def _parse(path: Path) -> Chart:
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StatechartInvalid(f"{where}: {exc}") from exc
    unknown = set(data) - {"name", "initial", "states", "transitions"}
    if unknown:
        raise StatechartInvalid(f"{where}: unknown key {sorted(unknown)[0]!r}")
    name, initial, states = data.get("name"), data.get("initial"), data.get("states")
    if not isinstance(name, str) or name != path.stem:
        raise StatechartInvalid(f"{where}: name must be {path.stem!r}")
    if not isinstance(states, dict) or not states:
        raise StatechartInvalid(f"{where}: states must be a table of state = description")
    if initial not in states:
        raise StatechartInvalid(f"{where}: initial state {initial!r} is not in states")
    raw = data.get("transitions")
    if not isinstance(raw, list) or not raw:
        raise StatechartInvalid(f"{where}: transitions must be a list of tables")
    transitions: list[Transition] = []
    for index, entry in enumerate(raw):
        at = f"{where}: transitions[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"trigger", "source", "dest"}:
            raise StatechartInvalid(f"{at}: needs exactly trigger, source, dest")
        trigger, sources, dest = entry["trigger"], entry["source"], entry["dest"]
        if not isinstance(trigger, str) or not trigger.isidentifier():
            raise StatechartInvalid(f"{at}.trigger: must be an identifier")
        if not isinstance(sources, list) or not sources:
            raise StatechartInvalid(f"{at}.source: must be a non-empty list of states")
        for state in [*sources, dest]:
            if state not in states:
                raise StatechartInvalid(f"{at}: unknown state {state!r}")
        transitions.append(Transition(trigger, tuple(sources), dest))
    machine = Machine(
        model=None,
        states=list(states),
        transitions=[
            {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in transitions
        ],
        initial=initial,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )
    return Chart(
        name=name,
        initial=str(initial),
        states={str(k): str(v) for k, v in states.items()},
        transitions=tuple(transitions),
        machine=machine,
    )


@dataclasses.dataclass(frozen=True)
class Statecharts:
    """The charts the daemon runs on."""

    order_item: Chart
    import_batch: Chart

    def all(self) -> tuple[Chart, ...]:
        """Every chart, in a stable order."""
        return (self.order_item, self.import_batch)


def load_charts(directory: Path | None = None) -> Statecharts:
    """Load and validate every chart file."""
    directory = directory or chart_dir()
    charts = {name: _parse(directory / f"{name}.toml") for name in _CHART_NAMES}
    return Statecharts(**charts)


def mermaid(chart: Chart) -> str:
    """Render `chart` as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", f"    [*] --> {chart.initial}"]
    for state, description in chart.states.items():
        lines.append(f"    {state} : {state} — {description}")
    for t in chart.transitions:
        for source in t.sources:
            lines.append(f"    {source} --> {t.dest} : {t.trigger}")
    return "\n".join(lines)


def mermaid_all(charts: Iterable[Chart]) -> str:
    """Render every chart as Markdown with one fenced Mermaid block each."""
    parts = []
    for chart in charts:
        parts.append(f"### `{chart.name}`\n\n```mermaid\n{mermaid(chart)}\n```\n")
    return "\n".join(parts)

"""Statecharts as data: loaded into shared Machines; code fires only triggers the charts have."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from daemon.errors import StatechartInvalid, TransitionNotAllowed
from daemon.statecharts import _parse, load_charts, mermaid_all

ROOT = Path(__file__).resolve().parents[2]
FIRING = {"fire_item": "order_item", "_fire_batch": "import_batch"}


def fired_triggers() -> list[tuple[str, str, str]]:
    """Every (chart, trigger, where) literal the daemon's code fires."""
    found: list[tuple[str, str, str]] = []
    for path in (ROOT / "daemon").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FIRING
            ):
                arg = node.args[2]
                assert isinstance(arg, ast.Constant), f"{path}:{node.lineno}: trigger not a literal"
                assert isinstance(arg.value, str), f"{path}:{node.lineno}: trigger not a string"
                found.append((FIRING[node.func.id], arg.value, f"{path.name}:{node.lineno}"))
    return found


def test_code_fires_only_triggers_the_charts_have() -> None:
    charts = {c.name: c for c in load_charts().all()}
    fired = fired_triggers()
    assert len(fired) > 15, "the scan found the firing sites"
    missing = [(c, t, w) for c, t, w in fired if t not in charts[c].triggers]
    assert missing == []


def test_every_chart_trigger_is_fired_somewhere() -> None:
    fired = {(c, t) for c, t, _ in fired_triggers()}
    for chart in load_charts().all():
        unused = sorted(t for t in chart.triggers if (chart.name, t) not in fired)
        assert unused == [], f"{chart.name}: triggers no code fires"


def test_required_states_exist() -> None:
    charts = load_charts()
    assert {"pending", "ready", "pushing", "pushed", "retrying", "failed", "excluded"} <= set(
        charts.order_item.states
    )
    assert {"pending", "running", "retrying", "done", "failed"} <= set(charts.import_batch.states)


def test_one_shared_machine_serves_many_subjects() -> None:
    chart = load_charts().order_item
    machine = chart.machine
    for _ in range(1000):
        assert chart.next_state("pending", "rules_met") == "ready"
    assert chart.machine is machine
    assert len(machine.models) <= 1, "subjects are not left attached to the machine"


def test_remembered_answers_are_the_machines_for_every_state_and_trigger() -> None:
    """Each (state, trigger) is asked of the Machine once and remembered: asked again, the
    answer (a state, or TransitionNotAllowed) is the one a fresh chart's Machine gives."""
    for name in ("order_item", "import_batch"):
        warm = getattr(load_charts(), name)
        for _ in range(2):  # the second round answers from memory
            for state in warm.states:
                for trigger in sorted(warm.triggers):
                    fresh = getattr(load_charts(), name)
                    try:
                        expected: str | None = fresh._ask_machine(state, trigger)
                    except TransitionNotAllowed:
                        expected = None
                    if expected is None:
                        with pytest.raises(TransitionNotAllowed):
                            warm.next_state(state, trigger)
                    else:
                        assert warm.next_state(state, trigger) == expected, (state, trigger)
        with pytest.raises(TransitionNotAllowed):
            warm.next_state("no-such-state", sorted(warm.triggers)[0])


def test_unknown_trigger_raises() -> None:
    with pytest.raises(TransitionNotAllowed, match="no trigger 'fly'"):
        load_charts().import_batch.next_state("pending", "fly")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'name = "x"\ninitial = "a"\n[states]\na = "A"\n[[transitions]]\ntrigger = "go"\n'
            'source = ["a"]\ndest = "b"\n',
            "unknown state 'b'",
        ),
        ('name = "x"\ninitial = "z"\n[states]\na = "A"\n', "initial state 'z'"),
        ('name = "x"\ninitial = "a"\nextra = 1\n[states]\na = "A"\n', "unknown key 'extra'"),
        ('name = "y"\ninitial = "a"\n[states]\na = "A"\n', "name must be 'x'"),
        ("name = ", "x.toml"),
    ],
)
def test_malformed_chart_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(StatechartInvalid, match=re.escape(message)):
        _parse(path)


def test_readme_embeds_the_current_diagrams() -> None:
    readme = (ROOT / "README.md").read_text()
    rendered = mermaid_all(load_charts().all())
    assert rendered in readme, "README is out of date: paste the output of `esd statecharts`"

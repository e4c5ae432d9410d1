"""Fixtures of the provider conformance suite: one run of every test per registered provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from daemon.providers import registry
from tests.providers.contract.harness import Harness, Sandbox, harness_of

#: the account password every sandbox of the suite accepts; no output may ever show it
SECRET = "contract-pw-Zq8#x/y"


def _harnesses() -> list[Harness]:
    found = []
    for provider in sorted(registry.PROVIDERS):
        harness = harness_of(provider)
        if harness is not None:  # a missing one fails test_harnesses.py
            found.append(harness)
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test taking `harness` runs once per registered provider; one that also takes
    `lost_create` once per create of that provider's fault vocabulary."""
    if "harness" not in metafunc.fixturenames:
        return
    harnesses = _harnesses()
    if "lost_create" in metafunc.fixturenames:
        cases = [(h, dict(fault)) for h in harnesses for fault in h.lost_create_answers]
        ids = [f"{h.provider}-{i}" for h in harnesses for i in range(len(h.lost_create_answers))]
        metafunc.parametrize(("harness", "lost_create"), cases, ids=ids)
    else:
        metafunc.parametrize("harness", harnesses, ids=[h.provider for h in harnesses])


@pytest.fixture(scope="session")
def _running_sandboxes() -> Iterator[dict[str, Sandbox]]:
    running: dict[str, Sandbox] = {}
    try:
        yield running
    finally:
        for sandbox in running.values():
            sandbox.stop()


@pytest.fixture
def sandbox(harness: Harness, _running_sandboxes: dict[str, Sandbox]) -> Sandbox:
    """The provider's sandbox (one per session), reset for each test."""
    box = _running_sandboxes.get(harness.provider)
    if box is None:
        box = harness.sandbox("esd", SECRET)
        box.start()
        _running_sandboxes[harness.provider] = box
    box.reset()
    return box


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

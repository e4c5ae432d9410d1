"""Fixtures of the storefront suites: one harness per registered storefront, running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from daemon.storefronts import registry
from tests.storefronts.contract.harness import StorefrontHarness, load


@pytest.fixture
def anyio_backend() -> str:
    """`pytest.mark.anyio` tests run on asyncio only (what the daemon runs on)."""
    return "asyncio"


@pytest.fixture(scope="module", params=sorted(registry.STOREFRONTS))
def running_harness(request: pytest.FixtureRequest) -> Iterator[StorefrontHarness]:
    harness = load(str(request.param))
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def harness(running_harness: StorefrontHarness) -> StorefrontHarness:
    running_harness.reset()
    return running_harness

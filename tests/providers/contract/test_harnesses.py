"""Every registered provider takes part in the conformance suite."""

from __future__ import annotations

import pytest

from daemon.providers import registry
from tests.providers.contract.harness import harness_of


@pytest.mark.parametrize("provider", sorted(registry.PROVIDERS))
def test_every_registered_provider_has_a_harness(provider: str) -> None:
    found = harness_of(provider)
    assert found is not None, f"add tests/providers/{provider}/harness.py with a HARNESS"
    assert found.provider == provider
    assert found.lost_create_answers, "name the creates whose lost answers the suite proves"

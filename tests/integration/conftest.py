"""Fixtures every integration module may use."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """`pytest.mark.anyio` tests run on asyncio only (what the daemon runs on)."""
    return "asyncio"

"""Fixtures every integration module may use."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """`pytest.mark.anyio` tests run on asyncio only (what the daemon runs on)."""
    return "asyncio"


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A fresh folder under /tmp, removed afterwards: pytest's tmp_path can exceed the
    107-byte limit of a unix socket path."""
    directory = Path(tempfile.mkdtemp(prefix="esd-sock-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def sock(sock_dir: Path) -> Path:
    """Where a test's operator socket goes."""
    return sock_dir / "esd.sock"

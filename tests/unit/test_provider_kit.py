"""The provider kit (`daemon.providers.kit`) and the manifests the registry reads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from daemon.errors import PermanentError
from daemon.providers import registry
from daemon.providers.kit import (
    ensure_step,
    journal_int,
    journal_optional_int,
    journal_text,
    journal_warnings,
    required_credentials_problems,
    url_scheme_problems,
)
from daemon.providers.manifest import ProviderManifest


class _Journal:
    """A push journal in memory (the spine's is in SQLite; the protocol is the same)."""

    def __init__(self) -> None:
        self.steps: dict[str, Mapping[str, Any]] = {}

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self.steps.get(step)

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        self.steps[step] = dict(result)


def _run_step(
    journal: _Journal, found: int | None, calls: list[str], *, extra: bool = False
) -> int:
    async def find() -> int | None:
        calls.append("find")
        return found

    async def create() -> int:
        calls.append("create")
        return 7

    async def finish(value: int) -> None:
        calls.append(f"finish:{value}")

    async def main() -> int:
        return await ensure_step(
            journal,
            "thing",
            "thing",
            read=journal_int,
            find=find,
            create=create,
            finish=finish,
            extra=(lambda: {"note": "x"}) if extra else None,
        )

    return anyio.run(main)


def test_ensure_step_creates_records_then_answers_from_the_journal() -> None:
    journal, calls = _Journal(), list[str]()
    assert _run_step(journal, None, calls, extra=True) == 7
    assert calls == ["find", "create", "finish:7"]
    assert journal.steps == {"thing": {"thing": 7, "note": "x"}}
    calls.clear()
    assert _run_step(journal, None, calls) == 7
    assert calls == []  # journaled: neither found nor created again


def test_ensure_step_uses_what_a_lost_answer_made() -> None:
    journal, calls = _Journal(), list[str]()
    assert _run_step(journal, 3, calls) == 3
    assert calls == ["find", "finish:3"]
    assert journal.steps == {"thing": {"thing": 3}}


def test_a_malformed_journal_is_permanent_and_names_step_and_key() -> None:
    with pytest.raises(PermanentError, match="step 'job' has no 'job'"):
        journal_text({"job": ""}, "job", "job")
    with pytest.raises(PermanentError, match="step 'part:1' has no 'id'"):
        journal_int({"id": True}, "id", "part:1")
    with pytest.raises(PermanentError, match="malformed 'contact'"):
        journal_optional_int({"contact": "9"}, "contact", "customer")
    with pytest.raises(PermanentError, match="malformed 'warnings'"):
        journal_warnings({"warnings": [1]}, "done")
    assert journal_optional_int({}, "contact", "customer") is None
    assert journal_warnings({}, "done") == ()


def test_credentials_checks_never_quote_a_value() -> None:
    secret = "ftp://user:hunter2@example"
    problems = required_credentials_problems(
        {"url": secret, "login": ""}, ("url", "login", "password")
    ) + url_scheme_problems({"url": secret})
    assert [key for key, _ in problems] == ["login", "password", "url"]
    assert all("hunter2" not in message for _, message in problems)


@pytest.mark.parametrize("provider", sorted(registry.PROVIDERS))
def test_every_provider_declares_a_manifest_its_driver_agrees_with(provider: str) -> None:
    manifest = registry.manifest(provider)
    assert isinstance(manifest, ProviderManifest) and manifest.name == provider
    driver = registry.driver_class(provider)
    assert driver.provider == provider
    assert driver.capabilities is manifest.capabilities
    assert manifest.load("sandbox") is not None
    assert {"url", "login", "password"} <= set(manifest.credential_keys)
    missing = registry.credentials_problems(provider, {})
    assert {key for key, _ in missing} >= set(manifest.credential_keys)


def test_reading_every_manifest_imports_no_client_library() -> None:
    code = (
        "import sys\n"
        "from daemon.providers import registry\n"
        "for name in registry.PROVIDERS:\n"
        "    registry.manifest(name).capabilities\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'zeep', 'lxml', 'httpx'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_an_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(LookupError, match="known: pace, reference, tharstern"):
        registry.manifest("presswise")

"""Payloads of import batches (import.request, .claim, .page, .result)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from daemon.events.fields import Fields

__all__ = ["ImportClaim", "ImportPage", "ImportRequest", "ImportResult"]


@dataclasses.dataclass(frozen=True, slots=True)
class ImportRequest:
    KIND: ClassVar[str] = "import.request"
    account: str
    kind: str

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        return cls(f.string("account"), f.string("kind"))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportClaim:
    KIND: ClassVar[str] = "import.claim"
    batch_id: int

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        return cls(Fields(data, where).integer("batch_id"))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportPage:
    """One page of MIS records; each record is an object with a `key`."""

    KIND: ClassVar[str] = "import.page"
    batch_id: int
    records: tuple[Mapping[str, Any], ...]

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        batch_id = f.integer("batch_id")
        records = []
        for record in f.objects("records"):
            if record.data.get("key") is None:
                raise record.fail("key", "present")
            records.append(record.data)
        return cls(batch_id, tuple(records))


@dataclasses.dataclass(frozen=True, slots=True)
class ImportResult:
    KIND: ClassVar[str] = "import.result"
    batch_id: int
    outcome: str
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        f = Fields(data, where)
        # Any other outcome counts as transient, as it always has.
        return cls(
            f.integer("batch_id"), f.string("outcome"), f.text("error"), f.opt_number("retry_after")
        )

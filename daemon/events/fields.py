"""Typed reads of a stored JSON payload: each failure names the event, kind and field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, Self, cast

from daemon.errors import BadEventPayload

__all__ = ["SPREAD", "Fields", "Payload", "operator_field", "seq_and_op", "show_value"]

#: the metadata key of a mapping field whose keys `to_payload` stores beside the others
SPREAD = "spread"


class Fields:
    """Typed reads of one JSON object, each failure naming where and which field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise BadEventPayload(f"{where}: the payload must be an object, got {show_value(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def fail(self, key: str, what: str) -> BadEventPayload:
        return BadEventPayload(
            f"{self.where}: {key!r} must be {what}, got {show_value(self.data.get(key))}"
        )

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "a string or null")
        return value

    def text(self, key: str) -> str:
        """A free text that may be missing or null (an error message): '' then."""
        value = self.data.get(key)
        return "" if value is None or value == "" else f"{value}"

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "an integer")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "an integer or null")
        return value

    def opt_number(self, key: str) -> float | None:
        """A number of seconds (retry_after); anything not a number counts as none given."""
        value = self.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return None

    def flag(self, key: str) -> bool:
        return bool(self.data.get(key))

    def array(self, key: str, *, optional: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "a list")
        return value

    def one_of(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(key)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(sorted(choices)))
        return cast(str, value)

    def objects(self, key: str, *, optional: bool = False) -> list[Fields]:
        """A list of objects, each read with its index in `where`."""
        return [
            Fields(entry, f"{self.where}.{key}[{index}]")
            for index, entry in enumerate(self.array(key, optional=optional))
        ]

    def object(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "an object")
        return dict(value)


def show_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Payload(Protocol):
    """A typed payload: its kind(s) and its parser."""

    KIND: ClassVar[str]

    @classmethod
    def parse(cls, data: object, where: str) -> Self: ...


def operator_field(f: Fields) -> str | None:
    by = f.data.get("by", f.data.get("submitted_by"))
    return by if isinstance(by, str) and by else None


def seq_and_op(f: Fields) -> tuple[int, str]:
    return f.integer("seq"), f.string("op")

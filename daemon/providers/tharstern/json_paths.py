"""Paths into JSON documents (the estimate request, a webhook body): parsed once, read and written.

Syntax, one segment after another, separated by dots:

    Name                 a key of an object ("Customer", "Ref1"); matched exactly
    Name[2]              then the element at index 2 of that list (0 is the first, -1 the last)
    Name[Key=Text]       then the first element of that list whose `Key` is `Text` (compared as
                         text, trimmed, case-insensitively): `Parts[Name=Cover]`
    Name[]               (writes only) a new element appended to that list

e.g. `Customer.Code`, `Parts[0].Processes`, `Parts[Name=Cover].PaperCode`. Keys are letters,
digits, `_` and `-` (Tharstern's JSON names are C# property names); a matched `Text` has no `.`
or `]` (steps are split at dots).

`read` never raises on a missing step (it answers `MISSING`); `write` returns a new document
and never changes the one it was given: the example estimate request is fetched once and edited
per item, so a write in place would leak one item's values into the next.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from daemon.errors import quoted

__all__ = [
    "MISSING",
    "JsonPath",
    "PathError",
    "parse_path",
    "path_problem",
    "read",
    "remove",
    "write",
    "write_all",
]

_SEGMENT: Final = re.compile(
    r"(?P<key>[A-Za-z0-9_-]+)"
    r"(?:\[(?:(?P<index>-?\d+)|(?P<match_key>[A-Za-z0-9_-]+)=(?P<match_value>[^\]]*)|(?P<append>))\])?"
)
_MAX_SEGMENTS: Final = 20


class PathError(ValueError):
    """A path cannot be followed or written in this document; the message names the step."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: what `read` answers when the path leads nowhere
MISSING: Final = _Missing()


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """One step: a key, then optionally an index, a match or an append."""

    key: str
    index: int | None = None
    match: tuple[str, str] | None = None
    append: bool = False

    def __str__(self) -> str:
        if self.index is not None:
            return f"{self.key}[{self.index}]"
        if self.match is not None:
            return f"{self.key}[{self.match[0]}={self.match[1]}]"
        return f"{self.key}[]" if self.append else self.key


@dataclasses.dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path; `text` is how it was written."""

    text: str
    segments: tuple[Segment, ...]

    def __str__(self) -> str:
        return self.text


def path_problem(text: object) -> str | None:
    """What is wrong with a path as written, or None when it parses."""
    try:
        parse_path(text)
    except PathError as exc:
        return str(exc)
    return None


def parse_path(text: object) -> JsonPath:
    """`text` as a `JsonPath`; `PathError` saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise PathError(f"expected a path such as Parts[0].Pages, got {quoted(text)}")
    written = text.strip()
    parts = written.split(".")
    if len(parts) > _MAX_SEGMENTS:
        raise PathError(f"{quoted(written)}: more than {_MAX_SEGMENTS} steps")
    segments: list[Segment] = []
    for part in parts:
        found = _SEGMENT.fullmatch(part)
        if found is None:
            raise PathError(
                f"{quoted(written)}: step {quoted(part)} is not Name, Name[0], Name[Key=Text] "
                "or Name[]"
            )
        if found.group("index") is not None:
            segments.append(Segment(found.group("key"), index=int(found.group("index"))))
        elif found.group("match_key") is not None:
            match = (found.group("match_key"), found.group("match_value").strip())
            segments.append(Segment(found.group("key"), match=match))
        elif found.group("append") is not None:
            segments.append(Segment(found.group("key"), append=True))
        else:
            segments.append(Segment(found.group("key")))
    if any(s.append for s in segments[:-1]):
        raise PathError(f"{quoted(written)}: only the last step may append (Name[])")
    return JsonPath(written, tuple(segments))


def read(document: object, path: JsonPath) -> object:
    """The value at `path` in `document`, or `MISSING` when a step is absent."""
    here: object = document
    for segment in path.segments:
        if segment.append:
            return MISSING
        if not isinstance(here, Mapping) or segment.key not in here:
            return MISSING
        here = here[segment.key]
        if segment.index is None and segment.match is None:
            continue
        if not isinstance(here, list):
            return MISSING
        position = _position(here, segment)
        if position is None:
            return MISSING
        here = here[position]
    return here


def write(document: Mapping[str, Any], path: JsonPath, value: object) -> dict[str, Any]:
    """A copy of `document` with `value` at `path`. Missing objects on the way are made; a list
    step must find its element (an index out of range or no match is a `PathError` naming the
    step), except `Name[]`, which appends."""
    result = copy.deepcopy(dict(document))
    _set(result, path, copy.deepcopy(value))
    return result


def write_all(
    document: Mapping[str, Any], edits: Sequence[tuple[JsonPath, object]]
) -> dict[str, Any]:
    """`write` of each edit in turn, on one copy: an estimate request takes a dozen edits, and a
    copy of the whole document for each was the push's own CPU cost."""
    result = copy.deepcopy(dict(document))
    for path, value in edits:
        _set(result, path, copy.deepcopy(value))
    return result


def remove(document: Mapping[str, Any], path: JsonPath) -> dict[str, Any]:
    """A copy of `document` without what is at `path` (a key, or a list element); nothing
    there is no change."""
    result = copy.deepcopy(dict(document))
    *ways, last = path.segments
    parent = read(result, JsonPath(path.text, tuple(ways))) if ways else result
    if not isinstance(parent, dict) or last.key not in parent:
        return result
    if last.index is None and last.match is None:
        del parent[last.key]
        return result
    items = parent[last.key]
    if isinstance(items, list):
        position = _position(items, last)
        if position is not None:
            del items[position]
    return result


def _set(root: dict[str, Any], path: JsonPath, value: object) -> None:
    here: dict[str, Any] = root
    done: list[str] = []
    for number, segment in enumerate(path.segments):
        last = number == len(path.segments) - 1
        done.append(str(segment))
        at = ".".join(done)
        if segment.append:
            items = here.setdefault(segment.key, [])
            if not isinstance(items, list):
                raise PathError(f"{path}: {at}: {segment.key} is not a list")
            items.append(value)
            return
        if segment.index is None and segment.match is None:
            if last:
                here[segment.key] = value
                return
            child = here.get(segment.key)
            if child is None:
                child = here[segment.key] = {}
            if not isinstance(child, dict):
                raise PathError(f"{path}: {at} is not an object")
            here = child
            continue
        items = here.get(segment.key)
        if not isinstance(items, list):
            raise PathError(f"{path}: {segment.key} is not a list")
        position = _position(items, segment)
        if position is None:
            raise PathError(f"{path}: {at}: no such element (the list has {len(items)})")
        if last:
            items[position] = value
            return
        child = items[position]
        if not isinstance(child, dict):
            raise PathError(f"{path}: {at} is not an object")
        here = child


def _position(items: list[Any], segment: Segment) -> int | None:
    if segment.index is not None:
        index = segment.index + len(items) if segment.index < 0 else segment.index
        return index if 0 <= index < len(items) else None
    if segment.match is not None:
        key, wanted = segment.match
        for position, item in enumerate(items):
            if isinstance(item, Mapping) and key in item and _same(item[key], wanted):
                return position
    return None


def _same(value: object, wanted: str) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return False
    return str(value).strip().casefold() == wanted.casefold()

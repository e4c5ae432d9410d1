"""The one parser of Tharstern's job status / delivery webhook body (and of a polled job's status).

Seed 002: "enabling webhooks + subscriptions so Tharstern job status and tracking numbers flow
back". The payload is not public (reference §1.12): every field name is a guess in `guesses.py`,
and the account's `webhook_fields` setting (a table, `FieldMap` keys below) replaces any of them
without a release:

    key          default (guesses)          what
    events       ""                         where the events are: "" = the body is one event
                                            object, or a JSON array of them; else a path to a
                                            list of events (e.g. "Items")
    event_id     EventId                    the delivery's id, the same on a redelivery
    event_type   EventType                  informative only
    job_no       JobNo                      the job number (an estimate item's external id)
    order_no     OrderNo                    the sales order number (a stock line's)
    status       Status                     the status name (or code: see `status_mapping`)
    tracking     TrackingNumbers            a list of tracking numbers, or one text
    consignment  ConsignNote                a delivery note's consignment number (one text)
    shipped_at   DespatchDate               ISO 8601 date-time (or date) of despatch

Values are `json_paths` paths, so a nested payload is mapped too (`Job.Number`).

Rules (each tested):
- An event names its line by `job_no`, else `order_no`: that text is the `LineStatus`
  external id (the spine finds the pushed items that carry it). Neither: unparseable.
- `status` is required, except on a delivery event that carries tracking: then the status is
  `DELIVERY_STATUS` ([GUESS] "Despatched").
- Tracking numbers: `tracking` and `consignment` together, trimmed, empty ones dropped, each
  once, in order.
- The dedupe key is `event_id` when the body has one (one event: its id; several: their ids
  joined), else `sha256:` and the hex digest of the raw body: a redelivery of the same bytes is
  recognised either way.
- Anything else unexpected raises `PayloadError` naming the field path and what was expected,
  so the spine keeps the body and shows the reason (it is never dropped silently).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from daemon.errors import cut, quoted
from daemon.providers.contract import ItemRef, LineStatus, StatusReport
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern import json_paths
from daemon.providers.tharstern.json_paths import MISSING, JsonPath, PathError
from daemon.remote import json_text

__all__ = [
    "DEFAULT_FIELD_MAP",
    "DELIVERY_STATUS",
    "FIELD_KEYS",
    "FieldMap",
    "ParsedDelivery",
    "PayloadError",
    "field_map_problems",
    "parse_body",
    "parse_event",
    "parse_field_map",
    "status_reports",
]

#: [GUESS] the status of a delivery event that carries tracking but no status
DELIVERY_STATUS: Final = g.FINAL_STATUSES[0]
_MAX_EVENTS: Final = 1000
_MAX_TEXT: Final = 200


_EVENT_ID: Final = json_paths.parse_path(g.WEBHOOK_EVENT_ID)
_EVENT_TYPE: Final = json_paths.parse_path(g.WEBHOOK_EVENT_TYPE)
_JOB_NO: Final = json_paths.parse_path(g.WEBHOOK_JOB_NO)
_ORDER_NO: Final = json_paths.parse_path(g.WEBHOOK_ORDER_NO)
_STATUS: Final = json_paths.parse_path(g.WEBHOOK_STATUS)
_TRACKING: Final = json_paths.parse_path(g.WEBHOOK_TRACKING)
_CONSIGNMENT: Final = json_paths.parse_path(g.WEBHOOK_CONSIGNMENT)
_SHIPPED_AT: Final = json_paths.parse_path(g.WEBHOOK_SHIPPED_AT)


class PayloadError(ValueError):
    """The body cannot be read: the message names the field and what was expected."""


@dataclasses.dataclass(frozen=True, slots=True)
class FieldMap:
    """Where each webhook field is (see the module docstring); every path is parsed."""

    events: JsonPath | None = None
    event_id: JsonPath = _EVENT_ID
    event_type: JsonPath = _EVENT_TYPE
    job_no: JsonPath = _JOB_NO
    order_no: JsonPath = _ORDER_NO
    status: JsonPath = _STATUS
    tracking: JsonPath = _TRACKING
    consignment: JsonPath = _CONSIGNMENT
    shipped_at: JsonPath = _SHIPPED_AT


#: the guesses, unchanged (an account without `webhook_fields`)
DEFAULT_FIELD_MAP: Final = FieldMap()
#: the keys of the `webhook_fields` setting
FIELD_KEYS: Final = tuple(f.name for f in dataclasses.fields(FieldMap))


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedDelivery:
    """One webhook body, read: its dedupe key, the event types seen, and the line statuses."""

    dedupe_key: str
    lines: tuple[LineStatus, ...]
    event_types: tuple[str, ...] = ()


def field_map_problems(value: object, key: str = "webhook_fields") -> list[tuple[str, str]]:
    """Everything wrong with a `webhook_fields` table, as (key path, message) pairs."""
    return parse_field_map(value, key)[1]


def parse_field_map(
    value: object, key: str = "webhook_fields"
) -> tuple[FieldMap, list[tuple[str, str]]]:
    """The field map: the guesses, with the entries of `value` (a table) replacing them."""
    if value is None:
        return DEFAULT_FIELD_MAP, []
    if not isinstance(value, Mapping):
        return FieldMap(), [
            (key, f"expected a table of field paths (keys: {', '.join(FIELD_KEYS)})")
        ]
    problems: list[tuple[str, str]] = []
    changes: dict[str, JsonPath | None] = {}
    for name, path in value.items():
        at = f"{key}.{cut(str(name))}"
        if name not in FIELD_KEYS:
            problems.append((at, f"unknown field (known: {', '.join(FIELD_KEYS)})"))
            continue
        if name == "events" and path == "":
            changes["events"] = None
            continue
        try:
            parsed = json_paths.parse_path(path)
        except PathError as exc:
            problems.append((at, str(exc)))
            continue
        if any(s.append for s in parsed.segments):
            problems.append((at, "Name[] appends; a field path reads"))
            continue
        changes[str(name)] = parsed
    if problems:
        return DEFAULT_FIELD_MAP, problems
    return dataclasses.replace(DEFAULT_FIELD_MAP, **changes), []  # type: ignore[arg-type]


def parse_body(body: bytes, fields: FieldMap = DEFAULT_FIELD_MAP) -> ParsedDelivery:
    """One webhook body as line statuses; `PayloadError` naming what is missing or wrong."""
    try:
        data = json_text.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError(f"webhook: body is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"webhook: body is not JSON: {exc}") from None
    events = _events(data, fields)
    lines: list[LineStatus] = []
    ids: list[str] = []
    types: list[str] = []
    for where, event in events:
        lines.append(parse_event(event, fields, where))
        event_id = _optional_text(event, fields.event_id, where)
        if event_id:
            ids.append(event_id)
        event_type = _optional_text(event, fields.event_type, where)
        if event_type:
            types.append(event_type)
    if ids and len(ids) == len(events):
        dedupe = ids[0] if len(ids) == 1 else "+".join(ids)
        if len(dedupe) > _MAX_TEXT:
            dedupe = "sha256:" + hashlib.sha256(dedupe.encode()).hexdigest()
    else:
        dedupe = "sha256:" + hashlib.sha256(body).hexdigest()
    return ParsedDelivery(dedupe, tuple(lines), tuple(dict.fromkeys(types)))


def parse_event(
    event: object, fields: FieldMap = DEFAULT_FIELD_MAP, where: str = "webhook"
) -> LineStatus:
    """One event (or one polled job / order object) as a `LineStatus`."""
    if not isinstance(event, Mapping):
        raise PayloadError(f"{where}: expected an object, got {_kind(event)}")
    job = _optional_text(event, fields.job_no, where)
    order = _optional_text(event, fields.order_no, where)
    external = job or order
    if not external:
        raise PayloadError(
            f"{where}: names no job or order: expected {fields.job_no} or {fields.order_no}"
        )
    tracking = _tracking(event, fields, where)
    status = _optional_text(event, fields.status, where)
    if not status:
        if not tracking:
            raise PayloadError(f"{where}.{fields.status}: missing (and no tracking number)")
        status = DELIVERY_STATUS
    return LineStatus(
        external_id=external,
        status=status,
        tracking=tracking,
        shipped_at=_shipped_at(event, fields.shipped_at, where),
    )


def status_reports(lines: Sequence[LineStatus], pushed: Sequence[ItemRef]) -> list[StatusReport]:
    """The poll path's reports: each pushed item whose external id a line names gets that
    line's status (the last line naming it wins, as the newest)."""
    latest = {line.external_id: line for line in lines}
    reports: list[StatusReport] = []
    for ref in pushed:
        line = latest.get(ref.external_id)
        if line is not None:
            reports.append(StatusReport(ref.item_seq, line.status, line.tracking, line.shipped_at))
    return reports


# -- reading ------------------------------------------------------------------------------------


def _events(data: object, fields: FieldMap) -> list[tuple[str, Mapping[str, Any]]]:
    where = "webhook"
    found: object = data
    if fields.events is not None:
        found = json_paths.read(data, fields.events)
        where = f"webhook.{fields.events}"
        if found is MISSING:
            raise PayloadError(f"{where}: missing (expected a list of events)")
    if isinstance(found, Mapping):
        return [(where, found)]
    if not isinstance(found, list):
        raise PayloadError(
            f"{where}: expected an event object or a list of them, got {_kind(found)}"
        )
    if not found:
        raise PayloadError(f"{where}: an empty list of events")
    if len(found) > _MAX_EVENTS:
        raise PayloadError(f"{where}: more than {_MAX_EVENTS} events")
    events: list[tuple[str, Mapping[str, Any]]] = []
    for index, event in enumerate(found):
        if not isinstance(event, Mapping):
            raise PayloadError(f"{where}[{index}]: expected an object, got {_kind(event)}")
        events.append((f"{where}[{index}]", event))
    return events


def _optional_text(event: object, path: JsonPath, where: str) -> str:
    value = json_paths.read(event, path)
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"{where}.{path}: expected text, got {_kind(value)}")
    text = str(value).strip()
    if len(text) > _MAX_TEXT:
        raise PayloadError(f"{where}.{path}: longer than {_MAX_TEXT} characters")
    return text


def _tracking(event: object, fields: FieldMap, where: str) -> tuple[str, ...]:
    numbers: list[str] = []
    value = json_paths.read(event, fields.tracking)
    if isinstance(value, list):
        for index, number in enumerate(value):
            if isinstance(number, bool) or not isinstance(number, str | int):
                raise PayloadError(
                    f"{where}.{fields.tracking}[{index}]: expected text, got {_kind(number)}"
                )
            numbers.append(str(number).strip())
    elif value is not MISSING and value is not None:
        numbers.append(_optional_text(event, fields.tracking, where))
    numbers.append(_optional_text(event, fields.consignment, where))
    for number in numbers:
        if len(number) > _MAX_TEXT:
            raise PayloadError(f"{where}: a tracking number longer than {_MAX_TEXT} characters")
    return tuple(dict.fromkeys(n for n in numbers if n))


def _shipped_at(event: object, path: JsonPath, where: str) -> dt.datetime | None:
    text = _optional_text(event, path, where)
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}.{path}: {quoted(text)} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__

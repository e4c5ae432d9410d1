"""Operator command results as plain-text tables for people (`esd` without `--json`).

Fixed-width columns, no dependency. Values come from storefront and MIS data, so every cell is
stripped of control characters (no terminal escape sequence reaches the operator's screen) and
kept on one line. A result with a missing key renders as "-" rather than failing: an older or
newer daemon must still be readable.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["cell", "duration", "render", "render_progress", "table", "when"]

_EMPTY = "-"


def _clean(text: str) -> str:
    # Cc and Cf include ESC, CR, LF, bidi overrides: all of them could garble or spoof a table.
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: wide East Asian characters count 2, combining 0."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _truncate(text: str, limit: int) -> str:
    if _width(text) <= limit:
        return text
    out, width = [], 0
    for ch in text:
        step = _width(ch)
        if width + step > limit - 1:
            break
        out.append(ch)
        width += step
    return "".join(out) + "…"


def cell(value: Any, limit: int | None = None) -> str:
    """One value as single-line text: None "-", lists joined with ", ", booleans yes/no."""
    if value is None or value == "" or value == []:
        text = _EMPTY
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, list | tuple):
        text = ", ".join(cell(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    text = _clean(text)
    return _truncate(text, limit) if limit is not None else text


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    limits: Mapping[int, int] | None = None,
) -> str:
    """A fixed-width table: upper-case headers, columns two spaces apart, no trailing blanks.

    `limits` maps a column index to its maximum width (longer cells end in "…").
    """
    limits = limits or {}
    cells = [[cell(v, limits.get(i)) for i, v in enumerate(row)] for row in rows]
    heads = [h.upper() for h in headers]
    widths = [_width(h) for h in heads]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], _width(text))

    def line(texts: Sequence[str]) -> str:
        padded = [t + " " * (widths[i] - _width(t)) for i, t in enumerate(texts)]
        return "  ".join(padded).rstrip()

    lines = [line(heads), *(line(row) for row in cells)]
    if not cells:
        lines.append("(none)")
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """A duration for people: "3d 4h", "2h 5m", "4m 10s", "12s"."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def when(value: Any) -> Any:
    """An ISO timestamp shortened for a table ("2025-05-01 08:10:00Z"); other values as given."""
    if not isinstance(value, str):
        return value
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    if not offset:
        return text + "Z"
    return text + moment.strftime("%z")


def _counts(counts: Any) -> str:
    if not isinstance(counts, Mapping) or not counts:
        return "none"
    return ", ".join(f"{cell(k)} {cell(v)}" for k, v in counts.items())


def _list(result: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = result.get(key)
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, Mapping)]


# --- one renderer per command -------------------------------------------------------------------


def _status(result: Mapping[str, Any]) -> str:
    head = (
        f"esd {cell(result.get('version'))}, pid {cell(result.get('pid'))}, "
        f"up {duration(float(result.get('uptime_seconds') or 0))} "
        f"(started {cell(when(result.get('started_at')))})"
    )
    accounts = result.get("accounts")
    accounts = accounts if isinstance(accounts, Mapping) else {}
    rows = []
    errors = []
    for name, account in accounts.items():
        account = account if isinstance(account, Mapping) else {}
        actor = account.get("actor")
        actor = actor if isinstance(actor, Mapping) else {}
        rows.append(
            [
                name,
                account.get("provider"),
                account.get("environment"),
                actor.get("health"),
                actor.get("restarts"),
                actor.get("in_flight"),
                actor.get("queued"),
                _counts(account.get("states")),
            ]
        )
        if actor.get("last_error"):
            errors.append(f"  {cell(name)}: {cell(actor.get('last_error'))}")
    parts = [
        head,
        "",
        table(
            [
                "account",
                "provider",
                "environment",
                "health",
                "restarts",
                "in flight",
                "queued",
                "items",
            ],
            rows,
        ),
    ]
    if errors:
        parts += ["", "last errors:", *errors]
    inbox = result.get("inbox")
    inbox = inbox if isinstance(inbox, Mapping) else {}
    timer = result.get("next_timer")
    if isinstance(timer, Mapping):
        due, kind, subject = when(timer.get("due_at")), timer.get("kind"), timer.get("subject")
        next_timer = f"{cell(due)} {cell(kind)} {cell(subject)}"
    else:
        next_timer = "none"
    parts += [
        "",
        f"inbox: {cell(inbox.get('pending'))} pending, {cell(inbox.get('poisoned'))} poisoned, "
        f"{cell(inbox.get('total'))} total",
        f"next timer: {next_timer}",
        f"rejections: {_counts(result.get('rejections'))}",
    ]
    store = result.get("store")
    if isinstance(store, Mapping):
        since = f" since {cell(when(store.get('since')))}" if store.get("since") else ""
        error = f", last error: {cell(store.get('last_error'))}" if store.get("last_error") else ""
        parts.append(f"store: {cell(store.get('state'))}{since}{error}")
    config = result.get("config")
    if isinstance(config, Mapping):
        loaded, reloads = cell(when(config.get("loaded_at"))), cell(config.get("reloads"))
        line = f"config: loaded {loaded}, {reloads} reloads"
        if config.get("last_reload_error"):
            line += f", last reload failed: {cell(config.get('last_reload_error'))}"
        if config.get("needs_restart"):
            line += f", needs restart: {', '.join(cell(k) for k in config['needs_restart'])}"
        parts.append(line)
    hooks = result.get("webhooks")
    if isinstance(hooks, Mapping):
        parts.append(
            f"webhooks: port {cell(hooks.get('port'))}, {cell(hooks.get('accepted'))} stored, "
            f"{cell(hooks.get('duplicates'))} duplicates"
        )
    storefronts = result.get("storefronts")
    if isinstance(storefronts, Mapping) and storefronts:
        shown = ", ".join(
            f"{cell(name)} {cell(s.get('health') if isinstance(s, Mapping) else s)}"
            for name, s in storefronts.items()
        )
        parts.append(f"storefronts: {shown}")
    parts += _connections(result.get("connections"))
    alerts = result.get("alerts")
    if isinstance(alerts, Mapping):
        mail = {k.removeprefix("mail_"): v for k, v in alerts.items() if k.startswith("mail_")}
        parts.append(f"alerts: {cell(alerts.get('total'))} (e-mail: {_counts(mail)})")
    return "\n".join(parts)


def _connections(connections: object) -> list[str]:
    """The connections section of `esd status`: one row per MIS account and storefront."""
    if not isinstance(connections, Mapping) or not connections:
        return []
    rows = []
    errors = []
    for name, c in connections.items():
        c = c if isinstance(c, Mapping) else {}
        rows.append(
            [
                name,
                c.get("state"),
                when(c.get("last_success_at")) or "never",
                c.get("consecutive_failures"),
                when(c.get("failing_since")) or "",
            ]
        )
        if c.get("last_error"):
            at = cell(when(c.get("last_error_at")))
            errors.append(f"  {cell(name)}: {cell(c.get('last_error'))} at {at}")
    parts = [
        "",
        table(["connection", "state", "last success", "failures in a row", "failing since"], rows),
    ]
    if errors:
        parts += ["last connection errors:", *errors]
    return parts


def _order_head(result: Mapping[str, Any]) -> str:
    head = f"order {cell(result.get('order'))} on {cell(result.get('site'))}"
    if result.get("stored") is False:
        head += " (known only from its inbox events: never stored)"
    return head


def _poisoned_notes(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per poisoned event: what failed, and how to retry it once the cause is fixed."""
    return [
        f"event {cell(e.get('id'))} ({cell(e.get('kind'))}) poisoned: {cell(e.get('error'))}"
        f" (after a fix: esd replay {cell(e.get('id'))})"
        for e in events
    ]


def _order(result: Mapping[str, Any]) -> str:
    items = _list(result, "items")
    parts = [
        _order_head(result),
        "",
        table(
            [
                "seq",
                "account",
                "state",
                "mis job",
                "mis order",
                "mis status",
                "tracking",
                "attempts",
                "next retry",
                "updated",
                "adopted",
            ],
            (
                [
                    i.get("seq"),
                    i.get("account"),
                    i.get("state"),
                    i.get("external_id"),
                    i.get("order_external_id"),
                    i.get("mis_status"),
                    i.get("tracking"),
                    i.get("attempts"),
                    when(i.get("next_retry_at")),
                    when(i.get("updated_at")),
                    "adopted" if i.get("adopted") else "",
                ]
                for i in items
            ),
            limits={6: 40},
        ),
    ]
    notes = []
    for item in items:
        if item.get("last_error"):
            notes.append(f"item {cell(item.get('seq'))}: last error: {cell(item['last_error'])}")
        for reason in item.get("reasons") or []:
            notes.append(f"item {cell(item.get('seq'))}: {cell(reason)}")
    if notes:
        parts += ["", *notes]
    parts += [
        "",
        "trace",
        table(
            ["at", "seq", "account", "from", "to", "trigger", "event", "reason"],
            (
                [
                    when(t.get("at")),
                    t.get("seq"),
                    t.get("account"),
                    t.get("from"),
                    t.get("to"),
                    t.get("trigger"),
                    t.get("event_id"),
                    t.get("reason"),
                ]
                for t in _list(result, "trace")
            ),
        ),
        "",
        "events",
        table(
            ["id", "source", "kind", "status", "received"],
            (
                [
                    e.get("id"),
                    e.get("source"),
                    e.get("kind"),
                    e.get("status"),
                    when(e.get("received_at")),
                ]
                for e in _list(result, "events")
            ),
        ),
    ]
    poisoned = [e for e in _list(result, "events") if e.get("status") == "poisoned"]
    if poisoned:
        parts += ["", *_poisoned_notes(poisoned)]
    return "\n".join(parts)


def _why(result: Mapping[str, Any]) -> str:
    lines = [_order_head(result)]
    items = _list(result, "items")
    if not items:
        lines.append("  no items")
    for item in items:
        lines.append(
            f"item {cell(item.get('seq'))} ({cell(item.get('account'))}): {cell(item.get('state'))}"
        )
        reasons = item.get("reasons") or []
        lines += [f"  - {cell(r)}" for r in reasons] or ["  (no reason recorded)"]
    poisoned = _list(result, "poisoned")
    if poisoned:
        lines.append("poisoned events (nothing they asked for was done):")
        lines += [f"  - {note}" for note in _poisoned_notes(poisoned)]
    return "\n".join(lines)


def _list_items(result: Mapping[str, Any]) -> str:
    items = _list(result, "items")
    body = table(
        ["site", "order", "seq", "account", "state", "updated", "last error"],
        (
            [
                i.get("site"),
                i.get("order"),
                i.get("seq"),
                i.get("account"),
                i.get("state"),
                when(i.get("updated_at")),
                i.get("last_error"),
            ]
            for i in items
        ),
        limits={6: 60},
    )
    return f"{body}\n\n{len(items)} of {cell(result.get('total'))} shown"


def _push(result: Mapping[str, Any]) -> str:
    items = _list(result, "items")
    text = (
        table(
            ["seq", "account", "from", "to"],
            ([i.get("seq"), i.get("account"), i.get("from"), i.get("to")] for i in items),
        )
        if items
        else "nothing was pushed"
    )
    if "settled" not in result:
        return text
    settled = table(
        ["seq", "account", "state", "last error"],
        (
            [i.get("seq"), i.get("account"), i.get("state"), i.get("last_error")]
            for i in _list(result, "settled")
        ),
        limits={3: 60},
    )
    return f"{text}\n\nafter waiting ({cell(result.get('outcome'))}):\n{settled}"


def _events(result: Mapping[str, Any]) -> str:
    return table(
        ["id", "source", "kind", "status", "attempts", "received", "dedupe key", "error"],
        (
            [
                e.get("id"),
                e.get("source"),
                e.get("kind"),
                e.get("status"),
                e.get("attempts"),
                when(e.get("received_at")),
                e.get("dedupe_key"),
                e.get("error"),
            ]
            for e in _list(result, "events")
        ),
        limits={6: 40, 7: 60},
    )


def _event(result: Mapping[str, Any]) -> str:
    fields = [
        "id",
        "source",
        "kind",
        "dedupe_key",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "subject",
        "error",
    ]
    lines = [f"{name.replace('_', ' ') + ':':<14}{cell(result.get(name))}" for name in fields]
    payload = json.dumps(result.get("payload"), ensure_ascii=False, indent=2)
    lines += ["", "payload:", *(_clean(line) for line in payload.splitlines())]
    traceback = result.get("traceback")
    if isinstance(traceback, str) and traceback:
        lines += ["", "traceback:", *(_clean(line) for line in traceback.splitlines())]
    return "\n".join(lines)


def _replay(result: Mapping[str, Any]) -> str:
    text = f"event {cell(result.get('id'))}: {cell(result.get('status'))}"
    if result.get("error"):
        text += f" ({cell(result['error'])})"
    if "changed" not in result:
        return text
    changed = _list(result, "changed")
    if not changed:
        return f"{text}; nothing changed"
    rows = (
        [
            c.get("order"),
            c.get("seq"),
            c.get("account"),
            c.get("from"),
            c.get("to"),
            c.get("trigger"),
        ]
        for c in changed
    )
    return f"{text}\n{table(['order', 'seq', 'account', 'from', 'to', 'trigger'], rows)}"


def _sync(result: Mapping[str, Any]) -> str:
    return f"status poll asked of: {cell(result.get('accounts'))}" + _rounds(result)


def _poll(result: Mapping[str, Any]) -> str:
    return f"reconciliation poll asked of: {cell(result.get('storefronts'))}" + _rounds(result)


def _rounds(result: Mapping[str, Any]) -> str:
    """What `--wait` saw of each poll round: done, failures, still waiting."""
    finished = result.get("finished")
    if not isinstance(finished, Mapping):
        return ""
    lines = [
        f"{name}: {cell(r.get('done'))} done, {len(r.get('failures') or [])} failed"
        for name, r in finished.items()
        if isinstance(r, Mapping)
    ]
    waiting = result.get("waiting")
    if waiting:
        lines.append(f"still running: {cell(waiting)}")
    return "".join(f"\n{line}" for line in lines)


def _import(result: Mapping[str, Any]) -> str:
    text = (
        f"import batch {cell(result.get('batch'))}: {cell(result.get('state'))}, "
        f"{cell(result.get('pages'))} pages, {cell(result.get('records'))} records"
    )
    if result.get("last_error"):
        text += f"\nlast error: {cell(result['last_error'])}"
    return text


def _submit(result: Mapping[str, Any]) -> str:
    if result.get("duplicate"):
        return f"event {cell(result.get('id'))} was already in the inbox (duplicate)"
    return f"event {cell(result.get('id'))} queued"


def _test_connection(result: Mapping[str, Any]) -> str:
    accounts = result.get("accounts")
    accounts = accounts if isinstance(accounts, Mapping) else {}
    rows = []
    for name, report in accounts.items():
        report = report if isinstance(report, Mapping) else {}
        checked = report.get("environments")
        if not isinstance(checked, Mapping) or not checked:
            # an answer without environments (an older daemon): the one in use only
            checked = {report.get("environment") or "": {**report, "in_use": True}}
        for environment, entry in checked.items():
            entry = entry if isinstance(entry, Mapping) else {}
            if entry.get("configured") is False:
                state = "not configured"
            else:
                state = "ok" if entry.get("ok") else "FAILED"
            label = f"{environment} ({'in use' if entry.get('in_use') else 'other'})"
            label = label if environment else ""
            detail = "" if entry.get("configured") is False else entry.get("detail")
            rows.append([name, label, state, entry.get("server_version"), detail])
    return table(["account", "environment", "result", "version", "detail"], rows)


def _ping(result: Mapping[str, Any]) -> str:
    return "pong" if result.get("pong") else cell(result)


_RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "status": _status,
    "order": _order,
    "why": _why,
    "list": _list_items,
    "push": _push,
    "events": _events,
    "event": _event,
    "replay": _replay,
    "submit": _submit,
    "sync": _sync,
    "poll": _poll,
    "import": _import,
    "ping": _ping,
    "test-connection": _test_connection,
}


def render(cmd: str, result: Mapping[str, Any]) -> str:
    """The result of `cmd` as text for people (indented JSON for a command without a renderer)."""
    renderer = _RENDERERS.get(cmd)
    if renderer is None:
        text = json.dumps(result, ensure_ascii=False, indent=2)
        return "\n".join(_clean(line) for line in text.splitlines())
    return renderer(result)


def render_progress(progress: Mapping[str, Any]) -> str:
    """One progress line: its "message", else the progress object as compact JSON."""
    message = progress.get("message")
    if isinstance(message, str):
        return cell(message)
    return cell(dict(progress))

"""Part 2, the webhook fuzz and HTTP-level abuse against the real daemon's listener.

PROOF_FUZZ_BODIES (20000) bodies go to the webhook endpoint over keep-alive connections
(httpx, PROOF_FUZZ_CLIENTS (4) at once): random JSON, garbage, valid-looking envelopes with a
wrong or missing MessageHash, huge, deep and odd-unicode bodies, and a share of correctly
signed ones (valid envelopes, and signed malformed ones). Then raw sockets: connections beyond
`max_connections`, slow headers, idle keep-alive, bad chunking, huge headers, pipelined
garbage. Counted: answers by status (no 5xx; a 503 only for the connection cap), the daemon
alive with `esd status` answering, and rows stored from unsigned bodies (must be 0).
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from daemon.storefronts.pressero.guesses import DEFAULT_HASH_VARIANT
from daemon.storefronts.pressero.signature import expected_hash
from tests.proof.common import Promises, env_int, read_store
from tests.proof.stack import SITE, Stack

__all__ = ["check", "run"]

MAX_CONNECTIONS = 32
HEADER_TIMEOUT = 2
IDLE_TIMEOUT = 3
MAX_BODY = 65536
_PATH = "/webhooks/pressero/shop"
_ODD = ["\u202e", "\u0000", "\ufeff", "\U0001f600", "\u00e9", "\ud7ff", "\uffff", "e\u0301"]


def _sign(body: bytes) -> str:
    return expected_hash(SITE.security_key, body, DEFAULT_HASH_VARIANT)


def _envelope(message_id: str, rng: random.Random, type_name: str = "OrderCommentAdded") -> bytes:
    return json.dumps(
        {
            "Type": 10,
            "TypeName": type_name,
            "Timestamp": "2026-11-23T10:00:00Z",
            "SubscriberId": "sub-1",
            "SiteId": SITE.site_id,
            "MessageID": message_id,
            "Data": {"OrderNumber": rng.randint(1, 10**6), "Note": rng.choice(_ODD)},
        }
    ).encode()


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(
            [None, True, 0, -1, 1e308, 2**70, "", "x" * rng.randint(0, 50), rng.choice(_ODD)]
        )
    if roll < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {
        rng.choice(_ODD) + str(i): _random_json(rng, depth + 1) for i in range(rng.randint(0, 5))
    }


def body_for(n: int, rng: random.Random) -> tuple[str, bytes, dict[str, Any], str | None]:
    """Body number `n`: its kind, bytes, headers and (for a stored one) its MessageID."""
    roll = rng.random()
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    message_id = f"fuzz-{n}-{uuid.UUID(int=rng.getrandbits(128))}"
    if roll < 0.10:
        body = _envelope(message_id, rng)
        return "signed_valid", body, {**headers, "MessageHash": _sign(body)}, message_id
    if roll < 0.15:
        body = rng.choice(
            [
                b"[" * 50_000 + b"]" * 50_000,
                b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
                json.dumps({"MessageID": message_id, "TypeName": "\ud800"}).encode(),
                b'{"TypeName": "OrderPlaced", "MessageID": "\\udc00", "Data": {}}',
                rng.randbytes(rng.randint(1, 300)),
                json.dumps(_random_json(rng)).encode(),
                _envelope(message_id, rng)[:-5],
            ]
        )
        return "signed_malformed", body, {**headers, "MessageHash": _sign(body)}, None
    if roll < 0.40:
        body = _envelope(message_id, rng, rng.choice(["OrderPlaced", "OrderItemApproved"]))
        wrong = rng.choice(
            [None, "", _sign(body + b" "), "0" * 40, "ZZZ", "\u00e9" * 10, _sign(body).upper()[:-1]]
        )
        # bytes: httpx would refuse to encode a non-ASCII header value itself
        extra = {} if wrong is None else {"MessageHash": wrong.encode()}
        # the unsigned ones' MessageIDs: none may be stored
        return "unsigned_envelope", body, {**headers, **extra}, message_id
    if roll < 0.42:
        body = b"x" * rng.randint(MAX_BODY + 1, 3 * MAX_BODY)
        return "huge", body, {**headers, "MessageHash": _sign(body)}, None
    if roll < 0.46:
        body = b"[" * rng.randint(1000, 100_000)
        return "deep", body, headers, None
    if roll < 0.70:
        body = rng.randbytes(rng.randint(0, 2048))
        return "garbage", body, {**headers, "MessageHash": f"{rng.getrandbits(160):040x}"}, None
    body = json.dumps(_random_json(rng), ensure_ascii=rng.random() < 0.5).encode(
        "utf-8", "surrogatepass"
    )
    return "random_json", body, headers, None


def fuzz(url: str, bodies: int, clients: int, seed: int) -> dict[str, Any]:
    """Send the bodies; answers by kind and status; the MessageIDs of signed and unsigned ones."""
    answers: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    signed: set[str] = set()
    acknowledged: set[str] = set()
    unsigned: set[str] = set()
    lock = threading.Lock()

    def client(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        with httpx.Client(base_url=url, timeout=30) as http:
            for n in range(k, bodies, clients):
                kind, body, headers, message_id = body_for(n, rng)
                try:
                    status = str(http.post(_PATH, content=body, headers=headers).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    answers[kind][status] += 1
                    if message_id is not None and kind == "signed_valid":
                        signed.add(message_id)
                        if status == "200":
                            acknowledged.add(message_id)
                    elif message_id is not None:
                        unsigned.add(message_id)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "answers": {kind: dict(c) for kind, c in sorted(answers.items())},
        "signed": signed,
        "acknowledged": acknowledged,
        "unsigned": unsigned,
    }


def _first_answer(conn: socket.socket, timeout: float) -> str:
    """The status line the server sends first, or how the connection ended."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return data.decode("latin-1")[:40] or "closed"
            data += chunk
    except TimeoutError:
        return "no answer"
    except ConnectionResetError:
        return "reset"
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def _closed_within(conn: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes `conn` (reading and dropping what it sends)."""
    start = time.monotonic()
    conn.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if conn.recv(65536) == b"":
                return round(time.monotonic() - start, 2)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return round(time.monotonic() - start, 2)
    return None


def _request(body: bytes, *, extra: str = "", keep_alive: bool = False) -> bytes:
    head = (
        f"POST {_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"MessageHash: {_sign(body)}\r\nContent-Length: {len(body)}\r\n{extra}"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode() + body


def abuse(port: int, rng: random.Random) -> dict[str, Any]:
    """The raw-socket cases: case -> what the server did."""
    seen: dict[str, Any] = {"signed": []}

    def signed_envelope() -> bytes:
        message_id = f"abuse-{uuid.uuid4()}"
        seen["signed"].append(message_id)
        return _envelope(message_id, rng)

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=10)

    # Connections beyond the cap: the extra ones get a 503 at once; the held ones are closed by
    # the header timeout.
    held = [connect() for _ in range(MAX_CONNECTIONS + 8)]
    time.sleep(0.5)
    answers = collections.Counter(_first_answer(c, 1.0) for c in held[MAX_CONNECTIONS:])
    closed = [_closed_within(c, HEADER_TIMEOUT + 10) for c in held[:MAX_CONNECTIONS]]
    for conn in held:
        conn.close()
    seen["over_the_cap"] = {
        "opened": len(held),
        "extra_answers": dict(answers),
        "held_closed_by_header_timeout": sum(1 for c in closed if c is not None),
        "held_closed_after_s_max": max((c for c in closed if c is not None), default=None),
    }
    # Slow headers: a byte every 0.4 s, never finished.
    with connect() as conn:
        start = time.monotonic()
        line = b"POST /webhooks/pressero/shop HTTP/1.1\r\nX-Slow: " + b"a" * 100
        ended = None
        for byte in line:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                ended = round(time.monotonic() - start, 2)
                break
            if _closed_within(conn, 0.4) is not None:
                ended = round(time.monotonic() - start, 2)
                break
        seen["slow_headers_closed_after_s"] = ended
    # Idle after one answered request on a kept-alive connection.
    with connect() as conn:
        conn.sendall(_request(signed_envelope(), keep_alive=True))
        first = _first_answer(conn, 10)
        seen["idle_keepalive"] = {"answer": first, "closed_after_s": _closed_within(conn, 15)}
    # A head, then a body that stalls: closed after the idle timeout, nothing stored.
    with connect() as conn:
        conn.sendall(_request(signed_envelope(), keep_alive=True)[:-20])
        seen["stalled_body_closed_after_s"] = _closed_within(conn, IDLE_TIMEOUT + 10)
    cases = {
        "bad_chunk_size": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
        "chunk_longer_than_data": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nfffff\r\nabc\r\n0\r\n\r\n",
        "chunk_without_crlf": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3abc0\r\n\r\n",
        "chunked_and_length": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "huge_header": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\nX-Big: "
        + b"b" * 200_000
        + b"\r\n\r\n",
        "many_headers": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
        + b"\r\n",
        "huge_url": b"POST /" + b"u" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "binary_request_line": bytes(range(256)) + b"\r\n\r\n",
        "bad_version": b"POST /webhooks/pressero/shop HTTP/9.9\r\nHost: x\r\n\r\n",
        "negative_length": b"POST /webhooks/pressero/shop HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: -5\r\n\r\nabc",
        "pipelined_garbage": _request(signed_envelope(), keep_alive=True)
        + b"GARBAGE \x00\xff\r\n\r\nMORE",
    }
    for name, payload in cases.items():
        with connect() as conn:
            try:
                conn.sendall(payload)
            except OSError as exc:
                seen[name] = f"send ended: {type(exc).__name__}"
                continue
            seen[name] = _first_answer(conn, HEADER_TIMEOUT + IDLE_TIMEOUT + 5)
    # Rapid connect and disconnect.
    for _ in range(300):
        connect().close()
    seen["rapid_connect_close"] = 300
    return seen


def check(
    sent: dict[str, Any], abused: dict[str, Any], stored: set[str], alive: bool, status_ok: bool
) -> tuple[Promises, dict[str, Any]]:
    promises = Promises()
    five = {
        kind: {s: n for s, n in by.items() if s.startswith("5")}
        for kind, by in sent["answers"].items()
    }
    promises.expect("5xx answers to fuzzed bodies", {k: v for k, v in five.items() if v}, {})
    errors = {
        kind: {s: n for s, n in by.items() if not s.isdigit()}
        for kind, by in sent["answers"].items()
        if kind != "huge"  # over the limit: the server may answer 413 before reading it all
    }
    promises.expect(
        "connection errors on bodies within the limit", {k: v for k, v in errors.items() if v}, {}
    )
    promises.expect(
        "signed valid bodies not acknowledged",
        len(sent["signed"] - sent["acknowledged"]),
        0,
    )
    signed = sent["signed"] | set(abused.get("signed", []))
    promises.expect("rows stored from unsigned bodies", sorted(stored - signed)[:10], [])
    promises.expect(
        "acknowledged bodies not stored", sorted(sent["acknowledged"] - stored)[:10], []
    )
    raw_5xx = {
        name: answer
        for name, answer in abused.items()
        if name != "signed" and isinstance(answer, str) and answer.startswith("HTTP/1.1 5")
    }
    promises.expect("5xx answers to raw abuse", raw_5xx, {})
    cap = abused["over_the_cap"]
    promises.expect(
        "connections over the cap answered 503",
        cap["extra_answers"].get("HTTP/1.1 503 Service Unavailable", 0),
        cap["opened"] - MAX_CONNECTIONS,
    )
    promises.expect(
        "idle connections closed by the header timeout",
        cap["held_closed_by_header_timeout"],
        MAX_CONNECTIONS,
    )
    promises.holds("slow headers closed", abused["slow_headers_closed_after_s"] is not None)
    promises.holds("stalled body closed", abused["stalled_body_closed_after_s"] is not None)
    promises.holds("idle keep-alive closed", abused["idle_keepalive"]["closed_after_s"] is not None)
    promises.holds("daemon alive", alive)
    promises.holds("esd status answers", status_ok)
    figures = {
        "bodies": sum(sum(by.values()) for by in sent["answers"].values()),
        "answers_by_kind": sent["answers"],
        "signed_valid_sent": len(sent["signed"]),
        "acknowledged": len(sent["acknowledged"]),
        "stored": len(stored),
        "unsigned_envelopes_sent": len(sent["unsigned"]),
        "allowed_503": "only the connection cap (over_the_cap)",
        "abuse": {k: v for k, v in abused.items() if k != "signed"},
    }
    return promises, figures


def run(folder: Path, plant_kind: str = "", **sizes: Any) -> dict[str, Any]:
    bodies = sizes.get("bodies", env_int("PROOF_FUZZ_BODIES", 20_000))
    clients = sizes.get("clients", env_int("PROOF_FUZZ_CLIENTS", 4))
    seed = sizes.get("seed", env_int("PROOF_SEED", 12))
    listener = (
        f"max_connections = {MAX_CONNECTIONS}\nheader_timeout_seconds = {HEADER_TIMEOUT}\n"
        f"idle_timeout_seconds = {IDLE_TIMEOUT}\nmax_body_bytes = {MAX_BODY}\n"
    )
    stack = Stack(folder, storefront=False, listener=listener)
    started = time.monotonic()
    try:
        stack.daemon.start()
        sent = fuzz(f"http://127.0.0.1:{stack.port}", bodies, clients, seed)
        fuzz_seconds = time.monotonic() - started
        abused = (sizes.get("abuse", True) and abuse(stack.port, random.Random(seed))) or {}
        alive = stack.alive()
        try:
            status_ok = "webhooks" in stack.status()
        except Exception:  # the daemon is gone: the promise below says so
            status_ok = False
        planted = ""
        if plant_kind == "unsigned_row":
            victim = sorted(sent["unsigned"])[0]
            with contextlib.closing(sqlite3.connect(stack.database)) as db:
                db.execute(
                    "INSERT INTO events (source, dedupe_key, kind, payload, received_at)"
                    " VALUES ('pressero:shop', ?, 'pressero.webhook', '{}', 0)",
                    (victim,),
                )
                db.commit()
            planted = f"an inbox row for the unsigned body {victim}"
        stored = {
            str(key)
            for (key,) in read_store(
                stack.database, "SELECT dedupe_key FROM events WHERE source = 'pressero:shop'"
            )
        }
        if abused:
            promises, figures = check(sent, abused, stored, alive, status_ok)
        else:
            promises, figures = check(sent, _NO_ABUSE, stored, alive, status_ok)
        if stack.alive():
            promises.expect("daemon exit code after SIGTERM", stack.daemon.terminate(), 0)
    finally:
        stack.close()
    return {
        "seed": seed,
        **figures,
        "fuzz_seconds": round(fuzz_seconds, 1),
        **({"planted": planted} if planted else {}),
        "promises": promises.checks,
        "broken": promises.broken,
    }


#: the abuse figures of a run without the raw-socket cases (the self-test's), all as promised
_NO_ABUSE: dict[str, Any] = {
    "over_the_cap": {
        "opened": MAX_CONNECTIONS,
        "extra_answers": {},
        "held_closed_by_header_timeout": MAX_CONNECTIONS,
    },
    "slow_headers_closed_after_s": 0.0,
    "idle_keepalive": {"closed_after_s": 0.0},
    "stalled_body_closed_after_s": 0.0,
}

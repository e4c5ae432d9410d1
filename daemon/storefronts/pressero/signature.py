"""The Pressero webhook signature, `MessageHash`: pure functions over the raw body bytes.

Documented (pressero.md §2): when a webhook has a security key, Pressero concatenates the key
with the payload, takes the SHA1 of that, and sends it in the `MessageHash` request header. It
is a plain hash of a concatenation, not an HMAC. Not documented: which comes first and how the
digest is written. `HashVariant` (in `guesses`) names each candidate; a site's config picks one,
and `detect_variant` tells an operator which one a real delivery used.

The hash is computed over the body bytes exactly as received: re-serialising the JSON would
change them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from daemon.storefronts.pressero.guesses import (
    DEFAULT_HASH_VARIANT,
    HASH_KEY_ENCODING,
    MESSAGE_HASH_HEADER,
    HashVariant,
)

__all__ = [
    "DEFAULT_HASH_VARIANT",
    "MESSAGE_HASH_HEADER",
    "HashVariant",
    "detect_variant",
    "expected_hash",
    "verify",
]


def expected_hash(key: str, body: bytes, variant: HashVariant) -> str:
    """The `MessageHash` Pressero sends for `body` signed with `key`, written as `variant` says.

    Hex digests are lower-case; `verify` accepts either case.
    """
    secret = key.encode(HASH_KEY_ENCODING)
    if variant in (HashVariant.KEY_BODY_HEX, HashVariant.KEY_BODY_BASE64):
        digest = hashlib.sha1(secret + body, usedforsecurity=True).digest()
    else:
        digest = hashlib.sha1(body + secret, usedforsecurity=True).digest()
    if variant in (HashVariant.KEY_BODY_HEX, HashVariant.BODY_KEY_HEX):
        return digest.hex()
    return base64.b64encode(digest).decode("ascii")


def verify(key: str, body: bytes, received: str | None, variant: HashVariant) -> bool:
    """Does `received` (the header's value, None when absent) sign `body` with `key`?

    Compared in constant time. Surrounding whitespace is ignored, and so is the case of a hex
    digest (the case Pressero uses is not documented).
    """
    if received is None:
        return False
    candidate = received.strip()
    if not candidate or not candidate.isascii():
        return False
    expected = expected_hash(key, body, variant)
    if variant in (HashVariant.KEY_BODY_HEX, HashVariant.BODY_KEY_HEX):
        candidate = candidate.lower()
    return hmac.compare_digest(candidate.encode("ascii"), expected.encode("ascii"))


def detect_variant(key: str, body: bytes, received: str | None) -> HashVariant | None:
    """The variant under which `received` signs `body` with `key`, or None if none does.

    For settling the guess once against a real delivery (pressero.md §5.2), not for routine use.
    """
    for variant in HashVariant:
        if verify(key, body, received, variant):
            return variant
    return None

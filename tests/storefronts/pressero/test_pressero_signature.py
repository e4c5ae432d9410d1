"""Pressero's `MessageHash`: SHA1 over key and raw body, in each guessed variant.

The expected digests were computed outside Python (`printf ... | sha1sum`, `openssl dgst
-sha1 -binary | base64`), so the table does not test the code against itself.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.storefronts.pressero.guesses import DEFAULT_HASH_VARIANT, MESSAGE_HASH_HEADER
from daemon.storefronts.pressero.signature import (
    HashVariant,
    detect_variant,
    expected_hash,
    verify,
)

KEY = "s3cr3t-key"
BODY = b'{"TypeName":"OrderPlaced","MessageID":"m-1"}'

VECTORS = {
    HashVariant.KEY_BODY_HEX: "3cf8396b229feb38fd052b04e080c90a2d30c882",
    HashVariant.BODY_KEY_HEX: "adb1222d862d595f49ea89bb924a7381cb4db891",
    HashVariant.KEY_BODY_BASE64: "PPg5ayKf6zj9BSsE4IDJCi0wyII=",
    HashVariant.BODY_KEY_BASE64: "rbEiLYYtWV9J6om7kkpzgctNuJE=",
}


def test_the_documented_header_and_the_default_guess() -> None:
    assert MESSAGE_HASH_HEADER == "MessageHash"
    assert DEFAULT_HASH_VARIANT is HashVariant.KEY_BODY_HEX
    assert set(VECTORS) == set(HashVariant)


@pytest.mark.parametrize(("variant", "digest"), VECTORS.items())
def test_expected_hash_matches_an_independent_sha1(variant: HashVariant, digest: str) -> None:
    assert expected_hash(KEY, BODY, variant) == digest


def test_the_key_is_utf8() -> None:
    assert (
        expected_hash("clé", BODY, HashVariant.KEY_BODY_HEX)
        == "17a17313838fe0bcd9ca3d352f4e84ded3816de9"
    )


@pytest.mark.parametrize(("variant", "digest"), VECTORS.items())
def test_verify_accepts_the_right_digest(variant: HashVariant, digest: str) -> None:
    assert verify(KEY, BODY, digest, variant)
    assert verify(KEY, BODY, f"  {digest}\n", variant)  # header whitespace


@pytest.mark.parametrize(
    ("received", "variant", "ok"),
    [
        (VECTORS[HashVariant.KEY_BODY_HEX].upper(), HashVariant.KEY_BODY_HEX, True),
        (VECTORS[HashVariant.BODY_KEY_HEX].upper(), HashVariant.BODY_KEY_HEX, True),
        # base64 is case-sensitive
        (VECTORS[HashVariant.KEY_BODY_BASE64].lower(), HashVariant.KEY_BODY_BASE64, False),
        # the right digest under the wrong variant
        (VECTORS[HashVariant.BODY_KEY_HEX], HashVariant.KEY_BODY_HEX, False),
        (VECTORS[HashVariant.KEY_BODY_HEX], HashVariant.KEY_BODY_BASE64, False),
        (None, HashVariant.KEY_BODY_HEX, False),
        ("", HashVariant.KEY_BODY_HEX, False),
        ("   ", HashVariant.KEY_BODY_HEX, False),
        ("é" * 40, HashVariant.KEY_BODY_HEX, False),
        (VECTORS[HashVariant.KEY_BODY_HEX][:-1], HashVariant.KEY_BODY_HEX, False),
    ],
)
def test_verify_table(received: str | None, variant: HashVariant, ok: bool) -> None:
    assert verify(KEY, BODY, received, variant) is ok


@pytest.mark.parametrize("variant", list(HashVariant))
def test_verify_refuses_another_key_or_body(variant: HashVariant) -> None:
    digest = VECTORS[variant]
    assert not verify("other-key", BODY, digest, variant)
    assert not verify(KEY, BODY + b" ", digest, variant)
    assert not verify(KEY, BODY.replace(b"m-1", b"m-2"), digest, variant)


@pytest.mark.parametrize(("variant", "digest"), VECTORS.items())
def test_detect_variant_names_the_one_a_delivery_used(variant: HashVariant, digest: str) -> None:
    assert detect_variant(KEY, BODY, digest) is variant


def test_detect_variant_finds_none_for_a_wrong_key() -> None:
    assert detect_variant("wrong", BODY, VECTORS[HashVariant.KEY_BODY_HEX]) is None
    assert detect_variant(KEY, BODY, None) is None


@given(key=st.text(min_size=1, max_size=40), body=st.binary(max_size=200))
def test_each_variant_verifies_its_own_hash_and_no_other(key: str, body: bytes) -> None:
    secret = key.encode()
    commutes = secret + body == body + secret  # e.g. an empty body: order cannot matter
    for variant in HashVariant:
        digest = expected_hash(key, body, variant)
        assert verify(key, body, digest, variant)
        others = {v for v in HashVariant if v is not variant and verify(key, body, digest, v)}
        if commutes:
            same_encoding = {v for v in HashVariant if v.value[-4:] == variant.value[-4:]}
            assert others <= same_encoding
        else:
            assert others == set()

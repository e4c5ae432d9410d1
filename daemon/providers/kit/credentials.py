"""Checks of an account's resolved credentials, shared by every provider's manifest.

Each returns (key inside `credentials`, message) pairs, as `registry.credentials_problems`
expects. Messages never quote a value: a credential may be a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["required_credentials_problems", "url_scheme_problems"]


def required_credentials_problems(
    credentials: Mapping[str, str], keys: Iterable[str]
) -> list[tuple[str, str]]:
    """Each of `keys` that is missing, not a string, or empty."""
    problems: list[tuple[str, str]] = []
    for key in keys:
        value = credentials.get(key)
        if not isinstance(value, str) or not value:
            problems.append((key, "required: a non-empty string"))
    return problems


def url_scheme_problems(credentials: Mapping[str, str], key: str = "url") -> list[tuple[str, str]]:
    """A present `key` that is not an http:// or https:// URL (a missing one is not checked
    here: `required_credentials_problems` reports it)."""
    url = credentials.get(key)
    if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
        return [(key, "must start with http:// or https://")]
    return []

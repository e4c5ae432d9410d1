"""What intake decides about one HTTP request (sans-IO): route it, then accept or reject it.

Routes: `POST /webhooks/<storefront provider>/<site key>`, judged by that storefront plug-in's
judge (daemon.storefronts.registry). The site key in the path picks the keys the body must be
signed with, so nothing in an unverified body is trusted. `Accept`, `Reject` and `Judge` are the
storefront contract's (re-exported here for intake's callers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from daemon.config import Config, Site
from daemon.storefronts.contract import Accept, Judge, Reject

__all__ = ["Accept", "Judge", "Reject", "Route", "route"]

WEBHOOK_PREFIX = "/webhooks/"


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """A request path that names a configured site of a known storefront provider."""

    site: Site
    provider: str


def route(method: str, path: str, config: Config, providers: Mapping[str, Judge]) -> Route | Reject:
    """Find the site a webhook is for, or reject the request (404/405)."""
    if not path.startswith(WEBHOOK_PREFIX):
        return Reject(404, "unknown_path", f"no such path {path[:100]!r}")
    parts = path[len(WEBHOOK_PREFIX) :].split("/")
    if len(parts) != 2 or not all(parts):
        return Reject(404, "unknown_path", "expected /webhooks/<storefront>/<site>")
    provider, site_key = parts
    if provider not in providers:
        return Reject(404, "unknown_path", f"unknown storefront {provider[:40]!r}")
    site = config.sites.get(site_key)
    if site is None:
        return Reject(404, "unknown_site", f"unknown site {site_key[:100]!r}")
    if method != "POST":
        return Reject(405, "bad_method", f"{method} is not allowed; use POST")
    return Route(site, provider)

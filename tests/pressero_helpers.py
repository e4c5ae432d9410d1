"""The config text that ties a daemon to a Pressero sandbox: the storefront table and the keys
of [sites.shop] that point the site at it. Shared by the tests that run the daemon against one."""

from __future__ import annotations

from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from daemon.storefronts.pressero.sandbox.data import SandboxSite

__all__ = ["pressero_site_keys", "pressero_storefront_toml"]


def pressero_site_keys(site: SandboxSite = DEFAULT_SITES[0]) -> str:
    """The keys of [sites.shop] that bind it to the storefront "pressero-main" and `site`."""
    return (
        f'storefront = "pressero-main"\nsite_id = "{site.site_id}"\n'
        f'security_key = "{site.security_key}"\n'
    )


def pressero_storefront_toml(
    pressero: PresseroSandbox,
    password: str,
    *,
    poll_seconds: int,
    poll_window_seconds: int = 3600,
    extra: str = "",
) -> str:
    """The tables of the storefront "pressero-main" on `pressero`; `extra`: more of its keys."""
    return (
        f'[storefronts.pressero-main]\nprovider = "pressero"\nurl = "{pressero.url}"\n'
        f"poll_seconds = {poll_seconds}\npoll_window_seconds = {poll_window_seconds}\n{extra}"
        "[storefronts.pressero-main.credentials]\n"
        f'username = "{pressero.username}"\npassword = "{password}"\n'
        f'subscriber_id = "{pressero.subscriber_id}"\n'
    )

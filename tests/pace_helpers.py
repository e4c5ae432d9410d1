"""What the EFI Pace tests and the push bench share: running sandboxes, seeding, the config.

`pace_sandbox_fixtures` gives a test module its sandbox fixtures with the module's own
credentials, so each module still checks that its own password is never echoed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from daemon.orders.model import Address
from daemon.providers.pace.sandbox import PaceSandbox

__all__ = ["contact_fields", "pace_account_toml", "pace_sandbox_fixtures"]


def pace_sandbox_fixtures(login: str, password: str) -> tuple[object, object, object, object]:
    """The fixtures `running_sandbox`, `running_legacy` (one `PaceSandbox` per module, of the
    current and the legacy Pace version), and `sandbox`, `legacy` (the same, reset for each
    test). Bind them to those names in the test module:

        running_sandbox, running_legacy, sandbox, legacy = pace_sandbox_fixtures(LOGIN, PASSWORD)
    """

    @pytest.fixture(scope="module")
    def running_sandbox() -> Iterator[PaceSandbox]:
        with PaceSandbox(login, password) as box:
            yield box

    @pytest.fixture(scope="module")
    def running_legacy() -> Iterator[PaceSandbox]:
        with PaceSandbox(login, password, pace_version="legacy") as box:
            yield box

    @pytest.fixture
    def sandbox(running_sandbox: PaceSandbox) -> PaceSandbox:
        running_sandbox.reset()
        return running_sandbox

    @pytest.fixture
    def legacy(running_legacy: PaceSandbox) -> PaceSandbox:
        running_legacy.reset()
        return running_legacy

    return running_sandbox, running_legacy, sandbox, legacy


def contact_fields(person: Address) -> dict[str, str]:
    """The Pace Contact fields of the person at `person`, as the shop entered them."""
    return {
        "firstName": person.first_name,
        "lastName": person.last_name,
        "email": person.email,
        "businessPhoneNumber": person.phone,
        "address1": person.address1,
        "city": person.city,
        "state": person.state,
        "zip": person.zip,
    }


def pace_account_toml(
    url: str,
    password: str,
    *,
    concurrency: int,
    rate_per_second: float,
    create_customer: bool,
    login: str = "esd",
    site_extra: str = "",
) -> str:
    """The config tables of a Pace account "pace" at `url`, live for the site "shop": to follow
    a config's [daemon] and [listeners] tables. `site_extra`: more keys of [sites.shop]."""
    return textwrap.dedent(
        f"""
        [accounts.pace]
        provider = "pace"
        concurrency = {concurrency}
        rate_per_second = {rate_per_second!r}
        status_poll_seconds = 300
        [accounts.pace.credentials]
        url = "{url}"
        login = "{login}"
        password = "{password}"
        [accounts.pace.settings]
        create_customer = "{"Y" if create_customer else "N"}"
        timezone = "UTC"
        [sites.shop]
        name = "Print Shop"
        @SITE_EXTRA@
        [[sites.shop.activations]]
        account = "pace"
        enable = true
        is_live = true
        """
    ).replace("@SITE_EXTRA@", site_extra)

"""`test-connection` for each environment of an account: the one in use, and the others.

An account may give credentials for a test and a live environment (daemon.config,
`Account.environments`); its running driver holds only the environment in use. The operator
still wants to know, before flipping `environment`, whether the other one would work: it is
checked here with a driver of its own, built for the check and closed after it (it pushes
nothing and feeds no connection health: that is the environment in use's).

Each report is `{"in_use", "configured", "ok", "detail", "server_version"}`; an environment
without credentials is `configured: false` and `ok: null`, "not configured". No report carries
a credential: the driver's detail is its own (scrubbed by the socket's redactor like every
answer, and every environment's secrets are in `Config.secrets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import anyio
import structlog

from daemon.config import Account
from daemon.providers import registry
from daemon.providers.contract import ConnectionReport, Driver

__all__ = [
    "CHECK_TIMEOUT_SECONDS",
    "NOT_CONFIGURED",
    "check_environment",
    "failed",
    "report",
]

log = structlog.get_logger(__name__)

#: the detail of an environment the account gives no credentials for
NOT_CONFIGURED: Final = "not configured"

#: how long one environment's check may take before it counts as failed (the one in use
#: through the running driver too)
CHECK_TIMEOUT_SECONDS: Final = 60.0


def report(in_use: bool, outcome: ConnectionReport | None) -> dict[str, Any]:
    """One environment's entry (`outcome` None: the account has no credentials for it)."""
    if outcome is None:
        return {
            "in_use": in_use,
            "configured": False,
            "ok": None,
            "detail": NOT_CONFIGURED,
            "server_version": "",
        }
    return {
        "in_use": in_use,
        "configured": True,
        "ok": outcome.ok,
        "detail": outcome.detail,
        "server_version": outcome.server_version,
    }


def failed(exc: BaseException) -> ConnectionReport:
    """A check that raised: an answer, not a crash."""
    return ConnectionReport(ok=False, detail=f"{type(exc).__name__}: {exc}")


async def check_environment(
    account: Account, environment: str, site_settings: Mapping[str, Mapping[str, Any]]
) -> ConnectionReport | None:
    """Check `environment` of an account with a driver built for it (None: not configured)."""
    credentials = account.credentials_of(environment)
    if credentials is None:
        return None
    try:
        driver: Driver = registry.driver_class(account.provider)(
            account.name, account.settings, credentials
        )
    except Exception as exc:  # settings or credentials the driver refuses: the answer
        return failed(exc)
    driver.site_settings = site_settings
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            return await driver.test_connection()
    except Exception as exc:
        return failed(exc)
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await driver.aclose()
            except Exception as exc:  # the check's answer stands; the close is only logged
                log.warning(
                    "environment_check.close_failed",
                    account=account.name,
                    environment=environment,
                    error=type(exc).__name__,
                )

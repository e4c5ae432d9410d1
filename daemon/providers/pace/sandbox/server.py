"""`PaceSandbox`: the fake Pace served over HTTP on loopback from a background thread (with
its test hooks: seeding the shop's data, moving a job's status, shipping with tracking), and
`main`, its command line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from daemon.providers.pace.objects import KEY_FIELDS
from daemon.providers.pace.sandbox.app import SandboxApp
from daemon.providers.pace.sandbox.rules import PACE_VERSIONS
from daemon.providers.pace.sandbox.schema import Schema
from daemon.providers.pace.sandbox.store import Store
from daemon.testing.loopback_http import (
    LoopbackSandbox,
    ThreadedServer,
    sandbox_arguments,
    serve_until_signalled,
)

__all__ = ["PaceSandbox", "main"]


class PaceSandbox(LoopbackSandbox):
    """A fake Pace served over HTTP on loopback from a background thread."""

    label = "Pace sandbox"

    def __init__(
        self,
        login: str = "esd",
        password: str = "secret",
        *,
        pace_version: str = "current",
        company: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if company is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", company):
            raise ValueError(f"company: {company!r} must be letters, digits, '_', '.' or '-'")
        self.login = login
        self.pace_version = pace_version
        self.company = company
        self._store = Store(Schema(pace_version), login)
        self._app = SandboxApp(self._store, login, password, company)
        self._streams = self._app.streams
        self._http = ThreadedServer(
            self._app, self._app.transports, host=host, port=port, name="Pace sandbox"
        )

    @property
    def services_url(self) -> str:
        """Where the services are: {url}/rpc/services or {url}/rpc/company:{company}/services."""
        middle = f"/company:{self.company}" if self.company else ""
        return f"{self.url}/rpc{middle}/services"

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change the given fault knobs (see `FAULT_KNOBS`); return all of them."""
        return self._store.set_faults(knobs)

    def state(self) -> dict[str, Any]:
        """A copy of everything: {"objects": {type: [object, ...]}, "faults", "calls",
        "wsdl_fetches"}; objects in key order, calls keyed "CreateObject.createJob"."""
        return {"pace_version": self.pace_version, "company": self.company, **self._store.state()}

    def objects(self, object_type: str) -> list[dict[str, Any]]:
        """A copy of every object of `object_type`, in key order."""
        if object_type not in KEY_FIELDS:
            raise ValueError(f"object_type: {object_type!r} is not one of {', '.join(KEY_FIELDS)}")
        return list(self._store.state()["objects"][object_type])

    def reset(self) -> None:
        """Back to empty: no objects, no faults, no counts."""
        self._store.reset()
        self._streams.clear()

    def seed_customer(self, customer_id: str, cust_name: str, **fields: Any) -> dict[str, Any]:
        """Add a Customer as the print shop would (no faults, not counted); return it."""
        return self._store.seed("Customer", {"id": customer_id, "custName": cust_name, **fields})

    def seed_contact(self, customer: str, **fields: Any) -> dict[str, Any]:
        """Add a Contact of `customer`; its int id is assigned; return it."""
        return self._store.seed("Contact", {"customer": customer, **fields})

    def seed_ship_via(self, id: int, description: str, **fields: Any) -> dict[str, Any]:
        """Add a Ship Via as the shop sets them up (its own int `id`; active unless told
        otherwise); return it. Pace's ShipVia objects are what an Accounts rule `MatchByName`
        finds by `description`."""
        if isinstance(id, bool) or not isinstance(id, int):
            raise ValueError(f"ShipVia.id: must be an int, got {type(id).__name__}")
        return self._store.seed("ShipVia", {"id": id, "description": description, **fields})

    def seed_job_status(self, status: str) -> None:
        """Add a JobStatus id as the shop sets them up: a Job.adminStatus or
        JobPart.productionStatus naming an id the sandbox does not know is refused, as a
        dangling reference (`guesses.DANGLING_REFERENCES_REFUSED`). It starts with
        `guesses.JOB_STATUS_IDS`; `reset` keeps those only."""
        if not isinstance(status, str) or not status:
            raise ValueError("JobStatus.id: must be a non-empty string")
        self._store.seed_job_status(status)

    def set_job_status(self, job: str, status: str) -> dict[str, Any]:
        """Set the Job's adminStatus (JobStatus.id, e.g. "O" open, "C" closed); return the job."""
        return self._store.admin_update("Job", {"job": job}, {"adminStatus": status})

    def add_shipment_tracking(
        self,
        job: str,
        tracking_number: str,
        *,
        job_part: str = "01",
        shipment_id: int | None = None,
        tracking_link: str | None = None,
    ) -> dict[str, Any]:
        """Ship: the job's shipment (given, or the first of `job_part`, or a new one) gets the
        tracking number, `shipped` and its date; its cartons without one get the number too."""
        return self._store.add_tracking(job, tracking_number, job_part, shipment_id, tracking_link)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a sandbox until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    parser = sandbox_arguments(
        "python -m daemon.providers.pace.sandbox", "Run a fake EFI Pace SOAP server on loopback."
    )
    parser.add_argument("--login", default="esd")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--pace-version", choices=PACE_VERSIONS, default="current")
    parser.add_argument("--company", default=None, help="serve under /rpc/company:NAME/services")
    args = parser.parse_args(argv)
    sandbox = PaceSandbox(
        args.login,
        args.password,
        pace_version=args.pace_version,
        company=args.company,
        host=args.host,
        port=args.port,
    )
    serve_until_signalled(sandbox)

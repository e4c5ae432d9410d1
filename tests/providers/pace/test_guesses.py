"""`daemon.providers.pace.guesses`: the client and the sandbox are built from the same notes."""

from __future__ import annotations

import typing

import pytest

from daemon.errors import BusinessRuleError, DriverError, NotFound
from daemon.providers.pace import guesses as g
from daemon.providers.pace.soap_client import fault_error

LABELS = set(typing.get_args(g.Evidence))


def test_every_fault_marker_has_a_label_a_source_and_lower_case_text() -> None:
    markers = g.NOT_FOUND_FAULT_MARKERS + g.BUSINESS_FAULT_MARKERS
    assert {marker.evidence for marker in markers} <= LABELS
    assert all(marker.text == marker.text.lower() and marker.source for marker in markers)
    # pace.md §2: the one SOAP fault text EFI shows.
    documented = [m.text for m in g.BUSINESS_FAULT_MARKERS if m.evidence == "documented"]
    assert documented == ["field is required"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (g.FAULT_FIELD_REQUIRED.format(type="Job", field="customer"), BusinessRuleError),
        (g.FAULT_NOT_FOUND.format(type="Job", key="job=9"), NotFound),
        (g.FAULT_UNKNOWN_FIELD.format(field="colour", type="Job"), BusinessRuleError),
        (g.FAULT_UNSUPPORTED_FUNCTION.format(name="substring"), BusinessRuleError),
        (g.FAULT_UNKNOWN_OBJECT_TYPE.format(type="Jobb"), BusinessRuleError),
        (g.FAULT_INVALID_XPATH.format(problem="empty"), BusinessRuleError),
        (g.FAULT_ALREADY_EXISTS.format(type="Job", key="job=1001"), BusinessRuleError),
        (
            g.FAULT_INVALID_REFERENCE.format(
                type="Job", fields="adminStatus=0", target="JobStatus"
            ),
            BusinessRuleError,
        ),
    ],
)
def test_each_sandbox_fault_wording_is_classified_as_the_client_expects(
    text: str, expected: type[DriverError]
) -> None:
    # A soap:Server fault: only the wording decides, as with a real Pace.
    assert type(fault_error("create job", "soap:Server", text)) is expected


def test_the_default_job_status_is_one_the_sandbox_knows() -> None:
    assert g.DEFAULT_ADMIN_STATUS in g.JOB_STATUS_IDS
    assert g.SEED_ADMIN_STATUS not in g.JOB_STATUS_IDS

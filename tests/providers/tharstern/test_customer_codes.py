"""Customer codes (seed 002: "Correctly assign Tharstern customer codes at storefront and
department level so estimates/orders route under the right Tharstern 'customer'")."""

from __future__ import annotations

import dataclasses

import pytest

from daemon.errors import BusinessRuleError
from daemon.orders.model import SiteUser
from daemon.providers.tharstern.customer_codes import (
    CustomerChoice,
    customer_code_for,
    customer_for_order,
    missing_customer,
)
from daemon.providers.tharstern.settings import parse_settings, parse_site_overrides
from tests.providers.tharstern.samples import (
    FULL_SETTINGS,
    MINIMAL_SETTINGS,
    SITE_SETTINGS,
    item,
    order,
)

ACCOUNT = parse_settings(FULL_SETTINGS)
SITE = ACCOUNT.with_site(parse_site_overrides(SITE_SETTINGS))


@pytest.mark.parametrize(
    ("department", "groups", "expected"),
    [
        # the department's code wins ("Per-department override")
        ("Marketing", (), CustomerChoice("ACME-MKT", "department", "Marketing")),
        (" marketing ", ("Acme Buyers",), CustomerChoice("ACME-MKT", "department", "marketing")),
        ("Sales", (), CustomerChoice("ACME-SALES", "department", "Sales")),  # the site's table
        # then a mapped user group
        ("Unmapped", ("Everyone", "acme buyers"), CustomerChoice("ACME01", "group", "acme buyers")),
        # then the site's code ("Storefront Customer Code is the fallback default")
        ("", ("Everyone",), CustomerChoice("SHOP01", "site")),
    ],
)
def test_site_settings(department: str, groups: tuple[str, ...], expected: CustomerChoice) -> None:
    assert customer_code_for(SITE, department=department, groups=groups) == expected


def test_the_account_code_then_the_products_code() -> None:
    assert customer_code_for(ACCOUNT) == CustomerChoice("WEB002", "site")
    # seed 000: "CustomerCode used for Tharstern products"
    assert customer_code_for(parse_settings(MINIMAL_SETTINGS)) == CustomerChoice(
        "WEB001", "products"
    )


def test_groups_mapped_to_different_customers_are_an_error() -> None:
    settings = parse_settings(
        {**MINIMAL_SETTINGS, "group_codes": {"North": "N01", "South": "S01", "All": "N01"}}
    )
    assert customer_code_for(settings, groups=("North", "All")).code == "N01"
    with pytest.raises(BusinessRuleError, match="map to different Tharstern customers"):
        customer_code_for(settings, groups=("North", "South"))


def test_the_order_buyer_department_and_groups() -> None:
    buyer = SiteUser(email="sam@acme.example", department="Marketing", groups=("Acme Buyers",))
    assert customer_for_order(order(item(1), user=buyer), SITE).code == "ACME-MKT"
    grouped = dataclasses.replace(buyer, department="")
    assert customer_for_order(order(item(1), user=grouped), SITE).code == "ACME01"


def test_a_missing_customer_names_the_code_and_the_setting() -> None:
    # issue 14: "a missing customer is a business error naming the code"; Aleyant: Tharstern
    # cannot create customers through its API
    choice = CustomerChoice("ACME-MKT", "department", "Marketing")
    error = missing_customer(order(item(1)), choice)
    assert isinstance(error, BusinessRuleError)
    assert error.message == (
        "order 1001: Tharstern has no customer 'ACME-MKT' (from department_codes.Marketing); "
        "Tharstern cannot create customers through its API: create it in Tharstern or correct "
        "the setting"
    )
    assert CustomerChoice("X", "products").setting() == "products_customer_code"
    assert CustomerChoice("X", "site").setting() == "customer_code"
    assert CustomerChoice("X", "group", "G").setting() == "group_codes.G"

"""Tharstern account and site settings (seed 000 "Settings", seed 002 connection inputs and
integration behaviours): parsing, defaults, and problems naming their key path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.providers.tharstern.settings import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_DISPATCH_DAYS,
    SiteOverrides,
    TharsternSettings,
    alert_emails,
    parse_settings,
    parse_site_overrides,
    settings_problems,
    site_settings_problems,
)
from tests.providers.tharstern.samples import FULL_SETTINGS, MINIMAL_SETTINGS, SITE_SETTINGS


def test_the_full_account_parses_every_setting() -> None:
    settings = parse_settings(FULL_SETTINGS)
    assert settings.application_id == "esd-acme-shop"
    assert settings.products_customer_code == "WEB001"
    assert settings.customer_code == "WEB002"
    assert dict(settings.department_codes) == {"marketing": "ACME-MKT"}
    assert dict(settings.group_codes) == {"acme buyers": "ACME01"}
    assert [r.product for r in settings.products] == ["BC-STD", "Flyers", "Booklet"]
    assert settings.products[0].stock_item == "BC-STD-100"
    assert settings.products[1].product_type == 12
    assert len(settings.products[1].attributes) == 3
    assert settings.products[1].attributes[2].process is not None
    assert settings.products[1].attributes[2].process.material_code == "MATT-LAM"
    assert [o.op for o in settings.products[1].operations] == ["append_process"]
    assert dict(settings.products[2].variant) == {"Size": "A5"}
    assert settings.products[2].attributes[0].pages == "value"
    assert [o.op for o in settings.operations] == ["copy"]
    assert settings.price_mode == "price_with_tax_and_shipping"
    assert (settings.price_includes_tax, settings.price_includes_shipping) == (False, True)
    assert settings.price_stock_items is False
    assert settings.dispatch_days == 2
    assert settings.holidays == frozenset({dt.date(2024, 12, 25), dt.date(2024, 12, 26)})
    assert settings.dispatch_skips_weekends is True
    assert settings.initial_status == "Web Order"
    assert dict(settings.status_names) == {"40": "In Production", "dispatched": "Despatched"}
    assert settings.final_statuses == frozenset({"despatched", "invoiced", "cancelled"})
    assert (settings.production_ready, settings.submit_to_workflow) == (True, False)
    assert settings.poll_fallback is True
    assert str(settings.webhook_fields.job_no) == "Job.JobNo"
    assert str(settings.webhook_fields.status) == "Status"  # not overridden: the guess
    assert settings.alert_emails == ("ops@print.example",)
    assert settings.timeout_seconds == 20.0
    assert (settings.call_deadline_seconds, settings.max_answer_bytes) == (60.0, 1048576)


def test_the_minimal_account_takes_the_defaults() -> None:
    # Seed 000 needs "CustomerCode used for Tharstern products"; everything else defaults.
    settings = parse_settings(MINIMAL_SETTINGS)
    assert settings == TharsternSettings(products_customer_code="WEB001")
    assert settings.application_id == DEFAULT_APPLICATION_ID
    assert settings.default_customer_code == "WEB001"
    assert settings.price_mode == "none"  # seed 000 "Use Tharstern pricing"
    assert settings.dispatch_days == DEFAULT_DISPATCH_DAYS == 3
    assert settings.stock_from_sku is True  # seed 000 "Item # is mapped to ... product number"
    assert (settings.production_ready, settings.submit_to_workflow) == (True, True)
    assert "despatched" in settings.final_statuses


def test_the_site_overrides_the_account() -> None:
    # Seed 002: "assigning Tharstern customer codes at storefront and department level".
    account = parse_settings(FULL_SETTINGS)
    site = parse_site_overrides(SITE_SETTINGS)
    assert site == SiteOverrides(
        customer_code="SHOP01", department_codes={"sales": "ACME-SALES"}, dispatch_days=5
    )
    merged = account.with_site(site)
    assert merged.default_customer_code == "SHOP01"
    assert dict(merged.department_codes) == {"marketing": "ACME-MKT", "sales": "ACME-SALES"}
    assert merged.dispatch_days == 5
    assert account.with_site(SiteOverrides()) == account


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        # seed 000: "CustomerCode used for Tharstern products" is required
        ({"products_customer_code": ""}, "products_customer_code", "required"),
        ({"products_customer_code": "A\nB"}, "products_customer_code", "line breaks"),
        ({"pasword": "x"}, "pasword", "unknown setting (known: application_id"),
        ({"password": "hunter2-secret"}, "password", "belongs in the account's credentials"),
        ({"email": "api@print.example"}, "email", "belongs in the account's credentials"),
        ({"customer_code": ["A"]}, "customer_code", "must be a string"),
        ({"department_codes": "Marketing=A"}, "department_codes", "expected a table"),
        ({"department_codes": {"Marketing": ""}}, "department_codes.Marketing", "customer code"),
        (
            {"department_codes": {"Sales": "A", "sales ": "B"}},
            "department_codes.sales ",
            "names ignore case",
        ),
        ({"group_codes": {"Buyers": 5}}, "group_codes.Buyers", "customer code"),
        # seed 002: "how/when price is sent"
        ({"price_mode": "always"}, "price_mode", "none, item_price, price_with_tax_and_shipping"),
        ({"price_includes_tax": "maybe"}, "price_includes_tax", "true or false"),
        ({"price_stock_items": 1}, "price_stock_items", "true or false"),
        # seed 002: "delivery/dispatch date rules"
        ({"dispatch_days": -1}, "dispatch_days", "from 0 to 3650"),
        ({"dispatch_days": "three"}, "dispatch_days", "whole number"),
        ({"holidays": "2024-02-30"}, "holidays", "is not a date"),
        ({"holidays": ["2024-12-25", "soon"]}, "holidays[1]", "is not a date"),
        ({"initial_status": 4.5}, "initial_status", "must be a string"),
        ({"status_names": {"40": ""}}, "status_names.40", "status name"),
        ({"final_statuses": "Despatched"}, "final_statuses", "list of status names"),
        ({"final_statuses": ["Despatched", 3]}, "final_statuses[1]", "status name"),
        ({"production_ready": "sometimes"}, "production_ready", "true or false"),
        ({"poll_fallback": "sometimes"}, "poll_fallback", "must be Y or N"),
        ({"poll_fallback_seconds": 0}, "poll_fallback_seconds", "unknown setting"),
        ({"webhook_fields": {"job": "JobNo"}}, "webhook_fields.job", "unknown field"),
        ({"webhook_fields": {"status": "Job..Status"}}, "webhook_fields.status", "step"),
        ({"alert_emails": "ops@"}, "alert_emails", "not a valid e-mail address"),
        ({"timeout_seconds": 0}, "timeout_seconds", "greater than 0"),
        ({"call_deadline_seconds": -1}, "call_deadline_seconds", "greater than 0"),
        ({"max_answer_bytes": 0}, "max_answer_bytes", "1 or more"),
        ({"products": {"product": "x"}}, "products", "array of tables"),
        ({"products": [{"product": "Flyers"}]}, "products[0]", "stock_item"),
        (
            {"products": [{"product": "F", "stock_item": "S", "product_type": 3}]},
            "products[0]",
            "not both",
        ),
        ({"operations": [{"op": "move", "path": "A"}]}, "operations[0].op", "set, copy"),
    ],
)
def test_each_problem_names_its_key_path(changes: dict[str, Any], key: str, words: str) -> None:
    problems = settings_problems({**MINIMAL_SETTINGS, **changes})
    assert any(k == key and words in m for k, m in problems), problems


def test_a_secret_value_is_never_quoted() -> None:
    secret = "pw-9f2c-never-in-a-message"
    problems = settings_problems({**MINIMAL_SETTINGS, "password": secret, "token": secret})
    assert [k for k, _ in problems] == ["password", "token"]
    assert all(secret not in message for _, message in problems)


def test_parse_settings_raises_a_config_error_naming_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"price_mode": "x", "dispatch_days": 99999})
    keys = [p.key for p in caught.value.problems]
    assert keys == [
        "settings.products_customer_code",
        "settings.price_mode",
        "settings.dispatch_days",
    ]


def test_a_settings_value_that_is_not_a_table() -> None:
    assert settings_problems([]) == [("", "expected a table of settings, got list")]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"promise_days": 3}, "promise_days", "unknown setting (known: customer_code"),
        ({"customer_code": 5.5}, "customer_code", "must be a string"),
        ({"dispatch_days": 4000}, "dispatch_days", "from 0 to 3650"),
        ({"group_codes": {"": "A"}}, "group_codes.", "an empty name"),
    ],
)
def test_site_problems_name_their_key(settings: dict[str, Any], key: str, words: str) -> None:
    problems = site_settings_problems(settings)
    assert any(k == key and words in m for k, m in problems), problems
    with pytest.raises(ConfigError):
        parse_site_overrides(settings)


def test_numbers_as_text_and_blank_values_as_the_admin_form_stores_them() -> None:
    settings = parse_settings(
        {**MINIMAL_SETTINGS, "dispatch_days": "5", "customer_code": "", "price_mode": ""}
    )
    assert (settings.dispatch_days, settings.customer_code, settings.price_mode) == (5, "", "none")
    assert parse_settings({**MINIMAL_SETTINGS, "poll_fallback": False}).poll_fallback is False


def test_alert_emails_for_the_manifest() -> None:
    assert alert_emails({"alert_emails": "a@x.example; b@y.example"}) == (
        "a@x.example",
        "b@y.example",
    )
    assert alert_emails({"alert_emails": "not-an-address"}) == ()

"""Pace account and site parameters (seed 004 "Integration Parameters"): parsing and checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.providers.pace.account_rules import RuleType
from daemon.providers.pace.settings import (
    DEFAULT_JOB_DESCRIPTION,
    PaceSettings,
    SiteOverrides,
    description_template_problems,
    parse_settings,
    parse_site_overrides,
    render_description,
    settings_problems,
    site_overrides_problems,
)

URL = "https://pace.example.com"

# Every seed parameter, written the way the Pressero admin form stores them (text).
SEED_SETTINGS: dict[str, Any] = {
    "url": "http://paceinstance.com",
    "alert_emails": "ops@printshop.example; it@printshop.example",
    "create_customer": "Y",
    "csr": "4",
    "sales_person": "12",
    "sales_category": "3",
    "sales_tax": "NY",
    "taxable_code": "1",
    "holidays": "2021-10-28|2022-07-18",
    "promise_days": "",
    "job_type": "",
    "job_description": "",
    "enable_carton_contents": "N",
    "accounts": '[{"rule_type":"DefaultMapping","priority":50,"ship_via":"2","account":"XXX123"}]',
    "site_mapping": '[{"siteName":"DefaultSiteConfiguration","adminStatus":"O"}]',
}


def test_the_seed_parameters_parse_with_the_seed_defaults() -> None:
    settings = parse_settings(SEED_SETTINGS)
    assert settings.url == "http://paceinstance.com"
    assert settings.alert_emails == ("ops@printshop.example", "it@printshop.example")
    assert settings.create_customer is True
    assert settings.create_contacts_always is True
    assert (settings.csr, settings.sales_person, settings.sales_category) == (4, 12, 3)
    assert (settings.sales_tax, settings.taxable_code) == ("NY", 1)
    assert settings.holidays == frozenset({dt.date(2021, 10, 28), dt.date(2022, 7, 18)})
    # left blank: "the system will default to 3", "1 (Printing) is used", '{OrderNumber}-{SiteName}'
    assert settings.promise_days == 3
    assert settings.job_type == 1
    assert settings.job_description == "{OrderNumber}-{SiteName}" == DEFAULT_JOB_DESCRIPTION
    assert settings.enable_carton_contents is False
    assert [(r.rule_type, r.ship_via, r.account) for r in settings.accounts] == [
        (RuleType.DEFAULT, "2", "XXX123")
    ]
    assert settings.site_mapping[0].admin_status == "O"
    assert settings_problems(SEED_SETTINGS) == []


def test_only_the_url_is_required() -> None:
    assert parse_settings({"url": URL}) == PaceSettings(url=URL)
    defaults = PaceSettings(url=URL)
    assert defaults.create_customer is False
    assert defaults.date_fields == "auto"
    assert (defaults.company, defaults.timezone, defaults.zone()) == ("", "", None)
    assert defaults.timeout_seconds == 30.0


@pytest.mark.parametrize(
    ("settings", "field", "expected"),
    [
        ({"create_customer": True}, "create_customer", True),
        ({"create_customer": "yes"}, "create_customer", True),
        ({"create_customer": "n"}, "create_customer", False),
        ({"create_customer": "False"}, "create_customer", False),
        ({"create_customer": ""}, "create_customer", False),
        ({"enable_carton_contents": "y"}, "enable_carton_contents", True),
        ({"enable_carton_contents": True}, "enable_carton_contents", True),
        ({"create_contacts_always": False}, "create_contacts_always", False),
        ({"promise_days": 0}, "promise_days", 0),
        ({"promise_days": " 7 "}, "promise_days", 7),
        ({}, "promise_skips_weekends", False),
        ({"promise_skips_weekends": "Y"}, "promise_skips_weekends", True),
        ({"job_type": 5}, "job_type", 5),
        ({"job_type": "12"}, "job_type", 12),
        ({"csr": 0}, "csr", 0),
        ({"sales_tax": 7}, "sales_tax", "7"),
        ({"default_mis_id": " WEB001 "}, "default_mis_id", "WEB001"),
        (
            {"job_description": "Web {ordernumber} / { SiteName }"},
            "job_description",
            "Web {ordernumber} / { SiteName }",
        ),
        ({"alert_emails": ["a@b.co", " c@d.org "]}, "alert_emails", ("a@b.co", "c@d.org")),
        ({"alert_emails": "a@b.co;;"}, "alert_emails", ("a@b.co",)),
        ({"alert_emails": ""}, "alert_emails", ()),
        (
            {"holidays": [dt.date(2024, 12, 25), "2024-12-26"]},
            "holidays",
            frozenset({dt.date(2024, 12, 25), dt.date(2024, 12, 26)}),
        ),
        ({"holidays": "2024-12-25|"}, "holidays", frozenset({dt.date(2024, 12, 25)})),
        ({"holidays": ""}, "holidays", frozenset()),
        ({"date_fields": "split"}, "date_fields", "split"),
        ({"date_fields": "combined"}, "date_fields", "combined"),
        ({"date_fields": ""}, "date_fields", "auto"),
        ({"company": " sample "}, "company", "sample"),
        ({"timezone": "America/Chicago"}, "timezone", "America/Chicago"),
        ({"timeout_seconds": 5}, "timeout_seconds", 5.0),
        ({"url": "https://pace.example.com/"}, "url", "https://pace.example.com"),
        ({"url": " http://10.0.0.5:8080 "}, "url", "http://10.0.0.5:8080"),
        ({"url": "http://[::1]:8080/"}, "url", "http://[::1]:8080"),
        ({"accounts": []}, "accounts", ()),
        ({"site_mapping": ""}, "site_mapping", ()),
    ],
)
def test_each_setting_parses(settings: dict[str, Any], field: str, expected: object) -> None:
    parsed = parse_settings({"url": URL, **settings})
    assert getattr(parsed, field) == expected


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        ({"url": None}, "url", "required: the EFI Pace URL"),
        ({"url": ""}, "url", "required"),
        ({"url": 5}, "url", "must be a string"),
        ({"url": "paceinstance.com"}, "url", "must start with http:// or https://"),
        ({"url": "ftp://pace.example.com"}, "url", "must start with http:// or https://"),
        ({"url": "https://pace.example.com/rpc/services"}, "url", "only the root is needed"),
        ({"url": "https://pace.example.com/?company=x"}, "url", "only the root is needed"),
        ({"url": "https://pace.example.com:99999"}, "url", "is not a URL"),
        (
            {"alert_emails": "ops@printshop.example;bob@"},
            "alert_emails",
            "'bob@' is not a valid e-mail address",
        ),
        ({"alert_emails": "a@b.co, c@d.co"}, "alert_emails", "is not a valid e-mail address"),
        ({"alert_emails": ["a@b.co", 3]}, "alert_emails[1]", "must be an e-mail address"),
        ({"alert_emails": 3}, "alert_emails", "separated by ';'"),
        ({"create_customer": "maybe"}, "create_customer", "must be Y or N"),
        ({"create_customer": 1}, "create_customer", "must be Y or N"),
        ({"enable_carton_contents": "on"}, "enable_carton_contents", "must be Y or N"),
        ({"csr": "Ann"}, "csr", "must be a whole number, got 'Ann'"),
        ({"sales_person": 1.5}, "sales_person", "must be a whole number"),
        ({"sales_category": True}, "sales_category", "must be a whole number"),
        ({"taxable_code": -1}, "taxable_code", "must be at least 0"),
        ({"sales_tax": ["NY"]}, "sales_tax", "must be a string"),
        (
            {"holidays": "2021-10-28|2021-13-01"},
            "holidays",
            "'2021-13-01' is not a date (YYYY-MM-DD)",
        ),
        ({"holidays": "2021-10-28|28/10/2021"}, "holidays", "'28/10/2021' is not a date"),
        ({"holidays": ["2021-10-28", "tomorrow"]}, "holidays[1]", "'tomorrow' is not a date"),
        ({"holidays": [dt.datetime(2024, 1, 1, 9, 0)]}, "holidays[0]", "is a date-time"),
        ({"holidays": 20211028}, "holidays", "separated by '|'"),
        ({"promise_days": -1}, "promise_days", "must be from 0 to 3650, got -1"),
        ({"promise_days": "3 days"}, "promise_days", "must be a whole number"),
        ({"job_type": 0}, "job_type", "must be at least 1, got 0"),
        (
            {"job_description": "{OrderNumber}-{Site}"},
            "job_description",
            "unknown template variable '{Site}' (known: {OrderNumber}, {SiteName})",
        ),
        ({"job_description": "{}"}, "job_description", "unknown template variable '{}'"),
        ({"accounts": "[{"}, "accounts", "not valid JSON"),
        (
            {"accounts": '[{"rule_type":"DefaultMapping","ship_via":"1"},{"rule_type":"Bogus"}]'},
            "accounts[1].rule_type",
            "unknown rule_type 'Bogus' in rule 1",
        ),
        ({"site_mapping": "nope"}, "site_mapping", "not valid JSON"),
        (
            {"site_mapping": [{"siteName": "A", "includeTaxAndShipping": "x"}]},
            "site_mapping[0].includeTaxAndShipping",
            "must be true or false",
        ),
        ({"date_fields": "old"}, "date_fields", "must be one of auto, combined, split"),
        ({"company": "a/b"}, "company", "a Pace company name has no '/'"),
        ({"company": "my co"}, "company", "a Pace company name has no"),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not a time zone name"),
        ({"timezone": "../etc"}, "timezone", "is not a time zone name"),
        ({"timeout_seconds": 0}, "timeout_seconds", "greater than 0"),
        ({"timeout_seconds": float("inf")}, "timeout_seconds", "greater than 0"),
        ({"customer": "X"}, "customer", "unknown setting (known: url, alert_emails"),
        ({"integration_id": "X"}, "integration_id", "unknown setting"),
    ],
)
def test_each_problem_names_its_key(settings: dict[str, Any], key: str, message: str) -> None:
    problems = settings_problems({"url": URL, **settings})
    assert [k for k, _ in problems] == [key]
    assert message in problems[0][1]


@pytest.mark.parametrize("key", ["login", "password", "Password", "username"])
def test_secrets_in_settings_are_refused_without_quoting_them(key: str) -> None:
    problems = settings_problems({"url": URL, key: "hunter2-secret"})
    assert problems == [(key, "a secret belongs in the account's credentials, not in its settings")]


def test_a_url_with_credentials_is_refused_without_quoting_it() -> None:
    problems = settings_problems({"url": "https://api:hunter2@pace.example.com"})
    assert problems == [("url", "must not carry a login or password; put them in credentials")]
    assert "hunter2" not in repr(problems)


def test_every_problem_is_reported_at_once() -> None:
    problems = settings_problems(
        {"url": "x", "csr": "a", "holidays": "2021-02-30", "accounts": "{", "bogus": 1}
    )
    assert [k for k, _ in problems] == ["bogus", "url", "csr", "holidays", "accounts"]


def test_settings_that_are_not_a_table() -> None:
    assert settings_problems(["url"]) == [("", "expected a table of settings, got list")]  # type: ignore[arg-type]


def test_parse_settings_raises_a_config_error_with_key_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"url": URL, "accounts": '[{"rule_type":"X"}]', "promise_days": "x"})
    keys = [problem.key for problem in caught.value.problems]
    assert keys == ["settings.promise_days", "settings.accounts[0].rule_type"]
    assert "unknown rule_type 'X' in rule 0" in str(caught.value)


@pytest.mark.parametrize(
    ("template", "problems"),
    [
        ("{OrderNumber}-{SiteName}", []),
        ("{ordernumber} {SITENAME}", []),
        ("Order { OrderNumber }", []),
        ("no variables at all", []),
        ("a lone { brace", []),
        ("a lone } brace", []),
        ("} backwards {", []),
        (
            "{ brace and }",
            ["unknown template variable '{ brace and }' (known: {OrderNumber}, {SiteName})"],
        ),
        (
            "{OrderNumber}-{Customer}-{PO}",
            [
                "unknown template variable '{Customer}' (known: {OrderNumber}, {SiteName})",
                "unknown template variable '{PO}' (known: {OrderNumber}, {SiteName})",
            ],
        ),
    ],
)
def test_description_template_problems(template: str, problems: list[str]) -> None:
    assert description_template_problems(template) == problems


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{OrderNumber}-{SiteName}", "1001-Acme Store"),
        ("Web order {ordernumber} ({ SiteName })", "Web order 1001 (Acme Store)"),
        ("{SiteName}{SiteName}", "Acme StoreAcme Store"),
        ("a lone { brace", "a lone { brace"),
    ],
)
def test_render_description(template: str, expected: str) -> None:
    assert render_description(template, order_number="1001", site_name="Acme Store") == expected


def test_render_refuses_an_unknown_variable() -> None:
    with pytest.raises(ValueError, match=r"unknown template variable '\{Nope\}'"):
        render_description("{Nope}", order_number="1", site_name="s")


# -- site-level overrides -----------------------------------------------------------------------


def test_site_overrides_parse() -> None:
    assert parse_site_overrides(
        {
            "promise_days": "5",
            "job_type": 7,
            "job_description": "{SiteName}: {OrderNumber}",
            "integration_id": " CUST1 ",
            "default_mis_id": "WEB9",
        }
    ) == SiteOverrides(5, 7, "{SiteName}: {OrderNumber}", "CUST1", "WEB9")
    assert parse_site_overrides({}) == SiteOverrides()
    assert parse_site_overrides({"promise_days": "", "job_description": ""}) == SiteOverrides()


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"promise_days": -2}, "promise_days", "must be from 0 to 3650"),
        ({"job_type": "printing"}, "job_type", "must be a whole number"),
        ({"job_description": "{Order}"}, "job_description", "unknown template variable '{Order}'"),
        ({"integration_id": ["A"]}, "integration_id", "must be a string"),
        ({"accounts": "[]"}, "accounts", "unknown setting (known: promise_days, job_type"),
        ({"password": "x"}, "password", "a secret belongs in the account's credentials"),
    ],
)
def test_site_override_problems(overrides: dict[str, Any], key: str, message: str) -> None:
    problems = site_overrides_problems(overrides)
    assert [k for k, _ in problems] == [key]
    assert message in problems[0][1]
    with pytest.raises(ConfigError):
        parse_site_overrides(overrides)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            SiteOverrides(),
            {
                "promise_days": 4,
                "job_type": 2,
                "job_description": "A {OrderNumber}",
                "default_mis_id": "ACCT",
                "site_integration_id": "",
            },
        ),
        (
            SiteOverrides(
                promise_days=0,
                job_type=9,
                job_description="{SiteName}",
                integration_id="SITE1",
                default_mis_id="SITEMIS",
            ),
            {
                "promise_days": 0,
                "job_type": 9,
                "job_description": "{SiteName}",
                "default_mis_id": "SITEMIS",
                "site_integration_id": "SITE1",
            },
        ),
    ],
)
def test_site_level_beats_account_level(
    overrides: SiteOverrides, expected: dict[str, object]
) -> None:
    account = PaceSettings(
        url=URL,
        promise_days=4,
        job_type=2,
        job_description="A {OrderNumber}",
        default_mis_id="ACCT",
    )
    effective = account.with_site(overrides)
    assert {k: getattr(effective, k) for k in expected} == expected
    # nothing else changes
    assert dataclasses.replace(effective, **{k: getattr(account, k) for k in expected}) == account


def test_the_timezone_setting_gives_the_clients_tzinfo() -> None:
    zone = parse_settings({"url": URL, "timezone": "America/Chicago"}).zone()
    assert zone is not None
    assert dt.datetime(2024, 1, 15, 12, 0, tzinfo=zone).utcoffset() == dt.timedelta(hours=-6)

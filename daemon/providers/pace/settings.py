"""The EFI Pace account and site parameters (seed 004, "Integration Parameters"), checked.

Account settings live in `[accounts.NAME.settings]` of esd.toml; the login and the password
are secrets and belong in `[accounts.NAME.credentials]`, never here (a `login` or `password`
key in settings is a problem, and its value is never quoted). The url goes in the credentials
too, as for every provider: the driver (`daemon.providers.pace.driver`) refuses it in settings
and hands it to `parse_settings` from the credentials, so this parser still reads and checks it
as the `url` key below. Keys, with the seed's parameter name next to each:

    key                      seed parameter                    type / default
    url                      EFI Pace URL                      "http(s)://host[:port]", required;
                                                               the root only, no path
    alert_emails             Alert emails                      "a@x.com;b@y.com" (or a list); ""
    create_customer          Create Customer                   "Y"/"N" or true/false; N
    create_contacts_always   (the Create Customer note "new    true/false; true
                             contacts will be created anyway")
    csr                      Customer Service Representative   Pace CSR id (int); unset
    sales_person             Sales Person                      Pace SalesPerson id (int); unset
    sales_category           Sales Category                    Pace SalesCategory id (int); unset
    sales_tax                Sales Tax                         Pace SalesTax id (text); unset
    taxable_code             Taxable Code                      Pace taxable code (int); unset
    holidays                 List of custom holidays           "2021-10-28|2022-07-18" (or a list
                                                               of dates); none
    promise_days             Promise Date                      calendar days, 0..3650; 3
    promise_skips_weekends   (not in the seed: its days are    "Y"/"N" or true/false; N
                             calendar days)                    (Y: a promise on a Saturday or
                                                               Sunday moves to Monday)
    job_type                 Job Type                          Pace JobType id (int >= 1); 1
    job_description          Job Description                   template; "{OrderNumber}-{SiteName}"
    enable_carton_contents   Enable Carton Contents            "Y"/"N" or true/false; N
    accounts                 Accounts                          JSON text or array of tables
                                                               (see `account_rules`); none
    site_mapping             Site Mapping Details              JSON text or array of tables
                                                               (see `site_rules`); none
    default_mis_id           Default MisID                     Pace Customer id; "" (a site's
                                                               own value overrides it)
    date_fields              (Pace version; not in the seed)   "auto" (the driver asks the WSDL),
                                                               "combined" (dateTimeSetup,
                                                               promiseDateTime, ...) or "split"
                                                               (dateSetup, promiseDate, ...);
                                                               "auto"
    company                  (not in the seed)                 multi-company Pace: the company
                                                               (/rpc/company:NAME/...); ""
    timezone                 (not in the seed)                 the shop's IANA zone for Pace
                                                               dates, e.g. "America/Chicago";
                                                               "" (the system's)
    timeout_seconds          (not in the seed)                 per-call timeout for the SOAP
                                                               client, > 0; 30
    call_deadline_seconds    (not in the seed)                 overall deadline of one SOAP call
                                                               or WSDL load, > 0; 120
    max_answer_bytes         (not in the seed)                 largest SOAP answer read, >= 1;
                                                               67108864 (64 MiB)
    max_wsdl_bytes           (not in the seed)                 largest WSDL or XSD read, >= 1;
                                                               10485760 (10 MiB)

Site-level overrides live in a site activation's `settings` (`[sites.K.activations.settings]`):

    key                      seed parameter (site level)       type
    promise_days             Promise Date                      as above
    job_type                 Job Type                          as above
    job_description          Job Description                   as above
    integration_id           Integration ID (the storefront's) Pace Customer id
    default_mis_id           Default MisID                     Pace Customer id

Decisions where the seed is silent:

- Pressero's admin form leaves fields blank: an empty string means "not set" (the default).
- Numbers may be written as numbers or as digit strings ("5"), as the Pressero form stores them.
- `create_customer` defaults to N: a typo in a customer id should alert, not invent a customer.
- The seed both says "new contacts will be created anyway" (Create Customer) and "if contact is
  not found and Create Customer is No, raise an error" (contact identification). Both are kept:
  with `create_contacts_always = true` (default) missing contacts are created whatever Create
  Customer says; with `false` they are created only when Create Customer is Y, else the order
  fails with the seed's error.
- Job Description variables are `{OrderNumber}` and `{SiteName}`, matched case-insensitively;
  any other `{...}` is an error naming it; a lone brace is literal text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from daemon.errors import ConfigError, ConfigProblem, cut, quoted
from daemon.providers.kit.settings_reader import Problems, SettingsReader, table_problem
from daemon.providers.pace.account_rules import AccountRule, parse_account_rules
from daemon.providers.pace.site_rules import SiteRule, parse_site_rules
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_WSDL_BYTES,
    CallLimits,
    limits_problems,
)

__all__ = [
    "DEFAULT_JOB_DESCRIPTION",
    "DEFAULT_JOB_TYPE",
    "DEFAULT_PROMISE_DAYS",
    "DEFAULT_TIMEOUT_SECONDS",
    "DESCRIPTION_VARIABLES",
    "MAX_PROMISE_DAYS",
    "DateFieldsSetting",
    "DateStyle",
    "PaceSettings",
    "SiteOverrides",
    "description_template_problems",
    "parse_settings",
    "parse_site_overrides",
    "render_description",
    "settings_problems",
    "site_overrides_problems",
]

DEFAULT_PROMISE_DAYS: Final = 3
MAX_PROMISE_DAYS: Final = 3650
DEFAULT_JOB_TYPE: Final = 1  # Printing
DEFAULT_JOB_DESCRIPTION: Final = "{OrderNumber}-{SiteName}"
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
#: the Job Description template's variables
DESCRIPTION_VARIABLES: Final = ("OrderNumber", "SiteName")

#: which date properties a Pace version has (see job_mapping.DateFieldNames)
DateStyle = Literal["combined", "split"]
#: the `date_fields` setting: a style, or "auto" (the driver reads it from the server's WSDL)
DateFieldsSetting = Literal["auto", "combined", "split"]
_DATE_FIELDS: Final[tuple[DateFieldsSetting, ...]] = ("auto", "combined", "split")
_COMPANY: Final = re.compile(r"[^/?#\s]+")

_ACCOUNT_KEYS: Final = (
    "url",
    "alert_emails",
    "create_customer",
    "create_contacts_always",
    "csr",
    "sales_person",
    "sales_category",
    "sales_tax",
    "taxable_code",
    "holidays",
    "promise_days",
    "promise_skips_weekends",
    "job_type",
    "job_description",
    "enable_carton_contents",
    "accounts",
    "site_mapping",
    "default_mis_id",
    "date_fields",
    "company",
    "timezone",
    "timeout_seconds",
    "call_deadline_seconds",
    "max_answer_bytes",
    "max_wsdl_bytes",
)
_SITE_KEYS: Final = (
    "promise_days",
    "job_type",
    "job_description",
    "integration_id",
    "default_mis_id",
)

_TEMPLATE_VARIABLE: Final = re.compile(r"\{([^{}]*)\}")


@dataclasses.dataclass(frozen=True, slots=True)
class SiteOverrides:
    """A site activation's own values; None / "" where the site does not override."""

    promise_days: int | None = None
    job_type: int | None = None
    job_description: str | None = None
    integration_id: str = ""
    default_mis_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class PaceSettings:
    """One Pace account's parameters, validated (see the module docstring for each key)."""

    url: str
    alert_emails: tuple[str, ...] = ()
    create_customer: bool = False
    create_contacts_always: bool = True
    csr: int | None = None
    sales_person: int | None = None
    sales_category: int | None = None
    sales_tax: str = ""
    taxable_code: int | None = None
    holidays: frozenset[dt.date] = frozenset()
    promise_days: int = DEFAULT_PROMISE_DAYS
    promise_skips_weekends: bool = False
    job_type: int = DEFAULT_JOB_TYPE
    job_description: str = DEFAULT_JOB_DESCRIPTION
    enable_carton_contents: bool = False
    accounts: tuple[AccountRule, ...] = ()
    site_mapping: tuple[SiteRule, ...] = ()
    default_mis_id: str = ""
    date_fields: DateFieldsSetting = "auto"
    company: str = ""
    timezone: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    max_wsdl_bytes: int = DEFAULT_MAX_WSDL_BYTES
    # set only through `with_site`: the site's own Integration ID (a Pace Customer id)
    site_integration_id: str = ""

    def with_site(self, site: SiteOverrides) -> PaceSettings:
        """These settings with one site's overrides applied (site level beats account level)."""
        return dataclasses.replace(
            self,
            promise_days=self.promise_days if site.promise_days is None else site.promise_days,
            job_type=self.job_type if site.job_type is None else site.job_type,
            job_description=(
                self.job_description if site.job_description is None else site.job_description
            ),
            default_mis_id=site.default_mis_id or self.default_mis_id,
            site_integration_id=site.integration_id,
        )

    def zone(self) -> zoneinfo.ZoneInfo | None:
        """The `timezone` setting as a tzinfo for the SOAP client; None: the system's."""
        return zoneinfo.ZoneInfo(self.timezone) if self.timezone else None


def settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with an account's Pace settings, as (key path, message) pairs."""
    return _read_account(settings)[1]


def parse_settings(settings: Mapping[str, Any]) -> PaceSettings:
    """The account's settings as `PaceSettings`; `ConfigError` naming every problem."""
    parsed, problems = _read_account(settings)
    if problems or parsed is None:
        raise ConfigError(_config_problems(problems))
    return parsed


def site_overrides_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with a site activation's Pace settings, as (key path, message) pairs."""
    return _read_site(settings)[1]


def parse_site_overrides(settings: Mapping[str, Any]) -> SiteOverrides:
    """A site activation's overrides; `ConfigError` naming every problem."""
    parsed, problems = _read_site(settings)
    if problems:
        raise ConfigError(_config_problems(problems))
    return parsed


def description_template_problems(template: str) -> list[str]:
    """What is wrong with a Job Description template: each unknown `{variable}`, named."""
    problems: list[str] = []
    known = ", ".join("{" + name + "}" for name in DESCRIPTION_VARIABLES)
    for match in _TEMPLATE_VARIABLE.finditer(template):
        if _variable(match.group(1)) is None:
            problems.append(f"unknown template variable {quoted(match.group(0))} (known: {known})")
    return problems


def render_description(template: str, *, order_number: str, site_name: str) -> str:
    """The Job Description: `template` with {OrderNumber} and {SiteName} replaced."""
    values = {"OrderNumber": order_number, "SiteName": site_name}

    def substitute(match: re.Match[str]) -> str:
        name = _variable(match.group(1))
        if name is None:
            raise ValueError(f"unknown template variable {quoted(match.group(0))}")
        return values[name]

    return _TEMPLATE_VARIABLE.sub(substitute, template)


# -- reading ------------------------------------------------------------------------------------


def _read_account(settings: Mapping[str, Any]) -> tuple[PaceSettings | None, Problems]:
    if not isinstance(settings, Mapping):
        return None, table_problem(settings)
    read = SettingsReader(settings)
    read.unknown_keys(_ACCOUNT_KEYS)
    problems = read.problems

    url = _url(settings.get("url"), problems)
    emails = read.emails("alert_emails")
    create_customer = read.flag("create_customer", False)
    create_contacts = read.flag("create_contacts_always", True)
    carton_contents = read.flag("enable_carton_contents", False)
    skip_weekends = read.flag("promise_skips_weekends", False)
    ids = {
        key: read.optional_int(key, minimum=0)
        for key in ("csr", "sales_person", "sales_category", "taxable_code")
    }
    sales_tax = read.text("sales_tax")
    holidays = read.dates("holidays")
    promise_days = read.integer("promise_days", DEFAULT_PROMISE_DAYS, 0, MAX_PROMISE_DAYS)
    job_type = read.integer("job_type", DEFAULT_JOB_TYPE, minimum=1)
    description = _description(read)
    accounts, account_problems = parse_account_rules(settings.get("accounts", []), "accounts")
    problems += account_problems
    site_mapping, site_problems = parse_site_rules(settings.get("site_mapping", []), "site_mapping")
    problems += site_problems
    default_mis_id = read.text("default_mis_id")
    date_fields = read.choice("date_fields", _DATE_FIELDS, "auto")
    company = _company(read)
    timezone = read.timezone("timezone")
    timeout = read.seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    limit_problems = limits_problems(settings)
    problems += limit_problems
    limits = CallLimits() if limit_problems else CallLimits.of(settings)
    max_wsdl = settings.get("max_wsdl_bytes", DEFAULT_MAX_WSDL_BYTES)
    if isinstance(max_wsdl, bool) or not isinstance(max_wsdl, int) or max_wsdl < 1:
        problems.append(("max_wsdl_bytes", "must be an integer number of bytes, 1 or more"))

    if problems or url is None:
        return None, problems
    return (
        PaceSettings(
            url=url,
            alert_emails=emails,
            create_customer=create_customer,
            create_contacts_always=create_contacts,
            csr=ids["csr"],
            sales_person=ids["sales_person"],
            sales_category=ids["sales_category"],
            sales_tax=sales_tax,
            taxable_code=ids["taxable_code"],
            holidays=holidays,
            promise_days=promise_days,
            promise_skips_weekends=skip_weekends,
            job_type=job_type,
            job_description=description or DEFAULT_JOB_DESCRIPTION,
            enable_carton_contents=carton_contents,
            accounts=accounts,
            site_mapping=site_mapping,
            default_mis_id=default_mis_id,
            date_fields=date_fields,
            company=company,
            timezone=timezone,
            timeout_seconds=timeout,
            call_deadline_seconds=limits.deadline_seconds,
            max_answer_bytes=limits.max_answer_bytes,
            max_wsdl_bytes=max_wsdl,
        ),
        [],
    )


def _read_site(settings: Mapping[str, Any]) -> tuple[SiteOverrides, Problems]:
    if not isinstance(settings, Mapping):
        return SiteOverrides(), table_problem(settings)
    read = SettingsReader(settings)
    read.unknown_keys(_SITE_KEYS)
    promise_days = read.optional_int("promise_days", 0, MAX_PROMISE_DAYS)
    job_type = read.optional_int("job_type", minimum=1)
    description = _description(read)
    return (
        SiteOverrides(
            promise_days=promise_days,
            job_type=job_type,
            job_description=description or None,
            integration_id=read.text("integration_id"),
            default_mis_id=read.text("default_mis_id"),
        ),
        read.problems,
    )


def _url(value: object, problems: Problems) -> str | None:
    if value is None or value == "":
        problems.append(("url", "required: the EFI Pace URL, e.g. https://pace.example.com"))
        return None
    if not isinstance(value, str):
        problems.append(("url", "must be a string such as https://pace.example.com"))
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        problems.append(("url", "is not a URL; expected e.g. https://pace.example.com"))
        return None
    if parts.username is not None or parts.password is not None:
        # Never quote it: it carries a user name or password.
        problems.append(("url", "must not carry a login or password; put them in credentials"))
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not quoted: the url is a credential, and a config message would show it as <secret>.
        problems.append(
            ("url", "must start with http:// or https:// and a host, e.g. https://pace.example.com")
        )
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        problems.append(
            (
                "url",
                f"{quoted(text)}: only the root is needed "
                f"(e.g. {parts.scheme}://{cut(parts.netloc)}); "
                "esd adds /rpc/services/... itself",
            )
        )
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def alert_email_addresses(value: object, problems: Problems) -> tuple[str, ...]:
    """The valid addresses of an `alert_emails` value (problems go to `problems`)."""
    read = SettingsReader({"alert_emails": value})
    emails = read.emails("alert_emails")
    problems += read.problems
    return emails


def _description(read: SettingsReader) -> str:
    template = read.text("job_description")
    for message in description_template_problems(template):
        read.problem("job_description", message)
    return template


def _company(read: SettingsReader) -> str:
    company = read.text("company")
    if company and not _COMPANY.fullmatch(company):
        read.problem(
            "company", f"{quoted(company)}: a Pace company name has no '/', '?', '#' or spaces"
        )
        return ""
    return company


def _variable(text: str) -> str | None:
    wanted = text.strip().casefold()
    return next((name for name in DESCRIPTION_VARIABLES if name.casefold() == wanted), None)


def _config_problems(problems: Problems) -> list[ConfigProblem]:
    return [
        ConfigProblem("", f"settings.{key}" if key else "settings", message)
        for key, message in problems
    ]

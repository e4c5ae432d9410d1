"""The Tharstern account and site settings (seed 000 "Settings", seed 002 "connection inputs" and
"integration behaviours"), checked.

Account settings live in `[accounts.NAME.settings]`; the server URL, the API login (e-mail) and
password are credentials (`[accounts.NAME.credentials]`, the I/O half's manifest), never here: a
`password`, `email` or `login` key in settings is a problem and its value is never quoted.
Keys, with the seed sentence each comes from:

    key                      seed                                        type / default
    application_id           Infigo "Application ID ... can be a made    text; "esd" (not a
                             up name ... It should be unique per         secret: it names the
                             storefront"                                 token's application)
    products_customer_code   seed 000 "CustomerCode used for Tharstern   text, required
                             products"
    customer_code            seed 002 "assigning Tharstern customer      text; "" (then the
                             codes at storefront and department level"   products code)
    department_codes         (same) a department -> its customer code    table; {}
    group_codes              (same) a user group -> its customer code    table; {}
    products                 seed 002 "mapping Infigo products/variants  array of tables (see
                             and attributes to Tharstern estimate        `product_map`); []
                             structures"
    stock_from_sku           seed 000 "Item # is mapped to both the      true/false; true
                             private and public product number fields":
                             an unmapped item with a part number (or
                             integration id) is that stock item
    operations               seed 002 "JSON/node mapping tweaks": the    array of tables (see
                             advanced mapping run on every estimate      `estimate_operations`);
                             request, before the product's own           []
    price_mode               seed 002 "how/when price is sent"           "none" | "item_price" |
                                                                         "price_with_tax_and_
                                                                         shipping"; "none"
    price_includes_tax       seed 002 "shipping/tax inclusion"           true/false; true
    price_includes_shipping  (same)                                      true/false; true
    price_stock_items        Infigo "Send price with logic": false sends true/false; true
                             no price on stock lines (their price is
                             Tharstern's static price list)
    dispatch_days            seed 002 "delivery/dispatch date rules":    days, 0..3650; 3
                             order date + N days when no ship date
    holidays                 (the same holiday list form as Pace)        "2024-12-25|2024-12-26"
                                                                         or a list; none
    dispatch_skips_weekends  (the shop is closed at weekends)            true/false; false
    initial_status           seed 000 "Initial Order Status. Can a       text; "" (Tharstern's
                             specific status be set when an order is     own)
                             sent to Tharstern? Yes"
    status_names             seed 000 "map the order status you want     table Tharstern status
                             used": a Tharstern status (code or name)    -> the name esd reports
                             -> the name reported (then mapped to a      (and the account's
                             storefront stage by storefront_stages)      storefront_stages maps);
                                                                         {}
    final_statuses           (statuses after which nothing changes)      list of names; guessed
    production_ready         `job/createfromestimate` SetAsProduction-   true/false; true
                             Ready ([CODE] ROIOrders sends true)
    submit_to_workflow       seed 000 "Workflow: select how orders ...   true/false; true
                             are transferred": SubmitToWorkflow
    poll_fallback            issue 14 "Poll fallback ... for lost        true/false; true (the poll
                             webhooks and for shops that do not enable   runs every account's
                             subscriptions"                              `status_poll_seconds`)
    webhook_fields           issue 14 "a configurable field map so a     table (see
                             shop can adapt it without a release"        `webhook_payload`); {}
    alert_emails             (as Pace: who hears of a missing customer)  "a@x.com;b@y.com"; ""
    timeout_seconds          (not in the seeds) per-call timeout         > 0; 30
    call_deadline_seconds    (not in the seeds) whole-call deadline      > 0; 120
    max_answer_bytes         (not in the seeds) largest answer read      >= 1; 64 MiB

Site activation overrides (`[sites.K.activations.settings]`): `customer_code` (the site's
default, seed 002 "storefront level"), `department_codes`, `group_codes` (merged over the
account's, the site's winning) and `dispatch_days`.

Decisions where the seeds are silent:
- `price_mode` defaults to "none": seed 000's products are priced by Tharstern ("Use Tharstern
  pricing & inventory management in Pressero"), so sending the storefront's price would
  override Tharstern's own.
- `dispatch_days` defaults to 3 calendar days, as Pace's promise date (seed 004), and uses the
  same date maths (`daemon.orders.promise_date`).
- Department and group names are compared trimmed and case-insensitively.
- An empty string means "not set", as the storefront admin forms store it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from daemon.errors import ConfigError, ConfigProblem, cut, quoted
from daemon.providers.kit.credentials import required_credentials_problems, url_scheme_problems
from daemon.providers.kit.settings_reader import SECRET_KEYS, SettingsReader, table_problem
from daemon.providers.tharstern import MANIFEST
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.estimate_operations import Operation, parse_operations
from daemon.providers.tharstern.product_map import ProductRule, parse_product_map
from daemon.providers.tharstern.webhook_payload import (
    DEFAULT_FIELD_MAP,
    FieldMap,
    parse_field_map,
)
from daemon.remote.deadline import (
    DEFAULT_CALL_DEADLINE_SECONDS,
    DEFAULT_MAX_ANSWER_BYTES,
    CallLimits,
    limits_problems,
)

__all__ = [
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_DISPATCH_DAYS",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_DISPATCH_DAYS",
    "PRICE_MODES",
    "PriceMode",
    "SiteOverrides",
    "TharsternSettings",
    "alert_emails",
    "credentials_problems",
    "parse_settings",
    "parse_site_overrides",
    "settings_problems",
    "site_settings_problems",
]

DEFAULT_APPLICATION_ID: Final = "esd"
DEFAULT_DISPATCH_DAYS: Final = 3
MAX_DISPATCH_DAYS: Final = 3650
DEFAULT_TIMEOUT_SECONDS: Final = 30.0

PriceMode = Literal["none", "item_price", "price_with_tax_and_shipping"]
PRICE_MODES: Final[tuple[PriceMode, ...]] = ("none", "item_price", "price_with_tax_and_shipping")

_ACCOUNT_KEYS: Final = (
    "application_id",
    "products_customer_code",
    "customer_code",
    "department_codes",
    "group_codes",
    "products",
    "stock_from_sku",
    "operations",
    "price_mode",
    "price_includes_tax",
    "price_includes_shipping",
    "price_stock_items",
    "dispatch_days",
    "holidays",
    "dispatch_skips_weekends",
    "initial_status",
    "status_names",
    "final_statuses",
    "production_ready",
    "submit_to_workflow",
    "poll_fallback",
    "webhook_fields",
    "alert_emails",
    "timeout_seconds",
    "call_deadline_seconds",
    "max_answer_bytes",
)
_SITE_KEYS: Final = ("customer_code", "department_codes", "group_codes", "dispatch_days")
#: the kit's secret-looking keys, and `email`: the API login is an e-mail (a credential)
_SECRET_KEYS: Final = SECRET_KEYS | {"email"}
_MAX_CODE: Final = 100

Problems = list[tuple[str, str]]


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class SiteOverrides:
    """A site activation's own values; "" / None / {} where the site does not override."""

    customer_code: str = ""
    department_codes: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    group_codes: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    dispatch_days: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TharsternSettings:
    """One Tharstern account's settings, validated (see the module docstring for each key).

    `department_codes`, `group_codes` and `status_names` are keyed by the case-folded, trimmed
    name; `final_statuses` are case-folded too.
    """

    products_customer_code: str
    application_id: str = DEFAULT_APPLICATION_ID
    customer_code: str = ""
    department_codes: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    group_codes: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    products: tuple[ProductRule, ...] = ()
    stock_from_sku: bool = True
    operations: tuple[Operation, ...] = ()
    price_mode: PriceMode = "none"
    price_includes_tax: bool = True
    price_includes_shipping: bool = True
    price_stock_items: bool = True
    dispatch_days: int = DEFAULT_DISPATCH_DAYS
    holidays: frozenset[dt.date] = frozenset()
    dispatch_skips_weekends: bool = False
    initial_status: str = ""
    status_names: Mapping[str, str] = dataclasses.field(default_factory=_empty)
    final_statuses: frozenset[str] = frozenset(s.casefold() for s in g.FINAL_STATUSES)
    production_ready: bool = True
    submit_to_workflow: bool = True
    poll_fallback: bool = True
    webhook_fields: FieldMap = DEFAULT_FIELD_MAP
    alert_emails: tuple[str, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    @property
    def default_customer_code(self) -> str:
        """The code an order goes under when no department or group is mapped: the site's or
        account's `customer_code`, else the products' CustomerCode (seed 000)."""
        return self.customer_code or self.products_customer_code

    @property
    def limits(self) -> CallLimits:
        """The call deadline and answer limit for the client."""
        return CallLimits(self.call_deadline_seconds, self.max_answer_bytes)

    def with_site(self, site: SiteOverrides) -> TharsternSettings:
        """These settings with one site's overrides applied (the site's win)."""
        return dataclasses.replace(
            self,
            customer_code=site.customer_code or self.customer_code,
            department_codes=MappingProxyType({**self.department_codes, **site.department_codes}),
            group_codes=MappingProxyType({**self.group_codes, **site.group_codes}),
            dispatch_days=self.dispatch_days if site.dispatch_days is None else site.dispatch_days,
        )


def settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with an account's Tharstern settings, as (key path, message) pairs."""
    return _read_account(settings)[1]


def parse_settings(settings: Mapping[str, Any]) -> TharsternSettings:
    """The account's settings as `TharsternSettings`; `ConfigError` naming every problem."""
    parsed, problems = _read_account(settings)
    if problems or parsed is None:
        raise ConfigError(_config_problems("settings", problems))
    return parsed


def site_settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with a site activation's Tharstern settings, as (key path, message)."""
    return _read_site(settings)[1]


def parse_site_overrides(settings: Mapping[str, Any]) -> SiteOverrides:
    """A site activation's overrides; `ConfigError` naming every problem."""
    parsed, problems = _read_site(settings)
    if problems:
        raise ConfigError(_config_problems("settings", problems))
    return parsed


def alert_emails(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The valid addresses of the `alert_emails` setting (for the manifest's `alert_emails`)."""
    if not isinstance(settings, Mapping):
        return ()
    return SettingsReader(settings).emails("alert_emails")


# -- reading ------------------------------------------------------------------------------------


def _read_account(settings: Mapping[str, Any]) -> tuple[TharsternSettings | None, Problems]:
    if not isinstance(settings, Mapping):
        return None, table_problem(settings)
    read = SettingsReader(settings)
    read.unknown_keys(_ACCOUNT_KEYS, _SECRET_KEYS)
    problems = read.problems  # the reader's list: every check below adds to it

    application_id = read.text("application_id", DEFAULT_APPLICATION_ID)
    products_code = _code(read, "products_customer_code")
    if not products_code and not any(k == "products_customer_code" for k, _ in problems):
        read.problem(
            "products_customer_code",
            "required: the CustomerCode used for Tharstern products (seed 000); it must have "
            "access to every mapped product",
        )
    customer_code = _code(read, "customer_code")
    departments = _codes(read, "department_codes")
    groups = _codes(read, "group_codes")
    products, product_problems = parse_product_map(settings.get("products"), "products")
    problems += product_problems
    stock_from_sku = read.flag("stock_from_sku", True)
    operations, operation_problems = parse_operations(settings.get("operations"), "operations")
    problems += operation_problems
    price_mode = read.choice("price_mode", PRICE_MODES, "none")
    includes_tax = read.flag("price_includes_tax", True)
    includes_shipping = read.flag("price_includes_shipping", True)
    price_stock = read.flag("price_stock_items", True)
    dispatch_days = read.integer("dispatch_days", DEFAULT_DISPATCH_DAYS, 0, MAX_DISPATCH_DAYS)
    holidays = read.dates("holidays")
    skip_weekends = read.flag("dispatch_skips_weekends", False)
    initial_status = read.text("initial_status")
    status_names = _names(read)
    final = _final_statuses(read)
    production_ready = read.flag("production_ready", True)
    workflow = read.flag("submit_to_workflow", True)
    poll = read.flag("poll_fallback", True)
    fields, field_problems = parse_field_map(settings.get("webhook_fields"), "webhook_fields")
    problems += field_problems
    emails = read.emails("alert_emails")
    timeout = read.seconds("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    limit_problems = limits_problems(settings)
    problems += limit_problems
    limits = CallLimits() if limit_problems else CallLimits.of(settings)

    if problems:
        return None, problems
    return (
        TharsternSettings(
            products_customer_code=products_code,
            application_id=application_id,
            customer_code=customer_code,
            department_codes=departments,
            group_codes=groups,
            products=products,
            stock_from_sku=stock_from_sku,
            operations=operations,
            price_mode=price_mode,
            price_includes_tax=includes_tax,
            price_includes_shipping=includes_shipping,
            price_stock_items=price_stock,
            dispatch_days=dispatch_days,
            holidays=holidays,
            dispatch_skips_weekends=skip_weekends,
            initial_status=initial_status,
            status_names=status_names,
            final_statuses=final,
            production_ready=production_ready,
            submit_to_workflow=workflow,
            poll_fallback=poll,
            webhook_fields=fields,
            alert_emails=emails,
            timeout_seconds=timeout,
            call_deadline_seconds=limits.deadline_seconds,
            max_answer_bytes=limits.max_answer_bytes,
        ),
        [],
    )


def _read_site(settings: Mapping[str, Any]) -> tuple[SiteOverrides, Problems]:
    if not isinstance(settings, Mapping):
        return SiteOverrides(), table_problem(settings)
    read = SettingsReader(settings)
    read.unknown_keys(_SITE_KEYS, _SECRET_KEYS)
    overrides = SiteOverrides(
        customer_code=_code(read, "customer_code"),
        department_codes=_codes(read, "department_codes"),
        group_codes=_codes(read, "group_codes"),
        dispatch_days=read.optional_int("dispatch_days", 0, MAX_DISPATCH_DAYS),
    )
    return overrides, read.problems


def _code_problem(code: str) -> str | None:
    if len(code) > _MAX_CODE:
        return f"a customer code of at most {_MAX_CODE} characters, got {len(code)}"
    if any(c.isspace() and c != " " for c in code) or not code.isprintable():
        return f"{quoted(code)}: a customer code has no tabs, line breaks or control characters"
    return None


def _code(read: SettingsReader, key: str) -> str:
    code = read.text(key)
    problem = _code_problem(code) if code else None
    if problem:
        read.problem(key, problem)
        return ""
    return code


def _codes(read: SettingsReader, key: str) -> Mapping[str, str]:
    """A table name -> customer code, keyed by the case-folded name."""
    value = read.raw(key)
    if value is None:
        return _empty()
    if not isinstance(value, Mapping):
        read.problem(key, "expected a table: department or group name = customer code")
        return _empty()
    codes: dict[str, str] = {}
    written: dict[str, str] = {}
    for name, code in value.items():
        at = f"{key}.{cut(str(name))}"
        folded = str(name).strip().casefold()
        if not folded:
            read.problem(at, "an empty name")
            continue
        if not isinstance(code, str) or not code.strip():
            read.problem(at, f"expected a Tharstern customer code (text), got {quoted(code)}")
            continue
        problem = _code_problem(code.strip())
        if problem:
            read.problem(at, problem)
            continue
        if folded in written:
            read.problem(at, f"the same name as {quoted(written[folded])} (names ignore case)")
            continue
        written[folded] = str(name)
        codes[folded] = code.strip()
    return MappingProxyType(codes)


def _names(read: SettingsReader) -> Mapping[str, str]:
    value = read.raw("status_names")
    if value is None:
        return _empty()
    if not isinstance(value, Mapping):
        read.problem("status_names", "expected a table: Tharstern status = name reported")
        return _empty()
    names: dict[str, str] = {}
    for status, name in value.items():
        at = f"status_names.{cut(str(status))}"
        if not isinstance(name, str) or not name.strip():
            read.problem(at, f"expected the status name to report (text), got {quoted(name)}")
            continue
        names[str(status).strip().casefold()] = name.strip()
    return MappingProxyType(names)


def _final_statuses(read: SettingsReader) -> frozenset[str]:
    value = read.raw("final_statuses")
    if value is None:
        return frozenset(s.casefold() for s in g.FINAL_STATUSES)
    if not isinstance(value, list | tuple):
        read.problem("final_statuses", "expected a list of status names")
        return frozenset()
    final: set[str] = set()
    for index, status in enumerate(value):
        if not isinstance(status, str) or not status.strip():
            read.problem(
                f"final_statuses[{index}]", f"expected a status name, got {quoted(status)}"
            )
            continue
        final.add(status.strip().casefold())
    return frozenset(final)


def _config_problems(prefix: str, problems: Problems) -> list[ConfigProblem]:
    return [
        ConfigProblem("", f"{prefix}.{key}" if key else prefix, message)
        for key, message in problems
    ]


#: credentials beyond the manifest's required keys: an application id that wins over the
#: setting, and the shared secret of the webhooks
_OPTIONAL_CREDENTIALS = ("application_id", "webhook_secret")


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is missing or malformed in an account's credentials; values are never quoted."""
    problems = required_credentials_problems(
        credentials, MANIFEST.credential_keys
    ) + url_scheme_problems(credentials)
    for key in _OPTIONAL_CREDENTIALS:
        value = credentials.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append((key, "must be a non-empty string when given"))
    return problems

"""The "Accounts" mapping parameter (seed 004): Ship Via and Account Number for each shipment.

The parameter is a JSON array of rules (or, in esd.toml, an array of tables). Each rule has:

    key              meaning
    rule_type        DefaultMapping | ShipmentMethodMapping | ShipmentAddressMapping
    priority         integer; higher is tried first ("100 - highest"); default 0
    ship_via         the Pace Ship Via id (`JobShipment.shipVia` is an int: swagger JobShipment)
    account          the shipping account number (`JobShipment.accountNumber`)
    source_site      if set, the rule applies only to orders of this site
    source_method    ShipmentMethodMapping: the storefront shipping method name, or "MatchByName"
    source_address   ShipmentAddressMapping: the address the shipment must go to

Matching: rules are tried by priority, highest first, ties in the order written; the first rule
that matches wins; no match leaves Ship Via and Account Number to Pace's defaults.

- DefaultMapping matches every shipment (of `source_site`, when set).
- ShipmentMethodMapping with `source_method = "MatchByName"` matches every shipment that has a
  shipping method; Ship Via is then the method's *name*, which the driver resolves to a Pace
  Ship Via id (`AccountMatch.by_name`). Any other `source_method` matches a shipment whose method
  equals it, and gives the rule's `ship_via`.
- ShipmentAddressMapping matches a shipment whose address matches `source_address`.

Decisions where the seed is silent (each is tested):

- Names are compared trimmed, case-insensitively and with runs of whitespace as one space:
  site names (against the order's site name or the configured site key), method names and
  address segments.
- `source_address` is positional, as the seed's example lists it:
  `[Address1, Address2, City, State code, Postal code]`; fewer entries compare only those
  given; `"*"` matches any value; `""` matches only an empty segment. An object keyed by
  segment (`address1`, `address2`, `address3`, `city`, `state`, `zip`) is accepted too.
- Values are trimmed: the seed's example account `" XXX123"` (leading space) means `"XXX123"`.
- JSON keys are matched trimmed and case-insensitively (the seed itself writes
  `" includeTaxAndShipping "` with spaces); an unknown key is a problem, so a typo is not
  silently ignored.
- `ship_via` must be a Pace Ship Via id (digits); with `MatchByName` a `ship_via` is ignored.
- A rule needs something to give: DefaultMapping and ShipmentAddressMapping need `ship_via` or
  `account`, a ShipmentMethodMapping other than MatchByName needs `ship_via`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Final

from daemon.errors import cut, quoted
from daemon.orders.model import Address
from daemon.providers.kit.settings_reader import Problems
from daemon.remote import json_text
from daemon.remote.json_text import JsonTooDeep

__all__ = [
    "ADDRESS_SEGMENTS",
    "MATCH_BY_NAME",
    "WILDCARD",
    "AccountMatch",
    "AccountRule",
    "RuleType",
    "match_account_rule",
    "parse_account_rules",
]

#: `source_method` value that takes Ship Via from the storefront's shipping method name
MATCH_BY_NAME: Final = "MatchByName"
#: a `source_address` entry that matches any value
WILDCARD: Final = "*"
#: the address segments a `source_address` can name, in the seed's positional order
#: (Address1, Address2, City, State code, Postal code), then address3 (object form only)
ADDRESS_SEGMENTS: Final = ("address1", "address2", "city", "state", "zip", "address3")
_POSITIONAL: Final = 5

_KEYS: Final = (
    "rule_type",
    "priority",
    "ship_via",
    "account",
    "source_site",
    "source_method",
    "source_address",
)


class RuleType(StrEnum):
    """The three rule types the seed defines."""

    DEFAULT = "DefaultMapping"
    SHIPMENT_METHOD = "ShipmentMethodMapping"
    SHIPMENT_ADDRESS = "ShipmentAddressMapping"


@dataclasses.dataclass(frozen=True, slots=True)
class AccountRule:
    """One rule of the Accounts parameter, cleaned (trimmed values, parsed address)."""

    index: int  # position in the parameter, for messages and tie-breaking
    rule_type: RuleType
    priority: int = 0
    ship_via: str = ""
    account: str = ""
    source_site: str = ""
    source_method: str = ""
    # segment name -> expected value ("*" = any); empty: the rule has no address condition
    source_address: tuple[tuple[str, str], ...] = ()

    @property
    def by_name(self) -> bool:
        """True for a ShipmentMethodMapping that takes Ship Via from the method's name."""
        return self.rule_type is RuleType.SHIPMENT_METHOD and _norm(self.source_method) == _norm(
            MATCH_BY_NAME
        )


@dataclasses.dataclass(frozen=True, slots=True)
class AccountMatch:
    """What the first matching rule gives one shipment."""

    rule_index: int
    rule_type: RuleType
    ship_via: str  # a Ship Via id, or (by_name) the storefront method name to resolve
    by_name: bool
    account: str

    @property
    def ship_via_id(self) -> int | None:
        """The Pace Ship Via id, when the rule gave one (not by name, not empty)."""
        if self.by_name or not self.ship_via:
            return None
        return int(self.ship_via)


def parse_account_rules(
    raw: object, where: str = "accounts"
) -> tuple[tuple[AccountRule, ...], Problems]:
    """Parse the Accounts parameter (a JSON text or a list of tables) into rules and problems.

    Problems are (key path, message) pairs such as `("accounts[2].rule_type", "...")`; every
    rule without a problem is returned, so one typo does not hide the other rules' checks.
    """
    problems: Problems = []
    items = _json_list(raw, where, problems)
    if items is None:
        return (), problems
    rules: list[AccountRule] = []
    for index, item in enumerate(items):
        rule = _parse_rule(item, index, f"{where}[{index}]", problems)
        if rule is not None:
            rules.append(rule)
    return tuple(rules), problems


def match_account_rule(
    rules: Sequence[AccountRule],
    *,
    site_name: str,
    site_key: str = "",
    ship_to: Address,
    shipping_method: str,
) -> AccountMatch | None:
    """The first rule, by priority, that matches one shipment; None when none does."""
    ordered = sorted(rules, key=lambda rule: (-rule.priority, rule.index))
    for rule in ordered:
        if rule.source_site and _norm(rule.source_site) not in {_norm(site_name), _norm(site_key)}:
            continue
        if rule.rule_type is RuleType.DEFAULT:
            return _match(rule, rule.ship_via)
        if rule.rule_type is RuleType.SHIPMENT_METHOD:
            if rule.by_name:
                if shipping_method.strip():
                    return _match(rule, " ".join(shipping_method.split()))
                continue
            if _norm(rule.source_method) == _norm(shipping_method):
                return _match(rule, rule.ship_via)
            continue
        if _address_matches(rule.source_address, ship_to):
            return _match(rule, rule.ship_via)
    return None


def _match(rule: AccountRule, ship_via: str) -> AccountMatch:
    return AccountMatch(
        rule_index=rule.index,
        rule_type=rule.rule_type,
        ship_via=ship_via,
        by_name=rule.by_name,
        account=rule.account,
    )


def _address_matches(expected: Sequence[tuple[str, str]], ship_to: Address) -> bool:
    for segment, value in expected:
        if value == WILDCARD:
            continue
        if _norm(value) != _norm(str(getattr(ship_to, segment))):
            return False
    return True


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


# -- parsing ------------------------------------------------------------------------------------


def _json_list(raw: object, where: str, problems: Problems) -> list[object] | None:
    """The rules array from a JSON text or an already-parsed list; None (and a problem) if not."""
    if isinstance(raw, str):
        if not raw.strip():
            return []
        try:
            raw = json_text.loads(raw)
        except JsonTooDeep as exc:
            problems.append((where, exc.msg))
            return None
        except json.JSONDecodeError as exc:
            problems.append(
                (where, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            )
            return None
    if isinstance(raw, Mapping):
        problems.append((where, "expected a JSON array of rules, got an object"))
        return None
    if not isinstance(raw, list | tuple):
        problems.append((where, f"expected a JSON array of rules, got {type(raw).__name__}"))
        return None
    return list(raw)


def _parse_rule(item: object, index: int, at: str, problems: Problems) -> AccountRule | None:
    if not isinstance(item, Mapping):
        problems.append((at, f"expected an object, got {type(item).__name__}"))
        return None
    before = len(problems)
    fields: dict[str, object] = {}
    for key, value in item.items():
        name = _canonical_key(key)
        if name is None:
            known = ", ".join(_KEYS)
            problems.append((f"{at}.{cut(str(key).strip())}", f"unknown key (known: {known})"))
        else:
            fields[name] = value

    rule_type: RuleType | None = None
    raw_type = fields.get("rule_type")
    if raw_type is None:
        problems.append((f"{at}.rule_type", f"required: one of {_rule_types()}"))
    else:
        rule_type = _rule_type(raw_type)
        if rule_type is None:
            problems.append(
                (
                    f"{at}.rule_type",
                    f"unknown rule_type {quoted(raw_type)} in rule {index} "
                    f"(known: {_rule_types()})",
                )
            )

    priority = 0
    if "priority" in fields:
        parsed = _integer(fields["priority"])
        if parsed is None:
            problems.append((f"{at}.priority", "must be an integer (100 is the highest)"))
        else:
            priority = parsed

    text: dict[str, str] = {}
    for key in ("ship_via", "account", "source_site", "source_method"):
        if key in fields:
            value = _text(fields[key])
            if value is None:
                problems.append((f"{at}.{key}", "must be a string"))
            else:
                text[key] = value
    ship_via = text.get("ship_via", "")
    account = text.get("account", "")
    source_method = text.get("source_method", "")
    by_name = rule_type is RuleType.SHIPMENT_METHOD and _norm(source_method) == _norm(MATCH_BY_NAME)
    if by_name:
        ship_via = ""
    elif ship_via and not ship_via.isdigit():
        problems.append(
            (f"{at}.ship_via", f"{quoted(ship_via)} is not a Pace Ship Via id (a whole number)")
        )

    address: tuple[tuple[str, str], ...] = ()
    if "source_address" in fields:
        address = _source_address(fields["source_address"], f"{at}.source_address", problems)

    if rule_type is RuleType.SHIPMENT_METHOD:
        if not source_method:
            problems.append(
                (f"{at}.source_method", f"required: a shipping method name or {MATCH_BY_NAME!r}")
            )
        elif not by_name and not ship_via:
            problems.append((f"{at}.ship_via", "required unless source_method is MatchByName"))
    elif rule_type is RuleType.SHIPMENT_ADDRESS:
        if "source_address" not in fields:
            problems.append((f"{at}.source_address", "required for ShipmentAddressMapping"))
        elif not address and len(problems) == before:
            problems.append((f"{at}.source_address", "must name at least one address segment"))
    if rule_type in (RuleType.DEFAULT, RuleType.SHIPMENT_ADDRESS) and not (ship_via or account):
        problems.append((at, f"a {rule_type} rule needs ship_via or account"))

    if len(problems) > before or rule_type is None:
        return None
    return AccountRule(
        index=index,
        rule_type=rule_type,
        priority=priority,
        ship_via=ship_via,
        account=account,
        source_site=text.get("source_site", ""),
        source_method=source_method,
        source_address=address,
    )


def _source_address(raw: object, at: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, list | tuple):
        if len(raw) > _POSITIONAL:
            problems.append(
                (
                    at,
                    f"at most {_POSITIONAL} entries: Address1, Address2, City, State code, "
                    "Postal code",
                )
            )
            return ()
        for position, value in enumerate(raw):
            text = _text(value)
            if text is None:
                problems.append((f"{at}[{position}]", "must be a string"))
                continue
            pairs.append((ADDRESS_SEGMENTS[position], text))
        return tuple(pairs)
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            segment = str(key).strip().casefold()
            if segment not in ADDRESS_SEGMENTS:
                problems.append(
                    (
                        f"{at}.{cut(str(key).strip())}",
                        f"unknown segment (known: {', '.join(ADDRESS_SEGMENTS)})",
                    )
                )
                continue
            text = _text(value)
            if text is None:
                problems.append((f"{at}.{segment}", "must be a string"))
                continue
            pairs.append((segment, text))
        return tuple(pairs)
    problems.append((at, "expected a list [Address1, Address2, City, State code, Postal code]"))
    return ()


def _canonical_key(key: object) -> str | None:
    wanted = str(key).strip().casefold()
    return next((name for name in _KEYS if name.casefold() == wanted), None)


def _rule_type(value: object) -> RuleType | None:
    if not isinstance(value, str):
        return None
    wanted = value.strip().casefold()
    return next((t for t in RuleType if t.value.casefold() == wanted), None)


def _rule_types() -> str:
    return ", ".join(t.value for t in RuleType)


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value.strip())
    return None


def _text(value: object) -> str | None:
    """A trimmed string; numbers are accepted as their text (`"ship_via": 3` means "3")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return None

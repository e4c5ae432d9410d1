"""The "Site Mapping Details" parameter (seed 004): per-site defaults for jobs and parts.

A JSON array (or, in esd.toml, an array of tables) of rules:

    key                      meaning                                              default
    siteName                 the site the rule is for; "DefaultSiteConfiguration"  (required)
                             is the rule for every site without its own
    adminStatus              Pace status code of the Job (`Job.adminStatus`) and   "O" (open;
                             of each Job Part (`JobPart.productionStatus`)         see below)
    includeTaxAndShipping    Job and Job Part prices include tax and shipping      false
    addMaterialInformation   add a Job Material from the product's `materialID`    false
    setUserToDescription     the site user's first and last name become the job's  false
                             additional description (nothing else goes there)

Decisions where the seed is silent (each is tested):

- A site's rule is found by its `siteName`, compared trimmed and case-insensitively with the
  order's site name, then with the configured site key.
- Fallback is per field: a key missing from the site's own rule comes from the
  DefaultSiteConfiguration rule, and a key missing there too from the defaults above. A site
  with no rule at all uses DefaultSiteConfiguration, or the defaults.
- The default `adminStatus` is the letter "O". The seed's text says 'Default is “0” (New)',
  the digit, while its own example writes "O", and every EFI source uses the letter "O" for an
  open job (SDK-J `CloseJob`, RG, BB; pace.md §6, §7); no source shows a JobStatus "0". So esd
  reads the seed's "0" as the "O" of its example (`guesses.DEFAULT_ADMIN_STATUS`, with the
  evidence). The seed's digit stays configurable: a shop whose Pace has a JobStatus "0" writes
  `"adminStatus": "0"` in its DefaultSiteConfiguration rule.
- A configured `adminStatus` is passed to Pace verbatim; an unknown code is Pace's to refuse.
- Booleans may be JSON booleans or the strings "true"/"false" (any case); a number for
  `adminStatus` is taken as its text.
- JSON keys are matched trimmed and case-insensitively (the seed writes
  `" includeTaxAndShipping "` with spaces); an unknown key is a problem. Two rules for the
  same siteName are a problem (which one should win would be a guess).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Final

from daemon.errors import cut, quoted
from daemon.providers.kit.settings_reader import Problems
from daemon.providers.pace import guesses
from daemon.remote import json_text
from daemon.remote.json_text import JsonTooDeep

__all__ = [
    "DEFAULT_ADMIN_STATUS",
    "DEFAULT_SITE",
    "SiteMapping",
    "SiteRule",
    "parse_site_rules",
    "site_mapping_for",
]

#: the siteName of the rule that applies to every site without its own
DEFAULT_SITE: Final = "DefaultSiteConfiguration"
#: the status code when no rule sets one: "O" (open); see the module docstring and `guesses`
DEFAULT_ADMIN_STATUS: Final = guesses.DEFAULT_ADMIN_STATUS

_KEYS: Final = (
    "siteName",
    "adminStatus",
    "includeTaxAndShipping",
    "addMaterialInformation",
    "setUserToDescription",
)
_FLAGS: Final = ("includeTaxAndShipping", "addMaterialInformation", "setUserToDescription")


@dataclasses.dataclass(frozen=True, slots=True)
class SiteRule:
    """One rule as written: None where the rule does not set the key."""

    index: int
    site_name: str
    admin_status: str | None = None
    include_tax_and_shipping: bool | None = None
    add_material_information: bool | None = None
    set_user_to_description: bool | None = None

    @property
    def is_default(self) -> bool:
        """True for the DefaultSiteConfiguration rule."""
        return _norm(self.site_name) == _norm(DEFAULT_SITE)


@dataclasses.dataclass(frozen=True, slots=True)
class SiteMapping:
    """The values in force for one site, every fallback applied."""

    admin_status: str = DEFAULT_ADMIN_STATUS
    include_tax_and_shipping: bool = False
    add_material_information: bool = False
    set_user_to_description: bool = False
    # which rule the site's own values came from: its siteName, DEFAULT_SITE, or "" (defaults)
    matched: str = ""


def parse_site_rules(
    raw: object, where: str = "site_mapping"
) -> tuple[tuple[SiteRule, ...], Problems]:
    """Parse the Site Mapping Details parameter into rules and (key path, message) problems."""
    problems: Problems = []
    if isinstance(raw, str):
        if not raw.strip():
            return (), problems
        try:
            raw = json_text.loads(raw)
        except JsonTooDeep as exc:
            problems.append((where, exc.msg))
            return (), problems
        except json.JSONDecodeError as exc:
            problems.append(
                (where, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            )
            return (), problems
    if not isinstance(raw, list | tuple):
        problems.append((where, f"expected a JSON array of rules, got {_kind(raw)}"))
        return (), problems
    rules: list[SiteRule] = []
    first_at: dict[str, int] = {}
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        rule = _parse_rule(item, index, at, problems)
        if rule is None:
            continue
        name = _norm(rule.site_name)
        if name in first_at:
            problems.append(
                (
                    f"{at}.siteName",
                    f"site {quoted(rule.site_name)} already has a rule at "
                    f"{where}[{first_at[name]}]",
                )
            )
            continue
        first_at[name] = index
        rules.append(rule)
    return tuple(rules), problems


def site_mapping_for(rules: Sequence[SiteRule], site_name: str, site_key: str = "") -> SiteMapping:
    """The mapping in force for a site: its rule, then DefaultSiteConfiguration, then defaults."""
    default = next((rule for rule in rules if rule.is_default), None)
    own = next(
        (
            rule
            for rule in rules
            if not rule.is_default
            and _norm(rule.site_name) in {_norm(site_name), _norm(site_key)} - {""}
        ),
        None,
    )
    layers = [rule for rule in (own, default) if rule is not None]
    base = SiteMapping()

    def pick(name: str) -> object:
        for rule in layers:
            value = getattr(rule, name)
            if value is not None:
                return value
        return getattr(base, name)

    admin_status = pick("admin_status")
    assert isinstance(admin_status, str)
    return SiteMapping(
        admin_status=admin_status,
        include_tax_and_shipping=bool(pick("include_tax_and_shipping")),
        add_material_information=bool(pick("add_material_information")),
        set_user_to_description=bool(pick("set_user_to_description")),
        matched=layers[0].site_name if layers else "",
    )


def _parse_rule(item: object, index: int, at: str, problems: Problems) -> SiteRule | None:
    if not isinstance(item, Mapping):
        problems.append((at, f"expected an object, got {_kind(item)}"))
        return None
    before = len(problems)
    fields: dict[str, object] = {}
    for key, value in item.items():
        wanted = str(key).strip().casefold()
        name = next((k for k in _KEYS if k.casefold() == wanted), None)
        if name is None:
            problems.append(
                (f"{at}.{cut(str(key).strip())}", f"unknown key (known: {', '.join(_KEYS)})")
            )
        else:
            fields[name] = value
    site_name = fields.get("siteName")
    if not isinstance(site_name, str) or not site_name.strip():
        problems.append(
            (f"{at}.siteName", f"required: the site's name, or {DEFAULT_SITE!r} for all others")
        )
    admin_status: str | None = None
    if "adminStatus" in fields:
        raw_status = fields["adminStatus"]
        if isinstance(raw_status, bool) or not isinstance(raw_status, str | int):
            problems.append((f"{at}.adminStatus", "must be a Pace job status code (a string)"))
        elif not str(raw_status).strip():
            problems.append((f"{at}.adminStatus", "must not be empty"))
        else:
            admin_status = str(raw_status).strip()
    flags: dict[str, bool] = {}
    for key in _FLAGS:
        if key in fields:
            flag = _flag(fields[key])
            if flag is None:
                problems.append((f"{at}.{key}", "must be true or false"))
            else:
                flags[key] = flag
    if len(problems) > before:
        return None
    assert isinstance(site_name, str)
    return SiteRule(
        index=index,
        site_name=site_name.strip(),
        admin_status=admin_status,
        include_tax_and_shipping=flags.get("includeTaxAndShipping"),
        add_material_information=flags.get("addMaterialInformation"),
        set_user_to_description=flags.get("setUserToDescription"),
    )


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in ("true", "false"):
        return value.strip().casefold() == "true"
    return None


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _kind(value: object) -> str:
    return "an object" if isinstance(value, Mapping) else type(value).__name__

"""The Pace "Site Mapping Details" parameter (seed 004): parsing, checks and per-site values."""

from __future__ import annotations

import pytest

from daemon.providers.pace.guesses import JOB_STATUS_OPEN, SEED_ADMIN_STATUS
from daemon.providers.pace.site_rules import (
    DEFAULT_ADMIN_STATUS,
    DEFAULT_SITE,
    SiteMapping,
    SiteRule,
    parse_site_rules,
    site_mapping_for,
)

# The seed's own example, verbatim.
SEED_EXAMPLE = """
[
{
"siteName":"DefaultSiteConfiguration",
"adminStatus":"O",
"includeTaxAndShipping":true,
"addMaterialInformation":false,
"setUserToDescription":false
},
{
"siteName":"Some Site name",
"adminStatus":"a",
"includeTaxAndShipping":true,
"addMaterialInformation":true,
"setUserToDescription":true
}
]
"""


def seed_rules() -> tuple[SiteRule, ...]:
    rules, problems = parse_site_rules(SEED_EXAMPLE)
    assert problems == []
    return rules


def test_the_seed_example_parses() -> None:
    assert seed_rules() == (
        SiteRule(0, DEFAULT_SITE, "O", True, False, False),
        SiteRule(1, "Some Site name", "a", True, True, True),
    )


@pytest.mark.parametrize(
    ("site_name", "site_key", "expected"),
    [
        ("Some Site name", "", SiteMapping("a", True, True, True, "Some Site name")),
        ("  some site NAME ", "", SiteMapping("a", True, True, True, "Some Site name")),
        ("Print Shop", "some site name", SiteMapping("a", True, True, True, "Some Site name")),
        # every other site: DefaultSiteConfiguration; "O" (the letter) is passed on verbatim
        ("Another Site", "another", SiteMapping("O", True, False, False, DEFAULT_SITE)),
        ("", "", SiteMapping("O", True, False, False, DEFAULT_SITE)),
    ],
)
def test_the_seed_example_per_site(site_name: str, site_key: str, expected: SiteMapping) -> None:
    assert site_mapping_for(seed_rules(), site_name, site_key) == expected


def test_without_rules_the_seed_defaults_apply() -> None:
    mapping = site_mapping_for((), "Any Site")
    assert mapping == SiteMapping(
        admin_status="O",
        include_tax_and_shipping=False,
        add_material_information=False,
        set_user_to_description=False,
        matched="",
    )


def test_the_default_admin_status_is_the_documented_open_letter_not_the_digit() -> None:
    # Seed 004: 'Default is “0” (New)', while its example writes "adminStatus":"O" and EFI's
    # samples open a job with the letter "O" (pace.md §6, §7): the letter is sent by default.
    assert DEFAULT_ADMIN_STATUS == JOB_STATUS_OPEN == "O"
    assert SEED_ADMIN_STATUS == "0"


def test_the_seed_digit_stays_configurable() -> None:
    rules, problems = parse_site_rules(
        [{"siteName": "DefaultSiteConfiguration", "adminStatus": SEED_ADMIN_STATUS}]
    )
    assert problems == []
    assert site_mapping_for(rules, "Any Site").admin_status == "0"


def test_a_site_rule_without_a_default_rule_falls_back_to_the_seed_defaults() -> None:
    rules, problems = parse_site_rules([{"siteName": "Shop", "addMaterialInformation": True}])
    assert problems == []
    assert site_mapping_for(rules, "Shop") == SiteMapping("O", False, True, False, "Shop")
    assert site_mapping_for(rules, "Elsewhere") == SiteMapping()


def test_missing_keys_fall_back_per_field_to_the_default_rule_then_the_seed() -> None:
    rules, problems = parse_site_rules(
        [
            {
                "siteName": "DefaultSiteConfiguration",
                "adminStatus": "P",
                "setUserToDescription": True,
            },
            {"siteName": "Shop", "includeTaxAndShipping": True, "setUserToDescription": False},
        ]
    )
    assert problems == []
    assert site_mapping_for(rules, "Shop") == SiteMapping(
        admin_status="P",  # from DefaultSiteConfiguration
        include_tax_and_shipping=True,  # the site's own
        add_material_information=False,  # seed default
        set_user_to_description=False,  # the site's own false beats the default rule's true
        matched="Shop",
    )


def test_keys_are_trimmed_and_case_insensitive_and_flags_may_be_text() -> None:
    # The seed itself writes " includeTaxAndShipping " with spaces.
    rules, problems = parse_site_rules(
        '[{" siteName ": " Shop ", " includeTaxAndShipping ": "TRUE",'
        ' "ADDMATERIALINFORMATION": "false", "adminStatus": 0}]'
    )
    assert problems == []
    assert rules == (SiteRule(0, "Shop", "0", True, False, None),)


def test_the_default_rule_name_is_matched_case_insensitively() -> None:
    rules, problems = parse_site_rules(
        [{"siteName": "defaultsiteconfiguration", "adminStatus": "X"}]
    )
    assert problems == []
    assert site_mapping_for(rules, "any").admin_status == "X"


@pytest.mark.parametrize("raw", ["", " ", [], ()])
def test_an_empty_parameter_is_no_rules(raw: object) -> None:
    assert parse_site_rules(raw) == ((), [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[{", [("site_mapping", "not valid JSON")]),
        ('{"siteName": "x"}', [("site_mapping", "expected a JSON array of rules, got an object")]),
        (5, [("site_mapping", "expected a JSON array of rules, got int")]),
        ('["x"]', [("site_mapping[0]", "expected an object, got str")]),
        ('[{"adminStatus": "O"}]', [("site_mapping[0].siteName", "required: the site's name")]),
        ('[{"siteName": " "}]', [("site_mapping[0].siteName", "required")]),
        (
            '[{"siteName": "A"}, {"siteName": " a "}]',
            [("site_mapping[1].siteName", "site 'a' already has a rule at site_mapping[0]")],
        ),
        (
            '[{"siteName": "A", "includeTaxAndShipping": "yes"}]',
            [("site_mapping[0].includeTaxAndShipping", "must be true or false")],
        ),
        (
            '[{"siteName": "A", "setUserToDescription": 1}]',
            [("site_mapping[0].setUserToDescription", "must be true or false")],
        ),
        (
            '[{"siteName": "A", "adminStatus": ""}]',
            [("site_mapping[0].adminStatus", "must not be empty")],
        ),
        (
            '[{"siteName": "A", "adminStatus": true}]',
            [("site_mapping[0].adminStatus", "must be a Pace job status code")],
        ),
        (
            '[{"siteName": "A", "status": "O"}]',
            [("site_mapping[0].status", "unknown key (known: siteName, adminStatus")],
        ),
    ],
)
def test_problems_name_the_rule_and_key(raw: object, expected: list[tuple[str, str]]) -> None:
    rules, problems = parse_site_rules(raw)
    assert [key for key, _ in problems] == [key for key, _ in expected]
    for (_, message), (_, wanted) in zip(problems, expected, strict=True):
        assert wanted in message
    assert len(rules) <= 1  # only a clean first rule survives in these cases


def test_a_bad_rule_is_dropped_and_the_others_kept() -> None:
    rules, problems = parse_site_rules(
        [{"siteName": "A", "adminStatus": []}, {"siteName": "B", "adminStatus": "Q"}]
    )
    assert [key for key, _ in problems] == ["site_mapping[0].adminStatus"]
    assert [rule.site_name for rule in rules] == ["B"]

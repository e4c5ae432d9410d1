"""The Pace "Accounts" mapping parameter (seed 004): parsing, checks and first-match-by-priority."""

from __future__ import annotations

import re

import pytest

from daemon.orders.model import Address
from daemon.providers.pace.account_rules import (
    AccountMatch,
    AccountRule,
    RuleType,
    match_account_rule,
    parse_account_rules,
)

# The seed's own example, verbatim (including the account " XXX123" with a leading space).
SEED_EXAMPLE = """
[
{
"rule_type":"ShipmentMethodMapping",
"priority":5,
"source_method":"MatchByName"
},
{
"rule_type":"ShipmentMethodMapping",
"priority":10,
"source_method":"Customer Pickup",
"ship_via":"1"
},
{
"rule_type":"DefaultMapping",
"priority":50,
"source_site":"Some Site",
"ship_via":"2",
"account":"XXX123"
},
{
"rule_type":"ShipmentAddressMapping",
"priority":100,
"source_address":[
"Address1",
"Address2",
"City",
"State code",
"Postal code"
],
"ship_via":"3",
"account":" XXX123"
}
]
"""

# An address equal to the seed's placeholder values, so the priority-100 rule matches it.
SEED_ADDRESS = Address(
    address1="Address1", address2="Address2", city="City", state="State code", zip="Postal code"
)
ELSEWHERE = Address(address1="1 Main St", city="Springfield", state="IL", zip="62701")


def seed_rules() -> tuple[AccountRule, ...]:
    rules, problems = parse_account_rules(SEED_EXAMPLE)
    assert problems == []
    return rules


def test_the_seed_example_parses_into_four_clean_rules() -> None:
    rules = seed_rules()
    assert [(r.index, r.rule_type, r.priority) for r in rules] == [
        (0, RuleType.SHIPMENT_METHOD, 5),
        (1, RuleType.SHIPMENT_METHOD, 10),
        (2, RuleType.DEFAULT, 50),
        (3, RuleType.SHIPMENT_ADDRESS, 100),
    ]
    assert rules[0].by_name and not rules[1].by_name
    assert rules[2].source_site == "Some Site"
    # the seed's " XXX123" is trimmed: the same account as the DefaultMapping's "XXX123"
    assert rules[3].account == "XXX123" == rules[2].account
    assert rules[3].source_address == (
        ("address1", "Address1"),
        ("address2", "Address2"),
        ("city", "City"),
        ("state", "State code"),
        ("zip", "Postal code"),
    )


@pytest.mark.parametrize(
    ("site_name", "ship_to", "method", "expected"),
    [
        # priority 100 (highest) wins over every other rule, whatever the site or method
        (
            "Some Site",
            SEED_ADDRESS,
            "Customer Pickup",
            AccountMatch(3, RuleType.SHIPMENT_ADDRESS, "3", False, "XXX123"),
        ),
        # the address rule compares trimmed, case-insensitively, spaces collapsed
        (
            "Other",
            Address(
                address1=" address1 ",
                address2="ADDRESS2",
                city="city",
                state="State  Code",
                zip="postal code",
            ),
            "",
            AccountMatch(3, RuleType.SHIPMENT_ADDRESS, "3", False, "XXX123"),
        ),
        # then DefaultMapping (50) for its site, even when a method rule (10) would match too
        (
            "Some Site",
            ELSEWHERE,
            "Customer Pickup",
            AccountMatch(2, RuleType.DEFAULT, "2", False, "XXX123"),
        ),
        ("  some   SITE ", ELSEWHERE, "", AccountMatch(2, RuleType.DEFAULT, "2", False, "XXX123")),
        # another site: the method rule (10)
        (
            "Other",
            ELSEWHERE,
            "Customer Pickup",
            AccountMatch(1, RuleType.SHIPMENT_METHOD, "1", False, ""),
        ),
        (
            "Other",
            ELSEWHERE,
            "customer pickup",
            AccountMatch(1, RuleType.SHIPMENT_METHOD, "1", False, ""),
        ),
        # any other method: MatchByName (5) gives the method's name, to resolve by name
        (
            "Other",
            ELSEWHERE,
            "UPS  Ground",
            AccountMatch(0, RuleType.SHIPMENT_METHOD, "UPS Ground", True, ""),
        ),
        # no method and no other rule: nothing matches
        ("Other", ELSEWHERE, "", None),
        ("Other", ELSEWHERE, "   ", None),
    ],
)
def test_the_seed_example_matches_first_by_priority(
    site_name: str, ship_to: Address, method: str, expected: AccountMatch | None
) -> None:
    got = match_account_rule(
        seed_rules(), site_name=site_name, ship_to=ship_to, shipping_method=method
    )
    assert got == expected


def test_source_site_also_matches_the_configured_site_key() -> None:
    got = match_account_rule(
        seed_rules(),
        site_name="Print Shop Online",
        site_key="some site",
        ship_to=ELSEWHERE,
        shipping_method="",
    )
    assert got is not None and got.rule_index == 2


def test_equal_priorities_keep_the_order_written() -> None:
    rules, problems = parse_account_rules(
        [
            {"rule_type": "DefaultMapping", "priority": 7, "ship_via": "11"},
            {"rule_type": "DefaultMapping", "priority": 7, "ship_via": "12"},
            {"rule_type": "DefaultMapping", "priority": 6, "ship_via": "13"},
        ]
    )
    assert problems == []
    got = match_account_rule(rules, site_name="s", ship_to=ELSEWHERE, shipping_method="")
    assert got is not None and got.ship_via == "11"


def test_priority_defaults_to_zero_and_may_be_negative_or_text() -> None:
    rules, problems = parse_account_rules(
        [
            {"rule_type": "DefaultMapping", "ship_via": "1"},
            {"rule_type": "DefaultMapping", "priority": "-1", "ship_via": "2"},
            {"rule_type": "DefaultMapping", "priority": " 3 ", "ship_via": "3"},
        ]
    )
    assert problems == []
    assert [r.priority for r in rules] == [0, -1, 3]
    got = match_account_rule(rules, site_name="s", ship_to=ELSEWHERE, shipping_method="")
    assert got is not None and got.ship_via == "3"


def test_source_site_filters_method_and_address_rules_too() -> None:
    rules, problems = parse_account_rules(
        [
            {
                "rule_type": "ShipmentMethodMapping",
                "priority": 9,
                "source_site": "Shop A",
                "source_method": "Courier",
                "ship_via": "4",
            },
            {
                "rule_type": "ShipmentAddressMapping",
                "priority": 8,
                "source_site": "Shop A",
                "source_address": ["1 Main St"],
                "account": "ACC-A",
            },
        ]
    )
    assert problems == []
    for site, method, expected in [
        ("Shop A", "Courier", (0, "4", "")),
        ("Shop A", "Post", (1, "", "ACC-A")),
        ("Shop B", "Courier", None),
    ]:
        got = match_account_rule(rules, site_name=site, ship_to=ELSEWHERE, shipping_method=method)
        assert (None if got is None else (got.rule_index, got.ship_via, got.account)) == expected


@pytest.mark.parametrize(
    ("source_address", "ship_to", "matches"),
    [
        # fewer entries compare only those given
        (["1 Main St"], ELSEWHERE, True),
        (["1 Main St", ""], ELSEWHERE, True),  # "" matches an empty Address2
        (["1 Main St", ""], Address(address1="1 Main St", address2="Suite 5"), False),
        (["1 Main St", "*", "Springfield"], ELSEWHERE, True),  # "*" matches anything
        (
            ["1 Main St", "*", "Springfield"],
            Address(address1="1 Main St", address2="Suite 5", city="Springfield"),
            True,
        ),
        (["*", "*", "*", "IL", "62701"], ELSEWHERE, True),
        (["*", "*", "*", "IL", "62702"], ELSEWHERE, False),
        # the object form, keyed by segment, can name address3 too
        ({"zip": "62701", "City": "springfield"}, ELSEWHERE, True),
        ({"address3": "Dock 4"}, Address(address3="dock 4"), True),
        ({"address3": "Dock 4"}, ELSEWHERE, False),
    ],
)
def test_source_address_matching(source_address: object, ship_to: Address, matches: bool) -> None:
    rules, problems = parse_account_rules(
        [{"rule_type": "ShipmentAddressMapping", "source_address": source_address, "ship_via": "9"}]
    )
    assert problems == []
    got = match_account_rule(rules, site_name="s", ship_to=ship_to, shipping_method="")
    assert (got is not None) is matches


@pytest.mark.parametrize(
    ("match", "ship_via_id"),
    [
        (AccountMatch(0, RuleType.DEFAULT, "12", False, ""), 12),
        (AccountMatch(0, RuleType.DEFAULT, "", False, "A1"), None),
        (AccountMatch(0, RuleType.SHIPMENT_METHOD, "UPS Ground", True, ""), None),
    ],
)
def test_ship_via_id(match: AccountMatch, ship_via_id: int | None) -> None:
    assert match.ship_via_id == ship_via_id


def test_keys_and_rule_types_are_matched_trimmed_and_case_insensitively() -> None:
    rules, problems = parse_account_rules(
        '[{" Rule_Type ": "defaultmapping", "SHIP_VIA": 3, " account ": "  A-1  "}]'
    )
    assert problems == []
    assert rules == (AccountRule(index=0, rule_type=RuleType.DEFAULT, ship_via="3", account="A-1"),)


def test_match_by_name_ignores_a_ship_via_and_keeps_its_account() -> None:
    rules, problems = parse_account_rules(
        [
            {
                "rule_type": "ShipmentMethodMapping",
                "source_method": "matchbyname",
                "ship_via": "5",
                "account": "ACC",
            }
        ]
    )
    assert problems == []
    got = match_account_rule(rules, site_name="s", ship_to=ELSEWHERE, shipping_method="FedEx")
    assert got == AccountMatch(0, RuleType.SHIPMENT_METHOD, "FedEx", True, "ACC")


@pytest.mark.parametrize("raw", ["", "  ", [], ()])
def test_an_empty_parameter_is_no_rules(raw: object) -> None:
    assert parse_account_rules(raw) == ((), [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[{", [("accounts", "not valid JSON: Expecting property name enclosed in double quotes")]),
        (
            '{"rule_type": "DefaultMapping"}',
            [("accounts", "expected a JSON array of rules, got an object")],
        ),
        (42, [("accounts", "expected a JSON array of rules, got int")]),
        ("[1]", [("accounts[0]", "expected an object, got int")]),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"1"},{"rule_type":"CarrierMapping"}]',
            [
                (
                    "accounts[1].rule_type",
                    "unknown rule_type 'CarrierMapping' in rule 1 (known: DefaultMapping, "
                    "ShipmentMethodMapping, ShipmentAddressMapping)",
                )
            ],
        ),
        ('[{"ship_via":"1"}]', [("accounts[0].rule_type", "required: one of DefaultMapping")]),
        ('[{"rule_type":7}]', [("accounts[0].rule_type", "unknown rule_type 7 in rule 0")]),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"1","priority":"high"}]',
            [("accounts[0].priority", "must be an integer")],
        ),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"1","priority":true}]',
            [("accounts[0].priority", "must be an integer")],
        ),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"UPS"}]',
            [("accounts[0].ship_via", "'UPS' is not a Pace Ship Via id")],
        ),
        (
            '[{"rule_type":"DefaultMapping","account":["A"]}]',
            [
                ("accounts[0].account", "must be a string"),
                ("accounts[0]", "needs ship_via or account"),
            ],
        ),
        ('[{"rule_type":"DefaultMapping"}]', [("accounts[0]", "a DefaultMapping rule needs")]),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"","account":" "}]',
            [("accounts[0]", "a DefaultMapping rule needs ship_via or account")],
        ),
        (
            '[{"rule_type":"ShipmentMethodMapping","ship_via":"1"}]',
            [("accounts[0].source_method", "required: a shipping method name or 'MatchByName'")],
        ),
        (
            '[{"rule_type":"ShipmentMethodMapping","source_method":"Courier"}]',
            [("accounts[0].ship_via", "required unless source_method is MatchByName")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1"}]',
            [("accounts[0].source_address", "required for ShipmentAddressMapping")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1","source_address":[]}]',
            [("accounts[0].source_address", "must name at least one address segment")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1",'
            '"source_address":["a","b","c","d","e","f"]}]',
            [("accounts[0].source_address", "at most 5 entries")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1","source_address":"1 Main St"}]',
            [("accounts[0].source_address", "expected a list [Address1, Address2")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1","source_address":["a", 3.5]}]',
            [("accounts[0].source_address[1]", "must be a string")],
        ),
        (
            '[{"rule_type":"ShipmentAddressMapping","ship_via":"1",'
            '"source_address":{"street":"a"}}]',
            [("accounts[0].source_address.street", "unknown segment")],
        ),
        (
            '[{"rule_type":"DefaultMapping","ship_via":"1","shipvia":"2"}]',
            [("accounts[0].shipvia", "unknown key (known: rule_type, priority")],
        ),
    ],
)
def test_problems_name_the_rule_and_key(raw: object, expected: list[tuple[str, str]]) -> None:
    rules, problems = parse_account_rules(raw)
    assert [key for key, _ in problems] == [key for key, _ in expected]
    for (_, message), (_, wanted) in zip(problems, expected, strict=True):
        assert wanted in message
    # a rule with a problem is never returned half-understood
    flagged = {int(m.group(1)) for key, _ in problems if (m := re.match(r"accounts\[(\d+)\]", key))}
    assert not flagged & {rule.index for rule in rules}


def test_good_rules_survive_a_bad_neighbour() -> None:
    rules, problems = parse_account_rules(
        [{"rule_type": "Nope"}, {"rule_type": "DefaultMapping", "ship_via": "2"}]
    )
    assert [key for key, _ in problems] == ["accounts[0].rule_type"]
    assert [rule.index for rule in rules] == [1]


def test_the_key_path_prefix_is_the_callers() -> None:
    _, problems = parse_account_rules("[{}]", "settings.accounts")
    assert problems[0][0] == "settings.accounts[0].rule_type"

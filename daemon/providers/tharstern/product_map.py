"""The product map: which storefront product (and variant) becomes which Tharstern object, and
how its attribute values fill the estimate's parts and processes (seed 002).

Seed 002: "map Infigo products/variants and attributes to Tharstern estimate structures", "Map
products/variants and optionally use advanced mapping to shape estimate requests
(parts/processes and configurable mapping code)", "Map attribute values (not just whole
variants) for deeper product configuration alignment". Seed 000: products are "Tharstern
products" with an "item #" imported into Pressero; a stock product becomes a sales-order line.

`products` is an array of tables, one rule each:

    key            meaning                                                       default
    product        the storefront product: compared trimmed, case-insensitively  (required)
                   with the item's product integration id, its SKU (part
                   number) and its product name
    variant        a table attribute -> value: the rule is for the items whose   {} (any)
                   attributes have all these values (Pressero has no variants;
                   a storefront with variants sends the variant as attributes)
    stock_item     the Tharstern product code (item #) of a stock product: the   "" (one of
                   item becomes a line of a sales order (`orders/submit`)        the two)
    product_type   the Tharstern product type id: the item becomes an estimate   unset
                   request, then a job (`estrequest`, `job/createfromestimate`)
    attributes     array of tables: attribute value -> parts and processes       []
                   (below); product_type only
    operations     the advanced mapping (see `estimate_operations`);             []
                   product_type only

One of `stock_item` and `product_type` exactly. An item matching two rules takes the one with
the most `variant` conditions; between equals, the first written.

`attributes` entries (each applies when the item's `attribute` has `value`):

    attribute      the storefront attribute name (trimmed, case-insensitive)    (required)
    value          the value it applies to (trimmed, case-insensitive);        "" (any value)
                   "" or absent: any value the item has
    part           which part it edits: a part index (0 = the first) or its     0
                   Name in the example request
    paper_code     the part's PaperCode                                         -
    gsm            the part's GSM (a whole number)                              -
    pages          the part's Pages: a number, or "value" (the attribute's      -
                   value read as a number, e.g. Pages = "24")
    front_colours  the part's FrontProcess (colours on side 1): a number or     -
                   "value"
    back_colours   the part's BackProcess (colours on side 2): a number or      -
                   "value"
    quantity       the estimate's Quantity: a number or "value"                 -
    process        a finishing process added: a table of process_type_id       -
                   (required), cost_centre_id, outwork_id, material_code,
                   value (ids are installation-specific, seed 002: "the Tharstern
                   admin ... can provide product types, parts/processes")
    process_on_part  true: the process goes on the part, else on the product    false

Each entry must set at least one of paper_code, gsm, pages, front_colours, back_colours,
quantity and process.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from daemon.errors import cut, quoted
from daemon.providers.tharstern.estimate_operations import Operation, parse_operations

__all__ = [
    "FROM_VALUE",
    "AttributeRule",
    "NumberSetting",
    "ProcessSpec",
    "ProductRule",
    "parse_product_map",
]

#: the word that makes a number setting read the attribute's own value
FROM_VALUE: Final = "value"
NumberSetting = int | Literal["value"] | None

_RULE_KEYS: Final = ("product", "variant", "stock_item", "product_type", "attributes", "operations")
_ATTRIBUTE_KEYS: Final = (
    "attribute",
    "value",
    "part",
    "paper_code",
    "gsm",
    "pages",
    "front_colours",
    "back_colours",
    "quantity",
    "process",
    "process_on_part",
)
_EFFECTS: Final = (
    "paper_code",
    "gsm",
    "pages",
    "front_colours",
    "back_colours",
    "quantity",
    "process",
)
_PROCESS_KEYS: Final = ("process_type_id", "cost_centre_id", "outwork_id", "material_code", "value")
_INTEGER: Final = re.compile(r"[+-]?\d+")

Problems = list[tuple[str, str]]


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One Tharstern process to add (ids are the shop's own)."""

    process_type_id: int
    cost_centre_id: int | None = None
    outwork_id: int | None = None
    material_code: str = ""
    value: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class AttributeRule:
    """One attribute value's effect on the estimate request (None: not set by this rule)."""

    attribute: str
    value: str = ""  # "": any value
    #: where it was written, e.g. "products[0].attributes[2]", for error messages
    where: str = ""
    part: int | str = 0
    paper_code: str | None = None
    gsm: int | None = None
    pages: NumberSetting = None
    front_colours: NumberSetting = None
    back_colours: NumberSetting = None
    quantity: NumberSetting = None
    process: ProcessSpec | None = None
    process_on_part: bool = False

    def applies_to(self, attributes: Mapping[str, str]) -> str | None:
        """The item's value of this rule's attribute when the rule applies, else None."""
        found = _attribute(attributes, self.attribute)
        if not found:
            return None
        if self.value and found.strip().casefold() != self.value.casefold():
            return None
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class ProductRule:
    """One product rule; `index` is its place in `products`, for error messages."""

    index: int
    product: str
    variant: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stock_item: str = ""
    product_type: int | None = None
    attributes: tuple[AttributeRule, ...] = ()
    operations: tuple[Operation, ...] = ()

    def matches(self, product_keys: tuple[str, ...], attributes: Mapping[str, str]) -> bool:
        """True when one of the item's product keys is this rule's product and every variant
        condition holds."""
        wanted = self.product.casefold()
        if not any(key.strip().casefold() == wanted for key in product_keys if key):
            return False
        return all(
            (_attribute(attributes, name) or "").strip().casefold() == value.casefold()
            for name, value in self.variant.items()
        )


def parse_product_map(
    value: object, key: str = "products"
) -> tuple[tuple[ProductRule, ...], Problems]:
    """The product rules under `key` (an array of tables), and every problem in them."""
    if value is None:
        return (), []
    if not isinstance(value, list | tuple):
        return (), [
            (key, "expected an array of tables, each with product and stock_item or product_type")
        ]
    rules: list[ProductRule] = []
    problems: Problems = []
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for index, entry in enumerate(value):
        at = f"{key}[{index}]"
        rule = _rule(index, entry, at, problems)
        if rule is None:
            continue
        identity = (
            rule.product.casefold(),
            tuple(sorted((k.casefold(), v.casefold()) for k, v in rule.variant.items())),
        )
        if identity in seen:
            problems.append(
                (
                    at,
                    f"the same product and variant as {key}[{seen[identity]}] (which one wins "
                    "would be a guess)",
                )
            )
            continue
        seen[identity] = index
        rules.append(rule)
    return tuple(rules), problems


# -- reading ------------------------------------------------------------------------------------


def _rule(index: int, entry: object, at: str, problems: Problems) -> ProductRule | None:
    if not isinstance(entry, Mapping):
        problems.append((at, "expected a table with product and stock_item or product_type"))
        return None
    count = len(problems)
    _unknown(entry, _RULE_KEYS, at, problems)
    product = _text(entry.get("product"), f"{at}.product", problems)
    if not product and f"{at}.product" not in {p[0] for p in problems}:
        problems.append(
            (
                f"{at}.product",
                "required: the storefront product (integration id, part number or name)",
            )
        )
    variant = _variant(entry.get("variant"), f"{at}.variant", problems)
    stock_item = _text(entry.get("stock_item"), f"{at}.stock_item", problems)
    product_type = _integer(entry.get("product_type"), f"{at}.product_type", problems, minimum=1)
    if stock_item and product_type is not None:
        problems.append((at, "set stock_item or product_type, not both"))
    elif not stock_item and product_type is None and len(problems) == count:
        problems.append(
            (at, "set stock_item (a Tharstern product code) or product_type (a product type id)")
        )
    attributes: list[AttributeRule] = []
    raw_attributes = entry.get("attributes")
    if raw_attributes is not None:
        if not isinstance(raw_attributes, list | tuple):
            problems.append((f"{at}.attributes", "expected an array of tables"))
        else:
            for number, raw in enumerate(raw_attributes):
                rule = _attribute_rule(raw, f"{at}.attributes[{number}]", problems)
                if rule is not None:
                    attributes.append(rule)
    operations, operation_problems = parse_operations(entry.get("operations"), f"{at}.operations")
    problems += operation_problems
    if stock_item and (raw_attributes or entry.get("operations")):
        problems.append(
            (at, "attributes and operations shape an estimate request: they need product_type")
        )
    if len(problems) > count:
        return None
    return ProductRule(
        index=index,
        product=product,
        variant=variant,
        stock_item=stock_item,
        product_type=product_type,
        attributes=tuple(attributes),
        operations=operations,
    )


def _attribute_rule(entry: object, at: str, problems: Problems) -> AttributeRule | None:
    if not isinstance(entry, Mapping):
        problems.append((at, "expected a table with attribute, value and what it sets"))
        return None
    count = len(problems)
    _unknown(entry, _ATTRIBUTE_KEYS, at, problems)
    attribute = _text(entry.get("attribute"), f"{at}.attribute", problems)
    if not attribute:
        problems.append((f"{at}.attribute", "required: the storefront attribute's name"))
    value = _text(entry.get("value"), f"{at}.value", problems)
    part = _part(entry.get("part"), f"{at}.part", problems)
    paper_code = _text(entry.get("paper_code"), f"{at}.paper_code", problems) or None
    gsm = _integer(entry.get("gsm"), f"{at}.gsm", problems, minimum=1)
    numbers = {
        name: _number_setting(entry.get(name), f"{at}.{name}", problems)
        for name in ("pages", "front_colours", "back_colours", "quantity")
    }
    process = _process(entry.get("process"), f"{at}.process", problems)
    on_part = entry.get("process_on_part", False)
    if not isinstance(on_part, bool):
        problems.append((f"{at}.process_on_part", "must be true or false"))
        on_part = False
    if not any(entry.get(name) not in (None, "") for name in _EFFECTS) and len(problems) == count:
        problems.append((at, f"sets nothing: give at least one of {', '.join(_EFFECTS)}"))
    if len(problems) > count:
        return None
    return AttributeRule(
        attribute=attribute,
        where=at,
        value=value,
        part=part,
        paper_code=paper_code,
        gsm=gsm,
        pages=numbers["pages"],
        front_colours=numbers["front_colours"],
        back_colours=numbers["back_colours"],
        quantity=numbers["quantity"],
        process=process,
        process_on_part=on_part,
    )


def _process(value: object, at: str, problems: Problems) -> ProcessSpec | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(
            (
                at,
                "expected a table with process_type_id (and optionally "
                "cost_centre_id, outwork_id, material_code, value)",
            )
        )
        return None
    count = len(problems)
    _unknown(value, _PROCESS_KEYS, at, problems)
    type_id = _integer(value.get("process_type_id"), f"{at}.process_type_id", problems, minimum=0)
    if type_id is None and len(problems) == count:
        problems.append((f"{at}.process_type_id", "required: the Tharstern process type id"))
    cost_centre = _integer(value.get("cost_centre_id"), f"{at}.cost_centre_id", problems, minimum=0)
    outwork = _integer(value.get("outwork_id"), f"{at}.outwork_id", problems, minimum=0)
    material = _text(value.get("material_code"), f"{at}.material_code", problems)
    amount = value.get("value")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        amount = str(amount)
    amount_text = _text(amount, f"{at}.value", problems)
    if len(problems) > count or type_id is None:
        return None
    return ProcessSpec(type_id, cost_centre, outwork, material, amount_text)


def _unknown(entry: Mapping[Any, Any], known: tuple[str, ...], at: str, problems: Problems) -> None:
    for extra in sorted(str(k) for k in entry if k not in known):
        problems.append((f"{at}.{cut(extra)}", f"unknown key (known: {', '.join(known)})"))


def _text(value: object, at: str, problems: Problems) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.append((at, f"must be text, got {quoted(value)}"))
        return ""
    return value.strip()


def _integer(value: object, at: str, problems: Problems, *, minimum: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None:
        problems.append((at, f"must be a whole number, got {quoted(value)}"))
        return None
    if number < minimum:
        problems.append((at, f"must be at least {minimum}, got {number}"))
        return None
    return number


def _number_setting(value: object, at: str, problems: Problems) -> NumberSetting:
    if isinstance(value, str) and value.strip().casefold() == FROM_VALUE:
        return FROM_VALUE
    if isinstance(value, str) and value.strip() and not _INTEGER.fullmatch(value.strip()):
        problems.append((at, f'must be a whole number or "value", got {quoted(value)}'))
        return None
    return _integer(value, at, problems, minimum=0)


def _part(value: object, at: str, problems: Problems) -> int | str:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            problems.append((at, f"a part index is 0 or more, got {value}"))
            return 0
        return value
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.append(
        (at, f"expected a part index (0 = the first) or a part name, got {quoted(value)}")
    )
    return 0


def _variant(value: object, at: str, problems: Problems) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append((at, "expected a table: attribute name = value"))
        return {}
    variant: dict[str, str] = {}
    for name, wanted in value.items():
        text = _text(wanted, f"{at}.{cut(str(name))}", problems)
        if text:
            variant[str(name).strip()] = text
    return variant


def _attribute(attributes: Mapping[str, str], name: str) -> str | None:
    if name in attributes:
        return attributes[name]
    folded = name.strip().casefold()
    return next((v for k, v in attributes.items() if k.strip().casefold() == folded), None)

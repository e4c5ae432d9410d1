"""The Pressero sandbox's seed data and limits: the default sites and login, the standard
workflow's stages, the fault knobs, and the buyer and address book an order is placed with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, TypedDict

from daemon.storefronts.pressero import guesses as g

__all__ = [
    "CANCELLED_STAGE",
    "DEFAULT_PASSWORD",
    "DEFAULT_SITES",
    "DEFAULT_SUBSCRIBER_ID",
    "DEFAULT_USERNAME",
    "DENIED",
    "FAULT_KINDS",
    "FAULT_KNOBS",
    "FIRST_STAGE",
    "MAX_PAGE_SIZE",
    "PLACE_ORDER_ARGUMENTS",
    "SEARCH_COLUMNS",
    "SEARCH_OPERATORS",
    "STANDARD_STAGES",
    "STANDARD_WORKFLOW_ID",
    "UPDATABLE_ITEM_FIELDS",
    "WEBHOOK_TIMEOUT",
    "OrderOptions",
    "SandboxSite",
    "default_address_book",
    "default_site_user",
    "generated_files",
    "user_key",
]

DEFAULT_USERNAME = "esd@printshop.example"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_SUBSCRIBER_ID = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@dataclasses.dataclass(frozen=True, slots=True)
class SandboxSite:
    """One storefront site: its id (what webhooks carry), name, domain and webhook key."""

    site_id: str
    name: str
    domain: str
    security_key: str


DEFAULT_SITES = (
    SandboxSite(
        site_id="0d5e7c2a-9b1f-4e3d-8c6a-2f4b1e9d7a30",
        name="Print Shop",
        domain="printshop.chi.v6.pressero.com",
        security_key="sandbox-site-key",
    ),
)

#: the standard workflow's stages with the GUIDs seen in code (pressero.md §1.6)
STANDARD_WORKFLOW_ID = "1b0e6a8e-2f5c-4d7b-9a3e-5c8d7f6e4b21"  # invented: not public
STANDARD_STAGES: tuple[tuple[str, str], ...] = (
    ("Estimate Request", "fc5110e1-1c47-4b1c-a977-4dfec763f779"),
    ("Estimate Clarification", "13fd81b1-1b67-4e46-96b6-64207c33716e"),
    ("Quote", "e0261bc1-8276-4ac4-a456-169bf4be428b"),
    ("Quote Acceptance", "aece99d2-902f-4a49-873a-10f70cdec1c0"),
    ("Order Received", "39167ccd-c859-4d30-b496-bee8f8382f42"),
    ("Prepress", "4d03ab0c-5297-454d-ad9a-056ff6f7611d"),
    ("Press", "7769967f-dc67-492f-8fd1-2cbe0a41f270"),
    ("Bindery", "ba835391-5a41-4e74-a0ec-f2f87e7962c8"),
    ("Special", "9391a3aa-3082-4125-be88-33c76bcfdc5d"),
    ("Shipping", "bd7816e9-a22a-4c82-bc2d-d1a3c3711821"),
    ("Order Completed", "2cf71159-8770-4a66-8f43-cc58600cdddd"),
    ("Order Cancelled", "a61679f8-5518-431f-aab0-ba5e10c67203"),
)
FIRST_STAGE = "Order Received"
CANCELLED_STAGE = "Order Cancelled"

#: what one `fail_next` entry can do to the next matching /api request
FAULT_KINDS = ("drop", "drop_after_commit", "500", "503", "429", "401", "400", "drip", "huge")

#: fault knob -> default; `set_faults` / POST /_admin/faults change only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,  # answered 503 before acting
    "drop_rate": 0.0,  # connection cut before acting
    "token_ttl_seconds": 0,  # 0: tokens never expire
    "lost_webhook_rate": 0.0,  # storefront changes whose webhook is never sent
    "retry_after": 1,  # seconds, on 429
    "drip_interval_ms": 500,  # "drip": the answer's bytes this far apart (the act is done)
    "huge_bytes": 200_000_000,  # "huge": an answer this large, chunked, instead of acting
    "seed": 0,
    "fail_next": [],
}

DENIED = "Authorization has been denied for this request."  # ASP.NET Web API's words (guessed)
MAX_PAGE_SIZE = 100_000
WEBHOOK_TIMEOUT = 10.0
#: item fields a client may change with `PUT v2/Orders/{n}/Item/{item}` (pressero.md §1.4)
UPDATABLE_ITEM_FIELDS = (g.MIS_ID_FIELD, "OrderItemMISID", "JobNumber", "ItemNotes")
#: POST /_admin/orders: `place_order`'s arguments as JSON, and the type each must have
PLACE_ORDER_ARGUMENTS: Mapping[str, type] = {
    "items": list,
    "site": str,
    "paid": bool,
    "payment_method": str,
    "approved": bool,
    "order_date": str,
    "requested_ship_date": str,
    "user": dict,
    "site_user": dict,
    "address_book": dict,
    "header": dict,
    "emit": bool,
}
#: the search filters the sandbox understands: those seen in code (`guesses`, pressero.md §1.3)
SEARCH_COLUMNS = g.SEARCH_COLUMNS
SEARCH_OPERATORS = g.SEARCH_OPERATORS


class OrderOptions(TypedDict, total=False):
    """`PresseroSandbox.place_order`'s options; their defaults are `Store._place_order`'s."""

    site: str | None
    paid: bool
    payment_method: str
    approved: bool
    order_date: dt.datetime | str | None
    requested_ship_date: dt.date | str | None
    user: Mapping[str, Any] | None
    site_user: Mapping[str, Any] | None
    address_book: Mapping[str, Any] | None
    header: Mapping[str, Any] | None
    emit: bool


def user_key(site_id: str, user_id: str) -> str:
    return f"{site_id.casefold()}/{user_id.casefold()}"


def default_site_user(user_id: str, ordered_by: Mapping[str, Any]) -> dict[str, Any]:
    """The buyer as `GET site/{site}/users/{id}` shows them (g.USER_FIELDS, guessed names)."""
    return {
        g.USER_ID_FIELD: user_id,
        "Email": ordered_by["OrderedByEmail"],
        "FirstName": ordered_by["OrderedByFirstName"],
        "MiddleName": "Quinn",
        "LastName": ordered_by["OrderedByLastName"],
        "Title": "Purchasing Manager",
        "Telephone": "+1 217 555 0142",
        "CellPhone": "+1 217 555 0199",
        "IsActive": True,
        "Groups": [{"GroupName": "Everyone"}],
    }


def generated_files(domain: str, order_number: int, item_seq: int) -> list[dict[str, Any]]:
    """The item's print-ready files once eDocBuilder made them, in g.ITEM_FILES_FIELD's guessed
    shape: one production PDF on the site's domain (nothing serves it: a MIS only records it)."""
    name = f"{order_number}-{item_seq}-production.pdf"
    return [
        {
            g.ITEM_FILE_URL_FIELD: f"https://{domain}/edocfiles/{order_number}/{item_seq}/{name}",
            g.ITEM_FILE_NAME_FIELD: name,
        }
    ]


def default_address_book(user: Mapping[str, Any]) -> dict[str, Any]:
    """The buyer's address book: the office (preferred) and a home address."""
    office, home = str(uuid.uuid4()), str(uuid.uuid4())
    person = {
        "FirstName": user.get("FirstName", ""),
        "LastName": user.get("LastName", ""),
        "Email": user.get("Email", ""),
    }
    return {
        g.ADDRESS_BOOK_PREFERRED_FIELD: office,
        g.ADDRESS_BOOK_ADDRESSES_FIELD: [
            {
                g.ADDRESS_BOOK_ENTRY_ID_FIELD: office,
                **person,
                "Business": "Acme Corp",
                "Title": user.get("Title", ""),
                "Phone": user.get("Telephone", ""),
                "CellPhone": user.get("CellPhone", ""),
                "Address1": "400 Commerce Drive",
                "Address2": "Suite 210",
                "Address3": "Attn: Purchasing",
                "City": "Springfield",
                "StateProvince": "IL",
                "Postal": "62704",
                "Country": "US",
            },
            {
                g.ADDRESS_BOOK_ENTRY_ID_FIELD: home,
                **person,
                "Business": "",
                "Title": "",
                "Phone": "",
                "CellPhone": user.get("CellPhone", ""),
                "Address1": "12 Elm Street",
                "Address2": "",
                "Address3": "",
                "City": "Chatham",
                "StateProvince": "IL",
                "Postal": "62629",
                "Country": "US",
            },
        ],
    }

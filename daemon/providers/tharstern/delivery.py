"""Delivery addresses, contacts and artwork attachments as Tharstern bodies (issue 14: "delivery
addresses created (`address/create`) and contacts as needed"; "the item's print-ready file URLs
attached to the job (`attachments`, `Content_URL`), once"). Pure: the I/O half looks up, creates
and journals; this module only says what to send and under which deterministic code.

- `address_code`: the `Code` of a delivery address esd creates, derived from the push reference
  and the ship-to address (compared trimmed, case-insensitively), so a retry after a lost answer
  asks for the same code and finds the address it made; two items shipping to one place share
  one address. "E" + 11 hex digits: short, as customer codes are ([GUESS] Tharstern's length
  limit on codes is not public; ROIOrders' sample codes are 6 characters).
- `address_body`: `POST address/create` ([CODE] ROIOrders `TharDeliveryAddress`):
  `{CustomerCode, Code, Name, Address{AddressLines[], City, Region, Country, Postcode,
  Telephone, Fax}, Contact, ContactEmail}`; empty address lines are left out.
- `contact_body`: `POST contacts` ([CODE] ROIOrders): `{Items:[{Name, CustomerCode, Email,
  Telephone, Mobile}]}` for the buyer, when `GET contacts?customerCode=` has none with the
  buyer's e-mail (`has_contact`).
- `artwork_body`: `POST attachments` ([CODE] ROIOrders `TharAttachment`): one item per file
  URL, `ModuleType.Value` 2 (job), `Type.Value` 10 ("all content", used for artwork),
  `RecordNo` the job number, `Content_URL` the file's URL; the file name is the URL's last
  path segment. The storefront order model carries no file URLs yet: the caller passes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from daemon.orders.model import Address, SiteUser

__all__ = [
    "address_body",
    "address_code",
    "artwork_body",
    "contact_body",
    "has_contact",
    "person_name",
]

#: [CODE] ROIOrders' enum comments: ModuleType 2 = job; attachment Type 10 = "all content"
JOB_MODULE: Final = 2
ARTWORK_TYPE: Final = 10


def person_name(address: Address) -> str:
    """First (middle) last, else the business, else the e-mail."""
    name = " ".join(
        p.strip() for p in (address.first_name, address.middle_name, address.last_name) if p.strip()
    )
    return name or address.business.strip() or address.email.strip()


def address_code(reference: str, address: Address) -> str:
    """The code of the delivery address esd creates for `address` under this push reference."""
    identity = "\x1f".join(
        part.strip().casefold()
        for part in (
            reference,
            address.business,
            address.first_name,
            address.last_name,
            address.address1,
            address.address2,
            address.address3,
            address.city,
            address.state,
            address.zip,
            address.country,
        )
    )
    return "E" + hashlib.sha256(identity.encode()).hexdigest()[:11].upper()


def address_body(customer_code: str, code: str, address: Address) -> dict[str, Any]:
    """The `address/create` body of a delivery address under `customer_code`."""
    lines = [line.strip() for line in (address.address1, address.address2, address.address3)]
    return {
        "CustomerCode": customer_code,
        "Code": code,
        "Name": address.business.strip() or person_name(address),
        "Address": {
            "AddressLines": [line for line in lines if line],
            "City": address.city.strip(),
            "Region": address.state.strip(),
            "Country": address.country.strip(),
            "Postcode": address.zip.strip(),
            "Telephone": (address.phone or address.cell_phone).strip(),
            "Fax": "",
        },
        "Contact": person_name(address),
        "ContactEmail": address.email.strip(),
    }


def has_contact(contacts: Sequence[Mapping[str, Any]], email: str) -> bool:
    """True when one of the customer's contacts (`GET contacts?customerCode=` items) has this
    e-mail (trimmed, case-insensitively). No e-mail: True (nothing to match or create by)."""
    wanted = email.strip().casefold()
    if not wanted:
        return True
    return any(str(c.get("Email") or "").strip().casefold() == wanted for c in contacts)


def contact_body(customer_code: str, user: SiteUser) -> dict[str, Any]:
    """The `POST contacts` body for the buyer under `customer_code`."""
    name = " ".join(
        p.strip() for p in (user.first_name, user.middle_name, user.last_name) if p.strip()
    )
    return {
        "Items": [
            {
                "Name": name or user.email.strip(),
                "CustomerCode": customer_code,
                "Email": user.email.strip(),
                "Telephone": user.phone.strip(),
                "Mobile": user.cell_phone.strip(),
            }
        ]
    }


def artwork_body(job_no: str, urls: Sequence[str], details: str = "") -> dict[str, Any]:
    """The `POST attachments` body attaching each file URL to the job, in order, each once."""
    return {
        "Items": [
            {
                "Filename": _file_name(url, index),
                "ModuleType": {"Value": JOB_MODULE},
                "RecordNo": job_no,
                "Type": {"Value": ARTWORK_TYPE},
                "Details": details,
                "Content_URL": url,
            }
            for index, url in enumerate(dict.fromkeys(u.strip() for u in urls if u.strip()))
        ]
    }


def _file_name(url: str, index: int) -> str:
    path = urlsplit(url).path
    name = unquote(path.rsplit("/", 1)[-1]) if path else ""
    return name or f"artwork-{index + 1}"

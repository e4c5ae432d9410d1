"""The `address/create` body of an item's ship-to (pure; ROIOrders `TharDeliveryAddress`, ref
1.5: `{CustomerCode, Code, Name, Address{AddressLines[], City, Region, Country, Postcode,
Telephone, Fax}, Contact, ContactEmail}`), and the `contacts` body of the buyer (ROIOrders:
`{Name, CustomerCode, Email, Telephone, Mobile}`)."""

from __future__ import annotations

from typing import Any

from daemon.orders.model import Address, SiteUser

__all__ = ["address_body", "contact_body", "has_address"]


def has_address(address: Address) -> bool:
    """Is there a postal address to deliver to (at least a first line)?"""
    return bool(address.address1.strip())


def address_body(customer_code: str, code: str, address: Address) -> dict[str, Any]:
    """The delivery address `code` under `customer_code`: named by the business, else the
    person; the telephone falls back to the cell phone."""
    person = " ".join(p for p in (address.first_name, address.middle_name, address.last_name) if p)
    return {
        "CustomerCode": customer_code,
        "Code": code,
        "Name": address.business or person or code,
        "Address": {
            "AddressLines": [
                line.strip()
                for line in (address.address1, address.address2, address.address3)
                if line.strip()
            ],
            "City": address.city,
            "Region": address.state,
            "Country": address.country,
            "Postcode": address.zip,
            "Telephone": address.phone or address.cell_phone,
            "Fax": "",
        },
        "Contact": person,
        "ContactEmail": address.email,
    }


def contact_body(customer_code: str, user: SiteUser) -> dict[str, Any]:
    """The buyer as a contact of `customer_code`: named first, middle and last (else the
    e-mail); the phones from the user, else from the user's address."""
    name = " ".join(p for p in (user.first_name, user.middle_name, user.last_name) if p)
    return {
        "Name": name or user.email,
        "CustomerCode": customer_code,
        "Email": user.email,
        "Telephone": user.phone or user.address.phone,
        "Mobile": user.cell_phone or user.address.cell_phone,
    }

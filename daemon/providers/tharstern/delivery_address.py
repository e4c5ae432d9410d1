"""The `address/create` body of an item's ship-to (pure; ROIOrders `TharDeliveryAddress`, ref
1.5: `{CustomerCode, Code, Name, Address{AddressLines[], City, Region, Country, Postcode,
Telephone, Fax}, Contact, ContactEmail}`)."""

from __future__ import annotations

from typing import Any

from daemon.orders.model import Address

__all__ = ["address_body", "has_address"]


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

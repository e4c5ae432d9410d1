"""The Tharstern sandbox's fixed data: customers (the API cannot create one), products and
product types, and the example estimate request of each type (ref 1.8's fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.providers.tharstern import guesses as g

__all__ = ["DEFAULT_CUSTOMERS", "DEFAULT_PRODUCTS", "PRODUCT_TYPES", "example_request"]


#: customer code -> name; estimates and orders may only be booked to these (no create)
DEFAULT_CUSTOMERS: Mapping[str, str] = {
    "ESP001": "Esprit Print Buyers",
    "NWM002": "Northwind Marketing",
    "ACME01": "Acme Corporation",
}

#: product type id -> (name, its parts: (part id, name, pages, paper code, GSM))
PRODUCT_TYPES: Mapping[int, tuple[str, tuple[tuple[int, str, int, str, int], ...]]] = {
    12: ("Flyers", ((1201, "Flyer", 2, "SILK150", 150),)),
    14: ("Brochures", ((1401, "Cover", 4, "SILK300", 300), (1402, "Text", 12, "SILK130", 130))),
}

#: the catalogue: ID, Code, Description, ProductTypes_ID (0: a stock item)
DEFAULT_PRODUCTS: tuple[Mapping[str, Any], ...] = (
    {"ID": 501, "Code": "BC-STOCK", "Description": "Business cards, boxed", g.PRODUCT_TYPE_ID: 0},
    {"ID": 502, "Code": "LH-STOCK", "Description": "Letterheads, ream", g.PRODUCT_TYPE_ID: 0},
    {"ID": 503, "Code": "PEN-BLUE", "Description": "Branded pen, blue", g.PRODUCT_TYPE_ID: 0},
    {"ID": 601, "Code": "FLYER-A5", "Description": "A5 flyers", g.PRODUCT_TYPE_ID: 12},
    {"ID": 602, "Code": "BROCH-A4", "Description": "A4 brochures", g.PRODUCT_TYPE_ID: 14},
)


def example_request(product_type_id: int) -> dict[str, Any]:
    """The sample estimate request `EstRequest/{id}/Example` answers (ref 1.8's fields)."""
    name, parts = PRODUCT_TYPES[product_type_id]
    return {
        "Title": name,
        "ProductTypeId": product_type_id,
        "Quantity": 100,
        "RequiredDateTime": None,
        "JobType": "LITHO",
        **{f"Ref{i}": "" for i in range(1, 11)},
        "TotalPrice": None,
        "FinishedSize": {"Code": "A4"},
        "Customer": {
            "Code": "",
            "Name": "",
            "Contact": "",
            "ContactEmail": "",
            "Address": {
                "AddressLines": [],
                "City": "",
                "Region": "",
                "Country": "",
                "Postcode": "",
                "Telephone": "",
                "Fax": "",
            },
        },
        "DeliveryCustomer": {"Code": ""},
        "Orientation": {"Value": 0, "EnumType": "OrientationEnum"},
        "BindingSide": {"Value": 0, "EnumType": "BindingSideEnum"},
        "Parts": [
            {
                "ProductTypePartId": part_id,
                "Name": part_name,
                "Pages": pages,
                "PaperCode": paper,
                "GSM": gsm,
                "FrontProcess": "4",
                "BackProcess": "4",
                "Processes": [],
            }
            for part_id, part_name, pages, paper, gsm in parts
        ],
        "Processes": [],
    }

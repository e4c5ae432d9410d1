"""Shared samples of the Tharstern mapping tests: a full account's settings (as esd.toml writes
them), an example estimate request, and a small order.

The example estimate request is not a recorded answer (no Tharstern install was at hand): it is
built from the fields `rupeshkumaresp/ROIOrders` `ROI/Model/TharEstimateRequest.cs` reads and
writes (reference tharstern_presswise.md §1.8), with installation-specific ids made up.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal
from typing import Any, Final

from daemon.orders.model import Address, Approval, Order, OrderItem, Payment, SiteUser

#: a full account, every setting set (the report's TOML example; test_settings parses it)
FULL_ACCOUNT_TOML: Final = """
[accounts.tharstern]
provider = "tharstern"
status_poll_seconds = 3600

[accounts.tharstern.storefront_stages]
"In Production" = "In Production"
Despatched = "Shipped"

[accounts.tharstern.settings]
application_id = "esd-acme-shop"
products_customer_code = "WEB001"
customer_code = "WEB002"
stock_from_sku = true
price_mode = "price_with_tax_and_shipping"
price_includes_tax = false
price_includes_shipping = true
price_stock_items = false
dispatch_days = 2
holidays = "2024-12-25|2024-12-26"
dispatch_skips_weekends = true
initial_status = "Web Order"
final_statuses = ["Despatched", "Invoiced", "Cancelled"]
production_ready = true
submit_to_workflow = false
poll_fallback = true
alert_emails = "ops@print.example"
timeout_seconds = 20
call_deadline_seconds = 60
max_answer_bytes = 1048576

[accounts.tharstern.settings.department_codes]
Marketing = "ACME-MKT"

[accounts.tharstern.settings.group_codes]
"Acme Buyers" = "ACME01"

[accounts.tharstern.settings.status_names]
"40" = "In Production"
Dispatched = "Despatched"

[accounts.tharstern.settings.webhook_fields]
job_no = "Job.JobNo"
tracking = "Delivery.TrackingNumbers"

[[accounts.tharstern.settings.operations]]
op = "copy"
path = "Ref3"
from = "item.po_number"

[[accounts.tharstern.settings.products]]
product = "BC-STD"
stock_item = "BC-STD-100"

[[accounts.tharstern.settings.products]]
product = "Flyers"
product_type = 12

[[accounts.tharstern.settings.products.attributes]]
attribute = "Paper"
value = "Silk 150"
paper_code = "SILK150"
gsm = 150

[[accounts.tharstern.settings.products.attributes]]
attribute = "Colours"
value = "4/4"
front_colours = 4
back_colours = 4

[[accounts.tharstern.settings.products.attributes]]
attribute = "Lamination"
value = "Matt"
process = { process_type_id = 12, material_code = "MATT-LAM" }

[[accounts.tharstern.settings.products.operations]]
op = "append_process"
process = { ProcessTypeID = 13 }

[[accounts.tharstern.settings.products]]
product = "Booklet"
variant = { Size = "A5" }
product_type = 14

[[accounts.tharstern.settings.products.attributes]]
attribute = "Pages"
part = "Text"
pages = "value"

[sites.shop]
name = "Acme Shop"

[[sites.shop.activations]]
account = "tharstern"

[sites.shop.activations.settings]
customer_code = "SHOP01"
dispatch_days = 5

[sites.shop.activations.settings.department_codes]
Sales = "ACME-SALES"
"""

_DOC: Final = tomllib.loads(FULL_ACCOUNT_TOML)
#: the account's settings table, as the config reader hands it to the provider
FULL_SETTINGS: Final[dict[str, Any]] = _DOC["accounts"]["tharstern"]["settings"]
#: the site activation's settings table
SITE_SETTINGS: Final[dict[str, Any]] = _DOC["sites"]["shop"]["activations"][0]["settings"]
#: the least an account needs (seed 000: "CustomerCode used for Tharstern products")
MINIMAL_SETTINGS: Final[dict[str, Any]] = {"products_customer_code": "WEB001"}


def example_request() -> dict[str, Any]:
    """`GET EstRequest/12/Example`'s Details: a two-part product with one process."""
    return {
        "Title": "Example",
        "ProductTypeId": 12,
        "Quantity": 100,
        "RequiredDateTime": "01-Jan-24",
        "JobType": "WEB-LITHO",
        "Ref1": "",
        "Ref2": "",
        "Customer": {"Code": "EXAMPLE", "Name": "Example Customer"},
        "DeliveryCustomer": {"Code": ""},
        "FinishedSize": {"Code": "A4"},
        "Parts": [
            {
                "ProductTypePartId": 1,
                "Name": "Cover",
                "Pages": 4,
                "PaperCode": "GLOSS300",
                "GSM": 300,
                "FrontProcess": "4",
                "BackProcess": "0",
                "Processes": [],
            },
            {
                "ProductTypePartId": 2,
                "Name": "Text",
                "Pages": 16,
                "PaperCode": "SILK130",
                "GSM": 130,
                "FrontProcess": "4",
                "BackProcess": "4",
                "Processes": [],
            },
        ],
        "Processes": [{"ProcessTypeID": 20, "Value": "1"}],
    }


SHIP_TO: Final = Address(
    first_name="Sam", last_name="Rivera", address1="1 High St", city="Leeds", zip="LS1 1AA"
)


def item(seq: int, **changes: Any) -> OrderItem:
    """An approved item (override any field)."""
    fields: dict[str, Any] = {
        "seq": seq,
        "item_id": f"it-{seq}",
        "product_name": "Flyers",
        "quantity": 500,
        "price": Decimal("120.00"),
        "ship_to": SHIP_TO,
    }
    fields.update(changes)
    return OrderItem(**fields)


def order(*items: OrderItem, **changes: Any) -> Order:
    """A paid order of `items` (override any field)."""
    fields: dict[str, Any] = {
        "site": "shop",
        "order_number": "1001",
        "order_id": "o-1001",
        "site_name": "Acme Shop",
        "order_date": dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC),  # a Monday
        "payment": Payment.PAID,
        "user": SiteUser(email="sam@acme.example", first_name="Sam", last_name="Rivera"),
        "items": items,
        "shipping": Decimal("10.00"),
        "tax": Decimal("24.00"),
    }
    fields.update(changes)
    return Order(**fields)


DENIED: Final = Approval.DENIED

"""Every Tharstern name no public reference confirms, one constant each, with its evidence.

Evidence labels (as in ../shared/reference/tharstern_presswise.md): [DOC] a vendor or partner
page says so; [CODE] seen in public open-source code that calls the API (repository and path
given); [GUESS] esd's inference, to be confirmed against a real install.
"""

from __future__ import annotations

from typing import Final

# --- estimate request and webhook payload (pure mapping) --------------------------------------
#
# Used by the pure modules `estimate_request`, `sales_order`, `status_mapping` and
# `webhook_payload` (owned with them; the I/O half's guesses are above this section). Paths are
# written in the `json_paths` syntax (`A.B`, `Parts[0].Pages`).

# The estimate request (`POST estrequest`), edited from `GET EstRequest/{productType}/Example`.
# All [CODE]: rupeshkumaresp/ROIOrders `ROI/Model/TharEstimateRequest.cs` (reference §1.8).
#: the request's title: esd writes "<order number>-<item seq> <product name>"
ESTIMATE_TITLE: Final = "Title"
#: the Tharstern product type the request is for
ESTIMATE_PRODUCT_TYPE: Final = "ProductTypeId"
#: the quantity of the whole product
ESTIMATE_QUANTITY: Final = "Quantity"
#: the date the job is required ([CODE] the client sends "dd-MMM-yy", e.g. "05-Jun-24")
ESTIMATE_REQUIRED_DATE: Final = "RequiredDateTime"
#: the format of `ESTIMATE_REQUIRED_DATE` ([CODE] ROIOrders formats it "dd-MMM-yy")
ESTIMATE_DATE_FORMAT: Final = "%d-%b-%y"
#: the invoice customer's code
ESTIMATE_CUSTOMER_CODE: Final = "Customer.Code"
#: the delivery address's code (made by `address/create`); the I/O half fills it
ESTIMATE_DELIVERY_CODE: Final = "DeliveryCustomer.Code"
#: free reference fields; esd writes the push reference into Ref1 and the order number into
#: Ref2, so an estimate made by a lost answer is found again ([CODE] ROIOrders fills Ref1/Ref2)
ESTIMATE_REF_PUSH: Final = "Ref1"
ESTIMATE_REF_ORDER: Final = "Ref2"
#: the price forced on the estimate ([CODE] ROIOrders sets `TotalPrice` to force a price)
ESTIMATE_TOTAL_PRICE: Final = "TotalPrice"
#: the parts list and the fields of one part ([CODE])
ESTIMATE_PARTS: Final = "Parts"
PART_NAME: Final = "Name"
PART_PAGES: Final = "Pages"
PART_PAPER_CODE: Final = "PaperCode"
PART_GSM: Final = "GSM"
#: process colours per side, a count written as text ([CODE] e.g. "4")
PART_FRONT_COLOURS: Final = "FrontProcess"
PART_BACK_COLOURS: Final = "BackProcess"
PART_QUANTITY: Final = "Quantity"
#: processes of the product (top level) or of a part; the fields of one process ([CODE])
ESTIMATE_PROCESSES: Final = "Processes"
PROCESS_TYPE_ID: Final = "ProcessTypeID"
PROCESS_COST_CENTRE_ID: Final = "CostCentreID"
PROCESS_OUTWORK_ID: Final = "OutworkID"
PROCESS_MATERIAL_CODE: Final = "MaterialCode"
PROCESS_VALUE: Final = "Value"

# `POST job/createfromestimate` ([CODE] ROIOrders `TharJobFromEstimate`).
JOB_ESTIMATE_ID: Final = "EstimateID"
JOB_REF_PUSH: Final = "Ref1"
JOB_REF_ORDER: Final = "Ref2"
JOB_PRODUCTION_READY: Final = "SetAsProductionReady"
JOB_SUBMIT_TO_WORKFLOW: Final = "SubmitToWorkflow"

# `POST orders/submit` ([CODE] ROIOrders `CreateSalesOrderAsync`, reference §1.9).
ORDER_LIST: Final = "Orders"
ORDER_UNIQUE_ID: Final = "UniqueSubmitOrderID"
ORDER_CUSTOMER_CODE: Final = "InvoiceCustomer.Code"
ORDER_REQUIRED_DATE: Final = "RequiredDate"
ORDER_DATE: Final = "OrderDate"
#: the order's references: the storefront order number goes in Ref1 (orders are found again
#: "by order number"), the push reference in Ref2 ([CODE] the fields; their use [GUESS])
ORDER_REF_NUMBER: Final = "Ref1"
ORDER_REF_PUSH: Final = "Ref2"
ORDER_ITEMS: Final = "Items"
LINE_STOCK_ITEM_ID: Final = "StockItemID"
LINE_QUANTITY: Final = "Quantity"
#: an estimate-driven line's estimate ([CODE])
LINE_ESTIMATE_ID: Final = "EstimateID"
LINE_REF_SEQ: Final = "Ref1"
LINE_REF_ITEM: Final = "Ref2"
#: [GUESS] a line's total price; no client sends one (Infigo "Send price in orderline" says one
#: can be sent, providers_more.md §9); named after the estimate request's `TotalPrice` [CODE]
LINE_TOTAL_PRICE: Final = "TotalPrice"
#: [GUESS] the order's delivery address code; ROIOrders puts it on the estimate instead
ORDER_DELIVERY_CODE: Final = "DeliveryCustomer.Code"
#: [GUESS] an order's initial status (seed 000: "Initial Order Status. Can a specific status be
#: set when an order is sent to Tharstern? Yes"); the field name is not public
ORDER_INITIAL_STATUS: Final = "Status"

# The status / delivery webhook ([NOT FOUND] anywhere public, reference §1.12: "Webhook event
# names, payload JSON, signing/auth ... must come from Tharstern"). Every name below is a
# [GUESS]; the account's `webhook_fields` setting overrides each one without a release.
# The shape assumed: one JSON object per event, e.g.
#   {"EventId": "8c1…", "EventType": "JobStatusChanged", "JobNo": "J12345",
#    "Status": "Despatched", "TrackingNumbers": ["1Z…"], "DespatchDate": "2024-06-05T10:00:00Z"}
# or a delivery event with `ConsignNote` (the DeliveryNote column that holds the consignment
# number, [CODE] ROIOrders `ROI/Entity/DeliveryNote.cs`).
#: the id of the event, the same on a redelivery (the dedupe key)
WEBHOOK_EVENT_ID: Final = "EventId"
#: the event's kind (informative; esd reads status and tracking from any kind)
WEBHOOK_EVENT_TYPE: Final = "EventType"
#: the Tharstern job number (what esd stores as an estimate item's external id)
WEBHOOK_JOB_NO: Final = "JobNo"
#: the sales order number (what esd stores as a stock line's order id), for order events
WEBHOOK_ORDER_NO: Final = "OrderNo"
#: the job or order status, as its name
WEBHOOK_STATUS: Final = "Status"
#: the tracking numbers: a list, or one text (`ConsignNote` on a delivery note)
WEBHOOK_TRACKING: Final = "TrackingNumbers"
WEBHOOK_CONSIGNMENT: Final = "ConsignNote"
#: when it was despatched (ISO 8601)
WEBHOOK_SHIPPED_AT: Final = "DespatchDate"

#: [GUESS] Tharstern statuses after which nothing changes any more (the poll and webhook stop
#: caring); the `final_statuses` setting replaces the list
FINAL_STATUSES: Final = ("Despatched", "Delivered", "Invoiced", "Completed", "Cancelled")

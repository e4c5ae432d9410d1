"""Every Tharstern API name esd uses that no public reference confirms, one constant each.

Tharstern publishes no API reference (LintPDF: "specific API documentation is not publicly
available"). What is known comes from two open-source clients, `peczuh/tharstern`
(`src/API.php`) and `rupeshkumaresp/ROIOrders` (`TharsternAPI/UnitTester/APIEngine.cs`,
`ROI/TharsternEngine.cs`, `ROI/Model/*.cs`), collected with evidence labels in
`shared/reference/tharstern_presswise.md` (sections 1.3-1.12, cited below as "ref 1.x") and
`providers_more.md` section 10. Labels:

- DOC   stated on a vendor or partner page (Aleyant, Infigo);
- CODE  seen in a public client that calls the API (how it behaves in practice, not official);
- GUESS inferred; confirm against a real install (what would confirm it is said).

The client (`client.py`) and the sandbox (`sandbox.py`) both read these constants, so a name
that turns out wrong is changed here once, and the sandbox follows.
"""

from __future__ import annotations

import base64
from typing import Final

__all__ = [
    "ADDRESSES_PATH",
    "ADDRESS_CREATE_PATH",
    "API_ROOT",
    "ATTACHMENTS_PATH",
    "ATTACHMENT_MODULE_ESTIMATE",
    "ATTACHMENT_MODULE_JOB",
    "ATTACHMENT_TYPE_ARTWORK",
    "BAD_CREDENTIALS_TOKEN",
    "CREATED_ADDRESS_ID",
    "CUSTOMERS_PATH",
    "ENVELOPE_DETAILS",
    "ENVELOPE_STATUS",
    "ENVELOPE_SUCCESS",
    "ESTIMATES_PATH",
    "ESTIMATE_EXAMPLE_PATH",
    "ESTIMATE_REQUEST_PATH",
    "ITEMS",
    "JOBS_PATH",
    "JOB_FROM_ESTIMATE_PATH",
    "JOB_UPDATE_PATH",
    "KEYWORD_PARAM",
    "MODEL_STATE",
    "ORDERS_PATH",
    "ORDER_SUBMIT_PATH",
    "PROBLEMS",
    "PRODUCTS_PATH",
    "SUCCESS_FALSE_ALTHOUGH_CREATED",
    "TOKEN_FIELD",
    "TOKEN_PATH",
    "TOTAL_ITEM_COUNT",
    "WEBHOOK_SECRET_HEADER",
    "token_authorization",
]

# -- where the API lives ------------------------------------------------------------------------

#: CODE (peczuh `sprintf('http://%s:%s/TharsternAPI/api', ...)`; ROIOrders `APIUrl` =
#: `http://<server>/tharsternapi` + "/api/"), ref 1.2. The account's `url` is the server
#: ("Tharstern Server URL (https)", seed 000); the client appends this unless the url already
#: ends in it or in `/TharsternAPI` (routes are case-insensitive on IIS: GUESS).
API_ROOT = "/TharsternAPI/api"

# -- authentication -----------------------------------------------------------------------------

#: CODE (both clients), ref 1.3: GET with query `email`, `password`, `applicationId`
TOKEN_PATH = "authentication/GenerateAPIToken"
#: CODE: the token is `Details.Token`, a GUID
TOKEN_FIELD = "Token"
#: CODE (peczuh throws `AuthenticationFailed` on it), ref 1.3: bad e-mail, password or
#: application id give this token and Success true; it is not an HTTP error
BAD_CREDENTIALS_TOKEN = "00000000-0000-0000-0000-000000000000"


def token_authorization(token: str) -> str:
    """The Authorization header value for `token`.

    CODE, two variants seen (ref 1.3): peczuh sends `Basic base64(token)`, ROIOrders
    `Basic base64(token + ":")` (the token as the Basic user, no password). GUESS: the server
    reads the part before ":", so the ROIOrders form (a well-formed Basic value) is sent; the
    sandbox accepts both. Confirm on an install: both should answer 200.
    """
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode("ascii")


# -- the answer envelope ------------------------------------------------------------------------

#: CODE, ref 1.4: every answer is `{"Status": {"Success": bool, ...}, "Details": {...}}`
ENVELOPE_STATUS = "Status"
ENVELOPE_SUCCESS = "Success"
ENVELOPE_DETAILS = "Details"
#: GUESS: `Status.Message` carries a readable reason when Success is false (the clients only
#: read Success; a message key is what ASP.NET APIs usually add). Read when present.
ENVELOPE_MESSAGE = "Message"
#: CODE, ref 1.4: list answers are `Details.Items[]` with `Details.TotalItemCount`
ITEMS = "Items"
TOTAL_ITEM_COUNT = "TotalItemCount"
#: CODE (peczuh `estrequest()`), ref 1.4: an estimate's business errors, a list of strings
PROBLEMS = ("Result", "Problems")
#: CODE, ref 1.4 / GUESS (the ASP.NET shape): a 400 answers
#: `{"Message": "...", "ModelState": {"estRequestProduct.Quantity": ["..."]}}`
MODEL_STATE = "ModelState"
#: CODE (ROIOrders `TharsternEngine.cs`: "THARSTERNS RETURNS SUCESS FALSE WHEN EST IS
#: CREATED"), ref 1.4 and providers_more 10: `estrequest` may answer Success false although it
#: made the estimate. esd does not retry on it: it looks the estimate up by its push reference
#: (`ESTIMATES_PATH` with `KEYWORD_PARAM`), as ROIOrders does with `estimates?keyword=`.
SUCCESS_FALSE_ALTHOUGH_CREATED = True

# -- endpoints (relative to the API root; CODE unless said, ref 1.5) ----------------------------

#: GET `?productCode=` -> Items[0].ID (the StockItemID), .ProductTypes_ID (non-zero: estimate)
PRODUCTS_PATH = "products"
PRODUCT_CODE_PARAM = "productCode"
PRODUCT_ID = "ID"
PRODUCT_TYPE_ID = "ProductTypes_ID"
#: GUESS (ref 1.6 "NOT FOUND"): the product's code and name in a products item
PRODUCT_CODE = "Code"
PRODUCT_NAME = "Description"
#: GET -> Details = a full sample estimate request for the product type (ROIOrders
#: `RetrieveEstRequestSampleAsync`)
ESTIMATE_EXAMPLE_PATH = "EstRequest/{product_type}/Example"
#: POST an estimate request -> Details.Estimate.ID, .EstimateRef; errors Details.Result.Problems
ESTIMATE_REQUEST_PATH = "estrequest"
CREATED_ESTIMATE = ("Estimate", "ID")
CREATED_ESTIMATE_REF = ("Estimate", "EstimateRef")
#: GET `?keyword=` -> Items[] (ID, EstimateRef). GUESS: the keyword matches the Title and the
#: Ref1..Ref10 fields, and each item carries `Ref1`/`Ref2` back, so esd filters exactly on them
ESTIMATES_PATH = "estimates"
KEYWORD_PARAM = "keyword"
#: POST `{EstimateID, Ref1, Ref2, SetAsProductionReady, SubmitToWorkflow}` -> Details.JobNo
#: (ROIOrders `TharJobFromEstimate`; where JobNo sits in Details: GUESS `Details.JobNo`, also
#: read from `Details.Job.JobNo`)
JOB_FROM_ESTIMATE_PATH = "job/createfromestimate"
CREATED_JOB_NO = "JobNo"
#: GET `?jobNo=` or `?id=` -> Items[]. GUESS: `?keyword=` works as on `estimates` (for the
#: look-up of a job an earlier attempt made), items carry `JobNo`, `Ref1`, `Ref2`, `EstimateID`
JOBS_PATH = "jobs"
JOB_NO_PARAM = "jobNo"
#: POST job JSON -> Details.UpdatedJob (peczuh `updateJob()`; fields not shown). GUESS:
#: `{"JobNo": n, "StatusDescription": "..."}` sets the initial status (seed 000: "Initial
#: Order Status ... Yes")
JOB_UPDATE_PATH = "job/update"
#: POST `{"Orders": [{UniqueSubmitOrderID, InvoiceCustomer{Code}, RequiredDate, OrderDate,
#: Ref1, Ref2, Items[{StockItemID, Quantity, Ref1, Ref2}]}]}` -> Details.Orders[].ID (0 means
#: failed, the reason in .StatusDetails) (ROIOrders `CreateSalesOrderAsync`, peczuh
#: `salesorder_post()`)
ORDER_SUBMIT_PATH = "orders/submit"
SUBMITTED_ORDERS = "Orders"
SUBMITTED_ORDER_ID = "ID"
SUBMITTED_ORDER_DETAILS = "StatusDetails"
#: GET `?orderIDs=` / `?orderNOs=` -> Items[]. GUESS: `?keyword=` matches the order's Ref1/Ref2
#: (esd puts the storefront order number in Ref2: "orders by order number"), and items carry
#: `ID`, `OrderNo`, `Ref1`, `Ref2`, `Status`
ORDERS_PATH = "orders"
ORDER_IDS_PARAM = "orderIDs"
ORDER_NOS_PARAM = "orderNOs"
#: POST `{CustomerCode, Code, Name, Address{AddressLines[], City, Region, Country, Postcode,
#: Telephone, Fax}, Contact, ContactEmail}` -> Details.Items[0].ID (ROIOrders
#: `TharDeliveryAddress`)
ADDRESS_CREATE_PATH = "address/create"
CREATED_ADDRESS_ID = "ID"
#: GUESS: GET `addresses?customerCode=&code=` lists a customer's delivery addresses (Items[]
#: with `ID`, `Code`); needed to find an address an earlier attempt created. No client reads
#: addresses back; confirm the path on an install
ADDRESSES_PATH = "addresses"
ADDRESS_CODE_PARAM = "code"
#: GUESS: delivery address codes are short; esd makes "E" + 8 hex of the push reference +
#: "-" + the address's number in the order (unique per order, found again after a crash)
ADDRESS_CODE_LENGTH = 12
#: GET `?customerCode=` -> Items[0].Code, .ID (ROIOrders). No create: "it is not possible for
#: Pressero to create users" (Aleyant a1463, DOC)
CUSTOMERS_PATH = "customers"
CUSTOMER_CODE_PARAM = "customerCode"
#: GET `contacts?customerCode=` -> the customer's contacts; POST `contacts` `{Items: [{Name,
#: CustomerCode, Email, Telephone, Mobile}]}` adds one (ROIOrders, ref 1.5 / 1.10 step 5: the
#: contact is looked up and made only when missing). GUESS: the GET answers `Details.Items[]`
#: with `Email`, and a contact is the same person when its e-mail matches (case-insensitive)
CONTACTS_PATH = "contacts"
CONTACT_EMAIL = "Email"
#: POST `{Items: [{Filename, ModuleType{Value}, RecordNo, Type{Value}, Details, Content_URL}]}`
#: (ROIOrders `TharAttachment`, `SubmitPOandArtwork`); ModuleType 1 estimate, 2 job; Type 10
#: "all content" is what ROIOrders uses for artwork
ATTACHMENTS_PATH = "attachments"
ATTACHMENT_MODULE_ESTIMATE = 1
ATTACHMENT_MODULE_JOB = 2
ATTACHMENT_TYPE_ARTWORK = 10
#: GUESS: GET `attachments?moduleType=2&recordNo=<JobNo>` lists what a job holds (Items[] with
#: `Filename`, `Content_URL`), to find an attachment an earlier attempt made
ATTACHMENT_MODULE_PARAM = "moduleType"
ATTACHMENT_RECORD_PARAM = "recordNo"

# -- status and tracking read back (poll fallback) ----------------------------------------------

#: GUESS (ref 1.12 "field names NOT FOUND"): a jobs / orders item's status is the text
#: `StatusDescription` (else `Status`), and its deliveries are `Deliveries[]` whose carrier
#: consignment number is `ConsignNote` (the DeliveryNote column ROIOrders maps, ref 1.12) and
#: dispatch time `DelDateTime`
STATUS_TEXT = ("StatusDescription", "Status")
DELIVERIES = "Deliveries"
DELIVERY_TRACKING = "ConsignNote"
DELIVERY_DATE = "DelDateTime"

# -- webhooks -----------------------------------------------------------------------------------

#: GUESS (ref 1.12: event names, payload and signing NOT FOUND; DOC only that Tharstern admins
#: "enable webhooks + subscriptions"): the subscription is pointed at
#: `/webhooks/mis/<account>` with a custom header carrying a shared secret, compared in
#: constant time with the account's `webhook_secret` credential. Confirm with Tharstern how a
#: subscription authenticates (a header, a signature, basic auth) before going live.
WEBHOOK_SECRET_HEADER = "X-Tharstern-Webhook-Secret"

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

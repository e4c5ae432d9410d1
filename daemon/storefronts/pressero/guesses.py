"""Every fact about Pressero's API and webhooks that the code relies on, with its evidence.

Pressero's v6 API reference is not public (see `/work/shared/reference/pressero.md`, "pressero.md"
below, §5). Each constant here is tagged the way pressero.md tags its facts:

- "documented": stated in an Aleyant KB article;
- "seen in code": public client code that calls the live API does it this way;
- "guessed": nobody public says; this is our inference. Check it on a real subscriber.

Every route, and every field, header or hash variant that is guessed, lives here and nowhere
else: the client, the mapping, the signature check and the sandbox read these names, so fixing a
wrong guess is a one-line change (and the sandbox follows it). Field names seen in code are
spelled where they are read, in `mapping.py`, whose docstring cites each.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "ADDRESS_BOOK_ADDRESSES_FIELD",
    "ADDRESS_BOOK_ENTRY_FIELDS",
    "ADDRESS_BOOK_ENTRY_ID_FIELD",
    "ADDRESS_BOOK_PREFERRED_FIELD",
    "ADDRESS_BOOK_ROUTE",
    "ADDRESS_FIELDS",
    "API_PREFIX",
    "AUTH_CONSUMER_ID_FIELD",
    "AUTH_PASSWORD_FIELD",
    "AUTH_ROUTE",
    "AUTH_SCHEME",
    "AUTH_SUBSCRIBER_ID_FIELD",
    "AUTH_USERNAME_FIELD",
    "BILL_TO_PREFIX",
    "CANCELLED_STAGE_IDS",
    "CANCELLED_STAGE_NAMES",
    "DEFAULT_HASH_VARIANT",
    "EDOC_FILES_READY_FIELD",
    "EDOC_SESSION_FIELD",
    "ENVELOPE_DATA",
    "ENVELOPE_MESSAGE_ID",
    "ENVELOPE_SITE_ID",
    "ENVELOPE_SUBSCRIBER_ID",
    "ENVELOPE_TIMESTAMP",
    "ENVELOPE_TYPE",
    "ENVELOPE_TYPE_NAME",
    "EVENT_ORDER_NUMBER",
    "EVENT_ORDER_SEQ",
    "FIRST_PAGE",
    "HASH_KEY_ENCODING",
    "ITEM_FILES_FIELD",
    "ITEM_FILE_NAME_FIELD",
    "ITEM_FILE_URL_FIELD",
    "ITEM_MIS_ID_FIELDS",
    "ITEM_NOTE_ROUTE",
    "ITEM_ROUTE_ID_FIELD",
    "ITEM_SHIPMENTS_ROUTE",
    "ITEM_STATUS_HISTORY_ROUTE",
    "ITEM_STATUS_ROUTE",
    "ITEM_UPDATE_ROUTE",
    "KIT_CHILDREN_FIELD",
    "KIT_CHILD_COST_FIELD",
    "KIT_CHILD_INTEGRATION_ID_FIELD",
    "KIT_CHILD_NAME_FIELD",
    "KIT_CHILD_QUANTITY_FIELD",
    "KIT_CHILD_SKU_FIELD",
    "KIT_PARENT_FIELD",
    "MESSAGE_HASH_HEADER",
    "MIS_ID_FIELD",
    "OPEN_TERMS_PAYMENT_METHODS",
    "ORDER_DATE_ZERO_YEAR",
    "ORDER_DETAILS_ROUTE",
    "ORDER_ITEMS_ROUTE",
    "ORDER_NOTES_FIELD",
    "ORDER_SEARCH_ROUTE",
    "PAGE_ITEMS_FIELD",
    "PAGE_NUMBER_PARAM",
    "PAGE_SIZE_PARAM",
    "PAGE_TOTAL_FIELD",
    "PAYMENT_METHOD_FIELD",
    "PRODUCT_ATTRIBUTE_SLOTS",
    "PRODUCT_INTEGRATION_ID_FIELD",
    "PRODUCT_OBJECT_FIELD",
    "SEARCH_COLUMNS",
    "SEARCH_DATE_FORMAT",
    "SEARCH_END_FIELD",
    "SEARCH_FILTERS_FIELD",
    "SEARCH_OPERATORS",
    "SEARCH_SORT_FIELD",
    "SEARCH_START_FIELD",
    "SHIPMENTS_ROUTE",
    "SHIPS_SEPARATELY_FIELD",
    "SHIP_TO_PREFIX",
    "STAGE_CUSTOMER_NAME_FIELD",
    "STAGE_ID_FIELD",
    "STAGE_NAME_FIELD",
    "STATUS_NOTES_MAX_CHARS",
    "STATUS_NOTES_PARAM",
    "TOKEN_FIELD",
    "TOKEN_MAX_AGE_SECONDS",
    "TYPE_CODES",
    "USER_DEPARTMENT_FIELD",
    "USER_FIELDS",
    "USER_GROUPS_FIELD",
    "USER_GROUP_NAME_FIELD",
    "USER_ID_FIELD",
    "USER_INTEGRATION_ID_FIELD",
    "USER_ROUTE",
    "USER_SITE_ID_FIELD",
    "WORKFLOW_STAGES_ROUTE",
    "HashVariant",
]

# -- base URL and authentication (pressero.md §1.1, §1.2) ---------------------------------------

#: seen in code: every route hangs off `https://admin.<region>.v6.pressero.com/api/` (§1.1)
API_PREFIX: Final = "api"
#: seen in code: `POST {admin}/api/V2/Authentication` (§1.2); the older `api/token` is not used
AUTH_ROUTE: Final = "V2/Authentication"
#: seen in code: the login body's field names (§1.2); one client spells them `Username`/
#: `ConsumerId`, so the server probably matches them case-insensitively (guessed)
AUTH_USERNAME_FIELD: Final = "UserName"
AUTH_PASSWORD_FIELD: Final = "Password"
AUTH_SUBSCRIBER_ID_FIELD: Final = "SubscriberId"
AUTH_CONSUMER_ID_FIELD: Final = "ConsumerID"
#: seen in code: the login answer carries the token in `Token` (§1.2)
TOKEN_FIELD: Final = "Token"
#: seen in code: `Authorization: token <Token>`, lower-case in most clients (§1.2)
AUTH_SCHEME: Final = "token"
#: guessed: Pressero does not say when a token expires (§1.2). Clients seen in code cache it for
#: 10 or 50 minutes and log in again on a 401; we renew after 10 minutes and on any 401.
TOKEN_MAX_AGE_SECONDS: Final = 600.0

# -- paging (pressero.md §1.3) ------------------------------------------------------------------

#: seen in code: `pageNumber` (0-based) and `pageSize` query parameters (§1.3)
PAGE_NUMBER_PARAM: Final = "pageNumber"
PAGE_SIZE_PARAM: Final = "pageSize"
FIRST_PAGE: Final = 0
#: seen in code: `{"Items": [...], "PageNumber", "PageSize", "TotalItems"}` (§1.3)
PAGE_ITEMS_FIELD: Final = "Items"
PAGE_TOTAL_FIELD: Final = "TotalItems"

# -- orders and items (pressero.md §1.4) --------------------------------------------------------
# Routes are relative to `{admin}/api/`; `{...}` are filled by the client. Case as seen in code;
# Pressero's routing looks case-insensitive (§1.4, guessed), and the sandbox matches it so.

#: seen in code: order-item search over a date window, paged (§1.4)
ORDER_SEARCH_ROUTE: Final = "v2/Orders/Search"
#: seen in code: search body fields (§1.3, §1.4)
SEARCH_START_FIELD: Final = "StartDate"
SEARCH_END_FIELD: Final = "EndDate"
SEARCH_SORT_FIELD: Final = "SortDescriptor"
SEARCH_FILTERS_FIELD: Final = "Filters"
#: seen in code: the filter columns and operators of the order search (§1.3: `OrderNumber`,
#: `WorkflowStagePrinter`; `equals`, `isequalto`, `contains`). The client filters by
#: `OrderNumber` only; the sandbox supports these and refuses other columns.
SEARCH_COLUMNS: Final = ("OrderNumber", "WorkflowStagePrinter")
SEARCH_OPERATORS: Final = ("equals", "isequalto", "contains")
#: seen in code: the webinar sample sends `'2019-01-01 00:00:00Z'` (§1.4). Whether the window
#: includes its ends is guessed (inclusive); the reconciliation poll overlaps windows anyway.
SEARCH_DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%SZ"
#: seen in code: order header (§1.4). Also carries `Items[]` (§1.5, `Models/Order.cs`).
ORDER_DETAILS_ROUTE: Final = "v2/orders/{order_number}/Details"
#: seen in code: all items of an order (§1.4). Whether the answer is a bare list or a page
#: (`{"Items": [...]}`) is guessed: the mapping accepts both; the sandbox sends a bare list.
ORDER_ITEMS_ROUTE: Final = "v2/orders/{order_number}/items"
#: seen in code: set an item's workflow stage by its GUID, note in the query, no body (§1.4, §1.6)
ITEM_STATUS_ROUTE: Final = "V2/Orders/{order_number}/Item/{item_number}/Status/{stage_id}"
STATUS_NOTES_PARAM: Final = "notes"
#: seen in code: an item's status history, `GET v2/orders/{n}/item/{item}/Status` (§1.4 table).
#: Its answer's shape is guessed (entries carrying the `notes` text); the driver only looks for
#: its own marker anywhere in the answer, so the shape does not matter, only that notes are in it.
ITEM_STATUS_HISTORY_ROUTE: Final = "v2/orders/{order_number}/item/{item_number}/Status"
#: guessed: how esd writes a note to the shop's staff on an item (a failed push, its later
#: success: the hosted integration's red bar, seed 001). Pressero documents no order- or
#: item-note API (§1.4 lists none; `ItemNotes` is the buyer's text and is not ours to overwrite).
#: The only write that carries free text is the status PUT's `notes` (§1.6: PresseroConnector
#: uses it to carry a consignment number). So a note is that PUT with the item's CURRENT stage
#: (`WorkflowStageId` of its row): we assume Pressero then adds a status-history entry with the
#: note and leaves the stage as it is. Check on a real subscriber that re-setting the same stage
#: records the entry and sends the buyer no stage e-mail; if not, set `write_failures = false`.
ITEM_NOTE_ROUTE: Final = ITEM_STATUS_ROUTE
#: guessed: the notes travel in the query string, and ASP.NET on IIS refuses query strings over
#: 2048 bytes by default; percent-encoding can treble a character, so a note stays under this.
STATUS_NOTES_MAX_CHARS: Final = 500
#: seen in code: update item fields, body e.g. `{"MisId": "..."}` (§1.4)
ITEM_UPDATE_ROUTE: Final = "v2/Orders/{order_number}/Item/{item_number}"
MIS_ID_FIELD: Final = "MisId"
#: guessed: which item number the `Item/{...}` routes take. PresseroConnector passes
#: `OrderItemNumber`; the webinar sample passes the item's sequence (§1.4 table). We follow the
#: fuller client; switch to "OrderItemSeq" if a real subscriber answers 404.
ITEM_ROUTE_ID_FIELD: Final = "OrderItemNumber"
#: seen in code: add a shipment with tracking; body keyed by order and item GUIDs (§1.4)
SHIPMENTS_ROUTE: Final = "V2/Orders/Shipments"
#: seen in code: read an item's shipments, called with the order and item GUIDs (§1.4)
ITEM_SHIPMENTS_ROUTE: Final = "v2/orders/{order_id}/Item/{order_item_id}/Shipments"

# -- workflow stages (pressero.md §1.6) ---------------------------------------------------------

#: seen in code: a workflow's stages (§1.6). Whether the answer is a bare list or a page is
#: guessed (a list); the client accepts both.
WORKFLOW_STAGES_ROUTE: Final = "workflows/{workflow_id}/Stages"
#: seen in code: stage fields `WorkflowStageId, Seq, PrinterStage, CustomerStage` (§1.6)
STAGE_ID_FIELD: Final = "WorkflowStageId"
STAGE_NAME_FIELD: Final = "PrinterStage"  # the internal label; stages are found by this name
STAGE_CUSTOMER_NAME_FIELD: Final = "CustomerStage"
#: seen in code: the standard workflow's "Order Cancelled" stage (§1.6 table); other spellings
#: are guessed, for custom workflows
CANCELLED_STAGE_NAMES: Final = frozenset({"order cancelled", "cancelled", "canceled"})
CANCELLED_STAGE_IDS: Final = frozenset({"a61679f8-5518-431f-aab0-ba5e10c67203"})

# -- order-item row fields (pressero.md §1.5) ---------------------------------------------------
# Seen in code unless marked: OrderId, OrderNumber, OrderItemId, OrderItemNumber, OrderItemSeq,
# OrderDate, ProductName, ItemName, OrderItemOptionsText, PrinterPartNumber, Quantity, Price,
# ItemTax, Shipping, PONumber, ItemNotes, ShippingMethod, RequestedShipDate, WorkflowId,
# WorkflowStageId, WorkflowStagePrinter, IsPaid, IsApproved, IsDenied,
# IsApprovedWithModifications, OrderSubtotal, OrderShipping, OrderTax, OrderTotal,
# OrderedByFirstName/LastName/Email, SiteName. `mapping.py` cites each where it reads it.
# Guessed semantics: items of sites without an approval plan arrive with `IsApproved` true
# (PresseroConnector waits for `IsApproved || IsDenied` on every item, which only works if so);
# otherwise every such order would wait for approval forever.

#: seen in code: bill-to and ship-to fields share one suffix set (§1.5)
BILL_TO_PREFIX: Final = "BillTo"
SHIP_TO_PREFIX: Final = "ShipTo"
#: `Address` attribute -> field suffix after the prefix. Seen in code (§1.5): FirstName,
#: LastName, Business, Address1..3, City, Postal, Country, Phone, Email (bill-to only), and the
#: state as `BilltoStateProvince`/`ShiptoStateProvince` (odd case, matched case-insensitively).
#: Guessed: ShipToEmail, ShipToTitle and ShipToCellPhone (the Pace shipment mapping, seed 004,
#: needs the ship-to e-mail, title, and the cell phone when the telephone is empty).
ADDRESS_FIELDS: Final = (
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("business", "Business"),
    ("title", "Title"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("cell_phone", "CellPhone"),
    ("address1", "Address1"),
    ("address2", "Address2"),
    ("address3", "Address3"),
    ("city", "City"),
    ("state", "StateProvince"),
    ("zip", "Postal"),
    ("country", "Country"),
)
#: seen in code: ten product-attribute name/value slots, `ProductAttributeName1..10` (§1.5)
PRODUCT_ATTRIBUTE_SLOTS: Final = 10
#: guessed: that an item row nests its product under `Product`. The row fields seen in code
#: (§1.5, PresseroConnector `Models/OrderItem.cs`) have no `Product`; only the product DETAIL
#: route's answer is seen carrying `MisId` (§1.7, seen in code). That `MisId` is the product's
#: integration id: guessed too. A row without `Product` simply has no product integration id.
PRODUCT_OBJECT_FIELD: Final = "Product"
PRODUCT_INTEGRATION_ID_FIELD: Final = "MisId"
#: guessed: the order's payment method. Only the order-create body is seen in code
#: (`paymentMethod`, §1.4); the read models seen in code have no such field.
PAYMENT_METHOD_FIELD: Final = "PaymentMethod"
#: documented names of methods that leave a >$0 order unpaid after checkout ("Misc", "Open
#: Terms", kb/a1935, §1.5); the exact strings in the API are guessed; matched case-insensitively
OPEN_TERMS_PAYMENT_METHODS: Final = frozenset({"open terms", "misc", "miscellaneous"})
#: guessed: the item's eDocBuilder session (the order-create body has `edocSessionId`, seen in
#: code, §1.4). Non-empty means the item waits for a generated production file.
EDOC_SESSION_FIELD: Final = "EdocSessionId"
#: guessed: no public field says the files are ready (§1.5); the `OrderItemFilesGenerated`
#: webhook (§2) is the documented signal, and the mapping also takes the seqs it has seen.
EDOC_FILES_READY_FIELD: Final = "EdocFilesGenerated"
#: guessed: the item's print-ready files. pressero.md §1.5 says the production PDF exists only
#: once the order is paid and the item approved (kb a411), and §5 gap 1 lists "any order-item
#: file or eDoc-status fields" as not public: no client seen in code reads them. We take a
#: list of objects on the item row, each with an http(s) download URL and a file name, filled
#: once the files are generated (the `OrderItemFilesGenerated` webhook, §2). A value of another
#: shape is skipped with a warning, never fatal: the order still maps, without that file.
ITEM_FILES_FIELD: Final = "Files"
ITEM_FILE_URL_FIELD: Final = "Url"
ITEM_FILE_NAME_FIELD: Final = "FileName"
#: guessed: which item-row field holds the MIS id the hosted integration (or esd) wrote. Both
#: `MisId` and `OrderItemMISID` are fields of the search row in client code (§1.5,
#: PresseroConnector `Models/OrderItem.cs`); the update route is seen writing `MisId` (§1.4),
#: so it is read first, and `OrderItemMISID` when `MisId` is empty. Which one the hosted
#: Embedded Services writes is not public.
ITEM_MIS_ID_FIELDS: Final = ("MisId", "OrderItemMISID")
#: guessed: the product's "Will Ship Separately" option (named in the Pace mapping, seed 004)
SHIPS_SEPARATELY_FIELD: Final = "WillShipSeparately"
#: guessed: how kits appear in the order API is not public (§1.5 "Kits"). We accept both plausible
#: shapes: children nested in the parent's `KitItems`, or child rows pointing at the parent's
#: `OrderItemId` through `ParentOrderItemId`.
KIT_CHILDREN_FIELD: Final = "KitItems"
KIT_PARENT_FIELD: Final = "ParentOrderItemId"
KIT_CHILD_NAME_FIELD: Final = "ProductName"  # as on item rows (seen in code)
KIT_CHILD_QUANTITY_FIELD: Final = "Quantity"  # as on item rows (seen in code)
KIT_CHILD_COST_FIELD: Final = "Price"  # as on item rows (seen in code)
KIT_CHILD_SKU_FIELD: Final = "PrinterPartNumber"  # as on item rows (seen in code)
KIT_CHILD_INTEGRATION_ID_FIELD: Final = "IntegrationID"  # spelled as on shipments (guessed)
#: guessed: the ordering user's id on the order header (order-create has `userId`, §1.4)
USER_ID_FIELD: Final = "UserId"
#: guessed: the user's integration id, in the row's `OrderedBy*` family (§1.5)
USER_INTEGRATION_ID_FIELD: Final = "OrderedByIntegrationID"
#: guessed: order notes on the header (order-create has `notes`, §1.4)
ORDER_NOTES_FIELD: Final = "Notes"
#: guessed: a date in year 1 means "none". pressero.md says nothing of it: it lists
#: `ReqShipDate` among the order header fields of `Models/Order.cs` (§1.5) but not its type or
#: its unset value. .NET writes an unset non-nullable `DateTime` as `0001-01-01T00:00:00`
#: (`DateTime.MinValue`), so a required ship date in year 1 would be nonsense; reading it as
#: "none" costs nothing if Pressero never sends one.
ORDER_DATE_ZERO_YEAR: Final = 1

# -- the site user and their address book (pressero.md §1.7; seed 004's Customer mapping) ---------
# Seed 004 fills the Pace Customer and Contact from "Pressero's Site User" (First, Middle, Last
# Name, Email, Title, Telephone, Cell Phone) and "Site User > Address Book" (Business, Address1-3,
# City, State, Zip). The item rows carry only `OrderedByFirstName/LastName/Email` (§1.5), so the
# user and the address book are read as well. Routes seen in code; field names guessed.

#: seen in code: one user of a site, `GET site/{site}/users/{userId}` (§1.7 "Users in a site")
USER_ROUTE: Final = "site/{site}/users/{user_id}"
#: seen in code: `GET site/{site}/Addressbook/{userId}` -> `{PreferredAddress, Addresses[]}` (§1.7)
ADDRESS_BOOK_ROUTE: Final = "site/{site}/Addressbook/{user_id}"
#: guessed: which id fills `{site}`: the order header's `SiteId` (the webhook's `SiteId`, §2),
#: else the first item row's `SiteId` (a search-row field, §1.5)
USER_SITE_ID_FIELD: Final = "SiteId"
#: guessed: the user object's fields, `SiteUser` attribute -> field. The names are the labels
#: of seed 004 in .NET PascalCase; `Email`, `FirstName`, `LastName` match the subscriber user
#: list seen in code (`Items[{UserId, FullName, Email}]`, §1.7) and the `OrderedBy*` family.
USER_FIELDS: Final = (
    ("email", "Email"),
    ("first_name", "FirstName"),
    ("middle_name", "MiddleName"),
    ("last_name", "LastName"),
    ("title", "Title"),
    ("phone", "Telephone"),
    ("cell_phone", "CellPhone"),
)
#: seen in code: the item rows' `OrderedBy*` family carries the orderer's department (§1.5
#: "OrderedByFirstName/LastName/Email/Department")
USER_DEPARTMENT_FIELD: Final = "OrderedByDepartment"
#: seen in code: `GET site/{site}/users/{userId}` -> `{Groups:[{GroupName}], ...}` (§1.7)
USER_GROUPS_FIELD: Final = "Groups"
USER_GROUP_NAME_FIELD: Final = "GroupName"
#: seen in code: the address book's two fields (§1.7)
ADDRESS_BOOK_PREFERRED_FIELD: Final = "PreferredAddress"
ADDRESS_BOOK_ADDRESSES_FIELD: Final = "Addresses"
#: guessed: whether `PreferredAddress` is an address or an address's id is not public (the
#: update route takes `?addressId=`, §1.7): the mapping takes an object as the address, else a
#: string or number as the `AddressId` of one of `Addresses`, else the first of `Addresses`.
ADDRESS_BOOK_ENTRY_ID_FIELD: Final = "AddressId"
#: guessed: an address-book entry's fields, `Address` attribute -> field: the suffixes of the
#: order rows' `BillTo*`/`ShipTo*` family (seen in code, §1.5), plus seed 004's Title and Cell
#: Phone in the user object's spelling.
ADDRESS_BOOK_ENTRY_FIELDS: Final = (
    ("first_name", "FirstName"),
    ("last_name", "LastName"),
    ("business", "Business"),
    ("title", "Title"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("cell_phone", "CellPhone"),
    ("address1", "Address1"),
    ("address2", "Address2"),
    ("address3", "Address3"),
    ("city", "City"),
    ("state", "StateProvince"),
    ("zip", "Postal"),
    ("country", "Country"),
)

# -- webhooks (pressero.md §2) ------------------------------------------------------------------

#: documented: "this hash will be then added to the request headers as MessageHash" (§2)
MESSAGE_HASH_HEADER: Final = "MessageHash"
#: guessed: the security key's bytes are its UTF-8 encoding (§2 says only "concatenate")
HASH_KEY_ENCODING: Final = "utf-8"


class HashVariant(StrEnum):
    """How `MessageHash` is computed: documented SHA1 of key and payload (§2); order and
    encoding guessed. Hex is compared case-insensitively, so case needs no variant."""

    KEY_BODY_HEX = "key+body/hex"  # guessed: "concatenate it with the hook payload", key first
    BODY_KEY_HEX = "body+key/hex"  # guessed
    KEY_BODY_BASE64 = "key+body/base64"  # guessed: .NET code often base64-encodes hashes
    BODY_KEY_BASE64 = "body+key/base64"  # guessed


#: guessed: the most literal reading of the KB sentence (§2). Configurable per site.
DEFAULT_HASH_VARIANT: Final = HashVariant.KEY_BODY_HEX

#: seen in code: the envelope `{Type, TypeName, Timestamp, SubscriberId, SiteId, MessageID, Data}`
#: (§2, `Models/EventData.cs`)
ENVELOPE_TYPE: Final = "Type"
ENVELOPE_TYPE_NAME: Final = "TypeName"
ENVELOPE_TIMESTAMP: Final = "Timestamp"
ENVELOPE_SUBSCRIBER_ID: Final = "SubscriberId"
ENVELOPE_SITE_ID: Final = "SiteId"
ENVELOPE_MESSAGE_ID: Final = "MessageID"
ENVELOPE_DATA: Final = "Data"
#: seen in code: `Data.OrderNumber` and `Data.OrderItemSeq` (§2); order-level events leave the
#: seq out or 0 (guessed: the C# model's int defaults to 0)
EVENT_ORDER_NUMBER: Final = "OrderNumber"
EVENT_ORDER_SEQ: Final = "OrderItemSeq"
#: seen in code: the only numeric `Type` codes known (§2); we dispatch on `TypeName`
TYPE_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"OrderPlaced": 10, "OrderItemApproved": 7, "OrderItemDenied": 9}
)

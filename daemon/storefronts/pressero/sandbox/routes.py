"""The Pressero sandbox's route tables: the API routes (named in `guesses`, matched
case-insensitively as Pressero's routing seems to be, pressero.md §1.4) and the admin routes.
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.storefronts.pressero import guesses as g
from daemon.testing.json_sandbox import Rejected, Route, match_route, route

__all__ = ["ADMIN_ROUTES", "API_ROUTES", "api", "match"]


def _route(method: str, template: str, handler: str) -> Route:
    """Pressero's routing: case-insensitive, a trailing slash allowed (pressero.md §1.4)."""
    return route(method, template, handler, fold_case=True)


def api(template: str) -> str:
    return f"/{g.API_PREFIX}/{template}"


API_ROUTES = (
    _route("POST", api(g.AUTH_ROUTE), "authenticate"),
    _route("POST", api(g.ORDER_SEARCH_ROUTE), "search_orders"),
    _route("POST", api(g.SHIPMENTS_ROUTE), "add_shipment"),
    _route("GET", api(g.ORDER_DETAILS_ROUTE), "order_details"),
    _route("GET", api(g.ORDER_ITEMS_ROUTE), "order_items"),
    _route("PUT", api(g.ITEM_STATUS_ROUTE), "set_item_status"),
    _route("GET", api(g.ITEM_STATUS_HISTORY_ROUTE), "item_status_history"),
    _route("PUT", api(g.ITEM_UPDATE_ROUTE), "update_item"),
    _route("GET", api(g.ITEM_SHIPMENTS_ROUTE), "item_shipments"),
    _route("GET", api(g.WORKFLOW_STAGES_ROUTE), "workflow_stages"),
    _route("GET", api(g.USER_ROUTE), "site_user"),
    _route("GET", api(g.ADDRESS_BOOK_ROUTE), "address_book"),
)
ADMIN_ROUTES = (
    _route("POST", "/_admin/faults", "admin_faults"),
    _route("GET", "/_admin/state", "admin_state"),
    _route("POST", "/_admin/reset", "admin_reset"),
    _route("POST", "/_admin/orders", "admin_place_order"),
    _route("POST", "/_admin/orders/{order_number}/{action}", "admin_order_action"),
    _route("POST", "/_admin/webhook_target", "admin_webhook_target"),
)


def match(routes: Sequence[Route], method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    """(route, path parameters); a path that other methods have is refused with 405."""
    found, params, allowed = match_route(routes, method, path)
    if found is None and allowed:
        raise Rejected(405, f"method not allowed: {method} {path} (allowed: {', '.join(allowed)})")
    return found, params

"""The GSTK back office as the sandbox serves it: find an order, cancel it."""

from __future__ import annotations

import hmac
from typing import Any

import httpx

from cancelbot.sandbox.hosts import GSTK_TOKEN
from cancelbot.sandbox.seed import AWAITING, CANCELLED
from cancelbot.sandbox.state import StateStore, now_iso
from cancelbot.sandbox.wire import BadBody, Router, json_object, json_response

router = Router()


def handle(request: httpx.Request, store: StateStore) -> httpx.Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), GSTK_TOKEN):
        return json_response(401, {"error": "unauthorized"})
    try:
        response = router.dispatch(request, store)
    except BadBody as exc:
        return json_response(400, {"error": "invalid_request", "message": str(exc)})
    return response or json_response(404, {"error": "not_found"})


@router.route("GET", r"/api/orders")
def find_orders(request: httpx.Request, store: StateStore) -> httpx.Response:
    wanted = request.url.params.get("marketplace_order_id", "").strip()
    if not wanted:
        return json_response(
            400, {"error": "invalid_request", "message": "marketplace_order_id is required"}
        )
    orders = store.read()["gstk"]["orders"].values()
    found = [_public(o) for o in orders if o["marketplace_order_id"] == wanted]
    return json_response(200, {"orders": found})


@router.route("POST", r"/api/orders/([^/]+)/cancel")
def cancel_order(request: httpx.Request, store: StateStore, order_id: str) -> httpx.Response:
    body = json_object(request)
    reason, comment = body.get("reason"), body.get("comment", "")
    if not isinstance(reason, str) or not reason.strip() or not isinstance(comment, str):
        return json_response(
            400,
            {"error": "invalid_request", "message": "reason (text) is required; comment is text"},
        )
    with store.update() as state:
        order = state["gstk"]["orders"].get(order_id)
        if order is None:
            return json_response(404, {"error": "not_found"})
        if order["status"] == CANCELLED:
            # Idempotent: a retried cancel answers like the first one and changes nothing.
            return json_response(200, {"id": order["id"], "status": CANCELLED})
        if order["status"] != AWAITING:
            return json_response(409, {"error": "not_cancellable", "status": order["status"]})
        at = now_iso()
        order["history"].append(
            {
                "at": at,
                "action": "cancel",
                "from_status": order["status"],
                "reason": reason,
                "comment": comment,
            }
        )
        order["status"] = CANCELLED
        order["updated_at"] = at
        return json_response(200, {"id": order["id"], "status": CANCELLED})


def _public(order: dict[str, Any]) -> dict[str, Any]:
    """What GSTK's API shows of an order (the history stays in the back office)."""
    return {k: order[k] for k in ("id", "marketplace_order_id", "status", "updated_at")}

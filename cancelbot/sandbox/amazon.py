"""Amazon as the sandbox serves it: LWA tokens, SP-API (Orders 2026-01-01, Feeds 2021-06-30,
Messaging v1) and the pre-signed upload/download URLs of feed documents.

Access tokens carry their expiry and a signature, so any process can check a token issued to
another one without writing anything: reads (and a dry run) leave the state file untouched,
except to move a feed on when its time has come (feeds.py: Amazon takes
CANCELBOT_SANDBOX_FEED_SECONDS over each, on the store's clock).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx

from cancelbot.sandbox.feeds import (
    advance_feeds,
    feed_changes_due,
    queue_feed,
)
from cancelbot.sandbox.hosts import (
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    SPAPI_REFRESH_TOKEN,
    UPLOAD_HOST,
)
from cancelbot.sandbox.state import StateStore, now_iso
from cancelbot.sandbox.wire import BadBody, Router, json_object, json_response

TOKEN_PREFIX = "Atza|sandbox-"
TOKEN_LIFETIME = 3600
ACK_FEED = "POST_ORDER_ACKNOWLEDGEMENT_DATA"

spapi = Router()
uploads = Router()


# --- Login with Amazon ---------------------------------------------------------------------


def handle_lwa(request: httpx.Request, store: StateStore) -> httpx.Response:
    if request.method != "POST" or request.url.path.rstrip("/") != "/auth/o2/token":
        return json_response(404, {"error": "not_found", "error_description": "Not found"})
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "Expected a form-encoded body")
    form = {k: v[0] for k, v in parse_qs(request.content.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", "Only refresh_token is supported")
    if not (
        _same(form.get("client_id", ""), LWA_CLIENT_ID)
        and _same(form.get("client_secret", ""), LWA_CLIENT_SECRET)
    ):
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    if not _same(form.get("refresh_token", ""), SPAPI_REFRESH_TOKEN):
        return _oauth_error(
            400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
        )
    expiry = int(time.time()) + TOKEN_LIFETIME
    token = f"{TOKEN_PREFIX}{expiry}.{secrets.token_hex(4)}"
    token += "." + _signature(token)
    return json_response(
        200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME},
        {"x-amzn-RequestId": str(uuid.uuid4())},
    )


# --- SP-API ----------------------------------------------------------------------------------


def handle_spapi(request: httpx.Request, store: StateStore) -> httpx.Response:
    _move_feeds_on(store)  # whatever the question, Amazon's answer reflects the time now
    problem = _token_problem(request.headers.get("x-amz-access-token", ""))
    if problem is not None:
        response = _errors(403, "Unauthorized", "Access to requested resource is denied.", problem)
    else:
        try:
            response = spapi.dispatch(request, store) or _errors(
                404, "NotFound", "Resource not found"
            )
        except BadBody as exc:
            response = _errors(400, "InvalidInput", str(exc))
    # Amazon puts a request id on every answer; support asks for it when something fails.
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


@spapi.route("GET", r"/orders/2026-01-01/orders/([^/]+)")
def get_order(request: httpx.Request, store: StateStore, order_id: str) -> httpx.Response:
    entry = store.read()["amazon"]["orders"].get(order_id)
    if entry is None:
        return _errors(404, "NotFound", "Order not found")
    included = {
        part.strip().upper()
        for value in request.url.params.get_list("includedData")
        for part in value.split(",")
    }
    return json_response(200, {"order": _order_view(entry["order"], included)})


@spapi.route("GET", r"/orders/2026-01-01/orders")
def search_orders(request: httpx.Request, store: StateStore) -> httpx.Response:
    """searchOrders by lastUpdatedAfter (or createdAfter), fulfillmentStatuses, includedData and
    pages; like Amazon, only updates at least two minutes old are served."""
    params = request.url.params
    since = {k: params.get(k, "") for k in ("lastUpdatedAfter", "createdAfter")}
    if bool(since["lastUpdatedAfter"]) == bool(since["createdAfter"]):
        return _errors(400, "InvalidInput", "Exactly one of createdAfter and lastUpdatedAfter "
                                            "is required")
    field, after = ("lastUpdatedTime", since["lastUpdatedAfter"]) if since["lastUpdatedAfter"] \
        else ("createdTime", since["createdAfter"])
    statuses = _csv(params.get_list("fulfillmentStatuses"))
    size = params.get("maxResultsPerPage", "100")
    if not size.isdigit() or not 1 <= int(size) <= 100:
        return _errors(400, "InvalidInput", "maxResultsPerPage must be between 1 and 100")
    token = params.get("paginationToken", "0")
    if not token.isdigit():
        return _errors(400, "InvalidInput", "Invalid paginationToken")
    before = now_iso(datetime.now(timezone.utc) - timedelta(minutes=2))
    orders = sorted(
        (entry["order"] for entry in store.read()["amazon"]["orders"].values()
         if after <= entry["order"][field] <= before
         and (not statuses or entry["order"]["fulfillment"]["fulfillmentStatus"] in statuses)),
        key=lambda o: (o[field], o["orderId"]),
    )
    start, count = int(token), int(size)
    included = _csv(params.get_list("includedData"))
    body: dict[str, Any] = {
        "orders": [_order_view(o, included) for o in orders[start:start + count]],
        "lastUpdatedBefore": before,
    }
    if start + count < len(orders):
        body["pagination"] = {"nextToken": str(start + count)}
    return json_response(200, body)


def _csv(values: list[str]) -> set[str]:
    return {part.strip().upper() for value in values for part in value.split(",") if part.strip()}


@spapi.route("GET", r"/messaging/v1/orders/([^/]+)/attributes")
def get_attributes(request: httpx.Request, store: StateStore, order_id: str) -> httpx.Response:
    if not request.url.params.get("marketplaceIds"):
        return _errors(400, "InvalidInput", "marketplaceIds is required")
    entry = store.read()["amazon"]["orders"].get(order_id)
    if entry is None:
        return _errors(404, "NotFound", "Order not found")
    return json_response(200, {"buyer": {"locale": entry["buyer_locale"]}})


@spapi.route("POST", r"/feeds/2021-06-30/documents")
def create_feed_document(request: httpx.Request, store: StateStore) -> httpx.Response:
    content_type = json_object(request).get("contentType")
    if not isinstance(content_type, str) or not content_type.strip():
        return _errors(400, "InvalidInput", "contentType is required")
    document_id = str(uuid.uuid4())
    with store.update() as state:
        state["amazon"]["documents"][document_id] = {
            "kind": "input",
            "contentType": content_type,
            "content": None,  # until the upload
            "createdTime": now_iso(),
        }
    return json_response(
        201, {"feedDocumentId": document_id, "url": f"https://{UPLOAD_HOST}/{document_id}"}
    )


@spapi.route("GET", r"/feeds/2021-06-30/documents/([^/]+)")
def get_feed_document(request: httpx.Request, store: StateStore, doc_id: str) -> httpx.Response:
    document = store.read()["amazon"]["documents"].get(doc_id)
    if document is None:
        return _errors(404, "NotFound", "Feed document not found")
    path = f"result/{doc_id}" if document["kind"] == "result" else doc_id
    return json_response(200, {"feedDocumentId": doc_id, "url": f"https://{UPLOAD_HOST}/{path}"})


@spapi.route("POST", r"/feeds/2021-06-30/feeds")
def create_feed(request: httpx.Request, store: StateStore) -> httpx.Response:
    spec = json_object(request)
    feed_type = spec.get("feedType")
    marketplaces = spec.get("marketplaceIds")
    document_id = spec.get("inputFeedDocumentId")
    if feed_type != ACK_FEED:
        return _errors(400, "InvalidInput", f"The sandbox only processes {ACK_FEED} feeds")
    if not (
        isinstance(marketplaces, list)
        and 1 <= len(marketplaces) <= 25
        and all(isinstance(m, str) and m for m in marketplaces)
    ):
        return _errors(400, "InvalidInput", "marketplaceIds must list 1 to 25 marketplace ids")
    with store.update() as state:
        amazon = state["amazon"]
        if not isinstance(document_id, str):
            return _errors(400, "InvalidInput", "inputFeedDocumentId is not a feed document")
        document = amazon["documents"].get(document_id)
        if document is None or document["kind"] != "input":
            return _errors(400, "InvalidInput", "inputFeedDocumentId is not a feed document")
        if document["content"] is None:
            return _errors(400, "InvalidInput", "The feed document has not been uploaded")
        feed_id = str(state["counters"]["feed"])
        state["counters"]["feed"] += 1
        # Accepted now, processed later: the report is there once its time has come.
        queue_feed(
            state,
            {"feedId": feed_id, "feedType": feed_type, "marketplaceIds": marketplaces},
            str(document_id), store.clock(), _feed_seconds(store),
        )
    return json_response(202, {"feedId": feed_id})


@spapi.route("GET", r"/feeds/2021-06-30/feeds")
def get_feeds(request: httpx.Request, store: StateStore) -> httpx.Response:
    types = {
        part.strip()
        for value in request.url.params.get_list("feedTypes")
        for part in value.split(",")
        if part.strip()
    }
    if not types:
        return _errors(400, "InvalidInput", "feedTypes is required")
    since = request.url.params.get("createdSince", "")
    feeds = [
        feed
        for feed in store.read()["amazon"]["feeds"].values()
        if feed["feedType"] in types and feed["createdTime"] >= since
    ]
    feeds.sort(key=lambda f: f["createdTime"], reverse=True)
    size = request.url.params.get("pageSize", "10")
    limit = int(size) if size.isdigit() and 1 <= int(size) <= 100 else 10
    return json_response(200, {"feeds": feeds[:limit]})


@spapi.route("GET", r"/feeds/2021-06-30/feeds/([^/]+)")
def get_feed(request: httpx.Request, store: StateStore, feed_id: str) -> httpx.Response:
    feed = store.read()["amazon"]["feeds"].get(feed_id)
    if feed is None:
        return _errors(404, "NotFound", "Feed not found")
    return json_response(200, feed)


# --- Pre-signed document URLs (S3 in production: no access token) ---------------------------


def handle_upload(request: httpx.Request, store: StateStore) -> httpx.Response:
    return uploads.dispatch(request, store) or json_response(
        404, {"error": "NoSuchKey", "message": "The specified key does not exist."}
    )


@uploads.route("PUT", r"/([^/]+)")
def upload_document(request: httpx.Request, store: StateStore, doc_id: str) -> httpx.Response:
    with store.update() as state:
        document = state["amazon"]["documents"].get(doc_id)
        if document is None or document["kind"] != "input":
            return json_response(404, {"error": "NoSuchKey", "message": "Unknown document"})
        # The URL is signed for the contentType given to createFeedDocument: S3 refuses
        # an upload with another Content-Type.
        if _normal_type(request.headers.get("content-type", "")) != _normal_type(
            document["contentType"]
        ):
            return json_response(
                403,
                {
                    "error": "SignatureDoesNotMatch",
                    "message": "Content-Type must be the contentType given to "
                    f"createFeedDocument ({document['contentType']})",
                },
            )
        document["content"] = request.content.decode("utf-8", "replace")
    etag = hashlib.md5(request.content, usedforsecurity=False).hexdigest()
    return httpx.Response(200, headers={"ETag": f'"{etag}"'})


@uploads.route("GET", r"/(?:result/)?([^/]+)")
def download_document(request: httpx.Request, store: StateStore, doc_id: str) -> httpx.Response:
    document = store.read()["amazon"]["documents"].get(doc_id)
    wanted_kind = "result" if request.url.path.startswith("/result/") else "input"
    if document is None or document["kind"] != wanted_kind or document["content"] is None:
        return json_response(404, {"error": "NoSuchKey", "message": "Unknown document"})
    return httpx.Response(
        200,
        content=document["content"].encode("utf-8"),
        headers={"Content-Type": document["contentType"]},
    )


# --- helpers ---------------------------------------------------------------------------------


def _move_feeds_on(store: StateStore) -> None:
    """Process the feeds whose time has come; writes the state only when one has."""
    if feed_changes_due(store.read(), store.clock()):
        with store.update() as state:
            advance_feeds(state, store.clock())


def _feed_seconds(store: StateStore) -> float:
    if store.feed_seconds is not None:
        return store.feed_seconds
    from cancelbot.config import sandbox_feed_seconds

    return sandbox_feed_seconds()


def _order_view(order: dict[str, Any], included: set[str]) -> dict[str, Any]:
    """The order as getOrder returns it: optional datasets only when includedData asks."""
    out = {k: v for k, v in order.items() if k not in ("fulfillment", "buyer", "orderItems")}
    if "FULFILLMENT" in included:
        out["fulfillment"] = order["fulfillment"]
    if "BUYER" in included:
        out["buyer"] = order["buyer"]
    out["orderItems"] = [
        {k: v for k, v in item.items() if k != "cancellation" or "CANCELLATION" in included}
        for item in order["orderItems"]
    ]
    return out


def _token_problem(token: str) -> str | None:
    """None when `token` is a live access token, else the detail of the 403."""
    body, _, signature = token.rpartition(".")
    if not token.startswith(TOKEN_PREFIX) or not hmac.compare_digest(signature, _signature(body)):
        return ""
    expiry = body[len(TOKEN_PREFIX):].partition(".")[0]
    if not expiry.isdigit() or int(expiry) <= time.time():
        return "The access token you provided has expired."
    return None


# Signs sandbox tokens; a simulation's constant, not a secret of anything real.
_SIGNING_KEY = b"cancelbot-sandbox-lwa"


def _signature(body: str) -> str:
    return hmac.new(_SIGNING_KEY, body.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _normal_type(value: str) -> str:
    return value.replace(" ", "").lower()


def _errors(status: int, code: str, message: str, details: str = "") -> httpx.Response:
    return json_response(
        status, {"errors": [{"code": code, "message": message, "details": details}]}
    )


def _oauth_error(status: int, error: str, description: str) -> httpx.Response:
    return json_response(status, {"error": error, "error_description": description})

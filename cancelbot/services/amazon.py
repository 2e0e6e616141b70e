"""Amazon SP-API: read an order (Orders 2026-01-01) and cancel it (Feeds 2021-06-30).

Auth is Login with Amazon alone: the refresh token buys an access token, sent as the
`x-amz-access-token` header (SP-API no longer needs SigV4 signing). One `ServiceClient` carries
every call — LWA, SP-API and S3's pre-signed URLs — so one test transport stands in for all three.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from msgspec import Struct

from cancelbot import __version__
from cancelbot.config import AmazonSettings, repr_without
from cancelbot.errors import AuthError, BadResponse, ConfigError, RateLimited
from cancelbot.models import AmazonItem, AmazonOrder, OrderSearchPage
from cancelbot.services.http import (
    DEFAULT_TIMEOUT,
    MB,
    OwnsServiceClient,
    RetryPolicy,
    ServiceClient,
    check_base_url,
    parse_json_object,
)
from cancelbot.services.usage_plan import SEARCH_ORDERS_BURST, SEARCH_ORDERS_RATE, TokenBucket
from cancelbot.text import has_controls, hide_secrets, keep_secret, visible

SERVICE = "Amazon"
log = logging.getLogger("cancelbot.amazon")

ORDERS_PATH = "/orders/2026-01-01/orders"
FEEDS_PATH = "/feeds/2021-06-30"
MESSAGING_PATH = "/messaging/v1/orders"
# Swagger 2.0 defaults an array parameter without `collectionFormat` to "csv", and the spec
# declares `includedData` that way: one parameter, values joined by commas (not the repeated
# `includedData=A&includedData=B` of "multi"). The comma is a legal query character and is
# written literally, as in Amazon's own examples.
# BUYER: the buyer's relay address, to tell the order's buyer from anyone else writing in
# (v2026-01-01 needs no Restricted Data Token for it; without the role Amazon leaves it out).
ORDER_INCLUDED_DATA = "FULFILLMENT,CANCELLATION,BUYER"
# searchOrders for buyers' cancellation requests: orders not shipped yet (PENDING: placed, not
# ready to ship; UNSHIPPED: ready, nothing shipped), with their items' cancellation requests.
SEARCH_FULFILLMENT_STATUSES = ("PENDING", "UNSHIPPED")
SEARCH_INCLUDED_DATA = "CANCELLATION,FULFILLMENT"
SEARCH_PAGE_SIZE = 100
SEARCH_TOKEN_LIMIT = 4096  # characters of a nextToken sent back to Amazon, at most
FEED_CONTENT_TYPE = "text/xml; charset=UTF-8"
FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CANCEL_REASON = "BuyerCanceled"

# Renew a token this long before its announced expiry, so it cannot die between check and use.
TOKEN_MARGIN = 60.0
DEFAULT_TOKEN_LIFETIME = 3600.0
# LWA tokens last an hour; a cached one claiming more comes from a clock that jumped back.
MAX_CACHED_LIFETIME = 24 * 3600.0

# Answers are small JSON documents; a processing report is larger, and may be gzip.
MAX_ANSWER_BYTES = 4 * MB
MAX_REPORT_BYTES = 16 * MB
MAX_REPORT_TEXT = 16 * MB  # once inflated: a small gzip must not become gigabytes

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
# Characters XML 1.0 cannot carry at all, escaped or not.
# What XML 1.0 does not allow: the complement of its Char production, written as the short
# list it is (compiling the negated class of the whole of Unicode costs ~10 ms per run).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Token(Struct, frozen=True):
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return repr_without(self, "value")

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - TOKEN_MARGIN


class AmazonClient(OwnsServiceClient):
    """The automated `Marketplace`: one seller account on one SP-API region, for one run."""

    automated = True

    def __init__(
        self,
        settings: AmazonSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        token_cache: Path | None = None,
        clock: Callable[[], float] = time.time,
        search_plan: TokenBucket | None = None,
    ) -> None:
        self._settings = settings
        # searchOrders' usage plan; wiring.py keeps it in CANCELBOT_HOME for every process.
        self.search_plan = search_plan or TokenBucket(SEARCH_ORDERS_RATE, SEARCH_ORDERS_BURST)
        self._token_cache = Path(token_cache) if token_cache is not None else None
        self._clock = clock
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        keep_secret(settings.client_secret)  # hidden in every error, in every form
        keep_secret(settings.refresh_token)
        self._http = ServiceClient(
            SERVICE,
            settings.endpoint,
            transport=transport,
            headers={"User-Agent": f"cancelbot/{__version__} (Language=Python)"},
            timeout=timeout,
            retry=retry,
            error_detail=self._error_detail,
            max_bytes=MAX_ANSWER_BYTES,
        )

    # -- Orders --------------------------------------------------------------------------------

    def get_order(self, order_id: str) -> AmazonOrder | None:
        """The order with its items and cancellation details; None when Amazon does not know it."""
        order_id = order_id.strip()
        if not order_id:
            raise ValueError("empty Amazon order id")
        what = f"getOrder {order_id}"
        url = f"{ORDERS_PATH}/{quote(order_id, safe='')}?includedData={ORDER_INCLUDED_DATA}"
        response = self._sp(
            "GET",
            url,
            ok=(200, 404),
            what=what,
            forbidden_hint=(
                "the app may lack the Inventory and Order Tracking role, the order may belong to "
                "another seller account, or SPAPI_ENDPOINT is not the order's region"
            ),
        )
        if response.status_code == 404:
            return None
        return parse_order(parse_json_object(SERVICE, response, what), what)

    def search_ready_in(self) -> float:
        """Seconds before searchOrders' usage plan allows a call (0.0: now)."""
        return self.search_plan.ready_in()

    def search_orders(self, last_updated_after: str, *,
                      page_token: str | None = None) -> OrderSearchPage:
        """searchOrders: the orders not shipped yet updated since `last_updated_after` (ISO
        8601), with their cancellation requests. Paced by the usage plan across processes:
        RateLimited at once, nothing sent, when it allows no call now."""
        what = "searchOrders"
        wait = self.search_plan.take()
        if wait > 0:
            raise RateLimited(SERVICE, f"{what}: Amazon allows about one search every "
                                       f"{1 / self.search_plan.rate / 60:.0f} min; the next "
                                       f"one in {wait:.0f} s", status=429)
        params = [
            ("lastUpdatedAfter", last_updated_after),
            ("fulfillmentStatuses", ",".join(SEARCH_FULFILLMENT_STATUSES)),
            ("includedData", SEARCH_INCLUDED_DATA),
            ("maxResultsPerPage", str(SEARCH_PAGE_SIZE)),
        ]
        if page_token:
            params.append(("paginationToken", page_token))
        # Commas written literally, as for getOrder's includedData (csv arrays).
        query = "&".join(f"{k}={quote(v, safe=',:')}" for k, v in params)
        response = self._sp(
            "GET", f"{ORDERS_PATH}?{query}", ok=(200, 429), what=what,
            forbidden_hint="the app may lack the Inventory and Order Tracking role",
        )
        self.search_plan.observe(response)
        if response.status_code == 429:
            raise RateLimited(SERVICE, f"{what}: Amazon's usage plan is spent; try again in a "
                                       "few minutes", status=429,
                              request_id=response.headers.get("x-amzn-RequestId") or None)
        return parse_search_page(parse_json_object(SERVICE, response, what), what)

    # -- Messaging -----------------------------------------------------------------------------

    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        """The buyer's preferred language ("de-DE") from Messaging getAttributes; None when
        Amazon gives none. Amazon asks sellers to write to buyers in that language."""
        order_id, marketplace_id = order_id.strip(), marketplace_id.strip()
        if not order_id or not marketplace_id:
            raise ValueError("getAttributes needs an order id and its marketplace id")
        what = f"getAttributes {order_id}"
        response = self._sp(
            "GET",
            f"{MESSAGING_PATH}/{quote(order_id, safe='')}/attributes"
            f"?marketplaceIds={quote(marketplace_id, safe='')}",
            ok=(200, 404),
            what=what,
            forbidden_hint="the app may lack the Buyer Communication role (Messaging API)",
        )
        if response.status_code == 404:
            return None
        buyer = parse_json_object(SERVICE, response, what).get("buyer")
        locale = buyer.get("locale") if isinstance(buyer, dict) else None
        locale = visible(locale.strip()) if isinstance(locale, str) else ""
        return locale or None

    # -- Feeds ---------------------------------------------------------------------------------

    def upload_cancellations(self, orders: Sequence[AmazonOrder]) -> str:
        """createFeedDocument and upload the cancellation XML; the feedDocumentId.

        Nothing is cancelled yet: only `create_feed` asks Amazon to act, so a caller can write
        down its intent between the two.
        """
        # Checked and built first: a bad order raises here, before anything is sent.
        orders = list(orders)
        if not orders:
            raise ValueError("no order to cancel")
        seen: set[str] = set()
        for order in orders:
            if not order.marketplace_id:
                raise ValueError(f"order {order.order_id} has no marketplace id")
            if order.order_id in seen:
                raise ValueError(f"order {order.order_id} is listed twice")
            seen.add(order.order_id)
        # (Ids from Amazon with characters XML cannot carry never get here: parse_order refuses
        # them at the lookup, before GSTK is touched.)
        feed = build_cancellation_feed(
            self._settings.seller_id,
            [(o.order_id, [i.order_item_id for i in o.items]) for o in orders],
        )
        document = self._sp_json(
            "POST",
            f"{FEEDS_PATH}/documents",
            json={"contentType": FEED_CONTENT_TYPE},
            what="createFeedDocument",
            forbidden_hint="the app may lack the role needed to send order feeds",
        )
        document_id = _required_str(document, "feedDocumentId", "createFeedDocument")
        upload_url = _document_url(document, "createFeedDocument")

        # A pre-signed S3 URL: the signature is in the URL, and the access token must not leak to
        # S3. The Content-Type must be the one declared to createFeedDocument. Any 2xx is stored.
        self._http.request(
            "PUT",
            upload_url,
            content=feed,
            headers={"Content-Type": FEED_CONTENT_TYPE},
            ok=(200, 201, 204),
            what="upload of the feed document",
        )
        return document_id

    def create_feed(self, document_id: str, marketplace_ids: Sequence[str], label: str) -> str:
        """createFeed for an uploaded cancellation document: Amazon acts on it. The feedId."""
        created = self._sp_json(
            "POST",
            f"{FEEDS_PATH}/feeds",
            json={
                "feedType": FEED_TYPE,
                "marketplaceIds": list(marketplace_ids),
                "inputFeedDocumentId": document_id,
            },
            what=f"createFeed ({label})",
            forbidden_hint="the app may lack the role needed to send order feeds",
            # A burst of 15, then one every 2 minutes: the order waits queued, not the agent.
            wait_on_429=False,
        )
        feed_id = _required_str(created, "feedId", "createFeed")
        log.info("cancellation feed %s sent for %s", feed_id, label)
        return feed_id

    def list_feeds(self, created_since: str) -> list[dict[str, Any]]:
        """getFeeds: this seller's cancellation feeds created since an ISO 8601 time.

        What a re-check needs after a createFeed whose answer was lost: no feed since then
        means Amazon never received it.
        """
        what = "getFeeds"
        url = (f"{FEEDS_PATH}/feeds?feedTypes={FEED_TYPE}&pageSize=100"
               f"&createdSince={quote(created_since, safe='')}")
        data = self._sp_json("GET", url, what=what)
        feeds = data.get("feeds")
        if not isinstance(feeds, list) or not all(isinstance(f, dict) for f in feeds):
            raise BadResponse(SERVICE, f"{what}: the answer has no list of feeds")
        for feed in feeds:
            _required_str(feed, "feedId", what)
            _required_str(feed, "processingStatus", what)
        return feeds

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        """The feed as SP-API describes it (processingStatus, resultFeedDocumentId…)."""
        what = f"getFeed {feed_id}"
        data = self._sp_json("GET", f"{FEEDS_PATH}/feeds/{quote(feed_id, safe='')}", what=what)
        _required_str(data, "processingStatus", what)
        return data

    def get_feed_result(self, document_id: str) -> str:
        """The processing report of a finished feed, as text (XML for this feed type)."""
        what = f"getFeedDocument {document_id}"
        document = self._sp_json(
            "GET", f"{FEEDS_PATH}/documents/{quote(document_id, safe='')}", what=what
        )
        url = _document_url(document, what)
        compression = document.get("compressionAlgorithm")
        if compression not in (None, "GZIP"):
            raise BadResponse(SERVICE, f"{what}: unknown compressionAlgorithm {compression!r}")
        response = self._http.request(
            "GET", url, ok=(200,), what="download of the feed processing report",
            max_bytes=MAX_REPORT_BYTES,
        )
        body = response.content
        # When S3 also labels the object `Content-Encoding: gzip`, httpx has inflated it already:
        # only bytes that still start with gzip's magic number are inflated here.
        if compression == "GZIP" and body[:2] == b"\x1f\x8b":
            body = _gunzip(body, MAX_REPORT_TEXT, what)
        try:
            return body.decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:
            return body.decode("utf-8", errors="replace")

    # -- SP-API calls ----------------------------------------------------------------------------

    def _sp(
        self,
        method: str,
        url: str,
        *,
        what: str,
        ok: tuple[int, ...] = (200, 201, 202),
        forbidden_hint: str = "",
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"x-amz-access-token": self._access_token(), "Accept": "application/json"}
        response = self._http.request(
            method, url, ok=(*ok, 403), what=what, headers=headers, **kwargs
        )
        if response.status_code == 403:
            # The token may have been revoked since it was cached: the next run gets a new one.
            self._forget_token()
            raise self._forbidden(response, what, forbidden_hint)
        return response

    def _sp_json(self, method: str, url: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        return parse_json_object(SERVICE, self._sp(method, url, what=what, **kwargs), what)

    def _forbidden(self, response: httpx.Response, what: str, hint: str) -> AuthError:
        detail = self._error_detail(response)
        message = f"{what}: access denied" + (f" ({detail})" if detail else "")
        if hint:
            message += f"; {hint}"
        return AuthError(
            SERVICE,
            message,
            status=403,
            request_id=response.headers.get("x-amzn-RequestId") or None,
        )

    def _error_detail(self, response: httpx.Response) -> str:
        return self._hide(_error_text(response))

    def _hide(self, text: str) -> str:
        """Blank out any credential a server might echo back into an error message: the LWA
        secret, the refresh token and every access token of the run, in every form (raw,
        percent-encoded as in the LWA form, base64…): see text.hide_secrets."""
        return hide_secrets(text)

    # -- Login with Amazon -----------------------------------------------------------------------

    def _access_token(self) -> str:
        # Lookups run on threads (getOrder ∥ getAttributes): one login serves them all.
        with self._token_lock:
            now = self._clock()
            if self._token is None or not self._token.fresh(now):
                self._token = self._read_cache(now) or self._fetch_token(now)
                keep_secret(self._token.value)
            return self._token.value

    def _fetch_token(self, now: float) -> _Token:
        what = "LWA token request"
        settings = self._settings
        # The form body carries the secrets; ServiceClient logs only the method and URL.
        response = self._http.request(
            "POST",
            settings.lwa_token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": settings.refresh_token,
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            },
            headers={"Accept": "application/json"},
            ok=(200, 400, 401),
            what=what,
        )
        if response.status_code != 200:
            raise self._login_refused(response)
        data = parse_json_object(SERVICE, response, what)
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            raise BadResponse(SERVICE, f"{what}: the answer has no access_token")
        lifetime = data.get("expires_in", DEFAULT_TOKEN_LIFETIME)
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise BadResponse(SERVICE, f"{what}: expires_in is not a positive number")
        # `now` was read before the request: the token is taken to expire a little early.
        token = _Token(value, now + float(lifetime))
        self._write_cache(token)
        return token

    def _login_refused(self, response: httpx.Response) -> AuthError:
        try:
            data = response.json()
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        code = data.get("error") if isinstance(data.get("error"), str) else ""
        description = data.get("error_description")
        description = _one_line(description) if isinstance(description, str) else ""
        message = f"login refused: {code}" if code else "login refused"
        if description:
            message += f" ({description})"
        hint = {
            "invalid_grant": "check SPAPI_REFRESH_TOKEN: wrong, or the seller revoked the app",
            "invalid_client": "check LWA_CLIENT_ID and LWA_CLIENT_SECRET (rotated credentials?)",
        }.get(code or "")
        if hint:
            message += f"; {hint}"
        return AuthError(
            SERVICE,
            self._hide(message),
            status=response.status_code,
            request_id=response.headers.get("x-amzn-RequestId") or None,
        )

    # -- Token cache -----------------------------------------------------------------------------

    def _cache_key(self) -> str:
        # Which credentials the token belongs to, without writing any secret to disk.
        digest = hashlib.sha256(self._settings.refresh_token.encode("utf-8")).hexdigest()
        return f"{self._settings.client_id}|{digest}|{self._settings.lwa_token_url}"

    def _read_cache(self, now: float) -> _Token | None:
        path = self._token_cache
        if path is None:
            return None
        from cancelbot import private
        from cancelbot.errors import StateError

        try:
            raw = private.read_file(path, limit=65536)  # never through a link
            if raw is None:
                return None
            data = json.loads(raw)
        except StateError as exc:
            log.warning("cancelbot: ignoring the token cache: %s", exc)
            return None
        except (OSError, ValueError, RecursionError) as exc:
            # A damaged cache only costs one token request.
            log.debug("ignoring the unreadable token cache %s (%s)", path, type(exc).__name__)
            return None
        if not isinstance(data, dict) or data.get("key") != self._cache_key():
            return None
        value, expires_at = data.get("access_token"), data.get("expires_at")
        if not isinstance(value, str) or not value:
            return None
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            return None
        token = _Token(value, float(expires_at))
        if not token.fresh(now) or token.expires_at > now + MAX_CACHED_LIFETIME:
            return None
        return token

    def _write_cache(self, token: _Token) -> None:
        path = self._token_cache
        if path is None:
            return
        payload = json.dumps(
            {"key": self._cache_key(), "access_token": token.value, "expires_at": token.expires_at}
        ).encode("utf-8")
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only from its first byte, then renamed over the old file, so an older
            # cache with a wider mode is replaced rather than reused. On Windows the mode is mostly
            # ignored and the profile folder's ACLs are what protect the file.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(temp, flags, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(temp, path)
        except OSError as exc:
            log.warning("could not write the token cache %s (%s)", path, type(exc).__name__)
            with contextlib.suppress(OSError):
                temp.unlink()

    def _forget_token(self) -> None:
        self._token = None
        if self._token_cache is not None:
            with contextlib.suppress(OSError):
                self._token_cache.unlink()


# -- Wire formats (pure functions) ---------------------------------------------------------------


def parse_order(data: dict[str, Any], what: str = "getOrder") -> AmazonOrder:
    """An `AmazonOrder` from a GetOrderResponse; BadResponse naming any missing or mistyped part."""

    def get(parent: dict[str, Any], key: str, where: str, kind: type, required: bool = False):
        value = parent.get(key)
        if value is None:
            if required:
                raise BadResponse(SERVICE, f"{what}: the answer has no {where}")
            return None
        # bool is an int to Python, never a quantity to us.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise BadResponse(SERVICE, f"{what}: {where} is not {_KIND_NAMES[kind]}")
        return value

    def text(parent: dict[str, Any], key: str, where: str) -> str:
        return visible(get(parent, key, where, str) or "")

    def identifier(parent: dict[str, Any], key: str, where: str, required: bool = True) -> str:
        # Ids go into the cancellation feed's XML and into URLs: one with a control character
        # is refused here, before anything is changed anywhere (GSTK included), rather than
        # when the feed is built after GSTK has cancelled.
        value = get(parent, key, where, str, required=required)
        if value is None:
            return ""
        if required and not value.strip():
            raise BadResponse(SERVICE, f"{what}: {where} is empty")
        if has_controls(value) or _NOT_XML.search(value):
            raise BadResponse(SERVICE, f"{what}: {where} holds a control character")
        return value

    order = get(data, "order", "order", dict, required=True)
    order_id = identifier(order, "orderId", "order.orderId")
    sales = get(order, "salesChannel", "order.salesChannel", dict, required=True)
    fulfillment = get(order, "fulfillment", "order.fulfillment", dict) or {}
    buyer = get(order, "buyer", "order.buyer", dict) or {}
    raw_items = get(order, "orderItems", "order.orderItems", list, required=True)

    items = []
    for n, raw in enumerate(raw_items):
        at = f"order.orderItems[{n}]"
        if not isinstance(raw, dict):
            raise BadResponse(SERVICE, f"{what}: {at} is not an object")
        item_id = identifier(raw, "orderItemId", f"{at}.orderItemId")
        product = get(raw, "product", f"{at}.product", dict) or {}
        cancellation = get(raw, "cancellation", f"{at}.cancellation", dict) or {}
        at_c = f"{at}.cancellation"
        at_r, at_e = f"{at_c}.cancellationRequest", f"{at_c}.cancellationExecution"
        request = get(cancellation, "cancellationRequest", at_r, dict) or {}
        execution = get(cancellation, "cancellationExecution", at_e, dict) or {}
        items.append(
            AmazonItem(
                order_item_id=item_id,
                title=text(product, "title", f"{at}.product.title"),
                quantity=get(raw, "quantityOrdered", f"{at}.quantityOrdered", int) or 0,
                cancel_requested_by=text(request, "requester", f"{at_r}.requester"),
                cancel_request_reason=text(request, "cancelReason", f"{at_r}.cancelReason"),
                cancelled_by=text(execution, "cancelledBy", f"{at_e}.cancelledBy"),
            )
        )

    status = text(fulfillment, "fulfillmentStatus", "order.fulfillment.fulfillmentStatus")
    return AmazonOrder(
        order_id=order_id,
        fulfillment_status=status,
        marketplace_id=identifier(sales, "marketplaceId", "order.salesChannel.marketplaceId",
                                  required=False),
        marketplace_name=text(sales, "marketplaceName", "order.salesChannel.marketplaceName"),
        items=tuple(items),
        buyer_name=text(buyer, "buyerName", "order.buyer.buyerName"),
        buyer_email=text(buyer, "buyerEmail", "order.buyer.buyerEmail").strip(),
        last_updated=text(order, "lastUpdatedTime", "order.lastUpdatedTime"),
    )


def parse_search_page(data: dict[str, Any], what: str = "searchOrders") -> OrderSearchPage:
    """An `OrderSearchPage` from a SearchOrdersResponse (each order read as getOrder's is)."""
    raw = data.get("orders")
    if not isinstance(raw, list):
        raise BadResponse(SERVICE, f"{what}: the answer has no list of orders")
    orders = []
    for n, order in enumerate(raw):
        if not isinstance(order, dict):
            raise BadResponse(SERVICE, f"{what}: orders[{n}] is not an object")
        orders.append(parse_order({"order": order}, f"{what} orders[{n}]"))
    pagination = data.get("pagination")
    token = pagination.get("nextToken") if isinstance(pagination, dict) else None
    if isinstance(token, str) and (len(token) > SEARCH_TOKEN_LIMIT or has_controls(token)):
        raise BadResponse(SERVICE, f"{what}: the next page's token is not one cancelbot sends")
    before = data.get("lastUpdatedBefore")
    return OrderSearchPage(
        tuple(orders),
        token if isinstance(token, str) and token else None,
        before[:64] if isinstance(before, str) else "",
    )


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def build_cancellation_feed(seller_id: str, orders: list[tuple[str, list[str]]]) -> bytes:
    """The POST_ORDER_ACKNOWLEDGEMENT_DATA XML refusing every listed item (BuyerCanceled).

    `orders` holds (Amazon order id, its order item ids). ValueError for an order without items:
    an empty acknowledgement would cancel nothing, or the whole order, never what was meant.
    """
    import xml.etree.ElementTree as ET  # a CANNOT CANCEL run never loads it

    seller_id = _xml_value(seller_id, "seller id")
    if not orders:
        raise ValueError("no order to cancel")
    envelope = ET.Element(
        "AmazonEnvelope", {f"{{{_XSI}}}noNamespaceSchemaLocation": "amzn-envelope.xsd"}
    )
    header = ET.SubElement(envelope, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(envelope, "MessageType").text = "OrderAcknowledgement"
    for number, (order_id, item_ids) in enumerate(orders, start=1):
        order_id = _xml_value(order_id, "order id")
        if isinstance(item_ids, str) or not item_ids:
            raise ValueError(f"order {order_id} has no item to cancel")
        message = ET.SubElement(envelope, "Message")
        ET.SubElement(message, "MessageID").text = str(number)
        acknowledgement = ET.SubElement(message, "OrderAcknowledgement")
        ET.SubElement(acknowledgement, "AmazonOrderID").text = order_id
        # "Failure" is the seller refusing the order: Amazon cancels these items and refunds.
        ET.SubElement(acknowledgement, "StatusCode").text = "Failure"
        for item_id in item_ids:
            item = ET.SubElement(acknowledgement, "Item")
            code = _xml_value(item_id, f"item id of order {order_id}")
            ET.SubElement(item, "AmazonOrderItemCode").text = code
            ET.SubElement(item, "CancelReason").text = CANCEL_REASON
    ET.indent(envelope)
    # ElementTree writes its declaration with single quotes; this is the form Amazon documents.
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + ET.tostring(envelope, encoding="unicode").encode("utf-8") + b"\n"


def _xml_value(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"empty {name}")
    if _NOT_XML.search(value):
        raise ValueError(f"the {name} holds a character XML cannot carry")
    return value.strip()


def _gunzip(data: bytes, limit: int, what: str) -> bytes:
    """`data` inflated, at most `limit` bytes of it: BadResponse past that, or when not gzip."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadResponse(SERVICE, f"{what}: the report is not valid gzip") from exc
    if len(out) > limit:
        raise BadResponse(SERVICE, f"{what}: the report inflates past {limit / MB:g} MB; "
                                   "refused")
    return out


def _required_str(data: dict[str, Any], key: str, what: str) -> str:
    """A text field of an SP-API answer; an id (feedId, documentId) or a status, so one with a
    control character is refused rather than shown or journaled."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadResponse(SERVICE, f"{what}: the answer has no {key}")
    if has_controls(value):
        raise BadResponse(SERVICE, f"{what}: {key} holds a control character")
    return value


def _document_url(data: dict[str, Any], what: str) -> str:
    url = _required_str(data, "url", what)
    try:
        check_base_url("url", url)
    except ConfigError:
        # Not chained and not quoted: a pre-signed URL carries a signature.
        raise BadResponse(SERVICE, f"{what}: the document url is not https") from None
    return url


def _error_text(response: httpx.Response) -> str:
    """What went wrong, from an SP-API error list, an LWA error, or an S3 XML error."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list):
            parts = []
            for error in errors:
                if isinstance(error, dict):
                    fields = (error.get("code"), error.get("message"))
                    part = ": ".join(f for f in fields if isinstance(f, str) and f)
                    if part:
                        parts.append(part)
            if parts:
                return _one_line("; ".join(parts))
        error, description = data.get("error"), data.get("error_description")
        if isinstance(error, str) and error:
            if isinstance(description, str) and description:
                return _one_line(f"{error} ({description})")
            return _one_line(error)
        for key in ("message", "Message", "description"):
            if isinstance(data.get(key), str) and data[key]:
                return _one_line(data[key])
        return ""
    if b"<Error>" in response.content[:2000] and len(response.content) < 20_000:
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(response.content)
        except ET.ParseError:
            return ""
        fields = (root.findtext("Code"), root.findtext("Message"))
        return _one_line(": ".join(f for f in fields if f))
    return ""


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

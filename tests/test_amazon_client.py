"""AmazonClient against a fake LWA + SP-API + S3 behind one httpx.MockTransport; no network."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from cancelbot.config import AmazonSettings
from cancelbot.errors import AuthError, BadResponse, RateLimited, ServiceError
from cancelbot.marketplaces import (
    FRANCE,
    MARKETPLACES,
    contact_buyer_url,
    language_for,
    marketplace_for_domain,
    marketplace_label,
    seller_central_order_url,
)
from cancelbot.models import AmazonItem, AmazonOrder
from cancelbot.services.amazon import AmazonClient, build_cancellation_feed
from cancelbot.services.http import RetryPolicy

DATA = Path(__file__).parent / "data" / "spapi"
SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "amazon-sp-api"

ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
LWA_URL = "https://api.amazon.com/auth/o2/token"
UPLOAD_URL = (
    "https://tortuga-prod-eu.s3-eu-west-1.amazonaws.com/doc-upload"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc123"
)
REPORT_URL = "https://tortuga-prod-eu.s3-eu-west-1.amazonaws.com/report?X-Amz-Signature=def456"
CLIENT_ID = "amzn1.application-oa2-client.test"
SECRET = "amzn1.oa2-cs.v1.TOPSECRET"
REFRESH = "Atzr|REFRESH-TOKEN-VALUE"
SELLER = "A2SELLER0001"
ORDER_PATH = "/orders/2026-01-01/orders/"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def settings(**overrides: str) -> AmazonSettings:
    values = dict(
        endpoint=ENDPOINT,
        lwa_token_url=LWA_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        refresh_token=REFRESH,
        seller_id=SELLER,
    )
    values.update(overrides)
    return AmazonSettings(**values)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeAmazon:
    """LWA, SP-API and S3 in one handler. Routes map (METHOD, URL without query) to responses.

    A route's value is a list of responses served in turn (the last one repeats), or a callable.
    Unknown routes answer 599 so a stray request fails the test loudly.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.routes: dict[tuple[str, str], object] = {("POST", LWA_URL): self._token}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        key = (request.method, str(request.url.copy_with(query=None)))
        route = self.routes.get(key)
        if route is None:
            return httpx.Response(599, json={"unexpected": list(key)})
        if callable(route):
            return route(request)
        return route.pop(0) if len(route) > 1 else route[0]

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.tokens_issued += 1
        token = f"Atza|access-{self.tokens_issued}"
        return httpx.Response(
            200, json={"access_token": token, "token_type": "bearer", "expires_in": 3600}
        )

    def on(self, method: str, url: str, *responses: httpx.Response) -> None:
        self.routes[(method, url)] = list(responses)

    def on_order(self, order_id: str, *responses: httpx.Response) -> None:
        self.on("GET", f"{ENDPOINT}{ORDER_PATH}{order_id}", *responses)

    def sp_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "sellingpartnerapi-eu.amazon.com"]

    def lwa_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) == LWA_URL]


@pytest.fixture
def fake() -> FakeAmazon:
    return FakeAmazon()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_client(fake: FakeAmazon, sleeps: list[float] | None = None, **kwargs) -> AmazonClient:
    recorded = sleeps if sleeps is not None else []
    kwargs.setdefault("retry", RetryPolicy(sleep=recorded.append))
    return AmazonClient(
        kwargs.pop("settings", settings()), transport=httpx.MockTransport(fake), **kwargs
    )


def order_response(payload: dict, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


# -- getOrder --------------------------------------------------------------------------------


def test_get_order_parses_the_official_example_and_sends_the_documented_request(fake):
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    with make_client(fake) as client:
        order = client.get_order("202-1234567-8901234")

    assert order == AmazonOrder(
        order_id="202-1234567-8901234",
        fulfillment_status="SHIPPED",
        marketplace_id="A1F83G8C2ARO7P",
        marketplace_name="Amazon.co.uk",
        buyer_name="James Wilson",
        buyer_email="buyer-email@marketplace.amazon.co.uk",
        items=(
            AmazonItem(
                order_item_id="20212345678901",
                title="Echo Dot (4th Gen) | Smart speaker with Alexa | Charcoal",
                quantity=3,
            ),
        ),
        last_updated="2024-12-25T16:30:00Z",
    )
    [request] = fake.sp_requests()
    assert request.method == "GET"
    assert request.url.path == "/orders/2026-01-01/orders/202-1234567-8901234"
    # One includedData parameter, comma-separated (collectionFormat csv), not repeated.
    assert parse_qs(request.url.query.decode()) == {
        "includedData": ["FULFILLMENT,CANCELLATION,BUYER"]}
    assert request.headers["x-amz-access-token"] == "Atza|access-1"
    assert "authorization" not in request.headers


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("getOrder_200_sandbox_*.json")))
def test_get_order_parses_every_official_sandbox_order(fake, name):
    payload = load(name)
    raw = payload["order"]
    fake.on_order(raw["orderId"], order_response(payload))
    with make_client(fake) as client:
        order = client.get_order(raw["orderId"])

    assert order is not None
    assert order.order_id == raw["orderId"]
    assert order.fulfillment_status == raw["fulfillment"]["fulfillmentStatus"]
    assert order.marketplace_id == raw["salesChannel"]["marketplaceId"]
    assert order.marketplace_name == raw["salesChannel"]["marketplaceName"]
    assert order.buyer_name == raw.get("buyer", {}).get("buyerName", "")
    assert [i.order_item_id for i in order.items] == [i["orderItemId"] for i in raw["orderItems"]]
    assert [i.quantity for i in order.items] == [i["quantityOrdered"] for i in raw["orderItems"]]
    assert all(i.title for i in order.items)
    assert not order.buyer_requested_cancel


def test_sandbox_orders_cover_the_statuses_we_decide_on():
    statuses = {
        load(p.name)["order"]["fulfillment"]["fulfillmentStatus"]
        for p in DATA.glob("getOrder_200_sandbox_*.json")
    }
    assert statuses == {"UNSHIPPED", "SHIPPED"}


def test_get_order_reads_the_cancellation_block(fake):
    raw = load("searchOrders_200_example_order0.json")
    fake.on_order(raw["orderId"], order_response({"order": raw}))
    with make_client(fake) as client:
        order = client.get_order(raw["orderId"])

    assert order is not None
    requested, plain = order.items
    assert requested.order_item_id == "12345678901234"
    assert requested.cancel_requested_by == "BUYER"
    assert requested.cancel_request_reason == "Changed mind about purchase"
    assert requested.cancelled_by == "MERCHANT"
    assert (plain.cancel_requested_by, plain.cancel_request_reason, plain.cancelled_by) == (
        "",
        "",
        "",
    )
    assert order.buyer_requested_cancel


def test_get_order_fills_missing_optional_parts_with_empty_strings(fake):
    payload = {
        "order": {
            "orderId": "402-0000000-0000001",
            "salesChannel": {"channelName": "AMAZON"},
            "orderItems": [{"orderItemId": "111"}],
        }
    }
    fake.on_order("402-0000000-0000001", order_response(payload))
    with make_client(fake) as client:
        order = client.get_order("402-0000000-0000001")

    assert order == AmazonOrder(
        order_id="402-0000000-0000001",
        fulfillment_status="",
        marketplace_id="",
        items=(AmazonItem(order_item_id="111"),),
    )


def _example_without(*path: str) -> dict:
    payload = load("getOrder_200_example.json")
    target = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({}, "order"),
        (_example_without("order", "orderId"), "order.orderId"),
        (_example_without("order", "orderItems"), "order.orderItems"),
        (_example_without("order", "salesChannel"), "order.salesChannel"),
        (_example_without("order", "orderItems", 0, "orderItemId"), "orderItems[0].orderItemId"),
        ({"order": []}, "order is not an object"),
        ({"order": {"orderId": "1", "salesChannel": {}, "orderItems": {}}}, "not a list"),
        ({"order": {"orderId": "1", "salesChannel": {}, "orderItems": ["x"]}}, "[0] is not"),
        (
            {
                "order": {
                    "orderId": "1",
                    "salesChannel": {},
                    "orderItems": [{"orderItemId": "9", "quantityOrdered": "3"}],
                }
            },
            "quantityOrdered is not an integer",
        ),
        (
            {"order": {"orderId": "1", "salesChannel": "AMAZON", "orderItems": []}},
            "salesChannel is not an object",
        ),
    ],
)
def test_get_order_rejects_missing_or_mistyped_parts(fake, payload, named):
    fake.on_order("402-1", order_response(payload))
    with make_client(fake) as client, pytest.raises(BadResponse) as caught:
        client.get_order("402-1")
    assert named in str(caught.value)
    assert "Amazon" in str(caught.value)


def test_get_order_malformed_json_is_a_bad_response(fake):
    fake.on_order("402-1", httpx.Response(200, content=b"{not json"))
    with make_client(fake) as client, pytest.raises(BadResponse, match="not valid JSON"):
        client.get_order("402-1")


def test_get_order_404_means_not_found(fake):
    fake.on_order("402-1", order_response({"errors": [{"code": "NotFound", "message": "x"}]}, 404))
    with make_client(fake) as client:
        assert client.get_order("402-1") is None


def test_get_order_403_is_an_auth_error_with_a_hint_and_the_request_id(fake):
    body = {
        "errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]
    }
    fake.on_order("402-1", order_response(body, 403, **{"x-amzn-RequestId": "req-403"}))
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        client.get_order("402-1")
    message = str(caught.value)
    assert "Unauthorized: Access to requested resource is denied." in message
    assert "Inventory and Order Tracking" in message
    assert "another seller" in message
    assert caught.value.status == 403
    assert caught.value.request_id == "req-403"


def test_sp_api_error_lists_give_code_and_message(fake):
    error = load("getOrder_400_sandbox_TEST_CASE_400.json")
    fake.on_order("TEST_CASE_400", order_response(error, 400, **{"x-amzn-RequestId": "r-1"}))
    with make_client(fake) as client, pytest.raises(ServiceError) as caught:
        client.get_order("TEST_CASE_400")
    assert "InvalidInput: Invalid Input" in str(caught.value)
    assert caught.value.status == 400
    assert caught.value.request_id == "r-1"


def test_get_order_retries_a_429_then_succeeds(fake, sleeps):
    fake.on_order(
        "202-1234567-8901234",
        order_response({"errors": [{"code": "QuotaExceeded", "message": "slow down"}]}, 429),
        order_response(load("getOrder_200_example.json")),
    )
    with make_client(fake, sleeps) as client:
        order = client.get_order("202-1234567-8901234")

    assert order is not None and order.order_id == "202-1234567-8901234"
    assert len(fake.sp_requests()) == 2
    assert len(sleeps) == 1
    assert len(fake.lwa_requests()) == 1
    assert {r.headers["x-amz-access-token"] for r in fake.sp_requests()} == {"Atza|access-1"}


def test_get_order_gives_up_on_endless_429(fake, sleeps):
    fake.on_order("402-1", order_response({"errors": []}, 429, **{"Retry-After": "1"}))
    client = make_client(fake, sleeps, retry=RetryPolicy(attempts=3, sleep=sleeps.append))
    with client, pytest.raises(RateLimited):
        client.get_order("402-1")
    assert len(fake.sp_requests()) == 3


def test_order_id_is_escaped_in_the_path(fake):
    with make_client(fake) as client, pytest.raises(ServiceError):
        client.get_order("a/b?c")
    [request] = fake.sp_requests()
    assert request.url.raw_path.startswith(b"/orders/2026-01-01/orders/a%2Fb%3Fc?")


# -- Login with Amazon -------------------------------------------------------------------------


def test_lwa_request_is_a_form_post_without_sp_api_headers(fake):
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    with make_client(fake) as client:
        client.get_order("202-1234567-8901234")

    [login] = fake.lwa_requests()
    assert login.method == "POST"
    assert login.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(login.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
    }
    assert "x-amz-access-token" not in login.headers
    assert "authorization" not in login.headers


def test_token_is_reused_until_a_minute_before_expiry(fake):
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    clock = Clock()
    with make_client(fake, clock=clock) as client:
        client.get_order("202-1234567-8901234")
        clock.now += 3600 - 61  # still more than a minute left
        client.get_order("202-1234567-8901234")
        assert fake.tokens_issued == 1
        clock.now += 2  # now within the last minute
        client.get_order("202-1234567-8901234")

    assert fake.tokens_issued == 2
    tokens = [r.headers["x-amz-access-token"] for r in fake.sp_requests()]
    assert tokens == ["Atza|access-1", "Atza|access-1", "Atza|access-2"]


@pytest.mark.parametrize(("status", "error"), [(400, "invalid_grant"), (401, "invalid_client")])
def test_lwa_refusal_is_an_auth_error_without_secrets(fake, status, error):
    # A server echoing a credential back must not get it printed either.
    body = {"error": error, "error_description": f"bad value {SECRET} / {REFRESH}"}
    fake.on("POST", LWA_URL, httpx.Response(status, json=body))
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        client.get_order("402-1")

    message = str(caught.value)
    assert message.startswith(f"Amazon: login refused: {error} (bad value ")
    assert SECRET not in message and REFRESH not in message
    assert "TOPSECRET" not in message
    assert caught.value.status == status
    assert fake.sp_requests() == []


def test_lwa_answer_without_access_token_is_a_bad_response(fake):
    fake.on("POST", LWA_URL, httpx.Response(200, json={"token_type": "bearer"}))
    with make_client(fake) as client, pytest.raises(BadResponse, match="access_token"):
        client.get_order("402-1")


def test_nothing_secret_is_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    with make_client(fake) as client:
        client.get_order("202-1234567-8901234")
    assert "auth/o2/token" in caplog.text  # the log is on, and shows the call
    for secret in (SECRET, REFRESH, "Atza|access-1"):
        assert secret not in caplog.text


# -- Token cache -------------------------------------------------------------------------------


def test_token_cache_is_private_and_reused_by_the_next_client(fake, tmp_path):
    cache = tmp_path / "state" / "lwa-token.json"
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    clock = Clock()
    with make_client(fake, token_cache=cache, clock=clock) as client:
        client.get_order("202-1234567-8901234")

    raw = cache.read_text(encoding="utf-8")
    assert SECRET not in raw and REFRESH not in raw
    assert CLIENT_ID in raw
    assert hashlib.sha256(REFRESH.encode()).hexdigest() in raw
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600

    second = FakeAmazon()
    second.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    clock.now += 600
    with make_client(second, token_cache=cache, clock=clock) as client:
        client.get_order("202-1234567-8901234")
    assert second.lwa_requests() == []
    assert second.sp_requests()[0].headers["x-amz-access-token"] == "Atza|access-1"


def test_token_cache_is_ignored_once_expired_or_for_other_credentials(fake, tmp_path):
    cache = tmp_path / "token.json"
    fake.on_order("402-1", order_response(load("getOrder_200_example.json")))
    clock = Clock()
    with make_client(fake, token_cache=cache, clock=clock) as client:
        client.get_order("402-1")

    other = FakeAmazon()
    other.on_order("402-1", order_response(load("getOrder_200_example.json")))
    with make_client(
        other, token_cache=cache, clock=clock, settings=settings(refresh_token="Atzr|other")
    ) as client:
        client.get_order("402-1")
    assert len(other.lwa_requests()) == 1

    later = FakeAmazon()
    later.on_order("402-1", order_response(load("getOrder_200_example.json")))
    clock.now += 3600
    with make_client(
        later, token_cache=cache, clock=clock, settings=settings(refresh_token="Atzr|other")
    ) as client:
        client.get_order("402-1")
    assert len(later.lwa_requests()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_token_cache_with_a_wide_mode_is_replaced_by_a_private_file(fake, tmp_path):
    cache = tmp_path / "token.json"
    cache.write_text("{}")
    cache.chmod(0o644)
    fake.on_order("402-1", order_response(load("getOrder_200_example.json")))
    with make_client(fake, token_cache=cache) as client:
        client.get_order("402-1")
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert json.loads(cache.read_text())["access_token"] == "Atza|access-1"


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff garbage",
        b"[1, 2]",
        b'{"key": 3}',
        b"[" * 100_000,
        None,  # a folder where the file should be
    ],
)
def test_corrupt_token_cache_is_tolerated(fake, tmp_path, content):
    cache = tmp_path / "token.json"
    if content is None:
        cache.mkdir()
    else:
        cache.write_bytes(content)
    fake.on_order("202-1234567-8901234", order_response(load("getOrder_200_example.json")))
    with make_client(fake, token_cache=cache) as client:
        order = client.get_order("202-1234567-8901234")
    assert order is not None
    assert fake.tokens_issued == 1
    if content is not None:
        assert json.loads(cache.read_text())["access_token"] == "Atza|access-1"


def test_a_403_drops_the_cached_token(fake, tmp_path):
    cache = tmp_path / "token.json"
    fake.on_order("402-1", order_response({"errors": []}, 403))
    with make_client(fake, token_cache=cache) as client:
        with pytest.raises(AuthError):
            client.get_order("402-1")
        assert not cache.exists()
        with pytest.raises(AuthError):
            client.get_order("402-1")
    assert fake.tokens_issued == 2


# -- Cancellation feed -----------------------------------------------------------------------


def submit(client: AmazonClient, orders) -> str:
    """What feeds.py does: upload the document, then createFeed; the feedId."""
    orders = list(orders)
    document_id = client.upload_cancellations(orders)
    return client.create_feed(document_id, sorted({o.marketplace_id for o in orders}),
                              ", ".join(o.order_id for o in orders))


def feed_routes(fake: FakeAmazon) -> None:
    document = load("createFeedDocument_201_sandbox.json") | {"url": UPLOAD_URL}
    fake.on("POST", f"{ENDPOINT}/feeds/2021-06-30/documents", httpx.Response(201, json=document))
    fake.on("PUT", UPLOAD_URL.split("?")[0], httpx.Response(200))
    created = load("createFeed_202_sandbox.json")
    fake.on("POST", f"{ENDPOINT}/feeds/2021-06-30/feeds", httpx.Response(202, json=created))


def parse_feed(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(body)


def messages(root: ET.Element) -> list[dict]:
    found = []
    for message in root.findall("Message"):
        ack = message.find("OrderAcknowledgement")
        found.append(
            {
                "id": message.findtext("MessageID"),
                "order": ack.findtext("AmazonOrderID"),
                "status": ack.findtext("StatusCode"),
                "items": [
                    (i.findtext("AmazonOrderItemCode"), i.findtext("CancelReason"))
                    for i in ack.findall("Item")
                ],
            }
        )
    return found


FR_ORDER = AmazonOrder(
    order_id="402-1234567-1234567",
    fulfillment_status="UNSHIPPED",
    marketplace_id="A13V1IB3VIYZZH",
    items=(AmazonItem("11111111111111"), AmazonItem("22222222222222")),
)


def test_cancel_creates_uploads_and_submits_a_feed(fake):
    feed_routes(fake)
    with make_client(fake) as client:
        feed_id = submit(client, [FR_ORDER])

    assert feed_id == "3485934"
    login, create_doc, upload, create_feed = fake.requests
    assert login.url == LWA_URL

    assert (create_doc.method, create_doc.url.path) == ("POST", "/feeds/2021-06-30/documents")
    assert json.loads(create_doc.content) == {"contentType": "text/xml; charset=UTF-8"}
    assert create_doc.headers["x-amz-access-token"] == "Atza|access-1"

    assert upload.method == "PUT"
    assert str(upload.url) == UPLOAD_URL  # the signature in the query is kept intact
    assert upload.headers["content-type"] == "text/xml; charset=UTF-8"
    assert "x-amz-access-token" not in upload.headers
    assert "authorization" not in upload.headers
    root = parse_feed(upload.content)
    assert root.tag == "AmazonEnvelope"
    assert root.get(f"{XSI}noNamespaceSchemaLocation") == "amzn-envelope.xsd"
    assert root.findtext("Header/DocumentVersion") == "1.01"
    assert root.findtext("Header/MerchantIdentifier") == SELLER
    assert root.findtext("MessageType") == "OrderAcknowledgement"
    assert messages(root) == [
        {
            "id": "1",
            "order": "402-1234567-1234567",
            "status": "Failure",
            "items": [
                ("11111111111111", "BuyerCanceled"),
                ("22222222222222", "BuyerCanceled"),
            ],
        }
    ]

    assert (create_feed.method, create_feed.url.path) == ("POST", "/feeds/2021-06-30/feeds")
    assert create_feed.headers["x-amz-access-token"] == "Atza|access-1"
    assert json.loads(create_feed.content) == {
        "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
        "marketplaceIds": ["A13V1IB3VIYZZH"],
        "inputFeedDocumentId": "3d4e42b5-1d6e-44e8-a89c-2abfca0625bb",
    }
    assert all("authorization" not in r.headers for r in fake.requests)


def test_submit_cancellations_puts_every_order_in_one_feed(fake):
    feed_routes(fake)
    de_order = AmazonOrder(
        order_id="028-7654321-7654321",
        fulfillment_status="UNSHIPPED",
        marketplace_id="A1PA6795UKMFR9",
        items=(AmazonItem("33333333333333"),),
    )
    second_fr = AmazonOrder(
        order_id="402-0000000-0000009",
        fulfillment_status="PENDING",
        marketplace_id="A13V1IB3VIYZZH",
        items=(AmazonItem("44444444444444"),),
    )
    with make_client(fake) as client:
        submit(client, [de_order, FR_ORDER, second_fr])

    [upload] = [r for r in fake.requests if r.method == "PUT"]
    found = messages(parse_feed(upload.content))
    assert [(m["id"], m["order"]) for m in found] == [
        ("1", "028-7654321-7654321"),
        ("2", "402-1234567-1234567"),
        ("3", "402-0000000-0000009"),
    ]
    assert found[0]["items"] == [("33333333333333", "BuyerCanceled")]
    assert len(found[1]["items"]) == 2
    [create_feed] = [r for r in fake.requests if r.url.path.endswith("/feeds")]
    assert json.loads(create_feed.content)["marketplaceIds"] == ["A13V1IB3VIYZZH", "A1PA6795UKMFR9"]


@pytest.mark.parametrize(
    "orders",
    [
        [],
        [AmazonOrder("402-1", "UNSHIPPED", "A13V1IB3VIYZZH", items=())],
        [AmazonOrder("402-1", "UNSHIPPED", "", items=(AmazonItem("1"),))],
        [FR_ORDER, FR_ORDER],
    ],
)
def test_nothing_is_sent_for_an_order_that_cannot_be_cancelled(fake, orders):
    feed_routes(fake)
    with make_client(fake) as client, pytest.raises(ValueError):
        submit(client, orders)
    assert fake.requests == []


def test_an_expired_upload_url_stops_before_the_feed_is_created(fake):
    feed_routes(fake)
    s3_error = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    fake.on("PUT", UPLOAD_URL.split("?")[0], httpx.Response(403, content=s3_error))
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        submit(client, [FR_ORDER])
    assert "AccessDenied: Request has expired" in str(caught.value)
    assert "X-Amz-Signature" not in str(caught.value)
    assert not [r for r in fake.requests if r.url.path.endswith("/feeds")]


def test_a_plain_http_upload_url_is_refused(fake):
    feed_routes(fake)
    document = {"feedDocumentId": "d1", "url": "http://example.com/upload?X-Amz-Signature=s"}
    fake.on("POST", f"{ENDPOINT}/feeds/2021-06-30/documents", httpx.Response(201, json=document))
    with make_client(fake) as client, pytest.raises(BadResponse, match="not https"):
        submit(client, [FR_ORDER])
    assert not [r for r in fake.requests if r.method == "PUT"]


def test_create_feed_without_feed_id_is_a_bad_response(fake):
    feed_routes(fake)
    fake.on("POST", f"{ENDPOINT}/feeds/2021-06-30/feeds", httpx.Response(202, json={}))
    with make_client(fake) as client, pytest.raises(BadResponse, match="feedId"):
        submit(client, [FR_ORDER])


# -- Feed follow-up ----------------------------------------------------------------------------


def test_get_feed_returns_the_feed(fake):
    feed = load("getFeed_200_sandbox.json")
    fake.on("GET", f"{ENDPOINT}/feeds/2021-06-30/feeds/FeedId1", httpx.Response(200, json=feed))
    with make_client(fake) as client:
        assert client.get_feed("FeedId1") == feed
    [request] = fake.sp_requests()
    assert request.method == "GET"
    assert request.headers["x-amz-access-token"] == "Atza|access-1"


REPORT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<AmazonEnvelope><MessageType>ProcessingReport'
    "</MessageType><Message><ProcessingReport><StatusCode>Complete</StatusCode>"
    "<ProcessingSummary><MessagesProcessed>1</MessagesProcessed><MessagesSuccessful>1"
    "</MessagesSuccessful><MessagesWithError>0</MessagesWithError></ProcessingSummary>"
    "</ProcessingReport></Message></AmazonEnvelope>"
)


@pytest.mark.parametrize("gzipped", [True, False])
def test_get_feed_result_downloads_and_inflates_the_report(fake, gzipped):
    document = load("getFeedDocument_200_sandbox.json") | {"url": REPORT_URL}
    if gzipped:
        document["compressionAlgorithm"] = "GZIP"
    doc_id = document["feedDocumentId"]
    fake.on(
        "GET", f"{ENDPOINT}/feeds/2021-06-30/documents/{doc_id}", httpx.Response(200, json=document)
    )
    body = gzip.compress(REPORT.encode()) if gzipped else REPORT.encode()
    fake.on("GET", REPORT_URL.split("?")[0], httpx.Response(200, content=body))
    with make_client(fake) as client:
        assert client.get_feed_result(doc_id) == REPORT

    get_doc, download = fake.requests[1:]
    assert get_doc.url.path == f"/feeds/2021-06-30/documents/{doc_id}"
    assert get_doc.headers["x-amz-access-token"] == "Atza|access-1"
    assert str(download.url) == REPORT_URL
    assert "x-amz-access-token" not in download.headers


def test_get_feed_result_rejects_broken_gzip(fake):
    document = {"feedDocumentId": "d1", "url": REPORT_URL, "compressionAlgorithm": "GZIP"}
    fake.on("GET", f"{ENDPOINT}/feeds/2021-06-30/documents/d1", httpx.Response(200, json=document))
    fake.on("GET", REPORT_URL.split("?")[0], httpx.Response(200, content=b"\x1f\x8b broken"))
    with make_client(fake) as client, pytest.raises(BadResponse, match="gzip"):
        client.get_feed_result("d1")


# -- Feed XML ----------------------------------------------------------------------------------


def test_feed_values_are_escaped_and_round_trip():
    body = build_cancellation_feed("A&B<x>", [("402-1&<2>", ["7\"'8"])])
    assert b"A&amp;B&lt;x&gt;" in body
    root = parse_feed(body)
    assert root.findtext("Header/MerchantIdentifier") == "A&B<x>"
    [message] = messages(root)
    assert message["order"] == "402-1&<2>"
    assert message["items"] == [("7\"'8", "BuyerCanceled")]


@pytest.mark.parametrize(
    ("seller", "orders"),
    [
        ("S", [("402-1", [])]),
        ("S", []),
        ("", [("402-1", ["1"])]),
        ("S", [("", ["1"])]),
        ("S", [("402-1", [""])]),
        ("S", [("402-1", ["bad\x00"])]),
    ],
)
def test_feed_refuses_empty_or_unusable_values(seller, orders):
    with pytest.raises(ValueError):
        build_cancellation_feed(seller, orders)


# -- Marketplaces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marketplace_id", "language", "label"),
    [
        ("A13V1IB3VIYZZH", "fr", "amazon.fr"),
        ("AMEN7PMS3EDWL", "fr", "amazon.com.be"),
        ("A1PA6795UKMFR9", "de", "amazon.de"),
        ("A1F83G8C2ARO7P", "en", "amazon.co.uk"),
        ("APJ6JRA9NG5V4", "en", "amazon.it"),
        ("ATVPDKIKX0DER", "en", "amazon.com"),
        ("A2Q3Y263D00KWC", "en", "amazon.com.br"),
        ("XUNKNOWN", "en", "XUNKNOWN"),
    ],
)
def test_marketplace_language_and_label(marketplace_id, language, label):
    assert language_for(marketplace_id) == language
    assert marketplace_label(marketplace_id) == label


def test_the_table_lists_every_marketplace_we_sell_on():
    expected = {
        "A13V1IB3VIYZZH",
        "AMEN7PMS3EDWL",
        "A1PA6795UKMFR9",
        "A1F83G8C2ARO7P",
        "APJ6JRA9NG5V4",
        "A1RKKUPIHCS9HS",
        "A1805IZSGTT6HS",
        "A2NODRKZP88ZB9",
        "A1C3SOZRARQ6R3",
        "A33AVAJ2PDY3EV",
        "A28R8C7NBKEWEA",
        "ATVPDKIKX0DER",
        "A2EUQ1WTGCTBG2",
        "A1AM78C64UM0Y8",
        "A2Q3Y263D00KWC",
    }
    assert expected <= set(MARKETPLACES)
    assert {m.language for m in MARKETPLACES.values()} == {"fr", "de", "en"}


def test_marketplace_for_domain():
    assert marketplace_for_domain("amazon.de") == "A1PA6795UKMFR9"
    assert marketplace_for_domain(" WWW.Amazon.com.be ") == "AMEN7PMS3EDWL"
    assert marketplace_for_domain("amazon.co.uk") == "A1F83G8C2ARO7P"
    assert marketplace_for_domain("amazon.example") is None
    assert marketplace_for_domain("") is None
    assert FRANCE == marketplace_for_domain("amazon.fr") == "A13V1IB3VIYZZH"


def test_seller_central_links():
    assert (
        seller_central_order_url("402-1234567-1234567", "A13V1IB3VIYZZH")
        == "https://sellercentral.amazon.fr/orders-v3/order/402-1234567-1234567"
    )
    assert (
        contact_buyer_url("402-1234567-1234567", "A13V1IB3VIYZZH")
        == "https://sellercentral.amazon.fr/messaging/contact"
        "?orderID=402-1234567-1234567&marketplaceID=A13V1IB3VIYZZH"
    )
    assert seller_central_order_url("1", "XUNKNOWN").startswith(
        "https://sellercentral-europe.amazon.com/orders-v3/order/"
    )
    assert contact_buyer_url("1&x=2 #", "A1F83G8C2ARO7P") == (
        "https://sellercentral.amazon.co.uk/messaging/contact"
        "?orderID=1%26x%3D2+%23&marketplaceID=A1F83G8C2ARO7P"
    )


# -- The copied payloads still match Amazon's models -----------------------------------------


@pytest.mark.skipif(not SPECS.is_dir(), reason="the SP-API models are not beside the repository")
def test_copied_payloads_match_the_models():
    orders = json.loads((SPECS / "orders_2026-01-01.json").read_text(encoding="utf-8"))
    get = orders["paths"]["/orders/2026-01-01/orders/{orderId}"]["get"]["responses"]
    assert load("getOrder_200_example.json") == get["200"]["examples"]["application/json"]
    for static in get["200"]["x-amzn-api-sandbox"]["static"]:
        order_id = static["request"]["parameters"]["orderId"]["value"]
        assert load(f"getOrder_200_sandbox_{order_id}.json") == static["response"]
    search = orders["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]
    assert (
        load("searchOrders_200_example_order0.json")
        == (search["examples"]["application/json"]["orders"][0])
    )
    feeds = json.loads((SPECS / "feeds_2021-06-30.json").read_text(encoding="utf-8"))["paths"]
    created = feeds["/feeds/2021-06-30/feeds"]["post"]["responses"]["202"]
    assert (
        load("createFeed_202_sandbox.json")
        == (created["x-amzn-api-sandbox"]["static"][0]["response"])
    )


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_link_in_place_of_the_token_cache_is_not_followed(fake, tmp_path, caplog):
    """Issue 11 §7: a planted link is neither read nor written through."""
    fake.on_order("402-1", order_response(load("getOrder_200_example.json")))
    clock = Clock()
    good = tmp_path / "good.json"
    with make_client(fake, token_cache=good, clock=clock) as client:  # a real, fresh cache…
        client.get_order("402-1")
    target = tmp_path / "elsewhere.json"
    target.write_bytes(good.read_bytes())
    cache = tmp_path / "lwa-token.json"
    cache.symlink_to(target)  # … reachable only through a link

    again = FakeAmazon()
    again.on_order("402-1", order_response(load("getOrder_200_example.json")))
    with make_client(again, token_cache=cache, clock=clock) as client:
        client.get_order("402-1")
    assert len(again.lwa_requests()) == 1, "the linked cache was not used"
    assert any("symbolic link" in r.getMessage() for r in caplog.records)
    assert not cache.is_symlink() and target.read_bytes() == good.read_bytes()


# -- searchOrders: buyers' requests, within the usage plan -----------------------------------

SEARCH_URL = f"{ENDPOINT}/orders/2026-01-01/orders"


def search_page(*orders: dict, next_token: str | None = None,
                before: str = "2024-12-25T15:00:00Z", **headers: str) -> httpx.Response:
    body: dict = {"orders": list(orders), "lastUpdatedBefore": before}
    if next_token:
        body["pagination"] = {"nextToken": next_token}
    return httpx.Response(200, json=body, headers=headers)


def test_search_orders_sends_the_documented_request_and_reads_the_official_example(fake):
    official = load("searchOrders_200_example_order0.json")
    fake.on("GET", SEARCH_URL, search_page(official, next_token="2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"))
    with make_client(fake) as client:
        page = client.search_orders("2024-12-25T00:00:00Z", page_token="abc=")
    [request] = fake.sp_requests()
    assert parse_qs(request.url.query.decode()) == {
        "lastUpdatedAfter": ["2024-12-25T00:00:00Z"],
        "fulfillmentStatuses": ["PENDING,UNSHIPPED"],  # not shipped yet, csv like includedData
        "includedData": ["CANCELLATION,FULFILLMENT"],
        "maxResultsPerPage": ["100"],
        "paginationToken": ["abc="],
    }
    [order] = page.orders
    assert (order.order_id, order.fulfillment_status, order.last_updated) == (
        "123-4567890-1234567", "SHIPPED", "2024-12-25T14:45:00Z")
    assert order.buyer_requested_cancel, "item 0: cancellationRequest.requester BUYER"
    assert order.items[0].cancelled_by == "MERCHANT"
    assert page.next_token == "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"
    assert page.last_updated_before == "2024-12-25T15:00:00Z"


def test_the_rate_amazon_announces_replaces_the_default(fake):
    fake.on("GET", SEARCH_URL, search_page(**{"x-amzn-RateLimit-Limit": "0.02"}))
    with make_client(fake) as client:
        client.search_orders("2024-12-25T00:00:00Z")
        assert client.search_plan.rate == 0.02


def test_search_orders_keeps_to_its_usage_plan_across_processes(fake, tmp_path):
    from cancelbot.services.usage_plan import TokenBucket

    clock = Clock()
    fake.on("GET", SEARCH_URL, search_page())
    state = tmp_path / "spapi-search-orders.json"

    def client_of_another_process() -> AmazonClient:  # one plan, two processes
        plan = TokenBucket(1 / 180, 2, state_file=state, clock=clock)
        return make_client(fake, search_plan=plan, clock=clock)

    with client_of_another_process() as first, client_of_another_process() as second:
        first.search_orders("2024-12-25T00:00:00Z")
        second.search_orders("2024-12-25T00:00:00Z")  # the burst: 2
        for client in (first, second):
            with pytest.raises(RateLimited, match="one search every 3 min; the next one in 180"):
                client.search_orders("2024-12-25T00:00:00Z")
        assert len(fake.sp_requests()) == 2, "refused here: nothing sent to Amazon"
        assert second.search_ready_in() == pytest.approx(180)
        clock.now += 180
        second.search_orders("2024-12-25T00:00:00Z")
        assert first.search_ready_in() == pytest.approx(180), "the token went to the other one"
    assert len(fake.sp_requests()) == 3


def test_amazons_429_empties_the_plan_and_is_not_waited_out_inside_the_call(fake, tmp_path):
    from cancelbot.services.usage_plan import TokenBucket

    clock, sleeps = Clock(), []
    fake.on("GET", SEARCH_URL, httpx.Response(429, json={"errors": [{"code": "QuotaExceeded"}]}),
            search_page())
    plan = TokenBucket(1 / 180, 20, state_file=tmp_path / "plan.json", clock=clock)
    with make_client(fake, sleeps, search_plan=plan, clock=clock) as client:
        with pytest.raises(RateLimited, match="usage plan is spent"):
            client.search_orders("2024-12-25T00:00:00Z")
        assert sleeps == [] and len(fake.sp_requests()) == 1
        assert client.search_ready_in() == pytest.approx(180), "Amazon's count, not ours"
        with pytest.raises(RateLimited):
            client.search_orders("2024-12-25T00:00:00Z")
        assert len(fake.sp_requests()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_link_in_place_of_the_search_plan_is_neither_believed_nor_written_through(tmp_path):
    from cancelbot.services.usage_plan import TokenBucket

    clock = Clock()
    target = tmp_path / "elsewhere.json"
    target.write_text('{"tokens": 0, "at": 0}')
    state = tmp_path / "spapi-search-orders.json"
    state.symlink_to(target)
    plan = TokenBucket(1 / 180, 2, state_file=state, clock=clock)
    assert plan.take() == 0.0, "the linked level (empty) was not believed"
    assert not state.is_symlink() and target.read_text() == '{"tokens": 0, "at": 0}'
    assert TokenBucket(1 / 180, 2, state_file=state, clock=clock).take() == 0.0
    assert TokenBucket(1 / 180, 2, state_file=state, clock=clock).take() > 0, "its own file kept"

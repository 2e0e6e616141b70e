"""The sandbox, driven over the wire exactly as the real clients drive the real services."""

from __future__ import annotations

import json
import multiprocessing
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from cancelbot.config import load_settings
from cancelbot.errors import NotFound
from cancelbot.sandbox import (
    SandboxStateError,
    list_tickets,
    load,
    reset,
    sandbox_environment,
    state_path,
)
from cancelbot.sandbox import amazon as sandbox_amazon
from cancelbot.sandbox.state import _file_lock
from cancelbot.sandbox.transport import SandboxTransport
from cancelbot.services.http import ServiceClient

ENV = sandbox_environment()
FD = ENV["FRESHDESK_URL"]
GSTK = ENV["GSTK_URL"]
SPAPI = ENV["SPAPI_ENDPOINT"]
FD_AUTH = (ENV["FRESHDESK_API_KEY"], "X")
GSTK_AUTH = {"Authorization": f"Bearer {ENV['GSTK_TOKEN']}"}
FR = "A13V1IB3VIYZZH"
ORDER_1001 = "402-3815274-6120358"
SHIPPED_ORDER = "302-5521908-4417736"  # ticket 1002


def client(home: Path) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport(home))


def gstk_order(http: httpx.Client, amazon_id: str) -> dict:
    response = http.get(
        f"{GSTK}/orders", params={"marketplace_order_id": amazon_id}, headers=GSTK_AUTH
    )
    assert response.status_code == 200, response.text
    (order,) = response.json()["orders"]
    return order


def access_token(http: httpx.Client) -> str:
    response = http.post(
        ENV["LWA_TOKEN_URL"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": ENV["SPAPI_REFRESH_TOKEN"],
            "client_id": ENV["LWA_CLIENT_ID"],
            "client_secret": ENV["LWA_CLIENT_SECRET"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("Atza|sandbox-")
    return body["access_token"]


def acknowledgement_feed(order_id: str, items: list[str], reason: str = "BuyerCanceled") -> str:
    lines = "".join(
        f"<Item><AmazonOrderItemCode>{i}</AmazonOrderItemCode>"
        f"<CancelReason>{reason}</CancelReason></Item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion>"
        "<MerchantIdentifier>SANDBOXSELLER</MerchantIdentifier></Header>"
        "<MessageType>OrderAcknowledgement</MessageType>"
        "<Message><MessageID>1</MessageID><OrderAcknowledgement>"
        f"<AmazonOrderID>{order_id}</AmazonOrderID><StatusCode>Failure</StatusCode>{lines}"
        "</OrderAcknowledgement></Message></AmazonEnvelope>"
    )


def submit_feed(http: httpx.Client, token: str, xml: str) -> str:
    """createFeedDocument → upload → createFeed, as the SP-API client does; the feedId."""
    headers = {"x-amz-access-token": token}
    content_type = "text/xml; charset=UTF-8"
    document = http.post(
        f"{SPAPI}/feeds/2021-06-30/documents", json={"contentType": content_type},
        headers=headers,
    )
    assert document.status_code == 201, document.text
    upload = http.put(
        document.json()["url"], content=xml.encode(), headers={"Content-Type": content_type}
    )
    assert upload.status_code == 200, upload.text
    feed = http.post(
        f"{SPAPI}/feeds/2021-06-30/feeds",
        json={
            "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
            "marketplaceIds": [FR],
            "inputFeedDocumentId": document.json()["feedDocumentId"],
        },
        headers=headers,
    )
    assert feed.status_code == 202, feed.text
    assert feed.json()["feedId"].isdigit()
    return feed.json()["feedId"]


def amazon_order(http: httpx.Client, token: str, order_id: str) -> dict:
    response = http.get(
        f"{SPAPI}/orders/2026-01-01/orders/{order_id}",
        params={"includedData": "FULFILLMENT,CANCELLATION,BUYER"},
        headers={"x-amz-access-token": token},
    )
    assert response.status_code == 200, response.text
    return response.json()["order"]


# --- Freshdesk ---------------------------------------------------------------------------------


def test_ticket_with_requester_and_conversations(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        response = http.get(
            f"{FD}/api/v2/tickets/1002",
            params={"include": "requester,conversations"},
            auth=FD_AUTH,
        )
        bare = http.get(f"{FD}/api/v2/tickets/1002", auth=FD_AUTH).json()
    assert response.status_code == 200
    ticket = response.json()
    assert ticket["id"] == 1002 and ticket["status"] == 2
    assert SHIPPED_ORDER in ticket["description_text"]
    assert "<p>" in ticket["description"] and "<p>" not in ticket["description_text"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ticket["created_at"])
    assert ticket["requester"]["email"].endswith("@marketplace.amazon.de")
    assert ticket["requester"]["id"] == ticket["requester_id"]
    (message,) = ticket["conversations"]
    assert message["incoming"] is True and message["private"] is False
    assert {"id", "body", "body_text", "user_id", "from_email", "created_at"} <= message.keys()
    assert "requester" not in bare and "conversations" not in bare


@pytest.mark.parametrize("ticket_id", ["9999", "abc", "10o1"])
def test_unknown_ticket_is_404(tmp_path: Path, ticket_id: str) -> None:
    with client(tmp_path) as http:
        response = http.get(f"{FD}/api/v2/tickets/{ticket_id}", auth=FD_AUTH)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_note_reply_and_status_persist_across_transports(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        note = http.post(
            f"{FD}/api/v2/tickets/1001/notes",
            json={"body": "<p>Annulée sur GSTK</p>", "private": True},
            auth=FD_AUTH,
        )
        answer = http.post(
            f"{FD}/api/v2/tickets/1001/reply",
            json={"body": "<p>Bonjour, c'est annulé.</p>", "from_email": "sav@example.com"},
            auth=FD_AUTH,
        )
        closed = http.put(f"{FD}/api/v2/tickets/1001", json={"status": 5}, auth=FD_AUTH)
    assert note.status_code == 201 and answer.status_code == 201 and closed.status_code == 200
    assert note.json()["private"] is True and note.json()["incoming"] is False
    assert answer.json()["private"] is False and answer.json()["from_email"] == "sav@example.com"
    assert answer.json()["id"] > note.json()["id"]
    assert closed.json()["status"] == 5

    with client(tmp_path) as http:  # a new transport: what it sees comes from the file
        ticket = http.get(
            f"{FD}/api/v2/tickets/1001?include=conversations", auth=FD_AUTH
        ).json()
    assert ticket["status"] == 5
    assert [(c["body_text"], c["private"]) for c in ticket["conversations"]] == [
        ("Annulée sur GSTK", True),
        ("Bonjour, c'est annulé.", False),
    ]


def test_like_freshdesk_include_gives_ten_and_the_conversations_endpoint_pages(
    tmp_path: Path,
) -> None:
    with client(tmp_path) as http:
        ids = [http.post(f"{FD}/api/v2/tickets/1001/notes", json={"body": f"<p>n{n}</p>"},
                         auth=FD_AUTH).json()["id"] for n in range(35)]
        included = http.get(f"{FD}/api/v2/tickets/1001?include=conversations",
                            auth=FD_AUTH).json()["conversations"]
        pages, url = [], f"{FD}/api/v2/tickets/1001/conversations"
        while url:
            page = http.get(url, auth=FD_AUTH)
            pages.append(page.json())
            url = page.links.get("next", {}).get("url")
        too_many = http.get(f"{FD}/api/v2/tickets/1001/conversations?per_page=101",
                            auth=FD_AUTH)
        big = http.get(f"{FD}/api/v2/tickets/1001/conversations?per_page=100", auth=FD_AUTH)
    assert [c["id"] for c in included] == ids[:10], "the first ten only, oldest first"
    assert [len(p) for p in pages] == [30, 5], "30 a page by default, chained by Link"
    assert [c["id"] for p in pages for c in p] == ids
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "per_page"
    assert len(big.json()) == 35 and "link" not in big.headers


def test_a_tags_update_replaces_the_list(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        before = http.get(f"{FD}/api/v2/tickets/1001", auth=FD_AUTH).json()["tags"]
        http.put(f"{FD}/api/v2/tickets/1001", json={"tags": ["x"]}, auth=FD_AUTH)
        after = http.get(f"{FD}/api/v2/tickets/1001", auth=FD_AUTH).json()["tags"]
    assert before == ["amazon"] and after == ["x"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"status": 7}, "status", "invalid_value"),
        ({"status": "5"}, "status", "datatype_mismatch"),
        ({"status": True}, "status", "datatype_mismatch"),
        ({"state": 5}, "state", "invalid_field"),
    ],
)
def test_status_validation(tmp_path: Path, body: dict, field: str, code: str) -> None:
    with client(tmp_path) as http:
        response = http.put(f"{FD}/api/v2/tickets/1001", json=body, auth=FD_AUTH)
        after = http.get(f"{FD}/api/v2/tickets/1001", auth=FD_AUTH).json()
    assert response.status_code == 400
    assert response.json()["description"] == "Validation failed"
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["errors"][0]["code"] == code
    assert after["status"] == 2


def test_invalid_status_message_lists_the_values(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        response = http.put(f"{FD}/api/v2/tickets/1001", json={"status": 9}, auth=FD_AUTH)
    assert response.json()["errors"] == [
        {
            "field": "status",
            "message": "It should be one of these values: '2,3,4,5'",
            "code": "invalid_value",
        }
    ]


def test_note_body_must_be_json_with_a_text_body(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        not_json = http.post(
            f"{FD}/api/v2/tickets/1001/notes",
            content=b"{body: oops",
            headers={"Content-Type": "application/json"},
            auth=FD_AUTH,
        )
        no_body = http.post(f"{FD}/api/v2/tickets/1001/notes", json={}, auth=FD_AUTH)
        wrong_type = http.post(f"{FD}/api/v2/tickets/1001/reply", json={"body": 3}, auth=FD_AUTH)
        ticket = http.get(f"{FD}/api/v2/tickets/1001?include=conversations", auth=FD_AUTH)
    for response in (not_json, no_body, wrong_type):
        assert response.status_code == 400
        assert response.json()["description"] == "Validation failed"
    assert no_body.json()["errors"][0]["field"] == "body"
    assert ticket.json()["conversations"] == []


def test_search_filters_on_status(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        http.put(f"{FD}/api/v2/tickets/1003", json={"status": 4}, auth=FD_AUTH)
        open_ = http.get(f"{FD}/api/v2/search/tickets", params={"query": '"status:2"'},
                         auth=FD_AUTH).json()
        resolved = http.get(f"{FD}/api/v2/search/tickets", params={"query": '"status:4"'},
                            auth=FD_AUTH).json()
        unquoted = http.get(f"{FD}/api/v2/search/tickets", params={"query": "status:2"},
                            auth=FD_AUTH)
    assert open_["total"] == len(open_["results"]) == 11
    assert 1003 not in {t["id"] for t in open_["results"]}
    assert [t["id"] for t in resolved["results"]] == [1003]
    assert "conversations" not in resolved["results"][0]
    assert unquoted.status_code == 400


def test_awkward_tickets_keep_their_text(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        dashes = http.get(f"{FD}/api/v2/tickets/1009", auth=FD_AUTH).json()
        markup = http.get(f"{FD}/api/v2/tickets/1011?include=requester", auth=FD_AUTH).json()
        none = http.get(f"{FD}/api/v2/tickets/1005?include=conversations", auth=FD_AUTH).json()
    assert "402\u20111234567\u20137654321" in dashes["description_text"]
    assert "\u00a0" in dashes["description_text"]
    assert markup["subject"].startswith("[bold red]URGENT[/]")
    assert "<script>alert(1)</script>" in markup["description_text"]
    assert "[i]" in markup["requester"]["name"]
    texts = [none["subject"], none["description_text"], *(c["body_text"] for c in
                                                         none["conversations"])]
    assert not re.search(r"\d{3}\D{0,3}\d{7}\D{0,3}\d{7}", " ".join(texts))


# --- GSTK --------------------------------------------------------------------------------------


def test_gstk_cancel_awaiting_is_idempotent(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        order = gstk_order(http, ORDER_1001)
        assert order["status"] == "En attente de préparation"
        assert order["id"].startswith("GS-")
        url = f"{GSTK}/orders/{order['id']}/cancel"
        body = {"reason": "customer_request", "comment": "Ticket #1001"}
        first = http.post(url, json=body, headers=GSTK_AUTH)
        again = http.post(url, json=body, headers=GSTK_AUTH)
        now = gstk_order(http, ORDER_1001)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"id": order["id"], "status": "Annulée"}
    assert now["status"] == "Annulée"
    (entry,) = load(tmp_path)["gstk"]["orders"][order["id"]]["history"]
    assert entry["comment"] == "Ticket #1001"
    assert entry["from_status"] == "En attente de préparation"


def test_gstk_refuses_a_shipped_order(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        order = gstk_order(http, SHIPPED_ORDER)
        response = http.post(
            f"{GSTK}/orders/{order['id']}/cancel",
            json={"reason": "customer_request", "comment": ""},
            headers=GSTK_AUTH,
        )
        unknown = http.post(
            f"{GSTK}/orders/GS-0000000/cancel",
            json={"reason": "customer_request"},
            headers=GSTK_AUTH,
        )
        assert gstk_order(http, SHIPPED_ORDER)["status"] == "Expédiée"
    assert response.status_code == 409
    assert response.json() == {"error": "not_cancellable", "status": "Expédiée"}
    assert unknown.status_code == 404 and unknown.json() == {"error": "not_found"}


def test_gstk_search_for_unknown_order_is_empty(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        response = http.get(
            f"{GSTK}/orders", params={"marketplace_order_id": "405-7730215-0081453"},
            headers=GSTK_AUTH,
        )
    assert response.status_code == 200 and response.json() == {"orders": []}


# --- Amazon ------------------------------------------------------------------------------------


def test_get_order_shape_and_included_data(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        token = access_token(http)
        response = http.get(
            f"{SPAPI}/orders/2026-01-01/orders/{ORDER_1001}",
            params={"includedData": "FULFILLMENT,CANCELLATION"},
            headers={"x-amz-access-token": token},
        )
        plain = amazon_order(http, token, "405-7730215-0081453")
        attributes = http.get(
            f"{SPAPI}/messaging/v1/orders/402-1234567-7654321/attributes",
            params={"marketplaceIds": "AMEN7PMS3EDWL"},
            headers={"x-amz-access-token": token},
        )
        missing = http.get(
            f"{SPAPI}/orders/2026-01-01/orders/999-0000000-0000000",
            headers={"x-amz-access-token": token},
        )
    assert response.status_code == 200 and response.headers["x-amzn-RequestId"]
    order = response.json()["order"]
    assert order["orderId"] == ORDER_1001
    assert order["salesChannel"] == {
        "channelName": "AMAZON", "marketplaceId": FR, "marketplaceName": "Amazon.fr",
    }
    assert order["fulfillment"] == {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"}
    assert "buyer" not in order  # BUYER was not asked for
    for item in order["orderItems"]:
        assert {"orderItemId", "quantityOrdered", "product"} <= item.keys()
        assert item["cancellation"]["cancellationRequest"]["requester"] == "BUYER"
    assert "cancellation" not in plain["orderItems"][0]  # this buyer wrote, did not ask Amazon
    assert plain["buyer"]["buyerName"] == "Sophie Garnier"
    assert attributes.json() == {"buyer": {"locale": "fr-BE"}}
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "NotFound"
    assert missing.headers["x-amzn-RequestId"]


def test_feed_cancels_the_amazon_order(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        token = access_token(http)
        before = amazon_order(http, token, ORDER_1001)
        items = [i["orderItemId"] for i in before["orderItems"]]
        feed_id = submit_feed(http, token, acknowledgement_feed(ORDER_1001, items))
        headers = {"x-amz-access-token": token}
        feed = http.get(f"{SPAPI}/feeds/2021-06-30/feeds/{feed_id}", headers=headers).json()
        document = http.get(
            f"{SPAPI}/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}",
            headers=headers,
        ).json()
        report = http.get(document["url"])  # pre-signed: no access token
    with client(tmp_path) as http:  # another transport (another process) sees the change
        after = amazon_order(http, access_token(http), ORDER_1001)

    assert before["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert after["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    for item in after["orderItems"]:
        assert item["cancellation"]["cancellationExecution"] == {
            "cancelledBy": "MERCHANT", "cancelReason": "BuyerCanceled",
        }
        assert item["cancellation"]["cancellationRequest"]["requester"] == "BUYER"
    assert feed["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA"
    assert feed["processingStatus"] == "DONE" and feed["marketplaceIds"] == [FR]
    assert {"createdTime", "processingStartTime", "processingEndTime"} <= feed.keys()
    assert document["url"].startswith("https://feeds-upload.sandbox.invalid/result/")
    root = ET.fromstring(report.content)
    assert root.findtext("MessageType") == "ProcessingReport"
    summary = root.find("Message/ProcessingReport/ProcessingSummary")
    assert summary.findtext("MessagesProcessed") == "1"
    assert summary.findtext("MessagesSuccessful") == "1"
    assert summary.findtext("MessagesWithError") == "0"
    assert root.findtext("Message/ProcessingReport/DocumentTransactionID") == feed_id
    # The GSTK side is another system: the feed leaves it alone.
    assert load(tmp_path)["gstk"]["orders"]["GS-1048213"]["status"] == "En attente de préparation"


def test_feed_on_a_shipped_order_reports_an_error(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        token = access_token(http)
        feed_id = submit_feed(http, token, acknowledgement_feed(SHIPPED_ORDER, []))
        headers = {"x-amz-access-token": token}
        feed = http.get(f"{SPAPI}/feeds/2021-06-30/feeds/{feed_id}", headers=headers).json()
        url = http.get(
            f"{SPAPI}/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}",
            headers=headers,
        ).json()["url"]
        root = ET.fromstring(http.get(url).content)
        after = amazon_order(http, token, SHIPPED_ORDER)
    assert after["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert root.findtext(".//MessagesWithError") == "1"
    assert root.findtext(".//Result/ResultCode") == "Error"
    assert root.findtext(".//Result/AdditionalInfo/AmazonOrderID") == SHIPPED_ORDER


def test_feed_needs_an_uploaded_document_with_its_content_type(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        headers = {"x-amz-access-token": access_token(http)}
        document = http.post(
            f"{SPAPI}/feeds/2021-06-30/documents",
            json={"contentType": "text/xml; charset=UTF-8"}, headers=headers,
        ).json()
        spec = {
            "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
            "marketplaceIds": [FR],
            "inputFeedDocumentId": document["feedDocumentId"],
        }
        not_uploaded = http.post(f"{SPAPI}/feeds/2021-06-30/feeds", json=spec, headers=headers)
        wrong_type = http.put(document["url"], content=b"<a/>",
                              headers={"Content-Type": "application/xml"})
        unknown = http.post(
            f"{SPAPI}/feeds/2021-06-30/feeds",
            json={**spec, "inputFeedDocumentId": "nope"}, headers=headers,
        )
    assert not_uploaded.status_code == 400
    assert not_uploaded.json()["errors"][0]["code"] == "InvalidInput"
    assert wrong_type.status_code == 403
    assert unknown.status_code == 400


# --- Authentication ----------------------------------------------------------------------------


def test_freshdesk_needs_basic_auth(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        missing = http.get(f"{FD}/api/v2/tickets/1001")
        empty_key = http.get(f"{FD}/api/v2/tickets/1001", auth=("", "X"))
    for response in (missing, empty_key):
        assert response.status_code == 401
        assert response.json() == {
            "code": "invalid_credentials",
            "message": "You have to be logged in to perform this action.",
        }


def test_gstk_needs_the_bearer_token(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        wrong = http.get(
            f"{GSTK}/orders", params={"marketplace_order_id": ORDER_1001},
            headers={"Authorization": "Bearer nope"},
        )
        missing = http.post(f"{GSTK}/orders/GS-1048213/cancel", json={"reason": "x"})
    assert wrong.status_code == missing.status_code == 401
    assert wrong.json() == {"error": "unauthorized"}
    assert load(tmp_path)["gstk"]["orders"]["GS-1048213"]["status"] == "En attente de préparation"


@pytest.mark.parametrize("token", [None, "Atza|sandbox-forged", "Atzr|sandbox-refresh-token"])
def test_spapi_needs_an_issued_token(tmp_path: Path, token: str | None) -> None:
    headers = {"x-amz-access-token": token} if token else {}
    with client(tmp_path) as http:
        response = http.get(f"{SPAPI}/orders/2026-01-01/orders/{ORDER_1001}", headers=headers)
    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {"code": "Unauthorized", "message": "Access to requested resource is denied.",
             "details": ""}
        ]
    }
    assert response.headers["x-amzn-RequestId"]


def test_expired_token_is_refused(tmp_path: Path, monkeypatch) -> None:
    with client(tmp_path) as http:
        token = access_token(http)
        later = time.time() + 3601  # an hour goes by
        monkeypatch.setattr(sandbox_amazon.time, "time", lambda: later)
        response = http.get(
            f"{SPAPI}/orders/2026-01-01/orders/{ORDER_1001}",
            headers={"x-amz-access-token": token},
        )
    assert response.status_code == 403
    assert "expired" in response.json()["errors"][0]["details"]


def test_a_held_lock_looks_like_a_timeout(tmp_path: Path) -> None:
    transport = SandboxTransport(tmp_path)
    transport.store.lock_timeout = 0.2
    load(tmp_path)
    # Another process holding the lock, as the OS sees it: a second open file, locked.
    with _file_lock(transport.store.lock_path, 1.0), httpx.Client(transport=transport) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{FD}/api/v2/tickets/1001", auth=FD_AUTH)


def test_lwa_rejects_wrong_client_and_wrong_refresh_token(tmp_path: Path) -> None:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": ENV["SPAPI_REFRESH_TOKEN"],
        "client_id": ENV["LWA_CLIENT_ID"],
        "client_secret": ENV["LWA_CLIENT_SECRET"],
    }
    with client(tmp_path) as http:
        bad_client = http.post(ENV["LWA_TOKEN_URL"], data={**form, "client_secret": "nope"})
        bad_grant = http.post(ENV["LWA_TOKEN_URL"], data={**form, "refresh_token": "Atzr|x"})
    assert bad_client.status_code == 401
    assert bad_client.json()["error"] == "invalid_client"
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "invalid_grant"


def test_state_keeps_no_secret(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        token = access_token(http)
        amazon_order(http, token, ORDER_1001)
        http.post(f"{FD}/api/v2/tickets/1001/notes", json={"body": "x"}, auth=FD_AUTH)
    text = state_path(tmp_path).read_text(encoding="utf-8")
    for secret in (token, ENV["LWA_CLIENT_SECRET"], ENV["SPAPI_REFRESH_TOKEN"],
                   ENV["GSTK_TOKEN"], ENV["FRESHDESK_API_KEY"]):
        assert secret not in text


# --- State, seed, listing ----------------------------------------------------------------------


def test_reset_restores_the_seed(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        http.put(f"{FD}/api/v2/tickets/1001", json={"status": 5}, auth=FD_AUTH)
        http.post(
            f"{GSTK}/orders/GS-1048213/cancel", json={"reason": "customer_request"},
            headers=GSTK_AUTH,
        )
    assert list_tickets(tmp_path)[0]["ticket_status"] == "closed"

    assert reset(tmp_path) == state_path(tmp_path) == tmp_path / "worlds/sandbox/sandbox.json"

    with client(tmp_path) as http:
        ticket = http.get(f"{FD}/api/v2/tickets/1001?include=conversations", auth=FD_AUTH).json()
        assert gstk_order(http, ORDER_1001)["status"] == "En attente de préparation"
    assert ticket["status"] == 2 and ticket["conversations"] == []
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp file behind


def test_list_tickets_rows(tmp_path: Path) -> None:
    rows = {row["ticket_id"]: row for row in list_tickets(tmp_path)}
    assert sorted(rows) == list(range(1001, 1013))
    assert rows[1001] == {
        "ticket_id": 1001,
        "subject": "Demande d'annulation de commande de la part du client Amazon "
        f"Camille Laurent (Commande : {ORDER_1001})",
        "requester": "Camille Laurent <0fbr9xq2m7k4d5t@marketplace.amazon.fr>",
        "ticket_status": "open",
        "order_id": ORDER_1001,
        "gstk_status": "En attente de préparation",
        "amazon_status": "UNSHIPPED",
        "expected_branch": "cancel",
    }
    assert rows[1005]["order_id"] == ""
    assert rows[1006]["gstk_status"] == "not found"
    assert rows[1010]["order_id"].count("-") == 4
    assert rows[1003]["requester"] == "Amazon <donotreply@amazon.com>"
    assert all(row["expected_branch"] for row in rows.values())


def test_seed_is_realistic(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    state = load(tmp_path)
    seeded = datetime.fromisoformat(state["seeded_at"].replace("Z", "+00:00"))
    order_ids = set()
    for ticket in state["freshdesk"]["tickets"].values():
        created = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00"))
        assert timedelta(0) < seeded - created <= timedelta(hours=30)
        assert ticket["status"] == 2
    for order_id in state["amazon"]["orders"]:
        assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", order_id)
        order_ids.add(order_id)
    assert len(order_ids) == 13
    named = {o for scenario in state["scenarios"].values() for o in scenario["order_ids"]}
    assert len(named) == 12
    # One buyer asked Amazon and their email has not reached Freshdesk: no ticket names it.
    [only_on_amazon] = order_ids - named
    items = state["amazon"]["orders"][only_on_amazon]["order"]["orderItems"]
    assert all(i["cancellation"]["cancellationRequest"]["requester"] == "BUYER" for i in items)
    assert seeded.tzinfo == timezone.utc


def test_corrupt_state_is_reported(tmp_path: Path) -> None:
    state_path(tmp_path).parent.mkdir(parents=True)
    state_path(tmp_path).write_text("{not json", encoding="utf-8")
    with pytest.raises(SandboxStateError, match="sandbox reset"):
        load(tmp_path)
    reset(tmp_path)
    assert load(tmp_path)["version"] == 1


# --- Concurrency -------------------------------------------------------------------------------


def add_notes(home: str, tag: str, count: int = 20) -> None:
    """Post `count` notes on ticket 1001 through a transport of its own."""
    with httpx.Client(transport=SandboxTransport(Path(home))) as http:
        for n in range(count):
            response = http.post(
                f"{FD}/api/v2/tickets/1001/notes", json={"body": f"{tag}-{n}"}, auth=FD_AUTH
            )
            assert response.status_code == 201, response.text


def note_bodies(home: Path) -> list[str]:
    return [c["body"] for c in load(home)["freshdesk"]["tickets"]["1001"]["conversations"]]


def test_two_threads_lose_no_note(tmp_path: Path) -> None:
    load(tmp_path)
    threads = [threading.Thread(target=add_notes, args=(str(tmp_path), t)) for t in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = note_bodies(tmp_path)
    assert sorted(bodies) == sorted(f"{t}-{n}" for t in "ab" for n in range(20))
    ids = [c["id"] for c in load(tmp_path)["freshdesk"]["tickets"]["1001"]["conversations"]]
    assert len(set(ids)) == 40


@pytest.mark.slow
def test_two_processes_lose_no_note(tmp_path: Path) -> None:
    load(tmp_path)
    context = multiprocessing.get_context("spawn")  # the start method Windows and macOS use
    workers = [context.Process(target=add_notes, args=(str(tmp_path), t)) for t in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert sorted(note_bodies(tmp_path)) == sorted(f"{t}-{n}" for t in "ab" for n in range(20))


# --- Wiring ------------------------------------------------------------------------------------


def test_settings_point_at_the_sandbox(tmp_path: Path) -> None:
    settings = load_settings({"CANCELBOT_HOME": str(tmp_path)}, sandbox=True)
    assert settings.freshdesk.url == "https://sandbox.freshdesk.invalid"
    assert settings.amazon.automated and settings.amazon.seller_id == "SANDBOXSELLER"
    assert "{order_id}" in settings.gstk.order_link
    for value in ENV.values():
        if value.startswith("https://"):
            assert ".invalid" in value.split("/")[2]


def test_shared_http_layer_runs_against_the_sandbox(tmp_path: Path) -> None:
    transport = SandboxTransport(tmp_path)
    with ServiceClient("Freshdesk", FD, transport=transport, auth=FD_AUTH) as freshdesk:
        ticket = freshdesk.json("GET", "/api/v2/tickets/1004", params={"include": "requester"})
        with pytest.raises(NotFound):
            freshdesk.json("GET", "/api/v2/tickets/4242")
    assert ticket["requester"]["email"].endswith("@marketplace.amazon.it")


def test_importing_the_package_does_not_import_httpx() -> None:
    code = (
        "import sys, cancelbot.sandbox as s; s.sandbox_environment(); s.list_tickets; "
        "print('httpx' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert result.stdout.strip() == "False"


def test_unknown_host_and_route_are_404(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        host = http.get("https://elsewhere.invalid/")
        route = http.get(f"{FD}/api/v2/contacts", auth=FD_AUTH)
    assert host.status_code == route.status_code == 404
    json.loads(host.content)

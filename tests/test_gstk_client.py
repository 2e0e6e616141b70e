"""GstkClient against a fake GSTK behind httpx.MockTransport: no network."""

from __future__ import annotations

import json

import httpx
import pytest

from cancelbot.config import GstkSettings
from cancelbot.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    NeedsHuman,
    OrderMovedOn,
    ServiceError,
    Unreachable,
)
from cancelbot.models import BackOfficeOrder, OrderStatus
from cancelbot.services.gstk import GstkClient
from cancelbot.services.http import RetryPolicy
from cancelbot.statuses import StatusTable

BASE = "https://gstk.example.com/api"
TOKEN = "gstk-t0ken-XYZ"
AMAZON_ID = "402-1234567-7654321"


class FakeGstk:
    """Answers each request with the next queued response (or raises it) and records requests."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.responses, f"unexpected request {request.method} {request.url}"
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


def make_client(
    fake: FakeGstk, *, order_link: str = "", status_map: str = "", **kwargs
) -> GstkClient:
    settings = GstkSettings(url=BASE, token=TOKEN, order_link=order_link, status_map=status_map)
    kwargs.setdefault("retry", RetryPolicy(sleep=lambda seconds: None))
    return GstkClient(settings, transport=httpx.MockTransport(fake), **kwargs)


def orders(*items: dict) -> httpx.Response:
    return httpx.Response(200, json={"orders": list(items)})


def order(order_id: str = "GS-123", label: str = "En attente de préparation", **extra) -> dict:
    return {
        "id": order_id,
        "marketplace_order_id": AMAZON_ID,
        "status": label,
        "updated_at": "2026-11-27T08:00:00Z",
        **extra,
    }


def assert_lookup_request(request: httpx.Request) -> None:
    assert request.method == "GET"
    assert request.url.host == "gstk.example.com"
    assert request.url.path == "/api/orders"
    assert dict(request.url.params) == {"marketplace_order_id": AMAZON_ID}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_backoffice_is_automated() -> None:
    assert GstkClient.automated is True


def test_find_order_found() -> None:
    fake = FakeGstk(orders(order()))
    link = "https://gstk.example.com/ui/orders/{order_id}"
    with make_client(fake, order_link=link) as client:
        found = client.find_order(AMAZON_ID)
    assert_lookup_request(fake.only)
    assert found == BackOfficeOrder(
        id="GS-123",
        marketplace_order_id=AMAZON_ID,
        label="En attente de préparation",
        status=OrderStatus.AWAITING_PREPARATION,
        updated_at="2026-11-27T08:00:00Z",
        url="https://gstk.example.com/ui/orders/GS-123",
    )


def test_find_order_without_order_link_has_no_url() -> None:
    fake = FakeGstk(orders(order()))
    with make_client(fake) as client:
        assert client.find_order(AMAZON_ID).url == ""
        assert client.order_url("GS-123") == ""


def test_find_order_empty_is_none() -> None:
    fake = FakeGstk(orders())
    with make_client(fake) as client:
        assert client.find_order(AMAZON_ID) is None
    assert_lookup_request(fake.only)


def test_find_order_ignores_orders_for_another_amazon_id() -> None:
    other = order("GS-9", marketplace_order_id="402-1234567-0000000")
    fake = FakeGstk(orders(other))
    with make_client(fake) as client:
        assert client.find_order(AMAZON_ID) is None


def test_several_orders_need_a_human() -> None:
    fake = FakeGstk(orders(order("GS-1"), order("GS-2", label="Expédiée")))
    with make_client(fake) as client, pytest.raises(NeedsHuman) as caught:
        client.find_order(AMAZON_ID)
    message = str(caught.value)
    assert "GS-1" in message and "GS-2" in message
    assert AMAZON_ID in message


def test_unknown_label_keeps_the_label_with_no_status() -> None:
    fake = FakeGstk(orders(order(label="En litige")))
    with make_client(fake) as client:
        found = client.find_order(AMAZON_ID)
    assert found.status is None
    assert found.label == "En litige"


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("En attente de préparation", OrderStatus.AWAITING_PREPARATION),
        ("en attente de preparation", OrderStatus.AWAITING_PREPARATION),
        ("EN COURS DE PRÉPARATION", OrderStatus.IN_PREPARATION),
        ("en cours de preparation", OrderStatus.IN_PREPARATION),
        ("Préparée", OrderStatus.PREPARED),
        ("preparee", OrderStatus.PREPARED),
        ("Expédiée", OrderStatus.SHIPPED),
        ("expediee", OrderStatus.SHIPPED),
        ("Annulée", OrderStatus.CANCELLED),
        ("annulee", OrderStatus.CANCELLED),
    ],
)
def test_french_labels_with_and_without_accents(label: str, status: OrderStatus) -> None:
    fake = FakeGstk(orders(order(label=label)))
    with make_client(fake) as client:
        found = client.find_order(AMAZON_ID)
    assert (found.status, found.label) == (status, label)


def test_status_map_from_settings_extends_the_table() -> None:
    fake = FakeGstk(orders(order(label="Bloquée")))
    with make_client(fake, status_map="Bloquée=in_preparation") as client:
        assert client.find_order(AMAZON_ID).status == OrderStatus.IN_PREPARATION


def test_explicit_status_table_wins() -> None:
    table = StatusTable({"waiting": OrderStatus.AWAITING_PREPARATION})
    fake = FakeGstk(orders(order(label="Waiting")), orders(order()))
    with make_client(fake, status_table=table) as client:
        assert client.find_order(AMAZON_ID).status == OrderStatus.AWAITING_PREPARATION
        # The default French labels are not in this table.
        assert client.find_order(AMAZON_ID).status is None


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=[order()]),
        httpx.Response(200, json={"items": []}),
        orders("GS-123"),
        orders({k: v for k, v in order().items() if k != "id"}),
        orders(order(status=None)),
        orders({k: v for k, v in order().items() if k != "marketplace_order_id"}),
    ],
)
def test_wrong_shapes_are_bad_responses(response: httpx.Response) -> None:
    fake = FakeGstk(response)
    with make_client(fake) as client, pytest.raises(BadResponse) as caught:
        client.find_order(AMAZON_ID)
    assert caught.value.service == "GSTK"


def found_order(order_id: str = "GS-123") -> BackOfficeOrder:
    return BackOfficeOrder(
        id=order_id,
        marketplace_order_id=AMAZON_ID,
        label="En attente de préparation",
        status=OrderStatus.AWAITING_PREPARATION,
        updated_at="2026-11-27T08:00:00Z",
    )


def test_cancel_posts_reason_and_comment_and_returns_the_new_status() -> None:
    fake = FakeGstk(
        httpx.Response(
            200, json={"id": "GS-123", "status": "Annulée", "updated_at": "2026-11-27T09:10:00Z"}
        )
    )
    with make_client(fake, order_link="https://gstk.example.com/ui/{order_id}") as client:
        updated = client.cancel(found_order(), "Ticket #4321: buyer asked to cancel")
    request = fake.only
    assert request.method == "POST"
    assert request.url.path == "/api/orders/GS-123/cancel"
    assert not request.url.params
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "reason": "customer_request",
        "comment": "Ticket #4321: buyer asked to cancel",
    }
    assert updated == BackOfficeOrder(
        id="GS-123",
        marketplace_order_id=AMAZON_ID,
        label="Annulée",
        status=OrderStatus.CANCELLED,
        updated_at="2026-11-27T09:10:00Z",
        url="https://gstk.example.com/ui/GS-123",
    )


def test_cancel_409_means_the_order_moved_on() -> None:
    fake = FakeGstk(
        httpx.Response(409, json={"error": "not_cancellable", "status": "En cours de préparation"})
    )
    with make_client(fake) as client, pytest.raises(OrderMovedOn) as caught:
        client.cancel(found_order(), "comment")
    assert caught.value.label == "En cours de préparation"
    assert caught.value.status == 409
    assert len(fake.requests) == 1


def test_cancel_409_without_the_contract_shape_is_a_bad_response() -> None:
    fake = FakeGstk(httpx.Response(409, json={"error": "locked"}))
    with make_client(fake) as client, pytest.raises(BadResponse):
        client.cancel(found_order(), "comment")


def test_cancel_answer_about_another_order_is_a_bad_response() -> None:
    fake = FakeGstk(httpx.Response(200, json={"id": "GS-999", "status": "Annulée"}))
    with make_client(fake) as client, pytest.raises(BadResponse, match="GS-999"):
        client.cancel(found_order(), "comment")


def test_cancel_500_is_a_service_error_and_is_not_repeated() -> None:
    fake = FakeGstk(httpx.Response(500, json={"error": "internal", "message": "db down"}))
    with make_client(fake) as client, pytest.raises(ServiceError) as caught:
        client.cancel(found_order(), "comment")
    assert type(caught.value) is ServiceError
    assert caught.value.status == 500
    assert "db down" in str(caught.value)
    assert len(fake.requests) == 1  # a POST that may have landed is never sent twice


def test_id_with_a_slash_stays_one_path_segment() -> None:
    fake = FakeGstk(httpx.Response(200, json={"id": "GS/12?x=1", "status": "Annulée"}))
    link = "https://gstk.example.com/ui/orders/{order_id}"
    with make_client(fake, order_link=link) as client:
        updated = client.cancel(found_order("GS/12?x=1"), "comment")
    request = fake.only
    assert request.url.raw_path == b"/api/orders/GS%2F12%3Fx%3D1/cancel"
    assert not request.url.params
    assert updated.url == "https://gstk.example.com/ui/orders/GS%2F12%3Fx%3D1"


def test_dot_ids_are_not_resolved_away() -> None:
    fake = FakeGstk(httpx.Response(200, json={"id": "..", "status": "Annulée"}))
    with make_client(fake) as client:
        client.cancel(found_order(".."), "comment")
    assert fake.only.url.raw_path == b"/api/orders/%2E%2E/cancel"


def test_401_names_the_token_variable_but_not_the_token() -> None:
    fake = FakeGstk(httpx.Response(401, json={"error": "unauthorized", "message": TOKEN}))
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        client.find_order(AMAZON_ID)
    assert "GSTK_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_echoed_token_is_masked() -> None:
    fake = FakeGstk(httpx.Response(400, json={"error": "bad", "message": f"token {TOKEN}"}))
    with make_client(fake) as client, pytest.raises(ServiceError) as caught:
        client.find_order(AMAZON_ID)
    assert TOKEN not in str(caught.value)


def test_unreachable() -> None:
    fake = FakeGstk(*[httpx.ConnectError("refused") for _ in range(4)])
    with make_client(fake) as client, pytest.raises(Unreachable) as caught:
        client.find_order(AMAZON_ID)
    assert caught.value.service == "GSTK"
    assert len(fake.requests) == 4


def test_plain_http_only_for_loopback() -> None:
    with pytest.raises(ConfigError, match="GSTK_URL"):
        GstkClient(GstkSettings(url="http://gstk.internal", token=TOKEN))
    GstkClient(GstkSettings(url="http://localhost:8000", token=TOKEN)).close()

"""FreshdeskClient against a fake Freshdesk behind httpx.MockTransport: no network."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import httpx
import pytest

from cancelbot.config import FreshdeskSettings
from cancelbot.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    NotFound,
    RateLimited,
    ServiceError,
)
from cancelbot.models import TicketStatus
from cancelbot.services.freshdesk import FreshdeskClient, parse_timestamp
from cancelbot.services.http import RetryPolicy

BASE = "https://acme.freshdesk.com"
KEY = "sEcReTkEy123abc"


class FakeFreshdesk:
    """Answers each request with the next queued response and records what it was sent."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.responses, f"unexpected request {request.method} {request.url}"
        return self.responses.pop(0)

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


def make_client(
    fake: FakeFreshdesk, *, from_email: str = "", sleeps: list[float] | None = None
) -> FreshdeskClient:
    settings = FreshdeskSettings(url=BASE, api_key=KEY, from_email=from_email)
    retry = RetryPolicy(sleep=(sleeps.append if sleeps is not None else _no_sleep))
    return FreshdeskClient(settings, transport=httpx.MockTransport(fake), retry=retry)


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected sleep of {seconds}s")


def basic_auth(request: httpx.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def body(request: httpx.Request) -> object:
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content)


TICKET = {
    "id": 4321,
    "subject": "Annulation commande 402-1234567-7654321",
    "description": (
        "<div>Bonjour,</div><div>Je souhaite annuler ma commande "
        "<b>402-1234567-7654321</b> &amp; être remboursée.</div>"
        "<script>alert('x')</script><p>Merci&nbsp;!</p>"
    ),
    "description_text": "Bonjour, Je souhaite annuler (lossy)",
    "status": 2,
    "priority": 1,
    "requester_id": 77,
    "responder_id": 9001,
    "created_at": "2026-11-27T09:00:00Z",
    "updated_at": "2026-11-27T09:05:00Z",
    "requester": {"id": 77, "name": "Élise Martin", "email": "elise@example.fr"},
    "conversations": [
        {
            "id": 11,
            "body": "<p>Vous avez reçu ma demande&nbsp;?</p>",
            "body_text": "Vous avez reçu ma demande ?",
            "incoming": True,
            "private": False,
            "created_at": "2026-11-27T10:00:00Z",
        },
        {
            "id": 12,
            "body_text": "note only in text",
            "incoming": False,
            "private": True,
            "created_at": "2026-11-27T10:30:00+01:00",
        },
    ],
}


def test_get_ticket_makes_one_call_and_maps_every_field() -> None:
    fake = FakeFreshdesk(httpx.Response(200, json=TICKET))
    with make_client(fake) as client:
        ticket = client.get_ticket(4321)

    request = fake.only
    assert request.method == "GET"
    assert request.url.host == "acme.freshdesk.com"
    assert request.url.path == "/api/v2/tickets/4321"
    assert dict(request.url.params) == {"include": "requester,conversations"}
    assert basic_auth(request) == (KEY, "X")

    assert ticket.id == 4321
    assert ticket.subject == "Annulation commande 402-1234567-7654321"
    # The HTML description wins over description_text; entities decoded, script dropped.
    assert ticket.body_text == (
        "Bonjour,\n\nJe souhaite annuler ma commande 402-1234567-7654321 & être remboursée."
        "\n\nMerci\xa0!"
    )
    assert "alert" not in ticket.body_text
    assert ticket.status == TicketStatus.OPEN
    assert ticket.requester_email == "elise@example.fr"
    assert ticket.requester_name == "Élise Martin"
    assert ticket.created_at == datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    assert ticket.responder_id == 9001
    assert ticket.url == "https://acme.freshdesk.com/a/tickets/4321"

    first, second = ticket.conversations
    assert (first.id, first.incoming, first.private) == (11, True, False)
    assert first.body_text == "Vous avez reçu ma demande\xa0?"
    assert first.created_at == datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
    assert (second.id, second.incoming, second.private) == (12, False, True)
    assert second.body_text == "note only in text"  # no HTML body: falls back to body_text
    assert second.created_at == datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    assert "402-1234567-7654321" in " ".join(ticket.texts())


def test_get_ticket_fallbacks_without_requester_or_description() -> None:
    payload = {
        "id": 5,
        "subject": "Hello",
        "description_text": "plain only",
        "status": 3,
        "email": "top@example.com",
        "name": "Top Level",
        "responder_id": None,
        "created_at": None,
    }
    fake = FakeFreshdesk(httpx.Response(200, json=payload))
    with make_client(fake) as client:
        ticket = client.get_ticket(5)
    assert ticket.body_text == "plain only"
    assert (ticket.requester_email, ticket.requester_name) == ("top@example.com", "Top Level")
    assert ticket.responder_id is None
    assert ticket.created_at is None
    assert ticket.conversations == ()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "'id'"),
        ({"id": "4321"}, "'id'"),
        ({"subject": None}, "'subject'"),
        ({"status": "open"}, "'status'"),
        ({"status": True}, "'status'"),
        ({"conversations": {"id": 1}}, "'conversations'"),
        ({"conversations": [{"body": "<p>no id</p>"}]}, "conversations[0]"),
    ],
)
def test_get_ticket_missing_or_wrong_fields_are_bad_responses(change: dict, field: str) -> None:
    fake = FakeFreshdesk(httpx.Response(200, json={**TICKET, **change}))
    with make_client(fake) as client, pytest.raises(BadResponse) as caught:
        client.get_ticket(4321)
    assert caught.value.service == "Freshdesk"
    assert field in str(caught.value)


def test_get_ticket_without_a_required_key_names_it() -> None:
    payload = {k: v for k, v in TICKET.items() if k != "subject"}
    fake = FakeFreshdesk(httpx.Response(200, json=payload))
    with make_client(fake) as client, pytest.raises(BadResponse, match="'subject'"):
        client.get_ticket(4321)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>Login</html>"),
        httpx.Response(200, json=[TICKET]),
    ],
)
def test_malformed_json_is_a_bad_response(response: httpx.Response) -> None:
    fake = FakeFreshdesk(response)
    with make_client(fake) as client, pytest.raises(BadResponse) as caught:
        client.get_ticket(4321)
    assert str(caught.value).startswith("Freshdesk: ticket 4321")


def test_set_status_puts_the_status() -> None:
    fake = FakeFreshdesk(httpx.Response(200, json={**TICKET, "status": 4}))
    with make_client(fake) as client:
        assert client.set_status(4321, TicketStatus.RESOLVED) is None
    request = fake.only
    assert request.method == "PUT"
    assert request.url.path == "/api/v2/tickets/4321"
    assert not request.url.params
    assert basic_auth(request) == (KEY, "X")
    assert body(request) == {"status": 4}


def test_add_private_note_posts_and_returns_the_note_id() -> None:
    fake = FakeFreshdesk(httpx.Response(201, json={"id": 987, "private": True, "body": "x"}))
    with make_client(fake) as client:
        note_id = client.add_private_note(4321, "<p>GSTK GS-1 annulée</p>")
    assert note_id == 987
    request = fake.only
    assert request.method == "POST"
    assert request.url.path == "/api/v2/tickets/4321/notes"
    assert basic_auth(request) == (KEY, "X")
    assert body(request) == {"body": "<p>GSTK GS-1 annulée</p>", "private": True}


def test_note_answer_without_an_id_is_a_bad_response() -> None:
    fake = FakeFreshdesk(httpx.Response(201, json={"body": "x"}))
    with make_client(fake) as client, pytest.raises(BadResponse, match="'id'"):
        client.add_private_note(4321, "<p>x</p>")


def test_reply_without_from_email_sends_only_the_body() -> None:
    fake = FakeFreshdesk(httpx.Response(201, json={"id": 555}))
    with make_client(fake) as client:
        assert client.reply(4321, "<p>Bonjour</p>") == 555
    request = fake.only
    assert request.method == "POST"
    assert request.url.path == "/api/v2/tickets/4321/reply"
    assert basic_auth(request) == (KEY, "X")
    assert body(request) == {"body": "<p>Bonjour</p>"}


def test_reply_with_from_email_sends_it() -> None:
    fake = FakeFreshdesk(httpx.Response(201, json={"id": 556}))
    with make_client(fake, from_email="support@shop.example") as client:
        assert client.reply(4321, "<p>Hallo</p>") == 556
    assert body(fake.only) == {"body": "<p>Hallo</p>", "from_email": "support@shop.example"}


def test_ticket_url() -> None:
    settings = FreshdeskSettings(url=BASE + "/", api_key=KEY)
    with FreshdeskClient(settings, transport=httpx.MockTransport(FakeFreshdesk())) as client:
        assert client.ticket_url(12) == "https://acme.freshdesk.com/a/tickets/12"


def test_plain_http_is_refused_except_for_loopback() -> None:
    with pytest.raises(ConfigError, match="FRESHDESK_URL"):
        FreshdeskClient(FreshdeskSettings(url="http://acme.freshdesk.com", api_key=KEY))
    FreshdeskClient(FreshdeskSettings(url="http://127.0.0.1:8080", api_key=KEY)).close()


def test_401_says_the_key_was_refused_without_showing_it() -> None:
    fake = FakeFreshdesk(
        httpx.Response(
            401,
            json={"code": "invalid_credentials", "message": "You have to be logged in."},
            headers={"x-request-id": "req-401"},
        )
    )
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        client.get_ticket(4321)
    message = str(caught.value)
    assert "API key refused — check FRESHDESK_API_KEY" in message
    assert "HTTP 401" in message
    assert caught.value.request_id == "req-401"
    assert KEY not in message


def test_403_says_the_agent_may_not_access_tickets() -> None:
    fake = FakeFreshdesk(httpx.Response(403, json={"code": "access_denied"}))
    with make_client(fake) as client, pytest.raises(AuthError) as caught:
        client.set_status(4321, 4)
    assert "this key's agent may not access tickets" in str(caught.value)
    assert caught.value.status == 403
    assert KEY not in str(caught.value)


def test_404_names_the_ticket() -> None:
    fake = FakeFreshdesk(httpx.Response(404, headers={"x-request-id": "req-404"}))
    with make_client(fake) as client, pytest.raises(NotFound) as caught:
        client.get_ticket(999)
    assert "ticket 999 not found" in str(caught.value)
    assert caught.value.status == 404
    assert caught.value.request_id == "req-404"
    assert KEY not in str(caught.value)


def test_validation_errors_are_listed_field_by_field() -> None:
    fake = FakeFreshdesk(
        httpx.Response(
            400,
            json={
                "description": "Validation failed",
                "errors": [
                    {
                        "field": "status",
                        "message": "It should be one of these values: '2,3,4,5'",
                        "code": "invalid_value",
                    },
                    {"field": "body", "message": "It should not be blank", "code": "missing"},
                ],
            },
        )
    )
    with make_client(fake) as client, pytest.raises(ServiceError) as caught:
        client.set_status(4321, 9)
    message = str(caught.value)
    assert type(caught.value) is ServiceError
    assert caught.value.status == 400
    assert "Validation failed" in message
    assert "status: It should be one of these values: '2,3,4,5'" in message
    assert "body: It should not be blank" in message


def test_an_echoed_key_is_masked_in_error_messages() -> None:
    fake = FakeFreshdesk(
        httpx.Response(400, json={"description": f"bad key {KEY} in request", "errors": []})
    )
    with make_client(fake) as client, pytest.raises(ServiceError) as caught:
        client.reply(4321, "<p>x</p>")
    assert KEY not in str(caught.value)
    assert "***" in str(caught.value)


def test_429_waits_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    fake = FakeFreshdesk(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(201, json={"id": 42}),
    )
    with make_client(fake, sleeps=sleeps) as client:
        assert client.add_private_note(4321, "<p>x</p>") == 42
    assert sleeps == [7.0]
    assert len(fake.requests) == 2
    assert [body(r) for r in fake.requests] == [{"body": "<p>x</p>", "private": True}] * 2


def test_429_that_never_ends_is_rate_limited() -> None:
    sleeps: list[float] = []
    fake = FakeFreshdesk(*[httpx.Response(429, headers={"Retry-After": "1"}) for _ in range(4)])
    with make_client(fake, sleeps=sleeps) as client, pytest.raises(RateLimited):
        client.get_ticket(4321)
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(fake.requests) == 4


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-11-27T09:00:00Z") == datetime(2026, 11, 27, 9, tzinfo=timezone.utc)
    assert parse_timestamp("2026-11-27T09:00:00").tzinfo is timezone.utc
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(12) is None


# -- the whole thread --------------------------------------------------------------------------


def conversation(n: int, *, private: bool = False) -> dict:
    return {"id": 900 + n, "body": f"<p>message {n}</p>", "private": private,
            "incoming": not private, "created_at": "2026-11-27T09:00:00Z"}


def test_a_short_thread_is_read_in_one_request():
    fake = FakeFreshdesk(httpx.Response(200, json={
        **TICKET, "conversations": [conversation(n) for n in range(9)]}))
    with make_client(fake) as client:
        ticket = client.get_ticket(4321)
    assert len(ticket.conversations) == 9 and ticket.conversations_complete
    assert len(fake.requests) == 1


def test_ten_included_conversations_mean_the_rest_is_read_from_the_pages():
    """include=conversations stops at ten; the conversations endpoint pages (Link header)."""
    thread = [conversation(n) for n in range(25)]
    nxt = f'<{BASE}/api/v2/tickets/4321/conversations?page=2&per_page=100>; rel="next"'
    fake = FakeFreshdesk(
        httpx.Response(200, json={**TICKET, "conversations": thread[:10]}),
        httpx.Response(200, json=thread[:20], headers={"link": nxt}),
        httpx.Response(200, json=thread[18:]),  # a page that overlaps: counted once
    )
    with make_client(fake) as client:
        ticket = client.get_ticket(4321)
    assert [c.id for c in ticket.conversations] == [c["id"] for c in thread]
    assert ticket.conversations_complete
    pages = [(r.url.path, r.url.params["page"], r.url.params["per_page"])
             for r in fake.requests[1:]]
    assert pages == [("/api/v2/tickets/4321/conversations", "1", "100"),
                     ("/api/v2/tickets/4321/conversations", "2", "100")]


def test_the_next_link_never_takes_the_key_to_another_host():
    evil = '<https://evil.example/steal?page=2>; rel="next"'
    fake = FakeFreshdesk(httpx.Response(200, json=[conversation(1)], headers={"link": evil}),
                         httpx.Response(200, json=[conversation(2)]))
    with make_client(fake) as client:
        found = client.conversations(4321)
    assert [c.id for c in found] == [901, 902]
    assert {r.url.host for r in fake.requests} == {"acme.freshdesk.com"}


def test_tags_are_read_modified_and_written_keeping_the_others():
    fake = FakeFreshdesk(httpx.Response(200, json={**TICKET, "tags": ["amazon", "vip"]}),
                         httpx.Response(200, json={}),
                         httpx.Response(200, json={**TICKET, "tags": ["amazon", "x", "vip"]}),
                         httpx.Response(200, json={}),
                         httpx.Response(200, json={**TICKET, "tags": ["amazon"]}))
    with make_client(fake) as client:
        client.add_tag(4321, "cancelbot-needs-human")
        client.remove_tag(4321, "x")
        client.remove_tag(4321, "cancelbot-needs-human")  # not there: nothing written
    puts = [body(r) for r in fake.requests if r.method == "PUT"]
    assert puts == [{"tags": ["amazon", "vip", "cancelbot-needs-human"]},
                    {"tags": ["amazon", "vip"]}]
    assert len(fake.requests) == 5

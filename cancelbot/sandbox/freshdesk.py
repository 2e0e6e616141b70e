"""Freshdesk API v2 as the sandbox serves it: view/update a ticket (tags included), notes,
replies, search (30 a page, pages 1 to 10), contacts and the signed-in agent.

Like the real one, `include=conversations` gives only a ticket's first ten conversations; the
whole thread is `GET /api/v2/tickets/{id}/conversations`, oldest first, 30 a page unless
`per_page` (at most 100) says otherwise, each page naming the next in a Link header."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx

from cancelbot.sandbox.seed import AGENT_ID
from cancelbot.sandbox.state import StateStore, now_iso
from cancelbot.sandbox.wire import BadBody, Router, is_json, json_object, json_response
from cancelbot.text import html_to_text

router = Router()
INCLUDES = ("conversations", "requester", "company", "stats")
SUPPORT_EMAIL = "support@cocooncenter.sandbox.invalid"
SEARCH_PAGE_SIZE = 30  # Freshdesk's page size for search, and its last page
SEARCH_MAX_PAGES = 10
INCLUDED_CONVERSATIONS = 10  # what include=conversations gives: the first ten
CONVERSATIONS_PER_PAGE, CONVERSATIONS_MAX_PER_PAGE = 30, 100


class Field(NamedTuple):
    kind: str  # Freshdesk's word for the type: Integer, String, Boolean, Array
    allowed: tuple[Any, ...] = ()
    nullable: bool = False


UPDATE_FIELDS = {
    "status": Field("Integer", (2, 3, 4, 5)),
    "priority": Field("Integer", (1, 2, 3, 4)),
    "responder_id": Field("Integer", nullable=True),
    "tags": Field("Array"),
}
NOTE_FIELDS = {
    "body": Field("String"),
    "private": Field("Boolean"),
    "incoming": Field("Boolean"),
    "notify_emails": Field("Array"),
    "user_id": Field("Integer"),
}
REPLY_FIELDS = {
    "body": Field("String"),
    "from_email": Field("String"),
    "cc_emails": Field("Array"),
    "bcc_emails": Field("Array"),
    "user_id": Field("Integer"),
}


class ValidationFailed(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def handle(request: httpx.Request, store: StateStore) -> httpx.Response:
    headers = {"x-request-id": str(uuid.uuid4())}
    if not _authenticated(request):
        return json_response(
            401,
            {
                "code": "invalid_credentials",
                "message": "You have to be logged in to perform this action.",
            },
            headers,
        )
    if request.method in ("POST", "PUT") and not is_json(request):
        return json_response(
            415,
            {"code": "invalid_content_type", "message": "Content-Type header should be "
             "'application/json'"},
            headers,
        )
    try:
        response = router.dispatch(request, store)
    except BadBody as exc:
        response = _validation_failed([_error("request_body", str(exc), "invalid_json")])
    except ValidationFailed as exc:
        response = _validation_failed(exc.errors)
    if response is None:
        response = _not_found()
    response.headers.update(headers)
    return response


@router.route("GET", r"/api/v2/tickets/([^/]+)")
def view_ticket(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    raw = request.url.params.get("include", "")
    includes = [part.strip() for part in raw.split(",") if part.strip()]
    if any(part not in INCLUDES for part in includes):
        message = f"It should be one/more of these values: '{','.join(INCLUDES)}'"
        raise ValidationFailed([_error("include", message, "invalid_value")])
    state = store.read()
    ticket = _ticket(state, raw_id)
    if ticket is None:
        return _not_found()
    return json_response(200, _render(state, ticket, includes))


@router.route("GET", r"/api/v2/tickets/([^/]+)/conversations")
def list_conversations(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    params = request.url.params
    raw_page = params.get("page", "1")
    raw_per_page = params.get("per_page", str(CONVERSATIONS_PER_PAGE))
    errors = []
    if not raw_page.isdigit() or int(raw_page) < 1:
        errors.append(_error("page", "It should be a/an Positive Integer", "invalid_value"))
    if not raw_per_page.isdigit() or not 1 <= int(raw_per_page) <= CONVERSATIONS_MAX_PER_PAGE:
        errors.append(_error("per_page", "It should be a/an Positive Integer less than or "
                             f"equal to {CONVERSATIONS_MAX_PER_PAGE}", "invalid_value"))
    if errors:
        raise ValidationFailed(errors)
    page, per_page = int(raw_page), int(raw_per_page)
    ticket = _ticket(store.read(), raw_id)
    if ticket is None:
        return _not_found()
    conversations = ticket["conversations"]
    start = (page - 1) * per_page
    headers = {}
    if start + per_page < len(conversations):
        url = request.url.copy_with(query=None)
        headers["link"] = f'<{url}?page={page + 1}&per_page={per_page}>; rel="next"'
    return json_response(200, [dict(c) for c in conversations[start:start + per_page]],
                         headers)


@router.route("PUT", r"/api/v2/tickets/([^/]+)")
def update_ticket(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    changes = _validated(json_object(request), UPDATE_FIELDS)
    with store.update() as state:
        ticket = _ticket(state, raw_id)
        if ticket is None:
            return _not_found()
        ticket.update(changes)
        ticket["updated_at"] = now_iso()
        return json_response(200, _render(state, ticket, []))


@router.route("POST", r"/api/v2/tickets/([^/]+)/notes")
def add_note(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    body = _validated(json_object(request), NOTE_FIELDS, required=("body",))
    return _add_conversation(
        store,
        raw_id,
        lambda requester: {
            "body": body["body"],
            "incoming": body.get("incoming", False),
            "private": body.get("private", True),
            "user_id": body.get("user_id", AGENT_ID),
            "source": 2,  # note
            "from_email": None,
            "to_emails": body.get("notify_emails", []),
            "cc_emails": [],
            "bcc_emails": [],
        },
    )


@router.route("POST", r"/api/v2/tickets/([^/]+)/reply")
def reply(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    body = _validated(json_object(request), REPLY_FIELDS, required=("body",))
    return _add_conversation(
        store,
        raw_id,
        lambda requester: {
            "body": body["body"],
            "incoming": False,
            "private": False,
            "user_id": body.get("user_id", AGENT_ID),
            "source": 0,  # reply
            "from_email": body.get("from_email", SUPPORT_EMAIL),
            "to_emails": [requester.get("email", "")],
            "cc_emails": body.get("cc_emails", []),
            "bcc_emails": body.get("bcc_emails", []),
        },
    )


@router.route("PUT", r"/api/v2/conversations/([^/]+)")
def update_note(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    # Freshdesk lets agents edit notes (not replies or incoming messages).
    body = _validated(json_object(request), {"body": Field("String")}, required=("body",))
    with store.update() as state:
        for ticket in state["freshdesk"]["tickets"].values():
            for conversation in ticket["conversations"]:
                if str(conversation["id"]) != raw_id:
                    continue
                if conversation["source"] != 2:
                    raise ValidationFailed([_error("id", "Only notes can be edited",
                                                   "invalid_value")])
                conversation["body"] = body["body"]
                conversation["body_text"] = html_to_text(body["body"])
                conversation["updated_at"] = ticket["updated_at"] = now_iso()
                return json_response(200, dict(conversation))
    return _not_found()


@router.route("DELETE", r"/api/v2/conversations/([^/]+)")
def delete_note(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    with store.update() as state:
        for ticket in state["freshdesk"]["tickets"].values():
            for n, conversation in enumerate(ticket["conversations"]):
                if str(conversation["id"]) == raw_id:
                    del ticket["conversations"][n]
                    return httpx.Response(204)
    return _not_found()


@router.route("GET", r"/api/v2/search/tickets")
def search_tickets(request: httpx.Request, store: StateStore) -> httpx.Response:
    query = request.url.params.get("query", "")
    # Freshdesk wants the whole query in double quotes: query="status:2 OR status:3".
    if len(query) < 2 or not (query.startswith('"') and query.endswith('"')):
        message = 'It should be a/an String enclosed in double quotes, e.g. "status:2"'
        raise ValidationFailed([_error("query", message, "invalid_value")])
    raw_page = request.url.params.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= SEARCH_MAX_PAGES:
        message = f"It should be a/an Positive Integer less than or equal to {SEARCH_MAX_PAGES}"
        raise ValidationFailed([_error("page", message, "invalid_value")])
    page = int(raw_page)
    wanted = {int(n) for n in re.findall(r"\bstatus\s*:\s*(\d+)", query)}
    state = store.read()
    tickets = [
        _render(state, t, [])
        for t in state["freshdesk"]["tickets"].values()
        if not wanted or t["status"] in wanted
    ]
    tickets.sort(key=lambda t: t["created_at"], reverse=True)  # Freshdesk: newest first
    start = (page - 1) * SEARCH_PAGE_SIZE
    return json_response(
        200, {"total": len(tickets), "results": tickets[start:start + SEARCH_PAGE_SIZE]}
    )


@router.route("GET", r"/api/v2/contacts/([^/]+)")
def view_contact(request: httpx.Request, store: StateStore, raw_id: str) -> httpx.Response:
    contact = store.read()["freshdesk"]["contacts"].get(raw_id) if raw_id.isdigit() else None
    return json_response(200, dict(contact)) if contact else _not_found()


@router.route("GET", r"/api/v2/agents/me")
def current_agent(request: httpx.Request, store: StateStore) -> httpx.Response:
    return json_response(200, {
        "id": AGENT_ID,
        "available": True,
        "occasional": False,
        "contact": {"name": "Sandbox Agent", "email": SUPPORT_EMAIL},
    })


def _add_conversation(
    store: StateStore, raw_id: str, build: Callable[[dict[str, Any]], dict[str, Any]]
) -> httpx.Response:
    """Append a conversation; `build(requester)` gives its endpoint-specific fields."""
    with store.update() as state:
        ticket = _ticket(state, raw_id)
        if ticket is None:
            return _not_found()
        requester = state["freshdesk"]["contacts"].get(str(ticket["requester_id"]), {})
        at = now_iso()
        conversation = {
            "id": state["counters"]["conversation"],
            **build(requester),
            "support_email": SUPPORT_EMAIL,
            "ticket_id": ticket["id"],
            "attachments": [],
            "created_at": at,
            "updated_at": at,
        }
        conversation["body_text"] = html_to_text(conversation["body"])
        state["counters"]["conversation"] += 1
        ticket["conversations"].append(conversation)
        ticket["updated_at"] = at
        return json_response(201, conversation)


def _authenticated(request: httpx.Request) -> bool:
    """Basic auth with the API key as user name (the password is ignored, usually "X")."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, _password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return bool(sep and user)


def _ticket(state: dict[str, Any], raw_id: str) -> dict[str, Any] | None:
    if not raw_id.isdigit():
        return None
    return state["freshdesk"]["tickets"].get(str(int(raw_id)))


def _render(state: dict[str, Any], ticket: dict[str, Any], includes: list[str]) -> dict[str, Any]:
    out = {k: v for k, v in ticket.items() if k != "conversations"}
    if "requester" in includes:
        contact = state["freshdesk"]["contacts"].get(str(ticket["requester_id"]), {})
        out["requester"] = dict(contact)
    if "conversations" in includes:
        # Freshdesk's own limit: the first ten, however long the thread.
        out["conversations"] = [dict(c) for c in
                                ticket["conversations"][:INCLUDED_CONVERSATIONS]]
    return out


def _validated(
    body: dict[str, Any], fields: dict[str, Field], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`body` if every field is known and well typed, else ValidationFailed listing each."""
    errors = [
        _error(name, "Mandatory attribute missing", "missing_field")
        for name in required
        if name not in body
    ]
    for name, value in body.items():
        spec = fields.get(name)
        if spec is None:
            errors.append(_error(name, "Unexpected/invalid field in request", "invalid_field"))
        elif value is None and spec.nullable:
            continue
        elif not _has_kind(value, spec.kind):
            errors.append(
                _error(
                    name,
                    f"Value set is of type {_type_name(value)}.It should be a/an {spec.kind}",
                    "datatype_mismatch",
                )
            )
        elif spec.allowed and value not in spec.allowed:
            values = ",".join(str(v) for v in spec.allowed)
            errors.append(
                _error(name, f"It should be one of these values: '{values}'", "invalid_value")
            )
        elif spec.kind == "String" and name in required and not value.strip():
            errors.append(
                _error(name, "It should not be blank as this is a mandatory field",
                       "invalid_value")
            )
    if errors:
        raise ValidationFailed(errors)
    return body


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "String":
        return isinstance(value, str)
    if kind == "Boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _type_name(value: Any) -> str:
    """The type words Freshdesk uses in its validation messages."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "key/value pair"


def _error(field: str, message: str, code: str) -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


def _validation_failed(errors: list[dict[str, str]]) -> httpx.Response:
    return json_response(400, {"description": "Validation failed", "errors": errors})


def _not_found() -> httpx.Response:
    return json_response(
        404, {"code": "not_found", "message": "The requested resource could not be found."}
    )

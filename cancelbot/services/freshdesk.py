"""Freshdesk API v2: read a ticket with its whole thread, set its status and tags, add notes and
replies.

Auth is HTTP basic with the API key as user and `X` as password. Every call goes through one
`ServiceClient`, so timeouts, 429 waits and error mapping are shared with the other clients.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import quote

import httpx
from msgspec import structs

from cancelbot.config import FreshdeskSettings
from cancelbot.errors import BadResponse, NotFound
from cancelbot.i18n import _
from cancelbot.services.http import (
    DEFAULT_TIMEOUT,
    MB,
    OwnsServiceClient,
    RatePacer,
    RetryPolicy,
    ServiceClient,
    check_base_url,
    hiding,
    parse_json_object,
)
from cancelbot.text import html_to_text, visible

if TYPE_CHECKING:  # the models load when an answer is parsed: after the first request is sent
    from cancelbot.models import Conversation, FoundTicket, SearchPage, Ticket

SERVICE = "Freshdesk"
# Freshdesk's search serves 30 tickets a page and pages 1 to 10 only: 300 tickets at most.
SEARCH_PAGE_SIZE = 30
SEARCH_MAX_PAGES = 10
# A ticket comes with all its conversations: the largest answer read (past it: refused).
# A description comes twice (the HTML and Freshdesk's text), JSON-escaped: a ticket of 10 MB
# (read in well under 2 s, text.html_to_text) must still be read rather than refused.
MAX_ANSWER_BYTES = 64 * MB
SEARCH_WORKERS = 5  # pages 2 to 10 in two rounds: a few calls at once, not a burst of nine
# `include=conversations` gives the ticket's first ten conversations only; the conversations
# endpoint gives them all, oldest first, `per_page` at most 100, pages chained by a Link header.
INCLUDED_CONVERSATIONS = 10
CONVERSATIONS_PER_PAGE = 100
CONVERSATIONS_MAX_PAGES = 50  # 5,000 conversations: past that, a person reads the ticket


class FreshdeskClient(OwnsServiceClient):
    """The automated `Helpdesk`: one connection to one Freshdesk account for one run."""

    def __init__(
        self,
        settings: FreshdeskSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        pacer: RatePacer | None = None,
    ) -> None:
        """`pacer` keeps the account under its rate budget (Freshdesk's X-RateLimit headers)."""
        self._base = check_base_url("FRESHDESK_URL", settings.url)
        self._from_email = settings.from_email
        self._http = ServiceClient(
            SERVICE,
            self._base,
            transport=transport,
            auth=(settings.api_key, "X"),
            headers={"Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            error_detail=hiding(settings.api_key, _error_detail),
            pacer=pacer,
            max_bytes=MAX_ANSWER_BYTES,
        )

    def ticket_url(self, ticket_id: int) -> str:
        """The agent's page for the ticket."""
        return f"{self._base}/a/tickets/{int(ticket_id)}"

    def get_ticket(self, ticket_id: int) -> Ticket:
        """The ticket, its requester and its whole thread: one request when the thread is
        shorter than the ten conversations `include=conversations` returns, else the
        conversations endpoint's pages too (every check that decides whether something
        happened reads the whole thread)."""
        ticket_id = int(ticket_id)
        # The include list goes in the path as Freshdesk documents it (a literal comma).
        path = f"/api/v2/tickets/{ticket_id}?include=requester,conversations"
        data = self._send("GET", path, ticket_id, what=f"ticket {ticket_id}")
        ticket = self._parse_ticket(data, ticket_id)
        if len(ticket.conversations) < INCLUDED_CONVERSATIONS:
            return structs.replace(ticket, conversations_complete=True)
        return structs.replace(ticket, conversations=self.conversations(ticket_id),
                               conversations_complete=True)

    def conversations(self, ticket_id: int) -> tuple[Conversation, ...]:
        """Every conversation of the ticket, oldest first: all pages of
        `GET /api/v2/tickets/{id}/conversations` (Freshdesk chains them with a Link header)."""
        ticket_id = int(ticket_id)
        found: dict[int, Conversation] = {}
        for page in range(1, CONVERSATIONS_MAX_PAGES + 1):
            what = f"conversations of ticket {ticket_id} (page {page})"
            path = (f"/api/v2/tickets/{ticket_id}/conversations?page={page}"
                    f"&per_page={CONVERSATIONS_PER_PAGE}")
            try:
                response = self._http.request("GET", path, what=what)
            except NotFound as exc:
                raise NotFound(SERVICE, _("ticket {id} not found").format(id=ticket_id),
                               status=exc.status,
                               request_id=exc.request_id) from exc
            try:
                raw = response.json()
            except ValueError:
                raise BadResponse(SERVICE, f"{what}: the answer is not JSON") from None
            for conversation in _parse_conversations(raw, ticket_id):
                found.setdefault(conversation.id, conversation)
            # Only whether a next page exists is taken from the header: the URL we build
            # ourselves, so a link can never send the API key to another host.
            if "next" not in response.links:
                return tuple(found.values())
        raise BadResponse(SERVICE, f"ticket {ticket_id} has more than "
                          f"{CONVERSATIONS_MAX_PAGES * CONVERSATIONS_PER_PAGE} conversations: "
                          "read it in Freshdesk")

    def add_tag(self, ticket_id: int, tag: str) -> None:
        """Add `tag`, keeping the ticket's other tags (a PUT of `tags` replaces the list)."""
        self._edit_tags(ticket_id, lambda tags: tags if tag in tags else [*tags, tag])

    def remove_tag(self, ticket_id: int, tag: str) -> None:
        """Remove `tag`, keeping the others; nothing is sent when the ticket does not have it."""
        self._edit_tags(ticket_id, lambda tags: [t for t in tags if t != tag])

    def _edit_tags(self, ticket_id: int, change: Callable[[list[str]], list[str]]) -> None:
        ticket_id = int(ticket_id)
        data = self._send("GET", f"/api/v2/tickets/{ticket_id}", ticket_id,
                          what=f"tags of ticket {ticket_id}")
        raw = data.get("tags")
        tags = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
        wanted = change(tags)
        if wanted == tags:
            return
        self._send("PUT", f"/api/v2/tickets/{ticket_id}", ticket_id,
                   what=f"set the tags of ticket {ticket_id}", json={"tags": wanted},
                   parse=False)

    def set_status(self, ticket_id: int, status: int, *, assign_to: int | None = None) -> None:
        """The ticket's status, and with `assign_to` its responder too: one PUT."""
        ticket_id = int(ticket_id)
        body = {"status": int(status)}
        if assign_to is not None:
            body["responder_id"] = int(assign_to)
        self._send(
            "PUT",
            f"/api/v2/tickets/{ticket_id}",
            ticket_id,
            what=f"set status of ticket {ticket_id}",
            json=body,
            parse=False,
        )

    def assign(self, ticket_id: int, agent_id: int | None) -> None:
        """Make `agent_id` the ticket's responder (None: nobody), how a run claims a ticket."""
        ticket_id = int(ticket_id)
        self._send(
            "PUT",
            f"/api/v2/tickets/{ticket_id}",
            ticket_id,
            what=f"assign ticket {ticket_id}",
            json={"responder_id": None if agent_id is None else int(agent_id)},
            parse=False,
        )

    def add_private_note(self, ticket_id: int, html: str) -> int:
        """Add an agents-only note; returns the note's id."""
        ticket_id = int(ticket_id)
        data = self._send(
            "POST",
            f"/api/v2/tickets/{ticket_id}/notes",
            ticket_id,
            what=f"add a note to ticket {ticket_id}",
            json={"body": html, "private": True},
        )
        return _require_int(data, "id", "note")

    def update_note(self, conversation_id: int, html: str) -> None:
        """Rewrite a note (PUT, so repeating it is harmless). NotFound when it is gone."""
        conversation_id = int(conversation_id)
        what = f"edit note {conversation_id}"
        try:
            self._http.request("PUT", f"/api/v2/conversations/{conversation_id}", what=what,
                               json={"body": html})
        except NotFound as exc:
            raise NotFound(SERVICE, f"note {conversation_id} not found", status=exc.status,
                           request_id=exc.request_id) from exc

    def delete_note(self, conversation_id: int) -> None:
        """Remove a note; one already gone counts as removed."""
        conversation_id = int(conversation_id)
        try:
            self._http.request("DELETE", f"/api/v2/conversations/{conversation_id}",
                               what=f"remove note {conversation_id}")
        except NotFound:
            pass

    def reply(self, ticket_id: int, html: str) -> int:
        """Email the requester; returns the new conversation's id."""
        ticket_id = int(ticket_id)
        body: dict[str, Any] = {"body": html}
        if self._from_email:
            body["from_email"] = self._from_email
        data = self._send(
            "POST",
            f"/api/v2/tickets/{ticket_id}/reply",
            ticket_id,
            what=f"reply to ticket {ticket_id}",
            json=body,
        )
        return _require_int(data, "id", "reply")

    def search_tickets(self, query: str, page: int = 1) -> SearchPage:
        """One page of `GET /api/v2/search/tickets?query="…"` (30 tickets, pages 1 to 10).

        `query` is Freshdesk's query language without the outer double quotes, e.g.
        `status:2 AND tag:'amazon'` (strings inside it take single quotes).
        """
        query = query.strip()
        if len(query) >= 2 and query[0] == query[-1] == '"':
            query = query[1:-1].strip()
        if not query or '"' in query:
            raise ValueError('a Freshdesk query is not empty and uses single quotes inside: '
                             "status:2 AND tag:'amazon'")
        if not 1 <= page <= SEARCH_MAX_PAGES:
            raise ValueError(f"Freshdesk search pages go from 1 to {SEARCH_MAX_PAGES}")
        what = f"search tickets ({query}, page {page})"
        # Encoded by hand: spaces as %20 (not "+"), the quotes Freshdesk requires around it.
        quoted = quote('"' + query + '"', safe=":")
        data = self._http.json(
            "GET", f"/api/v2/search/tickets?query={quoted}&page={page}", what=what
        )
        total, results = data.get("total"), data.get("results")
        if not _is_int(total) or not isinstance(results, list):
            raise BadResponse(SERVICE, f"{what}: expected 'total' and a 'results' list")
        from cancelbot.models import SearchPage

        return SearchPage(
            total=total,
            tickets=tuple(self._parse_found(item, f"{what}: results[{n}]")
                          for n, item in enumerate(results)),
        )

    def search_all(
        self, query: str, max_pages: int = SEARCH_MAX_PAGES, *, workers: int = SEARCH_WORKERS
    ) -> list[SearchPage]:
        """Every page of a search up to `max_pages`, in page order.

        Page 1 comes first: its `total` says how many pages there are (none after a page that
        is not full). The others are then read `workers` at a time rather than one after
        another; each call still takes its turn at the client's rate pacer, so near the end
        of the account's budget they wait for the window to renew instead of meeting a 429.
        A page that fails fails the search (its error, as `search_tickets` raises it).
        """
        if not 1 <= max_pages <= SEARCH_MAX_PAGES:
            raise ValueError(f"Freshdesk search pages go from 1 to {SEARCH_MAX_PAGES}")
        first = self.search_tickets(query, 1)
        if len(first.tickets) < SEARCH_PAGE_SIZE:
            return [first]
        last = min(max_pages, -(-first.total // SEARCH_PAGE_SIZE))
        if last <= 1:
            return [first]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, last - 1)),
                                thread_name_prefix="freshdesk-search") as pool:
            rest = list(pool.map(lambda page: self.search_tickets(query, page),
                                 range(2, last + 1)))
        return [first, *rest]

    def contact_email(self, contact_id: int) -> str:
        """The contact's primary email; "" when Freshdesk has no such contact (e.g. an agent)."""
        contact_id = int(contact_id)
        what = f"contact {contact_id}"
        try:
            data = self._http.json("GET", f"/api/v2/contacts/{contact_id}", what=what)
        except NotFound:
            return ""
        return _text(data.get("email"))

    def me(self) -> dict[str, Any]:
        """The agent this API key belongs to: {"id", "name", "email"} (a cheap signed-in check)."""
        data = self._http.json("GET", "/api/v2/agents/me", what="who am I (agents/me)")
        found = data.get("contact")
        contact: dict[str, Any] = found if isinstance(found, dict) else {}
        return {
            "id": _require_int(data, "id", "agents/me"),
            "name": _text(contact.get("name")),
            "email": _text(contact.get("email")),
        }

    def _parse_found(self, item: Any, where: str) -> FoundTicket:
        if not isinstance(item, dict):
            raise BadResponse(SERVICE, f"{where}: not an object")
        subject = item.get("subject")
        tags = item.get("tags")
        tid = _require_int(item, "id", where)
        from cancelbot.models import FoundTicket

        return FoundTicket(
            id=tid,
            subject=visible(subject) if isinstance(subject, str) else "",
            status=_require_int(item, "status", where),
            created_at=parse_timestamp(item.get("created_at")),
            requester_id=item.get("requester_id") if _is_int(item.get("requester_id")) else None,
            responder_id=item.get("responder_id") if _is_int(item.get("responder_id")) else None,
            tags=tuple(visible(t) for t in tags if isinstance(t, str))
            if isinstance(tags, list) else (),
            url=self.ticket_url(tid),
        )

    def _send(
        self,
        method: str,
        path: str,
        ticket_id: int,
        *,
        what: str,
        parse: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, what=what, **kwargs)
        except NotFound as exc:
            # Every path here names one ticket, so a 404 means that ticket is gone or never was.
            raise NotFound(
                SERVICE,
                _("ticket {id} not found").format(id=ticket_id),
                status=exc.status,
                request_id=exc.request_id,
            ) from exc
        return parse_json_object(SERVICE, response, what) if parse else {}

    def _parse_ticket(self, data: dict[str, Any], ticket_id: int) -> Ticket:
        tid = _require_int(data, "id", "ticket")
        subject = data.get("subject")
        if not isinstance(subject, str):
            raise BadResponse(SERVICE, f"ticket {ticket_id}: field 'subject' missing or not text")
        status = _require_int(data, "status", "ticket")

        requester = data.get("requester")
        if not isinstance(requester, dict):
            requester = {}
        responder_id = data.get("responder_id")
        tags = data.get("tags")

        from cancelbot.models import Ticket

        return Ticket(
            id=tid,
            subject=visible(subject),
            body_text=_html_or_text(data.get("description"), data.get("description_text")),
            status=status,
            requester_email=_text(requester.get("email")) or _text(data.get("email")),
            requester_name=_text(requester.get("name")) or _text(data.get("name")),
            created_at=parse_timestamp(data.get("created_at")),
            conversations=_parse_conversations(data.get("conversations"), ticket_id),
            responder_id=responder_id if _is_int(responder_id) else None,
            url=self.ticket_url(tid),
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        )


def _parse_conversations(raw: Any, ticket_id: int) -> tuple[Conversation, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadResponse(SERVICE, f"ticket {ticket_id}: field 'conversations' is not a list")
    from cancelbot.models import Conversation

    conversations = []
    for index, item in enumerate(raw):
        where = f"ticket {ticket_id} conversations[{index}]"
        if not isinstance(item, dict):
            raise BadResponse(SERVICE, f"{where}: not an object")
        conversations.append(
            Conversation(
                id=_require_int(item, "id", where),
                body_text=_html_or_text(item.get("body"), item.get("body_text")),
                private=item.get("private") is True,
                incoming=item.get("incoming") is True,
                created_at=parse_timestamp(item.get("created_at")),
                author=_author(item),
            )
        )
    return tuple(conversations)


def _author(item: dict[str, Any]) -> str:
    """Who wrote a conversation: its sender's address, else Freshdesk's user id."""
    sender = item.get("from_email")
    if isinstance(sender, str) and sender.strip():
        return sender.strip()
    user = item.get("user_id")
    return f"user {user}" if _is_int(user) else ""


def parse_timestamp(value: Any) -> datetime | None:
    """Freshdesk's ISO 8601 UTC timestamps ("2026-11-27T09:00:00Z") as aware datetimes."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # datetime.fromisoformat only learnt the "Z" suffix in Python 3.11.
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _html_or_text(markup: Any, plain: Any) -> str:
    # The HTML is what the customer wrote; the plain variant is Freshdesk's own, lossier, rendering.
    # Either way the whole text is kept (the order number may be anywhere in it): a screen
    # shows an excerpt of it (text.excerpt).
    if isinstance(markup, str) and markup.strip():
        return visible(html_to_text(markup))
    return visible(plain.strip()) if isinstance(plain, str) else ""


def _text(value: Any) -> str:
    """A text field from Freshdesk, made safe for a screen (a stranger may have written it)."""
    return visible(value.strip()) if isinstance(value, str) else ""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_int(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not _is_int(value):
        raise BadResponse(SERVICE, f"{where}: field {key!r} missing or not a number")
    return value


def _error_detail(response: httpx.Response) -> str:
    status = response.status_code
    if status == 401:
        return "API key refused — check FRESHDESK_API_KEY"
    if status == 403:
        return "this key's agent may not access tickets"
    if status == 404:
        return "not found"
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    # Validation failures: {"description": "Validation failed", "errors": [{field, message}]}
    parts = []
    errors = data.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        field, message = _text(error.get("field")), _text(error.get("message"))
        message = message or _text(error.get("code"))
        if field or message:
            parts.append(f"{field}: {message}" if field else message)
    head = _text(data.get("description")) or _text(data.get("message"))
    if parts:
        return f"{head or 'request refused'}: {'; '.join(parts)}"
    return head or _text(data.get("code"))

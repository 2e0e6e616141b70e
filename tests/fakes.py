"""The tests' one set of fakes: a scripted agent, the sandbox behind a recording and faulting
transport, and counters.

`ScriptedAgent` is the procedure's Agent: it answers from a script and records what it was shown
and asked. `FaultyTransport` wraps `SandboxTransport(home)`: it logs every request, runs hooks
before or after chosen ones, and breaks one kind of request in one way. `Counts` reads what
actually happened from the sandbox's state (and, for PUTs, from the log of requests the sandbox
applied) so "exactly once" is counted on the fake, not on our own journal. `add_order`,
`add_ticket` and `nothing_to_do` change the sandbox's world the way a day does: a new order
(and its buyer's request on Amazon), a new email, an empty queue.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from cancelbot.config import load_settings
from cancelbot.errors import NeedsHuman
from cancelbot.journal import Journal
from cancelbot.ports import Options
from cancelbot.procedure import process
from cancelbot.sandbox import load
from cancelbot.sandbox.state import StateStore
from cancelbot.sandbox.transport import SandboxTransport
from cancelbot.services.http import RetryPolicy
from cancelbot.wiring import open_services

AGENT_ID = 48000000001  # the sandbox's agent
ORDER_1001 = "402-3815274-6120358"
GSTK_1001 = "GS-1048213"
ORDER_1002 = "302-5521908-4417736"
ORDER_AMAZON_ONLY = "403-6618204-5193342"  # a buyer's request no seeded ticket names
GSTK_AMAZON_ONLY = "GS-1048230"
AWAITING, IN_PREPARATION = "En attente de préparation", "En cours de préparation"


# -- the sandbox's world, changed the way the day changes it ----------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_order(home: Path, order_id: str, gstk_id: str, gstk_status: str = AWAITING, *,
              requested_minutes_ago: float | None = 5.0, fulfillment: str = "UNSHIPPED") -> None:
    """A new order in GSTK and on Amazon (a copy of the seed's Amazon-only one); with
    `requested_minutes_ago`, the buyer asked Amazon to cancel it that long ago."""
    now = datetime.now(timezone.utc)
    with StateStore(home).update() as state:
        order = copy.deepcopy(state["amazon"]["orders"][ORDER_AMAZON_ONLY])
        body = order["order"]
        body["orderId"] = order_id
        body["fulfillment"]["fulfillmentStatus"] = fulfillment
        body["createdTime"] = _iso(now - timedelta(hours=1))
        updated = now - timedelta(minutes=requested_minutes_ago or 50)
        body["lastUpdatedTime"] = _iso(updated)
        for n, item in enumerate(body["orderItems"], start=1):
            item["orderItemId"] = f"{order_id.replace('-', '')[-13:]}{n}"
            if requested_minutes_ago is None:
                item.pop("cancellation", None)
        state["amazon"]["orders"][order_id] = order
        state["gstk"]["orders"][gstk_id] = {
            "id": gstk_id, "marketplace_order_id": order_id, "status": gstk_status,
            "updated_at": _iso(now - timedelta(minutes=50)), "history": []}


def add_ticket(home: Path, ticket_id: int, order_id: str, *, minutes_ago: float = 3.0) -> None:
    """A new open ticket: Amazon's email about `order_id` (a copy of ticket 1001's)."""
    now = datetime.now(timezone.utc)
    with StateStore(home).update() as state:
        tickets = state["freshdesk"]["tickets"]
        ticket = copy.deepcopy(tickets["1001"])
        text = (f"Le client a demandé l'annulation de la commande suivante : N° de commande : "
                f"{order_id}")
        ticket.update(
            id=ticket_id, status=2, responder_id=None, conversations=[],
            subject=f"Demande d'annulation de commande (Commande : {order_id})",
            description=f"<p>{text}</p>", description_text=text,
            created_at=_iso(now - timedelta(minutes=minutes_ago)),
            updated_at=_iso(now - timedelta(minutes=minutes_ago)),
        )
        # From the order's buyer (through Amazon's relay) when the sandbox knows the order:
        # anyone else would be a requester who does not match the order.
        buyer = state["amazon"]["orders"].get(order_id, {}).get("order", {}).get("buyer") or {}
        if buyer.get("buyerEmail"):
            contact_id = 48012000000 + ticket_id
            state["freshdesk"]["contacts"][str(contact_id)] = {
                "id": contact_id, "name": buyer.get("buyerName", ""),
                "email": buyer["buyerEmail"], "mobile": None, "phone": None}
            ticket["requester_id"] = contact_id
        tickets[str(ticket_id)] = ticket


def nothing_to_do(home: Path) -> None:
    """Every ticket resolved and every order past picking: an empty queue."""
    with StateStore(home).update() as state:
        for ticket in state["freshdesk"]["tickets"].values():
            ticket["status"] = 4
        for order in state["gstk"]["orders"].values():
            if order["status"] == AWAITING:
                order["status"] = IN_PREPARATION


class Crash(BaseException):
    """The process dies here: nothing after this line of the run happens (like SIGKILL)."""


Match = Callable[[httpx.Request], bool]


def _body(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# The request of each side-effecting step, as it goes over the wire.
STEPS: dict[str, Match] = {
    "claim": lambda r: r.method == "PUT" and "responder_id" in _body(r),
    "claim_note": lambda r: r.url.path.endswith("/notes")
    and "cancelbot: handling" in _body(r).get("body", ""),
    "gstk_cancel": lambda r: r.method == "POST" and r.url.path.endswith("/cancel"),
    "amazon_create_feed": lambda r: r.method == "POST"
    and r.url.path == "/feeds/2021-06-30/feeds",
    "reply": lambda r: r.method == "POST" and r.url.path.endswith("/reply"),
    "note": lambda r: "cancelbot: order" in _body(r).get("body", ""),
    "status": lambda r: r.method == "PUT" and "status" in _body(r),
}
GET_FEED: Match = lambda r: r.method == "GET" and r.url.path.startswith(  # noqa: E731
    "/feeds/2021-06-30/feeds/")
FAULTS = ("crash_before", "crash_after", "timeout_after", "429_then_ok", "503_storm")  # and
# "403", "429_storm", "in_progress" for the tests that need them
# Not in the matrix: "gstk_409", a GSTK that answers 409 to any order not awaiting preparation.


@dataclass
class Applied:
    method: str
    path: str
    status: int
    body: dict[str, Any]
    ticket_before: dict[str, Any] | None = None
    ticket_after: dict[str, Any] | None = None


@dataclass
class FaultyTransport(httpx.BaseTransport):
    """The sandbox, with `fault` on the requests `match` picks (None: no fault)."""

    home: Path
    match: Match | None = None
    fault: str = ""
    latency: float = 0.0
    before: Callable[[httpx.Request], None] | None = None  # runs before a matched request
    after: Callable[[httpx.Request], None] | None = None  # runs once its answer is back
    hits: int = 0
    applied: list[Applied] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # "METHOD host/path" of every request
    # One-shot hooks on (method, path): run before the request is sent, or after its answer.
    hooks_before: dict[tuple[str, str], Callable[[], None]] = field(default_factory=dict)
    hooks_after: dict[tuple[str, str], Callable[[], None]] = field(default_factory=dict)
    inner: httpx.BaseTransport | None = None  # default: the sandbox of `home`
    # Answers a request itself when it returns a Response (or raises the Exception it returns);
    # None lets the request through. For broken servers the tests describe request by request.
    answer: Callable[[httpx.Request], httpx.Response | Exception | None] | None = None
    # Sees every answer the sandbox gave and may replace it (or raise what it returns).
    edit: Callable[[httpx.Request, httpx.Response], httpx.Response | Exception | None] | None \
        = None

    def __post_init__(self) -> None:
        if self.inner is None:
            self.inner = SandboxTransport(self.home, latency=self.latency)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        key = (request.method, request.url.path)
        self.log.append(f"{request.method} {request.url.host}{request.url.path}")
        if key in self.hooks_before:
            self.hooks_before.pop(key)()
        response = self._handle(request)
        if self.edit is not None:
            edited = self.edit(request, response)
            if isinstance(edited, Exception):
                raise edited
            response = edited if edited is not None else response
        if key in self.hooks_after:
            self.hooks_after.pop(key)()
        return response

    def calls(self, prefix: str) -> list[str]:
        return [line for line in self.log if line.startswith(prefix)]

    def paths(self, host: str) -> list[str]:
        """The paths of the requests sent to `host`, in order."""
        return [line.split(" ", 1)[1].removeprefix(host) for line in self.log
                if line.split(" ", 1)[1].startswith(host + "/")]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.answer is not None:
            answered = self.answer(request)
            if isinstance(answered, Exception):
                raise answered
            if answered is not None:
                return answered
        hit = self.match is not None and self.match(request)
        if hit:
            self.hits += 1
            once = self.hits == 1
            if self.before is not None:
                self.before(request)
            if self.fault == "403":  # a role the app does not have
                return httpx.Response(403, json={"errors": [{"code": "Unauthorized",
                                                             "message": "Access denied"}]})
            if self.fault == "429_storm":
                return httpx.Response(429, json={"errors": [{"code": "QuotaExceeded"}]})
            if self.fault == "in_progress":
                response = self._forward(request)
                body = json.loads(response.content)
                body["processingStatus"] = "IN_PROGRESS"
                body.pop("resultFeedDocumentId", None)
                return httpx.Response(200, json=body)
            if self.fault == "ctrl_c":  # the agent presses Ctrl-C as the request leaves
                raise KeyboardInterrupt
            if self.fault == "crash_before" and once:
                raise Crash("before the request")
            if self.fault == "429_then_ok" and once:
                return httpx.Response(429, json={"message": "slow down"},
                                      headers={"Retry-After": "1"})
            if self.fault == "503_storm":
                return httpx.Response(503, json={"message": "Service Unavailable"})
            if self.fault == "gstk_409":
                # A GSTK that answers 409 to any order not awaiting preparation — an already
                # cancelled one too — with the order's label, as docs/gstk-api.md allows.
                order = load(self.home)["gstk"]["orders"][request.url.path.split("/")[3]]
                if order["status"] != "En attente de préparation":
                    return httpx.Response(409, json={"error": "not_cancellable",
                                                     "status": order["status"]})
        response = self._forward(request)
        if hit and self.after is not None:
            self.after(request)
        if hit and self.hits == 1:
            if self.fault == "crash_after":
                raise Crash("after the server applied it")
            if self.fault == "timeout_after":
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def _forward(self, request: httpx.Request) -> httpx.Response:
        ticket = _ticket_of(request)
        before = _ticket_state(self.home, ticket) if request.method == "PUT" else None
        assert self.inner is not None
        response = self.inner.handle_request(request)
        if request.method in ("POST", "PUT") and response.status_code < 300:
            after = _ticket_state(self.home, ticket) if request.method == "PUT" else None
            self.applied.append(Applied(request.method, request.url.path, response.status_code,
                                        _body(request), before, after))
        return response


def _ticket_of(request: httpx.Request) -> str | None:
    parts = request.url.path.split("/")
    if request.url.host.startswith("sandbox.freshdesk") and len(parts) > 4:
        return parts[4]
    return None


def _ticket_state(home: Path, ticket: str | None) -> dict[str, Any] | None:
    if ticket is None:
        return None
    found = load(home)["freshdesk"]["tickets"].get(ticket)
    return None if found is None else {"status": found["status"],
                                       "responder_id": found["responder_id"]}


class ScriptedAgent:
    """The procedure's Agent for tests: answers from a script, records what it was shown.

    `answers` are consumed in order by confirm, choose, ask and review_message (a tuple is the
    review's own answer, e.g. ("edit", text); otherwise truthy sends, falsy cancels). With
    `yes`, confirmations that may be automatic are answered Yes (like --yes) and every other
    question raises NeedsHuman. `lines` holds what was shown (`shown` too), `questions` what
    was asked (`asked` too), `warned` the warnings, `alerts` what was shown in red; `log`, when
    given, hears each answer.
    """

    def __init__(self, answers: Sequence[object] = (), *, yes: bool = False,
                 log: list[str] | None = None) -> None:
        self.answers = list(answers)
        self.yes = yes
        self.interactive = not yes
        self.lines: list[str] = []
        self.questions: list[str] = []
        self.warned: list[str] = []
        self.alerts: list[str] = []  # what was shown in red
        self.messages: list[tuple[str, str]] = []  # (language, why) of each reply shown
        self.reviews: list[tuple[str, str, bool]] = []  # (language, text, shown) each time
        self.log = log

    @property
    def shown(self) -> list[str]:
        return self.lines

    @property
    def asked(self) -> list[str]:
        return self.questions

    def _next(self, question: str) -> object:
        self.questions.append(question)
        if not self.answers:
            raise AssertionError(f"unexpected question: {question}")
        answer = self.answers.pop(0)
        if self.log is not None:
            self.log.append(f"CONFIRM {question} -> {answer}")
        return answer

    def step(self, number: int, total: int, title: str) -> None:
        self.lines.append(f"step {number}/{total}: {title}")

    def show_ticket(self, ticket) -> None:
        self.lines.append(f"ticket {ticket.id}: {ticket.subject}")

    def show_order(self, order_id, gstk, amazon, marketplace, *, amazon_checked=True) -> None:
        amazon_status = amazon.fulfillment_status if amazon else (
            "not found" if amazon_checked else "not checked")
        self.lines.append(f"order {order_id} {gstk and gstk.label} {amazon_status}")

    def show_decision(self, decision) -> None:
        self.lines.append(f"decision {decision.branch.value}")

    def show_plan(self, lines) -> None:
        self.lines.extend(f"plan: {line}" for line in lines)

    def show_message(self, text, language, why, channel, *, copy_to="") -> None:
        self.messages.append((language, why))
        self.reviews.append((language, text, True))
        self.lines.append(f"message ({language}) via {channel}"
                          + (f" — paste it at {copy_to}" if copy_to else ""))

    def review_message(self, question, text, language, why, channel, *, copy_to="",
                       languages=(), shown=True):
        self.reviews.append((language, text, shown))
        answer = self._next(question)
        if isinstance(answer, tuple):
            return answer
        return ("send", text) if answer else ("cancel", "")

    def info(self, text: str) -> None:
        self.lines.append(text)

    def warn(self, text: str) -> None:
        self.warned.append(text)
        self.lines.append(f"WARN {text}")

    def alert(self, text: str) -> None:
        self.alerts.append(text)
        self.lines.append(f"ALERT {text}")

    def confirm(self, question: str, *, automatic: bool = True) -> bool:
        if self.yes:
            self.questions.append(question)
            if not automatic:
                raise NeedsHuman(f"{question} — needs a person")
            return True
        return bool(self._next(question))

    def choose(self, question: str, options) -> int:
        self.lines.extend(f"option {n}. {option}" for n, option in enumerate(options, 1))
        if self.yes:
            raise NeedsHuman(f"{question} — needs a person")
        return int(self._next(question))  # type: ignore[call-overload]

    def ask(self, question: str, parse):
        if self.yes:
            raise NeedsHuman(f"{question} — needs a person")
        return parse(str(self._next(question)))

    @contextmanager
    def busy(self, label: str):
        yield

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def fast_retry() -> RetryPolicy:
    return RetryPolicy(sleep=lambda seconds: None)


def sandbox_settings(home: Path):
    return load_settings({"CANCELBOT_HOME": str(home)}, sandbox=True)


def journal_dir(home: Path) -> Path:
    """Where the sandbox's runs keep their journal: its world's folder, never `home` itself."""
    return sandbox_settings(home).world.prepare()


def run(
    home: Path,
    ticket_id: int,
    agent: ScriptedAgent,
    transport: httpx.BaseTransport | None = None,
    *,
    journal_home: Path | None = None,
    agent_id: int | None = AGENT_ID,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
):
    """One `cancelbot process` as the CLI runs it, on a fresh journal connection."""
    settings = sandbox_settings(home)
    transport = transport or FaultyTransport(home)
    options = Options(dry_run=dry_run, agent_id=agent_id, templates=settings.templates_dir)
    with Journal.open(journal_home or settings.world.prepare()) as journal, open_services(
            settings, agent, transport=transport, retry=retry or fast_retry()) as services:
        return process(ticket_id, services, agent, options, journal).raise_for_error()


@dataclass
class Counts:
    """What happened to one ticket and its order, read from the sandbox."""

    gstk_cancels: int
    feeds: int
    amazon_status: str
    replies: int
    final_notes: int
    claim_notes: int
    error_notes: int
    status: int
    responder_id: int | None
    status_changes: int
    responder_changes: int


def counts(home: Path, ticket_id: int, order_id: str, applied: Sequence[Applied]) -> Counts:
    state = load(home)
    ticket = state["freshdesk"]["tickets"][str(ticket_id)]
    conversations = ticket["conversations"]
    gstk = [o for o in state["gstk"]["orders"].values() if o["marketplace_order_id"] == order_id]
    amazon = state["amazon"]["orders"][order_id]["order"]
    notes = [c["body_text"] for c in conversations if c["private"]]
    puts = [a for a in applied if a.method == "PUT" and a.ticket_before and a.ticket_after]
    return Counts(
        gstk_cancels=sum(1 for o in gstk for h in o["history"] if h["action"] == "cancel"),
        feeds=sum(1 for a in applied if a.path == "/feeds/2021-06-30/feeds"),
        amazon_status=amazon["fulfillment"]["fulfillmentStatus"],
        replies=sum(1 for c in conversations if not c["private"] and not c["incoming"]),
        final_notes=sum(1 for n in notes if n.startswith("cancelbot: order")),
        claim_notes=sum(1 for n in notes if n.startswith("cancelbot: handling")),
        error_notes=sum(1 for n in notes if n.startswith("cancelbot: Amazon did NOT")),
        status=ticket["status"],
        responder_id=ticket["responder_id"],
        status_changes=sum(1 for a in puts
                           if a.ticket_before["status"] != a.ticket_after["status"]),
        responder_changes=sum(1 for a in puts if a.ticket_before["responder_id"]
                              != a.ticket_after["responder_id"]),
    )


PERSON_NOTE = "cancelbot: needs a person"
NEEDS_HUMAN_TAG = "cancelbot-needs-human"


def unflagged(state: dict[str, Any]) -> dict[str, Any]:
    """A whole sandbox state without what leaving a ticket to a person writes — the 'needs a
    person' note, the `cancelbot-needs-human` tag, and the times and counter they move — to
    assert that nothing else changed."""
    state = copy.deepcopy(state)
    state.get("counters", {}).pop("conversation", None)
    for ticket in state["freshdesk"]["tickets"].values():
        ticket["conversations"] = [c for c in ticket["conversations"]
                                   if not c["body_text"].startswith(PERSON_NOTE)]
        ticket["tags"] = [t for t in ticket["tags"] if t != NEEDS_HUMAN_TAG]
        ticket.pop("updated_at", None)
    return state


def person_flag(home: Path, ticket_id: int) -> tuple[list[str], bool]:
    """(the 'needs a person' notes on the ticket, whether it has the tag)."""
    ticket = load(home)["freshdesk"]["tickets"][str(ticket_id)]
    notes = [c["body_text"] for c in ticket["conversations"]
             if c["private"] and c["body_text"].startswith(PERSON_NOTE)]
    return notes, NEEDS_HUMAN_TAG in ticket["tags"]


def as_found(state: dict[str, Any]) -> dict[str, Any]:
    """Freshdesk, GSTK and Amazon as a person sees them. A run that stopped before its first
    change took back the claim it posted beside the lookups: the ticket's conversations,
    status and assignee are as they were; only Freshdesk's `updated_at` (and the sandbox's id
    counters) moved. A feed document uploaded beside the claim is left out too: Amazon acts
    on none until createFeed (its feeds are compared)."""
    found = copy.deepcopy({system: state[system] for system in ("freshdesk", "gstk", "amazon")})
    for ticket in found["freshdesk"]["tickets"].values():
        ticket.pop("updated_at", None)
    found["amazon"].pop("documents", None)
    return found


def only_the_claim_withdrawn(log: Sequence[str]) -> bool:
    """The writes in `log` ("METHOD host/path") are at most a claim note and its deletion."""
    writes = [line for line in log if line.startswith(("POST", "PUT", "DELETE"))
              and "/auth/o2/token" not in line]
    notes = [w for w in writes if w.startswith("POST") and w.endswith("/notes")]
    deletes = [w for w in writes if w.startswith("DELETE") and "/conversations/" in w]
    return len(notes) == len(deletes) <= 1 and len(writes) == len(notes) + len(deletes)


def two_laptops(home: Path, wires: Sequence[httpx.BaseTransport], *, join: float = 60,
                agent_id: int | None = AGENT_ID) -> list[object]:
    """Ticket 1001 processed with --yes by two computers at once (two journals, one world):
    each one's Outcome, or the error it stopped with (the loser's is the point)."""
    import threading

    outcomes: list[object] = [None, None]

    def laptop(n: int) -> None:
        try:
            outcomes[n] = run(home, 1001, ScriptedAgent(yes=True), wires[n],
                              journal_home=home / f"laptop-{n}", agent_id=agent_id)
        except Exception as exc:  # noqa: BLE001 - the loser's error is the point
            outcomes[n] = exc

    threads = [threading.Thread(target=laptop, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(join)
    return outcomes

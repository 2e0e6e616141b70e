"""An agent's shift: the open cancellation requests, one `process` after another.

    find_queue()       a Freshdesk search (30 tickets a page, 10 pages at most), kept to what
                       looks like an Amazon cancellation request — its subject (FR/DE/EN/IT/ES),
                       an Amazon sender, or the team's tag — oldest first, with what to skip and
                       why; with `threads` (queue --list) each ticket's thread too: another run's
                       claim (who, since when, stale or not) and why an earlier run left it to a
                       person
    in_triage_order()  the order a shift takes them in: requests that can still be cancelled
                       first (GSTK "awaiting preparation", oldest request first), then the others
                       by Amazon's 24-hour answer deadline (triage.py looks the orders up)
    run_shift()        each entry through exactly `procedure.process` — or, for a buyer's
                       request found on Amazon alone, `amazon_requests.handle_request` — the next
                       one read ahead in the background (prefetch.py); process / skip / quit at
                       each; with a `Watch`, new requests are picked up between entries and
                       while the queue is empty, until **q** or Ctrl-C; a Shift at the end.
                       Amazon's feeds are followed on a thread of the shift's
                       (feeds.FeedFollower): the agent never waits for them

Like the procedure, this never prints: the shift talks to a `ShiftScreen` (ui.py), the
procedure to its `Agent`.
"""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Protocol, cast

from msgspec import Struct, field, structs

from cancelbot import marketplaces, several
from cancelbot.amazon_requests import Discovery, handle_request, parse_time
from cancelbot.claims import (
    HANDLED,
    HANDLING,
    NEEDS_HUMAN_TAG,
    PERSON_MARK,
    REFUSED,
    other_runs,
    person_note,
)
from cancelbot.decision import AMAZON_PAST_CANCEL, STATUS_WORDS
from cancelbot.errors import (
    CancelbotError,
    ChangedMeanwhile,
    Declined,
    ExitCode,
    NeedsHuman,
    TicketBusy,
    UsageError,
)
from cancelbot.feeds import POLL, FeedDesk, FeedFollower, refused_tickets, tell
from cancelbot.i18n import _, ngettext
from cancelbot.journal import AmazonRequest, Journal
from cancelbot.models import (
    Conversation,
    FoundTicket,
    OrderStatus,
    SearchPage,
    Ticket,
    TicketStatus,
)
from cancelbot.outcome import Outcome
from cancelbot.ports import DEFAULT_CLAIM_LEASE, Agent, Options, Services
from cancelbot.prefetch import Prefetched, Prefetcher, read_now
from cancelbot.procedure import process
from cancelbot.when import clock_time

# Amazon expects an answer to a buyer's message within 24 hours; under 4 hours left is urgent.
RESPONSE_TIME = timedelta(hours=24)
URGENT = timedelta(hours=4)
PAGE_SIZE, MAX_PAGES = 30, 10  # Freshdesk's search: 30 a page, pages 1 to 10
LOOKAHEAD = 2  # tickets read ahead of the one on screen

# Matched on the subject with accents removed and case folded. Amazon's own notification
# subjects in each language, and what buyers write ("annuler ma commande", "bitte stornieren").
SUBJECT_PATTERNS: dict[str, str] = {
    "en": r"\bcancel",  # Order cancellation request from Amazon customer…, cancel my order
    "fr": r"\bannul",  # Demande d'annulation de commande…, annuler, annulez
    "de": r"\bstorn",  # Stornierungsanfrage von Amazon-Kunde…, stornieren
    "it": r"\bcancellazion|\bannull",  # Richiesta di cancellazione dell'ordine…, annullare
    "es": r"\bcancelaci|\banula",  # Solicitud de cancelación del pedido…, anular
}
_SUBJECT = re.compile("|".join(f"(?:{p})" for p in SUBJECT_PATTERNS.values()))
# Amazon's notifications (donotreply@amazon.com) and its buyer relay (…@marketplace.amazon.de).
_AMAZON_SENDER = re.compile(r"@(?:[a-z0-9-]+\.)*amazon\.[a-z]{2,3}(?:\.[a-z]{2})?$")

# Results: how each ticket of a shift ended.
CANCELLED, MESSAGED, NEEDS_HUMAN, SKIPPED, FAILED = (
    "cancelled", "messaged", "needs_human", "skipped", "failed"
)


class TicketSearch(Protocol):
    def search_tickets(self, query: str, page: int = 1) -> SearchPage: ...
    def contact_email(self, contact_id: int) -> str: ...
    def conversations(self, ticket_id: int) -> tuple[Conversation, ...]: ...


class Triage(Struct, frozen=True):
    """What looking an entry's order up said (triage.py), and so where the entry stands."""

    order_id: str | None  # None: no single order number (none, several, or unreadable)
    gstk: OrderStatus | None = None  # None: unknown (no order, not in GSTK, lookup failed…)
    gstk_label: str = ""  # GSTK's own words
    why: str = ""  # why it is not known, when it is not
    named: tuple[str, ...] = ()  # every order number the ticket names
    amazon: str = ""  # Amazon's fulfillmentStatus when it was asked (triage.py); "" if not

    @property
    def amazon_past_cancel(self) -> bool:
        """Amazon shows the order shipped or cancelled: nothing left to save there."""
        return self.amazon.upper() in AMAZON_PAST_CANCEL

    @property
    def cancellable(self) -> bool | None:
        """True while the warehouse has not picked it — and Amazon, when known, does not show
        it shipped or cancelled; None when unknown."""
        if self.gstk is None:
            return None
        if self.amazon_past_cancel:
            return False
        return self.gstk is OrderStatus.AWAITING_PREPARATION


class QueueEntry(Struct, frozen=True):
    """A cancellation request: a Freshdesk ticket, or (`ticket` None) a buyer's request found
    on Amazon that no ticket names yet (`request`)."""

    ticket: FoundTicket | None
    matched_by: tuple[str, ...] = ()  # "subject", "sender", "tag"; ("amazon",) for a request
    skip: str = ""  # why the shift leaves it alone; "" to do
    request: AmazonRequest | None = None
    triage: Triage | None = None  # None until its order was looked up
    stale_claim: str = ""  # another run's claim older than the lease: who, since when
    needs_person: str = ""  # why an earlier run left it to a person

    @property
    def id(self) -> int | None:
        """The ticket's id; None for a request found on Amazon."""
        return None if self.ticket is None else self.ticket.id

    @property
    def key(self) -> str:
        """Tells entries apart across refreshes of the queue."""
        if self.ticket is not None:
            return f"ticket {self.ticket.id}"
        return f"order {self.request.order_id if self.request else ''}"

    @property
    def source(self) -> str:
        return "freshdesk" if self.ticket is not None else "amazon"

    @property
    def label(self) -> str:
        """"#1001", or "Amazon" for a request no ticket names."""
        return f"#{self.ticket.id}" if self.ticket is not None else "Amazon"

    @property
    def order_id(self) -> str | None:
        if self.request is not None:
            return self.request.order_id
        return self.triage.order_id if self.triage is not None else None

    @property
    def cancellable(self) -> bool | None:
        return self.triage.cancellable if self.triage is not None else None

    @property
    def subject(self) -> str:
        if self.ticket is not None:
            return self.ticket.subject
        where = marketplaces.marketplace_label(self.request.marketplace_id) \
            if self.request is not None else "Amazon"
        return _("Order {order}: the buyer asked {where} to cancel (no ticket yet)").format(
            order=self.order_id, where=where)

    @property
    def url(self) -> str:
        if self.ticket is not None:
            return self.ticket.url
        if self.request is None:
            return ""
        return marketplaces.seller_central_order_url(self.request.order_id,
                                                     self.request.marketplace_id)

    @property
    def received_at(self) -> datetime | None:
        """When the request was made: the ticket's creation, or the update on Amazon."""
        if self.ticket is not None:
            return self.ticket.created_at
        return parse_time(self.request.requested_at) if self.request is not None else None

    @property
    def standing(self) -> str:
        """Why the entry stands where it stands in the triage order, in a few words."""
        triage = self.triage
        if self.skip:
            return _("left alone")
        if triage is None:
            return _("not looked up")
        if self.cancellable:
            return _("first: can still be cancelled")
        if triage.amazon_past_cancel and triage.gstk is not None:
            return _("not cancellable: Amazon says {amazon}, GSTK {gstk}; by the 24-h "
                     "deadline").format(amazon=triage.amazon.upper(),
                                        gstk=_(STATUS_WORDS[triage.gstk]))
        if triage.gstk is not None:
            return _("{status}: by the 24-h deadline").format(
                status=_(STATUS_WORDS[triage.gstk]))
        return _("{why}: by the 24-h deadline").format(why=triage.why or _("status unknown"))

    def age(self, now: datetime) -> timedelta | None:
        created = self.received_at
        return None if created is None else now - created

    def time_left(self, now: datetime) -> timedelta | None:
        """Before Amazon's 24-hour expectation; negative when late."""
        age = self.age(now)
        return None if age is None else RESPONSE_TIME - age

    def urgent(self, now: datetime) -> bool:
        left = self.time_left(now)
        return left is not None and left < URGENT


class Queue(Struct):
    query: str
    total: int  # what Freshdesk counted for the query
    read: int  # search results actually read (300 at most)
    pages: int
    truncated: bool
    entries: list[QueueEntry]
    agent_id: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    triaged: bool = False  # in triage order (triage.py), not Freshdesk's oldest first
    discovery: Discovery | None = None  # the last look at Amazon; None: none (no SP-API)

    @property
    def todo(self) -> list[QueueEntry]:
        return [e for e in self.entries if not e.skip]


def triage_key(entry: QueueEntry) -> tuple[int, datetime, str]:
    """Cancellable first, oldest request first; then the rest by the 24-hour deadline (the
    same order as their age); unknown counts as the rest; skipped entries last."""
    far = datetime.max.replace(tzinfo=timezone.utc)
    received = entry.received_at
    if entry.skip:
        return 2, received or far, entry.key
    if entry.cancellable:
        return 0, received or far, entry.key
    return 1, (received + RESPONSE_TIME) if received is not None else far, entry.key


def in_triage_order(entries: Sequence[QueueEntry]) -> list[QueueEntry]:
    """The order a shift takes its entries in (see `triage_key`)."""
    return sorted(entries, key=triage_key)


def check_query(query: str) -> str:
    """The query without outer quotes; UsageError for what Freshdesk would refuse."""
    query = query.strip()
    if len(query) >= 2 and query[0] == query[-1] == '"':
        query = query[1:-1].strip()
    if not query:
        raise UsageError("the queue's Freshdesk query is empty (default: status:2)")
    if '"' in query:
        raise UsageError("inside a Freshdesk query, strings take single quotes: "
                         "status:2 AND tag:'amazon'")
    return query


def matched_by(subject: str, tags: Sequence[str], email: str, tag: str) -> tuple[str, ...]:
    """Why a ticket counts as an Amazon cancellation request; () when it does not."""
    reasons = []
    if _SUBJECT.search(_fold(subject)):
        reasons.append("subject")
    if email and _AMAZON_SENDER.search(email.strip().lower()):
        reasons.append("sender")
    if tag and any(t.strip().casefold() == tag.strip().casefold() for t in tags):
        reasons.append("tag")
    return tuple(reasons)


def find_queue(
    search: TicketSearch,
    *,
    query: str,
    tag: str = "",
    agent_id: int | None = None,
    journal: Journal | None = None,
    now: datetime | None = None,
    threads: bool = False,
    lease: float = DEFAULT_CLAIM_LEASE,
) -> Queue:
    """The open cancellation requests, oldest first, each with a skip reason or none. With
    `threads`, each ticket left to do is read too (one request each, four at a time): another
    run's claim on it, and the reason an earlier run left it to a person."""
    query = check_query(query)
    found: dict[int, FoundTicket] = {}
    total = pages = 0
    last_full = False
    for page in range(1, MAX_PAGES + 1):
        result = search.search_tickets(query, page)
        pages, total = page, max(total, result.total)
        for ticket in result.tickets:
            found.setdefault(ticket.id, ticket)  # pages shift when tickets change meanwhile
        last_full = len(result.tickets) >= PAGE_SIZE
        if not last_full or len(found) >= result.total:
            break
    truncated = pages == MAX_PAGES and last_full and total > len(found)

    reasons = {t.id: matched_by(t.subject, t.tags, "", tag) for t in found.values()}
    # The sender is only known through the requester: looked up for what nothing else matched,
    # once per contact.
    unknown = sorted({t.requester_id for t in found.values()
                      if not reasons[t.id] and t.requester_id is not None})
    with ThreadPoolExecutor(max_workers=4) as pool:
        emails = dict(zip(unknown, pool.map(search.contact_email, unknown), strict=True))
    for t in found.values():
        if not reasons[t.id] and t.requester_id in emails:
            reasons[t.id] = matched_by("", (), emails[t.requester_id], "")

    entries = [
        QueueEntry(t, reasons[t.id], _skip_reason(t, agent_id, journal))
        for t in found.values() if reasons[t.id]
    ]
    if threads:
        todo = [e for e in entries if not e.skip]
        with ThreadPoolExecutor(max_workers=4) as pool:
            read = dict(zip((e.key for e in todo),
                            pool.map(lambda e: search.conversations(_ticket_id(e)), todo),
                            strict=True))
        entries = [_with_thread(e, read[e.key], agent_id, journal, lease) if e.key in read
                   else e for e in entries]
    else:
        entries = [structs.replace(e, needs_person=_("an earlier run left it to a person"))
                   if e.ticket is not None and NEEDS_HUMAN_TAG in e.ticket.tags else e
                   for e in entries]
    far = datetime.max.replace(tzinfo=timezone.utc)
    entries.sort(key=lambda e: (e.received_at or far, e.id or 0))
    return Queue(query, total, len(found), pages, truncated, entries, agent_id,
                 now or datetime.now(timezone.utc))


def _ticket_id(entry: QueueEntry) -> int:
    """The ticket of an entry find_queue made (always a Freshdesk ticket)."""
    assert entry.ticket is not None
    return entry.ticket.id


def _skip_reason(ticket: FoundTicket, agent_id: int | None, journal: Journal | None) -> str:
    if ticket.responder_id is not None and ticket.responder_id != agent_id:
        return (_("assigned to agent {agent}") if agent_id is not None else _(
            "assigned to agent {agent} (set FRESHDESK_AGENT_ID if that is you)")).format(
            agent=ticket.responder_id)
    job = journal.last_job(ticket.id) if journal is not None else None
    # A ticket reopened for Amazon's refusal of its cancellation is work again, not done.
    if job is not None and job.state == "done" and journal is not None \
            and ticket.id not in refused_tickets(journal) \
            and not several.order_left(journal, ticket.id):  # another order still to do
        text = _("already handled (journal: finished {time} by {agent}); reopened since? look "
                 "at it in Freshdesk") if job.agent else _(
            "already handled (journal: finished {time}); reopened since? look at it in "
            "Freshdesk")
        return text.format(time=clock_time(job.finished_at), agent=job.agent)
    return ""


def _with_thread(entry: QueueEntry, conversations: tuple[Conversation, ...],
                 agent_id: int | None, journal: Journal | None, lease: float) -> QueueEntry:
    found = entry.ticket
    assert found is not None  # find_queue's entries are Freshdesk's
    ticket = Ticket(id=found.id, subject=found.subject, body_text="", status=found.status,
                    requester_email="", requester_name="", created_at=found.created_at,
                    conversations=conversations, responder_id=found.responder_id,
                    url=found.url, tags=found.tags, conversations_complete=True)
    skip = skip_on_reading(ticket, agent_id, journal, lease)
    stale = stale_claim(ticket, journal, lease)
    note = person_note(ticket)
    person = note.body_text.removeprefix(PERSON_MARK).lstrip(": ") if note is not None else ""
    return structs.replace(entry, skip=skip, stale_claim=stale, needs_person=person)


def stale_claim(ticket: Ticket, journal: Journal | None,
                lease: float = DEFAULT_CLAIM_LEASE) -> str:
    """Who left a claim older than the lease on the ticket, and since when; "" if none."""
    job = journal.open_job(ticket.id) if journal is not None else None
    others = other_runs(ticket, job.job_id if job is not None else None)
    if others and others[-1].stale(lease):
        return _("{who} — older than the {lease}-minute lease; processing it asks to take it "
                 "over").format(who=others[-1].describe(), lease=f"{lease:g}")
    return ""


def skip_on_reading(
    ticket: Ticket, agent_id: int | None, journal: Journal | None = None,
    lease: float = DEFAULT_CLAIM_LEASE,
) -> str:
    """Why the shift leaves a ticket alone once it is read: another run's cancelbot note on it
    (it handled or is handling the ticket: who, since when), closed or assigned since the
    search. A claim older than the lease is not skipped: processing it asks to take it over.
    A run of this computer's journal left unfinished is not skipped: processing resumes it."""
    job = journal.open_job(ticket.id) if journal is not None else None
    others = other_runs(ticket, job.job_id if job is not None else None)
    if others and others[-1].state != REFUSED:  # Amazon refused: the procedure asks
        last = others[-1]
        if last.stale(lease):
            return ""
        if last.state == HANDLED and journal is not None \
                and several.order_left(journal, ticket.id):
            return ""  # it handled one of the ticket's orders: the other is still to do
        doing = _("another run is handling it ({note}) — {who}") if last.state == HANDLING \
            else _("already handled ({note}) — {who}")
        return doing.format(note=last.first_sentence(), who=last.describe())
    if ticket.is_closed:
        status = TicketStatus(ticket.status).name.lower()  # render.STATUS_NAMES marks its words
        return _("already {status}").format(status=_(status))
    if ticket.responder_id is not None and ticket.responder_id != agent_id:
        return _("assigned to agent {agent} since the search").format(agent=ticket.responder_id)
    return ""


# -- the shift ------------------------------------------------------------------------------


class TicketResult(Struct):
    ticket_id: int | None  # None: a buyer's request found on Amazon
    url: str
    kind: str  # one of KINDS
    detail: str
    order_id: str = ""
    seconds: float | None = None  # from its screen to its end; None when not processed

    @property
    def label(self) -> str:
        return f"#{self.ticket_id}" if self.ticket_id is not None else "Amazon"


class Shift(Struct):
    queue: Queue
    results: list[TicketResult] = field(default_factory=list)
    not_reached: list[QueueEntry] = field(default_factory=list)
    quit: bool = False
    interrupted: bool = False
    seconds: float = 0.0
    arrived: int = 0  # entries a watching shift picked up after it started

    def of(self, kind: str) -> list[TicketResult]:
        return [r for r in self.results if r.kind == kind]

    @property
    def median_seconds(self) -> float | None:
        times = [r.seconds for r in self.results if r.seconds is not None]
        return statistics.median(times) if times else None

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.of(FAILED):
            return ExitCode.ERROR
        if self.of(NEEDS_HUMAN):
            return ExitCode.NEEDS_HUMAN
        return ExitCode.OK


class ShiftScreen(Protocol):
    """The person working the shift, between tickets (the procedure has its own Agent)."""

    def show_queue(self, queue: Queue) -> None: ...
    def show_card(self, number: int, count: int, entry: QueueEntry, ticket: Ticket | None,
                  now: datetime) -> None: ...
    def next_action(self) -> str:
        """"process", "skip" or "quit"."""
        ...
    def skipped(self, entry: QueueEntry, reason: str) -> None: ...
    def show_result(self, result: TicketResult, outcome: Outcome | None) -> None: ...
    def busy(self, label: str) -> AbstractContextManager[None]: ...


class WatchScreen(ShiftScreen, Protocol):
    """A watching shift's screen: also what arrives, the bell, and the keyboard while idle."""

    def arrived(self, entries: Sequence[QueueEntry], queue: Queue) -> None: ...
    def ring(self) -> None: ...
    def look_failed(self, problem: str) -> None:
        """A look at the queue failed; the shift goes on with the queue it has."""
        ...
    def idle(self, queue: Queue, next_look: float) -> AbstractContextManager[None]:
        """While the shift waits for work (`next_look` seconds to the next look)."""
        ...
    def key(self) -> str | None:
        """A key pressed since the last call (inside `idle`), without waiting; else None."""
        ...


class Watch(Struct):
    """How a shift keeps watching: `refresh(previous, ask_amazon)` builds the queue afresh
    (triage.py); Freshdesk is looked at every `every` seconds, Amazon every `amazon_every`
    at most — or at every look while `rush()` says a picking wave is minutes away
    (waves.py); its usage plan decides too. `clock` and `sleep` are injectable for tests."""

    refresh: Callable[[Queue, bool], Queue]
    every: float = 60.0
    amazon_every: float = 180.0
    rush: Callable[[], bool] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    step: float = 0.25  # seconds between two looks at the keyboard while idle
    last_look: float = 0.0  # the watch's own state, not given by the caller
    last_amazon: float | None = None

    def start(self, queue: Queue) -> None:
        self.last_look = self.clock()
        if queue.discovery is not None and queue.discovery.searched:
            self.last_amazon = self.last_look

    def next_look(self) -> float:
        return max(0.0, self.last_look + self.every - self.clock())

    def look(self, queue: Queue) -> Queue:
        now = self.last_look = self.clock()
        every = self.every if self.rush is not None and self.rush() else self.amazon_every
        ask_amazon = self.last_amazon is None or now - self.last_amazon >= every
        fresh = self.refresh(queue, ask_amazon)
        if fresh.discovery is not None and fresh.discovery.searched:
            self.last_amazon = now
        return fresh


def run_shift(
    queue: Queue,
    services: Services,
    agent: Agent,
    screen: ShiftScreen,
    options: Options,
    *,
    journal: Journal | None = None,
    prefetch: bool = True,
    clock: Callable[[], float] = time.monotonic,
    feed_poll: float = POLL,
    watch: Watch | None = None,
) -> Shift:
    """Work through the queue, in its order. With a non-interactive agent (--yes) every entry
    is processed the way `process --yes` would; those needing a person are left for later.
    `options.rerun` may hold `{ticket}`: each ticket's own rerun command.

    With `watch` (and a `WatchScreen`), the queue is looked at again between entries and while
    it is empty: new entries are shown as they arrive (the bell rings for one that can still
    be cancelled), and the shift ends with **q** (or Ctrl-C while waiting) — not when the
    queue is empty. Ctrl-C ends the shift (the Shift says so) instead of propagating: the
    summary still shows. Each pending Amazon feed is looked at every `feed_poll` seconds, off
    the agent's way.
    """
    shift = Shift(queue)
    desk = FeedDesk(journal, services.feeds, services.helpdesk, agent) \
        if services.feeds is not None and journal is not None else None
    shift.results = [TicketResult(e.id, e.url, SKIPPED, e.skip, e.order_id or "")
                     for e in queue.entries if e.skip]
    taken = {e.key for e in queue.entries if e.skip}  # taken up or left alone in this shift
    finished: set[str] = set(taken)  # with a result
    seen = {e.key for e in queue.entries}
    journal = journal if journal is not None else Journal.memory()
    watching = _Watching(watch, screen, seen) if watch is not None else None
    if watching is not None:
        watching.start(queue)
    follower = FeedFollower(desk, poll=feed_poll).start() if desk is not None else None
    reader = Prefetcher(services, enabled=prefetch)
    started = clock()
    number = 0
    todo: list[QueueEntry] = []
    try:
        while True:
            todo = [e for e in shift.queue.todo if e.key not in taken]
            if not todo:
                if watching is None:
                    break
                fresh = watching.wait_for_work(shift.queue, taken)
                if fresh is None:
                    shift.quit = True
                    break
                shift.queue = fresh
                continue
            if follower is not None:
                tell(agent, follower.news())  # between two entries: what Amazon said meanwhile
            entry = todo[0]
            taken.add(entry.key)
            number += 1
            found: Prefetched | None = None
            if entry.ticket is not None:
                reader.start(entry.ticket.id)  # unless it is being read already
                with screen.busy(_("Reading ticket #{id}").format(id=entry.ticket.id)):
                    found = reader.take(entry.ticket.id) or read_now(services, entry.ticket.id)
            # While the agent reads this one, the next two tickets: one skipped when read
            # (another run's note) must not leave the agent waiting for the one after it.
            for ahead in todo[1:1 + LOOKAHEAD]:
                if ahead.ticket is not None:
                    reader.start(ahead.ticket.id)
            reason = skip_on_reading(found.ticket, queue.agent_id, journal,
                                     options.claim_lease) \
                if found is not None and found.ticket else ""
            if reason:
                shift.results.append(TicketResult(entry.id, entry.url, SKIPPED, reason,
                                                  entry.order_id or ""))
                finished.add(entry.key)
                screen.skipped(entry, reason)
                continue
            shown = clock()
            screen.show_card(number, number + len(todo) - 1, entry,
                             found.ticket if found is not None else None,
                             datetime.now(timezone.utc))
            action = screen.next_action() if agent.interactive else "process"
            if action == "quit":
                shift.quit = True
                shift.not_reached = todo
                break
            if action == "skip":
                shift.results.append(TicketResult(entry.id, entry.url, SKIPPED,
                                                  _("you skipped it"), entry.order_id or ""))
            else:
                if follower is not None:
                    follower.working_on(entry.id)
                result, outcome = _process_one(entry, found, services, agent, options, journal,
                                               desk)
                if follower is not None:
                    follower.working_on(None)
                    follower.wake()  # a feed may have gone out, or an order wait for the window
                result.seconds = clock() - shown
                shift.results.append(result)
                screen.show_result(result, outcome)
            finished.add(entry.key)
            if watching is not None and watching.due():
                shift.queue = watching.look(shift.queue, taken)
    except KeyboardInterrupt:
        shift.interrupted = True
        shift.not_reached = [e for e in todo if e.key not in finished]
    finally:
        reader.close(wait=not shift.interrupted)
        shift.seconds = clock() - started
        shift.arrived = watching.arrived if watching is not None else 0
        if follower is not None:
            tell(agent, follower.close())
            _left_with_amazon(agent, follower.desk)
    return shift


def _left_with_amazon(agent: Agent, desk: FeedDesk) -> None:
    """At the end of a shift: what Amazon has not finished, and who follows it now."""
    journal = desk.journal
    pending = journal.cancellations("sent")
    queued = journal.cancellations("queued", "sending")
    if pending:
        agent.info(ngettext(
            "Amazon is still processing {count} cancellation: `cancelbot feeds` (or the next "
            "run) reads what Amazon did.",
            "Amazon is still processing {count} cancellations: `cancelbot feeds` (or the next "
            "run) reads what Amazon did.", len(pending)).format(count=len(pending)))
    if queued:
        agent.info(ngettext(
            "{count} cancellation waits for Amazon's feed window: `cancelbot feeds` (or the "
            "next run) sends it.",
            "{count} cancellations wait for Amazon's feed window: `cancelbot feeds` (or the "
            "next run) sends them in one feed.", len(queued)).format(count=len(queued)))


class _Watching:
    """The watching part of a shift: when to look again, what arrived, the bell, the keys."""

    def __init__(self, watch: Watch, screen: ShiftScreen, seen: set[str]) -> None:
        self.watch = watch
        self.screen = cast("WatchScreen", screen)
        self.seen = seen
        self.arrived = 0

    def start(self, queue: Queue) -> None:
        self.watch.start(queue)

    def due(self) -> bool:
        return self.watch.next_look() <= 0

    def look(self, queue: Queue, taken: set[str]) -> Queue:
        try:
            fresh = self.watch.look(queue)
        except CancelbotError as exc:
            # A look that fails (Freshdesk down a minute, the journal locked) is not the end
            # of the shift: the next look tries again.
            self.screen.look_failed(f"{exc}; trying again in {self.watch.every:.0f} s")
            return queue
        new = [e for e in fresh.todo if e.key not in self.seen and e.key not in taken]
        self.seen.update(e.key for e in fresh.entries)
        if new:
            self.arrived += len(new)
            self.screen.arrived(new, fresh)
            if any(e.cancellable for e in new):
                self.screen.ring()  # once a look, however many arrived
        return fresh

    def wait_for_work(self, queue: Queue, taken: set[str]) -> Queue | None:
        """Look again every `every` seconds until there is something to do: the new queue,
        or None when the agent ends the shift (q, or Ctrl-C while waiting)."""
        watch = self.watch
        try:
            while True:
                with self.screen.idle(queue, watch.next_look()):
                    while watch.next_look() > 0:
                        if (self.screen.key() or "").lower() == "q":
                            return None
                        watch.sleep(min(watch.step, watch.next_look()))
                queue = self.look(queue, taken)
                if any(e.key not in taken for e in queue.todo):
                    return queue
        except KeyboardInterrupt:
            return None  # nothing in progress: Ctrl-C while waiting is the end of the shift


def _process_one(
    entry: QueueEntry, found: Prefetched | None, services: Services, agent: Agent,
    options: Options, journal: Journal, desk: FeedDesk | None = None,
) -> tuple[TicketResult, Outcome | None]:
    def result(kind: str, detail: str, order_id: str = "") -> TicketResult:
        return TicketResult(entry.id, entry.url, kind, detail, order_id or entry.order_id or "")

    if entry.ticket is None:
        if entry.request is None:  # an entry is a ticket or a request: a bug, not a state
            raise ValueError("a queue entry without ticket or request")
        outcome = handle_request(entry.request.order_id, services, agent,
                                 structs.replace(options, rerun="cancelbot queue"), journal)
    else:
        ticket_id = entry.ticket.id
        mine = structs.replace(options, rerun=options.rerun.replace("{ticket}",
                                                                    str(ticket_id)))
        outcome = process(ticket_id, services, agent, mine, journal, ahead=found, feeds=desk)
    error = outcome.error
    # Changed while the agent read it, or another run claimed it first: shown afresh.
    if isinstance(error, (ChangedMeanwhile, TicketBusy)) and found is not None:
        agent.warn(f"{error}. Reading ticket {entry.label} again.")
        return _process_one(entry, None, services, agent, options, journal, desk)
    if outcome.interrupted:
        raise KeyboardInterrupt  # the shift ends, with its summary
    if isinstance(error, NeedsHuman):
        return result(NEEDS_HUMAN, str(error)), outcome
    if isinstance(error, Declined):
        return result(SKIPPED, str(error)), outcome
    if error is not None:
        return result(FAILED, str(error)), outcome
    return _classify(entry, outcome), outcome


def _classify(entry: QueueEntry, outcome: Outcome) -> TicketResult:
    reason = outcome.decision.in_words(_)[0] if outcome.decision is not None \
        else _(outcome.reason)
    if outcome.exit_code == ExitCode.NEEDS_HUMAN or outcome.branch == "needs_human":
        kind, detail = NEEDS_HUMAN, reason
    elif not outcome.actions:
        kind, detail = SKIPPED, _("nothing was changed")
    elif outcome.branch == "cannot_cancel":
        kind, detail = MESSAGED, reason + (_("; reply in {language}").format(
            language=outcome.language) if outcome.language else "")
    else:
        kind, detail = CANCELLED, reason
    return TicketResult(entry.id, entry.url, kind, detail, outcome.order_id)


def _fold(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in bare if not unicodedata.combining(c)).casefold()

"""An agent's shift: the open cancellation requests, oldest first, one `process` after another.

    find_queue()   a Freshdesk search (30 tickets a page, 10 pages at most), kept to what looks
                   like an Amazon cancellation request — its subject (FR/DE/EN/IT/ES), an Amazon
                   sender, or the team's tag — oldest first, with what to skip and why; with
                   `threads` (queue --list) each ticket's thread too: another run's claim (who,
                   since when, stale or not) and why an earlier run left it to a person
    run_shift()    each ticket through exactly `procedure.process`, the next one read ahead in
                   the background (prefetch.py); process / skip / quit at each; a Shift at the end.
                   Amazon's feeds are followed on a thread of the shift's (feeds.FeedFollower):
                   the agent never waits for them

Like the procedure, this never prints: the shift talks to a `ShiftScreen` (ui.py), the
procedure to its `Agent`.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from cancelbot.claims import (
    HANDLING,
    NEEDS_HUMAN_TAG,
    PERSON_MARK,
    REFUSED,
    other_runs,
    person_note,
)
from cancelbot.errors import (
    ChangedMeanwhile,
    Declined,
    ExitCode,
    NeedsHuman,
    TicketBusy,
    UsageError,
)
from cancelbot.feeds import POLL, FeedDesk, FeedFollower, refused_tickets, tell
from cancelbot.journal import Journal
from cancelbot.models import Conversation, FoundTicket, SearchPage, Ticket, TicketStatus
from cancelbot.outcome import Outcome
from cancelbot.ports import DEFAULT_CLAIM_LEASE, Agent, Options, Services
from cancelbot.prefetch import Prefetched, Prefetcher, read_now
from cancelbot.procedure import process

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


@dataclass(frozen=True)
class QueueEntry:
    ticket: FoundTicket
    matched_by: tuple[str, ...]  # "subject", "sender", "tag"
    skip: str = ""  # why the shift leaves it alone; "" to do
    stale_claim: str = ""  # another run's claim older than the lease: who, since when
    needs_person: str = ""  # why an earlier run left it to a person

    @property
    def id(self) -> int:
        return self.ticket.id

    def age(self, now: datetime) -> timedelta | None:
        created = self.ticket.created_at
        return None if created is None else now - created

    def time_left(self, now: datetime) -> timedelta | None:
        """Before Amazon's 24-hour expectation; negative when late."""
        age = self.age(now)
        return None if age is None else RESPONSE_TIME - age

    def urgent(self, now: datetime) -> bool:
        left = self.time_left(now)
        return left is not None and left < URGENT


@dataclass
class Queue:
    query: str
    total: int  # what Freshdesk counted for the query
    read: int  # search results actually read (300 at most)
    pages: int
    truncated: bool
    entries: list[QueueEntry]
    agent_id: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def todo(self) -> list[QueueEntry]:
        return [e for e in self.entries if not e.skip]


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
            read = dict(zip((e.id for e in todo),
                            pool.map(lambda e: search.conversations(e.id), todo), strict=True))
        entries = [_with_thread(e, read[e.id], agent_id, journal, lease) if e.id in read else e
                   for e in entries]
    else:
        entries = [dataclasses.replace(e, needs_person="an earlier run left it to a person")
                   if NEEDS_HUMAN_TAG in e.ticket.tags else e for e in entries]
    far = datetime.max.replace(tzinfo=timezone.utc)
    entries.sort(key=lambda e: (e.ticket.created_at or far, e.id))
    return Queue(query, total, len(found), pages, truncated, entries, agent_id,
                 now or datetime.now(timezone.utc))


def _skip_reason(ticket: FoundTicket, agent_id: int | None, journal: Journal | None) -> str:
    if ticket.responder_id is not None and ticket.responder_id != agent_id:
        mine = "" if agent_id is not None else " (set FRESHDESK_AGENT_ID if that is you)"
        return f"assigned to agent {ticket.responder_id}{mine}"
    job = journal.last_job(ticket.id) if journal is not None else None
    # A ticket reopened for Amazon's refusal of its cancellation is work again, not done.
    if job is not None and job.state == "done" and journal is not None \
            and ticket.id not in refused_tickets(journal):
        by = f" by {job.agent}" if job.agent else ""
        return (f"already handled (journal: finished {(job.finished_at or '')[:16]}{by}); "
                "reopened since? look at it in Freshdesk")
    return ""


def _with_thread(entry: QueueEntry, conversations: tuple[Conversation, ...],
                 agent_id: int | None, journal: Journal | None, lease: float) -> QueueEntry:
    found = entry.ticket
    ticket = Ticket(id=found.id, subject=found.subject, body_text="", status=found.status,
                    requester_email="", requester_name="", created_at=found.created_at,
                    conversations=conversations, responder_id=found.responder_id,
                    url=found.url, tags=found.tags, conversations_complete=True)
    skip = skip_on_reading(ticket, agent_id, journal, lease)
    stale = stale_claim(ticket, journal, lease)
    note = person_note(ticket)
    person = note.body_text.removeprefix(PERSON_MARK).lstrip(": ") if note is not None else ""
    return dataclasses.replace(entry, skip=skip, stale_claim=stale, needs_person=person)


def stale_claim(ticket: Ticket, journal: Journal | None,
                lease: float = DEFAULT_CLAIM_LEASE) -> str:
    """Who left a claim older than the lease on the ticket, and since when; "" if none."""
    job = journal.open_job(ticket.id) if journal is not None else None
    others = other_runs(ticket, job.job_id if job is not None else None)
    if others and others[-1].stale(lease):
        return (f"{others[-1].describe()} — older than the {lease:g}-minute lease; processing "
                "it asks to take it over")
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
        doing = "another run is handling it" if last.state == HANDLING else "already handled"
        return f"{doing} ({last.first_sentence()}) — {last.describe()}"
    if ticket.is_closed:
        return f"already {TicketStatus(ticket.status).name.lower()}"
    if ticket.responder_id is not None and ticket.responder_id != agent_id:
        return f"assigned to agent {ticket.responder_id} since the search"
    return ""


# -- the shift ------------------------------------------------------------------------------


@dataclass
class TicketResult:
    ticket_id: int
    url: str
    kind: str  # one of KINDS
    detail: str
    order_id: str = ""
    seconds: float | None = None  # from its screen to its end; None when not processed


@dataclass
class Shift:
    queue: Queue
    results: list[TicketResult] = field(default_factory=list)
    not_reached: list[QueueEntry] = field(default_factory=list)
    quit: bool = False
    interrupted: bool = False
    seconds: float = 0.0

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
) -> Shift:
    """Work through the queue. With a non-interactive agent (--yes) every ticket is processed
    the way `process --yes` would; those needing a person are left for later. `options.rerun`
    may hold `{ticket}`: each ticket's own rerun command.

    Ctrl-C ends the shift (the Shift says so) instead of propagating: the summary still shows.
    Each pending Amazon feed is looked at every `feed_poll` seconds, off the agent's way.
    """
    shift = Shift(queue)
    desk = FeedDesk(journal, services.feeds, services.helpdesk, agent) \
        if services.feeds is not None and journal is not None else None
    follower = FeedFollower(desk, poll=feed_poll).start() if desk is not None else None
    shift.results = [TicketResult(e.id, e.ticket.url, SKIPPED, e.skip) for e in queue.entries
                     if e.skip]
    todo = queue.todo
    reader = Prefetcher(services, enabled=prefetch)
    started = clock()
    position = 0
    try:
        if todo:
            reader.start(todo[0].id)
        for position, entry in enumerate(todo):
            if follower is not None:
                tell(agent, follower.news())  # between two tickets: what Amazon said meanwhile
            with screen.busy(f"Reading ticket #{entry.id}"):
                found = reader.take(entry.id) or read_now(services, entry.id)
            # While the agent reads this one, the next two: one skipped when read (another
            # run's note) must not leave the agent waiting for the one after it.
            for ahead in todo[position + 1:position + 1 + LOOKAHEAD]:
                reader.start(ahead.id)
            reason = skip_on_reading(found.ticket, queue.agent_id, journal,
                                     options.claim_lease) if found.ticket else ""
            if reason:
                shift.results.append(TicketResult(entry.id, entry.ticket.url, SKIPPED, reason))
                screen.skipped(entry, reason)
                continue
            shown = clock()
            screen.show_card(position + 1, len(todo), entry, found.ticket,
                             datetime.now(timezone.utc))
            action = screen.next_action() if agent.interactive else "process"
            if action == "quit":
                shift.quit = True
                shift.not_reached = todo[position:]
                break
            if action == "skip":
                shift.results.append(
                    TicketResult(entry.id, entry.ticket.url, SKIPPED, "you skipped it"))
                continue
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
    except KeyboardInterrupt:
        shift.interrupted = True
        done = {r.ticket_id for r in shift.results}
        shift.not_reached = [e for e in todo[position:] if e.id not in done]
    finally:
        reader.close(wait=not shift.interrupted)
        shift.seconds = clock() - started
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
        agent.info(f"Amazon is still processing {len(pending)} cancellation(s): `cancelbot "
                   "feeds` (or the next run) reads what Amazon did.")
    if queued:
        agent.info(f"{len(queued)} cancellation(s) wait for Amazon's feed window: `cancelbot "
                   "feeds` (or the next run) sends them in one feed.")


def _process_one(
    entry: QueueEntry, found: Prefetched | None, services: Services, agent: Agent,
    options: Options, journal: Journal | None, desk: FeedDesk | None = None,
) -> tuple[TicketResult, Outcome | None]:
    def result(kind: str, detail: str, order_id: str = "") -> TicketResult:
        return TicketResult(entry.id, entry.ticket.url, kind, detail, order_id)

    mine = dataclasses.replace(options, rerun=options.rerun.replace("{ticket}", str(entry.id)))
    outcome = process(entry.id, services, agent, mine, journal, ahead=found, feeds=desk)
    error = outcome.error
    # Changed while the agent read it, or another run claimed it first: shown afresh.
    if isinstance(error, (ChangedMeanwhile, TicketBusy)) and found is not None:
        agent.warn(f"{error}. Reading ticket #{entry.id} again.")
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
    if outcome.exit_code == ExitCode.NEEDS_HUMAN or outcome.branch == "needs_human":
        kind, detail = NEEDS_HUMAN, outcome.reason
    elif not outcome.actions:
        kind, detail = SKIPPED, "nothing was changed"
    elif outcome.branch == "cannot_cancel":
        kind, detail = MESSAGED, f"{outcome.reason}; reply in {outcome.language}"
    else:
        kind, detail = CANCELLED, outcome.reason
    return TicketResult(entry.id, entry.ticket.url, kind, detail, outcome.order_id)


def _fold(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in bare if not unicodedata.combining(c)).casefold()

"""The ticket is the team's shared record: who is handling it, and what this run changed on it.

Every private note cancelbot writes starts with "cancelbot:"; the notes of a run end with its
job's reference, "(cancelbot ref 1a2b3c…)", so a run knows its own notes from another run's.
**One rule** says what another run left on a ticket (`other_runs`); `process`, the shift's skip
and the prefetch's re-check all use it, always on the ticket's whole thread.

The claim protocol (`TicketClaim`):

    read           the ticket as this run first saw it (`seen`: the conversations then)
    check_others   another run's note, or another agent's assignment → a person confirms
                   (--yes stops, exit 4, saying who and since when; Amazon's refusal note is
                   not another run: it asks for this one); a claim older than the lease
                   (CANCELBOT_CLAIM_LEASE, 30 min) is *stale*: a person may take it over
    claim_ahead    the job and the 'handling' note posted beside the lookups, then the race
                   checked on a fresh read of the whole thread: any other run's cancelbot note
                   this run did not see at its first read and older than its own claim (lower
                   id) wins — this run takes its claim back and stops, nothing changed
    take           before the first change: waits for the claim ahead (or makes it now)
    effect         each change between an intent and an outcome (effects.py)
    withdraw       a run that stops before any change takes its claim back
    finish         the claim note is rewritten into the final note, keeping its id and its ref —
                   a claim stays recognisable for its whole life — with the ticket's status and,
                   with FRESHDESK_AGENT_ID, its assignment in one PUT; any other 'handling' note
                   left on the ticket (a stale claim taken over, a killed run's) and the 'needs
                   a person' note are removed: a finished ticket ends with one cancelbot note

A ticket cancelbot cannot decide gets one 'needs a person' note (the reason and what to
check) and the `cancelbot-needs-human` tag (`flag_for_person`), the first time only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from msgspec import Struct, structs

from cancelbot.effects import CLAIM_STEPS, EARLIER, FOUND, Effects, label
from cancelbot.errors import CancelbotError, Declined, NotFound, TicketBusy
from cancelbot.i18n import N_, _
from cancelbot.journal import INTENT, Job, Journal
from cancelbot.models import Conversation, Ticket, TicketStatus
from cancelbot.orders import find_order_numbers
from cancelbot.outcome import Action
from cancelbot.ports import DEFAULT_CLAIM_LEASE, Agent, Helpdesk
from cancelbot.text import text_to_html

NOTE_MARK = "cancelbot:"  # how the private notes this tool writes begin
CLAIM_MARK = "cancelbot: handling"  # the note that claims a ticket before the first change
ERROR_MARK = "cancelbot: Amazon did NOT cancel"  # a feed error, noted on the ticket
PERSON_MARK = "cancelbot: needs a person"  # why cancelbot left the ticket to a person
NEEDS_HUMAN_TAG = "cancelbot-needs-human"
_REF = re.compile(r"\(cancelbot ref ([0-9a-zA-Z-]{6,40})\)")
_WHO = re.compile(r"^cancelbot: handling order \S+: (.{1,80}?) started cancelbot")

HANDLING, HANDLED, REFUSED = "handling", "handled", "refused"  # what another run's note says


def ref_tag(job_id: str) -> str:
    return f"(cancelbot ref {job_id})"


def note_ref(text: str) -> str | None:
    """The job reference a cancelbot note ends with, if any."""
    found = _REF.search(text)
    return found.group(1) if found else None


def cancelbot_notes(ticket: Ticket) -> list[Conversation]:
    """The notes cancelbot wrote on the ticket: only ever read from its whole thread."""
    if not ticket.conversations_complete:
        # Freshdesk's include=conversations stops at ten: deciding on those is the bug that
        # sent replies and feeds twice. A caller passing part of a thread is a bug.
        raise RuntimeError(f"ticket #{ticket.id}: the notes are read from the whole thread")
    return [c for c in ticket.conversations
            if c.private and c.body_text.startswith(NOTE_MARK)]


def is_person_note(text: str) -> bool:
    return text.startswith(PERSON_MARK)


def person_note(ticket: Ticket) -> Conversation | None:
    """The 'needs a person' note an earlier run left, if any."""
    return next((c for c in cancelbot_notes(ticket) if is_person_note(c.body_text)), None)


def is_claim(text: str) -> bool:
    return text.startswith(CLAIM_MARK)


def is_error_note(text: str) -> bool:
    return text.startswith(ERROR_MARK)


def claim_note(order_id: str, job_id: str, agent_name: str = "") -> str:
    who = " ".join((agent_name or "an agent").split())[:80]
    at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{CLAIM_MARK} order {order_id}: {who} started cancelbot on this ticket at {at}. "
            f"Another run should leave it alone. {ref_tag(job_id)}")


def ago(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


class OtherRun(Struct, frozen=True):
    """A cancelbot note on a ticket that is not this run's."""

    note: Conversation
    state: str  # HANDLING (a claim), HANDLED (a final note), REFUSED (Amazon refused)

    @property
    def text(self) -> str:
        return self.note.body_text

    @property
    def who(self) -> str:
        """Who started the run, as its claim says ("" when the note does not say)."""
        found = _WHO.match(self.text)
        return found.group(1) if found else ""

    @property
    def since(self) -> datetime | None:
        """When the run claimed the ticket: Freshdesk's own time for the note."""
        return self.note.created_at

    def stale(self, lease_minutes: float, now: datetime | None = None) -> bool:
        """A claim older than the lease: its run stopped half-way and never came back."""
        now = now or datetime.now(timezone.utc)
        return (self.state == HANDLING and self.since is not None
                and now - self.since > timedelta(minutes=lease_minutes))

    def describe(self, now: datetime | None = None, *, relative: bool = True) -> str:
        """"Alice, since 2026-05-04 09:12 UTC (40 min ago)": who, and since when."""
        now = now or datetime.now(timezone.utc)
        parts = [self.who] if self.who else []
        if self.since is not None:
            at = self.since.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            parts.append(f"since {at}" + (f" ({ago(now - self.since)} ago)" if relative
                                          else ""))
        return ", ".join(parts) or "when and by whom unknown"

    @property
    def orders(self) -> list[str]:
        """The orders the note's first sentence names: the one its run handled ("" none: an
        older note, or one that does not say)."""
        return note_orders(self.text)

    def first_sentence(self, limit: int = 120) -> str:
        first = self.text.splitlines()[0] if self.text else ""
        end = first.find(". ")
        first = first[:end + 1] if end != -1 else first
        return first if len(first) <= limit else first[:limit - 1] + "…"


def note_orders(text: str) -> list[str]:
    """The order numbers in a cancelbot note's first sentence. A final note begins with the
    order its run handled; what it says of the ticket's other orders comes after."""
    first = text.splitlines()[0] if text else ""
    end = first.find(". ")
    return find_order_numbers(first[:end + 1] if end != -1 else first)


def other_runs(ticket: Ticket, mine: str | None = None, *,
               seen: Collection[int] = ()) -> list[OtherRun]:
    """The one rule: cancelbot notes on `ticket` not written by job `mine`, oldest first,
    leaving out the conversations in `seen` (already on the ticket when this run read it)."""
    found = []
    for note in cancelbot_notes(ticket):
        if note.id in seen or (mine is not None and note_ref(note.body_text) == mine):
            continue
        text = note.body_text
        if is_person_note(text):
            continue  # a run that left the ticket to a person: it handles nothing
        state = REFUSED if is_error_note(text) else HANDLING if is_claim(text) else HANDLED
        found.append(OtherRun(note, state))
    return found


class TicketClaim:
    """One ticket's job in the journal and its marks on the ticket (see the module doc)."""

    def __init__(self, journal: Journal, helpdesk: Helpdesk, agent: Agent, ticket_id: int, *,
                 agent_id: int | None = None, agent_name: str = "",
                 lease: float = DEFAULT_CLAIM_LEASE) -> None:
        self.journal = journal
        self.helpdesk = helpdesk
        self.agent = agent
        self.ticket_id = ticket_id
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.lease = lease  # minutes: another run's claim older than this is stale
        self.job: Job | None = journal.open_job(ticket_id)  # an unfinished run's, resumed
        self.resumed = self.job is not None
        self.seen: set[int] = set()  # conversations on the ticket when this run first read it
        self.taken = False
        self.taken_over: list[OtherRun] = []  # other runs' claims a person told us to override
        self.last_read: Ticket | None = None
        self.order_id = ""  # the order this run works on, once chosen
        self._posted = False  # the 'handling' note is on the ticket and won its race
        self._ahead: Future[None] | None = None

    @property
    def effects(self) -> Effects | None:
        return None if self.job is None else Effects(self.journal, self.ticket_id,
                                                      self.job.job_id)

    def read(self, ticket: Ticket) -> Ticket:
        """The ticket as this run first saw it (its whole thread): later notes are other runs'
        news. Says so when an earlier run left the ticket to a person."""
        if not ticket.conversations_complete:
            ticket = _whole(ticket, self.helpdesk.conversations(ticket.id))
        self.seen = {c.id for c in ticket.conversations}
        self.last_read = ticket
        flagged = person_note(ticket)
        if flagged is not None:
            self.agent.warn(f"An earlier run left this ticket to a person: "
                            f"{flagged.body_text.removeprefix(PERSON_MARK).lstrip(': ')}")
        return ticket

    def fresh_ticket(self) -> Ticket:
        """The ticket as Freshdesk has it now, with its whole thread."""
        ticket = self.helpdesk.get_ticket(self.ticket_id)
        if not ticket.conversations_complete:
            ticket = _whole(ticket, self.helpdesk.conversations(ticket.id))
        self.last_read = ticket
        return ticket

    # -- before the changes ----------------------------------------------------------------------

    def others(self, ticket: Ticket) -> list[OtherRun]:
        """Other runs' notes; once the order is chosen, a final note about another order of
        the ticket is left out: "already handled" is per (ticket, order)."""
        found = other_runs(ticket, self.job.job_id if self.job else None)
        if not self.order_id:
            return found
        return [o for o in found
                if not (o.state == HANDLED and o.orders and self.order_id not in o.orders)]

    def contested(self, ticket: Ticket) -> bool:
        """Another run's note, or another agent's assignment: check_others will ask. A ticket
        an earlier run left to a person is claimed only at the first change too (it likely
        stops again before any: no note posted and taken back each time)."""
        others = self.others(ticket)
        if (others and others[-1].state != REFUSED) or person_note(ticket) is not None:
            return True
        return self.agent_id is not None and ticket.responder_id not in (None, self.agent_id)

    def check_others(self, ticket: Ticket) -> None:
        """Stop if another run handled or is handling the ticket, or another agent has it —
        unless the agent says to go on. A claim older than the lease is stale: it may be taken
        over, after a confirmation. With --yes, each of these stops the run (exit 4)."""
        others = self.others(ticket)
        if others and others[-1].state == REFUSED:
            # Amazon refused what an earlier run sent: the ticket was reopened for this run.
            self.agent.warn(_("Amazon refused the earlier cancellation: {note}").format(
                note=others[-1].text))
        elif others:
            last = others[-1]
            who = last.describe()
            if last.stale(self.lease):
                doing = _("another run left a stale claim on it ({who}: older than the "
                          "{lease}-minute lease, that run never finished)").format(
                    who=who, lease=f"{self.lease:g}")
                question = N_("Take the stale claim over and process the ticket?")
            else:
                doing = (_("another run is handling it ({who})") if last.state == HANDLING
                         else _("another run already handled it ({who})")).format(who=who)
                question = N_("Process it again anyway?")
            self.agent.warn(f"{doing[:1].upper()}{doing[1:]}: {last.text}")
            if not self.agent.interactive:
                raise TicketBusy(_("ticket #{id}: {doing}; nothing changed — run it without "
                                   "--yes to decide").format(id=ticket.id, doing=doing))
            if not self.agent.confirm(question, automatic=False):
                raise Declined(_("ticket #{id}: {doing}, nothing changed").format(
                    id=ticket.id, doing=doing))
            self.taken_over = [o for o in others if o.state == HANDLING]
        me = self.agent_id
        if me is not None and ticket.responder_id not in (None, me):
            self.agent.warn(f"Ticket #{ticket.id} is assigned to another agent (Freshdesk agent "
                            f"{ticket.responder_id}).")
            if not self.agent.confirm(N_("Take it over?"), automatic=False):
                raise Declined(_("ticket #{id} is assigned to another agent: nothing "
                                 "changed").format(id=ticket.id))
    def last_finished(self) -> Job | None:
        return self.journal.last_job(self.ticket_id)

    def resume(self) -> tuple[list[Action], list[str]]:
        """An unfinished earlier run: (its changes, the ones it never heard back about)."""
        if self.job is None or not self.resumed:
            return [], []
        earlier = []
        for event in self.effects.done_steps() if self.effects else []:
            if event.step in CLAIM_STEPS:
                continue  # bookkeeping, not a change the agent asked for
            system, what = label(event.step)  # in the agent's language
            earlier.append(Action(system, _("{what} (earlier run)").format(what=what),
                                  event.ref))
        return earlier, self.unsure()

    def unsure(self) -> list[str]:
        """Changes asked for and never answered: re-checked before anything is redone."""
        if self.job is None:
            return []
        found = Effects(self.journal, self.ticket_id, self.job.job_id).unsure()
        row = self.journal.cancellation(self.job.order_id)
        if row is not None and row.state == "sending":
            found.append(f"Amazon: cancellation of {row.order_id}")
        return found

    # -- taking the ticket -----------------------------------------------------------------------

    def begin(self, order_id: str, branch: str) -> Job:
        """Open the job (or go on with the unfinished one) before the first change."""
        if self.job is None:
            self.job = self.journal.start_job(self.ticket_id, order_id, branch)
        elif self.job.branch != branch:
            self.journal.update_job(self.job.job_id, branch=branch)
        return self.job

    def claim_ahead(self, ticket: Ticket, order_id: str, pool: Executor,
                    sending: threading.Event | None = None) -> None:
        """Claim the ticket now, on `pool`, while the order is looked up: the 'handling' note,
        then a fresh read for the race. A run that stops before any change withdraws it; a
        contested ticket (check_others will ask) is claimed at the first change, as before.
        `sending` is set as the note leaves (or when no note will)."""
        if self.taken or self._posted or self._ahead is not None or self.contested(ticket):
            if sending is not None:
                sending.set()
            return
        self._ahead = pool.submit(self._post, order_id, self.job.branch if self.job else "",
                                  sending)

    def wait_ahead(self) -> None:
        """The claim posted ahead, settled; its error (TicketBusy: the race lost) raised."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.result()

    def take(self, order_id: str, branch: str) -> None:
        """Before the first change: the claim (made ahead, or now). Of two claims posted at
        once, the lower note wins and the other run stops."""
        if self.taken:
            return
        self.wait_ahead()
        if not self._posted:
            with self.agent.busy(_("Claiming the ticket")):
                self._post(order_id, branch)
        self.begin(order_id, branch)  # the branch decided since the claim
        self.taken = True

    def _post(self, order_id: str, branch: str, sending: threading.Event | None = None) -> None:
        """The job, the 'handling' note, and the race against another run's claim."""
        try:
            job = self.begin(order_id, branch)
            effects = Effects(self.journal, self.ticket_id, job.job_id)
            text = claim_note(order_id, job.job_id, self.agent_name or self.journal.agent)

            def post() -> str:
                if sending is not None:
                    sending.set()
                return str(self.helpdesk.add_private_note(self.ticket_id, text_to_html(text)))

            note_id, _ = effects.run("claim_note", post,
                                     recheck=lambda: self.find_note(claim=True),
                                     order_id=order_id)
        finally:
            if sending is not None:
                sending.set()  # a journal error, a note already there: nobody waits for it
        self._check_race(int(note_id), job.job_id)
        self._posted = True

    def news(self, fresh: Ticket, seen: Collection[int]) -> list[OtherRun]:
        """Other runs' notes on `fresh` that were not in `seen`, leaving out the claims that
        lose to this run's (posted after it: those runs stop themselves)."""
        effects = self.effects
        mine = effects.done("claim_note") if effects is not None else None
        ours = int(mine.ref) if mine is not None and mine.ref.isdigit() else None
        return [o for o in other_runs(fresh, self.job.job_id if self.job else None, seen=seen)
                if not (ours is not None and o.state == HANDLING and o.note.id > ours)]

    def _check_race(self, claim_id: int, job_id: str) -> None:
        """Of two claims, exactly one run acts: the one whose note is older (lower id). Any
        other run's note that appeared after this run's first read and before its claim — a
        claim, or a claim already turned into its final note — means that run goes on."""
        rivals = [o for o in other_runs(self.fresh_ticket(), job_id, seen=self.seen)
                  if o.note.id < claim_id]
        if rivals:
            raise TicketBusy(
                f"another cancelbot run ({rivals[0].describe()}) claimed ticket "
                f"#{self.ticket_id} first and goes on; this one stops, nothing changed"
            )

    def effect(self, step: str, do: Callable[[], str], *,
               recheck: Callable[[], str | None] | None = None, order_id: str = "",
               detail: str = "") -> tuple[str, str]:
        """One change, at most once: (remote ref, NOW | EARLIER | FOUND)."""
        if self.job is None:
            raise RuntimeError("take() comes before the first change")  # a bug, not a state
        return Effects(self.journal, self.ticket_id, self.job.job_id).run(
            step, do, recheck=recheck, order_id=order_id or self.job.order_id, detail=detail)

    def done(self, step: str) -> bool:
        effects = self.effects
        return effects is not None and effects.done(step) is not None

    def withdraw_if_idle(self) -> None:
        """A job that stops before any change takes its claim back — the note removed, the
        previous responder restored — so a declined run leaves the ticket as it found it."""
        try:
            self.wait_ahead()
        except CancelbotError:
            pass  # the journal says how far the claim got
        effects = self.effects
        if self.job is None or effects is None or effects.changes():
            return
        if any(e.phase == INTENT for e in self.journal.last_steps(self.job.job_id)):
            return  # a claim step never heard back: the next run re-checks it, not us
        row = self.journal.cancellation(self.job.order_id)
        if row is not None and row.ticket_id == self.ticket_id and row.state != "error":
            return  # an Amazon cancellation of this ticket is queued or sent: not idle
        note, claim = effects.done("claim_note"), effects.done("claim")

        def unclaim_note(note_id: int) -> str:
            self.helpdesk.delete_note(note_id)
            return ""

        def unassign(previous: int | None) -> str:
            self.helpdesk.assign(self.ticket_id, previous)
            return ""

        try:
            if note is not None and note.ref:
                note_id = int(note.ref)
                effects.run("unclaim_note", lambda: unclaim_note(note_id))
            if claim is not None:
                previous = int(claim.ref) if claim.ref.isdigit() else None
                effects.run("unclaim", lambda: unassign(previous))
        except CancelbotError as exc:
            self.agent.warn(_("Could not take back the claim on ticket #{id}: {problem}").format(
                id=self.ticket_id, problem=exc))
            return
        self.journal.update_job(self.job.job_id, state="abandoned")
        self.job = None
        self.taken = self._posted = False

    # -- the end ---------------------------------------------------------------------------------

    def finish(self, note: str, status: TicketStatus,
               record: Callable[[str, str, str, str], None]) -> None:
        """The final note and the status, at once; then the job is done. `record(system, what,
        ref, how)` hears of each change made; an error in either is raised after both tried."""
        if self.job is None:
            raise RuntimeError("take() comes before the final note")
        job_id = self.job.job_id
        effects = Effects(self.journal, self.ticket_id, job_id)
        for other in self.taken_over:
            note += (f" Took over from the unfinished run of {other.describe(relative=False)} "
                     "(its 'handling' note removed).")
        note = f"{note} {ref_tag(job_id)}"
        name = status.name.lower()
        claim = effects.done("claim_note")
        me = self.agent_id  # the assignment rides on the status change: one PUT

        def write_note() -> str:
            # The 'handling' note becomes the final one: one cancelbot note per ticket, and a
            # PUT, so repeating it after a lost answer changes nothing.
            if claim is not None and claim.ref:
                try:
                    self.helpdesk.update_note(int(claim.ref), text_to_html(note))
                    return claim.ref
                except NotFound:
                    pass  # someone deleted it: add the note instead
            return str(self.helpdesk.add_private_note(self.ticket_id, text_to_html(note)))

        def set_status() -> str:
            self.helpdesk.set_status(self.ticket_id, int(status), assign_to=me)
            return ""

        def status_set() -> str | None:
            fresh = self.fresh_ticket()
            return "" if fresh.status == status and me in (None, fresh.responder_id) else None

        assigned = f", assigned to agent {me}" if me is not None else ""  # the journal's words
        changes = {
            "note": (write_note, lambda: self.find_note(claim=False), ""),
            "status": (set_status, status_set, f"set to {name}{assigned}"),
        }
        results: dict[str, tuple[str, str]] = {}
        errors: list[CancelbotError] = []
        swept: list[str] = []
        order_id = self.job.order_id

        def note_then_sweep() -> tuple[str, str]:
            do, check, detail = changes["note"]
            done = effects.run("note", do, recheck=check, order_id=order_id, detail=detail)
            if keep is None:  # the note's id is known only now: tidy after it
                swept.extend(self.sweep(keep=int(done[0]) if done[0].isdigit() else None))
            return done

        # The final note is the claim's note, rewritten: its id is known, so the other notes
        # are tidied beside the note and the status (one level, not one more after them).
        keep = int(claim.ref) if claim is not None and claim.ref.isdigit() else None
        with self.agent.busy(_("Updating the ticket")), ThreadPoolExecutor(max_workers=3) as pool:
            do, check, detail = changes["status"]
            futures = {"note": pool.submit(note_then_sweep),
                       "status": pool.submit(effects.run, "status", do, recheck=check,
                                             order_id=order_id, detail=detail)}
            tidy = pool.submit(self.sweep, keep) if keep is not None else None
            for step, future in futures.items():
                try:
                    results[step] = future.result()
                except CancelbotError as exc:
                    errors.append(exc)
            if tidy is not None:
                swept.extend(tidy.result())
        for problem in swept:
            self.agent.warn(problem)
        if "note" in results:
            record("Freshdesk", _("private note added"), *results["note"])
        if "status" in results:
            record("Freshdesk", _("ticket set to {status}").format(status=_(name)),
                   str(self.ticket_id),
                   results["status"][1])
        if errors:
            raise errors[0]
        self.journal.update_job(job_id, state="done")

    def sweep(self, keep: int | None) -> list[str]:
        """After the final note (`keep`): every other 'handling' note on the ticket — a stale
        claim taken over, a killed run's, a race's loser's — and the 'needs a person' note and
        tag are removed, so a finished ticket ends with one cancelbot note. Deleting a note is
        harmless to repeat; a failure is only reported (the ticket is done)."""
        try:
            ticket = self.fresh_ticket()
            for c in cancelbot_notes(ticket):
                text = c.body_text
                if c.id != keep and (is_claim(text) or is_person_note(text)):
                    self.helpdesk.delete_note(c.id)
            if NEEDS_HUMAN_TAG in ticket.tags:
                self.helpdesk.remove_tag(self.ticket_id, NEEDS_HUMAN_TAG)
        except CancelbotError as exc:
            return [f"Could not tidy the other cancelbot notes of ticket #{self.ticket_id} "
                    f"({exc}); remove them by hand."]
        return []

    def flag_for_person(self, reason: str, check: str) -> None:
        """Leave the ticket to a person, visibly: one 'needs a person' note (the reason and
        what to check) and the `cancelbot-needs-human` tag. A later run with the same reason
        changes nothing; with another reason it rewrites the note (still one). A failure here
        is only reported: the run stops anyway."""
        text = f"{PERSON_MARK}: {reason.rstrip('.')}. Check: {check.rstrip('.')}."
        try:
            ticket = self.fresh_ticket()
            mine = self.job.job_id if self.job else None
            others = [o for o in other_runs(ticket, mine) if o.state != REFUSED]
            if others:  # another run has (or had) the ticket: its note says more than ours would
                self.agent.warn(f"Another cancelbot run has worked on ticket #{self.ticket_id} "
                                f"({others[-1].describe()}): not flagged for a person.")
                return
            earlier = person_note(ticket)
            if earlier is None:
                self.helpdesk.add_private_note(self.ticket_id, text_to_html(text))
            elif " ".join(earlier.body_text.split()) != " ".join(text.split()):
                self.helpdesk.update_note(earlier.id, text_to_html(text))
            if NEEDS_HUMAN_TAG not in ticket.tags:
                self.helpdesk.add_tag(self.ticket_id, NEEDS_HUMAN_TAG)
        except CancelbotError as exc:
            self.agent.warn(f"Could not note on ticket #{self.ticket_id} why it needs a person "
                            f"({exc}).")

    def find_note(self, *, claim: bool) -> str | None:
        """This job's note on the ticket as Freshdesk has it now (a lost answer's re-check)."""
        job_id = self.job.job_id if self.job else None
        for c in cancelbot_notes(self.fresh_ticket()):
            if note_ref(c.body_text) == job_id and is_claim(c.body_text) == claim:
                return str(c.id)
        return None


def how_label(what: str, how: str) -> str | None:
    """An action's words, or None when it belongs to the earlier run's list."""
    if how == EARLIER:
        return None
    return _("{what} (found done when re-checked)").format(what=what) if how == FOUND else what


def _whole(ticket: Ticket, conversations: tuple[Conversation, ...]) -> Ticket:
    return structs.replace(ticket, conversations=conversations, conversations_complete=True)

"""What `process ID` does the moment its ticket is back, while the screens and the procedure
are still loading: claim the ticket and look its order up (issue 12: those ~90 ms of loading
no longer delay the claim and the lookups by as much).

Only in the plainest case, and exactly as the procedure would do it:

    when    an open ticket whose whole thread came inline, naming one order; no unfinished
            run of this computer on it; no other run's note, no other agent's assignment, no
            note leaving it to a person; this computer's lease on it free; GSTK and SP-API
            automated; not a dry run
    what    the lease (journal.lease), the claim (TicketClaim.claim_ahead: the journaled
            'handling' note, then the race) and lookup.look_up — each on its own thread, so
            the command goes on loading meanwhile; when the statuses call for a reply, the
            order is handed over at once and the buyer's locale asked after it (the run
            draws the order and its decision while Amazon answers)

The procedure takes the claim, the lookup and the lease over (`Prefetched.claim`) and carries
on as if it had made them: a No, a stop or Ctrl-C takes the claim back as always. Anything
else — a case above not met, a failure here — and the run does it all itself, as before. A
command that stops before the procedure has taken over (`close`) takes the claim back too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import httpx
from msgspec import structs

from cancelbot.claims import TicketClaim, person_note
from cancelbot.config import Settings
from cancelbot.errors import CancelbotError
from cancelbot.journal import Journal
from cancelbot.lookup import LocaleAnswer, Lookup, buyer_locale, look_up, reply_due
from cancelbot.models import Ticket
from cancelbot.orders import find_order_numbers
from cancelbot.ports import Agent, Helpdesk
from cancelbot.services.amazon import AmazonClient
from cancelbot.services.gstk import GstkClient
from cancelbot.services.http import RetryPolicy
from cancelbot.wiring import open_amazon, open_gstk

NOTE_FIRST = 2.0  # seconds the lookups wait for the claim note to leave, at most


class _Quiet:
    """The claim's agent until the run's own takes over: nothing is asked; what would be
    said is kept (and said on stderr if the command stops before the run shows it)."""

    interactive = False

    def __init__(self) -> None:
        self.said: list[str] = []
        self.taken = False  # by the procedure (HeadStart.take)

    def warn(self, text: str) -> None:
        self.said.append(text)

    @contextmanager
    def busy(self, label: str) -> Iterator[None]:
        yield


class HeadStart:
    """The lease, the claim in flight and the lookup in flight, for the procedure to take."""

    def __init__(self, ticket: Ticket, claim: TicketClaim, quiet: _Quiet, stack: ExitStack,
                 lookup: Future[Lookup], clients: tuple[GstkClient, AmazonClient]) -> None:
        self.ticket = ticket  # as the claim first read it: its whole thread
        self.claim = claim
        self._stack = stack  # the journal, its lease on the ticket, the GSTK and SP-API clients
        self.lookup = lookup  # GSTK ∥ Amazon; a reply due, the buyer's locale still to come
        self.clients: tuple[GstkClient, AmazonClient] | None = clients
        self._quiet = quiet

    @property
    def journal(self) -> Journal:
        return self.claim.journal

    def take(self, agent: Agent) -> TicketClaim:
        """The claim, now the run's: its agent speaks from here on (and says first what the
        claim would have said meanwhile)."""
        self.claim.agent = agent
        self._quiet.taken = True
        for line in self._quiet.said:
            agent.warn(line)
        return self.claim

    @property
    def taken(self) -> bool:
        return self._quiet.taken

    def take_clients(self) -> tuple[GstkClient, AmazonClient]:
        clients, self.clients = self.clients, None
        assert clients is not None, "taken once"
        return clients

    def close(self) -> None:
        """After the run: its threads ended, the clients closed, a claim the run never took
        (the command stopped first) taken back, the lease released, the journal closed."""
        self._stack.close()


def _withdraw_unless_taken(claim: TicketClaim, quiet: _Quiet) -> None:
    if quiet.taken:
        return  # the procedure's: it finished or took back the claim itself
    claim.withdraw_if_idle()
    for line in quiet.said:
        sys.stderr.write(f"cancelbot: {line}\n")


def begin(settings: Settings, helpdesk: Helpdesk, ticket: Ticket, read_at: str, *,
          dry_run: bool, journal_agent: str,
          transport: httpx.BaseTransport | None = None) -> HeadStart | None:
    """The head start for `ticket` (read at journal time `read_at`), or None when the run is
    to do everything itself. Never raises a service or journal error: the run meets it again
    and reports it. `transport`: the tests' fake services."""
    if dry_run or settings.sandbox or not settings.gstk.url or not settings.amazon.automated:
        return None
    if ticket.is_closed or not ticket.conversations_complete or person_note(ticket) is not None:
        return None
    numbers = find_order_numbers(*ticket.texts())
    if len(numbers) != 1:
        return None
    stack = ExitStack()
    try:
        made = _claim_and_look_up(settings, helpdesk, ticket, numbers[0], read_at, stack,
                                  journal_agent, transport)
    except (CancelbotError, OSError):
        made = None
    except BaseException:
        stack.close()
        raise
    if made is None:
        stack.close()
    return made


def _claim_and_look_up(settings: Settings, helpdesk: Helpdesk, ticket: Ticket, order_id: str,
                       read_at: str, stack: ExitStack, journal_agent: str,
                       transport: httpx.BaseTransport | None) -> HeadStart | None:
    journal = stack.enter_context(Journal.open(settings.world.prepare(), agent=journal_agent))
    stack.enter_context(journal.lease(ticket.id))
    if journal.changed_since(ticket.id, read_at):
        return None  # a run on this computer changed it since the read
    quiet = _Quiet()
    claim = TicketClaim(journal, helpdesk, quiet, ticket.id,  # type: ignore[arg-type]
                        agent_id=settings.freshdesk.agent_id, agent_name=settings.agent_name,
                        lease=settings.claim_lease)
    if claim.job is not None:
        return None  # an unfinished run: the procedure resumes it (its claim is not ours)
    whole = claim.read(ticket)
    if claim.contested(whole):
        return None  # check_others asks the agent first
    # Until the run's screen is up, its clients wait and retry quietly.
    retry = RetryPolicy()
    helpdesk.use_retry(retry)  # type: ignore[attr-defined]
    # Closing: the threads end, then an untaken claim is taken back, then the lease goes.
    stack.callback(_withdraw_unless_taken, claim, quiet)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cancelbot-head-start")
    stack.callback(pool.shutdown, wait=True)
    sending = threading.Event()
    claim.claim_ahead(whole, order_id, pool, sending)  # first: the longest chain (note, race)
    backoffice = stack.enter_context(open_gstk(settings, transport, retry))
    marketplace = stack.enter_context(open_amazon(settings, transport, retry))
    stack.callback(pool.shutdown, wait=True)  # the threads end before the clients close

    lookup: Future[Lookup] = Future()

    def after_the_note() -> None:
        # The note leaves first, as beside the procedure's own lookups: its answer cannot
        # come after theirs, so the claim's race read is never a level of its own.
        sending.wait(NOTE_FIRST)
        try:
            found = look_up(backoffice, marketplace, order_id, whole, automated_only=True)
        except BaseException as exc:  # a service's error: the run looks it up again; a bug:
            lookup.set_exception(exc)  # raised in the run
            return
        if not reply_due(found):
            lookup.set_result(found)
            return
        # A reply is due: the run has the order at once (its card and its decision are drawn
        # while Amazon is asked the buyer's language), the language when it comes.
        locale: Future[LocaleAnswer] = Future()
        lookup.set_result(structs.replace(found, locale=locale))
        try:
            locale.set_result(buyer_locale(marketplace, order_id, found.marketplace_id))
        except BaseException as exc:  # a bug: raised where the run reads it, not lost here
            locale.set_exception(exc)

    pool.submit(after_the_note)
    return HeadStart(whole, claim, quiet, stack, lookup, (backoffice, marketplace))

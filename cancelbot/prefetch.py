"""Reading the next ticket ahead while the agent works on this one.

    Prefetcher       one background thread: the ticket → its order number → the same lookup as
                     the procedure's (lookup.py), automated services only
    check_unchanged  right before the first change (the claim), the ticket and GSTK are read
                     again; if either moved since the agent saw them the run stops with
                     ChangedMeanwhile, nothing changed (the shift then shows the ticket afresh)

The procedure takes a `Prefetched` as `process(…, ahead=…)` and serves it in place of its own
first reads. An assisted step talks to the agent: it is never run in the background.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

from msgspec import Struct

from cancelbot.claims import TicketClaim
from cancelbot.errors import CancelbotError, ChangedMeanwhile
from cancelbot.lookup import Lookup, look_up
from cancelbot.models import BackOfficeOrder, Ticket, TicketStatus
from cancelbot.orders import find_order_numbers
from cancelbot.ports import Services


class Prefetched(Struct):
    """What was read ahead for one ticket. A read that failed is simply absent: the procedure
    then makes the live call, which fails where the agent can see it."""

    ticket_id: int
    ticket: Ticket | None = None
    lookup: Lookup | None = None  # when the ticket names exactly one order
    problem: str = ""
    seconds: float = 0.0
    # Read by the command itself as it started (early.py), at this journal time: the run's own
    # first read, sent before its lease. Served unless a run on this computer has recorded
    # anything on the ticket since; never re-checked before the first change (the claim's
    # fresh read is the check, as for a read made in the run).
    read_at_start: str = ""
    # The claim the command's head start made (headstart.py): the ticket leased, its note in
    # flight. The procedure takes it over rather than claiming again.
    claim: TicketClaim | None = None
    lookup_later: Future[Lookup] | None = None  # the head start's lookup, still in flight

    def the_lookup(self) -> Lookup | None:
        """The lookup read ahead, waited for if it is still in flight; None if it failed (the
        procedure then looks the order up itself)."""
        if self.lookup_later is not None:
            try:
                return self.lookup_later.result()
            except CancelbotError:
                return None
        return self.lookup


def read_ahead(services: Services, ticket_id: int) -> Prefetched:
    """Everything the procedure will read for this ticket, as far as it can be known alone."""
    found = Prefetched(ticket_id)
    started = time.monotonic()
    try:
        found.ticket = services.helpdesk.get_ticket(ticket_id)
        numbers = find_order_numbers(*found.ticket.texts())
        if len(numbers) == 1:  # several, or none: the agent chooses first
            found.lookup = look_up(services.backoffice, services.marketplace, numbers[0],
                                   found.ticket, ask_locale=True, automated_only=True)
    except CancelbotError as exc:
        found.problem = str(exc)
    found.seconds = time.monotonic() - started
    return found


def read_now(services: Services, ticket_id: int) -> Prefetched:
    """Without prefetch: only the ticket, to know whether to skip it (the procedure then reads
    it from here rather than asking Freshdesk twice)."""
    found = Prefetched(ticket_id)
    try:
        found.ticket = services.helpdesk.get_ticket(ticket_id)
    except CancelbotError as exc:
        found.problem = str(exc)  # the procedure's own read fails again, on screen
    return found


class Prefetcher:
    """Reads tickets ahead on one background thread. Disabled, it reads nothing."""

    def __init__(self, services: Services, *, enabled: bool = True) -> None:
        self._services = services
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cancelbot-prefetch") \
            if enabled else None
        self._pending: dict[int, Future[Prefetched]] = {}

    @property
    def enabled(self) -> bool:
        return self._pool is not None

    def start(self, ticket_id: int) -> None:
        if self._pool is not None and ticket_id not in self._pending:
            self._pending[ticket_id] = self._pool.submit(read_ahead, self._services, ticket_id)

    def take(self, ticket_id: int) -> Prefetched | None:
        """The ticket's read-ahead (waiting for it if it is still running), or None."""
        future = self._pending.pop(ticket_id, None)
        return future.result() if future is not None else None

    def close(self, *, wait: bool = True) -> None:
        """Stop; `wait` lets a read in flight finish before the clients close."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pending.clear()


def check_unchanged(services: Services, claim: TicketClaim, ticket: Ticket | None,
                    lookup: Lookup | None) -> None:
    """Before the first change: what was served from the read-ahead still holds."""
    order_id = lookup.order_id if lookup is not None and lookup.gstk is not None else None
    with ThreadPoolExecutor(max_workers=2) as pool:
        ticket_f = pool.submit(claim.fresh_ticket) if ticket is not None else None
        gstk_f = pool.submit(services.backoffice.find_order, order_id) if order_id else None
        fresh = ticket_f.result() if ticket_f is not None else None
        gstk = gstk_f.result() if gstk_f is not None else None
    if ticket is not None and fresh is not None:
        if fresh.is_closed and not ticket.is_closed:
            state = TicketStatus(fresh.status).name.lower()
            raise ChangedMeanwhile(f"ticket #{fresh.id} was set to {state} while you were "
                                   "reading. Nothing was changed")
        news = claim.news(fresh, seen={c.id for c in ticket.conversations})
        if news:
            raise ChangedMeanwhile(
                f"another run handled ticket #{fresh.id} while you were reading "
                f"({news[-1].text.splitlines()[0][:120]}). Nothing was changed")
    if lookup is not None and order_id is not None and _view(lookup.gstk) != _view(gstk):
        raise ChangedMeanwhile(
            f"GSTK changed while you were reading: order {order_id} was "
            f"{_label(lookup.gstk)}, is now {_label(gstk)}. Nothing was changed")


def _view(order: BackOfficeOrder | None) -> tuple[object, ...] | None:
    return None if order is None else (order.id, order.label, order.status)


def _label(order: BackOfficeOrder | None) -> str:
    return "not in GSTK" if order is None else repr(order.label)

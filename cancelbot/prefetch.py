"""Reading the next ticket ahead while the agent works on this one, and serving it once.

    Prefetcher   one background thread: the ticket → its order number → GSTK ∥ Amazon
                 (→ the buyer's locale when the reply will be needed)
    ReadAhead    the procedure's three services for one ticket: each prefetched read is served
                 once, in place of the live call; right before the first change (the claim
                 note, a GSTK or Amazon cancel, a reply), the ticket and GSTK are read again,
                 and if either moved since the agent saw them the run stops with
                 ChangedMeanwhile, nothing changed (the queue then shows it afresh)

Only automated services are read ahead: an assisted step talks to the agent, never in the
background.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cancelbot.effects import cancelbot_notes
from cancelbot.errors import CancelbotError, NeedsHuman
from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket, TicketStatus
from cancelbot.orders import find_order_numbers
from cancelbot.procedure import Branch, Services, decide


class ChangedMeanwhile(NeedsHuman):
    """What was read ahead changed before the first change was made: nothing was changed.

    A NeedsHuman, so the journal counts the change it stopped as refused, not as unknown."""


@dataclass
class Prefetched:
    """What was read ahead for one ticket. A read that failed is simply absent: the procedure
    then makes the live call, which fails where the agent can see it."""

    ticket_id: int
    ticket: Ticket | None = None
    gstk: dict[str, BackOfficeOrder | None] = field(default_factory=dict)
    amazon: dict[str, AmazonOrder | None] = field(default_factory=dict)
    locale: dict[tuple[str, str], str | None] = field(default_factory=dict)
    problem: str = ""
    seconds: float = 0.0


def read_ahead(services: Services, ticket_id: int) -> Prefetched:
    """Everything the procedure will read for this ticket, as far as it can be known alone."""
    found = Prefetched(ticket_id)
    started = time.monotonic()
    backoffice, marketplace = services.backoffice, services.marketplace
    try:
        found.ticket = services.helpdesk.get_ticket(ticket_id)
        numbers = find_order_numbers(*found.ticket.texts())
        if len(numbers) == 1:  # several, or none: the agent chooses first
            order_id = numbers[0]
            with ThreadPoolExecutor(max_workers=2) as pool:
                gstk_f = pool.submit(backoffice.find_order, order_id) \
                    if backoffice.automated else None
                amazon_f = pool.submit(marketplace.get_order, order_id) \
                    if marketplace.automated else None
                if gstk_f is not None:
                    found.gstk[order_id] = gstk_f.result()
                if amazon_f is not None:
                    found.amazon[order_id] = amazon_f.result()
            gstk, amazon = found.gstk.get(order_id), found.amazon.get(order_id)
            if gstk is not None and amazon is not None and decide(
                gstk.status, amazon.fulfillment_status
            ).branch is Branch.CANNOT_CANCEL:
                key = (order_id, amazon.marketplace_id)
                found.locale[key] = marketplace.buyer_locale(*key)
    except CancelbotError as exc:
        found.problem = str(exc)
    found.seconds = time.monotonic() - started
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


class ReadAhead:
    """The procedure's services for one ticket, serving `found` once (see the module doc)."""

    def __init__(self, services: Services, found: Prefetched | None) -> None:
        self.inner = services
        self.found = found or Prefetched(0)
        self.served_ticket: Ticket | None = None
        self.served_gstk: dict[str, BackOfficeOrder | None] = {}
        self._checked = False
        self._lock = threading.Lock()  # the note and the status change run at once
        self.services = Services(_Helpdesk(self), _BackOffice(self), _Marketplace(self))

    def serve(self, kind: str, key: Any) -> tuple[bool, Any]:
        """(True, value) the first time a prefetched read is asked for, else (False, None)."""
        table = getattr(self.found, kind)
        if key not in table:
            return False, None
        return True, table.pop(key)

    def before_change(self) -> None:
        """Before the first change: re-read what was served from the read-ahead."""
        with self._lock:
            if self._checked:
                return
            self._checked = True
            if self.served_ticket is None and not self.served_gstk:
                return  # every read was live, as in `cancelbot process`
            with ThreadPoolExecutor(max_workers=2) as pool:
                ticket_f = pool.submit(self.inner.helpdesk.get_ticket, self.served_ticket.id) \
                    if self.served_ticket is not None else None
                gstk_fs = {order_id: pool.submit(self.inner.backoffice.find_order, order_id)
                           for order_id in self.served_gstk}
                fresh_ticket = ticket_f.result() if ticket_f is not None else None
                fresh_gstk = {order_id: f.result() for order_id, f in gstk_fs.items()}
        if fresh_ticket is not None and self.served_ticket is not None:
            _compare_tickets(self.served_ticket, fresh_ticket)
        for order_id, old in self.served_gstk.items():
            new = fresh_gstk[order_id]
            if _gstk_view(old) != _gstk_view(new):
                raise ChangedMeanwhile(
                    f"GSTK changed while you were reading: order {order_id} was "
                    f"{_gstk_label(old)}, is now {_gstk_label(new)}. Nothing was changed"
                )


def _compare_tickets(old: Ticket, new: Ticket) -> None:
    if new.is_closed and not old.is_closed:
        state = TicketStatus(new.status).name.lower()
        raise ChangedMeanwhile(
            f"ticket #{new.id} was set to {state} while you were reading. Nothing was changed"
        )
    seen = {c.id for c in old.conversations}
    notes = [c for c in cancelbot_notes(new) if c.id not in seen]
    if notes:
        raise ChangedMeanwhile(
            f"another run handled ticket #{new.id} while you were reading "
            f"({notes[-1].body_text.splitlines()[0][:120]}). Nothing was changed"
        )


def _gstk_view(order: BackOfficeOrder | None) -> tuple[str, str, Any] | None:
    return None if order is None else (order.id, order.label, order.status)


def _gstk_label(order: BackOfficeOrder | None) -> str:
    return "not in GSTK" if order is None else repr(order.label)


class _Delegate:
    """Anything the procedure calls that is not a read served ahead goes to the real client."""

    def __init__(self, read: ReadAhead, inner: Any) -> None:
        self._read = read
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Helpdesk(_Delegate):
    def __init__(self, read: ReadAhead) -> None:
        super().__init__(read, read.inner.helpdesk)

    def get_ticket(self, ticket_id: int) -> Ticket:
        ticket = self._read.found.ticket
        if ticket is not None and ticket.id == ticket_id and self._read.served_ticket is None:
            self._read.served_ticket = ticket
            return ticket
        return self._inner.get_ticket(ticket_id)

    def set_status(self, ticket_id: int, status: int) -> None:
        self._read.before_change()
        self._inner.set_status(ticket_id, status)

    def add_private_note(self, ticket_id: int, html: str) -> int:
        self._read.before_change()
        return self._inner.add_private_note(ticket_id, html)

    def assign(self, ticket_id: int, agent_id: int) -> None:
        self._read.before_change()
        self._inner.assign(ticket_id, agent_id)

    def reply(self, ticket_id: int, html: str) -> int:
        self._read.before_change()
        return self._inner.reply(ticket_id, html)

    def ticket_url(self, ticket_id: int) -> str:
        return self._inner.ticket_url(ticket_id)


class _BackOffice(_Delegate):
    def __init__(self, read: ReadAhead) -> None:
        super().__init__(read, read.inner.backoffice)
        self.automated = self._inner.automated

    def find_order(self, marketplace_order_id: str) -> BackOfficeOrder | None:
        served, order = self._read.serve("gstk", marketplace_order_id)
        if not served:
            return self._inner.find_order(marketplace_order_id)
        self._read.served_gstk[marketplace_order_id] = order
        return order

    def cancel(self, order: BackOfficeOrder, comment: str) -> BackOfficeOrder:
        self._read.before_change()
        return self._inner.cancel(order, comment)


class _Marketplace(_Delegate):
    def __init__(self, read: ReadAhead) -> None:
        super().__init__(read, read.inner.marketplace)
        self.automated = self._inner.automated

    def get_order(self, order_id: str) -> AmazonOrder | None:
        served, order = self._read.serve("amazon", order_id)
        return order if served else self._inner.get_order(order_id)

    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        served, locale = self._read.serve("locale", (order_id, marketplace_id))
        return locale if served else self._inner.buyer_locale(order_id, marketplace_id)

    def cancel(self, order: AmazonOrder) -> str:
        self._read.before_change()
        return self._inner.cancel(order)

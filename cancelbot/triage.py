"""The queue in the order that races the warehouse: every entry's order looked up first.

An order cancelled before the warehouse picks it costs nothing; a minute too late it becomes a
refused parcel. So the shift takes the requests that can still be cancelled first, and finds
requests on Amazon before their email reaches Freshdesk:

    look_up_entries()  each ticket read (Freshdesk, within its paced budget), its order number
                       found as `process` finds it (an unfinished run's order first), and GSTK's
                       status (lookup.look_up, GSTK only) — a few at once; then Amazon's own
                       status (getOrder) for the tickets GSTK calls cancellable, and only those,
                       AMAZON_PER_LOOK at most: an order Amazon shows shipped or cancelled is
                       not cancellable, whatever GSTK says (the procedure asks a person)
    QueueSource        the Freshdesk search (queue.find_queue) ∥ the buyers' requests found on
                       Amazon (amazon_requests.py), every order looked up, in triage order
                       (queue.in_triage_order); called again by a watching shift

A ticket whose number cannot be found, or whose order cannot be looked up, stays in the queue
as unknown, behind the cancellable ones, by its 24-hour deadline. A request found on Amazon
joins the queue while its order can still be cancelled (or its status is unknown): once the
warehouse has it, the buyer's email brings a ticket and the answer goes there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

from msgspec import Struct, structs

from cancelbot.amazon_requests import Discovery, discover, order_search, waiting
from cancelbot.decision import AMAZON_NOT_FOUND
from cancelbot.effects import short
from cancelbot.errors import CancelbotError
from cancelbot.i18n import _
from cancelbot.journal import Journal
from cancelbot.lookup import look_up
from cancelbot.models import OrderStatus, Ticket
from cancelbot.orders import find_order_numbers
from cancelbot.ports import DEFAULT_CLAIM_LEASE, Services
from cancelbot.queue import (
    Queue,
    QueueEntry,
    TicketSearch,
    Triage,
    find_queue,
    in_triage_order,
)

WORKERS = 4  # lookups at once: Freshdesk's pacer and GSTK see a few calls in flight, no more
# getOrder calls one build of the queue makes, oldest ticket first. getOrder's usage plan is
# 0.5 a second, burst 30: a watching shift builds at most once a minute, so even two shifts
# stay at a few percent of it and keep the burst for the procedure's own lookups. Only tickets
# GSTK calls cancellable are asked (Amazon can only take them out of the front), and an order
# Amazon shows shipped or cancelled is not asked again. Requests found on Amazon are not asked
# either: searchOrders found them not shipped, with its FULFILLMENT data, minutes ago.
AMAZON_PER_LOOK = 10


def look_up_entries(entries: Sequence[QueueEntry], services: Services,
                    journal: Journal | None = None, *,
                    previous: Mapping[str, Triage] | None = None) -> list[QueueEntry]:
    """Each entry with its `Triage`. A status the warehouse never goes back from (in
    preparation and after) is kept from `previous` rather than asked again."""
    previous = previous or {}

    def one(entry: QueueEntry) -> QueueEntry:
        known = previous.get(entry.key)
        if known is not None and (entry.skip or _settled(known)):
            return structs.replace(entry, triage=known)
        return structs.replace(entry, triage=look_up_entry(entry, services, journal))

    if len(entries) < 2:
        return check_on_amazon([one(e) for e in entries], services)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cancelbot-triage") as pool:
        return check_on_amazon(list(pool.map(one, entries)), services)


def check_on_amazon(entries: Sequence[QueueEntry], services: Services) -> list[QueueEntry]:
    """The entries, those GSTK calls cancellable with Amazon's own status too (getOrder; see
    AMAZON_PER_LOOK). A getOrder that fails leaves GSTK's word: the procedure asks Amazon
    again before anything changes."""
    marketplace = services.marketplace
    entries = list(entries)
    if not marketplace.automated:
        return entries
    ask = [n for n, e in enumerate(entries)
           if e.ticket is not None and not e.skip and e.triage is not None
           and e.triage.order_id and e.triage.gstk is OrderStatus.AWAITING_PREPARATION
           and not e.triage.amazon][:AMAZON_PER_LOOK]

    def one(n: int) -> QueueEntry:
        entry = entries[n]
        triage = entry.triage
        assert triage is not None and triage.order_id is not None  # chosen so above
        try:
            order = marketplace.get_order(triage.order_id)
        except CancelbotError:
            return entry
        status = order.fulfillment_status if order is not None else AMAZON_NOT_FOUND
        return structs.replace(entry, triage=structs.replace(triage, amazon=status))

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cancelbot-amazon") as pool:
        for n, entry in zip(ask, pool.map(one, ask), strict=True):
            entries[n] = entry
    return entries


def look_up_entry(entry: QueueEntry, services: Services,
                  journal: Journal | None = None) -> Triage:
    """What one entry's order is and where GSTK says it stands; never raises a service error
    (a failed read is the entry's `why`)."""
    if entry.ticket is None:
        order_id = entry.order_id or ""
        return _gstk(services, order_id, None, (order_id,))
    try:
        ticket = services.helpdesk.get_ticket(entry.ticket.id)
    except CancelbotError as exc:
        return Triage(None, why=_("ticket not read ({problem})").format(
            problem=short(str(exc), 80)))
    numbers = find_order_numbers(*ticket.texts())
    job = journal.open_job(ticket.id) if journal is not None else None
    if job is not None and (job.order_id in numbers or not numbers):
        numbers = [job.order_id]  # as `process` does: the unfinished run's order
    named = tuple(numbers)
    if entry.skip:
        return Triage(numbers[0] if len(numbers) == 1 else None, why=_("left alone"),
                      named=named)
    if not numbers:
        return Triage(None, why=_("no order number in the ticket"))
    if len(numbers) > 1:
        return Triage(None, why=_("{count} order numbers: you choose").format(
            count=len(numbers)), named=named)
    return _gstk(services, numbers[0], ticket, named)


def _gstk(services: Services, order_id: str, ticket: Ticket | None,
          named: tuple[str, ...]) -> Triage:
    if not services.backoffice.automated:
        return Triage(order_id, why=_("GSTK not connected"), named=named)
    try:
        found = look_up(services.backoffice, services.marketplace, order_id, ticket,
                        ask_locale=False, automated_only=True, ask_amazon=False)
    except CancelbotError as exc:
        return Triage(order_id, why=_("GSTK lookup failed ({problem})").format(
            problem=short(str(exc), 80)), named=named)
    gstk = found.gstk
    if gstk is None:
        return Triage(order_id, why=_("not in GSTK"), named=named)
    if gstk.status is None:
        return Triage(order_id, gstk_label=gstk.label,
                      why=_("GSTK says {label!r}").format(label=gstk.label),
                      named=named)
    return Triage(order_id, gstk.status, gstk.label, named=named)


def _settled(triage: Triage) -> bool:
    """GSTK past "awaiting preparation", or Amazon shipped or cancelled: never goes back."""
    return triage.gstk is not None and (triage.gstk is not OrderStatus.AWAITING_PREPARATION
                                        or triage.amazon_past_cancel)


class QueueSource(Struct):
    """Builds the shift's queue; a watching shift calls it again (`queue.Watch.refresh`)."""

    services: Services
    search: TicketSearch  # Freshdesk's search (services.helpdesk)
    query: str
    tag: str = ""
    agent_id: int | None = None
    journal: Journal | None = None
    threads: bool = False  # queue --list: each ticket's thread read too (queue.find_queue)
    lease: float = DEFAULT_CLAIM_LEASE

    def __call__(self, previous: Queue, ask_amazon: bool) -> Queue:
        return self.build(previous, ask_amazon=ask_amazon)

    def build(self, previous: Queue | None = None, *, ask_amazon: bool = True,
              now: datetime | None = None) -> Queue:
        """Freshdesk's requests and Amazon's (when SP-API is set up and `ask_amazon`), each
        looked up, in the order the shift takes them."""
        services, journal = self.services, self.journal
        search = order_search(services) if journal is not None else None
        known = {e.key: e.triage for e in previous.entries if e.triage is not None} \
            if previous is not None else {}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cancelbot-amazon") as pool:
            # Amazon is asked while Freshdesk searches: neither waits for the other.
            asked: Future[Discovery] | None = pool.submit(discover, search, journal, now=now) \
                if search is not None and journal is not None and ask_amazon else None
            queue = find_queue(self.search, query=self.query, tag=self.tag,
                               agent_id=self.agent_id, journal=journal, now=now,
                               threads=self.threads, lease=self.lease)
            entries = look_up_entries(queue.entries, services, journal, previous=known)
            discovery = asked.result() if asked is not None else None
        if search is not None and journal is not None:
            if discovery is None:
                discovery = Discovery(False, [], search.search_ready_in())
            named = {n for e in entries if e.triage is not None for n in e.triage.named}
            requests = [QueueEntry(None, ("amazon",), request=r)
                        for r in waiting(journal, named)]
            # Only while it races the warehouse (or nobody knows): past picking, the buyer's
            # email brings a ticket, and the answer goes there — never twice to one buyer.
            entries += [e for e in look_up_entries(requests, services, journal, previous=known)
                        if e.cancellable is not False]
        queue.entries = in_triage_order(entries)
        queue.triaged, queue.discovery = True, discovery
        queue.now = now or datetime.now(timezone.utc)
        return queue

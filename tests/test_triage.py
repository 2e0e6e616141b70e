"""Triage (issue 13): cancellable requests first, requests found on Amazon too, a shift that
watches. The ordering is a pure function; the lookups and the watch run against the sandbox."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from fakes import (
    GSTK_AMAZON_ONLY,
    IN_PREPARATION,
    ORDER_AMAZON_ONLY,
    FaultyTransport,
    ScriptedAgent,
    add_order,
    add_ticket,
    fast_retry,
    nothing_to_do,
)

from cancelbot import sandbox
from cancelbot.config import load_settings
from cancelbot.journal import AmazonRequest, Journal
from cancelbot.models import FoundTicket, OrderStatus
from cancelbot.ports import Options
from cancelbot.queue import (
    SKIPPED,
    Queue,
    QueueEntry,
    Triage,
    Watch,
    in_triage_order,
    run_shift,
)
from cancelbot.sandbox.state import StateStore
from cancelbot.triage import AMAZON_PER_LOOK, QueueSource
from cancelbot.wiring import open_services

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
SEARCH = "GET spapi.sandbox.invalid/orders/2026-01-01/orders"  # searchOrders, as logged


def ticket(tid: int, hours_ago: float, status: OrderStatus | None, why: str = "") -> QueueEntry:
    found = FoundTicket(tid, f"Annulation {tid}", 2, NOW - timedelta(hours=hours_ago))
    return QueueEntry(found, ("subject",), triage=Triage(f"order-{tid}", status, why=why))


def amazon(order_id: str, minutes_ago: float, status: OrderStatus | None) -> QueueEntry:
    at = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = AmazonRequest(order_id, "A13V1IB3VIYZZH", at, at, "open")
    return QueueEntry(None, ("amazon",), request=request, triage=Triage(order_id, status))


AWAITING, SHIPPED = OrderStatus.AWAITING_PREPARATION, OrderStatus.SHIPPED


def test_cancellable_first_oldest_first_then_the_rest_by_their_deadline():
    entries = [
        ticket(1, 30, SHIPPED),  # the oldest: late already, but nothing left to save
        ticket(2, 5, AWAITING),
        ticket(3, 20, None, "no order number in the ticket"),  # unknown: with the rest
        amazon("402-0000000-0000001", 10, AWAITING),  # no ticket yet, asked 10 min ago
        ticket(4, 8, AWAITING),
        ticket(5, 2, OrderStatus.IN_PREPARATION),
        ticket(6, 1, OrderStatus.CANCELLED),
        QueueEntry(FoundTicket(7, "Annulation", 2, NOW - timedelta(hours=40)), ("subject",),
                   skip="assigned to agent 42"),
    ]
    ordered = in_triage_order(entries)
    assert [e.label for e in ordered] == ["#4", "#2", "Amazon", "#1", "#3", "#5", "#6", "#7"]
    assert [e.cancellable for e in ordered] == [True, True, True, False, None, False, False,
                                                None]
    assert ordered[0].standing == "first: can still be cancelled"
    assert ordered[3].standing == "shipped: by the 24-h deadline"
    assert ordered[4].standing == "no order number in the ticket: by the 24-h deadline"
    assert ordered[2].source == "amazon" and ordered[2].id is None
    assert ordered[2].url.endswith("/orders-v3/order/402-0000000-0000001")


@pytest.fixture
def world(isolated_env):
    sandbox.reset(isolated_env)
    settings = load_settings(sandbox=True)
    transport = FaultyTransport(isolated_env)
    agent = ScriptedAgent()
    with Journal.open(isolated_env) as journal, \
            open_services(settings, agent, transport=transport, retry=fast_retry()) as services:
        yield isolated_env, services, transport, agent, journal


def source(services, journal) -> QueueSource:
    return QueueSource(services, services.helpdesk, query="status:2", journal=journal)


def test_each_order_is_looked_up_in_gstk_and_a_lookup_that_fails_stays_unknown(world):
    home, services, transport, _, journal = world
    with StateStore(home).update() as state:  # GSTK cannot say for 1004's order
        del state["gstk"]["orders"]["GS-1048160"]
    transport.log.clear()
    queue = source(services, journal).build()
    by_label = {e.label: e for e in queue.entries}
    assert by_label["#1009"].triage.gstk is OrderStatus.AWAITING_PREPARATION
    assert by_label["#1004"].cancellable is None and "not in GSTK" in by_label["#1004"].standing
    assert by_label["#1010"].triage.named == ("407-2290518-3346071", "407-9913364-0572218")
    assert by_label["Amazon"].order_id == ORDER_AMAZON_ONLY
    gets = [line.rsplit("/", 1)[1] for line in transport.log
            if "/orders/2026-01-01/orders/" in line]
    # Amazon's getOrder: once for each ticket GSTK calls cancellable, and for nothing else
    # (not the Amazon-only request: searchOrders has just found it not shipped).
    awaiting = sorted(e.order_id for e in queue.entries if e.ticket is not None
                      and e.triage.gstk is OrderStatus.AWAITING_PREPARATION)
    assert sorted(gets) == awaiting and ORDER_AMAZON_ONLY not in gets
    assert transport.log.count(SEARCH) == 1
    assert queue.entries[0].label == "#1009" and queue.triaged


def test_an_order_amazon_shows_shipped_is_not_cancellable_whatever_gstk_says(world):
    """Ticket #1007: GSTK still says awaiting preparation, Amazon says SHIPPED. Cancelling is
    not what is left to do (the procedure asks a person): it is not ranked with the
    cancellable requests, and its line says why."""
    _, services, _, _, journal = world
    queue = source(services, journal).build()
    by_label = {e.label: e for e in queue.entries}
    disagree = by_label["#1007"]
    assert disagree.triage.gstk is OrderStatus.AWAITING_PREPARATION
    assert disagree.triage.amazon == "SHIPPED"
    assert disagree.cancellable is False
    assert disagree.standing.startswith("not cancellable: Amazon says SHIPPED, GSTK awaiting "
                                        "preparation")
    cancellable = [e.label for e in queue.entries if e.cancellable]
    assert "#1007" not in cancellable and cancellable == [e.label for e in queue.entries][
        :len(cancellable)], "every cancellable request before the rest"
    assert by_label["#1009"].cancellable is True and by_label["#1009"].triage.amazon


def test_amazon_is_asked_for_a_few_tickets_a_look_and_a_shipped_order_only_once(world):
    home, services, transport, _, journal = world
    nothing_to_do(home)
    for n in range(AMAZON_PER_LOOK + 3):  # more tickets GSTK calls cancellable than a look asks
        order_id = f"405-2000000-{n:07d}"
        add_order(home, order_id, f"GS-3{n:06d}", requested_minutes_ago=None,
                  fulfillment="SHIPPED" if n == 0 else "UNSHIPPED")
        add_ticket(home, 1100 + n, order_id, minutes_ago=60 - n)
    transport.log.clear()
    queue_source = source(services, journal)
    first = queue_source.build()

    def gets() -> list[str]:
        found = [line for line in transport.log if "/orders/2026-01-01/orders/" in line]
        transport.log.clear()
        return found

    assert len(gets()) == AMAZON_PER_LOOK, "within getOrder's budget, oldest tickets first"
    assert [e.label for e in first.entries if e.cancellable is False] == ["#1100"]
    again = queue_source.build(first)
    assert len(gets()) == AMAZON_PER_LOOK
    assert not any(line.endswith("405-2000000-0000000") for line in gets()), \
        "Amazon's SHIPPED is kept: not asked again"
    assert {e.label: e.cancellable for e in again.entries}["#1100"] is False


def test_a_getorder_that_fails_leaves_gstks_word(world):
    _, services, transport, _, journal = world
    transport.fault = "503_storm"
    transport.match = lambda r: "/orders/2026-01-01/orders/" in r.url.path
    queue = source(services, journal).build()
    by_label = {e.label: e for e in queue.entries}
    assert by_label["#1007"].cancellable is True and by_label["#1007"].triage.amazon == ""


def test_a_request_named_by_a_queued_ticket_is_that_ticket_not_a_second_entry(world):
    home, services, _, _, journal = world
    add_ticket(home, 1020, ORDER_AMAZON_ONLY)  # the buyer's email arrived
    queue = source(services, journal).build()
    assert "Amazon" not in [e.label for e in queue.entries]
    assert [e.order_id for e in queue.entries if e.id == 1020] == [ORDER_AMAZON_ONLY]


# -- the watching shift ----------------------------------------------------------------------


class WatchingScreen:
    """A WatchScreen that records what it was shown; `q` once `stop_after` entries arrived."""

    def __init__(self, stop_after: int) -> None:
        self.stop_after = stop_after
        self.cards: list[str] = []
        self.arrivals: list[list[str]] = []
        self.rings = 0
        self.idles = 0
        self.failures: list[str] = []

    def show_queue(self, queue): ...
    def skipped(self, entry, reason): ...
    def show_result(self, result, outcome): ...

    def show_card(self, number, count, entry, ticket, now):
        self.cards.append(entry.label)

    def next_action(self):
        return "skip"

    @contextmanager
    def busy(self, label):
        yield

    def arrived(self, entries, queue):
        self.arrivals.append([e.label for e in entries])

    def ring(self):
        self.rings += 1

    def look_failed(self, problem):
        self.failures.append(problem)

    @contextmanager
    def idle(self, queue, next_look):
        self.idles += 1
        yield

    def key(self):
        return "q" if sum(map(len, self.arrivals)) >= self.stop_after else None


class Day:
    """A virtual clock whose sleeps move the day on, with things happening at set times."""

    def __init__(self, events):
        self.now = 0.0
        self.events = sorted(events, key=lambda e: e[0])
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        while self.events and self.events[0][0] <= self.now:
            self.events.pop(0)[1]()


def test_watch_picks_up_a_new_ticket_and_a_new_amazon_request_and_rings_once(world):
    home, services, transport, agent, journal = world
    nothing_to_do(home)
    day = Day([
        # Before the first look: a ticket about an order the warehouse already has.
        (30, lambda: (add_order(home, "405-1000000-0000001", "GS-2000001", IN_PREPARATION),
                      add_ticket(home, 1020, "405-1000000-0000001"))),
        # Before the second: a cancellable ticket, and a request only Amazon shows.
        (90, lambda: (add_order(home, "405-1000000-0000002", "GS-2000002"),
                      add_ticket(home, 1021, "405-1000000-0000002"),
                      add_order(home, "405-1000000-0000003", "GS-2000003"))),
    ])
    queue_source = source(services, journal)
    first = queue_source.build()
    assert not first.todo, "the shift starts on an empty queue"
    screen = WatchingScreen(stop_after=3)
    watch = Watch(queue_source, every=60, amazon_every=60, clock=day.clock, sleep=day.sleep)
    shift = run_shift(first, services, agent, screen, Options(), journal=journal,
                      watch=watch, clock=day.clock)
    # The request on Amazon (5 min ago) is older than the ticket (3 min ago): it comes first.
    assert screen.arrivals == [["#1020"], ["Amazon", "#1021"]]
    assert screen.rings == 1, "one bell, for the look that brought cancellable requests"
    assert screen.cards == ["#1020", "Amazon", "#1021"]
    assert shift.quit and not shift.interrupted and shift.arrived == 3
    assert [r.kind for r in shift.results] == [SKIPPED] * 3
    assert shift.results[1].order_id == "405-1000000-0000003"
    assert 120 <= day.now < 130, "the second look came a minute after the first"
    assert screen.idles >= 2
    # Freshdesk every minute, Amazon's search at most as often as allowed: 3 looks, 3 searches.
    assert transport.log.count(SEARCH) == 3


def test_a_watching_shift_asks_amazon_no_more_often_than_amazon_every(world):
    home, services, transport, agent, journal = world
    nothing_to_do(home)
    queue_source = source(services, journal)
    day = Day([])
    screen = WatchingScreen(stop_after=99)
    looks = []

    def refresh(previous: Queue, ask_amazon: bool) -> Queue:
        looks.append((day.now, ask_amazon))
        if len(looks) == 6:
            raise KeyboardInterrupt  # Ctrl-C while waiting ends the shift, not as an error
        return queue_source(previous, ask_amazon)

    watch = Watch(refresh, every=60, amazon_every=180, clock=day.clock, sleep=day.sleep)
    shift = run_shift(queue_source.build(), services, agent, screen, Options(),
                      journal=journal, watch=watch, clock=day.clock)
    assert [at for at, asked in looks if asked] == [180, 360]
    assert [at for at, _ in looks] == [60, 120, 180, 240, 300, 360]
    assert shift.quit and not shift.interrupted and shift.exit_code == 0


def test_before_a_picking_wave_the_watch_asks_amazon_at_every_look(world):
    """In the rush before a wave every look searches Amazon (the burst pays); otherwise every
    `amazon_every` (waves.py: 5 min when the waves are known)."""
    home, services, transport, agent, journal = world
    nothing_to_do(home)
    queue_source = source(services, journal)
    day = Day([])
    looks = []

    def refresh(previous: Queue, ask_amazon: bool) -> Queue:
        looks.append((day.now, ask_amazon))
        if len(looks) == 10:
            raise KeyboardInterrupt
        return queue_source(previous, ask_amazon)

    watch = Watch(refresh, every=60, amazon_every=300, rush=lambda: 200 <= day.now < 330,
                  clock=day.clock, sleep=day.sleep)
    run_shift(queue_source.build(), services, agent, WatchingScreen(stop_after=99), Options(),
              journal=journal, watch=watch, clock=day.clock)
    assert [at for at, _ in looks] == [60 * n for n in range(1, 11)]
    assert [at for at, asked in looks if asked] == [240, 300, 600]
    # The first build's search, then 240 and 300 (the tenth look, at 600, is the Ctrl-C).
    assert transport.log.count(SEARCH) == 1 + 2


def test_a_look_that_fails_is_reported_and_the_watch_goes_on(world):
    home, services, transport, agent, journal = world
    nothing_to_do(home)
    queue_source = source(services, journal)
    day = Day([(30, lambda: setattr(transport, "fault", "503_storm")),
                (90, lambda: (setattr(transport, "fault", ""),
                              add_order(home, "405-1000000-0000002", "GS-2000002"),
                              add_ticket(home, 1021, "405-1000000-0000002")))])
    transport.match = lambda r: "search/tickets" in r.url.path
    screen = WatchingScreen(stop_after=1)
    watch = Watch(queue_source, every=60, clock=day.clock, sleep=day.sleep)
    shift = run_shift(queue_source.build(), services, agent, screen, Options(),
                      journal=journal, watch=watch, clock=day.clock)
    assert len(screen.failures) == 1 and "trying again in 60 s" in screen.failures[0]
    assert "Freshdesk" in screen.failures[0]
    assert screen.arrivals == [["#1021"]] and shift.quit


def test_the_seeded_request_moves_out_of_the_queue_once_the_warehouse_has_it(world):
    home, services, _, _, journal = world
    queue_source = source(services, journal)
    assert "Amazon" in [e.label for e in queue_source.build().entries]
    with StateStore(home).update() as state:
        state["gstk"]["orders"][GSTK_AMAZON_ONLY]["status"] = IN_PREPARATION
    assert "Amazon" not in [e.label for e in queue_source.build().entries], \
        "past picking, its ticket brings the answer"

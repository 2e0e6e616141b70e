"""A simulated day at the warehouse's pace (issue 13): `python bench/day.py` (`--help`).

Orders arrive through the day; some buyers ask to cancel — on Amazon at once, in Freshdesk
after Amazon's email takes 5 to 60 minutes; the warehouse picks in waves (every order awaiting
preparation at a wave is in preparation after it); agents look at the queue every 30 minutes
and handle one entry in a few minutes. Three ways of working the same day:

    (a) Freshdesk, oldest first      queue.find_queue — the shift before issue 13
    (b) triage                       triage.QueueSource without SP-API: GSTK looked up,
                                     cancellable first
    (c) triage + Amazon + --watch    triage.QueueSource with searchOrders (amazon_requests,
                                     paced by services/usage_plan's TokenBucket) and getOrder
                                     (its own plan) and queue.Watch: looks every minute while
                                     agents are on duty; Amazon at every look in the 10 minutes
                                     before a wave, every 5 otherwise (waves.py: the day's waves
                                     as CANCELBOT_PICKING_WAVES; --no-waves: every 3 min); the
                                     bell calls an idle agent

The ordering and the discovery are cancelbot's own code, run on a virtual clock against
in-memory Freshdesk, GSTK and Amazon that answer from the simulated day; only the agents are a
model (minutes per entry; a GSTK cancel lands when the entry's time is up). Reported per way:
the share of requests made while the order could still be cancelled that were cancelled before
picking, and the median minutes from the request to GSTK's cancel. Every parameter is a flag;
`--timeline` prints where each request's minutes went (asked, emailed, seen, bell, taken,
cancelled, picked). The clock ticks every 10 seconds: a coarser tick lands every event on the
next tick, which is the model's delay, not the day's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's cancelbot

from cancelbot.errors import NotFound, RateLimited  # noqa: E402
from cancelbot.journal import Journal  # noqa: E402
from cancelbot.models import (  # noqa: E402
    AmazonItem,
    AmazonOrder,
    BackOfficeOrder,
    FoundTicket,
    OrderSearchPage,
    OrderStatus,
    SearchPage,
    Ticket,
)
from cancelbot.ports import Services  # noqa: E402
from cancelbot.queue import Queue, QueueEntry, Watch, find_queue  # noqa: E402
from cancelbot.services.usage_plan import (  # noqa: E402
    SEARCH_ORDERS_BURST,
    SEARCH_ORDERS_RATE,
    TokenBucket,
)
from cancelbot.triage import QueueSource  # noqa: E402
from cancelbot.waves import amazon_pacing, parse_waves  # noqa: E402

DAY = 86_400
START = datetime(2026, 11, 27, tzinfo=timezone.utc)  # 00:00 of the simulated day
FR = "A13V1IB3VIYZZH"
SHIPPED_AFTER = 3 * 3600  # from the wave that picks an order to Amazon's SHIPPED
GET_ORDER_RATE, GET_ORDER_BURST = 0.5, 30  # Orders 2026-01-01 getOrder's usage plan
# Orders per hour of the day, relative: quiet at night, a lunch bump, the evening peak.
PROFILE = (1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 2.5, 2.8, 3.0,
           3.0, 2.8, 2.6, 2.6, 2.8, 3.0, 3.2, 3.6, 4.0, 4.0, 3.2, 2.0)
WAYS = {"a": "Freshdesk, oldest first", "b": "triage",
        "c": "triage + Amazon discovery + watch"}


def hhmm(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 3600 + int(minutes or 0) * 60


# -- the day -----------------------------------------------------------------------------------


@dataclass
class Order:
    order_id: str
    placed: float  # seconds since 00:00
    picked: float  # the first wave after it was placed
    requested: float | None = None  # the buyer asked Amazon to cancel
    emailed: float | None = None  # Amazon's email reached Freshdesk
    number_in_email: bool = True
    cancelled: float | None = None  # GSTK's cancel
    # Where the minutes went (--timeline): first in an agent's list or the watched queue,
    # the bell it rang, taken up by an agent.
    seen: float | None = None
    bell: float | None = None
    taken: float | None = None


@dataclass
class World:
    """The simulated day: every order, its buyer's request, the warehouse's waves."""

    orders: dict[str, Order]
    tickets: dict[int, str]  # Freshdesk ticket id → order id
    t: float = 0.0  # the virtual clock, seconds since 00:00
    closed: set[int] = field(default_factory=set)

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)

    def amazon_status(self, order: Order) -> str:
        """Amazon's fulfillmentStatus: shipped three hours after its wave picked it."""
        if order.cancelled is not None and order.cancelled <= self.t:
            return "CANCELLED"
        return "SHIPPED" if self.t >= order.picked + SHIPPED_AFTER else "UNSHIPPED"

    def gstk(self, order: Order) -> OrderStatus:
        if order.cancelled is not None and order.cancelled <= self.t:
            return OrderStatus.CANCELLED
        if self.t >= order.picked:
            return OrderStatus.IN_PREPARATION
        return OrderStatus.AWAITING_PREPARATION


def make_world(args: argparse.Namespace, seed: int) -> World:
    rng = random.Random(seed)
    waves = sorted(hhmm(w) for w in args.waves.split(","))
    low, high = (float(x) for x in args.email_delay.split("-"))
    orders: dict[str, Order] = {}
    tickets: dict[int, str] = {}
    hours = rng.choices(range(24), weights=PROFILE, k=args.orders)
    for n, hour in enumerate(sorted(hours)):
        placed = hour * 3600 + rng.random() * 3600
        picked = next(day * DAY + w for day in (0, 1, 2) for w in waves
                      if day * DAY + w > placed)
        order = Order(f"40{n % 8 + 1}-{rng.randrange(10**7):07d}-{n:07d}", placed, picked)
        asks = rng.random() < args.share
        requested = placed + rng.expovariate(1 / (args.request_mean * 60))
        emailed = requested + rng.uniform(low, high) * 60
        in_email = rng.random() >= args.no_number
        if asks and requested < DAY:  # the day's requests: the ones measured
            order.requested, order.emailed, order.number_in_email = requested, emailed, in_email
            tickets[10_000 + len(tickets)] = order.order_id
        orders[order.order_id] = order
    return World(orders, tickets)


# -- the three systems, answering from the day -----------------------------------------------


class Desk:
    """Freshdesk: the emails that have arrived and are not closed."""

    automated = True

    def __init__(self, world: World) -> None:
        self.world = world

    def _open(self) -> list[int]:
        w = self.world
        return [t for t, o in w.tickets.items() if t not in w.closed
                and (w.orders[o].emailed or DAY * 9) <= w.t]

    def search_tickets(self, query: str, page: int = 1) -> SearchPage:
        found = [self._found(t) for t in sorted(self._open(), reverse=True)]  # newest first
        return SearchPage(len(found), tuple(found[(page - 1) * 30:page * 30]))

    def contact_email(self, contact_id: int) -> str:
        return ""

    def _found(self, ticket_id: int) -> FoundTicket:
        order = self.world.orders[self.world.tickets[ticket_id]]
        created = START + timedelta(seconds=order.emailed or 0)
        return FoundTicket(ticket_id, "Demande d'annulation de commande", 2, created)

    def get_ticket(self, ticket_id: int) -> Ticket:
        if ticket_id not in self.world.tickets:
            raise NotFound("Freshdesk", f"ticket {ticket_id}")
        order = self.world.orders[self.world.tickets[ticket_id]]
        body = (f"N° de commande : {order.order_id}" if order.number_in_email
                else "Pouvez-vous annuler ma commande ?")
        found = self._found(ticket_id)
        return Ticket(ticket_id, found.subject, body, 2, "buyer@marketplace.amazon.fr",
                      "Buyer", found.created_at)


class Gstk:
    automated = True

    def __init__(self, world: World) -> None:
        self.world = world

    def find_order(self, marketplace_order_id: str) -> BackOfficeOrder | None:
        order = self.world.orders.get(marketplace_order_id)
        if order is None:
            return None
        status = self.world.gstk(order)
        return BackOfficeOrder(f"GS-{order.order_id[-7:]}", order.order_id, status.value,
                               status)


class Amazon:
    """SP-API's searchOrders over the day, paced by the real usage plan on the virtual clock;
    like Amazon, it serves updates at least `lag` seconds old."""

    automated = True

    def __init__(self, world: World, lag: float) -> None:
        self.world = world
        self.lag = lag
        self.plan = TokenBucket(SEARCH_ORDERS_RATE, SEARCH_ORDERS_BURST, clock=lambda: world.t)
        self.get_plan = TokenBucket(GET_ORDER_RATE, GET_ORDER_BURST, clock=lambda: world.t)
        self.calls = 0
        self.gets = 0
        self.gets_at: list[float] = []

    def search_ready_in(self) -> float:
        return self.plan.ready_in()

    def search_orders(self, last_updated_after: str, *,
                      page_token: str | None = None) -> OrderSearchPage:
        if self.plan.take() > 0:
            raise RateLimited("Amazon", "searchOrders: usage plan spent")
        self.calls += 1
        w = self.world
        after = (datetime.fromisoformat(last_updated_after.replace("Z", "+00:00"))
                 - START).total_seconds()
        until = w.t - self.lag
        found = []
        for order in w.orders.values():
            updated = order.requested if order.requested is not None \
                and order.requested <= until else order.placed
            if after <= updated <= until and w.amazon_status(order) == "UNSHIPPED":
                asked = order.requested is not None and order.requested <= until
                found.append(AmazonOrder(
                    order.order_id, "UNSHIPPED", FR,
                    items=(AmazonItem("1", cancel_requested_by="BUYER" if asked else ""),),
                    last_updated=(START + timedelta(seconds=updated)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")))
        found.sort(key=lambda o: (o.last_updated, o.order_id))
        start = int(page_token or 0)
        more = start + 100 < len(found)
        return OrderSearchPage(tuple(found[start:start + 100]), str(start + 100) if more
                               else None,
                               (START + timedelta(seconds=until)).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def get_order(self, order_id: str) -> AmazonOrder | None:
        """getOrder, which the triage asks for the tickets GSTK calls cancellable, metered by
        its own usage plan (0.5 a second, burst 30) on the virtual clock."""
        if self.get_plan.take() > 0:
            raise RateLimited("Amazon", "getOrder: usage plan spent")
        self.gets += 1
        self.gets_at.append(self.world.t)
        order = self.world.orders.get(order_id)
        if order is None:
            return None
        return AmazonOrder(order_id, self.world.amazon_status(order), FR)

    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        return None


class AmazonWithoutSearch:
    """No SP-API: (b) triages Freshdesk's queue by GSTK alone."""

    automated = False

    def get_order(self, order_id: str) -> AmazonOrder | None:
        raise AssertionError("without SP-API nothing asks Amazon")

    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        return None


# -- the agents --------------------------------------------------------------------------------


@dataclass
class Agent:
    offset: float  # when in each period this agent looks at the queue
    busy_until: float = 0.0
    working: bool = False  # working down a queue; False: waiting for the next look
    plan: list[QueueEntry] = field(default_factory=list)  # (a), (b): the list of the last look
    called_at: float | None = None  # (c): the bell, heard


@dataclass
class Calls:
    """What (c) asked of Amazon over the days played: within each usage plan?"""

    searches: int = 0
    gets: int = 0
    busiest_minute: int = 0  # getOrder calls in the busiest minute

    def add(self, amazon: Amazon) -> None:
        self.searches += amazon.calls
        self.gets += amazon.gets
        per_minute: dict[int, int] = {}
        for t in amazon.gets_at:
            per_minute[int(t // 60)] = per_minute.get(int(t // 60), 0) + 1
        self.busiest_minute = max(self.busiest_minute, *per_minute.values(), 0)


def simulate(args: argparse.Namespace, seed: int, way: str,
             calls: Calls | None = None) -> list[Order]:
    world = make_world(args, seed)
    desk, gstk = Desk(world), Gstk(world)
    amazon = Amazon(world, args.amazon_lag * 60) if way == "c" else AmazonWithoutSearch()
    journal = Journal.memory()
    source = QueueSource(Services(desk, gstk, amazon), desk, query="status:2", journal=journal)

    def build(previous: Queue | None = None, ask_amazon: bool = True) -> Queue:
        if way == "a":
            return find_queue(desk, query="status:2", journal=journal, now=world.now())
        return source.build(previous, ask_amazon=ask_amazon, now=world.now())

    on, off = (hhmm(x) for x in args.hours.split("-"))
    period = args.every * 60
    agents = [Agent(on + n * period / args.agents) for n in range(args.agents)]
    # The shift's Amazon pacing as `queue --watch` sets it (cli._watch): with the day's waves
    # as CANCELBOT_PICKING_WAVES, unless --no-waves.
    waves = () if args.no_waves else parse_waves(args.waves)
    amazon_every, rush = amazon_pacing(waves, world.now, timezone.utc)
    watch = Watch(lambda previous, ask: build(previous, ask), every=args.watch_every,
                  amazon_every=args.amazon_every or amazon_every, rush=rush,
                  clock=lambda: world.t) if way == "c" else None
    queue: Queue | None = None
    taken: set[str] = set()
    seen: set[str] = set()
    pending: list[tuple[float, str, int | None]] = []  # (time up, order id, ticket id)
    end = DAY + off  # the next day's shift, for the evening's requests

    def on_duty(t: float) -> bool:
        return on <= t % DAY < off

    def order_of(entry: QueueEntry) -> Order:
        return world.orders[world.tickets[entry.ticket.id] if entry.ticket is not None
                            else entry.order_id or ""]

    def noticed(entries: list[QueueEntry]) -> None:
        for e in entries:
            order = order_of(e)
            order.seen = world.t if order.seen is None else order.seen

    def take(agent: Agent, entry: QueueEntry) -> None:
        taken.add(entry.key)
        # The order the agent works on: the email's, or the one they find when it has none.
        order = order_of(entry)
        order_id = order.order_id
        if order.taken is None:
            order.taken = world.t
        done_already = order.cancelled is not None and order.cancelled <= world.t
        minutes = args.close_minutes if done_already else args.minutes
        agent.busy_until = world.t + minutes * 60
        # GSTK's cancel is the entry's first change: it lands a little after the card shows.
        pending.append((world.t + min(args.cancel_after, minutes) * 60, order_id, entry.id))

    def finish(order_id: str, ticket_id: int | None) -> None:
        order = world.orders[order_id]
        if order.cancelled is None and world.t < order.picked:
            order.cancelled = world.t  # GSTK accepted: the warehouse had not picked it
        if ticket_id is not None:
            world.closed.add(ticket_id)
        # The finished job, as the procedure leaves it in the journal.
        job = journal.start_job(ticket_id, order_id, "cancel")
        journal.update_job(job.job_id, state="done")

    step = args.step
    while world.t < end:
        for done in [p for p in pending if p[0] <= world.t]:
            pending.remove(done)
            finish(done[1], done[2])
        if watch is not None and on_duty(world.t):
            if queue is None:
                queue = build()
                watch.start(queue)
                seen.update(e.key for e in queue.entries)
                noticed(queue.todo)
            elif watch.next_look() <= 0:
                queue = watch.look(queue)
                new = [e for e in queue.todo if e.key not in seen and e.key not in taken]
                seen.update(e.key for e in queue.entries)
                noticed(queue.todo)
                if any(e.cancellable for e in new):  # the bell
                    for e in new:
                        if e.cancellable:
                            order_of(e).bell = world.t
                    for agent in agents:
                        if not agent.working and agent.called_at is None:
                            agent.called_at = world.t + args.reaction * 60
        elif watch is not None:
            queue = None  # nobody on duty: no shift open, nothing watched
        for agent in agents:
            if not on_duty(world.t) or agent.busy_until > world.t:
                continue
            # Everyone looks when the day starts, then each at their own time of the period.
            looks = world.t % DAY == on or (world.t - agent.offset) % period < step
            called = agent.called_at is not None and agent.called_at <= world.t
            if not agent.working and (looks or called):
                agent.working, agent.called_at = True, None
                if watch is None:
                    agent.plan = build().todo
                    noticed(agent.plan)
            if not agent.working:
                continue
            todo = agent.plan if watch is None else (queue.todo if queue else [])
            entry = next((e for e in todo if e.key not in taken
                          and (e.ticket is None or e.ticket.id not in world.closed)), None)
            if entry is None:
                agent.working = False
                continue
            take(agent, entry)
        world.t += step
    if calls is not None and isinstance(amazon, Amazon):
        calls.add(amazon)
    return [o for o in world.orders.values() if o.requested is not None and o.requested < DAY]


# -- the report --------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    cancellable: int
    saved: int
    minutes: list[float]
    on_duty: list[float] = field(default_factory=list)  # minutes, for requests made on duty
    close_calls: int = 0  # misses asked less than CLOSE_CALL before picking

    @property
    def share(self) -> float:
        return self.saved / self.cancellable if self.cancellable else 1.0

    @property
    def median(self) -> float | None:
        return statistics.median(self.minutes) if self.minutes else None

    def add(self, other: Result) -> None:
        self.requests += other.requests
        self.cancellable += other.cancellable
        self.saved += other.saved
        self.minutes += other.minutes
        self.on_duty += other.on_duty
        self.close_calls += other.close_calls


CLOSE_CALL = 10 * 60  # a miss asked this close to picking: a close call, shown apart


def measure(requests: list[Order], hours: str) -> Result:
    on, off = (hhmm(x) for x in hours.split("-"))
    cancellable = [o for o in requests if o.requested is not None and o.requested < o.picked]
    saved = [o for o in cancellable if o.cancelled is not None and o.cancelled < o.picked]
    missed = [o for o in cancellable if o not in saved]

    def minutes(o: Order) -> float:
        return ((o.cancelled or 0) - (o.requested or 0)) / 60

    return Result(len(requests), len(cancellable), len(saved), [minutes(o) for o in saved],
                  [minutes(o) for o in saved if on <= (o.requested or 0) % DAY < off],
                  sum(1 for o in missed if o.picked - (o.requested or 0) < CLOSE_CALL))


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "·" * 8
    days, rest = divmod(int(seconds), DAY)
    return f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}" + "+" * days


def timeline(seed: int, way: str, requests: list[Order]) -> str:
    """Where each cancellable request's minutes went, in one way of working a day."""
    lines = [f"\nSeed {seed}, ({way}) {WAYS[way]}: asked, emailed, seen, bell, taken, "
             "cancelled, picked (+: next day)"]
    for o in sorted(requests, key=lambda o: o.requested or 0):
        if o.requested is None or o.requested >= o.picked:
            continue
        saved = o.cancelled is not None and o.cancelled < o.picked
        lead = (o.picked - o.requested) / 60
        lines.append(" ".join(clock(t) for t in (o.requested, o.emailed, o.seen, o.bell,
                                                  o.taken, o.cancelled, o.picked))
                     + f"  {lead:6.1f} min to picking  "
                     + ("saved" if saved else "MISSED")
                     + ("" if o.number_in_email else "  (no number in the email)"))
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--orders", type=int, default=400, help="orders in the day (default 400)")
    add("--share", type=float, default=0.05,
        help="share of orders whose buyer asks to cancel (default 0.05)")
    add("--request-mean", type=float, default=90.0, metavar="MINUTES",
        help="mean time from the order to the buyer's request (exponential; default 90)")
    add("--email-delay", default="5-60", metavar="MIN-MAX",
        help="minutes before Amazon's email reaches Freshdesk (uniform; default 5-60)")
    add("--no-number", type=float, default=0.1,
        help="share of emails without the order number (default 0.1)")
    add("--waves", default="08:00,10:30,13:30,16:00", help="the warehouse's picking waves")
    add("--agents", type=int, default=2, help="agents on the queue (default 2)")
    add("--every", type=float, default=30.0, metavar="MINUTES",
        help="each agent looks at the queue this often, staggered, and all at the start of "
        "the day (default 30)")
    add("--hours", default="07:30-18:30", help="the agents' working hours (default 07:30-18:30)")
    add("--minutes", type=float, default=4.0, help="minutes to handle one entry (default 4)")
    add("--cancel-after", type=float, default=1.5, metavar="MINUTES",
        help="minutes into an entry when GSTK's cancel lands: read, confirm, cancel "
        "(default 1.5)")
    add("--close-minutes", type=float, default=1.0,
        help="minutes to close a ticket whose order was already cancelled (default 1)")
    add("--reaction", type=float, default=2.0, metavar="MINUTES",
        help="(c): minutes from the bell to an idle agent at the queue (default 2)")
    add("--watch-every", type=float, default=60.0, metavar="SECONDS",
        help="(c): the watch looks at Freshdesk this often (default 60, as --every)")
    add("--amazon-every", type=float, default=None, metavar="SECONDS",
        help="(c): and at Amazon at most this often outside the rush before a wave (default: "
        "as `queue --watch`, 300 with the waves known, 180 without)")
    add("--no-waves", action="store_true",
        help="(c): the shift does not know the waves (no CANCELBOT_PICKING_WAVES): Amazon "
        "every 3 min all day")
    add("--amazon-lag", type=float, default=2.0, metavar="MINUTES",
        help="(c): searchOrders serves updates this old at least (default 2)")
    add("--step", type=float, default=10.0, metavar="SECONDS",
        help="the virtual clock's tick (default 10): every event lands on the next tick")
    add("--timeline", action="store_true",
        help="print each request made while cancellable: when it was made, seen, rung, "
        "taken, cancelled, picked (per way)")
    add("--seed", type=int, default=1, help="the day's random seed (default 1)")
    add("--seeds", type=int, default=1, help="play this many days: seeds SEED, SEED+1, …")
    args = parser.parse_args(argv)
    if not 1 <= args.orders <= 20_000 or not 0 < args.share <= 1 or not 1 <= args.agents <= 50:
        parser.error("--orders 1–20000, --share in (0, 1], --agents 1–50")
    if not 1 <= args.seeds <= 1000:
        parser.error("--seeds must be between 1 and 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    print(f"A simulated day: {args.orders} orders, {args.share:.0%} cancellation requests, "
          f"waves at {args.waves}, {args.agents} agents looking every {args.every:.0f} min "
          f"({args.hours}), {args.minutes:g} min an entry.")
    totals = {way: Result(0, 0, 0, []) for way in WAYS}
    calls = Calls()
    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        played = {way: simulate(args, seed, way, calls) for way in WAYS}
        results = {way: measure(requests, args.hours) for way, requests in played.items()}
        if args.timeline:
            for way, requests in played.items():
                print(timeline(seed, way, requests))
        for way, r in results.items():
            totals[way].add(r)
        rows.append((seed, results))
    if args.seeds > 1:
        print("\n| Seed | Requests (cancellable) | " + " | ".join(
            f"({w}) saved" for w in WAYS) + " |")
        print("|---|---|" + "---|" * len(WAYS))
        for seed, results in rows:
            first = results["a"]
            print(f"| {seed} | {first.requests} ({first.cancellable}) | " + " | ".join(
                f"{r.saved}/{r.cancellable} {r.share:.0%}" for r in results.values()) + " |")
    if args.seeds > 1:
        better = [seed for seed, r in rows if r["c"].saved > r["a"].saved]
        full = [seed for seed, r in rows if r["c"].saved == r["a"].saved == r["a"].cancellable]
        worse = [seed for seed, r in rows if r["c"].saved < r["a"].saved]
        equal = [seed for seed, _ in rows if seed not in (*better, *full, *worse)]
        print(f"\n(c) against (a): better on {len(better)} days, both 100 % on {len(full)} "
              f"({', '.join(map(str, full)) or '—'}), equal below 100 % on {len(equal)} "
              f"({', '.join(map(str, equal)) or '—'}), worse on {len(worse)}"
              + (f" ({', '.join(map(str, worse))})" if worse else "") + ".")
    label = "All days" if args.seeds > 1 else f"Seed {args.seed}"
    print(f"\n{label}: {totals['a'].requests} requests, {totals['a'].cancellable} made while the "
          "order could still be cancelled.\n")
    print("| Way | Cancelled before picking | Median minutes, request → GSTK cancel | "
          f"… for requests made {args.hours} | Misses asked < 10 min before picking |")
    print("|---|---|---|---|---|")
    for way, name in WAYS.items():
        r = totals[way]
        median = f"{r.median:.0f}" if r.median is not None else "—"
        on_duty = f"{statistics.median(r.on_duty):.0f}" if r.on_duty else "—"
        print(f"| ({way}) {name} | {r.saved}/{r.cancellable} = **{r.share:.0%}** | {median} | "
              f"{on_duty} | {r.close_calls} of {r.cancellable - r.saved} |")
    shifts = 2 * args.seeds  # each day's, and the next morning's for the evening requests
    print(f"\n(c) asked Amazon {calls.searches / shifts:.0f} searchOrders a shift (plan: 1 every "
          f"{1 / SEARCH_ORDERS_RATE / 60:.0f} min, burst {SEARCH_ORDERS_BURST}) and "
          f"{calls.gets / shifts:.0f} getOrder a shift, {calls.busiest_minute} in its busiest "
          f"minute (plan: {GET_ORDER_RATE:g} a second, burst {GET_ORDER_BURST}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

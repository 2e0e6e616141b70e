"""Freshdesk, GSTK, LWA, SP-API and the feed-upload host as real HTTP servers on 127.0.0.1.

The request handlers are the sandbox's own (cancelbot/sandbox/): the same wire formats the
`--sandbox` runs and the tests use. This module only puts them behind
`http.server.ThreadingHTTPServer`, adds what a benchmark needs — a fixed latency per request,
Freshdesk's rate budget with its headers and 429s, and a log of every request with its open
interval — and keeps the world in memory instead of a JSON file, so no disk I/O on the server
side blurs the client's timings. Amazon's time is a `VirtualClock`: a feed takes
`feed_seconds` (default 180, minutes as in real life) on it, and the bench moves it on
(`world.store.clock.advance()`, or `Fakes.advance()`) between tickets as an agent's shift would,
or after a shift, without waiting for it.

Every server binds 127.0.0.1 only, on a port the OS picks.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from cancelbot import sandbox
from cancelbot.sandbox import amazon, freshdesk, gstk, hosts
from cancelbot.sandbox.seed import build_seed
from cancelbot.text import html_to_text

LOOPBACK = "127.0.0.1"
UPLOAD_BASE = f"https://{sandbox.UPLOAD_HOST}"

# Tickets the bench clones: 1001 is a CANCEL (GSTK awaiting preparation, Amazon unshipped),
# 1002 a CANNOT CANCEL answered by a ticket reply (requester is Amazon's relay address).
TEMPLATES = {"cancel": "1001", "cannot_cancel": "1002"}


FEED_SECONDS = 180.0  # how long Amazon takes over a feed, on the virtual clock


class VirtualClock:
    """Wall time plus an offset the bench moves on: `advance(60)` is a minute of the shift
    passing for Amazon at once. Seconds since the epoch, as the sandbox's clock."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds


class MemoryStore:
    """The sandbox's StateStore interface (read/update, clock, feed_seconds) over a dict held
    in memory.

    The server holds `lock` around each handler call, so a handler sees no concurrent change;
    handlers are sub-millisecond, and the simulated latency is slept outside the lock.
    """

    def __init__(self, state: dict[str, Any], *, feed_seconds: float = FEED_SECONDS) -> None:
        self.state = state
        self.lock = threading.Lock()
        self.clock = VirtualClock()
        self.feed_seconds = feed_seconds

    def read(self) -> dict[str, Any]:
        return self.state

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        yield self.state


@dataclass
class World:
    """The simulated accounts: the sandbox's seed plus cloned tickets, by branch."""

    store: MemoryStore
    tickets: dict[str, list[int]]


def make_world(
    counts: dict[str, int], first_id: int = 20001, *, feed_seconds: float = FEED_SECONDS,
    only_clones: bool = False, seed_open: bool = True,
) -> World:
    """The sandbox seed plus `counts[branch]` fresh tickets cloned from that branch's template,
    each with its own Amazon order (and GSTK order), so every run does the whole procedure.
    `feed_seconds`: how long Amazon takes over each feed, on the store's `VirtualClock`.
    `only_clones` (or `seed_open=False`, the same): the seed's own tickets are closed and its
    orders carry no buyer's request on Amazon, so a queue holds the clones alone."""
    state = build_seed(datetime.now(timezone.utc))
    seeded = list(state["freshdesk"]["tickets"].values())
    seeded_orders = list(state["amazon"]["orders"])
    by_branch: dict[str, list[int]] = {branch: [] for branch in counts}
    next_id = first_id
    for branch, count in counts.items():
        for _ in range(count):
            _clone_ticket(state, TEMPLATES[branch], next_id)
            by_branch[branch].append(next_id)
            next_id += 1
    if only_clones or not seed_open:
        for ticket in seeded:
            ticket["status"] = 5
        # …and Amazon shows no buyer's request on the seed's own orders, which the queue would
        # otherwise find there (queue: requests no ticket names).
        for order_id in seeded_orders:
            for item in state["amazon"]["orders"][order_id]["order"].get("orderItems", []):
                item.pop("cancellation", None)
    return World(MemoryStore(state, feed_seconds=feed_seconds), by_branch)


def _clone_ticket(state: dict[str, Any], template_id: str, new_id: int) -> None:
    (old_order,) = state["scenarios"][template_id]["order_ids"]
    # Same shape (3-7-7 digits), unique per ticket: the marketplace prefix is kept.
    new_order = f"{old_order[:3]}-{new_id % 10_000_000:07d}-{old_order[-7:]}"
    tickets = state["freshdesk"]["tickets"]
    ticket = copy.deepcopy(tickets[template_id])
    ticket["id"] = new_id
    for key in ("subject", "description", "description_text"):
        ticket[key] = ticket[key].replace(old_order, new_order)
    for conversation in ticket["conversations"]:
        conversation["id"] = state["counters"]["conversation"]
        state["counters"]["conversation"] += 1
        conversation["ticket_id"] = new_id
        conversation["body"] = conversation["body"].replace(old_order, new_order)
        conversation["body_text"] = html_to_text(conversation["body"])
    tickets[str(new_id)] = ticket
    state["scenarios"][str(new_id)] = {
        "order_ids": [new_order],
        "expected_branch": state["scenarios"][template_id]["expected_branch"],
    }

    gstk_orders = state["gstk"]["orders"]
    (gstk_old,) = [o for o in gstk_orders.values() if o["marketplace_order_id"] == old_order]
    gstk_new = copy.deepcopy(gstk_old)
    gstk_new["id"] = f"GS-B{new_id}"
    gstk_new["marketplace_order_id"] = new_order
    gstk_orders[gstk_new["id"]] = gstk_new

    entry = copy.deepcopy(state["amazon"]["orders"][old_order])
    entry["order"]["orderId"] = new_order
    digits = new_order.replace("-", "")
    for index, item in enumerate(entry["order"]["orderItems"], start=1):
        item["orderItemId"] = f"{digits[-13:]}{index}"
    state["amazon"]["orders"][new_order] = entry


class RateBudget:
    """Freshdesk's account-wide budget: `total` calls per fixed window of `window` seconds.

    A window opens with the first call after the previous one expired (and so is shared by every
    process of the account). Refused calls do not count. Every answer carries
    X-RateLimit-Total / -Remaining / -Used-CurrentRequest, as Freshdesk's do; a refusal is a 429
    with Retry-After (whole seconds, rounded up) until the window renews.
    """

    def __init__(self, total: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.window = window
        self.clock = clock
        self.lock = threading.Lock()
        self.window_start: float | None = None
        self.used = 0
        self.windows: list[tuple[float, int]] = []  # (start, calls) of every window opened

    def take(self) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, seconds until the window renews)."""
        with self.lock:
            now = self.clock()
            if self.window_start is None or now >= self.window_start + self.window:
                self.window_start, self.used = now, 0
                self.windows.append((now, 0))
            left = self.window_start + self.window - now
            if self.used >= self.total:
                return False, 0, left
            self.used += 1
            self.windows[-1] = (self.window_start, self.used)
            return True, self.total - self.used, left


@dataclass
class Record:
    service: str
    method: str
    target: str  # path and query, as sent
    status: int
    start: float  # time.perf_counter() when the request had been read
    end: float  # … when the answer had been written
    connection: tuple[str, int]  # the client's address: one per TCP connection


@dataclass
class Recorder:
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def between(self, start: float, end: float) -> list[Record]:
        with self.lock:
            return [r for r in self.records if r.start >= start and r.end <= end]


Handler = Callable[[httpx.Request, Any], httpx.Response]


class FakeService(ThreadingHTTPServer):
    daemon_threads = True
    # A client that crashes mid-request must not hang the bench at exit.
    block_on_close = False

    def __init__(self, name: str, handler: Handler, fakes: Fakes) -> None:
        super().__init__((LOOPBACK, 0), _RequestHandler)
        self.name = name
        self.handler = handler
        self.fakes = fakes

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client that reuses its connection can
    disable_nagle_algorithm = True  # header and body writes must not wait for an ACK
    server: FakeService

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - overrides stdlib
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        start = time.perf_counter()
        fakes = self.server.fakes
        if fakes.latency > 0:
            time.sleep(fakes.latency)
        response = self._answer(body)
        content = response.content
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        self.wfile.flush()
        fakes.recorder.add(Record(
            self.server.name, self.command, self.path, response.status_code, start,
            time.perf_counter(), self.client_address,
        ))

    def _answer(self, body: bytes) -> httpx.Response:
        fakes = self.server.fakes
        rate: dict[str, str] = {}
        if self.server.name == "freshdesk" and fakes.budget is not None:
            allowed, remaining, left = fakes.budget.take()
            rate = {
                "X-RateLimit-Total": str(fakes.budget.total),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Used-CurrentRequest": "1" if allowed else "0",
            }
            if not allowed:
                rate["Retry-After"] = str(max(1, math.ceil(left)))
                return httpx.Response(
                    429, json={"message": "You have exceeded the limit of requests per minute"},
                    headers=rate,
                )
        request = httpx.Request(
            self.command,
            f"{self.server.base_url}{self.path}",
            headers=[(k, v) for k, v in self.headers.items()],
            content=body,
        )
        with fakes.world.store.lock:
            response = self.server.handler(request, fakes.world.store)
            response.read()
        if self.server.name == "spapi" and UPLOAD_BASE.encode() in response.content:
            # Feed documents live on the upload server: hand out its loopback address.
            content = response.content.replace(UPLOAD_BASE.encode(), fakes.upload_url.encode())
            response = httpx.Response(
                response.status_code, headers=response.headers, content=content
            )
        response.headers.update(rate)
        return response


class Fakes:
    """The five servers, started together; `env()` is what a cancelbot process needs to use them."""

    def __init__(
        self,
        world: World,
        *,
        latency: float = 0.0,
        budget: RateBudget | None = None,
    ) -> None:
        self.world = world
        self.latency = latency
        self.budget = budget
        self.recorder = Recorder()
        self.servers = {
            "freshdesk": FakeService("freshdesk", freshdesk.handle, self),
            "gstk": FakeService("gstk", gstk.handle, self),
            "lwa": FakeService("lwa", amazon.handle_lwa, self),
            "spapi": FakeService("spapi", amazon.handle_spapi, self),
            "upload": FakeService("upload", amazon.handle_upload, self),
        }
        self.upload_url = self.servers["upload"].base_url
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Fakes:
        for server in self.servers.values():
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def advance(self, seconds: float) -> None:
        """Move Amazon's clock forward (the world's `VirtualClock`): it gets that much further
        with its feeds, at once."""
        self.world.store.clock.advance(seconds)

    def env(self) -> dict[str, str]:
        s = self.servers
        return {
            "FRESHDESK_URL": s["freshdesk"].base_url,
            "FRESHDESK_API_KEY": hosts.FRESHDESK_API_KEY,
            "GSTK_URL": f"{s['gstk'].base_url}/api",
            "GSTK_TOKEN": hosts.GSTK_TOKEN,
            "GSTK_ORDER_LINK": f"{s['gstk'].base_url}/orders/{{order_id}}",
            "LWA_TOKEN_URL": f"{s['lwa'].base_url}/auth/o2/token",
            "SPAPI_ENDPOINT": s["spapi"].base_url,
            "LWA_CLIENT_ID": hosts.LWA_CLIENT_ID,
            "LWA_CLIENT_SECRET": hosts.LWA_CLIENT_SECRET,
            "SPAPI_REFRESH_TOKEN": hosts.SPAPI_REFRESH_TOKEN,
            "SPAPI_SELLER_ID": hosts.SPAPI_SELLER_ID,
        }


def sequential_depth(records: list[Record]) -> int:
    """The longest chain of requests each of which began after the previous one had ended:
    the number of round trips a run had to wait for one after another."""
    ordered = sorted(records, key=lambda r: r.end)
    chain: list[int] = []
    for i, record in enumerate(ordered):
        before = [chain[j] for j in range(i) if ordered[j].end <= record.start]
        chain.append(1 + max(before, default=0))
    return max(chain, default=0)

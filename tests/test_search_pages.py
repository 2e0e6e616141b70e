"""FreshdeskClient.search_all: every page of a search, pages 2 to 10 read at once, paced.

A fake Freshdesk behind httpx.MockTransport serves the pages and an account-wide budget; the
pacer's clock is fake and only its sleep moves it, so nothing here waits for real.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cancelbot.config import FreshdeskSettings
from cancelbot.errors import ServiceError
from cancelbot.services.freshdesk import SEARCH_WORKERS, FreshdeskClient
from cancelbot.services.http import RatePacer, RetryPolicy

BASE = "https://acme.freshdesk.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class PagedFreshdesk:
    """`count` open tickets, 30 a page; `total` calls per `window` seconds for the account,
    of which `used` are spent already (other agents); 429 beyond. `gate`: a barrier the first
    requests after page 1 must all reach together (it breaks unless they are in flight at once).
    """

    def __init__(self, count: int, clock: Clock, *, total: int = 1000, used: int = 0,
                 window: float = 60.0, gate: threading.Barrier | None = None) -> None:
        self.count, self.clock, self.total, self.used, self.window = count, clock, total, used, \
            window
        self.gate = gate
        self.start = clock()
        self.pages: list[int] = []
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(parse_qs(urlsplit(str(request.url)).query)["page"][0])
        with self._lock:
            now = self.clock()
            if now >= self.start + self.window:
                self.start, self.used = now, 0
            headers = {"X-RateLimit-Total": str(self.total)}
            if self.used >= self.total:
                self.refused += 1
                left = int(self.start + self.window - now) + 1
                return httpx.Response(429, json={"message": "limit"}, headers={
                    **headers, "X-RateLimit-Remaining": "0", "Retry-After": str(left)})
            self.used += 1
            self.pages.append(page)
            headers["X-RateLimit-Remaining"] = str(self.total - self.used)
            gated = self.gate is not None and len(self.pages) <= 1 + self.gate.parties
        if gated and page > 1:
            self.gate.wait()  # broken (an error) unless `parties` pages are in flight together
        ids = range((page - 1) * 30 + 1, min(page * 30, self.count) + 1)
        results = [{"id": 5000 + n, "subject": f"Annulation {n}", "status": 2,
                    "created_at": "2026-11-27T09:00:00Z", "tags": []} for n in ids]
        return httpx.Response(200, json={"total": self.count, "results": results},
                              headers=headers)


def client(fake: PagedFreshdesk, pacer: RatePacer | None = None) -> FreshdeskClient:
    return FreshdeskClient(
        FreshdeskSettings(BASE, "key"), transport=httpx.MockTransport(fake), pacer=pacer,
        retry=RetryPolicy(attempts=2, sleep=lambda seconds: None),
    )


def test_ten_pages_are_all_read_once_in_order_with_pages_two_on_at_once() -> None:
    # If pages 2.. went one after another, the barrier would break: the first SEARCH_WORKERS
    # of them must be in flight together.
    assert SEARCH_WORKERS > 1
    gate = threading.Barrier(SEARCH_WORKERS, timeout=10)
    fake = PagedFreshdesk(300, Clock(), gate=gate)
    with client(fake) as freshdesk:
        pages = freshdesk.search_all("status:2")
    assert fake.pages[0] == 1, "page 1 first: it says how many pages there are"
    assert sorted(fake.pages) == list(range(1, 11)), "every page, each once"
    assert [p.total for p in pages] == [300] * 10
    ids = [t.id for p in pages for t in p.tickets]
    assert ids == [5000 + n for n in range(1, 301)], "pages come back in page order"
    assert not gate.broken


def test_pages_in_parallel_stay_within_the_pacer() -> None:
    # 55 of the account's 60 calls are spent: page 1 and three more fit, then the pacer waits
    # for the window to renew (on its fake clock) instead of letting Freshdesk answer 429.
    clock = Clock()
    fake = PagedFreshdesk(300, clock, total=60, used=55)
    pacer = RatePacer(60, reserve=1, clock=clock, sleep=clock.sleep)
    with client(fake, pacer) as freshdesk:
        pages = freshdesk.search_all("status:2")
    assert fake.refused == 0, "no 429"
    assert sorted(fake.pages) == list(range(1, 11)) and len(pages) == 10
    assert clock.sleeps, "the pacer made the later pages wait for the window"
    assert clock.now >= 1_000_000.0 + 60, "they went out in the next window"


@pytest.mark.parametrize(("count", "max_pages", "read"), [
    (11, 10, [1]),  # a page that is not full is the last
    (45, 10, [1, 2]),
    (60, 10, [1, 2]),  # exactly full pages: the total says there is no third
    (450, 10, list(range(1, 11))),  # Freshdesk serves 10 pages at most
    (300, 3, [1, 2, 3]),
])
def test_only_the_pages_there_are(count: int, max_pages: int, read: list[int]) -> None:
    fake = PagedFreshdesk(count, Clock())
    with client(fake) as freshdesk:
        pages = freshdesk.search_all("status:2", max_pages=max_pages)
    assert sorted(fake.pages) == read and len(pages) == len(read)


def test_a_failing_page_fails_the_search() -> None:
    clock = Clock()

    def broken(request: httpx.Request) -> httpx.Response:
        if "page=4" in str(request.url):
            return httpx.Response(403, json={"code": "access_denied"})
        return PagedFreshdesk(300, clock)(request)

    freshdesk = FreshdeskClient(FreshdeskSettings(BASE, "key"),
                                transport=httpx.MockTransport(broken))
    with freshdesk, pytest.raises(ServiceError):
        freshdesk.search_all("status:2")


def test_max_pages_beyond_freshdesks_ten_is_refused() -> None:
    with client(PagedFreshdesk(300, Clock())) as freshdesk, pytest.raises(ValueError):
        freshdesk.search_all("status:2", max_pages=11)

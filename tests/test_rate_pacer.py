"""RatePacer: slowing down before Freshdesk's rate budget runs out, behind httpx.MockTransport.

Time is a fake clock that only the pacer's sleep moves: nothing here waits for real.
"""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest

from cancelbot.config import FreshdeskSettings
from cancelbot.services.freshdesk import FreshdeskClient
from cancelbot.services.http import RatePacer, RetryPolicy, ServiceClient

BASE = "https://acme.freshdesk.com"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class BudgetedFreshdesk:
    """`total` calls per fixed window of `window` seconds, opened by the first call after the
    last one ended, as an account-wide budget; 429 with Retry-After beyond it."""

    def __init__(self, clock: Clock, total: int, window: float) -> None:
        self.clock, self.total, self.window = clock, total, window
        self.start: float | None = None
        self.used = 0
        self.refused = 0
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        if self.start is None or now >= self.start + self.window:
            self.start, self.used = now, 0
        headers = {"X-RateLimit-Total": str(self.total)}
        if self.used >= self.total:
            self.refused += 1
            left = self.start + self.window - now
            headers |= {"X-RateLimit-Remaining": "0", "Retry-After": str(int(left) + 1)}
            return httpx.Response(429, json={"message": "limit"}, headers=headers)
        self.used += 1
        self.calls += 1
        headers["X-RateLimit-Remaining"] = str(self.total - self.used)
        return httpx.Response(200, json={"ok": True}, headers=headers)


def answer(remaining: int, total: int = 60, status: int = 200, **extra: str) -> httpx.Response:
    headers = {"X-RateLimit-Total": str(total), "X-RateLimit-Remaining": str(remaining), **extra}
    return httpx.Response(status, headers=headers)


def test_no_wait_while_the_budget_lasts() -> None:
    clock = Clock()
    pacer = RatePacer(10, reserve=3, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0  # nothing known yet
    pacer.observe(answer(remaining=50))
    for _ in range(5):
        assert pacer.wait_turn() == 0
    assert clock.sleeps == []


def test_at_the_reserve_it_waits_for_the_window_to_renew() -> None:
    clock = Clock()
    pacer = RatePacer(10, reserve=3, clock=clock, sleep=clock.sleep)
    pacer.observe(answer(remaining=40))  # the window's first answer seen: now
    clock.now += 4
    pacer.observe(answer(remaining=3))
    waited = pacer.wait_turn()
    # The window began at the latest when its first answer was seen: it renews 6 s from now.
    assert waited == pytest.approx(6 + RatePacer.MARGIN)
    assert clock.sleeps == [pytest.approx(6 + RatePacer.MARGIN)]


def test_remaining_jumping_up_shows_a_new_window() -> None:
    clock = Clock()
    pacer = RatePacer(10, reserve=3, clock=clock, sleep=clock.sleep)
    pacer.observe(answer(remaining=2))
    clock.now += 1
    pacer.observe(answer(remaining=58))  # renewed meanwhile (someone else's call opened it)
    assert pacer.wait_turn() == 0


def test_an_old_reading_does_not_hold_anyone_back() -> None:
    clock = Clock()
    pacer = RatePacer(10, reserve=3, clock=clock, sleep=clock.sleep)
    pacer.observe(answer(remaining=1))
    clock.now += 11  # that window is over, whatever it said
    assert pacer.wait_turn() == 0


def test_a_429_waits_for_retry_after_and_not_longer() -> None:
    clock = Clock()
    pacer = RatePacer(60, reserve=3, clock=clock, sleep=clock.sleep)
    pacer.observe(answer(remaining=0, status=429, **{"Retry-After": "7"}))
    assert pacer.wait_turn() == pytest.approx(7 + RatePacer.MARGIN)


def test_answers_without_rate_headers_change_nothing() -> None:
    clock = Clock()
    pacer = RatePacer(10, clock=clock, sleep=clock.sleep)
    pacer.observe(httpx.Response(200))
    pacer.observe(httpx.Response(200, headers={"X-RateLimit-Remaining": "soon"}))
    assert pacer.remaining is None
    assert pacer.wait_turn() == 0


def test_the_next_process_starts_from_the_last_reading(tmp_path) -> None:
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    first = RatePacer(10, reserve=3, state_file=state, clock=clock, sleep=clock.sleep)
    first.observe(answer(remaining=2))
    clock.now += 2
    second = RatePacer(10, reserve=3, state_file=state, clock=clock, sleep=clock.sleep)
    assert second.wait_turn() == pytest.approx(8 + RatePacer.MARGIN)


def test_calls_in_flight_count_before_the_server_has_seen_them(tmp_path) -> None:
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    one = RatePacer(10, reserve=1, state_file=state, clock=clock, sleep=clock.sleep)
    two = RatePacer(10, reserve=1, state_file=state, clock=clock, sleep=clock.sleep)
    one.observe(answer(remaining=3))
    assert one.wait_turn() == 0  # 3 left: goes, 2 left for everyone on this machine
    assert two.wait_turn() == 0  # 2 left: goes, 1 left
    one.observe(answer(remaining=2))  # the server has seen one of the two so far
    assert two.wait_turn() > 0  # still only 1 left: wait for the window


def test_a_damaged_state_file_is_ignored(tmp_path) -> None:
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    state.write_text("{not json")
    pacer = RatePacer(10, state_file=state, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0


def test_the_default_reserve_grows_with_the_budget() -> None:
    pacer = RatePacer(60)
    assert pacer.reserve == 1  # nothing known yet
    pacer.observe(answer(remaining=100, total=400))
    assert pacer.reserve == 4


@pytest.mark.parametrize("total, window, calls", [(10, 2.0, 35), (60, 10.0, 175), (5, 60.0, 12)])
def test_a_client_behind_the_pacer_never_meets_a_429_and_waits_no_more_than_needed(
    total: int, window: float, calls: int
) -> None:
    clock = Clock()
    server = BudgetedFreshdesk(clock, total, window)
    pacer = RatePacer(window, reserve=1, clock=clock, sleep=clock.sleep)
    client = ServiceClient(
        "Freshdesk", BASE, transport=httpx.MockTransport(server),
        retry=RetryPolicy(sleep=clock.sleep), pacer=pacer,
    )
    started = clock()
    with client:
        for _ in range(calls):
            client.request("GET", "/api/v2/tickets/1")
            clock.now += 0.01  # each call takes a little time
    assert server.refused == 0
    assert server.calls == calls
    # Windows hold total - reserve calls each; the last one need not end.
    windows = -(-calls // (total - 1))
    elapsed = clock() - started
    assert elapsed <= (windows - 1) * (window + RatePacer.MARGIN) + calls * 0.01 + 1e-6
    assert pacer.waited == pytest.approx(sum(clock.sleeps))


def test_freshdesk_client_opts_in() -> None:
    clock = Clock()
    server = BudgetedFreshdesk(clock, total=3, window=60.0)
    pacer = RatePacer(60, reserve=1, clock=clock, sleep=clock.sleep)
    tickets = FreshdeskClient(
        FreshdeskSettings(url=BASE, api_key="k"),
        transport=httpx.MockTransport(
            lambda request: server(request) if request.method == "PUT" else httpx.Response(404)
        ),
        retry=RetryPolicy(sleep=clock.sleep),
        pacer=pacer,
    )
    with tickets:
        for status in (2, 3, 4, 5):
            tickets.set_status(7, status)
    assert server.refused == 0
    assert clock.sleeps == [pytest.approx(60 + RatePacer.MARGIN)]


# -- the state file is checked, not trusted (issue 11 §7) ----------------------------------------


def reading(**fields: object) -> str:
    return json.dumps({"total": 50, "reading": 0, "remaining": 0, **fields})


def rate_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "rate reading" in r.getMessage()]


def test_a_reading_that_would_outlast_the_window_is_ignored_with_a_warning(tmp_path, caplog):
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    # A window "opened" 10 s from now with nothing left: believed, it holds the run for 70 s
    # of a 60 s window.
    state.write_text(reading(window_from=clock.now + 10))
    pacer = RatePacer(60, state_file=state, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0
    assert pacer.wait_turn() == 0
    assert clock.sleeps == []
    assert len(rate_warnings(caplog)) == 1, "said once"


@pytest.mark.parametrize("text", [
    "[1, 2, 3]",
    '{"total": 50}',
    reading(window_from="1000000"),
    reading(window_from=True),
    reading(remaining="0", window_from=999_990),
    reading(reading=-5, window_from=999_990),
    reading(remaining=10, reading=5, window_from=999_990),
    reading(total=10**9, window_from=999_990),
    " " * 5000,
], ids=["list", "missing fields", "text time", "bool time", "text count", "negative reading",
        "remaining above reading", "absurd total", "too long"])
def test_a_state_file_of_the_wrong_shape_is_ignored_with_a_warning(tmp_path, caplog, text):
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    state.write_text(text)
    pacer = RatePacer(60, state_file=state, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0 and clock.sleeps == []
    assert len(rate_warnings(caplog)) == 1
    pacer.observe(answer(remaining=40, total=50))
    assert json.loads(state.read_text())["reading"] == 40, "replaced by a good reading"


def test_a_sound_reading_is_still_honoured(tmp_path, caplog):
    clock = Clock()
    state = tmp_path / "freshdesk-rate.json"
    state.write_text(reading(window_from=clock.now - 20))
    pacer = RatePacer(60, state_file=state, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == pytest.approx(40 + RatePacer.MARGIN)
    assert rate_warnings(caplog) == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_link_in_place_of_the_state_file_is_not_followed(tmp_path, caplog):
    clock = Clock()
    target = tmp_path / "elsewhere.json"
    planted = reading(window_from=clock.now - 2)  # sound, and would make the run wait
    target.write_text(planted)
    state = tmp_path / "freshdesk-rate.json"
    state.symlink_to(target)
    pacer = RatePacer(60, state_file=state, clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0 and clock.sleeps == []
    assert any("symbolic link" in m for m in rate_warnings(caplog))
    pacer.observe(answer(remaining=40, total=50))
    assert not state.is_symlink(), "the link is replaced by a file of ours"
    assert target.read_text() == planted, "its target is untouched"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

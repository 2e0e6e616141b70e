"""The loopback benchmark runs, and what it measures is structure, never timing.

`bench/run.py --quick` starts the fake services on 127.0.0.1, runs real `cancelbot process`
subprocesses, a small team against a tiny Freshdesk budget, history/feeds/queue on a filled
journal, and a `queue --yes` shift whose feeds outlast it. Timings on a shared CI machine say
little; the counts below hold on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fakes import RateBudget, Record, VirtualClock, sequential_depth  # noqa: E402
from bench.run import (  # noqa: E402
    IMPORT_TYPER,
    LEVELS,
    PROCESS,
    SCALE_COMMANDS,
    TARGETS_HEADER,
)


def record(start: float, end: float) -> Record:
    return Record("freshdesk", "GET", "/", 200, start, end, ("127.0.0.1", 1))


def test_depth_counts_round_trips_one_after_another() -> None:
    assert sequential_depth([]) == 0
    # a ; b ∥ c ; d  →  three levels
    chain = [record(0, 1), record(1.1, 2), record(1.2, 2.1), record(2.2, 3)]
    assert sequential_depth(chain) == 3


def test_rate_budget_refuses_beyond_the_window_and_renews() -> None:
    now = [0.0]
    budget = RateBudget(total=2, window=10, clock=lambda: now[0])
    assert budget.take()[:2] == (True, 1)
    assert budget.take()[:2] == (True, 0)
    allowed, remaining, left = budget.take()
    assert (allowed, remaining, left) == (False, 0, 10)
    now[0] = 10.0
    assert budget.take()[:2] == (True, 1)
    assert [used for _, used in budget.windows] == [2, 1]


@pytest.mark.slow
def test_quick_bench_runs_every_ticket_and_the_team_meets_no_429(tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert out.exists(), result.stdout + result.stderr
    data = json.loads(out.read_text())
    runs = data["tickets"]["runs"]
    assert runs and all(r["exit_code"] == 0 for r in runs), result.stdout
    assert all(r["final_status"] == (5 if r["branch"] == "cancel" else 4) for r in runs)
    assert all(r["too_many"] == 0 for r in runs)
    if hasattr(os, "wait4"):  # each run's CPU, from the same wait4 as its peak memory
        assert all(r["cpu"] is not None and 0 < r["cpu"] for r in runs)
    for branch, levels in LEVELS.items():
        # Never below the minimum chain: a shorter one would mean the bench missed requests.
        # (Whether it is exactly the minimum is the bench's --strict, reported in its table.)
        assert min(r["depth"] for r in runs if r["branch"] == branch) >= levels, branch
        assert all(r["by_service"].get("freshdesk") for r in runs if r["branch"] == branch)
    # The LWA token is fetched once, then read from the cache by every later process.
    assert sum(r["by_service"].get("lwa", 0) for r in runs) == 1
    assert all(w["ok"] == w["runs"] for w in data["tickets"]["warm"].values())
    rate = data["rate"]
    assert rate["429s"] == 0 and rate["done"] == rate["tickets"], rate
    # Amazon's clock moved on after the tickets: `cancelbot feeds` settled every feed.
    feeds = data["tickets"]["feeds"]
    assert feeds["exit_code"] == 0 and set(feeds["cancellations"]) == {"done"}, feeds
    # Start-up: `process` up to its first request, and `import typer`, from the same runs.
    startup = data["startup"]
    assert len(startup[PROCESS]["runs"]) == len(startup[IMPORT_TYPER]["runs"]) == 2
    assert startup["imports"]["found_connect"]
    assert startup["imports"]["before_first_request"]["cancelbot's own modules"] > 0
    # Scale: every command ran on both journals; search_all read the same pages.
    scale = data["scale"]
    assert scale["journal"]["jobs"] == 2000
    assert set(scale["commands"]) == set(SCALE_COMMANDS)
    assert scale["search_pages"]["pages"] == 10
    # The shift closed every ticket while Amazon was still on each feed, and `cancelbot
    # feeds` settled them all once the virtual clock had moved on.
    shift = data["shift"]
    assert shift["exit_code"] == 0 and shift["done"] == shift["tickets"], shift
    assert shift["feeds_created"] == shift["cancel"] == shift["unfinished_at_end"], shift
    assert shift["feeds_exit_code"] == 0 and shift["cancelled_after"] == shift["cancel"], shift
    assert result.returncode == 0, result.stdout
    assert TARGETS_HEADER in result.stdout
    assert "| `process`: first request ≤ 2 × `import typer` |" in result.stdout
    assert "| A shift never waits for a feed |" in result.stdout
    assert "Ticket by ticket, against the same target: CANCEL " in result.stdout


def test_the_virtual_clock_moves_on_without_waiting() -> None:
    clock = VirtualClock()
    before = clock()
    clock.advance(180)
    assert 180 <= clock() - before < 190


def test_the_simulated_day_drives_the_real_queue_and_discovery(monkeypatch) -> None:
    """One buyer asks at 10:05 to cancel an order the 10:30 wave will pick; Amazon's email
    reaches Freshdesk at 10:40. Oldest first, from Freshdesk, cannot save it; the watching
    shift that searches Amazon can. (The day is built by hand: nothing random is asserted.)"""
    from bench import day

    def one_order(args, seed):
        order = day.Order("402-1234567-0000001", placed=10 * 3600, picked=10.5 * 3600,
                          requested=10 * 3600 + 300, emailed=10 * 3600 + 2400)
        return day.World({order.order_id: order}, {10_000: order.order_id})

    monkeypatch.setattr(day, "make_world", one_order)
    args = day.parse([])
    results = {way: day.measure(day.simulate(args, 1, way), args.hours) for way in day.WAYS}
    assert [(r.cancellable, r.saved) for r in results.values()] == [(1, 0), (1, 0), (1, 1)]
    [minutes] = results["c"].minutes
    assert 4 <= minutes <= 10, "seen on Amazon 2 min later, a search, the bell, the cancel"


def test_the_watch_that_knows_the_waves_reaches_a_request_made_minutes_before_one(monkeypatch):
    """Asked at 07:53 for the 08:00 wave, seen on Amazon from 07:55. Searching every 3 min
    (07:54, 07:57) finds it too late for the bell and an agent; searching at every look in the
    rush before the wave (waves.py) finds it at 07:55, and it is cancelled at 07:58:30."""
    from bench import day

    def one_order(args, seed):
        order = day.Order("402-1234567-0000001", placed=7 * 3600, picked=8 * 3600,
                          requested=7 * 3600 + 53 * 60, emailed=8 * 3600 + 40 * 60)
        return day.World({order.order_id: order}, {10_000: order.order_id})

    monkeypatch.setattr(day, "make_world", one_order)
    [blind] = day.simulate(day.parse(["--no-waves"]), 1, "c")
    [knowing] = day.simulate(day.parse([]), 1, "c")
    assert blind.cancelled is None and blind.seen == 7 * 3600 + 57 * 60
    assert knowing.seen == 7 * 3600 + 55 * 60 and knowing.bell == knowing.seen
    assert knowing.cancelled == 7 * 3600 + 58 * 60 + 30

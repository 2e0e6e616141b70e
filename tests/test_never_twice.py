"""Issue 10, "never twice, for real": long threads, the claim race, GSTK's 409 on a cancelled
order, and one cancelbot note per finished ticket (who may ask: test_order_check.py).

Two computers are two journals (two homes) on one sandbox, run in threads of this process;
delays and crashes go in through FaultyTransport (tests/fakes.py).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest
from fakes import (
    AGENT_ID,
    ORDER_1001,
    ORDER_1002,
    STEPS,
    Crash,
    FaultyTransport,
    ScriptedAgent,
    counts,
    journal_dir,
    run,
    two_laptops,
)

from cancelbot import sandbox
from cancelbot.errors import Incomplete, NeedsHuman, TicketBusy
from cancelbot.journal import Journal
from cancelbot.sandbox import load
from cancelbot.sandbox.seed import CANCELLED
from cancelbot.sandbox.state import StateStore, now_iso


def edit(home: Path, change) -> None:
    with StateStore(home).update() as state:
        change(state)


def lengthen(home: Path, ticket_id: int, count: int) -> None:
    """Give the ticket `count` more conversations (a long exchange with the buyer)."""
    def add(state):
        ticket = state["freshdesk"]["tickets"][str(ticket_id)]
        for n in range(count):
            conversation_id = state["counters"]["conversation"]
            state["counters"]["conversation"] += 1
            text = f"Message {n} about something else entirely."
            ticket["conversations"].append({
                "id": conversation_id, "body": f"<p>{text}</p>", "body_text": text,
                "incoming": n % 2 == 0, "private": n % 2 == 1, "source": 0 if n % 2 == 0 else 2,
                "created_at": now_iso(), "updated_at": now_iso()})
    edit(home, add)


def cancelbot_notes(home: Path, ticket_id: int) -> list[str]:
    ticket = load(home)["freshdesk"]["tickets"][str(ticket_id)]
    return [c["body_text"] for c in ticket["conversations"]
            if c["private"] and c["body_text"].startswith("cancelbot:")]


def lost_answer() -> None:
    raise httpx.ReadTimeout("the answer was lost")


# -- 1. the whole thread -------------------------------------------------------------------------


def test_a_lost_reply_on_a_15_conversation_ticket_is_sent_once(home: Path) -> None:
    lengthen(home, 1002, 14)  # 15 conversations before cancelbot adds its own
    faults = FaultyTransport(home)
    faults.hooks_after[("POST", "/api/v2/tickets/1002/reply")] = lost_answer
    with pytest.raises(Incomplete, match="Not known yet whether this went through"):
        run(home, 1002, ScriptedAgent(answers=[True]), faults)
    # Another computer (its own journal) reruns it: the claim and the reply are past the first
    # ten conversations, and are found all the same.
    agent = ScriptedAgent(answers=[True, True])
    outcome = run(home, 1002, agent, journal_home=home / "laptop-b")
    assert agent.asked == ["Process it again anyway?", "Send this reply to the buyer?"]
    assert "reply already on the ticket" in outcome.actions[0].what
    c = counts(home, 1002, ORDER_1002, [])
    assert (c.replies, c.status) == (1, 4)


def test_on_a_long_ticket_a_second_computer_sees_the_first_ones_claim(home: Path) -> None:
    lengthen(home, 1001, 12)
    crashed = FaultyTransport(home, STEPS["gstk_cancel"], "crash_before")
    with pytest.raises(Crash):
        run(home, 1001, ScriptedAgent(yes=True), crashed, journal_home=home / "a")
    before = load(home)
    with pytest.raises(TicketBusy, match="another run is handling it") as info:
        run(home, 1001, ScriptedAgent(yes=True), journal_home=home / "b")
    assert info.value.exit_code == 4
    assert load(home) == before


# -- 2. the claim race ---------------------------------------------------------------------------


def test_a_rival_that_finished_before_my_claim_landed_still_wins(home: Path) -> None:
    """Run B reads the ticket, then its claim is slow; meanwhile run A claims, cancels and
    turns its claim into the final note. B's claim lands after: A's note, older than B's and
    new to B, still says A has the ticket — B takes its claim back and changes nothing."""
    b_claiming, a_done = threading.Event(), threading.Event()

    def slow_claim(request: httpx.Request) -> None:
        b_claiming.set()
        assert a_done.wait(30)

    slow = FaultyTransport(home, STEPS["claim_note"], before=slow_claim)
    results: list[object] = []

    def laptop_b() -> None:
        try:
            results.append(run(home, 1001, ScriptedAgent(yes=True), slow,
                               journal_home=home / "laptop-b"))
        except Exception as exc:  # noqa: BLE001 - the loser's error is the point
            results.append(exc)

    b = threading.Thread(target=laptop_b)
    b.start()
    try:
        assert b_claiming.wait(30)
        fast = FaultyTransport(home)
        outcome = run(home, 1001, ScriptedAgent(yes=True), fast, journal_home=home / "laptop-a")
        assert outcome.exit_code == 0 and outcome.branch == "cancel"
    finally:
        a_done.set()
        b.join(30)
    (lost,) = results
    assert isinstance(lost, TicketBusy) and "claimed ticket #1001 first" in str(lost)
    c = counts(home, 1001, ORDER_1001, fast.applied + slow.applied)
    assert (c.gstk_cancels, c.feeds, c.replies, c.final_notes, c.claim_notes, c.status) == \
        (1, 1, 0, 1, 0, 5)
    assert len(cancelbot_notes(home, 1001)) == 1


def jitter(rng: random.Random, lock: threading.Lock):
    # Mostly quick, sometimes long enough for the other run to finish in between.
    def pause(request: httpx.Request) -> None:
        with lock:
            seconds = rng.choice((0, 0, 0, 0.002, 0.01, 0.05, 0.15, 0.4))
        time.sleep(seconds)
    return pause


def freshdesk(request: httpx.Request) -> bool:
    return request.url.host.startswith("sandbox.freshdesk")


@pytest.mark.slow
def test_two_computers_with_delays_at_every_claim_step_act_once_in_50_trials(tmp_path):
    """Every Freshdesk call of both runs — the read, the claim, the re-read, the assignment,
    the final note — is delayed at random before and after; in no trial is the order
    cancelled, fed or replied to twice, and the ticket ends with one cancelbot note."""
    lock = threading.Lock()
    for trial in range(50):
        home = tmp_path / f"trial-{trial}"
        sandbox.reset(home)
        rng = random.Random(trial)
        wires = [FaultyTransport(home, freshdesk, before=jitter(rng, lock),
                                 after=jitter(rng, lock)) for _ in range(2)]
        outcomes = two_laptops(home, wires)
        acted = [o for o in outcomes if not isinstance(o, Exception) and o.actions]
        # The other run changed nothing: it stopped (another run has it), found the ticket
        # finished, or left it to a person once the first run's changes showed.
        stood_back = [o for o in outcomes if isinstance(o, NeedsHuman)
                      or (not isinstance(o, Exception) and not o.actions)]
        assert len(acted) == 1 and len(stood_back) == 1, (trial, outcomes)
        c = counts(home, 1001, ORDER_1001, wires[0].applied + wires[1].applied)
        assert (c.gstk_cancels, c.feeds, c.replies, c.status) == (1, 1, 0, 5), (trial, c)
        assert cancelbot_notes(home, 1001)[0].startswith("cancelbot: order"), trial
        assert len(cancelbot_notes(home, 1001)) == 1, (trial, cancelbot_notes(home, 1001))


# -- 3. GSTK's 409 on an order already cancelled ---------------------------------------------


def test_a_409_for_an_order_already_cancelled_goes_to_the_already_cancelled_branch(home):
    """A colleague cancels in GSTK between the lookup and the cancel, and GSTK answers 409
    with 'Annulée': cancelbot reads the order again and finishes the *already cancelled*
    branch — Amazon cancelled, ticket closed — instead of telling the buyer it is too late."""
    gstk = FaultyTransport(home, STEPS["gstk_cancel"], "gstk_409")

    def colleague(request: httpx.Request) -> None:
        edit(home, lambda s: s["gstk"]["orders"]["GS-1048213"].update(status=CANCELLED))

    gstk.before = colleague
    agent = ScriptedAgent(answers=[True])  # one yes: cancel everywhere and close
    outcome = run(home, 1001, agent, gstk)
    assert outcome.branch == "already_cancelled", outcome.reason
    assert agent.asked == ["Cancel this order in GSTK and on Amazon, and close the ticket?"]
    c = counts(home, 1001, ORDER_1001, gstk.applied)
    assert (c.gstk_cancels, c.feeds, c.amazon_status, c.replies, c.final_notes, c.status) == \
        (0, 1, "CANCELLED", 0, 1, 5)
    assert "was already cancelled in GSTK" in cancelbot_notes(home, 1001)[0]


def test_a_409_for_an_order_in_preparation_still_switches_to_the_reply(home):
    gstk = FaultyTransport(home, STEPS["gstk_cancel"], "gstk_409")
    gstk.before = lambda r: edit(home, lambda s: s["gstk"]["orders"]["GS-1048213"].update(
        status="En cours de préparation"))
    outcome = run(home, 1001, ScriptedAgent(answers=[True, True]), gstk)
    assert outcome.branch == "cannot_cancel"
    c = counts(home, 1001, ORDER_1001, gstk.applied)
    assert (c.feeds, c.replies, c.status) == (0, 1, 4)


# -- 4. one cancelbot note per finished ticket ---------------------------------------------------


def test_a_killed_runs_claim_is_folded_into_the_one_final_note(home: Path) -> None:
    crashed = FaultyTransport(home, STEPS["gstk_cancel"], "crash_before")
    with pytest.raises(Crash):
        run(home, 1001, ScriptedAgent(yes=True), crashed, journal_home=home / "a")
    agent = ScriptedAgent(answers=[True, True])  # go on despite the claim; cancel
    run(home, 1001, agent, journal_home=home / "b")
    (note,) = cancelbot_notes(home, 1001)
    assert note.startswith("cancelbot: order 402-3815274-6120358 cancelled in GSTK")
    assert "Took over from the unfinished run of" in note


def test_a_killed_claim_then_an_immediate_rerun_leaves_one_note(home: Path) -> None:
    killed = FaultyTransport(home, STEPS["claim_note"], "crash_after")
    with pytest.raises(Crash):
        run(home, 1001, ScriptedAgent(yes=True), killed)
    run(home, 1001, ScriptedAgent(yes=True))
    (note,) = cancelbot_notes(home, 1001)
    assert note.startswith(f"cancelbot: order {ORDER_1001} cancelled in GSTK")
    with Journal.open(journal_dir(home)) as journal:
        assert journal.last_job(1001).state == "done"


def test_a_stray_claim_left_by_a_race_loser_is_removed_at_the_end(home: Path) -> None:
    stray = ("cancelbot: handling order 402-3815274-6120358: Bob started cancelbot on this "
             "ticket at 2026-01-01 10:00 UTC. Another run should leave it alone. "
             "(cancelbot ref 0a1b2c3d4e5f)")

    def loser_killed(request: httpx.Request) -> None:  # after our claim, before our end
        edit(home, lambda s: s["freshdesk"]["tickets"]["1001"]["conversations"].append({
            "id": 99999999999, "body": f"<p>{stray}</p>", "body_text": stray,
            "private": True, "incoming": False, "source": 2, "created_at": now_iso()}))

    wire = FaultyTransport(home, STEPS["gstk_cancel"], before=loser_killed)
    run(home, 1001, ScriptedAgent(yes=True), wire, agent_id=AGENT_ID)
    assert [n[:16] for n in cancelbot_notes(home, 1001)] == ["cancelbot: order"]

"""The ticket is the team's shared record (issue 3 §3), and one run per ticket at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from fakes import (
    AGENT_ID,
    ORDER_1001,
    STEPS,
    FaultyTransport,
    ScriptedAgent,
    as_found,
    counts,
    journal_dir,
    run,
    two_laptops,
)

from cancelbot.errors import Declined, NeedsHuman, TicketBusy
from cancelbot.journal import Journal
from cancelbot.sandbox import UPLOAD_HOST, load
from cancelbot.sandbox.state import StateStore

OTHER_AGENT = 48000000777


def freshdesk(home: Path) -> dict:
    return load(home)["freshdesk"]


def assign(home: Path, ticket_id: int, agent_id: int) -> None:
    with StateStore(home).update() as state:
        state["freshdesk"]["tickets"][str(ticket_id)]["responder_id"] = agent_id


def test_a_declined_confirmation_changes_nothing_anywhere(tmp_path: Path) -> None:
    before = load(tmp_path)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined):
        run(tmp_path, 1001, agent)
    assert agent.questions == ["Cancel this order in GSTK and on Amazon, and close the ticket?"]
    # The claim posted beside the lookups was taken back: the ticket is as it was found.
    assert as_found(load(tmp_path)) == as_found(before)
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert journal.last_job(1001) is None and journal.open_job(1001) is None
        assert {e.step for e in journal.history()} == {"claim_note", "unclaim_note"}


def test_a_dry_run_writes_nothing_and_leases_nothing(tmp_path: Path) -> None:
    wire = FaultyTransport(tmp_path)
    with Journal.open(journal_dir(tmp_path)) as journal, journal.lease(1001):
        # Another process holds the ticket: a dry run still reads it, and changes nothing.
        outcome = run(tmp_path, 1001, ScriptedAgent(), wire, dry_run=True)
        assert journal.history() == []
    assert outcome.dry_run and outcome.planned and not outcome.actions
    assert [a.path for a in wire.applied if a.method != "GET"] == ["/auth/o2/token"]


def test_the_run_claims_the_ticket_before_the_first_change(tmp_path: Path) -> None:
    order: list[str] = []
    # The feed document (created and uploaded beside the claim and GSTK) changes nothing.
    document = ("/documents", UPLOAD_HOST, "/auth/")
    wire = FaultyTransport(tmp_path, lambda r: r.method != "GET", "",
                           before=lambda r: order.append(f"{r.method} {r.url.path}")
                           if not any(d in str(r.url) for d in document) else None)
    run(tmp_path, 1001, ScriptedAgent(yes=True), wire)
    changes = order
    assert changes[:2] == ["POST /api/v2/tickets/1001/notes",
                           "POST /api/orders/GS-1048213/cancel"], changes
    # The assignment rides on the final status change: one PUT for both.
    (final,) = [a for a in wire.applied if a.method == "PUT" and a.path == "/api/v2/tickets/1001"]
    assert final.body == {"status": 5, "responder_id": AGENT_ID}
    ticket = freshdesk(tmp_path)["tickets"]["1001"]
    assert ticket["responder_id"] == AGENT_ID
    (note,) = [c["body_text"] for c in ticket["conversations"] if c["private"]]
    assert note.startswith("cancelbot: order " + ORDER_1001), "the claim became the final note"


def test_a_ticket_assigned_to_someone_else_stops_unless_confirmed(tmp_path: Path) -> None:
    assign(tmp_path, 1001, OTHER_AGENT)
    before = freshdesk(tmp_path)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined, match="assigned to another agent"):
        run(tmp_path, 1001, agent)
    assert agent.questions == ["Take it over?"]
    assert freshdesk(tmp_path) == before

    agent = ScriptedAgent(answers=[True, True])
    assert run(tmp_path, 1001, agent).exit_code == 0
    assert freshdesk(tmp_path)["tickets"]["1001"]["responder_id"] == AGENT_ID


def test_with_yes_a_ticket_of_another_agent_needs_a_human(tmp_path: Path) -> None:
    assign(tmp_path, 1001, OTHER_AGENT)
    with pytest.raises(NeedsHuman, match="Take it over") as info:
        run(tmp_path, 1001, ScriptedAgent(yes=True))
    assert info.value.exit_code == 4


def test_a_run_handled_on_another_computer_is_shown_and_not_redone(tmp_path: Path) -> None:
    run(tmp_path, 1001, ScriptedAgent(yes=True), journal_home=tmp_path / "laptop-a")
    # Laptop B has no journal of it: the closed ticket and its note say it all.
    idle = FaultyTransport(tmp_path)
    agent = ScriptedAgent()
    outcome = run(tmp_path, 1001, agent, idle, journal_home=tmp_path / "laptop-b")
    assert outcome.branch == "already_done" and outcome.exit_code == 0
    assert any("Already handled by another cancelbot run" in line for line in agent.lines)
    assert [a for a in idle.applied if a.method != "GET"] == []


def test_another_computers_unfinished_claim_is_shown_before_anything(tmp_path: Path) -> None:
    crashed = FaultyTransport(tmp_path, STEPS["gstk_cancel"], "crash_before")
    with pytest.raises(BaseException, match="before the request"):
        run(tmp_path, 1001, ScriptedAgent(yes=True), crashed, journal_home=tmp_path / "a")
    before = freshdesk(tmp_path)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined, match="another run is handling it"):
        run(tmp_path, 1001, agent, journal_home=tmp_path / "b")
    assert agent.questions == ["Process it again anyway?"]
    assert any("cancelbot: handling order" in line for line in agent.lines)
    assert freshdesk(tmp_path) == before


def test_two_processes_on_one_computer_one_proceeds(tmp_path: Path) -> None:
    """Same journal file, two connections (two terminals): the lease lets one through."""
    inside = threading.Event()
    release = threading.Event()

    def hold(request: httpx.Request) -> None:
        inside.set()
        assert release.wait(10)

    first = FaultyTransport(tmp_path, STEPS["gstk_cancel"], before=hold)
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(
        run(tmp_path, 1001, ScriptedAgent(yes=True), first)))
    worker.start()
    assert inside.wait(10)
    second = FaultyTransport(tmp_path)
    try:
        with pytest.raises(TicketBusy, match="being processed by another cancelbot") as info:
            run(tmp_path, 1001, ScriptedAgent(yes=True), second)
        assert info.value.exit_code == 4
        assert second.applied == [], "refused before reading anything"
    finally:
        release.set()
        worker.join(10)
    assert results and results[0].exit_code == 0
    c = counts(tmp_path, 1001, ORDER_1001, first.applied)
    assert (c.gstk_cancels, c.feeds, c.final_notes, c.status) == (1, 1, 1, 5)


def test_two_computers_claiming_at_once_one_proceeds(tmp_path: Path) -> None:
    """Two journals (two laptops), one Freshdesk: both pass the first check, both post their
    claim; the lower note wins, the other run takes its claim back and changes nothing."""
    barrier = threading.Barrier(2, timeout=10)
    claim = STEPS["claim_note"]

    def both_claiming(request: httpx.Request) -> None:
        if claim(request):
            barrier.wait()  # both runs have read the ticket and are about to claim it

    wires = [FaultyTransport(tmp_path, lambda r: True, before=both_claiming) for _ in range(2)]
    outcomes = two_laptops(tmp_path, wires, join=20, agent_id=None)
    busy = [o for o in outcomes if isinstance(o, TicketBusy)]
    done = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(busy) == 1 and len(done) == 1, outcomes
    assert "claimed ticket #1001 first and goes on" in str(busy[0])
    c = counts(tmp_path, 1001, ORDER_1001, wires[0].applied + wires[1].applied)
    assert (c.gstk_cancels, c.feeds, c.final_notes, c.claim_notes, c.status) == (1, 1, 1, 0, 5)


def test_a_rerun_shows_what_the_interrupted_run_did(tmp_path: Path) -> None:
    crashed = FaultyTransport(tmp_path, STEPS["amazon_create_feed"], "crash_before")
    with pytest.raises(BaseException, match="before the request"):
        run(tmp_path, 1001, ScriptedAgent(yes=True), crashed)
    agent = ScriptedAgent(answers=[True])
    outcome = run(tmp_path, 1001, agent, FaultyTransport(tmp_path))
    text = agent.text
    assert "Resuming the unfinished run" in text
    assert "already done — GSTK: order cancelled [GS-1048213]" in text
    assert agent.questions == ["Close the ticket?"]
    assert [a.what for a in outcome.actions][:2] == [
        "order cancelled (earlier run)",
        "cancellation sent (feed 50012345001, BuyerCanceled), left queued by the earlier run"]

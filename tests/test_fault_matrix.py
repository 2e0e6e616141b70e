"""Never twice, never lost: every side-effecting step × every fault, then a rerun.

Each cell runs `procedure.process()` against the sandbox behind a `FaultyTransport` that breaks
one step's request, then reruns it on the same sandbox and journal (a new process would see
exactly that), then runs it a third time. Exactly-once is counted on the sandbox's own state:
GSTK's order history, the feeds Amazon accepted, the ticket's conversations, and the status and
responder changes the sandbox applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import (
    AGENT_ID,
    FAULTS,
    ORDER_1001,
    ORDER_1002,
    STEPS,
    Counts,
    Crash,
    FaultyTransport,
    ScriptedAgent,
    counts,
    journal_dir,
    run,
)

from cancelbot.errors import CancelbotError, Incomplete
from cancelbot.journal import Journal

CANCEL_STEPS = ("claim", "claim_note", "gstk_cancel", "amazon_create_feed", "note", "status")
CELLS = [(step, fault) for step in (*CANCEL_STEPS, "reply") for fault in FAULTS]
PUTS = ("claim", "note", "status")  # idempotent: a lost answer or a 503 is retried within the run

# The 'handling' note that claims the ticket is edited into the final note: one note in all.
CANCELLED_ONCE = Counts(gstk_cancels=1, feeds=1, amazon_status="CANCELLED", replies=0,
                        final_notes=1, claim_notes=0, error_notes=0, status=5,
                        responder_id=AGENT_ID, status_changes=1, responder_changes=1)
REPLIED_ONCE = Counts(gstk_cancels=0, feeds=0, amazon_status="SHIPPED", replies=1,
                      final_notes=1, claim_notes=0, error_notes=0, status=4,
                      responder_id=AGENT_ID, status_changes=1, responder_changes=1)


def first_run_survives(step: str, fault: str) -> bool:
    """Faults the run rides out by itself; every other one stops it."""
    return fault == "429_then_ok" or (fault == "timeout_after" and step in PUTS)


@pytest.mark.parametrize(("step", "fault"), CELLS, ids=[f"{s}-{f}" for s, f in CELLS])
def test_each_change_happens_exactly_once(tmp_path: Path, step: str, fault: str) -> None:
    ticket, order, expected = (1002, ORDER_1002, REPLIED_ONCE) if step == "reply" \
        else (1001, ORDER_1001, CANCELLED_ONCE)
    broken = FaultyTransport(tmp_path, STEPS[step], fault)
    try:
        first = run(tmp_path, ticket, ScriptedAgent(yes=True), broken)
        error: BaseException | None = None
    except (Crash, CancelbotError) as exc:
        error = exc
    assert broken.hits >= 1, "the fault was never reached"
    if first_run_survives(step, fault):
        assert error is None, error
        assert first.exit_code == 0
    else:
        assert error is not None, "the fault should have stopped the first run"
        if isinstance(error, CancelbotError):
            # One clear line that tells the agent how to finish.
            assert isinstance(error, Incomplete), error
            assert f"Rerun `cancelbot process {ticket}`" in str(error)

    rerun = FaultyTransport(tmp_path)
    second = run(tmp_path, ticket, ScriptedAgent(yes=True), rerun)
    assert second.exit_code == 0
    # A third run finds everything done: it says so and changes nothing.
    idle = FaultyTransport(tmp_path)
    third = run(tmp_path, ticket, ScriptedAgent(yes=True), idle)
    assert third.branch == "already_done" and third.exit_code == 0
    assert idle.applied == []

    assert counts(tmp_path, ticket, order, broken.applied + rerun.applied) == expected
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert journal.open_job(ticket) is None
        (job,) = [journal.last_job(ticket)]
        assert job is not None and job.state == "done"
        assert not [e for e in journal.last_steps(job.job_id) if e.phase == "intent"]


"""A ticket naming several orders (issue 14 part 4): the chooser shows where each stands, each
order is handled by its own run and never twice, the notes and the status account for all."""

from __future__ import annotations

import pytest
from fakes import ScriptedAgent, as_found, load, run

from cancelbot.errors import Declined
from cancelbot.lookup import Lookup
from cancelbot.marketplaces import FRANCE
from cancelbot.models import TicketStatus
from cancelbot.several import option

TICKET = 1010  # the sandbox's "cancel the one not yet shipped"
UNSHIPPED, SHIPPED = "407-2290518-3346071", "407-9913364-0572218"


def gstk_cancels(home, order_id: str) -> int:
    return sum(1 for o in load(home)["gstk"]["orders"].values()
               if o["marketplace_order_id"] == order_id
               for h in o["history"] if h["action"] == "cancel")


def ticket(home) -> dict:
    return load(home)["freshdesk"]["tickets"][str(TICKET)]


def notes(home) -> list[str]:
    return [c["body_text"] for c in ticket(home)["conversations"] if c["private"]]


def options(agent: ScriptedAgent) -> list[str]:
    return [line for line in agent.lines if line.startswith("option ")]


def test_the_chooser_shows_each_orders_gstk_and_amazon_status(home):
    before = load(home)
    agent = ScriptedAgent([0, False])  # the first order, then No at the confirmation
    with pytest.raises(Declined):
        run(home, TICKET, agent)
    assert options(agent) == [
        f"option 1. {UNSHIPPED} — GSTK: En attente de préparation · Amazon: UNSHIPPED",
        f"option 2. {SHIPPED} — GSTK: Expédiée · Amazon: SHIPPED",
    ]
    assert as_found(load(home)) == as_found(before), "a declined confirmation changes nothing"


def test_an_order_gstk_does_not_know_says_so():
    found = Lookup(UNSHIPPED, None, None, True, FRANCE)
    assert option(UNSHIPPED, found, None) == (
        f"{UNSHIPPED} — GSTK: not found · Amazon: not found on Amazon")
    assert "could not be looked up (GSTK: 503)" in option(UNSHIPPED, "GSTK: 503", None)


def test_one_order_then_the_other_each_once(home):
    first = ScriptedAgent([0, True])
    outcome = run(home, TICKET, first)
    assert outcome.order_id == UNSHIPPED and outcome.branch == "cancel"
    assert gstk_cancels(home, UNSHIPPED) == 1
    assert ticket(home)["status"] == TicketStatus.OPEN, "an order is left: the ticket stays open"
    (note,) = notes(home)
    assert note.startswith(f"cancelbot: order {UNSHIPPED} cancelled in GSTK")
    assert f"Still to handle on this ticket: order {SHIPPED}." in note
    assert any(f"Order {SHIPPED} is still to handle" in line for line in first.lines)

    second = ScriptedAgent([0, True])  # the remaining order is offered first
    outcome = run(home, TICKET, second)
    assert outcome.order_id == SHIPPED and outcome.branch == "cannot_cancel"
    assert options(second)[0] == f"option 1. {SHIPPED} — GSTK: Expédiée · Amazon: SHIPPED"
    assert options(second)[1].endswith("— already handled")
    assert not second.warned or not any("Another run" in w for w in second.warned)
    assert gstk_cancels(home, UNSHIPPED) == 1, "the first order is never touched twice"
    state = load(home)
    assert state["amazon"]["orders"][UNSHIPPED]["order"]["fulfillment"][
        "fulfillmentStatus"] == "CANCELLED"
    assert len(state["amazon"]["feeds"]) == 1, "one Amazon cancellation, from the first run"
    replies = [c for c in ticket(home)["conversations"] if not c["private"] and not c["incoming"]]
    assert len(replies) == 1
    # The last run sums both up, and the ticket ends as the procedure says: the buyer got the
    # cannot-cancel reply for one of them, so resolved (they may answer it).
    assert ticket(home)["status"] == TicketStatus.RESOLVED
    last = notes(home)[-1]
    assert last.startswith(f"cancelbot: order {SHIPPED} can no longer be cancelled")
    assert "Every order named on this ticket is handled:" in last
    assert f"- {UNSHIPPED}: cancelled in GSTK and on Amazon" in last
    assert f"- {SHIPPED}: could no longer be cancelled; the buyer was told" in last


def test_a_handled_order_is_never_chosen_again(home):
    run(home, TICKET, ScriptedAgent([0, True]))
    before = load(home)
    agent = ScriptedAgent([1])  # the handled order, listed second
    with pytest.raises(Declined, match="already handled on this ticket"):
        run(home, TICKET, agent)
    assert as_found(load(home)) == as_found(before)


def test_a_declined_second_run_changes_nothing(home):
    run(home, TICKET, ScriptedAgent([0, True]))
    before = load(home)
    agent = ScriptedAgent([0, False])
    with pytest.raises(Declined):
        run(home, TICKET, agent)
    assert agent.questions[-1] == "Send this reply to the buyer?"
    assert as_found(load(home)) == as_found(before)
    assert ticket(home)["status"] == TicketStatus.OPEN


def test_with_yes_two_orders_still_stop_for_a_person(home):
    agent = ScriptedAgent(yes=True)
    with pytest.raises(Exception) as stopped:
        run(home, TICKET, agent)
    assert "names 2 orders" in str(stopped.value)
    assert gstk_cancels(home, UNSHIPPED) == 0 and gstk_cancels(home, SHIPPED) == 0


def test_the_shift_does_not_skip_a_ticket_with_an_order_left(home):
    from typer.testing import CliRunner

    from cancelbot.cli import app

    run(home, TICKET, ScriptedAgent([0, True]))
    listed = CliRunner().invoke(app, ["queue", "--list", "--sandbox"])
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.stdout.splitlines() if f"#{TICKET}" in line]
    assert "already handled" not in listed.stdout, row
    run(home, TICKET, ScriptedAgent([0, True]))  # the other order: now it is handled
    listed = CliRunner().invoke(app, ["queue", "--list", "--sandbox"])
    assert f"#{TICKET}" not in listed.stdout or "already" in listed.stdout

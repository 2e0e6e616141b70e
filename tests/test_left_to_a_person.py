"""Issue 9 §7 and §8: a stopped run's claim says who and since when, and goes stale after the
lease; a ticket left to a person says why on it, once, and the queue shows it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fakes import ORDER_1001, FaultyTransport, ScriptedAgent, counts, person_flag, run
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.errors import Declined, TicketBusy
from cancelbot.sandbox import load
from cancelbot.sandbox.state import StateStore, now_iso

CLAIM = ("cancelbot: handling order {order}: Alice started cancelbot on this ticket at {at}. "
         "Another run should leave it alone. (cancelbot ref 0a1b2c3d4e5f)")


def claimed(home: Path, ticket_id: int, order: str, minutes_ago: float) -> str:
    """Alice's run on another computer claimed the ticket `minutes_ago` and stopped."""
    when = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    text = CLAIM.format(order=order, at=when.strftime("%Y-%m-%d %H:%M UTC"))
    with StateStore(home).update() as state:
        ticket = state["freshdesk"]["tickets"][str(ticket_id)]
        conversation_id = state["counters"]["conversation"]
        state["counters"]["conversation"] += 1
        ticket["conversations"].append({
            "id": conversation_id, "body": f"<p>{text}</p>", "body_text": text,
            "private": True, "incoming": False, "source": 2, "created_at": now_iso(when),
            "updated_at": now_iso(when)})
    return when.strftime("%Y-%m-%d %H:%M UTC")


def cli(*args: str, input: str = "", env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [*args, "--sandbox"], input=input, env=env)


def flat(text: str) -> str:
    return " ".join(text.split())


# -- §7 a stopped run's claim --------------------------------------------------------------------


def test_the_skip_says_who_and_since_when(home: Path) -> None:
    since = claimed(home, 1001, ORDER_1001, minutes_ago=5)
    result = cli("queue", "--list")
    assert result.exit_code == 0, result.output
    assert f"another run is handling it (cancelbot: handling order {ORDER_1001}: Alice " \
        "started cancelbot on this ticket at" in flat(result.output)
    assert f"Alice, since {since} (5 min ago)" in flat(result.output)


def test_a_claim_older_than_the_lease_is_stale_counted_and_shown(home: Path) -> None:
    since = claimed(home, 1001, ORDER_1001, minutes_ago=45)
    result = cli("queue", "--list")
    assert result.exit_code == 0, result.output
    said = flat(result.output)
    assert "1 with a stale claim" in said
    assert f"stale claim: Alice, since {since} (45 min ago) — older than the 30-minute lease" \
        in said
    doc = json.loads(cli("queue", "--list", "--json").stdout)
    assert doc["stale_claims"] == 1
    (entry,) = [t for t in doc["tickets"] if t["ticket_id"] == 1001]
    assert entry["skip"] is None and entry["stale_claim"].startswith("Alice, since")

    # A longer lease (CANCELBOT_CLAIM_LEASE, minutes): the same claim is live, and skipped.
    longer = cli("queue", "--list", env={"CANCELBOT_CLAIM_LEASE": "60"})
    assert "with a stale claim" not in flat(longer.output)
    assert "skip: another run is handling it" in flat(longer.output)


def test_a_stale_claim_is_taken_over_after_a_confirmation(home: Path) -> None:
    claimed(home, 1001, ORDER_1001, minutes_ago=45)
    before = load(home)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined, match="stale claim"):
        run(home, 1001, agent)
    assert agent.asked == ["Take the stale claim over and process the ticket?"]
    assert load(home) == before

    agent = ScriptedAgent(answers=[True, True])
    assert run(home, 1001, agent).exit_code == 0
    notes = [c["body_text"] for c in load(home)["freshdesk"]["tickets"]["1001"]["conversations"]
             if c["body_text"].startswith("cancelbot:")]
    assert len(notes) == 1 and "Took over from the unfinished run of Alice, since" in notes[0]
    assert counts(home, 1001, ORDER_1001, []).gstk_cancels == 1


def test_with_yes_a_stale_claim_stops_with_4_saying_who_and_since_when(home: Path) -> None:
    since = claimed(home, 1001, ORDER_1001, minutes_ago=45)
    with pytest.raises(TicketBusy, match=f"stale claim on it \\(Alice, since {since}") as info:
        run(home, 1001, ScriptedAgent(yes=True))
    assert info.value.exit_code == 4
    assert counts(home, 1001, ORDER_1001, []).gstk_cancels == 0


def test_a_bad_lease_is_one_line_and_exit_1(home: Path) -> None:
    result = cli("queue", "--list", env={"CANCELBOT_CLAIM_LEASE": "soon"})
    assert result.exit_code == 1
    assert "CANCELBOT_CLAIM_LEASE must be a positive number of minutes" in result.output
    assert "Traceback" not in result.output


# -- §8 left to a person -------------------------------------------------------------------------


def test_needs_a_human_leaves_one_note_and_a_tag_the_first_time(home: Path) -> None:
    assert cli("process", "1007", "--yes").exit_code == 4
    notes, tagged = person_flag(home, 1007)
    assert tagged and load(home)["freshdesk"]["tickets"]["1007"]["tags"] == [
        "amazon", "cancelbot-needs-human"], "the other tags are kept"
    (note,) = notes
    assert note.startswith("cancelbot: needs a person: GSTK says awaiting preparation but "
                           "Amazon says SHIPPED") and "Check: " in note

    again = FaultyTransport(home)
    outcome = run(home, 1007, ScriptedAgent(yes=True), again)
    assert outcome.exit_code == 4
    assert person_flag(home, 1007) == (notes, True), "no second note"
    assert [a.path for a in again.applied if "/api/v2/" in a.path] == [], "nothing written"


def test_the_queue_shows_why_a_ticket_was_left_to_a_person(home: Path) -> None:
    cli("process", "1007", "--yes")
    result = cli("queue", "--list")
    said = flat(result.output)
    assert "1 left to a person" in said
    assert "needs a person: GSTK says awaiting preparation but Amazon says SHIPPED" in said
    doc = json.loads(cli("queue", "--list", "--json").stdout)
    (entry,) = [t for t in doc["tickets"] if t["ticket_id"] == 1007]
    assert entry["needs_person"].startswith("GSTK says awaiting preparation")
    assert doc["needs_person"] == 1


def test_once_handled_the_ticket_ends_with_one_note_and_no_tag(home: Path) -> None:
    cli("process", "1007", "--yes")
    # A person sorts Amazon out; the next run cancels, and the reason is folded away.
    with StateStore(home).update() as state:
        state["amazon"]["orders"]["404-1187342-6650921"]["order"]["fulfillment"][
            "fulfillmentStatus"] = "UNSHIPPED"
    result = cli("process", "1007", input="y\n")
    assert result.exit_code == 0, result.output
    assert "An earlier run left this ticket to a person" in flat(result.output)
    ticket = load(home)["freshdesk"]["tickets"]["1007"]
    notes = [c["body_text"] for c in ticket["conversations"]
             if c["body_text"].startswith("cancelbot:")]
    assert len(notes) == 1 and notes[0].startswith("cancelbot: order 404-1187342-6650921")
    assert ticket["tags"] == ["amazon"]

"""Reading ahead: what is served from the read-ahead, and the re-check before the first change."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from fakes import FaultyTransport, ScriptedAgent, as_found, only_the_claim_withdrawn

from cancelbot import sandbox
from cancelbot.config import load_settings
from cancelbot.errors import ChangedMeanwhile, TicketBusy
from cancelbot.models import FoundTicket
from cancelbot.ports import Options
from cancelbot.prefetch import Prefetcher, read_ahead
from cancelbot.procedure import process
from cancelbot.queue import MESSAGED, SKIPPED, Queue, QueueEntry, run_shift
from cancelbot.sandbox.state import StateStore
from cancelbot.wiring import open_services

GSTK_HOST, SPAPI_HOST = sandbox.GSTK_HOST, sandbox.SPAPI_HOST


@pytest.fixture
def world(isolated_env):
    sandbox.reset(isolated_env)
    settings = load_settings(sandbox=True)
    transport = FaultyTransport(isolated_env)
    agent = ScriptedAgent([True] * 10, log=transport.log)
    with open_services(settings, agent, transport=transport) as services:
        yield isolated_env, services, transport, agent


def state(home) -> dict:
    return StateStore(home).read()


def test_read_ahead_reads_what_the_procedure_will(world):
    home, services, log, _ = world
    reply = read_ahead(services, 1002)  # shipped: the reply's language is needed
    assert reply.ticket.id == 1002 and not reply.problem
    assert reply.lookup.order_id == "302-5521908-4417736"
    assert reply.lookup.gstk.label == "Expédiée"
    assert reply.lookup.amazon.fulfillment_status == "SHIPPED"
    assert reply.lookup.locale == ("de-DE", ""), "asked beside the lookups, as process does"
    cancel = read_ahead(services, 1001)
    assert cancel.lookup.gstk and cancel.lookup.amazon
    two = read_ahead(services, 1010)
    assert two.ticket and two.lookup is None, "the agent chooses first"
    assert not [line for line in log.log if line.startswith(("POST", "PUT"))
                and "lwa." not in line], "reads only (and an LWA login)"


def test_a_failing_read_ahead_is_left_to_the_live_call(world):
    _, services, _, _ = world
    missing = read_ahead(services, 9999)
    assert missing.ticket is None and "not found" in missing.problem


def test_served_reads_are_not_asked_again_and_gstk_is_rechecked_after_the_yes(world):
    home, services, log, agent = world
    found = read_ahead(services, 1002)
    log.log.clear()
    outcome = process(1002, services, agent, Options(), ahead=found).raise_for_error()
    assert outcome.branch == "cannot_cancel" and outcome.language == "de"
    assert not log.calls(f"GET {SPAPI_HOST}"), "getOrder and getAttributes came from the read-ahead"
    confirm = next(n for n, line in enumerate(log.log) if line.startswith("CONFIRM"))
    gstk = [n for n, line in enumerate(log.log) if line.startswith(f"GET {GSTK_HOST}")]
    writes = [n for n, line in enumerate(log.log) if line.startswith(("POST", "PUT"))]
    # The claim goes out while the agent reads (beside the served lookups); after the yes,
    # only the re-check comes before the first change.
    claim, first_change = writes[0], writes[1]
    assert log.log[claim].endswith("/tickets/1002/notes"), log.log
    assert len(gstk) == 1 and confirm < gstk[0] < first_change, log.log
    assert state(home)["freshdesk"]["tickets"]["1002"]["status"] == 4


def test_gstk_moving_on_meanwhile_stops_before_any_change(world):
    home, services, log, agent = world
    found = read_ahead(services, 1001)  # awaiting preparation when read
    with StateStore(home).update() as s:
        s["gstk"]["orders"]["GS-1048213"]["status"] = "En cours de préparation"
    before = state(home)
    log.log.clear()
    with pytest.raises(ChangedMeanwhile, match="was 'En attente de préparation'"):
        process(1001, services, agent, Options(), ahead=found).raise_for_error()
    # The feed document prepared beside the re-check changes nothing on Amazon.
    document = ("/feeds/2021-06-30/documents", sandbox.UPLOAD_HOST)
    assert only_the_claim_withdrawn([line for line in log.log
                                     if not any(d in line for d in document)]), log.log
    assert as_found(state(home)) == as_found(before)


# The claim posted beside the lookups sees the other run's note first: a final note or a
# claim, older than this run's claim, means that run has the ticket (the one claim rule).
@pytest.mark.parametrize(("note", "error", "says"), [
    ("cancelbot: order 302-… can no longer be cancelled.", TicketBusy,
     r"another cancelbot run \(.*\) claimed ticket #1002 first"),
    ("cancelbot: handling order 302-…", TicketBusy,
     r"another cancelbot run \(.*\) claimed ticket #1002 first"),
])
def test_another_runs_note_meanwhile_stops_before_any_change(world, note, error, says):
    home, services, log, agent = world
    found = read_ahead(services, 1002)
    services.helpdesk.add_private_note(1002, f"<p>{note}</p>")  # after the read-ahead
    before = state(home)
    log.log.clear()
    with pytest.raises(error, match=says):
        process(1002, services, agent, Options(), ahead=found).raise_for_error()
    assert only_the_claim_withdrawn(log.log), log.log
    assert as_found(state(home)) == as_found(before)


def test_the_shift_shows_a_changed_ticket_again_and_the_agent_decides_afresh(world):
    home, services, log, agent = world

    class Screen:
        def show_queue(self, queue): ...
        def show_card(self, *args): ...
        def skipped(self, entry, reason): ...
        def show_result(self, result, outcome): ...

        @contextmanager
        def busy(self, label):
            yield

        def next_action(self):
            # The warehouse takes the order while the agent reads the (prefetched) screen.
            with StateStore(home).update() as s:
                s["gstk"]["orders"]["GS-1048213"]["status"] = "En cours de préparation"
            return "process"

    ticket = FoundTicket(1001, "Demande d'annulation", 2,
                         datetime(2026, 11, 27, tzinfo=timezone.utc),
                         url="https://sandbox.freshdesk.invalid/a/tickets/1001")
    queue = Queue("status:2", 1, 1, 1, False, [QueueEntry(ticket, ("subject",))])
    shift = run_shift(queue, services, agent, Screen(), Options(), prefetch=True)
    assert [r.kind for r in shift.results] == [MESSAGED], shift.results
    assert any("changed while you were reading" in w for w in agent.warned)
    now = state(home)
    assert now["gstk"]["orders"]["GS-1048213"]["status"] == "En cours de préparation"
    assert now["amazon"]["orders"]["402-3815274-6120358"]["order"]["fulfillment"][
        "fulfillmentStatus"] == "UNSHIPPED", "nothing cancelled on Amazon"
    assert now["freshdesk"]["tickets"]["1001"]["status"] == 4


def test_a_declined_ticket_in_a_shift_is_skipped_and_unchanged(world):
    home, services, log, _ = world
    agent = ScriptedAgent([False], log=log.log)

    class Screen:
        def __getattr__(self, name):
            return lambda *args, **kwargs: None

        @contextmanager
        def busy(self, label):
            yield

        def next_action(self):
            return "process"

    ticket = FoundTicket(1002, "Stornierung", 2, None, url="u")
    before = state(home)
    shift = run_shift(Queue("q", 1, 1, 1, False, [QueueEntry(ticket, ("subject",))]),
                      services, agent, Screen(), Options())
    assert [r.kind for r in shift.results] == [SKIPPED]
    assert as_found(state(home)) == as_found(before)


def test_a_disabled_prefetcher_reads_nothing(world):
    _, services, log, _ = world
    reader = Prefetcher(services, enabled=False)
    reader.start(1001)
    assert reader.take(1001) is None and not log.log
    reader.close()
    on = Prefetcher(services)
    on.start(1001)
    assert on.take(1001).ticket.id == 1001 and on.take(1001) is None, "served once"
    on.close()

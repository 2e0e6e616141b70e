"""The procedure with a scripted agent: the picking race, failures part-way, assisted steps.

The real clients run against the sandbox transport; `FaultyTransport` (tests/fakes.py) wraps
it to change the world or fail at chosen requests.
"""

from __future__ import annotations

from contextlib import nullcontext

import httpx
import pytest
from fakes import FaultyTransport, ScriptedAgent, as_found

from cancelbot import sandbox
from cancelbot.config import load_settings
from cancelbot.errors import Declined, Incomplete, NeedsHuman, Unreachable
from cancelbot.journal import Journal
from cancelbot.ports import Options, Services
from cancelbot.procedure import process
from cancelbot.sandbox.state import StateStore
from cancelbot.services.assisted import AssistedBackOffice, AssistedMarketplace
from cancelbot.services.freshdesk import FreshdeskClient
from cancelbot.services.http import RetryPolicy
from cancelbot.wiring import open_services

ORDER_1001 = "402-3815274-6120358"
ORDER_1002 = "302-5521908-4417736"


@pytest.fixture
def settings(home):
    return load_settings({"CANCELBOT_HOME": str(home)}, sandbox=True)


def set_gstk_status(home, gstk_id: str, label: str) -> None:
    with StateStore(home).update() as state:
        state["gstk"]["orders"][gstk_id]["status"] = label


def world(home) -> dict:
    return StateStore(home).read()


def run(settings, transport, agent, journal=None, **options):
    # The home's journal, as the CLI opens it: a rerun resumes what the last run left.
    with (nullcontext(journal) if journal else Journal.open(settings.home)) as journal, \
            open_services(settings, agent, transport=transport) as services:
        return process(options.pop("ticket", 1001), services, agent, Options(**options),
                       journal).raise_for_error()


def test_picking_race_switches_to_cannot_cancel_and_never_touches_amazon(home, settings):
    faults = FaultyTransport(home)
    # The warehouse takes the order between the lookup and the cancel.
    faults.hooks_after[("GET", "/api/orders")] = lambda: set_gstk_status(
        home, "GS-1048213", "En cours de préparation")
    agent = ScriptedAgent(answers=[True, True])  # cancel? then: send the reply?
    outcome = run(settings, faults, agent)
    assert outcome.branch == "cannot_cancel"
    assert any("GSTK refused" in s for s in agent.shown)
    # The feed document may have been uploaded beside GSTK's cancel: no feed was created.
    assert not faults.calls(f"POST {sandbox.SPAPI_HOST}/feeds/2021-06-30/feeds"), \
        "no Amazon cancel"
    state = world(home)
    assert state["amazon"]["orders"][ORDER_1001]["order"]["fulfillment"]["fulfillmentStatus"] \
        == "UNSHIPPED"
    ticket = state["freshdesk"]["tickets"]["1001"]
    assert ticket["status"] == 4
    replies = [c for c in ticket["conversations"] if not c["private"] and not c["incoming"]]
    assert len(replies) == 1 and "La commande a été expédiée" in replies[0]["body"]


def test_picking_race_reply_declined_changes_nothing_more(home, settings):
    faults = FaultyTransport(home)
    faults.hooks_after[("GET", "/api/orders")] = lambda: set_gstk_status(
        home, "GS-1048213", "Expédiée")
    before = world(home)["freshdesk"]
    with pytest.raises(Declined):
        run(settings, faults, ScriptedAgent(answers=[True, False]))
    # The run claimed the ticket before GSTK refused, then took the claim back.
    after = world(home)["freshdesk"]
    for t in (*after["tickets"].values(), *before["tickets"].values()):
        t.pop("updated_at")
    assert after == before


def test_amazon_failing_after_gstk_cancel_says_what_is_done_and_a_rerun_finishes(home, settings):
    # Amazon's feed documents fail all along: the one prepared beside GSTK's cancel, and the
    # one cancelbot tries again before createFeed.
    faults = FaultyTransport(home, lambda r: r.method == "POST"
                             and r.url.path == "/feeds/2021-06-30/documents", "503_storm")
    with pytest.raises(Incomplete) as info:
        run(settings, faults, ScriptedAgent(answers=[True]))
    message = str(info.value)
    assert "GSTK: order GS-1048213 cancelled" in message and "Rerun" in message
    state = world(home)
    assert state["gstk"]["orders"]["GS-1048213"]["status"] == "Annulée"
    assert state["freshdesk"]["tickets"]["1001"]["status"] == 2

    # The rerun first sends the Amazon cancellation the first run left queued (the agent
    # confirmed it then), and only asks to close the ticket.
    agent = ScriptedAgent(answers=[True])
    outcome = run(settings, FaultyTransport(home), agent)
    assert outcome.branch == "already_cancelled"
    assert agent.asked == ["Close the ticket?"]
    assert [a.system for a in outcome.actions] == ["GSTK", "Amazon", "Freshdesk", "Freshdesk"]
    assert "earlier run" in outcome.actions[0].what
    state = world(home)
    assert state["amazon"]["orders"][ORDER_1001]["order"]["fulfillment"]["fulfillmentStatus"] \
        == "CANCELLED"
    assert len(state["gstk"]["orders"]["GS-1048213"]["history"]) == 1, "GSTK cancelled once"
    assert state["freshdesk"]["tickets"]["1001"]["status"] == 5


def test_a_reply_already_on_the_ticket_is_not_sent_again(home, settings):
    faults = FaultyTransport(home)

    def answer_lost():  # the reply went out; its answer never came back
        raise httpx.ReadTimeout("gone")

    faults.hooks_after[("POST", "/api/v2/tickets/1002/reply")] = answer_lost
    with pytest.raises(Incomplete, match="Not known yet whether this went through"):
        run(settings, faults, ScriptedAgent(answers=[True]), ticket=1002)
    # Another computer (without that run's journal) reruns it: it shows the other run's claim,
    # the agent goes on, and the reply found on the ticket is not sent again.
    agent = ScriptedAgent(answers=[True, True])
    outcome = run(settings, FaultyTransport(home), agent, Journal.memory(), ticket=1002)
    assert agent.asked == ["Process it again anyway?", "Send this reply to the buyer?"]
    assert "reply already on the ticket" in outcome.actions[0].what
    ticket = world(home)["freshdesk"]["tickets"]["1002"]
    replies = [c for c in ticket["conversations"] if not c["private"] and not c["incoming"]]
    assert len(replies) == 1
    assert ticket["status"] == 4


def test_a_ticket_with_a_cancelbot_note_asks_before_doing_anything(home, settings):
    run(settings, FaultyTransport(home), ScriptedAgent(answers=[True]), ticket=1002)
    # Someone reopens the ticket; the note says it was handled.
    with StateStore(home).update() as state:
        state["freshdesk"]["tickets"]["1002"]["status"] = 2
    before = world(home)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined, match="already handled"):
        run(settings, FaultyTransport(home), agent, ticket=1002)
    assert agent.asked == ["Process it again anyway?"]
    assert world(home) == before


def test_assisted_gstk_and_amazon(home, settings):
    agent = ScriptedAgent(answers=[0, True, 0, True])  # status, go, GSTK done, Amazon done
    faults = FaultyTransport(home)
    with FreshdeskClient(settings.freshdesk, transport=faults) as helpdesk:
        services = Services(helpdesk, AssistedBackOffice(agent, "https://gstk/o/{order_id}"),
                            AssistedMarketplace(agent))
        outcome = process(1001, services, agent, Options()).raise_for_error()
    assert outcome.branch == "cancel"
    assert outcome.amazon_lookup == "not_checked", "no SP-API: Amazon was not asked"
    assert agent.asked == [
        "What is the order's status in GSTK?",
        "Cancel this order in GSTK and on Amazon, and close the ticket?",
        "Did GSTK cancel it?",
        "Have you cancelled it in Seller Central?",
    ]
    assert any("sellercentral.amazon.fr/orders-v3/order/" + ORDER_1001 in s
               for s in agent.shown)
    assert all("/api/v2/" in line for line in faults.log), "only Freshdesk is called"
    assert world(home)["freshdesk"]["tickets"]["1001"]["status"] == 5


def test_assisted_amazon_with_yes_stops_before_any_change(home, settings):
    agent = ScriptedAgent(yes=True)
    before = world(home)
    with open_services(settings, agent, transport=FaultyTransport(home)) as services:
        services.marketplace = AssistedMarketplace(agent)  # no SP-API configured
        services.feeds = None
        with pytest.raises(NeedsHuman, match="run without --yes"):
            process(1001, services, agent, Options()).raise_for_error()
    assert agent.asked == [], "nothing confirmed, nothing done"
    assert as_found(world(home)) == as_found(before)  # the claim taken back


def test_yes_cancels_when_every_step_is_automated(home, settings):
    agent = ScriptedAgent(yes=True)
    outcome = run(settings, FaultyTransport(home), agent)
    assert outcome.branch == "cancel" and len(outcome.actions) == 4


def test_gstk_down_is_one_clear_error_and_nothing_changed(home, settings):
    faults = FaultyTransport(home)

    def down():
        raise httpx.ConnectError("refused")

    faults.hooks_before[("GET", "/api/orders")] = down
    before = world(home)
    with open_services(settings, ScriptedAgent(), transport=faults) as services:
        services.backoffice._http.retry = RetryPolicy(attempts=1)
        with pytest.raises(Unreachable, match="GSTK"):
            process(1001, services, ScriptedAgent(), Options()).raise_for_error()
    assert as_found(world(home)) == as_found(before)  # the claim taken back

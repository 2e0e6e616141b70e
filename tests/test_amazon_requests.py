"""Buyers' requests found on Amazon (issue 13): found once, handled once, and the ticket that
arrives later is closed without a second cancel or a second feed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fakes import (
    GSTK_AMAZON_ONLY,
    IN_PREPARATION,
    ORDER_AMAZON_ONLY,
    FaultyTransport,
    ScriptedAgent,
    add_ticket,
    counts,
    fast_retry,
    journal_dir,
    run,
    sandbox_settings,
)

from cancelbot.amazon_requests import WATERMARK, discover, handle_request, waiting
from cancelbot.errors import Declined, RateLimited
from cancelbot.journal import Journal
from cancelbot.models import AmazonItem, AmazonOrder, OrderSearchPage
from cancelbot.ports import Options
from cancelbot.sandbox import load
from cancelbot.sandbox.state import StateStore
from cancelbot.wiring import open_services

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
FR = "A13V1IB3VIYZZH"
FEEDS = "/feeds/2021-06-30/feeds"


def order(order_id: str, *, asked: bool = True, cancelled: bool = False,
          updated: str = "2026-11-27T11:30:00Z") -> AmazonOrder:
    item = AmazonItem("1", cancel_requested_by="BUYER" if asked else "",
                      cancelled_by="MERCHANT" if cancelled else "")
    return AmazonOrder(order_id, "UNSHIPPED", FR, items=(item,), last_updated=updated)


class FakeSearch:
    """searchOrders from a list of pages; `refuse` raises RateLimited at that page."""

    def __init__(self, *pages: OrderSearchPage, ready_in: float = 0.0,
                 refuse: int | None = None) -> None:
        self.pages, self.ready, self.refuse = list(pages), ready_in, refuse
        self.asked: list[tuple[str, str | None]] = []

    def search_ready_in(self) -> float:
        return self.ready

    def search_orders(self, last_updated_after, *, page_token=None):
        self.asked.append((last_updated_after, page_token))
        if self.refuse is not None and len(self.asked) == self.refuse:
            raise RateLimited("Amazon", "searchOrders: Amazon's usage plan is spent")
        return self.pages[len(self.asked) - 1]


def test_discovery_remembers_buyers_requests_and_moves_the_watermark_after_a_full_pass():
    journal = Journal.memory()
    search = FakeSearch(
        OrderSearchPage((order("402-0000000-0000001"), order("402-0000000-0000002",
                                                             asked=False)), "p2",
                        "2026-11-27T11:58:00Z"),
        OrderSearchPage((order("402-0000000-0000003", cancelled=True),
                         order("402-0000000-0000004", updated="2026-11-27T11:40:00Z")), None, ""),
    )
    found = discover(search, journal, now=NOW)
    assert found.searched and not found.problem
    assert found.new == ["402-0000000-0000001", "402-0000000-0000004"], \
        "no request (…02) and already cancelled by Amazon (…03) are not requests"
    assert search.asked == [("2026-11-26T12:00:00Z", None), ("2026-11-26T12:00:00Z", "p2")], \
        "the first search looks a day back; a page goes on with the same query"
    # Amazon's lastUpdatedBefore, less a few minutes of overlap: Amazon's index lags.
    assert journal.watermark(WATERMARK) == "2026-11-27T11:53:00Z"
    assert [(r.order_id, r.requested_at) for r in journal.open_requests()] == [
        ("402-0000000-0000001", "2026-11-27T11:30:00Z"),
        ("402-0000000-0000004", "2026-11-27T11:40:00Z")]

    again = FakeSearch(OrderSearchPage((order("402-0000000-0000001"),), None, ""))
    assert discover(again, journal, now=NOW).new == [], "seen once, remembered once"
    assert again.asked == [("2026-11-27T11:53:00Z", None)]


def test_a_pass_cut_short_keeps_what_it_found_but_not_the_watermark():
    journal = Journal.memory()
    journal.set_watermark(WATERMARK, "2026-11-27T10:00:00Z")
    search = FakeSearch(OrderSearchPage((order("402-0000000-0000001"),), "p2", ""), refuse=2)
    found = discover(search, journal, now=NOW)
    assert found.new == ["402-0000000-0000001"] and "usage plan is spent" in found.problem
    assert journal.watermark(WATERMARK) == "2026-11-27T10:00:00Z", "read again next time"


def test_no_search_while_the_usage_plan_allows_none():
    search = FakeSearch(ready_in=95.0)
    found = discover(search, Journal.memory(), now=NOW)
    assert not found.searched and found.next_in == 95.0 and search.asked == []


def test_a_request_whose_order_a_ticket_handled_is_closed_not_shown():
    journal = Journal.memory()
    journal.note_requests([("402-0000000-0000001", FR, "2026-11-27T11:30:00Z"),
                           ("402-0000000-0000002", FR, "2026-11-27T11:31:00Z"),
                           ("402-0000000-0000003", FR, "2026-11-27T11:32:00Z")])
    job = journal.start_job(1001, "402-0000000-0000001", "cancel")
    journal.update_job(job.job_id, state="done")
    shown = waiting(journal, named={"402-0000000-0000002"})
    assert [r.order_id for r in shown] == ["402-0000000-0000003"]
    assert [r.order_id for r in journal.open_requests()] == [
        "402-0000000-0000002", "402-0000000-0000003"], "…01 closed: its order was handled"


# -- handling one, then its ticket ------------------------------------------------------------


@pytest.fixture
def shop(home):
    transport = FaultyTransport(home)
    yield home, transport


def handle(home, transport, agent, **options):
    settings = sandbox_settings(home)
    opts = Options(templates=settings.templates_dir, **options)
    with Journal.open(journal_dir(home)) as journal, \
            open_services(settings, agent, transport=transport, retry=fast_retry()) as services:
        journal.note_requests([(ORDER_AMAZON_ONLY, FR, "2026-11-27T11:30:00Z")])
        return handle_request(ORDER_AMAZON_ONLY, services, agent, opts, journal)


def gstk_cancels(home) -> int:
    history = load(home)["gstk"]["orders"][GSTK_AMAZON_ONLY]["history"]
    return sum(1 for h in history if h["action"] == "cancel")


def test_a_request_only_amazon_shows_is_cancelled_once_and_its_late_ticket_closed(shop):
    home, transport = shop
    agent = ScriptedAgent([True])
    outcome = handle(home, transport, agent)
    assert outcome.error is None and outcome.ticket_id is None, outcome.error
    assert outcome.branch == "cancel" and agent.questions == [
        "Cancel this order in GSTK and on Amazon?"]
    assert [a.system for a in outcome.actions] == ["GSTK", "Amazon"]
    assert gstk_cancels(home) == 1
    assert sum(1 for a in transport.applied if a.path == FEEDS) == 1
    amazon = load(home)["amazon"]["orders"][ORDER_AMAZON_ONLY]["order"]
    assert amazon["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    with Journal.open(journal_dir(home)) as journal:
        [job] = journal.jobs_for_order(ORDER_AMAZON_ONLY)
        assert (job.ticket_id, job.branch, job.state) == (None, "cancel", "done")
        assert journal.open_requests() == [], "handled: out of the queue"
        assert journal.cancellation(ORDER_AMAZON_ONLY).ticket_id is None

    # Taken again (another window's stale queue): nothing to do, nothing asked.
    again = handle(home, transport, ScriptedAgent([]))
    assert again.branch == "already_done" and not again.actions and again.error is None

    # The buyer's email arrives: its ticket is closed with a note, nothing is sent twice.
    add_ticket(home, 1020, ORDER_AMAZON_ONLY)
    late = ScriptedAgent([True])
    closed = run(home, 1020, late, transport)
    assert late.questions == ["Close the ticket?"]
    assert closed.branch == "already_cancelled" and "request on Amazon" in closed.reason
    seen = counts(home, 1020, ORDER_AMAZON_ONLY, transport.applied)
    assert (seen.gstk_cancels, seen.feeds, seen.status, seen.final_notes) == (1, 1, 5, 1)
    note = [c["body_text"] for c in load(home)["freshdesk"]["tickets"]["1020"]["conversations"]
            if c["private"]][-1]
    assert "cancelled from the buyer's request on Amazon before this ticket arrived" in note
    assert seen.replies == 0


def test_the_warehouse_wins_the_race_the_buyer_hears_from_seller_central_once(shop):
    home, transport = shop

    def picked() -> None:  # between the lookup and the cancel
        with StateStore(home).update() as state:
            state["gstk"]["orders"][GSTK_AMAZON_ONLY]["status"] = IN_PREPARATION

    transport.hooks_before[("POST", f"/api/orders/{GSTK_AMAZON_ONLY}/cancel")] = picked
    agent = ScriptedAgent([True, True])  # cancel? yes — then: sent from Seller Central? yes
    outcome = handle(home, transport, agent)
    assert outcome.error is None, outcome.error
    assert outcome.branch == "cannot_cancel" and outcome.language == "fr"
    assert agent.questions[-1] == "Have you sent it from Seller Central?"
    assert [a.what for a in outcome.actions] == [
        "message sent by the agent in Seller Central (fr)"]
    assert gstk_cancels(home) == 0 and not [a for a in transport.applied if a.path == FEEDS]

    add_ticket(home, 1020, ORDER_AMAZON_ONLY)
    late = ScriptedAgent([True])
    resolved = run(home, 1020, late, transport)
    assert late.questions == ["Resolve the ticket?"] and resolved.branch == "cannot_cancel"
    seen = counts(home, 1020, ORDER_AMAZON_ONLY, transport.applied)
    assert (seen.replies, seen.status, seen.final_notes) == (0, 4, 1), \
        "resolved with a note: no second message to the buyer"


def test_a_declined_request_changes_nothing_and_stays_in_the_queue(shop):
    home, transport = shop
    before = load(home)
    outcome = handle(home, transport, ScriptedAgent([False]))
    assert isinstance(outcome.error, Declined) and outcome.exit_code == 3
    after = load(home)
    assert after["gstk"] == before["gstk"] and after["amazon"] == before["amazon"]
    with Journal.open(journal_dir(home)) as journal:
        assert [r.order_id for r in journal.open_requests()] == [ORDER_AMAZON_ONLY]
        assert journal.jobs_for_order(ORDER_AMAZON_ONLY) == []


def test_a_dry_run_shows_the_plan_and_changes_nothing(shop):
    home, transport = shop
    before = load(home)
    agent = ScriptedAgent([])
    outcome = handle(home, transport, agent, dry_run=True)
    assert outcome.error is None and outcome.branch == "cancel" and not outcome.actions
    assert outcome.planned[0].startswith("GSTK: cancel order GS-1048230")
    assert load(home)["gstk"] == before["gstk"] and agent.questions == []


def test_history_lists_the_order_only_job_as_amazon(shop):
    from typer.testing import CliRunner

    from cancelbot.cli import app

    home, transport = shop
    handle(home, transport, ScriptedAgent([True]))
    shown = CliRunner().invoke(app, ["history", "--sandbox"])
    assert shown.exit_code == 0, shown.output
    rows = [line for line in shown.output.splitlines() if ORDER_AMAZON_ONLY in line]
    # The ticket column, just before the order's: "Amazon" for an order-only job.
    assert rows and all(line.split()[line.split().index(ORDER_AMAZON_ONLY) - 1] == "Amazon"
                        for line in rows), shown.output
    assert "#None" not in shown.output

"""Amazon's clock, not the agent's (issue 12): feeds followed off the critical path, refusals
reopen their ticket, and Amazon's feed limits never hold the agent."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fakes import (
    AGENT_ID,
    GET_FEED,
    ORDER_1001,
    STEPS,
    FaultyTransport,
    ScriptedAgent,
    fast_retry,
    journal_dir,
    run,
    sandbox_settings,
)
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.errors import BadResponse, Declined, NeedsHuman
from cancelbot.feeds import BURST, RESTORE, FeedDesk, parse_processing_report
from cancelbot.journal import Journal
from cancelbot.models import AmazonItem, AmazonOrder, FoundTicket
from cancelbot.ports import Options
from cancelbot.queue import CANCELLED, MESSAGED, Queue, QueueEntry, run_shift
from cancelbot.sandbox import load
from cancelbot.sandbox.feeds import Report, processing_report
from cancelbot.sandbox.state import StateStore
from cancelbot.services.http import RetryPolicy
from cancelbot.wiring import open_services

ORDER_1009 = "402-1234567-7654321"
CREATE_FEED = STEPS["amazon_create_feed"]


def amazon_status(home: Path, order_id: str) -> str:
    return load(home)["amazon"]["orders"][order_id]["order"]["fulfillment"]["fulfillmentStatus"]


def ticket(home: Path, ticket_id: int) -> dict:
    return load(home)["freshdesk"]["tickets"][str(ticket_id)]


def private_notes(home: Path, ticket_id: int) -> list[str]:
    return [c["body_text"] for c in ticket(home, ticket_id)["conversations"] if c["private"]]


def refusal_notes(home: Path, ticket_id: int) -> list[str]:
    return [n for n in private_notes(home, ticket_id) if n.startswith("cancelbot: Amazon did NOT")]


def set_amazon_status(home: Path, order_id: str, status: str) -> None:
    with StateStore(home).update() as state:
        state["amazon"]["orders"][order_id]["order"]["fulfillment"]["fulfillmentStatus"] = status


def ship(home: Path, order_id: str) -> None:
    """The warehouse ships it behind our back: Amazon will refuse the cancellation."""
    set_amazon_status(home, order_id, "SHIPPED")


def feeds_command(home: Path):
    return CliRunner().invoke(app, ["feeds", "--sandbox"], env={"CANCELBOT_HOME": str(home)})


def sandbox_feeds(home: Path) -> int:
    return len(load(home)["amazon"]["feeds"])


# -- the ProcessingReport -----------------------------------------------------------------------


def test_the_report_names_each_failed_order() -> None:
    report = Report(processed=2, errors=[("2", "90002", "Order has shipped", ORDER_1009)])
    parsed = parse_processing_report(processing_report(report, "5001", "SELLER"))
    assert (parsed.processed, parsed.successful, parsed.with_error) == (2, 1, 1)
    (result,) = parsed.results
    assert (result.message_id, result.code, result.order_id) == (2, "Error", ORDER_1009)
    assert "shipped" in result.description


@pytest.mark.parametrize("text", ["not xml", "<AmazonEnvelope><Message/></AmazonEnvelope>"])
def test_a_report_that_is_not_one_is_a_clear_error(text: str) -> None:
    with pytest.raises(BadResponse, match="^Amazon: the feed"):
        parse_processing_report(text)


# -- never waiting for Amazon -------------------------------------------------------------------


def test_a_feed_still_processing_closes_the_ticket_at_once_and_stays_pending(tmp_path: Path):
    slow = FaultyTransport(tmp_path, GET_FEED, "in_progress")
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), slow)
    assert outcome.exit_code == 0
    assert not slow.calls("GET spapi.sandbox.invalid/feeds/2021-06-30/feeds/"), \
        "the run never asked Amazon how the feed goes"
    (sent,) = [a for a in outcome.actions if a.system == "Amazon"]
    assert sent.what == f"cancellation sent (feed {sent.ref}, BuyerCanceled)"
    assert ticket(tmp_path, 1001)["status"] == 5, "closed once Amazon accepted the feed"
    (note,) = private_notes(tmp_path, 1001)
    assert f"cancellation sent to Amazon (feed {sent.ref})" in note
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [(f.feed_id, f.state) for f in journal.feeds()] == [(sent.ref, "pending")]
        assert journal.cancellation(ORDER_1001).state == "sent"

    result = feeds_command(tmp_path)  # later: `cancelbot feeds` reads the finished feed
    assert result.exit_code == 0, result.output
    assert f"Amazon processed feed {sent.ref}: order {ORDER_1001} cancelled." in result.output
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [f.state for f in journal.feeds()] == ["done"]
        assert journal.cancellation(ORDER_1001).state == "done"


def test_earlier_feeds_are_followed_beside_the_runs_own_ticket_read(tmp_path: Path, monkeypatch):
    """A later run looks at an earlier run's pending feed while it reads its own ticket, not
    before: getFeed is held until the ticket has been asked for, which a run that followed
    the feeds first would never do (it would wait here, and fail)."""
    run(tmp_path, 1009, ScriptedAgent(yes=True), FaultyTransport(tmp_path, GET_FEED,
                                                                   "in_progress"))
    monkeypatch.setattr(FeedDesk, "poll", 0.0)  # the earlier feed is due for a look now
    ticket_asked = threading.Event()
    waited: list[bool] = []
    wire = FaultyTransport(tmp_path)
    wire.hooks_before[("GET", "/api/v2/tickets/1001")] = ticket_asked.set
    wire.match, wire.before = GET_FEED, lambda r: waited.append(ticket_asked.wait(10))
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), wire)
    assert outcome.exit_code == 0
    assert waited == [True], "the feed was looked at beside the run's reads"
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert journal.cancellation(ORDER_1009).state == "done", "and settled by that run"


# -- a refusal reopens the ticket ---------------------------------------------------------------


def refused_after_closing(home: Path) -> str:
    """Ticket 1001 processed with --yes while the warehouse ships the order: Amazon accepts the
    feed (the ticket closes), then refuses the cancellation in its report. The feed id."""
    shipped = FaultyTransport(home, CREATE_FEED, before=lambda request: ship(home, ORDER_1001))
    outcome = run(home, 1001, ScriptedAgent(yes=True), shipped)
    assert outcome.exit_code == 0 and ticket(home, 1001)["status"] == 5
    with StateStore(home).update() as state:  # someone unassigned it since
        state["freshdesk"]["tickets"]["1001"]["responder_id"] = None
    return next(a.ref for a in outcome.actions if a.system == "Amazon")


def test_a_refusal_reopens_the_ticket_with_one_note_and_feeds_exits_4_until_handled(tmp_path):
    feed = refused_after_closing(tmp_path)
    assert refusal_notes(tmp_path, 1001) == []

    result = feeds_command(tmp_path)
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())
    assert f"AMAZON DID NOT CANCEL order {ORDER_1001} (ticket #1001, feed {feed})" in said
    reopened = ticket(tmp_path, 1001)
    assert reopened["status"] == 2, "open again"
    assert reopened["responder_id"] == AGENT_ID, "for the agent who handled it"
    (note,) = refusal_notes(tmp_path, 1001)
    assert ORDER_1001 in note and f"feed {feed}" in note and "has shipped" in note
    assert "Amazon now shows it SHIPPED" in note
    assert "cannot-cancel reply" in note and "`cancelbot process 1001`" in note
    assert "GSTK says Annulée" in note, "the disagreement is named"

    again = feeds_command(tmp_path)  # nobody has handled it yet: still red, never noted twice
    assert again.exit_code == 4, again.output
    assert len(refusal_notes(tmp_path, 1001)) == 1

    # The rerun offers the path for a shipped order: the cannot-cancel reply, not "done".
    agent = ScriptedAgent(yes=True)
    outcome = run(tmp_path, 1001, agent, FaultyTransport(tmp_path))
    assert outcome.branch == "cannot_cancel" and outcome.exit_code == 0
    assert any("GSTK says Annulée" in w for w in agent.warned)
    assert ticket(tmp_path, 1001)["status"] == 4
    assert len([c for c in ticket(tmp_path, 1001)["conversations"]
                if not c["private"] and not c["incoming"]]) == 1, "the reply, once"

    handled = feeds_command(tmp_path)
    assert handled.exit_code == 0, handled.output
    assert len(refusal_notes(tmp_path, 1001)) == 1


def test_a_refused_order_still_unshipped_is_cancelled_by_hand(tmp_path: Path) -> None:
    refused_after_closing(tmp_path)
    set_amazon_status(tmp_path, ORDER_1001, "UNSHIPPED")  # refused, and still not shipped
    assert feeds_command(tmp_path).exit_code == 4
    (note,) = refusal_notes(tmp_path, 1001)
    assert "still unshipped: cancel it by hand in Seller Central" in note

    # --yes cannot do a step by hand: it stops before anything, and says so.
    with pytest.raises(NeedsHuman, match="done by hand"):
        run(tmp_path, 1001, ScriptedAgent(yes=True), FaultyTransport(tmp_path))
    assert ticket(tmp_path, 1001)["status"] == 2

    agent = ScriptedAgent(answers=[True, True])
    wire = FaultyTransport(tmp_path)
    outcome = run(tmp_path, 1001, agent, wire)
    assert outcome.branch == "already_cancelled"
    assert agent.questions == ["Close the ticket?", "Have you cancelled it in Seller Central?"]
    assert not wire.calls("POST spapi.sandbox.invalid/feeds/"), "no second feed"
    assert ticket(tmp_path, 1001)["status"] == 5
    assert feeds_command(tmp_path).exit_code == 0
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert journal.cancellation(ORDER_1001).state == "done"


# -- Amazon's feed limits -----------------------------------------------------------------------


def test_a_429_on_createfeed_never_holds_the_agent_and_the_order_goes_out_once(tmp_path):
    waits: list[float] = []
    limited = FaultyTransport(tmp_path, CREATE_FEED, "429_then_ok")
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), limited,
                  retry=RetryPolicy(sleep=waits.append))
    assert outcome.exit_code == 0 and waits == [], "no wait for Amazon's window"
    assert limited.hits == 1 and sandbox_feeds(tmp_path) == 0
    assert ticket(tmp_path, 1001)["status"] == 5
    assert "queued for Amazon's feed window" in private_notes(tmp_path, 1001)[0]

    assert feeds_command(tmp_path).exit_code == 0  # the window is open again: sent now
    assert sandbox_feeds(tmp_path) == 1 and amazon_status(tmp_path, ORDER_1001) == "CANCELLED"
    assert feeds_command(tmp_path).exit_code == 0
    assert run(tmp_path, 1001, ScriptedAgent(yes=True)).branch == "already_done"
    assert sandbox_feeds(tmp_path) == 1, "the order went out once"


def test_rate_limited_cancellations_wait_in_the_journal_and_go_out_together(tmp_path: Path):
    for ticket_id in (1001, 1009):
        limited = FaultyTransport(tmp_path, CREATE_FEED, "429_storm")
        outcome = run(tmp_path, ticket_id, ScriptedAgent(yes=True), limited)
        assert outcome.exit_code == 0
        assert any("queued" in a.what for a in outcome.actions)
        assert not any(a.path.endswith("/feeds") for a in limited.applied)
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [r.state for r in journal.cancellations()] == ["queued", "queued"]

    result = feeds_command(tmp_path)
    assert result.exit_code == 0, result.output
    assert sandbox_feeds(tmp_path) == 1, "one feed, one Message per order"
    assert amazon_status(tmp_path, ORDER_1001) == amazon_status(tmp_path, ORDER_1009) \
        == "CANCELLED"
    with Journal.open(journal_dir(tmp_path)) as journal:
        rows = journal.cancellations()
        assert [r.state for r in rows] == ["done", "done"]
        assert sorted(r.message_id for r in rows) == [1, 2]
    assert feeds_command(tmp_path).exit_code == 0
    assert sandbox_feeds(tmp_path) == 1, "never sent twice"


class RecordingFeeds:
    """Amazon's Feeds API, answering at once and recording what was asked."""

    def __init__(self) -> None:
        self.created: list[list[str]] = []
        self.documents: dict[str, list[str]] = {}

    def upload_cancellations(self, orders) -> str:
        document_id = f"doc-{len(self.documents) + 1}"
        self.documents[document_id] = [o.order_id for o in orders]
        return document_id

    def create_feed(self, document_id, marketplace_ids, label) -> str:
        self.created.append(self.documents[document_id])
        return f"feed-{len(self.created)}"


def order(n: int) -> AmazonOrder:
    return AmazonOrder(f"402-0000000-{n:07d}", "UNSHIPPED", "A13V1IB3VIYZZH",
                       items=(AmazonItem(f"item-{n}"),))


def test_past_the_burst_orders_wait_for_the_window_and_go_out_in_one_feed(tmp_path) -> None:
    later = [0.0]  # seconds added to the wall clock
    amazon = RecordingFeeds()
    with Journal.open(journal_dir(tmp_path)) as journal:
        desk = FeedDesk(journal, amazon, None, ScriptedAgent(),  # type: ignore[arg-type]
                        clock=lambda: time.time() + later[0])
        sent = [desk.cancel(n, order(n)) for n in range(1, BURST + 3)]
        assert [s.state for s in sent] == ["sent"] * BURST + ["queued"] * 2
        assert len(amazon.created) == BURST, "no createFeed past Amazon's burst"
        assert 0 < desk.window_wait() <= RESTORE

        later[0] = RESTORE + 1  # one more createFeed allowed
        report = desk.follow_up()
        assert amazon.created[-1] == [order(BURST + 1).order_id, order(BURST + 2).order_id]
        assert report.submitted == "feed-16" and len(amazon.created) == BURST + 1
        assert {r.order_id: r.feed_id for r in journal.cancellations("sent")
                }[order(BURST + 2).order_id] == "feed-16"


def test_the_prepared_document_is_used_when_it_holds_exactly_the_batch(tmp_path) -> None:
    amazon = RecordingFeeds()
    with Journal.open(journal_dir(tmp_path)) as journal:
        desk = FeedDesk(journal, amazon, None, ScriptedAgent())  # type: ignore[arg-type]
        prepared = desk.prepare(1, order(1))
        assert prepared is not None and prepared.order_ids == (order(1).order_id,)
        assert amazon.created == [], "preparing changes nothing on Amazon"
        assert desk.cancel(1, order(1), prepared).state == "sent"
        assert list(amazon.documents) == ["doc-1"], "no second upload"
        events = [e for e in journal.history(1) if e.step == "amazon_feed"]
        assert [e.phase for e in events] == ["prepared", "intent", "done"]


# -- a shift never waits for Amazon -------------------------------------------------------------


def test_a_shift_never_blocks_on_a_feed(isolated_env: Path) -> None:
    """getFeed is held until the shift has shown its last result: a shift that waited for a
    feed would never get there. Each ticket is processed; the feeds are looked at on the
    shift's own thread only."""
    from cancelbot import sandbox

    sandbox.reset(isolated_env)
    every_result = threading.Event()
    looked_from: list[str] = []

    def held(request: httpx.Request) -> None:
        looked_from.append(threading.current_thread().name)
        every_result.wait(20)

    wire = FaultyTransport(isolated_env, GET_FEED, "in_progress", before=held)
    tickets = [1001, 1002, 1009]

    class Screen:
        shown: list[int] = []

        def show_queue(self, queue): ...
        def show_card(self, *args): ...
        def skipped(self, entry, reason): ...
        def next_action(self):
            return "process"

        def show_result(self, result, outcome):
            self.shown.append(result.ticket_id)
            if len(self.shown) == len(tickets):
                every_result.set()

        @contextmanager
        def busy(self, label):
            yield

    entries = [QueueEntry(FoundTicket(t, "annulation", 2, None, url=f"u/{t}"), ("subject",))
               for t in tickets]
    settings = sandbox_settings(isolated_env)
    agent = ScriptedAgent(yes=True)
    with Journal.open(isolated_env) as journal, open_services(
            settings, agent, transport=wire, retry=fast_retry()) as services:
        shift = run_shift(Queue("status:2", 3, 3, 1, False, entries), services, agent, Screen(),
                          Options(agent_id=AGENT_ID, templates=settings.templates_dir),
                          journal=journal, feed_poll=0.0)
        assert journal.cancellations("sent"), "still processing at Amazon when it ended"
    assert [r.kind for r in shift.results] == [CANCELLED, MESSAGED, CANCELLED], shift.results
    assert [ticket(isolated_env, t)["status"] for t in tickets] == [5, 4, 5]
    assert looked_from and "MainThread" not in looked_from, looked_from
    assert any("Amazon is still processing 2 cancellations" in line for line in agent.lines)


# -- an order is in one feed only ---------------------------------------------------------------


def send_feed(amazon, orders) -> str:
    document_id = amazon.upload_cancellations(orders)
    return amazon.create_feed(document_id, sorted({o.marketplace_id for o in orders}), "x")


def _services(home: Path, agent, transport):
    return open_services(sandbox_settings(home), agent, transport=transport, retry=fast_retry())


def test_a_second_ticket_about_the_same_order_does_not_send_it_again(tmp_path: Path) -> None:
    agent = ScriptedAgent()
    wire = FaultyTransport(tmp_path)
    with Journal.open(journal_dir(tmp_path)) as journal, \
            _services(tmp_path, agent, wire) as services:
        order_1001 = services.marketplace.get_order(ORDER_1001)
        desk = FeedDesk(journal, services.feeds, services.helpdesk, agent)
        first = desk.cancel(1001, order_1001)
        second = desk.cancel(4242, order_1001)
    assert first.state == "sent" and not first.earlier
    assert second.earlier and second.feed_id == first.feed_id
    assert sum(1 for a in wire.applied if a.path.endswith("/feeds")) == 1


@pytest.mark.parametrize(("answer", "feeds_sent"), [(0, 0), (1, 1)])
def test_an_unplaceable_send_is_settled_by_the_agent(tmp_path, answer, feeds_sent) -> None:
    """A createFeed whose answer was lost while another feed (another computer's) went out:
    Amazon cannot tell which, so the agent looks in Seller Central and says."""
    agent = ScriptedAgent(answers=[answer])
    wire = FaultyTransport(tmp_path)
    with Journal.open(journal_dir(tmp_path)) as journal, \
            _services(tmp_path, agent, wire) as services:
        amazon = services.marketplace
        order_1001 = amazon.get_order(ORDER_1001)
        journal.queue_cancellation(1001, ORDER_1001, order_1001.marketplace_id,
                                   [i.order_item_id for i in order_1001.items])
        journal.take_batch()  # … and the run died before createFeed answered
        send_feed(amazon, [amazon.get_order(ORDER_1009)])  # another computer's feed
        before = len(wire.applied)
        sent = FeedDesk(journal, services.feeds, services.helpdesk, agent).cancel(1001,
                                                                                  order_1001)
    assert agent.questions == ["What does Seller Central show?"]
    assert sum(1 for a in wire.applied[before:] if a.path.endswith("/feeds")) == feeds_sent
    assert sent.state == ("done" if answer == 0 else "sent")


def test_stop_at_the_unplaceable_send_changes_nothing(tmp_path: Path) -> None:
    agent = ScriptedAgent(answers=[2])
    wire = FaultyTransport(tmp_path)
    with Journal.open(journal_dir(tmp_path)) as journal, \
            _services(tmp_path, agent, wire) as services:
        amazon = services.marketplace
        order_1001 = amazon.get_order(ORDER_1001)
        journal.queue_cancellation(1001, ORDER_1001, order_1001.marketplace_id, ["x"])
        journal.take_batch()
        send_feed(amazon, [amazon.get_order(ORDER_1009)])
        with pytest.raises(Declined):
            FeedDesk(journal, services.feeds, services.helpdesk, agent).cancel(1001, order_1001)
        assert journal.cancellation(ORDER_1001).state == "sending"
    assert amazon_status(tmp_path, ORDER_1001) == "UNSHIPPED"

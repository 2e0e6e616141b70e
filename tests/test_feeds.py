"""Amazon feed follow-up (issue 3 §5): pending feeds, the ProcessingReport, 429 batching."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import (
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
from cancelbot.errors import BadResponse, Declined, Incomplete
from cancelbot.feeds import FeedDesk, parse_processing_report
from cancelbot.journal import Journal
from cancelbot.sandbox import load
from cancelbot.sandbox.feeds import Report, processing_report
from cancelbot.sandbox.state import StateStore
from cancelbot.wiring import open_services

ORDER_1009 = "402-1234567-7654321"


def amazon_status(home: Path, order_id: str) -> str:
    return load(home)["amazon"]["orders"][order_id]["order"]["fulfillment"]["fulfillmentStatus"]


def private_notes(home: Path, ticket_id: int) -> list[str]:
    ticket = load(home)["freshdesk"]["tickets"][str(ticket_id)]
    return [c["body_text"] for c in ticket["conversations"] if c["private"]]


def ship(home: Path, order_id: str) -> None:
    """The warehouse ships it behind our back: Amazon will refuse the cancellation."""
    with StateStore(home).update() as state:
        state["amazon"]["orders"][order_id]["order"]["fulfillment"]["fulfillmentStatus"] = \
            "SHIPPED"


def feeds_command(home: Path):
    return CliRunner().invoke(app, ["feeds", "--sandbox"], env={"CANCELBOT_HOME": str(home)})


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


# -- following a feed ---------------------------------------------------------------------------


def test_a_feed_still_processing_is_recorded_pending_and_settled_later(tmp_path: Path) -> None:
    slow = FaultyTransport(tmp_path, GET_FEED, "in_progress")
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), slow, feed_wait=0)
    assert outcome.exit_code == 0
    assert any("Amazon is still processing it" in a.what for a in outcome.actions)
    (note,) = private_notes(tmp_path, 1001)
    assert "Amazon still processing it" in note
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [f.state for f in journal.feeds()] == ["pending"]

    result = feeds_command(tmp_path)  # later: `cancelbot feeds` reads the finished feed
    assert result.exit_code == 0, result.output
    assert "cancelled" in result.output
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [f.state for f in journal.feeds()] == ["done"]
        assert journal.cancellation(ORDER_1001).state == "done"


def test_following_polls_until_done_within_the_wait(tmp_path: Path) -> None:
    answers = iter(["IN_QUEUE", "IN_PROGRESS", "DONE"])
    slept: list[float] = []

    class Marketplace:
        automated = True

        def get_feed(self, feed_id):
            return {"feedId": feed_id, "processingStatus": next(answers)}

    desk = _desk(tmp_path, Marketplace(), slept)
    assert desk.follow("5001") == "DONE"
    assert slept == [2.0, 3.0]


def test_following_gives_up_after_the_wait(tmp_path: Path) -> None:
    slept: list[float] = []

    class Marketplace:
        automated = True

        def get_feed(self, feed_id):
            return {"feedId": feed_id, "processingStatus": "IN_PROGRESS"}

    desk = _desk(tmp_path, Marketplace(), slept, wait=20)
    assert desk.follow("5001") == "IN_PROGRESS"
    assert 0 < sum(slept) <= 20


def _desk(home: Path, marketplace, slept: list[float], wait: float = 60) -> FeedDesk:
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    return FeedDesk(Journal.memory(), marketplace, None, ScriptedAgent(), wait=wait,
                    sleep=sleep, clock=lambda: now[0])


# -- errors in the report -----------------------------------------------------------------------


def test_an_error_in_the_report_is_loud_noted_once_and_the_ticket_stays_open(tmp_path):
    shipped = FaultyTransport(tmp_path, STEPS["amazon_create_feed"],
                              before=lambda request: ship(tmp_path, ORDER_1001))
    agent = ScriptedAgent(yes=True)
    with pytest.raises(Incomplete, match="Amazon did not cancel order") as info:
        run(tmp_path, 1001, agent, shipped)
    assert "GSTK: order GS-1048213 cancelled" in str(info.value)
    assert any(line.startswith("WARN AMAZON DID NOT CANCEL order " + ORDER_1001)
               for line in agent.lines)
    assert load(tmp_path)["freshdesk"]["tickets"]["1001"]["status"] == 2, "not closed"
    errors = [n for n in private_notes(tmp_path, 1001) if "did NOT cancel" in n]
    assert len(errors) == 1 and "has shipped" in errors[0]

    # The rerun sends nothing again: the statuses disagree now, a person has to look (and
    # the ticket says so: a note and a tag, nothing else).
    again = FaultyTransport(tmp_path)
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), again)
    assert outcome.exit_code == 4
    assert [(a.path, sorted(a.body)) for a in again.applied if a.method != "GET"] == [
        ("/auth/o2/token", []), ("/api/v2/tickets/1001/notes", ["body", "private"]),
        ("/api/v2/tickets/1001", ["tags"])]
    assert len([n for n in private_notes(tmp_path, 1001) if "did NOT cancel" in n]) == 1


def test_an_error_found_by_a_later_check_is_noted_and_exits_4(tmp_path: Path) -> None:
    transport = FaultyTransport(tmp_path, GET_FEED, "in_progress")
    transport_before = STEPS["amazon_create_feed"]
    transport.match = lambda r: GET_FEED(r) or transport_before(r)
    transport.before = lambda r: ship(tmp_path, ORDER_1001) if transport_before(r) else None
    outcome = run(tmp_path, 1001, ScriptedAgent(yes=True), transport, feed_wait=0)
    assert outcome.exit_code == 0  # closed: Amazon had not answered yet

    result = feeds_command(tmp_path)
    assert result.exit_code == 4, result.output
    assert f"AMAZON DID NOT CANCEL order {ORDER_1001} (ticket #1001" in result.output
    assert len([n for n in private_notes(tmp_path, 1001) if "did NOT cancel" in n]) == 1
    again = feeds_command(tmp_path)  # checked once: nothing noted twice
    assert again.exit_code == 0, again.output
    assert len([n for n in private_notes(tmp_path, 1001) if "did NOT cancel" in n]) == 1


# -- createFeed 429: queued, then one feed ------------------------------------------------------


def test_rate_limited_cancellations_wait_in_the_journal_and_go_out_together(tmp_path: Path):
    for ticket in (1001, 1009):
        limited = FaultyTransport(tmp_path, STEPS["amazon_create_feed"], "429_storm")
        outcome = run(tmp_path, ticket, ScriptedAgent(yes=True), limited)
        assert outcome.exit_code == 0
        assert any("queued" in a.what for a in outcome.actions)
        assert limited.hits >= 1 and not any(a.path.endswith("/feeds") for a in limited.applied)
    assert "queued by cancelbot" in private_notes(tmp_path, 1009)[0]
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert [r.state for r in journal.cancellations()] == ["queued", "queued"]
    assert amazon_status(tmp_path, ORDER_1001) == amazon_status(tmp_path, ORDER_1009) \
        == "UNSHIPPED"

    result = feeds_command(tmp_path)
    assert result.exit_code == 0, result.output
    assert "Sent the queued cancellations in feed" in result.output
    assert len(load(tmp_path)["amazon"]["feeds"]) == 1, "one feed, one Message per order"
    assert amazon_status(tmp_path, ORDER_1001) == amazon_status(tmp_path, ORDER_1009) \
        == "CANCELLED"
    with Journal.open(journal_dir(tmp_path)) as journal:
        rows = journal.cancellations()
        assert [r.state for r in rows] == ["done", "done"]
        assert sorted(r.message_id for r in rows) == [1, 2]
    assert feeds_command(tmp_path).exit_code == 0
    assert len(load(tmp_path)["amazon"]["feeds"]) == 1, "never sent twice"


# -- an order is in one feed only ---------------------------------------------------------------


def send_feed(amazon, orders) -> str:
    document_id = amazon.upload_cancellations(orders)
    return amazon.create_feed(document_id, sorted({o.marketplace_id for o in orders}), "x")


def _services(home: Path, agent, transport):
    return open_services(sandbox_settings(home), agent, transport=transport, retry=fast_retry())


def test_a_second_ticket_about_the_same_order_does_not_send_it_again(tmp_path: Path) -> None:
    agent = ScriptedAgent()
    wire = FaultyTransport(tmp_path)
    with Journal.open(tmp_path) as journal, _services(tmp_path, agent, wire) as services:
        order = services.marketplace.get_order(ORDER_1001)
        desk = FeedDesk(journal, services.feeds, services.helpdesk, agent)
        first = desk.cancel(1001, order)
        second = desk.cancel(4242, order)
    assert first.state == "done" and not first.earlier
    assert second.earlier and second.feed_id == first.feed_id
    assert sum(1 for a in wire.applied if a.path.endswith("/feeds")) == 1


@pytest.mark.parametrize(("answer", "feeds_sent"), [(0, 0), (1, 1)])
def test_an_unplaceable_send_is_settled_by_the_agent(tmp_path, answer, feeds_sent) -> None:
    """A createFeed whose answer was lost while another feed (another computer's) went out:
    Amazon cannot tell which, so the agent looks in Seller Central and says."""
    agent = ScriptedAgent(answers=[answer])
    wire = FaultyTransport(tmp_path)
    with Journal.open(tmp_path) as journal, _services(tmp_path, agent, wire) as services:
        amazon = services.marketplace
        order = amazon.get_order(ORDER_1001)
        journal.queue_cancellation(1001, ORDER_1001, order.marketplace_id,
                                   [i.order_item_id for i in order.items])
        journal.take_batch()  # … and the run died before createFeed answered
        send_feed(amazon, [amazon.get_order(ORDER_1009)])  # another computer's feed
        before = len(wire.applied)
        sent = FeedDesk(journal, services.feeds, services.helpdesk, agent).cancel(1001, order)
    assert agent.questions == ["What does Seller Central show?"]
    assert sum(1 for a in wire.applied[before:] if a.path.endswith("/feeds")) == feeds_sent
    assert sent.state == "done"


def test_stop_at_the_unplaceable_send_changes_nothing(tmp_path: Path) -> None:
    agent = ScriptedAgent(answers=[2])
    wire = FaultyTransport(tmp_path)
    with Journal.open(tmp_path) as journal, _services(tmp_path, agent, wire) as services:
        amazon = services.marketplace
        order = amazon.get_order(ORDER_1001)
        journal.queue_cancellation(1001, ORDER_1001, order.marketplace_id, ["x"])
        journal.take_batch()
        send_feed(amazon, [amazon.get_order(ORDER_1009)])
        with pytest.raises(Declined):
            FeedDesk(journal, services.feeds, services.helpdesk, agent).cancel(1001, order)
        assert journal.cancellation(ORDER_1001).state == "sending"
    assert amazon_status(tmp_path, ORDER_1001) == "UNSHIPPED"

"""The sandbox's Amazon takes its time over a feed, on a clock kept in the state file.

A feed is accepted (createFeed 202), waits IN_QUEUE, is IN_PROGRESS, and is processed
CANCELBOT_SANDBOX_FEED_SECONDS after it was created; ticket #1012's is then refused. The clock
is injected: nothing here waits.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fakes import ScriptedAgent, fast_retry, journal_dir, run, sandbox_settings
from test_sandbox import SPAPI, access_token, acknowledgement_feed, amazon_order, submit_feed
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.config import SANDBOX_FEED_SECONDS, sandbox_feed_seconds
from cancelbot.feeds import FeedDesk
from cancelbot.journal import Journal
from cancelbot.sandbox import load
from cancelbot.sandbox.feeds import iso
from cancelbot.sandbox.transport import SandboxTransport
from cancelbot.wiring import open_services

ORDER_1001 = "402-3815274-6120358"
ORDER_1012 = "406-3318752-9047216"
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def spapi(home: Path, clock: Clock, seconds: float = 25.0) -> httpx.Client:
    return httpx.Client(transport=SandboxTransport(home, clock=clock, feed_seconds=seconds))


def get_feed(http: httpx.Client, token: str, feed_id: str) -> dict:
    response = http.get(f"{SPAPI}/feeds/2021-06-30/feeds/{feed_id}",
                        headers={"x-amz-access-token": token})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_feed_is_queued_then_in_progress_then_done_on_the_sandbox_clock(tmp_path: Path):
    clock = Clock()
    with spapi(tmp_path, clock) as http:
        token = access_token(http)
        items = [i["orderItemId"] for i in amazon_order(http, token, ORDER_1001)["orderItems"]]
        feed_id = submit_feed(http, token, acknowledgement_feed(ORDER_1001, items))  # 202
        queued = get_feed(http, token, feed_id)
        clock.now += 10
        in_progress = get_feed(http, token, feed_id)
        still_unshipped = amazon_order(http, token, ORDER_1001)
    clock.now += 15
    with spapi(tmp_path, clock) as http:  # another process: the times are in the state file
        done = get_feed(http, token, feed_id)
        cancelled = amazon_order(http, token, ORDER_1001)

    assert queued["processingStatus"] == "IN_QUEUE" and "resultFeedDocumentId" not in queued
    assert queued["createdTime"] == iso(START)
    assert in_progress["processingStatus"] == "IN_PROGRESS"
    assert in_progress["processingStartTime"] == iso(START + 5)
    assert "resultFeedDocumentId" not in in_progress
    assert still_unshipped["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert done["processingStatus"] == "DONE" and done["resultFeedDocumentId"]
    assert done["processingEndTime"] == iso(START + 25)
    assert cancelled["fulfillment"]["fulfillmentStatus"] == "CANCELLED"


def test_reading_the_state_alone_leaves_a_feed_where_it_is(tmp_path: Path) -> None:
    clock = Clock()
    with spapi(tmp_path, clock) as http:
        token = access_token(http)
        submit_feed(http, token, acknowledgement_feed(ORDER_1001, []))
    before = load(tmp_path)
    clock.now += 5  # within the queue's share of the time: nothing to move on
    with spapi(tmp_path, clock) as http:
        access_token(http)  # LWA, not SP-API
    assert load(tmp_path) == before


def test_1012_is_accepted_then_refused_by_the_processing_report(tmp_path: Path) -> None:
    clock = Clock()
    transport = SandboxTransport(tmp_path, clock=clock, feed_seconds=25)
    outcome = run(tmp_path, 1012, ScriptedAgent(yes=True), transport)
    assert outcome.exit_code == 0
    state = load(tmp_path)
    (feed,) = state["amazon"]["feeds"].values()
    assert feed["processingStatus"] == "IN_QUEUE", "accepted (202), not processed yet"
    assert state["amazon"]["orders"][ORDER_1012]["order"]["fulfillment"][
        "fulfillmentStatus"] == "UNSHIPPED"

    clock.now += 30  # Amazon has processed it meanwhile
    agent = ScriptedAgent(yes=True)
    with Journal.open(journal_dir(tmp_path)) as journal, open_services(
        sandbox_settings(tmp_path), agent, transport=transport, retry=fast_retry()
    ) as services:
        report = FeedDesk(journal, services.feeds, services.helpdesk, agent).follow_up(force=True)
        row = journal.cancellation(ORDER_1012)

    assert [r.order_id for r in report.refused] == [ORDER_1012]
    assert row.state == "error" and "has shipped and can no longer be cancelled" in row.result
    notes = [c["body_text"] for c in load(tmp_path)["freshdesk"]["tickets"]["1012"][
        "conversations"] if c["private"]]
    assert any(ORDER_1012 in n and "open again" in n for n in notes), notes


def test_the_feed_time_comes_from_the_environment() -> None:
    assert sandbox_feed_seconds({}) == SANDBOX_FEED_SECONDS == 25
    assert sandbox_feed_seconds({"CANCELBOT_SANDBOX_FEED_SECONDS": "0"}) == 0
    assert sandbox_feed_seconds({"CANCELBOT_SANDBOX_FEED_SECONDS": "90"}) == 90


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_a_bad_feed_time_is_one_line_and_exit_1(home, monkeypatch, value: str) -> None:
    monkeypatch.setenv("CANCELBOT_SANDBOX_FEED_SECONDS", value)
    before = load(home)
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--yes"])
    assert result.exit_code == 1, result.output
    assert "CANCELBOT_SANDBOX_FEED_SECONDS must be a number of seconds" in result.output
    assert "Traceback" not in result.output
    assert load(home) == before

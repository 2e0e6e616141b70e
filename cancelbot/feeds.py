"""Amazon cancellation feeds: send them once, follow them, and report what Amazon did.

Every cancellation goes through the journal's `amazon_cancellations` table, keyed by order, so
an order is never put in two feeds:

    queued ──take_batch──▶ sending ──createFeed answered──▶ sent ──report read──▶ done | error
      ▲                        │
      └── 429, or re-checked ──┘  (createFeed refused, or never reached Amazon)

A row left in *sending* means createFeed may have applied: before anything is sent again it is
re-checked (getOrder, then getFeeds since that moment). createFeed allows a burst of 15 and
then about one every two minutes: a 429 leaves the orders queued, and the next run sends every
queued order in one feed, one Message each. A feed still processing after the wait stays
*pending*; every later run, and `cancelbot feeds`, checks it and reads its ProcessingReport.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cancelbot.claims import ERROR_MARK, cancelbot_notes, ref_tag
from cancelbot.effects import Effects
from cancelbot.errors import (
    BadResponse,
    CancelbotError,
    Declined,
    JournalError,
    RateLimited,
    ServiceError,
)
from cancelbot.journal import DONE, FAILED, INTENT, Cancellation, Journal
from cancelbot.models import AmazonItem, AmazonOrder
from cancelbot.ports import DEFAULT_FEED_WAIT, Agent, Feeds, Helpdesk
from cancelbot.text import text_to_html

FINISHED = ("DONE", "CANCELLED", "FATAL")
# Feeds created this long before our createFeed still count as "maybe ours": clocks differ.
CLOCK_MARGIN = timedelta(minutes=5)
REPORT_LIMIT = 5_000_000  # bytes of ProcessingReport we are willing to parse


@dataclass(frozen=True)
class ReportResult:
    message_id: int | None
    code: str  # Error or Warning
    message_code: str
    description: str
    order_id: str


@dataclass(frozen=True)
class ProcessingReport:
    processed: int
    successful: int
    with_error: int
    results: tuple[ReportResult, ...]


@dataclass(frozen=True)
class Sent:
    """Where one order's Amazon cancellation stands after `FeedDesk.cancel`."""

    state: str  # done, sent (Amazon still processing), queued (rate limit), error
    feed_id: str = ""
    result: str = ""
    earlier: bool = False  # sent by an earlier run: nothing was sent now


@dataclass
class FollowUp:
    """What a follow-up found, for `cancelbot feeds` and the start of every run."""

    submitted: str = ""  # the feedId of queued cancellations sent now
    sent: list[Cancellation] = field(default_factory=list)  # what went in it
    settled: list[tuple[str, str, str]] = field(default_factory=list)  # feed, order, state
    errors: list[Cancellation] = field(default_factory=list)
    unresolved: list[Cancellation] = field(default_factory=list)
    busy: bool = False  # another cancelbot process was handling the feeds


class FeedDesk:
    """The journal's Amazon cancellations, sent and followed through Amazon's Feeds API;
    errors are noted on their tickets through the helpdesk."""

    def __init__(
        self,
        journal: Journal,
        feeds: Feeds,
        helpdesk: Helpdesk,
        agent: Agent,
        *,
        wait: float = DEFAULT_FEED_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal = journal
        self.marketplace = feeds
        self.helpdesk = helpdesk
        self.agent = agent
        self.wait = wait
        self.sleep = sleep
        self.clock = clock

    # -- one order, during `cancelbot process` ---------------------------------------------------

    def cancel(self, ticket_id: int | None, order: AmazonOrder) -> Sent:
        """Cancel `order` on Amazon unless some run already sent it; follow the feed a while.
        `ticket_id` None: for an order-only job (a buyer's request found on Amazon)."""
        with self.journal.feeds_lease(wait=60.0) as mine:
            if not mine:
                raise ServiceError("Amazon", "another cancelbot window is sending a feed: "
                                             "try again in a minute")
            row = self.journal.cancellation(order.order_id)
            if row is not None and row.state == "sending":
                self._reconcile([row])
                row = self.journal.cancellation(order.order_id)
                if row is not None and row.state == "sending":
                    row = self._ask_about(row)
            if row is not None and row.state in ("sent", "done", "error"):
                return Sent(row.state, row.feed_id or "", row.result, earlier=True)
            if not order.items:
                raise BadResponse("Amazon", f"order {order.order_id}: no items to cancel")
            self.journal.queue_cancellation(
                ticket_id, order.order_id, order.marketplace_id,
                [i.order_item_id for i in order.items],
            )
            # Any order still queued by a rate limit goes in the same feed.
            self._submit_queued()
            row = self._row(order.order_id)
        if row.state != "sent" or not row.feed_id:
            return Sent(row.state, row.feed_id or "", row.result)
        self.follow(row.feed_id)
        row = self._row(order.order_id)
        return Sent(row.state, row.feed_id or "", row.result)

    def _row(self, order_id: str) -> Cancellation:
        row = self.journal.cancellation(order_id)
        if row is None:  # queued just above, under the feeds lease: the journal lost it
            raise JournalError(f"the journal lost the cancellation of order {order_id}")
        return row

    def follow(self, feed_id: str) -> str:
        """Poll getFeed until Amazon is done or `wait` seconds passed; settle a finished feed."""
        if self.wait <= 0:
            return "SUBMITTED"  # CANCELBOT_FEED_WAIT=0: left to the next run / cancelbot feeds
        deadline = self.clock() + self.wait
        delay = 2.0
        with self.agent.busy(f"Amazon is processing feed {feed_id} (waiting up to "
                             f"{self.wait:.0f} s)"):
            while True:
                feed = self.marketplace.get_feed(feed_id)
                status = feed["processingStatus"]
                if status in FINISHED:
                    break
                if self.clock() + delay > deadline:
                    self.agent.info(f"Amazon has not finished feed {feed_id} yet ({status}): "
                                    "cancelbot checks it on its next run (or: cancelbot feeds).")
                    return status
                self.sleep(delay)
                delay = min(delay * 1.5, 10.0)
        with self.journal.feeds_lease(wait=60.0) as mine:
            if mine:
                self._settle(feed_id, feed, FollowUp())
        return status

    # -- every run, and `cancelbot feeds` -------------------------------------------------------

    def follow_up(self) -> FollowUp:
        """Settle uncertain sends, send what is queued, check every pending feed once."""
        report = FollowUp()
        with self.journal.feeds_lease() as mine:
            if not mine:
                report.busy = True
                return report
            sending = self.journal.cancellations("sending")
            if sending:
                self._reconcile(sending)
                report.unresolved = self.journal.cancellations("sending")
            queued = self.journal.cancellations("queued")
            if queued:
                report.submitted = self._submit_queued() or ""
                if report.submitted:
                    report.sent = queued
                    self.agent.info(
                        "Amazon: sent the cancellation of " + ", ".join(
                            f"{r.order_id} ({r.about})" for r in queued)
                        + f" left by an earlier run, in feed {report.submitted}.")
            for feed in self.journal.feeds("pending"):
                data = self.marketplace.get_feed(feed.feed_id)
                if data["processingStatus"] in FINISHED:
                    self._settle(feed.feed_id, data, report)
            for feed_id, order_id, state in report.settled:
                if state == "done":
                    self.agent.info(f"Amazon processed feed {feed_id}: order {order_id} "
                                    "cancelled.")
        for row in report.unresolved:
            self.agent.warn(
                f"cancelbot cannot tell whether Amazon received the cancellation of order "
                f"{row.order_id} ({row.about}) sent at {row.sent_at}: rerun "
                f"`{row.rerun}` to settle it."
            )
        return report

    # -- sending ---------------------------------------------------------------------------------

    def _submit_queued(self) -> str | None:
        """Send every queued cancellation in one feed; its feedId, or None (rate limited)."""
        batch_id, rows = self.journal.take_batch()
        if not rows:
            return None
        orders = [
            AmazonOrder(r.order_id, "", r.marketplace_id,
                        items=tuple(AmazonItem(i) for i in r.item_ids))
            for r in rows
        ]
        label = ", ".join(r.order_id for r in rows)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", INTENT, order_id=r.order_id,
                                ref=batch_id, detail=f"{len(rows)} order(s) in one feed")
        try:
            with self.agent.busy("Sending the cancellation to Amazon"):
                document_id = self.marketplace.upload_cancellations(orders)
        except RateLimited:
            self._keep_queued(batch_id, rows, label)
            return None
        except BaseException:
            self.journal.batch_not_sent(batch_id)  # Amazon was asked nothing yet
            raise
        try:
            with self.agent.busy("Sending the cancellation to Amazon"):
                feed_id = self.marketplace.create_feed(
                    document_id, sorted({r.marketplace_id for r in rows}), label
                )
        except RateLimited:
            self._keep_queued(batch_id, rows, label)
            return None
        except ServiceError as exc:
            if exc.status in (401, 403):
                self.journal.batch_not_sent(batch_id)
            elif exc.status is not None and 400 <= exc.status < 500:
                for r in rows:  # Amazon refused this feed: sending it again would not help
                    self.journal.settle_cancellation(r.order_id, "error", _short(str(exc)))
            raise  # 5xx, timeout, broken answer: it may have applied; re-checked next time
        self.journal.batch_sent(batch_id, feed_id)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", DONE, order_id=r.order_id,
                                ref=feed_id, detail="createFeed accepted")
        return feed_id

    def _keep_queued(self, batch_id: str, rows: list[Cancellation], label: str) -> None:
        """Amazon refused with 429: nothing was applied, the orders wait for the next run."""
        self.journal.batch_not_sent(batch_id)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", "queued", order_id=r.order_id,
                                detail="Amazon's feed rate limit: sent with the next run")
        self.agent.warn(
            f"Amazon's feed limit is reached: the cancellation of {label} is queued and goes "
            "out with the next cancelbot run (or: cancelbot feeds)."
        )

    def _reconcile(self, rows: list[Cancellation]) -> None:
        """Rows whose createFeed may have applied: find out from Amazon, never by resending."""
        unknown = []
        for row in rows:
            order = self.marketplace.get_order(row.order_id)
            if order is not None and (order.is_cancelled or _all_items_cancelled(order)):
                self.journal.settle_cancellation(row.order_id, "done", "seen cancelled on Amazon")
                self.journal.record(row.ticket_id, "amazon_feed", DONE, order_id=row.order_id,
                                    detail="re-checked: Amazon shows it cancelled")
            else:
                unknown.append(row)
        if not unknown:
            return
        first = min(_parse_time(r.sent_at) for r in unknown)
        since = (first - CLOCK_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        known = {f.feed_id for f in self.journal.feeds(limit=10_000)}
        strangers = [f for f in self.marketplace.list_feeds(since) if f["feedId"] not in known]
        if strangers:
            return  # a feed we cannot place may hold them: a person decides (_ask_about)
        for row in unknown:  # no feed at all since then: createFeed never reached Amazon
            self.journal.settle_cancellation(row.order_id, "queued")
            self.journal.record(row.ticket_id, "amazon_feed", FAILED, order_id=row.order_id,
                                detail="re-checked: no feed reached Amazon; queued again")

    def _ask_about(self, row: Cancellation) -> Cancellation | None:
        """Amazon cannot tell us: the agent checks Seller Central and says."""
        self.agent.warn(
            f"A cancellation of order {row.order_id} was being sent at {row.sent_at} when "
            "cancelbot stopped, and Amazon has feeds from that time this computer cannot "
            "place. Look at the order in Seller Central."
        )
        choice = self.agent.choose("What does Seller Central show?", [
            "It is cancelled (or a cancellation is pending): record it",
            "It is not cancelled: send the cancellation again",
            "Stop here",
        ])
        if choice == 2:
            raise Declined(f"stopped: the Amazon cancellation of {row.order_id} is unsettled")
        if choice == 0:
            self.journal.settle_cancellation(row.order_id, "done", "confirmed in Seller Central")
            self.journal.record(row.ticket_id, "amazon_feed", DONE, order_id=row.order_id,
                                detail="the agent saw it cancelled in Seller Central")
        else:
            self.journal.settle_cancellation(row.order_id, "queued")
            self.journal.record(row.ticket_id, "amazon_feed", FAILED, order_id=row.order_id,
                                detail="the agent saw it not cancelled: queued again")
        return self.journal.cancellation(row.order_id)

    # -- results ---------------------------------------------------------------------------------

    def _settle(self, feed_id: str, feed: dict[str, Any], report: FollowUp) -> None:
        """Read a finished feed's report; mark each order done or error; note errors loudly."""
        rows = self.journal.cancellations("sent", feed_id=feed_id)
        status = feed["processingStatus"]
        errors: dict[str, str] = {}
        document_id = feed.get("resultFeedDocumentId")
        if status in ("DONE", "FATAL") and isinstance(document_id, str) and document_id:
            parsed = parse_processing_report(self.marketplace.get_feed_result(document_id))
            by_message = {r.message_id: r for r in rows}
            for result in parsed.results:
                if result.code.lower() != "error":
                    continue
                row = next((r for r in rows if r.order_id == result.order_id), None)
                row = row or by_message.get(result.message_id)
                text = _short(f"{result.message_code}: {result.description}".strip(": "))
                if row is not None:
                    errors[row.order_id] = text
                elif status == "DONE":
                    # An error Amazon does not tie to one order: none can be trusted done.
                    errors = {r.order_id: text for r in rows}
        if status == "FATAL":
            for r in rows:
                errors.setdefault(r.order_id, "Amazon aborted the feed (FATAL)")
        elif status == "CANCELLED":
            errors = {r.order_id: "the feed was cancelled before Amazon processed it"
                      for r in rows}
        for row in rows:
            if row.order_id in errors:
                self._report_error(row, feed_id, errors[row.order_id])
                report.errors.append(row)
                report.settled.append((feed_id, row.order_id, "error"))
            else:
                self.journal.settle_cancellation(row.order_id, "done")
                self.journal.record(row.ticket_id, "amazon_feed", DONE, order_id=row.order_id,
                                    ref=feed_id, detail="Amazon processed it")
                report.settled.append((feed_id, row.order_id, "done"))
        self.journal.feed_checked(feed_id, {"DONE": "done", "FATAL": "fatal"}.get(
            status, "cancelled"))

    def _report_error(self, row: Cancellation, feed_id: str, text: str) -> None:
        self.agent.warn(
            f"AMAZON DID NOT CANCEL order {row.order_id} ({row.about}, feed "
            f"{feed_id}): {text}. Cancel it in Seller Central."
        )
        ticket_id = row.ticket_id
        if ticket_id is None:  # an order-only job (amazon_requests.py): no ticket to note it on
            self.journal.settle_cancellation(row.order_id, "error", text)
            self.journal.record(None, "amazon_feed", "error", order_id=row.order_id,
                                ref=feed_id, detail=text)
            return
        note = (f"{ERROR_MARK} order {row.order_id} (feed {feed_id}): "
                f"{text}. Cancel it by hand in Seller Central.")
        job = self.journal.open_job(ticket_id) or self.journal.last_job(ticket_id)
        if job is not None and job.order_id == row.order_id:
            note += " " + ref_tag(job.job_id)  # the ticket's own run: not "another run's" note
        helpdesk = self.helpdesk

        def already_noted() -> str | None:
            ticket = helpdesk.get_ticket(ticket_id)
            for c in cancelbot_notes(ticket):
                if f"feed {feed_id}" in c.body_text and row.order_id in c.body_text:
                    return str(c.id)
            return None

        # The note is a change like any other: journaled, so a rerun never posts it twice. The
        # error notes of one feed are one "job" of their own, apart from the ticket's.
        effects = Effects(self.journal, row.ticket_id, f"feed-{feed_id}")
        try:
            effects.run(f"error_note {row.order_id}",
                      lambda: str(helpdesk.add_private_note(ticket_id, text_to_html(note))),
                      recheck=already_noted, order_id=row.order_id, detail=f"feed {feed_id}")
        except CancelbotError as exc:
            self.agent.warn(f"Could not note it on ticket #{row.ticket_id}: {exc}")
        self.journal.settle_cancellation(row.order_id, "error", text)
        self.journal.record(row.ticket_id, "amazon_feed", "error", order_id=row.order_id,
                            ref=feed_id, detail=text)


def parse_processing_report(text: str) -> ProcessingReport:
    """The ProcessingReport of an order-acknowledgement feed; BadResponse if it is not one."""
    if len(text) > REPORT_LIMIT:
        raise BadResponse("Amazon", "the feed processing report is too large to read")
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise BadResponse("Amazon", f"the feed processing report is not XML ({exc})") from None
    report = _find(root, "ProcessingReport")
    if report is None:
        raise BadResponse("Amazon", "the feed result is not a ProcessingReport")
    summary = _find(report, "ProcessingSummary")

    def count(name: str) -> int:
        value = _text(summary, name) if summary is not None else ""
        return int(value) if value.isdigit() else 0

    results = []
    for node in _children(report, "Result"):
        message_id = _text(node, "MessageID")
        info = _find(node, "AdditionalInfo")
        results.append(ReportResult(
            message_id=int(message_id) if message_id.isdigit() else None,
            code=_text(node, "ResultCode"),
            message_code=_text(node, "ResultMessageCode"),
            description=_text(node, "ResultDescription"),
            order_id=_text(info, "AmazonOrderID") if info is not None else "",
        ))
    return ProcessingReport(count("MessagesProcessed"), count("MessagesSuccessful"),
                            count("MessagesWithError"), tuple(results))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == name]


def _find(node: ET.Element, name: str) -> ET.Element | None:
    for element in node.iter():
        if _local(element.tag) == name:
            return element
    return None


def _text(node: ET.Element | None, name: str) -> str:
    if node is None:
        return ""
    child = next(iter(_children(node, name)), None)
    return (child.text or "").strip() if child is not None else ""


def _all_items_cancelled(order: AmazonOrder) -> bool:
    return bool(order.items) and all(i.cancelled_by for i in order.items)


def _parse_time(value: str | None) -> datetime:
    try:
        return datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc) - timedelta(days=1)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

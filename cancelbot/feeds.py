"""Amazon cancellation feeds: sent once, followed off the critical path, refusals put back in
front of a person.

Every cancellation goes through the journal's `amazon_cancellations` table, keyed by order, so
an order is never put in two feeds:

    queued ──take_batch──▶ sending ──createFeed 202──▶ sent ──report read──▶ done | error
      ▲                        │
      └── 429, or re-checked ──┘  (createFeed refused, or never reached Amazon)

Who does what, and when:

    prepare     createFeedDocument and the upload, while the claim is confirmed and GSTK
                cancels: they change nothing on Amazon (the journal notes "prepared")
    cancel      on the critical path, after GSTK's success: createFeed with the prepared
                document when Amazon's feed window is open. Accepted (202): the ticket closes
                at once. A 429, or a window known to be closed, leaves the order queued: the
                agent never waits for Amazon
    follow_up   off the critical path — a thread of the run (beside its own reads), a thread of
                the shift (FeedFollower), or `cancelbot feeds`: settle uncertain sends, send every
                queued order in one feed once the window opens, poll the pending feeds (at once,
                each at most every POLL seconds), read their ProcessingReports
    refusal     Amazon refused a cancellation: the ticket goes back to open, assigned to the
                agent who handled it, with one private note naming the order, Amazon's reason,
                the next step for the order's status now and GSTK's disagreement. It stays
                "open" for `cancelbot feeds` (exit 4) until a later run finishes that ticket

createFeed allows a burst of 15 and then about one every two minutes: the journal's own feeds
tell how much of the burst is left; a 429 (another computer's feeds) closes the window for two
minutes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

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
from cancelbot.i18n import N_, _, note_
from cancelbot.journal import DONE, FAILED, INTENT, Cancellation, Feed, Journal
from cancelbot.models import AmazonItem, AmazonOrder, TicketStatus
from cancelbot.ports import Agent, Feeds, Helpdesk
from cancelbot.text import text_to_html, visible
from cancelbot.when import clock_time

if TYPE_CHECKING:  # loaded when a report is read: a run that sends no feed never needs it
    import xml.etree.ElementTree as ET

FINISHED = ("DONE", "CANCELLED", "FATAL")
SHIPPED = ("SHIPPED", "PARTIALLY_SHIPPED")
# Feeds created this long before our createFeed still count as "maybe ours": clocks differ.
CLOCK_MARGIN = timedelta(minutes=5)
REPORT_LIMIT = 5_000_000  # bytes of ProcessingReport we are willing to parse
BURST, RESTORE = 15, 120.0  # createFeed: a burst of 15, then one every 2 minutes
POLL = 30.0  # seconds between two looks at one pending feed (Amazon takes minutes)
LEASE_WAIT = 30.0  # seconds the critical path waits for another window's send or settle
_ASSIGNED = re.compile(r"assigned to agent (\d+)")


class ReportResult(Struct, frozen=True):
    message_id: int | None
    code: str  # Error or Warning
    message_code: str
    description: str
    order_id: str


class ProcessingReport(Struct, frozen=True):
    processed: int
    successful: int
    with_error: int
    results: tuple[ReportResult, ...]


class Prepared(Struct, frozen=True):
    """A feed document created and uploaded, not submitted: createFeed has not been called."""

    document_id: str
    order_ids: tuple[str, ...]


class Sent(Struct, frozen=True):
    """Where one order's Amazon cancellation stands after `FeedDesk.cancel`."""

    state: str  # sent (Amazon accepted the feed), queued (feed window), done, error
    feed_id: str = ""
    result: str = ""
    earlier: bool = False  # sent by an earlier run: nothing was sent now


class FollowUp(Struct):
    """What one follow-up did; `news` is for the person, shown by whoever runs it."""

    submitted: str = ""  # the feedId of queued cancellations sent now
    sent: list[Cancellation] = field(default_factory=list)  # what went in it
    settled: list[tuple[str, str, str]] = field(default_factory=list)  # feed, order, state
    refused: list[Cancellation] = field(default_factory=list)  # refusals found now
    unresolved: list[Cancellation] = field(default_factory=list)
    busy: bool = False  # another cancelbot process was handling the feeds
    news: list[tuple[str, str]] = field(default_factory=list)  # ("info" | "warn", text)
    refusals: set[str] = field(default_factory=set)  # the news that tell a refusal

    def info(self, text: str) -> None:
        self.news.append(("info", text))

    def warn(self, text: str) -> None:
        self.news.append(("warn", text))

    def refusal(self, text: str) -> None:
        self.warn(text)
        self.refusals.add(text)


def tell(agent: Agent, news: Sequence[tuple[str, str]]) -> None:
    """Show a follow-up's news (from the thread that owns the screen)."""
    for level, text in news:
        (agent.warn if level == "warn" else agent.info)(text)


class FeedDesk:
    """The journal's Amazon cancellations, sent and followed through Amazon's Feeds API.

    `agent` is only talked to on the critical path (`cancel`): everything a follow-up has to
    say goes into its `FollowUp.news`, so it can run on any thread."""

    poll = POLL  # seconds between two looks at one pending feed

    def __init__(
        self,
        journal: Journal,
        feeds: Feeds,
        helpdesk: Helpdesk,
        agent: Agent,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.marketplace = feeds
        self.helpdesk = helpdesk
        self.agent = agent
        self.clock = clock  # wall time: compared with the journal's timestamps
        self._closed_until = 0.0  # a 429 closes Amazon's feed window for a while

    # -- Amazon's feed window ----------------------------------------------------------------

    def window_wait(self) -> float:
        """Seconds before a createFeed may pass: 0 when the window is open now."""
        now = self.clock()
        created = sorted(_parse_time(f.created_at).timestamp()
                         for f in self.journal.feeds(limit=3 * BURST))
        tokens, last = float(BURST), None
        for at in created:
            if last is not None:
                tokens = min(BURST, tokens + (at - last) / RESTORE)
            tokens, last = tokens - 1, at
        if last is not None:
            tokens = min(BURST, tokens + max(0.0, now - last) / RESTORE)
        wait = 0.0 if tokens >= 1 else (1 - tokens) * RESTORE
        return max(wait, self._closed_until - now, 0.0)

    # -- one order, on the critical path of `cancelbot process` ---------------------------------

    def prepare(self, ticket_id: int | None, order: AmazonOrder) -> Prepared | None:
        """The feed document for `order` (and any order queued for the window), uploaded but
        not submitted; None when the window is closed (the order will wait queued anyway)."""
        if self.window_wait() > 0 or not order.items:
            return None
        row = self.journal.cancellation(order.order_id)
        if row is not None and row.state != "queued":
            return None  # in a feed already, or being settled: nothing to prepare
        queued = [r for r in self.journal.cancellations("queued") if r.order_id != order.order_id]
        orders = [_order(r) for r in queued] + [order]
        document_id = self.marketplace.upload_cancellations(orders)
        self.journal.record(ticket_id, "amazon_feed", "prepared", order_id=order.order_id,
                            ref=document_id, detail="document uploaded, not submitted")
        return Prepared(document_id, tuple(o.order_id for o in orders))

    def cancel(self, ticket_id: int | None, order: AmazonOrder,
               prepared: Prepared | None = None) -> Sent:
        """Cancel `order` on Amazon unless some run already sent it: createFeed now when the
        window is open, else queued. Never waits for Amazon to process the feed. `ticket_id`
        None: for an order-only job (a buyer's request found on Amazon, amazon_requests.py)."""
        row = self.journal.cancellation(order.order_id)
        if row is not None and row.state in ("sent", "done", "error"):
            return Sent(row.state, row.feed_id or "", row.result, earlier=True)
        if not order.items:
            raise BadResponse("Amazon", f"order {order.order_id}: no items to cancel")
        with self.journal.feeds_lease(wait=LEASE_WAIT) as mine:
            if mine:
                row = self.journal.cancellation(order.order_id)
                if row is not None and row.state == "sending":
                    self._reconcile([row])
                    row = self.journal.cancellation(order.order_id)
                    if row is not None and row.state == "sending":
                        row = self._ask_about(row)
            row = self.journal.queue_cancellation(
                ticket_id, order.order_id, order.marketplace_id,
                [i.order_item_id for i in order.items],
            )
            if row.state in ("sent", "done", "error"):
                return Sent(row.state, row.feed_id or "", row.result, earlier=True)
            if row.state == "sending":  # another window is sending it right now
                raise ServiceError("Amazon", "another cancelbot window is sending a feed: "
                                             "try again in a minute")
            if mine and self.window_wait() == 0:
                # Every order queued for the window goes in the same feed.
                with self.agent.busy("Sending the cancellation to Amazon"):
                    self._submit_queued(prepared, FollowUp())
            else:
                self.journal.record(ticket_id, "amazon_feed", "queued", order_id=order.order_id,
                                    detail="waits for Amazon's feed window")
            row = self._row(order.order_id)
        return Sent(row.state, row.feed_id or "", row.result)

    def seen_cancelled(self, ticket_id: int | None, order_id: str) -> None:
        """The run's own lookup shows the order cancelled on Amazon: a send left queued or
        unsure by an earlier run is settled, never sent."""
        row = self.journal.cancellation(order_id)
        if row is not None and row.state in ("queued", "sending"):
            self.journal.settle_cancellation(order_id, "done", "seen cancelled on Amazon")
            self.journal.record(ticket_id, "amazon_feed", DONE, order_id=order_id,
                                detail="the lookup shows it cancelled on Amazon")

    def cancelled_by_hand(self, ticket_id: int | None, order_id: str) -> None:
        """The agent cancelled it in Seller Central after Amazon refused the feed."""
        self.journal.settle_cancellation(order_id, "done", "cancelled by hand in Seller Central")
        self.journal.record(ticket_id, "amazon_feed", DONE, order_id=order_id,
                            detail="cancelled by hand in Seller Central after Amazon's refusal")

    def _row(self, order_id: str) -> Cancellation:
        row = self.journal.cancellation(order_id)
        if row is None:  # queued just above: the journal lost it
            raise JournalError(f"the journal lost the cancellation of order {order_id}")
        return row

    # -- off the critical path: a run's thread, the shift's thread, `cancelbot feeds` ----------

    def follow_up(self, *, leave_ticket: int | None = None, force: bool = False,
                  poll: float | None = None) -> FollowUp:
        """Settle uncertain sends, send what is queued (window open), check the pending feeds
        that are due (all of them with `force`), note refusals. Anything of `leave_ticket` is
        left to the run working on that ticket when it resumes an unfinished job (a finished
        ticket's leftovers are the follow-up's)."""
        report = FollowUp()
        poll = self.poll if poll is None else poll
        if leave_ticket is not None and self.journal.open_job(leave_ticket) is None:
            leave_ticket = None
        with self.journal.feeds_lease() as mine:
            if not mine:
                report.busy = True
                return report
            self._send_leftovers(report, leave_ticket)
        due = [f for f in self.journal.feeds("pending", limit=10_000)
               if (force or self._due(f, poll)) and not self._involves(f.feed_id, leave_ticket)]
        finished = self._poll(due, report)
        if finished or self._unnoted(leave_ticket):
            with self.journal.feeds_lease(wait=LEASE_WAIT) as mine:
                if not mine:
                    report.busy = True
                    return report
                for feed_id, data, text in finished:
                    self._settle(feed_id, data, text, report)
                for row in self._unnoted(leave_ticket):  # a refusal whose note failed earlier
                    self._refused(row, report)
        for feed_id, order_id, state in report.settled:
            if state == "done":
                report.info(_("Amazon processed feed {feed}: order {order} cancelled.").format(
                    feed=feed_id, order=order_id))
        return report

    def next_due(self, poll: float | None = None) -> float | None:
        """Seconds until a follow-up has something to do; None: nothing until more is sent."""
        poll = self.poll if poll is None else poll
        waits = []
        if self.journal.cancellations("queued"):
            waits.append(self.window_wait())
        if self.journal.cancellations("sending") or self._unnoted(None):
            waits.append(poll)
        now = datetime.now(timezone.utc)
        for feed in self.journal.feeds("pending", limit=10_000):
            seen = _parse_time(feed.checked_at or feed.created_at)
            waits.append(max(0.0, poll - (now - seen).total_seconds()))
        return min(waits) if waits else None

    def open_refusals(self, *, ask_helpdesk: bool = False) -> list[Cancellation]:
        """Refused cancellations whose ticket nobody has handled since: no cancelbot run has
        finished the ticket after the refusal (and, `ask_helpdesk`, nobody resolved or closed
        the reopened ticket by hand)."""
        found, open_tickets = [], refused_tickets(self.journal)
        for row in self.journal.cancellations("error"):
            if row.ticket_id is None or row.ticket_id not in open_tickets:
                continue  # an order-only job's refusal: told once, its request back in the queue
            if ask_helpdesk and self._reopened(row):
                try:
                    if self.helpdesk.get_ticket(row.ticket_id).is_closed:
                        continue  # reopened, then resolved or closed by a person
                except CancelbotError:
                    pass  # cannot tell: still shown
            found.append(row)
        return found

    def _send_leftovers(self, report: FollowUp, leave_ticket: int | None) -> None:
        """Under the feeds lease: sends an earlier run left unsure, and queued orders."""
        sending = self.journal.cancellations("sending")
        if sending and (leave_ticket is None
                        or all(r.ticket_id != leave_ticket for r in sending)):
            self._reconcile(sending)
            report.unresolved = self.journal.cancellations("sending")
            for row in report.unresolved:
                report.warn(_(
                    "cancelbot cannot tell whether Amazon received the cancellation of order "
                    "{order} ({about}) sent at {time}: rerun `{command}` to settle it.").format(
                    order=row.order_id, about=row.about, time=clock_time(row.sent_at),
                    command=row.rerun))
        queued = self.journal.cancellations("queued")
        if not queued or (leave_ticket is not None
                          and any(r.ticket_id == leave_ticket for r in queued)):
            return
        if self.window_wait() > 0:
            return
        report.submitted = self._submit_queued(None, report) or ""
        if report.submitted:
            report.sent = queued
            report.info(_("Amazon: sent the cancellation of {orders}, queued for the feed "
                          "window, in one feed {feed}.").format(
                orders=", ".join(f"{r.order_id} ({r.about})" for r in queued),
                feed=report.submitted))

    def _due(self, feed: Feed, poll: float) -> bool:
        seen = _parse_time(feed.checked_at or feed.created_at)
        return (datetime.now(timezone.utc) - seen).total_seconds() >= poll

    def _involves(self, feed_id: str, ticket_id: int | None) -> bool:
        return ticket_id is not None and any(
            r.ticket_id == ticket_id for r in self.journal.cancellations(feed_id=feed_id))

    def _poll(self, feeds: list[Feed], report: FollowUp) -> list[tuple[str, dict, str]]:
        """getFeed of each due feed at once, then the reports of the finished ones at once."""
        if not feeds:
            return []

        def look(feed: Feed) -> tuple[str, dict[str, Any] | None, str]:
            try:
                data = self.marketplace.get_feed(feed.feed_id)
                status = data["processingStatus"]
                document_id = data.get("resultFeedDocumentId")
                if status in ("DONE", "FATAL") and isinstance(document_id, str) and document_id:
                    return feed.feed_id, data, self.marketplace.get_feed_result(document_id)
                return feed.feed_id, data, ""
            except CancelbotError as exc:
                report.warn(_("Could not check Amazon feed {feed} ({problem}); cancelbot looks "
                              "again later.").format(feed=feed.feed_id, problem=exc))
                return feed.feed_id, None, ""

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="cancelbot-feed") as pool:
            looked = list(pool.map(look, feeds))
        finished = []
        for feed_id, data, text in looked:
            if data is None:
                continue
            if data["processingStatus"] in FINISHED:
                finished.append((feed_id, data, text))
            else:
                self.journal.feed_checked(feed_id, "pending")  # looked at: next one in POLL
        return finished

    # -- sending ---------------------------------------------------------------------------------

    def _submit_queued(self, prepared: Prepared | None, report: FollowUp) -> str | None:
        """Send every queued cancellation in one feed; its feedId, or None (rate limited)."""
        batch_id, rows = self.journal.take_batch()
        if not rows:
            return None
        label = ", ".join(r.order_id for r in rows)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", INTENT, order_id=r.order_id,
                                ref=batch_id, detail=f"{len(rows)} order(s) in one feed")
        document_id = prepared.document_id if prepared is not None and \
            sorted(prepared.order_ids) == sorted(r.order_id for r in rows) else None
        try:
            if document_id is None:
                document_id = self.marketplace.upload_cancellations([_order(r) for r in rows])
        except RateLimited:
            self._keep_queued(batch_id, rows, label, report)
            return None
        except BaseException:
            self.journal.batch_not_sent(batch_id)  # Amazon was asked nothing yet
            raise
        try:
            feed_id = self.marketplace.create_feed(
                document_id, sorted({r.marketplace_id for r in rows}), label
            )
        except RateLimited:
            self._keep_queued(batch_id, rows, label, report)
            return None
        except ServiceError as exc:
            if exc.status in (401, 403):
                self.journal.batch_not_sent(batch_id)
            elif exc.status is not None and 400 <= exc.status < 500:
                for r in rows:  # Amazon refused this feed: sending it again would not help
                    self.journal.settle_cancellation(r.order_id, "error", _short(str(exc)))
                    self.journal.record(r.ticket_id, "amazon_feed", "error",
                                        order_id=r.order_id, detail=_short(str(exc)))
            raise  # 5xx, timeout, broken answer: it may have applied; re-checked next time
        self.journal.batch_sent(batch_id, feed_id)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", DONE, order_id=r.order_id,
                                ref=feed_id, detail="createFeed accepted")
        return feed_id

    def _keep_queued(self, batch_id: str, rows: list[Cancellation], label: str,
                     report: FollowUp) -> None:
        """Amazon refused with 429: nothing was applied; the orders wait for the window."""
        self._closed_until = self.clock() + RESTORE
        self.journal.batch_not_sent(batch_id)
        for r in rows:
            self.journal.record(r.ticket_id, "amazon_feed", "queued", order_id=r.order_id,
                                detail="Amazon's feed limit (429): sent when the window opens")
        report.info(_("Amazon's feed limit is reached: the cancellation of {orders} waits for "
                      "the window and goes out in one feed (cancelbot feeds, or the next run)."
                      ).format(orders=label))

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

    def _settle(self, feed_id: str, feed: dict[str, Any], text: str, report: FollowUp) -> None:
        """A finished feed and its report: mark each order done or refused."""
        rows = self.journal.cancellations("sent", feed_id=feed_id)
        status = feed["processingStatus"]
        errors: dict[str, str] = {}
        if text:
            parsed = parse_processing_report(text)
            by_message = {r.message_id: r for r in rows}
            for result in parsed.results:
                if result.code.lower() != "error":
                    continue
                row = next((r for r in rows if r.order_id == result.order_id), None)
                row = row or by_message.get(result.message_id)
                reason = _short(f"{result.message_code}: {result.description}".strip(": "))
                if row is not None:
                    errors[row.order_id] = reason
                elif status == "DONE":
                    # An error Amazon does not tie to one order: none can be trusted done.
                    errors = {r.order_id: reason for r in rows}
        if status == "FATAL":
            for r in rows:
                errors.setdefault(r.order_id, "Amazon aborted the feed (FATAL)")
        elif status == "CANCELLED":
            errors = {r.order_id: "the feed was cancelled before Amazon processed it"
                      for r in rows}
        for row in rows:
            if row.order_id in errors:
                self.journal.settle_cancellation(row.order_id, "error", errors[row.order_id])
                self.journal.record(row.ticket_id, "amazon_feed", "error", order_id=row.order_id,
                                    ref=feed_id, detail=errors[row.order_id])
                report.settled.append((feed_id, row.order_id, "error"))
                fresh = self.journal.cancellation(row.order_id)
                if fresh is not None:
                    self._refused(fresh, report)
            else:
                self.journal.settle_cancellation(row.order_id, "done")
                self.journal.record(row.ticket_id, "amazon_feed", DONE, order_id=row.order_id,
                                    ref=feed_id, detail="Amazon processed it")
                report.settled.append((feed_id, row.order_id, "done"))
        self.journal.feed_checked(feed_id, {"DONE": "done", "FATAL": "fatal"}.get(
            status, "cancelled"))

    def _refused(self, row: Cancellation, report: FollowUp) -> None:
        """Amazon refused `row`: its ticket back to open with the handling agent, one note."""
        try:
            order = self.marketplace.get_order(row.order_id)
        except CancelbotError:
            order = None  # the note says to look in Seller Central
        if order is not None and (order.is_cancelled or _all_items_cancelled(order)):
            # Cancelled all the same (the buyer, another run, by hand): nothing to fix.
            self.journal.settle_cancellation(row.order_id, "done", "seen cancelled on Amazon")
            self.journal.record(row.ticket_id, "amazon_feed", DONE, order_id=row.order_id,
                                detail=f"Amazon reported {row.result}, but shows it cancelled")
            return
        status = order.fulfillment_status.upper() if order is not None else ""
        if row.ticket_id is None:
            # An order-only job (amazon_requests.py): no ticket to note or reopen. The shift
            # tells it; the buyer's ticket, when it comes, is not closed as handled
            # (amazon_requests.handled_from_amazon) but asks for Amazon's cancel again.
            report.refused.append(row)
            report.refusal(_("AMAZON DID NOT CANCEL order {order} ({about}, feed {feed}): "
                             "{result}. Next: {next}").format(
                order=row.order_id, about=row.about, feed=row.feed_id or "createFeed",
                result=row.result, next=next_step(status, None, _)))
            return
        ticket_id = row.ticket_id
        agent_id = handler(self.journal, ticket_id, row.order_id)
        feed = row.feed_id or "createFeed"
        effects = Effects(self.journal, ticket_id, f"feed-{feed}")
        note = refusal_note(row, status, agent_id)
        job = self.journal.last_job(ticket_id)
        if job is not None and job.order_id == row.order_id:
            note += " " + ref_tag(job.job_id)  # the ticket's own run: not "another run's" note
        helpdesk, problems = self.helpdesk, []

        def already_noted() -> str | None:
            for c in cancelbot_notes(helpdesk.get_ticket(ticket_id)):
                if f"feed {feed}" in c.body_text and row.order_id in c.body_text \
                        and c.body_text.startswith(ERROR_MARK):
                    return str(c.id)
            return None

        def reopen() -> str:
            helpdesk.set_status(ticket_id, int(TicketStatus.OPEN), assign_to=agent_id)
            return "" if agent_id is None else str(agent_id)

        # Each a change like any other: journaled, so a later follow-up never does it twice.
        for step, do, check in (
            (f"error_note {row.order_id}",
             lambda: str(helpdesk.add_private_note(ticket_id, text_to_html(note))),
             already_noted),
            (f"reopen {row.order_id}", reopen,
             lambda: "" if helpdesk.get_ticket(ticket_id).status == TicketStatus.OPEN
             else None),
        ):
            try:
                effects.run(step, do, recheck=check, order_id=row.order_id, detail=f"feed {feed}")
            except CancelbotError as exc:
                problems.append(str(exc))
        done = (_("ticket #{ticket} reopened and assigned to agent {agent}") if agent_id
                is not None else _("ticket #{ticket} reopened")) if not problems else _(
            "could not update ticket #{ticket} ({problem}): tried again later")
        done = done.format(ticket=ticket_id, agent=agent_id, problem=problems[0] if problems
                           else "")
        report.refused.append(row)
        report.refusal(_("AMAZON DID NOT CANCEL order {order} (ticket #{ticket}, feed {feed}): "
                         "{result}. {done}. Next: {next}").format(
            order=row.order_id, ticket=ticket_id, feed=feed, result=row.result, done=done,
            next=next_step(status, ticket_id, _)))

    def _unnoted(self, leave_ticket: int | None) -> list[Cancellation]:
        """Refusals of a feed whose note or reopening is not done yet (Freshdesk failed last
        time). A createFeed refused on the spot was shown to the agent then: no note."""
        rows = [r for r in self.journal.cancellations("error")
                if r.feed_id and r.ticket_id is not None and r.ticket_id != leave_ticket]
        open_tickets = refused_tickets(self.journal) if rows else set()
        found = []
        for row in rows:
            effects = Effects(self.journal, row.ticket_id, f"feed-{row.feed_id}")
            if row.ticket_id in open_tickets and not (
                    effects.done(f"error_note {row.order_id}")
                    and effects.done(f"reopen {row.order_id}")):
                found.append(row)
        return found

    def _reopened(self, row: Cancellation) -> bool:
        effects = Effects(self.journal, row.ticket_id, f"feed-{row.feed_id or 'createFeed'}")
        return effects.done(f"reopen {row.order_id}") is not None


class FeedFollower:
    """A shift's feeds, followed on a thread of the shift's own: the agent never waits for
    Amazon. `news()` hands what it found to the thread that owns the screen; `close()` ends it.
    """

    def __init__(self, desk: FeedDesk, *, poll: float = POLL) -> None:
        self.desk = desk
        self.poll = poll
        self.last = FollowUp()
        self.error: BaseException | None = None
        self._working_on: int | None = None
        self._news: list[tuple[str, str]] = []
        self._said: set[tuple[str, str]] = set()  # each piece of news is told once
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cancelbot-feeds", daemon=True)

    def start(self) -> FeedFollower:
        self._thread.start()
        return self

    def working_on(self, ticket_id: int | None) -> None:
        """The ticket on screen: its own cancellation is left to its run."""
        self._working_on = ticket_id

    def wake(self) -> None:
        self._wake.set()

    def news(self) -> list[tuple[str, str]]:
        with self._lock:
            found, self._news = self._news, []
        return found

    def close(self, timeout: float = 10.0) -> list[tuple[str, str]]:
        """Stop after the round in flight (at most `timeout` seconds); the news left."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error  # a bug in the thread crashes loudly, here
        return self.news()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            delay: float | None = self.poll
            try:
                report = self.desk.follow_up(leave_ticket=self._working_on, poll=self.poll)
                delay = self.desk.next_due(self.poll)
            except CancelbotError as exc:
                report = FollowUp()
                report.warn(f"Could not follow the Amazon feeds ({exc}); trying again later.")
            except BaseException as exc:  # noqa: BLE001 - handed to close(), never lost
                self.error = exc
                return
            with self._lock:
                self.last = report
                self._news.extend(n for n in report.news if n not in self._said)
                self._said.update(report.news)
            if self._stop.is_set():
                return
            self._wake.wait(None if delay is None else max(delay, 0.02))


def handler(journal: Journal, ticket_id: int, order_id: str) -> int | None:
    """The Freshdesk agent the ticket's run assigned it to, as its journal says."""
    job = journal.last_job(ticket_id)
    if job is None or job.order_id != order_id:
        return None
    for step in ("status", "claim"):
        event = journal.step_state(job.job_id, step)
        found = _ASSIGNED.search(event.detail) if event is not None and event.phase == DONE \
            else None
        if found:
            return int(found.group(1))
    return None


def refused_tickets(journal: Journal) -> set[int]:
    """Tickets with an Amazon refusal that no cancelbot run has finished since."""
    tickets = set()
    for row in journal.cancellations("error"):
        if row.ticket_id is None:
            continue  # an order-only job's: no ticket
        events = journal.history(row.ticket_id, limit=1_000)
        refusal = max((e.id for e in events if e.step == "amazon_feed" and e.phase == "error"
                       and e.order_id == row.order_id), default=None)
        if refusal is None:
            continue
        finished = any(e.id > refusal and e.step == "status" and e.phase == DONE
                       and not e.job_id.startswith("feed-") for e in events)
        if not finished:
            tickets.add(row.ticket_id)
    return tickets


def next_step(status: str, ticket_id: int | None,
              translate: Callable[[str], str] = note_) -> str:
    """What a person does next about a refused cancellation, for the order's status now (in
    the team's language for a note, `translate=_` for the screen)."""
    rerun = "`cancelbot queue`" if ticket_id is None else f"`cancelbot process {ticket_id}`"
    if status in SHIPPED:
        text = translate(N_("the parcel has shipped: the buyer gets the cannot-cancel reply "
                            "(they may refuse the parcel), which {command} offers."))
    elif status in ("PENDING", "UNSHIPPED"):
        text = translate(N_("still unshipped: cancel it by hand in Seller Central, then "
                            "{command} closes the ticket."))
    else:
        text = translate(N_("look at the order in Seller Central, then run {command}."))
    return text.format(command=rerun)


def refusal_note(row: Cancellation, status: str, agent_id: int | None) -> str:
    """The private note on a ticket whose cancellation Amazon refused (the team's language);
    it starts with ERROR_MARK, which finds it again, in every language."""
    now = note_("Amazon now shows it {status}").format(status=status) if status \
        else note_("Amazon's status now is unknown")
    body = (note_("order {order} (feed {feed}): {result}. {now}. Next step: {next} GSTK says "
                  "Annulée but Amazon has not cancelled the order: the parcel may ship. The "
                  "ticket is open again, assigned to agent {agent}.") if agent_id is not None
            else note_("order {order} (feed {feed}): {result}. {now}. Next step: {next} GSTK "
                       "says Annulée but Amazon has not cancelled the order: the parcel may "
                       "ship. The ticket is open again."))
    return ERROR_MARK + " " + body.format(
        order=row.order_id, feed=row.feed_id or "createFeed", result=row.result, now=now,
        next=next_step(status, row.ticket_id), agent=agent_id)


def _order(row: Cancellation) -> AmazonOrder:
    return AmazonOrder(row.order_id, "", row.marketplace_id,
                       items=tuple(AmazonItem(i) for i in row.item_ids))


def parse_processing_report(text: str) -> ProcessingReport:
    """The ProcessingReport of an order-acknowledgement feed; BadResponse if it is not one."""
    if len(text) > REPORT_LIMIT:
        raise BadResponse("Amazon", "the feed processing report is too large to read")
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text.encode("utf-8", "replace"))  # "replace": lone surrogates
    except ET.ParseError as exc:
        raise BadResponse("Amazon", f"the feed processing report is not XML ({exc})") from None
    report = _find(root, "ProcessingReport")
    if report is None:
        raise BadResponse("Amazon", "the feed result is not a ProcessingReport")
    summary = _find(report, "ProcessingSummary")

    def count(name: str) -> int:
        return _number(_text(summary, name) if summary is not None else "") or 0

    results = []
    for node in _children(report, "Result"):
        message_id = _text(node, "MessageID")
        info = _find(node, "AdditionalInfo")
        results.append(ReportResult(
            message_id=_number(message_id),
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
    """A child's text, made safe for a screen and a note (Amazon's report is outside text)."""
    if node is None:
        return ""
    child = next(iter(_children(node, name)), None)
    return visible((child.text or "").strip()) if child is not None else ""


def _number(value: str) -> int | None:
    # isdigit() is true for "²", which int() refuses: ASCII decimal digits only.
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 19 else None


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

"""Buyers' cancellation requests found on Amazon before their email reaches Freshdesk.

Amazon shows a buyer's request on the order itself (Orders 2026-01-01: an item's
`cancellation.cancellationRequest.requester` is BUYER), often well before Amazon's email lands
in Freshdesk — and the warehouse picks on its own schedule. So the shift also asks Amazon:

    discover()          searchOrders: orders not shipped yet, updated since the watermark the
                        journal keeps; each one with a buyer's request is remembered in the
                        journal until cancelbot handles its order
    waiting()           the remembered requests that no queued ticket names and no job handled
    handle_request()    the procedure without its Freshdesk steps: look up (lookup.py), decide
                        (decision.py), then GSTK's cancel and Amazon's feed — each once, in an
                        *order-only job* of the journal — or the cannot-cancel message, sent by
                        the agent from Seller Central
    close_if_handled()  the hook of `process`: the request's ticket, arriving later, is closed
                        (or resolved) with a note; nothing is cancelled or sent twice

Requests are remembered in this computer's journal: two agents on two computers may both see
one. GSTK then arbitrates: the second finds the order cancelled (or its cancel refused and the
order cancelled meanwhile) and cancels nothing more.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from msgspec import Struct

from cancelbot import marketplaces, replies
from cancelbot.branches import Run, amazon_summary
from cancelbot.claims import NOTE_MARK, how_label
from cancelbot.decision import Branch, decide
from cancelbot.effects import NOW, Effects
from cancelbot.errors import (
    CancelbotError,
    Declined,
    ExitCode,
    NeedsHuman,
    OrderMovedOn,
    RateLimited,
    ServiceError,
)
from cancelbot.feeds import FeedDesk
from cancelbot.i18n import N_, _
from cancelbot.journal import AmazonRequest, Job, Journal
from cancelbot.lookup import Lookup, look_up
from cancelbot.models import (
    AmazonOrder,
    BackOfficeOrder,
    OrderSearchPage,
    OrderStatus,
    TicketStatus,
)
from cancelbot.outcome import Action, Outcome
from cancelbot.ports import Agent, Options, Services
from cancelbot.services.assisted import cancel_in_seller_central
from cancelbot.when import clock_time

WATERMARK = "amazon_search"
FIRST_LOOK_BACK = timedelta(hours=24)  # the first search of a journal: a day of updates
OVERLAP = timedelta(minutes=5)  # each search re-reads the last minutes: Amazon's index lags
AMAZON_LAG = timedelta(minutes=2)  # searchOrders serves updates at least two minutes old
MAX_PAGES = 5  # of 100 orders; the rest waits for the next search (the watermark stays)
MOVES = (N_("Look up the order"), N_("Act on its status"))
RERUN = "cancelbot queue"


@runtime_checkable
class OrderSearch(Protocol):
    """SP-API searchOrders, paced by its usage plan (services/amazon.py AmazonClient)."""

    def search_ready_in(self) -> float: ...
    def search_orders(self, last_updated_after: str, *,
                      page_token: str | None = None) -> OrderSearchPage: ...


def order_search(services: Services) -> OrderSearch | None:
    """The marketplace client when it can search (SP-API configured), else None."""
    marketplace = services.marketplace
    return marketplace if isinstance(marketplace, OrderSearch) else None


# -- finding them ---------------------------------------------------------------------------------


class Discovery(Struct):
    """What one look at Amazon found."""

    searched: bool  # False: the usage plan allowed no call yet
    new: list[str]  # order ids of requests seen for the first time
    next_in: float  # seconds before the usage plan allows the next search
    problem: str = ""  # why the search stopped short (shown, never fatal to a shift)


def requested(order: AmazonOrder) -> bool:
    """The buyer asked Amazon to cancel, and Amazon has not cancelled every item yet."""
    return order.buyer_requested_cancel and not (
        order.is_cancelled or (order.items and all(i.cancelled_by for i in order.items)))


def discover(search: OrderSearch, journal: Journal, *, now: datetime | None = None) -> Discovery:
    """One searchOrders pass since the journal's watermark, when the usage plan allows it; the
    requests found are remembered in the journal. The watermark moves only after a complete
    pass, so a pass cut short is read again from the same point."""
    now = now or datetime.now(timezone.utc)
    wait = search.search_ready_in()
    if wait > 0:
        return Discovery(False, [], wait)
    since = journal.watermark(WATERMARK) or iso(now - FIRST_LOOK_BACK)
    found: list[AmazonOrder] = []
    covered, token, complete, problem = "", None, False, ""
    try:
        for _page in range(MAX_PAGES):
            page = search.search_orders(since, page_token=token)
            found += [o for o in page.orders if requested(o)]
            covered = covered or page.last_updated_before
            token = page.next_token
            if token is None:
                complete = True
                break
            if search.search_ready_in() > 0:
                problem = "more pages than Amazon's search allows now: the rest comes next time"
                break
        else:
            problem = f"more than {MAX_PAGES} pages: the rest comes with the next search"
    except RateLimited as exc:
        problem = str(exc)
    except ServiceError as exc:
        problem = f"the search for requests on Amazon failed ({exc})"
    new = journal.note_requests(
        [(o.order_id, o.marketplace_id, o.last_updated or iso(now)) for o in found])
    if complete:
        until = parse_time(covered) or now - AMAZON_LAG
        journal.set_watermark(WATERMARK, iso(until - OVERLAP))
    return Discovery(True, new, search.search_ready_in(), problem)


def waiting(journal: Journal, named: Collection[str]) -> list[AmazonRequest]:
    """The open requests no ticket in `named` speaks of, oldest first. A request whose order a
    job finished (this one's, or a ticket's) is closed on the way."""
    found = []
    for request in journal.open_requests():
        done = next((j for j in journal.jobs_for_order(request.order_id)
                     if j.state == "done"), None)
        if done is not None:
            journal.close_request(request.order_id, f"handled (journal job {done.job_id})")
        elif request.order_id not in named:
            found.append(request)
    return found


# -- handling one ---------------------------------------------------------------------------------


def handle_request(order_id: str, services: Services, agent: Agent, options: Options,
                   journal: Journal) -> Outcome:
    """The procedure for a buyer's request no ticket names yet: look the order up, then cancel
    it (GSTK, then Amazon's feed) or send the cannot-cancel message from Seller Central. The
    Outcome's ticket_id is None; every change goes through an order-only job of the journal."""
    outcome = Outcome(None, dry_run=options.dry_run, rerun=RERUN)
    outcome.order_id = order_id
    request = _Request(services, agent, options, journal, outcome)
    try:
        with nullcontext() if options.dry_run else journal.lease_order(order_id):
            request.job = journal.open_order_job(order_id)
            request.go()
    except CancelbotError as exc:
        request.stopped(exc)
    except KeyboardInterrupt:
        outcome.interrupted, outcome.exit_code = True, ExitCode.INTERRUPTED
        outcome.unsure = request.unsure()
    return outcome


class _Request:
    """One order-only run: what it read, its job in the journal, the changes it made."""

    def __init__(self, services: Services, agent: Agent, options: Options, journal: Journal,
                 outcome: Outcome) -> None:
        self.services, self.agent, self.options = services, agent, options
        self.journal, self.outcome = journal, outcome
        self.order_id = outcome.order_id
        self.feeds = FeedDesk(journal, services.feeds, services.helpdesk, agent) \
            if services.feeds is not None else None
        self.job: Job | None = None

    @property
    def effects(self) -> Effects | None:
        return None if self.job is None else Effects(self.journal, None, self.job.job_id)

    def go(self) -> None:
        agent, outcome = self.agent, self.outcome
        agent.step(1, len(MOVES), MOVES[0])
        agent.info(_("The buyer asked Amazon to cancel order {order}; no ticket names it yet."
                     ).format(order=self.order_id))
        if self.job is None:
            earlier = next((j for j in self.journal.jobs_for_order(self.order_id)
                            if j.state == "done"), None)
            if earlier is not None:
                which = _("this request") if earlier.ticket_id is None \
                    else _("ticket #{id}").format(id=earlier.ticket_id)
                agent.info(_("cancelbot already handled order {order} ({which}, {time}): nothing "
                             "left to do, nothing changed.").format(
                    order=self.order_id, which=which, time=clock_time(earlier.finished_at)))
                self.journal.close_request(self.order_id, f"handled (journal job "
                                                          f"{earlier.job_id})")
                outcome.branch, outcome.reason = "already_done", "handled earlier"
                return
        else:
            agent.info(_("Resuming the unfinished run of {time} (journal job {job}).").format(
                time=clock_time(self.job.started_at), job=self.job.job_id))
        found = self.look_up()
        agent.step(2, len(MOVES), MOVES[1])
        gstk = found.gstk
        decision = decide(gstk.status if gstk else None, found.amazon_status,
                          in_gstk=gstk is not None)
        outcome.branch, outcome.reason, outcome.check = decision.branch.value, \
            decision.reason, decision.check
        agent.show_decision(decision)
        if decision.branch is Branch.NEEDS_HUMAN or gstk is None:
            outcome.exit_code = ExitCode.NEEDS_HUMAN
            agent.warn(_("Nothing changed. Check: {check}.").format(check=_(decision.check)))
        elif decision.branch is Branch.CANCEL:
            self.cancel(gstk, found.amazon)
        elif decision.branch is Branch.CANNOT_CANCEL:
            self.cannot_cancel()
        else:
            self.already_cancelled(found.amazon)

    def look_up(self) -> Lookup:
        services, outcome = self.services, self.outcome
        found = look_up(services.backoffice, services.marketplace, self.order_id, None,
                        ask_locale=False, busy=self.agent.busy)
        outcome.gstk, outcome.amazon = found.gstk, found.amazon
        outcome.amazon_lookup, outcome.marketplace_id = found.amazon_lookup, \
            found.marketplace_id
        outcome.marketplace = marketplaces.marketplace_label(found.marketplace_id)
        links = outcome.links
        links.seller_central_order = marketplaces.seller_central_order_url(
            self.order_id, found.marketplace_id)
        links.contact_buyer = marketplaces.contact_buyer_url(self.order_id, found.marketplace_id)
        links.gstk_order = found.gstk.url if found.gstk else ""
        self.agent.show_order(self.order_id, found.gstk, found.amazon, outcome.marketplace,
                              amazon_checked=found.amazon_checked)
        return found

    # -- the branches --------------------------------------------------------------------------

    def cancel(self, gstk: BackOfficeOrder, amazon: AmazonOrder | None) -> None:
        backoffice = self.services.backoffice
        self.by_hand(gstk=not backoffice.automated, amazon=self.feeds is None)
        self.plan([
            _("GSTK: cancel order {id} (stops the warehouse)").format(id=gstk.id),
            _("Amazon: cancel {order} with reason BuyerCanceled ({items}); Amazon tells the "
              "buyer").format(order=self.order_id, items=_items(amazon)),
            _("Freshdesk: nothing yet — when the buyer's email arrives, cancelbot closes that "
              "ticket with a note"),
        ])
        if not self.go_ahead(N_("Cancel this order in GSTK and on Amazon?")):
            return
        effects = self.begin(Branch.CANCEL.value)
        comment = f"Buyer request on Amazon, order {self.order_id} (cancelbot)"

        def gstk_cancel() -> str:
            if not backoffice.automated:
                return backoffice.cancel(gstk, comment).id
            with self.agent.busy(_("Cancelling in GSTK")):
                return backoffice.cancel(gstk, comment).id

        try:
            ref, how = effects.run("gstk_cancel", gstk_cancel, order_id=self.order_id,
                                   recheck=self.gstk_cancelled if backoffice.automated
                                   else None)
        except OrderMovedOn as moved:
            fresh = backoffice.find_order(self.order_id) if backoffice.automated else None
            if fresh is None or fresh.status is not OrderStatus.CANCELLED:
                # The picking race: the warehouse took the order between lookup and cancel.
                self.agent.warn(_("GSTK refused: the order has moved on ({status}). It was NOT "
                                  "cancelled anywhere; switching to the cannot-cancel message."
                                  ).format(status=moved.label))
                self.outcome.branch = Branch.CANNOT_CANCEL.value
                self.outcome.reason = f"GSTK refused the cancel: now {moved.label}"
                self.begin(self.outcome.branch)
                self.cannot_cancel()
                return
            # Cancelled meanwhile (another agent, another computer): nothing more in GSTK.
            self.agent.info(_("GSTK shows order {id} cancelled meanwhile: not cancelling it "
                              "again.").format(id=fresh.id))
        else:
            self.done("GSTK", _("order {id} cancelled").format(id=gstk.id), ref, how)
        self.cancel_on_amazon(amazon)
        self.finish()

    def already_cancelled(self, amazon: AmazonOrder | None) -> None:
        row = self.journal.cancellation(self.order_id)
        sent = row is not None and row.state in ("queued", "sending", "sent", "done")
        if (amazon is not None and amazon.is_cancelled) or sent:
            self.agent.info(_("Cancelled in GSTK, and on Amazon (or on its way): nothing left "
                              "to do, nothing changed."))
            self.journal.close_request(self.order_id, "already cancelled")
            return
        self.by_hand(amazon=self.feeds is None)
        self.agent.warn(_("Cancelled in GSTK, but Amazon does not show it cancelled."))
        self.plan([_("Amazon: cancel {order} with reason BuyerCanceled ({items})").format(
            order=self.order_id, items=_items(amazon))])
        if not self.go_ahead(N_("Cancel it on Amazon?")):
            return
        self.begin(Branch.ALREADY_CANCELLED.value)
        self.cancel_on_amazon(amazon)
        self.finish()

    def cannot_cancel(self) -> None:
        agent, outcome, options = self.agent, self.outcome, self.options
        channel = "Seller Central (assisted)"
        effects = self.effects
        if effects is not None and effects.done("reply") is not None:
            self.finish()  # a resumed run: the message went out before it stopped
            return
        draft = replies.Draft.prepare(
            agent, self.services.marketplace, order_id=self.order_id,
            marketplace_id=outcome.marketplace_id, channel=channel,
            copy_to=outcome.links.contact_buyer,
            templates=options.templates, language=options.language,
            agent_name=options.agent_name,
        )
        outcome.message, outcome.language, outcome.language_why = draft.text, draft.code, \
            draft.why
        self.plan([_("You: send the message above to the buyer from Seller Central"),
                   _("Freshdesk: nothing yet — when the buyer's email arrives, cancelbot "
                     "resolves that ticket with a note")])
        agent.info(_("Contact the buyer: {url}").format(url=outcome.links.contact_buyer))
        if options.dry_run:
            agent.info(_("Dry run: nothing was changed."))
            return
        # Only a person can say it was sent: --yes stops here (NeedsHuman), not answer for them.
        if not draft.confirm(N_("Have you sent it from Seller Central?"), automatic=False):
            raise Declined(_("message not confirmed as sent: nothing changed"))
        outcome.message, outcome.language = draft.text, draft.code
        effects = self.begin(Branch.CANNOT_CANCEL.value)
        _ref, how = effects.run("reply", lambda: "", order_id=self.order_id,
                             detail=f"sent by the agent in Seller Central ({draft.code})")
        self.done("Amazon", _("message sent by the agent in Seller Central ({language})").format(
            language=draft.code), "", how)
        self.finish()

    # -- shared moves --------------------------------------------------------------------------

    def cancel_on_amazon(self, amazon: AmazonOrder | None) -> None:
        effects = self.effects
        assert effects is not None  # begin() came first
        if self.feeds is None:
            _ref, how = effects.run(
                "amazon_cancel", lambda: cancel_in_seller_central(
                    self.agent, self.order_id, self.outcome.marketplace_id),
                order_id=self.order_id, detail="by hand in Seller Central")
            self.done("Amazon", _("cancelled by the agent in Seller Central"), "", how)
            return
        if amazon is None:
            raise NeedsHuman(_("Amazon does not know order {order}: nothing to cancel there"
                               ).format(order=self.order_id))
        # The journal's cancellation rows keep the order out of a second feed, whoever asks.
        sent = self.feeds.cancel(None, amazon)
        if sent.state == "error":
            raise NeedsHuman(_("Amazon did not cancel order {order} (feed {feed}): {result}. "
                               "Cancel it in Seller Central").format(
                order=self.order_id, feed=sent.feed_id, result=sent.result))
        if effects.done("amazon_cancel") is None:
            effects.record_done("amazon_cancel", ref=sent.feed_id, detail=sent.state,
                                order_id=self.order_id)
        if sent.earlier:
            self.agent.info(_("Amazon: cancellation sent earlier (feed {feed}) — not sending "
                              "it again.").format(feed=sent.feed_id))
        elif sent.state == "queued":
            self.done("Amazon", _("cancellation queued (Amazon's feed limit): cancelbot sends "
                                  "it with its next run"))
        else:
            text = _("cancellation sent (feed {feed}, BuyerCanceled; Amazon is still processing "
                     "it)") if sent.state == "sent" else _("cancellation sent (feed {feed}, "
                                                           "BuyerCanceled)")
            self.done("Amazon", text.format(feed=sent.feed_id), sent.feed_id)

    def gstk_cancelled(self) -> str | None:
        found = self.services.backoffice.find_order(self.order_id)
        return found.id if found is not None and found.status is OrderStatus.CANCELLED else None

    def by_hand(self, *, gstk: bool = False, amazon: bool = False) -> None:
        """--yes cannot do a step by hand: stop before anything is asked."""
        steps = [name for name, assisted in (("GSTK", gstk), ("Amazon", amazon)) if assisted]
        if steps and not self.agent.interactive and not self.options.dry_run:
            raise NeedsHuman((_("order {order}: the {step} step is done by hand; run without "
                                "--yes") if len(steps) == 1 else _(
                "order {order}: the GSTK and Amazon steps are done by hand; run without --yes"))
                .format(order=self.order_id, step=steps[0]))

    def plan(self, lines: list[str]) -> None:
        self.outcome.planned = lines
        self.agent.show_plan(lines)

    def go_ahead(self, question: str) -> bool:
        if self.options.dry_run:
            self.agent.info(_("Dry run: nothing was changed."))
            return False
        if not self.agent.confirm(question):
            raise Declined(_("declined: nothing changed"))
        return True

    def begin(self, branch: str) -> Effects:
        """The order-only job, before the first change (or the unfinished one, resumed)."""
        if self.job is None:
            self.job = self.journal.start_job(None, self.order_id, branch)
        elif self.job.branch != branch:
            self.journal.update_job(self.job.job_id, branch=branch)
        return Effects(self.journal, None, self.job.job_id)

    def done(self, system: str, what: str, ref: str = "", how: str = NOW) -> None:
        words = how_label(what, how)
        if words is not None:
            self.outcome.actions.append(Action(system, words, ref))
        else:  # done by the unfinished run this one resumes
            self.outcome.actions.append(Action(system, _("{what} (earlier run)").format(
                what=what), ref))

    def finish(self) -> None:
        assert self.job is not None  # begin() came first
        self.journal.update_job(self.job.job_id, state="done")
        self.journal.close_request(self.order_id, f"handled (journal job {self.job.job_id})")

    def unsure(self) -> list[str]:
        effects = self.effects
        return effects.unsure() if effects is not None else []

    def stopped(self, exc: CancelbotError) -> None:
        """As the procedure's: after a change, the error says what was done and how to go on."""
        if self.job is not None and self.effects is not None and not self.effects.changes():
            self.journal.update_job(self.job.job_id, state="abandoned")  # stopped before any
        self.outcome.stop_part_way(exc, self.unsure(), _(
            "The request stays in `{command}`: taking it again re-checks each of these before "
            "doing anything.").format(command=RERUN))


# -- its ticket, arriving later -------------------------------------------------------------------


def handled_from_amazon(journal: Journal, found: Lookup) -> Job | None:
    """The finished order-only job that already answered this order's request, when GSTK and
    Amazon agree it is settled: cancelled (or its Amazon cancellation on its way), or the
    buyer told from Seller Central that it could not be."""
    job = next((j for j in journal.jobs_for_order(found.order_id)
                if j.ticket_id is None and j.state == "done"), None)
    if job is None:
        return None
    effects = Effects(journal, None, job.job_id)
    if job.branch == Branch.CANNOT_CANCEL.value:
        return job if effects.done("reply") is not None else None
    if found.gstk is None or found.gstk.status is not OrderStatus.CANCELLED:
        return None
    row = journal.cancellation(found.order_id)
    if row is not None and row.state == "error":
        return None  # Amazon refused it: the already-cancelled branch asks again
    on_amazon = (found.amazon is not None and found.amazon.is_cancelled) or row is not None \
        or effects.done("amazon_cancel") is not None
    return job if on_amazon else None


def close_if_handled(run: Run, found: Lookup) -> bool:
    """The procedure's hook (step 4): a ticket about an order cancelbot already handled from
    the buyer's request on Amazon is closed — or resolved, after the cannot-cancel message —
    with a note. Nothing is cancelled or sent again. False when it is not such a ticket."""
    job = handled_from_amazon(run.claim.journal, found)
    if job is None:
        return False
    outcome, ticket = run.outcome, run.ticket
    cancelled = job.branch != Branch.CANNOT_CANCEL.value
    when = (job.finished_at or "")[:16].replace("T", " ")
    outcome.branch = (Branch.ALREADY_CANCELLED if cancelled else Branch.CANNOT_CANCEL).value
    outcome.reason = f"handled from the buyer's request on Amazon ({when} UTC)"
    run.agent.info(f"cancelbot handled the buyer's request for order {found.order_id} on Amazon "
                   f"({when} UTC, journal job {job.job_id}) before this ticket arrived: only "
                   "the ticket is left.")
    status = TicketStatus.CLOSED if cancelled else TicketStatus.RESOLVED
    verb = "close" if cancelled else "set to resolved"
    run.plan([f"Freshdesk: private note, then {verb} ticket #{ticket.id}"])
    if not run.go_ahead("Close the ticket?" if cancelled else "Resolve the ticket?"):
        return True
    run.begin_changes()
    if cancelled:
        gstk = f" ({found.gstk.id})" if found.gstk is not None else ""
        note = (f"{NOTE_MARK} order {found.order_id} was cancelled from the buyer's request on "
                f"Amazon before this ticket arrived — GSTK{gstk}: cancelled; Amazon: "
                f"{amazon_summary(run)}. Nothing else to do.")
    else:
        note = (f"{NOTE_MARK} order {found.order_id} could no longer be cancelled; the buyer "
                "was told from Seller Central when they asked Amazon, before this ticket "
                "arrived. Nothing else to do.")
    run.finish(note, status)
    return True


# -- helpers --------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 time from Amazon or the journal (aware, UTC), or None."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _items(amazon: AmazonOrder | None) -> str:
    if amazon is None:
        return "every item, in Seller Central"
    return f"{len(amazon.items)} item" + ("s" if len(amazon.items) != 1 else "")

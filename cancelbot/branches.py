"""Step 4 of the procedure, one function per branch: what is planned, asked, then done.

    cancel             GSTK cancel (stops the warehouse) → Amazon cancel → note, ticket closed
    cannot_cancel      the reply in the buyer's language (relay, or Seller Central by hand)
                       → note, ticket resolved
    already_cancelled  Amazon cancel if it is not → note, ticket closed

Each branch shows its plan, asks once, then makes its changes through the ticket's claim
(claims.py): journaled, each at most once, the first one preceded by the claim.

The Amazon cancellation ends the critical path once Amazon has accepted the feed: the feed
document is uploaded while GSTK cancels, and what Amazon does with it is followed later
(feeds.py). When Amazon refused an earlier run's feed, `after_refusal` picks the path for
the order's status now: cancel it by hand in Seller Central, or the cannot-cancel reply.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future

from msgspec import Struct, field

from cancelbot import replies, several
from cancelbot.claims import NOTE_MARK, TicketClaim, how_label
from cancelbot.decision import Branch, Decision, decide
from cancelbot.effects import FOUND, NOW
from cancelbot.errors import CancelbotError, Declined, ExitCode, NeedsHuman, OrderMovedOn
from cancelbot.feeds import SHIPPED, FeedDesk, Prepared
from cancelbot.i18n import N_, _, ngettext, note_
from cancelbot.journal import Cancellation
from cancelbot.lookup import LocaleAnswer, Lookup
from cancelbot.marketplaces import seller_central_order_url
from cancelbot.models import AmazonOrder, BackOfficeOrder, OrderStatus, Ticket, TicketStatus
from cancelbot.orders import relay_domain
from cancelbot.outcome import Action, Outcome
from cancelbot.ports import Agent, Options, Services
from cancelbot.services.assisted import cancel_in_seller_central
from cancelbot.text import text_to_html


class Run(Struct):
    """What every branch works with: the systems, the person, the claim, the result so far."""

    services: Services
    agent: Agent
    options: Options
    claim: TicketClaim
    outcome: Outcome
    ticket: Ticket
    feeds: FeedDesk | None  # None: Amazon cancellations are done by hand
    locale: LocaleAnswer | Future[LocaleAnswer] | None = None  # the buyer's, if the lookup asked
    before_change: Callable[[], None] = field(default=lambda: None)  # the read-ahead's re-check
    order_source: str = "ticket"  # where the order number came from: ticket, chosen, typed
    background: Executor | None = None  # work beside the critical path (the run's threads)
    siblings: several.Siblings | None = None  # a ticket naming several orders: all of them
    chosen: Lookup | None = None  # the chooser's lookup of the order chosen

    @property
    def order_id(self) -> str:
        return self.outcome.order_id

    def plan(self, lines: list[str]) -> None:
        self.outcome.planned = lines
        self.agent.show_plan(lines)

    def go_ahead(self, question: str, review: replies.Draft | None = None) -> bool:
        """True when the changes may be made; False in a dry run (nothing is asked). With
        `review`, the question also offers to edit the reply or change its language."""
        if self.options.dry_run:
            self.agent.info(_("Dry run: nothing was changed."))
            return False
        if not (review.confirm(question) if review else self.agent.confirm(question)):
            raise Declined(_("declined: nothing changed"))
        return True

    def begin_changes(self) -> None:
        """Right before the first change: the claim posted ahead has won its race, what was
        read ahead still holds, and the claim is taken."""
        if not self.claim.taken:
            self.claim.wait_ahead()
            self.before_change()
            self.claim.take(self.order_id, self.outcome.branch)
            note = self.claim.effects.done("claim_note") if self.claim.effects else None
            self.outcome.claimed = note.ref if note is not None else ""

    def done(self, system: str, what: str, ref: str = "", how: str = NOW) -> None:
        words = how_label(what, how)
        if words is not None:  # an earlier run's change is listed with the earlier run's
            self.outcome.actions.append(Action(system, words, ref))

    def assisted_needs_a_person(self, *, gstk: bool = False, amazon: bool = False,
                                by_hand: bool = False) -> None:
        """--yes cannot do a step by hand: stop before anything is asked. `by_hand`: the
        Amazon step is by hand even with SP-API (Amazon refused cancelbot's feed)."""
        assisted = []
        if gstk and not self.services.backoffice.automated:
            assisted.append("GSTK")
        if (amazon and self.feeds is None) or by_hand:
            assisted.append("Amazon")
        if assisted and not self.agent.interactive and not self.options.dry_run:
            raise NeedsHuman((_("ticket #{id}: the {step} step is done by hand; run without "
                                "--yes") if len(assisted) == 1 else _(
                "ticket #{id}: the GSTK and Amazon steps are done by hand; run without --yes"))
                .format(id=self.outcome.ticket_id, step=assisted[0]))

    def finish(self, note: str, status: TicketStatus) -> None:
        """The final note and status; on a ticket naming several orders, they account for
        all of them (several.py)."""
        note, status = several.wrap_up(self, note, status)
        self.claim.finish(note, status, record=self.done)

    def flag_for_person(self, reason: str, check: str) -> None:
        """The ticket is left to a person: say why on it, once (not in a dry run)."""
        if not self.options.dry_run:
            self.claim.flag_for_person(reason, check)

    def stop_for_person(self, reason: str, check: str) -> None:
        """--yes met what only a person may decide: flag the ticket, stop (exit 4)."""
        self.flag_for_person(reason, check)
        raise NeedsHuman(_("ticket #{id}: {reason}; {check} — run without --yes").format(
            id=self.outcome.ticket_id, reason=_(reason), check=_(check)))

    def reason_for_notes(self) -> str:
        """The decision's reason in the team's language, for the notes on the ticket."""
        decision = self.outcome.decision
        return decision.in_words(note_)[0] if decision is not None else self.outcome.reason

    def rerun(self) -> str:
        return self.options.rerun or f"cancelbot process {self.outcome.ticket_id}"

    def prepare_feed(self, amazon: AmazonOrder | None) -> Future[Prepared | None] | None:
        """The Amazon feed document, uploaded in the background while the claim and GSTK go:
        it changes nothing on Amazon until createFeed."""
        if self.feeds is None or amazon is None or self.background is None:
            return None
        return self.background.submit(self.feeds.prepare, self.outcome.ticket_id, amazon)

    def refusal(self) -> Cancellation | None:
        """Amazon's refusal of an earlier run's cancellation of this order, if any."""
        if self.feeds is None:
            return None
        row = self.claim.journal.cancellation(self.order_id)
        return row if row is not None and row.state == "error" else None


# -- the branches --------------------------------------------------------------------------------


def cancel(run: Run, gstk: BackOfficeOrder, amazon: AmazonOrder | None) -> None:
    agent, ticket = run.agent, run.ticket
    if amazon is not None and amazon.buyer_requested_cancel:
        agent.info(_("The buyer asked Amazon to cancel: BuyerCanceled spares the "
                     "cancellation-rate metric."))
    elif amazon is not None:
        agent.warn(_("The buyer did not request the cancellation through Amazon: it may "
                     "count in the seller's cancellation rate."))
    run.assisted_needs_a_person(gstk=True, amazon=True)
    run.plan([
        _("GSTK: cancel order {id} (stops the warehouse)").format(id=gstk.id),
        _("Amazon: cancel {order} with reason BuyerCanceled ({items}); Amazon tells the "
          "buyer").format(order=run.order_id, items=_items(amazon)),
        _("Freshdesk: private note, then close ticket #{id}").format(id=ticket.id),
    ])
    if not run.go_ahead(N_("Cancel this order in GSTK and on Amazon, and close the ticket?")):
        return
    prepared = run.prepare_feed(amazon)
    run.begin_changes()
    backoffice = run.services.backoffice
    comment = f"Buyer request, Freshdesk ticket #{ticket.id} (cancelbot)"

    def gstk_cancel() -> str:
        if not backoffice.automated:  # the agent does it by hand: no spinner over the question
            return backoffice.cancel(gstk, comment).id
        with agent.busy(_("Cancelling in GSTK")):
            return backoffice.cancel(gstk, comment).id

    try:
        _ref, how = run.claim.effect(
            "gstk_cancel", gstk_cancel,
            recheck=(lambda: _gstk_cancelled(run)) if backoffice.automated else None,
        )
    except OrderMovedOn as moved:
        _moved_on(run, amazon, moved)
        return
    run.done("GSTK", _("order {id} cancelled").format(id=gstk.id), gstk.id, how)
    cancel_on_amazon(run, amazon, prepared)
    run.finish(cancellation_note(run, gstk), TicketStatus.CLOSED)


def _moved_on(run: Run, amazon: AmazonOrder | None, moved: OrderMovedOn) -> None:
    """GSTK said 409: too late — or already cancelled (by a colleague, or a GSTK that answers
    409 to a repeated cancel). Read the order again and decide from its real status."""
    agent = run.agent
    agent.warn(_("GSTK refused the cancel ({status}): reading the order again.").format(
        status=moved.label))
    with agent.busy(_("Reading the order again in GSTK and on Amazon")):
        fresh = run.services.backoffice.find_order(run.order_id)
        if run.services.marketplace.automated:
            amazon = run.services.marketplace.get_order(run.order_id) or amazon
    label = fresh.label if fresh is not None else moved.label
    decision = decide(fresh.status if fresh else None,
                      amazon.fulfillment_status if amazon else None, in_gstk=fresh is not None)
    run.outcome.gstk, run.outcome.amazon = fresh, amazon
    run.outcome.branch = decision.branch.value
    if decision.branch is Branch.ALREADY_CANCELLED and fresh is not None:
        agent.info(_("GSTK shows order {id} {status!r}: already cancelled there.").format(
            id=fresh.id, status=label))
        run.outcome.reason = f"GSTK answered 409 and shows the order {label!r}"
        run.claim.begin(run.order_id, run.outcome.branch)
        already_cancelled(run, fresh, amazon, asked=True)
    elif decision.branch is Branch.CANNOT_CANCEL:
        # The picking race: the warehouse took the order between lookup and cancel.
        agent.warn(_("The order has moved on ({status}). It was NOT cancelled anywhere; "
                     "switching to the cannot-cancel reply.").format(status=label))
        run.outcome.reason = f"GSTK refused the cancel: now {label}"
        run.claim.begin(run.order_id, run.outcome.branch)
        cannot_cancel(run, amazon)
    else:
        stop = Decision(
            Branch.NEEDS_HUMAN, f"GSTK refused the cancel (409) and shows the order {label!r}",
            decision.check or "the order in GSTK and in Seller Central")
        run.outcome.branch, run.outcome.reason, run.outcome.check = \
            stop.branch.value, stop.reason, stop.check
        run.outcome.decision = stop
        needs_a_person(run, stop)


def cannot_cancel(run: Run, amazon: AmazonOrder | None) -> None:
    agent, ticket, outcome = run.agent, run.ticket, run.outcome
    relay = relay_domain(ticket.requester_email) is not None
    channel = N_("ticket reply (Amazon relay)") if relay else N_("Seller Central (assisted)")
    if run.claim.done("reply"):
        _resolve_after_reply(run, channel)
        return
    # The buyer's language (their Amazon locale first), the text, shown; the agent may edit it
    # or change its language at the question that sends it (replies.py).
    draft = replies.Draft.prepare(
        agent, run.services.marketplace, order_id=run.order_id,
        marketplace_id=outcome.marketplace_id, channel=channel,
        copy_to="" if relay else outcome.links.contact_buyer,
        templates=run.options.templates, language=run.options.language,
        agent_name=run.options.agent_name, known_locale=run.locale,
    )
    _keep(outcome, draft)
    run.assisted_needs_a_person(amazon=not relay)
    resolve = _("Freshdesk: private note, then set ticket #{id} to resolved").format(id=ticket.id)
    if relay:
        run.plan([_("Freshdesk: reply to {email} (Amazon relays it to the buyer)").format(
            email=ticket.requester_email), resolve])
        if not run.go_ahead(N_("Send this reply to the buyer?"), review=draft):
            return
        _keep(outcome, draft)  # as the agent left it
        run.begin_changes()
        text = draft.text
        found_on_ticket: list[bool] = []

        def send() -> str:
            sent = _already_sent(run.claim.last_read or ticket, text)
            if sent is not None:
                # Already on the ticket (a run without this journal sent it): never twice.
                agent.info(_("This reply is already on the ticket: not sending it again."))
                found_on_ticket.append(True)
                return str(sent)
            with agent.busy(_("Sending the reply")):
                return str(run.services.helpdesk.reply(ticket.id, text_to_html(text)))

        reply_id, how = run.claim.effect(
            "reply", send,
            recheck=lambda: _found(_already_sent(run.claim.fresh_ticket(), text)),
            detail=f"language {draft.code}",
        )
        what = _("reply already on the ticket ({language})") if found_on_ticket \
            else _("reply sent to the buyer ({language})")
        run.done("Freshdesk", what.format(language=draft.code), reply_id, how)
    else:
        run.plan([_("You: send the message above to the buyer from Seller Central"), resolve])
        if run.options.dry_run:
            agent.info(_("Dry run: nothing was changed."))
            return
        # Only a person can say it was sent: --yes must stop here, not answer for them.
        if not draft.confirm(N_("Have you sent it from Seller Central?"), automatic=False):
            raise Declined(_("message not confirmed as sent: the ticket is unchanged"))
        _keep(outcome, draft)
        run.begin_changes()
        _ref, how = run.claim.effect(
            "reply", lambda: "", detail=f"sent by the agent in Seller Central ({draft.code})")
        run.done("Amazon", _("message sent by the agent in Seller Central ({language})").format(
            language=draft.code), "",
                 how)
    run.finish(
        f"{NOTE_MARK} " + note_("order {order} can no longer be cancelled ({reason}). Buyer "
                                "told they may refuse the parcel — channel: {channel}, "
                                "language: {language}.").format(
            order=run.order_id, reason=run.reason_for_notes(), channel=note_(channel),
            language=draft.code)
        + ("\n\n" + note_("Message as edited and sent:") + f"\n{draft.text}"
           if draft.edited else ""),
        TicketStatus.RESOLVED,
    )


def already_cancelled(run: Run, gstk: BackOfficeOrder, amazon: AmazonOrder | None, *,
                      asked: bool = False) -> None:
    """`asked`: the agent already said yes to cancelling it everywhere and closing (a cancel
    that found it cancelled in GSTK): no second question for less than that."""
    agent = run.agent
    # A run that stopped right after GSTK's answer: the fresh lookup shows it applied.
    effects = run.claim.effects
    if effects is not None and effects.settle_found("gstk_cancel", gstk.id,
                                                    "re-checked: GSTK shows it cancelled"):
        run.done("GSTK", _("order {id} cancelled").format(id=gstk.id), gstk.id, FOUND)
    row = run.claim.journal.cancellation(run.order_id) if run.feeds is not None else None
    refused = run.refusal()
    # What is left on Amazon: nothing, the queued send (the agent said yes back then), a
    # cancellation Amazon refused (by hand now), or the whole cancellation.
    if amazon is not None and amazon.is_cancelled:
        agent.info(_("Cancelled in GSTK and on Amazon: only the ticket is left to close."))
        if run.feeds is not None:
            run.feeds.seen_cancelled(run.outcome.ticket_id, run.order_id)
        left = ""
    elif refused is not None:
        agent.warn(_("Amazon refused cancelbot's cancellation of {order} (feed {feed}): {result}. "
                     "Cancel it by hand in Seller Central.").format(
            order=run.order_id, feed=refused.feed_id, result=refused.result))
        left = "by hand"
    elif row is not None and row.state in ("queued", "sending"):
        agent.info(_("The Amazon cancellation an earlier run queued goes out now."))
        left = "queued"
    elif _amazon_sent_earlier(run):
        agent.info(_("The Amazon cancellation was sent by an earlier run: not sending it again "
                     "({summary}).").format(summary=amazon_summary(run, _)))
        left = ""
    else:
        agent.warn(_("Cancelled in GSTK, but Amazon does not show it cancelled."))
        left = "send"
    run.assisted_needs_a_person(amazon=left == "send", by_hand=left == "by hand")
    plan = [_("Freshdesk: private note, then close ticket #{id}").format(id=run.ticket.id)]
    if left == "send":
        plan.insert(0, _("Amazon: cancel {order} with reason BuyerCanceled ({items})").format(
            order=run.order_id, items=_items(amazon)))
    elif left == "by hand":
        plan.insert(0, _("You: cancel {order} in Seller Central (every item, reason Buyer "
                         "canceled)").format(order=run.order_id))
    elif left == "queued":
        plan.insert(0, _("Amazon: send the cancellation of {order} queued earlier").format(
            order=run.order_id))
    run.plan(plan)
    if not asked and not run.go_ahead(N_("Cancel on Amazon and close the ticket?")
                                      if left == "send" else N_("Close the ticket?")):
        return
    run.begin_changes()
    if left:
        cancel_on_amazon(run, amazon, by_hand=left == "by hand")
    run.finish(cancellation_note(run, gstk), TicketStatus.CLOSED)


def after_refusal(run: Run, found: Lookup, decision: Decision) -> Decision:
    """decide()'s answer, once Amazon refused an earlier run's cancellation of this order:
    GSTK says Annulée (cancelbot cancelled it there). Amazon shipped it → the cannot-cancel
    reply; not shipped → already cancelled, Amazon by hand in Seller Central."""
    refused = run.refusal()
    if refused is None or found.gstk is None or found.gstk.status is not OrderStatus.CANCELLED:
        return decision
    status = (found.amazon_status or "").upper()
    run.agent.warn(f"GSTK says Annulée but Amazon refused the cancellation of {run.order_id} "
                   f"({refused.result}) and shows it {status or 'unknown'}: the parcel may ship.")
    if status in SHIPPED:
        return Decision(Branch.CANNOT_CANCEL, f"Amazon refused the cancellation and the order "
                        f"has shipped ({status}); GSTK says Annulée")
    return decision


# -- shared moves --------------------------------------------------------------------------------


def cancel_on_amazon(run: Run, amazon: AmazonOrder | None,
                     prepared: Future[Prepared | None] | None = None, *,
                     by_hand: bool = False) -> None:
    order_id = run.order_id
    if run.feeds is None or by_hand:
        # Assisted (no SP-API, or Amazon refused the feed): the agent cancels in Seller
        # Central, and saying so is the outcome.
        _ref, how = run.claim.effect(
            "amazon_cancel",
            lambda: _by_hand(run) if by_hand else cancel_in_seller_central(
                run.agent, order_id, run.outcome.marketplace_id),
            detail="by hand in Seller Central")
        if run.feeds is not None:
            run.feeds.cancelled_by_hand(run.outcome.ticket_id, order_id)
        run.done("Amazon", _("cancelled by the agent in Seller Central"), "", how)
        return
    if amazon is None:  # decide() stops before this when SP-API did not find the order
        raise NeedsHuman(_("Amazon does not know order {order}: nothing to cancel there").format(
            order=order_id))
    queued = _amazon_row_state(run) in ("queued", "sending")  # by an earlier run
    # The journal's cancellation rows, not this job's steps, keep an order out of a second
    # feed: another ticket about the same order must not send it again either.
    sent = run.feeds.cancel(run.outcome.ticket_id, amazon, _ready(prepared))
    if sent.state == "error":
        raise NeedsHuman(_(
            "Amazon did not cancel order {order} (feed {feed}): {result}. Cancel it in Seller "
            "Central, then rerun `{command}` to close the ticket").format(
            order=order_id, feed=sent.feed_id, result=sent.result, command=run.rerun()))
    effects = run.claim.effects
    if effects is not None and effects.done("amazon_cancel") is None:
        effects.record_done("amazon_cancel", ref=sent.feed_id, detail=sent.state,
                            order_id=order_id)
    if sent.earlier:
        run.agent.info(_("Amazon: {summary} — not sending it again.").format(
            summary=amazon_summary(run, _)))
    elif sent.state == "queued":
        run.done("Amazon", _("cancellation queued for Amazon's feed window (rate limit): "
                             "cancelbot sends it when the window opens"))
    else:
        text = _("cancellation sent (feed {feed}, BuyerCanceled), left queued by the earlier "
                 "run") if queued else _("cancellation sent (feed {feed}, BuyerCanceled)")
        run.done("Amazon", text.format(feed=sent.feed_id), sent.feed_id)


def amazon_summary(run: Run, translate: Callable[[str], str] = note_) -> str:
    """How the Amazon side stands, in the words of the final note (the team's language), or
    of the screen with `translate=_`."""
    row = run.claim.journal.cancellation(run.order_id) if run.feeds is not None else None
    if row is None:
        if run.claim.done("amazon_cancel"):
            return translate(N_("cancelled by hand in Seller Central"))
        return translate(N_("already cancelled"))
    if row.state in ("queued", "sending"):
        return translate(N_("cancellation queued for Amazon's feed window (rate limit); "
                            "cancelbot sends it when the window opens"))
    if row.result.startswith("cancelled by hand"):
        return translate(N_("cancelled by hand in Seller Central (Amazon refused feed {feed})")
                         ).format(feed=row.feed_id)
    if not row.feed_id:
        return translate(N_("seen cancelled on Amazon"))
    return translate(N_("cancellation sent to Amazon (feed {feed})")).format(feed=row.feed_id)


def cancellation_note(run: Run, gstk: BackOfficeOrder) -> str:
    order_id, amazon = run.order_id, amazon_summary(run)
    if run.claim.done("gstk_cancel"):
        return f"{NOTE_MARK} " + note_(
            "order {order} cancelled in GSTK ({id}); Amazon: {amazon}, reason BuyerCanceled. "
            "Amazon informs the buyer.").format(order=order_id, id=gstk.id, amazon=amazon)
    return f"{NOTE_MARK} " + note_(
        "order {order} was already cancelled in GSTK ({id}); Amazon: {amazon}.").format(
        order=order_id, id=gstk.id, amazon=amazon)


def needs_a_person(run: Run, decision: Decision) -> None:
    # A claim posted beside the lookups that lost its race means another run has the ticket:
    # that is the answer (TicketBusy), not this run's view of statuses it may have moved.
    run.claim.wait_ahead()
    run.outcome.exit_code = ExitCode.NEEDS_HUMAN
    run.claim.withdraw_if_idle()
    run.agent.warn(_("Nothing changed. Check: {check}.").format(check=decision.in_words(_)[1]))
    reason, check = decision.in_words(note_)
    run.flag_for_person(reason or note_("cancelbot cannot decide"), check)


def _resolve_after_reply(run: Run, channel: str) -> None:
    """A resumed cannot-cancel run whose reply already went out: note and resolve only."""
    run.plan([f"Freshdesk: private note, then set ticket #{run.ticket.id} to resolved"])
    if not run.go_ahead("The reply went out in the earlier run. Add the note and resolve the "
                        "ticket?"):
        return
    run.begin_changes()
    run.finish(
        f"{NOTE_MARK} order {run.order_id} can no longer be cancelled ({run.outcome.reason}). "
        f"Buyer told they may refuse the parcel — channel: {channel} (sent by an earlier run).",
        TicketStatus.RESOLVED,
    )


def _keep(outcome: Outcome, draft: replies.Draft) -> None:
    outcome.message, outcome.language, outcome.language_why = draft.text, draft.code, draft.why


def _amazon_sent_earlier(run: Run) -> bool:
    if run.feeds is not None:
        return _amazon_row_state(run) in ("sent", "done")
    return run.claim.done("amazon_cancel")


def _amazon_row_state(run: Run) -> str:
    row = run.claim.journal.cancellation(run.order_id) if run.feeds is not None else None
    return row.state if row is not None else ""


def _ready(prepared: Future[Prepared | None] | None) -> Prepared | None:
    """The feed document uploaded beside GSTK's cancel; None when it failed (sent anew)."""
    try:
        return prepared.result() if prepared is not None else None
    except CancelbotError:
        return None


def _by_hand(run: Run) -> str:
    url = seller_central_order_url(run.order_id, run.outcome.marketplace_id)
    run.agent.info(f"In Seller Central ({url}) cancel order {run.order_id}, every item, reason "
                   "\"Buyer canceled\".")
    if not run.agent.confirm("Have you cancelled it in Seller Central?"):
        raise Declined(f"Amazon cancellation not confirmed for {run.order_id}")
    return ""


def _gstk_cancelled(run: Run) -> str | None:
    found = run.services.backoffice.find_order(run.order_id)
    return found.id if found is not None and found.status is OrderStatus.CANCELLED else None


def _already_sent(ticket: Ticket, text: str) -> int | None:
    """The id of a public reply on the ticket with exactly this text, if there is one."""
    if not ticket.conversations_complete:
        raise RuntimeError(f"ticket #{ticket.id}: replies are looked for in the whole thread")
    wanted = " ".join(text.split())
    for c in ticket.conversations:
        if not c.private and not c.incoming and " ".join(c.body_text.split()) == wanted:
            return c.id
    return None


def _found(conversation_id: int | None) -> str | None:
    return None if conversation_id is None else str(conversation_id)


def _items(amazon: AmazonOrder | None) -> str:
    if amazon is None:
        return _("every item, in Seller Central")
    count = len(amazon.items)
    return ngettext("{count} item", "{count} items", count).format(count=count)

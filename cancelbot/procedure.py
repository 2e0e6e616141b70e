"""The cancellation procedure, as the seed describes it, step by step.

    1. Fetch the ticket             (Freshdesk)
    2. Find the order number        (subject, body, conversations; the agent when unsure)
    3. Look the order up            (GSTK ∥ Amazon)
    4. Decide                       (decide(): a pure function of the two statuses)
    5. Act on the decision          (cancel / reply / close — each change confirmed first)

This module never prints and never reads the keyboard: it talks to an `Agent` (the Rich terminal
in cli.py, a scripted one in tests). Every change is confirmed first, so a declined confirmation
changes nothing, and goes through the journal (effects.py): an intent before, the outcome after,
so a rerun resumes where a run stopped and never does a change twice.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from cancelbot import marketplaces, replies
from cancelbot.effects import (
    CLAIM_STEPS,
    EARLIER,
    FOUND,
    NOTE_MARK,
    NOW,
    STEP_LABELS,
    Steps,
    cancelbot_notes,
    claim_note,
    is_claim,
    is_error_note,
    note_ref,
    ref_tag,
)
from cancelbot.errors import (
    CancelbotError,
    Declined,
    ExitCode,
    Incomplete,
    NeedsHuman,
    NotFound,
    OrderMovedOn,
)
from cancelbot.feeds import DEFAULT_WAIT, FeedDesk
from cancelbot.journal import Journal, TicketBusy
from cancelbot.models import (
    Action,
    AmazonOrder,
    BackOfficeOrder,
    OrderStatus,
    Outcome,
    Ticket,
    TicketStatus,
)
from cancelbot.orders import find_order_numbers, parse_order_number, relay_domain
from cancelbot.services import BackOffice, Helpdesk, Marketplace
from cancelbot.text import text_to_html

STEPS = (
    "Fetch the ticket",
    "Find the order number",
    "Look up the order",
    "Decide",
    "Act",
)
T = TypeVar("T")


class Branch(str, enum.Enum):
    CANCEL = "cancel"
    CANNOT_CANCEL = "cannot_cancel"
    ALREADY_CANCELLED = "already_cancelled"
    NEEDS_HUMAN = "needs_human"


# What Amazon's fulfillmentStatus tells us, for the decision.
AMAZON_NOT_FOUND = "NOT_FOUND"
_AMAZON_SHIPPED = {"SHIPPED", "PARTIALLY_SHIPPED"}


@dataclass(frozen=True)
class Decision:
    branch: Branch
    reason: str
    check: str = ""  # for NEEDS_HUMAN: what the agent should look at


def decide(
    gstk: OrderStatus | None, amazon: str | None, *, in_gstk: bool = True
) -> Decision:
    """The seed's rule on GSTK's status, guarded by Amazon's.

    `amazon` is Amazon's fulfillmentStatus, AMAZON_NOT_FOUND, or None when Amazon was not
    checked (no SP-API configured: the agent checks Seller Central during the assisted step).
    """
    amazon = amazon.upper() if amazon else None
    if not in_gstk:
        return Decision(
            Branch.NEEDS_HUMAN,
            "the order is not in GSTK",
            "search GSTK by hand (wrong number in the ticket? another channel?)",
        )
    if gstk is None:
        return Decision(
            Branch.NEEDS_HUMAN,
            "GSTK shows a status the procedure does not know",
            "look at the order in GSTK; a team lead can add the label to GSTK_STATUS_MAP",
        )
    if amazon == AMAZON_NOT_FOUND:
        return Decision(
            Branch.NEEDS_HUMAN,
            "GSTK knows the order but Amazon does not",
            "check the order number and the seller account in Seller Central",
        )
    if gstk is OrderStatus.AWAITING_PREPARATION:
        if amazon in _AMAZON_SHIPPED or amazon == "CANCELLED":
            return Decision(
                Branch.NEEDS_HUMAN,
                f"GSTK says awaiting preparation but Amazon says {amazon}",
                "compare GSTK and Seller Central before cancelling anything",
            )
        return Decision(Branch.CANCEL, "awaiting preparation: it can still be cancelled")
    if gstk in (OrderStatus.IN_PREPARATION, OrderStatus.PREPARED, OrderStatus.SHIPPED):
        if amazon == "CANCELLED":
            return Decision(
                Branch.NEEDS_HUMAN,
                f"GSTK says {gstk.value.replace('_', ' ')} but Amazon says CANCELLED",
                "stop the parcel in the warehouse if you still can, then check Seller Central",
            )
        return Decision(
            Branch.CANNOT_CANCEL,
            f"{gstk.value.replace('_', ' ')}: too late to cancel, the buyer may refuse the parcel",
        )
    # OrderStatus.CANCELLED
    if amazon in _AMAZON_SHIPPED:
        return Decision(
            Branch.NEEDS_HUMAN,
            f"GSTK says cancelled but Amazon says {amazon}",
            "check whether a parcel left the warehouse",
        )
    return Decision(Branch.ALREADY_CANCELLED, "already cancelled in GSTK")


class Agent(Protocol):
    """The person at the keyboard, as the procedure sees them."""

    interactive: bool  # False with --yes: choices and typed answers become NEEDS_HUMAN

    def step(self, number: int, total: int, title: str) -> None: ...
    def show_ticket(self, ticket: Ticket) -> None: ...
    def show_order(
        self, order_id: str, gstk: BackOfficeOrder | None, amazon: AmazonOrder | None,
        marketplace: str,
    ) -> None: ...
    def show_decision(self, decision: Decision) -> None: ...
    def show_plan(self, lines: Sequence[str]) -> None: ...
    def show_message(
        self, text: str, language: str, why: str, channel: str, *, copyable: bool = False
    ) -> None: ...
    def review_message(
        self, question: str, text: str, language: str, why: str, channel: str, *,
        copyable: bool = False, languages: Sequence[str] = (), shown: bool = True,
    ) -> tuple[str, str]:
        """`question` about a reply (shown first unless `shown`): ("send", text), ("edit", new
        text), ("language", code) or ("cancel", ""). Optional: without it, confirm() is used."""
        ...
    def info(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def confirm(self, question: str, *, automatic: bool = True) -> bool:
        """Default No. With --yes, True unless `automatic` is False (then NeedsHuman)."""
        ...
    def choose(self, question: str, options: Sequence[str]) -> int: ...
    def ask(self, question: str, parse: Callable[[str], T]) -> T: ...
    def busy(self, label: str) -> AbstractContextManager[None]: ...


@dataclass
class Services:
    helpdesk: Helpdesk
    backoffice: BackOffice
    marketplace: Marketplace


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    language: str | None = None
    templates: Path | None = None
    agent_name: str = ""
    agent_id: int | None = None  # FRESHDESK_AGENT_ID: the run claims the ticket for this agent
    feed_wait: float = DEFAULT_WAIT  # seconds to follow an Amazon feed before going on
    rerun: str = ""  # the command that resumes this run (default: cancelbot process ID)


def process(
    ticket_id: int,
    services: Services,
    agent: Agent,
    options: Options,
    journal: Journal | None = None,
) -> Outcome:
    """Walk one ticket through the procedure. Returns what was decided and done.

    `journal` records every change (default: one in memory, for this process only). The ticket
    is leased in it for the run: a second process on the same ticket stops at once.
    """
    journal = journal or Journal.memory()
    if options.dry_run:
        return _Run(ticket_id, services, agent, options, journal).go()
    with journal.lease(ticket_id):
        # Built inside the lease: the unfinished job it resumes cannot change under it.
        return _Run(ticket_id, services, agent, options, journal).go()


class _Run:
    def __init__(
        self, ticket_id: int, services: Services, agent: Agent, options: Options,
        journal: Journal,
    ) -> None:
        self.services = services
        self.agent = agent
        self.options = options
        self.journal = journal
        self.steps = Steps(journal, ticket_id)
        self.feeds = FeedDesk(journal, services, agent, wait=options.feed_wait)
        self.outcome = Outcome(ticket_id=ticket_id, dry_run=options.dry_run)
        self.outcome.links.ticket = services.helpdesk.ticket_url(ticket_id)
        self.seen: set[int] = set()  # conversation ids on the ticket when it was first read
        self.finished_before = False
        self.claimed = False
        self._last_read: Ticket | None = None  # the newest read of the ticket
        self._reply_found = False  # the reply was on the ticket already (another run's)
        self.buyer_locale: tuple[str | None, str] | None = None  # asked during the lookups

    # -- the five steps ------------------------------------------------------------------------

    def go(self) -> Outcome:
        if not self.options.dry_run:
            self._follow_up_feeds()
        ticket = self.fetch_ticket()
        if self.finished_before:
            return self.outcome
        order_id = self.find_order_number(ticket)
        gstk, amazon = self.look_up(order_id, ticket)
        decision = self.decide(gstk, amazon)
        try:
            self.act(decision, ticket, gstk, amazon)
        except CancelbotError as exc:
            if isinstance(exc, (Declined, NeedsHuman)):
                self._withdraw_idle_claim()  # stopped by a decision: leave the ticket as found
            unsure = self.steps.unsure()
            if isinstance(exc, Incomplete) or not (self.outcome.actions or unsure):
                raise
            # Something was (or may have been) changed before the failure: say exactly what,
            # and how to finish.
            said = [str(exc).rstrip(".")]
            if self.outcome.actions:
                said.append("Already done — " + "; ".join(
                    f"{a.system}: {a.what}" for a in self.outcome.actions))
            if unsure:
                said.append("Not known yet whether this went through — " + "; ".join(unsure))
            raise Incomplete(
                ". ".join(said) + f". Rerun `{self._rerun()}` to finish: it checks each of "
                "these against Freshdesk, GSTK and Amazon before doing anything."
            ) from exc
        return self.outcome

    def fetch_ticket(self) -> Ticket:
        self._step(1)
        with self.agent.busy("Fetching the ticket from Freshdesk"):
            ticket = self.services.helpdesk.get_ticket(self.outcome.ticket_id)
        self.agent.show_ticket(ticket)
        self.seen = {c.id for c in ticket.conversations}
        if ticket.is_closed and self.steps.job is None and self._handled_before(ticket):
            self.finished_before = True
            return ticket
        if ticket.is_closed and self.steps.job is None:
            state = TicketStatus(ticket.status).name.lower()
            self.agent.warn(f"Ticket #{ticket.id} is already {state}.")
            if not self.agent.confirm("Process it anyway?", automatic=False):
                raise Declined(f"ticket #{ticket.id} is already {state}: nothing changed")
        return ticket

    def find_order_number(self, ticket: Ticket) -> str:
        self._step(2)
        numbers = find_order_numbers(*ticket.texts())
        job = self.steps.job
        if job is not None and (job.order_id in numbers or not numbers):
            # Resuming: the order the unfinished run worked on, not a new choice.
            self.agent.info(f"Order {job.order_id}, as in the unfinished run on this ticket.")
            numbers = [job.order_id]
        if len(numbers) == 1:
            self.agent.info(f"Amazon order {numbers[0]}")
            order_id = numbers[0]
        elif numbers:
            self.agent.warn(f"The ticket mentions {len(numbers)} different order numbers.")
            order_id = numbers[self.agent.choose("Which order does the buyer want cancelled?",
                                                 numbers)]
        else:
            self.agent.warn("No Amazon order number in the ticket.")
            order_id = self.agent.ask("Amazon order number", parse_order_number)
        self.outcome.order_id = order_id
        return order_id

    def look_up(
        self, order_id: str, ticket: Ticket
    ) -> tuple[BackOfficeOrder | None, AmazonOrder | None]:
        self._step(3)
        backoffice, marketplace = self.services.backoffice, self.services.marketplace
        # Both automated lookups run at once; an assisted one talks to the agent, so it runs
        # alone, on this thread, after the automated one.
        # The buyer's language is only needed for a reply, and a reply goes to Amazon's relay
        # address, which names the marketplace: ask it now, beside the lookups, rather than
        # one round trip later (one wasted call when the order turns out cancellable).
        relay_marketplace = marketplaces.marketplace_for_domain(
            relay_domain(ticket.requester_email) or "")
        ask_locale = marketplace.automated and relay_marketplace and not self.options.language
        with self.agent.busy("Looking the order up in GSTK and on Amazon"):
            with ThreadPoolExecutor(max_workers=3) as pool:
                gstk_f = pool.submit(backoffice.find_order, order_id) if backoffice.automated \
                    else None
                amazon_f = pool.submit(marketplace.get_order, order_id) if marketplace.automated \
                    else None
                locale_f = pool.submit(replies.buyer_locale, marketplace, order_id,
                                       relay_marketplace) if ask_locale else None
                gstk = gstk_f.result() if gstk_f else None
                amazon = amazon_f.result() if amazon_f else None
                locale = locale_f.result() if locale_f else None
        if not backoffice.automated:
            gstk = backoffice.find_order(order_id)
        if not marketplace.automated:
            amazon = marketplace.get_order(order_id)
        self.marketplace_id = amazon.marketplace_id if amazon else _guess_marketplace(ticket)
        if locale is not None and self.marketplace_id == relay_marketplace:
            self.buyer_locale = locale  # asked of the right marketplace: no second call
        self.outcome.links.seller_central_order = marketplaces.seller_central_order_url(
            order_id, self.marketplace_id
        )
        self.outcome.links.contact_buyer = marketplaces.contact_buyer_url(
            order_id, self.marketplace_id
        )
        self.outcome.links.gstk_order = gstk.url if gstk else ""
        self.agent.show_order(
            order_id, gstk, amazon, marketplaces.marketplace_label(self.marketplace_id)
        )
        return gstk, amazon

    def decide(self, gstk: BackOfficeOrder | None, amazon: AmazonOrder | None) -> Decision:
        self._step(4)
        if amazon is not None:
            amazon_status: str | None = amazon.fulfillment_status
        elif self.services.marketplace.automated:
            amazon_status = AMAZON_NOT_FOUND
        else:
            amazon_status = None
        decision = decide(gstk.status if gstk else None, amazon_status, in_gstk=gstk is not None)
        self.outcome.branch = decision.branch.value
        self.outcome.reason = decision.reason
        self.agent.show_decision(decision)
        return decision

    def act(
        self,
        decision: Decision,
        ticket: Ticket,
        gstk: BackOfficeOrder | None,
        amazon: AmazonOrder | None,
    ) -> None:
        self._step(5)
        if decision.branch is Branch.NEEDS_HUMAN:
            self.outcome.exit_code = ExitCode.NEEDS_HUMAN
            self._withdraw_idle_claim()
            self.agent.warn(f"Nothing changed. Check: {decision.check}.")
            return
        self._check_previous_runs(ticket)
        self._show_resume()
        assert gstk is not None  # every other branch has a GSTK order
        if decision.branch is Branch.CANCEL:
            self.cancel(ticket, gstk, amazon)
        elif decision.branch is Branch.CANNOT_CANCEL:
            self.cannot_cancel(ticket, amazon)
        else:
            self.already_cancelled(ticket, gstk, amazon)

    # -- the branches --------------------------------------------------------------------------

    def cancel(self, ticket: Ticket, gstk: BackOfficeOrder, amazon: AmazonOrder | None) -> None:
        if amazon is not None and amazon.buyer_requested_cancel:
            self.agent.info("The buyer asked Amazon to cancel: BuyerCanceled spares the "
                            "cancellation-rate metric.")
        elif amazon is not None:
            self.agent.warn("The buyer did not request the cancellation through Amazon: it may "
                            "count in the seller's cancellation rate.")
        self._need_a_person_for_assisted(gstk=True, amazon=True)
        self._plan([
            f"GSTK: cancel order {gstk.id} (stops the warehouse)",
            f"Amazon: cancel {self.outcome.order_id} with reason BuyerCanceled "
            f"({_items(amazon)}); Amazon tells the buyer",
            f"Freshdesk: private note, then close ticket #{ticket.id}",
        ])
        if not self._go_ahead("Cancel this order in GSTK and on Amazon, and close the ticket?"):
            return
        self._begin_changes(ticket)
        comment = f"Buyer request, Freshdesk ticket #{ticket.id} (cancelbot)"
        backoffice = self.services.backoffice
        try:
            _, how = self._effect(
                "gstk_cancel",
                lambda: self._call(backoffice.automated, "Cancelling in GSTK",
                                   lambda: backoffice.cancel(gstk, comment)).id,
                recheck=(lambda: self._gstk_cancelled()) if backoffice.automated else None,
            )
        except OrderMovedOn as moved:
            # The picking race: the warehouse took the order between lookup and cancel.
            self.agent.warn(
                f"GSTK refused: the order has moved on ({moved.label}). It was NOT cancelled "
                "anywhere; switching to the cannot-cancel reply."
            )
            self.outcome.branch = Branch.CANNOT_CANCEL.value
            self.outcome.reason = f"GSTK refused the cancel: now {moved.label}"
            self.steps.begin(self.outcome.order_id, self.outcome.branch)
            self.cannot_cancel(ticket, amazon)
            return
        self._done("GSTK", f"order {gstk.id} cancelled", gstk.id, how)
        self._cancel_on_amazon(amazon)
        self._note_and_set_status(ticket, self._cancellation_note(gstk), TicketStatus.CLOSED)

    def cannot_cancel(self, ticket: Ticket, amazon: AmazonOrder | None) -> None:
        relay = relay_domain(ticket.requester_email) is not None
        channel = "ticket reply (Amazon relay)" if relay else "Seller Central (assisted)"
        if self.steps.done("reply") is not None:
            self._resolve_after_reply(ticket, channel)
            return
        # The buyer's language (their Amazon locale first), the text, shown; the agent may edit
        # it or change its language at the question that sends it (replies.py).
        choice = replies.Draft.prepare(
            self.agent, self.services.marketplace, order_id=self.outcome.order_id,
            marketplace_id=self.marketplace_id, channel=channel, copyable=not relay,
            templates=self.options.templates, language=self.options.language,
            agent_name=self.options.agent_name, known_locale=self.buyer_locale,
        )
        text = self.outcome.message = choice.text
        self.outcome.language = choice.code
        self._need_a_person_for_assisted(amazon=not relay)
        if relay:
            self._plan([
                f"Freshdesk: reply to {ticket.requester_email} (Amazon relays it to the buyer)",
                f"Freshdesk: private note, then set ticket #{ticket.id} to resolved",
            ])
            if not self._go_ahead("Send this reply to the buyer?", review=choice):
                return
            text = self.outcome.message = choice.text  # as the agent left it
            self.outcome.language = choice.code
            self._begin_changes(ticket)
            reply_text = text
            reply_id, how = self._effect(
                "reply", lambda: self._send_reply(ticket, reply_text),
                recheck=lambda: _found(_already_sent(self._fresh_ticket(), reply_text)),
                detail=f"language {choice.code}",
            )
            what = "reply already on the ticket" if self._reply_found else "reply sent to the buyer"
            self._done("Freshdesk", f"{what} ({choice.code})", reply_id, how)
        else:
            self._plan([
                "You: send the message above to the buyer from Seller Central",
                f"Freshdesk: private note, then set ticket #{ticket.id} to resolved",
            ])
            self.agent.info(f"Contact the buyer: {self.outcome.links.contact_buyer}")
            if self.options.dry_run:
                self.agent.info("Dry run: nothing was changed.")
                return
            # Only a person can say it was sent: --yes must stop here, not answer for them.
            if not choice.confirm("Have you sent it from Seller Central?", automatic=False):
                raise Declined("message not confirmed as sent: the ticket is unchanged")
            text = self.outcome.message = choice.text  # as the agent left it
            self.outcome.language = choice.code
            self._begin_changes(ticket)
            _, how = self._effect("reply", lambda: "",
                                  detail=f"sent by the agent in Seller Central ({choice.code})")
            self._done("Amazon", f"message sent by the agent in Seller Central ({choice.code})",
                       "", how)
        self._note_and_set_status(
            ticket,
            f"{NOTE_MARK} order {self.outcome.order_id} can no longer be cancelled "
            f"({self.outcome.reason}). Buyer told they may refuse the parcel — channel: "
            f"{channel}, language: {choice.code}."
            + (f"\n\nMessage as edited and sent:\n{text}" if choice.edited else ""),
            TicketStatus.RESOLVED,
        )

    def already_cancelled(
        self, ticket: Ticket, gstk: BackOfficeOrder, amazon: AmazonOrder | None
    ) -> None:
        # A run that stopped right after GSTK's answer: the fresh lookup shows it applied.
        if self.steps.settle_found("gstk_cancel", gstk.id, "re-checked: GSTK shows it cancelled"):
            self._done("GSTK", f"order {gstk.id} cancelled", gstk.id, FOUND)
        cancel_on_amazon = (amazon is None or not amazon.is_cancelled) \
            and not self._amazon_sent_earlier()
        if amazon is not None and amazon.is_cancelled:
            self.agent.info("Cancelled in GSTK and on Amazon: only the ticket is left to close.")
        elif not cancel_on_amazon:
            self.agent.info("The Amazon cancellation was sent by an earlier run: not sending it "
                            f"again ({self._amazon_summary()}).")
        else:
            self.agent.warn("Cancelled in GSTK, but Amazon does not show it cancelled.")
        self._need_a_person_for_assisted(amazon=cancel_on_amazon)
        plan = [f"Freshdesk: private note, then close ticket #{ticket.id}"]
        if cancel_on_amazon:
            plan.insert(0, f"Amazon: cancel {self.outcome.order_id} with reason BuyerCanceled "
                           f"({_items(amazon)})")
        self._plan(plan)
        question = "Cancel on Amazon and close the ticket?" if cancel_on_amazon \
            else "Close the ticket?"
        if not self._go_ahead(question):
            return
        self._begin_changes(ticket)
        if cancel_on_amazon:
            self._cancel_on_amazon(amazon)
        self._note_and_set_status(ticket, self._cancellation_note(gstk), TicketStatus.CLOSED)

    # -- shared moves --------------------------------------------------------------------------

    def _cancel_on_amazon(self, amazon: AmazonOrder | None) -> None:
        marketplace = self.services.marketplace
        order_id = self.outcome.order_id
        if not marketplace.automated:
            # Assisted: nothing known but the number and the marketplace; the agent cancels by
            # hand, and saying so is the outcome.
            order = amazon or AmazonOrder(order_id, "", self.marketplace_id)
            _, how = self._effect("amazon_cancel", lambda: marketplace.cancel(order) or "",
                                  detail="by hand in Seller Central")
            self._done("Amazon", "cancelled by the agent in Seller Central", "", how)
            return
        assert amazon is not None  # automated: found by the lookup, or decide() stopped
        # The journal's cancellation rows, not this job's steps, keep an order out of a second
        # feed: another ticket about the same order must not send it again either.
        sent = self.feeds.cancel(self.outcome.ticket_id, amazon)
        if sent.state == "error":
            raise NeedsHuman(
                f"Amazon did not cancel order {order_id} (feed {sent.feed_id}): {sent.result}. "
                f"Cancel it in Seller Central, then rerun `{self._rerun()}` to close the ticket"
            )
        if self.steps.done("amazon_cancel") is None:
            self.steps.record_done("amazon_cancel", ref=sent.feed_id, detail=sent.state,
                                   order_id=order_id)
        if sent.earlier:
            self.agent.info(f"Amazon: {self._amazon_summary()} — not sending it again.")
        elif sent.state == "queued":
            self._done("Amazon", "cancellation queued (Amazon's feed limit): cancelbot sends it "
                                 "with its next run")
        else:
            pending = "; Amazon is still processing it" if sent.state == "sent" else ""
            self._done("Amazon", f"cancellation sent (feed {sent.feed_id}, BuyerCanceled"
                                 f"{pending})", sent.feed_id)

    def _note_and_set_status(self, ticket: Ticket, note: str, status: TicketStatus) -> None:
        helpdesk = self.services.helpdesk
        assert self.steps.job is not None
        job_id = self.steps.job.job_id
        note = f"{note} {ref_tag(job_id)}"
        name = status.name.lower()
        claim = self.steps.done("claim_note")

        def write_note() -> str:
            # The 'handling' note becomes the final one: one cancelbot note per ticket, and a
            # PUT, so repeating it after a lost answer changes nothing.
            if claim is not None and claim.ref:
                try:
                    helpdesk.update_note(int(claim.ref), text_to_html(note))
                    return claim.ref
                except NotFound:
                    pass  # someone deleted it: add the note instead
            return str(helpdesk.add_private_note(ticket.id, text_to_html(note)))

        changes = {
            "note": (write_note, lambda: self._find_note(job_id, claim=False), ""),
            "status": (lambda: helpdesk.set_status(ticket.id, int(status)) or "",
                       lambda: "" if self._fresh_ticket().status == status else None,
                       f"set to {name}"),
        }
        results: dict[str, tuple[str, str]] = {}
        errors: list[CancelbotError] = []
        # The note and the status change are independent: send both at once.
        with self.agent.busy("Updating the ticket"), ThreadPoolExecutor(max_workers=2) as pool:
            futures = {step: pool.submit(self._effect, step, do, recheck=check, detail=detail)
                       for step, (do, check, detail) in changes.items()}
            for step, future in futures.items():
                try:
                    results[step] = future.result()
                except CancelbotError as exc:
                    errors.append(exc)
        if "note" in results:
            self._done("Freshdesk", "private note added", *results["note"])
        if "status" in results:
            self._done("Freshdesk", f"ticket set to {name}", str(ticket.id), results["status"][1])
        if errors:
            raise errors[0]
        self.steps.finish()

    def _check_previous_runs(self, ticket: Ticket) -> None:
        """The ticket is the team's shared record: stop if another run handled it or is handling
        it, or if it is assigned to another agent — unless the agent says to go on."""
        mine = self.steps.job.job_id if self.steps.job else None
        others = [c for c in cancelbot_notes(ticket)
                  if mine is None or note_ref(c.body_text) != mine]
        if others:
            last = others[-1].body_text
            doing = "is handling" if is_claim(last) else "already handled"
            self.agent.warn(f"Another run {doing} this ticket: {last}")
            if not self.agent.confirm("Process it again anyway?", automatic=False):
                raise Declined(f"ticket #{ticket.id}: another run {doing} it, nothing changed")
        me = self.options.agent_id
        if me is not None and ticket.responder_id not in (None, me):
            self.agent.warn(f"Ticket #{ticket.id} is assigned to another agent (Freshdesk agent "
                            f"{ticket.responder_id}).")
            if not self.agent.confirm("Take it over?", automatic=False):
                raise Declined(f"ticket #{ticket.id} is assigned to another agent: nothing "
                               "changed")

    def _begin_changes(self, ticket: Ticket) -> None:
        """Before the first change: open (or go on with) the job, and claim the ticket — a
        'handling' note, then the assignment. Two runs that claim at once: the lower note wins."""
        if self.claimed:
            return
        job = self.steps.begin(self.outcome.order_id, self.outcome.branch)
        helpdesk = self.services.helpdesk
        text = claim_note(self.outcome.order_id, job.job_id, self.options.agent_name)
        with self.agent.busy("Claiming the ticket"):
            note_id, _ = self._effect(
                "claim_note", lambda: str(helpdesk.add_private_note(ticket.id, text_to_html(text))),
                recheck=lambda: self._find_note(job.job_id, claim=True),
            )
            self._check_claim_race(int(note_id))
            me = self.options.agent_id
            if me is not None and self._fresh_responder(ticket) == me:
                self.steps.settle_found("claim", str(me), "re-checked: assigned already")
            elif me is not None:
                before = self._fresh_responder(ticket)
                self._effect(
                    "claim", lambda: helpdesk.assign(ticket.id, me) or str(me),
                    recheck=lambda: str(me) if self._fresh_ticket().responder_id == me else None,
                    detail=f"previous responder: {before if before is not None else 'none'}",
                )
        self.claimed = True

    def _withdraw_idle_claim(self) -> None:
        """A job that stops before any change takes its claim back — the note removed, the
        previous responder restored — so a declined run leaves the ticket as it found it."""
        job = self.steps.job
        if job is None or self.options.dry_run or self.steps.changes():
            return
        row = self.journal.cancellation(job.order_id)
        if row is not None and row.ticket_id == job.ticket_id and row.state != "error":
            return  # an Amazon cancellation of this ticket is queued or sent: not idle
        helpdesk = self.services.helpdesk
        note, claim = self.steps.done("claim_note"), self.steps.done("claim")
        try:
            if note is not None and note.ref:
                self._effect("unclaim_note", lambda: helpdesk.delete_note(int(note.ref)) or "")
            if claim is not None:
                before = claim.detail.rpartition(": ")[2]
                previous = int(before) if before.isdigit() else None
                self._effect("unclaim", lambda: helpdesk.assign(job.ticket_id, previous) or "")
        except CancelbotError as exc:
            self.agent.warn(f"Could not take back the claim on ticket #{job.ticket_id}: {exc}")
            return
        self.steps.abandon()

    def _check_claim_race(self, claim_id: int) -> None:
        """Freshdesk numbers conversations in order: of two claims neither run saw at its first
        read, the lower one wins and the other run stops before changing anything."""
        assert self.steps.job is not None
        job_id = self.steps.job.job_id
        rivals = [c for c in cancelbot_notes(self._fresh_ticket())
                  if is_claim(c.body_text) and c.id < claim_id and c.id not in self.seen
                  and note_ref(c.body_text) != job_id]
        if rivals:
            raise TicketBusy(
                f"another cancelbot run claimed ticket #{self.outcome.ticket_id} at the same "
                f"moment and goes on; this one stops, nothing changed ({rivals[0].body_text})"
            )

    def _resolve_after_reply(self, ticket: Ticket, channel: str) -> None:
        """A resumed cannot-cancel run whose reply already went out: note and resolve only."""
        self._plan([f"Freshdesk: private note, then set ticket #{ticket.id} to resolved"])
        if not self._go_ahead("The reply went out in the earlier run. Add the note and resolve "
                              "the ticket?"):
            return
        self._begin_changes(ticket)
        self._note_and_set_status(
            ticket,
            f"{NOTE_MARK} order {self.outcome.order_id} can no longer be cancelled "
            f"({self.outcome.reason}). Buyer told they may refuse the parcel — channel: "
            f"{channel} (sent by an earlier run).",
            TicketStatus.RESOLVED,
        )

    def _send_reply(self, ticket: Ticket, text: str) -> str:
        sent = _already_sent(ticket, text)
        if sent is not None:
            # Already on the ticket (a run without this journal sent it): never send it twice.
            self.agent.info("This reply is already on the ticket: not sending it again.")
            self._reply_found = True
            return str(sent)
        with self.agent.busy("Sending the reply"):
            return str(self.services.helpdesk.reply(ticket.id, text_to_html(text)))

    def _handled_before(self, ticket: Ticket) -> bool:
        """A closed ticket cancelbot already finished: say so and change nothing (exit 0)."""
        last = self.journal.last_job(ticket.id)
        notes = [c.body_text for c in cancelbot_notes(ticket)]
        if notes and is_error_note(notes[-1]):
            return False  # Amazon refused: a person has to look, and may process it again
        if last is not None and last.state == "done":
            row = self.journal.cancellation(last.order_id)
            if row is not None and row.state == "error":
                self.agent.warn(f"Amazon did NOT cancel order {row.order_id} (feed "
                                f"{row.feed_id}): {row.result}")
                return False
            self.agent.info(f"cancelbot already finished this ticket on {last.finished_at} "
                            f"(order {last.order_id}, ref {last.job_id}): nothing left to do, "
                            "nothing changed.")
            self.outcome.order_id = last.order_id  # what _amazon_summary reads
            if row is not None and row.state in ("queued", "sent"):
                self.agent.info(f"Amazon: {self._amazon_summary()} (cancelbot feeds follows it).")
        elif notes and not is_claim(notes[-1]):
            self.agent.info(f"Already handled by another cancelbot run: {notes[-1]} — nothing "
                            "left to do, nothing changed.")
        else:
            return False
        self.outcome.branch = "already_done"
        self.outcome.reason = "an earlier run finished it; nothing changed"
        return True

    def _show_resume(self) -> None:
        """A rerun of an unfinished job says what the earlier run already did."""
        job = self.steps.job
        if job is None:
            return
        self.agent.info(f"Resuming the unfinished run of {job.started_at} (cancelbot ref "
                        f"{job.job_id}).")
        shown = False
        earlier = []
        for event in self.steps.done_steps():
            if event.step in CLAIM_STEPS:
                continue  # bookkeeping, not a change the agent asked for
            system, what = STEP_LABELS.get(event.step, ("", event.step))
            self.agent.info(f"  already done — {system}: {what}"
                            + (f" [{event.ref}]" if event.ref else ""))
            earlier.append(Action(system, f"{what} (earlier run)", event.ref))
            shown = True
        self.outcome.actions[0:0] = earlier  # they came before anything done in this run
        for line in self.steps.unsure():
            self.agent.info(f"  interrupted — {line}: checked before anything is redone")
            shown = True
        if not shown:
            self.agent.info("  nothing had been changed yet.")

    def _effect(self, step: str, do: Callable[[], str], *,
                recheck: Callable[[], str | None] | None = None,
                detail: str = "") -> tuple[str, str]:
        return self.steps.run(step, do, recheck=recheck, order_id=self.outcome.order_id,
                              detail=detail)

    def _gstk_cancelled(self) -> str | None:
        found = self.services.backoffice.find_order(self.outcome.order_id)
        return found.id if found is not None and found.status is OrderStatus.CANCELLED else None

    def _find_note(self, job_id: str, *, claim: bool) -> str | None:
        for c in cancelbot_notes(self._fresh_ticket()):
            if note_ref(c.body_text) == job_id and is_claim(c.body_text) == claim:
                return str(c.id)
        return None

    def _fresh_responder(self, ticket: Ticket) -> int | None:
        # The race check just re-read the ticket; an unfinished claim shows there first.
        return self._last_read.responder_id if self._last_read else ticket.responder_id

    def _fresh_ticket(self) -> Ticket:
        self._last_read = self.services.helpdesk.get_ticket(self.outcome.ticket_id)
        return self._last_read

    def _amazon_sent_earlier(self) -> bool:
        if self.services.marketplace.automated:
            row = self.journal.cancellation(self.outcome.order_id)
            return row is not None and row.state in ("sent", "done")
        return self.steps.done("amazon_cancel") is not None

    def _amazon_summary(self) -> str:
        """How the Amazon side stands, in the words of the final note."""
        row = self.journal.cancellation(self.outcome.order_id) \
            if self.services.marketplace.automated else None
        if row is None:
            if self.steps.done("amazon_cancel") is not None:
                return "cancelled by hand in Seller Central"
            return "already cancelled"
        if row.state == "queued":
            return ("cancellation queued by cancelbot (Amazon's feed limit); it goes out with "
                    "the next cancelbot run")
        if not row.feed_id:
            return "seen cancelled on Amazon"
        if row.state == "sent":
            return f"cancellation sent in feed {row.feed_id}, Amazon still processing it"
        return f"cancellation sent in feed {row.feed_id}"

    def _cancellation_note(self, gstk: BackOfficeOrder) -> str:
        order_id, amazon = self.outcome.order_id, self._amazon_summary()
        if self.steps.done("gstk_cancel") is not None:
            return (f"{NOTE_MARK} order {order_id} cancelled in GSTK ({gstk.id}); Amazon: "
                    f"{amazon}, reason BuyerCanceled. Amazon informs the buyer.")
        return (f"{NOTE_MARK} order {order_id} was already cancelled in GSTK ({gstk.id}); "
                f"Amazon: {amazon}.")

    def _follow_up_feeds(self) -> None:
        """Each run first settles what earlier runs left with Amazon; a failure here only warns."""
        try:
            report = self.feeds.follow_up()
        except CancelbotError as exc:
            self.agent.warn(f"Could not check the Amazon feeds of earlier runs ({exc}); "
                            "cancelbot tries again on its next run.")
            return
        for row in report.sent:
            if row.ticket_id == self.outcome.ticket_id:
                self._done("Amazon", f"cancellation sent (feed {report.submitted}, "
                                     "BuyerCanceled), left queued by the earlier run",
                           report.submitted)

    def _rerun(self) -> str:
        return self.options.rerun or f"cancelbot process {self.outcome.ticket_id}"

    def _call(self, automated: bool, label: str, fn: Callable[[], T]) -> T:
        """A spinner while a service works; none while an assisted step talks to the agent."""
        if not automated:
            return fn()
        with self.agent.busy(label):
            return fn()

    def _plan(self, lines: list[str]) -> None:
        self.outcome.planned = lines
        self.agent.show_plan(lines)

    def _go_ahead(self, question: str, review: replies.Draft | None = None) -> bool:
        """True when the changes may be made; False in a dry run (nothing is asked). With
        `review`, the question also offers to edit the reply or change its language."""
        if self.options.dry_run:
            self.agent.info("Dry run: nothing was changed.")
            return False
        if not (review.confirm(question) if review else self.agent.confirm(question)):
            raise Declined("declined: nothing changed")
        return True

    def _need_a_person_for_assisted(self, *, gstk: bool = False, amazon: bool = False) -> None:
        assisted = []
        if gstk and not self.services.backoffice.automated:
            assisted.append("GSTK")
        if amazon and not self.services.marketplace.automated:
            assisted.append("Amazon")
        if assisted and not self.agent.interactive and not self.options.dry_run:
            self.outcome.exit_code = ExitCode.NEEDS_HUMAN
            raise NeedsHuman(
                f"ticket #{self.outcome.ticket_id}: the {' and '.join(assisted)} step is done "
                "by hand; run without --yes"
            )

    def _done(self, system: str, what: str, ref: str = "", how: str = NOW) -> None:
        if how == EARLIER:
            return  # listed with the earlier run's changes (_show_resume)
        if how == FOUND:
            what += " (found done when re-checked)"
        self.outcome.actions.append(Action(system, what, ref))

    def _step(self, number: int) -> None:
        self.agent.step(number, len(STEPS), STEPS[number - 1])


def _already_sent(ticket: Ticket, text: str) -> int | None:
    """The id of a public reply on the ticket with exactly this text, if there is one."""
    wanted = " ".join(text.split())
    for c in ticket.conversations:
        if not c.private and not c.incoming and " ".join(c.body_text.split()) == wanted:
            return c.id
    return None


def _found(conversation_id: int | None) -> str | None:
    return None if conversation_id is None else str(conversation_id)


def _items(amazon: AmazonOrder | None) -> str:
    if amazon is None:
        return "every item, in Seller Central"
    count = len(amazon.items)
    return f"{count} item" + ("s" if count != 1 else "")


def _guess_marketplace(ticket: Ticket) -> str:
    """Without SP-API: the relay address tells the marketplace; else amazon.fr, our home."""
    domain = relay_domain(ticket.requester_email)
    return marketplaces.marketplace_for_domain(domain or "") or marketplaces.FRANCE


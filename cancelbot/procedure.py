"""The cancellation procedure, as the seed describes it, step by step.

    1. Fetch the ticket             (Freshdesk)
    2. Find the order number        (subject, body, conversations; the agent when unsure)
    3. Look the order up            (GSTK ∥ Amazon)
    4. Decide                       (decide(): a pure function of the two statuses)
    5. Act on the decision          (cancel / reply / close — each change confirmed first)

This module never prints and never reads the keyboard: it talks to an `Agent` (the Rich terminal
in cli.py, a scripted one in tests). Every change goes through `_change()`, which asks first and
records what was done, so a declined confirmation changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from cancelbot import marketplaces, messages
from cancelbot.errors import (
    CancelbotError,
    Declined,
    ExitCode,
    Incomplete,
    NeedsHuman,
    OrderMovedOn,
)
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
NOTE_MARK = "cancelbot:"  # how the private notes this tool writes begin


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


def process(ticket_id: int, services: Services, agent: Agent, options: Options) -> Outcome:
    """Walk one ticket through the procedure. Returns what was decided and done."""
    run = _Run(ticket_id, services, agent, options)
    return run.go()


class _Run:
    def __init__(self, ticket_id: int, services: Services, agent: Agent, options: Options):
        self.services = services
        self.agent = agent
        self.options = options
        self.outcome = Outcome(ticket_id=ticket_id, dry_run=options.dry_run)
        self.outcome.links.ticket = services.helpdesk.ticket_url(ticket_id)

    # -- the five steps ------------------------------------------------------------------------

    def go(self) -> Outcome:
        ticket = self.fetch_ticket()
        order_id = self.find_order_number(ticket)
        gstk, amazon = self.look_up(order_id, ticket)
        decision = self.decide(gstk, amazon)
        try:
            self.act(decision, ticket, gstk, amazon)
        except CancelbotError as exc:
            if not self.outcome.actions or isinstance(exc, Incomplete):
                raise
            # Something was changed before the failure: say exactly what, and how to finish.
            done = "; ".join(f"{a.system}: {a.what}" for a in self.outcome.actions)
            raise Incomplete(
                f"{exc}. Already done — {done}. Rerun `cancelbot process "
                f"{self.outcome.ticket_id}` to finish: it re-reads every system first."
            ) from exc
        return self.outcome

    def fetch_ticket(self) -> Ticket:
        self._step(1)
        with self.agent.busy("Fetching the ticket from Freshdesk"):
            ticket = self.services.helpdesk.get_ticket(self.outcome.ticket_id)
        self.agent.show_ticket(ticket)
        if ticket.is_closed:
            state = TicketStatus(ticket.status).name.lower()
            self.agent.warn(f"Ticket #{ticket.id} is already {state}.")
            if not self.agent.confirm("Process it anyway?", automatic=False):
                raise Declined(f"ticket #{ticket.id} is already {state}: nothing changed")
        return ticket

    def find_order_number(self, ticket: Ticket) -> str:
        self._step(2)
        numbers = find_order_numbers(*ticket.texts())
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
        with self.agent.busy("Looking the order up in GSTK and on Amazon"):
            with ThreadPoolExecutor(max_workers=2) as pool:
                gstk_f = pool.submit(backoffice.find_order, order_id) if backoffice.automated \
                    else None
                amazon_f = pool.submit(marketplace.get_order, order_id) if marketplace.automated \
                    else None
                gstk = gstk_f.result() if gstk_f else None
                amazon = amazon_f.result() if amazon_f else None
        if not backoffice.automated:
            gstk = backoffice.find_order(order_id)
        if not marketplace.automated:
            amazon = marketplace.get_order(order_id)
        self.marketplace_id = amazon.marketplace_id if amazon else _guess_marketplace(ticket)
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
        self.gstk_found = gstk is not None
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
            self.agent.warn(f"Nothing changed. Check: {decision.check}.")
            return
        self._check_previous_runs(ticket)
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
        comment = f"Buyer request, Freshdesk ticket #{ticket.id} (cancelbot)"
        backoffice = self.services.backoffice
        try:
            self._call(backoffice.automated, "Cancelling in GSTK",
                       lambda: backoffice.cancel(gstk, comment))
        except OrderMovedOn as moved:
            # The picking race: the warehouse took the order between lookup and cancel.
            self.agent.warn(
                f"GSTK refused: the order has moved on ({moved.label}). It was NOT cancelled "
                "anywhere; switching to the cannot-cancel reply."
            )
            self.outcome.branch = Branch.CANNOT_CANCEL.value
            self.outcome.reason = f"GSTK refused the cancel: now {moved.label}"
            self.cannot_cancel(ticket, amazon)
            return
        self._done("GSTK", f"order {gstk.id} cancelled", gstk.id)
        self._cancel_on_amazon(amazon)
        self._note_and_set_status(
            ticket,
            f"{NOTE_MARK} order {self.outcome.order_id} cancelled in GSTK ({gstk.id}) and on "
            f"Amazon ({self._amazon_ref()}), reason BuyerCanceled. Amazon informs the buyer.",
            TicketStatus.CLOSED,
        )

    def cannot_cancel(self, ticket: Ticket, amazon: AmazonOrder | None) -> None:
        choice = messages.choose_language(self.options.language, self.marketplace_id)
        self.outcome.language = choice.code
        text = messages.render_reply(
            messages.templates_dir(self.options.templates),
            choice.code,
            order_id=self.outcome.order_id,
            buyer_name="",  # Amazon's relay hides the buyer; the seed's greeting is generic
            agent_name=self.options.agent_name,
        )
        self.outcome.message = text
        relay = relay_domain(ticket.requester_email) is not None
        channel = "ticket reply (Amazon relay)" if relay else "Seller Central (assisted)"
        self.agent.show_message(text, choice.code, choice.why, channel, copyable=not relay)
        self._need_a_person_for_assisted(amazon=not relay)
        if relay:
            self._plan([
                f"Freshdesk: reply to {ticket.requester_email} (Amazon relays it to the buyer)",
                f"Freshdesk: private note, then set ticket #{ticket.id} to resolved",
            ])
            if not self._go_ahead("Send this reply to the buyer?"):
                return
            sent = _already_sent(ticket, text)
            if sent is not None:
                # A run that stopped after the reply: never send it twice.
                self.agent.info("This reply is already on the ticket: not sending it again.")
                self._done("Freshdesk", f"reply already on the ticket ({choice.code})", str(sent))
            else:
                with self.agent.busy("Sending the reply"):
                    reply_id = self.services.helpdesk.reply(ticket.id, text_to_html(text))
                self._done("Freshdesk", f"reply sent to the buyer ({choice.code})", str(reply_id))
        else:
            self._plan([
                "You: send the message above to the buyer from Seller Central",
                f"Freshdesk: private note, then set ticket #{ticket.id} to resolved",
            ])
            self.agent.info(f"Contact the buyer: {self.outcome.links.contact_buyer}")
            if self.options.dry_run:
                self.agent.info("Dry run: nothing was changed.")
                return
            if not self.agent.confirm("Have you sent it from Seller Central?"):
                raise Declined("message not confirmed as sent: the ticket is unchanged")
            self._done("Amazon", f"message sent by the agent in Seller Central ({choice.code})")
        self._note_and_set_status(
            ticket,
            f"{NOTE_MARK} order {self.outcome.order_id} can no longer be cancelled "
            f"({self.outcome.reason}). Buyer told they may refuse the parcel — channel: "
            f"{channel}, language: {choice.code}.",
            TicketStatus.RESOLVED,
        )

    def already_cancelled(
        self, ticket: Ticket, gstk: BackOfficeOrder, amazon: AmazonOrder | None
    ) -> None:
        cancel_on_amazon = amazon is None or not amazon.is_cancelled
        if amazon is not None and amazon.is_cancelled:
            self.agent.info("Cancelled in GSTK and on Amazon: only the ticket is left to close.")
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
        if cancel_on_amazon:
            self._cancel_on_amazon(amazon)
        done = f"cancelled on Amazon now ({self._amazon_ref()})" if cancel_on_amazon \
            else "already cancelled on Amazon"
        self._note_and_set_status(
            ticket,
            f"{NOTE_MARK} order {self.outcome.order_id} was already cancelled in GSTK "
            f"({gstk.id}); {done}.",
            TicketStatus.CLOSED,
        )

    # -- shared moves --------------------------------------------------------------------------

    def _cancel_on_amazon(self, amazon: AmazonOrder | None) -> None:
        marketplace = self.services.marketplace
        # Assisted: nothing known but the number and the marketplace; the agent cancels by hand.
        order = amazon or AmazonOrder(self.outcome.order_id, "", self.marketplace_id)
        feed_id = self._call(marketplace.automated, "Cancelling on Amazon",
                             lambda: marketplace.cancel(order))
        what = "cancellation sent (feed " + feed_id + ", BuyerCanceled)" if feed_id \
            else "cancelled by the agent in Seller Central"
        self._done("Amazon", what, feed_id)

    def _note_and_set_status(self, ticket: Ticket, note: str, status: TicketStatus) -> None:
        helpdesk = self.services.helpdesk
        # The note and the status change are independent: send both at once.
        with self.agent.busy("Updating the ticket"), ThreadPoolExecutor(max_workers=2) as pool:
            note_f = pool.submit(helpdesk.add_private_note, ticket.id, text_to_html(note))
            status_f = pool.submit(helpdesk.set_status, ticket.id, int(status))
            note_id = note_f.result()
            status_f.result()
        self._done("Freshdesk", "private note added", str(note_id))
        self._done("Freshdesk", f"ticket set to {status.name.lower()}", str(ticket.id))

    def _check_previous_runs(self, ticket: Ticket) -> None:
        """The ticket is the team's shared record: stop if a cancelbot note is already on it."""
        notes = [c for c in ticket.conversations if c.private and c.body_text.startswith(NOTE_MARK)]
        if not notes:
            return
        self.agent.warn(f"Another run already handled this ticket: {notes[-1].body_text}")
        if not self.agent.confirm("Process it again anyway?", automatic=False):
            raise Declined(f"ticket #{ticket.id} was already handled: nothing changed")

    def _call(self, automated: bool, label: str, fn: Callable[[], T]) -> T:
        """A spinner while a service works; none while an assisted step talks to the agent."""
        if not automated:
            return fn()
        with self.agent.busy(label):
            return fn()

    def _plan(self, lines: list[str]) -> None:
        self.outcome.planned = lines
        self.agent.show_plan(lines)

    def _go_ahead(self, question: str) -> bool:
        """True when the changes may be made; False in a dry run (nothing is asked)."""
        if self.options.dry_run:
            self.agent.info("Dry run: nothing was changed.")
            return False
        if not self.agent.confirm(question):
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

    def _done(self, system: str, what: str, ref: str = "") -> None:
        self.outcome.actions.append(Action(system, what, ref))

    def _amazon_ref(self) -> str:
        for action in reversed(self.outcome.actions):
            if action.system == "Amazon":
                return f"feed {action.ref}" if action.ref else "by hand in Seller Central"
        return "not done"

    def _step(self, number: int) -> None:
        self.agent.step(number, len(STEPS), STEPS[number - 1])


def _already_sent(ticket: Ticket, text: str) -> int | None:
    """The id of a public reply on the ticket with exactly this text, if there is one."""
    wanted = " ".join(text.split())
    for c in ticket.conversations:
        if not c.private and not c.incoming and " ".join(c.body_text.split()) == wanted:
            return c.id
    return None


def _items(amazon: AmazonOrder | None) -> str:
    if amazon is None:
        return "every item, in Seller Central"
    count = len(amazon.items)
    return f"{count} item" + ("s" if count != 1 else "")


def _guess_marketplace(ticket: Ticket) -> str:
    """Without SP-API: the relay address tells the marketplace; else amazon.fr, our home."""
    domain = relay_domain(ticket.requester_email)
    return marketplaces.marketplace_for_domain(domain or "") or marketplaces.FRANCE


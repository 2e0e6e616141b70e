"""Several orders on one ticket: where each stands, which are handled, what the notes say.

A buyer may name two orders ("cancel the one not yet shipped"). One run handles one order:

    choose      the chooser shows each order's GSTK and Amazon status (looked up at once, with
                lookup.py's lookups, through the run's clients and their rate budgets) and
                marks the orders already handled on this ticket; the others come first
    wrap_up     the run's final note says which order it handled and which remain; while one
                remains the ticket stays open (there is work left for the team, not for the
                buyer: not pending); the last run's note sums them all up, and the ticket
                ends as the procedure says (closed; resolved when a buyer was sent the
                cannot-cancel reply for one of them, since they may answer it)

"Handled" is keyed on (ticket, order): a finished job of this ticket for that order in the
journal — unless Amazon has refused its cancellation since — or, from another computer, a
final note whose first sentence names it. A handled order is never chosen again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from msgspec import Struct, field

from cancelbot.claims import HANDLED, REFUSED, TicketClaim, other_runs
from cancelbot.errors import CancelbotError, Declined
from cancelbot.i18n import N_, _, note_
from cancelbot.journal import Journal
from cancelbot.lookup import Lookup, look_up
from cancelbot.models import Ticket, TicketStatus
from cancelbot.outcome import Outcome
from cancelbot.ports import Agent, Services

# How an order was handled, in the team's words (the final note's summary).
HOW_HANDLED = {
    "cancel": N_("cancelled in GSTK and on Amazon"),
    "already_cancelled": N_("already cancelled; the Amazon side checked"),
    "cannot_cancel": N_("could no longer be cancelled; the buyer was told"),
    "": N_("handled by another cancelbot run (see its note)"),
}
QUESTION = N_("Which order does the buyer want cancelled?")


class Siblings(Struct):
    """The orders a ticket names, and those already handled on it (order → branch)."""

    named: tuple[str, ...]
    handled: dict[str, str] = field(default_factory=dict)

    def remaining(self, besides: str) -> list[str]:
        return [o for o in self.named if o != besides and o not in self.handled]


class Run(Protocol):
    """What of branches.Run this module uses (it is imported by branches.py)."""

    services: Services
    agent: Agent
    ticket: Ticket
    outcome: Outcome
    siblings: Siblings | None

    @property
    def order_id(self) -> str: ...

    def stop_for_person(self, reason: str, check: str) -> None: ...

    def rerun(self) -> str: ...


def handled_orders(claim: TicketClaim, ticket: Ticket) -> dict[str, str]:
    """The orders of this ticket cancelbot already handled: order → branch ("" when only
    another computer's note says so), oldest first."""
    found: dict[str, str] = {}
    for other in other_runs(ticket, claim.job.job_id if claim.job else None):
        if other.state == HANDLED:
            found.update((order, "") for order in other.orders)
        elif other.state == REFUSED:  # Amazon refused it since: it needs handling again
            for order in other.orders:
                found.pop(order, None)
    for job in claim.journal.done_jobs(claim.ticket_id):
        row = claim.journal.cancellation(job.order_id)
        if row is not None and row.state == "error":
            found.pop(job.order_id, None)
        else:
            found[job.order_id] = job.branch
    return found


def order_left(journal: Journal, ticket_id: int) -> bool:
    """The ticket's last run handled one of its orders and left it open for another: work
    still to do (the shift does not skip it as handled)."""
    job = journal.last_job(ticket_id)
    if job is None or job.state != "done":
        return False
    status = journal.step_state(job.job_id, "status")
    return status is not None and status.detail.startswith("set to open")


def choose(run: Run, numbers: list[str]) -> tuple[str, Lookup | None]:
    """The agent picks one of the ticket's orders, seeing where each stands; (the order, its
    lookup). --yes stops for a person, as it always has: which order is theirs to say."""
    agent = run.agent
    agent.warn(_("The ticket mentions {count} different order numbers.").format(
        count=len(numbers)))
    if not agent.interactive:
        run.stop_for_person(f"the ticket names {len(numbers)} orders",
                            "which one the buyer wants cancelled")
    handled = run.siblings.handled if run.siblings is not None else {}
    ordered = sorted(numbers, key=lambda n: n in handled)  # the remaining ones first
    found = look_up_all(run, ordered)
    done = [n for n in ordered if n in handled]
    if done:
        agent.info(_("Already handled on this ticket: order {orders}.").format(
            orders=", ".join(done)))
    automated = run.services.backoffice.automated
    options = [option(n, found.get(n), handled.get(n), gstk_checked=automated)
               for n in ordered]
    chosen = ordered[agent.choose(QUESTION, options)]
    if chosen in handled:
        raise Declined(_("order {order} was already handled on this ticket: nothing "
                         "changed").format(order=chosen))
    lookup = found.get(chosen)
    return chosen, lookup if isinstance(lookup, Lookup) else None


def look_up_all(run: Run, numbers: list[str]) -> dict[str, Lookup | str]:
    """Each order in GSTK and on Amazon, at once (the automated sides only: an assisted GSTK
    is asked about the chosen order alone). A failed lookup is its error's words."""
    services = run.services

    def one(number: str) -> Lookup | str:
        try:
            return look_up(services.backoffice, services.marketplace, number, run.ticket,
                           automated_only=True)
        except CancelbotError as exc:
            return str(exc)

    with run.agent.busy(_("Looking up each order in GSTK and on Amazon")), \
            ThreadPoolExecutor(max_workers=min(4, len(numbers))) as pool:
        return dict(zip(numbers, pool.map(one, numbers), strict=True))


def option(number: str, found: Lookup | str | None, handled: str | None, *,
           gstk_checked: bool = True) -> str:
    """One line of the chooser: the order, GSTK's and Amazon's status, and whether it is
    already handled on this ticket."""
    if isinstance(found, str) or found is None:
        where = _("could not be looked up ({error})").format(error=found or "?")
    else:
        gstk = found.gstk
        if gstk is not None:
            # GSTK's own words, as the agent sees them there (the line stays within 80).
            gstk_text = gstk.label if gstk.status else \
                f"{gstk.label} ({_('UNKNOWN STATUS')})"
        elif gstk_checked:
            gstk_text = _("not found")
        else:  # an assisted GSTK: the agent looks up only the order chosen
            gstk_text = _("checked after the choice")
        if found.amazon is not None:
            amazon_text = found.amazon.fulfillment_status or "?"
        elif found.amazon_checked:
            amazon_text = _("not found on Amazon")
        else:
            amazon_text = _("not checked (no SP-API)")
        where = f"GSTK: {gstk_text} · Amazon: {amazon_text}"
    if handled is not None:
        where += " — " + _("already handled")  # "on this ticket": said above the list
    return f"{number} — {where}"


def wrap_up(run: Run, note: str, status: TicketStatus) -> tuple[str, TicketStatus]:
    """The final note and status of a run on a ticket naming several orders: the orders left
    keep the ticket open; the last one's note sums them all up."""
    siblings = run.siblings
    if siblings is None:
        return note, status
    order_id = run.order_id
    left = siblings.remaining(order_id)
    if left:
        run.agent.info(_("Order {orders} is still to handle on this ticket: run `{rerun}` "
                         "again for it.").format(orders=", ".join(left), rerun=run.rerun()))
        return note + "\n\n" + note_(
            "Still to handle on this ticket: order {orders}. The ticket stays open until "
            "then.").format(orders=", ".join(left)), TicketStatus.OPEN
    branches = {**siblings.handled, order_id: run.outcome.branch}
    lines = [f"- {order}: {note_(HOW_HANDLED.get(branches.get(order, ''), HOW_HANDLED['']))}"
             for order in siblings.named if order in branches]
    if "cannot_cancel" in branches.values():
        status = min(status, TicketStatus.RESOLVED)  # a buyer may answer the reply
    return note + "\n\n" + note_("Every order named on this ticket is handled:") + "\n" + \
        "\n".join(lines), status

"""The cancellation procedure, as the seed describes it, move by move.

    1. Read the ticket                (Freshdesk)
    2. Find the order number          (subject, body, conversations; the agent when unsure)
    3. Look the order up              (GSTK ∥ Amazon: lookup.py)
    4. Act on its status              (decide(): decision.py; the branches: branches.py)

It never prints nor reads the keyboard: it talks to an `Agent` (ports.py). Every change is
confirmed first (a declined confirmation changes nothing) and goes through the ticket's claim
(claims.py), journaled before and after: a rerun resumes, never does a change twice.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext

from cancelbot import amazon_requests, branches, marketplaces, several
from cancelbot.branches import Run
from cancelbot.claims import HANDLING, REFUSED, TicketClaim
from cancelbot.decision import Branch, decide
from cancelbot.errors import CancelbotError, Declined, ExitCode
from cancelbot.feeds import FeedDesk, FollowUp, tell
from cancelbot.i18n import N_, _
from cancelbot.journal import Journal
from cancelbot.lookup import Lookup, look_up
from cancelbot.models import Ticket, TicketStatus
from cancelbot.orders import find_order_numbers, parse_order_number
from cancelbot.outcome import Action, Outcome
from cancelbot.ports import Agent, Options, Services
from cancelbot.prefetch import Prefetched, check_unchanged
from cancelbot.requester import check_request
from cancelbot.when import clock_time

MOVES = (N_("Read the ticket"), N_("Find the order number"), N_("Look up the order"),
         N_("Act on its status"))


def process(
    ticket_id: int,
    services: Services,
    agent: Agent,
    options: Options,
    journal: Journal | None = None,
    *,
    ahead: Prefetched | None = None,
    feeds: FeedDesk | None = None,
) -> Outcome:
    """Walk one ticket through the procedure; the Outcome says what was read, decided and done,
    and — when the run stopped — the error and its exit code (`outcome.raise_for_error()`).

    `journal` records every change (default: one in memory, for this process only); the ticket
    is leased in it for the run, so a second process on the same ticket stops at once. `ahead`
    is what the shift read in advance: served once, re-checked before the first change.
    `feeds` is the shift's FeedDesk, whose own thread follows earlier feeds; without it, the
    run follows them on a thread beside its own reads and shows what it found at the end.
    """
    journal = journal or Journal.memory()
    outcome = Outcome(ticket_id, dry_run=options.dry_run,
                      rerun=options.rerun or f"cancelbot process {ticket_id}")
    outcome.links.ticket = services.helpdesk.ticket_url(ticket_id)
    claim = ahead.claim if ahead is not None else None  # leased, claimed: headstart.py
    # The claim, the feed document and earlier runs' feeds go on here, beside the run's reads.
    background = ThreadPoolExecutor(max_workers=3, thread_name_prefix="cancelbot-run")
    follow: Future[FollowUp] | None = None
    try:
        with nullcontext() if options.dry_run or claim else journal.lease(ticket_id):
            # Built inside the lease: the unfinished job it resumes cannot change under it.
            claim = claim or TicketClaim(
                journal, services.helpdesk, agent, ticket_id, agent_id=options.agent_id,
                agent_name=options.agent_name, lease=options.claim_lease)
            if feeds is None and services.feeds is not None:
                feeds = FeedDesk(journal, services.feeds, services.helpdesk, agent)
                if not options.dry_run:
                    follow = background.submit(feeds.follow_up, leave_ticket=ticket_id)
            ticket = read_ticket(agent, services, claim, outcome, ahead)
            if outcome.branch == "already_done":
                return outcome
            run = Run(services, agent, options, claim, outcome, ticket, feeds,
                      background=background)
            order_id = find_order_number(run)
            found = look_up_order(run, order_id, ahead)
            act_on_status(run, found)
    except CancelbotError as exc:
        _stopped(outcome, claim, exc)
    except KeyboardInterrupt:
        outcome.interrupted, outcome.exit_code = True, ExitCode.INTERRUPTED
        if claim is not None:
            _withdraw(claim)
            outcome.unsure = claim.unsure()
    finally:
        background.shutdown(wait=True)
        if follow is not None:
            _followed(agent, follow)
    return outcome


# -- 1. read the ticket --------------------------------------------------------------------------


def read_ticket(agent: Agent, services: Services, claim: TicketClaim, outcome: Outcome,
                ahead: Prefetched | None) -> Ticket:
    agent.step(1, len(MOVES), MOVES[0])
    if ahead is not None and ahead.claim is claim and ahead.ticket is not None:
        agent.show_ticket(ahead.ticket)  # its whole thread, read under the head start's lease
        outcome.ticket = ahead.ticket
        return ahead.ticket  # open, no other run's note: the head start's own conditions
    if ahead is not None and ahead.ticket is not None and not (
            ahead.read_at_start and claim.journal.changed_since(claim.ticket_id,
                                                                ahead.read_at_start)):
        ticket = ahead.ticket
    else:
        with agent.busy(_("Fetching the ticket from Freshdesk")):
            ticket = services.helpdesk.get_ticket(claim.ticket_id)
    agent.show_ticket(ticket)
    ticket = outcome.ticket = claim.read(ticket)  # its whole thread
    if ticket.is_closed and claim.job is None:
        if _finished_earlier(agent, claim, ticket, outcome):
            return ticket
        state = TicketStatus(ticket.status).name.lower()
        agent.warn(_("Ticket #{id} is already {state}.").format(id=ticket.id, state=_(state)))
        if not agent.confirm(N_("Process it anyway?"), automatic=False):
            raise Declined(_("ticket #{id} is already {state}: nothing changed").format(
                id=ticket.id, state=_(state)))
    return ticket


def _finished_earlier(agent: Agent, claim: TicketClaim, ticket: Ticket,
                      outcome: Outcome) -> bool:
    """A closed ticket cancelbot already finished: say so and change nothing (exit 0)."""
    others = claim.others(ticket)
    if others and others[-1].state == REFUSED:
        return False  # Amazon refused: a person has to look, and may process it again
    last = claim.last_finished()
    if last is not None and last.state == "done":
        row = claim.journal.cancellation(last.order_id)
        if row is not None and row.state == "error":
            agent.warn(_("Amazon did NOT cancel order {order} (feed {feed}): {result}").format(
                order=row.order_id, feed=row.feed_id, result=row.result))
            return False
        agent.info(_("cancelbot already finished this ticket on {time} (order {order}, ref "
                     "{ref}): nothing left to do, nothing changed.").format(
            time=clock_time(last.finished_at), order=last.order_id, ref=last.job_id))
        outcome.order_id = last.order_id
        if row is not None and row.state in ("queued", "sent"):
            agent.info((_("Amazon: cancellation queued, not finished yet (cancelbot feeds "
                          "follows it).") if row.state == "queued" else _(
                "Amazon: cancellation sent in feed {feed}, not finished yet (cancelbot feeds "
                "follows it).")).format(feed=row.feed_id))
    elif others and others[-1].state != HANDLING:
        agent.info(_("Already handled by another cancelbot run: {note} — nothing left to do, "
                     "nothing changed.").format(note=others[-1].text))
    else:
        return False
    outcome.branch = "already_done"
    outcome.reason = "an earlier run finished it; nothing changed"
    return True


# -- 2. find the order number --------------------------------------------------------------------


def find_order_number(run: Run) -> str:
    agent, job = run.agent, run.claim.job
    agent.step(2, len(MOVES), MOVES[1])
    numbers = find_order_numbers(*run.ticket.texts())
    if len(numbers) > 1:  # the final note and status account for every one (several.py)
        run.siblings = several.Siblings(tuple(numbers),
                                        several.handled_orders(run.claim, run.ticket))
    if job is not None and run.claim.resumed and (job.order_id in numbers or not numbers):
        # Resuming: the order the unfinished run worked on, not a new choice.
        agent.info(_("Order {order}, as in the unfinished run on this ticket.").format(
            order=job.order_id))
        numbers = [job.order_id]
    if len(numbers) == 1:
        agent.info(_("Amazon order {order}").format(order=numbers[0]))
        order_id = numbers[0]
    elif numbers:
        order_id, run.chosen = several.choose(run, numbers)
        run.order_source = "chosen"
    else:
        agent.warn(_("No Amazon order number in the ticket."))
        if not agent.interactive:
            run.stop_for_person("no Amazon order number in the ticket",
                                "the buyer's order in Seller Central")
        order_id = agent.ask("Amazon order number", parse_order_number)
        run.order_source = "typed"
    run.outcome.order_id = run.claim.order_id = order_id
    return order_id


# -- 3. look the order up ------------------------------------------------------------------------


def look_up_order(run: Run, order_id: str, ahead: Prefetched | None) -> Lookup:
    agent, services, outcome = run.agent, run.services, run.outcome
    agent.step(3, len(MOVES), MOVES[2])
    if not run.options.dry_run and run.background is not None:
        run.claim.claim_ahead(run.ticket, order_id, run.background)  # beside the lookups
    found = (ahead.the_lookup() if ahead is not None else None) or run.chosen
    if found is None or found.order_id != order_id or not services.backoffice.automated:
        found = look_up(services.backoffice, services.marketplace, order_id, run.ticket,
                        busy=agent.busy)
    if ahead is not None and not ahead.read_at_start and (ahead.ticket is not None
                                                          or ahead.lookup is found):
        served = ahead.ticket
        gstk_served = found if ahead.lookup is found else None
        run.before_change = lambda: check_unchanged(services, run.claim, served, gstk_served)
    run.locale = found.locale
    outcome.gstk, outcome.amazon, outcome.amazon_lookup = found.gstk, found.amazon, \
        found.amazon_lookup
    outcome.marketplace_id = found.marketplace_id
    outcome.marketplace = marketplaces.marketplace_label(found.marketplace_id)
    outcome.links.seller_central_order = marketplaces.seller_central_order_url(
        order_id, found.marketplace_id)
    outcome.links.contact_buyer = marketplaces.contact_buyer_url(order_id, found.marketplace_id)
    outcome.links.gstk_order = found.gstk.url if found.gstk else ""
    agent.show_order(order_id, found.gstk, found.amazon, outcome.marketplace,
                     amazon_checked=found.amazon_checked)
    return found


# -- 4. act on its status ------------------------------------------------------------------------


def act_on_status(run: Run, found: Lookup) -> None:
    agent, outcome = run.agent, run.outcome
    agent.step(4, len(MOVES), MOVES[3])
    gstk = found.gstk
    decision = branches.after_refusal(run, found, decide(
        gstk.status if gstk else None, found.amazon_status, in_gstk=gstk is not None))
    outcome.decision, outcome.branch = decision, decision.branch.value
    outcome.reason, outcome.check = decision.reason, decision.check
    agent.show_decision(decision)
    if decision.branch is Branch.NEEDS_HUMAN or gstk is None:
        return branches.needs_a_person(run, decision)
    run.claim.check_others(run.ticket)
    earlier, unsure = run.claim.resume()
    _show_resume(run, earlier, unsure)
    check_request(run, found, decision.branch)  # the order against the ticket; who may ask
    if amazon_requests.close_if_handled(run, found):  # its request, handled from Amazon first
        return
    if decision.branch is Branch.CANCEL:
        branches.cancel(run, gstk, found.amazon)
    elif decision.branch is Branch.CANNOT_CANCEL:
        branches.cannot_cancel(run, found.amazon)
    else:
        branches.already_cancelled(run, gstk, found.amazon)


def _show_resume(run: Run, earlier: list[Action], unsure: list[str]) -> None:
    """A rerun of an unfinished job says what the earlier run already did."""
    job = run.claim.job
    if job is None or not run.claim.resumed:
        return
    run.agent.info(_("Resuming the unfinished run of {time} (cancelbot ref {ref}).").format(
        time=clock_time(job.started_at), ref=job.job_id))
    for action in earlier:
        what = action.what.removesuffix(_("{what} (earlier run)").format(what=""))
        run.agent.info("  " + _("already done — {system}: {what}").format(
            system=action.system, what=what) + (f" [{action.ref}]" if action.ref else ""))
    for line in unsure:
        run.agent.info("  " + _("interrupted — {step}: checked before anything is redone").format(
            step=line))
    if not earlier and not unsure:
        run.agent.info("  " + _("nothing had been changed yet."))
    run.outcome.actions[0:0] = earlier  # they came before anything done in this run


# -- how a run ends ------------------------------------------------------------------------------


def _followed(agent: Agent, follow: Future[FollowUp]) -> None:
    """What the follow-up of earlier runs' feeds found, said once the run is over."""
    try:
        tell(agent, follow.result().news)
    except CancelbotError as exc:
        agent.warn(_("Could not check the Amazon feeds of earlier runs ({problem}); cancelbot "
                     "tries again on its next run (or: cancelbot feeds).").format(problem=exc))


def _withdraw(claim: TicketClaim) -> None:
    """A run that stopped before its first change takes back the claim it posted ahead."""
    try:
        claim.withdraw_if_idle()
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: the claim stays, the next run's check shows it


def _stopped(outcome: Outcome, claim: TicketClaim | None, exc: CancelbotError) -> None:
    """The run stopped: before any change it takes its claim back (a No, a person must look,
    a service failing); after one, the error says exactly what was done, what is unknown, and
    how to finish."""
    if claim is not None:
        claim.withdraw_if_idle()  # stopped before any change: leave the ticket as found
    outcome.stop_part_way(exc, claim.unsure() if claim is not None else [],
                          _("Rerun `{command}` to finish: it checks each of these against "
                            "Freshdesk, GSTK and Amazon before doing anything.").format(
                              command=outcome.rerun))

"""Who may ask for a cancellation, and whether the order is the one the ticket is about.

`check_request` runs once, in step 4, after the decision and before any confirmation:

    the order against the ticket   the marketplace of Amazon's relay address, the items the
                                   ticket names, the buyer (when Amazon gives the buyer's
                                   address). A mismatch is shown in red and needs an explicit
                                   second yes.
    who may ask                    a cancellation is automated only when Amazon vouches for
                                   the request: the order carries the buyer's cancellation
                                   request (cancellationRequest.requester = BUYER), or the
                                   ticket comes from Amazon itself (a sender at one of
                                   Amazon's storefront domains, exactly) or from that order's
                                   buyer through Amazon's relay (…@marketplace.<storefront>,
                                   exactly, and the buyer address Amazon gives for the order).
                                   Otherwise the screen says who asked and why that is not
                                   enough, and only an explicit yes goes on.

With --yes, either stops the run (exit 4) and leaves the ticket to a person with the reason.
Replies only ever go to a genuine relay address (orders.relay_domain is exact).
"""

from __future__ import annotations

import re
import unicodedata

from msgspec import Struct

from cancelbot import marketplaces
from cancelbot.branches import Run
from cancelbot.decision import Branch
from cancelbot.errors import Declined
from cancelbot.i18n import N_, _
from cancelbot.lookup import Lookup
from cancelbot.models import AmazonOrder, Ticket
from cancelbot.orders import amazon_sender_domain, relay_domain

# How Amazon's notifications (and buyers copying them) label each item of an order.
# One line, blanks within the line only ([^\S\n]), and the name from its first to its last
# non-blank character with no lazy repeat: linear on any ticket (with "\s*" and "(.+?)\s*$",
# 20,000 empty lines took 29 s, a line of blanks after "article:" quadratic time).
_ITEM_LINE = re.compile(
    r"^[^\S\n]*(?:article|artikel|item|articolo|art[ií]culo|producto|produit|product)"
    r"[^\S\n]*:[^\S\n]*(\S(?:[^\n]*\S)?)[^\S\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_QUANTITY = re.compile(r"\((?:[^()]*\d[^()]*)\)\s*$")  # "(quantité : 2)", "(Menge: 2)"
_WORD = re.compile(r"[a-z0-9+]+")


class Vouch(Struct, frozen=True):
    """Whether Amazon vouches for the request, who asked, and why (not) enough."""

    ok: bool
    who: str
    why: str


def who_asked(ticket: Ticket) -> str:
    email = ticket.requester_email or _("no address")
    if relay_domain(email):
        return _("{name} <{email}>, through Amazon's relay").format(
            name=ticket.requester_name or _("a buyer"), email=email)
    if amazon_sender_domain(email):
        return _("Amazon ({email})").format(email=email)
    return f"{ticket.requester_name or _('someone')} <{email}>"


def vouched(ticket: Ticket, amazon: AmazonOrder | None) -> Vouch:
    """The one rule of who may get an order cancelled without a person's second look."""
    who = who_asked(ticket)
    email = (ticket.requester_email or "").strip().lower()
    if amazon is not None and amazon.buyer_requested_cancel:
        return Vouch(True, who, _("Amazon records the buyer's own cancellation request"))
    if amazon_sender_domain(email):
        return Vouch(True, who, _("Amazon's own notification"))
    if relay_domain(email):
        if amazon is None:
            return Vouch(False, who, _("Amazon was not asked who the order's buyer is"))
        if not amazon.buyer_email:
            return Vouch(False, who, _(
                "Amazon does not give the order's buyer address, so the relay address cannot be "
                "matched to the order, and the order carries no cancellation request from its "
                "buyer"))
        if amazon.buyer_email.strip().lower() == email:
            return Vouch(True, who, _("the order's buyer, through Amazon's relay"))
        return Vouch(False, who, _("the relay address is not this order's buyer, and the order "
                                   "carries no cancellation request from its buyer"))
    return Vouch(False, who, _("neither Amazon nor the order's buyer through Amazon's relay, "
                               "and the order carries no cancellation request from its buyer"))


def mismatches(ticket: Ticket, found: Lookup) -> list[str]:
    """What the ticket says that the order contradicts; [] when nothing does."""
    problems = []
    amazon = found.amazon
    relay = relay_domain(ticket.requester_email)
    relay_id = marketplaces.marketplace_for_domain(relay or "")
    if relay_id and amazon is not None and amazon.marketplace_id and \
            amazon.marketplace_id != relay_id:
        problems.append(_("the ticket came through Amazon's {relay} relay, the order is on "
                          "{marketplace}").format(
            relay=relay, marketplace=marketplaces.marketplace_label(amazon.marketplace_id)))
    if relay and amazon is not None and amazon.buyer_email and \
            amazon.buyer_email.strip().lower() != ticket.requester_email.strip().lower():
        problems.append(_("the ticket's sender <{email}> is not this order's buyer (Amazon "
                          "gives another buyer address)").format(email=ticket.requester_email))
    named = named_items(ticket)
    if named and amazon is not None and amazon.items:
        titles = [i.title for i in amazon.items if i.title]
        if titles and not any(_same_item(n, t) for n in named for t in titles):
            problems.append(_("the ticket names {named}; the order has {items}").format(
                named=_list(named), items=_list(titles)))
    return problems


def named_items(ticket: Ticket) -> list[str]:
    """The items the ticket lists ("Article : …", "Artikel: …", "Item: …")."""
    found = []
    for text in ticket.texts():
        for match in _ITEM_LINE.finditer(text.replace("\u00a0", " ")):
            name = _QUANTITY.sub("", match.group(1)).strip()
            if name and name not in found:
                found.append(name)
    return found


def check_request(run: Run, found: Lookup, branch: Branch) -> None:
    """Before any confirmation: the order against the ticket, then who may ask (for a branch
    that cancels). Declined when the agent says No; --yes stops and flags the ticket."""
    ticket, agent = run.ticket, run.agent
    problems = mismatches(ticket, found)
    if problems:
        source = {"typed": _("typed by hand"), "chosen": _("chosen")}.get(
            run.order_source, _("named in the ticket"))
        for problem in problems:
            agent.alert(_("Order {order} ({source}) does not match the ticket: {problem}.").format(
                order=run.order_id, source=source, problem=problem))
        _second_yes(run, _("order {order} does not match the ticket ({problem})").format(
                        order=run.order_id, problem=problems[0]),
                    _("that the order number is the one this buyer wants cancelled"),
                    _("Go on with order {order} anyway?").format(order=run.order_id))
    cancels = branch is Branch.CANCEL or (
        branch is Branch.ALREADY_CANCELLED
        and not (found.amazon is not None and found.amazon.is_cancelled))
    if not cancels:
        return
    vouch = vouched(ticket, found.amazon)
    if vouch.ok:
        agent.info(_("Asked by {who}: {why}.").format(who=vouch.who, why=vouch.why))
        return
    if not found.amazon_checked:
        # No SP-API: the Amazon side is done by hand in Seller Central, which shows the
        # buyer's request, and --yes never gets that far (branches.assisted_needs_a_person).
        agent.warn(_("Asked by {who}. Amazon was not asked (no SP-API): in Seller Central, "
                     "make sure the buyer asked to cancel before you do.").format(who=vouch.who))
        return
    agent.alert(_("Asked by {who}: {why}. Amazon does not vouch for this request.").format(
        who=vouch.who, why=vouch.why))
    _second_yes(run, _("the cancellation was asked by {who}: {why}").format(
                    who=vouch.who, why=vouch.why),
                _("that the buyer really asked to cancel (Seller Central, the buyer's messages)"),
                N_("Cancel on this requester's word anyway?"))


def _second_yes(run: Run, reason: str, check: str, question: str) -> None:
    if run.options.dry_run:
        return  # a dry run shows it and changes nothing: no question
    if not run.agent.interactive:
        run.stop_for_person(reason, _("check {what}").format(what=check))
    if not run.agent.confirm(question, automatic=False):
        raise Declined(_("ticket #{id}: {reason}; nothing changed").format(
            id=run.outcome.ticket_id, reason=reason))


def _same_item(named: str, title: str) -> bool:
    """Lenient: a label matches a title when it shares two significant words with it (or all
    of its words, when it has fewer) — notifications shorten titles, buyers abridge them."""
    a, b = _words(named), _words(title)
    if not a or not b:
        return False
    return len(a & b) >= min(2, len(a))


def _words(text: str) -> set[str]:
    bare = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in bare if not unicodedata.combining(c)).casefold()
    return {w for w in _WORD.findall(bare) if len(w) >= 3 and not w.isdigit()}


def _list(names: list[str], limit: int = 3) -> str:
    shown = [f"“{n[:60]}”" for n in names[:limit]]
    more = len(names) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

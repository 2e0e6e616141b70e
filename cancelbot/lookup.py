"""Looking an order up: GSTK ∥ Amazon ∥ the buyer's language, with one set of rules.

Used by the procedure (step 3) and by the shift's read-ahead (prefetch.py), so both ask the
same questions of the same systems. The automated lookups run at once; an assisted one talks
to the agent, so it runs alone, afterwards — and never in the background.

The buyer's language is only needed for a reply: it is asked only when the order's statuses
call for one (decide() says *cannot cancel*). The procedure asks it while the claim is being
confirmed (replies.py); the read-ahead asks it right after the lookups, in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext

from msgspec import Struct, structs

from cancelbot import marketplaces
from cancelbot.decision import AMAZON_NOT_FOUND, Branch, decide
from cancelbot.errors import ServiceError
from cancelbot.i18n import _
from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket
from cancelbot.orders import relay_domain
from cancelbot.outcome import AMAZON_FOUND, AMAZON_NOT_CHECKED
from cancelbot.outcome import AMAZON_NOT_FOUND as NOT_ON_AMAZON
from cancelbot.ports import BackOffice, Marketplace

LocaleAnswer = tuple[str | None, str]  # (buyer locale, note for `why`)


class Lookup(Struct, frozen=True):
    order_id: str
    gstk: BackOfficeOrder | None
    amazon: AmazonOrder | None
    amazon_checked: bool  # False: no SP-API, the agent checks Seller Central
    marketplace_id: str
    # If asked: the answer, or the answer to come (the head start hands the order over first).
    locale: LocaleAnswer | Future[LocaleAnswer] | None = None

    @property
    def amazon_lookup(self) -> str:
        if not self.amazon_checked:
            return AMAZON_NOT_CHECKED
        return AMAZON_FOUND if self.amazon is not None else NOT_ON_AMAZON

    @property
    def amazon_status(self) -> str | None:
        """What decide() takes: fulfillmentStatus, NOT_FOUND, or None when not checked."""
        if self.amazon is not None:
            return self.amazon.fulfillment_status
        return AMAZON_NOT_FOUND if self.amazon_checked else None


def ticket_marketplace(ticket: Ticket | None) -> str | None:
    """The marketplace Amazon's relay address names, if the requester is one."""
    if ticket is None:
        return None
    return marketplaces.marketplace_for_domain(relay_domain(ticket.requester_email) or "")


def look_up(backoffice: BackOffice, marketplace: Marketplace, order_id: str,
            ticket: Ticket | None, *, ask_locale: bool = False, automated_only: bool = False,
            ask_amazon: bool = True,
            busy: Callable[[str], AbstractContextManager[None]] | None = None) -> Lookup:
    """GSTK and Amazon for `order_id` (at once); with `ask_locale`, then the buyer's locale
    when the statuses call for a reply. `automated_only` (the read-ahead) leaves an assisted
    side unread; `ask_amazon` False (the queue's triage: GSTK's status is what orders it)
    leaves Amazon unread too; `busy` shows a spinner over the automated calls (never over an
    assisted question)."""
    relay = ticket_marketplace(ticket)
    ask_amazon = ask_amazon and marketplace.automated
    spinner = busy("Looking the order up in GSTK and on Amazon") if busy else nullcontext()
    with spinner, ThreadPoolExecutor(max_workers=2) as pool:
        gstk_f = pool.submit(backoffice.find_order, order_id) if backoffice.automated else None
        amazon_f = pool.submit(marketplace.get_order, order_id) if ask_amazon else None
        gstk = gstk_f.result() if gstk_f else None
        amazon = amazon_f.result() if amazon_f else None
    if not backoffice.automated and not automated_only:
        gstk = backoffice.find_order(order_id)
    if amazon is not None:
        marketplace_id = amazon.marketplace_id
    else:
        marketplace_id = relay or marketplaces.FRANCE  # our home, when nothing tells otherwise
    found = Lookup(order_id, gstk, amazon, ask_amazon, marketplace_id)
    if ask_locale and reply_due(found):
        found = structs.replace(found, locale=buyer_locale(marketplace, order_id,
                                                       marketplace_id))
    return found


def reply_due(found: Lookup) -> bool:
    """Whether the statuses call for the *cannot cancel* reply (its language is then asked)."""
    return found.amazon_checked and found.gstk is not None and decide(
        found.gstk.status, found.amazon_status).branch is Branch.CANNOT_CANCEL


def buyer_locale(marketplace: Marketplace, order_id: str, marketplace_id: str) -> LocaleAnswer:
    """(locale, note for `why`). A refusal only costs the preference: the marketplace decides."""
    if not marketplace.automated or not marketplace_id:
        return None, ""
    from cancelbot import messages

    messages.load_ahead()  # a reply is due: its renderer loads while Amazon answers
    try:
        return marketplace.buyer_locale(order_id, marketplace_id), ""
    except ServiceError as exc:
        return None, _("; the buyer's language is unavailable ({error})").format(error=exc)

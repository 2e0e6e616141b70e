"""What the written procedure decides from the order's two statuses: a pure function.

    GSTK (the seed's rule)        Amazon (the guard)           → Branch
    awaiting preparation          not shipped, not cancelled   → CANCEL
    in preparation/prepared/
    shipped                       not cancelled                → CANNOT_CANCEL
    cancelled                     not shipped                  → ALREADY_CANCELLED
    anything else, or the two disagree                         → NEEDS_HUMAN

The table is tested case by case in tests/test_decide.py; nothing here reads or writes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from msgspec import Struct

from cancelbot.i18n import N_
from cancelbot.models import OrderStatus


class Branch(str, enum.Enum):
    CANCEL = "cancel"
    CANNOT_CANCEL = "cannot_cancel"
    ALREADY_CANCELLED = "already_cancelled"
    NEEDS_HUMAN = "needs_human"


# What Amazon's fulfillmentStatus tells us, for the decision.
AMAZON_NOT_FOUND = "NOT_FOUND"
_AMAZON_SHIPPED = {"SHIPPED", "PARTIALLY_SHIPPED"}
# Amazon's statuses an order never comes back from to "can still be cancelled": whatever GSTK
# says, the shift's triage does not count such an order cancellable (decide() then asks a person).
AMAZON_PAST_CANCEL = frozenset({*_AMAZON_SHIPPED, "CANCELLED"})


class Decision(Struct, frozen=True):
    branch: Branch
    reason: str  # in English, as JSON and the journal keep it; `in_words()` for a person
    check: str = ""  # for NEEDS_HUMAN: what the agent should look at
    # The texts before their values went in (catalogue ids), and the values, for in_words().
    template: tuple[str, str, tuple[tuple[str, str], ...]] | None = None

    def in_words(self, translate: Callable[[str], str]) -> tuple[str, str]:
        """(reason, check) in a person's language: `translate` is i18n._ for the screen, or
        i18n.note_ for what is written on the ticket."""
        if self.template is None:
            return translate(self.reason), translate(self.check) if self.check else ""
        why, look, params = self.template
        values = {name: translate(value) for name, value in params}
        return (translate(why).format(**values),
                translate(look).format(**values) if look else "")


def _decision(branch: Branch, why: str, look: str = "", **params: str) -> Decision:
    return Decision(branch, why.format(**params), look.format(**params),
                    (why, look, tuple(params.items())))


def _words(status: OrderStatus) -> str:
    return STATUS_WORDS[status]


# How a GSTK status reads on screen (the codes stay in JSON); render.py shows them too.
STATUS_WORDS = {
    OrderStatus.AWAITING_PREPARATION: N_("awaiting preparation"),
    OrderStatus.IN_PREPARATION: N_("in preparation"),
    OrderStatus.PREPARED: N_("prepared"),
    OrderStatus.SHIPPED: N_("shipped"),
    OrderStatus.CANCELLED: N_("cancelled"),
}


def decide(
    gstk: OrderStatus | None, amazon: str | None, *, in_gstk: bool = True
) -> Decision:
    """The seed's rule on GSTK's status, guarded by Amazon's.

    `amazon` is Amazon's fulfillmentStatus, AMAZON_NOT_FOUND, or None when Amazon was not
    checked (no SP-API configured: the agent checks Seller Central during the assisted step).
    """
    amazon = amazon.upper() if amazon else None
    if not in_gstk:
        return _decision(
            Branch.NEEDS_HUMAN,
            N_("the order is not in GSTK"),
            N_("search GSTK by hand (wrong number in the ticket? another channel?)"),
        )
    if gstk is None:
        return _decision(
            Branch.NEEDS_HUMAN,
            N_("GSTK shows a status the procedure does not know"),
            N_("look at the order in GSTK; a team lead can add the label to GSTK_STATUS_MAP"),
        )
    if amazon == AMAZON_NOT_FOUND:
        return _decision(
            Branch.NEEDS_HUMAN,
            N_("GSTK knows the order but Amazon does not"),
            N_("check the order number and the seller account in Seller Central"),
        )
    if gstk is OrderStatus.AWAITING_PREPARATION:
        if amazon in _AMAZON_SHIPPED or amazon == "CANCELLED":
            return _decision(
                Branch.NEEDS_HUMAN,
                N_("GSTK says awaiting preparation but Amazon says {amazon}"),
                N_("compare GSTK and Seller Central before cancelling anything"),
                amazon=amazon,
            )
        return _decision(Branch.CANCEL, N_("awaiting preparation: it can still be cancelled"))
    if gstk in (OrderStatus.IN_PREPARATION, OrderStatus.PREPARED, OrderStatus.SHIPPED):
        if amazon == "CANCELLED":
            return _decision(
                Branch.NEEDS_HUMAN,
                N_("GSTK says {status} but Amazon says CANCELLED"),
                N_("stop the parcel in the warehouse if you still can, then check Seller "
                   "Central"),
                status=_words(gstk),
            )
        return _decision(
            Branch.CANNOT_CANCEL,
            N_("{status}: too late to cancel, the buyer may refuse the parcel"),
            status=_words(gstk),
        )
    # OrderStatus.CANCELLED
    if amazon in _AMAZON_SHIPPED:
        return _decision(
            Branch.NEEDS_HUMAN,
            N_("GSTK says cancelled but Amazon says {amazon}"),
            N_("check whether a parcel left the warehouse"),
            amazon=amazon,
        )
    return _decision(Branch.ALREADY_CANCELLED, N_("already cancelled in GSTK"))

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
from dataclasses import dataclass

from cancelbot.models import OrderStatus


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

"""The decision table: GSTK's status decides, Amazon's guards against cancelling wrongly."""

import pytest

from cancelbot.decision import AMAZON_NOT_FOUND, Branch, decide
from cancelbot.models import OrderStatus as S

CANCEL, CANNOT, ALREADY, HUMAN = (
    Branch.CANCEL, Branch.CANNOT_CANCEL, Branch.ALREADY_CANCELLED, Branch.NEEDS_HUMAN
)

TABLE = [
    # GSTK status             Amazon status        branch
    (S.AWAITING_PREPARATION, "PENDING", CANCEL),
    (S.AWAITING_PREPARATION, "UNSHIPPED", CANCEL),
    (S.AWAITING_PREPARATION, None, CANCEL),  # no SP-API: the agent checks Seller Central
    (S.AWAITING_PREPARATION, "SHIPPED", HUMAN),
    (S.AWAITING_PREPARATION, "PARTIALLY_SHIPPED", HUMAN),
    (S.AWAITING_PREPARATION, "CANCELLED", HUMAN),
    (S.AWAITING_PREPARATION, AMAZON_NOT_FOUND, HUMAN),
    (S.IN_PREPARATION, "UNSHIPPED", CANNOT),
    (S.PREPARED, "UNSHIPPED", CANNOT),
    (S.SHIPPED, "SHIPPED", CANNOT),
    (S.SHIPPED, "unshipped", CANNOT),  # Amazon lags behind the warehouse: normal
    (S.SHIPPED, None, CANNOT),
    (S.IN_PREPARATION, "CANCELLED", HUMAN),
    (S.SHIPPED, "CANCELLED", HUMAN),
    (S.SHIPPED, AMAZON_NOT_FOUND, HUMAN),
    (S.CANCELLED, "CANCELLED", ALREADY),
    (S.CANCELLED, "UNSHIPPED", ALREADY),  # offers the Amazon cancellation
    (S.CANCELLED, None, ALREADY),
    (S.CANCELLED, "SHIPPED", HUMAN),
    (None, "UNSHIPPED", HUMAN),  # a GSTK label the table does not know
]


@pytest.mark.parametrize(("gstk", "amazon", "branch"), TABLE)
def test_decision_table(gstk, amazon, branch):
    decision = decide(gstk, amazon)
    assert decision.branch is branch
    assert decision.reason
    if branch is HUMAN:
        assert decision.check, "a needs-a-human decision must say what to check"


@pytest.mark.parametrize("amazon", ["UNSHIPPED", None, "SHIPPED"])
def test_not_in_gstk_always_needs_a_human(amazon):
    decision = decide(None, amazon, in_gstk=False)
    assert decision.branch is HUMAN
    assert "not in GSTK" in decision.reason


def test_every_status_is_covered():
    covered = {row[0] for row in TABLE}
    assert set(S) <= covered

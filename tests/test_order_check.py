"""Issue 9 §4 and issue 10 §4: the order against what the ticket says, and who may ask.

The rules are in cancelbot/requester.py; the procedure calls them once, before any
confirmation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import ORDER_1001, ORDER_1002, ScriptedAgent, as_found, counts, person_flag, run
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.errors import Declined, NeedsHuman
from cancelbot.lookup import Lookup
from cancelbot.models import AmazonItem, AmazonOrder, Conversation, Ticket
from cancelbot.orders import amazon_sender_domain, relay_domain
from cancelbot.requester import mismatches, named_items, vouched
from cancelbot.sandbox import load
from cancelbot.sandbox.state import StateStore

FR, DE = "A13V1IB3VIYZZH", "A1PA6795UKMFR9"
EVIL = "someone@evil.example"
LOOK_ALIKE_FR = "0fbr9xq2m7k4d5t@marketplace.amazon.fr.evil.example"
LOOK_ALIKE_DE = "k7m2q9xb4vd1r3t@marketplace.amazon.de.evil.example"
BUYER = "0fbr9xq2m7k4d5t@marketplace.amazon.fr"
AVENE = "Avène Cicalfate+ Crème Réparatrice Protectrice 40 ml"


def ticket(email: str = BUYER, body: str = "", *more: str) -> Ticket:
    return Ticket(1, "Annulation", body, 2, email, "Camille", None,
                  tuple(Conversation(n, text, False, True) for n, text in enumerate(more)),
                  conversations_complete=True)


def order(*, marketplace: str = FR, buyer: str = BUYER, requested: bool = False,
          titles: tuple[str, ...] = (AVENE,)) -> AmazonOrder:
    items = tuple(AmazonItem(f"i{n}", title, 1, "BUYER" if requested else "")
                  for n, title in enumerate(titles))
    return AmazonOrder(ORDER_1001, "UNSHIPPED", marketplace, items=items, buyer_email=buyer)


def lookup(amazon: AmazonOrder | None) -> Lookup:
    return Lookup(ORDER_1001, None, amazon, True, amazon.marketplace_id if amazon else FR)


def edit(home: Path, change) -> None:
    with StateStore(home).update() as state:
        change(state)


def requester(home: Path, ticket_id: int, email: str) -> None:
    def change(state):
        ticket = state["freshdesk"]["tickets"][str(ticket_id)]
        state["freshdesk"]["contacts"][str(ticket["requester_id"])]["email"] = email
    edit(home, change)


def no_buyer_request(home: Path, order_id: str) -> None:
    """The order carries no cancellation request from its buyer."""
    def change(state):
        for item in state["amazon"]["orders"][order_id]["order"]["orderItems"]:
            item.pop("cancellation", None)
    edit(home, change)


# -- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "relay", "amazon"), [
    ("abc@marketplace.amazon.fr", "amazon.fr", None),
    ("abc@MARKETPLACE.amazon.co.uk", "amazon.co.uk", None),
    ("abc@marketplace.amazon.fr.evil.example", None, None),
    ("abc@evilmarketplace.amazon.fr", None, None),
    ("abc@marketplace.amazon.zz", None, None),
    ("abc@marketplace.www.amazon.fr", None, None),
    ("donotreply@amazon.com", None, "amazon.com"),
    ("donotreply@amazon.fr.evil.example", None, None),
    ("donotreply@notamazon.fr", None, None),
    ("x@amazon.fr@evil.example", None, None),
])
def test_amazon_addresses_match_exactly(email, relay, amazon):
    assert relay_domain(email) == relay
    assert amazon_sender_domain(email) == amazon


@pytest.mark.parametrize(("email", "amazon", "ok", "why"), [
    ("someone@evil.example", order(requested=True), True, "buyer's own cancellation request"),
    ("donotreply@amazon.fr", order(), True, "Amazon's own notification"),
    (BUYER, order(), True, "the order's buyer, through Amazon's relay"),
    (BUYER.upper(), order(), True, "the order's buyer, through Amazon's relay"),
    ("other@marketplace.amazon.fr", order(), False, "not this order's buyer"),
    (BUYER, order(buyer=""), False, "does not give the order's buyer address"),
    (BUYER, None, False, "Amazon was not asked"),
    ("someone@evil.example", order(), False, "neither Amazon nor the order's buyer"),
    ("0fbr9xq2m7k4d5t@marketplace.amazon.fr.evil.example", order(), False, "neither Amazon"),
])
def test_who_may_ask(email, amazon, ok, why):
    vouch = vouched(ticket(email), amazon)
    assert vouch.ok is ok and why in vouch.why
    assert email in vouch.who


def test_mismatches_name_marketplace_buyer_and_items():
    assert mismatches(ticket(body=f"Article : {AVENE} (quantité : 2)"), lookup(order())) == []
    found = mismatches(ticket("x@marketplace.amazon.de", "Item: Nuxe Huile Prodigieuse 100 ml"),
                       lookup(order()))
    assert found[0] == "the ticket came through Amazon's amazon.de relay, the order is on " \
        "amazon.fr"
    assert "is not this order's buyer" in found[1]
    assert found[2].startswith("the ticket names “Nuxe Huile Prodigieuse 100 ml”; the order "
                               "has “Avène")
    # A ticket that names no item, or an order Amazon did not give: nothing to compare.
    assert mismatches(ticket(body="Annulez svp"), lookup(order())) == []
    assert mismatches(ticket(body="Item: Nuxe"), lookup(None)) == []


def test_named_items_come_from_every_text_of_the_ticket():
    t = ticket(BUYER, "Artikel: Caudalie Eau de Raisin 200 ml", "Articolo:\u00a0Nuxe (x2)")
    assert named_items(t) == ["Caudalie Eau de Raisin 200 ml", "Nuxe"]


# -- in the procedure ----------------------------------------------------------------------------


def test_a_typed_order_of_another_buyer_is_shown_in_red_and_needs_a_second_yes(home: Path):
    """Ticket 1005 is from Martine (no order number in it); the agent types Camille's order."""
    before = load(home)
    agent = ScriptedAgent(answers=[ORDER_1001, False])
    with pytest.raises(Declined, match="does not match the ticket"):
        run(home, 1005, agent)
    assert agent.asked == ["Amazon order number", f"Go on with order {ORDER_1001} anyway?"]
    (alert,) = agent.alerts
    assert f"Order {ORDER_1001} (typed by hand) does not match the ticket: the ticket's " \
        "sender <p2w7k4xz9qm1c5n@marketplace.amazon.fr> is not this order's buyer" in alert
    assert as_found(load(home)) == as_found(before), "a claim posted ahead was taken back"

    agent = ScriptedAgent(answers=[ORDER_1001, True, False])
    with pytest.raises(Declined):
        run(home, 1005, agent)
    assert agent.asked[1:] == [f"Go on with order {ORDER_1001} anyway?",
                               "Cancel this order in GSTK and on Amazon, and close the ticket?"]


def test_with_yes_an_order_of_another_buyer_stops_with_4(home: Path):
    """The ticket names the order, and Amazon records a buyer cancel request — but Amazon says
    the buyer is someone else than the ticket's sender: --yes does not cancel."""
    with StateStore(home).update() as state:
        state["amazon"]["orders"][ORDER_1001]["order"]["buyer"]["buyerEmail"] = \
            "zz9@marketplace.amazon.fr"
    with pytest.raises(NeedsHuman, match="does not match the ticket") as info:
        run(home, 1001, ScriptedAgent(yes=True))
    assert info.value.exit_code == 4
    c = counts(home, 1001, ORDER_1001, [])
    assert (c.gstk_cancels, c.amazon_status, c.status) == (0, "UNSHIPPED", 2)
    notes, tagged = person_flag(home, 1001)
    assert len(notes) == 1 and "is not this order's buyer" in notes[0] and tagged


# -- who may ask, end to end ------------------------------------------------------------------


def cli(*args: str, input: str = ""):
    return CliRunner().invoke(app, [*args, "--sandbox"], input=input)


@pytest.mark.parametrize("email", [EVIL, LOOK_ALIKE_FR])
def test_a_strangers_request_is_never_cancelled_with_yes(home: Path, email: str) -> None:
    requester(home, 1001, email)
    no_buyer_request(home, ORDER_1001)
    for command in (["process", "1001", "--yes"], ["queue", "--yes"]):
        result = cli(*command)
        assert result.exit_code == 4, result.output
        said = " ".join(result.output.split())
        assert email in said and "Amazon does not vouch for this request" in said
    c = counts(home, 1001, ORDER_1001, [])
    assert (c.gstk_cancels, c.amazon_status, c.replies, c.status) == (0, "UNSHIPPED", 0, 2)
    notes, tagged = person_flag(home, 1001)
    assert len(notes) == 1 and email in notes[0] and tagged


def test_a_strangers_request_needs_an_explicit_yes_and_says_why(home: Path) -> None:
    requester(home, 1001, EVIL)
    no_buyer_request(home, ORDER_1001)
    before = load(home)
    agent = ScriptedAgent(answers=[False])
    with pytest.raises(Declined):
        run(home, 1001, agent)
    assert agent.asked == ["Cancel on this requester's word anyway?"]
    assert any(EVIL in a and "neither Amazon nor the order's buyer" in a for a in agent.alerts)
    assert as_found(load(home)) == as_found(before), "a declined run changes nothing"

    agent = ScriptedAgent(answers=[True, True])  # the person vouches, then confirms
    assert run(home, 1001, agent).branch == "cancel"
    assert counts(home, 1001, ORDER_1001, []).gstk_cancels == 1


def test_the_buyer_through_amazons_relay_may_ask(home: Path) -> None:
    no_buyer_request(home, ORDER_1001)  # only the relay address vouches now
    agent = ScriptedAgent(yes=True)
    outcome = run(home, 1001, agent)
    assert outcome.branch == "cancel" and outcome.exit_code == 0
    assert any("the order's buyer, through Amazon's relay" in line for line in agent.lines)


def test_a_look_alike_relay_gets_no_reply(home: Path) -> None:
    requester(home, 1002, LOOK_ALIKE_DE)
    result = cli("process", "1002", "--yes")
    assert result.exit_code == 4, result.output
    c = counts(home, 1002, ORDER_1002, [])
    assert (c.replies, c.status) == (0, 2)

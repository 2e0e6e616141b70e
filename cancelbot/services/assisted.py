"""The assisted form of the GSTK and Amazon steps: the agent does them by hand, guided.

Used when GSTK_URL or the SP-API credentials are not configured. They implement the same
interfaces as the automated clients, so the procedure runs unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from cancelbot import marketplaces
from cancelbot.errors import Declined, OrderMovedOn
from cancelbot.models import AmazonOrder, BackOfficeOrder, OrderStatus

if TYPE_CHECKING:
    from cancelbot.ports import Agent

STATUS_CHOICES = [
    ("En attente de préparation", OrderStatus.AWAITING_PREPARATION),
    ("En cours de préparation", OrderStatus.IN_PREPARATION),
    ("Préparée", OrderStatus.PREPARED),
    ("Expédiée", OrderStatus.SHIPPED),
    ("Annulée", OrderStatus.CANCELLED),
]
NOT_IN_GSTK = "Not found in GSTK"


class AssistedBackOffice:
    automated = False

    def __init__(self, agent: Agent, order_link: str = "") -> None:
        self.agent = agent
        self.order_link = order_link

    def _link(self, order_id: str) -> str:
        # Without an API we only know the Amazon number; GSTK searches by it.
        # replace, not str.format: another brace in the link must not break it.
        if not self.order_link:
            return ""
        return self.order_link.replace("{order_id}", quote(order_id, safe=""))

    def find_order(self, marketplace_order_id: str) -> BackOfficeOrder | None:
        link = self._link(marketplace_order_id)
        where = f" ({link})" if link else ""
        self.agent.info(f"GSTK is not connected: look up {marketplace_order_id} in GSTK{where}.")
        options = [label for label, _ in STATUS_CHOICES] + [NOT_IN_GSTK]
        index = self.agent.choose("What is the order's status in GSTK?", options)
        if index == len(STATUS_CHOICES):
            return None
        label, status = STATUS_CHOICES[index]
        return BackOfficeOrder(
            id=marketplace_order_id,
            marketplace_order_id=marketplace_order_id,
            label=label,
            status=status,
            url=link,
        )

    def cancel(self, order: BackOfficeOrder, comment: str) -> BackOfficeOrder:
        where = f" ({order.url})" if order.url else ""
        self.agent.info(f"Cancel order {order.id} in GSTK now{where} — comment: {comment}")
        index = self.agent.choose(
            "Did GSTK cancel it?",
            ["Yes, it is cancelled in GSTK", "No: GSTK says it is already being prepared",
             "Stop here"],
        )
        if index == 1:
            raise OrderMovedOn("En cours de préparation")
        if index == 2:
            raise Declined("stopped before cancelling in GSTK: nothing changed")
        return BackOfficeOrder(order.id, order.marketplace_order_id, "Annulée",
                               OrderStatus.CANCELLED, url=order.url)


class AssistedMarketplace:
    automated = False

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def get_order(self, order_id: str) -> AmazonOrder | None:
        # Nothing to read without SP-API; the agent checks Seller Central at the cancel step.
        return None

    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        return None  # without SP-API the marketplace decides the language


def cancel_in_seller_central(agent: Agent, order_id: str, marketplace_id: str) -> str:
    """The Amazon cancellation without SP-API: the agent does it, and says so."""
    url = marketplaces.seller_central_order_url(order_id, marketplace_id)
    agent.info(
        f"SP-API is not connected: in Seller Central ({url}) cancel order {order_id}, "
        "every item, reason \"Buyer canceled\"."
    )
    if not agent.confirm("Have you cancelled it in Seller Central?"):
        raise Declined(f"Amazon cancellation not confirmed for {order_id}")
    return ""

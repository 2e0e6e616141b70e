"""One module per external system, each behind a small interface the procedure depends on.

The procedure only sees these three protocols. Each has an automated implementation speaking the
real wire format (freshdesk.py, gstk.py, amazon.py) and, for GSTK and Amazon, an assisted one
(assisted.py) that asks the agent to do the step by hand when no API is configured.
"""

from __future__ import annotations

from typing import Protocol

from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket


class Helpdesk(Protocol):
    def get_ticket(self, ticket_id: int) -> Ticket: ...
    def set_status(self, ticket_id: int, status: int) -> None: ...
    def assign(self, ticket_id: int, agent_id: int | None) -> None: ...
    def add_private_note(self, ticket_id: int, html: str) -> int: ...
    def update_note(self, conversation_id: int, html: str) -> None: ...
    def delete_note(self, conversation_id: int) -> None: ...
    def reply(self, ticket_id: int, html: str) -> int: ...
    def ticket_url(self, ticket_id: int) -> str: ...


class BackOffice(Protocol):
    automated: bool

    def find_order(self, marketplace_order_id: str) -> BackOfficeOrder | None: ...
    def cancel(self, order: BackOfficeOrder, comment: str) -> BackOfficeOrder:
        """Cancel; raises errors.OrderMovedOn when the order can no longer be cancelled."""
        ...


class Marketplace(Protocol):
    automated: bool

    def get_order(self, order_id: str) -> AmazonOrder | None: ...
    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        """The buyer's preferred locale ("de-DE"), or None when unknown."""
        ...
    def cancel(self, order: AmazonOrder) -> str:
        """Cancel every item with reason BuyerCanceled; returns a reference (the feedId)."""
        ...

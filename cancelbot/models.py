"""The plain data the procedure works on. Clients build these from their wire formats."""

from __future__ import annotations

import enum
from datetime import datetime

from msgspec import Struct


class OrderStatus(str, enum.Enum):
    """The procedure's statuses, whatever label the back office uses for them."""

    AWAITING_PREPARATION = "awaiting_preparation"
    IN_PREPARATION = "in_preparation"
    PREPARED = "prepared"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class TicketStatus(enum.IntEnum):
    """Freshdesk's ticket status codes."""

    OPEN = 2
    PENDING = 3
    RESOLVED = 4
    CLOSED = 5


class Conversation(Struct, frozen=True):
    id: int
    body_text: str
    private: bool
    incoming: bool
    created_at: datetime | None = None
    author: str = ""  # who wrote it, as Freshdesk says: an address, or "agent 4800…"


class Ticket(Struct, frozen=True):
    id: int
    subject: str
    body_text: str
    status: int
    requester_email: str
    requester_name: str
    created_at: datetime | None
    conversations: tuple[Conversation, ...] = ()
    responder_id: int | None = None
    url: str = ""
    tags: tuple[str, ...] = ()
    # True when `conversations` is the whole thread (Freshdesk's include=conversations alone
    # gives the first ten): the checks of what happened on a ticket refuse anything less.
    conversations_complete: bool = False

    @property
    def is_closed(self) -> bool:
        return self.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)

    def texts(self) -> list[str]:
        """Subject, body, then each conversation: where an order number may be written."""
        return [self.subject, self.body_text, *(c.body_text for c in self.conversations)]


class BackOfficeOrder(Struct, frozen=True):
    """An order as GSTK (or another back office) knows it."""

    id: str
    marketplace_order_id: str
    label: str  # the back office's own words for the status, shown to the agent
    status: OrderStatus | None  # None: a label the status table does not know
    updated_at: str = ""
    url: str = ""


class AmazonItem(Struct, frozen=True):
    order_item_id: str
    title: str = ""
    quantity: int = 0
    cancel_requested_by: str = ""  # "BUYER" when the buyer asked Amazon to cancel
    cancel_request_reason: str = ""
    cancelled_by: str = ""


class AmazonOrder(Struct, frozen=True):
    order_id: str
    fulfillment_status: str  # PENDING, UNSHIPPED, SHIPPED, CANCELLED…
    marketplace_id: str
    marketplace_name: str = ""
    items: tuple[AmazonItem, ...] = ()
    buyer_name: str = ""
    buyer_email: str = ""  # the buyer's relay address, when Amazon gives it (includedData BUYER)
    last_updated: str = ""  # lastUpdatedTime (ISO 8601): a buyer's request updates the order

    @property
    def buyer_requested_cancel(self) -> bool:
        return any(i.cancel_requested_by.upper() == "BUYER" for i in self.items)

    @property
    def is_cancelled(self) -> bool:
        return self.fulfillment_status.upper() == "CANCELLED"


class OrderSearchPage(Struct, frozen=True):
    """One page of SP-API searchOrders: the orders, and how to go on."""

    orders: tuple[AmazonOrder, ...]
    next_token: str | None  # None: the last page
    last_updated_before: str  # the page covers updates until then ("" when Amazon omits it)


class FoundTicket(Struct, frozen=True):
    """A ticket as Freshdesk's search returns it: no body, no conversations, no requester email."""

    id: int
    subject: str
    status: int
    created_at: datetime | None
    requester_id: int | None = None
    responder_id: int | None = None
    tags: tuple[str, ...] = ()
    url: str = ""


class SearchPage(Struct, frozen=True):
    """One page of a Freshdesk search: `total` counts every match, not only this page's."""

    total: int
    tickets: tuple[FoundTicket, ...]

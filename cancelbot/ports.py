"""What the procedure talks to: the person at the keyboard and the three systems.

    Agent        the person: shows, asks, confirms (ui.TerminalAgent; tests/fakes.ScriptedAgent)
    Helpdesk     Freshdesk (services/freshdesk.py)
    BackOffice   GSTK (services/gstk.py), or its assisted form (services/assisted.py)
    Marketplace  Amazon's orders (services/amazon.py), or its assisted form
    Feeds        Amazon's cancellation feeds (services/amazon.py): only when SP-API is set up

The procedure, the claim and the feeds depend on these protocols only; `Services` bundles one
implementation of each for a run, and `Options` is what the command line decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from msgspec import Struct

from cancelbot.decision import Decision
from cancelbot.models import AmazonOrder, BackOfficeOrder, Conversation, Ticket

T = TypeVar("T")
DEFAULT_CLAIM_LEASE = 30.0  # minutes after which another run's unfinished claim is stale


class Agent(Protocol):
    """The person at the keyboard, as the procedure sees them."""

    interactive: bool  # False with --yes: choices and typed answers become NEEDS_HUMAN

    def step(self, number: int, total: int, title: str) -> None: ...
    def show_ticket(self, ticket: Ticket) -> None: ...
    def show_order(
        self, order_id: str, gstk: BackOfficeOrder | None, amazon: AmazonOrder | None,
        marketplace: str, *, amazon_checked: bool = True,
    ) -> None: ...
    def show_decision(self, decision: Decision) -> None: ...
    def show_plan(self, lines: Sequence[str]) -> None: ...
    def show_message(
        self, text: str, language: str, why: str, channel: str, *, copy_to: str = ""
    ) -> None:
        """A reply to the buyer. `copy_to`: where the agent pastes it (Seller Central's
        contact page), "" when cancelbot sends it itself."""
        ...
    def review_message(
        self, question: str, text: str, language: str, why: str, channel: str, *,
        copy_to: str = "", languages: Sequence[str] = (), shown: bool = True,
    ) -> tuple[str, str]:
        """`question` about a reply (shown first unless `shown`): ("send", text), ("edit", new
        text), ("language", code) or ("cancel", "")."""
        ...
    def info(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def alert(self, text: str) -> None:
        """Something the agent must not miss before answering (shown in red)."""
        ...
    def confirm(self, question: str, *, automatic: bool = True) -> bool:
        """Default No. With --yes, True unless `automatic` is False (then NeedsHuman)."""
        ...
    def choose(self, question: str, options: Sequence[str]) -> int: ...
    def ask(self, question: str, parse: Callable[[str], T]) -> T: ...
    def busy(self, label: str) -> AbstractContextManager[None]: ...


class Helpdesk(Protocol):
    def get_ticket(self, ticket_id: int) -> Ticket:
        """The ticket with its whole thread (`conversations_complete`)."""
        ...
    def conversations(self, ticket_id: int) -> tuple[Conversation, ...]: ...
    def add_tag(self, ticket_id: int, tag: str) -> None: ...
    def remove_tag(self, ticket_id: int, tag: str) -> None: ...
    def set_status(self, ticket_id: int, status: int, *,
                   assign_to: int | None = None) -> None: ...
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
    """Amazon as the procedure reads it: the order, and the buyer's language."""

    automated: bool

    def get_order(self, order_id: str) -> AmazonOrder | None: ...
    def buyer_locale(self, order_id: str, marketplace_id: str) -> str | None:
        """The buyer's preferred locale ("de-DE"), or None when unknown."""
        ...


class Feeds(Protocol):
    """Amazon's Feeds API as cancellations use it (feeds.py); SP-API configured only."""

    def get_order(self, order_id: str) -> AmazonOrder | None: ...
    def upload_cancellations(self, orders: Sequence[AmazonOrder]) -> str: ...
    def create_feed(self, document_id: str, marketplace_ids: Sequence[str], label: str) -> str: ...
    def get_feed(self, feed_id: str) -> dict[str, Any]: ...
    def get_feed_result(self, document_id: str) -> str: ...
    def list_feeds(self, created_since: str) -> list[dict[str, Any]]: ...


class Services(Struct):
    helpdesk: Helpdesk
    backoffice: BackOffice
    marketplace: Marketplace
    feeds: Feeds | None = None  # None: Amazon cancellations are done by hand (assisted)


class Options(Struct, frozen=True):
    dry_run: bool = False
    language: str | None = None
    templates: Path | None = None
    agent_name: str = ""
    agent_id: int | None = None  # FRESHDESK_AGENT_ID: the run claims the ticket for this agent
    rerun: str = ""  # the command that resumes this run (default: cancelbot process ID)
    claim_lease: float = DEFAULT_CLAIM_LEASE  # minutes (CANCELBOT_CLAIM_LEASE)

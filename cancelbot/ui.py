"""Every screen of cancelbot: the Rich terminal agent and the rendering of results.

Text that comes from outside (ticket subjects and bodies, order titles, GSTK labels) is only
ever put in `rich.text.Text` objects or escaped, never interpreted as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cancelbot.errors import Declined, NeedsHuman, UsageError
from cancelbot.models import AmazonOrder, BackOfficeOrder, Outcome, Ticket, TicketStatus

T = TypeVar("T")
YES = {"y", "yes", "o", "oui", "j", "ja"}
BODY_LINES = 12
LANGUAGE_NAMES = {"fr": "French", "de": "German", "en": "English"}


class TerminalAgent:
    """The procedure's `Agent` on a terminal. With `assume_yes`, confirmations of changes are
    answered Yes; anything that needs a choice or typing becomes NeedsHuman."""

    def __init__(self, console: Console, *, assume_yes: bool = False) -> None:
        self.console = console
        self.assume_yes = assume_yes
        self.interactive = not assume_yes

    # -- showing -------------------------------------------------------------------------------

    def step(self, number: int, total: int, title: str) -> None:
        self.console.print()
        self.console.print(Text(f"Step {number}/{total} · {title}", style="bold cyan"))

    def show_ticket(self, ticket: Ticket) -> None:
        status = _ticket_status(ticket.status)
        head = Text()
        head.append(ticket.subject or "(no subject)", style="bold")
        head.append("\nFrom: ")
        head.append(f"{ticket.requester_name} <{ticket.requester_email}>".strip())
        head.append(f"\nStatus: {status} · received {_age(ticket.created_at)}")
        lines = ticket.body_text.strip().splitlines()
        body = "\n".join(lines[:BODY_LINES])
        if len(lines) > BODY_LINES:
            more = len(lines) - BODY_LINES
            body += f"\n… ({more} more line{'s' if more > 1 else ''})"
        content = Text.assemble(head, "\n\n", Text(body or "(empty body)"))
        if ticket.conversations:
            content.append(f"\n\n{len(ticket.conversations)} conversation(s) on the ticket",
                           style="dim")
        self.console.print(Panel(content, title=f"Ticket #{ticket.id}", title_align="left"))

    def show_order(
        self,
        order_id: str,
        gstk: BackOfficeOrder | None,
        amazon: AmazonOrder | None,
        marketplace: str,
    ) -> None:
        table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("Amazon order", Text(order_id))
        if gstk is None:
            table.add_row("GSTK", Text("not found", style="red"))
        else:
            known = gstk.status.value.replace("_", " ") if gstk.status else "UNKNOWN STATUS"
            table.add_row("GSTK", Text(f"{gstk.label} ({known}) · {gstk.id}"))
        if amazon is None:
            table.add_row("Amazon", Text("not checked (no SP-API)", style="dim"))
        else:
            table.add_row("Amazon", Text(amazon.fulfillment_status or "?"))
            items = ", ".join(
                f"{i.quantity}× {i.title or i.order_item_id}" for i in amazon.items
            )
            table.add_row("Items", Text(f"{len(amazon.items)}: {items}"))
            asked = "yes — the buyer asked Amazon" if amazon.buyer_requested_cancel else "no"
            table.add_row("Buyer cancel request", Text(asked))
        table.add_row("Marketplace", Text(marketplace))
        self.console.print(table)

    def show_decision(self, decision) -> None:
        style = {"cancel": "green", "cannot_cancel": "yellow", "already_cancelled": "green",
                 "needs_human": "bold red"}[decision.branch.value]
        label = decision.branch.value.replace("_", " ").upper()
        self.console.print(Text.assemble((label, style), " — ", decision.reason))

    def show_plan(self, lines: Sequence[str]) -> None:
        self.console.print(Text("Will do:", style="bold"))
        for n, line in enumerate(lines, 1):
            self.console.print(Text(f"  {n}. {line}"))

    def show_message(
        self, text: str, language: str, why: str, channel: str, *, copyable: bool = False
    ) -> None:
        name = LANGUAGE_NAMES.get(language, language)
        self.console.print(Text.assemble(
            ("Reply in ", "bold"), (name, "bold"), f" ({why}) · via {channel}"
        ))
        # Plain text, no box around it. When the agent must copy it into Seller Central, the
        # lines are left for the terminal to wrap so a copy keeps whole paragraphs.
        self.console.rule(style="dim")
        self.console.print(Text(text), soft_wrap=copyable)
        self.console.rule(style="dim")

    def info(self, text: str) -> None:
        self.console.print(Text(text))

    def warn(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    @contextmanager
    def busy(self, label: str) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with self.console.status(escape(label) + "…"):
            yield

    # -- asking --------------------------------------------------------------------------------

    def _input(self, prompt: str) -> str | None:
        try:
            return self.console.input(Text(prompt, style="bold"))
        except EOFError:
            self.console.print()
            return None  # end of input counts as No / stop

    def confirm(self, question: str, *, automatic: bool = True) -> bool:
        if self.assume_yes:
            if not automatic:
                raise NeedsHuman(f"{question} — this needs a person; run without --yes")
            self.console.print(Text(f"{question} yes (--yes)"))
            return True
        answer = self._input(f"{question} [y/N] ")
        return answer is not None and answer.strip().lower() in YES

    def choose(self, question: str, options: Sequence[str]) -> int:
        if not self.interactive:
            raise NeedsHuman(f"{question} — this needs a person; run without --yes")
        self.console.print(Text(question, style="bold"))
        for n, option in enumerate(options, 1):
            self.console.print(Text(f"  {n}. {option}"))
        while True:
            answer = self._input(f"Choose 1-{len(options)} (empty to stop): ")
            if answer is None or not answer.strip():
                raise Declined("stopped at a choice: nothing changed")
            if answer.strip().isdigit() and 1 <= int(answer) <= len(options):
                return int(answer) - 1
            self.warn(f"Type a number from 1 to {len(options)}.")

    def ask(self, question: str, parse: Callable[[str], T]) -> T:
        if not self.interactive:
            raise NeedsHuman(f"{question} — this needs a person; run without --yes")
        while True:
            answer = self._input(f"{question} (empty to stop): ")
            if answer is None or not answer.strip():
                raise Declined("stopped: no order number given, nothing changed")
            try:
                return parse(answer)
            except UsageError as exc:
                self.warn(str(exc))


def render_outcome(console: Console, outcome: Outcome) -> None:
    """The summary: what was done on which system, and the links."""
    console.print()
    title = "Dry run — nothing changed" if outcome.dry_run else "Summary"
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Ticket", Text(f"#{outcome.ticket_id}"))
    if outcome.order_id:
        table.add_row("Order", Text(outcome.order_id))
    if outcome.branch:
        table.add_row("Decision", Text(f"{outcome.branch.replace('_', ' ')} — {outcome.reason}"))
    if outcome.language:
        table.add_row("Language", Text(outcome.language))
    if outcome.actions:
        for action in outcome.actions:
            ref = f" [{action.ref}]" if action.ref and action.ref not in action.what else ""
            table.add_row(action.system, Text(f"{action.what}{ref}"))
    elif outcome.dry_run and outcome.planned:
        for line in outcome.planned:
            table.add_row("Would", Text(line))
    else:
        table.add_row("Changes", Text("none"))
    for name, url in (
        ("Ticket link", outcome.links.ticket),
        ("GSTK order", outcome.links.gstk_order),
        ("Seller Central", outcome.links.seller_central_order),
    ):
        if url:
            table.add_row(name, Text(url, style=f"link {url}"))
    console.print(Panel(table, title=title, title_align="left"))


def _ticket_status(code: int) -> str:
    try:
        return TicketStatus(code).name.lower()
    except ValueError:
        return f"status {code}"


def _age(created: datetime | None) -> str:
    if created is None:
        return "at an unknown time"
    seconds = (datetime.now(timezone.utc) - created).total_seconds()
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"

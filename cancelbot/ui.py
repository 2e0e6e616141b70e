"""The interactive screens: the procedure's Agent and the shift's screen, on a Rich terminal.

Results (a run's Outcome, the queue, the history…) are rendered by render.py. Text that comes
from outside (ticket subjects and bodies, order titles, GSTK labels) is only ever put in
`rich.text.Text` objects or escaped, never interpreted as markup.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cancelbot.errors import Declined, NeedsHuman, UsageError
from cancelbot.languages import LANGUAGE_NAMES
from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket, TicketStatus
from cancelbot.render import (
    duration,
    gstk_cell,
    linkified,
    render_outcome,
    render_queue,
    time_left,
)

if TYPE_CHECKING:
    from cancelbot.decision import Decision
    from cancelbot.outcome import Outcome

T = TypeVar("T")
YES = {"y", "yes", "o", "oui", "j", "ja"}
BODY_LINES = 12


class TerminalAgent:
    """The procedure's `Agent` on a terminal. With `assume_yes`, confirmations of changes are
    answered Yes; anything that needs a choice or typing becomes NeedsHuman."""

    def __init__(self, console: Console, *, assume_yes: bool = False) -> None:
        self.console = console
        self.assume_yes = assume_yes
        self.interactive = not assume_yes
        self._busy: tuple[object, str] | None = None  # the spinner on screen, and its label
        self._waiting = 0.0  # seconds left of the retry wait being shown

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
        *,
        amazon_checked: bool = True,
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
        if amazon is None and amazon_checked:
            table.add_row("Amazon", Text("not found on Amazon", style="red"))
        elif amazon is None:
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

    def show_decision(self, decision: Decision) -> None:
        style = {"cancel": "green", "cannot_cancel": "yellow", "already_cancelled": "green",
                 "needs_human": "bold red"}[decision.branch.value]
        label = decision.branch.value.replace("_", " ").upper()
        self.console.print(Text.assemble((label, style), " — ", decision.reason))

    def show_plan(self, lines: Sequence[str]) -> None:
        self.console.print(Text("Will do:", style="bold"))
        # A grid keeps a wrapped line under its text, not under its number (80 columns).
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", width=4)
        grid.add_column()
        for n, line in enumerate(lines, 1):
            grid.add_row(f"{n}.", linkified(line))
        self.console.print(grid)

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
        self.console.print(linkified(text))

    def warn(self, text: str) -> None:
        self.console.print(linkified(text, style="yellow"))

    @contextmanager
    def busy(self, label: str) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with self.console.status(escape(label) + "…") as status:
            self._busy = (status, label)
            try:
                yield
            finally:
                self._busy = None

    def waiting(self, seconds: float, reason: str) -> None:
        """RetryPolicy's `on_wait`: a countdown in the spinner (a line once, without one)."""
        shown = math.ceil(seconds)
        if self._busy is not None:
            status, label = self._busy
            text = f"{label} — {reason}, trying again in {shown} s" if seconds > 0 else label
            status.update(escape(text) + "…")  # type: ignore[attr-defined]
        elif seconds > self._waiting:  # a new wait begins
            self.console.print(Text(f"{reason}: trying again in {shown} s…", style="yellow"))
        self._waiting = seconds

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

    def review_message(
        self,
        question: str,
        text: str,
        language: str,
        why: str,
        channel: str,
        *,
        copyable: bool = False,
        languages: Sequence[str] = (),
        shown: bool = True,
    ) -> tuple[str, str]:
        """The question that sends a reply, with the review choices: y send, e edit in
        $EDITOR, l another language, n (or nothing) cancel. Returns (action, value): "edit"
        with the edited text, "language" with the chosen code; the caller asks again."""
        if not shown:
            self.show_message(text, language, why, channel, copyable=copyable)
        others = [code for code in languages if code != language]
        keys = "[y]es · [e]dit" + (" · [l]anguage" if others else "") + " · [N]o"
        while True:
            answer = self._input(f"{question} {keys} ")
            key = (answer or "").strip().lower()[:1]
            if key in YES or key == "s":
                return "send", text
            if not key or key in ("n", "c"):
                return "cancel", ""
            if key == "e":
                edited = self._edit(text)
                if edited is not None:
                    return "edit", edited
            elif key == "l" and others:
                names = [f"{LANGUAGE_NAMES.get(c, c)} ({c})" for c in others]
                try:
                    return "language", others[self.choose("Reply in which language?", names)]
                except Declined:
                    continue  # no choice made: back to the question
            else:
                self.warn("Type y to send, e to edit" + (", l for another language" if others
                          else "") + ", n to cancel.")

    def _edit(self, text: str) -> str | None:
        """The text after the agent's $EDITOR (VISUAL, EDITOR, else the system's); None if
        nothing was saved or no editor could start."""
        edited, problem = edit_in_editor(text)
        if problem:
            self.warn(f"No editor could start ({problem}): set EDITOR, e.g. EDITOR=nano. "
                      "The message is unchanged.")
        elif edited is None:
            self.info("Nothing saved: the message is unchanged.")
        return edited


def edit_in_editor(text: str) -> tuple[str | None, str]:
    """Open `text` in the agent's editor; (new text or None if unsaved, problem or "").

    Typer no longer ships click.edit, so this is the few lines it was: a temporary file,
    $VISUAL or $EDITOR (else notepad on Windows, nano or vi elsewhere), then read it back.
    """
    import os
    import shlex
    import shutil
    import subprocess
    import tempfile

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        fallbacks = ("notepad",) if os.name == "nt" else ("nano", "vi")
        command = next((name for name in fallbacks if shutil.which(name)), "")
    if not command:
        return None, "no editor found"
    handle, name = tempfile.mkstemp(suffix=".txt", prefix="cancelbot-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text + "\n")
        before = os.stat(name).st_mtime_ns
        try:
            status = subprocess.call([*shlex.split(command, posix=os.name != "nt"), name])
        except OSError as exc:
            return None, f"{command}: {exc.strerror or exc}"
        if status != 0:
            return None, f"{command} exited with status {status}"
        if os.stat(name).st_mtime_ns == before:
            return None, ""
        with open(name, encoding="utf-8") as file:
            return file.read().rstrip("\n"), ""
    finally:
        os.unlink(name)


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


class TerminalShift:
    """The shift's screens between entries (queue.ShiftScreen, and queue.WatchScreen for
    --watch): the queue, each entry's card, process / skip / quit, one line per entry done;
    while watching, what arrives, the bell, and the **q** that ends the shift. The
    procedure's own screens are the TerminalAgent's."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._keys = _Keys()

    def show_queue(self, queue) -> None:
        render_queue(self.console, queue)

    def show_card(self, number: int, count: int, entry, ticket: Ticket | None,
                  now: datetime) -> None:
        age = entry.age(now)
        left = time_left(entry, now)
        what = f"Ticket #{entry.id}" if entry.ticket is not None \
            else f"Amazon request · order {entry.order_id}"
        head = Text.assemble((f"{number}/{count} · {what}", "bold"))
        if age is not None:
            head.append(f" · received {duration(age)} ago · ")
            head.append_text(left)
            if not left.plain.startswith("late"):
                head.append(" left")
        self.console.print()
        self.console.rule(head, align="left", style="cyan")
        self.console.print(Text(entry.subject or "(no subject)", style="bold"))
        if ticket is not None:
            self.console.print(Text(f"From: {ticket.requester_name} <{ticket.requester_email}>",
                                    style="dim"), no_wrap=True, overflow="ellipsis")
        if entry.triage is not None:
            line = Text("GSTK: ", style="dim")
            line.append_text(gstk_cell(entry))
            line.append(f" · {entry.standing}", style="green" if entry.cancellable else "dim")
            self.console.print(line)

    def next_action(self) -> str:
        while True:
            try:
                answer = self.console.input(Text("[p]rocess · [s]kip · [q]uit: ", style="bold"))
            except EOFError:
                self.console.print()
                return "quit"
            key = answer.strip().lower()[:1]
            if key in ("", "p"):
                return "process"
            if key == "s":
                return "skip"
            if key == "q":
                return "quit"
            self.console.print(Text("Type p (or Enter) to process, s to skip, q to quit.",
                                    style="yellow"))

    def skipped(self, entry, reason: str) -> None:
        self.console.print(Text(f"{entry.label} skipped: {reason}", style="dim"))

    def show_result(self, result, outcome: Outcome | None) -> None:
        if outcome is not None and outcome.error is None:
            render_outcome(self.console, outcome)
            return
        style = {"needs_human": "yellow", "skipped": "dim", "failed": "red"}.get(result.kind, "")
        self.console.print(Text(f"{result.label} {result.kind.replace('_', ' ')}: "
                                f"{result.detail}", style=style))

    @contextmanager
    def busy(self, label: str) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with self.console.status(escape(label) + "…"):
            yield

    # -- watching (--watch) ----------------------------------------------------------------------

    def arrived(self, entries, queue) -> None:
        now = queue.now
        for entry in entries:
            line = Text("New: ", style="bold")
            line.append(entry.label)
            if entry.ticket is None:
                line.append(f" {entry.order_id}")
            line.append(" · GSTK ")
            line.append_text(gstk_cell(entry))
            age = entry.age(now)
            line.append(f" · {entry.standing}"
                        + (f" · received {duration(age)} ago" if age is not None else ""),
                        style="green" if entry.cancellable else "dim")
            line.append(f"\n     {entry.subject}", style="dim")
            self.console.print(line, overflow="ellipsis")

    def ring(self) -> None:
        self.console.bell()

    def look_failed(self, problem: str) -> None:
        self.console.print(Text(f"Could not look at the queue: {problem}", style="yellow"))

    @contextmanager
    def idle(self, queue, next_look: float) -> Iterator[None]:
        label = (f"Nothing to do: watching for new requests (next look in {next_look:.0f} s). "
                 "Press q to end the shift.")
        with self._keys.reading():
            if not self.console.is_terminal:
                yield
                return
            with self.console.status(escape(label)):
                yield

    def key(self) -> str | None:
        return self._keys.read()


class _Keys:
    """Single key presses without Enter while the shift waits: cbreak mode on POSIX terminals,
    msvcrt on Windows. Not a terminal (a pipe, a test): no keys — Ctrl-C ends the wait."""

    def __init__(self) -> None:
        self._fd: int | None = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        try:
            fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
        except (OSError, ValueError):  # no real stdin (replaced by a test runner)
            fd = None
        if fd is None or sys.platform == "win32":
            self._fd = fd
            try:
                yield
            finally:
                self._fd = None
            return
        import termios
        import tty

        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            self._fd = fd
            yield
        finally:
            self._fd = None
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def read(self) -> str | None:
        fd = self._fd
        if fd is None:
            return None
        if sys.platform == "win32":
            import msvcrt

            return msvcrt.getwch() if msvcrt.kbhit() else None
        import select

        ready, _, _ = select.select([fd], [], [], 0)
        return os.read(fd, 1).decode("utf-8", "replace") if ready else None

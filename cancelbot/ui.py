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
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cancelbot.decision import STATUS_WORDS
from cancelbot.errors import Declined, NeedsHuman, UsageError
from cancelbot.i18n import N_, _, ngettext
from cancelbot.languages import LANGUAGE_NAMES
from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket, TicketStatus
from cancelbot.render import (
    BRANCH_WORDS,
    KIND_LABELS,
    STATUS_NAMES,
    duration,
    gstk_cell,
    linkified,
    render_outcome,
    render_queue,
    time_left,
)
from cancelbot.text import excerpt
from cancelbot.when import ago, clock_time

if TYPE_CHECKING:
    from cancelbot.decision import Decision
    from cancelbot.outcome import Outcome

T = TypeVar("T")
YES = {"y", "yes", "o", "oui", "j", "ja"}  # English, French (and German) yes
BODY_LINES = 12  # of the first message, on the ticket's card
NOTE_LINES = 6  # of each later conversation
THREAD_SHOWN = 5  # conversations shown, the newest; the others are counted


class TerminalAgent:
    """The procedure's `Agent` on a terminal. With `assume_yes`, confirmations of changes are
    answered Yes; anything that needs a choice or typing becomes NeedsHuman."""

    def __init__(self, console: Console, *, assume_yes: bool = False) -> None:
        self.console = console
        self.assume_yes = assume_yes
        self.interactive = not assume_yes
        self._busy: tuple[object, str] | None = None  # the spinner on screen, and its label
        self._waiting = 0.0  # seconds left of the retry wait being shown
        self._copy_file: str | None = None  # the message to paste, for terminals without OSC 52

    # -- showing -------------------------------------------------------------------------------

    def step(self, number: int, total: int, title: str) -> None:
        self.console.print()
        self.console.print(Text(_("Step {number}/{total} · {title}").format(
            number=number, total=total, title=_(title)), style="bold cyan"))

    def show_ticket(self, ticket: Ticket) -> None:
        """The whole ticket: the first message, then every conversation, newest last, each
        with who wrote it, when, and whether it is private; a long thread folds to its last
        few. Every text from outside is plain `Text`, never markup."""
        status = _ticket_status(ticket.status)
        head = Text()
        head.append(ticket.subject or _("(no subject)"), style="bold")
        head.append("\n" + _("From: "))
        head.append(f"{ticket.requester_name} <{ticket.requester_email}>".strip())
        head.append("\n" + _("Status: {status} · received {ago} ({time})").format(
            status=status, ago=ago(ticket.created_at), time=clock_time(ticket.created_at)))
        content = Text.assemble(head, "\n\n", _excerpt(ticket.body_text, BODY_LINES))
        thread = ticket.conversations
        shown = thread[-THREAD_SHOWN:]
        if len(thread) > len(shown):
            content.append("\n\n… " + ngettext(
                "{count} earlier conversation not shown", "{count} earlier conversations not shown",
                len(thread) - len(shown)).format(count=len(thread) - len(shown)), style="dim")
        for c in shown:
            who = c.author or (_("the requester") if c.incoming else _("an agent"))
            kind = _("private note") if c.private else (_("message") if c.incoming
                                                         else _("reply"))
            content.append(f"\n\n── {kind} · {who} · {clock_time(c.created_at)}\n",
                           style="yellow" if c.private else "cyan")
            content.append_text(_excerpt(c.body_text, NOTE_LINES))
        self.console.print(Panel(content, title=Text(_("Ticket #{id}").format(id=ticket.id)),
                                title_align="left"))

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
        table.add_column(style="bold", overflow="fold")
        table.add_column(overflow="fold")
        table.add_row(_("Amazon order"), Text(order_id))
        if gstk is None:
            table.add_row("GSTK", Text(_("not found"), style="red"))
        else:
            known = _(STATUS_WORDS[gstk.status]) if gstk.status else _("UNKNOWN STATUS")
            table.add_row("GSTK", Text(f"{gstk.label} ({known}) · {gstk.id}"))
        if amazon is None and amazon_checked:
            table.add_row("Amazon", Text(_("not found on Amazon"), style="red"))
        elif amazon is None:
            table.add_row("Amazon", Text(_("not checked (no SP-API)"), style="dim"))
        else:
            table.add_row("Amazon", Text(amazon.fulfillment_status or "?"))
            items = ", ".join(
                f"{i.quantity}× {i.title or i.order_item_id}" for i in amazon.items
            )
            table.add_row(_("Items"), Text(f"{len(amazon.items)}: {items}"))
            asked = _("yes — the buyer asked Amazon") if amazon.buyer_requested_cancel \
                else _("no")
            table.add_row(_("Buyer cancel request"), Text(asked))
        table.add_row(_("Marketplace"), Text(marketplace))
        self.console.print(table)

    def show_decision(self, decision: Decision) -> None:
        style = {"cancel": "green", "cannot_cancel": "yellow", "already_cancelled": "green",
                 "needs_human": "bold red"}[decision.branch.value]
        label = _(BRANCH_WORDS[decision.branch.value]).upper()
        self.console.print(Text.assemble((label, style), " — ", decision.in_words(_)[0]))

    def show_plan(self, lines: Sequence[str]) -> None:
        self.console.print(Text(_("Will do:"), style="bold"))
        # A grid keeps a wrapped line under its text, not under its number (80 columns).
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", width=4, overflow="fold")
        grid.add_column(overflow="fold")
        for n, line in enumerate(lines, 1):
            grid.add_row(f"{n}.", linkified(line))
        self.console.print(grid)

    def show_message(
        self, text: str, language: str, why: str, channel: str, *, copy_to: str = ""
    ) -> None:
        name = LANGUAGE_NAMES.get(language, language)
        self.console.print(Text.assemble(
            (_("Reply in {language}").format(language=_(name)), "bold"),
            " " + _("({why}) · via {channel}").format(why=why, channel=_(channel))
        ))
        # Plain text, no box around it, never hard-wrapped: the terminal wraps whole lines, so
        # a copy keeps whole paragraphs.
        self.console.rule(style="dim")
        self.console.print(Text(text), soft_wrap=True)
        self.console.rule(style="dim")
        if copy_to:  # the agent pastes it into Seller Central: one action to copy, the link
            self._offer_copy(text)
            self.console.print(Text(_("Paste it here: "), style="bold").append_text(
                linkified(copy_to)), soft_wrap=True)

    def _offer_copy(self, text: str) -> None:
        """Put the message on the clipboard (OSC 52, which most terminals honour) and in a
        file as well, for the terminals that do not."""
        import base64
        import os
        import tempfile

        if self.console.is_terminal and os.environ.get("TERM", "") != "dumb":
            payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
            self.console.file.write(f"\x1b]52;c;{payload}\x07")
            self.console.file.flush()
            self.console.print(Text(_("Copied to the clipboard (if your terminal allows it)."),
                                    style="dim"))
        if self._copy_file is None:  # one file per run, rewritten with what is shown last
            handle, self._copy_file = tempfile.mkstemp(prefix="cancelbot-message-", suffix=".txt")
            os.close(handle)
        with open(self._copy_file, "w", encoding="utf-8", newline="") as file:
            file.write(text + "\n")
        self.console.print(Text(_("Also in {path}").format(path=self._copy_file), style="dim"),
                           soft_wrap=True)

    def info(self, text: str) -> None:
        self.console.print(linkified(text))

    def warn(self, text: str) -> None:
        self.console.print(linkified(text, style="yellow"))

    def alert(self, text: str) -> None:
        self.console.print(linkified(text, style="bold red"))

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
            text = _("{label} — {reason}, trying again in {seconds} s").format(
                label=label, reason=reason, seconds=shown) if seconds > 0 else label
            status.update(escape(text) + "…")  # type: ignore[attr-defined]
        elif seconds > self._waiting:  # a new wait begins
            self.console.print(Text(_("{reason}: trying again in {seconds} s…").format(
                reason=reason, seconds=shown), style="yellow"))
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
                raise NeedsHuman(_("{question} — this needs a person; run without --yes")
                                 .format(question=_(question)))
            self.console.print(Text(_("{question} yes (--yes)").format(question=_(question))))
            return True
        answer = self._input(_("{question} [y/N] ").format(question=_(question)))
        return answer is not None and answer.strip().lower() in YES

    def choose(self, question: str, options: Sequence[str]) -> int:
        if not self.interactive:
            raise NeedsHuman(_("{question} — this needs a person; run without --yes")
                             .format(question=_(question)))
        self.console.print(Text(_(question), style="bold"))
        for n, option in enumerate(options, 1):
            self.console.print(Text(f"  {n}. {option}"))
        while True:
            answer = self._input(_("Choose 1-{last} (empty to stop): ").format(
                last=len(options)))
            if answer is None or not answer.strip():
                raise Declined(_("stopped at a choice: nothing changed"))
            number = answer.strip()
            if number.isascii() and number.isdigit() and 1 <= int(number) <= len(options):
                return int(number) - 1
            self.warn(_("Type a number from 1 to {last}.").format(last=len(options)))

    def ask(self, question: str, parse: Callable[[str], T]) -> T:
        if not self.interactive:
            raise NeedsHuman(_("{question} — this needs a person; run without --yes")
                             .format(question=_(question)))
        while True:
            answer = self._input(_("{question} (empty to stop): ").format(question=_(question)))
            if answer is None or not answer.strip():
                raise Declined(_("stopped: no order number given, nothing changed"))
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
        copy_to: str = "",
        languages: Sequence[str] = (),
        shown: bool = True,
    ) -> tuple[str, str]:
        """The question that sends a reply, with the review choices: y send, e edit in
        $EDITOR, l another language, n (or nothing) cancel. Returns (action, value): "edit"
        with the edited text, "language" with the chosen code; the caller asks again."""
        if not shown:
            self.show_message(text, language, why, channel, copy_to=copy_to)
        others = [code for code in languages if code != language]
        keys = (_("[y]es · [e]dit · [l]anguage · [N]o") if others
                else _("[y]es · [e]dit · [N]o"))
        while True:
            answer = self._input(f"{_(question)} {keys} ")
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
                    return "language", others[self.choose(N_("Reply in which language?"),
                                                          names)]
                except Declined:
                    continue  # no choice made: back to the question
            else:
                self.warn(_("Type y to send, e to edit, l for another language, n to cancel.")
                          if others else _("Type y to send, e to edit, n to cancel."))

    def _edit(self, text: str) -> str | None:
        """The text after the agent's $EDITOR (VISUAL, EDITOR, else the system's); None if
        nothing was saved or no editor could start."""
        edited, problem = edit_in_editor(text)
        if problem:
            self.warn(_("No editor could start ({problem}): set EDITOR, e.g. EDITOR=nano. "
                        "The message is unchanged.").format(problem=problem))
        elif edited is None:
            self.info(_("Nothing saved: the message is unchanged."))
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


def _excerpt(text: str, lines: int) -> Text:
    """At most `lines` lines of `text` (and a bounded number of characters), with a count of
    what is left out."""
    kept = text.strip()[:lines * 400].splitlines()
    body = excerpt("\n".join(kept[:lines]))  # bounded: one line may be megabytes
    more = len(text.strip().splitlines()) - min(len(kept), lines)
    if more > 0:
        body += "\n… " + ngettext("({count} more line)", "({count} more lines)", more).format(
            count=more)
    return Text(body or _("(empty)"))


def _ticket_status(code: int) -> str:
    try:
        return _(STATUS_NAMES[TicketStatus(code).name.lower()])
    except ValueError:
        return _("status {code}").format(code=code)


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
        title = _("{number}/{count} · Ticket #{id}").format(
            number=number, count=count, id=entry.id) if entry.ticket is not None \
            else _("{number}/{count} · Amazon request · order {order}").format(
                number=number, count=count, order=entry.order_id)
        head = Text.assemble((title, "bold"))
        if age is not None:
            head.append(" · " + _("received {duration} ago").format(duration=duration(age))
                        + " · ")
            head.append_text(left)
            remaining = entry.time_left(now)
            if remaining is not None and remaining.total_seconds() >= 0:
                head.append(" " + _("left"))
        self.console.print()
        self.console.rule(head, align="left", style="cyan")
        self.console.print(Text(excerpt(entry.subject or _("(no subject)"), 300),
                                style="bold"))
        if ticket is not None:
            sender = excerpt(f"{ticket.requester_name} <{ticket.requester_email}>", 300)
            self.console.print(Text(_("From: ") + sender, style="dim"), overflow="fold")
        if entry.triage is not None:
            line = Text(_("GSTK: "), style="dim")
            line.append_text(gstk_cell(entry))
            line.append(f" · {entry.standing}", style="green" if entry.cancellable else "dim")
            self.console.print(line)

    def next_action(self) -> str:
        # Enter is never an answer here: at every question of cancelbot, Enter alone changes
        # nothing (at a confirmation it means No), so two Enters cannot process and decline.
        while True:
            try:
                answer = self.console.input(Text(_("[p]rocess · [s]kip · [q]uit: "),
                                                 style="bold"))
            except EOFError:
                self.console.print()
                return "quit"
            key = answer.strip().lower()[:1]
            if key == "p":
                return "process"
            if key == "s":
                return "skip"
            if key == "q":
                return "quit"
            self.console.print(Text(_("Type p to process, s to skip, q to quit."),
                                    style="yellow"))

    def skipped(self, entry, reason: str) -> None:
        said = _("#{id} skipped: {reason}").format(id=entry.id, reason=reason) \
            if entry.ticket is not None else _("Amazon request · order {order} skipped: "
                                               "{reason}").format(order=entry.order_id,
                                                                  reason=reason)
        self.console.print(Text(said, style="dim"))

    def show_result(self, result, outcome: Outcome | None) -> None:
        if outcome is not None and outcome.error is None:
            render_outcome(self.console, outcome)
            return
        style = {"needs_human": "yellow", "skipped": "dim", "failed": "red"}.get(result.kind, "")
        self.console.print(Text(f"{result.label} {_(KIND_LABELS[result.kind])}: "
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
            line = Text(_("New: "), style="bold")
            line.append(entry.label)
            if entry.ticket is None:
                line.append(f" {entry.order_id}")
            line.append(" · " + _("GSTK") + " ")
            line.append_text(gstk_cell(entry))
            age = entry.age(now)
            line.append(f" · {entry.standing}"
                        + (" · " + _("received {duration} ago").format(duration=duration(age))
                           if age is not None else ""),
                        style="green" if entry.cancellable else "dim")
            line.append(f"\n     {entry.subject}", style="dim")
            self.console.print(line, overflow="ellipsis")

    def ring(self) -> None:
        self.console.bell()

    def look_failed(self, problem: str) -> None:
        self.console.print(Text(_("Could not look at the queue: {problem}").format(
            problem=problem), style="yellow"))

    @contextmanager
    def idle(self, queue, next_look: float) -> Iterator[None]:
        label = _("Nothing to do: watching for new requests (next look in {seconds} s). "
                  "Press q to end the shift.").format(seconds=f"{next_look:.0f}")
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

        ready, _writable, _failed = select.select([fd], [], [], 0)
        return os.read(fd, 1).decode("utf-8", "replace") if ready else None

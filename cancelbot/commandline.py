"""What the commands share, without Typer: the consoles, the one place failures become exit
codes, the settings — and the body of `cancelbot process`.

`cli.py` (the Typer app) calls these; so does `early.py`, which runs a plain `cancelbot process
ID …` without building the Typer app at all. Nothing here imports Typer, Rich or the services at
import time: they load when a command needs them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from cancelbot.errors import CancelbotError, ExitCode, UsageError
from cancelbot.i18n import N_

if TYPE_CHECKING:
    from rich.console import Console

    from cancelbot.config import Settings
    from cancelbot.headstart import HeadStart
    from cancelbot.prefetch import Prefetched
    from cancelbot.services.freshdesk import FreshdeskClient

MAX_TICKET_ID = 2**63 - 1  # SQLite's largest integer, and beyond any Freshdesk ticket id


class StartedRead(Protocol):
    """The ticket read a command sent as it started (early.StartedRead)."""

    settings: Settings
    client: FreshdeskClient | None  # the run's Freshdesk client, until hand_over
    sent_at: str  # when the read left, in the journal's time

    def result(self) -> Prefetched: ...

    def hand_over(self) -> FreshdeskClient: ...


def debug_logging(enabled: bool) -> None:
    """--debug, before or after the command name: each HTTP call on stderr."""
    if not enabled:
        return
    import logging

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    # httpx's own loggers would print headers; ours prints method, URL, status, time.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def consoles() -> tuple[Console, Console]:
    """The screen and stderr. No emoji codes: ":x:" in a buyer's text stays as written (and
    Rich's table of them, ~5 ms to load, is never read)."""
    from rich.console import Console

    return Console(emoji=False), Console(stderr=True, emoji=False)


@contextmanager
def errors_to_exit_codes(
    err: Console, resume_hint: str | Callable[[], str] = ""
) -> Iterator[None]:
    """The one place where failures become one line on stderr and an exit code.

    `resume_hint` (or a function giving it, read only after an interrupt) says how to go on.
    """
    from rich.text import Text

    try:
        yield
    except CancelbotError as exc:
        err.print(Text(f"cancelbot: {_safe(exc)}", style="red"), soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        from cancelbot.i18n import _

        try:
            hint = resume_hint() if callable(resume_hint) else _(resume_hint) if resume_hint \
                else ""
        except (CancelbotError, OSError):
            hint = ""  # the hint is a courtesy: the interrupt must still end cleanly
        err.print(Text(("\ncancelbot: " + _("interrupted.") + f" {hint}").rstrip(),
                       style="yellow"), soft_wrap=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None


def _safe(error: CancelbotError) -> str:
    from cancelbot.render import error_text

    return error_text(error)


def parse_ticket_id(raw: str) -> int:
    from cancelbot.i18n import _

    value = raw.strip().lstrip("#")
    if not value.isascii() or not value.isdigit() or int(value) <= 0:
        raise UsageError(_("ticket id must be a positive whole number, got {value!r}").format(
            value=raw[:40]))
    if len(value) > 19 or int(value) > MAX_TICKET_ID:
        raise UsageError(_("ticket id {value} is too large (at most {maximum})").format(
            value=value[:40], maximum=MAX_TICKET_ID))
    return int(value)


def load_settings(sandbox: bool) -> Settings:
    """`.env`, then the environment: the sandbox when --sandbox or CANCELBOT_SANDBOX says so."""
    from cancelbot.config import is_sandbox, load_dotenv_file
    from cancelbot.config import load_settings as from_environment

    load_dotenv_file()
    settings = from_environment(sandbox=sandbox or is_sandbox())
    from cancelbot.text import keep_secret

    # Registered now, not when a client is built: `history` builds none, and the journal may
    # hold what an older version wrote before it hid secrets.
    for secret in settings.secrets():
        keep_secret(secret)
    return settings


def print_json(document: dict[str, object]) -> None:
    import json

    import typer  # its echo, as every other command's output: only a --json run pays for it

    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def journal_agent(settings: Settings) -> str:
    """Who the journal says made the changes: the agent's name or Freshdesk id, else the login."""
    if settings.agent_name:
        return settings.agent_name
    if settings.freshdesk.agent_id:
        return f"agent {settings.freshdesk.agent_id}"
    return ""


def sandbox_banner(settings: Settings) -> str:
    from cancelbot.i18n import _

    return "[dim]" + _("Sandbox: simulated Freshdesk, GSTK and Amazon (state in {path}).").format(
        path=escape_path(settings.state_dir)) + "[/dim]"


def escape_path(path: object) -> str:
    from rich.markup import escape

    return escape(str(path))


def process(
    ticket_id: str, *, dry_run: bool = False, yes: bool = False, lang: str | None = None,
    sandbox: bool = False, json_out: bool = False, started: StartedRead | None = None,
) -> int:
    """`cancelbot process`: the exit code (SystemExit for a run stopped by an error).

    `started`: the ticket read the command sent as it started (early.py), with the settings it
    was sent with; the run takes its Freshdesk client and serves the ticket from it.
    """
    head = None
    stopped: KeyboardInterrupt | None = None
    try:
        # The claim and the lookups leave as the ticket comes back; the screens load meanwhile.
        try:
            head = head_start(started, dry_run) if started is not None else None
        except KeyboardInterrupt as stop:
            stopped = stop  # said as any interrupt is, once the screen is up
        return _process(ticket_id, dry_run=dry_run, yes=yes, lang=lang, sandbox=sandbox,
                        json_out=json_out, started=started, head=head, stopped=stopped)
    finally:
        if head is not None:
            head.close()  # a claim the run never took is taken back


def head_start(started: StartedRead, dry_run: bool) -> HeadStart | None:
    """headstart.begin for the ticket read at start-up, once it is back (its modules load
    while it is on its way)."""
    from cancelbot import headstart

    ticket = started.result().ticket
    if ticket is None or started.client is None:
        return None
    return headstart.begin(started.settings, started.client, ticket, started.sent_at,
                           dry_run=dry_run, journal_agent=journal_agent(started.settings))


def _process(
    ticket_id: str, *, dry_run: bool, yes: bool, lang: str | None, sandbox: bool,
    json_out: bool, started: StartedRead | None, head: HeadStart | None,
    stopped: KeyboardInterrupt | None = None,
) -> int:
    out, err = consoles()
    with errors_to_exit_codes(err, N_("Nothing was changed.")):
        if stopped is not None:
            raise stopped
        number = parse_ticket_id(ticket_id)
        settings = started.settings if started is not None else load_settings(sandbox)
        state_dir = settings.world.prepare()  # this world's journal: never another's
        from contextlib import nullcontext

        from msgspec import structs

        from cancelbot.journal import Journal
        from cancelbot.ports import Options
        from cancelbot.procedure import process as run_procedure
        from cancelbot.render import outcome_document, render_outcome, render_stopped
        from cancelbot.services.http import RetryPolicy
        from cancelbot.ui import TerminalAgent
        from cancelbot.wiring import open_services

        agent = TerminalAgent(err if json_out else out, assume_yes=yes)
        if settings.sandbox:
            agent.console.print(sandbox_banner(settings))
        options = Options(
            dry_run=dry_run,
            language=lang,
            templates=settings.templates_dir,
            agent_name=settings.agent_name,
            agent_id=settings.freshdesk.agent_id,
            rerun=f"cancelbot process {number}" + (" --sandbox" if sandbox else ""),
            claim_lease=settings.claim_lease,
        )
        retry = RetryPolicy(on_wait=agent.waiting)
        with nullcontext(head.journal) if head is not None else Journal.open(
                state_dir, agent=journal_agent(settings)) as journal:
            ahead = started.result() if started is not None else None
            helpdesk = started.hand_over() if started is not None else None
            with open_services(settings, agent, retry=retry, helpdesk=helpdesk,
                               lookup_clients=head.take_clients() if head else None) as services:
                if head is not None and ahead is not None:  # the procedure's from here on
                    ahead = structs.replace(ahead, ticket=head.ticket, lookup_later=head.lookup,
                                            claim=head.take(agent))
                outcome = run_procedure(number, services, agent, options, journal, ahead=ahead)
    # One result, rendered once: a finished, declined, failed or interrupted run alike.
    if json_out:
        print_json(outcome_document(outcome))
    elif outcome.error is None and not outcome.interrupted:
        render_outcome(out, outcome)
    render_stopped(err, outcome)
    return int(outcome.exit_code)

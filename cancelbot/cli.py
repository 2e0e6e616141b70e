"""The command line: parse, build, call, render. The procedure lives in procedure.py.

Exit codes (documented in the README): 0 done, 1 error, 2 usage, 3 declined by the agent,
4 needs a human, 130 interrupted. Heavy modules (httpx, jinja2, the clients, the sandbox)
are imported inside the commands so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Optional

import typer

from cancelbot import __version__
from cancelbot.errors import CancelbotError, ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="cancelbot",
    no_args_is_help=True,
    add_completion=True,
    # Locals hold API keys: never print them in a traceback.
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
sandbox_app = typer.Typer(
    help="The embedded sandbox: simulated Freshdesk, GSTK and Amazon.\n\n"
    "Example: cancelbot sandbox list",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")


class Lang(str, Enum):
    fr = "fr"
    de = "de"
    en = "en"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cancelbot {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Log each HTTP call (method, URL, status, time) to stderr."
    ),
) -> None:
    """Walks you through an Amazon order-cancellation ticket: Freshdesk, GSTK, Amazon.

    Every change is confirmed first. Exit codes: 0 done, 1 error, 2 usage, 3 declined,
    4 needs a human, 130 interrupted.

    Example: cancelbot process 1001 --sandbox
    """
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(message)s")
        # httpx's own loggers would print headers; ours prints method, URL, status, time.
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(), Console(stderr=True)


@contextmanager
def _errors_to_exit_codes(err: Console, resume_hint: str = "") -> Iterator[None]:
    """The one place where failures become one line on stderr and an exit code."""
    from rich.text import Text

    try:
        yield
    except CancelbotError as exc:
        err.print(Text(f"cancelbot: {exc}", style="red"), soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print(Text(f"\ncancelbot: interrupted. {resume_hint}".rstrip(), style="yellow"),
                  soft_wrap=True)
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def parse_ticket_id(raw: str) -> int:
    value = raw.strip().lstrip("#")
    if not value.isascii() or not value.isdigit() or int(value) <= 0:
        raise UsageError(f"ticket id must be a positive whole number, got {raw[:40]!r}")
    return int(value)


def _settings(sandbox: bool):
    from cancelbot.config import is_sandbox, load_dotenv_file, load_settings

    load_dotenv_file()
    return load_settings(sandbox=sandbox or is_sandbox())


@app.command()
def process(
    ticket_id: str = typer.Argument(..., help="The Freshdesk ticket number."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Do every read, show every decision and message, change nothing."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y",
        help="Confirm every change. Stops with 'needs a human' where a person must choose.",
    ),
    lang: Optional[Lang] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--lang", help="Language of the buyer reply (default: from the marketplace)."
    ),
    sandbox: bool = typer.Option(
        False, "--sandbox", help="Use the embedded sandbox instead of the real services."
    ),
) -> None:
    """Process one cancellation ticket, asking before every change.

    Example: cancelbot process 1001 --sandbox --dry-run
    """
    out, err = _consoles()
    hint = (f"Nothing is changed after an interrupt; rerun `cancelbot process {ticket_id}`"
            " to carry on.")
    with _errors_to_exit_codes(err, hint):
        number = parse_ticket_id(ticket_id)
        settings = _settings(sandbox)
        from cancelbot.procedure import Options
        from cancelbot.procedure import process as run_procedure
        from cancelbot.ui import TerminalAgent, render_outcome
        from cancelbot.wiring import open_services

        agent = TerminalAgent(out, assume_yes=yes)
        if settings.sandbox:
            out.print("[dim]Sandbox: simulated Freshdesk, GSTK and Amazon "
                      f"(state in {escape_path(settings.home)}).[/dim]")
        options = Options(
            dry_run=dry_run,
            language=lang.value if lang else None,
            templates=settings.templates_dir,
            agent_name=settings.agent_name,
        )
        with open_services(settings, agent) as services:
            outcome = run_procedure(number, services, agent, options)
        render_outcome(out, outcome)
    raise typer.Exit(outcome.exit_code)


def escape_path(path) -> str:
    from rich.markup import escape

    return escape(str(path))


@sandbox_app.command("list")
def sandbox_list() -> None:
    """List the sandbox tickets and the branch each one exercises.

    Example: cancelbot sandbox list
    """
    out, err = _consoles()
    with _errors_to_exit_codes(err):
        from rich.text import Text

        from cancelbot import sandbox
        from cancelbot.config import home_dir

        load_dotenv()
        out.print("Sandbox tickets — run one with: cancelbot process ID --sandbox")
        for row in sandbox.list_tickets(home_dir()):  # ticket text is data, never markup
            out.print()
            out.print(Text.assemble(
                (f"#{row['ticket_id']} ", "bold"), (row["expected_branch"], "cyan"),
                f" · {row['ticket_status']}",
            ))
            out.print(Text(f"  {row['subject']}", style="dim"), no_wrap=True, overflow="ellipsis")
            if row["order_id"]:
                out.print(Text(f"  order {row['order_id']} · GSTK {row['gstk_status']} · "
                               f"Amazon {row['amazon_status']}"))


@sandbox_app.command("reset")
def sandbox_reset() -> None:
    """Put the sandbox back to its seeded state.

    Example: cancelbot sandbox reset
    """
    out, err = _consoles()
    with _errors_to_exit_codes(err):
        from cancelbot import sandbox
        from cancelbot.config import home_dir

        load_dotenv()
        path = sandbox.reset(home_dir())
        out.print(f"Sandbox reset: {escape_path(path)}")


def load_dotenv() -> None:
    from cancelbot.config import load_dotenv_file

    load_dotenv_file()

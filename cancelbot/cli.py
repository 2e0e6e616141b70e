"""The command line: parse, build, call, render. The procedure lives in procedure.py.

Exit codes (documented in the README): 0 done, 1 error, 2 usage, 3 declined by the agent,
4 needs a human, 130 interrupted. Heavy modules (httpx, jinja2, the clients, the sandbox)
are imported inside the commands so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

import typer
import typer.core

from cancelbot import __version__, commandline, languages
from cancelbot.commandline import (
    MAX_TICKET_ID,  # noqa: F401 - still importable from here (tests, scripts)
    consoles,
    debug_logging,
    errors_to_exit_codes,
    escape_path,
    journal_agent,
    load_settings,
    parse_ticket_id,
    print_json,
    sandbox_banner,
)
from cancelbot.errors import ExitCode, UsageError
from cancelbot.i18n import N_, _

if TYPE_CHECKING:
    from rich.console import Console

def _usage(command: Any, ctx: Any, formatter: Any) -> None:
    """The usage line with its prefix in the agent's language (the Click bundled with Typer
    writes "Usage:" without gettext), and a required argument named plainly: Typer 0.2x
    writes it {TICKET_ID}, which reads like something to type with its braces."""
    from cancelbot.i18n import help_word

    pieces = [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
              for piece in command.collect_usage_pieces(ctx)]
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=help_word("Usage:") + " ")


def _help_option(option: Any) -> Any:
    from cancelbot.i18n import help_word

    if option is not None:  # --help's own line, also written without gettext
        option.help = help_word("Show this message and exit.")
    return option


# Click's usage errors, as the Click bundled with Typer words them (English, without gettext),
# most specific first; each is said again with the `messages` catalogue's words.
USAGE_ERRORS = (
    "No such option: {name} (Possible options: {options})", "No such option: {name}",
    "Missing argument {param_hint}.", "Missing option {param_hint}.",
    "Invalid value for {param_hint}: {message}",
    "Value error, {message}",  # how Typer's value checks begin theirs
    "{value!r} is not one of {choices}.",
    "Got unexpected extra argument(s) ({args})", "Got unexpected extra argument ({args})",
    "No such command {name!r}.", "Missing command.", "Option {name!r} requires an argument.",
)


def usage_error_text(message: str) -> str:
    """`message` (one of Click's usage errors) in the agent's language; unknown ones as they
    are. The value inside "Invalid value for …: …" is itself one of them, said again too."""
    import re

    from cancelbot.i18n import help_word

    for template in USAGE_ERRORS:
        pattern = re.sub(r"\\\{(\w+)(?:!r)?\\\}", r"(?P<\1>.+?)", re.escape(template))
        found = re.fullmatch(pattern, message, flags=re.S)
        if found is None:
            continue
        values = found.groupdict()
        if "message" in values:
            values["message"] = usage_error_text(values["message"])
        # The values were written with their quotes already: no second repr.
        return help_word(template).replace("!r}", "}").format(**values)
    return message


def run_command_line(command: Any) -> int:
    """Typer's main (`command`, the Click command of the app), with its usage errors in the
    agent's language: the usage line, where to find help, and the error itself."""
    from cancelbot.i18n import help_word

    try:
        code = command.main(prog_name="cancelbot", standalone_mode=False)
    except typer.Abort:
        typer.echo(help_word("Aborted!"), err=True)
        return 1
    except typer.TyperException as exc:  # Click's own: a usage error, or another it explains
        ctx = getattr(exc, "ctx", None)
        if getattr(exc, "exit_code", 1) != ExitCode.USAGE or not hasattr(exc, "format_message"):
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", 1))
        if ctx is not None:
            hint = ""
            if ctx.command.get_help_option(ctx) is not None:
                hint = help_word("Try {command!r} for help.").format(
                    command=f"{ctx.command_path} {ctx.help_option_names[0]}") + "\n"
            typer.echo(f"{ctx.get_usage()}\n{hint}", err=True)
        typer.echo(help_word("Error: {message}").format(
            message=usage_error_text(exc.format_message())), err=True)
        return ExitCode.USAGE
    return code if isinstance(code, int) else 0


class _Command(typer.core.TyperCommand):
    """A command whose usage line and --help line speak the agent's language."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        return _help_option(super().get_help_option(ctx))


class _Group(typer.core.TyperGroup):
    """The same for `cancelbot`, `cancelbot sandbox` and `cancelbot templates`."""

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        return _help_option(super().get_help_option(ctx))


app = typer.Typer(
    name="cancelbot",
    no_args_is_help=True,
    add_completion=True,
    # Locals hold API keys: never print them in a traceback.
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    cls=_Group,
)
sandbox_app = typer.Typer(
    help="The embedded sandbox: simulated Freshdesk, GSTK and Amazon.\n\n"
    "Example: cancelbot sandbox list",
    no_args_is_help=True,
    cls=_Group,
)
app.add_typer(sandbox_app, name="sandbox")


HISTORY_LIMIT = 100  # entries `cancelbot history` shows without --limit / --all
FEEDS_LIMIT = 50  # settled cancellations `cancelbot feeds` shows without --limit / --all


# The --lang choices: one per language of the registry (languages.py), in its order.
Lang = Enum("Lang", {code: code for code in languages.CODES}, type=str)  # type: ignore[misc]
# (mypy cannot list the members of an Enum built from the registry; Typer reads them at run time)


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
        debug_logging(True)


def _debug_option():
    """`--debug` after a command's name too (`cancelbot process 1001 --debug`)."""
    return typer.Option(False, "--debug", callback=debug_logging, expose_value=False,
                        help="Log each HTTP call (method, URL, status, time) to stderr.")


@app.command(cls=_Command)
def process(
    ticket_id: str = typer.Argument(..., metavar="TICKET_ID",
                                    help="The Freshdesk ticket number."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Do every read, show every decision and message, change nothing."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y",
        help="Confirm every change. Stops with 'needs a human' where a person must choose.",
    ),
    lang: Optional[Lang] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--lang", help="Language of the buyer reply (default: the buyer's own language "
        "on Amazon when there is a template for it, else the marketplace's).",
    ),
    sandbox: bool = typer.Option(
        False, "--sandbox", help="Use the embedded sandbox instead of the real services."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="The result as one JSON document on stdout (screens on stderr)."
    ),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
) -> None:
    """Process one cancellation ticket, asking before every change.

    Example: cancelbot process 1001 --sandbox --dry-run
    """
    raise typer.Exit(commandline.process(
        ticket_id, dry_run=dry_run, yes=yes, lang=lang.value if lang else None,
        sandbox=sandbox, json_out=json_out))


@app.command(cls=_Command)
def history(
    ticket_id: Optional[str] = typer.Argument(  # noqa: UP045 - Typer reads the annotation
        None, metavar="TICKET_ID", help="Only this ticket (default: every ticket)."
    ),
    limit: int = typer.Option(
        HISTORY_LIMIT, "--limit", min=1,
        help="Show the newest this many changes (with --json: journal entries)."
    ),
    show_all: bool = typer.Option(False, "--all", help="Show every entry (instead of --limit)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
    sandbox: bool = typer.Option(
        False, "--sandbox", help="The sandbox's journal instead of the configured account's."
    ),
) -> None:
    """Show cancelbot's journal: the newest changes it made on this computer, oldest first.

    One line per change: what, when (local time), who, and the result — done, failed, or
    unknown when the run stopped before hearing back. --json gives the journal's entries
    (an intent, then an outcome; UTC). Nothing from the messages and no buyer data: ids
    only. Each account (and the sandbox) has its own.

    Example: cancelbot history 1001
    """
    out, err = _tableconsoles()
    with errors_to_exit_codes(err):
        number = parse_ticket_id(ticket_id) if ticket_id is not None else None
        settings = load_settings(sandbox)
        from rich.text import Text

        from cancelbot.changes import Change, newest
        from cancelbot.i18n import _
        from cancelbot.journal import FILE_NAME, Journal
        from cancelbot.render import render_history

        events: list = []
        changes: list[Change] = []
        more = False
        if (settings.state_dir / FILE_NAME).exists():  # none yet: do not create one to say so
            with Journal.open(settings.world.prepare()) as journal:
                if json_out:  # the raw events: --limit counts journal entries
                    events = journal.history(number, None if show_all else limit)
                else:
                    changes, more = newest(journal, number, None if show_all else limit)
        if json_out:
            from cancelbot.render import history_document

            print_json(history_document(events, number))
            return
        render_history(out, changes, number)
        if more:
            err.print(Text(_("The newest {count} changes: --limit N or --all for more.").format(
                count=len(changes)), style="dim"))


def _tableconsoles() -> tuple[Console, Console]:
    """Consoles for `history` and `feeds`, whose tables may run to thousands of rows."""
    from rich.console import Console

    from cancelbot.render import TableConsole

    return TableConsole(emoji=False), Console(stderr=True, emoji=False)  # as commandline.consoles


def _say_how_many_shown(err: Console, shown: int, total: int) -> None:
    """Under `feeds`' table, when older cancellations were left out (`history` says its own)."""
    if total > shown:
        err.print("[dim]" + _("The newest {shown} of {total} cancellations: --limit N or --all "
                              "for more.").format(shown=shown, total=total) + "[/dim]")


@app.command(cls=_Command)
def feeds(
    sandbox: bool = typer.Option(
        False, "--sandbox", help="Use the embedded sandbox instead of the real services."
    ),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
    limit: int = typer.Option(
        FEEDS_LIMIT, "--limit", min=1,
        help="Show the newest this many cancellations, and every one still in flight.",
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Show every cancellation (instead of --limit)."
    ),
) -> None:
    """Follow Amazon's cancellation feeds: send queued ones, read finished ones.

    Every `cancelbot process` does this too, beside its own work, and a shift all along. A
    cancellation Amazon refused reopens its ticket with a note; it is shown in red, and the
    command ends with exit code 4, until a run has handled that ticket. Shows the newest
    cancellations and every one Amazon has not settled yet.

    Example: cancelbot feeds --sandbox
    """
    out, err = _tableconsoles()
    with errors_to_exit_codes(err):
        settings = load_settings(sandbox)
        if not settings.amazon.automated:
            out.print(_("SP-API is not configured: Amazon cancellations are done by hand in "
                        "Seller Central, there is no feed to follow."))
            return
        from cancelbot.feeds import FeedDesk
        from cancelbot.journal import Journal
        from cancelbot.render import render_feeds
        from cancelbot.services.http import RetryPolicy
        from cancelbot.ui import TerminalAgent
        from cancelbot.wiring import open_services

        agent = TerminalAgent(out)
        with Journal.open(settings.world.prepare(), agent=journal_agent(settings)) as journal, \
                open_services(settings, agent, retry=RetryPolicy(on_wait=agent.waiting)) as svc:
            if svc.feeds is None:  # configured above: open_services built the SP-API client
                raise UsageError(_("SP-API is not configured: there is no feed to follow"))
            desk = FeedDesk(journal, svc.feeds, svc.helpdesk, agent)
            with agent.busy(_("Following Amazon's feeds")):
                report = desk.follow_up(force=True)
                refused = desk.open_refusals(ask_helpdesk=True)
            rows, total = journal.recent_cancellations(None if show_all else limit)
            pending = journal.feeds("pending", limit=1000)
        render_feeds(out, report, rows, pending, refused)
        _say_how_many_shown(err, len(rows), total)
    if refused:
        raise typer.Exit(ExitCode.NEEDS_HUMAN)


@sandbox_app.command("list", cls=_Command)
def sandbox_list(debug: bool = _debug_option()) -> None:
    """List the sandbox tickets and the branch each one exercises.

    Example: cancelbot sandbox list
    """
    out, err = consoles()
    with errors_to_exit_codes(err):
        from rich.text import Text

        from cancelbot import sandbox
        from cancelbot.config import home_dir
        from cancelbot.render import STATUS_NAMES

        load_dotenv()
        rows = sandbox.list_tickets(home_dir())  # before any output: a failure is one line
        out.print(_("Sandbox tickets — run one with: cancelbot process ID --sandbox"))
        for row in rows:  # ticket text is data, never markup
            out.print()
            out.print(Text.assemble(
                (f"#{row['ticket_id']} ", "bold"), (_(row["expected_branch"]), "cyan"),
                " · " + _(STATUS_NAMES.get(row["ticket_status"], row["ticket_status"])),
            ))
            out.print(Text(f"  {row['subject']}", style="dim"), no_wrap=True, overflow="ellipsis")
            if row["order_id"]:
                out.print(Text("  " + _("order {order} · GSTK {gstk} · Amazon {amazon}").format(
                    order=row["order_id"], amazon=row["amazon_status"],
                    gstk=_("not found") if row["gstk_status"] == "not found"
                    else row["gstk_status"])))


@sandbox_app.command("reset", cls=_Command)
def sandbox_reset(debug: bool = _debug_option()) -> None:
    """Put the sandbox back to its seeded state, and forget what its journal remembered.

    Example: cancelbot sandbox reset
    """
    out, err = consoles()
    with errors_to_exit_codes(err):
        from cancelbot import sandbox
        from cancelbot.config import home_dir

        load_dotenv()
        path = sandbox.reset(home_dir())
        out.print(_("Sandbox reset, its journal forgotten: {path}").format(
            path=escape_path(path.parent)))


def load_dotenv() -> None:
    from cancelbot.config import load_dotenv_file

    load_dotenv_file()


@app.command(cls=_Command)
def queue(
    list_only: bool = typer.Option(
        False, "--list", help="Only list the queue, in the order the shift takes it."),
    json_out: bool = typer.Option(
        False, "--json", help="With --list: one JSON document on stdout (notes on stderr)."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y",
        help="Handle every ticket as `process --yes` would, leave those needing a person, "
        "then print the summary.",
    ),
    watch: bool = typer.Option(
        False, "--watch",
        help="When the queue is empty, keep watching Freshdesk and Amazon: new requests show "
        "as they arrive, the bell rings for one that can still be cancelled; q or Ctrl-C "
        "ends the shift.",
    ),
    every: int = typer.Option(
        60, "--every", min=10, max=3600, metavar="SECONDS",
        help="With --watch: how often Freshdesk is looked at (Amazon: every 3 min at most; "
        "at every look in the 10 min before a picking wave, with CANCELBOT_PICKING_WAVES).",
    ),
    query: Optional[str] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--query",
        help="Freshdesk search query (default: CANCELBOT_QUEUE_QUERY, else status:2).",
    ),
    tag: Optional[str] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--tag", help="A tag that marks cancellation requests (default: "
        "CANCELBOT_QUEUE_TAG).",
    ),
    prefetch: bool = typer.Option(
        True, "--prefetch/--no-prefetch",
        help="Read the next ticket ahead while you work on this one (default: on).",
    ),
    sandbox: bool = typer.Option(
        False, "--sandbox", help="Use the embedded sandbox instead of the real services."
    ),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
) -> None:
    """Work through the open cancellation requests: process, skip or quit.

    Requests that can still be cancelled (GSTK: awaiting preparation) come first, oldest
    first; then the others by Amazon's 24-hour deadline. With SP-API set up, buyers' requests
    that Amazon shows before their email reaches Freshdesk are in the queue too. Each ticket
    goes through exactly `cancelbot process`. Skips tickets assigned to another agent or
    already handled; ends with a summary.

    Example: cancelbot queue --sandbox
    """
    out, err = consoles()
    code = ExitCode.OK
    with errors_to_exit_codes(err, N_("`cancelbot queue` picks up what is left.")):
        if json_out and not list_only:
            raise UsageError(_("--json goes with --list: the shift itself is a conversation"))
        if watch and list_only:
            raise UsageError(_("--watch goes with a shift, not with --list"))
        settings = load_settings(sandbox)
        from cancelbot import render
        from cancelbot.queue import run_shift
        from cancelbot.triage import QueueSource
        from cancelbot.ui import TerminalAgent, TerminalShift

        screen_console = err if json_out else out
        settings.world.prepare()  # an unusable folder: one line, before anything is shown
        if settings.sandbox:
            screen_console.print(sandbox_banner(settings))
        agent = TerminalAgent(out, assume_yes=yes)
        # The journal keeps Amazon's requests and its search watermark: a listing with SP-API
        # needs it too; without, a listing does not create one just to read it.
        needs_journal = not list_only or settings.amazon.automated
        with _journal_and_services(settings, agent, create=needs_journal) as (journal, svc):
            source = QueueSource(
                svc, svc.helpdesk, query=query or settings.queue_query,
                tag=settings.queue_tag if tag is None else tag,
                agent_id=settings.freshdesk.agent_id, journal=journal,
                threads=list_only, lease=settings.claim_lease,
            )
            with agent.busy(_("Searching Freshdesk and Amazon")):
                found = source.build()
            if found.truncated:
                err.print(render.warning(render.truncation_warning(found)))
            if json_out:
                print_json(render.queue_document(found))
                return
            screen = TerminalShift(out)
            screen.show_queue(found)
            if list_only or not (found.todo or watch):
                return
            shift = run_shift(found, svc, agent, screen, _options(settings, sandbox, "{ticket}"),
                              journal=journal, prefetch=prefetch,
                              watch=_watch(source, float(every), settings) if watch else None)
        render.render_shift(out, shift)
        code = shift.exit_code
    raise typer.Exit(code)


def _watch(source, every: float, settings):
    """A watching shift: Amazon asked at every look in the minutes before a picking wave
    (CANCELBOT_PICKING_WAVES), otherwise within searchOrders' rate (waves.py)."""
    from datetime import datetime, timezone

    from cancelbot.queue import Watch
    from cancelbot.waves import amazon_pacing
    from cancelbot.when import local_zone

    amazon_every, rush = amazon_pacing(settings.picking_waves,
                                       lambda: datetime.now(timezone.utc), local_zone())
    return Watch(source, every=every, amazon_every=amazon_every, rush=rush)


def _options(settings, sandbox: bool, ticket: str):
    from cancelbot.ports import Options

    return Options(
        templates=settings.templates_dir, agent_name=settings.agent_name,
        agent_id=settings.freshdesk.agent_id,
        rerun=f"cancelbot process {ticket}" + (" --sandbox" if sandbox else ""),
        claim_lease=settings.claim_lease,
    )


@contextmanager
def _journal_and_services(settings, agent, *, create: bool = True) -> Iterator[tuple]:
    """The journal (None when `create` is False and there is none yet) and the services."""
    from cancelbot.journal import FILE_NAME, Journal
    from cancelbot.services.http import RetryPolicy
    from cancelbot.wiring import open_services

    with ExitStack() as stack:
        journal = None
        state_dir = settings.world.prepare()  # this world's journal: never another's
        if create or (state_dir / FILE_NAME).exists():
            journal = stack.enter_context(
                Journal.open(state_dir, agent=journal_agent(settings)))
        services = stack.enter_context(
            open_services(settings, agent, retry=RetryPolicy(on_wait=agent.waiting)))
        yield journal, services


@app.command(cls=_Command)
def doctor(
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    sandbox: bool = typer.Option(
        False, "--sandbox", help="Check the embedded sandbox instead of the real services."
    ),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
) -> None:
    """Check the setup: one cheap call per configured service, templates, journal, clock.

    Exits 1 when something a configured service needs is broken.

    Example: cancelbot doctor --sandbox
    """
    out, err = consoles()
    with errors_to_exit_codes(err):
        load_dotenv()
        from cancelbot import render
        from cancelbot.config import is_sandbox
        from cancelbot.doctor import run_doctor

        status = err.status("Checking…") if err.is_terminal else nullcontext()
        with status:
            report = run_doctor(sandbox=sandbox or is_sandbox())
        if json_out:
            print_json(render.doctor_document(report))
        else:
            render.render_doctor(out, report)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.ERROR)


templates_app = typer.Typer(
    help="The buyer replies: list the templates, preview one.\n\n"
    "Example: cancelbot templates preview --lang de",
    no_args_is_help=True,
    cls=_Group,
)
app.add_typer(templates_app, name="templates")


@templates_app.command("list", cls=_Command)
def templates_list(debug: bool = _debug_option()) -> None:
    """List the reply templates: language, file, whether it renders, where it is used.

    Example: cancelbot templates list
    """
    out, err = consoles()
    with errors_to_exit_codes(err):
        from cancelbot import messages, render
        from cancelbot.config import template_settings

        load_dotenv()
        folder = messages.templates_dir(template_settings()[0])
        render.render_templates(out, str(folder), messages.catalogue(folder))


@templates_app.command("preview", cls=_Command)
def templates_preview(
    lang: Optional[str] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--lang", help="The language (default: every language there is a template for)."
    ),
    order: Optional[str] = typer.Option(  # noqa: UP045 - Typer reads the annotation
        None, "--order",
        help="An Amazon order number, for your own templates that use order_id (the "
        "shipped ones are the approved texts: no order number in them).",
    ),
    debug: bool = _debug_option(),  # same as `cancelbot --debug …`
) -> None:
    """Show a reply exactly as the buyer would get it (signed with CANCELBOT_AGENT_NAME).

    Example: cancelbot templates preview --lang de
    """
    out, err = consoles()
    with errors_to_exit_codes(err):
        from cancelbot import messages
        from cancelbot.config import template_settings
        from cancelbot.orders import parse_order_number
        from cancelbot.ui import TerminalAgent

        load_dotenv()
        configured, agent_name = template_settings()
        folder = messages.templates_dir(configured)
        available = messages.available_languages(folder)
        if lang is not None and lang.strip().lower() not in available:
            raise UsageError(f"no {lang!r} template in {folder} (there are: "
                             f"{', '.join(available) or 'none'})")
        order_id = parse_order_number(order) if order else ""
        screen = TerminalAgent(out)
        for code in [lang.strip().lower()] if lang else available:
            text = messages.render_reply(folder, code, order_id=order_id, agent_name=agent_name)
            screen.show_message(text, code, f"{folder / code / messages.TEMPLATE_NAME}",
                                "preview, nothing is sent")


def translate_help(command: Any = None) -> None:
    """Every help text of the command line in the agent's language (i18n.py): the commands'
    docstrings and the options' help, as Typer registered them; with `command` (the Click
    command Typer built), also the options Typer adds itself (shell completion, --help)."""
    from cancelbot.i18n import _, install_for_help

    install_for_help()
    if command is not None:  # the Click command of typer.main.get_command(app)
        for param in command.params:
            text = getattr(param, "help", None)  # options have help, arguments may not
            if text:
                param.help = _(text)
        return
    for typer_app in (app, sandbox_app, templates_app):
        infos = [*typer_app.registered_commands]
        if typer_app.registered_callback is not None:
            infos.append(typer_app.registered_callback)  # type: ignore[arg-type]
        for info in infos:
            if info.callback is None:
                continue
            doc = inspect.getdoc(info.callback)
            if doc:
                info.help = _(doc)
            for parameter in inspect.signature(info.callback).parameters.values():
                default = parameter.default
                if isinstance(default, typer.models.ParameterInfo) and default.help:
                    default.help = _(default.help)
        if typer_app.info.help:
            typer_app.info.help = _(typer_app.info.help)


translate_help()

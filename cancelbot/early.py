"""`cancelbot process ID`, started fast: the ticket is on its way to Freshdesk while the rest of
the program loads (issue 12 §6: the first request within 2 × `import typer`).

    run(argv)       a plain `process` command line — `[--debug] process TICKET` with its own
                    options, each known and given once — runs here without the Typer app;
                    anything else (help, another command, an option it does not know, a
                    value it would refuse) returns None and goes to Typer, whose messages and
                    exit codes stay the only ones a mistyped command line gets
    start_read()    once the configuration is known: the Freshdesk client of the run and, on
                    a thread, its first read — the ticket (a GET, which changes nothing). A
                    bad configuration starts nothing: the command then says what is wrong,
                    exactly as it would have

The read is one attempt that never waits: a rate budget nearly spent, a 429, a server down
make it absent, and the run reads the ticket itself, with its countdown and its retries. The
run serves it as its own first read (`Prefetched.read_at_start`), unless a run on this computer
has recorded anything on the ticket since it was sent. The sandbox is not read early.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from msgspec import Struct

from cancelbot.errors import CancelbotError, RateLimited

if TYPE_CHECKING:
    from cancelbot.config import Settings
    from cancelbot.models import Ticket
    from cancelbot.prefetch import Prefetched
    from cancelbot.services.freshdesk import FreshdeskClient

COMMAND = "process"
FLAGS = {"--dry-run": "dry_run", "--yes": "yes", "-y": "yes", "--sandbox": "sandbox",
         "--json": "json_out", "--debug": "debug"}
VALUED = {"--lang": "lang"}
COMPLETION_VARIABLE = "_CANCELBOT_COMPLETE"  # Typer's shell completion: Typer answers it
LINGER = 1.0  # seconds a run that ends early gives its read in flight (see StartedRead.close)


class ProcessArgs(Struct):
    ticket_id: str
    dry_run: bool = False
    yes: bool = False
    lang: str | None = None
    sandbox: bool = False
    json_out: bool = False
    debug: bool = False


def parse(argv: list[str]) -> ProcessArgs | None:
    """The arguments of a plain `process` command line; None for anything else."""
    if COMPLETION_VARIABLE in os.environ:
        return None
    debug = argv[:1] == ["--debug"]  # `cancelbot --debug process …`
    words = argv[1:] if debug else argv
    if words[:1] != [COMMAND]:
        return None
    found: dict[str, object] = {"debug": debug} if debug else {}
    ticket: str | None = None
    rest = iter(words[1:])
    for word in rest:
        name, value = word, None
        if word.startswith("--") and "=" in word:
            name, _, value = word.partition("=")
        if name in VALUED:
            from cancelbot import languages

            value = value if value is not None else next(rest, None)
            if value is None or value not in languages.CODES or VALUED[name] in found:
                return None
            found[VALUED[name]] = value
        elif value is None and name in FLAGS:
            if FLAGS[name] in found and not (name == "--debug" and found.get("debug")):
                return None
            found[FLAGS[name]] = True
        elif word.startswith("-") or ticket is not None:
            return None  # --help, `--`, an unknown option, a second argument: Typer's to say
        else:
            ticket = word
    if ticket is None:
        return None
    return ProcessArgs(ticket, **found)  # type: ignore[arg-type]


class StartedRead:
    """The run's Freshdesk client and the ticket read it sent at start-up, on a thread."""

    def __init__(self, settings: Settings, ticket_id: int, client: FreshdeskClient) -> None:
        self.settings = settings
        self.ticket_id = ticket_id
        self.client: FreshdeskClient | None = client
        # The journal's time format (journal.now_iso), to the second: compared with its events.
        self.sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._done = threading.Event()
        self._ticket: Ticket | None = None
        self._problem = ""
        self._failure: BaseException | None = None
        # A daemon: a run that ends before it needs the ticket (Ctrl-C, a busy journal) is not
        # held up for long by a read still in flight (see close).
        self._thread = threading.Thread(target=self._read, name="cancelbot-first-read",
                                        daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            assert self.client is not None
            self._ticket = self.client.get_ticket(self.ticket_id)
        except CancelbotError as exc:
            self._problem = str(exc)  # the run's own read fails again, on screen
        except BaseException as exc:  # a bug: raised in the run's thread, not lost here
            self._failure = exc
        finally:
            self._done.set()

    def result(self) -> Prefetched:
        """The read (waiting for it); a read that failed has no ticket."""
        from cancelbot.prefetch import Prefetched

        while not self._done.wait(0.1):  # in steps: Ctrl-C is heard on every platform
            pass
        if self._failure is not None:
            raise self._failure
        return Prefetched(self.ticket_id, ticket=self._ticket, problem=self._problem,
                          read_at_start=self.sent_at)

    def hand_over(self) -> FreshdeskClient:
        """The client, now the run's (its connection kept): closed with the run's services."""
        client, self.client = self.client, None
        assert client is not None and self._done.is_set(), "result() comes first"
        return client

    def close(self) -> None:
        """A run that ended without taking the client: closed once its read is over. A read
        still in flight is given a moment (its first connection loads part of httpcore: no
        import may be running on a daemon thread as the interpreter shuts down); past that it
        is waiting on the network, and ends with the process."""
        if self.client is not None and self._done.wait(LINGER):
            self.client.close()
        self.client = None


def start_read(args: ProcessArgs) -> StartedRead | None:
    """The ticket read, sent as soon as the configuration is known; None when the command
    would stop first (bad ticket id, configuration or folder) or runs in the sandbox."""
    from cancelbot.commandline import load_settings, parse_ticket_id
    from cancelbot.services.http import RetryPolicy
    from cancelbot.wiring import open_freshdesk

    def no_wait(seconds: float) -> None:
        raise RateLimited("Freshdesk", "rate budget nearly spent: the run waits, not this read")

    # The host name's codec, loaded here rather than on the read's thread (a daemon: see
    # StartedRead.close).
    import encodings.idna  # noqa: F401

    try:
        number = parse_ticket_id(args.ticket_id)
        settings = load_settings(args.sandbox)
        if settings.sandbox:
            return None
        client = open_freshdesk(settings, retry=RetryPolicy(attempts=1, sleep=no_wait))
    except (CancelbotError, OSError):
        return None  # the command reaches the same failure, and reports it as always
    started = StartedRead(settings, number, client)
    # What reading the ticket's HTML takes, loaded here while the request is on its way: the
    # thread finds it loaded (or waits for this import to end) rather than loading it.
    import lxml.etree  # noqa: F401
    return started


def run(argv: list[str]) -> int | None:
    """A plain `process` command line, run without Typer: its exit code; None: not one."""
    args = parse(argv)
    if args is None:
        return None
    if not args.sandbox:
        from cancelbot import tls

        tls.load_ahead()  # the CA bundle loads on a thread while the clients' code loads
    from cancelbot.commandline import debug_logging, process

    debug_logging(args.debug)
    started = start_read(args)
    from cancelbot.i18n import install_for_help

    install_for_help()  # as the Typer app does: the library words in the agent's language
    try:
        return process(args.ticket_id, dry_run=args.dry_run, yes=args.yes, lang=args.lang,
                       sandbox=args.sandbox, json_out=args.json_out, started=started)
    finally:
        if started is not None:
            started.close()

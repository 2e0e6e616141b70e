"""The exceptions cancelbot raises, and the exit code each one ends the run with.

    CancelbotError                 exit 1  anything cancelbot knows how to explain in one line
     ├── UsageError                exit 2  the command line or a typed value is wrong
     ├── ConfigError               exit 1  missing or invalid configuration (names the variables)
     ├── TemplateError             exit 1  a reply template is missing or does not render
     ├── StateError                exit 1  cancelbot's folder (CANCELBOT_HOME) is unsafe or unusable
     │    └── JournalError                 the journal cannot be opened or written
     ├── SandboxStateError         exit 1  the sandbox's state file is unreadable or locked
     ├── ServiceError              exit 1  a remote system answered badly or not at all
     │    ├── NotFound                     404 (ticket, order…)
     │    ├── AuthError                    401/403, LWA invalid_grant/invalid_client
     │    ├── RateLimited                  429 after the wait allowed
     │    ├── Unreachable                  connection error or timeout
     │    ├── BadResponse                  malformed JSON or an unexpected shape
     │    └── OrderMovedOn                 GSTK 409: the order left "awaiting preparation"
     ├── Incomplete                exit 1  a change was made, a later one failed (says which)
     ├── Declined                  exit 3  the agent answered No
     └── NeedsHuman                exit 4  the tool must not decide; a person has to look
          ├── TicketBusy                   another cancelbot run has the ticket (this computer's
          │                                process, or another run's note or claim on it)
          └── ChangedMeanwhile             what was read ahead changed before the first change

The CLI turns these into one line on stderr and the exit code, in one place (cli.py).
"""

from __future__ import annotations

from cancelbot.text import hide_secrets, one_line


class ExitCode:
    OK = 0
    ERROR = 1
    USAGE = 2
    DECLINED = 3
    NEEDS_HUMAN = 4
    INTERRUPTED = 130


class CancelbotError(Exception):
    exit_code = ExitCode.ERROR


class UsageError(CancelbotError):
    exit_code = ExitCode.USAGE


class ConfigError(CancelbotError):
    pass


class TemplateError(CancelbotError):
    pass


class StateError(CancelbotError):
    """The folder cancelbot keeps its state in, or a file in it, cannot be used safely: it cannot
    be created or written, another user may write it, or a file in it is a symbolic link."""


class JournalError(StateError):
    """The journal cannot be opened or written: nothing is changed without it."""


class ServiceError(CancelbotError):
    """A remote system failed. `service` is a display name ("Freshdesk", "GSTK", "Amazon").

    The message often quotes the server, so it is made safe here, once for every screen, JSON
    document, journal entry and note it reaches: no secret in any form (text.hide_secrets),
    no control character, one line.
    """

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.request_id = request_id
        detail = f"{service}: {message}"
        if status is not None:
            detail += f" (HTTP {status})"
        if request_id:
            detail += f" [request id {request_id}]"
        super().__init__(one_line(hide_secrets(detail), limit=1000))


class NotFound(ServiceError):
    pass


class AuthError(ServiceError):
    pass


class RateLimited(ServiceError):
    pass


class Unreachable(ServiceError):
    pass


class BadResponse(ServiceError):
    pass


class OrderMovedOn(ServiceError):
    """GSTK refused the cancel (409): the order is being prepared. `label` is GSTK's new status."""

    def __init__(self, label: str) -> None:
        self.label = label
        super().__init__("GSTK", f"order can no longer be cancelled (now {label!r})", status=409)


class Incomplete(CancelbotError):
    """Some changes were made and a later one failed; the message says what is left to do."""


class Declined(CancelbotError):
    exit_code = ExitCode.DECLINED


class NeedsHuman(CancelbotError):
    exit_code = ExitCode.NEEDS_HUMAN


class SandboxStateError(CancelbotError):
    """The sandbox's state file cannot be read or written."""


class TicketBusy(NeedsHuman):
    """Another cancelbot run has the ticket: a process on this computer, or a run whose note
    or claim is on the ticket (the message says who and since when)."""


class ChangedMeanwhile(NeedsHuman):
    """What was read ahead changed before the first change was made: nothing was changed.

    A NeedsHuman, so the journal counts the change it stopped as refused, not as unknown."""

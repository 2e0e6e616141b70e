"""A run's result: what was read, decided, planned and done — and, if it stopped, why.

`procedure.process()` always returns an `Outcome`, whether the run finished, was declined,
failed half-way or was interrupted: every renderer (the Rich summary, `--json`, the Ctrl-C
message, the shift's summary) reads this one object (render.py).
"""

from __future__ import annotations

from msgspec import Struct, field

from cancelbot.decision import Decision
from cancelbot.errors import CancelbotError, ExitCode, Incomplete
from cancelbot.i18n import _
from cancelbot.models import AmazonOrder, BackOfficeOrder, Ticket

# How Amazon was looked up.
AMAZON_FOUND, AMAZON_NOT_FOUND, AMAZON_NOT_CHECKED = "found", "not_found", "not_checked"


class Action(Struct):
    """One change made on one system."""

    system: str  # "GSTK", "Amazon", "Freshdesk"
    what: str
    ref: str = ""  # remote id: GSTK order id, feedId, note id…


class Links(Struct):
    ticket: str = ""
    gstk_order: str = ""
    seller_central_order: str = ""
    contact_buyer: str = ""


class Outcome(Struct):
    """What one run of the procedure read, decided, planned and did."""

    ticket_id: int | None  # None: a buyer's request found on Amazon (amazon_requests.py)
    dry_run: bool = False
    rerun: str = ""  # the command that finishes this run
    # read
    ticket: Ticket | None = None
    order_id: str = ""
    gstk: BackOfficeOrder | None = None
    amazon: AmazonOrder | None = None
    amazon_lookup: str = ""  # AMAZON_FOUND / _NOT_FOUND / _NOT_CHECKED; "" before the lookup
    marketplace_id: str = ""
    marketplace: str = ""  # its name, as shown
    language: str = ""
    language_why: str = ""
    # decided
    branch: str = ""  # a decision.Branch value, or "already_done"
    reason: str = ""
    check: str = ""  # for needs_human: what to look at
    decision: Decision | None = None  # the same, able to say it in a person's language
    # planned and done
    planned: list[str] = field(default_factory=list)  # the changes shown for confirmation
    message: str = ""
    actions: list[Action] = field(default_factory=list)
    unsure: list[str] = field(default_factory=list)  # asked, never answered: re-checked later
    claimed: str = ""  # the 'handling' note id, while the run holds the ticket
    links: Links = field(default_factory=Links)
    # how it ended
    exit_code: int = ExitCode.OK
    error: CancelbotError | None = None
    interrupted: bool = False

    @property
    def looked_up(self) -> bool:
        return bool(self.amazon_lookup)

    def raise_for_error(self) -> Outcome:
        """Raise the error the run stopped with, if any (for callers that want exceptions)."""
        if self.error is not None:
            raise self.error
        return self

    def stop(self, error: CancelbotError) -> None:
        self.error = error
        self.exit_code = error.exit_code

    def stop_part_way(self, exc: CancelbotError, unsure: list[str], finish: str) -> None:
        """The run stopped on `exc`. Before any change that is the error; after one, an
        Incomplete says what was done, what is not known yet, and `finish`: how to go on."""
        self.unsure = unsure
        if isinstance(exc, Incomplete) or not (self.actions or unsure):
            self.stop(exc)
            return
        said = [str(exc).rstrip(".")]
        if self.actions:
            said.append(_("Already done — {done}").format(done="; ".join(
                f"{a.system}: {a.what}" for a in self.actions)))
        if unsure:
            said.append(_("Not known yet whether this went through — {unsure}").format(
                unsure="; ".join(unsure)))
        error = Incomplete(". ".join(said) + ". " + finish)
        error.__cause__ = exc
        self.stop(error)

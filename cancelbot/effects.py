"""Exactly-once changes: every side effect of a job between an intent and an outcome.

`Effects.run(step, do, recheck=…)`:

    done earlier in this job           → skipped, nothing sent
    intent without outcome (a crash)   → `recheck()` asks the remote system; found → done
    otherwise                          → intent, do(), outcome (done, or failed when refused)

The journal keeps the events (journal.py); the claim (claims.py) and the Amazon feeds
(feeds.py) are the two owners of a job's effects.
"""

from __future__ import annotations

from collections.abc import Callable

from cancelbot.errors import CancelbotError, Declined, NeedsHuman, OrderMovedOn, ServiceError
from cancelbot.i18n import N_, _
from cancelbot.journal import DONE, FAILED, INTENT, Event, Journal

# How each step reads in a summary or the history.
STEP_LABELS = {
    "claim": ("Freshdesk", N_("ticket assigned to you")),
    "claim_note": ("Freshdesk", N_("'handling' note added")),
    "gstk_cancel": ("GSTK", N_("order cancelled")),
    "amazon_cancel": ("Amazon", N_("cancellation sent")),
    "reply": ("Freshdesk", N_("reply sent to the buyer")),
    "note": ("Freshdesk", N_("private note added")),
    "status": ("Freshdesk", N_("ticket status set")),
}

NOW, EARLIER, FOUND = "now", "earlier", "found"  # how a step came to be done
# Bookkeeping around the changes: claiming the ticket, and taking the claim back.
CLAIM_STEPS = ("claim", "claim_note", "unclaim", "unclaim_note")


def refused(exc: BaseException) -> bool:
    """True when the error proves the change was not applied (the server said no)."""
    if isinstance(exc, (OrderMovedOn, Declined, NeedsHuman)):
        return True
    return isinstance(exc, ServiceError) and exc.status is not None and 400 <= exc.status < 500


def label(step: str) -> tuple[str, str]:
    """(system, what) for a journal step, e.g. ("GSTK", "order cancelled")."""
    system, what = STEP_LABELS.get(step, ("", step))
    return system, _(what) if step in STEP_LABELS else what


class Effects:
    """The changes of one job (`job_id`) on one ticket (or one order), each done at most once."""

    def __init__(self, journal: Journal, ticket_id: int | None, job_id: str) -> None:
        # ticket_id None: an order-only job's changes (amazon_requests.py)
        self.journal = journal
        self.ticket_id = ticket_id
        self.job_id = job_id

    def done(self, step: str) -> Event | None:
        """The step's done event, when this job did it."""
        last = self.journal.step_state(self.job_id, step)
        return last if last is not None and last.phase == DONE else None

    def done_steps(self) -> list[Event]:
        return self.journal.done_steps(self.job_id)

    def changes(self) -> list[Event]:
        """Steps done or maybe done, beyond claiming the ticket: what makes a run count."""
        return [e for e in self.journal.last_steps(self.job_id)
                if e.phase in (INTENT, DONE) and e.step not in CLAIM_STEPS]

    def unsure(self) -> list[str]:
        """The changes asked for but never answered: they may or may not have happened."""
        return ["{}: {}".format(*label(e.step))
                for e in self.journal.last_steps(self.job_id) if e.phase == INTENT]

    def record_done(self, step: str, ref: str = "", detail: str = "", order_id: str = "") -> None:
        """A step whose exactly-once guard lives elsewhere (Amazon feeds): its outcome only."""
        self.journal.record(self.ticket_id, step, DONE, job_id=self.job_id,
                            order_id=order_id, ref=ref, detail=detail)

    def settle_found(self, step: str, ref: str, detail: str) -> bool:
        """An intent without outcome that the fresh reads show applied: record it done."""
        last = self.journal.step_state(self.job_id, step)
        if last is None or last.phase != INTENT:
            return False
        self.journal.record(self.ticket_id, step, DONE, job_id=self.job_id,
                            order_id=last.order_id, ref=ref, detail=detail)
        return True

    def run(
        self,
        step: str,
        do: Callable[[], str],
        *,
        recheck: Callable[[], str | None] | None = None,
        order_id: str = "",
        detail: str = "",
    ) -> tuple[str, str]:
        """Do the step once: (remote ref, NOW | EARLIER | FOUND)."""
        job_id, journal = self.job_id, self.journal
        last = journal.step_state(job_id, step)
        if last is not None and last.phase == DONE:
            return last.ref, EARLIER
        if last is not None and last.phase == INTENT and recheck is not None:
            # A run stopped between asking and hearing back: did the change happen?
            found = recheck()
            if found is not None:
                journal.record(self.ticket_id, step, DONE, job_id=job_id, order_id=order_id,
                               ref=found, detail="found done when re-checked")
                return found, FOUND
            journal.record(self.ticket_id, step, FAILED, job_id=job_id, order_id=order_id,
                           detail="re-checked: not done, doing it now")
        journal.record(self.ticket_id, step, INTENT, job_id=job_id, order_id=order_id,
                       detail=detail)
        try:
            ref = do()
        except CancelbotError as exc:
            if refused(exc):
                journal.record(self.ticket_id, step, FAILED, job_id=job_id, order_id=order_id,
                               detail=short(str(exc)))
            raise  # anything else may have applied: the intent stays for the next run
        journal.record(self.ticket_id, step, DONE, job_id=job_id, order_id=order_id,
                       ref=str(ref or ""), detail=detail)
        return str(ref or ""), NOW


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Exactly-once changes: every side effect of a job between an intent and an outcome.

`Steps.run(step, do, recheck=…)`:

    done earlier in this job           → skipped, nothing sent
    intent without outcome (a crash)   → `recheck()` asks the remote system; found → done
    otherwise                          → intent, do(), outcome (done, or failed when refused)

Also the marks cancelbot leaves in its private notes, which make the ticket the team's shared
record: every note starts with "cancelbot:" and ends with the job's reference, so a run knows
its own notes from another run's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

from cancelbot.errors import CancelbotError, Declined, NeedsHuman, OrderMovedOn, ServiceError
from cancelbot.journal import DONE, FAILED, INTENT, Event, Job, Journal
from cancelbot.models import Conversation, Ticket

NOTE_MARK = "cancelbot:"  # how the private notes this tool writes begin
CLAIM_MARK = "cancelbot: handling"  # the note that claims a ticket before the first change
ERROR_MARK = "cancelbot: Amazon did NOT cancel"  # a feed error, noted on the ticket
_REF = re.compile(r"\(cancelbot ref ([0-9a-f]{6,32})\)")

# How each step reads in a summary or the history.
STEP_LABELS = {
    "claim": ("Freshdesk", "ticket assigned to you"),
    "claim_note": ("Freshdesk", "'handling' note added"),
    "gstk_cancel": ("GSTK", "order cancelled"),
    "amazon_cancel": ("Amazon", "cancellation sent"),
    "reply": ("Freshdesk", "reply sent to the buyer"),
    "note": ("Freshdesk", "private note added"),
    "status": ("Freshdesk", "ticket status set"),
}

NOW, EARLIER, FOUND = "now", "earlier", "found"  # how a step came to be done
# Bookkeeping around the changes: claiming the ticket, and taking the claim back.
CLAIM_STEPS = ("claim", "claim_note", "unclaim", "unclaim_note")


def ref_tag(job_id: str) -> str:
    return f"(cancelbot ref {job_id})"


def note_ref(text: str) -> str | None:
    """The job reference a cancelbot note ends with, if any."""
    found = _REF.search(text)
    return found.group(1) if found else None


def cancelbot_notes(ticket: Ticket) -> list[Conversation]:
    return [c for c in ticket.conversations
            if c.private and c.body_text.startswith(NOTE_MARK)]


def is_claim(text: str) -> bool:
    return text.startswith(CLAIM_MARK)


def is_error_note(text: str) -> bool:
    return text.startswith(ERROR_MARK)


def claim_note(order_id: str, job_id: str, agent_name: str = "") -> str:
    who = agent_name or "an agent"
    at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{CLAIM_MARK} order {order_id}: {who} started cancelbot on this ticket at {at}. "
            f"Another run should leave it alone. {ref_tag(job_id)}")


def refused(exc: BaseException) -> bool:
    """True when the error proves the change was not applied (the server said no)."""
    if isinstance(exc, (OrderMovedOn, Declined, NeedsHuman)):
        return True
    return isinstance(exc, ServiceError) and exc.status is not None and 400 <= exc.status < 500


class Steps:
    """The journal of one ticket's job, as the procedure uses it."""

    def __init__(self, journal: Journal, ticket_id: int) -> None:
        self.journal = journal
        self.ticket_id = ticket_id
        self.job: Job | None = journal.open_job(ticket_id)

    def begin(self, order_id: str, branch: str) -> Job:
        """Open the job (or go on with the unfinished one) before the first change."""
        if self.job is None:
            self.job = self.journal.start_job(self.ticket_id, order_id, branch)
        elif self.job.branch != branch:
            self.journal.update_job(self.job.job_id, branch=branch)
        return self.job

    def finish(self) -> None:
        if self.job is not None:
            self.journal.update_job(self.job.job_id, state="done")

    def abandon(self) -> None:
        if self.job is not None:
            self.journal.update_job(self.job.job_id, state="abandoned")

    def done(self, step: str) -> Event | None:
        """The step's done event, when this job did it."""
        if self.job is None:
            return None
        last = self.journal.step_state(self.job.job_id, step)
        return last if last is not None and last.phase == DONE else None

    def done_steps(self) -> list[Event]:
        return [] if self.job is None else self.journal.done_steps(self.job.job_id)

    def changes(self) -> list[Event]:
        """Steps done or maybe done, beyond claiming the ticket: what makes a run count."""
        if self.job is None:
            return []
        return [e for e in self.journal.last_steps(self.job.job_id)
                if e.phase in (INTENT, DONE) and e.step not in CLAIM_STEPS]

    def unsure(self) -> list[str]:
        """The changes asked for but never answered: they may or may not have happened."""
        if self.job is None:
            return []
        found = []
        for event in self.journal.last_steps(self.job.job_id):
            if event.phase == INTENT:
                system, what = STEP_LABELS.get(event.step, ("", event.step))
                found.append(f"{system}: {what}")
        row = self.journal.cancellation(self.job.order_id)
        if row is not None and row.state == "sending":
            found.append(f"Amazon: cancellation of {row.order_id}")
        return found

    def record_done(self, step: str, ref: str = "", detail: str = "", order_id: str = "") -> None:
        """A step whose exactly-once guard lives elsewhere (Amazon feeds): its outcome only."""
        assert self.job is not None, "begin() comes before the first change"
        self.journal.record(self.ticket_id, step, DONE, job_id=self.job.job_id,
                            order_id=order_id, ref=ref, detail=detail)

    def settle_found(self, step: str, ref: str, detail: str) -> bool:
        """An intent without outcome that the fresh reads show applied: record it done."""
        if self.job is None:
            return False
        last = self.journal.step_state(self.job.job_id, step)
        if last is None or last.phase != INTENT:
            return False
        self.journal.record(self.ticket_id, step, DONE, job_id=self.job.job_id,
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
        assert self.job is not None, "begin() comes before the first change"
        job_id, journal = self.job.job_id, self.journal
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
                               detail=_short(str(exc)))
            raise  # anything else may have applied: the intent stays for the next run
        journal.record(self.ticket_id, step, DONE, job_id=job_id, order_id=order_id,
                       ref=str(ref or ""), detail=detail)
        return str(ref or ""), NOW


def resume_hint(journal: Journal, ticket_id: int, rerun: str) -> str:
    """After an interrupt: what the journal says was done, and the command that finishes."""
    job = journal.open_job(ticket_id)
    if job is None:
        return f"Nothing was changed. Run `{rerun}` to start again."
    done, unsure = [], []
    for event in journal.last_steps(job.job_id):
        system, what = STEP_LABELS.get(event.step, ("", event.step))
        if event.phase == DONE and event.step not in CLAIM_STEPS:
            done.append(f"{system}: {what}")
        elif event.phase == INTENT:
            unsure.append(f"{system}: {what.replace('sent', 'sending').replace('added', 'adding')}")
    row = journal.cancellation(job.order_id)
    if row is not None and row.ticket_id == ticket_id and row.state == "queued":
        done.append("Amazon: cancellation queued, sent first thing by the next run")
    elif row is not None and row.ticket_id == ticket_id and row.state == "sending":
        unsure.append("Amazon: sending the cancellation")
    text = f"Done so far — {'; '.join(done)}. " if done else "Nothing was changed yet. "
    if unsure:
        text += f"Interrupted while {'; '.join(unsure)} (re-checked on the rerun). "
    return (text + f"Rerun `{rerun}` to finish: it re-checks every unfinished step against "
            "Freshdesk, GSTK and Amazon before doing it.")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

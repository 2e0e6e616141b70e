"""The journal's events as a person reads them: one change per line (`cancelbot history`).

The journal writes an *intent* before each change and its *outcome* after (journal.py). A
change here is an intent paired with its outcome — done, failed, refused, queued — or an
outcome recorded alone (Amazon processing a feed, a cancellation seen done); an intent whose
outcome never came is *unknown*: the run stopped there, and the next run re-checks it. An
uploaded feed document changes nothing on Amazon (createFeed does): it is not a change. The
Amazon step of a job that only mirrors the feed's own events is not listed twice.

`history --json` keeps the raw events; this is only the screen's view of them.
"""

from __future__ import annotations

from msgspec import Struct
from msgspec.structs import replace

from cancelbot.journal import INTENT, Event, Journal

UNKNOWN = "unknown"  # an intent without outcome: the run stopped there
NOT_CHANGES = ("prepared",)  # phases that record work, not a change
FEED_STEP = "amazon_feed"


class Change(Struct, frozen=True):
    at: str  # when it was asked (the intent), or recorded (an outcome alone); ISO UTC
    ticket_id: int | None  # None: an order-only job's
    order_id: str
    job_id: str
    step: str
    result: str  # done, failed, error (Amazon refused), queued, or UNKNOWN
    ref: str
    detail: str
    agent: str


def pair(events: list[Event]) -> list[Change]:
    """The changes of `events` (oldest first), each intent paired with its outcome."""
    found: list[Change] = []
    waiting: dict[tuple[int | None, str, str, str], int] = {}  # intent → its index in found
    fed: set[str] = set()  # orders whose Amazon feed is listed
    for e in events:
        if e.phase in NOT_CHANGES:
            continue
        key = (e.ticket_id, e.job_id, e.step, e.order_id)
        if e.step == FEED_STEP:
            fed.add(e.order_id)
        if e.phase == INTENT:
            # An earlier intent of the same step still waiting keeps UNKNOWN: it never heard.
            waiting[key] = len(found)
            found.append(Change(e.at, e.ticket_id, e.order_id, e.job_id, e.step, UNKNOWN,
                                e.ref, e.detail, e.agent))
            continue
        index = waiting.pop(key, None)
        if index is not None:
            asked = found[index]
            found[index] = replace(asked, result=e.phase, ref=e.ref or asked.ref,
                                   detail=e.detail or asked.detail)
        elif e.step == "amazon_cancel" and e.order_id in fed:
            continue  # the job's record of the feed listed just before
        else:
            found.append(Change(e.at, e.ticket_id, e.order_id, e.job_id, e.step, e.phase,
                                e.ref, e.detail, e.agent))
    return found


def newest(journal: Journal, ticket_id: int | None, limit: int | None) -> tuple[list[Change],
                                                                             bool]:
    """The newest `limit` changes (None: all), oldest first, and whether there are more. The
    events are read from the newest back until they hold more than `limit` changes, so the
    oldest change shown has its intent (the one cut in half is left out)."""
    if limit is None:
        return pair(journal.history(ticket_id, None)), False
    total = journal.count_events(ticket_id)
    want = limit * 3 + 8  # about two events a change
    while True:
        events = journal.history(ticket_id, want)
        found = pair(events)
        if len(events) >= total:
            return found[-limit:], len(found) > limit
        if len(found) > limit:
            return found[-limit:], True
        want *= 2

"""A journal as years of use leave it: `fill(home, jobs=100_000)` for the bench's scale phase.

Each job is one ticket handled on this computer, with the events its run wrote (intent and
outcome of each change); CANCEL jobs also have their Amazon cancellation and feed. The rows are
written straight into the tables the journal creates (one transaction: the journal's own API
commits, and syncs, once per event), with the journal's own column values.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cancelbot import __version__
from cancelbot.journal import FILE_NAME, Journal

FIRST_TICKET = 100_001  # far from the tickets the bench's fake Freshdesk serves
AGENTS = ("camille", "lukas", "oliver")
# The changes of each branch, in order: (step, ref) — each an intent then a done event.
STEPS = {
    "cancel": (("claim_note", "48100000001"), ("gstk_cancel", "GS-1048213"),
               ("amazon_feed", "50012345001"), ("note", "48100000002"), ("status", "5")),
    "cannot_cancel": (("claim_note", "48100000001"), ("reply", "48100000003"),
                      ("status", "4")),
}


def fill(home: Path, jobs: int = 100_000, *, now: datetime | None = None) -> dict[str, int]:
    """Write `jobs` finished jobs, one ticket each, spread over the past years; the counts."""
    Journal.open(home).close()  # the schema, as cancelbot creates it
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=3 * 365)
    step = (now - start) / max(jobs, 1)
    job_rows, event_rows, cancellation_rows, feed_rows = [], [], [], []
    for n in range(jobs):
        at = start + step * n
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        ticket = FIRST_TICKET + n
        branch = "cancel" if n % 5 < 2 else "cannot_cancel"
        order = f"40{n % 8}-{n % 10_000_000:07d}-{(n * 7919) % 10_000_000:07d}"
        job_id = f"{n:012x}"
        agent = AGENTS[n % len(AGENTS)]
        state = "abandoned" if n % 50 == 0 else "done"
        job_rows.append((job_id, ticket, order, branch, state, stamp, stamp, agent, __version__))
        for name, ref in STEPS[branch]:
            for phase in ("intent", "done"):
                event_rows.append((stamp, ticket, job_id, name, phase, order, ref, "", agent,
                                   __version__, 4242))
        if branch == "cancel" and state == "done":
            feed_id = str(50_000_000_000 + n)
            cancellation_rows.append((order, ticket, "A13V1IB3VIYZZH", '["1"]', "done", job_id,
                                      1, feed_id, "", stamp, stamp, stamp))
            feed_rows.append((feed_id, "done", stamp, stamp))
    db = sqlite3.connect(home / FILE_NAME)
    try:
        with db:
            db.executemany("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", job_rows)
            db.executemany(
                "INSERT INTO events (at, ticket_id, job_id, step, phase, order_id, ref, detail, "
                "agent, version, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", event_rows)
            db.executemany(
                "INSERT INTO amazon_cancellations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                cancellation_rows)
            db.executemany("INSERT INTO feeds VALUES (?, ?, ?, ?)", feed_rows)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return {"jobs": len(job_rows), "events": len(event_rows),
            "cancellations": len(cancellation_rows), "feeds": len(feed_rows)}

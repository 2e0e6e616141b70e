"""The journal: every change cancelbot makes, written down before and after, in SQLite.

Before each side effect an *intent* event, after it the *outcome* (done or failed). A run that
dies between the two leaves an intent without an outcome; the next run re-checks the remote
system before it retries anything. The journal also holds the open *job* of each ticket (what a
rerun resumes), the Amazon cancellations waiting for or inside a feed, and per-ticket leases so
that two processes on this computer never work on one ticket at once.

Only ids and short step descriptions are stored: no message text, no buyer data, no secret.
A job is a ticket's, or — ticket_id NULL — an *order-only* job: a buyer's cancellation request
found on Amazon before any ticket named it (amazon_requests.py). The journal also keeps those
requests until they are handled, and the watermark of the last Amazon search.

The file is `journal.sqlite3` in the folder of the run's world (worlds.py:
`<CANCELBOT_HOME>/worlds/<id>/`), so the sandbox and each real account keep apart. WAL mode and
`BEGIN IMMEDIATE` transactions make it safe for several processes at once. The file and its
companions are owner-only and never a symbolic link (private.py).

Schema versions: 1 the first; 2 adds indexes; 3 makes ticket_id nullable (order-only jobs) and
adds the amazon_requests and watermarks tables. A journal of 1 or 2 is upgraded in place.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from msgspec import Struct

from cancelbot import __version__, locks, private
from cancelbot.errors import JournalError, TicketBusy
from cancelbot.i18n import _

FILE_NAME = "journal.sqlite3"
LOCK_NAME = "journal.lock"
ORDER_LOCK_NAME = "journal-orders.lock"  # order-only jobs: one byte per order (a hash of it)
SCHEMA_VERSION = 3
FEEDS_LOCK_KEY = 0  # byte 0 of the lock file; tickets use their own id (always >= 1)

# ticket_id is NULL for an order-only job and its events and cancellation (schema 3).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    ticket_id INTEGER,
    order_id TEXT NOT NULL,
    branch TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'done', 'abandoned')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    agent TEXT NOT NULL,
    version TEXT NOT NULL,
    CHECK (ticket_id IS NOT NULL OR order_id != '')
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_open ON jobs (ticket_id) WHERE state = 'open';
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_open_order ON jobs (order_id)
    WHERE state = 'open' AND ticket_id IS NULL;
CREATE INDEX IF NOT EXISTS jobs_by_order ON jobs (order_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    ticket_id INTEGER,
    job_id TEXT NOT NULL DEFAULT '',
    step TEXT NOT NULL,
    phase TEXT NOT NULL,
    order_id TEXT NOT NULL DEFAULT '',
    ref TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL,
    version TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_ticket ON events (ticket_id, id);
CREATE INDEX IF NOT EXISTS events_by_step ON events (job_id, step, id);
CREATE TABLE IF NOT EXISTS leases (
    ticket_id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    agent TEXT NOT NULL,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS amazon_cancellations (
    order_id TEXT PRIMARY KEY,
    ticket_id INTEGER,
    marketplace_id TEXT NOT NULL,
    item_ids TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'done', 'error')),
    batch_id TEXT,
    message_id INTEGER,
    feed_id TEXT,
    result TEXT NOT NULL DEFAULT '',
    queued_at TEXT NOT NULL,
    sent_at TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'fatal', 'cancelled')),
    created_at TEXT NOT NULL,
    checked_at TEXT
);
CREATE TABLE IF NOT EXISTS amazon_requests (
    order_id TEXT PRIMARY KEY,
    marketplace_id TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    found_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    closed_at TEXT,
    closed_why TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS watermarks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

# From schema 1 or 2: ticket_id becomes nullable in three tables. SQLite cannot relax a NOT NULL in
# place, so each table is copied into its new shape (rowids and ids kept); _SCHEMA then adds
# the indexes and the new tables.
_UPGRADE_NULLABLE_TICKETS = """
CREATE TABLE jobs_2 (
    job_id TEXT PRIMARY KEY, ticket_id INTEGER, order_id TEXT NOT NULL, branch TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'done', 'abandoned')),
    started_at TEXT NOT NULL, finished_at TEXT, agent TEXT NOT NULL, version TEXT NOT NULL,
    CHECK (ticket_id IS NOT NULL OR order_id != '')
);
INSERT INTO jobs_2 (rowid, job_id, ticket_id, order_id, branch, state, started_at, finished_at,
    agent, version) SELECT rowid, job_id, ticket_id, order_id, branch, state, started_at,
    finished_at, agent, version FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_2 RENAME TO jobs;
CREATE TABLE events_2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, ticket_id INTEGER,
    job_id TEXT NOT NULL DEFAULT '', step TEXT NOT NULL, phase TEXT NOT NULL,
    order_id TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '', agent TEXT NOT NULL, version TEXT NOT NULL,
    pid INTEGER NOT NULL
);
INSERT INTO events_2 (id, at, ticket_id, job_id, step, phase, order_id, ref, detail, agent,
    version, pid) SELECT id, at, ticket_id, job_id, step, phase, order_id, ref, detail, agent,
    version, pid FROM events;
DROP TABLE events;
ALTER TABLE events_2 RENAME TO events;
CREATE TABLE amazon_cancellations_2 (
    order_id TEXT PRIMARY KEY, ticket_id INTEGER, marketplace_id TEXT NOT NULL,
    item_ids TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'done', 'error')),
    batch_id TEXT, message_id INTEGER, feed_id TEXT, result TEXT NOT NULL DEFAULT '',
    queued_at TEXT NOT NULL, sent_at TEXT, finished_at TEXT
);
INSERT INTO amazon_cancellations_2 (rowid, order_id, ticket_id, marketplace_id, item_ids, state,
    batch_id, message_id, feed_id, result, queued_at, sent_at, finished_at)
    SELECT rowid, order_id, ticket_id, marketplace_id, item_ids, state, batch_id, message_id,
    feed_id, result, queued_at, sent_at, finished_at FROM amazon_cancellations;
DROP TABLE amazon_cancellations;
ALTER TABLE amazon_cancellations_2 RENAME TO amazon_cancellations;
"""

# Version 2 only adds indexes: one for each lookup that otherwise read a whole table. A journal
# holds every job and cancellation ever made on this computer (100,000 after a few years), and
# the queue asks for one ticket's last job per ticket listed.
_INDEXES_V2 = """
CREATE INDEX IF NOT EXISTS jobs_by_ticket ON jobs (ticket_id, started_at);
CREATE INDEX IF NOT EXISTS cancellations_by_state ON amazon_cancellations (state, queued_at);
CREATE INDEX IF NOT EXISTS cancellations_by_time ON amazon_cancellations (queued_at);
CREATE INDEX IF NOT EXISTS cancellations_by_feed ON amazon_cancellations (feed_id, state);
CREATE INDEX IF NOT EXISTS cancellations_by_batch ON amazon_cancellations (batch_id);
CREATE INDEX IF NOT EXISTS feeds_by_state ON feeds (state, created_at);
CREATE INDEX IF NOT EXISTS feeds_by_time ON feeds (created_at);
"""

# The queries whose plans the tests check (EXPLAIN QUERY PLAN must name an index).
OPEN_JOB = "SELECT * FROM jobs WHERE ticket_id = ? AND state = 'open'"
LAST_JOB = (
    "SELECT * FROM jobs WHERE ticket_id = ? AND state != 'abandoned' "
    "ORDER BY started_at DESC, rowid DESC LIMIT 1"
)
DONE_JOBS = (
    "SELECT * FROM jobs WHERE ticket_id = ? AND state = 'done' ORDER BY started_at, rowid"
)
CANCELLATIONS_IN = (
    "SELECT * FROM amazon_cancellations WHERE state IN ({states}) ORDER BY queued_at, rowid"
)
CANCELLATIONS_OF_FEED = (
    "SELECT * FROM amazon_cancellations WHERE feed_id = ? AND state IN ({states}) "
    "ORDER BY queued_at, rowid"
)
CANCELLATIONS_OF_BATCH = (
    "SELECT * FROM amazon_cancellations WHERE batch_id = ? AND state = 'sending' "
    "ORDER BY message_id"
)
ALL_CANCELLATIONS = "SELECT * FROM amazon_cancellations ORDER BY queued_at, rowid"
NEWEST_CANCELLATIONS = (
    "SELECT * FROM amazon_cancellations ORDER BY queued_at DESC, rowid DESC LIMIT ?"
)
NEWEST_EVENTS = "SELECT * FROM events ORDER BY id DESC LIMIT ?"
NEWEST_EVENTS_OF_TICKET = "SELECT * FROM events WHERE ticket_id = ? ORDER BY id DESC LIMIT ?"
FEEDS_IN = (
    "SELECT * FROM feeds WHERE state IN ({states}) ORDER BY created_at DESC, rowid DESC LIMIT ?"
)
# Settled rows: what `cancelbot feeds` shows only when recent.
IN_FLIGHT = ("queued", "sending", "sent")

# Phases of an event. The last intent/done/failed event of a (job, step) is that step's state.
INTENT, DONE, FAILED = "intent", "done", "failed"


class Event(Struct, frozen=True):
    id: int
    at: str
    ticket_id: int | None  # None: an order-only job's
    job_id: str
    step: str
    phase: str
    order_id: str
    ref: str
    detail: str
    agent: str
    version: str


class Job(Struct, frozen=True):
    job_id: str
    ticket_id: int | None  # None: an order-only job (a buyer's request found on Amazon)
    order_id: str
    branch: str
    state: str
    started_at: str
    finished_at: str | None
    agent: str


class Cancellation(Struct, frozen=True):
    """One Amazon order to cancel through a feed, and where it stands."""

    order_id: str
    ticket_id: int | None  # None: queued by an order-only job
    marketplace_id: str
    item_ids: tuple[str, ...]
    state: str  # queued, sending (createFeed may have applied), sent, done, error
    batch_id: str | None
    message_id: int | None
    feed_id: str | None
    result: str
    queued_at: str
    sent_at: str | None

    @property
    def about(self) -> str:
        """What asked for it, in a sentence: "ticket #1001", or an order-only job's request."""
        return "the buyer's request on Amazon" if self.ticket_id is None \
            else f"ticket #{self.ticket_id}"

    @property
    def rerun(self) -> str:
        """The command that settles it."""
        return "cancelbot queue" if self.ticket_id is None \
            else f"cancelbot process {self.ticket_id}"


class AmazonRequest(Struct, frozen=True):
    """A buyer's cancellation request seen on Amazon, kept until cancelbot handles its order."""

    order_id: str
    marketplace_id: str
    requested_at: str  # the order's lastUpdatedTime when the request was first seen
    found_at: str
    state: str  # open, closed


class Feed(Struct, frozen=True):
    feed_id: str
    state: str
    created_at: str
    checked_at: str | None


def new_id() -> str:
    """12 random hex digits: what `uuid4().hex[:12]` gave (its first 6 bytes are random), without
    loading `uuid`, which loads `platform` — ~10 ms of every run."""
    return os.urandom(6).hex()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_agent() -> str:
    """Who is at the keyboard, for the journal: the OS login name (never a secret)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name on some containers
        return ""


class Journal:
    """One connection to the journal, shared by the threads of one run."""

    def __init__(self, path: Path | None, *, agent: str = "") -> None:
        self.path = path
        self.agent = agent or default_agent()
        self._lock = threading.RLock()
        self._memory_leases: set[tuple[str, int]] = set()
        try:
            if path is not None:
                private.private_folder(path.parent)
                # SQLite opens these by name, following links: none may be one. Owner-only from
                # the first byte (an older, wider file is tightened): the journal says which
                # orders were touched.
                for companion in _companions(path):
                    private.tighten(companion)
                os.close(private.open_file(path, os.O_RDWR | os.O_CREAT))
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path),
                timeout=15.0,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE … COMMIT
                check_same_thread=False,
            )
            self._db.row_factory = sqlite3.Row
            if path is not None:
                self._wal()
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(_("journal {path} was written by a newer cancelbot: upgrade "
                                     "cancelbot").format(path=path))
            if version < SCHEMA_VERSION:
                upgrade = _UPGRADE_NULLABLE_TICKETS if version in (1, 2) else ""
                with self._lock:
                    # executescript commits any open transaction first: the script has its own.
                    # A journal of 1 or 2 has its three tables copied into their nullable
                    # shape (which drops their indexes); _SCHEMA and _INDEXES_V2 are idempotent
                    # and (re)create tables and indexes. Two processes upgrading at once copy
                    # twice, to the same result.
                    self._db.executescript(
                        f"BEGIN IMMEDIATE;{upgrade}{_SCHEMA}{_INDEXES_V2}"
                        f"PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                    )
        except sqlite3.Error as exc:
            raise JournalError(f"journal {path}: {exc}") from exc
        except OSError as exc:
            raise JournalError(f"journal {path}: {exc.strerror or exc}") from exc

    def _wal(self, wait: float = 15.0) -> None:
        """Write-ahead logging, which lets several processes work at once. Switching a new
        journal to it takes the file for a moment and SQLite does not wait for that: two
        windows opening a fresh journal together would see 'database is locked' at once.
        Within `wait` seconds the switch is tried again (it is a no-op once made)."""
        deadline = time.monotonic() + wait
        delay = 0.01
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    @classmethod
    def open(cls, folder: Path, *, agent: str = "") -> Journal:
        """The journal in `folder`: a world's folder (`settings.world.prepare()`), never the bare
        CANCELBOT_HOME, whose journal would be shared by the sandbox and every account."""
        return cls(Path(folder) / FILE_NAME, agent=agent)

    @classmethod
    def memory(cls, *, agent: str = "") -> Journal:
        """A journal that lives as long as the process (for callers without a home folder)."""
        return cls(None, agent=agent)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(LOCK_NAME)

    # -- transactions ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    def _write_one(self, sql: str, params: Sequence[object]) -> None:
        """One statement as its own transaction (SQLite's autocommit: atomic, and durable
        when it returns with synchronous=FULL). One call into SQLite where BEGIN … COMMIT
        takes three: each lets go of the GIL and waits to get it back, ~5 ms apiece while
        another thread is busy (the run's screens beside its claim)."""
        with self._lock:
            try:
                self._db.execute(sql, params)
            except sqlite3.IntegrityError:
                raise  # the statement's own verdict, as from within _write
            except sqlite3.Error as exc:  # busy, locked, disk: as BEGIN or COMMIT would say
                raise JournalError(f"journal {self.path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self.path}: {exc}") from exc

    # -- leases ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, ticket_id: int) -> Iterator[None]:
        """Hold the ticket for this process; TicketBusy when another process holds it."""
        ticket_id = int(ticket_id)
        if ticket_id < 1:
            raise ValueError("ticket ids start at 1")
        if not self._try_lock(ticket_id):
            rows = self._read("SELECT * FROM leases WHERE ticket_id = ?", (ticket_id,))
            who = ""
            if rows:
                from cancelbot.when import clock_time

                row = rows[0]
                who = " (" + ", ".join(filter(None, (
                    _("process {pid}").format(pid=row["pid"]), row["agent"],
                    _("since {time}").format(time=clock_time(row["since"]))))) + ")"
            raise TicketBusy(_(
                "ticket #{id} is being processed by another cancelbot on this computer{who}: "
                "nothing changed; finish that one first").format(id=ticket_id, who=who))
        try:
            with self._write() as db:
                db.execute(
                    "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
                    (ticket_id, os.getpid(), self.agent, now_iso()),
                )
            yield
        finally:
            try:
                with self._write() as db:
                    db.execute(
                        "DELETE FROM leases WHERE ticket_id = ? AND pid = ?",
                        (ticket_id, os.getpid()),
                    )
            finally:
                self._unlock(ticket_id)

    @contextlib.contextmanager
    def lease_order(self, order_id: str) -> Iterator[None]:
        """Hold an order-only job's order for this process; TicketBusy when another has it."""
        key = order_lock_key(order_id)
        if not self._try_lock(key, ORDER_LOCK_NAME):
            raise TicketBusy(_(
                "the Amazon request for order {order} is being processed by another cancelbot "
                "on this computer: nothing changed; finish that one first").format(order=order_id))
        try:
            yield
        finally:
            self._unlock(key, ORDER_LOCK_NAME)

    @contextlib.contextmanager
    def feeds_lease(self, wait: float = 0.0) -> Iterator[bool]:
        """Yield True while this process alone sends or settles Amazon feeds (False: busy)."""
        deadline = time.monotonic() + wait
        while not (got := self._try_lock(FEEDS_LOCK_KEY)) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                self._unlock(FEEDS_LOCK_KEY)

    def _try_lock(self, key: int, name: str = LOCK_NAME) -> bool:
        if self.path is None:
            with self._lock:
                if (name, key) in self._memory_leases:
                    return False
                self._memory_leases.add((name, key))
                return True
        lock = self.path.with_name(name)
        try:
            return locks.try_lock(lock, key)
        except OSError as exc:
            raise JournalError(f"lock file {lock}: {private.reason(exc)}") from exc

    def live_runs(self) -> list[int]:
        """Tickets another process is working on right now (0: one is following the feeds)."""
        rows = self._read("SELECT ticket_id FROM leases ORDER BY ticket_id")
        busy = []
        for key in [FEEDS_LOCK_KEY, *(row["ticket_id"] for row in rows)]:
            if self._try_lock(key):  # a lease row left by a killed run holds no lock
                self._unlock(key)
            else:
                busy.append(key)
        return busy

    def _unlock(self, key: int, name: str = LOCK_NAME) -> None:
        if self.path is None:
            with self._lock:
                self._memory_leases.discard((name, key))
            return
        locks.unlock(self.path.with_name(name), key)

    # -- jobs ------------------------------------------------------------------------------------

    def open_job(self, ticket_id: int) -> Job | None:
        rows = self._read(OPEN_JOB, (int(ticket_id),))
        return _job(rows[0]) if rows else None

    def last_job(self, ticket_id: int) -> Job | None:
        rows = self._read(LAST_JOB, (int(ticket_id),))
        return _job(rows[0]) if rows else None

    def done_jobs(self, ticket_id: int) -> list[Job]:
        """The finished jobs of a ticket, oldest first: one per order it handled (a ticket may
        name several orders, each handled by its own run)."""
        rows = self._read(DONE_JOBS, (int(ticket_id),))
        return [_job(r) for r in rows]

    def open_order_job(self, order_id: str) -> Job | None:
        """The unfinished order-only job of this order, if any."""
        rows = self._read(
            "SELECT * FROM jobs WHERE ticket_id IS NULL AND order_id = ? AND state = 'open'",
            (order_id,),
        )
        return _job(rows[0]) if rows else None

    def jobs_for_order(self, order_id: str) -> list[Job]:
        """Every job about this order — a ticket's or order-only — newest first, abandoned ones
        left out."""
        rows = self._read(
            "SELECT * FROM jobs WHERE order_id = ? AND state != 'abandoned' "
            "ORDER BY started_at DESC, rowid DESC",
            (order_id,),
        )
        return [_job(r) for r in rows]

    def start_job(self, ticket_id: int | None, order_id: str, branch: str) -> Job:
        """Open a ticket's job, or (ticket_id None) an order-only job."""
        if ticket_id is None and not order_id:
            raise ValueError("an order-only job needs its order id")
        job_id = new_id()
        self._write_one(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, 'open', ?, NULL, ?, ?)",
            (job_id, _ticket(ticket_id), order_id, branch, now_iso(), self.agent, __version__),
        )
        rows = self._read("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        if not rows:  # written just above, in its own transaction: the journal lost it
            raise JournalError(f"the journal lost the job it just opened ({job_id})")
        return _job(rows[0])

    def update_job(self, job_id: str, *, branch: str | None = None,
                   state: str | None = None) -> None:
        with self._write() as db:
            if branch is not None:
                db.execute("UPDATE jobs SET branch = ? WHERE job_id = ?", (branch, job_id))
            if state is not None:
                finished = now_iso() if state != "open" else None
                db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ? WHERE job_id = ?",
                    (state, finished, job_id),
                )

    # -- events ----------------------------------------------------------------------------------

    def record(
        self,
        ticket_id: int | None,
        step: str,
        phase: str,
        *,
        job_id: str = "",
        order_id: str = "",
        ref: str = "",
        detail: str = "",
    ) -> None:
        self._write_one(
            "INSERT INTO events (at, ticket_id, job_id, step, phase, order_id, ref, detail, "
            "agent, version, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now_iso(), _ticket(ticket_id), job_id, step, phase, order_id, str(ref),
             detail, self.agent, __version__, os.getpid()),
        )

    def step_state(self, job_id: str, step: str) -> Event | None:
        """The last intent, done or failed event of this step of this job."""
        rows = self._read(
            "SELECT * FROM events WHERE job_id = ? AND step = ? AND phase IN (?, ?, ?) "
            "ORDER BY id DESC LIMIT 1",
            (job_id, step, INTENT, DONE, FAILED),
        )
        return _event(rows[0]) if rows else None

    def done_steps(self, job_id: str) -> list[Event]:
        """Each step of the job whose last state is done, in the order they were done."""
        return [e for e in self.last_steps(job_id) if e.phase == DONE]

    def last_steps(self, job_id: str) -> list[Event]:
        """The last intent, done or failed event of each step of the job, oldest first."""
        rows = self._read(
            "SELECT * FROM events e WHERE job_id = ? AND id = (SELECT MAX(id) FROM events "
            "WHERE job_id = e.job_id AND step = e.step AND phase IN (?, ?, ?)) ORDER BY id",
            (job_id, INTENT, DONE, FAILED),
        )
        return [_event(r) for r in rows]

    def history(self, ticket_id: int | None = None, limit: int | None = 200) -> list[Event]:
        """The newest `limit` events (None: all), oldest first (of one ticket, or of all)."""
        bound = -1 if limit is None else limit  # SQLite: a negative LIMIT is no limit
        if ticket_id is None:
            rows = self._read(NEWEST_EVENTS, (bound,))
        else:
            rows = self._read(NEWEST_EVENTS_OF_TICKET, (int(ticket_id), bound))
        return [_event(r) for r in reversed(rows)]

    def changed_since(self, ticket_id: int, at: str) -> bool:
        """Whether a run on this computer recorded anything on the ticket at or after `at`
        (a `now_iso()` time: to the second, so a change in that same second counts too)."""
        rows = self._read("SELECT 1 FROM events WHERE ticket_id = ? AND at >= ? LIMIT 1",
                          (int(ticket_id), at))
        return bool(rows)

    def count_events(self, ticket_id: int | None = None) -> int:
        """How many events `history(ticket_id, limit=None)` would return."""
        if ticket_id is None:
            rows = self._read("SELECT COUNT(*) FROM events")
        else:
            rows = self._read("SELECT COUNT(*) FROM events WHERE ticket_id = ?", (int(ticket_id),))
        return int(rows[0][0])

    # -- Amazon cancellations and feeds ----------------------------------------------------------

    def cancellation(self, order_id: str) -> Cancellation | None:
        rows = self._read("SELECT * FROM amazon_cancellations WHERE order_id = ?", (order_id,))
        return _cancellation(rows[0]) if rows else None

    def cancellations(self, *states: str, feed_id: str | None = None) -> list[Cancellation]:
        """The cancellations in these states (default: every state), oldest first; of one feed
        when `feed_id` is given. Every state at once reads the whole table: `cancelbot feeds`
        uses `recent_cancellations` instead."""
        if not states and feed_id is None:
            return [_cancellation(r) for r in self._read(ALL_CANCELLATIONS)]
        if not states:
            states = ("queued", "sending", "sent", "done", "error")
        marks = ",".join("?" * len(states))
        if feed_id is None:
            rows = self._read(CANCELLATIONS_IN.format(states=marks), states)
        else:
            rows = self._read(CANCELLATIONS_OF_FEED.format(states=marks), (feed_id, *states))
        return [_cancellation(r) for r in rows]

    def recent_cancellations(self, limit: int | None) -> tuple[list[Cancellation], int]:
        """What `cancelbot feeds` shows, oldest first: every cancellation still in flight
        (queued, sending, sent) and the newest `limit` of all (None: all); and how many the
        journal holds in all."""
        total = int(self._read("SELECT COUNT(*) FROM amazon_cancellations")[0][0])
        if limit is None or limit >= total:
            return self.cancellations(), total
        rows = {r.order_id: r for r in self.cancellations(*IN_FLIGHT)}
        for row in self._read(NEWEST_CANCELLATIONS, (limit,)):
            rows.setdefault(row["order_id"], _cancellation(row))
        return sorted(rows.values(), key=lambda r: r.queued_at), total

    def queue_cancellation(
        self, ticket_id: int | None, order_id: str, marketplace_id: str, item_ids: Sequence[str]
    ) -> Cancellation:
        """Queue the order for the next feed, unless it is already known; its row either way."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO amazon_cancellations (order_id, ticket_id, marketplace_id, "
                "item_ids, state, queued_at) VALUES (?, ?, ?, ?, 'queued', ?)",
                (order_id, _ticket(ticket_id), marketplace_id, json.dumps(list(item_ids)),
                 now_iso()),
            )
        found = self.cancellation(order_id)
        if found is None:  # written just above: the journal lost it
            raise JournalError(f"the journal lost the cancellation of order {order_id}")
        return found

    def take_batch(self) -> tuple[str, list[Cancellation]]:
        """Move every queued cancellation into one new batch (state sending), atomically."""
        batch_id = new_id()
        with self._write() as db:
            rows = db.execute(
                "SELECT order_id FROM amazon_cancellations WHERE state = 'queued' "
                "ORDER BY queued_at, rowid"
            ).fetchall()
            at = now_iso()
            for number, row in enumerate(rows, start=1):
                db.execute(
                    "UPDATE amazon_cancellations SET state = 'sending', batch_id = ?, "
                    "message_id = ?, sent_at = ? WHERE order_id = ?",
                    (batch_id, number, at, row["order_id"]),
                )
        rows = self._read(CANCELLATIONS_OF_BATCH, (batch_id,))
        return batch_id, [_cancellation(r) for r in rows]

    def batch_sent(self, batch_id: str, feed_id: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE amazon_cancellations SET state = 'sent', feed_id = ? WHERE batch_id = ?",
                (feed_id, batch_id),
            )
            db.execute(
                "INSERT OR IGNORE INTO feeds VALUES (?, 'pending', ?, NULL)", (feed_id, now_iso())
            )

    def batch_not_sent(self, batch_id: str) -> None:
        """createFeed was refused (429) or never reached Amazon: back in the queue."""
        with self._write() as db:
            db.execute(
                "UPDATE amazon_cancellations SET state = 'queued', batch_id = NULL, "
                "message_id = NULL, sent_at = NULL WHERE batch_id = ? AND state = 'sending'",
                (batch_id,),
            )

    def settle_cancellation(self, order_id: str, state: str, result: str = "",
                            feed_id: str | None = None) -> None:
        with self._write() as db:
            if state == "queued":
                db.execute(
                    "UPDATE amazon_cancellations SET state = 'queued', batch_id = NULL, "
                    "message_id = NULL, sent_at = NULL, feed_id = NULL, result = '' "
                    "WHERE order_id = ?",
                    (order_id,),
                )
                return
            db.execute(
                "UPDATE amazon_cancellations SET state = ?, result = ?, finished_at = ?, "
                "feed_id = COALESCE(?, feed_id) WHERE order_id = ?",
                (state, result, now_iso(), feed_id, order_id),
            )

    def feeds(self, *states: str, limit: int = 50) -> list[Feed]:
        """The newest `limit` feeds in these states (default: every state), newest first."""
        states = states or ("pending", "done", "fatal", "cancelled")
        sql = FEEDS_IN.format(states=",".join("?" * len(states)))
        rows = self._read(sql, (*states, limit))
        return [Feed(r["feed_id"], r["state"], r["created_at"], r["checked_at"]) for r in rows]

    def feed_checked(self, feed_id: str, state: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE feeds SET state = ?, checked_at = ? WHERE feed_id = ?",
                (state, now_iso(), feed_id),
            )

    # -- buyers' requests found on Amazon, and the search's watermark ----------------------------

    def note_requests(self, found: Sequence[tuple[str, str, str]]) -> list[str]:
        """Remember (order id, marketplace id, requested at) requests; the order ids that were
        new. A request already known — open or closed — is left as it is."""
        new = []
        with self._write() as db:
            for order_id, marketplace_id, requested_at in found:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO amazon_requests (order_id, marketplace_id, "
                    "requested_at, found_at, state) VALUES (?, ?, ?, ?, 'open')",
                    (order_id, marketplace_id, requested_at, now_iso()),
                )
                if cursor.rowcount:
                    new.append(order_id)
        return new

    def open_requests(self) -> list[AmazonRequest]:
        rows = self._read("SELECT * FROM amazon_requests WHERE state = 'open' "
                          "ORDER BY requested_at, order_id")
        return [AmazonRequest(r["order_id"], r["marketplace_id"], r["requested_at"],
                              r["found_at"], r["state"]) for r in rows]

    def close_request(self, order_id: str, why: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE amazon_requests SET state = 'closed', closed_at = ?, closed_why = ? "
                "WHERE order_id = ? AND state = 'open'",
                (now_iso(), why, order_id),
            )

    def watermark(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM watermarks WHERE name = ?", (name,))
        return str(rows[0]["value"]) if rows else None

    def set_watermark(self, name: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?)",
                       (name, value, now_iso()))



def _companions(path: Path) -> list[Path]:
    """The journal's files: the database, SQLite's write-ahead log and shared memory."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def files(folder: Path) -> list[Path]:
    """Every file of the journal in `folder`, the lock files included."""
    return [*_companions(Path(folder) / FILE_NAME), Path(folder) / LOCK_NAME,
            Path(folder) / ORDER_LOCK_NAME]


def order_lock_key(order_id: str) -> int:
    """The byte of the order lock file for this order: a 31-bit hash (two orders sharing one
    only make one of them wait)."""
    return zlib.crc32(order_id.strip().encode("utf-8")) & 0x7FFFFFFF


def _ticket(ticket_id: int | None) -> int | None:
    return None if ticket_id is None else int(ticket_id)


def _event(row: sqlite3.Row) -> Event:
    return Event(row["id"], row["at"], row["ticket_id"], row["job_id"], row["step"],
                 row["phase"], row["order_id"], row["ref"], row["detail"], row["agent"],
                 row["version"])


def _job(row: sqlite3.Row) -> Job:
    return Job(row["job_id"], row["ticket_id"], row["order_id"], row["branch"], row["state"],
               row["started_at"], row["finished_at"], row["agent"])


def _cancellation(row: sqlite3.Row) -> Cancellation:
    return Cancellation(
        order_id=row["order_id"],
        ticket_id=row["ticket_id"],
        marketplace_id=row["marketplace_id"],
        item_ids=tuple(json.loads(row["item_ids"])),
        state=row["state"],
        batch_id=row["batch_id"],
        message_id=row["message_id"],
        feed_id=row["feed_id"],
        result=row["result"],
        queued_at=row["queued_at"],
        sent_at=row["sent_at"],
    )

"""The SQLite journal (issue 3 §1): safe with several processes, ids only, shown by history."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import ScriptedAgent, journal_dir, run
from typer.testing import CliRunner

from cancelbot import sandbox
from cancelbot.cli import app
from cancelbot.errors import JournalError, TicketBusy
from cancelbot.journal import _INDEXES_V2, FILE_NAME, SCHEMA_VERSION, Journal
from cancelbot.sandbox import load

HOLD_LEASE = """
import sys, time
from pathlib import Path
from cancelbot.journal import Journal
with Journal.open(Path(sys.argv[1])) as journal, journal.lease(1001):
    print("held", flush=True)
    time.sleep(60)
"""


def _write_many(home: str, worker: int) -> None:
    with Journal.open(Path(home), agent=f"worker {worker}") as journal:
        for n in range(100):
            journal.record(1000 + worker, "note", "intent", ref=str(n))


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # as on Windows and macOS
    workers = [context.Process(target=_write_many, args=(str(tmp_path), n)) for n in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    with Journal.open(tmp_path) as journal:
        events = journal.history(limit=1000)
    assert len(events) == 200 and len({e.id for e in events}) == 200
    assert sorted({e.agent for e in events}) == ["worker 1", "worker 2"]


def test_the_journal_is_wal_and_owner_only(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_lease_held_by_another_process_refuses_and_dies_with_it(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with Journal.open(tmp_path) as journal:
            with pytest.raises(TicketBusy, match=f"process {holder.pid}"), journal.lease(1001):
                pass
            with journal.lease(1002):  # another ticket is free
                pass
            holder.kill()  # SIGKILL / TerminateProcess: no clean-up runs in the holder
            holder.wait(10)
            deadline = time.monotonic() + 5
            while True:  # the OS drops the dead holder's lock
                try:
                    with journal.lease(1001):
                        break
                except TicketBusy:
                    assert time.monotonic() < deadline, "the lease outlived its process"
                    time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait(10)


def test_a_journal_from_a_newer_cancelbot_is_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="newer cancelbot"):
        Journal.open(tmp_path)


def test_a_damaged_journal_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match=f"journal .*{FILE_NAME}"):
        Journal.open(tmp_path)


def test_the_journal_holds_ids_only(tmp_path: Path) -> None:
    run(tmp_path, 1001, ScriptedAgent(yes=True))
    run(tmp_path, 1002, ScriptedAgent(yes=True))
    state = load(tmp_path)
    stored = b"".join(p.read_bytes() for p in journal_dir(tmp_path).glob(FILE_NAME + "*"))
    secrets = [v for k, v in sandbox.sandbox_environment().items()
               if k.endswith(("KEY", "TOKEN", "SECRET"))]
    buyers = [c[k] for c in state["freshdesk"]["contacts"].values() for k in ("name", "email")
              if "@marketplace." in c["email"]]  # not Amazon's own notifier
    sent = [c["body_text"][:40] for t in state["freshdesk"]["tickets"].values()
            for c in t["conversations"] if not c["incoming"]]
    assert sent, "the runs wrote a reply and notes"
    for text in (*secrets, *buyers, *sent, "Atza|"):
        assert text.encode("utf-8") not in stored, text
    with Journal.open(journal_dir(tmp_path)) as journal:
        assert {e.ticket_id for e in journal.history()} == {1001, 1002}


def test_history_shows_each_change_of_a_ticket(tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    home = Path(os.environ["CANCELBOT_HOME"])
    empty = runner.invoke(app, ["history", "--sandbox"])
    assert empty.exit_code == 0 and "Nothing in the journal" in empty.output
    assert not list(home.rglob(FILE_NAME)), "not created to say so"

    run(home, 1001, ScriptedAgent(yes=True))
    run(home, 1002, ScriptedAgent(yes=True))
    result = runner.invoke(app, ["history", "1001", "--sandbox"])
    assert result.exit_code == 0, result.output
    for change in ("Freshdesk: 'handling' note", "GSTK: cancel the order GS-1048213",
                   "Amazon: cancellation feed", "Freshdesk: private note",
                   "Freshdesk: ticket status → closed"):
        assert change in result.output
    assert "#1002" not in result.output
    assert "#1002" in runner.invoke(app, ["history", "--sandbox"]).output
    bad = runner.invoke(app, ["history", "abc", "--sandbox"])
    assert bad.exit_code == 2 and "positive whole number" in bad.output


# The journal as cancelbot wrote it before order-only jobs (schema 1): ticket_id NOT NULL.
SCHEMA_1 = """
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, ticket_id INTEGER NOT NULL, order_id TEXT NOT NULL,
    branch TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('open', 'done', 'abandoned')),
    started_at TEXT NOT NULL, finished_at TEXT, agent TEXT NOT NULL, version TEXT NOT NULL);
CREATE UNIQUE INDEX jobs_one_open ON jobs (ticket_id) WHERE state = 'open';
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    ticket_id INTEGER NOT NULL, job_id TEXT NOT NULL DEFAULT '', step TEXT NOT NULL,
    phase TEXT NOT NULL, order_id TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '', agent TEXT NOT NULL, version TEXT NOT NULL,
    pid INTEGER NOT NULL);
CREATE TABLE leases (ticket_id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, agent TEXT NOT NULL,
    since TEXT NOT NULL);
CREATE TABLE amazon_cancellations (order_id TEXT PRIMARY KEY, ticket_id INTEGER NOT NULL,
    marketplace_id TEXT NOT NULL, item_ids TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN
    ('queued', 'sending', 'sent', 'done', 'error')), batch_id TEXT, message_id INTEGER,
    feed_id TEXT, result TEXT NOT NULL DEFAULT '', queued_at TEXT NOT NULL, sent_at TEXT,
    finished_at TEXT);
CREATE TABLE feeds (feed_id TEXT PRIMARY KEY, state TEXT NOT NULL CHECK (state IN ('pending',
    'done', 'fatal', 'cancelled')), created_at TEXT NOT NULL, checked_at TEXT);
INSERT INTO jobs VALUES ('a1b2c3d4e5f6', 1001, '402-3815274-6120358', 'cancel', 'open',
    '2026-11-27T09:00:00Z', NULL, 'camille', '0.1.0');
INSERT INTO events (at, ticket_id, job_id, step, phase, order_id, ref, detail, agent, version,
    pid) VALUES ('2026-11-27T09:00:01Z', 1001, 'a1b2c3d4e5f6', 'gstk_cancel', 'done',
    '402-3815274-6120358', 'GS-1048213', '', 'camille', '0.1.0', 42);
INSERT INTO amazon_cancellations (order_id, ticket_id, marketplace_id, item_ids, state,
    queued_at) VALUES ('402-3815274-6120358', 1001, 'A13V1IB3VIYZZH', '["1"]', 'queued',
    '2026-11-27T09:00:02Z');
PRAGMA user_version = 1;
"""


# Schema 2 (main's): schema 1 and its indexes, ticket_id still NOT NULL.
SCHEMA_2 = SCHEMA_1.replace("PRAGMA user_version = 1;", _INDEXES_V2 + "PRAGMA user_version = 2;")


@pytest.mark.parametrize("old", [SCHEMA_1, SCHEMA_2], ids=["schema-1", "schema-2"])
def test_a_journal_of_a_previous_schema_is_upgraded_keeping_every_row(tmp_path: Path,
                                                                       old: str) -> None:
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        db.executescript(old)
    with Journal.open(tmp_path) as journal:
        job = journal.open_job(1001)
        assert job is not None and job.job_id == "a1b2c3d4e5f6"
        [event] = journal.history(1001)
        assert (event.step, event.ref) == ("gstk_cancel", "GS-1048213")
        assert journal.cancellation("402-3815274-6120358").state == "queued"
        # What schema 1 could not hold: a job, an event and a cancellation without a ticket.
        order_job = journal.start_job(None, "403-6618204-5193342", "cancel")
        journal.record(None, "gstk_cancel", "intent", job_id=order_job.job_id,
                       order_id="403-6618204-5193342")
        journal.queue_cancellation(None, "403-6618204-5193342", "A13V1IB3VIYZZH", ["1"])
        assert journal.open_order_job("403-6618204-5193342") == order_job
        assert journal.history()[-1].ticket_id is None
        journal.record(1001, "note", "intent", job_id=job.job_id)
        assert journal.history(1001)[-1].id == 3, "ids go on from the copied rows"
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        # schema 2's indexes survive the copy of their tables; schema 3's are added
        assert {"jobs_by_ticket", "cancellations_by_state", "feeds_by_state", "jobs_one_open",
                "jobs_by_order", "jobs_one_open_order"} <= indexes
        nullable = {r[1]: r[3] for r in db.execute("PRAGMA table_info(events)")}
        assert nullable["ticket_id"] == 0, "NOT NULL dropped"


def test_an_event_or_a_job_the_disk_refuses_is_a_journal_error(tmp_path: Path,
                                                              monkeypatch) -> None:
    """record() and start_job() write one statement in its own transaction: SQLite's refusal
    (disk, lock) reaches the run as a JournalError — one line — and nothing half-written."""

    class Refusing:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, params: object = ()) -> sqlite3.Cursor:
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("disk I/O error")
            return self.db.execute(sql, params)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return getattr(self.db, name)

    with Journal.open(tmp_path) as journal:
        job = journal.start_job(1001, "402-3815274-6120358", "cancel")
        monkeypatch.setattr(journal, "_db", Refusing(journal._db))
        with pytest.raises(JournalError, match="disk I/O error"):
            journal.record(1001, "claim_note", "intent", job_id=job.job_id)
        with pytest.raises(JournalError, match="disk I/O error"):
            journal.start_job(1002, "302-5521908-4417736", "cannot_cancel")
        monkeypatch.undo()
        assert journal.last_steps(job.job_id) == []
        assert [j.ticket_id for j in journal.jobs_for_order("302-5521908-4417736")] == []


def test_order_only_jobs_one_open_per_order_and_one_process_per_order(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        first = journal.start_job(None, "403-6618204-5193342", "cancel")
        with pytest.raises(sqlite3.IntegrityError):
            journal.start_job(None, "403-6618204-5193342", "cancel")
        journal.start_job(1012, "403-6618204-5193342", "already_cancelled")  # its ticket's
        assert [j.ticket_id for j in journal.jobs_for_order("403-6618204-5193342")] == [
            1012, None]
        assert journal.open_order_job("403-6618204-5193342") == first
        with pytest.raises(ValueError):
            journal.start_job(None, "", "cancel")
        with journal.lease_order("403-6618204-5193342"):
            with pytest.raises(TicketBusy, match="Amazon request for order 403"), \
                    journal.lease_order("403-6618204-5193342"):
                pass
            with journal.lease_order("402-3815274-6120358"):  # another order: free
                pass
        with journal.lease_order("403-6618204-5193342"):  # let go: free again
            pass


OPEN_AT = """
import sys, time
from pathlib import Path
from cancelbot.journal import Journal
folder, at, ticket = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
while time.time() < at:
    pass
with Journal.open(folder) as journal:
    journal.start_job(ticket, "402-1234567-1234567", "cancel")
"""


@pytest.mark.slow
def test_two_windows_opening_a_fresh_journal_at_once_both_work(tmp_path):
    """Two cancelbot windows started together on a new computer: the second used to stop with
    'database is locked' in about 4 of 10 tries (switching to WAL does not wait)."""
    import subprocess
    import sys
    import time

    for trial in range(12):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir(mode=0o700)
        at = str(time.time() + 0.8)  # both past their imports: they open the file together
        runs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(folder), at, str(n)],
                                 stderr=subprocess.PIPE, text=True) for n in (1, 2)]
        errors = [run.communicate(timeout=60)[1] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], (trial, errors)
        with Journal.open(folder) as journal:
            assert journal.open_job(1) and journal.open_job(2)

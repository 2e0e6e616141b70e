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
from cancelbot.journal import FILE_NAME, Journal
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
    for step in ("claim_note", "gstk_cancel", "amazon_cancel", "note", "status"):
        assert step in result.output
    assert "#1002" not in result.output
    assert "#1002" in runner.invoke(app, ["history", "--sandbox"]).output
    bad = runner.invoke(app, ["history", "abc", "--sandbox"])
    assert bad.exit_code == 2 and "positive whole number" in bad.output

"""A journal of years: indexed lookups, recent entries by default, long tables as plain lines.

Structure only (which index a query uses, what is shown): the timings are the bench's.
"""

from __future__ import annotations

import io
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cancelbot import journal as journal_module
from cancelbot.changes import pair
from cancelbot.cli import FEEDS_LIMIT, HISTORY_LIMIT, app
from cancelbot.journal import FILE_NAME, SCHEMA_VERSION, Journal
from cancelbot.render import PLAIN_ROWS, TableConsole, render_history

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fakes import journal_dir  # noqa: E402

from bench.journal_fill import FIRST_TICKET, fill  # noqa: E402

INDEXES = {"jobs_by_ticket", "cancellations_by_state", "cancellations_by_time",
           "cancellations_by_feed", "cancellations_by_batch", "feeds_by_state", "feeds_by_time"}


def plan(home: Path, sql: str, params: tuple) -> str:
    with sqlite3.connect(home / FILE_NAME) as db:
        return " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))


def run(*args: str):
    return CliRunner().invoke(app, list(args))


# -- indexes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "params", "index"), [
    (journal_module.LAST_JOB, (1001,), "jobs_by_ticket"),
    (journal_module.OPEN_JOB, (1001,), "jobs_"),  # jobs_one_open or jobs_by_ticket
    (journal_module.CANCELLATIONS_IN.format(states="?"), ("sent",), "cancellations_by_state"),
    (journal_module.CANCELLATIONS_OF_FEED.format(states="?"), ("5001", "sent"),
     "cancellations_by_"),
    (journal_module.CANCELLATIONS_OF_BATCH, ("b1",), "cancellations_by_batch"),
    (journal_module.NEWEST_CANCELLATIONS, (50,), "cancellations_by_time"),
    (journal_module.ALL_CANCELLATIONS, (), "cancellations_by_time"),
    (journal_module.NEWEST_EVENTS_OF_TICKET, (1001, 100), "events_by_ticket"),
    (journal_module.FEEDS_IN.format(states="?"), ("pending", 50), "feeds_by_state"),
])
def test_each_lookup_uses_an_index(isolated_env, sql: str, params: tuple, index: str) -> None:
    fill(isolated_env, jobs=200)
    with sqlite3.connect(isolated_env / FILE_NAME) as db:
        db.execute("ANALYZE")  # the planner with statistics, as after long use
    found = plan(isolated_env, sql, params)
    assert f"INDEX {index}" in found, found
    assert not re.search(r"\bSCAN (jobs|amazon_cancellations|feeds)\b(?! USING)", found), found


def test_a_version_1_journal_gains_the_indexes_and_keeps_its_rows(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.record(1001, "note", "intent", ref="1")
        job = journal.start_job(1001, "402-3815274-6120358", "cancel")
    with sqlite3.connect(tmp_path / FILE_NAME) as db:  # as cancelbot's schema 1 left it
        for name in INDEXES:
            db.execute(f"DROP INDEX {name}")
        db.execute("PRAGMA user_version = 1")
    with Journal.open(tmp_path) as journal:
        assert journal.last_job(1001) == job
        assert [e.ref for e in journal.history(1001)] == ["1"]
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert INDEXES <= names


def test_last_job_is_the_newest_not_abandoned_among_many(tmp_path: Path) -> None:
    fill(tmp_path, jobs=300)
    with Journal.open(tmp_path) as journal:
        first = journal.start_job(FIRST_TICKET + 7, "402-3815274-6120358", "cancel")
        journal.update_job(first.job_id, state="done")
        second = journal.start_job(FIRST_TICKET + 7, "402-3815274-6120358", "cancel")
        journal.update_job(second.job_id, state="abandoned")
        last = journal.last_job(FIRST_TICKET + 7)
    assert last is not None and last.job_id == first.job_id


# -- what history and feeds show ----------------------------------------------------------------


def data_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"#\d{4,}", line)]


def test_history_shows_the_newest_entries_unless_asked_for_all(isolated_env) -> None:
    counts = fill(journal_dir(isolated_env), jobs=30)
    # One line per change (an intent and its outcome): half as many lines as events.
    total = counts["events"] // 2
    assert total > HISTORY_LIMIT

    default = run("history", "--sandbox")
    assert default.exit_code == 0, default.output
    assert len(data_lines(default.stdout)) == HISTORY_LIMIT
    assert f"The newest {HISTORY_LIMIT} changes: --limit N or --all" in default.stderr
    newest = FIRST_TICKET + 29
    assert f"#{newest}" in data_lines(default.stdout)[-1], "oldest first, ending on the newest"

    everything = run("history", "--sandbox", "--all")
    assert len(data_lines(everything.stdout)) == total and "newest" not in everything.stderr
    assert len(data_lines(run("history", "--sandbox", "--limit", "7").stdout)) == 7
    assert run("history", "--sandbox", "--limit", "0").exit_code == 2


def test_feeds_shows_the_newest_and_every_one_in_flight(isolated_env) -> None:
    counts = fill(journal_dir(isolated_env), jobs=200)
    assert counts["cancellations"] > FEEDS_LIMIT
    # years ago, and still not settled:
    with sqlite3.connect(journal_dir(isolated_env) / FILE_NAME) as db:
        db.execute("INSERT INTO amazon_cancellations (order_id, ticket_id, marketplace_id, "
                   "item_ids, state, feed_id, queued_at, sent_at) VALUES ('171-0000001-0000001',"
                   " 99, 'APJ6JRA9NG5V4', '[]', 'sent', '42', '2020-01-01T00:00:00Z', "
                   "'2020-01-01T00:00:00Z')")

    default = run("feeds", "--sandbox")
    assert default.exit_code == 0, default.output
    rows = feed_rows(default.stdout)  # one line per row: a narrow column may wrap onto more
    assert len(rows) == FEEDS_LIMIT + 1
    assert rows[0].startswith("171-0000001-"), "in flight: shown however old"
    total = counts["cancellations"] + 1
    assert f"The newest {FEEDS_LIMIT + 1} of {total} cancellations" in default.stderr

    everything = run("feeds", "--sandbox", "--all")
    assert len(feed_rows(everything.stdout)) == total


def feed_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r" #\d+ ", line)]


# -- long tables --------------------------------------------------------------------------------


def test_a_long_table_is_the_same_rows_as_plain_aligned_lines(tmp_path: Path) -> None:
    fill(tmp_path, jobs=80)
    with Journal.open(tmp_path) as journal:
        changes = pair(journal.history(limit=None))
    assert len(changes) > PLAIN_ROWS

    def printed(console_type) -> list[str]:
        out = io.StringIO()
        render_history(console_type(file=out, width=250), changes, None)
        return out.getvalue().splitlines()

    rich, plain = printed(Console), printed(TableConsole)
    assert [line.split() for line in plain] == [line.split() for line in rich]
    # Aligned: every row's ticket column starts where the header's does.
    header = next(n for n, line in enumerate(plain) if line.startswith("When "))
    column = plain[header].index("Ticket")
    assert all(line[column] == "#" for line in plain[header + 1:header + 1 + len(changes)])

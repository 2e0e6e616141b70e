"""`cancelbot history` (issue 14 part 5): one line per change — what, when (local time), who,
result — readable at 80 columns, in the agent's language; `--json` keeps the raw events."""

from __future__ import annotations

import json
import sqlite3

from fakes import ScriptedAgent, journal_dir, run
from rich.cells import cell_len
from typer.testing import CliRunner

from cancelbot.changes import UNKNOWN, pair
from cancelbot.cli import app
from cancelbot.journal import DONE, FAILED, FILE_NAME, INTENT, Journal

STOPPED = "the run stopped before hearing back"


def history(*args: str):
    result = CliRunner().invoke(app, ["history", *args, "--sandbox"])
    assert result.exit_code == 0, result.output
    return result


def test_one_line_per_change_at_80_columns(home, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    run(home, 1001, ScriptedAgent(yes=True))
    run(home, 1010, ScriptedAgent([0, True]))  # two orders: the unshipped one
    one = history("1001").stdout.splitlines()
    changes = [line for line in one if line.rstrip().endswith("done")]
    assert len(changes) == 5, one  # 'handling' note, GSTK, Amazon's feed, note, status
    assert "GSTK: cancel the order GS-1048213" in "\n".join(changes)
    assert "Freshdesk: ticket status → closed" in changes[-1]
    assert not any(word in "\n".join(one) for word in ("intent", "claim_note", STOPPED))
    for output in (history().stdout, history("1010").stdout):
        assert all(cell_len(line) <= 80 for line in output.splitlines()), output
    assert "407-2290518-3346071" in history("1010").stdout, "two orders: the order column"


def test_only_an_intent_without_outcome_is_unknown(home):
    with Journal.open(journal_dir(home)) as journal:
        for step, phases in (("gstk_cancel", (INTENT, DONE)), ("note", (INTENT,))):
            for phase in phases:
                journal.record(1001, step, phase, job_id="j1", order_id="402-3815274-6120358",
                               ref="GS-1" if phase == DONE else "")
        assert [c.result for c in pair(journal.history(1001))] == [DONE, UNKNOWN]
    shown = history("1001").stdout
    lines = [line for line in shown.splitlines() if "GSTK" in line or "private note" in line]
    assert lines[0].rstrip().endswith("done") and lines[1].rstrip().endswith("unknown")
    assert STOPPED in shown


def test_a_recheck_is_paired_with_the_intent_it_settles(tmp_path):
    with Journal.open(tmp_path) as journal:
        # A run stopped after asking; the next found it done.
        journal.record(7, "reply", INTENT, job_id="j1")
        journal.record(7, "reply", DONE, job_id="j1", ref="55", detail="found done when "
                       "re-checked")
        # A run stopped after asking; the next found it not done, and did it.
        journal.record(7, "note", INTENT, job_id="j1")
        journal.record(7, "note", FAILED, job_id="j1", detail="re-checked: not done")
        journal.record(7, "note", INTENT, job_id="j1")
        journal.record(7, "note", DONE, job_id="j1", ref="56")
        changes = pair(journal.history(7))
    assert [(c.step, c.result) for c in changes] == [
        ("reply", DONE), ("note", FAILED), ("note", DONE)]


def test_in_the_agents_language_and_time_zone(home, monkeypatch):
    monkeypatch.setenv("CANCELBOT_LANG", "fr")
    monkeypatch.setenv("CANCELBOT_TZ", "Asia/Tokyo")
    run(home, 1001, ScriptedAgent(yes=True))
    with sqlite3.connect(journal_dir(home) / FILE_NAME) as db:
        db.execute("UPDATE events SET at = '2025-01-06T11:00:00Z'")
    shown = history("1001").stdout
    assert "Modification" in shown and "Freshdesk : statut du ticket → fermé" in shown
    assert "20:00" in shown and "11:00" not in shown, shown
    raw = json.loads(history("1001", "--json").stdout)
    assert raw["events"][0]["at"] == "2025-01-06T11:00:00Z", "JSON stays in UTC"
    assert {e["phase"] for e in raw["events"]} >= {INTENT, DONE}, "the raw events"


def test_amazon_processing_a_feed_is_not_read_as_a_second_sending():
    from cancelbot.changes import Change
    from cancelbot.render import change_words

    sent = Change("2026-11-30T10:00:00Z", 1009, "402-1", "job", "amazon_feed", DONE,
                  "50012345001", "createFeed accepted", "")
    processed = Change("2026-11-30T10:05:00Z", 1009, "402-1", "", "amazon_feed", DONE,
                       "50012345001", "Amazon processed it", "")
    assert change_words(sent) == "Amazon: cancellation feed 50012345001"
    assert change_words(processed) == "Amazon: feed processed 50012345001"

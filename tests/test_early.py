"""`cancelbot process ID`, started fast (early.py): the command line it takes without Typer, the
ticket read sent before the rest loads, and how the run serves that read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from fakes import FaultyTransport, ScriptedAgent, as_found, only_the_claim_withdrawn

from cancelbot import early, sandbox
from cancelbot.cli import app
from cancelbot.config import load_settings
from cancelbot.journal import Journal
from cancelbot.ports import Options
from cancelbot.prefetch import Prefetched
from cancelbot.procedure import process
from cancelbot.sandbox.state import StateStore
from cancelbot.wiring import open_services

ROOT = Path(__file__).resolve().parent.parent
FRESHDESK_HOST = sandbox.FRESHDESK_HOST


# -- the command line it takes -------------------------------------------------------------------


def test_the_plain_command_lines_of_process_are_read_without_typer():
    assert early.parse(["process", "1001"]) == early.ProcessArgs("1001")
    assert early.parse(["--debug", "process", "--yes", "#7", "--lang=de", "--json"]) == \
        early.ProcessArgs("#7", yes=True, lang="de", json_out=True, debug=True)
    assert early.parse(["process", "-y", "8", "--lang", "fr", "--sandbox", "--dry-run",
                        "--debug"]) == early.ProcessArgs("8", dry_run=True, yes=True, lang="fr",
                                                         sandbox=True, debug=True)


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["--help"], ["history", "1001"], ["process"], ["process", "--help"],
    ["process", "1001", "--help"], ["process", "1", "2"], ["process", "1", "--yes", "-y"],
    ["process", "1", "--lang", "zz"], ["process", "1", "--lang"], ["process", "1", "--lang=FR"],
    ["process", "1", "--lang", "de", "--lang", "fr"], ["process", "--", "1"],
    ["process", "1", "--unknown"], ["process", "-5"], ["process", "1", "--yes=1"],
    ["--debug", "--debug", "process", "1"], ["process", "1", "-yn"],
])
def test_anything_else_goes_to_typer_and_its_messages(argv):
    assert early.parse(argv) is None


def test_completion_is_typers_to_answer(monkeypatch):
    monkeypatch.setenv(early.COMPLETION_VARIABLE, "complete_bash")
    assert early.parse(["process", "1001"]) is None


def test_it_knows_exactly_the_options_the_typer_command_has():
    """An option added to (or renamed in) `process` must be taught to early.py too: until
    then a command line using it would be refused here and go to Typer — but a renamed one
    would still be taken here, under its old name."""
    command = typer.main.get_command(app).commands["process"]  # type: ignore[attr-defined]
    options = {name for param in command.params for name in (*param.opts, *param.secondary_opts)
               if name.startswith("-")}
    assert options == set(early.FLAGS) | set(early.VALUED)


# -- the cyclic garbage collector ----------------------------------------------------------------


@pytest.fixture
def collector():
    """The test process's collector as it was, whatever main() did to it."""
    import gc

    enabled = gc.isenabled()
    yield gc
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_a_process_run_loads_and_works_without_the_collector(collector, monkeypatch):
    import cancelbot.__main__ as entry

    collector.enable()
    seen = []
    monkeypatch.setattr(entry, "_plain_process", lambda argv: seen.append(
        collector.isenabled()) or 0)
    monkeypatch.setattr(sys, "argv", ["cancelbot", "process", "1001"])
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 0 and seen == [False]
    assert collector.isenabled(), "given back as it was found"


def test_other_commands_run_with_the_collector_on_and_start_up_set_aside(collector,
                                                                         monkeypatch):
    import cancelbot.__main__ as entry
    import cancelbot.cli

    collector.enable()
    collector.unfreeze()
    seen = []
    monkeypatch.setattr(cancelbot.cli, "run_command_line", lambda command: seen.append(
        (collector.isenabled(), collector.get_freeze_count() > 0)) or 0)
    monkeypatch.setattr(sys, "argv", ["cancelbot", "queue", "--list"])
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 0 and seen == [(True, True)]


# -- what loads before the first request ---------------------------------------------------------

DRIVER = """
import json, sys
import httpx

seen = {}

def answer(self, request):
    seen.setdefault("first", sorted(sys.modules))
    return httpx.Response(404, json={"code": "not_found"}, request=request)

httpx.HTTPTransport.handle_request = answer  # no network: every request is answered here
from cancelbot import early
started = early.start_read

def start_read(args):
    # What was loaded when the read was handed to its thread: what the request waited for.
    # (The moment the thread sends it depends on the machine's load; this does not.)
    read = started(args)
    seen.setdefault("started", sorted(sys.modules) if read is not None else None)
    return read

early.start_read = start_read
from cancelbot.__main__ import main
sys.argv = ["cancelbot", *sys.argv[1:]]
try:
    main()
finally:
    sys.stdout.write("\\n" + json.dumps({"first": seen.get("first"), "started": seen.get("started"),
                                         "last": sorted(sys.modules)}))
"""


def test_process_asks_for_its_ticket_before_loading_typer_rich_or_the_procedure(tmp_path):
    env = {**os.environ, "FRESHDESK_URL": "https://acme.freshdesk.com",
           "FRESHDESK_API_KEY": "key", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", DRIVER, "process", "1001", "--yes"], env=env,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    seen = json.loads(run.stdout.splitlines()[-1])
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "not found" in run.stderr, run.stderr  # one line
    assert seen["first"] is not None, "no request was sent"
    assert seen["started"] is not None, "the ticket was not read early"
    loaded_first = {name.split(".")[0] for name in seen["started"]} | set(seen["started"])
    for late in ("typer", "pydantic", "rich", "jinja2", "sqlite3", "cancelbot.procedure",
                 "cancelbot.ui", "cancelbot.journal", "cancelbot.services.amazon"):
        assert late not in loaded_first, f"{late} was loaded before the read was started"
    for never in ("typer", "pydantic", "click"):
        assert never not in {name.split(".")[0] for name in seen["last"]}, never


# -- the read itself -----------------------------------------------------------------------------


def test_the_read_at_start_is_one_attempt_that_never_waits(isolated_env, monkeypatch):
    monkeypatch.setenv("FRESHDESK_URL", "https://acme.freshdesk.com")
    monkeypatch.setenv("FRESHDESK_API_KEY", "key")
    asked = []

    def busy(self, request):
        asked.append(request.url.path)
        return httpx.Response(429, headers={"Retry-After": "30"}, request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", busy)
    started = early.start_read(early.ProcessArgs("1001"))
    assert started is not None
    found = started.result()
    started.close()
    assert found.ticket is None and "429" in found.problem or "rate" in found.problem.lower()
    assert asked == ["/api/v2/tickets/1001"], "one attempt, no retry, no wait"


@pytest.mark.parametrize("argv", [
    ["process", "abc"], ["process", "1001", "--sandbox"], ["process", "1001"],
])
def test_nothing_is_read_early_when_the_command_stops_first_or_in_the_sandbox(argv):
    # A bad ticket id; the sandbox; no configuration (the autouse fixture leaves none).
    assert early.start_read(early.parse(argv)) is None


# -- how the run serves it -----------------------------------------------------------------------


@pytest.fixture
def world(isolated_env):
    sandbox.reset(isolated_env)
    transport = FaultyTransport(isolated_env)
    agent = ScriptedAgent([True] * 10, log=transport.log)
    with Journal.open(load_settings(sandbox=True).world.prepare()) as journal, \
            open_services(load_settings(sandbox=True), agent, transport=transport) as services:
        yield isolated_env, services, transport, agent, journal


def read_at_start(services, ticket_id: int) -> Prefetched:
    sent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return Prefetched(ticket_id, ticket=services.helpdesk.get_ticket(ticket_id),
                      read_at_start=sent)


def ticket_reads(log: list[str], ticket_id: int) -> list[int]:
    return [n for n, line in enumerate(log)
            if line == f"GET {FRESHDESK_HOST}/api/v2/tickets/{ticket_id}"]


def test_the_read_at_start_is_the_runs_own_first_read(world):
    home, services, log, agent, journal = world
    first = read_at_start(services, 1002)
    log.log.clear()
    outcome = process(1002, services, agent, Options(agent_id=1), journal,
                      ahead=first).raise_for_error()
    assert outcome.branch == "cannot_cancel"
    writes = [n for n, line in enumerate(log.log) if line.startswith(("POST", "PUT"))
              and "/auth/o2/token" not in line]
    claim, first_change = writes[0], writes[1]
    assert log.log[claim].endswith("/tickets/1002/notes"), log.log
    reads = ticket_reads(log.log, 1002)
    # Not asked again; and before the first change only the claim's own fresh read — not
    # the re-check a shift's read-ahead gets after the yes (one more level per run).
    assert reads and reads[0] > claim, log.log
    assert len([n for n in reads if n < first_change]) == 1, log.log
    assert StateStore(home).read()["freshdesk"]["tickets"]["1002"]["status"] == 4


def test_a_change_journaled_since_the_read_means_the_ticket_is_read_again(world):
    home, services, log, agent, journal = world
    first = read_at_start(services, 1002)
    journal.record(1002, "claim_note", "done", job_id="another-run")  # another process, since
    log.log.clear()
    process(1002, services, agent, Options(agent_id=1), journal, ahead=first)
    assert ticket_reads(log.log, 1002)[0] == 0, log.log  # read live, first of all


def test_declined_after_a_read_at_start_changes_nothing(world):
    home, services, log, _, journal = world
    before = as_found(StateStore(home).read())
    first = read_at_start(services, 1002)
    no = ScriptedAgent([False] * 10, log=log.log)
    outcome = process(1002, services, no, Options(agent_id=1), journal, ahead=first)
    assert outcome.exit_code == 3
    assert as_found(StateStore(home).read()) == before
    assert only_the_claim_withdrawn(log.log), log.log

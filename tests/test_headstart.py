"""The head start of `process ID` (headstart.py): the claim and the lookups leave as soon as the
ticket is back, the procedure takes them over, and every guarantee of the claim holds — one
note, the race, a No or a stop taking it back — or the run does it all itself, as before."""

from __future__ import annotations

import time

import httpx
import pytest
from fakes import FaultyTransport, as_found, only_the_claim_withdrawn
from msgspec import structs

from cancelbot import commandline, early, headstart, sandbox
from cancelbot.claims import claim_note
from cancelbot.config import load_settings
from cancelbot.errors import ServiceError
from cancelbot.journal import Journal, now_iso
from cancelbot.sandbox.state import StateStore
from cancelbot.services.http import RetryPolicy
from cancelbot.wiring import open_freshdesk

TICKETS = "/api/v2/tickets"
ORDER = "402-3815274-6120358"  # ticket 1001's


@pytest.fixture
def account(isolated_env, monkeypatch):
    """The sandbox's systems reached as a real account would reach them: the settings are not
    the sandbox's (so the start-up read and the head start happen), every client's requests
    go through the sandbox (FaultyTransport), nothing leaves the machine."""
    sandbox.reset(isolated_env)
    wire = FaultyTransport(isolated_env)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request",
                        lambda self, request: wire.handle_request(request))
    settings = structs.replace(load_settings(sandbox=True), sandbox=False)
    monkeypatch.setattr(commandline, "load_settings", lambda sandbox: settings)
    return isolated_env, settings, wire


def started(settings, ticket_id: int) -> early.StartedRead:
    """The start-up read as early.start_read sends it: one attempt, its own client."""
    def no_wait(seconds: float) -> None:
        raise AssertionError("the read at start never waits")

    client = open_freshdesk(settings, retry=RetryPolicy(attempts=1, sleep=no_wait))
    return early.StartedRead(settings, ticket_id, client)


def run(settings, ticket_id: int, **options) -> int:
    read = started(settings, ticket_id)
    try:
        return commandline.process(str(ticket_id), started=read, **options)
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        read.close()


def add_note(home, ticket_id: int, text: str) -> None:
    """Another run's note on the ticket, as the sandbox keeps it."""
    with StateStore(home).update() as state:
        conversation_id = state["counters"]["conversation"]
        state["counters"]["conversation"] += 1
        state["freshdesk"]["tickets"][str(ticket_id)]["conversations"].append({
            "id": conversation_id, "body": f"<p>{text}</p>", "body_text": text,
            "private": True, "incoming": False, "source": 2, "created_at": now_iso(),
            "updated_at": now_iso()})


def writes(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith(("POST", "PUT", "DELETE"))
            and "/auth/o2/token" not in line]


def begun(monkeypatch) -> list[headstart.HeadStart | None]:
    """What headstart.begin returned, run by run."""
    made: list[headstart.HeadStart | None] = []
    real = headstart.begin

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(headstart, "begin", spy)
    return made


# -- taken over by the procedure ---------------------------------------------------------------


def test_a_cancel_claimed_at_the_start_is_claimed_once_and_cancelled_once(account, monkeypatch,
                                                                          capsys):
    home, settings, wire = account
    made = begun(monkeypatch)
    assert run(settings, 1001, yes=True) == 0
    assert made and made[0] is not None and made[0].taken
    log = wire.log
    assert [w for w in writes(log) if w.endswith("/notes")] == [
        f"POST {sandbox.FRESHDESK_HOST}{TICKETS}/1001/notes"], log
    assert sum(line.endswith("/api/orders") for line in log) == 1, log  # GSTK once: served
    assert len([line for line in log if line.startswith("GET") and "/orders/2026-01-01/orders/"
                in line]) == 1, log  # getOrder once: the head start's, served to the run
    cancels = [n for n, line in enumerate(log) if line.endswith("/cancel")]
    claim = next(n for n, line in enumerate(log) if line.endswith("/1001/notes"))
    race = [n for n, line in enumerate(log) if line == f"GET {sandbox.FRESHDESK_HOST}{TICKETS}/1001"
            and n > claim]
    assert len(cancels) == 1 and race and race[0] < cancels[0], log  # the race read first
    # Read at start, by the race, by the final update: the run reads it no more than that.
    assert log.count(f"GET {sandbox.FRESHDESK_HOST}{TICKETS}/1001") == 3, log
    state = StateStore(home).read()
    assert state["freshdesk"]["tickets"]["1001"]["status"] == 5
    assert state["gstk"]["orders"]["GS-1048213"]["status"] == "Annulée"
    with Journal.open(settings.world.prepare()) as journal:
        assert journal.open_job(1001) is None  # finished, and the lease let go
        with journal.lease(1001):
            pass
    assert "Traceback" not in capsys.readouterr().err


def test_a_reply_claimed_at_the_start_asks_the_locale_once_and_sends_once(account, monkeypatch):
    home, settings, wire = account
    made = begun(monkeypatch)
    assert run(settings, 1002, yes=True) == 0
    assert made[0] is not None
    assert len([line for line in wire.log if "/messaging/" in line]) == 1, wire.log
    assert [w for w in writes(wire.log) if w.endswith("/reply")] == [
        f"POST {sandbox.FRESHDESK_HOST}{TICKETS}/1002/reply"]
    assert StateStore(home).read()["freshdesk"]["tickets"]["1002"]["status"] == 4


def test_a_reply_due_hands_the_order_over_before_the_buyers_language(account, monkeypatch):
    """The run draws the order and its decision while Amazon is asked the buyer's language:
    held 0.3 s here, the language still reaches the reply (German, for this buyer)."""
    home, settings, wire = account
    times: dict[str, float] = {}

    def slow_locale() -> None:
        times["locale"] = time.monotonic()
        time.sleep(0.3)

    wire.hooks_before[("GET", "/messaging/v1/orders/302-5521908-4417736/attributes")] = \
        slow_locale
    real = headstart.begin

    def spy(*args, **kwargs):
        head = real(*args, **kwargs)
        assert head is not None
        head.lookup.add_done_callback(lambda _: times.setdefault("handed", time.monotonic()))
        return head

    monkeypatch.setattr(headstart, "begin", spy)
    shown = []
    monkeypatch.setattr("cancelbot.ui.TerminalAgent.show_order",
                        lambda self, *a, **k: shown.append(time.monotonic()))
    assert run(settings, 1002, yes=True) == 0
    assert times["handed"] < times["locale"] + 0.2, times  # not after Amazon's answer
    assert shown and shown[0] < times["locale"] + 0.2, (shown, times)
    assert len([line for line in wire.log if "/messaging/" in line]) == 1, wire.log
    sent = StateStore(home).read()["freshdesk"]["tickets"]["1002"]["conversations"]
    assert any("Guten Tag" in c["body_text"] for c in sent if not c["private"]
               and not c["incoming"]), "the reply in the buyer's language"


def test_declined_after_a_head_start_changes_nothing_but_the_claim_it_takes_back(
        account, monkeypatch):
    home, settings, wire = account
    before = as_found(StateStore(home).read())
    made = begun(monkeypatch)
    monkeypatch.setattr("cancelbot.ui.TerminalAgent.confirm",
                        lambda self, question, automatic=True: False)
    monkeypatch.setattr("cancelbot.ui.TerminalAgent.interactive", True, raising=False)
    code = run(settings, 1001)
    assert made[0] is not None and code == 3
    assert as_found(StateStore(home).read()) == before
    assert only_the_claim_withdrawn(wire.log) and any(
        w.startswith("DELETE") for w in writes(wire.log)), wire.log


def test_a_command_that_stops_before_the_procedure_takes_the_claim_back(account, monkeypatch):
    home, settings, wire = account
    before = as_found(StateStore(home).read())
    made = begun(monkeypatch)

    def broken(*args, **kwargs):
        raise ServiceError("GSTK", "the clients could not be opened")

    monkeypatch.setattr("cancelbot.wiring.open_services", broken)
    code = run(settings, 1001, yes=True)
    assert made[0] is not None and not made[0].taken and code != 0
    assert as_found(StateStore(home).read()) == before
    assert only_the_claim_withdrawn(wire.log) and any(
        w.startswith("DELETE") for w in writes(wire.log)), wire.log
    with Journal.open(settings.world.prepare()) as journal, journal.lease(1001):
        pass  # let go


def test_a_rival_claim_posted_first_stops_the_run_with_nothing_changed(account, monkeypatch):
    home, settings, wire = account
    before = as_found(StateStore(home).read())

    def rival() -> None:  # another computer's claim lands just before this run's
        add_note(home, 1001, claim_note(ORDER, "0a1b2c3d4e5f", "Another agent"))

    wire.hooks_before[("POST", f"{TICKETS}/1001/notes")] = rival
    made = begun(monkeypatch)
    code = run(settings, 1001, yes=True)
    assert made[0] is not None and code == 4
    after = as_found(StateStore(home).read())
    assert after["gstk"] == before["gstk"] and after["amazon"] == before["amazon"]
    assert after["freshdesk"]["tickets"]["1001"]["status"] == 2  # still open, the rival's
    assert not [line for line in wire.log if line.endswith(("/cancel", "/feeds"))], wire.log


# -- left to the procedure ---------------------------------------------------------------------


@pytest.mark.parametrize("why", ["dry run", "closed", "two orders", "another run's note",
                                 "unfinished run", "leased here", "changed since the read"])
def test_anything_but_the_plainest_case_is_left_to_the_procedure(account, monkeypatch, why):
    home, settings, wire = account
    ticket_id, options = 1001, {"yes": True}
    if why == "dry run":
        options["dry_run"] = True
    elif why == "closed":
        with StateStore(home).update() as state:
            state["freshdesk"]["tickets"]["1001"]["status"] = 5
    elif why == "two orders":
        with StateStore(home).update() as state:
            ticket = state["freshdesk"]["tickets"]["1001"]
            ticket["description"] += "<p>Et aussi la commande 402-1111111-2222222.</p>"
            ticket["description_text"] += " Et aussi la commande 402-1111111-2222222."
    elif why == "another run's note":
        add_note(home, 1001, claim_note(ORDER, "0a1b2c3d4e5f", "Someone"))
    journal = Journal.open(settings.world.prepare())
    if why == "unfinished run":  # killed after its claim: the note is its, and stays
        job = journal.start_job(1001, ORDER, "cancel")
        add_note(home, 1001, claim_note(ORDER, job.job_id, "Earlier run"))
        note_id = StateStore(home).read()["counters"]["conversation"] - 1
        journal.record(1001, "claim_note", "intent", job_id=job.job_id, order_id=ORDER)
        journal.record(1001, "claim_note", "done", job_id=job.job_id, order_id=ORDER,
                       ref=str(note_id))
    read = started(settings, ticket_id)
    found = read.result()
    assert found.ticket is not None
    if why == "changed since the read":  # by another process of this computer
        journal.record(1001, "claim_note", "done", job_id="another-process", order_id=ORDER)
        head = headstart.begin(settings, read.client, found.ticket, read.sent_at,
                               dry_run=False, journal_agent="")
    elif why == "leased here":
        with journal.lease(1001):
            head = headstart.begin(settings, read.client, found.ticket, read.sent_at,
                                   dry_run=False, journal_agent="")
    else:
        # The read is later than anything journaled above (an earlier run's, long before).
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        head = headstart.begin(settings, read.client, found.ticket, later,
                               dry_run=options.get("dry_run", False), journal_agent="")
    read.close()
    journal.close()
    assert head is None
    assert not writes(wire.log), wire.log  # nothing claimed, nothing looked up early
    assert not [line for line in wire.log if "/api/orders" in line], wire.log


def test_a_lookup_that_fails_at_the_start_is_made_again_by_the_run(account, monkeypatch):
    home, settings, wire = account
    failed: list[float] = []

    def first_gstk_lookups_fail(request: httpx.Request):
        if request.url.path == "/api/orders" and len(failed) < 4:  # every retry of the start
            failed.append(time.monotonic())
            return httpx.Response(503, json={"error": "busy"}, request=request)
        return None

    wire.answer = first_gstk_lookups_fail
    monkeypatch.setattr("cancelbot.services.http.time.sleep", lambda seconds: None)
    made = begun(monkeypatch)
    assert run(settings, 1001, yes=True) == 0
    assert made[0] is not None and len(failed) == 4  # the head start's every attempt
    assert StateStore(home).read()["freshdesk"]["tickets"]["1001"]["status"] == 5
    assert [w for w in writes(wire.log) if w.endswith("/notes")] == [
        f"POST {sandbox.FRESHDESK_HOST}{TICKETS}/1001/notes"], wire.log


def test_ctrl_c_while_the_screens_load_takes_the_claim_back(account, monkeypatch):
    home, settings, wire = account
    before = as_found(StateStore(home).read())
    made = begun(monkeypatch)

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(commandline, "consoles", interrupted)
    with pytest.raises(KeyboardInterrupt):  # __main__ says "Aborted!", as for any early Ctrl-C
        run(settings, 1001, yes=True)
    assert made[0] is not None and not made[0].taken
    assert as_found(StateStore(home).read()) == before
    assert only_the_claim_withdrawn(wire.log) and any(
        w.startswith("DELETE") for w in writes(wire.log)), wire.log


def test_the_lookups_wait_for_the_claim_note_to_leave(account, monkeypatch):
    """As beside the procedure's own lookups, the note leaves first: however slow the claim's
    journal, GSTK is not asked (and answered) before the note is on its way, so the claim's
    race read never becomes a level of its own."""
    home, settings, wire = account
    sent: dict[str, float] = {}
    from cancelbot.claims import TicketClaim

    real_begin = TicketClaim.begin

    def slow_journal(self, order_id, branch):
        time.sleep(0.3)
        return real_begin(self, order_id, branch)

    monkeypatch.setattr(TicketClaim, "begin", slow_journal)
    wire.hooks_before[("POST", f"{TICKETS}/1001/notes")] = \
        lambda: sent.setdefault("note", time.monotonic())
    wire.hooks_before[("GET", "/api/orders")] = lambda: sent.setdefault("gstk", time.monotonic())
    assert run(settings, 1001, yes=True) == 0
    assert sent["gstk"] > sent["note"] - 0.05, sent  # without the wait: 0.3 s before it


def test_a_strangers_request_claimed_at_the_start_is_left_to_a_person(account, monkeypatch):
    """The claim went out before anyone knew who asked: the run still stops for a person
    (exit 4), cancels nothing, and leaves one note — the person flag, not its claim."""
    home, settings, wire = account
    stranger = "someone@evil.example"
    with StateStore(home).update() as state:
        ticket = state["freshdesk"]["tickets"]["1001"]
        state["freshdesk"]["contacts"][str(ticket["requester_id"])]["email"] = stranger
        for item in state["amazon"]["orders"][ORDER]["order"]["orderItems"]:
            item.pop("cancellation", None)  # and the buyer asked Amazon nothing
    made = begun(monkeypatch)
    assert run(settings, 1001, yes=True) == 4
    assert made[0] is not None and made[0].taken
    state = StateStore(home).read()
    assert state["gstk"]["orders"]["GS-1048213"]["status"] == "En attente de préparation"
    assert not [line for line in wire.log if "/feeds/" in line], wire.log
    notes = [c["body_text"] for c in state["freshdesk"]["tickets"]["1001"]["conversations"]
             if c["private"]]
    assert len(notes) == 1 and stranger in notes[0], notes


def test_a_long_thread_is_read_whole_before_the_head_start_claims(account, monkeypatch):
    """Fifteen conversations: Freshdesk gives ten inline, the start-up read fetches the rest,
    and the head start (and its race read) judge the whole thread."""
    home, settings, wire = account
    for n in range(15):
        add_note(home, 1001, f"Message {n} about something else entirely.")
    made = begun(monkeypatch)
    assert run(settings, 1001, yes=True) == 0
    assert made[0] is not None and len(made[0].ticket.conversations) == 15
    pages = [line for line in wire.log if line.endswith("/1001/conversations")]
    assert len(pages) >= 2, wire.log  # the start-up read's, the race read's (and the last's)
    assert [w for w in writes(wire.log) if w.endswith("/notes")] == [
        f"POST {sandbox.FRESHDESK_HOST}{TICKETS}/1001/notes"], wire.log
    assert len([line for line in wire.log if line.endswith("/cancel")]) == 1

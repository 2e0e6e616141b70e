"""Local state belongs to one world: the sandbox, or one real account (issue 9 §1).

A "real account" here is the sandbox's own simulation answering on other hosts, with a state
of its own kept outside CANCELBOT_HOME (`Account`); the CLI gets it, or the sandbox behind a
fault, through the transport `open_services` hands to the clients. What happened is counted
on those fakes, never on cancelbot's journal.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fakes import GSTK_1001, ORDER_1001, STEPS, FaultyTransport
from typer.testing import CliRunner

from cancelbot import sandbox, wiring
from cancelbot.cli import app
from cancelbot.config import load_settings
from cancelbot.journal import FILE_NAME, Journal
from cancelbot.sandbox import load
from cancelbot.sandbox.state import StateStore
from cancelbot.sandbox.transport import SandboxTransport
from cancelbot.worlds import account_world, sandbox_world

REAL_ORDER = "402-7777777-1234567"  # the real account's order behind its ticket 1001
REAL_GSTK = "GS-7000001"


class Account(httpx.BaseTransport):
    """One real account's Freshdesk, GSTK and Amazon, on their own hosts, with their own state
    in `folder`: the sandbox's handlers, with ticket 1001 about another order than the
    sandbox's. `requests` is what reached it (method, path, body)."""

    def __init__(self, folder: Path, freshdesk_host: str = "acme.freshdesk.com") -> None:
        self.folder = folder
        self.freshdesk_host = freshdesk_host
        self.inner = SandboxTransport(folder)
        self.hosts = {
            freshdesk_host: sandbox.FRESHDESK_HOST,
            "gstk.acme.example": sandbox.GSTK_HOST,
            "lwa.acme.example": sandbox.LWA_HOST,
            "spapi.acme.example": sandbox.SPAPI_HOST,
        }
        self.requests: list[tuple[str, str, bytes]] = []
        with StateStore(folder).update() as state:
            text = json.dumps(state).replace(ORDER_1001, REAL_ORDER).replace(GSTK_1001, REAL_GSTK)
            state.clear()
            state.update(json.loads(text))

    def env(self) -> dict[str, str]:
        return {
            "FRESHDESK_URL": f"https://{self.freshdesk_host}",
            "FRESHDESK_API_KEY": sandbox.FRESHDESK_API_KEY,
            "GSTK_URL": "https://gstk.acme.example/api",
            "GSTK_TOKEN": sandbox.GSTK_TOKEN,
            "LWA_TOKEN_URL": "https://lwa.acme.example/auth/o2/token",
            "SPAPI_ENDPOINT": "https://spapi.acme.example",
            "LWA_CLIENT_ID": sandbox.LWA_CLIENT_ID,
            "LWA_CLIENT_SECRET": sandbox.LWA_CLIENT_SECRET,
            "SPAPI_REFRESH_TOKEN": sandbox.SPAPI_REFRESH_TOKEN,
            "SPAPI_SELLER_ID": sandbox.SPAPI_SELLER_ID,
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append((request.method, request.url.path, request.content))
        host = self.hosts.get(request.url.host, request.url.host)
        request.url = request.url.copy_with(host=host)
        return self.inner.handle_request(request)

    @property
    def state(self) -> dict:
        return load(self.folder)


def InterruptAt(home: Path, match) -> FaultyTransport:  # noqa: N802 - stands in for a class
    """The sandbox, with Ctrl-C pressed while the request `match` picks is on its way."""
    return FaultyTransport(home, match, "ctrl_c")


@pytest.fixture
def wire(monkeypatch):
    """`wire.transport` is what the CLI's next run talks to (None: its own choice)."""
    real_open = wiring.open_services

    class Wire:
        transport: httpx.BaseTransport | None = None

    def open_services(settings, agent, transport=None, retry=None, **taken_over):
        return real_open(settings, agent, transport=Wire.transport, retry=retry, **taken_over)

    monkeypatch.setattr(wiring, "open_services", open_services)
    return Wire


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def gstk_cancels(state: dict, order_id: str) -> int:
    return sum(1 for o in state["gstk"]["orders"].values() if o["marketplace_order_id"] == order_id
               for h in o["history"] if h["action"] == "cancel")


def amazon_status(state: dict, order_id: str) -> str:
    return state["amazon"]["orders"][order_id]["order"]["fulfillment"]["fulfillmentStatus"]


def create_feeds(account: Account) -> list[tuple[str, str, bytes]]:
    return [r for r in account.requests if r[0] == "POST" and r[1] == "/feeds/2021-06-30/feeds"]


def test_an_interrupted_sandbox_cancel_is_not_resumed_by_a_real_run(home, tmp_path, wire):
    wire.transport = InterruptAt(home, STEPS["amazon_create_feed"])
    interrupted = cli("process", "1001", "--sandbox", "--yes")
    assert interrupted.exit_code == 130, interrupted.output
    after_sandbox = load(home)
    assert gstk_cancels(after_sandbox, ORDER_1001) == 1, "the sandbox's GSTK cancel was made"
    assert amazon_status(after_sandbox, ORDER_1001) == "UNSHIPPED", "…and its feed never sent"

    account = Account(tmp_path / "acme")
    wire.transport = account
    real = cli("process", "1001", "--yes", env=account.env())

    assert real.exit_code == 0, real.output
    assert "already done" not in real.output
    state = account.state
    assert gstk_cancels(state, REAL_ORDER) == 1, "exactly one GSTK cancel, on the real order"
    assert len(create_feeds(account)) == 1, "exactly one feed"
    assert amazon_status(state, REAL_ORDER) == "CANCELLED"
    assert state["freshdesk"]["tickets"]["1001"]["status"] == 5
    wire_text = b" ".join(path.encode() + body for _, path, body in account.requests)
    assert ORDER_1001.encode() not in wire_text, "nothing about the sandbox's order went out"
    assert GSTK_1001.encode() not in wire_text
    assert load(home) == after_sandbox, "the real run touched nothing of the sandbox's"

    # The sandbox's own job is still there, in its world: a sandbox rerun finishes it.
    wire.transport = None
    rerun = cli("process", "1001", "--sandbox", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert gstk_cancels(load(home), ORDER_1001) == 1, "not cancelled twice in GSTK"
    assert amazon_status(load(home), ORDER_1001) == "CANCELLED"


def test_sandbox_reset_forgets_the_sandbox_journal(home):
    first = cli("process", "1001", "--sandbox", "--yes")
    assert first.exit_code == 0, first.output
    assert amazon_status(load(home), ORDER_1001) == "CANCELLED"

    reset = cli("sandbox", "reset")
    assert reset.exit_code == 0, reset.output
    assert amazon_status(load(home), ORDER_1001) == "UNSHIPPED"

    again = cli("process", "1001", "--sandbox", "--yes")
    assert again.exit_code == 0, again.output
    assert "not sending it again" not in again.output
    state = load(home)
    assert gstk_cancels(state, ORDER_1001) == 1
    assert amazon_status(state, ORDER_1001) == "CANCELLED", "cancelled on Amazon again"
    assert state["freshdesk"]["tickets"]["1001"]["status"] == 5


def test_two_real_accounts_never_see_each_others_journal(isolated_env, tmp_path, wire):
    acme = Account(tmp_path / "acme", "acme.freshdesk.com")
    other = Account(tmp_path / "other", "other.freshdesk.com")
    for account in (acme, other):
        wire.transport = account
        result = cli("process", "1001", "--yes", env=account.env())
        assert result.exit_code == 0, result.output
        assert "already done" not in result.output
        assert gstk_cancels(account.state, REAL_ORDER) == 1
        assert len(create_feeds(account)) == 1
        assert amazon_status(account.state, REAL_ORDER) == "CANCELLED"

    journals = sorted(isolated_env.rglob(FILE_NAME))
    assert len(journals) == 2 and journals[0].parent != journals[1].parent
    assert not (isolated_env / FILE_NAME).exists()
    for path in journals:
        with Journal.open(path.parent) as journal:
            jobs = [e.job_id for e in journal.history(1001)]
            assert len(set(jobs) - {""}) == 1, "one job per account: its own"
        label = json.loads((path.parent / "world.json").read_text(encoding="utf-8"))
        assert label["freshdesk"] in {"acme.freshdesk.com", "other.freshdesk.com"}
        assert sandbox.FRESHDESK_API_KEY not in json.dumps(label), "no secret in world.json"
    for account in (acme, other):
        history = cli("history", "1001", "--json", env=account.env())
        assert history.exit_code == 0, history.output
        steps = [e["step"] for e in json.loads(history.stdout)["events"] if e["phase"] == "done"]
        assert steps.count("gstk_cancel") == 1, "its own history only"


def test_world_ids(tmp_path):
    home = tmp_path
    base = account_world(home, "https://acme.freshdesk.com", "https://gstk.acme.example/api",
                         "A1B2C3")
    assert base.id.startswith("acct-") and len(base.id) == len("acct-") + 12
    assert base.state_dir == home / "worlds" / base.id
    same = account_world(home, "https://ACME.freshdesk.com:443/", "HTTPS://gstk.acme.example/api/",
                         " a1b2c3 ")
    assert same.id == base.id, "one account, however its URLs are written"
    for changed in (
        account_world(home, "https://other.freshdesk.com", "https://gstk.acme.example/api",
                      "A1B2C3"),
        account_world(home, "https://acme.freshdesk.com", "", "A1B2C3"),
        account_world(home, "https://acme.freshdesk.com", "https://gstk.acme.example/api", ""),
    ):
        assert changed.id != base.id
    assert sandbox_world(home).id == "sandbox"
    assert load_settings({"CANCELBOT_HOME": str(home)}, sandbox=True).world.id == "sandbox"


def test_an_old_journal_in_the_home_is_left_alone_and_doctor_says_so(home):
    old = home / FILE_NAME
    with Journal.open(home) as journal:  # what the previous release wrote, at the home's root
        job = journal.start_job(1001, ORDER_1001, "cancel")
        journal.record(1001, "gstk_cancel", "done", job_id=job.job_id)
    before = old.read_bytes()

    doctor = cli("doctor", "--sandbox")
    assert "Old journal" in doctor.output and "older cancelbot" in doctor.output
    run = cli("process", "1001", "--sandbox", "--yes")
    assert run.exit_code == 0, run.output
    assert gstk_cancels(load(home), ORDER_1001) == 1, "the old journal's job was not adopted"
    assert old.read_bytes() == before, "left as it was"

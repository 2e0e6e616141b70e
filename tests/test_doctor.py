"""`cancelbot doctor`, `cancelbot templates`, and the --json documents."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
from fakes import FaultyTransport
from typer.testing import CliRunner

from cancelbot import doctor, sandbox
from cancelbot.cli import app
from cancelbot.doctor import FAILED, OK, WARNING, run_doctor
from cancelbot.sandbox.transport import SandboxTransport


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def Faults(home, date: dict | None = None, **by_host) -> FaultyTransport:  # noqa: N802
    """The sandbox, except for hosts told to fail (with a status, or unreachable); with
    `date`, every answer's Date header is `date["now"]` (when set)."""

    def answer(request: httpx.Request):
        fault = by_host.get(request.url.host)
        if fault == "down":
            return httpx.ConnectError("connection refused", request=request)
        return httpx.Response(fault, json={"message": "no"}) if isinstance(fault, int) else None

    def edit(request: httpx.Request, response: httpx.Response):
        if date is not None and date.get("now") is not None:
            response.headers["Date"] = format_datetime(date["now"], usegmt=True)
        return response

    return FaultyTransport(home, answer=answer, edit=edit)


def statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_doctor_on_the_sandbox_is_all_green(home):
    result = run("doctor", "--sandbox")
    assert result.exit_code == 0, result.output
    for line in ("✓ Freshdesk", "✓ GSTK", "✓ Amazon", "✓ Templates"):
        assert line in result.stdout
    assert "de, en, fr render" in result.stdout
    unwrapped = re.sub(r"\s+", "", result.stdout)  # a long path may wrap
    assert "worlds/sandbox/journal.sqlite3" in unwrapped.replace("\\", "/")
    assert "Ready." in result.stdout


def test_doctor_json(home):
    result = run("doctor", "--sandbox", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc) == ["ok", "version", "sandbox", "checks", "steps", "templates", "journal"]
    assert doc["ok"] is True and doc["steps"]["GSTK"] == "automated"
    assert {"name": "Freshdesk", "status": "ok"}.items() <= doc["checks"][1].items()
    assert set(doc["templates"]["languages"]) == {"fr", "de", "en"}


def test_bad_key_wrong_url_and_unreachable_each_say_why(home):
    transport = Faults(home, **{sandbox.FRESHDESK_HOST: 401, sandbox.GSTK_HOST: 404,
                                sandbox.SPAPI_HOST: "down"})
    report = run_doctor(sandbox=True, transport=transport)
    checks = {c.name: c for c in report.checks}
    assert not report.ok
    assert checks["Freshdesk"].status == FAILED
    assert checks["Freshdesk"].detail.startswith("bad credentials")
    assert "FRESHDESK_API_KEY" in checks["Freshdesk"].detail
    assert checks["GSTK"].detail.startswith("wrong URL?")
    assert checks["Amazon"].detail.startswith("unreachable")


def SpapiAnswers(home, by_prefix: dict[str, int]) -> FaultyTransport:  # noqa: N802
    """The sandbox, except SP-API paths starting with a given prefix answer a given status."""

    def answer(request: httpx.Request):
        if request.url.host != sandbox.SPAPI_HOST:
            return None
        for prefix, status in by_prefix.items():
            if request.url.path.startswith(prefix):
                return httpx.Response(status, json={"errors": [
                    {"code": "Unauthorized" if status == 403 else "NotFound",
                     "message": "Access to requested resource is denied."
                     if status == 403 else "Not found"}]})
        return None

    return FaultyTransport(home, answer=answer)


ROLE_PATHS = {"Orders": "/orders/2026-01-01/orders/", "Feeds": "/feeds/2021-06-30/feeds",
              "Messaging": "/messaging/v1/orders/"}


@pytest.mark.parametrize("api", sorted(ROLE_PATHS))
def test_a_missing_sp_api_role_is_a_failed_line(home, api):
    report = run_doctor(sandbox=True, transport=SpapiAnswers(home, {ROLE_PATHS[api]: 403}))
    checks = {c.name: c for c in report.checks}
    assert not report.ok
    assert checks["Amazon"].status == OK, "the login worked: only the role is missing"
    assert checks[f"{api} API"].status == FAILED
    assert checks[f"{api} API"].detail.startswith("role missing")
    others = [name for name in ROLE_PATHS if name != api]
    assert all(checks[f"{name} API"].status == OK for name in others)


@pytest.mark.parametrize("status", [200, 400, 404])
def test_an_sp_api_call_let_through_means_the_role_is_there(home, status):
    by_prefix = {} if status == 200 else {ROLE_PATHS["Feeds"]: status,
                                          ROLE_PATHS["Messaging"]: status}
    transport = SpapiAnswers(home, by_prefix)
    report = run_doctor(sandbox=True, transport=transport)
    checks = statuses(report)
    assert report.ok
    assert [checks[f"{api} API"] for api in ("Orders", "Feeds", "Messaging")] == [OK] * 3
    # One cheap call per role, the documented paths.
    seen = transport.paths(sandbox.SPAPI_HOST)
    assert any(p.startswith(ROLE_PATHS["Orders"] + doctor.NO_SUCH_ORDER) for p in seen)
    assert "/feeds/2021-06-30/feeds" in seen
    assert f"/messaging/v1/orders/{doctor.NO_SUCH_ORDER}/attributes" in seen


def test_doctor_shows_the_roles_on_screen(home):
    result = run("doctor", "--sandbox")
    assert result.exit_code == 0, result.output
    for api in ("Orders", "Feeds", "Messaging"):
        assert f"✓ {api} API" in result.stdout


def test_an_empty_from_address_is_a_warning(isolated_env, monkeypatch):
    monkeypatch.setenv("FRESHDESK_URL", f"https://{sandbox.FRESHDESK_HOST}")
    monkeypatch.setenv("FRESHDESK_API_KEY", "sandbox-key")
    report = run_doctor(sandbox=False, transport=SandboxTransport(isolated_env))
    checks = {c.name: c for c in report.checks}
    assert checks["Reply address"].status == WARNING and report.ok
    assert "FRESHDESK_FROM_EMAIL" in checks["Reply address"].detail
    monkeypatch.setenv("FRESHDESK_FROM_EMAIL", "shop@example.com")
    report = run_doctor(sandbox=False, transport=SandboxTransport(isolated_env))
    assert "Reply address" not in statuses(report)


def test_missing_configuration_is_a_failed_line_not_a_traceback(isolated_env):
    result = run("doctor")
    assert result.exit_code == 1
    assert "✗ Configuration" in result.stdout and "FRESHDESK_URL" in result.stdout
    assert "✓ Templates" in result.stdout, "what can still be checked is"
    assert "Traceback" not in result.output


def test_agent_id_must_be_the_keys_agent(home, monkeypatch):
    monkeypatch.setenv("FRESHDESK_AGENT_ID", "123")
    report = run_doctor(sandbox=True)
    assert statuses(report)["Agent id"] == FAILED and not report.ok
    monkeypatch.setenv("FRESHDESK_AGENT_ID", str(sandbox.seed.AGENT_ID))
    assert statuses(run_doctor(sandbox=True))["Agent id"] == OK
    monkeypatch.delenv("FRESHDESK_AGENT_ID")
    assert statuses(run_doctor(sandbox=True))["Agent id"] == WARNING


def test_clock_skew_is_measured_from_freshdesks_date(home):
    date: dict[str, datetime] = {}
    transport = Faults(home, date)
    now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    date["now"] = now - timedelta(minutes=12)
    report = run_doctor(sandbox=True, transport=transport, now=lambda: now)
    clock = next(c for c in report.checks if c.name == "Clock")
    assert clock.status == WARNING and "12 min ahead of Freshdesk's" in clock.detail
    date["now"] = now
    clock = next(c for c in run_doctor(sandbox=True, transport=transport, now=lambda: now)
                 .checks if c.name == "Clock")
    assert clock.status == OK


@pytest.mark.parametrize("created,status", [
    ("2026-10-01", OK), ("2026-06-01", WARNING), ("2026-01-01", FAILED), ("01/10/2026", WARNING),
])
def test_lwa_secret_age(home, monkeypatch, created, status):
    monkeypatch.setenv("LWA_CLIENT_SECRET_DATE", created)
    report = run_doctor(sandbox=True, today=date(2026, 11, 27))
    assert statuses(report)["LWA secret"] == status


def test_doctor_says_which_steps_are_assisted(isolated_env, monkeypatch):
    monkeypatch.setenv("FRESHDESK_URL", f"https://{sandbox.FRESHDESK_HOST}")
    monkeypatch.setenv("FRESHDESK_API_KEY", "sandbox-key")
    report = run_doctor(sandbox=False, transport=SandboxTransport(isolated_env))
    assert report.ok
    assert report.steps["GSTK"].startswith("assisted") and report.steps["Amazon"].startswith(
        "assisted")
    assert "GSTK" not in statuses(report) and "Amazon" not in statuses(report)


def test_a_broken_template_fails_the_doctor(home, tmp_path, monkeypatch):
    own = tmp_path / "templates"
    for code in ("fr", "de", "en"):
        (own / code).mkdir(parents=True)
        (own / code / "cannot_cancel.txt.j2").write_text("Hello {{ order_id }}")
    (own / "de" / "cannot_cancel.txt.j2").write_text("Hallo {{ nobody }}")
    monkeypatch.setenv("CANCELBOT_TEMPLATES", str(own))
    result = run("doctor", "--sandbox")
    assert result.exit_code == 1
    assert "✗ Templates" in result.stdout and "de:" in result.stdout


# -- templates -------------------------------------------------------------------------------------

def test_templates_list(isolated_env):
    result = run("templates", "list")
    assert result.exit_code == 0, result.output
    for code in ("fr", "de", "en"):
        assert f"✓ {code}" in result.stdout
    assert "amazon.com.be" in result.stdout


def test_templates_preview_in_one_language_with_an_order(isolated_env, monkeypatch):
    monkeypatch.setenv("CANCELBOT_AGENT_NAME", "Camille")
    result = run("templates", "preview", "--lang", "de", "--order", "402 3815274 6120358")
    assert result.exit_code == 0, result.output
    assert "Reply in German" in result.stdout and "Das Paket liegt schon" in result.stdout
    assert "402-3815274-6120358" not in result.stdout, "the approved text takes no order number"
    assert result.stdout.rstrip().splitlines()[-2].strip() == "Camille"
    assert "Bonjour" not in result.stdout


def test_templates_preview_every_language(isolated_env):
    result = run("templates", "preview")
    assert result.exit_code == 0, result.output
    assert all(word in result.stdout for word in ("Bonjour", "Guten Tag", "Dear Customer"))


@pytest.mark.parametrize("args,message", [
    (["--lang", "xx"], "no 'xx' template"),
    (["--order", "12"], "not an Amazon order number"),
])
def test_templates_preview_bad_input_is_exit_2(isolated_env, args, message):
    result = run("templates", "preview", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output


# -- process --json --------------------------------------------------------------------------------

def test_process_dry_run_json(home):
    before = sandbox.state_path(home).read_bytes()
    result = run("process", "1002", "--sandbox", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "Step 1/4" in result.stderr and "Step 1/4" not in result.stdout
    assert list(doc) == ["ticket_id", "dry_run", "order_id", "decision", "statuses", "language",
                         "message", "planned", "done", "links", "exit_code", "error",
                         "unsure"]
    assert doc["decision"]["branch"] == "cannot_cancel" and doc["dry_run"] is True
    assert doc["statuses"]["gstk"] == {"id": "GS-1048198", "label": "Expédiée",
                                       "status": "shipped"}
    assert doc["statuses"]["amazon"]["fulfillment_status"] == "SHIPPED"
    assert doc["language"] == {"code": "de", "why": "the buyer's language on Amazon is de-DE"}
    assert doc["message"].startswith("Guten Tag") and doc["planned"] and doc["done"] == []
    assert doc["links"]["ticket"].endswith("/a/tickets/1002") and doc["error"] is None
    assert sandbox.state_path(home).read_bytes() == before


def test_process_json_after_a_real_run_lists_what_was_done(home):
    result = run("process", "1001", "--sandbox", "--json", input="y\n")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["decision"]["branch"] == "cancel" and not doc["dry_run"]
    assert {a["system"] for a in doc["done"]} >= {"GSTK", "Amazon", "Freshdesk"}


def test_process_json_on_an_error_is_still_one_document(home):
    result = run("process", "9999", "--sandbox", "--dry-run", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ticket_id"] == 9999 and "not found" in doc["error"] and doc["exit_code"] == 1
    assert "cancelbot: " in result.stderr


# -- history --json -----------------------------------------------------------------------------

def test_history_json_lists_the_journal_and_creates_nothing(home):
    empty = run("history", "--json", "--sandbox")
    assert empty.exit_code == 0, empty.output
    assert json.loads(empty.stdout) == {"ticket_id": None, "events": []}
    assert not list(home.rglob("journal.sqlite3"))
    run("process", "1001", "--sandbox", input="y\n")
    doc = json.loads(run("history", "1001", "--json", "--sandbox").stdout)
    assert doc["ticket_id"] == 1001 and doc["events"]
    assert set(doc["events"][0]) == {"at", "ticket_id", "order_id", "job_id", "step", "phase",
                                     "ref", "detail", "agent"}
    assert {e["step"] for e in doc["events"]} >= {"gstk_cancel", "amazon_cancel"}
    assert all(e["ticket_id"] == 1001 for e in doc["events"])

"""Every branch of `cancelbot process` on the sandbox, as an agent would run it."""

from __future__ import annotations

import json

import pytest
from fakes import as_found, person_flag, unflagged
from typer.testing import CliRunner

from cancelbot import sandbox
from cancelbot.cli import app


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def state(home) -> bytes:
    return sandbox.state_path(home).read_bytes()


def seen(home) -> dict:
    """The three systems as a person sees them (a claim taken back leaves no trace there)."""
    return as_found(json.loads(state(home)))


def ticket(home, ticket_id: int) -> dict:
    return json.loads(state(home))["freshdesk"]["tickets"][str(ticket_id)]


def public_replies(t: dict) -> list[dict]:
    return [c for c in t["conversations"] if not c["private"] and not c["incoming"]]


def private_notes(t: dict) -> list[dict]:
    return [c for c in t["conversations"] if c["private"]]


def gstk_status(home, order_id: str) -> str:
    orders = json.loads(state(home))["gstk"]["orders"].values()
    return next(o["status"] for o in orders if o["marketplace_order_id"] == order_id)


def amazon_status(home, order_id: str) -> str:
    order = json.loads(state(home))["amazon"]["orders"][order_id]["order"]
    return order["fulfillment"]["fulfillmentStatus"]


# -- CANCEL ---------------------------------------------------------------------------------------

def test_cancel_branch_confirmed(home):
    result = run("process", "1001", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Step 4/4 · Act on its status" in result.output
    assert "CANCEL" in result.output
    assert "the buyer asked Amazon" in result.output
    assert gstk_status(home, "402-3815274-6120358") == "Annulée"
    assert amazon_status(home, "402-3815274-6120358") == "CANCELLED"
    t = ticket(home, 1001)
    assert t["status"] == 5
    assert public_replies(t) == [], "no message to the buyer: Amazon informs them"
    (note,) = [n for n in private_notes(t) if "cancelbot:" in n["body"]]
    assert "402-3815274-6120358" in note["body"] and "BuyerCanceled" in note["body"]
    assert "sellercentral.amazon.fr/orders-v3/order/402-3815274-6120358" in result.output


def test_cancel_feed_names_every_item_with_buyer_canceled(home):
    run("process", "1001", "--sandbox", input="y\n")
    data = json.loads(state(home))
    uploads = json.dumps(data["amazon"])
    assert "<CancelReason>BuyerCanceled</CancelReason>" in uploads
    assert "<StatusCode>Failure</StatusCode>" in uploads


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])  # No, Enter (default No), end of input
def test_declined_cancel_changes_nothing(home, answer):
    before = seen(home)
    result = run("process", "1001", "--sandbox", input=answer)
    assert result.exit_code == 3, result.output
    assert "nothing changed" in result.output
    assert seen(home) == before


def test_dry_run_changes_nothing_and_shows_the_plan(home):
    before = state(home)
    result = run("process", "1001", "--sandbox", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output
    assert "GSTK: cancel order GS-1048213" in result.output
    assert state(home) == before


def test_unicode_dashes_in_html_and_belgian_marketplace_in_french(home):
    result = run("process", "1009", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "402-1234567-7654321" in result.output
    assert "amazon.com.be" in result.output
    assert amazon_status(home, "402-1234567-7654321") == "CANCELLED"


def test_second_run_after_a_cancel_changes_nothing_and_says_so(home):
    # Issue 3: a rerun after a complete run changes nothing, says so, and exits 0.
    run("process", "1001", "--sandbox", input="y\n")
    after_first = state(home)
    result = run("process", "1001", "--sandbox", input="")
    assert result.exit_code == 0, result.output
    assert "nothing left to do" in result.output
    assert state(home) == after_first


# -- CANNOT CANCEL --------------------------------------------------------------------------------

def test_cannot_cancel_replies_in_german_through_the_relay(home):
    result = run("process", "1002", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Reply in German" in result.output and "amazon.de" in result.output
    t = ticket(home, 1002)
    (reply,) = public_replies(t)
    # The approved text, untouched: the order number travels in the relay's subject.
    assert "Das Paket liegt schon zum Versand bereit" in reply["body"]
    assert "302-5521908-4417736" not in reply["body"]
    assert "Annahme des Pakets zu verweigern" in reply["body"]
    assert t["status"] == 4
    (note,) = [n for n in private_notes(t) if "cancelbot:" in n["body"]]
    assert "language: de" in note["body"] and "ticket reply" in note["body"]
    assert gstk_status(home, "302-5521908-4417736") == "Expédiée", "GSTK untouched"


def test_cannot_cancel_declined_sends_nothing(home):
    before = seen(home)
    result = run("process", "1002", "--sandbox", input="n\n")
    assert result.exit_code == 3
    assert seen(home) == before


def test_cannot_cancel_dry_run_shows_the_exact_message(home):
    before = state(home)
    result = run("process", "1002", "--sandbox", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Vielen Dank für Ihre Anfrage an unseren Cocooncenter Kundenservice!" in result.output
    assert state(home) == before


def test_amazon_notification_sender_gets_the_assisted_message(home):
    result = run("process", "1003", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Seller Central (assisted)" in result.output
    assert "Dear Customer," in result.output
    assert "sellercentral.amazon.co.uk/messaging/contact?orderID=203-6640182-9937125" \
        in result.output.replace("\n", "")
    t = ticket(home, 1003)
    assert public_replies(t) == [], "the agent sends it from Seller Central, not the ticket"
    assert t["status"] == 4
    (note,) = [n for n in private_notes(t) if "cancelbot:" in n["body"]]
    assert "Seller Central" in note["body"] and "language: en" in note["body"]


def test_assisted_message_not_confirmed_changes_nothing(home):
    before = seen(home)
    result = run("process", "1003", "--sandbox", input="n\n")
    assert result.exit_code == 3
    assert seen(home) == before


def test_italian_marketplace_gets_english(home):
    result = run("process", "1004", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    (reply,) = public_replies(ticket(home, 1004))
    assert reply["body"].startswith("<p>Dear Customer,")


def test_lang_override(home):
    result = run("process", "1004", "--sandbox", "--lang", "fr", input="y\n")
    assert result.exit_code == 0, result.output
    (reply,) = public_replies(ticket(home, 1004))
    assert "Bonjour," in reply["body"]


def test_rich_markup_and_html_in_the_ticket_are_shown_literally(home):
    result = run("process", "1011", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "[bold red]URGENT[/]" in result.output
    assert "<script>alert(1)</script>" in result.output
    (reply,) = public_replies(ticket(home, 1011))
    assert "<script>" not in reply["body"]


# -- ALREADY CANCELLED ----------------------------------------------------------------------------

def test_already_cancelled_in_gstk_offers_the_amazon_cancellation(home):
    result = run("process", "1008", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Amazon does not show it cancelled" in result.output
    assert amazon_status(home, "306-4471029-8815562") == "CANCELLED"
    assert ticket(home, 1008)["status"] == 5


def test_already_cancelled_declined(home):
    before = seen(home)
    assert run("process", "1008", "--sandbox", input="n\n").exit_code == 3
    assert seen(home) == before


# -- NEEDS A HUMAN --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("ticket_id", "words"),
    [(1006, "not in GSTK"), (1007, "Amazon says SHIPPED")],
)
def test_needs_a_human_stops_before_any_change(home, ticket_id, words):
    before = json.loads(state(home))
    result = run("process", str(ticket_id), "--sandbox", input="y\n")
    assert result.exit_code == 4, result.output
    assert words in result.output
    assert "Nothing changed" in result.output
    # Only the reason is left on the ticket, for whoever picks it up.
    assert as_found(unflagged(json.loads(state(home)))) == as_found(unflagged(before))
    notes, tagged = person_flag(home, ticket_id)
    assert len(notes) == 1 and tagged


def test_no_order_number_asks_and_reasks_until_valid(home):
    result = run("process", "1005", "--sandbox", input="402-12\n402-3815274-6120358\nn\n")
    assert "not an Amazon order number" in result.output
    assert "402-3815274-6120358" in result.output
    assert result.exit_code == 3  # declined at the confirmation


def test_no_order_number_accepts_a_pasted_seller_central_link(home):
    link = "https://sellercentral.amazon.fr/orders-v3/order/402-3815274-6120358"
    before = seen(home)
    result = run("process", "1005", "--sandbox", input=f"#402‑3815274‑6120358x\n"
                 f"  {link}  \nn\n")
    assert "not an Amazon order number" in result.output  # the mistyped one, re-asked
    assert "Amazon order          402-3815274-6120358" in result.output
    assert result.exit_code == 3  # declined at the confirmation: nothing changed
    assert seen(home) == before


def test_no_order_number_with_yes_needs_a_human(home):
    before = state(home)
    result = run("process", "1005", "--sandbox", "--yes")
    assert result.exit_code == 4
    assert unflagged(json.loads(state(home))) == unflagged(json.loads(before))
    notes, tagged = person_flag(home, 1005)
    assert notes == ["cancelbot: needs a person: no Amazon order number in the ticket. "
                     "Check: the buyer's order in Seller Central."] and tagged


def test_several_order_numbers_the_agent_chooses(home):
    result = run("process", "1010", "--sandbox", input="2\ny\n")
    assert result.exit_code == 0, result.output
    assert "407-9913364-0572218" in result.output
    assert "CANNOT CANCEL" in result.output
    assert gstk_status(home, "407-2290518-3346071") == "En attente de préparation"


def test_several_order_numbers_with_yes_needs_a_human(home):
    result = run("process", "1010", "--sandbox", "--yes")
    assert result.exit_code == 4


def test_yes_confirms_a_cancel(home):
    result = run("process", "1001", "--sandbox", "--yes")
    assert result.exit_code == 0, result.output
    assert amazon_status(home, "402-3815274-6120358") == "CANCELLED"


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["abc", "0", "12.5", "１２", "#"])
def test_ticket_id_must_be_a_positive_integer(home, bad):
    result = run("process", bad, "--sandbox")
    assert result.exit_code == 2
    assert "positive whole number" in result.output
    assert "Traceback" not in result.output


def test_a_negative_ticket_id_is_a_usage_error(home):
    before = state(home)
    result = run("process", "-3", "--sandbox")
    assert result.exit_code == 2
    assert "No such option: -3" in result.output
    assert state(home) == before


def test_unknown_ticket(home):
    result = run("process", "999999", "--sandbox")
    assert result.exit_code == 1
    assert "not found" in result.output


def test_missing_configuration_names_the_variables(isolated_env):
    result = run("process", "1001")
    assert result.exit_code == 1
    assert "FRESHDESK_URL" in result.output and ".env.example" in result.output


def test_plain_http_is_refused_for_a_remote_host(isolated_env, monkeypatch):
    monkeypatch.setenv("FRESHDESK_URL", "http://acme.freshdesk.com")
    monkeypatch.setenv("FRESHDESK_API_KEY", "k")
    result = run("process", "1001")
    assert result.exit_code == 1
    assert "https://" in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("cancelbot ")


def test_sandbox_list_and_reset(home):
    run("process", "1001", "--sandbox", input="y\n")
    listing = run("sandbox", "list")
    assert listing.exit_code == 0
    assert "#1001" in listing.output and "[bold red]URGENT[/]" in listing.output
    assert run("sandbox", "reset").exit_code == 0
    assert ticket(home, 1001)["status"] == 2


def test_dotenv_in_the_current_folder_is_read(isolated_env):
    from pathlib import Path

    Path(".env").write_text("FRESHDESK_URL=http://acme.freshdesk.com\nFRESHDESK_API_KEY=k\n",
                            encoding="utf-8")
    result = run("process", "1001")
    assert result.exit_code == 1
    assert "FRESHDESK_URL must use https://" in result.output


def test_sandbox_from_the_environment(home, monkeypatch):
    monkeypatch.setenv("CANCELBOT_SANDBOX", "1")
    result = run("process", "1002", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Sandbox" in result.output


def test_a_team_can_point_at_its_own_templates(home, monkeypatch, tmp_path):
    own = tmp_path / "our-templates"
    (own / "de").mkdir(parents=True)
    (own / "de" / "cannot_cancel.txt.j2").write_text(
        "Hallo, Bestellung {{ order_id }} ist unterwegs.", encoding="utf-8")
    monkeypatch.setenv("CANCELBOT_TEMPLATES", str(own))
    result = run("process", "1002", "--sandbox", input="y\n")
    assert result.exit_code == 0, result.output
    (reply,) = public_replies(ticket(home, 1002))
    assert reply["body"] == "<p>Hallo, Bestellung 302-5521908-4417736 ist unterwegs.</p>"


def test_a_template_folder_missing_the_language_is_one_clear_error(home, monkeypatch, tmp_path):
    own = tmp_path / "our-templates"
    (own / "fr").mkdir(parents=True)
    (own / "fr" / "cannot_cancel.txt.j2").write_text("Bonjour", encoding="utf-8")
    monkeypatch.setenv("CANCELBOT_TEMPLATES", str(own))
    before = seen(home)
    result = run("process", "1002", "--sandbox", input="y\n")
    assert result.exit_code == 1
    assert "no 'de' reply template" in result.output
    assert "Traceback" not in result.output
    assert seen(home) == before


# -- the result survives ---------------------------------------------------------------------------


def test_declined_json_still_reports_the_order_the_decision_and_the_plan(home):
    before = seen(home)
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--json"], input="n\n")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["order_id"] == "402-3815274-6120358"
    assert doc["decision"]["branch"] == "cancel"
    assert doc["planned"][0].startswith("GSTK: cancel order GS-1048213")
    assert doc["statuses"]["gstk"]["status"] == "awaiting_preparation"
    assert doc["done"] == [] and doc["exit_code"] == 3 and doc["error"].startswith("declined")
    assert seen(home) == before, "declined: nothing changed"


def test_a_run_failing_after_the_gstk_cancel_lists_it_in_done(home, monkeypatch):
    import httpx

    import cancelbot.sandbox.transport as transport

    real = transport.SandboxTransport

    class AmazonDown(real):  # type: ignore[misc, valid-type]
        def handle_request(self, request):
            if request.url.path.startswith("/feeds/"):
                raise httpx.ConnectError("Amazon is down", request=request)
            return super().handle_request(request)

    monkeypatch.setattr(transport, "SandboxTransport", AmazonDown)
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--yes", "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert {"system": "GSTK", "what": "order GS-1048213 cancelled", "ref": "GS-1048213"} \
        in doc["done"]
    assert "Rerun `cancelbot process 1001 --sandbox` to finish" in doc["error"]
    assert gstk_status(home, "402-3815274-6120358") == "Annulée"
    assert amazon_status(home, "402-3815274-6120358") == "UNSHIPPED"


def test_not_found_on_amazon_is_said_as_such(home, monkeypatch):
    import httpx

    import cancelbot.sandbox.transport as transport

    real = transport.SandboxTransport

    class NotOnAmazon(real):  # type: ignore[misc, valid-type]
        def handle_request(self, request):
            if request.url.path.startswith("/orders/2026-01-01/orders/"):
                return httpx.Response(404, json={"errors": [{"code": "NotFound",
                                                             "message": "no such order"}]})
            return super().handle_request(request)

    found = json.loads(run("process", "1001", "--sandbox", "--json", "--dry-run").stdout)
    assert found["statuses"]["amazon_lookup"] == "found"
    monkeypatch.setattr(transport, "SandboxTransport", NotOnAmazon)
    result = run("process", "1001", "--sandbox", "--json", "--dry-run")
    doc = json.loads(result.stdout)
    assert doc["statuses"]["amazon"] is None
    assert doc["statuses"]["amazon_lookup"] == "not_found"
    assert "not found on Amazon" in result.stderr and "not checked" not in result.stderr
    assert doc["decision"]["branch"] == "needs_human" and result.exit_code == 4


# -- --debug after the command name ---------------------------------------------------------------

DEBUG_RUNS = {
    ("process",): ["process", "1002", "--sandbox", "--dry-run", "--debug"],
    ("history",): ["history", "--sandbox", "--debug"],
    ("feeds",): ["feeds", "--sandbox", "--debug"],
    ("queue",): ["queue", "--sandbox", "--list", "--debug"],
    ("doctor",): ["doctor", "--sandbox", "--debug"],
    ("sandbox", "list"): ["sandbox", "list", "--debug"],
    ("sandbox", "reset"): ["sandbox", "reset", "--debug"],
    ("templates", "list"): ["templates", "list", "--debug"],
    ("templates", "preview"): ["templates", "preview", "--debug"],
}


@pytest.mark.parametrize("args", list(DEBUG_RUNS.values()), ids=lambda a: " ".join(a[:2]))
def test_debug_is_accepted_after_the_command_name(home, monkeypatch, args):
    import logging

    configured = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: configured.append(kw["level"]))
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert configured == [logging.DEBUG], "the same logging as `cancelbot --debug …`"


def test_every_command_is_in_the_debug_test():
    from test_docs import command_paths

    leaves = {p for p in command_paths() if p and p not in {("sandbox",), ("templates",)}}
    assert leaves == set(DEBUG_RUNS)

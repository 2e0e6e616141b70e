"""The reply on its way out: the buyer's language, the review (edit / language / cancel)."""

from __future__ import annotations

import json
import sys

import pytest
from fakes import FaultyTransport, ScriptedAgent
from typer.testing import CliRunner

from cancelbot import messages, sandbox
from cancelbot.cli import app
from cancelbot.errors import AuthError
from cancelbot.messages import choose_language
from cancelbot.replies import Draft

GERMAN = "A1PA6795UKMFR9"
ITALIAN = "APJ6JRA9NG5V4"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def ticket(home, ticket_id: int) -> dict:
    state = json.loads(sandbox.state_path(home).read_text(encoding="utf-8"))
    return state["freshdesk"]["tickets"][str(ticket_id)]


# -- which language -------------------------------------------------------------------------------

def test_the_buyers_locale_wins_over_the_marketplace():
    choice = choose_language(None, "A13V1IB3VIYZZH", "de-DE")  # a German buyer on amazon.fr
    assert choice.code == "de" and "de-DE" in choice.why


def test_a_locale_without_template_falls_back_to_the_marketplace_and_says_why():
    choice = choose_language(None, ITALIAN, "it_IT")
    assert choice.code == "en"
    assert "no 'it' template" in choice.why and "amazon.it" in choice.why


def test_lang_still_wins_and_no_locale_changes_nothing():
    assert choose_language("fr", GERMAN, "de-DE").code == "fr"
    assert choose_language(None, GERMAN, None).why == "order placed on amazon.de"


# -- the review, with a scripted agent -------------------------------------------------------------

class NoMarketplace:
    automated = False


def draft(agent, code="de") -> Draft:
    return Draft.prepare(agent, NoMarketplace(), order_id="302-5521908-4417736",
                         marketplace_id=GERMAN, channel="ticket reply", copy_to="",
                         language=code)


def test_an_edited_message_is_the_one_kept_and_shown_again():
    agent = ScriptedAgent([("edit", "Guten Tag Herr Schneider,\nEs tut uns leid.\n"), ("send", "")])
    reply = draft(agent)
    assert reply.confirm("Send this reply to the buyer?") is True
    assert reply.text == "Guten Tag Herr Schneider,\nEs tut uns leid." and reply.edited
    assert agent.reviews[-1] == ("de", reply.text, False), "shown again before the next question"


def test_an_empty_edit_keeps_the_previous_text():
    agent = ScriptedAgent([("edit", "  \n"), ("send", "")])
    reply = draft(agent)
    before = reply.text
    assert reply.confirm("Send?") and reply.text == before and not reply.edited
    assert agent.warned


def test_another_language_renders_that_template():
    agent = ScriptedAgent([("language", "fr"), ("send", "")])
    reply = draft(agent)
    assert reply.confirm("Send?")
    assert reply.code == "fr" and reply.text.startswith("Bonjour") and not reply.edited
    assert reply.why == "you chose it at the preview"


def test_cancel_at_the_review_is_a_no():
    assert draft(ScriptedAgent([("cancel", "")])).confirm("Send?") is False


# -- the same, end to end on the sandbox -----------------------------------------------------------

@pytest.mark.skipif(sys.platform == "win32", reason="the fake editor is a POSIX shell script")
def test_edit_in_editor_sends_and_notes_the_edited_text(home, tmp_path, monkeypatch):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i.bak 's/^Guten Tag,$/Guten Tag Herr Schneider,/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    result = run("process", "1002", "--sandbox", input="e\ny\n")
    assert result.exit_code == 0, result.output
    t = ticket(home, 1002)
    reply = next(c for c in t["conversations"] if not c["private"] and not c["incoming"])
    assert reply["body_text"].startswith("Guten Tag Herr Schneider,")
    note = [c for c in t["conversations"] if c["private"]][-1]["body_text"]
    assert "Message as edited and sent:" in note and "Guten Tag Herr Schneider," in note


def test_changing_the_language_at_the_preview(home):
    # 1004 is amazon.it: English by default; the agent picks French (2nd of de, fr).
    result = run("process", "1004", "--sandbox", input="l\n2\ny\n")
    assert result.exit_code == 0, result.output
    reply = next(c for c in ticket(home, 1004)["conversations"] if not c["incoming"]
                 and not c["private"])
    assert reply["body_text"].startswith("Bonjour")
    assert "no 'it' template for the buyer's it-IT" in result.output


def as_seen(t: dict) -> dict:
    """A ticket as an agent sees it: Freshdesk's `updated_at` moves with a withdrawn claim."""
    return {k: v for k, v in t.items() if k != "updated_at"}


def test_cancel_at_the_preview_changes_nothing(home):
    before = as_seen(ticket(home, 1002))
    result = run("process", "1002", "--sandbox", input="n\n")
    assert result.exit_code == 3, result.output
    assert as_seen(ticket(home, 1002)) == before  # the claim taken back


def test_yes_cannot_say_a_seller_central_message_was_sent(home):
    before = as_seen(ticket(home, 1003))
    result = run("process", "1003", "--sandbox", "--yes")
    assert result.exit_code == 4, result.output
    assert "Have you sent it from Seller Central?" in result.output
    assert as_seen(ticket(home, 1003)) == before  # the claim taken back


def test_a_refused_buyer_locale_falls_back_to_the_marketplace(home, monkeypatch):
    """The Messaging role may be missing: the reply still goes in the marketplace's language."""

    from cancelbot.config import load_settings
    from cancelbot.ports import Options
    from cancelbot.procedure import process
    from cancelbot.wiring import open_services

    transport = FaultyTransport(home, match=lambda r: r.url.path.startswith("/messaging/"),
                                fault="403")
    agent = ScriptedAgent()
    with open_services(load_settings(sandbox=True), agent, transport=transport) as services:
        with pytest.raises(AuthError):
            services.marketplace.buyer_locale("302-5521908-4417736", GERMAN)
        outcome = process(1002, services, agent, Options(dry_run=True)).raise_for_error()
    assert outcome.language == "de"
    language, why = agent.messages[0]
    assert language == "de"
    assert why.startswith("order placed on amazon.de; the buyer's language is unavailable")


def test_templates_catalogue_says_where_each_language_is_used():
    rows = {r["language"]: r for r in messages.catalogue(messages.templates_dir())}
    assert set(rows) == {"fr", "de", "en"} and all(r["renders"] for r in rows.values())
    assert "amazon.com.be" in rows["fr"]["marketplaces"]
    assert "amazon.it" in rows["en"]["marketplaces"]


def test_jinja2_loads_while_amazon_is_asked_the_buyers_locale(monkeypatch):
    """Jinja2 (~30 ms) loads beside the wait for the buyer's locale, not after it (issue 12)."""
    happened = []
    monkeypatch.setattr(messages, "load_ahead", lambda: happened.append("jinja2 loading"))

    class Asked:
        automated = True

        def buyer_locale(self, order_id, marketplace_id):
            happened.append("locale asked")
            return "de-DE"

    found = Draft.prepare(ScriptedAgent(), Asked(), order_id="302-5521908-4417736",
                          marketplace_id=GERMAN, channel="ticket reply", copy_to="")
    assert happened == ["jinja2 loading", "locale asked"] and found.code == "de"


def test_loading_jinja2_ahead_is_done_once(monkeypatch):
    imported = []
    monkeypatch.setattr(messages, "_import_jinja2", lambda: imported.append(True))
    loaded = sys.modules["jinja2.sandbox"] if "jinja2.sandbox" in sys.modules else None
    monkeypatch.delitem(sys.modules, "jinja2.sandbox", raising=False)
    thread = messages.load_ahead()
    assert thread is not None and thread.name == "cancelbot-jinja2" and not thread.daemon
    thread.join()
    assert imported == [True]
    monkeypatch.setitem(sys.modules, "jinja2.sandbox", loaded or object())
    assert messages.load_ahead() is None and imported == [True]  # loaded: no second thread


def test_a_locale_still_coming_is_waited_for_and_a_failed_one_asked_again():
    """The head start hands the order over with the buyer's locale still to come: the draft
    waits for it; if that request failed, the draft asks Amazon itself."""
    from concurrent.futures import Future

    from cancelbot.errors import Unreachable

    asked = []

    class Amazon:
        automated = True

        def buyer_locale(self, order_id, marketplace_id):
            asked.append(order_id)
            return "en-GB"

    coming: Future = Future()
    coming.set_result(("de-DE", ""))
    draft = Draft.prepare(ScriptedAgent(), Amazon(), order_id="302-5521908-4417736",
                          marketplace_id=GERMAN, channel="ticket reply", copy_to="",
                          known_locale=coming)
    assert draft.code == "de" and asked == []
    failed: Future = Future()
    failed.set_exception(Unreachable("Amazon", "no answer"))
    draft = Draft.prepare(ScriptedAgent(), Amazon(), order_id="302-5521908-4417736",
                          marketplace_id=GERMAN, channel="ticket reply", copy_to="",
                          known_locale=failed)
    assert draft.code == "en" and asked == ["302-5521908-4417736"]

    class NotToWaitFor(Future):
        def result(self, timeout=None):
            raise AssertionError("--lang chose: the buyer's locale is not waited for")

    draft = Draft.prepare(ScriptedAgent(), Amazon(), order_id="302-5521908-4417736",
                          marketplace_id=GERMAN, channel="ticket reply", copy_to="",
                          language="fr", known_locale=NotToWaitFor())
    assert draft.code == "fr"

"""The interactive screens as an agent sees them: the whole ticket, Enter, narrow terminals,
the message to paste into Seller Central, local times."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from rich.console import Console

from cancelbot.models import Conversation, Ticket
from cancelbot.outcome import Outcome
from cancelbot.render import render_outcome
from cancelbot.ui import THREAD_SHOWN, TerminalAgent, TerminalShift
from cancelbot.when import clock_time

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)


def console(width: int = 80, stdin: str = "") -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    con = Console(file=out, width=width, color_system=None, force_terminal=False)
    if stdin:
        answers = iter(stdin.splitlines())
        con.input = lambda prompt="", **kw: next(answers)  # type: ignore[method-assign]
    return con, out


def thread(count: int) -> tuple[Conversation, ...]:
    return tuple(
        Conversation(
            id=100 + n,
            body_text=f"conversation number {n}",
            private=n % 2 == 1,
            incoming=n % 2 == 0,
            created_at=NOW - timedelta(minutes=60 - n),
            author="buyer@marketplace.amazon.fr" if n % 2 == 0 else "user 48000000001",
        )
        for n in range(count)
    )


def ticket(conversations: tuple[Conversation, ...] = ()) -> Ticket:
    return Ticket(1001, "Demande d'annulation", "Merci d'annuler ma commande.", 2,
                  "buyer@marketplace.amazon.fr", "Camille", NOW - timedelta(hours=3),
                  conversations)


def test_the_card_shows_every_conversation_who_when_and_private():
    con, out = console()
    TerminalAgent(con).show_ticket(ticket(thread(2)))
    text = out.getvalue()
    assert "conversation number 0" in text and "conversation number 1" in text
    assert "message · buyer@marketplace.amazon.fr" in text
    assert "private note · user 48000000001" in text
    assert "conversation(s) on the ticket" not in text, "no more mere counting"


def test_a_long_thread_folds_to_the_newest_with_a_count():
    con, out = console()
    TerminalAgent(con).show_ticket(ticket(thread(THREAD_SHOWN + 7)))
    text = out.getvalue()
    assert "7 earlier conversations not shown" in text
    assert f"conversation number {THREAD_SHOWN + 6}" in text, "the newest is shown"
    assert "conversation number 0\n" not in text and "conversation number 6 " not in text


def test_enter_at_the_queue_card_does_not_process():
    con, out = console(stdin="\np")
    assert TerminalShift(con).next_action() == "process"
    assert "Type p to process" in out.getvalue(), "Enter alone was not taken as an answer"


def test_enter_at_a_confirmation_is_no():
    con, _ = console(stdin="")
    con.input = lambda prompt="", **kw: ""  # type: ignore[method-assign]
    assert TerminalAgent(con).confirm("Cancel this order?") is False


def test_at_40_columns_order_numbers_and_urls_are_never_cut():
    outcome = Outcome(1003, order_id="203-6640182-9937125")
    url = "https://sellercentral.amazon.co.uk/orders-v3/order/203-6640182-9937125"
    outcome.links.seller_central_order = url
    for width in (40, 80):
        con, out = console(width)
        render_outcome(con, outcome)
        flat = "".join(line.strip(" │") for line in out.getvalue().splitlines())
        assert "203-6640182-9937125" in flat and url in flat, width
        assert "…" not in out.getvalue()


def test_the_message_to_paste_shows_where_after_every_showing(tmp_path, monkeypatch):
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    con, out = console(stdin="e\nn")
    agent = TerminalAgent(con)
    link = "https://sellercentral.amazon.co.uk/messaging/contact?orderID=203-6640182-9937125"
    agent.show_message("Dear customer,\nWe are sorry.", "en", "order placed on amazon.co.uk",
                       "Seller Central (assisted)", copy_to=link)
    monkeypatch.setattr(agent, "_edit", lambda text: text + "\nKind regards")
    agent.review_message("Have you sent it?", "Dear customer,\nWe are sorry.", "en", "why",
                         "Seller Central (assisted)", copy_to=link, shown=True)
    action, edited = agent.review_message("Have you sent it?", "x", "en", "why",
                                          "Seller Central (assisted)", copy_to=link,
                                          shown=False)
    text = out.getvalue()
    assert text.count("Paste it here:") == 2, "after the first showing and after the edit"
    (copy,) = temp.iterdir()
    assert copy.read_text(encoding="utf-8") == "x\n", "the file holds what was shown last"


def test_times_are_local_and_human(monkeypatch):
    monkeypatch.setenv("CANCELBOT_TZ", "Europe/Paris")
    moment = datetime(2026, 11, 27, 11, 22, 14, tzinfo=timezone.utc)
    assert clock_time(moment, now=moment) == "12:22"
    assert clock_time("2026-11-27T11:22:14Z", now=NOW) == "Fri 27 Nov 12:22"
    assert clock_time(None) == "?"


def test_a_run_never_reads_rich_emoji_codes(home, monkeypatch):
    """The screens print our words and the buyer's as written: no ":x:" turned into an emoji,
    and Rich's table of emoji codes (~5 ms to load) never needed on a run's way."""
    import rich.markup
    from typer.testing import CliRunner

    from cancelbot.cli import app

    replaced: list[str] = []
    monkeypatch.setattr(rich.markup, "_emoji_replace",
                        lambda text, *args, **kwargs: replaced.append(text) or text)
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Ticket #1001" in result.output and replaced == []

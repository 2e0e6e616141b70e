"""The buyer gets the team's approved text (issue 9): every sentence of the seed's reply,
unchanged and in order; the only addition is the agent's signature after the closing line.

The seed is read from `../shared/seed/` beside the repository when it is there (CI lays it
out so), else from the copy pinned in tests/data/seed/, which the first test holds equal to it.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancelbot import sandbox
from cancelbot.cli import app
from cancelbot.messages import render_reply, templates_dir

ROOT = Path(__file__).resolve().parent.parent
SEED_NAME = "000_785cb4877609186a.txt"
SHARED_SEED = ROOT.parent / "shared" / "seed" / SEED_NAME
PINNED_SEED = Path(__file__).parent / "data" / "seed" / SEED_NAME
PINNED_REPLIES = Path(__file__).parent / "data" / "replies"
# The seed's headings of its three replies ("Modèle de réponse par mail").
HEADINGS = {"Français": "fr", "Allemand": "de", "Anglais": "en"}
AGENT = "Zoé Martin"


def seed_text() -> str:
    path = SHARED_SEED if SHARED_SEED.is_file() else PINNED_SEED
    return path.read_text(encoding="utf-8")


def seed_replies(text: str) -> dict[str, str]:
    """Each language's reply in the seed: the lines under its heading, blank edges dropped."""
    _, _, models = text.partition("Modèle de réponse par mail")
    replies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in models.splitlines():
        if line.strip() in HEADINGS:
            current = replies.setdefault(HEADINGS[line.strip()], [])
        elif current is not None:
            current.append(line)
    return {code: "\n".join(lines).strip() for code, lines in replies.items()}


def sentences(text: str) -> list[str]:
    """Sentences in order: a line break or the space after . ! ? ends one. The spaces between
    two sentences are not part of either; a sentence's own characters are kept exactly."""
    found = []
    for line in text.splitlines():
        found += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    return found


def html_body_text(body: str) -> str:
    """What a mail client shows of the HTML Freshdesk sent: paragraphs and breaks as lines."""
    body = re.sub(r"<br\s*/?>|</p>", "\n", body)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def assert_seed_sentences_then_signature(received: str, code: str) -> None:
    expected = sentences(seed_replies(seed_text())[code])
    got = sentences(received)
    assert got[:len(expected)] == expected
    assert got[len(expected):] == [AGENT], "only the signature may follow the closing line"
    assert received.rstrip().endswith(f"{expected[-1]}\n{AGENT}")


def test_pinned_seed_is_the_shared_seed():
    """Always runs: with the shared seed beside the repository, the pinned copy must equal it;
    without, the pinned copy must still hold the three replies the other tests compare with."""
    pinned = PINNED_SEED.read_text(encoding="utf-8")
    if SHARED_SEED.is_file():
        assert pinned == SHARED_SEED.read_text(encoding="utf-8"), \
            f"tests/data/seed/{SEED_NAME} is out of date: copy the shared seed again"
    replies = seed_replies(pinned)
    assert sorted(replies) == ["de", "en", "fr"]
    assert all(len(sentences(text)) >= 5 for text in replies.values())


@pytest.mark.parametrize("code", sorted(HEADINGS.values()))
def test_reply_pins_are_the_seeds_replies(code):
    pin = (PINNED_REPLIES / f"{code}.txt").read_text(encoding="utf-8").rstrip("\n")
    assert pin == seed_replies(seed_text())[code]


@pytest.mark.parametrize("code", sorted(HEADINGS.values()))
def test_rendered_reply_is_the_seed_plus_the_signature(code):
    text = render_reply(templates_dir(), code, order_id="402-1234567-7654321", agent_name=AGENT)
    assert_seed_sentences_then_signature(text, code)


@pytest.mark.parametrize("code", sorted(HEADINGS.values()))
def test_reply_sent_through_the_relay_is_the_seed_plus_the_signature(home, monkeypatch, code):
    monkeypatch.setenv("CANCELBOT_AGENT_NAME", AGENT)
    # 1002: shipped on amazon.de, the buyer wrote through Amazon's relay: a ticket reply.
    result = CliRunner().invoke(app, ["process", "1002", "--sandbox", "--lang", code],
                                input="y\n")
    assert result.exit_code == 0, result.output
    conversations = json.loads(sandbox.state_path(home).read_bytes())["freshdesk"]["tickets"][
        "1002"]["conversations"]
    (reply,) = [c for c in conversations if not c["private"] and not c["incoming"]]
    assert_seed_sentences_then_signature(html_body_text(reply["body"]), code)


@pytest.mark.parametrize("code", sorted(HEADINGS.values()))
def test_message_for_seller_central_is_the_seed_plus_the_signature(home, monkeypatch, code):
    monkeypatch.setenv("CANCELBOT_AGENT_NAME", AGENT)
    # 1003: Amazon's notification sender, no relay: the agent copies the message into
    # Seller Central; --json's `message` is that text.
    result = CliRunner().invoke(app, ["process", "1003", "--sandbox", "--json", "--lang", code],
                                input="y\n")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert_seed_sentences_then_signature(document["message"], code)

"""A real shift in a pseudo-terminal: `cancelbot queue --sandbox`, two tickets processed, three
skipped, then quit — as an agent types it, colours and spinners included; and a watching shift
ended by one key."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from fakes import nothing_to_do

from cancelbot import sandbox

if sys.platform == "win32":
    pytest.skip("pexpect drives POSIX pseudo-terminals only", allow_module_level=True)
pexpect = pytest.importorskip("pexpect")

pytestmark = pytest.mark.slow

# Escape sequences a terminal acts on: CSI (colours, cursor moves) and OSC (hyperlinks).
_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def plain(text: str) -> str:
    """What the terminal shows: no escape sequences, and of a line rewritten in place (a
    spinner's frames, each after a carriage return) only its last state."""
    lines = _OSC.sub("", _CSI.sub("", text)).replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


def spawn(home, *args: str, **env_extra: str):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CANCELBOT_", "FRESHDESK_", "NO_COLOR", "FORCE_COLOR", "COLUMNS",
                                "LINES"))}
    env.update(CANCELBOT_HOME=str(home), TERM="xterm-256color", CANCELBOT_SANDBOX_FEED_SECONDS="0",
               **env_extra)
    return pexpect.spawn(sys.executable, ["-m", "cancelbot", *args], env=env,
                         dimensions=(24, 80), encoding="utf-8", timeout=60)


def quit_and_read_the_summary(child, heading: str, lines: tuple[str, ...]):
    """q at the card: the shift ends (exit 0); the whole screen, its summary, and each of
    `lines` with its count."""
    child.send("q\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    screen = plain(child.before)
    summary = screen[screen.index(heading):]
    counts = dict(re.findall(rf"^({'|'.join(lines)}) +(\d+)$", summary, flags=re.M))
    return screen, summary, counts


def test_a_shift_processes_two_skips_one_and_quits(home):
    child = spawn(home, "queue", "--sandbox")
    # Triage: what can still be cancelled first — 1009, 1001, 1012 and the request found on
    # Amazon — then the rest by the 24-hour deadline, 1011 first (1007, awaiting preparation in
    # GSTK but shipped on Amazon, is among the rest).
    child.expect(r"1/13 · Ticket #1009")
    child.expect(r"\[q\]uit: ")
    child.send("p\r")  # awaiting preparation: cancel everywhere
    child.expect(r"Cancel this order in GSTK and on Amazon, and close the ticket\? \[y/N\]")
    child.send("y\r")
    for card in (r"2/13 · Ticket #1001", r"3/13 · Ticket #1012",
                 r"4/13 · Amazon request · order 403-6618204-5193342"):
        child.expect(card)
        child.expect(r"\[q\]uit: ")
        child.send("s\r")
    child.expect(r"5/13 · Ticket #1011")
    child.expect(r"\[q\]uit: ")
    child.send("p\r")  # cannot cancel: the French reply through Amazon's relay
    child.expect(r"Send this reply to the buyer\? \[y\]es · \[e\]dit · \[l\]anguage · \[N\]o")
    child.send("y\r")
    child.expect(r"6/13 · Ticket #1010")
    child.expect(r"\[q\]uit: ")
    _screen, summary, counts = quit_and_read_the_summary(child, "Shift summary", (
        "Cancelled", "Messaged", "Needs a human", "Skipped", "Failed", r"Not reached \(you quit\)"))
    assert counts == {"Cancelled": "1", "Messaged": "1", "Needs a human": "0", "Skipped": "3",
                      "Failed": "0", "Not reached (you quit)": "8"}
    assert re.search(r"2 processed in .* · median \d+ s per ticket", summary)
    assert re.search(r"#1001 +skipped +you skipped it", summary)
    assert re.search(r"Amazon +skipped +you skipped it", summary)
    assert "https://sandbox.freshdesk.invalid/a/tickets/1009" in summary
    assert max(len(line) for line in summary.splitlines()) <= 80

    tickets = json.loads(sandbox.state_path(home).read_text("utf-8"))["freshdesk"]["tickets"]
    assert (tickets["1011"]["status"], tickets["1010"]["status"], tickets["1009"]["status"],
            tickets["1007"]["status"]) == (4, 2, 5, 2)


def test_a_watching_shift_waits_on_an_empty_queue_and_q_ends_it(home):
    nothing_to_do(home)
    child = spawn(home, "queue", "--sandbox", "--watch", "--every", "10")
    child.expect("No open cancellation request")
    child.expect(r"watching for new requests \(next look in \d+ s\)\. Press q")
    child.send("q")  # one key, no Enter
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    screen = plain(child.before)
    assert "Shift summary · 0 processed" in screen and "Not reached" not in screen


def test_in_a_terminal_links_are_hyperlinks_and_no_color_turns_colours_off(home):
    coloured = spawn(home, "queue", "--list", "--sandbox")
    coloured.expect(pexpect.EOF)
    assert "\x1b]8;" in coloured.before, "ticket numbers are terminal hyperlinks"
    assert re.search(r"\x1b\[[0-9;]*3[1-7]m", coloured.before), "urgent times are red"

    muted = spawn(home, "queue", "--list", "--sandbox", NO_COLOR="1")
    muted.expect(pexpect.EOF)
    assert not re.search(r"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|38;)", muted.before), "no colour"
    assert "#1011" in plain(muted.before)
    assert max(len(line) for line in plain(muted.before).splitlines()) <= 80


# English a French shift must not show: the shift's own words, the procedure's questions,
# the summary's labels (each is translated in cancelbot/locale/fr).
ENGLISH_ON_A_SHIFT = (
    "[p]rocess", "[y/N]", "[y]es", "Step 1/4", "Read the ticket", "received ", " ago",
    "Shift summary", "Cancelled ", "Messaged ", "Skipped ", "Not reached", "processed in",
    "Summary", "Decision", "cancellable first", "to do", "Cancel this order",
    "Send this reply", "you skipped it", "Amazon is still processing",
    "can still be cancelled", "by the 24-h deadline", "private note added", "ticket set to",
    "cancellation sent", "reply sent to the buyer", "Fetching the ticket",
    "too late to cancel", "can still be cancelled",
)


def test_a_french_shift_of_three_tickets_speaks_french_at_80_columns(home):
    """LANG=fr_FR.UTF-8, a real terminal of 80 columns: three tickets processed, whatever the
    triage puts first — each card is taken (p) and each question answered yes (o)."""
    child = spawn(home, "queue", "--sandbox", LANG="fr_FR.UTF-8", LANGUAGE="", LC_ALL="")
    child.expect(r"annulables d'abord")
    done = 0
    while done < 3:
        child.expect(r"\d+/\d+ · (?:Ticket #\d+|Demande Amazon)")
        child.expect(r"\[p\]rendre · \[s\]auter · \[q\]uitter : ")
        child.send("p\r")
        asked = child.expect([
            r"Annuler cette commande dans GSTK et sur Amazon, et fermer le ticket \? \[o/N\]",
            r"Envoyer cette réponse à l'acheteur \? \[o\]ui",
            r"\[p\]rendre · \[s\]auter · \[q\]uitter : ",  # nothing to ask: the next card
        ])
        if asked == 2:
            child.send("s\r")  # left to a person or already done: not one of the three
            continue
        child.send("o\r")
        done += 1
    child.expect(r"\[p\]rendre · \[s\]auter · \[q\]uitter : ")
    screen, summary, counts = quit_and_read_the_summary(child, "Bilan de la session", (
        "Annulés", "Répondus", "À voir par une personne", "Passés", "En échec",
        r"Non atteints \(vous avez quitté\)"))
    assert int(counts["Annulés"]) + int(counts["Répondus"]) == 3, summary
    assert re.search(r"^#\d+ +(annulé|répondu) ", summary, flags=re.M), summary
    assert re.search(r"3 traités en .* · médiane \d+ s par ticket", summary)
    left = [w for w in ENGLISH_ON_A_SHIFT if w in screen]
    assert left == [], f"English on a French shift: {left}"
    assert max(len(line) for line in screen.splitlines()) <= 80

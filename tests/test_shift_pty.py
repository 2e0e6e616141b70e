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
    return _OSC.sub("", _CSI.sub("", text)).replace("\r", "")


def spawn(home, *args: str, **env_extra: str):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CANCELBOT_", "FRESHDESK_", "NO_COLOR", "FORCE_COLOR", "COLUMNS",
                                "LINES"))}
    env.update(CANCELBOT_HOME=str(home), TERM="xterm-256color", CANCELBOT_SANDBOX_FEED_SECONDS="0",
               **env_extra)
    return pexpect.spawn(sys.executable, ["-m", "cancelbot", *args], env=env,
                         dimensions=(24, 80), encoding="utf-8", timeout=60)


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
    child.send("q\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    screen = plain(child.before)
    summary = screen[screen.index("Shift summary"):]
    counts = dict(re.findall(r"^(Cancelled|Messaged|Needs a human|Skipped|Failed|Not reached "
                             r"\(you quit\)) +(\d+)$", summary, flags=re.M))
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

"""The agent's language: complete catalogues, the language chosen as documented, French screens.

`python tests/catalogue.py` updates the catalogues; these tests fail when a marked text has no
French, when a compiled catalogue is older than its source, or when a French screen still shows
an English text of the catalogue."""

from __future__ import annotations

import re

import pytest
from catalogue import compiled, help_words, load, marked, po_path
from typer.testing import CliRunner

from cancelbot import i18n
from cancelbot.cli import app


@pytest.mark.parametrize("domain", ["cancelbot", "messages"])
def test_every_marked_text_has_a_french_translation(domain):
    template = marked() if domain == "cancelbot" else help_words()
    french = load(po_path("fr", domain))
    def translated(message) -> bool:
        found = french.get(message.id, context=message.context)
        return bool(found and found.string and "fuzzy" not in found.flags)

    missing = [m.id for m in template if m.id and not translated(m)]
    assert missing == [], f"untranslated — run `python tests/catalogue.py`: {missing[:10]}"


@pytest.mark.parametrize("domain", ["cancelbot", "messages"])
def test_the_shipped_mo_is_the_compiled_po(domain):
    path = po_path("fr", domain)
    assert path.with_suffix(".mo").read_bytes() == compiled(load(path)), \
        "run `python tests/catalogue.py` to compile the catalogue"


def test_placeholders_survive_translation():
    for message in load(po_path("fr", "cancelbot")):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"\{[^{}]*\}", ids[0]))
        for text in strings:
            assert set(re.findall(r"\{[^{}]*\}", text)) == wanted, message.id


@pytest.mark.parametrize(("env", "language"), [
    ({"CANCELBOT_LANG": "fr"}, "fr"),
    ({"CANCELBOT_LANG": "en", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LC_ALL": "fr_BE.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),
    ({"LANGUAGE": "de:fr", "LANG": "C"}, "fr"),
    ({"LANG": "C"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({}, "en"),
])
def test_the_screen_language_follows_the_documented_order(env, language):
    assert i18n.screen_language(env) == language


def test_notes_are_in_the_teams_language():
    assert i18n.note_language({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert i18n.note_language({"LANG": "C", "CANCELBOT_NOTE_LANG": "fr"}) == "fr"
    assert i18n.note_language({"LANG": "fr_FR.UTF-8", "CANCELBOT_NOTE_LANG": "en"}) == "en"


def english_fragments() -> set[str]:
    """Pieces of every English screen text long enough to be recognised."""
    pieces = set()
    for message in marked():
        if not message.id:
            continue
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
            for piece in re.split(r"\{[^{}]*\}", text):
                piece = piece.strip(" .:·—()[]#…\n")
                if len(piece) >= 14 and re.search(r"[a-z]{4}", piece):
                    pieces.add(piece)
    return pieces


def test_a_french_dry_run_shows_no_english_screen_text(home, monkeypatch):
    fragments = english_fragments()
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    for ticket in ("1001", "1002"):
        result = CliRunner().invoke(app, ["process", ticket, "--sandbox", "--dry-run"])
        assert result.exit_code == 0, result.output
        left = sorted(p for p in fragments if p in result.output)
        assert left == [], f"ticket {ticket}: English on a French screen: {left}"
    assert "Étape 1/4" in result.output


def test_french_help_in_a_real_process(tmp_path):
    """`cancelbot --help` with LANG=fr: the commands' help in French (run as the installed
    script runs it, so the options Typer adds itself are translated too)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANCELBOT_", "LC_"))}
    env.update(LANG="fr_FR.UTF-8", LANGUAGE="", CANCELBOT_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "cancelbot", "--help"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "Vous guide dans un ticket d'annulation" in out
    assert "Traite un ticket d'annulation" in out
    assert "Installe la complétion pour le shell courant." in out
    assert "Walks you through" not in out and "Install completion" not in out


def test_with_lang_c_the_screens_are_english(home, monkeypatch):
    monkeypatch.setenv("LANG", "C")
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--dry-run"])
    assert "Step 1/4 · Read the ticket" in result.output


def test_french_help_of_every_command_has_no_click_english(tmp_path):
    """Every command's --help in French, Click's own words included: its bundled copy in
    Typer writes "Usage:" and --help's line without gettext; Typer's "[required]" is ours."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANCELBOT_", "LC_"))}
    env.update(LANG="fr_FR.UTF-8", LANGUAGE="", CANCELBOT_HOME=str(tmp_path), COLUMNS="200")
    for command in ([], ["process"], ["history"], ["feeds"], ["queue"], ["doctor"],
                    ["sandbox"], ["sandbox", "list"], ["templates"], ["templates", "preview"]):
        done = subprocess.run([sys.executable, "-m", "cancelbot", *command, "--help"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Utilisation : cancelbot"), (command, done.stdout[:80])
        for english in ("Usage:", "Show this message and exit.", "[required]", "default:"):
            assert english not in done.stdout, (command, english)
        assert "Affiche cette aide et quitte." in done.stdout, command


def test_no_function_hides_the_translation_function():
    """`_` is gettext's: a function that also binds `_` (`_, how = …`, `for _ in …`) makes
    every `_()` in it an UnboundLocalError, on the French and the English screens alike."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "cancelbot"
    found = []
    for path in sorted(package.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            nodes = list(ast.walk(fn))
            binds = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
                        for n in nodes)
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                        and n.func.id == "_" for n in nodes)
            if binds and calls:
                found.append(f"{path.name}:{fn.lineno} {fn.name}")
    assert found == []


def test_click_usage_errors_speak_french_and_keep_their_exit_code(tmp_path):
    """The Click bundled with Typer words its usage errors in English without gettext:
    cli.run_command_line says them again in the agent's language (exit 2, as before)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANCELBOT_", "LC_"))}
    env.update(CANCELBOT_HOME=str(tmp_path), LANGUAGE="")
    cases = {
        ("process", "1001", "--dryrun"):
            "Erreur : Option inconnue : --dryrun (options possibles : --dry-run)",
        ("process",): "Erreur : Argument manquant : 'TICKET_ID'.",
        ("process", "1001", "--lang", "xx"):
            "Erreur : Valeur invalide pour '--lang' : 'xx' n'est pas parmi 'fr', 'de', 'en'.",
        ("nope",): "Erreur : Commande inconnue : 'nope'.",
    }
    for args, french in cases.items():
        done = subprocess.run([sys.executable, "-m", "cancelbot", *args], capture_output=True,
                              text=True, timeout=60, env={**env, "LANG": "fr_FR.UTF-8"})
        assert done.returncode == 2, (args, done.stderr)
        assert french in done.stderr, (args, done.stderr)
        assert "Essayez 'cancelbot" in done.stderr and "Utilisation : cancelbot" in done.stderr
        assert "Error" not in done.stderr and "Usage:" not in done.stderr
    english = subprocess.run([sys.executable, "-m", "cancelbot", "process", "1001", "--bogus"],
                             capture_output=True, text=True, timeout=60,
                             env={**env, "LANG": "C.UTF-8"})
    assert english.returncode == 2
    assert english.stderr.endswith("Error: No such option: --bogus\n"), english.stderr


def test_a_run_interrupted_in_french_says_so_in_french(monkeypatch):
    from rich.console import Console

    from cancelbot.outcome import Outcome
    from cancelbot.render import render_stopped

    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    outcome = Outcome(20006, rerun="cancelbot process 20006")
    outcome.interrupted = True
    console = Console(record=True, width=100)
    render_stopped(console, outcome)
    said = console.export_text()
    assert "cancelbot: interrompu." in said and "interrupted" not in said, said


def test_a_ticket_busy_on_this_computer_is_said_in_french_at_local_time(tmp_path, monkeypatch):
    from cancelbot.errors import TicketBusy
    from cancelbot.journal import Journal

    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.setenv("CANCELBOT_TZ", "Europe/Paris")
    with Journal.open(tmp_path, agent="Marie") as first, first.lease(1001), \
            Journal.open(tmp_path) as second:
        with pytest.raises(TicketBusy) as busy:
            with second.lease(1001):
                pass
    said = str(busy.value)
    assert said.startswith("le ticket #1001 est en cours de traitement par un autre cancelbot")
    assert "Marie" in said and "depuis" in said and "T" not in said.split("depuis")[1], said

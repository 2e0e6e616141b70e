"""The agent's language on screen, the team's in the private notes: gettext catalogues.

    screens   CANCELBOT_LANG, else the system locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG; on
              Windows the user's UI language), else English
    notes     CANCELBOT_NOTE_LANG, else the screens' language (a French team writes French notes)

Texts are marked `_("…")` (screens) or `note_("…")` (what cancelbot writes on a ticket), and
`N_("…")` where a text is defined once and translated where it is shown. The catalogues are
`cancelbot/locale/<lang>/LC_MESSAGES/cancelbot.po`, compiled to `.mo` beside them and shipped in
the wheel; `python tests/catalogue.py` updates and compiles them (tests/test_i18n.py fails when a
marked text has no translation). The buyer's reply is not here: its language is the buyer's own
(templates/).

Click and Typer mark their own help words ("Usage:", "Show this message and exit.") with the
standard library's gettext and its default domain: `install_for_help()` points that domain at our
catalogue, so `--help` speaks the agent's language too.
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

DOMAIN = "cancelbot"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SUPPORTED = ("en", "fr")  # English is the source language: it needs no catalogue
DEFAULT = "en"


def _language_of(value: str) -> str | None:
    """'fr' for 'fr_FR.UTF-8', 'fr-BE' or 'fr'; None for 'C', 'POSIX' or one we do not speak."""
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in SUPPORTED else None


def _windows_ui_language() -> str | None:
    if sys.platform != "win32":
        return None
    try:
        import ctypes
        import locale

        lcid = ctypes.windll.kernel32.GetUserDefaultUILanguage()
        name = locale.windows_locale.get(lcid, "")
    except (AttributeError, OSError):
        return None
    return _language_of(name) if name else None


_WHERE = ("CANCELBOT_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def screen_language(env: Mapping[str, str] | None = None) -> str:
    """The language of every screen, question, summary and error line."""
    if env is None:  # every `_()` asks: read five variables, not a copy of the environment
        return _screen_language(tuple(os.environ.get(name, "") for name in _WHERE))
    return _screen_language(tuple(env.get(name, "") for name in _WHERE))


@lru_cache(maxsize=16)
def _screen_language(values: tuple[str, ...]) -> str:
    env = dict(zip(_WHERE, values, strict=True))
    chosen = env.get("CANCELBOT_LANG", "")
    if chosen.strip():
        return _language_of(chosen) or DEFAULT
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value.strip():
            # LANGUAGE may list several ("fr:en"); the first we speak wins. "C" means English.
            for part in value.split(":"):
                found = _language_of(part)
                if found:
                    return found
            return DEFAULT
    return _windows_ui_language() or DEFAULT


def note_language(env: Mapping[str, str] | None = None) -> str:
    """The language of the private notes cancelbot leaves on Freshdesk: the team's."""
    env = os.environ if env is None else env
    chosen = env.get("CANCELBOT_NOTE_LANG", "")
    return (_language_of(chosen) or DEFAULT) if chosen.strip() else screen_language(env)


@lru_cache(maxsize=4)
def translations(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def _(message: str) -> str:
    """A screen text in the agent's language."""
    return translations(screen_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(screen_language()).ngettext(singular, plural, count)


def note_(message: str) -> str:
    """A text cancelbot writes on the ticket, in the team's language."""
    return translations(note_language()).gettext(message)


def N_(message: str) -> str:
    """Marks a text for the catalogue; it is translated where it is shown."""
    return message


def p_(context: str, message: str) -> str:
    """A screen text whose English is also another text's ("cancelled": an order, a ticket
    of the shift), told apart by `context`."""
    return translations(screen_language()).pgettext(context, message)


def Np_(context: str, message: str) -> str:  # noqa: N802 - gettext's own naming
    """Marks a text with a context for the catalogue; `p_(context, …)` where it is shown."""
    return message


@lru_cache(maxsize=4)
def _help_translations(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation("messages", LOCALE_DIR, languages=[language], fallback=True)


def help_word(message: str) -> str:
    """One of Click's own words that its bundled copy in Typer writes without gettext
    ("Usage:", --help's line): from the same `messages` catalogue as Typer's words."""
    return _help_translations(screen_language()).gettext(message)


def install_for_help() -> None:
    """Click's and Typer's own words (usage, option headings) in the agent's language."""
    language = screen_language()
    if language == DEFAULT:
        return
    gettext.bindtextdomain("messages", str(LOCALE_DIR))
    # The default domain reads the language from the environment: say ours.
    os.environ["LANGUAGE"] = language

"""The languages cancelbot replies in: one registry, from which everything else is derived.

    --lang choices                cli.py          (the codes, in this order)
    template folders              messages.py     templates/<code>/cannot_cancel.txt.j2
    marketplace → reply language  marketplaces.py (each language's storefronts below)
    names on screen               ui.py, `templates list`

Adding a language is its templates plus one entry here. A storefront no language claims gets
DEFAULT (English). Kept free of heavy imports: `cancelbot --help` reads it.
"""

from __future__ import annotations

from msgspec import Struct

from cancelbot.i18n import N_


class Language(Struct, frozen=True):
    code: str  # ISO 639-1: the --lang value and the templates/<code>/ folder
    name_en: str  # shown to the agents ("Reply in German")
    name_native: str  # as its speakers write it
    storefronts: tuple[str, ...] = ()  # Amazon storefronts whose buyers get it by default


LANGUAGES: tuple[Language, ...] = (
    Language("fr", N_("French"), "Français", ("amazon.fr", "amazon.com.be")),
    Language("de", N_("German"), "Deutsch", ("amazon.de",)),
    Language("en", N_("English"), "English"),
)
DEFAULT = "en"  # every storefront no language above claims

CODES: tuple[str, ...] = tuple(language.code for language in LANGUAGES)
LANGUAGE_NAMES: dict[str, str] = {language.code: language.name_en for language in LANGUAGES}
STOREFRONT_LANGUAGE: dict[str, str] = {
    storefront: language.code for language in LANGUAGES for storefront in language.storefronts
}


def by_code(code: str) -> Language | None:
    """The registry entry for `code` ("de"), or None."""
    return next((language for language in LANGUAGES if language.code == code), None)


def name(code: str) -> str:
    """The English name of a language ("German"), or the code itself when it is not listed."""
    return LANGUAGE_NAMES.get(code, code)

"""The buyer replies: finding the templates, choosing the language, rendering strictly.

Templates are `<folder>/<lang>/cannot_cancel.txt.j2`, one per language of languages.py. The
folder is `CANCELBOT_TEMPLATES` when set, else the copy inside the installed package, else
`templates/` of a source checkout.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from cancelbot import languages
from cancelbot.errors import TemplateError
from cancelbot.i18n import _

LANGUAGES = languages.CODES
TEMPLATE_NAME = "cannot_cancel.txt.j2"


@dataclass(frozen=True)
class LanguageChoice:
    code: str
    why: str


def choose_language(
    override: str | None,
    marketplace_id: str | None,
    buyer_locale: str | None = None,
    available: tuple[str, ...] | list[str] = LANGUAGES,
) -> LanguageChoice:
    """--lang wins; then the buyer's own locale on Amazon when a template speaks it (Amazon asks
    sellers to write in the buyer's language); then the marketplace's language (marketplaces.py),
    the registry's default (English) when the marketplace is unknown. `why` says which rule
    decided."""
    from cancelbot import marketplaces

    if override:
        return LanguageChoice(override, _("chosen with --lang"))
    note = ""
    if buyer_locale:
        spoken = buyer_locale.replace("_", "-").split("-")[0].strip().lower()
        if spoken in available:
            return LanguageChoice(spoken, _("the buyer's language on Amazon is {locale}").format(
                locale=buyer_locale))
        note = _("no {language!r} template for the buyer's {locale}; ").format(
            language=spoken or buyer_locale, locale=buyer_locale)
    if not marketplace_id or marketplaces.marketplace_info(marketplace_id) is None:
        return LanguageChoice(languages.DEFAULT, note + _("marketplace unknown: {language} by "
                              "default").format(language=_(languages.name(languages.DEFAULT))))
    label = marketplaces.marketplace_label(marketplace_id)
    return LanguageChoice(
        marketplaces.language_for(marketplace_id),
        note + _("order placed on {marketplace}").format(marketplace=label)
    )


def templates_dir(configured: Path | None = None) -> Path:
    if configured is not None:
        if not configured.is_dir():
            raise TemplateError(f"CANCELBOT_TEMPLATES folder not found: {configured}")
        return configured
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise TemplateError("reply templates not found: reinstall cancelbot or set CANCELBOT_TEMPLATES")


def available_languages(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob(f"*/{TEMPLATE_NAME}"))


def load_ahead() -> threading.Thread | None:
    """Load Jinja2 on a thread while the run waits for Amazon (the buyer's locale), rather than
    between that answer and the reply it needs (issue 12: ~30 ms of a CANNOT CANCEL run). Not a
    daemon: an import is never cut short by the interpreter's exit. None: already loaded."""
    if "jinja2.sandbox" in sys.modules:
        return None
    thread = threading.Thread(target=_import_jinja2, name="cancelbot-jinja2")
    thread.start()
    return thread


def _import_jinja2() -> None:
    import jinja2.sandbox  # noqa: F401


def render_reply(
    folder: Path,
    language: str,
    *,
    order_id: str = "",
    buyer_name: str = "",
    agent_name: str = "",
) -> str:
    """The reply as plain text. Any variable the template uses beyond the three is an error."""
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2 import TemplateError as JinjaError
    from jinja2.sandbox import SandboxedEnvironment

    path = folder / language / TEMPLATE_NAME
    if not path.is_file():
        have = ", ".join(available_languages(folder)) or "none"
        raise TemplateError(f"no {language!r} reply template in {folder} (found: {have})")
    env = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
    )
    try:
        template = env.from_string(path.read_text(encoding="utf-8"))
        text = template.render(order_id=order_id, buyer_name=buyer_name, agent_name=agent_name)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {language}/{TEMPLATE_NAME} line {exc.lineno}: {exc.message}"
        ) from exc
    except JinjaError as exc:  # undefined variable, or an attribute the sandbox forbids
        raise TemplateError(f"template {language}/{TEMPLATE_NAME}: {exc.message}") from exc
    except UnicodeDecodeError as exc:
        raise TemplateError(f"template {language}/{TEMPLATE_NAME} is not UTF-8") from exc
    return text.rstrip("\n")


def catalogue(folder: Path) -> list[dict]:
    """Each language's template: its file, whether it renders, which marketplaces use it."""
    from cancelbot import marketplaces

    rows = []
    for code in available_languages(folder):
        error = ""
        try:
            render_reply(folder, code, order_id="402-0000000-0000000", agent_name="Agent")
        except TemplateError as exc:
            error = str(exc)
        rows.append({
            "language": code,
            "name": languages.name(code),
            "path": str(folder / code / TEMPLATE_NAME),
            "renders": not error,
            "error": error,
            "marketplaces": [m.domain for m in marketplaces.MARKETPLACES.values()
                             if m.language == code],
        })
    return rows

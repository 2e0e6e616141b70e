"""The buyer replies: finding the templates, choosing the language, rendering strictly.

Templates are `<folder>/<lang>/cannot_cancel.txt.j2`. The folder is `CANCELBOT_TEMPLATES` when
set, else the copy inside the installed package, else `templates/` of a source checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cancelbot.errors import TemplateError

LANGUAGES = ("fr", "de", "en")
TEMPLATE_NAME = "cannot_cancel.txt.j2"


@dataclass(frozen=True)
class LanguageChoice:
    code: str
    why: str


def choose_language(override: str | None, marketplace_id: str | None) -> LanguageChoice:
    """--lang wins; else the marketplace's language (marketplaces.py), English when unknown."""
    from cancelbot import marketplaces

    if override:
        return LanguageChoice(override, "chosen with --lang")
    if not marketplace_id or marketplaces.marketplace_info(marketplace_id) is None:
        return LanguageChoice("en", "marketplace unknown: English by default")
    label = marketplaces.marketplace_label(marketplace_id)
    return LanguageChoice(marketplaces.language_for(marketplace_id), f"order placed on {label}")


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

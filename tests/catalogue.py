"""The translation catalogues: find every marked text, update the .po files, compile the .mo.

    python tests/catalogue.py          update cancelbot/locale/*/LC_MESSAGES/*.po and compile

Needs Babel (in the test extra). tests/test_i18n.py fails when a marked text has no
translation or when a .mo is older than its .po. The `messages` domain holds Click's and
Typer's own help words, which cancelbot shows in `--help`.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cancelbot"
LOCALE = PACKAGE / "locale"
KEYWORDS = {"_": None, "N_": None, "note_": None, "ngettext": (1, 2), "p_": ((1, "c"), 2),
            "Np_": ((1, "c"), 2)}

# Click's and Typer's words that cancelbot's --help shows (domain "messages").
HELP_WORDS = (
    "Usage:", "Options", "Commands", "Arguments", "Show this message and exit.",
    "Install completion for the current shell.",
    "Show completion for the current shell, to copy it or customize the installation.",
    "Try {command!r} for help.", "Error", "Missing argument {param_hint}.",
    "No such command {name!r}.", "No such option: {name}", "Got unexpected extra argument ({args})",
    "Missing command.", "{value!r} is not one of {choices}.",
    "Option {name!r} requires an argument.", "Aborted!",
    "required", "default: {default}", "env var: {var}",
    # Click's usage errors, which cli.usage_error_text matches and says again in these words.
    "No such option: {name} (Possible options: {options})", "Missing option {param_hint}.",
    "Invalid value for {param_hint}: {message}", "Got unexpected extra argument(s) ({args})",
    "Value error, {message}", "Error: {message}",
)


def marked() -> Catalog:
    """Every text marked in the package, with where it stands."""
    catalog = Catalog(domain="cancelbot", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
    ):
        catalog.add(message, locations=[(f"cancelbot/{filename}", lineno)],
                    auto_comments=comments, context=context)
    for text in cli_help():
        if text not in catalog:
            catalog.add(text, locations=[("cancelbot/cli.py", 0)])
    return catalog


def cli_help() -> list[str]:
    """The command line's help texts, in English, as `cli.translate_help` translates them:
    each command's docstring, each option's help, and the options Typer adds itself."""
    import inspect
    import os

    import typer
    from typer.models import ParameterInfo

    before = os.environ.get("CANCELBOT_LANG")
    os.environ["CANCELBOT_LANG"] = "en"  # cli translates its help when imported: keep English
    try:
        from cancelbot import cli
    finally:
        if before is None:
            os.environ.pop("CANCELBOT_LANG", None)
        else:
            os.environ["CANCELBOT_LANG"] = before

    texts: list[str] = []
    for typer_app in (cli.app, cli.sandbox_app, cli.templates_app):
        infos = [*typer_app.registered_commands]
        if typer_app.registered_callback is not None:
            infos.append(typer_app.registered_callback)
        for info in infos:
            if info.callback is None:
                continue
            doc = inspect.getdoc(info.callback)
            if doc:
                texts.append(doc)
            for parameter in inspect.signature(info.callback).parameters.values():
                if isinstance(parameter.default, ParameterInfo) and parameter.default.help:
                    texts.append(parameter.default.help)
        if typer_app.info.help:
            texts.append(typer_app.info.help)
    command = typer.main.get_command(cli.app)
    texts += [p.help for p in command.params if getattr(p, "help", None)]
    return list(dict.fromkeys(texts))


def help_words() -> Catalog:
    catalog = Catalog(domain="messages", charset="utf-8")
    for word in HELP_WORDS:
        catalog.add(word)
    return catalog


def po_path(language: str, domain: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{domain}.po"


def load(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def update() -> None:
    for language_dir in sorted(p for p in LOCALE.iterdir() if p.is_dir()):
        for domain, template in (("cancelbot", marked()), ("messages", help_words())):
            path = po_path(language_dir.name, domain)
            catalog = load(path) if path.exists() else Catalog(locale=language_dir.name,
                                                               domain=domain, charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as file:
                write_po(file, catalog, width=100, omit_header=False, ignore_obsolete=True)
            path.with_suffix(".mo").write_bytes(compiled(load(path)))
            missing = [m.id for m in load(path) if m.id and not m.string]
            print(f"{path.relative_to(ROOT)}: {len(missing)} untranslated")


if __name__ == "__main__":
    update()
    sys.exit(0)

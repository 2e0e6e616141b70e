"""One language registry (issue 8): the --lang choices, the templates, the marketplace
languages and the names on screen all come from cancelbot/languages.py."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cancelbot import languages, marketplaces, messages, ui
from cancelbot.cli import app
from cancelbot.messages import available_languages, render_reply, templates_dir


@pytest.mark.parametrize("code", languages.CODES)
def test_every_registry_language_has_a_template_that_renders(code):
    text = render_reply(templates_dir(), code, order_id="402-1234567-7654321", agent_name="Zoé")
    assert text.strip() and text.endswith("\nZoé")


def test_every_template_folder_is_a_registry_language():
    # A template without its entry could never be chosen with --lang.
    assert sorted(available_languages(templates_dir())) == sorted(languages.CODES)


def test_cli_lang_choices_are_the_registry():
    result = CliRunner().invoke(app, ["process", "--help"])
    assert result.exit_code == 0, result.output
    shown = re.search(r"--lang <([^>]+)>", result.output)
    assert shown and shown.group(1).split("|") == list(languages.CODES)


def test_cli_rejects_a_language_outside_the_registry(home):
    result = CliRunner().invoke(app, ["process", "1002", "--sandbox", "--lang", "it"])
    assert result.exit_code == 2
    listed = re.findall(r"'(\w+)'", result.output.split("is not one of", 1)[1])
    assert listed == list(languages.CODES)


@pytest.mark.parametrize("code", languages.CODES)
def test_cli_accepts_every_registry_language(home, code):
    result = CliRunner().invoke(app, ["process", "1002", "--sandbox", "--dry-run", "--lang", code])
    assert result.exit_code == 0, result.output
    assert f"Reply in {languages.name(code)} (chosen with --lang)" in result.output


def test_marketplace_languages_come_from_the_registry():
    assert languages.DEFAULT in languages.CODES
    for info in marketplaces.MARKETPLACES.values():
        assert info.language == languages.STOREFRONT_LANGUAGE.get(info.domain, languages.DEFAULT)
    known = {info.domain for info in marketplaces.MARKETPLACES.values()}
    claimed = [s for language in languages.LANGUAGES for s in language.storefronts]
    assert len(claimed) == len(set(claimed)), "a storefront gets one language"
    assert set(claimed) <= known, "a registry storefront missing from the marketplace table"


def test_names_on_screen_and_in_the_catalogue_come_from_the_registry():
    assert messages.LANGUAGES == languages.CODES
    assert ui.LANGUAGE_NAMES is languages.LANGUAGE_NAMES
    rows = messages.catalogue(templates_dir())
    assert {row["language"]: row["name"] for row in rows} == {
        language.code: language.name_en for language in languages.LANGUAGES}
    assert all(row["renders"] for row in rows)


def test_registry_entries_are_complete_and_distinct():
    assert len(set(languages.CODES)) == len(languages.CODES)
    for language in languages.LANGUAGES:
        assert re.fullmatch(r"[a-z]{2}", language.code)
        assert language.name_en and language.name_native
        assert languages.by_code(language.code) is language
    assert languages.by_code("xx") is None and languages.name("xx") == "xx"

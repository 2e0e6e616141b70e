"""The replies are the seed's, verbatim (compared sentence by sentence with the seed itself in
test_seed_replies.py); the language follows the marketplace."""

from pathlib import Path

import pytest

from cancelbot.errors import TemplateError
from cancelbot.messages import LANGUAGES, choose_language, render_reply, templates_dir

EXPECTED = Path(__file__).parent / "data" / "replies"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_template_renders_the_seed_text_verbatim(language):
    expected = (EXPECTED / f"{language}.txt").read_text(encoding="utf-8").rstrip("\n")
    assert render_reply(templates_dir(), language) == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_approved_text_takes_no_order_number_or_name_only_a_signature(language):
    plain = render_reply(templates_dir(), language)
    text = render_reply(templates_dir(), language, order_id="402-1234567-7654321",
                        buyer_name="Ann", agent_name="Zoé")
    assert text == plain + "\nZoé", "the signature after the closing line is the only addition"


def test_a_teams_own_template_may_still_use_the_order_number(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "cannot_cancel.txt.j2").write_text(
        "Order {{ order_id }}.{% if agent_name %}\n{{ agent_name }}{% endif %}", encoding="utf-8")
    text = render_reply(tmp_path, "en", order_id="402-1234567-7654321", agent_name="Zoé")
    assert text == "Order 402-1234567-7654321.\nZoé"


def test_values_are_not_interpreted_by_the_template_engine():
    text = render_reply(templates_dir(), "fr", agent_name="{{ 7*7 }} <b>")
    assert text.endswith("journée !\n{{ 7*7 }} <b>")


@pytest.mark.parametrize(
    ("override", "marketplace", "code"),
    [
        (None, "A13V1IB3VIYZZH", "fr"),  # amazon.fr
        (None, "AMEN7PMS3EDWL", "fr"),  # amazon.com.be
        (None, "A1PA6795UKMFR9", "de"),  # amazon.de
        (None, "A1F83G8C2ARO7P", "en"),  # amazon.co.uk
        (None, "APJ6JRA9NG5V4", "en"),  # amazon.it
        (None, "A1RKKUPIHCS9HS", "en"),  # amazon.es
        (None, "NOT-A-MARKETPLACE", "en"),
        (None, None, "en"),
        ("de", "A13V1IB3VIYZZH", "de"),
    ],
)
def test_language_per_marketplace(override, marketplace, code):
    choice = choose_language(override, marketplace)
    assert choice.code == code
    assert choice.why


def test_missing_language_names_what_exists(tmp_path):
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "cannot_cancel.txt.j2").write_text("Bonjour", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"no 'de' reply template .*found: fr"):
        render_reply(tmp_path, "de")


def test_undefined_variable_is_an_error_before_anything_is_sent(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "cannot_cancel.txt.j2").write_text("Hi {{ buyer_nmae }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="buyer_nmae"):
        render_reply(tmp_path, "en")


def test_sandboxed_environment_blocks_unsafe_attributes(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "cannot_cancel.txt.j2").write_text(
        "{{ order_id.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="unsafe"):
        render_reply(tmp_path, "en")


def test_configured_folder_must_exist(tmp_path):
    with pytest.raises(TemplateError, match="CANCELBOT_TEMPLATES"):
        templates_dir(tmp_path / "nope")

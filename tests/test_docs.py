"""The README's commands are the ones that actually run, and every command has help."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancelbot.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_command = next(b.strip() for b in _sh_blocks() if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_readme_try_command_processes_a_sandbox_ticket():
    try_command = _sh_blocks()[0].strip()
    assert "pip install ." in try_command
    assert re.search(r"cancelbot process \d+ --sandbox$", try_command)


def test_env_example_lists_every_variable_the_readme_documents():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"`((?:FRESHDESK|GSTK|LWA|SPAPI|CANCELBOT)_[A-Z_]+)`", README))
    missing = [v for v in sorted(documented) if f"{v}=" not in example]
    assert not missing


def command_paths(group=None, prefix=()):
    """Every command and group of the app, as argument lists: (), ("process",), ("sandbox",),
    ("sandbox", "list"), …"""
    import typer.main

    group = typer.main.get_command(app) if group is None else group
    if not prefix:
        yield ()
    for name, command in getattr(group, "commands", {}).items():
        yield (*prefix, name)
        yield from command_paths(command, (*prefix, name))


SECTIONS = ("Arguments:", "Options:", "Commands:")


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "cancelbot")
def test_every_command_help_ends_with_an_example(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() in SECTIONS)
    description = "\n".join(lines[1:end]).strip()
    # Click re-wraps paragraphs: "Example:" may end one line and "cancelbot" start the next.
    last_paragraph = " ".join(description.split("\n\n")[-1].split())
    assert last_paragraph.startswith("Example: cancelbot "), f"cancelbot {' '.join(path)} --help"


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "cancelbot")
def test_usage_lines_show_no_braces_or_double_brackets(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    usage = [line for line in result.output.splitlines() if line.startswith("Usage:")]
    assert usage, result.output
    for line in usage:
        assert "{" not in line and "[[" not in line, line


def test_the_list_of_commands_is_the_whole_app():
    paths = set(command_paths())
    assert {("process",), ("history",), ("queue",), ("doctor",), ("feeds",), ("sandbox", "list"),
            ("templates", "preview")} <= paths
    assert len(paths) >= 12


def test_process_help_says_how_the_language_is_chosen():
    result = CliRunner().invoke(app, ["process", "--help"])
    text = " ".join(result.output.split())
    assert "default: the buyer's own language on Amazon" in text
    assert text.index("buyer's own language") < text.index("else the marketplace's")

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


@pytest.mark.parametrize(
    "command",
    [["--help"], ["process", "--help"], ["sandbox", "--help"], ["sandbox", "list", "--help"],
     ["sandbox", "reset", "--help"], ["queue", "--help"], ["doctor", "--help"],
     ["templates", "--help"], ["templates", "list", "--help"], ["templates", "preview", "--help"],
     ["history", "--help"], ["feeds", "--help"]],
)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "Example: cancelbot" in result.output


def test_env_example_lists_every_variable_the_readme_documents():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"`((?:FRESHDESK|GSTK|LWA|SPAPI|CANCELBOT)_[A-Z_]+)`", README))
    missing = [v for v in sorted(documented) if f"{v}=" not in example]
    assert not missing


def test_every_command_in_the_app_is_in_the_help_test():
    """A new command cannot ship without help and an example: it must be listed above."""
    import typer.main

    def commands(group, prefix=()):
        for name, command in getattr(group, "commands", {}).items():
            yield (*prefix, name)
            yield from commands(command, (*prefix, name))

    listed = {tuple(c[:-1]) for c in test_every_command_has_help_with_an_example
              .pytestmark[0].args[1]}
    for path in commands(typer.main.get_command(app)):
        result = CliRunner().invoke(app, [*path, "--help"])
        # Click re-wraps paragraphs: "Example:" may end one line and "cancelbot" start the next.
        assert "Example: cancelbot" in " ".join(result.output.split()), \
            f"cancelbot {' '.join(path)} --help"
    assert ("queue",) in listed and ("doctor",) in listed

"""The wheel carries everything: installed normally (not editable) into a fresh virtual
environment, cancelbot finds its templates and runs a sandbox ticket."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


def test_wheel_installs_and_runs_a_sandbox_ticket(tmp_path):
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)])
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("cancelbot-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    installed = _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)])
    assert installed.returncode == 0, installed.stderr

    # Run from an empty folder so nothing of the source checkout can be picked up.
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "CANCELBOT_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("PYTHONPATH", None)
    cancelbot = bin_dir / ("cancelbot.exe" if os.name == "nt" else "cancelbot")
    help_run = _run([str(cancelbot), "--help"], cwd=work, env=env)
    assert help_run.returncode == 0, help_run.stderr
    assert "process" in help_run.stdout

    located = _run([str(python), "-c", "import cancelbot, sys; print(cancelbot.__file__)"],
                   cwd=work, env=env)
    assert str(env_dir) in located.stdout, "the test must exercise the installed copy"

    dry = _run([str(cancelbot), "process", "1002", "--sandbox", "--dry-run"], cwd=work, env=env,
               stdin=subprocess.DEVNULL)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Guten Tag," in dry.stdout  # the German template came with the wheel
    assert "Dry run" in dry.stdout

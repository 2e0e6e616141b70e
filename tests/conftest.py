"""Every test runs isolated: a temporary home, no real .env, no configuration leaking in."""

from __future__ import annotations

import os

import pytest

PREFIXES = ("CANCELBOT_", "FRESHDESK_", "GSTK_", "LWA_", "SPAPI_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name, raising=False)
    # Screens in English unless a test asks for French: a developer's French locale must not
    # change what the tests read.
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CANCELBOT_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "100")
    # The sandbox's Amazon processes a feed at once unless a test says otherwise (its default,
    # 25 s of wall time, is for people watching; tests inject a clock instead of waiting).
    monkeypatch.setenv("CANCELBOT_SANDBOX_FEED_SECONDS", "0")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no .env of the developer's is read
    return home


@pytest.fixture
def home(isolated_env):
    """An isolated home holding a freshly seeded sandbox."""
    from cancelbot import sandbox

    sandbox.reset(isolated_env)
    return isolated_env

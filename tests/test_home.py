"""Where cancelbot keeps its files by default (issue 14): the platform's user data folder, or
the earlier default (~/.config/cancelbot on Linux) while that one holds an install's files."""

from __future__ import annotations

import sys

import platformdirs
import pytest
import typer

from cancelbot import config
from cancelbot.doctor import INFO, run_doctor


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """The platform's data folder and the earlier default, both under tmp_path, neither made."""
    new, old = tmp_path / "data" / "cancelbot", tmp_path / "config" / "cancelbot"
    monkeypatch.delenv("CANCELBOT_HOME")
    monkeypatch.setattr(platformdirs, "user_data_dir",
                        lambda appname, appauthor=None, **kw: str(tmp_path / "data" / appname))
    monkeypatch.setattr(typer, "get_app_dir", lambda app_name, **kw: str(old))
    return new, old


def test_default_is_the_platforms_user_data_folder(folders):
    new, _ = folders
    assert config.default_home() == new
    assert config.home_dir() == new


def test_the_earlier_default_keeps_working_while_it_holds_the_files(folders):
    new, old = folders
    old.mkdir(parents=True)
    assert config.default_home() == old
    new.mkdir(parents=True)  # once the new folder exists, it is the one
    assert config.default_home() == new


def test_cancelbot_home_still_wins(folders, tmp_path, monkeypatch):
    _, old = folders
    old.mkdir(parents=True)
    monkeypatch.setenv("CANCELBOT_HOME", str(tmp_path / "mine"))
    assert config.home_dir() == tmp_path / "mine"


def test_doctor_says_when_the_earlier_default_is_in_use(folders):
    new, old = folders
    old.mkdir(parents=True)
    report = run_doctor(sandbox=True)
    (home,) = [c for c in report.checks if c.name == "Home"]
    assert home.status == INFO and str(old) in home.detail and str(new) in home.detail
    assert report.ok


def test_doctor_says_nothing_about_the_folder_on_the_new_default(folders):
    report = run_doctor(sandbox=True)
    assert "Home" not in [c.name for c in report.checks]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_on_linux_the_folders_follow_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("CANCELBOT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert config.default_home() == tmp_path / "share" / "cancelbot"
    (tmp_path / "config" / "cancelbot").mkdir(parents=True)
    assert config.default_home() == tmp_path / "config" / "cancelbot"

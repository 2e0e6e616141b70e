"""CANCELBOT_HOME is not trusted blindly, an unusable one is one line, and every fast exit is
clean (issue 9 §2-3, issue 11 §7).

Modes and links are POSIX matters: those tests are skipped on Windows. As root, a folder's mode
does not stop a write, so an uncreatable home is a path under a regular file instead.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fakes import ORDER_1001
from typer.testing import CliRunner

from cancelbot.cli import MAX_TICKET_ID, app
from cancelbot.errors import StateError
from cancelbot.journal import FILE_NAME, Journal
from cancelbot.sandbox import load, state_path

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and links")


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def one_clean_line(result, code: int, says: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("cancelbot:")]
    assert len(errors) == 1, result.output
    assert says in result.output, result.output


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- ticket ids SQLite cannot hold (§3) ----------------------------------------------------------


@pytest.mark.parametrize("command", [["process"], ["history", "--sandbox"]])
def test_a_ticket_id_beyond_what_sqlite_holds_is_a_usage_error(home, command):
    before = state_path(home).read_bytes()
    result = cli(command[0], "99999999999999999999", *command[1:])
    one_clean_line(result, 2, "too large")
    assert state_path(home).read_bytes() == before
    assert not list(home.rglob(FILE_NAME)), "no journal created"


def test_the_largest_ticket_id_is_still_a_ticket_id(home):
    result = cli("history", str(MAX_TICKET_ID), "--sandbox")
    assert result.exit_code == 0, result.output
    result = cli("process", str(MAX_TICKET_ID), "--sandbox")
    one_clean_line(result, 1, "not found")


# -- a home that cannot be created (§3) ----------------------------------------------------------


COMMANDS = [
    ["sandbox", "list"],
    ["sandbox", "reset"],
    ["doctor", "--sandbox"],
    ["queue", "--sandbox", "--list"],
    ["process", "1001", "--sandbox"],
    ["feeds", "--sandbox"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_uncreatable_home_is_one_line(tmp_path, monkeypatch, command):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CANCELBOT_HOME", str(blocker / "sub"))
    result = cli(*command)
    one_clean_line(result, 1, f"cannot use CANCELBOT_HOME {blocker / 'sub'}")
    if command[0] != "doctor":  # doctor's title line comes first; the others print nothing else
        assert result.output.startswith("cancelbot:"), result.output
    assert blocker.read_text() == "not a folder"


def test_a_home_the_system_refuses_is_one_line(tmp_path, monkeypatch):
    home = tmp_path / "denied"
    monkeypatch.setenv("CANCELBOT_HOME", str(home))
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == home:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    for command in (["sandbox", "list"], ["doctor", "--sandbox"]):
        one_clean_line(cli(*command), 1, "Permission denied")
    assert not home.exists()


# -- a home others may write (§11.7) -------------------------------------------------------------


@posix_only
def test_a_home_of_ours_others_may_write_is_warned_about_and_closed(isolated_env, caplog):
    isolated_env.chmod(0o777)
    result = cli("sandbox", "list")
    assert result.exit_code == 0, result.output
    assert mode(isolated_env) & 0o022 == 0, "no longer writable by others"
    assert any("could be written by other users" in r.getMessage() for r in caplog.records)


@posix_only
def test_a_shared_folder_such_as_tmp_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("CANCELBOT_HOME", str(shared))
    one_clean_line(cli("sandbox", "list"), 1, "other users may write in")
    assert list(shared.iterdir()) == [], "nothing written there"
    assert mode(shared) == 0o1777, "and not ours to change"


@posix_only
def test_a_home_of_another_user_is_refused(isolated_env, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(isolated_env).st_uid + 1)
    one_clean_line(cli("process", "1001", "--sandbox"), 1, "belongs to another user")
    assert list(isolated_env.iterdir()) == []


@posix_only
def test_state_folders_and_files_are_made_owner_only(home):
    folder = state_path(home).parent
    with Journal.open(folder):
        pass
    # As an older cancelbot, or a wide umask, would have left them.
    folder.chmod(0o777)
    (folder / FILE_NAME).chmod(0o644)
    (folder / "journal.lock").write_bytes(b"")
    (folder / "journal.lock").chmod(0o666)
    result = cli("process", "1001", "--sandbox", "--yes")
    assert result.exit_code == 0, result.output
    assert mode(folder) == 0o700
    assert mode(home / "worlds") == 0o700
    for name in (FILE_NAME, "journal.lock", "world.json", "sandbox.json"):
        assert mode(folder / name) == 0o600, name


# -- no link is followed (§11.7) -----------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("name", ["journal.lock", FILE_NAME, f"{FILE_NAME}-wal"])
def test_a_link_among_the_journal_files_is_refused_and_its_target_not_created(
    home, tmp_path, name
):
    folder = state_path(home).parent
    target = tmp_path / "planted"
    (folder / name).symlink_to(target)
    before = load(home)
    result = cli("process", "1001", "--sandbox", "--yes")
    one_clean_line(result, 1, f"{folder / name} is a symbolic link")
    assert not target.exists(), "the link's target was not created"
    after = load(home)
    for system in ("freshdesk", "gstk", "amazon"):
        assert after[system] == before[system], f"{system} changed"


@posix_only
def test_a_linked_world_folder_is_refused(isolated_env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (isolated_env / "worlds").mkdir()
    (isolated_env / "worlds" / "sandbox").symlink_to(elsewhere)
    one_clean_line(cli("sandbox", "list"), 1, "is a symbolic link")
    assert list(elsewhere.iterdir()) == []


def test_the_journal_refuses_a_link_before_sqlite_opens_it(tmp_path):
    target = tmp_path / "target.sqlite3"
    folder = tmp_path / "state"
    folder.mkdir()
    try:
        (folder / FILE_NAME).symlink_to(target)
    except OSError:  # Windows without the right to make links
        pytest.skip("cannot make a symbolic link here")
    with pytest.raises(StateError, match="symbolic link"):
        Journal.open(folder)
    assert not target.exists()


# -- sandbox reset and live runs -----------------------------------------------------------------


HOLD_LEASE = """
import sys, time
from pathlib import Path
from cancelbot.journal import Journal
with Journal.open(Path(sys.argv[1])) as journal, journal.lease(1001):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_sandbox_reset_waits_for_a_live_sandbox_run(home):
    first = cli("process", "1001", "--sandbox", "--yes")
    assert first.exit_code == 0, first.output
    folder = state_path(home).parent
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(folder)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = state_path(home).read_bytes()
        one_clean_line(cli("sandbox", "reset"), 1, "a sandbox run is working on #1001")
        assert state_path(home).read_bytes() == before, "nothing was reset"
        assert (folder / FILE_NAME).exists()
    finally:
        holder.kill()
        holder.wait(10)
    assert cli("sandbox", "reset").exit_code == 0
    assert load(home)["amazon"]["orders"][ORDER_1001]["order"]["fulfillment"][
        "fulfillmentStatus"] == "UNSHIPPED"


# -- fast exits never crash (§2) -----------------------------------------------------------------

# 250 of each kind, 500 in all, keeps CI near a minute; the 500 of each were run by hand.
FAST_EXITS = int(os.environ.get("CANCELBOT_TEST_FAST_EXITS", "250"))


@pytest.mark.slow
def test_fast_exits_never_crash(tmp_path):
    """`process` without configuration (exit 1) and `process abc` (exit 2), many times, two at a
    time: a thread still running as the interpreter shut down made some of them exit 139."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CANCELBOT_", "FRESHDESK_", "GSTK_", "LWA_", "SPAPI_"))}
    env["CANCELBOT_HOME"] = str(tmp_path / "home")
    commands = [["process", "1001"], ["process", "abc"]] * FAST_EXITS

    def run(args: list[str]) -> tuple[str, int]:
        done = subprocess.run([sys.executable, "-m", "cancelbot", *args], env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        return args[1], done.returncode

    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = list(pool.map(run, commands))
    crashes = [(arg, code) for arg, code in codes if code < 0 or code >= 128]
    assert crashes == [], f"{len(crashes)} of {len(codes)} crashed: {crashes[:5]}"
    assert {code for arg, code in codes if arg == "1001"} == {1}
    assert {code for arg, code in codes if arg == "abc"} == {2}

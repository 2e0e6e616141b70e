"""Real processes: killed mid-CANCEL, two at once on one ticket, Ctrl-C, and --debug output.

The sandbox answers slowly (CANCELBOT_SANDBOX_LATENCY), so a run spends a few hundred ms in
each call; the test watches the journal and kills the process while it is inside one.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import ORDER_1001, STEPS, FaultyTransport, as_found, counts
from typer.testing import CliRunner

from cancelbot import sandbox
from cancelbot.cli import app
from cancelbot.journal import FILE_NAME
from cancelbot.sandbox import load

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def cancelbot(home: Path, *args: str, latency: float = 0.0, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CANCELBOT_", "FRESHDESK_", "GSTK_", "LWA_", "SPAPI_"))}
    env.update(CANCELBOT_HOME=str(home), COLUMNS="100", CANCELBOT_SANDBOX_FEED_SECONDS="0")
    if latency:
        env["CANCELBOT_SANDBOX_LATENCY"] = str(latency)
    return subprocess.Popen([sys.executable, "-m", "cancelbot", *args], env=env, cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def journal_has(home: Path, step: str, phase: str) -> bool:
    path = sandbox.state_path(home).parent / FILE_NAME  # the sandbox world's journal
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path, timeout=0.2) as db:
            return db.execute("SELECT 1 FROM events WHERE step = ? AND phase = ?",
                              (step, phase)).fetchone() is not None
    except sqlite3.Error:
        return False  # not created yet


def wait_for(home: Path, step: str, phase: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not journal_has(home, step, phase):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"never reached {step} {phase}"
        time.sleep(0.01)


def feeds_for(home: Path) -> int:
    return len(load(home)["amazon"]["feeds"])


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize(("step", "phase"), [
    ("claim_note", "intent"),  # killed while posting the 'handling' note
    ("gstk_cancel", "intent"),  # killed inside the GSTK cancel call
    ("gstk_cancel", "done"),  # killed between GSTK and Amazon
    ("amazon_feed", "intent"),  # killed while sending the feed
])
def test_killed_mid_cancel_then_rerun_does_each_change_once(tmp_path, step, phase) -> None:
    sandbox.reset(tmp_path)
    proc = cancelbot(tmp_path, "process", "1001", "--sandbox", "--yes", latency=0.25)
    try:
        wait_for(tmp_path, step, phase, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert load(tmp_path)["freshdesk"]["tickets"]["1001"]["status"] == 2, "killed before closing"
    if (step, phase) == ("gstk_cancel", "done"):  # half done: GSTK cancelled, Amazon not yet
        assert counts(tmp_path, 1001, ORDER_1001, []).gstk_cancels == 1
        assert feeds_for(tmp_path) == 0

    rerun = cancelbot(tmp_path, "process", "1001", "--sandbox", "--yes")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, out + err
    assert "Resuming the unfinished run" in out

    c = counts(tmp_path, 1001, ORDER_1001, [])
    assert (c.gstk_cancels, c.amazon_status, c.final_notes, c.claim_notes, c.status) == \
        (1, "CANCELLED", 1, 0, 5)
    assert feeds_for(tmp_path) == 1

    again = cancelbot(tmp_path, "process", "1001", "--sandbox", "--yes")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0 and "nothing left to do" in out, out + err
    assert feeds_for(tmp_path) == 1


@pytest.mark.slow
def test_two_processes_on_one_ticket_exactly_one_proceeds(tmp_path: Path) -> None:
    sandbox.reset(tmp_path)
    procs = [cancelbot(tmp_path, "process", "1001", "--sandbox", "--yes", latency=0.3)
             for _ in range(2)]
    results = [(p.wait(90), *p.communicate()) for p in procs]
    worked = [r for r in results if r[0] == 0 and "order GS-1048213 cancelled" in r[1]]
    assert len(worked) == 1, results
    (_, out, err), = [r for r in results if r is not worked[0]]
    # Normally refused at once; on a machine so loaded that the second one only got going
    # after the first had finished, it finds everything done. Either way it changes nothing.
    refused = "is being processed by another cancelbot on this computer" in err
    assert refused or "nothing left to do" in out, (out, err)
    c = counts(tmp_path, 1001, ORDER_1001, [])
    assert (c.gstk_cancels, c.final_notes, c.status) == (1, 1, 5)
    assert feeds_for(tmp_path) == 1


# -- Ctrl-C ---------------------------------------------------------------------------------------


def CtrlC(home: Path, **kwargs) -> FaultyTransport:  # noqa: N802 - stands in for a class
    """The sandbox, and the agent pressing Ctrl-C as createFeed leaves."""
    return FaultyTransport(home, STEPS["amazon_create_feed"], "ctrl_c")


def test_ctrl_c_between_steps_says_exactly_how_to_resume(isolated_env: Path, monkeypatch):
    import cancelbot.sandbox.transport as transport

    with monkeypatch.context() as patch:
        patch.setattr(transport, "SandboxTransport", CtrlC)
        result = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--yes"])
    assert result.exit_code == 130, result.output
    said = " ".join(result.output.split())
    assert "interrupted. Done so far — GSTK: order GS-1048213 cancelled; Freshdesk: ticket " \
        "claimed ('handling' note" in said
    # createFeed was on its way: whether Amazon got it is unknown, and said so.
    assert "Not known yet (re-checked before anything is redone) — Amazon: cancellation of " \
        f"{ORDER_1001}" in said
    assert "Rerun `cancelbot process 1001 --sandbox` to finish" in said

    rerun = CliRunner().invoke(app, ["process", "1001", "--sandbox", "--yes"])
    assert rerun.exit_code == 0, rerun.output
    c = counts(isolated_env, 1001, ORDER_1001, [])
    assert (c.gstk_cancels, c.amazon_status, c.final_notes, c.status) == (1, "CANCELLED", 1, 5)
    assert feeds_for(isolated_env) == 1


def test_ctrl_c_at_a_question_changes_nothing(isolated_env: Path, monkeypatch) -> None:
    from cancelbot.ui import TerminalAgent

    def ctrl_c(self, prompt):
        raise KeyboardInterrupt

    before = load(isolated_env)
    monkeypatch.setattr(TerminalAgent, "_input", ctrl_c)
    result = CliRunner().invoke(app, ["process", "1001", "--sandbox"])
    assert result.exit_code == 130, result.output
    assert "interrupted. Nothing was changed. Run `cancelbot process 1001 --sandbox`" \
        in result.output
    assert as_found(load(isolated_env)) == as_found(before)  # its claim taken back


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_debug_logs_each_call_and_no_secret(tmp_path: Path) -> None:
    proc = cancelbot(tmp_path, "--debug", "process", "1001", "--sandbox", "--yes")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    calls = [line for line in err.splitlines() if "cancelbot.http" in line]
    assert any("POST https://gstk.sandbox.invalid/api/orders/GS-1048213/cancel -> 200" in c
               and c.endswith(" ms") for c in calls), calls
    assert any("POST https://lwa.sandbox.invalid/auth/o2/token -> 200" in c for c in calls)
    secrets = [v for k, v in sandbox.sandbox_environment().items()
               if k.endswith(("KEY", "TOKEN", "SECRET"))]
    for text in (*secrets, "Atza|", "Basic ", "Bearer ", "refresh_token", "X-Amz-Signature"):
        assert text not in err and text not in out, text

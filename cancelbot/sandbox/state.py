"""The sandbox's world, kept in one JSON file that several processes may share.

The file is `sandbox.json` in the sandbox world's folder (`<home>/worlds/sandbox/`, worlds.py),
beside the sandbox's own journal: a reset starts both over, and no real account's state is
there. Every change happens under a cross-process lock (fcntl on POSIX, msvcrt on Windows) and
lands with an atomic replace, so a second `cancelbot` run sees the first run's effects and two
runs at once never lose an update. No httpx here: `cancelbot sandbox list` stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cancelbot import private
from cancelbot.errors import SandboxStateError
from cancelbot.models import TicketStatus
from cancelbot.sandbox.seed import STATE_VERSION, build_seed, now_iso
from cancelbot.worlds import sandbox_world

LOCK_TIMEOUT = 10.0
__all__ = ["STATE_VERSION", "StateStore", "now_iso"]


class StateLockTimeout(TimeoutError):
    """Another process held the state lock for longer than LOCK_TIMEOUT."""


FILE_NAME = "sandbox.json"


def state_path(home: Path) -> Path:
    return sandbox_world(home).state_dir / FILE_NAME


class StateStore:
    """Locked, fresh reads and atomic read-modify-write updates of one state file.

    `clock` is the simulated services' time, in seconds since the epoch: wall time by default,
    so a feed sent by one process is seen progressing by the next (its times are in the file).
    `feed_seconds` is how long Amazon takes over a feed; None reads
    CANCELBOT_SANDBOX_FEED_SECONDS when a feed is created. Tests inject both.
    """

    def __init__(
        self,
        home: Path,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        clock: Callable[[], float] = time.time,
        feed_seconds: float | None = None,
    ) -> None:
        self.world = sandbox_world(home)
        self.path = state_path(home)
        self.lock_timeout = lock_timeout
        self._prepared = False
        self.clock = clock
        self.feed_seconds = feed_seconds

    def read(self) -> dict[str, Any]:
        """The state as it is now on disk (seeded on first use)."""
        with self._locked():
            return self._load_or_seed()

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Yield the state to change in place; it is written back only if it changed."""
        with self._locked():
            state = self._load_or_seed()
            before = _dump(state)
            yield state
            after = _dump(state)
            if after != before:
                _atomic_write(self.path, after)

    def reset(self) -> None:
        """The seed state again, and the sandbox's journal gone with what it remembered."""
        with self._locked():
            _forget_journal(self.path.parent)
            with _io(self.path):
                _atomic_write(self.path, _dump(build_seed(datetime.now(timezone.utc))))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if not self._prepared:
            self.world.prepare()  # checked once per store: every request comes through here
            self._prepared = True
        # The thread lock spares same-process callers a busy wait; the file lock is what
        # keeps separate processes apart.
        with _thread_lock(self.path), _file_lock(self.lock_path, self.lock_timeout):
            yield

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _load_or_seed(self) -> dict[str, Any]:
        with _io(self.path):
            raw = private.read_file(self.path, limit=64 << 20)
        if raw is None:
            state = build_seed(datetime.now(timezone.utc))
            with _io(self.path):
                _atomic_write(self.path, _dump(state))
            return state
        try:
            state = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SandboxStateError(
                f"sandbox state {self.path} is not valid JSON ({exc}); "
                "run `cancelbot sandbox reset`"
            ) from exc
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise SandboxStateError(
                f"sandbox state {self.path} comes from another cancelbot version; "
                "run `cancelbot sandbox reset`"
            )
        return state


def reset(home: Path) -> Path:
    """Write the seed state (every ticket open again, every order back as seeded) and forget
    the sandbox's journal: its jobs, steps and queued cancellations were about the old state."""
    store = StateStore(home)
    store.reset()
    return store.path


def load(home: Path) -> dict[str, Any]:
    """The current state, seeding it on first use."""
    return StateStore(home).read()


def list_tickets(home: Path) -> list[dict[str, Any]]:
    """One row per sandbox ticket, for `cancelbot sandbox list`.

    Statuses are read from the current state, so a processed ticket shows its effects (and
    a feed whose time has come has been processed); `expected_branch` is what the seed was
    written to exercise.
    """
    from cancelbot.sandbox.feeds import advance_feeds, feed_changes_due

    store = StateStore(home)
    state = store.read()
    if feed_changes_due(state, store.clock()):
        with store.update() as state:
            advance_feeds(state, store.clock())
    tickets = state["freshdesk"]["tickets"]
    contacts = state["freshdesk"]["contacts"]
    gstk_by_amazon_id = {o["marketplace_order_id"]: o for o in state["gstk"]["orders"].values()}
    amazon_orders = state["amazon"]["orders"]
    rows = []
    for key in sorted(tickets, key=int):
        ticket = tickets[key]
        scenario = state["scenarios"].get(key, {})
        order_ids = scenario.get("order_ids", [])
        requester = contacts.get(str(ticket["requester_id"]), {})
        rows.append(
            {
                "ticket_id": ticket["id"],
                "subject": ticket["subject"],
                "requester": f"{requester.get('name', '')} <{requester.get('email', '')}>",
                "ticket_status": _ticket_status_name(ticket["status"]),
                "order_id": ", ".join(order_ids),
                "gstk_status": " / ".join(
                    gstk_by_amazon_id[o]["status"] if o in gstk_by_amazon_id else "not found"
                    for o in order_ids
                ),
                "amazon_status": " / ".join(
                    amazon_orders[o]["order"]["fulfillment"]["fulfillmentStatus"]
                    if o in amazon_orders
                    else "not found"
                    for o in order_ids
                ),
                "expected_branch": scenario.get("expected_branch", ""),
            }
        )
    return rows


def _ticket_status_name(status: int) -> str:
    try:
        return TicketStatus(status).name.lower()
    except ValueError:
        return str(status)


def _dump(state: dict[str, Any]) -> str:
    return json.dumps(state, ensure_ascii=False, indent=1)


def _atomic_write(path: Path, text: str) -> None:
    """Temp file in the same folder, then os.replace: readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _replace(source: str, target: Path, attempts: int = 20) -> None:
    # On Windows, a virus scanner or an editor holding the target open makes os.replace fail
    # for a moment; the same call succeeds once they let go.
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    key = os.path.normcase(os.path.abspath(path))
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


def _forget_journal(folder: Path) -> None:
    """Delete the sandbox journal's files, unless a sandbox run is using them right now."""
    from cancelbot import journal

    if (folder / journal.FILE_NAME).exists():
        with journal.Journal.open(folder) as current:
            busy = current.live_runs()
        if busy:
            what = ", ".join("the feeds" if key == journal.FEEDS_LOCK_KEY else f"#{key}"
                             for key in busy)
            raise SandboxStateError(f"a sandbox run is working on {what}: let it finish (or "
                                    "stop it), then reset; nothing was reset")
    for path in journal.files(folder):
        with _io(path):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _io(path: Path) -> Iterator[None]:
    """An OS error on the sandbox's files becomes one line naming the file."""
    try:
        yield
    except OSError as exc:
        raise SandboxStateError(f"sandbox state {path}: {private.reason(exc)}") from exc


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive OS lock on `path`; the OS drops it if the holder dies, so no stale locks."""
    with _io(path):
        fd = private.open_file(path, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise StateLockTimeout(f"the sandbox state is locked by another process ({path})")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

"""Per-ticket locks between processes on one computer: one byte of one file per ticket.

A byte-range lock at offset `ticket_id` of a single lock file, so no file piles up per ticket.
The OS drops a lock when its holder dies, even on SIGKILL or a power cut, so a crashed run never
leaves a stale lock behind. POSIX record locks belong to the process (not the file descriptor),
so one descriptor per file is shared within the process and a registry keeps threads apart.
The lock file is opened without following a link, owner-only (private.py).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from cancelbot import private

_guard = threading.Lock()
_files: dict[str, _LockFile] = {}


class _LockFile:
    def __init__(self, path: Path) -> None:
        self.fd = private.open_file(path, os.O_RDWR | os.O_CREAT)
        self.held: set[int] = set()


def try_lock(path: Path, key: int) -> bool:
    """Take byte `key` of `path` without waiting; False when another holder has it."""
    if key < 0:
        raise ValueError("lock key must not be negative")
    name = os.path.normcase(os.path.abspath(path))
    with _guard:
        entry = _files.get(name)
        if entry is None:
            entry = _files[name] = _LockFile(Path(path))
        if key in entry.held:
            return False  # another thread of this process holds it
        if not _try_lock_byte(entry.fd, key):
            if not entry.held:
                _close(name, entry)
            return False
        entry.held.add(key)
        return True


def unlock(path: Path, key: int) -> None:
    name = os.path.normcase(os.path.abspath(path))
    with _guard:
        entry = _files.get(name)
        if entry is None or key not in entry.held:
            return
        entry.held.discard(key)
        _unlock_byte(entry.fd, key)
        if not entry.held:
            _close(name, entry)


def _close(name: str, entry: _LockFile) -> None:
    # Closing any descriptor of the file drops every POSIX lock this process holds on it: only
    # done once this process holds none.
    del _files[name]
    os.close(entry.fd)


if sys.platform == "win32":
    import msvcrt

    def _try_lock_byte(fd: int, key: int) -> bool:
        os.lseek(fd, key, os.SEEK_SET)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock_byte(fd: int, key: int) -> None:
        os.lseek(fd, key, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock_byte(fd: int, key: int) -> bool:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, key, os.SEEK_SET)
        except OSError:  # EACCES or EAGAIN, depending on the system
            return False
        return True

    def _unlock_byte(fd: int, key: int) -> None:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, key, os.SEEK_SET)

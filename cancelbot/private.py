"""cancelbot's own folder, and the files in it that only this user may touch.

CANCELBOT_HOME is not trusted blindly. A home another user owns, or a shared folder anyone may
write (such as /tmp), is refused; a home of ours that others may write is warned about and made
owner-writable. Inside it, what cancelbot creates is owner-only (folders 0700, files 0600, and an
older file with a wider mode is tightened), and no symbolic link is followed: a file opened here
is opened with O_NOFOLLOW, or checked first where the system has no such flag. On Windows the
modes mean little (the profile folder's access lists protect it): only the link rule applies.

Failures are `StateError`s naming the path: one line, exit 1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from cancelbot.errors import StateError
from cancelbot.i18n import _

POSIX = os.name == "posix"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_EXTRA = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH

log = logging.getLogger("cancelbot.state")


def warn(text: str) -> None:
    log.warning("cancelbot: %s", text)


def reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def home_folder(path: Path) -> Path:
    """CANCELBOT_HOME, created owner-only when missing; StateError when it is not safe to use.

    The home itself may be a link (a user's choice of where it lives); nothing inside it may.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise StateError(_("cannot use CANCELBOT_HOME {path}: {reason}").format(
            path=path, reason=reason(exc))) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise StateError(_("CANCELBOT_HOME {path} is not a folder").format(path=path))
    if not POSIX:
        return path
    if info.st_uid != os.geteuid():
        raise StateError(_("CANCELBOT_HOME {path} belongs to another user (uid {uid}): point "
                           "CANCELBOT_HOME at a folder of your own").format(path=path,
                                                                            uid=info.st_uid))
    if info.st_mode & WRITABLE_BY_OTHERS:
        if info.st_mode & stat.S_ISVTX:  # a shared folder such as /tmp: not ours to close
            raise StateError(_("CANCELBOT_HOME {path} is a folder other users may write in: "
                               "point CANCELBOT_HOME at a folder of your own").format(path=path))
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~WRITABLE_BY_OTHERS)
        except OSError as exc:
            raise StateError(_("CANCELBOT_HOME {path} may be written by other users, and cannot "
                               "be changed: {reason}").format(path=path, reason=reason(exc))
                             ) from exc
        warn(_("CANCELBOT_HOME {path} could be written by other users: now only you can").format(
            path=path))
    return path


def private_folder(path: Path) -> Path:
    """A folder cancelbot owns inside the home: created 0700, never a link, kept 0700."""
    path = Path(path)
    try:
        try:
            info = path.lstat()
        except FileNotFoundError:
            path.mkdir(parents=True, mode=0o700, exist_ok=True)
            info = path.lstat()
    except OSError as exc:
        raise StateError(_("cannot create {path}: {reason}").format(path=path,
                                                                    reason=reason(exc))) from exc
    if stat.S_ISLNK(info.st_mode):
        raise link_error(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StateError(_("{path} is not a folder: move it away").format(path=path))
    if POSIX:
        _own(path, info)
        if info.st_mode & 0o077:
            try:
                os.chmod(path, 0o700)
            except OSError as exc:
                raise StateError(_("cannot make {path} private: {reason}").format(
                    path=path, reason=reason(exc))) from exc
            if info.st_mode & WRITABLE_BY_OTHERS:
                warn(_("{path} could be written by other users: now only you can").format(
                    path=path))
    return path


def link_error(path: Path) -> StateError:
    return StateError(_("{path} is a symbolic link: cancelbot follows no link in its folder — "
                        "remove it").format(path=path))


def refuse_link(path: Path) -> None:
    """StateError when `path` is a symbolic link (checked before a library opens it by name)."""
    if Path(path).is_symlink():
        raise link_error(Path(path))


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """`os.open` that never follows a link at `path`; a file of ours is made owner-only.

    Raises StateError for a link, OSError (FileNotFoundError…) for the rest.
    """
    path = Path(path)
    if not _NOFOLLOW:
        refuse_link(path)
    try:
        fd = os.open(path, flags | _NOFOLLOW | _EXTRA, mode)
    except OSError as exc:
        if path.is_symlink():  # ELOOP on Linux; other systems say it differently
            raise link_error(path) from exc
        raise
    if POSIX:
        try:
            _tighten(fd, path)
        except BaseException:
            os.close(fd)
            raise
    return fd


def read_file(path: Path, limit: int = 1 << 20) -> bytes | None:
    """The file's bytes (None when there is none), read without following a link.

    ValueError when it is longer than `limit`: no state file of cancelbot's is.
    """
    try:
        fd = open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"longer than {limit} bytes")
    return data


def write_file(path: Path, data: bytes) -> None:
    """Replace the file at once: a new owner-only file, then a rename over the old one (which
    replaces a link rather than writing through it)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _EXTRA, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def tighten(path: Path) -> None:
    """Make an existing file of ours owner-only; StateError when it is a link."""
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise link_error(path)
    if POSIX and stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() \
            and info.st_mode & 0o077:
        os.chmod(path, 0o600)


def _tighten(fd: int, path: Path) -> None:
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
        os.fchmod(fd, 0o600)


def _own(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise StateError(_("{path} belongs to another user (uid {uid}): cancelbot only uses a "
                           "folder of its own").format(path=path, uid=info.st_uid))

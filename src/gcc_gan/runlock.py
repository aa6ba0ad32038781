"""Exclusive locks on the directories and files gcc-gan writes.

Every command that writes a run or output path holds `run_lock(path)` while it works: an
flock on the hidden sibling `.NAME.lock` (a sibling, not a file inside, because the output
may not exist yet, may be replaced by an atomic rename, or be deleted by --force). A second
process asking for the same path fails at once with one message naming the holder. The
kernel drops an flock when its process dies, so kill -9 leaves no stale lock; the lock file
itself is removed on release. Re-entrant within one process (the CLI and the library it
calls may both lock the same path).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from .errors import GccGanError

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth) held by this process
_command: list[str] | None = None  # the CLI's own argv, for the holder record


def set_command(argv: list[str]) -> None:
    """Record the command line that holders name (the CLI calls this with its argv)."""
    global _command
    _command = ["gcc-gan", *argv]


def command() -> list[str] | None:
    """The CLI's argv as recorded by `set_command` (without the leading 'gcc-gan')."""
    return None if _command is None else _command[1:]


class LockedError(GccGanError):
    """Another process is writing the same output."""


def lock_path(path: str | os.PathLike[str]) -> Path:
    """`.NAME.lock` beside `path`, symlinks resolved: every spelling of one output (relative,
    absolute, through a link) shares one lock."""
    p = Path(os.path.realpath(path))
    return p.parent / f".{p.name}.lock"


def _holder(lp: Path) -> str:
    for _ in range(50):  # the holder writes its record just after locking: give it a moment
        try:
            info = json.loads(lp.read_text(encoding="utf-8"))
            return (f"pid {info['pid']} on {info['host']}, started {info['started']}: "
                    f"{info['command']}")
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.01)
    return "a process that has not said who it is"


def _acquire(lp: Path, what: str) -> int:
    lp.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise LockedError(f"{what} is in use by another gcc-gan process ({_holder(lp)}); wait for it to "
                              f"finish or stop it (lock file {lp})") from None
        try:  # the file we locked must still be the one at lp (a releasing holder unlinks it)
            if os.stat(lp).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def run_lock(path: str | os.PathLike[str], what: str | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of output `path` for the block; yields the lock file."""
    lp = lock_path(path)
    key = str(lp)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
    else:
        try:
            fd = _acquire(lp, what or str(path))
        except LockedError:
            raise
        except OSError:
            # no lock file can be made beside `path` (its parent is a file, unwritable, on
            # a read-only file system): then neither can `path`, and the command's own
            # check reports that in its own words
            yield lp
            return
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
                  "command": shlex.join(_command if _command is not None else sys.argv),
                  "path": str(Path(os.path.abspath(path)))}
        with contextlib.suppress(OSError):  # the record is a courtesy (a full disk may refuse it)
            os.ftruncate(fd, 0)  # a kill -9 left the previous record behind
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        _held[key] = (fd, 1)
    try:
        yield lp
    finally:
        fd, depth = _held[key]
        if depth > 1:
            _held[key] = (fd, depth - 1)
        else:
            del _held[key]
            with contextlib.suppress(OSError):
                os.unlink(lp)  # while still locked: a waiter re-checks the inode and retries
            os.close(fd)


def current_output() -> Path | None:
    """The output the newest lock this process holds is for (a full disk reported
    without a file name names it, not the working directory)."""
    if not _held:
        return None
    lp = Path(next(reversed(_held)))
    return lp.parent / lp.name[1:-len(".lock")]


_scopes: list[contextlib.ExitStack] = []  # one per running CLI command


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """Locks taken with `hold_for_command` inside the block are released when it ends (the
    CLI wraps every command in one)."""
    with contextlib.ExitStack() as stack:
        _scopes.append(stack)
        try:
            yield
        finally:
            _scopes.pop()


def hold_for_command(path: str | os.PathLike[str], what: str | None = None) -> None:
    """Lock output `path` until the running command returns: one line at the top of a
    command instead of a `with` block around its whole body."""
    if not _scopes:
        raise RuntimeError("hold_for_command() outside runlock.command_scope()")
    _scopes[-1].enter_context(run_lock(path, what))

"""Atomic file and directory writes: readers (and a killed process) never leave or see a
half-written artifact."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import GccGanError

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# how libraries that wrap the OS error word it (safetensors' Rust io::Error, the C runtime)
_FULL_TEXTS = ("No space left on device", "Disk quota exceeded", "StorageFull")
# torch.save's zip writer loses the OS error ("[enforce fail at inline_container.cc:672] .
# unexpected pos …", "file write failed", "basic_ios::clear: iostream error"): a full disk
# when the file system has almost nothing left
_WRITE_FAILED = ("inline_container.cc", "file write failed", "iostream error")
_NEARLY_FULL = 4 << 20


class DiskFullError(GccGanError):
    """A write failed because the file system is full."""


def _chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _free(path: Path) -> int | None:
    for p in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(p).free
    return None


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def is_disk_full(e: BaseException, path: str | os.PathLike[str] | None = None) -> bool:
    """Whether `e` (or an error it wraps) is the file system running out of space."""
    for x in _chain(e):
        if isinstance(x, OSError) and x.errno in _FULL_ERRNOS:
            return True
        text = str(x)
        if any(t in text for t in _FULL_TEXTS):
            return True
        if path is not None and any(t in text for t in _WRITE_FAILED):
            free = _free(Path(path))
            if free is not None and free < _NEARLY_FULL:
                return True
    return False


def disk_full_message(e: BaseException, path: str | os.PathLike[str] | None = None) -> str | None:
    """One line naming the path and the free space when `e` is a full disk, else None."""
    return _full_message(e, path) if is_disk_full(e, path) else None


def _full_message(e: BaseException, path: str | os.PathLike[str] | None) -> str:
    if path is None:
        path = next((x.filename for x in _chain(e) if isinstance(x, OSError) and x.filename), None)
    where = Path(os.fsdecode(path)) if path is not None else Path.cwd()
    free = _free(where)
    room = f"{_size(free)} free there" if free is not None else "free space unknown"
    return f"{where}: no space left on device ({room}); free some space and run the command again"


@contextlib.contextmanager
def disk_full_as_error(path: str | os.PathLike[str]) -> Iterator[None]:
    """Writes in the block (an appended log, say) that hit a full disk raise one readable
    `DiskFullError` naming `path` and the free space."""
    try:
        yield
    except OSError as e:
        msg = disk_full_message(e, path)
        if msg is None:
            raise
        raise DiskFullError(msg) from None


def _raise_full(e: BaseException, path: Path) -> None:
    raise DiskFullError(_full_message(e, path) + " (nothing was half-written)") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode of a new file
        os.replace(tmp, p)
    except BaseException as e:
        full = isinstance(e, Exception) and is_disk_full(e, p.parent)  # before the partial file goes
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if full:
            _raise_full(e, p)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory in a hidden sibling temp dir and move it into place only when the
    block succeeds; an existing directory at `path` is replaced at that moment. On failure
    (or kill) the target is untouched and the temp dir is removed (or left hidden as
    `.NAME.tmp-*`, never as a half-written `NAME`)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.tmp-", dir=p.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if p.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name}.old-", dir=p.parent))
            os.replace(p, old / "d")
            os.replace(tmp, p)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, p)
    except BaseException as e:
        full = isinstance(e, Exception) and is_disk_full(e, p.parent)  # before the partial files go
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            _raise_full(e, p)
        raise

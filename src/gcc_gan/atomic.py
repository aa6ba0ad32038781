"""Atomic file and directory writes: readers (and a killed process) never leave or see a
half-written artifact.

Work in progress lives in a hidden sibling `.NAME.tmp-PID-XXXX` (file or directory) and is
renamed into place on success. An error, Ctrl-C or SIGTERM (`gcc_gan.signals`) removes it;
SIGKILL cannot be caught, so the next write beside NAME removes the temps whose process
is gone (`sweep_stale`)."""

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
    if path is None:  # no file name in the error: the output this process is writing, else the cwd
        from .runlock import current_output

        path = current_output()
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


def _tmp_prefix(p: Path) -> str:
    return f".{p.name}.tmp-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def sweep_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the `.NAME.tmp-PID-*` / `.NAME.old-PID-*` siblings of `path` left by a
    process that no longer runs (a SIGKILL or power loss mid-write); returns them."""
    p = Path(path)
    removed = []
    try:
        entries = list(os.scandir(p.parent))
    except OSError:
        return removed
    for kind in ("tmp", "old"):
        head = f".{p.name}.{kind}-"
        for e in entries:
            if not e.name.startswith(head):
                continue
            pid = e.name[len(head):].split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            target = Path(e.path)
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(target, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    target.unlink()
            removed.append(target)
    return removed


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write `path` through a hidden temp file that the block fills (streamed, in any
    number of writes); it replaces `path` only when the block succeeds, else it is removed."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(p)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(p), dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory in a hidden sibling temp dir and move it into place only when the
    block succeeds; an existing directory at `path` is replaced at that moment. On failure
    (or kill) the target is untouched and the temp dir is removed (or left hidden as
    `.NAME.tmp-*`, never as a half-written `NAME`, and swept by the next write)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(p)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(p), dir=p.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if p.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name}.old-{os.getpid()}-", dir=p.parent))
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

"""How gcc-gan processes end when told to: SIGTERM is handled as Ctrl-C is, and child
processes die with their parent.

SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread, so the same code
runs as for Ctrl-C: temp directories are removed (`atomic.atomic_dir`), locks released
(`runlock`), a long run prints where its last checkpoint is; the CLI then exits 143
(128 + SIGTERM) instead of 130. SIGKILL cannot be caught: what it leaves (a hidden
`.NAME.tmp-*` directory) is removed by the next command that writes beside it
(`atomic.sweep_stale`). Children started with `preexec_fn=die_with_parent` get SIGTERM
from the kernel when the process that started them dies, however it dies (Linux
PR_SET_PDEATHSIG; elsewhere nothing is set up).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from types import FrameType
from typing import Callable, Iterator

EXIT_SIGINT = 130
EXIT_SIGTERM = 143
_PR_SET_PDEATHSIG = 1

_received: int | None = None
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True) if sys.platform == "linux" else None


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; handled wherever Ctrl-C is."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    global _received
    if _received is not None:  # a second SIGTERM while cleaning up: let the cleanup finish
        return
    _received = signum
    raise Terminated()


def install() -> None:
    """SIGTERM → `Terminated` in this process (the CLI's main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_term)


def exit_code() -> int:
    """The exit code of an interrupted command: 143 after SIGTERM, else 130 (Ctrl-C)."""
    return EXIT_SIGTERM if _received == signal.SIGTERM else EXIT_SIGINT


def interrupted_word() -> str:
    return "terminated" if _received == signal.SIGTERM else "interrupted"


_pending: int | None = None


def _raise(signum: int) -> None:
    global _received
    _received = signum
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Callable[[], bool]]:
    """Inside the block the first Ctrl-C or SIGTERM is only noted (the yielded function
    says whether one came) so a loop can finish its step, checkpoint and then call
    `raise_pending()`; a second one interrupts at once. Outside the main thread: no-op."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def note(signum: int, frame: FrameType | None) -> None:
        global _pending
        if _pending is None:
            _pending = signum
            return
        _raise(signum)

    _pending = None
    old = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: _pending is not None
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def raise_pending() -> None:
    """Raise the interrupt `deferred_interrupts` noted (KeyboardInterrupt / Terminated)."""
    global _pending
    if _pending is not None:
        signum, _pending = _pending, None
        _raise(signum)


def die_with_parent_fn(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets `sig` when this process dies
    (None where the platform has no PR_SET_PDEATHSIG)."""
    if _libc is None:
        return None
    parent = os.getpid()

    def _set() -> None:  # runs in the forked child, before exec: nothing but two syscalls
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return _set

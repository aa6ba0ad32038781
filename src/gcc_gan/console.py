"""Rich consoles that never cut output written to a file or a pipe, and `progress`, the one
progress display of every long command (a bar on a terminal, plain lines elsewhere).

On a terminal rich wraps at the window width. Written to a file, a pipe or a CI log, a
plain `Console` assumes 80 columns, hard-wraps long lines and squeezes tables (`inter…`,
`1,359…`). There nobody reads at a fixed width, so these consoles lay out at a width no
table of gcc-gan reaches: lines come out whole and tables complete. Tables are not expanded
(rich's default), so the wide width adds no padding.

A reader that goes away (`gcc-gan compile ... | head -1`) is no failure of the command:
the rest of the output goes to /dev/null and the command finishes its work and exits 0
(rich's default is to exit 1 on the spot).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Iterator

from rich.console import Console, ConsoleDimensions

#: the layout width of a console that does not write to a terminal
PLAIN_WIDTH = 1000


class WideConsole(Console):
    """A `Console` that lays out at `PLAIN_WIDTH` columns when not writing to a terminal
    (decided at each print, so a console created at import follows a redirected stream)."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(PLAIN_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def on_broken_pipe(self) -> None:
        self.quiet = True
        stream = self.file
        try:
            fd = stream.fileno()
        except (OSError, ValueError, AttributeError):  # an in-memory stream (tests): nothing to redirect
            return
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        if stream is sys.stdout or stream is sys.__stdout__:  # its buffer is flushed again at exit
            stream_flush_quietly(stream)


def stream_flush_quietly(stream: Any) -> None:
    try:
        stream.flush()
    except OSError:
        pass


def make_console(**kwargs: Any) -> Console:
    """A console for gcc-gan's output (see `WideConsole`); kwargs as for `rich.Console`."""
    return WideConsole(**kwargs)


# --------------------------------------------------------------------------- progress

#: a plain (not terminal) progress report prints a line at each tenth of the total that
#: comes at least PLAIN_GAP_S after the last line, and one every PLAIN_EVERY_S in any case
PLAIN_GAP_S = 5.0
PLAIN_EVERY_S = 30.0

_stderr: Console | None = None


def stderr_console() -> Console:
    """The default console of progress reports: stderr, so stdout keeps only results."""
    global _stderr
    if _stderr is None:
        _stderr = make_console(stderr=True)
    return _stderr


# --------------------------------------------------------------------------- warnings

_ONCE: set[str] | None = None


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """Inside: each distinct warning is printed once (repeats of a measurement)."""
    global _ONCE
    before, _ONCE = _ONCE, set()
    try:
        yield
    finally:
        _ONCE = before


def warn(message: str) -> None:
    """A visible warning on stderr (not an error: the run goes on)."""
    if _ONCE is not None:
        if message in _ONCE:
            return
        _ONCE.add(message)
    stderr_console().print(f"[bold yellow]warning:[/bold yellow] {message}", highlight=False, soft_wrap=True)


class Task:
    """The handle of one running `progress` phase."""

    def __init__(self, description: str, total: int | None, completed: int, console: Console, bar: Any) -> None:
        self.description, self.total, self.completed, self.stats = description, total, completed, ""
        self._console, self._bar, self._id = console, bar, None
        self._t0 = self._last_t = time.monotonic()
        self._last_tenth = self._tenth(completed)
        if bar is not None:
            self._id = bar.add_task(description, total=total, completed=completed, stats="")
        else:
            self._line(f"{description}…" if total is None else f"{description}: {completed}/{total}")

    def _tenth(self, n: int) -> int:
        return 0 if not self.total else n * 10 // self.total

    def _line(self, text: str) -> None:
        self._console.print(text, highlight=False, markup=False, soft_wrap=True)

    def advance(self, n: int = 1) -> None:
        self.update(completed=self.completed + n)

    def update(self, completed: int | None = None, stats: str | None = None, description: str | None = None) -> None:
        """Progress to `completed`, the live figures `stats` (losses, speed), or, for a phase
        without a total, the next `description` (a line of its own when not on a terminal)."""
        if stats is not None:
            self.stats = stats
        if description is not None and description != self.description:
            self.description = description
            if self._bar is None:
                self._line(f"{description}…")
        if completed is not None:
            self.completed = completed
        if self._bar is not None:
            self._bar.update(self._id, completed=self.completed, stats=self.stats, description=self.description)
            return
        if completed is None or self.total is None:
            return
        now, tenth = time.monotonic(), self._tenth(self.completed)
        since = now - self._last_t
        if (tenth > self._last_tenth and since >= PLAIN_GAP_S) or since >= PLAIN_EVERY_S \
                or self.completed >= self.total:
            if self.completed >= self.total and self._last_tenth >= 10:
                return  # the end was reported
            self._last_tenth, self._last_t = tenth, now
            stats = f"  {self.stats}" if self.stats else ""
            self._line(f"{self.description}: {self.completed}/{self.total}{stats}  ({now - self._t0:.0f} s)")


@contextlib.contextmanager
def progress(description: str, total: int | None = None, *, console: Console | None = None, completed: int = 0,
             enabled: bool = True, transient: bool = False) -> Iterator[Task]:
    """One phase of a long command, the one progress display of every command: on a terminal
    a rich bar (a spinner when `total` is None); elsewhere (a pipe, a CI log) plain lines:
    one when the phase starts, one at the tenths of `total` (see `PLAIN_GAP_S`), one at the
    end and one per new `description`. `enabled=False` shows nothing (a phase inside another
    command's work). Writes to stderr unless given a `console`."""
    con = console or stderr_console()
    if not enabled:
        yield Task(description, total, completed, con, _NullBar())
        return
    if not con.is_terminal:
        yield Task(description, total, completed, con, None)
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    cols: list[Any] = [TextColumn("[bold]{task.description}")]
    if total is None:
        cols.insert(0, SpinnerColumn())
    else:
        cols += [BarColumn(), MofNCompleteColumn()]
    cols += [TextColumn("{task.fields[stats]}"), TimeElapsedColumn()]
    if total is not None:
        cols += [TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*cols, console=con, transient=transient) as bar:
        yield Task(description, total, completed, con, bar)


class _NullBar:
    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

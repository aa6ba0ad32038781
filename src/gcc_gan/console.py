"""Rich consoles that never cut output written to a file or a pipe.

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

import os
import sys
from typing import Any

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

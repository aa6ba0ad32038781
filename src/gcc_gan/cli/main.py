"""The `gcc-gan` entry point: registers every command module on the app (`app.py`) and
runs it. Exit codes: see `app.py`."""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import sys
from typing import Sequence

from ..errors import GccGanError
from ..runlock import set_command
from ..signals import exit_code, install, interrupted_word
from .app import _os_message, app, err_console, print_error

_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    # Each module adds its commands to `app` on import.
    from . import dsl_cmd  # noqa: F401  validate, show, zoo, schema, render, convert
    from . import compile_cmd  # noqa: F401  compile, import
    from . import train_cmd  # noqa: F401  train
    from . import bench_cmd  # noqa: F401  bench, stats
    from . import search_cmd  # noqa: F401  search
    from . import scale_cmd  # noqa: F401  scale
    from . import sample_cmd  # noqa: F401  sample
    from . import card_cmd  # noqa: F401  card
    from . import compress_cmd  # noqa: F401  compress


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") convention
    return 1


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on `argv` (default: sys.argv[1:]) and return the exit code."""
    _register()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:  # plain `gcc-gan`: help, and a clean exit
        args = ["--help"]
    set_command(args)  # output locks name this command line as their holder
    install()  # SIGTERM ends a command as Ctrl-C does (cleanup, checkpoint message), exit 143
    try:
        app(args=args, prog_name="gcc-gan", standalone_mode=True)
    except SystemExit as e:
        return _exit_code(e.code)
    except GccGanError as e:  # raised outside a command (e.g. while parsing)
        print_error(str(e))
        return 1
    except KeyboardInterrupt:
        err_console.print(interrupted_word())
        return exit_code()
    return 0


def main() -> None:
    code = run()
    if sys.stdout is not None:  # None when started with stdout closed
        try:
            sys.stdout.flush()
        except OSError as e:
            if e.errno != errno.EPIPE:  # a full disk, say; a reader that went away is no error
                print_error(f"cannot write the output: {_os_message(e)}")
                code = code or 1
            # silence the second flush at interpreter exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    # Every file is closed by now. Run the atexit handlers (logging, multiprocessing, Ray,
    # temp-dir finalizers), then skip the interpreter's module teardown: with torch loaded
    # it takes ~0.5 s on every command and does nothing this process needs.
    atexit._run_exitfuncs()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    # `python -m gcc_gan.cli.main`: run the package module, not this `__main__` copy, or the
    # command modules would register on a second `app` that is never called
    from gcc_gan.cli.main import main as _main

    _main()

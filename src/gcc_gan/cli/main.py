"""The `gcc-gan` command line: thin — parse, call the library, print.

Every command module registers its commands on `app` when imported in `_register()`.
Exit codes: 0 success; 1 a user error (`GccGanError`, or a file the OS refuses), printed
as one `error: ...` line block on stderr, never a traceback; 2 a usage error (unknown
option, missing argument), printed by typer/click.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import sys
from typing import Any, NoReturn, Sequence

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from .. import __version__
from ..errors import GccGanError

console = Console()
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """`error: <message>` on stderr, the message printed verbatim (no rich markup)."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print a user-facing error and exit 1."""
    print_error(message)
    raise typer.Exit(1)


def _os_message(e: OSError) -> str:
    what = e.strerror or str(e)
    return f"{e.filename}: {what}" if e.filename else what


class _Group(TyperGroup):
    """Turns user errors raised by any command into `error: ...` + exit 1, both under
    `main()` and when the app is invoked in-process (tests, typer's CliRunner)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except GccGanError as e:
            fail(str(e))
        except OSError as e:
            if e.errno == errno.EPIPE:  # stdout closed early (`| head`): typer handles it
                raise
            fail(_os_message(e))


app = typer.Typer(
    name="gcc-gan",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gcc-gan {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """gcc-gan: search GAN architectures, compile genotypes to standalone PyTorch / ONNX /
    .pt2, benchmark them."""


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
    try:
        app(args=args, prog_name="gcc-gan", standalone_mode=True)
    except SystemExit as e:
        return _exit_code(e.code)
    except GccGanError as e:  # raised outside a command (e.g. while parsing)
        print_error(str(e))
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
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

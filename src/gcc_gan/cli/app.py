"""The one `gcc-gan` typer app and its consoles. Command modules (`*_cmd.py`) register
their commands on `app`; `main.py` imports them and runs the app, and nothing here imports
a command module, so there is no import cycle.

Exit codes: 0 success; 1 a user error (`GccGanError`, a file the OS refuses, a full
disk), printed as one `error: ...` line block on stderr, never a traceback; 2 a usage error
(unknown option, missing argument), printed by typer/click; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import errno
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from .. import __version__
from ..atomic import disk_full_message
from ..errors import GccGanError, Interrupted
from ..runlock import command_scope

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
            with command_scope():  # output locks a command takes are held until it returns
                return super().invoke(ctx)
        except Interrupted as e:  # Ctrl-C in a long run: where it stopped and how to go on
            err_console.print(Text(str(e)), highlight=False, soft_wrap=True)
            raise typer.Exit(130)
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(130)
        except GccGanError as e:
            fail(str(e))
        except OSError as e:
            if e.errno == errno.EPIPE:  # stdout closed early (`| head`): typer handles it
                raise
            fail(disk_full_message(e) or _os_message(e))
        except Exception as e:  # a library error that wraps a full disk (safetensors, torch.save)
            msg = disk_full_message(e)
            if msg is None:
                raise
            fail(msg)


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

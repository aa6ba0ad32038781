"""The one `gcc-gan` typer app and its consoles. Command modules (`*_cmd.py`) register
their commands on `app`; `main.py` imports them and runs the app, and nothing here imports
a command module, so there is no import cycle.

Exit codes: 0 success; 1 a user error (`GccGanError`, a file the OS refuses, a full
disk), printed as one `error: ...` line block on stderr, never a traceback; 2 a usage error
(unknown option, missing argument, a value outside an option's choices or range: options with
fixed values are typed `Literal[...]`, so click checks them and lists them), printed by
typer/click in plain words; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; handled as
Ctrl-C is, see gcc_gan.signals). A closed stdout (`| head -1`) is no
error.

Help is click's plain layout (typer's rich panels showed a `<bool>` type on flags and cut
long descriptions), with every option described the same way (`_normalise_help`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Literal, NoReturn

import typer
from rich.text import Text
from typer.core import TyperGroup

from ..version import __version__
from ..atomic import disk_full_message
from ..console import PLAIN_WIDTH, make_console
from ..errors import BadValue, GccGanError, Interrupted
from ..runlock import command_scope
from ..signals import exit_code, interrupted_word

# choices shared by several commands (checked against the library's own lists in tests)
Device = Literal["auto", "cpu", "cuda"]
Preset = Literal["tiny", "paper"]

# newer typer releases vendor their own click: take the usage-error class from typer's exceptions
_UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

# wide (never cut) when writing to a file or pipe: see gcc_gan.console
console = make_console()
err_console = make_console(stderr=True)


def print_error(message: str) -> None:
    """`error: <message>` on stderr, the message printed verbatim (no rich markup)."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print a user-facing error and exit 1."""
    print_error(message)
    raise typer.Exit(1)


def refuse_overwrite(path: Path, force: bool, flag: str = "-o", kind: str = "file") -> None:
    """The one rule of every command that writes a named file or directory (`kind`): an
    existing one is replaced only with --force (it may hold hand edits or a finished run)."""
    if kind == "file" and path.is_dir():
        raise GccGanError(f"{flag} {path}: is a directory; give a file name")
    if not force and (path.exists() or path.is_symlink()):
        raise GccGanError(f"{flag} {path}: the {kind} already exists; add --force to replace it")


def check_genotypes(specs: list[str]) -> None:
    """Load and validate each genotype (FILE or zoo:NAME; directories are left to the
    command) before the command imports torch, so a typo fails in a fraction of a second."""
    from ..genotype_dsl.io import load_genotype

    for spec in specs:
        if spec.startswith("zoo:") or not Path(spec).is_dir():
            load_genotype(spec)


def _os_message(e: OSError) -> str:
    what = e.strerror or str(e)
    return f"{e.filename}: {what}" if e.filename else what


def _quiet_stdout() -> None:
    """The reader of stdout went away (`gcc-gan ... | head -1`): send what is left to
    /dev/null so neither later prints nor the flush at exit fail."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (in-process capture)
        pass


def _plain_usage_message(message: str) -> str:
    """typer words bad values the way pydantic does (`Value error, 'x' is not one of ...`,
    `Input should be 'a' or 'b'`); say it plainly, as click does for its own types."""
    message = re.sub(r"^Value error, ", "", message)
    m = re.match(r"^Input should be (.+?)(, .*)?\.?$", message)
    if m:
        return f"expected {m.group(1).replace('a valid ', 'an ' if m.group(1)[8:9] in 'aeiou' else 'a ')}"
    return message


def _normalise_help(text: str | None) -> str | None:
    """Option and argument help in one style: a lower-case phrase without a final full stop
    (acronyms and literal values such as `cifar10:PATH` are left alone)."""
    if not text:
        return text
    text = text.strip()
    if re.match(r"^[A-Z][a-z]+\b", text) and not re.match(r"^[A-Z][a-z]+[A-Z]", text):
        text = text[0].lower() + text[1:]
    if text.endswith(".") and not text.endswith("..") and text.count(". ") == 0:
        text = text[:-1]
    return text


def _polish(cmd: Any, ctx: Any) -> Any:
    """One place for the look of every command's help: uniform option wording."""
    if getattr(cmd, "_gcc_gan_polished", False):
        return cmd
    for p in cmd.params:
        if getattr(p, "help", None):
            p.help = _normalise_help(p.help)  # type: ignore[union-attr]
    help_opt = cmd.get_help_option(ctx)
    if help_opt is not None:
        help_opt.help = _normalise_help(help_opt.help)
    cmd._gcc_gan_polished = True  # type: ignore[attr-defined]
    return cmd


def help_width() -> int:
    """The width of --help: $COLUMNS, else the terminal's, else (a pipe, a file) PLAIN_WIDTH."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    try:
        if os.isatty(sys.stdout.fileno()):
            return shutil.get_terminal_size().columns
    except (OSError, ValueError, AttributeError):  # no real file descriptor (in-process capture)
        pass
    return PLAIN_WIDTH


class _Group(TyperGroup):
    """Turns user errors raised by any command into `error: ...` + exit 1, both under
    `main()` and when the app is invoked in-process (tests, typer's CliRunner); usage
    errors (exit 2) in plain words; a closed stdout (`| head`) is no error."""

    def invoke(self, ctx: Any) -> Any:
        try:
            with command_scope():  # output locks a command takes are held until it returns
                return super().invoke(ctx)
        except Interrupted as e:  # Ctrl-C / SIGTERM in a long run: where it stopped and how to go on
            err_console.print(Text(str(e)), highlight=False, soft_wrap=True)
            raise typer.Exit(exit_code())
        except KeyboardInterrupt:
            err_console.print(interrupted_word(), highlight=False)
            raise typer.Exit(exit_code())
        except BadValue as e:  # a value the library refused on sight: a usage error, as click's own
            raise _UsageError(str(e)) from None
        except GccGanError as e:
            fail(str(e))
        except _UsageError as e:
            e.message = _plain_usage_message(e.message)  # type: ignore[attr-defined]
            raise
        except OSError as e:
            if e.errno == errno.EPIPE:
                _quiet_stdout()
                raise typer.Exit(0) from None
            fail(disk_full_message(e) or _os_message(e))
        except Exception as e:  # a library error that wraps a full disk (safetensors, torch.save)
            msg = disk_full_message(e)
            if msg is None:
                raise
            fail(msg)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # --help at the terminal's width (COLUMNS first), and wide where stdout is no
        # terminal, as all gcc-gan output (click would wrap at 80 columns at most)
        extra.setdefault("terminal_width", help_width())
        extra.setdefault("max_content_width", extra["terminal_width"])
        return super().make_context(info_name, args, parent=parent, **extra)

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        cmd = super().get_command(ctx, cmd_name)
        return None if cmd is None else _polish(cmd, ctx)

    def get_help_option(self, ctx: Any) -> Any | None:
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.help = _normalise_help(opt.help)
        return opt

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Each command with its whole first docstring paragraph, wrapped in its column
        (click would cut it at ~45 characters with `...`)."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            first = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
            rows.append((name, re.split(r"(?<=\.) (?=[A-Z])", first)[0]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    name="gcc-gan",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: flags without a type, descriptions wrapped in a column
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gcc-gan {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """gcc-gan: search GAN architectures, compile genotypes to standalone PyTorch / ONNX /
    .pt2, benchmark them."""

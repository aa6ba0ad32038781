"""The `gcc-gan` command line: thin — parse, call the library, print.

Every command module registers its commands on `app`. User errors (`GccGanError`) are
printed as one readable message and exit with code 1; no traceback reaches the user.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import GccGanError

app = typer.Typer(
    name="gcc-gan",
    help="gcc-gan: search GAN architectures, compile genotypes to standalone PyTorch / ONNX / .pt2, benchmark them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> None:
    """Print a user-facing error and exit 1."""
    err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _register() -> None:
    # Each module adds its commands to `app` on import.
    from . import dsl_cmd  # noqa: F401  validate, show, zoo, schema, render, convert


def main() -> None:
    _register()
    try:
        app(standalone_mode=False)
    except GccGanError as e:
        err_console.print(f"[bold red]error:[/bold red] {e}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as e:  # click usage errors and the like
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code if e.exit_code else 2)
        raise


if __name__ == "__main__":
    main()

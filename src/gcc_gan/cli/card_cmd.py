"""`gcc-gan card DIR`: a Hugging Face Hub model card for a compile directory (offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import GccGanError
from .app import app, console, refuse_overwrite


@app.command("card")
def card_cmd(
    directory: Path = typer.Argument(..., metavar="DIR", help="a gcc-gan compile output directory"),
    bench: Optional[Path] = typer.Option(None, "--bench", help="a `gcc-gan bench DIR --json` file: its measured "
                                         "metrics and protocol go into the card's model-index"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="the data set the generator learned (default: "
                                          "the bench --real source)"),
    force: bool = typer.Option(False, "--force", help="replace an existing README.md / config.json"),
) -> None:
    """Write README.md (model-card YAML: library_name, pipeline_tag, tags, datasets,
    model-index) and config.json into DIR: the Hub's layout; nothing is uploaded."""
    from ..export.hub import CARD_FILES, write_card

    rep = directory / "report.json"
    if not rep.is_file():
        raise GccGanError(f"{directory}: not a gcc-gan compile directory (no report.json)")
    for name in CARD_FILES:
        refuse_overwrite(directory / name, force, "DIR")
    doc = None
    if bench is not None:
        try:
            doc = json.loads(bench.read_text(encoding="utf-8"))
        except OSError as e:
            raise GccGanError(f"--bench {bench}: cannot read ({e.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GccGanError(f"--bench {bench}: not JSON ({e})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise GccGanError(f"--bench {bench}: not a gcc-gan bench --json document (no results)")
    try:
        report = json.loads(rep.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GccGanError(f"{rep}: malformed JSON ({e})") from None
    from ..bench.runner import measured

    written = write_card(directory, report, measured(doc), dataset)
    console.print(f"wrote {', '.join(str(directory / n) for n in written)}", highlight=False)

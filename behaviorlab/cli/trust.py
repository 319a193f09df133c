"""The ``--trust`` option of the commands that load model files (pickles): see :mod:`behaviorlab.model_trust`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["TrustOption", "apply_trust"]

TrustOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--trust",
        help="A model file (or a folder: every .pkl in it) that behaviorlab did not write for you, or that changed "
        "since, to load anyway: model files are pickles, which run code when loaded. Its digest is recorded, so it "
        "loads from then on (repeat for several).",
    ),
]


def apply_trust(paths: list[Path] | None) -> None:
    """Record the files of ``--trust`` as the user's own (one line per file on stderr)."""
    if not paths:
        return
    from behaviorlab.model_trust import trust  # lazy: loads when the command runs (a fast --help)

    for file in trust(paths):
        typer.echo(f"trusted {file} (its SHA-256 is recorded beside it)", err=True)

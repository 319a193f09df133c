"""Figures written to files: HTML that shares one copy of plotly.js, and PNG, SVG or PDF images.

Every figure of the package is a plotly figure. :func:`write_figure` picks
the format from the file's extension:

- ``.html``: an interactive page that loads ``plotly.min.js`` from its own
  folder (written there once, about 4.6 MB), so a folder of twenty figures
  holds one copy of the library instead of twenty, and still opens offline.
- ``.png``, ``.svg``, ``.pdf``: a static image for a paper or a slide,
  rendered by kaleido in a headless Chrome or Chromium found on the machine
  (the ``figures`` extra installs kaleido; nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError

__all__ = ["FIGURE_SUFFIXES", "FigureExportError", "write_figure"]

#: File extensions :func:`write_figure` writes.
FIGURE_SUFFIXES = (".html", ".png", ".svg", ".pdf")


class FigureExportError(BehaviorlabError):
    """A figure could not be written in the format asked for."""


def write_figure(fig: Any, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write a plotly figure to ``path`` (atomically), its format given by the extension.

    Parameters
    ----------
    fig
        A ``plotly.graph_objects.Figure``.
    path
        ``.html``, ``.png``, ``.svg`` or ``.pdf`` file.
    scale
        Pixel density of a PNG (2: sharp on a high-resolution screen or in print).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FigureExportError
        Another extension, or an image format without kaleido or a browser for it to render in.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise FigureExportError(f"{path}: figures are written as {', '.join(FIGURE_SUFFIXES)}; not {suffix or 'no'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        # "directory": a <script src="plotly.min.js"> beside the page, copied into the folder once
        with atomic_path(path) as tmp:
            fig.write_html(tmp, include_plotlyjs="directory", full_html=True)
        return path
    try:
        import kaleido  # noqa: F401  # lazy: kaleido (the figures extra), imported only to say what is missing
    except ImportError:
        raise FigureExportError(
            f"{path}: writing {suffix[1:].upper()} figures needs kaleido (pip install 'behaviorlab[figures]') and "
            "a Chrome or Chromium browser; write .html instead"
        ) from None
    try:
        with atomic_path(path) as tmp:
            fig.write_image(tmp, format=suffix[1:], scale=scale if suffix == ".png" else 1.0)
    except Exception as err:  # kaleido reports a missing browser in several ways
        raise FigureExportError(
            f"{path}: kaleido could not render the figure ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
            "it needs a Chrome or Chromium browser on this machine (apt-get install chromium); write .html instead"
        ) from None
    return path

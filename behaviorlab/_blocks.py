"""The one block primitive: a recording's frames in blocks, each with context frames on both sides.

A long recording is computed a block at a time so that memory does not grow
with its length.  A computation whose value at a frame depends only on frames
within ``context`` of it (a centred window, a lag, a wavelet's envelope) gives
the same values on each block's own frames as on the whole recording, when it
is run on the block plus its context (``lo:hi``) and the block's frames
(``start - lo : stop - lo`` of the result) are kept.  Features, spectrograms
and the classifiers' window features all take their blocks from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["Block", "blocks"]


class Block(NamedTuple):
    """Frames ``start:stop`` of a recording, computed from ``lo:hi`` (the block and its context)."""

    start: int
    stop: int
    lo: int
    hi: int

    @property
    def keep(self) -> slice:
        """The block's own frames within ``lo:hi``."""
        return slice(self.start - self.lo, self.stop - self.lo)


def blocks(n_frames: int, size: int | None, context: int) -> Iterator[Block]:
    """Blocks of ``size`` frames (the last one shorter) covering ``n_frames``; ``None``: one block.

    Raises ``ValueError`` for a ``size`` below 1 or a negative ``context``.
    """
    if size is not None and not int(size) >= 1:
        raise ValueError(f"a block needs at least one frame, got {size!r}")
    if context < 0:
        raise ValueError(f"context must be >= 0 frames, got {context!r}")
    step = max(int(n_frames), 1) if size is None else int(size)
    for start in range(0, int(n_frames), step):
        stop = min(start + step, int(n_frames))
        yield Block(start, stop, max(0, start - context), min(int(n_frames), stop + context))

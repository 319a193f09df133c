"""Progress of long work: a bar on a terminal, periodic lines in a log file or a pipe.

A user who runs ``behaviorlab predict`` in a terminal sees a bar with the
rate and the time left; the same command under a job scheduler (output to a
file) prints a line every :data:`LINE_EVERY_S` seconds, so a log shows that
the job moves and when it will end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["LINE_EVERY_S", "progress_reporter"]

#: Seconds between two progress lines when the output is not a terminal.
LINE_EVERY_S = 10.0


def progress_reporter(
    total: int,
    label: str,
    *,
    unit: str = "frames",
    enabled: bool = True,
    stream: TextIO | None = None,
    every_s: float = LINE_EVERY_S,
) -> Callable[[int | None], None]:
    """Return ``advance(n)`` that reports ``n`` more done units; ``advance(None)`` ends the report.

    Parameters
    ----------
    total
        Units of work in all.
    label
        What is being done, e.g. ``"predicting mouse1.mp4"``.
    unit
        Name of the units, shown with the rate (``frames/s``).
    enabled
        False: a no-op.
    stream
        Where to report (default standard error). A terminal gets a rich
        bar; anything else a line every ``every_s`` seconds and one at the end.
    every_s
        Seconds between lines (not a terminal).
    """
    if not enabled:
        return lambda n: None
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            transient=True,
            console=Console(file=stream),
        )
        task = bar.add_task(label, total=total, rate="")
        bar.start()
        started = time.perf_counter()
        done = [0]

        def advance_bar(n: int | None) -> None:
            if n is None:
                bar.stop()
                return
            done[0] += n
            rate = done[0] / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=n, rate=f"{rate:.1f} {unit}/s")

        return advance_bar

    started = last = time.perf_counter()
    count = [0]

    def line() -> str:
        elapsed = time.perf_counter() - started
        rate = count[0] / max(elapsed, 1e-9)
        left = (total - count[0]) / rate if rate > 0 else float("nan")
        share = count[0] / total if total else 1.0
        return f"{label}: {count[0]}/{total} {unit} ({share:.0%}), {rate:.1f} {unit}/s, " + (
            f"{left:.0f} s left" if left == left else "time left unknown"
        )

    def advance_lines(n: int | None) -> None:
        nonlocal last
        if n is None:
            elapsed = time.perf_counter() - started
            print(f"{label}: {count[0]} {unit} in {elapsed:.1f} s", file=stream, flush=True)
            return
        count[0] += n
        now = time.perf_counter()
        if now - last >= every_s:
            last = now
            print(line(), file=stream, flush=True)

    return advance_lines

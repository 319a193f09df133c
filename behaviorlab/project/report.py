"""What ``behaviorlab run`` reports: each stage's :class:`StageResult` and the run's :class:`RunReport`.

A stage that fails gives a :class:`StageResult` with its error (one line from
:func:`describe_error`) instead of an output; :class:`RunReport` gathers every
result of a run, with its table, failures, summary and ``run_report.json`` form.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pandas as pd

from behaviorlab.errors import BehaviorlabError, missing_extra

__all__ = ["PROJECT", "RunError", "RunReport", "StageResult", "describe_error"]

log = logging.getLogger(__name__)

#: The session name of project-wide stages in the cache.
PROJECT = "_project"


class RunError(BehaviorlabError):
    """A run that cannot start (another run holds the project, no sessions)."""


@attrs.frozen
class StageResult:
    """What one stage did for one session (or the project): its output, or why it has none.

    Attributes
    ----------
    stage, session
        Which stage, for which session (:data:`PROJECT` for project-wide ones).
    key
        The output's cache key (None when the stage failed or had nothing to do).
    path
        The output file or folder.
    ran
        True when computed in this run, False when found in the cache.
    seconds
        Wall time of this run's work on it.
    error
        Why it failed (None when it did not); ``skipped`` stages name the
        stage that failed before them.
    info
        Small facts for the report (frames, individuals, regions, ...).
    """

    stage: str
    session: str
    key: str | None = None
    path: str | None = None
    ran: bool = False
    seconds: float = 0.0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    info: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the stage has an output (or had nothing to do)."""
        return self.error is None

    @property
    def empty(self) -> bool:
        """Whether the stage succeeded without an output (e.g. no classifier without annotations)."""
        return self.error is None and self.key is None


def describe_error(err: BaseException) -> str:
    """Return one clear line for an error: the package's own message, or the type and what it says."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" while writing {err.filename}" if err.filename else ""
        return f"no space left on the disk{where}: free space or move the project, then run again"
    if isinstance(err, BehaviorlabError):
        return str(err)
    extra = missing_extra(err)
    if extra is not None:
        return str(extra)
    return f"{type(err).__name__}: {err}"


@attrs.frozen
class RunReport:
    """What a run did: every stage of every session, and which sessions failed and why.

    Attributes
    ----------
    project
        The project folder.
    results
        Every :class:`StageResult`.
    seconds
        Wall time of the run.
    dashboard_link
        The Dask dashboard of the run's cluster (None without one).
    """

    project: Path
    results: tuple[StageResult, ...]
    seconds: float
    dashboard_link: str | None = None
    started: str = ""

    def table(self) -> pd.DataFrame:
        """Return one row per stage and session: ``session, stage, status, seconds, key, error``."""
        rows = [
            {
                "session": r.session,
                "stage": r.stage,
                "status": "failed"
                if r.error and not r.error.startswith("skipped")
                else "skipped"
                if r.error
                else "ran"
                if r.ran
                else "cached"
                if r.key
                else "none",
                "seconds": round(r.seconds, 3),
                "key": r.key,
                "error": r.error,
            }
            for r in self.results
        ]
        return pd.DataFrame(rows, columns=["session", "stage", "status", "seconds", "key", "error"])

    def failures(self) -> pd.DataFrame:
        """Return one row per failed session (or project stage): ``session, stage, error, error_type``."""
        rows = [
            {"session": r.session, "stage": r.stage, "error": r.error, "error_type": r.error_type}
            for r in self.results
            if r.error is not None and not r.error.startswith("skipped")
        ]
        return pd.DataFrame(rows, columns=["session", "stage", "error", "error_type"])

    @property
    def ok(self) -> bool:
        """Whether every stage of every session succeeded."""
        return all(r.ok for r in self.results)

    def completed_sessions(self) -> list[str]:
        """Return the sessions whose results are in the store."""
        return sorted(r.session for r in self.results if r.stage == "store" and r.ok and r.key)

    def result(self, stage: str, session: str = PROJECT) -> StageResult | None:
        """Return the result of one stage (None when it did not take part)."""
        return next((r for r in self.results if r.stage == stage and r.session == session), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (``run_report.json``)."""
        return {
            "project": str(self.project),
            "started": self.started,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "dashboard_link": self.dashboard_link,
            "completed_sessions": self.completed_sessions(),
            "failures": self.failures().to_dict(orient="records"),
            "stages": [attrs.asdict(r) for r in self.results],
        }

    def _notes(self) -> list[str]:
        """Return what a user must know of the results: landmarks set apart, keypoints often missing, classifier F1."""
        lines: list[str] = []
        for fact, text in (
            ("static_keypoints", "static keypoints, kept as arena landmarks and left out of the body"),
            ("mostly_missing_keypoints", "keypoints missing from most frames"),
        ):
            by_set: dict[tuple[str, ...], list[str]] = {}
            for r in self.results:
                if r.stage == "clean" and r.info.get(fact):
                    by_set.setdefault(tuple(r.info[fact]), []).append(r.session)
            for names, sessions in by_set.items():
                lines.append(
                    f"  {text}: {', '.join(names)} ({len(sessions)} sessions: {', '.join(sessions[:3])}"
                    f"{', ...' if len(sessions) > 3 else ''})"
                )
        damaged = {r.session: int(r.info["damaged_frames"]) for r in self.results if r.info.get("damaged_frames")}
        if damaged:
            lines.append(
                f"  damaged video frames skipped (poses NaN): {sum(damaged.values())} in {len(damaged)} sessions ("
                + ", ".join(f"{s} {n}" for s, n in list(damaged.items())[:3])
                + (", ...)" if len(damaged) > 3 else ")")
            )
        for r in self.results:
            if r.stage == "classifier" and r.info.get("heldout_f1"):
                floor = float(r.info.get("quality_floor", 0.5))
                scores = ", ".join(
                    f"{b} {f:.2f}" + (" (below the quality floor)" if not f >= floor else "")
                    for b, f in r.info["heldout_f1"].items()
                )
                lines.append(f"  classifier held-out F1 ({r.info.get('cv', 'cross-validation')}): {scores}")
            if r.stage == "classifier" and r.info.get("skipped_behaviors"):
                lines.append(
                    f"  behaviors no annotated frame shows, not learned: {', '.join(r.info['skipped_behaviors'])}"
                )
        return lines

    def summary(self) -> str:
        """Return a short text for the terminal: counts by stage and status, then each failure."""
        table = self.table()
        counts = table.groupby(["stage", "status"], sort=False).size().unstack(fill_value=0)
        lines = [
            f"behaviorlab run {self.project}: {len(self.completed_sessions())} sessions stored in {self.seconds:.1f} s"
        ]
        for stage, row in counts.iterrows():
            parts = ", ".join(f"{n} {status}" for status, n in row.items() if n)
            lines.append(f"  {stage:<12} {parts}")
        lines += self._notes()
        failures = self.failures()
        if len(failures):
            lines.append(f"  {len(failures)} failed:")
            for r in failures.itertuples():
                lines.append(f"    {r.session} [{r.stage}]: {r.error}")
        return "\n".join(lines)

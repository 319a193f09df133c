"""Train a pose model in a process of its own: ``python -m behaviorlab.pose.job SPEC.json``.

``behaviorlab run`` trains here rather than inside a Dask worker. A worker
has run other tasks before (other threads, other libraries' state), and the
same labels, config and seed trained there gave another model on each run;
a fresh interpreter gives the same model every time, and hands the memory of
training back to the system when it ends.

``SPEC.json`` holds ``frames`` (a labeled-frames file), ``out`` (the model
folder to write), ``train`` (:class:`~behaviorlab.pose.train.TrainConfig`
fields), ``max_animals`` (keep the frames with 1 to that many labeled
animals; null: all) and ``path`` (``auto``, ``crop`` or ``full-frame``:
:func:`behaviorlab.pose.strategy.train_pose`). The folder gets
``evaluation.json`` (the validation report and the training summary, with
the path taken and why) beside the model. Errors of the package
end the process with code 1 and one line on standard error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from behaviorlab.errors import BehaviorlabError
from behaviorlab.io.labeled_frames import load_labeled_frames
from behaviorlab.pose.strategy import evaluate_pose, train_pose
from behaviorlab.pose.train import TrainConfig

__all__ = ["main", "train_from_spec"]


def train_from_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Train, evaluate on the validation frames and write ``evaluation.json``; return its content."""
    out = Path(spec["out"])
    frames = load_labeled_frames(spec["frames"])
    if spec.get("max_animals") is not None:
        animals = frames.is_labeled().any(axis=2).sum(axis=1)
        frames = frames.select(np.flatnonzero((animals >= 1) & (animals <= int(spec["max_animals"]))))
    summary = train_pose(frames, out, TrainConfig.from_dict(spec["train"]), path=spec.get("path") or "auto", verbose=0)
    report = evaluate_pose(out, frames).to_dict()
    result = summary.result.pose if summary.choice.path == "crop" else summary.result
    report["training"] = {
        "frames": len(frames),
        "epochs": summary.epochs,
        "best_epoch": result.best_epoch,
        "path": summary.choice.path,
        "path_reason": summary.choice.reason,
        "seconds": round(summary.training_seconds, 1),
        "peak_rss_mib": round(summary.peak_rss_mib, 1),
    }
    (out / "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the job in ``argv[0]`` (a spec file); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m behaviorlab.pose.job SPEC.json", file=sys.stderr)
        return 2
    try:
        train_from_spec(json.loads(Path(args[0]).read_text()))
    except BehaviorlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - the runner starts it as a module
    sys.exit(main())

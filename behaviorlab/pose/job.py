"""Train a pose model in a process of its own: ``python -m behaviorlab.pose.job SPEC.json``.

``behaviorlab run`` trains here rather than inside a Dask worker. A worker
has run other tasks before (other threads, other libraries' state), and the
same labels, config and seed trained there gave another model on each run;
a fresh interpreter gives the same model every time, and hands the memory of
training back to the system when it ends.

``SPEC.json`` holds ``frames`` (a labeled-frames file), ``out`` (the model
folder to write), ``train`` (:class:`~behaviorlab.pose.train.TrainConfig`
fields) and ``max_animals`` (keep the frames with 1 to that many labeled
animals; null: all). The folder gets ``evaluation.json`` (the validation
report and the training summary) beside the model. Errors of the package
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
from behaviorlab.pose.predict import evaluate_model
from behaviorlab.pose.train import TrainConfig, train_model

__all__ = ["main", "train_from_spec"]


def train_from_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Train, evaluate on the validation frames and write ``evaluation.json``; return its content."""
    out = Path(spec["out"])
    frames = load_labeled_frames(spec["frames"])
    if spec.get("max_animals") is not None:
        animals = frames.is_labeled().any(axis=2).sum(axis=1)
        frames = frames.select(np.flatnonzero((animals >= 1) & (animals <= int(spec["max_animals"]))))
    result = train_model(frames, out, TrainConfig.from_dict(spec["train"]), verbose=0)
    report = evaluate_model(out, frames).to_dict()
    report["training"] = {"frames": len(frames), "epochs": result.epochs, "best_epoch": result.best_epoch}
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

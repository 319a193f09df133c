"""Held-out agreement of supervised behavior classifiers with the truth and with human raters.

1. **Generated sessions** (``--sessions`` x ``--minutes`` of
   :func:`behaviorlab.synthetic.simulate.simulate_poses`, seeds 300, 301, ...): one
   :class:`~behaviorlab.behavior.classify.BehaviorClassifier` per generated behavior,
   leave-one-session-out cross-validation; pooled held-out frame-wise F1 per
   behavior.  Target: F1 >= 0.9 for each.
2. **oft-rearing** (``../shared/data/oft-rearing``: two sessions, first 80 s,
   three raters): supported rearing, trained on one session (frames marked by
   at least two raters) and tested on the other, both ways; F1 against each
   rater beside the rater-to-rater F1 on the same frames (the human ceiling).
   Target: within 0.05 of the ceiling.
3. **ethome-interact** (``../shared/data/ethome-interact``: two mice, one
   session, BORIS labels of ``interact`` for the adult): social features,
   contiguous time-block cross-validation; pooled held-out F1.  Target: >= 0.8.

Run ``python benchmarks/classifier_quality.py --help``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARENA_POINTS = {"tl", "tr", "bl", "br", "centre"}
TARGET_GENERATED_F1 = 0.9
TARGET_CEILING_GAP = 0.05
TARGET_INTERACT_F1 = 0.8
OFT_FPS, ETHOME_FPS = 25.0, 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 sessions x 1 minute")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.minutes = 2, 1.0
    return args


def _one_hot(behavior: Any, names: tuple[str, ...]) -> Any:
    import xarray as xr

    values = np.stack([behavior.values == name for name in names], axis=-1)
    return xr.DataArray(
        values,
        dims=("time", "individual", "behavior"),
        coords={"time": behavior["time"].values, "individual": behavior["individual"].values, "behavior": list(names)},
        name="labels",
    )


# --------------------------------------------------------------------------- 1. generated
def generated(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from behaviorlab.behavior.classify import BehaviorClassifier
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.synthetic.simulate import BEHAVIORS, SyntheticConfig, simulate_poses

    features, labels = {}, {}
    for i in range(args.sessions):
        poses, behavior = simulate_poses(SyntheticConfig(duration_s=args.minutes * 60, seed=300 + i))
        name = f"generated_{i}"
        features[name] = compute_session_features(poses, {"spectrogram": False})
        labels[name] = _one_hot(behavior, BEHAVIORS)
    start = time.perf_counter()
    result = BehaviorClassifier(random_state=0).cross_validate(features, labels)
    seconds = time.perf_counter() - start
    scores = result.scores.set_index("behavior")
    worst = 1.0
    for behavior in BEHAVIORS:
        f1 = float(scores.loc[behavior, "f1"])
        worst = min(worst, f1)
        metrics[f"generated_{behavior}_heldout_f1"] = f1
        metrics[f"generated_{behavior}_heldout_precision"] = float(scores.loc[behavior, "precision"])
        metrics[f"generated_{behavior}_heldout_recall"] = float(scores.loc[behavior, "recall"])
        rows.append((f"generated: {behavior} (leave one session out)", f1, "", ""))
    metrics["generated_n_frames"] = int(sum(ds.sizes["time"] for ds in features.values()))
    metrics["generated_cv_seconds"] = seconds
    metrics["generated_min_heldout_f1"] = worst
    metrics["target_generated_f1_ge_0_9_each"] = "pass" if worst >= TARGET_GENERATED_F1 else "fail"


# --------------------------------------------------------------------------- 2. oft-rearing
def _oft_session(folder: Path, stem: str) -> tuple[Any, Any]:
    from behaviorlab.features.design import FeatureConfig
    from behaviorlab.features.pipeline import SessionFeaturesConfig, compute_session_features
    from behaviorlab.io.annotations import load_annotations
    from behaviorlab.io.load import load_poses
    from behaviorlab.trajectories.filtering import CleaningConfig

    ds = load_poses(next(folder.glob(f"{stem}DeepCut*.csv")), fps=OFT_FPS)
    ds = ds.sel(keypoint=[str(k) for k in ds["keypoint"].values if str(k) not in ARENA_POINTS])
    config = SessionFeaturesConfig(
        cleaning=CleaningConfig(confidence_threshold=0.6, median_window=5, max_gap=12),
        features=FeatureConfig(axis_from="tailbase", axis_to="neck"),
        spectrogram=None,
    )
    features = compute_session_features(ds, config)
    labels = load_annotations(
        folder / f"{stem}.csv",
        fps=OFT_FPS,
        n_frames=ds.sizes["time"],
        individuals=[str(i) for i in ds["individual"].values],
        clip=True,
    )
    return features, labels


def oft(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from behaviorlab.behavior.classify import BehaviorClassifier
    from behaviorlab.io.annotations import consensus
    from behaviorlab.results.metrics import classifier_vs_raters

    folder = args.data_root / "oft-rearing"
    stems = sorted(p.stem for p in folder.glob("*.csv") if "DeepCut" not in p.name)
    data = {stem: _oft_session(folder, stem) for stem in stems}
    gaps = []
    for train, test in ((stems[0], stems[1]), (stems[1], stems[0])):
        features, labels = data[train]
        truth = consensus(labels.sel(behavior=["Supported"]), min_raters=2)
        model = BehaviorClassifier(behaviors=["Supported"], random_state=0).fit({train: features}, {train: truth})
        pred = model.predict(data[test][0])
        table = classifier_vs_raters(pred.sel(behavior=["Supported"]), data[test][1].sel(behavior=["Supported"]))
        row = table.set_index("behavior").loc["Supported"]
        raters = [
            c.removeprefix("f1_vs_") for c in table.columns if c.startswith("f1_vs_") and c != "f1_vs_raters_mean"
        ]
        key = f"oft_train_{train}_test_{test}"
        for rater in raters:
            metrics[f"{key}_f1_vs_{rater}"] = float(row[f"f1_vs_{rater}"])
        metrics[f"{key}_f1_vs_raters_mean"] = float(row["f1_vs_raters_mean"])
        metrics[f"{key}_rater_to_rater_f1_mean"] = float(row["rater_f1_mean"])
        gap = float(row["rater_f1_mean"] - row["f1_vs_raters_mean"])
        metrics[f"{key}_gap_to_human_ceiling"] = gap
        gaps.append(gap)
        rows.append(
            (
                f"oft-rearing supported: train {train[:5]} test {test[:5]}",
                float(row["f1_vs_raters_mean"]),
                float(row["rater_f1_mean"]),
                ", ".join(f"{r} {row[f'f1_vs_{r}']:.3f}" for r in raters),
            )
        )
    metrics["target_oft_within_0_05_of_human_ceiling"] = "pass" if max(gaps) <= TARGET_CEILING_GAP else "fail"


# --------------------------------------------------------------------------- 3. ethome-interact
def ethome(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from behaviorlab.behavior.classify import BehaviorClassifier
    from behaviorlab.features.design import FeatureConfig
    from behaviorlab.features.pipeline import SessionFeaturesConfig, compute_session_features
    from behaviorlab.io.annotations import load_annotations
    from behaviorlab.io.load import load_poses
    from behaviorlab.trajectories.filtering import CleaningConfig

    folder = args.data_root / "ethome-interact"
    ds = load_poses(next(folder.glob("*_el_filtered.csv")), fps=ETHOME_FPS)
    config = SessionFeaturesConfig(
        cleaning=CleaningConfig(confidence_threshold=0.0, median_window=3, max_gap=15),
        features=FeatureConfig(axis_from="tail", axis_to="nose", social=True),
        spectrogram=None,
    )
    features = compute_session_features(ds, config).sel(individual=["adult"])
    labels = load_annotations(
        folder / "boris" / "e3v813a-20210610T122332-122642_reencode.csv",
        fps=ETHOME_FPS,
        n_frames=ds.sizes["time"],
        individuals=[str(i) for i in ds["individual"].values],
    ).sel(individual=["adult"])
    result = BehaviorClassifier(behaviors=["interact"], cv="blocks", n_blocks=5, random_state=0).cross_validate(
        {"ethome": features}, {"ethome": labels}
    )
    row = result.scores.set_index("behavior").loc["interact"]
    metrics["ethome_interact_heldout_f1_blocks5"] = float(row["f1"])
    metrics["ethome_interact_heldout_precision_blocks5"] = float(row["precision"])
    metrics["ethome_interact_heldout_recall_blocks5"] = float(row["recall"])
    metrics["ethome_interact_labeled_frames"] = int(labels.sum())
    metrics["target_ethome_interact_f1_ge_0_8"] = "pass" if row["f1"] >= TARGET_INTERACT_F1 else "fail"
    rows.append(("ethome-interact: interact (5 time blocks)", float(row["f1"]), "", ""))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    metrics: dict[str, Any] = {}
    rows: list[tuple] = []
    generated(args, metrics, rows)
    if not args.skip_real:
        if not args.data_root.is_dir():
            raise SystemExit(f"{args.data_root}: the shared datasets are not there (pass --skip-real)")
        oft(args, metrics, rows)
        ethome(args, metrics, rows)
    table = format_table(["what", "held-out F1", "rater-to-rater F1", "per rater"], rows)
    config = {
        "generated_sessions": args.sessions,
        "generated_minutes": args.minutes,
        "generated_seeds": [300 + i for i in range(args.sessions)],
        "classifier": "BehaviorClassifier() defaults (window features, histogram gradient boosting, F1 thresholds)",
        "oft": "Supported rearing; train on >= 2 of 3 raters of one session, test on the other; first 80 s",
        "ethome": "interact of the adult; social features; 5 contiguous time blocks",
    }
    write_results("classifier_quality", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

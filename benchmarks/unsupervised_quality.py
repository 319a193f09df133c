"""How well behavior maps and HMM ethograms find behaviors: generated truth, real tracks, human rearing labels.

1. **Generated sessions** (``--sessions`` x ``--minutes`` of
   :func:`behaviorlab.synthetic.simulate.simulate_poses`, seeds 100, 101, ...; the
   defaults were never used to tune anything): poses -> cleaning, features,
   spectrogram (:func:`behaviorlab.features.pipeline.compute_session_features`) ->
   :class:`~behaviorlab.behavior.maps.BehaviorMap` and
   :class:`~behaviorlab.behavior.ethogram.EthogramHMM` with their default settings,
   fitted on all sessions at once; normalized mutual information (NMI) and
   adjusted Rand index (ARI) of map regions and HMM states against the six
   generated behaviors.  Target: NMI >= 0.6 for both.  The HMM is also
   reported with the true number of states (6).  The autoregressive HMM
   (:class:`~behaviorlab.behavior.arhmm.ARHMM`, defaults) is fitted on the
   same sessions' poses: target NMI >= 0.70; its median syllable duration and
   share of syllables shorter than 3 frames (target < 5 %) are reported here
   and on both real datasets.
2. **Real unlabeled tracks** (``../shared/data/bsoid-openfield``, two clips,
   60 fps): the three models fitted with two seeds; ARI between the seeds'
   labels (AR-HMM target >= 0.8).
3. **Human rearing labels** (``../shared/data/oft-rearing``, two sessions, the
   first 80 s, three raters): rearing frames (supported or unsupported, marked
   by at least two raters); for maps and HMMs fitted on both sessions, the
   share of rearing frames in the region/state holding most of them
   (concentration) and the share of that region/state that is rearing
   (precision), beside the base rate; and the same two for the region/state
   that best matches rearing (highest F1 as a rearing detector), since the
   one holding most rearing can be a large one barely richer in rearing
   than the base rate.

Run ``python benchmarks/unsupervised_quality.py --help``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TARGET_NMI = 0.6
TARGET_ARHMM_NMI = 0.70
TARGET_ARHMM_ARI_SEEDS = 0.8
TARGET_SHORT_SYLLABLES = 0.05
ARENA_POINTS = {"tl", "tr", "bl", "br", "centre"}  # oft-rearing's arena corners and centre are not the mouse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="generated sessions")
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes per generated session")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--skip-real", action="store_true", help="only the generated sessions")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 sessions x 2 minutes")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.minutes = 2, 2.0
    return args


def _flat(labeled: dict[str, Any], variable: str) -> np.ndarray:
    return np.concatenate([ds[variable].transpose("time", "individual").values.ravel() for ds in labeled.values()])


def _scores(truth: np.ndarray, found: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    keep = found >= 0
    return (
        float(normalized_mutual_info_score(truth[keep], found[keep])),
        float(adjusted_rand_score(truth[keep], found[keep])),
    )


def _fit_both(sessions: dict[str, Any], seed: int, **hmm: Any) -> tuple[Any, Any, float, float]:
    from behaviorlab.behavior.ethogram import EthogramHMM
    from behaviorlab.behavior.maps import BehaviorMap

    start = time.perf_counter()
    bmap = BehaviorMap(random_state=seed).fit(sessions)
    mapped = bmap.label(sessions)
    map_s = time.perf_counter() - start
    start = time.perf_counter()
    model = EthogramHMM(random_state=seed, **hmm).fit(sessions)
    states = model.label(sessions)
    hmm_s = time.perf_counter() - start
    return (bmap, mapped), (model, states), map_s, hmm_s


def _fit_arhmm(sessions: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any], float]:
    """The AR-HMM with its defaults on the sessions' poses (the features files keep them): model, states, seconds."""
    from behaviorlab.behavior.arhmm import ARHMM

    start = time.perf_counter()
    model = ARHMM(random_state=seed).fit(sessions)
    states = model.label(sessions)
    return model, states, time.perf_counter() - start


def _syllables(prefix: str, model: Any, metrics: dict) -> None:
    metrics[f"{prefix}_arhmm_median_syllable_s"] = model.median_duration_s_
    metrics[f"{prefix}_arhmm_short_syllable_share"] = model.short_syllable_share_
    metrics[f"target_{prefix}_arhmm_short_syllables_lt_5_percent"] = (
        "pass" if model.short_syllable_share_ < TARGET_SHORT_SYLLABLES else "fail"
    )


# --------------------------------------------------------------------------- 1. generated truth
def generated(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    sessions, truth = {}, []
    for i in range(args.sessions):
        poses, behavior = simulate_poses(SyntheticConfig(duration_s=args.minutes * 60, seed=100 + i))
        sessions[f"generated_{i}"] = compute_session_features(poses)
        truth.append(behavior.transpose("time", "individual").values.ravel())
    y = np.concatenate(truth)
    n_frames = len(y)
    (bmap, mapped), (hmm, states), map_s, hmm_s = _fit_both(sessions, 0)
    from behaviorlab.behavior.ethogram import EthogramHMM

    start = time.perf_counter()
    hmm6 = EthogramHMM(n_states=6, random_state=0).fit(sessions)
    states6 = hmm6.label(sessions)
    hmm6_s = time.perf_counter() - start
    arhmm, syllables, arhmm_s = _fit_arhmm(sessions, 0)
    results = {
        "arhmm": (_scores(y, _flat(syllables, "syllable")), arhmm.n_states_, arhmm_s),
        "map": (_scores(y, _flat(mapped, "cluster")), bmap.n_regions_, map_s),
        "hmm_bic": (_scores(y, _flat(states, "state")), hmm.n_states_, hmm_s),
        "hmm_6_states": (_scores(y, _flat(states6, "state")), 6, hmm6_s),
    }
    metrics["generated_n_frames"] = n_frames
    metrics["generated_n_behaviors"] = len(np.unique(y))
    for name, ((nmi, ari), k, seconds) in results.items():
        metrics[f"generated_{name}_nmi_vs_truth"] = nmi
        metrics[f"generated_{name}_ari_vs_truth"] = ari
        metrics[f"generated_{name}_n_clusters"] = int(k)
        metrics[f"generated_{name}_seconds"] = seconds
        rows.append((f"generated: {name}", n_frames, int(k), nmi, ari, seconds))
    metrics["target_generated_map_nmi_ge_0_6"] = "pass" if results["map"][0][0] >= TARGET_NMI else "fail"
    metrics["target_generated_hmm_nmi_ge_0_6"] = "pass" if results["hmm_bic"][0][0] >= TARGET_NMI else "fail"
    metrics["target_generated_arhmm_nmi_ge_0_70"] = "pass" if results["arhmm"][0][0] >= TARGET_ARHMM_NMI else "fail"
    _syllables("generated", arhmm, metrics)


# --------------------------------------------------------------------------- 2. real tracks, two seeds
def _real_features(path: Path, fps: float, drop: set[str] = frozenset(), threshold: float = 0.6) -> Any:
    from behaviorlab.features.design import FeatureConfig
    from behaviorlab.features.pipeline import SessionFeaturesConfig, compute_session_features
    from behaviorlab.io.load import load_poses
    from behaviorlab.trajectories.filtering import CleaningConfig

    ds = load_poses(path, fps=fps)
    keep = [str(k) for k in ds["keypoint"].values if str(k) not in drop]
    ds = ds.sel(keypoint=keep)
    config = SessionFeaturesConfig(
        cleaning=CleaningConfig(confidence_threshold=threshold, median_window=5, max_gap=int(fps / 2)),
        features=FeatureConfig(),
    )
    return compute_session_features(ds, config)


def bsoid(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    from sklearn.metrics import adjusted_rand_score

    folder = args.data_root / "bsoid-openfield"
    sessions = {p.stem.split("DLC")[0]: _real_features(p, 60.0) for p in sorted(folder.glob("*.csv"))}
    fits = [_fit_both(sessions, seed) for seed in (0, 1)]
    for name, variable, idx in (("map", "cluster", 0), ("hmm", "state", 1)):
        a, b = (_flat(f[idx][1], variable) for f in fits)
        keep = (a >= 0) & (b >= 0)
        ari = float(adjusted_rand_score(a[keep], b[keep]))
        k = [int(f[idx][0].n_regions_ if name == "map" else f[idx][0].n_states_) for f in fits]
        seconds = float(np.mean([f[2 + idx] for f in fits]))
        metrics[f"bsoid_{name}_ari_between_seeds_0_1"] = ari
        metrics[f"bsoid_{name}_n_clusters_seed0"] = k[0]
        metrics[f"bsoid_{name}_n_clusters_seed1"] = k[1]
        metrics[f"bsoid_{name}_share_frames_labeled"] = float(keep.mean())
        rows.append((f"bsoid-openfield: {name} seed 0 vs 1 (ARI)", int(keep.sum()), f"{k[0]}/{k[1]}", "", ari, seconds))
    metrics["bsoid_n_frames"] = int(sum(ds.sizes["time"] for ds in sessions.values()))
    arhmm = [_fit_arhmm(sessions, seed) for seed in (0, 1)]
    a, b = (_flat(f[1], "syllable") for f in arhmm)
    keep = (a >= 0) & (b >= 0)
    ari = float(adjusted_rand_score(a[keep], b[keep]))
    metrics["bsoid_arhmm_ari_between_seeds"] = ari
    metrics["target_bsoid_arhmm_ari_between_seeds_ge_0_8"] = "pass" if ari >= TARGET_ARHMM_ARI_SEEDS else "fail"
    metrics["bsoid_arhmm_n_clusters_seed0"] = int(arhmm[0][0].n_states_)
    metrics["bsoid_arhmm_n_clusters_seed1"] = int(arhmm[1][0].n_states_)
    metrics["bsoid_arhmm_share_frames_labeled"] = float(keep.mean())
    _syllables("bsoid", arhmm[0][0], metrics)
    k = f"{arhmm[0][0].n_states_}/{arhmm[1][0].n_states_}"
    rows.append(("bsoid-openfield: arhmm seed 0 vs 1 (ARI)", int(keep.sum()), k, "", ari, arhmm[0][2]))


# --------------------------------------------------------------------------- 3. human rearing labels
def _rearing_frames(labels: Path, n_frames: int, fps: float, min_raters: int = 2) -> np.ndarray:
    table = pd.read_csv(labels, index_col=0)
    table = table[table["type"].isin(["Supported", "Unsupported"]) & (table["to"] <= n_frames / fps)]
    votes = np.zeros(n_frames, dtype=np.int64)
    for _, per_rater in table.groupby("Experimenter"):
        marked = np.zeros(n_frames, dtype=bool)
        for start, stop in zip(per_rater["from"], per_rater["to"], strict=True):
            marked[int(np.ceil(start * fps)) : int(np.floor(stop * fps)) + 1] = True
        votes += marked
    return votes >= min_raters


def _concentration(rearing: np.ndarray, labels: np.ndarray) -> tuple[float, float, int]:
    """Share of the rearing frames in the cluster holding most of them, that cluster's precision, its number."""
    keep = labels >= 0
    r, lab = rearing[keep], labels[keep]
    counts = np.bincount(lab[r], minlength=lab.max() + 1)
    top = int(np.argmax(counts))
    return float(counts[top] / max(r.sum(), 1)), float(r[lab == top].mean()), top


def _best_match(rearing: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, int]:
    """The cluster that best matches rearing (highest F1 as a rearing detector): its share, precision, F1, number.

    The cluster holding most rearing frames (:func:`_concentration`) can be a
    large cluster barely richer in rearing than the base rate; the F1 weighs
    both sides.
    """
    keep = labels >= 0
    r, lab = rearing[keep], labels[keep]
    hits = np.bincount(lab[r], minlength=lab.max() + 1).astype(float)
    sizes = np.bincount(lab, minlength=lab.max() + 1).astype(float)
    recall, precision = hits / max(r.sum(), 1), hits / np.maximum(sizes, 1)
    f1 = np.where(hits > 0, 2 * recall * precision / np.maximum(recall + precision, 1e-12), 0.0)
    best = int(np.argmax(f1))
    return float(recall[best]), float(precision[best]), float(f1[best]), best


def oft(args: argparse.Namespace, metrics: dict, rows: list) -> None:
    folder = args.data_root / "oft-rearing"
    sessions, rearing = {}, []
    for labels in sorted(p for p in folder.glob("*.csv") if "DeepCut" not in p.name):
        poses = next(folder.glob(f"{labels.stem}DeepCut*.csv"))
        ds = _real_features(poses, 25.0, drop=ARENA_POINTS)
        sessions[labels.stem] = ds
        rearing.append(_rearing_frames(labels, ds.sizes["time"], 25.0))
    r = np.concatenate(rearing)
    (bmap, mapped), (hmm, states), map_s, hmm_s = _fit_both(sessions, 0)
    arhmm, syllables, arhmm_s = _fit_arhmm(sessions, 0)
    _syllables("oft", arhmm, metrics)
    metrics["oft_n_frames"] = len(r)
    metrics["oft_rearing_base_rate"] = float(r.mean())
    for name, labeled, variable, k, seconds in (
        ("map", mapped, "cluster", bmap.n_regions_, map_s),
        ("hmm", states, "state", hmm.n_states_, hmm_s),
        ("arhmm", syllables, "syllable", arhmm.n_states_, arhmm_s),
    ):
        share, precision, top = _concentration(r, _flat(labeled, variable))
        metrics[f"oft_{name}_rearing_share_in_top_cluster"] = share
        metrics[f"oft_{name}_top_cluster_rearing_precision"] = precision
        metrics[f"oft_{name}_n_clusters"] = int(k)
        rows.append(
            (f"oft-rearing: {name} top cluster {top} (share / precision)", len(r), int(k), share, precision, seconds)
        )
        share, precision, f1, best = _best_match(r, _flat(labeled, variable))
        metrics[f"oft_{name}_best_f1_cluster_rearing_share"] = share
        metrics[f"oft_{name}_best_f1_cluster_rearing_precision"] = precision
        metrics[f"oft_{name}_best_f1_cluster_rearing_f1"] = f1
        rows.append(
            (f"oft-rearing: {name} best-F1 cluster {best} (share / precision)", len(r), int(k), share, precision, "")
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    metrics: dict[str, Any] = {}
    rows: list[tuple] = []
    generated(args, metrics, rows)
    if not args.skip_real:
        if not args.data_root.is_dir():
            raise SystemExit(f"{args.data_root}: the shared datasets are not there (pass --skip-real or --data-root)")
        bsoid(args, metrics, rows)
        oft(args, metrics, rows)
    table = format_table(["what", "frames", "clusters", "NMI / share", "ARI / precision", "seconds"], rows)
    config = {
        "generated_sessions": args.sessions,
        "generated_minutes": args.minutes,
        "generated_seeds": [100 + i for i in range(args.sessions)],
        "map": "BehaviorMap() defaults (spectrogram, PCA 30, UMAP, watershed)",
        "hmm": "EthogramHMM() defaults (spectrogram, PCA 20, states 2-8 by BIC)",
        "arhmm": "ARHMM() defaults (egocentric pose without the tail, keypoints under 0.5 confidence interpolated, "
        "PCA 6, AR(3), 20 states merged below 0.1 nats per fit frame of dynamics + posture, "
        "kappa for 0.4 s median syllables, syllables of 3 frames or more)",
        "real_cleaning": "confidence 0.6, median 5 frames, gaps up to fps/2 interpolated",
        "oft_rearing": "supported or unsupported rearing marked by >= 2 of 3 raters, first 80 s",
    }
    write_results("unsupervised_quality", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

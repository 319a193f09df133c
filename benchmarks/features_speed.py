"""Speed and memory of poses -> cleaning -> features -> spectrogram on an hour of tracking; cleaning vs movement.

Part 1 (speed, memory): ``--minutes`` (60) of one synthetic animal at
``--fps`` (30) from :func:`behaviorlab.synthetic.simulate.simulate_poses` (seeded), 8
of its 10 keypoints, made to look tracked (seeded): jitter, runs of
low-confidence frames with wrong positions, single-frame jumps with high
confidence, and NaN gaps.  :func:`behaviorlab.features.pipeline.compute_session_features`
(cleaning, features, 25-frequency Morlet spectrogram) runs ``--repeats``
times in a fresh process (multiprocessing, spawn); the stage times come from
its DEBUG records.  Memory is that process's peak RSS (``VmHWM``), next to
its RSS after the imports and before loading the data.

Part 2 (movement): the cleaning steps that movement also has (confidence
masking, rolling median, gap-limited linear interpolation, Savitzky-Golay),
run with behaviorlab and with movement's ``movement.filtering`` in another
fresh process, on the same data.  Each step is also run on the same input
with both packages, and the outputs are compared where the methods are the
same.  Skipped, with ``movement_available = "no"``, when movement is not installed.

Part 3 (real tracks): ``../shared/data/dlc-epm-tracks`` and
``../shared/data/bsoid-openfield`` are cleaned with the same steps (the jump
threshold is ``--real-max-step-px`` per frame).  The shares of points masked
(low confidence, jumps), filled and still missing are reported.

Run ``python benchmarks/features_speed.py --help``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, median, write_results

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TARGET_TOTAL_SECONDS = 20.0
KEYPOINTS = ("nose", "ear_left", "ear_right", "neck", "forepaw_left", "forepaw_right", "spine", "tail_base")
EDGE_FRAMES = 16  # no gap or outlier this close to either end: movement's savgol (mode="interp") refuses NaN there

# The synthetic animal's keypoints move at most ~20 px/frame (600 px/s); the injected jumps are 50-120 px.
CLEANING = {
    "confidence_threshold": 0.6,
    "max_speed": 1200.0,
    "median_window": 5,
    "max_gap": 10,
    "savgol_window": 7,
    "savgol_polyorder": 2,
}
FEATURES = {
    "speed_keypoints": ["centroid", "nose", "tail_base"],
    "axis_from": "tail_base",
    "axis_to": "neck",
    "joint_angles": [["nose", "neck", "spine"], ["neck", "spine", "tail_base"]],
}
SPECTROGRAM = {"n_frequencies": 25, "f_min": 1.0}  # f_max: the Nyquist frequency
# Real tracks: keypoints of the animal only (the EPM file also tracks 12 fixed maze points).
REAL_DATASETS = {
    "dlc_epm_tracks": {"folder": "dlc-epm-tracks", "pattern": "*DeepCut*.csv", "fps": 25.0},
    "bsoid_openfield": {"folder": "bsoid-openfield", "pattern": "*.csv", "fps": 60.0},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the synthetic recording")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of the pipeline and of each cleaning chain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-max-step-px", type=float, default=100.0, help="jump threshold on real tracks, px/frame")
    parser.add_argument("--skip-movement", action="store_true", help="do not run the movement comparison")
    parser.add_argument("--skip-real", action="store_true", help="do not clean the real tracks")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 minutes of data, 1 repeat")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.repeats = 10.0, 1
    return args


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _rss_mib() -> tuple[float, float]:
    """Current and peak resident set size of this process, MiB.

    Linux's ``VmRSS`` and ``VmHWM`` belong to the process image, so a spawned
    process starts afresh; ``ru_maxrss`` would not do: it survives ``execve``
    and starts at the parent's size at the time of the fork.
    """
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024.0, int(fields["VmHWM"].split()[0]) / 1024.0
    except (OSError, KeyError, ValueError):  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak /= 2**20 if sys.platform == "darwin" else 1024.0
        return float("nan"), peak


def _in_fresh_process(fn: Callable[..., dict], *args: Any) -> dict:
    """Run ``fn(*args)`` in a new interpreter (spawn), so its peak RSS and imports are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- data
def _runs(rng: np.random.Generator, n_time: int, n_cols: int, rate: float, mean_len: float, max_len: int) -> np.ndarray:
    """Boolean ``(time, n_cols)``: runs starting at ``rate`` per frame, geometric lengths, away from the ends."""
    edges = np.zeros((n_time + 1, n_cols), dtype=np.int32)
    for j, n in enumerate(rng.poisson(rate * (n_time - 2 * EDGE_FRAMES), n_cols)):
        starts = rng.integers(EDGE_FRAMES, n_time - EDGE_FRAMES, n)
        stops = np.minimum(starts + np.minimum(rng.geometric(1.0 / mean_len, n), max_len), n_time - EDGE_FRAMES)
        np.add.at(edges[:, j], starts, 1)
        np.add.at(edges[:, j], stops, -1)
    return np.cumsum(edges, axis=0)[:n_time] > 0


def make_tracked_poses(minutes: float, fps: float, seed: int) -> tuple[Any, Any]:
    """Ground-truth poses of one synthetic animal (8 keypoints) and a tracked-looking copy.

    Tracking noise: Gaussian jitter (0.7 px), confidence ``1 - Beta(0.5, 25)``;
    occlusions (runs of mean 5 frames, ~3 % of points) with confidence
    U(0, 0.5) and positions off by N(0, 25 px); single-frame jumps (0.2 % of
    points) of 50-120 px with confidence U(0.8, 1); NaN gaps (runs of mean 8
    frames, up to 90, ~0.6 % of points) with NaN confidence.
    """
    from behaviorlab.schema import log_step
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    truth, _ = simulate_poses(SyntheticConfig(fps=fps, duration_s=minutes * 60.0, seed=seed))
    truth = truth.sel(keypoint=list(KEYPOINTS))
    truth.attrs = {k: v for k, v in truth.attrs.items() if k != "skeleton"}  # the skeleton has 10 keypoints
    rng = np.random.default_rng([seed, 1])
    pos = truth["position"].values.copy()  # (time, space, keypoint, individual)
    n_time, _, n_kp, n_ind = pos.shape
    pos += rng.normal(0.0, 0.7, pos.shape)
    conf = 1.0 - rng.beta(0.5, 25.0, (n_time, n_kp, n_ind))
    occluded = _runs(rng, n_time, n_kp * n_ind, 0.006, 5.0, 30).reshape(n_time, n_kp, n_ind)
    conf[occluded] = rng.uniform(0.0, 0.5, occluded.sum())
    wrong = np.broadcast_to(occluded[:, None], pos.shape)
    pos[wrong] += rng.normal(0.0, 25.0, wrong.sum())
    jumps = (rng.random((n_time, n_kp, n_ind)) < 0.002) & ~occluded
    jumps[:EDGE_FRAMES] = jumps[-EDGE_FRAMES:] = False
    angle, dist = rng.uniform(0, 2 * np.pi, jumps.sum()), rng.uniform(50.0, 120.0, jumps.sum())
    pos[:, 0][jumps] += dist * np.cos(angle)
    pos[:, 1][jumps] += dist * np.sin(angle)
    conf[jumps] = rng.uniform(0.8, 1.0, jumps.sum())
    missing = _runs(rng, n_time, n_kp * n_ind, 0.0008, 8.0, 90).reshape(n_time, n_kp, n_ind)
    pos[np.broadcast_to(missing[:, None], pos.shape)] = np.nan
    conf[missing] = np.nan
    raw = truth.copy(deep=False)
    raw["position"] = truth["position"].copy(data=pos)
    raw["confidence"] = truth["confidence"].copy(data=conf)
    raw = log_step(raw, "make_tracked_poses", seed=seed, module="benchmarks/features_speed.py")
    return truth, raw


# --------------------------------------------------------------------------- part 1: the pipeline
def pipeline_worker(raw_path: str, truth_path: str, config: dict, repeats: int) -> dict:
    """In a fresh process: run compute_session_features ``repeats`` times; stage times and peak RSS."""
    from behaviorlab.features.pipeline import SessionFeaturesConfig, compute_session_features
    from behaviorlab.io.load import load_poses

    baseline = _rss_mib()[0]
    records: list[tuple[str, float]] = []

    class Stages(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if hasattr(record, "stage"):
                records.append((record.stage, record.seconds))

    logger = logging.getLogger("behaviorlab.features.pipeline")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Stages())
    raw = load_poses(raw_path)
    settings = SessionFeaturesConfig.from_dict(config)
    runs, info = [], {}
    for r in range(repeats):
        records.clear()
        start = time.perf_counter()
        out = compute_session_features(raw, settings)
        total = time.perf_counter() - start
        runs.append({**dict(records), "total": total})
        if r == 0:
            info["peak_rss_mib_first_run"] = _rss_mib()[1]
            info["n_features"] = int(out.sizes["feature"])
            info["n_frequencies"] = int(out.sizes["frequency"])
            info["spectrogram_mib"] = out["spectrogram"].nbytes / 2**20
            info["output_mib"] = out.nbytes / 2**20
            truth = load_poses(truth_path)["position"].values
            info["mean_abs_error_px_raw_vs_truth"] = float(np.nanmean(np.abs(raw["position"].values - truth)))
            info["mean_abs_error_px_cleaned_vs_truth"] = float(np.nanmean(np.abs(out["position"].values - truth)))
            info["share_points_masked"] = float(out["cleaning_masked"].values.mean())
            info["share_points_filled"] = float(out["interpolated"].values.mean())
            del truth
        del out
    return {"baseline_rss_mib": baseline, "peak_rss_mib": _rss_mib()[1], "runs": runs, **info}


def run_pipeline(args: argparse.Namespace, raw_path: Path, truth_path: Path, metrics: dict, tag: str) -> str:
    config = {"cleaning": CLEANING, "features": FEATURES, "spectrogram": SPECTROGRAM}
    res = _in_fresh_process(pipeline_worker, str(raw_path), str(truth_path), config, args.repeats)
    stages = ["cleaning", "features", "spectrogram", "total"]
    rows = []
    for stage in stages:
        times = [run[stage] for run in res["runs"]]
        metrics[f"{stage}_seconds_first_run_{tag}"] = times[0]
        metrics[f"{stage}_seconds_median_{tag}"] = median(times)
        rows.append([stage, times[0], median(times), min(times), max(times)])
    first = res["runs"][0]["total"]
    metrics[f"target_total_seconds_first_run_le_20s_{tag}"] = "pass" if first <= TARGET_TOTAL_SECONDS else "fail"
    metrics["pipeline_runs"] = len(res["runs"])
    metrics["n_features"] = res["n_features"]
    metrics["n_frequencies"] = res["n_frequencies"]
    metrics["baseline_rss_mib_interpreter_with_imports"] = res["baseline_rss_mib"]
    metrics[f"peak_rss_mib_{tag}"] = res["peak_rss_mib"]
    metrics[f"peak_rss_mib_above_baseline_{tag}"] = res["peak_rss_mib"] - res["baseline_rss_mib"]
    metrics[f"spectrogram_output_mib_{tag}"] = res["spectrogram_mib"]
    metrics[f"result_dataset_mib_{tag}"] = res["output_mib"]
    for key in ("mean_abs_error_px_raw_vs_truth", "mean_abs_error_px_cleaned_vs_truth"):
        metrics[f"{key}_{tag}"] = res[key]
    metrics[f"synthetic_share_points_masked_{tag}"] = res["share_points_masked"]
    metrics[f"synthetic_share_points_filled_{tag}"] = res["share_points_filled"]
    table = format_table(["stage", "first run s", "median s", "min s", "max s"], rows)
    return (
        f"Pipeline: {args.minutes:g} min at {args.fps:g} fps ({tag}), 1 animal, {len(KEYPOINTS)} keypoints -> "
        f"{res['n_features']} features x {res['n_frequencies']} frequencies; {len(res['runs'])} run(s) in one "
        f"fresh process\n{table}\n"
        f"target: total <= {TARGET_TOTAL_SECONDS:g} s (first run): "
        f"{metrics[f'target_total_seconds_first_run_le_20s_{tag}']}\n"
        f"memory: RSS after imports {res['baseline_rss_mib']:.0f} MiB, peak RSS {res['peak_rss_mib']:.0f} MiB "
        f"(+{res['peak_rss_mib'] - res['baseline_rss_mib']:.0f} MiB); the spectrogram alone is "
        f"{res['spectrogram_mib']:.0f} MiB (float32)\n"
        f"cleaning: {res['share_points_masked']:.2%} of points masked, {res['share_points_filled']:.2%} filled; "
        f"mean |error| vs truth {res['mean_abs_error_px_raw_vs_truth']:.2f} px raw -> "
        f"{res['mean_abs_error_px_cleaned_vs_truth']:.2f} px cleaned"
    )


# --------------------------------------------------------------------------- part 2: movement
def _compare(theirs: Any, ours: Any, where: np.ndarray | None = None) -> tuple[float, float]:
    """Max |difference| where both are finite, and the share of points whose NaN-ness differs (within ``where``)."""
    from behaviorlab.schema import POSITION_DIMS

    a = theirs.transpose("time", "space", "keypoints", "individuals").values
    b = ours.transpose(*POSITION_DIMS).values
    scope = np.ones(a.shape, dtype=bool) if where is None else where
    both = scope & ~np.isnan(a) & ~np.isnan(b)
    diff = float(np.abs(a[both] - b[both]).max()) if both.any() else float("nan")
    mismatch = float((np.isnan(a) != np.isnan(b))[scope].mean())
    return diff, mismatch


def movement_worker(raw_path: str, cleaning: dict, repeats: int) -> dict:
    """In a fresh process: the cleaning steps both packages have, timed with each, and their outputs compared."""
    from behaviorlab.io.load import load_poses
    from behaviorlab.trajectories.filtering import (
        CleaningConfig,
        clean_poses,
        filter_by_confidence,
        interpolate_over_time,
        median_filter,
        savgol_filter,
    )

    ds = load_poses(raw_path)
    cfg = CleaningConfig(**cleaning)
    thr, window, gap = cfg.confidence_threshold, cfg.median_window, cfg.max_gap
    sg_window, sg_order = cfg.savgol_window, cfg.savgol_polyorder
    clean_poses(ds, cfg)  # warm-up: lazy imports
    ours_chain = []
    for _ in range(repeats):
        start = time.perf_counter()
        clean_poses(ds, cfg)
        ours_chain.append(time.perf_counter() - start)
    steps: dict[str, dict[str, float]] = {}
    outputs = {}
    current = ds
    for name, step in (
        ("filter_by_confidence", lambda d: filter_by_confidence(d, thr)),
        ("median_filter", lambda d: median_filter(d, window)),
        ("interpolate_over_time", lambda d: interpolate_over_time(d, "linear", gap)),
        ("savgol_filter", lambda d: savgol_filter(d, sg_window, sg_order)),
    ):
        start = time.perf_counter()
        current = step(current)
        steps[name] = {"behaviorlab_seconds": time.perf_counter() - start}
        outputs[name] = current["position"]
    result: dict[str, Any] = {"behaviorlab_chain_seconds": ours_chain, "steps": steps}

    try:  # imported only now: movement changes xarray's global options (keep_attrs) on import
        import movement  # noqa: F401
        from movement import filtering as mf
    except ImportError as err:
        return {**result, "movement_available": "no", "movement_reason": f"{type(err).__name__}: {err}"}
    result["movement_available"] = "yes"
    result["movement_version"] = _version("movement")
    try:

        def as_movement(da: Any) -> Any:
            return da.rename({"keypoint": "keypoints", "individual": "individuals"})

        position, confidence = as_movement(ds["position"]), as_movement(ds["confidence"])

        def movement_chain() -> Any:
            p = mf.filter_by_confidence(position, confidence, threshold=thr)
            p = mf.rolling_filter(p, window, statistic="median", min_periods=window // 2 + 1)
            p = mf.interpolate_over_time(p, method="linear", max_gap=gap)
            return mf.savgol_filter(p, sg_window, polyorder=sg_order)

        movement_chain()  # warm-up: lazy imports, numba compilation of xarray's rolling median
        theirs_chain = []
        for _ in range(repeats):
            start = time.perf_counter()
            movement_chain()
            theirs_chain.append(time.perf_counter() - start)
        result["movement_chain_seconds"] = theirs_chain
        # each step on the same input as behaviorlab's step, outputs compared where the methods agree
        n_time = ds.sizes["time"]
        inputs = {
            "filter_by_confidence": ds["position"],
            "median_filter": outputs["filter_by_confidence"],
            "interpolate_over_time": outputs["median_filter"],
            "savgol_filter": outputs["interpolate_over_time"],
        }
        calls = {
            "filter_by_confidence": lambda p: mf.filter_by_confidence(p, confidence, threshold=thr),
            "median_filter": lambda p: mf.rolling_filter(p, window, statistic="median", min_periods=window // 2 + 1),
            "interpolate_over_time": lambda p: mf.interpolate_over_time(p, method="linear", max_gap=gap),
            "savgol_filter": lambda p: mf.savgol_filter(p, sg_window, polyorder=sg_order),
        }
        for name, call in calls.items():
            given = as_movement(inputs[name])
            start = time.perf_counter()
            theirs = call(given)
            steps[name]["movement_seconds"] = time.perf_counter() - start
            where = None
            if name == "median_filter":
                # movement pads by reflection and also fills NaN frames; behaviorlab keeps them NaN
                where = ~np.isnan(inputs[name].transpose("time", "space", "keypoint", "individual").values)
                where[: window // 2] = where[n_time - window // 2 :] = False
            diff, mismatch = _compare(theirs, outputs[name], where)
            steps[name]["max_abs_diff_px"] = diff
            steps[name]["nan_mismatch_share"] = mismatch
    except Exception as err:  # an API change in movement must not lose the other results
        result["movement_error"] = f"{type(err).__name__}: {err}"
    return result


def run_movement(args: argparse.Namespace, raw_path: Path, metrics: dict, tag: str) -> str:
    cleaning = {k: v for k, v in CLEANING.items() if k != "max_speed"}  # movement has no jump filter
    res = _in_fresh_process(movement_worker, str(raw_path), cleaning, args.repeats)
    ours = median(res["behaviorlab_chain_seconds"])
    metrics[f"behaviorlab_cleaning_seconds_median_same_steps_as_movement_{tag}"] = ours
    metrics["movement_available"] = res["movement_available"]
    steps_text = "confidence 0.6 -> rolling median 5 -> linear interpolation max_gap 10 -> Savitzky-Golay 7/2"
    if res["movement_available"] == "no":
        metrics["movement_reason"] = res["movement_reason"]
        return (
            f"movement comparison: movement is NOT installed ({res['movement_reason']}); "
            f"`pip install movement` enables it. behaviorlab alone: {ours:.3f} s ({steps_text})"
        )
    metrics["movement_version"] = res["movement_version"]
    if "movement_error" in res:
        metrics["movement_error"] = res["movement_error"]
    rows = []
    if "movement_chain_seconds" in res:
        theirs = median(res["movement_chain_seconds"])
        metrics[f"movement_cleaning_seconds_median_{tag}"] = theirs
        metrics[f"behaviorlab_vs_movement_cleaning_speedup_{tag}"] = theirs / ours
        rows.append(["whole chain (median)", ours, theirs, theirs / ours, "", ""])
    for name, step in res["steps"].items():
        metrics[f"{name}_seconds_behaviorlab_{tag}"] = step["behaviorlab_seconds"]
        if "movement_seconds" in step:
            metrics[f"{name}_seconds_movement_{tag}"] = step["movement_seconds"]
            metrics[f"{name}_max_abs_diff_px_behaviorlab_vs_movement"] = step["max_abs_diff_px"]
            metrics[f"{name}_nan_mismatch_share_behaviorlab_vs_movement"] = step["nan_mismatch_share"]
            rows.append(
                [
                    name,
                    step["behaviorlab_seconds"],
                    step["movement_seconds"],
                    step["movement_seconds"] / step["behaviorlab_seconds"],
                    step["max_abs_diff_px"],
                    step["nan_mismatch_share"],
                ]
            )
    table = format_table(
        ["cleaning step", "behaviorlab s", "movement s", "speedup", "max |diff| px", "NaN mismatch"], rows
    )
    error = f"\nmovement error: {res['movement_error']}" if "movement_error" in res else ""
    return (
        f"Cleaning vs movement {res['movement_version']} ({steps_text}; {tag}); speedup = movement s / "
        f"behaviorlab s; steps compared on the same input (median filter: interior frames valid in the input, "
        f"as movement fills NaN frames and pads by reflection)\n{table}{error}"
    )


# --------------------------------------------------------------------------- part 3: real tracks
def clean_real_tracks(args: argparse.Namespace, metrics: dict) -> str:
    from behaviorlab.io.load import load_poses
    from behaviorlab.schema import POSITION_DIMS
    from behaviorlab.trajectories.filtering import CleaningConfig, clean_poses, filter_by_confidence, filter_jumps

    if not SHARED_DATA.is_dir():
        reason = f"real tracks skipped: {SHARED_DATA} not found"
        metrics["real_tracks"] = reason
        print(reason)
        return reason
    rows = []
    for name, spec in REAL_DATASETS.items():
        folder = SHARED_DATA / spec["folder"]
        files = sorted(folder.glob(spec["pattern"]))
        if not files:
            reason = f"{name} skipped: no {spec['pattern']} in {folder}"
            metrics[f"{name}_status"] = reason
            print(reason)
            continue
        fps = spec["fps"]
        config = CleaningConfig(**{**CLEANING, "max_speed": args.real_max_step_px * fps})
        counts = dict.fromkeys(("points", "missing_raw", "conf", "jumps", "masked", "filled", "missing"), 0)
        n_frames = 0
        for path in files:
            raw = load_poses(path, fps=fps)
            info = folder / "EPM_pointinfo.csv"
            if info.is_file():  # keep the animal's keypoints, not the fixed maze points
                lines = [line.split(";") for line in info.read_text().split()[1:]]
                raw = raw.sel(keypoint=[p for p, kind in lines if kind == "Mouse"])
            n_frames += raw.sizes["time"]

            def missing(d: Any) -> np.ndarray:
                return np.isnan(d["position"].transpose(*POSITION_DIMS).values).any(axis=1)

            cleaned = clean_poses(raw, config)
            by_conf = filter_by_confidence(raw, config.confidence_threshold)
            by_jumps = filter_jumps(by_conf, config.max_speed)
            m_raw, m_conf, m_jumps = missing(raw), missing(by_conf), missing(by_jumps)
            counts["points"] += m_raw.size
            counts["missing_raw"] += int(m_raw.sum())
            counts["conf"] += int((m_conf & ~m_raw).sum())
            counts["jumps"] += int((m_jumps & ~m_conf).sum())
            counts["masked"] += int(cleaned["cleaning_masked"].values.sum())
            counts["filled"] += int(cleaned["interpolated"].values.sum())
            counts["missing"] += int(missing(cleaned).sum())
        n = counts["points"]
        shares = {
            "share_missing_in_file": counts["missing_raw"] / n,
            "share_masked_low_confidence": counts["conf"] / n,
            "share_masked_jumps": counts["jumps"] / n,
            "share_masked_total": counts["masked"] / n,
            "share_filled_by_interpolation": counts["filled"] / n,
            "share_missing_after_cleaning": counts["missing"] / n,
        }
        metrics[f"{name}_n_files"] = len(files)
        metrics[f"{name}_n_frames"] = n_frames
        metrics[f"{name}_n_keypoints"] = n // n_frames
        metrics[f"{name}_fps"] = fps
        metrics[f"{name}_max_speed_px_per_s"] = config.max_speed
        for key, value in shares.items():
            metrics[f"{name}_{key}"] = value
        rows.append([name, n_frames, n // n_frames, *(f"{v:.2%}" for v in shares.values())])
    table = format_table(
        ["dataset", "frames", "keypoints", "NaN in file", "low conf", "jumps", "masked total", "filled", "missing"],
        rows,
    )
    return (
        f"Real tracks, share of (frame, keypoint) points: confidence < {CLEANING['confidence_threshold']}, jumps > "
        f"{args.real_max_step_px:g} px/frame, median {CLEANING['median_window']}, interpolation max_gap "
        f"{CLEANING['max_gap']}, Savitzky-Golay {CLEANING['savgol_window']}/{CLEANING['savgol_polyorder']}; "
        f"'masked total' also counts frames that the median and Savitzky-Golay windows lost next to remaining "
        f"gaps\n{table}"
    )


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from behaviorlab.io.save import save_poses

    start = time.perf_counter()
    load_at_start = [round(v, 2) for v in os.getloadavg()]
    metrics: dict[str, float | int | str] = {}
    t0 = time.perf_counter()
    truth, raw = make_tracked_poses(args.minutes, args.fps, args.seed)
    generation_s = time.perf_counter() - t0
    n_frames = raw.sizes["time"]
    tag = f"{n_frames}frames"
    metrics["n_frames"] = n_frames
    metrics["n_keypoints"] = raw.sizes["keypoint"]
    metrics["n_individuals"] = raw.sizes["individual"]
    metrics["fps"] = args.fps
    sections = []
    with tempfile.TemporaryDirectory(prefix="features_speed_") as tmp:
        raw_path = save_poses(raw, Path(tmp) / "raw.nc")
        truth_path = save_poses(truth, Path(tmp) / "truth.nc")
        del truth, raw
        sections.append(run_pipeline(args, raw_path, truth_path, metrics, tag))
        if args.skip_movement:
            metrics["movement_available"] = "not run (--skip-movement)"
        else:
            sections.append(run_movement(args, raw_path, metrics, tag))
    if not args.skip_real:
        sections.append(clean_real_tracks(args, metrics))
    config = {
        "minutes": args.minutes,
        "fps": args.fps,
        "keypoints": list(KEYPOINTS),
        "seed": args.seed,
        "repeats": args.repeats,
        "cleaning": CLEANING,
        "features": FEATURES,
        "spectrogram": SPECTROGRAM,
        "movement_comparison_steps": {k: v for k, v in CLEANING.items() if k != "max_speed"},
        "real_tracks_max_step_px_per_frame": args.real_max_step_px,
        "real_datasets": REAL_DATASETS,
        "timing": "wall time of compute_session_features in a fresh spawned process, stage times from its DEBUG "
        "records; target judged on the first run; loading the file is not timed",
        "memory": "/proc/self/status of that process: VmRSS after the imports (baseline), VmHWM at the end (peak)",
        "versions": {p: _version(p) for p in ("xarray", "scipy", "numpy", "movement", "numbagg", "bottleneck")},
        "load_average_at_start": load_at_start,
        "data_generation_seconds": round(generation_s, 1),
        "quick": args.quick,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    write_results("features_speed", metrics, config=config, table="\n\n".join(sections), out_dir=args.out)


if __name__ == "__main__":
    main()

"""Wall time and peak memory of behavior map + HMM ethogram on one hour of frames, beside keypoint-MoSeq.

One hour at 30 fps (108,000 frames; ``--sessions`` x ``--minutes``, seeds
200, 201, ...) is simulated by :func:`behaviorlab.synthetic.simulate.simulate_poses`
and turned into features and spectrograms
(:func:`behaviorlab.features.pipeline.compute_session_features`, timed separately:
that is the features stage's own benchmark).  Then, in a fresh process (so
its peak memory is its own), from the features files on disk:

1. :class:`~behaviorlab.behavior.maps.BehaviorMap` (defaults) is fitted and labels
   every frame;
2. :class:`~behaviorlab.behavior.ethogram.EthogramHMM` (defaults: 2-8 states by BIC)
   is fitted and labels every frame.

Then, in another fresh process, :class:`~behaviorlab.behavior.arhmm.ARHMM`
(defaults) is fitted on the poses kept in the same files and labels every
frame (``arhmm_fit_and_label_seconds``, its own peak memory); target: at
least 5 times faster than keypoint-MoSeq's AR-HMM in the same run
(``arhmm_vs_kpms_speedup``) at a higher NMI.

Target: map and HMM together in at most 120 s on a 2-core machine.  The normalized
mutual information (NMI) of regions and states with the generated behaviors
is reported beside the times.

In the same run, on the same poses, keypoint-MoSeq (AR-HMM, CPU) runs in its
own virtual environment (``--kpms-python``, default ``/work/kpms-venv``; it
pins its own JAX) through ``benchmarks/_kpms_runner.py``; its time and NMI are
reported beside ours, or the reason it could not run.

Run ``python benchmarks/unsupervised_speed.py --help``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

HERE = Path(__file__).resolve().parent
TARGET_SECONDS = 120.0
DEFAULT_KPMS_PYTHON = Path("/work/kpms-venv/bin/python")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=15.0, help="per session (4 x 15 min = 108,000 frames)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--kpms-python", type=Path, default=DEFAULT_KPMS_PYTHON, help="python with keypoint-moseq")
    parser.add_argument("--kpms-iters", type=int, default=50, help="keypoint-MoSeq AR-HMM iterations")
    parser.add_argument("--skip-kpms", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 sessions x 1 minute, 5 kpms iterations")
    parser.add_argument("--work", type=Path, default=None, help="folder for the generated files (default: temp)")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.minutes, args.kpms_iters = 2, 1.0, 5
    return args


def _peak_rss_mib() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024.0


def ours_worker(feature_paths: list[str]) -> dict[str, Any]:
    """Fit and apply both models in this (fresh) process; times per step and the peak RSS."""
    from behaviorlab.behavior.ethogram import EthogramHMM
    from behaviorlab.behavior.maps import BehaviorMap
    from behaviorlab.io.load import load_netcdf

    out: dict[str, Any] = {"rss_mib_after_imports": _peak_rss_mib()}
    start = time.perf_counter()
    sessions = {Path(p).stem: load_netcdf(p, ["spectrogram"]) for p in feature_paths}
    out["load_seconds"] = time.perf_counter() - start
    t0 = time.perf_counter()
    bmap = BehaviorMap(random_state=0)
    mapped = bmap.fit_label(sessions)  # fit, then label every frame from the fit's own embedding
    out["map_fit_label_seconds"] = time.perf_counter() - t0
    out["map_seconds_by_step"] = bmap.timings_
    t2 = time.perf_counter()
    hmm = EthogramHMM(random_state=0).fit(sessions)
    out["hmm_fit_seconds"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    states = hmm.label(sessions)
    out["hmm_label_seconds"] = time.perf_counter() - t3
    out["total_seconds"] = time.perf_counter() - start
    out["peak_rss_mib"] = _peak_rss_mib()
    out["n_regions"] = int(bmap.n_regions_)
    out["n_states"] = int(hmm.n_states_)
    out["cluster"] = {k: ds["cluster"].values[:, 0].tolist() for k, ds in mapped.items()}
    out["state"] = {k: ds["state"].values[:, 0].tolist() for k, ds in states.items()}
    return out


def arhmm_worker(feature_paths: list[str]) -> dict[str, Any]:
    """Fit the AR-HMM on the poses and label every frame, in this (fresh) process; time and peak RSS."""
    from behaviorlab.behavior.arhmm import ARHMM
    from behaviorlab.io.load import load_netcdf

    start = time.perf_counter()
    sessions = {Path(p).stem: load_netcdf(p, ["position", "confidence"]) for p in feature_paths}
    load = time.perf_counter() - start
    start = time.perf_counter()
    model = ARHMM(random_state=0).fit(sessions)
    fit = time.perf_counter() - start
    labeled = model.label(sessions)
    return {
        "load_seconds": load,
        "fit_seconds": fit,
        "fit_and_label_seconds": time.perf_counter() - start,
        "timings": model.timings_,
        "peak_rss_mib": _peak_rss_mib(),
        "n_states": int(model.n_states_),
        "median_syllable_s": model.median_duration_s_,
        "short_syllable_share": model.short_syllable_share_,
        "state": {k: ds["syllable"].values[:, 0].tolist() for k, ds in labeled.items()},
    }


def _nmi(truth: np.ndarray, found: np.ndarray) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    keep = found >= 0
    return float(normalized_mutual_info_score(truth[keep], found[keep]))


def run_kpms(args: argparse.Namespace, poses: dict[str, Any], work: Path) -> dict[str, Any]:
    """keypoint-MoSeq on the same poses, in its own interpreter; ``{"error": ...}`` when it cannot run."""
    if not args.kpms_python.is_file():
        return {"error": f"keypoint-moseq is not installed at {args.kpms_python} (pass --kpms-python)"}
    names = list(poses)
    first = poses[names[0]]
    coords = np.stack(
        [ds["position"].isel(individual=0).transpose("time", "keypoint", "space").values for ds in poses.values()]
    )
    conf = np.stack([ds["confidence"].isel(individual=0).transpose("time", "keypoint").values for ds in poses.values()])
    npz = work / "kpms_poses.npz"
    np.savez(
        npz,
        coordinates=coords,
        confidence=conf,
        bodyparts=np.array(first["keypoint"].values, dtype=str),
        anterior=np.array(["nose"]),
        posterior=np.array(["tail_base"]),
    )
    result = work / "kpms_result.json"
    cmd = [
        str(args.kpms_python),
        str(HERE / "_kpms_runner.py"),
        "--input",
        str(npz),
        "--output",
        str(result),
        "--workdir",
        str(work / "kpms"),
        "--num-ar-iters",
        str(args.kpms_iters),
        "--fps",
        str(args.fps),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if not result.is_file():
        return {"error": f"runner exited {proc.returncode}: {proc.stderr[-2000:]}"}
    out = json.loads(result.read_text())
    out["wall_seconds_with_startup"] = wall
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="unsupervised_speed_")
        work = Path(tmp.name)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    poses, truth, paths = {}, {}, []
    features_seconds = 0.0
    for i in range(args.sessions):
        name = f"session_{i}"
        ds, behavior = simulate_poses(SyntheticConfig(duration_s=args.minutes * 60, fps=args.fps, seed=200 + i))
        poses[name], truth[name] = ds, behavior.values[:, 0]
        start = time.perf_counter()
        features = compute_session_features(ds)
        features_seconds += time.perf_counter() - start
        kept = features[["features", "spectrogram", "position", "confidence"]]
        paths.append(str(save_netcdf(kept, work / f"{name}.nc")))
    n_frames = sum(len(v) for v in truth.values())
    y = np.concatenate([truth[k] for k in poses])
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        ours = pool.submit(ours_worker, paths).result()
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        arhmm = pool.submit(arhmm_worker, paths).result()
    arhmm_nmi = _nmi(y, np.concatenate([arhmm["state"][k] for k in poses]))
    map_nmi = _nmi(y, np.concatenate([ours["cluster"][k] for k in poses]))
    hmm_nmi = _nmi(y, np.concatenate([ours["state"][k] for k in poses]))
    metrics: dict[str, Any] = {
        "n_frames": n_frames,
        "features_and_spectrogram_seconds": features_seconds,
        "ours_map_fit_and_label_seconds": ours["map_fit_label_seconds"],
        "ours_map_pca_seconds": ours["map_seconds_by_step"]["pca"],
        "ours_map_umap_fit_seconds": ours["map_seconds_by_step"]["umap_fit"],
        "ours_map_umap_transform_seconds": ours["map_seconds_by_step"]["umap_transform"],
        "ours_hmm_fit_seconds": ours["hmm_fit_seconds"],
        "ours_hmm_label_seconds": ours["hmm_label_seconds"],
        "ours_map_and_hmm_total_seconds": ours["total_seconds"],
        "ours_peak_rss_mib": ours["peak_rss_mib"],
        "ours_rss_mib_after_imports": ours["rss_mib_after_imports"],
        "ours_map_n_regions": ours["n_regions"],
        "ours_hmm_n_states": ours["n_states"],
        "ours_map_nmi_vs_truth": map_nmi,
        "ours_hmm_nmi_vs_truth": hmm_nmi,
        "target_map_and_hmm_le_120_s": "pass" if ours["total_seconds"] <= TARGET_SECONDS else "fail",
        "arhmm_fit_and_label_seconds": arhmm["fit_and_label_seconds"],
        "arhmm_fit_seconds": arhmm["fit_seconds"],
        "arhmm_peak_rss_mib": arhmm["peak_rss_mib"],
        "arhmm_n_states": arhmm["n_states"],
        "arhmm_nmi_vs_truth": arhmm_nmi,
        "arhmm_median_syllable_s": arhmm["median_syllable_s"],
        "arhmm_short_syllable_share": arhmm["short_syllable_share"],
        "arhmm_vs_kpms_speedup": "not measured: keypoint-MoSeq did not run in this run",
    }
    rows = [
        (
            "behaviorlab map (fit + label)",
            ours["map_fit_label_seconds"],
            ours["n_regions"],
            map_nmi,
        ),
        (
            "behaviorlab HMM (fit + label)",
            ours["hmm_fit_seconds"] + ours["hmm_label_seconds"],
            ours["n_states"],
            hmm_nmi,
        ),
        ("behaviorlab total (incl. loading)", ours["total_seconds"], "", ""),
        ("behaviorlab AR-HMM (fit + label)", arhmm["fit_and_label_seconds"], arhmm["n_states"], arhmm_nmi),
    ]
    if args.skip_kpms:
        metrics["keypoint_moseq"] = "skipped (--skip-kpms)"
    else:
        kpms = run_kpms(args, poses, work)
        if "error" in kpms:
            metrics["keypoint_moseq"] = f"did not run: {kpms['error'][:300]}"
            rows.append(("keypoint-MoSeq", float("nan"), "", kpms["error"][:60]))
        else:
            labels = np.concatenate([np.asarray(s) for s in kpms["syllables"]])
            kpms_nmi = _nmi(y, labels)
            metrics.update(
                {
                    "keypoint_moseq": f"keypoint-moseq {kpms.get('keypoint_moseq_version')}, "
                    f"jax {kpms.get('jax_version')}, AR-HMM {args.kpms_iters} iterations",
                    "kpms_seconds": kpms["seconds_total"],
                    "kpms_n_syllables_used": kpms.get("n_syllables_used"),
                    "kpms_nmi_vs_truth": kpms_nmi,
                    "ours_map_and_hmm_vs_kpms_speedup": kpms["seconds_total"] / ours["total_seconds"],
                    "arhmm_vs_kpms_speedup": kpms["seconds_total"] / arhmm["fit_and_label_seconds"],
                    "target_arhmm_5x_faster_than_kpms_at_higher_nmi": "pass"
                    if kpms["seconds_total"] >= 5 * arhmm["fit_and_label_seconds"] and arhmm_nmi > kpms_nmi
                    else "fail",
                }
            )
            rows.append(("keypoint-MoSeq AR-HMM", kpms["seconds_total"], kpms.get("n_syllables_used"), kpms_nmi))
    table = format_table(["what", "seconds", "clusters", "NMI vs truth"], rows)
    table += f"\npeak memory {ours['peak_rss_mib']:.0f} MiB (map + HMM), {arhmm['peak_rss_mib']:.0f} MiB (AR-HMM)"
    table += f"; features + spectrograms took {features_seconds:.1f} s"
    config = {
        "sessions": args.sessions,
        "minutes": args.minutes,
        "fps": args.fps,
        "seeds": [200 + i for i in range(args.sessions)],
        "map": "BehaviorMap() defaults",
        "hmm": "EthogramHMM() defaults",
        "arhmm": "ARHMM() defaults, on the poses",
        "kpms_iters": args.kpms_iters,
    }
    write_results("unsupervised_speed", metrics, config=config, table=table, out_dir=args.out)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

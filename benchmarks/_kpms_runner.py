"""Run keypoint-MoSeq on CPU on pose data and report wall times and per-frame syllables.

This script runs in the keypoint-MoSeq virtual environment (``/work/kpms-venv``),
not in the behaviorlab one, so it must never import ``behaviorlab``.  The caller
(``benchmarks/unsupervised_speed.py``) runs::

    /work/kpms-venv/bin/python benchmarks/_kpms_runner.py --input POSES.npz \
        --output RESULT.json --workdir DIR [--num-ar-iters 50] [--num-full-iters 0] \
        [--kappa 1e6] [--latent-dim 10] [--fps 30] [--seed 0]

Input ``POSES.npz``: ``coordinates`` (n_sessions, n_frames, n_keypoints, 2) in
pixels (NaN = missing), ``confidence`` (n_sessions, n_frames, n_keypoints),
``bodyparts`` (n_keypoints,), ``anterior`` and ``posterior`` (bodypart names),
optionally ``use_bodyparts``.

The flow is the one of the keypoint-MoSeq modeling tutorial (``modeling.html``):
``setup_project`` (config.yml in ``--workdir``), ``format_data``, ``fit_pca``,
``update_config(latent_dim=...)``, ``estimate_sigmasq_loc``, ``init_model``,
``update_hypparams(kappa=...)``, ``fit_model(ar_only=True)`` (AR-HMM), an
optional ``fit_model(ar_only=False)`` (full keypoint-SLDS), syllables
reindexed by frequency (what ``reindex_syllables_in_checkpoint`` does, here in
memory) and ``extract_results``.  Every other hyperparameter is the
keypoint-MoSeq default.  Differences from the notebook, for a clean timing:
no checkpoints or progress plots are written, no outlier-removal step (it only
makes QA plots on top of the NaN interpolation that ``format_data`` does
anyway), no scree plot.

Iterations: like the notebook, ``fit_model(num_iters=N)`` runs keypoint-MoSeq's
loop ``for iteration in range(start_iter, N + 1)``, so ``--num-ar-iters 50`` is
51 Gibbs sweeps (iteration 0 included) and ``--num-full-iters M`` continues
from iteration N to N + M (M + 1 sweeps).  The sweep counts are in ``settings``.

Syllable alignment: ``extract_results`` gives one label per input frame.  The
AR model has no label for the first ``nlags`` (3) frames of each batch segment
(``format_data`` cuts a session into segments of ``seg_length`` frames plus a
30-frame overlap; ``settings["segment_starts"]``); keypoint-MoSeq fills them
with the segment's first label (``np.pad(mode="edge")``) and ``unbatch`` lets
each later segment overwrite the overlap.  So frames ``s .. s+nlags-1`` of
every segment start ``s`` (frame 0 of each session included) repeat the label
of frame ``s+nlags``; every other frame has its own label.  The lists in the
result have exactly ``n_frames`` labels per session (checked); nothing is
dropped, padded with -1 or shifted.
Labels are ordered by frequency of occurrence (0 = most frequent syllable),
like the notebook's reindexing.

Output ``RESULT.json`` (written atomically): ``keypoint_moseq_version``,
``jax_version``, ``seconds_total`` (wall time from the first keypoint-MoSeq step
to the end of extraction; imports and npz loading are in ``seconds_startup``),
``seconds_by_step`` (``format_and_pca``, ``init``, ``fit_ar``, ``fit_full``,
``extract``), ``sweeps`` (per-sweep wall times of each fitting stage; the
first includes the JIT compilation), ``n_frames`` (all sessions together),
``n_frames_per_session``, ``syllables`` (one list per session),
``n_syllables_used`` and ``settings``.  On failure: ``{"error", "traceback",
...}`` and exit status 1 (130 after SIGTERM/SIGINT, which are turned into an
error instead of keypoint-MoSeq's silent early stop).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_SUBDIR = "kpms_project"
MODEL_NAME = "benchmark_model"
SEG_OVERLAP = 30  # jax_moseq.utils.batch default, used by keypoint_moseq.format_data


class Interrupted(BaseException):
    """Raised on SIGTERM/SIGINT.

    Not a ``KeyboardInterrupt``: keypoint-MoSeq's fitting loop turns that into a
    silent early stop, which would report a partial fit as a success.
    """


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    p = _Parser(description="Run keypoint-MoSeq (CPU) on an npz of poses; write timings and syllables as JSON.")
    p.add_argument("--input", required=True, type=Path, help="npz with coordinates, confidence, bodyparts, ...")
    p.add_argument("--output", required=True, type=Path, help="result JSON (written atomically)")
    p.add_argument("--workdir", required=True, type=Path, help="scratch folder for the keypoint-MoSeq project")
    p.add_argument("--num-ar-iters", type=int, default=50, help="AR-HMM iterations (kpms runs N+1 sweeps)")
    p.add_argument("--num-full-iters", type=int, default=0, help="full-model iterations after the AR-HMM; 0: skip")
    p.add_argument("--kappa", type=float, default=1e6, help="stickiness of the AR-HMM stage")
    p.add_argument(
        "--full-kappa",
        type=float,
        default=None,
        help="kappa of the full-model stage (the notebook suggests 10-100x lower); default: --kappa",
    )
    p.add_argument("--latent-dim", type=int, default=10, help="number of pose PCs modelled")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate (config fps; sigmasq_loc filter size)")
    p.add_argument("--seed", type=int, default=0, help="JAX seed of init_model")
    p.add_argument("--progress", action="store_true", help="show keypoint-MoSeq's tqdm progress bars on stderr")
    args = p.parse_args(argv)
    if args.num_ar_iters < 0 or args.num_full_iters < 0:
        raise UsageError("--num-ar-iters and --num-full-iters must be >= 0")
    if args.latent_dim < 1:
        raise UsageError("--latent-dim must be >= 1")
    if not args.fps > 0:
        raise UsageError("--fps must be > 0")
    if args.full_kappa is None:
        args.full_kappa = args.kappa
    return args


def _output_from_argv(argv: list[str]) -> Path | None:
    """The ``--output`` path even when the command line does not parse."""
    for i, a in enumerate(argv):
        if a == "--output" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if a.startswith("--output="):
            return Path(a.split("=", 1)[1])
    return None


def _write_json_atomic(path: Path, obj: dict[str, Any], allow_nan: bool = False) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, allow_nan=allow_nan)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _set_environment(progress: bool) -> None:
    """Settings that must be in place before jax / keypoint_moseq / tqdm are imported."""
    os.environ["JAX_PLATFORMS"] = "cpu"  # the benchmark is keypoint-MoSeq on CPU
    os.environ.setdefault("MPLBACKEND", "Agg")  # kpms imports matplotlib; never open a window
    if not progress:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm >= 4.66 reads default arguments from TQDM_* variables


def _str_list(a: Any) -> list[str]:
    return [str(x) for x in np.atleast_1d(np.asarray(a)).tolist()]


def _load_npz(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        missing = {"coordinates", "bodyparts", "anterior", "posterior"} - files
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        coords = np.asarray(z["coordinates"], dtype=np.float64)
        conf = np.asarray(z["confidence"], dtype=np.float64) if "confidence" in files else None
        bodyparts = _str_list(z["bodyparts"])
        anterior = _str_list(z["anterior"])
        posterior = _str_list(z["posterior"])
        use_bodyparts = _str_list(z["use_bodyparts"]) if "use_bodyparts" in files else list(bodyparts)
    if coords.ndim != 4 or coords.shape[-1] != 2:
        raise ValueError(f"coordinates must be (n_sessions, n_frames, n_keypoints, 2), got {coords.shape}")
    if conf is not None and conf.shape != coords.shape[:3]:
        raise ValueError(f"confidence must be {coords.shape[:3]}, got {conf.shape}")
    if len(bodyparts) != coords.shape[2]:
        raise ValueError(f"{len(bodyparts)} bodyparts for {coords.shape[2]} keypoints")
    for name, parts, pool in (
        ("use_bodyparts", use_bodyparts, bodyparts),
        ("anterior", anterior, use_bodyparts),
        ("posterior", posterior, use_bodyparts),
    ):
        unknown = [b for b in parts if b not in pool]
        if unknown or not parts:
            raise ValueError(f"{name} must be a non-empty subset of {pool}, got {parts}")
    return {
        "coordinates": coords,
        "confidence": conf,
        "bodyparts": bodyparts,
        "use_bodyparts": use_bodyparts,
        "anterior": anterior,
        "posterior": posterior,
    }


def _versions() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dist in ("keypoint-moseq", "jax-moseq", "jax", "jaxlib", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _sweep_summary(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"n": 0}
    rest = times[1:]
    return {
        "n": len(times),
        "total": sum(times),
        "first": times[0],
        "median_after_first": statistics.median(rest) if rest else None,
        "seconds": [round(t, 4) for t in times],
    }


def _run(args: argparse.Namespace, state: dict[str, Any]) -> dict[str, Any]:
    t_start = time.perf_counter()
    state["stage"] = "import"
    _set_environment(args.progress)
    import jax
    import keypoint_moseq as kpms
    import keypoint_moseq.fitting as kpms_fitting
    from jax_moseq.utils import get_frequencies

    state["versions"] = _versions()
    state["keypoint_moseq_version"] = str(kpms.__version__)
    state["jax_version"] = str(jax.__version__)

    # Time every Gibbs sweep: fit_model calls the module-level _wrapped_resample once per
    # iteration, which returns after check_for_nans has pulled the new state to the host
    # (so the time is the real compute time, not JAX's asynchronous dispatch).
    sweeps: dict[str, list[float]] = {"fit_ar": [], "fit_full": []}
    stopped_early: dict[str, bool] = {}
    original_resample = kpms_fitting._wrapped_resample

    def timed_resample(*a: Any, **kw: Any) -> Any:
        stage = state["stage"]
        t0 = time.perf_counter()
        try:
            return original_resample(*a, **kw)
        except kpms_fitting.StopResampling:
            stopped_early[stage] = True
            raise
        finally:
            sweeps.setdefault(stage, []).append(time.perf_counter() - t0)

    kpms_fitting._wrapped_resample = timed_resample

    state["stage"] = "load"
    poses = _load_npz(args.input)
    coords_all, conf_all = poses["coordinates"], poses["confidence"]
    n_sessions, n_frames_session = coords_all.shape[:2]
    keys = [f"session_{i:04d}" for i in range(n_sessions)]
    coordinates = {k: coords_all[i] for i, k in enumerate(keys)}
    confidences = None if conf_all is None else {k: conf_all[i] for i, k in enumerate(keys)}
    args.workdir.mkdir(parents=True, exist_ok=True)
    project_dir = str(args.workdir / PROJECT_SUBDIR)
    fps: float | int = int(args.fps) if float(args.fps).is_integer() else float(args.fps)
    state["seconds_startup"] = time.perf_counter() - t_start

    steps: dict[str, float] = {}
    state["seconds_by_step"] = steps
    settings: dict[str, Any] = {
        "num_ar_iters": args.num_ar_iters,
        "num_full_iters": args.num_full_iters,
        "kappa": args.kappa,
        "full_kappa": args.full_kappa if args.num_full_iters > 0 else None,
        "latent_dim": args.latent_dim,
        "fps": fps,
        "seed": args.seed,
        "bodyparts": poses["bodyparts"],
        "use_bodyparts": poses["use_bodyparts"],
        "anterior_bodyparts": poses["anterior"],
        "posterior_bodyparts": poses["posterior"],
        "n_sessions": n_sessions,
        "n_frames_per_session": n_frames_session,
        "has_confidence": conf_all is not None,
        "fraction_missing_keypoints": float(np.isnan(coords_all).any(-1).mean()),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "cpu_count": os.cpu_count(),
        "checkpoints_and_plots": False,
        "outlier_removal": False,
        "syllables_reindexed_by_frequency": True,
        "versions": state["versions"],
        "project_dir": project_dir,
    }
    state["settings"] = settings

    def config() -> dict[str, Any]:
        return kpms.load_config(project_dir)

    t_fit0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # keypoint-MoSeq prints; keep our stdout clean
        # ---- setup, format_data, PCA (tutorial: "Project setup", "Load data", "Fit PCA")
        state["stage"] = "format_and_pca"
        t0 = time.perf_counter()
        kpms.setup_project(
            project_dir,
            overwrite=True,
            bodyparts=poses["bodyparts"],
            use_bodyparts=poses["use_bodyparts"],
            anterior_bodyparts=poses["anterior"],
            posterior_bodyparts=poses["posterior"],
            skeleton=[],
            fps=fps,
        )
        data, kpms_metadata = kpms.format_data(coordinates, confidences, keys=keys, **config())
        pca = kpms.fit_pca(**data, **config())
        cum_var = np.cumsum(np.asarray(pca.explained_variance_ratio_))
        sigmasq_loc = kpms.estimate_sigmasq_loc(data["Y"], data["mask"], filter_size=max(1, round(args.fps)))
        kpms.update_config(project_dir, latent_dim=int(args.latent_dim), sigmasq_loc=float(sigmasq_loc))
        steps["format_and_pca"] = time.perf_counter() - t0
        settings.update(
            seg_length=int(data["Y"].shape[1]) - SEG_OVERLAP,
            n_segments=int(data["Y"].shape[0]),
            segment_starts=[int(b[0]) for b in np.asarray(kpms_metadata[1])[np.asarray(kpms_metadata[0]) == keys[0]]],
            pca_variance_explained_by_latent_dim=float(cum_var[min(args.latent_dim, cum_var.size) - 1]),
            sigmasq_loc=float(sigmasq_loc),
        )

        # ---- model initialization (tutorial: "Model fitting" / init_model + update_hypparams)
        state["stage"] = "init"
        t0 = time.perf_counter()
        model = kpms.init_model(data, pca=pca, seed=int(args.seed), metadata=kpms_metadata, **config())
        model = kpms.update_hypparams(model, kappa=float(args.kappa))
        jax.block_until_ready(model["states"])
        steps["init"] = time.perf_counter() - t0
        settings.update(
            num_states=int(model["hypparams"]["trans_hypparams"]["num_states"]),
            nlags=int(model["hypparams"]["ar_hypparams"]["nlags"]),
        )

        # ---- AR-HMM (tutorial: "Fitting an AR-HMM")
        state["stage"] = "fit_ar"
        t0 = time.perf_counter()
        model, _ = kpms.fit_model(
            model,
            data,
            kpms_metadata,
            project_dir,
            MODEL_NAME,
            ar_only=True,
            num_iters=int(args.num_ar_iters),
            save_every_n_iters=None,
            generate_progress_plots=False,
            verbose=False,
        )
        jax.block_until_ready(model["states"])
        steps["fit_ar"] = time.perf_counter() - t0
        if stopped_early.get("fit_ar"):
            raise RuntimeError(
                f"keypoint-MoSeq stopped the AR-HMM fit early (NaNs) after {len(sweeps['fit_ar'])} sweeps"
            )

        # ---- full keypoint-SLDS (tutorial: "Fitting the full model"), optional
        state["stage"] = "fit_full"
        t0 = time.perf_counter()
        if args.num_full_iters > 0:
            model = kpms.update_hypparams(model, kappa=float(args.full_kappa))
            model, _ = kpms.fit_model(
                model,
                data,
                kpms_metadata,
                project_dir,
                MODEL_NAME,
                ar_only=False,
                start_iter=int(args.num_ar_iters),
                num_iters=int(args.num_ar_iters + args.num_full_iters),
                save_every_n_iters=None,
                generate_progress_plots=False,
                verbose=False,
            )
            jax.block_until_ready(model["states"])
            if stopped_early.get("fit_full"):
                raise RuntimeError(
                    f"keypoint-MoSeq stopped the full-model fit early (NaNs) after {len(sweeps['fit_full'])} sweeps"
                )
        steps["fit_full"] = time.perf_counter() - t0

        # ---- reindex syllables by frequency, then extract per-frame results
        state["stage"] = "extract"
        t0 = time.perf_counter()
        z = np.asarray(jax.device_get(model["states"]["z"]))
        mask = np.asarray(jax.device_get(data["mask"]))
        num_states = settings["num_states"]
        index = np.argsort(get_frequencies(z, mask, num_states, runlength=True))[::-1]
        model = {**model, "states": {**model["states"], "z": np.argsort(index)[z]}}
        results = kpms.extract_results(model, kpms_metadata, save_results=False)
        syllables = []
        for k in keys:
            s = np.asarray(results[k]["syllable"]).astype(np.int64)
            if s.shape != (n_frames_session,):
                raise RuntimeError(f"{k}: keypoint-MoSeq returned {s.shape} syllables for {n_frames_session} frames")
            syllables.append(s)
        steps["extract"] = time.perf_counter() - t0
    seconds_total = time.perf_counter() - t_fit0

    settings.update(ar_sweeps=len(sweeps["fit_ar"]), full_sweeps=len(sweeps["fit_full"]))
    all_labels = np.concatenate(syllables)
    counts = np.bincount(all_labels, minlength=num_states)
    return {
        "keypoint_moseq_version": state["keypoint_moseq_version"],
        "jax_version": state["jax_version"],
        "seconds_total": seconds_total,
        "seconds_by_step": steps,
        "seconds_startup": state["seconds_startup"],
        "sweeps": {k: _sweep_summary(v) for k, v in sweeps.items()},
        "n_frames": int(all_labels.size),
        "n_frames_per_session": [int(s.size) for s in syllables],
        "syllables": [s.tolist() for s in syllables],
        "n_syllables_used": int(np.count_nonzero(counts)),
        "n_syllables_over_half_percent": int(np.count_nonzero(counts / counts.sum() >= 0.005)),
        "syllable_alignment": (
            "one label per input frame from keypoint-MoSeq extract_results; frames s..s+nlags-1 of each segment "
            "start s (settings.segment_starts, frame 0 included) repeat the label of frame s+nlags; labels "
            "reindexed by frequency (0 = most frequent)"
        ),
        "settings": settings,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    state: dict[str, Any] = {"stage": "parse_args"}

    def _on_signal(signum: int, _frame: Any) -> None:
        raise Interrupted(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    output = _output_from_argv(argv)
    try:
        args = _parse_args(argv)
        output = args.output
        result = _run(args, state)
        _write_json_atomic(output, result)
    except SystemExit as exc:  # --help
        if exc.code in (0, None):
            return 0
        raise
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        error = {
            "error": message,
            "traceback": traceback.format_exc(),
            "stage": state.get("stage"),
            "keypoint_moseq_version": state.get("keypoint_moseq_version"),
            "jax_version": state.get("jax_version"),
            "seconds_by_step": state.get("seconds_by_step"),
            "settings": state.get("settings"),
        }
        print(f"_kpms_runner: failed during {state.get('stage')}: {message}", file=sys.stderr)
        if output is not None:
            try:
                _write_json_atomic(output, json.loads(json.dumps(error, default=str)), allow_nan=True)
            except Exception as write_exc:
                print(f"_kpms_runner: could not write {output}: {write_exc}", file=sys.stderr)
        return 130 if isinstance(exc, Interrupted) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

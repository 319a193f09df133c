"""Scale-out of `behaviorlab run` on a local Dask cluster: 1 vs 2 workers, and a worker killed midway.

16 generated sessions (poses and per-frame behavior labels from the simulator)
go from poses to statistics: cleaning, features, spectrograms, a behavior
map, an HMM ethogram, classifiers with leave-one-session-out cross-validation
(each fold a task of its own), the results store and CSV exports. Each
configuration starts from an empty cache in a fresh project folder, and its
wall time includes starting the cluster.

1. 1 worker, then 2 workers: the speed-up (target >= 1.7x).
2. 2 workers, one worker process killed with SIGKILL midway: the nanny
   starts a new one, the scheduler re-runs the lost tasks, and every session
   must be in the store exactly once, with one output per stage and session
   in the cache, and tables equal to the undisturbed run's.

    python benchmarks/scale.py                 # 16 sessions x 10 s
    python benchmarks/scale.py --sessions 4 --duration 20 --out /tmp/scale   # a quick look
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

#: The project config: the defaults, with spectrogram and classifier sized for 16 one-minute sessions.
CONFIG = {
    "features": {"axis_from": "tail_base", "axis_to": "neck"},
    "spectrogram": {"n_frequencies": 15},
    "ethogram": {"n_states_range": [3, 6]},
    "classifier": {"windows_s": [0.25, 1.0], "stats": ["mean", "std"], "max_iter": 100},
    "statistics": {"bin_s": 20.0},
    "exports": {"formats": ["csv"]},
}
STAGES_REPORTED = (
    "poses",
    "clean",
    "features",
    "behavior_map",
    "ethogram",
    "classifier_model",
    "classifier_fold",
    "classifier",
    "store",
)
TABLES = ("bouts", "behavior_stats", "transitions", "movement", "classifier_frames")


def make_inputs(folder: Path, n_sessions: int, duration_s: float) -> dict[str, list[Path]]:
    from behaviorlab.synthetic.sample import write_pose_sessions

    return write_pose_sessions(folder, {f"session{i:02d}": 100 + i for i in range(n_sessions)}, duration_s=duration_s)


def new_project(root: Path, inputs: dict[str, list[Path]]) -> Path:
    from behaviorlab.project.config import init_project

    init_project(root, poses=inputs["poses"], annotations=inputs["annotations"], config=CONFIG)
    return root


def tables(project: Path) -> dict[str, pd.DataFrame]:
    from behaviorlab.results.store import ResultsStore

    store = ResultsStore(project / "results")
    return {name: store.table(name, ordered=True) for name in TABLES}


def kill_a_worker_after(seconds: float, killed: list[int]) -> threading.Thread:
    """Kill one Dask worker process after ``seconds`` (a local cluster's workers are children of this process)."""
    import psutil

    def kill() -> None:
        time.sleep(seconds)
        for child in psutil.Process().children(recursive=True):
            try:
                cmdline = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
                return

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def main() -> None:
    from behaviorlab.project.runner import run_project

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per session")
    parser.add_argument("--out", default=DEFAULT_RESULTS_DIR)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="behaviorlab_scale_"))
    inputs = make_inputs(work / "inputs", args.sessions, args.duration)
    seconds, reports = {}, {}
    for workers in (1, 2):
        project = new_project(work / f"workers{workers}", inputs)
        start = time.perf_counter()
        reports[workers] = run_project(project, workers=workers)
        seconds[workers] = time.perf_counter() - start
        assert reports[workers].ok, reports[workers].summary()
        print(f"{workers} worker(s): {seconds[workers]:.1f} s")
    reference = tables(work / "workers1")
    same_1_2 = all(reference[n].equals(t) for n, t in tables(work / "workers2").items())

    project = new_project(work / "killed", inputs)
    killed: list[int] = []
    kill_a_worker_after(seconds[2] / 2, killed)
    start = time.perf_counter()
    report = run_project(project, workers=2)
    seconds_killed = time.perf_counter() - start
    from behaviorlab.project.cache import StageCache
    from behaviorlab.results.store import ResultsStore

    store = ResultsStore(project / "results")
    stored = store.sessions
    rows = store.query("SELECT session, count(*) AS n FROM movement GROUP BY session")
    cache = StageCache(project / "cache")
    per_stage = {
        stage: sorted(len(cache.outputs(stage, s)) for s in stored)
        for stage in ("poses", "clean", "features", "annotations", "map_labels", "states", "behaviors")
    }
    folds = [
        len(cache.outputs("classifier_fold", d.name, ".pkl")) for d in sorted(cache.root.glob("classifier_fold/*"))
    ]
    debris = [str(p.relative_to(cache.root)) for p in cache.root.rglob(".*.tmp*")]
    once = (
        report.ok
        and folds == [1] * args.sessions
        and not debris
        and stored == sorted(f"session{i:02d}" for i in range(args.sessions))
        and len(rows) == args.sessions
        and set(rows["n"]) == {1}
        and all(counts == [1] * args.sessions for counts in per_stage.values())
        and sum(1 for r in report.results if r.stage == "store" and r.ok) == args.sessions
    )
    same_killed = all(reference[n].equals(t) for n, t in tables(project).items())
    speedup = seconds[1] / seconds[2]
    frames = args.sessions * args.duration * 30
    table = format_table(
        ["run", "wall s", "sessions stored", "note"],
        [
            ["1 worker", f"{seconds[1]:.1f}", len(reports[1].completed_sessions()), ""],
            ["2 workers", f"{seconds[2]:.1f}", len(reports[2].completed_sessions()), f"speed-up {speedup:.2f}x"],
            [
                "2 workers, one killed",
                f"{seconds_killed:.1f}",
                len(stored),
                f"killed pid {killed or 'none'}; each session once: {once}; tables as undisturbed: {same_killed}",
            ],
        ],
    )
    work_1 = reports[1].table().groupby("stage")["seconds"].sum()
    metrics = {
        "sessions": args.sessions,
        "session_duration_s": args.duration,
        "frames_total": int(frames),
        "run_1_worker_s": round(seconds[1], 2),
        "run_2_workers_s": round(seconds[2], 2),
        "speedup_2_vs_1_workers": round(speedup, 3),
        "speedup_target": 1.7,
        "speedup_pass": int(bool(speedup >= 1.7)),
        "results_equal_1_vs_2_workers": int(bool(same_1_2)),
        "run_2_workers_one_killed_s": round(seconds_killed, 2),
        "worker_killed": int(bool(killed)),
        "killed_run_every_session_exactly_once": int(bool(once)),
        "killed_run_tables_equal_undisturbed": int(bool(same_killed)),
        # where the 1-worker run's time went (seconds of work per stage, summed over sessions and folds)
        **{f"work_1_worker_{stage}_s": round(float(work_1[stage]), 2) for stage in STAGES_REPORTED if stage in work_1},
    }
    config = {"project_config": CONFIG, "cpu_count": os.cpu_count(), "work_dir": str(work)}
    write_results("scale", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

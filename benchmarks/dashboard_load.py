"""Dashboard load time: the first render of every page in a real browser, on a generated project of 100 sessions.

The project (built once; ``--project DIR`` keeps it for the next run) has
``--sessions`` (100) sessions of ``--minutes`` (5) minutes at 30 fps,
alternately one and two animals (groups control / treated, days 1 / 2 in the
metadata), with poses from :func:`behaviorlab.synthetic.simulate.simulate_poses`; the
first ``--videos`` (2) sessions are rendered to video with
:func:`behaviorlab.synthetic.sample.write_session`, as the Poses and Behavior map
pages show frames of them.  Every session is stored with its Dataset and four
label sources: ``labels`` (the generated behaviors), ``behavior_prediction``
and ``behavior_probability`` (the behaviors with 10 % of the bouts changed, as
a classifier's held-out decisions), ``state`` (6 HMM-like states) and
``cluster`` (12 map-like regions).  The behavior map, HMM and classifier are
fitted on a small subset (:func:`behaviorlab.project.example.make_example_project`:
6 sessions of 1 minute with the same names) and the tiny pose model with its
training log and evaluation, and the labeled frames, come from the sample
sessions (the same builder with ``train_pose_model=True``).

The dashboard is started as users start it (``behaviorlab dashboard PROJECT
--no-browser``), and Debian's Chromium, driven by playwright (headless, no
network features), opens each page by its URL in a fresh tab: the render time
is ``performance.now()`` (milliseconds since the navigation started) at the
moment the page's title is shown and Streamlit reports the script finished
(``[data-testid="stApp"][data-test-script-state="notRunning"]``).  The first
visit of each page finds Streamlit's caches cold (nothing was loaded for that
page yet; the first page also pays the server's first imports); a second pass
of visits finds them warm.  ``--pause`` (2 s) between visits lets the server
finish the previous page's work, as a person reading it would.  This is done
``--rounds`` (3) times, each with a new server and browser profile, and the
medians are reported (``*_first_render_max_s`` the worst round).  Target: a
median first render of at most 3 s per page.
Screenshots of the first visits are written to ``--screenshots``.

Run ``python benchmarks/dashboard_load.py --help``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "dashboards"))
from _shared import PAGES  # noqa: E402
from serve import BROWSER_ARGS, page_url, running_dashboard  # noqa: E402

FPS = 30.0
TARGET_S = 3.0
BIN_S = 60.0
N_STATES = 6
N_REGIONS = 12
CHANGED_BOUTS = 0.10
MODEL_SESSIONS = 6
GROUPS = ("control", "treated")
PAGE_TIMEOUT_MS = 120_000
#: The dashboard's password in this benchmark (its pages are opened with ``?token=``).
TOKEN = "dashboard-load-benchmark"
MARKER = "dashboard_load_project.json"
SCREENSHOT_WIDTH = 900
# the page's render time, once its title is shown and its script has finished (polled every animation frame)
RENDERED_JS = """title => {
    const app = document.querySelector('[data-testid="stApp"]');
    const shown = [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title);
    return app && shown && app.dataset.testScriptState === 'notRunning' ? performance.now() : false;
}"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=None, help="sessions in the project (default 100)")
    parser.add_argument("--minutes", type=float, default=None, help="length of each session (default 5)")
    parser.add_argument("--videos", type=int, default=None, help="sessions rendered to video (default 2)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of visits, each on a new server (default 3)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between visits (the server settles)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", default=None, help="keep the project in this folder (reused when complete)")
    parser.add_argument("--rebuild", action="store_true", help="build the --project folder again even when complete")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", default=str(DEFAULT_RESULTS_DIR / "dashboard_screenshots"))
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 sessions x 1 minute, 1 video, no pose model")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    args = parser.parse_args(argv)
    if args.sessions is None:
        args.sessions = 8 if args.quick else 100
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 5.0
    if args.videos is None:
        args.videos = 1 if args.quick else 2
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    args.pose_model = not args.quick
    if args.sessions < MODEL_SESSIONS or not args.minutes > 0 or not 0 <= args.videos <= args.sessions:
        parser.error(f"need --sessions >= {MODEL_SESSIONS}, --minutes > 0 and 0 <= --videos <= --sessions")
    if args.rounds < 1:
        parser.error("need --rounds >= 1")
    if not Path(args.chromium).is_file():
        parser.error(f"no Chromium at {args.chromium} (apt-get install chromium, or pass --chromium)")
    return args


# --------------------------------------------------------------------------- the generated project
def _config(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("sessions", "minutes", "videos", "seed", "pose_model")}


def _runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values of a 1-D array."""
    starts = np.flatnonzero(np.diff(codes, prepend=codes[0] - 1))
    return starts, np.diff(np.append(starts, len(codes)))


def label_variables(behavior: np.ndarray, behaviors: list[str], rng: np.random.Generator) -> dict[str, xr.DataArray]:
    """Per-frame label sources from the generated behaviors ``(time, individual)`` (names).

    ``labels``: the behaviors; ``behavior_prediction``: the behaviors with a
    share of the bouts changed to another behavior, ``behavior_probability``
    high on the decided behavior; ``state``: one of 6 states per bout (the
    behavior's, or a random one for a few bouts); ``cluster``: one of 12
    regions (two per behavior, alternating bouts).
    """
    codes = np.stack(
        [pd.Categorical(behavior[:, i], categories=behaviors).codes for i in range(behavior.shape[1])], axis=1
    ).astype(np.int64)
    predicted, states, clusters = codes.copy(), codes.copy(), codes.copy()
    for i in range(codes.shape[1]):
        starts, lengths = _runs(codes[:, i])
        bout = np.repeat(np.arange(len(starts)), lengths)
        changed = rng.random(len(starts)) < CHANGED_BOUTS
        other = (codes[starts, i] + rng.integers(1, len(behaviors), len(starts))) % len(behaviors)
        predicted[:, i] = np.where(changed[bout], other[bout], codes[:, i])
        random_state = rng.integers(0, N_STATES, len(starts))
        states[:, i] = np.where((rng.random(len(starts)) < 0.2)[bout], random_state[bout], codes[:, i] % N_STATES)
        clusters[:, i] = (2 * codes[:, i] + bout % 2) % N_REGIONS
    one_hot = np.eye(len(behaviors), dtype=bool)
    shown = one_hot[codes]
    decided = one_hot[predicted]
    probability = np.where(decided, 0.6 + 0.4 * rng.random(decided.shape), 0.4 * rng.random(decided.shape))
    dims3 = ("time", "individual", "behavior")
    return {
        "labels": xr.DataArray(shown, dims=dims3),
        "behavior_prediction": xr.DataArray(decided, dims=dims3),
        "behavior_probability": xr.DataArray(probability.astype(np.float32), dims=dims3),
        "state": xr.DataArray(states, dims=("time", "individual"), attrs={"n_states": N_STATES}),
        "cluster": xr.DataArray(clusters, dims=("time", "individual"), attrs={"n_regions": N_REGIONS}),
    }


def _session(k: int, args: argparse.Namespace, videos: Path) -> tuple[xr.Dataset, np.ndarray, dict[str, str]]:
    """Poses, behavior names ``(time, individual)`` and file links of session ``k``."""
    from behaviorlab.io.load import load_poses
    from behaviorlab.synthetic.sample import write_session
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    n_animals = 1 + k % 2
    individuals = tuple(f"mouse{i + 1}" for i in range(n_animals))
    group = GROUPS[k % 2]
    cfg = SyntheticConfig(
        seed=args.seed + k,
        n_animals=n_animals,
        duration_s=60.0 * args.minutes,
        individuals=individuals,
        speed_scale=(0.75 if group == "treated" else 1.0,) * n_animals,
    )
    name = f"session_{k:03d}"
    if k < args.videos:
        paths = write_session(videos, name, cfg)
        poses = load_poses(paths["poses"])
        table = pd.read_csv(paths["labels"])
        wide = table.pivot(index="frame", columns="individual", values="behavior")
        behavior = wide[list(individuals)].to_numpy()[: poses.sizes["time"]]
        return poses, behavior, {"video": str(paths["video"]), "poses": str(paths["poses"])}
    poses, behavior = simulate_poses(cfg)
    return poses, np.asarray(behavior.transpose("time", "individual").values, dtype=object), {}


def build_project(path: Path, args: argparse.Namespace) -> dict[str, float]:
    """Write the generated project into ``path`` (a new folder); return the seconds of each part."""
    from behaviorlab.project.example import make_example_project
    from behaviorlab.results.store import ResultsStore
    from behaviorlab.synthetic.simulate import BEHAVIORS

    path.mkdir(parents=True)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dashboard_load_") as tmp:
        start = time.perf_counter()
        base = make_example_project(Path(tmp) / "models", n_sessions=MODEL_SESSIONS, minutes=1.0, seed=args.seed)
        shutil.copytree(base / "models", path / "models")
        times["build_models_s"] = time.perf_counter() - start
        if args.pose_model:
            start = time.perf_counter()
            sample = make_example_project(Path(tmp) / "pose", sample_dir=REPO / "sample_data", train_pose_model=True)
            shutil.copytree(sample / "pose_model", path / "pose_model")
            shutil.copy2(sample / "labeled_frames.labels.h5", path / "labeled_frames.labels.h5")
            times["build_pose_model_s"] = time.perf_counter() - start
        else:
            shutil.copy2(REPO / "sample_data" / "labeled_frames.labels.h5", path / "labeled_frames.labels.h5")

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    store = ResultsStore.create(path / "results", bin_s=BIN_S)
    rows = []
    for k in range(args.sessions):
        poses, behavior, files = _session(k, args, path / "videos")
        name = f"session_{k:03d}"
        labels = label_variables(behavior, list(BEHAVIORS), rng)
        coords = {"time": poses["time"].values, "individual": poses["individual"].values, "behavior": list(BEHAVIORS)}
        ds = poses.assign(
            {key: value.assign_coords({c: coords[c] for c in value.dims}) for key, value in labels.items()}
        )
        store.add_session(name, ds, files=files)
        group = GROUPS[k % 2]
        rows += [
            {"session": name, "subject": str(i), "group": group, "day": 1 + (k // 2) % 2}
            for i in poses["individual"].values
        ]
        if (k + 1) % 10 == 0:
            print(f"  stored {k + 1} of {args.sessions} sessions ({time.perf_counter() - start:.0f} s)", flush=True)
    store.set_metadata(pd.DataFrame(rows))
    times["build_store_s"] = time.perf_counter() - start
    (path / MARKER).write_text(json.dumps({"config": _config(args), "times": times}, indent=1))
    return times


def project_is_complete(path: Path, args: argparse.Namespace) -> bool:
    marker = path / MARKER
    return marker.is_file() and json.loads(marker.read_text())["config"] == _config(args)


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# --------------------------------------------------------------------------- the browser
def visit(context: Any, url: str, title: str, screenshot: Path | None) -> dict[str, Any]:
    """Open ``url`` in a new tab; return its render time (s), wall time (s) and any exception text."""
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        rendered_ms = page.wait_for_function(RENDERED_JS, arg=title, polling="raf", timeout=PAGE_TIMEOUT_MS)
        result = {"render_s": float(rendered_ms.json_value()) / 1000, "wall_s": time.perf_counter() - start}
        errors = [box.inner_text() for box in page.locator('[data-testid="stException"]').all()]
        result["errors"] = errors
        if screenshot is not None:
            save_screenshot(page.screenshot(full_page=True), screenshot)
        return result
    finally:
        page.close()


def save_screenshot(png: bytes, path: Path) -> None:
    """Save a screenshot scaled to :data:`SCREENSHOT_WIDTH` pixels wide with a 64-colour palette (small files)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(image.height * SCREENSHOT_WIDTH / image.width)
    image = image.resize((SCREENSHOT_WIDTH, height), Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=64).save(path, optimize=True)


def measure(project: Path, args: argparse.Namespace, log: Path, screenshots: bool) -> tuple[dict[str, Any], float]:
    """One round on a new server: first and warm render of every page; ``({url: {first, warm}}, server start s)``."""
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with (
        running_dashboard(project, log, password=TOKEN) as (port, server_s),
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory(prefix="profile_") as profile,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=args.chromium,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            for visit_name in ("first", "warm"):
                for _, title, url_path in PAGES:
                    first = visit_name == "first" and screenshots
                    shot = Path(args.screenshots) / f"{url_path}.png" if first else None
                    time.sleep(args.pause)  # a person reads a page before the next: the last one's work ends
                    outcome = visit(context, page_url(port, url_path, TOKEN), title, shot)
                    results.setdefault(url_path, {})[visit_name] = outcome
                    note = f"  {len(outcome['errors'])} exception(s)" if outcome["errors"] else ""
                    print(f"  {visit_name:5s} {url_path:13s} {outcome['render_s']:6.2f} s{note}", flush=True)
        finally:
            context.close()
    return results, server_s


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    tmp = None
    if args.project is None:
        tmp = tempfile.TemporaryDirectory(prefix="dashboard_load_")
        path = Path(tmp.name) / "project"
    else:
        path = Path(args.project).resolve()
    try:
        metrics: dict[str, Any] = {
            "sessions": args.sessions,
            "frames_per_session": round(args.minutes * 60 * FPS),
            "load_average_1min_at_start": round(load_at_start, 2),
        }
        if not args.rebuild and args.project is not None and project_is_complete(path, args):
            print(f"reusing the complete project in {path}")
            metrics["build_reused"] = "yes"
        else:
            if path.exists():
                shutil.rmtree(path)
            print(f"building a project of {args.sessions} sessions x {args.minutes:g} min in {path}")
            metrics.update(build_reused="no", **build_project(path, args))
        metrics["project_size_mb"] = folder_mb(path)
        metrics["store_size_mb"] = folder_mb(path / "results")
        rounds: list[dict[str, Any]] = []
        server_times = []
        with tempfile.TemporaryDirectory(prefix="dashboard_log_") as logs:
            for k in range(args.rounds):
                print(f"round {k + 1} of {args.rounds}: a new server and browser profile", flush=True)
                result, server_s = measure(path, args, Path(logs) / "server.log", screenshots=k == 0)
                rounds.append(result)
                server_times.append(server_s)
        metrics["server_start_s"] = statistics.median(server_times)
        results = {
            url_path: {
                visit_name: [r[url_path][visit_name]["render_s"] for r in rounds] for visit_name in ("first", "warm")
            }
            | {"errors": [e for r in rounds for v in r[url_path].values() for e in v["errors"]]}
            for _, _, url_path in PAGES
        }
        failing = []
        for url_path, v in results.items():
            metrics[f"{url_path}_first_render_s"] = statistics.median(v["first"])
            metrics[f"{url_path}_first_render_max_s"] = max(v["first"])
            metrics[f"{url_path}_warm_render_s"] = statistics.median(v["warm"])
            if v["errors"]:
                failing.append(url_path)
                metrics[f"{url_path}_exception"] = v["errors"][0][:500]
        first = {u: statistics.median(v["first"]) for u, v in results.items()}
        warm = {u: statistics.median(v["warm"]) for u, v in results.items()}
        slow = [u for u, t in first.items() if t > TARGET_S]
        metrics.update(
            max_first_render_s=max(first.values()),
            max_warm_render_s=max(warm.values()),
            target_s=TARGET_S,
            pages_over_target=",".join(slow) or "none",
            pages_with_exception=",".join(failing) or "none",
            load_average_1min_at_end=round(os.getloadavg()[0], 2),
        )
        metrics["pass"] = "pass" if not slow and not failing else "fail"
    finally:
        if tmp is not None:
            tmp.cleanup()

    rows = [
        (
            url_path,
            first[url_path],
            max(v["first"]),
            warm[url_path],
            "ok" if first[url_path] <= TARGET_S else "SLOW",
            len(v["errors"]),
        )
        for url_path, v in results.items()
    ]
    headers = ["page", "first render s", "first max s", "warm render s", f"<= {TARGET_S:g} s", "exceptions"]
    table = format_table(headers, rows)
    table += (
        f"\n{args.sessions} sessions x {args.minutes:g} min ({args.videos} with video); store "
        f"{metrics['store_size_mb']:.0f} MB; medians of {args.rounds} round(s); server start "
        f"{metrics['server_start_s']:.1f} s; target first render <= {TARGET_S:g} s "
        f"per page: {metrics['pass']} (over: {metrics['pages_over_target']}; exceptions: "
        f"{metrics['pages_with_exception']}); load average {load_at_start:.2f} at start"
    )
    config = {
        **_config(args),
        "fps": FPS,
        "individuals": "alternately 1 and 2 per session",
        "label_sources": ["labels", "behavior_prediction", "state", "cluster"],
        "changed_bouts_in_prediction": CHANGED_BOUTS,
        "n_states": N_STATES,
        "n_regions": N_REGIONS,
        "bin_s": BIN_S,
        "models": f"make_example_project(n_sessions={MODEL_SESSIONS}, minutes=1): map, HMM, classifier",
        "pose_model": "make_example_project(sample_dir=sample_data, train_pose_model=True)"
        if args.pose_model
        else None,
        "server": "behaviorlab dashboard PROJECT --no-browser (Streamlit)",
        "browser": f"{args.chromium} (playwright, headless), viewport 1400x1000, a new tab per visit",
        "render_time": "performance.now() when the title is shown and stApp's script state is notRunning",
        "visits": "per round (a new server and browser profile): every page once in menu order (first, cold "
        "caches), then every page again (warm); metrics are medians over the rounds (first_render_max_s the worst)",
        "rounds": args.rounds,
        "pause_between_visits_s": args.pause,
        "screenshots": str(Path(args.screenshots).resolve().relative_to(REPO))
        if Path(args.screenshots).resolve().is_relative_to(REPO)
        else args.screenshots,
    }
    write_results("dashboard_load", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

"""Query speed of the results store: 1,000 generated sessions x 10 behaviors, grouped in DuckDB.

``--sessions`` (1000) sessions of ``--minutes`` (10) minutes at 30 fps, one
animal each, get seeded per-frame labels over ``--behaviors`` (10) exclusive
behaviors: a semi-Markov chain whose bouts last Gamma-distributed times (mean
0.3-4 s by behavior; the "treated" group dwells 1.5 times longer in the first
three behaviors) and move mostly to neighbouring behaviors on a ring, with a
few runs of unknown (-1) frames.  Each session goes into a
:class:`~behaviorlab.results.store.ResultsStore` (``bin_s=60``) through
``add_session(name, ds, save_dataset=False)``, which computes every table
with :func:`behaviorlab.results.stats.session_tables`; the metadata table gives each
session a group (control / treated) and a day (1 / 2).  The build is timed but
has no target.

Two queries are timed, each as a fresh ``ResultsStore(path).query(sql)`` call
(reading the catalog and creating the DuckDB views included, as ``behaviorlab
query`` does): the time budget by group and behavior (``time_budget`` view)
and the bout durations by group and behavior (``bout_durations`` view).  The
first call and the median of ``--repeats`` (5) are reported; the target is a
median of at most 1 s.  Both results are checked against the same aggregation
done with NumPy / pandas on the generated labels themselves (the script
raises when they differ), and both are timed against pandas reading every
session's Parquet file (``pd.read_parquet`` per file, concat, merge, groupby).

Run ``python benchmarks/store_query.py --help``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

FPS = 30.0
BIN_S = 60.0
TARGET_QUERY_S = 1.0
GROUPS = ("control", "treated")
DAYS = (1, 2)
MEAN_BOUT_S = (0.3, 4.0)  # shortest and longest mean bout duration of the behaviors (log-spaced)
TREATED_DWELL = 1.5  # treated sessions: mean bout duration of behaviors 0-2 times this
GAMMA_SHAPE = 2.0
UNKNOWN_RUNS_PER_MIN = 0.6  # runs of unknown frames (1-30 frames each)

TIME_BUDGET_SQL = (
    'SELECT "group", behavior, count(*) AS n, avg(time_budget_pct) AS mean_pct, '
    "stddev(time_budget_pct) AS sd_pct FROM time_budget GROUP BY ALL ORDER BY ALL"
)
BOUT_DURATION_SQL = (
    'SELECT "group", behavior, count(*) AS bouts, median(duration_s) AS median_s, '
    "quantile_cont(duration_s, 0.9) AS p90_s FROM bout_durations GROUP BY ALL ORDER BY ALL"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=None, help="sessions in the store (default 1000)")
    parser.add_argument("--minutes", type=float, default=None, help="length of each session (default 10)")
    parser.add_argument("--behaviors", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per query (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", default=None, help="keep the store in this folder (reused when complete)")
    parser.add_argument("--rebuild", action="store_true", help="build the --store folder again even when complete")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 sessions x 1 minute")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    args = parser.parse_args(argv)
    if args.sessions is None:
        args.sessions = 20 if args.quick else 1000
    if args.minutes is None:
        args.minutes = 1.0 if args.quick else 10.0
    if args.sessions < 4 or args.behaviors < 2 or args.repeats < 1 or not args.minutes > 0:
        parser.error("need --sessions >= 4, --behaviors >= 2, --repeats >= 1 and --minutes > 0")
    return args


# --------------------------------------------------------------------------- generated sessions
def session_names(n: int) -> list[str]:
    """Session names ``s0000``, ``s0001``, ... (sorted as the store sorts them)."""
    return [f"s{i:04d}" for i in range(n)]


def session_metadata(names: list[str]) -> pd.DataFrame:
    """Group (control / treated, alternating) and day (1 / 2, in pairs) of every session."""
    i = np.arange(len(names))
    return pd.DataFrame(
        {
            "session": names,
            "group": [GROUPS[k] for k in i % len(GROUPS)],
            "day": [DAYS[k] for k in (i // len(GROUPS)) % len(DAYS)],
        }
    )


def generate_labels(rng: np.random.Generator, n_frames: int, n_behaviors: int, treated: bool) -> np.ndarray:
    """Per-frame behavior codes ``(n_frames,)`` int16 of one session: bouts of a ring chain, -1 unknown."""
    mean_frames = np.geomspace(*MEAN_BOUT_S, n_behaviors) * FPS
    if treated:
        mean_frames[:3] *= TREATED_DWELL
    # next behavior: a step around the ring, mostly to a neighbour (never the same behavior)
    steps = np.arange(1, n_behaviors)
    ring = np.minimum(steps, n_behaviors - steps)
    p_step = 1.0 / ring**2
    p_step /= p_step.sum()
    n_bouts = int(2 * n_frames / mean_frames.min()) + 16
    while True:
        codes = (rng.integers(n_behaviors) + np.cumsum(rng.choice(steps, size=n_bouts, p=p_step))) % n_behaviors
        lengths = np.maximum(1, np.rint(rng.gamma(GAMMA_SHAPE, mean_frames[codes] / GAMMA_SHAPE))).astype(np.int64)
        if lengths.sum() >= n_frames:
            break
        n_bouts *= 2
    labels = np.repeat(codes.astype(np.int16), lengths)[:n_frames]
    n_unknown = rng.poisson(UNKNOWN_RUNS_PER_MIN * n_frames / FPS / 60.0)
    starts = rng.integers(0, n_frames, size=n_unknown)
    stops = np.minimum(starts + rng.integers(1, 31, size=n_unknown), n_frames)
    for start, stop in zip(starts, stops, strict=True):
        labels[start:stop] = -1
    return labels


def session_dataset(labels: np.ndarray, n_behaviors: int) -> Any:
    """The label Dataset ``add_session`` takes: ``state (time, individual)``, attrs ``fps``."""
    import xarray as xr

    return xr.Dataset(
        {"state": (("time", "individual"), labels[:, None], {"n_states": n_behaviors})},
        coords={"time": np.arange(len(labels)) / FPS, "individual": ["individual_0"]},
        attrs={"fps": FPS, "time_unit": "seconds"},
    )


def frames_per_session(minutes: float) -> int:
    return round(minutes * 60 * FPS)


def all_labels(args: argparse.Namespace, metadata: pd.DataFrame) -> dict[str, np.ndarray]:
    """Labels of every session (seeded per session: ``(seed, index)``)."""
    n_frames = frames_per_session(args.minutes)
    return {
        name: generate_labels(np.random.default_rng([args.seed, i]), n_frames, args.behaviors, group == "treated")
        for i, (name, group) in enumerate(zip(metadata["session"], metadata["group"], strict=True))
    }


# --------------------------------------------------------------------------- the store
def store_is_complete(path: Path, names: list[str], n_frames: int) -> bool:
    """True when ``path`` holds a store with exactly these sessions of ``n_frames`` frames and metadata."""
    from behaviorlab.results.store import ResultsStore

    try:
        store = ResultsStore(path)
        entries = store.session_infos()
    except Exception:  # anything unreadable is rebuilt
        return False
    return (
        sorted(entries) == names
        and all(e.get("n_frames") == n_frames for e in entries.values())
        and store.metadata_version is not None
        and store.settings.get("bin_s") == BIN_S
    )


def build_store(path: Path, labels: dict[str, np.ndarray], metadata: pd.DataFrame, n_behaviors: int) -> list[float]:
    """Create the store and add every session; return the seconds of each ``add_session`` call."""
    from behaviorlab.results.store import ResultsStore

    if path.exists():
        shutil.rmtree(path)
    store = ResultsStore.create(path, bin_s=BIN_S)
    times = []
    for i, (name, codes) in enumerate(labels.items()):
        ds = session_dataset(codes, n_behaviors)
        start = time.perf_counter()
        store.add_session(name, ds, save_dataset=False)
        times.append(time.perf_counter() - start)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1} sessions, {sum(times):.1f} s", flush=True)
    store.set_metadata(metadata)
    return times


def add_cost_by_store_size(
    labels: dict[str, np.ndarray], n_behaviors: int, *, small: int = 100, large: int = 10_000, repeats: int = 20
) -> dict[str, float]:
    """Seconds per ``add_session`` in a store of ``small`` sessions and in one of ``large``.

    The small store gets ``small`` real sessions.  It grows to ``large`` by
    catalog entries written in one transaction
    (:meth:`~behaviorlab.results.catalog.Catalog.put_many`), copies of the
    real entries under new names (their files are not copied: an add does not
    read other sessions' files), so that the catalog has the size of a
    10,000-session store without an hour of building.  At each size
    ``repeats`` new sessions are added and each call is timed; the medians
    and their ratio are reported.
    """
    from behaviorlab.results.catalog import Catalog
    from behaviorlab.results.store import ResultsStore

    items = list(labels.items())
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="store_add_") as tmp:
        store = ResultsStore.create(Path(tmp) / "store", bin_s=BIN_S)
        for i in range(small):
            codes = items[i % len(items)][1]
            store.add_session(f"base_{i:05d}", session_dataset(codes, n_behaviors), save_dataset=False)

        def timed(tag: str) -> float:
            seconds = []
            for r in range(repeats):
                ds = session_dataset(items[r % len(items)][1], n_behaviors)
                start = time.perf_counter()
                store.add_session(f"{tag}_{r:03d}", ds, save_dataset=False)
                seconds.append(time.perf_counter() - start)
            return statistics.median(seconds)

        out[f"store_add_seconds_at_{small}"] = timed("at_small")
        base = store.session_infos()
        copies = {f"copy_{k:05d}": base[f"base_{k % small:05d}"] for k in range(large - len(base))}
        Catalog(store.path).put_many(copies, {})
        out["store_sessions_in_large_catalog"] = len(store.sessions)
        out[f"store_add_seconds_at_{large}"] = timed("at_large")
        out["catalog_kib_at_large"] = (store.path / "catalog.sqlite").stat().st_size / 1024
    out[f"store_add_seconds_at_{large}_vs_{small}_ratio"] = (
        out[f"store_add_seconds_at_{large}"] / out[f"store_add_seconds_at_{small}"]
    )
    return out


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# --------------------------------------------------------------------------- queries
def time_query(path: Path, sql: str, repeats: int) -> tuple[float, float, pd.DataFrame]:
    """(first call s, median of ``repeats`` further calls s, result) of fresh ``ResultsStore(path).query``."""
    from behaviorlab.results.store import ResultsStore

    times = []
    result = pd.DataFrame()
    for _ in range(repeats + 1):
        start = time.perf_counter()
        result = ResultsStore(path).query(sql)
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:]), result


def time_connect(path: Path, repeats: int) -> float:
    """Median seconds of ``ResultsStore(path).connect()`` (manifest and views, no query)."""
    from behaviorlab.results.store import ResultsStore

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ResultsStore(path).connect().close()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _table_files(path: Path, table: str) -> tuple[list[Path], Path]:
    from behaviorlab.results.store import ResultsStore

    store = ResultsStore(path)
    files = [path / e["folder"] / e["tables"][table] for _, e in sorted(store.session_infos().items())]
    return files, path / str(store.metadata_version)


def pandas_time_budget(path: Path) -> pd.DataFrame:
    """The time-budget query in pandas: read each session's ``behavior_stats`` Parquet file, merge, group."""
    files, meta = _table_files(path, "behavior_stats")
    columns = ["session", "behavior", "time_budget_pct"]
    stats = pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)
    table = stats.merge(pd.read_parquet(meta, columns=["session", "group"]), on="session", how="left")
    out = table.groupby(["group", "behavior"])["time_budget_pct"].agg(n="count", mean_pct="mean", sd_pct="std")
    return out.reset_index()


def pandas_bout_durations(path: Path) -> pd.DataFrame:
    """The bout-duration query in pandas: read each session's ``bouts`` Parquet file, merge, group."""
    files, meta = _table_files(path, "bouts")
    bouts = pd.concat([pd.read_parquet(f, columns=["session", "behavior", "duration_s"]) for f in files])
    table = bouts.merge(pd.read_parquet(meta, columns=["session", "group"]), on="session", how="left")
    grouped = table.groupby(["group", "behavior"])["duration_s"]
    out = grouped.agg(bouts="count", median_s="median")
    out["p90_s"] = grouped.quantile(0.9)
    return out.reset_index()


def time_pandas(fn: Any, path: Path, repeats: int) -> tuple[float, pd.DataFrame]:
    times = []
    result = pd.DataFrame()
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --------------------------------------------------------------------------- expected answers
def expected_time_budget(labels: dict[str, np.ndarray], metadata: pd.DataFrame, n_behaviors: int) -> pd.DataFrame:
    """The time-budget answer from the generated labels alone: share of known frames, per session and behavior."""
    rows = []
    for name, codes in labels.items():
        known = codes[codes >= 0]
        pct = 100.0 * np.bincount(known, minlength=n_behaviors) / len(known)
        rows.append(pd.DataFrame({"session": name, "behavior": [f"state_{k}" for k in range(n_behaviors)], "pct": pct}))
    table = pd.concat(rows, ignore_index=True).merge(metadata[["session", "group"]], on="session")
    out = table.groupby(["group", "behavior"])["pct"].agg(n="count", mean_pct="mean", sd_pct="std")
    return out.reset_index()


def expected_bouts(labels: dict[str, np.ndarray], metadata: pd.DataFrame) -> pd.DataFrame:
    """The bout-duration answer from the generated labels alone: runs of one code (unknown frames end them)."""
    rows = []
    for name, codes in labels.items():
        starts = np.flatnonzero(np.diff(codes, prepend=np.int16(-2)))
        lengths = np.diff(np.append(starts, len(codes)))
        keep = codes[starts] >= 0
        rows.append(pd.DataFrame({"session": name, "code": codes[starts][keep], "duration_s": lengths[keep] / FPS}))
    table = pd.concat(rows, ignore_index=True).merge(metadata[["session", "group"]], on="session")
    table["behavior"] = "state_" + table["code"].astype(str)
    grouped = table.groupby(["group", "behavior"])["duration_s"]
    out = grouped.agg(bouts="count", median_s="median")
    out["p90_s"] = grouped.quantile(0.9)
    return out.reset_index()


def check_same(name: str, got: pd.DataFrame, expected: pd.DataFrame, what: str) -> None:
    """Raise when two aggregated tables differ (rows sorted by group and behavior; floats to 1e-9)."""
    got = got.sort_values(["group", "behavior"]).reset_index(drop=True)
    expected = expected.sort_values(["group", "behavior"]).reset_index(drop=True)[list(got.columns)]
    try:
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9, atol=1e-9)
    except AssertionError as exc:
        raise RuntimeError(f"{name}: the DuckDB result differs from {what}:\n{exc}") from exc


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    names = session_names(args.sessions)
    metadata = session_metadata(names)
    n_frames = frames_per_session(args.minutes)
    start = time.perf_counter()
    labels = all_labels(args, metadata)
    generate_s = time.perf_counter() - start

    tmp = None
    if args.store is None:
        tmp = tempfile.TemporaryDirectory(prefix="store_query_")
        path = Path(tmp.name) / "store"
    else:
        path = Path(args.store)
    try:
        metrics: dict[str, Any] = {
            "sessions": args.sessions,
            "behaviors": args.behaviors,
            "frames_per_session": n_frames,
            "generate_labels_s": generate_s,
            "load_average_1min_at_start": round(load_at_start, 2),
        }
        reused = not args.rebuild and args.store is not None and store_is_complete(path, names, n_frames)
        if reused:
            print(f"reusing the complete store in {path}")
            metrics["build_reused"] = "yes"
        else:
            print(f"building a store of {args.sessions} sessions x {n_frames} frames in {path}")
            add_times = build_store(path, labels, metadata, args.behaviors)
            tenth = max(1, len(add_times) // 10)
            metrics.update(
                build_reused="no",
                build_s=sum(add_times),
                build_s_per_session=statistics.mean(add_times),
                build_s_per_session_first_10pct=statistics.mean(add_times[:tenth]),
                build_s_per_session_last_10pct=statistics.mean(add_times[-tenth:]),
            )
        metrics["store_size_mb"] = folder_mib(path) * 2**20 / 1e6
        metrics[f"store_{args.sessions}_sessions_mib"] = folder_mib(path)
        metrics.update(add_cost_by_store_size(labels, args.behaviors, small=min(100, args.sessions)))

        expected_tb = expected_time_budget(labels, metadata, args.behaviors)
        expected_bd = expected_bouts(labels, metadata)
        metrics["bout_rows"] = int(expected_bd["bouts"].sum())

        tb_cold, tb_median, tb = time_query(path, TIME_BUDGET_SQL, args.repeats)
        bd_cold, bd_median, bd = time_query(path, BOUT_DURATION_SQL, args.repeats)
        check_same("time budget", tb, expected_tb, "the time budget computed from the generated labels")
        check_same("bout durations", bd, expected_bd, "the bouts computed from the generated labels")
        if int(bd["bouts"].sum()) != metrics["bout_rows"]:
            raise RuntimeError(f"the store holds {int(bd['bouts'].sum())} bouts, expected {metrics['bout_rows']}")
        pd_tb_s, pd_tb = time_pandas(pandas_time_budget, path, args.repeats)
        pd_bd_s, pd_bd = time_pandas(pandas_bout_durations, path, args.repeats)
        check_same("time budget", tb, pd_tb, "pandas on the Parquet files")
        check_same("bout durations", bd, pd_bd, "pandas on the Parquet files")
        connect_s = time_connect(path, args.repeats)
        metrics.update(
            time_budget_query_median_s=tb_median,
            time_budget_query_cold_s=tb_cold,
            bout_duration_query_median_s=bd_median,
            bout_duration_query_cold_s=bd_cold,
            store_connect_median_s=connect_s,
            pandas_time_budget_s=pd_tb_s,
            pandas_bout_duration_s=pd_bd_s,
            duckdb_vs_pandas_speedup_time_budget=pd_tb_s / tb_median,
            duckdb_vs_pandas_speedup_bout_duration=pd_bd_s / bd_median,
            target_query_s=TARGET_QUERY_S,
            time_budget_query_pass="pass" if tb_median <= TARGET_QUERY_S else "fail",
            bout_duration_query_pass="pass" if bd_median <= TARGET_QUERY_S else "fail",
            result_rows_time_budget=len(tb),
            result_rows_bout_duration=len(bd),
            load_average_1min_at_end=round(os.getloadavg()[0], 2),
        )
    finally:
        if tmp is not None:
            tmp.cleanup()

    rows = [
        ("time budget by group (DuckDB)", tb_cold, tb_median, pd_tb_s, pd_tb_s / tb_median, len(tb)),
        ("bout durations by group (DuckDB)", bd_cold, bd_median, pd_bd_s, pd_bd_s / bd_median, len(bd)),
    ]
    table = format_table(["query", "first s", "median s", "pandas s", "speedup", "rows"], rows)
    build = (
        "build reused"
        if reused
        else f"build {metrics['build_s']:.1f} s ({1000 * metrics['build_s_per_session']:.0f} ms per session)"
    )
    table += (
        f"\n{args.sessions} sessions x {n_frames} frames, {args.behaviors} behaviors, {metrics['bout_rows']} bouts; "
        f"{build}; store {metrics['store_size_mb']:.1f} MB; connect {connect_s:.3f} s; "
        f"target median <= {TARGET_QUERY_S:g} s: time budget {metrics['time_budget_query_pass']}, "
        f"bout durations {metrics['bout_duration_query_pass']}; load average {load_at_start:.2f} at start"
    )
    config = {
        "sessions": args.sessions,
        "minutes": args.minutes,
        "fps": FPS,
        "individuals": 1,
        "behaviors": args.behaviors,
        "seed": args.seed,
        "bin_s": BIN_S,
        "mean_bout_s_range": list(MEAN_BOUT_S),
        "gamma_shape": GAMMA_SHAPE,
        "treated_dwell_factor_behaviors_0_2": TREATED_DWELL,
        "unknown_runs_per_min": UNKNOWN_RUNS_PER_MIN,
        "groups": list(GROUPS),
        "days": list(DAYS),
        "repeats": args.repeats,
        "add_session": "ResultsStore.create(path, bin_s=60); add_session(name, ds, save_dataset=False)",
        "time_budget_sql": TIME_BUDGET_SQL,
        "bout_duration_sql": BOUT_DURATION_SQL,
        "query_timing": "fresh ResultsStore(path).query(sql) per call (manifest + views included); "
        "first call and median of the repeats; files in the OS page cache",
        "pandas_peer": "pd.read_parquet per session file (needed columns), concat, merge metadata, groupby",
    }
    write_results("store_query", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

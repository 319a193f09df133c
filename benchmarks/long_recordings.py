"""Long recordings (issue 25): the size of an hour of features on disk, written the old way and the new way.

``--minutes`` (60) of one synthetic animal at 30 fps
(:func:`behaviorlab.synthetic.simulate.simulate_poses`, seed ``--seed``) go through
:func:`behaviorlab.features.pipeline.compute_session_features` (cleaning,
features, 25-frequency Morlet spectrogram of the postural features) and the
result is saved as ``behaviorlab run`` saves it (``features``,
``spectrogram``, ``spectrogram_total_amplitude``): once uncompressed (the
format before this change) and once with
:func:`behaviorlab.io.save.save_netcdf` (gzip level 1, shuffled, chunks of
about 4 MiB along time).  The compressed file is read back and compared with
the Dataset in memory (the script raises when they differ).

Metric ``features_1h_file_mib`` (target <= 150) is measured for ``--minutes``
60; the other keys of the issue (one-hour video prediction, ten hours of
poses through the whole pipeline, the store at 1,000 and 10,000 sessions)
are measured elsewhere or not yet: ``store_1000_sessions_mib`` and
``store_add_seconds_at_10000_vs_100_ratio`` by ``benchmarks/store_query.py``.

Run ``python benchmarks/long_recordings.py --help``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_RESULTS_DIR, format_table, write_results

TARGET_FEATURES_1H_MIB = 150.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import xarray as xr

    from behaviorlab.features.pipeline import compute_session_features
    from behaviorlab.io.load import load_netcdf
    from behaviorlab.io.save import save_netcdf
    from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses

    started = time.perf_counter()
    poses, _ = simulate_poses(SyntheticConfig(duration_s=60.0 * args.minutes, seed=args.seed))
    simulate_s = time.perf_counter() - started
    started = time.perf_counter()
    result = compute_session_features(poses)
    features_s = time.perf_counter() - started
    keep = [v for v in ("features", "spectrogram", "spectrogram_total_amplitude") if v in result]
    ds = result[keep]
    with tempfile.TemporaryDirectory(prefix="long_recordings_") as tmp:
        plain = Path(tmp) / "plain.nc"
        started = time.perf_counter()
        ds.to_netcdf(plain, engine="h5netcdf")  # how a features file was written before: no filters
        plain_s = time.perf_counter() - started
        packed = Path(tmp) / "features.nc"
        started = time.perf_counter()
        save_netcdf(ds, packed)
        packed_s = time.perf_counter() - started
        started = time.perf_counter()
        back = load_netcdf(packed)
        read_s = time.perf_counter() - started
        xr.testing.assert_equal(back[keep], ds)
        plain_mib, packed_mib = plain.stat().st_size / 2**20, packed.stat().st_size / 2**20
    hours = args.minutes / 60.0
    metrics = {
        "minutes": args.minutes,
        "frames": int(ds.sizes["time"]),
        "spectrogram_shape": " x ".join(f"{d} {n}" for d, n in ds["spectrogram"].sizes.items()),
        "simulate_s": round(simulate_s, 1),
        "features_and_spectrogram_s": round(features_s, 1),
        "features_file_mib_uncompressed": round(plain_mib, 1),
        "features_file_mib": round(packed_mib, 1),
        "write_s_uncompressed": round(plain_s, 1),
        "write_s": round(packed_s, 1),
        "read_s": round(read_s, 1),
        "compression_ratio": round(plain_mib / packed_mib, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if abs(hours - 1.0) < 1e-9:
        metrics["features_1h_file_mib"] = round(packed_mib, 1)
        metrics["features_1h_file_mib_target"] = TARGET_FEATURES_1H_MIB
        metrics["features_1h_file_pass"] = "pass" if packed_mib <= TARGET_FEATURES_1H_MIB else "fail"
    rows = [[k, v] for k, v in metrics.items()]
    write_results(
        "long_recordings",
        metrics,
        config=vars(args) | {"target_features_1h_mib": TARGET_FEATURES_1H_MIB},
        table=format_table(["metric", "value"], rows),
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()

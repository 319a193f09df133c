"""Long recordings and the classifier: a fit reads long annotations in blocks, predict reads a lazy file in blocks."""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import uniform_filter1d

import behaviorlab.behavior.classify as classify
from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.behavior.classify_blocks import FIT_BLOCK_S, FIT_ROWS_PER_TRAIN_FRAME, fit_blocks
from behaviorlab.behavior.classify_features import build_design, fingerprint
from behaviorlab.errors import SchemaError
from behaviorlab.features.pipeline import load_session_features
from behaviorlab.io.save import save_netcdf

FPS = 10.0


def _long_session(seed: int, n: int, extra: int = 0) -> tuple[xr.Dataset, xr.DataArray]:
    """Behavior A is on when f0 is high (f0 = 2 A + noise); ``extra`` noise features ride along."""
    rng = np.random.default_rng(seed)
    durations = rng.uniform(1.0, 6.0, size=n // 10 + 2) * FPS
    on = np.repeat(np.arange(len(durations)) % 2 == 1, durations.astype(int))[:n]
    on = np.concatenate([on, np.zeros(n - len(on), dtype=bool)])
    noise = uniform_filter1d(rng.normal(size=(n, 1, 2 + extra)), 9, axis=0) * 3.0
    values = 0.3 * noise
    values[:, 0, 0] += 2.0 * on
    names = ["f0", "f1", *(f"noise{i}" for i in range(extra))]
    coords = {"time": np.arange(n) / FPS, "individual": ["m1"]}
    features = xr.DataArray(
        values.astype(np.float32), dims=("time", "individual", "feature"), coords={**coords, "feature": names}
    )
    labels = xr.DataArray(
        on[:, None, None], dims=("time", "individual", "behavior"), coords={**coords, "behavior": ["A"]}
    )
    return xr.Dataset({"features": features}, attrs={"fps": FPS}), labels


def test_a_short_annotation_is_read_whole():
    ds, labels = _long_session(0, 3000)
    kwargs = {"variable": "features", "behaviors": ["A"], "context_s": 1.0, "rng": np.random.default_rng(0)}
    assert fit_blocks([("s", ds, labels)], max_rows=3000, **kwargs) is None
    assert fit_blocks([("s", ds, labels)], max_rows=None, **kwargs) is None


def test_long_annotations_are_read_as_blocks_whose_window_features_equal_the_whole_sessions():
    sessions = [_long_session(1, 9000), _long_session(2, 7000)]
    triples = [(f"s{i}", ds, lab) for i, (ds, lab) in enumerate(sessions)]
    features, labels = fit_blocks(
        triples, variable="features", behaviors=["A"], max_rows=4000, context_s=1.0, rng=np.random.default_rng(0)
    )
    block = int(FIT_BLOCK_S * FPS)
    labeled = sum(int(np.isfinite(lab.values[:, 0, 0]).sum()) for lab in labels.values())
    assert 4000 <= labeled < 4000 + block  # blocks are drawn until they hold max_rows rows
    assert len({key.split("[")[0] for key in features}) == 2  # drawn from both sessions
    windows = {"variable": "features", "windows_s": (0.5, 1.0), "stats": ("mean", "std")}
    for key, part in features.items():
        name, span = key[:-1].split("[")
        start, stop = map(int, span.split(":"))
        ds, lab = sessions[int(name[1:])]
        known = np.isfinite(labels[key].values[:, 0, 0])
        times = part["time"].values[known]
        np.testing.assert_array_equal(times, ds["time"].values[start:stop])  # the block's own frames are labeled
        assert len(part["time"]) > stop - start or (start == 0 and stop == ds.sizes["time"])  # read with context
        np.testing.assert_array_equal(labels[key].values[known, 0, 0], lab.values[start:stop, 0, 0])
        whole = build_design({name: ds}, **windows)
        here = build_design({key: part}, **windows)
        np.testing.assert_allclose(here.X[known], whole.X[start:stop], rtol=1e-6, atol=1e-6)


def test_a_fit_on_hours_of_annotation_reads_a_bounded_number_of_rows_and_still_learns(monkeypatch):
    long, labels = _long_session(3, 36_000)  # one hour at 10 fps
    built = []
    real = classify.build_design

    def spy(*args, **kwargs):
        design = real(*args, **kwargs)
        built.append(len(design.X))
        return design

    monkeypatch.setattr(classify, "build_design", spy)
    clf = BehaviorClassifier(max_train_frames=500, max_iter=30, windows_s=(0.5,), random_state=0)
    clf.fit({"long": long}, {"long": labels})
    cap = FIT_ROWS_PER_TRAIN_FRAME * 500
    assert built[0] < cap + 2 * FIT_BLOCK_S * FPS  # not the 36,000 rows of the whole hour
    test, truth = _long_session(4, 3000)
    predicted = clf.predict(test).sel(behavior="A").values[:, 0]
    tp = np.sum(predicted & truth.values[:, 0, 0])
    f1 = 2 * tp / (predicted.sum() + truth.values.sum())
    assert f1 > 0.9
    # the session is recognised as a training session (digests of the whole session, not of its blocks)
    assert clf.training_sessions({"long": long, "new": test}) == {"long": True, "new": False}
    # the blocks are drawn from random_state: a second fit is the same model
    again = BehaviorClassifier(max_train_frames=500, max_iter=30, windows_s=(0.5,), random_state=0)
    again.fit({"long": long}, {"long": labels})
    xr.testing.assert_equal(again.predict_proba(test), clf.predict_proba(test))
    # labels off the features' frames are refused as a whole fit refuses them, though only blocks are read
    with pytest.raises(SchemaError, match="do not match its feature times"):
        again.fit({"long": long}, {"long": labels.isel(time=slice(1, None))})


def test_the_fingerprint_read_in_blocks_is_the_digest_of_the_whole_array():
    ds, _ = _long_session(5, 70_000)  # more than one fingerprint block
    source = ds["features"]
    values = np.ascontiguousarray(source.values, dtype=np.float64)
    digest = hashlib.sha256(repr((source.dims, values.shape)).encode())
    digest.update(values.tobytes())  # how models saved before kept their training sessions' digests
    assert fingerprint(source) == digest.hexdigest()


def test_a_long_session_is_predicted_from_a_lazily_read_file_a_block_at_a_time(tmp_path, monkeypatch):
    train, labels = _long_session(6, 3000)
    clf = BehaviorClassifier(max_iter=30, windows_s=(0.5,), random_state=0).fit(train, labels)
    long, _ = _long_session(7, 60_000, extra=126)  # 128 features, 29 MB; the classifier reads 2 of them
    path = save_netcdf(long, tmp_path / "long.nc")
    expected = clf.predict_proba(long.assign(features=long["features"].sel(feature=["f0", "f1"])))
    monkeypatch.setattr(classify, "PREDICT_BLOCK_FRAMES", 2048)
    tracemalloc.start()
    try:
        with load_session_features(path, lazy=True) as lazy:
            opened = tracemalloc.get_traced_memory()[1]
            proba = clf.predict_proba(lazy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    nbytes = long["features"].nbytes
    # measured: opening 1.4 MiB, the whole predict 4.3 MiB; the file read whole: 59 MiB, twice the variable
    assert opened < nbytes / 8  # opening reads no values
    assert peak < nbytes / 4  # one block at a time, never the session's 128 features
    xr.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_lazily_read_file_holds_the_same_values(tmp_path, lazy):
    long, _ = _long_session(8, 50_000, extra=30)
    path = save_netcdf(long, tmp_path / "f.nc")
    with load_session_features(path, lazy=lazy) as back:
        block = back["features"].isel(time=slice(20_000, 21_000)).values
        np.testing.assert_array_equal(block, long["features"].values[20_000:21_000])
        xr.testing.assert_identical(back["features"], long["features"])

"""Export bundles: the bytes of each format reopen as the store's tables and sessions."""

from __future__ import annotations

import io
import tempfile
import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from behaviorlab.results.export_bundle import BUNDLE_FORMATS, bundle_file_name, export_bundle, table_csv
from behaviorlab.results.store import ResultsStore, StoreError

FPS = 30.0


def _session(seed: int, n: int = 120) -> xr.Dataset:
    """One animal: poses of a random walk and HMM states."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(0, 1, size=(n, 2, 2, 1)).cumsum(axis=0)
    states = np.repeat(rng.integers(0, 3, size=(n // 10, 1)), 10, axis=0)
    return xr.Dataset(
        {
            "position": (("time", "space", "keypoint", "individual"), pos),
            "confidence": (("time", "keypoint", "individual"), np.ones((n, 2, 1))),
            "state": (("time", "individual"), states, {"n_states": 3}),
        },
        coords={"time": np.arange(n) / FPS, "space": ["x", "y"], "keypoint": ["nose", "tail"], "individual": ["m1"]},
        attrs={"fps": FPS, "source_software": "test"},
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultsStore:
    store = ResultsStore.create(tmp_path_factory.mktemp("bundle") / "results")
    for name, seed in (("s1", 1), ("s2", 2)):
        store.add_session(name, _session(seed))
    store.set_metadata(pd.DataFrame({"session": ["s1", "s2"], "group": ["control", "treated"]}))
    return store


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_every_format_reopens(store, tmp_path, monkeypatch):
    system_tmp = tmp_path / "system_tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))  # where a temporary file would go by default
    before = sorted(p.relative_to(store.path) for p in store.path.rglob("*"))
    bundle = export_bundle(store)
    assert list(bundle) == list(BUNDLE_FORMATS)
    # built inside the store and removed: nothing is left, and nothing was written outside the project
    assert sorted(p.relative_to(store.path) for p in store.path.rglob("*")) == before
    assert list(system_tmp.iterdir()) == []

    csv = _members(bundle["csv"])
    assert {"csv/bouts.csv", "csv/behavior_stats.csv", "csv/sessions.csv", "csv/metadata.csv"} <= set(csv)
    bouts = pd.read_csv(io.BytesIO(csv["csv/bouts.csv"]))
    assert len(bouts) == len(store.table("bouts")) > 0

    parquet = _members(bundle["parquet"])
    stats = pd.read_parquet(io.BytesIO(parquet["parquet/behavior_stats.parquet"]))
    expected = store.table("behavior_stats")
    keys = ["session", "individual", "source", "behavior"]
    pd.testing.assert_frame_equal(
        stats.sort_values(keys).reset_index(drop=True), expected.sort_values(keys).reset_index(drop=True)
    )

    sheets = pd.read_excel(io.BytesIO(bundle["excel"]), sheet_name=None)
    assert sheets["metadata"]["group"].tolist() == ["control", "treated"]
    assert "frame_labels" not in sheets

    nwb = _members(bundle["nwb"])
    assert sorted(nwb) == ["nwb/s1.nwb", "nwb/s2.nwb"]
    assert all(data.startswith(b"\x89HDF\r\n\x1a\n") for data in nwb.values())  # HDF5 files


def test_one_format_and_some_sessions(store):
    bundle = export_bundle(store, ["nwb"], sessions=["s2"])
    assert list(bundle) == ["nwb"]
    assert list(_members(bundle["nwb"])) == ["nwb/s2.nwb"]


def test_table_csv_and_file_names(store):
    table = pd.read_csv(io.BytesIO(table_csv(store, "metadata")))
    assert table.to_dict("list") == {"session": ["s1", "s2"], "group": ["control", "treated"]}
    assert bundle_file_name(store, "nwb") == "results_nwb.zip"
    assert bundle_file_name(store.path, "excel") == "results.xlsx"


def test_unknown_format_is_an_error(store):
    with pytest.raises(StoreError, match="unknown bundle formats"):
        export_bundle(store, ["csv", "boris"])
    with pytest.raises(StoreError, match="unknown bundle format"):
        bundle_file_name(store, "pdf")

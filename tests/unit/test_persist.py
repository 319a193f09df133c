"""Model files saved before the package moved into stage subpackages still load and predict the same."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from behaviorlab import _persist
from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.maps import BehaviorMap

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "models_flat_layout"


def test_every_renamed_module_exists_and_old_names_are_gone():
    import importlib

    for old, new in _persist.RENAMED_MODULES.items():
        importlib.import_module(new)
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)


def test_a_map_saved_by_the_flat_layout_loads_and_gives_the_same_regions():
    model = BehaviorMap.load(OLD / "map.pkl")
    assert type(model).__module__ == "behaviorlab.behavior.maps"
    np.testing.assert_array_equal(model.predict(np.load(OLD / "map_x.npy")), np.load(OLD / "map_regions.npy"))


def test_an_hmm_saved_by_the_flat_layout_loads_and_gives_the_same_states():
    model = EthogramHMM.load(OLD / "hmm.pkl")
    states = model.predict(np.load(OLD / "hmm_x.npy"), lengths=[100])
    np.testing.assert_array_equal(states, np.load(OLD / "hmm_states.npy"))


def test_a_classifier_saved_by_the_flat_layout_loads_and_gives_the_same_labels():
    model = BehaviorClassifier.load(OLD / "classifier.pkl")
    values = np.load(OLD / "classifier_x_s0.npy")  # (time, individual, feature), 30 fps, made by make_models.py
    features = xr.DataArray(
        values,
        dims=("time", "individual", "feature"),
        coords={
            "time": np.arange(len(values)) / 30.0,
            "individual": ["m1"],
            "feature": ["f0", "f1", "f2", "f3"],
            "units": ("feature", ["cm"] * 4),
        },
    )
    predicted = model.predict(xr.Dataset({"features": features}, attrs={"fps": 30.0, "session": "s0"}))
    np.testing.assert_array_equal(np.asarray(predicted.values), np.load(OLD / "classifier_pred.npy"))


def test_read_pickle_follows_the_rename_table():
    # a pickle naming a class by its flat-layout module, as cached stage outputs written before the move do
    data = pickle.dumps(BehaviorMap(random_state=3), protocol=0)  # text opcodes: names without length prefixes
    old = data.replace(b"behaviorlab.behavior.maps", b"behaviorlab.maps")
    assert old != data
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old)
    loaded = _persist.read_pickle(io.BytesIO(old))
    assert isinstance(loaded, BehaviorMap)
    assert loaded.random_state == 3

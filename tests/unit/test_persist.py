"""Model files saved before the package moved into stage subpackages still load and predict the same."""

from __future__ import annotations

import io
import pickle
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from behaviorlab import _persist, model_trust
from behaviorlab.behavior.classify import BehaviorClassifier
from behaviorlab.behavior.ethogram import EthogramHMM
from behaviorlab.behavior.maps import BehaviorMap
from behaviorlab.environment import package_versions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models_flat_layout"


@pytest.fixture(scope="module")
def old(tmp_path_factory) -> Path:
    """The flat layout's model files, copied out of the repository and trusted (``--trust``) there."""
    folder = tmp_path_factory.mktemp("models_flat_layout")
    for file in FIXTURES.iterdir():
        shutil.copyfile(file, folder / file.name)
    model_trust.trust([folder])
    return folder


def load_old(cls, path: Path):
    """Load a fixture model; it warns exactly about the installed packages that differ from the recorded ones.

    The fixtures were saved with the package versions of their day, and a clean
    install takes the newest releases, so the warning depends on the machine:
    whatever it names must really have changed, and nothing changed means no warning.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", _persist.ModelVersionWarning)
        model = cls.load(path)
    saved, now = model.saved_versions_, package_versions()
    changed = {name: (old, now.get(name)) for name, old in saved.items() if now.get(name) != old}
    messages = [str(w.message) for w in caught if issubclass(w.category, _persist.ModelVersionWarning)]
    assert len(messages) <= 1, messages
    named = dict(
        (m.group(1), (m.group(2), m.group(3)))
        for text in messages
        for m in re.finditer(r"([\w.-]+) (\S+) -> ([^,)]+)", text.split("versions (", 1)[1])
    )
    assert not messages or named, messages  # a warning names what changed, in the form parsed here
    assert named.keys() <= changed.keys(), (named, changed)
    assert all(changed[name][0] == old for name, (old, _) in named.items()), (named, changed)
    if not changed:
        assert not messages
    return model


def test_every_renamed_module_exists_and_old_names_are_gone():
    import importlib

    for old, new in _persist.RENAMED_MODULES.items():
        importlib.import_module(new)
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)


def test_a_map_saved_by_the_flat_layout_loads_and_gives_the_same_regions(old):
    model = load_old(BehaviorMap, old / "map.pkl")
    assert type(model).__module__ == "behaviorlab.behavior.maps"
    np.testing.assert_array_equal(model.predict(np.load(old / "map_x.npy")), np.load(old / "map_regions.npy"))


def test_an_hmm_saved_by_the_flat_layout_loads_and_gives_the_same_states(old):
    model = load_old(EthogramHMM, old / "hmm.pkl")
    states = model.predict(np.load(old / "hmm_x.npy"), lengths=[100])
    np.testing.assert_array_equal(states, np.load(old / "hmm_states.npy"))


def test_a_classifier_saved_by_the_flat_layout_loads_and_gives_the_same_labels(old):
    model = load_old(BehaviorClassifier, old / "classifier.pkl")
    values = np.load(old / "classifier_x_s0.npy")  # (time, individual, feature), 30 fps, made by make_models.py
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
    np.testing.assert_array_equal(np.asarray(predicted.values), np.load(old / "classifier_pred.npy"))
    # parameters added since keep the values the old model was fitted with: no smoothing, scikit-learn's trees
    params = model.get_params()
    assert (params["smoothing_s"], params["min_samples_leaf"], params["l2_regularization"]) == (0.0, 20, 0.0)
    labeled = model.label(xr.Dataset({"features": features}, attrs={"fps": 30.0, "session": "s0"}))
    np.testing.assert_array_equal(labeled["behavior_prediction"].values, np.load(old / "classifier_pred.npy"))


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

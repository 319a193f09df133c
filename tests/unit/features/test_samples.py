"""Spectrogram rows computed as they are read equal the stored spectrogram, for the estimators too."""

from __future__ import annotations

import numpy as np
import pytest

from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FeatureConfig
from behaviorlab.features.pipeline import SessionFeaturesConfig, SpectrogramConfig, session_features
from behaviorlab.features.samples import session_samples
from behaviorlab.features.wavelets import SPECTROGRAM_RECIPE, SpectrogramRows
from behaviorlab.synthetic.simulate import SyntheticConfig, simulate_poses
from behaviorlab.trajectories.filtering import clean_poses


@pytest.fixture(scope="module")
def sessions():
    """Two generated sessions (one with two animals), features with and without the stored spectrogram."""
    config = SessionFeaturesConfig(features=FeatureConfig(social=True), spectrogram=SpectrogramConfig(n_frequencies=12))
    stored, recipe = {}, {}
    for name, seed, n_animals in (("a", 1, 1), ("b", 2, 2)):
        poses, _ = simulate_poses(SyntheticConfig(duration_s=60.0, seed=seed, n_animals=n_animals))
        if n_animals == 2:  # a missing stretch: invalid rows with their cone of influence
            poses["position"][700:720, :, :, 1] = np.nan
        cleaned = clean_poses(poses)
        stored[name] = session_features(cleaned, config)[["features", "spectrogram"]]
        recipe[name] = session_features(cleaned, config, spectrogram="recipe")[["features"]]
        assert SPECTROGRAM_RECIPE in recipe[name].attrs
    return stored, recipe


def test_rows_computed_as_read_equal_the_stored_spectrogram(sessions, monkeypatch):
    import behaviorlab.features.wavelets as wavelets

    stored, recipe = sessions
    eager = session_samples(stored, "spectrogram")
    monkeypatch.setattr(SpectrogramRows.__init__, "__defaults__", (wavelets.OMEGA0, True, 500))  # small blocks
    lazy = session_samples(recipe, "spectrogram")
    assert isinstance(lazy.X, SpectrogramRows)
    assert lazy.X.shape == eager.X.shape
    assert lazy.index.equals(eager.index)
    np.testing.assert_array_equal(lazy.valid, eager.valid)
    assert (~lazy.valid).sum() > 40  # the gap and its margin
    np.testing.assert_allclose(np.asarray(lazy.X), eager.X, rtol=1e-5, atol=1e-8)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(eager.X), 700, replace=False)  # any order, across recordings and blocks
    np.testing.assert_allclose(lazy.X[rows], eager.X[rows], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(lazy.X[lazy.valid][:50], eager.X[eager.valid][:50], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(lazy.X[1000:1200], eager.X[1000:1200], rtol=1e-5, atol=1e-8)
    with pytest.raises(TypeError, match="rows only"):
        lazy.X[0, 1]


def test_an_hmm_fitted_on_rows_computed_as_read_matches_the_stored_spectrogram(sessions):
    from behaviorlab.behavior.ethogram import EthogramHMM

    stored, recipe = sessions
    states = {
        kind: EthogramHMM(n_states=4, variable="spectrogram", random_state=0).fit(data).predict(data)
        for kind, data in (("stored", stored), ("lazy", recipe))
    }
    np.testing.assert_array_equal(states["lazy"], states["stored"])
    # (the behavior map reads the rows by random indices and in blocks, as the test above does; `behaviorlab
    # run` fits it on features files without a spectrogram in tests/integration/test_run.py)


def test_sessions_without_spectrogram_or_recipe_or_with_different_recipes_are_refused(sessions):
    _, recipe = sessions
    bare = {"a": recipe["a"].drop_attrs()}
    with pytest.raises(SchemaError, match="no 'spectrogram' variable and no recipe"):
        session_samples(bare, "spectrogram")
    other = recipe["b"].assign_attrs({SPECTROGRAM_RECIPE: '{"n_frequencies": 8}'})
    with pytest.raises(SchemaError, match="spectrograms differ"):
        session_samples({"a": recipe["a"], "b": other}, "spectrogram")

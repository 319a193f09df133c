"""The cleaning -> features -> spectrogram chain and its configuration."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FeatureConfig, compute_features
from behaviorlab.features.pipeline import SessionFeaturesConfig, SpectrogramConfig, compute_session_features
from behaviorlab.features.wavelets import morlet_spectrogram
from behaviorlab.schema import from_numpy, get_log
from behaviorlab.trajectories.filtering import CleaningConfig, clean_poses

KEYPOINTS = ["nose", "neck", "body", "tail"]


def _poses(n_time=240, fps=30.0):
    rng = np.random.default_rng(0)
    pos = 300 + np.cumsum(rng.normal(scale=2.0, size=(n_time, 2, len(KEYPOINTS), 1)), axis=0)
    conf = rng.uniform(0.5, 1.0, (n_time, len(KEYPOINTS), 1))
    conf[rng.random(conf.shape) < 0.05] = 0.05
    pos[50:53, :, 2, 0] = np.nan
    return from_numpy(pos, conf, keypoints=KEYPOINTS, fps=fps)


def test_chain_equals_the_stages_called_one_by_one():
    ds = _poses()
    before = ds.copy(deep=True)
    config = SessionFeaturesConfig(
        cleaning=CleaningConfig(confidence_threshold=0.3, median_window=3, max_gap=5),
        features=FeatureConfig(joint_angles=[("nose", "neck", "body")]),
        spectrogram=SpectrogramConfig(n_frequencies=8, f_min=2.0, features="all"),
    )
    out = compute_session_features(ds, config)
    xr.testing.assert_identical(ds, before)
    cleaned = clean_poses(ds, config.cleaning)
    feats = compute_features(cleaned, config.features)
    power = morlet_spectrogram(feats["features"], fps=30.0, n_frequencies=8, f_min=2.0)
    np.testing.assert_array_equal(out["position"].values, cleaned["position"].values)
    np.testing.assert_array_equal(out["cleaning_masked"].values, cleaned["cleaning_masked"].values)
    np.testing.assert_array_equal(out["features"].values, feats["features"].values)
    np.testing.assert_array_equal(out["spectrogram"].values, power.values)
    np.testing.assert_array_equal(out["spectrogram_total_amplitude"].values, power["total_amplitude"].values)
    assert out["spectrogram"].dims == ("time", "individual", "feature", "frequency")
    assert "total_amplitude" not in out.coords  # a variable, so it does not ride along with every (time, individual)
    assert "log" not in out["spectrogram"].attrs
    ops = [e["operation"] for e in get_log(out)]
    assert ops[-3:] == ["clean_poses", "compute_features", "morlet_spectrogram"]


def test_the_posture_spectrogram_leaves_out_speeds_accelerations_and_confidence():
    ds = _poses()
    out = compute_session_features(ds, SessionFeaturesConfig(spectrogram=SpectrogramConfig(n_frequencies=8)))
    names = [str(f) for f in out["feature"].values]
    left_out = [n for n in names if n.startswith(("acceleration_", "confidence_")) or n.endswith("_1s")]
    left_out += [n for n in names if n.startswith("speed_") and n != "speed_centroid"]
    assert left_out  # the default features have them
    kept = [n for n in names if n not in left_out]
    assert {"speed_centroid", "heading_velocity"} <= set(kept)
    assert (out["spectrogram"].sel(feature=left_out) == 0).all()
    power = morlet_spectrogram(out["features"].sel(feature=kept), fps=30.0, n_frequencies=8)
    np.testing.assert_allclose(out["spectrogram"].sel(feature=kept).values, power.values)
    assert get_log(out)[-1]["n_frequencies"] == 8


def test_spectrogram_can_be_skipped_and_needs_fps():
    ds = _poses()
    out = compute_session_features(ds, {"spectrogram": False})
    assert "spectrogram" not in out
    assert "features" in out
    no_fps = ds.copy()
    no_fps.attrs = {k: v for k, v in ds.attrs.items() if k not in ("fps", "time_unit")}
    with pytest.raises(SchemaError, match="fps"):
        compute_session_features(no_fps)
    assert "features" in compute_session_features(no_fps, {"spectrogram": False})


def test_config_round_trips_plain_data():
    config = SessionFeaturesConfig.from_dict(
        {
            "cleaning": {"confidence_threshold": 0.6, "max_gap": 4},
            "features": {"distances": [["nose", "tail"]], "speed_keypoints": "nose"},
            "spectrogram": {"n_frequencies": 10, "f_max": 12},
        }
    )
    assert config.cleaning.confidence_threshold == 0.6
    assert config.features.distances == (("nose", "tail"),)
    assert config.spectrogram == SpectrogramConfig(n_frequencies=10, f_max=12)
    assert SessionFeaturesConfig.from_dict(config.to_dict()) == config
    assert SessionFeaturesConfig.from_dict(None) == SessionFeaturesConfig()
    assert SessionFeaturesConfig.from_dict({"spectrogram": None}).spectrogram == SpectrogramConfig()
    assert SessionFeaturesConfig.from_dict({"spectrogram": False}).spectrogram is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cleanup": {}}, r"unknown section\(s\) \['cleanup'\]"),
        ({"cleaning": {"threshold": 0.5}}, r"unknown key\(s\) \['threshold'\] in section 'cleaning'"),
        ({"features": {"egocentric": "yes"}}, "features.egocentric must be bool"),
        ({"cleaning": {"max_speed": "fast"}}, "cleaning.max_speed must be float or null"),
        ({"cleaning": {"max_speed": -1.0}}, "section 'cleaning'.*max_speed must be > 0"),
        ({"spectrogram": {"n_frequencies": 2.5}}, "spectrogram.n_frequencies must be int"),
        ({"spectrogram": {"f_min": 5.0, "f_max": 2.0}}, "f_max=2.0 Hz is below f_min"),
        ({"spectrogram": [25]}, "section 'spectrogram' must be a mapping"),
        (["cleaning"], "expected a mapping"),
    ],
)
def test_bad_config_names_the_section_and_key(data, message):
    with pytest.raises(SchemaError, match=message):
        SessionFeaturesConfig.from_dict(data)


def test_a_features_file_without_its_spectrogram_recomputes_the_same_spectrogram(tmp_path):
    from behaviorlab.errors import FileFormatError
    from behaviorlab.features.pipeline import (
        SPECTROGRAM_RECIPE,
        load_session_features,
        session_features,
        with_spectrogram,
    )
    from behaviorlab.io.save import save_netcdf

    cleaned = clean_poses(_poses(n_time=900))
    config = SessionFeaturesConfig(spectrogram=SpectrogramConfig(n_frequencies=10, f_min=1.5))
    full = session_features(cleaned, config)
    recipe = session_features(cleaned, config, spectrogram="recipe")
    assert "spectrogram" not in recipe
    assert SPECTROGRAM_RECIPE in recipe.attrs
    xr.testing.assert_identical(recipe["features"], full["features"])
    stored, slim = tmp_path / "stored.nc", tmp_path / "slim.nc"
    save_netcdf(full[["features", "spectrogram", "spectrogram_total_amplitude"]], stored)
    save_netcdf(recipe[["features"]], slim)
    assert slim.stat().st_size < stored.stat().st_size / 3
    for path in (stored, slim):
        back = load_session_features(path, select=["spectrogram"])
        assert list(back.data_vars) == ["spectrogram"]
        xr.testing.assert_allclose(back["spectrogram"], full["spectrogram"], rtol=1e-6)
        assert [e["operation"] for e in get_log(back)][-1] == "morlet_spectrogram"
    everything = load_session_features(slim)
    assert {"features", "spectrogram", "spectrogram_total_amplitude"} <= set(everything.data_vars)
    assert "spectrogram" not in load_session_features(slim, select=["features"])  # not computed unless asked
    left = load_session_features(slim, ["spectrogram"], spectrogram="recipe")  # for the estimators to compute
    assert list(left.data_vars) == ["features"]
    assert left.attrs[SPECTROGRAM_RECIPE] == recipe.attrs[SPECTROGRAM_RECIPE]
    assert "spectrogram" in load_session_features(stored, ["spectrogram"], spectrogram="recipe")  # stored: read
    # a file with neither a spectrogram nor a recipe: one line naming the file and what it lacks
    bare = tmp_path / "bare.nc"
    save_netcdf(recipe[["features"]].drop_attrs(), bare)
    with pytest.raises(FileFormatError, match=r"bare\.nc.*has no 'spectrogram'"):
        load_session_features(bare, select=["spectrogram"])
    with pytest.raises(SchemaError, match="no recipe"):
        with_spectrogram(recipe.drop_attrs())
    broken = tmp_path / "broken.nc"
    broken.write_bytes(b"not netCDF")
    with pytest.raises(FileFormatError, match=r"broken\.nc"):
        load_session_features(broken)

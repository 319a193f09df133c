"""Window statistics of per-frame features: centred, past and future, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.windows import window_features


def _ramp(n=10, fps=10.0):
    values = np.arange(n, dtype=float)[:, None, None]
    return xr.DataArray(
        values,
        dims=("time", "individual", "feature"),
        coords={"time": np.arange(n) / fps, "individual": ["m"], "feature": ["x"]},
        attrs={"fps": fps},
    )


def test_past_and_future_means_look_back_and_ahead_over_the_window():
    out = window_features(_ramp(), windows_s=(0.3,), stats=("mean", "past_mean", "future_mean"))
    names = [str(n) for n in out["feature"].values]
    assert names == ["x", "x__mean_0.3s", "x__past_mean_0.3s", "x__future_mean_0.3s"]
    v = out.values[:, 0, :]
    np.testing.assert_allclose(v[5], [5.0, 5.0, 3.0, 7.0])  # 5 frames: 3-7 centred, 1-5 before, 5-9 after
    np.testing.assert_allclose(v[0, 2], 0.0)  # at the start the past holds the frame alone
    np.testing.assert_allclose(v[9, 3], 9.0)  # at the end the future holds the frame alone
    with pytest.raises(SchemaError, match="past_mean"):
        window_features(_ramp(), windows_s=(0.3,), stats=("median",))

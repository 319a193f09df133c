"""Morlet spectrograms: sinusoids peak in their band, the scale-frequency mapping, normalisation and gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.wavelets import (
    OMEGA0,
    WaveletTransformer,
    context_frames,
    dyadic_frequencies,
    morlet_scales,
    morlet_spectrogram,
    nyquist_taper,
    wavelet_amplitudes,
)
from behaviorlab.schema import get_log

FPS = 30.0


def _sines(freqs_hz, n_time=1200, amplitude=1.0):
    t = np.arange(n_time) / FPS
    return np.stack([amplitude * np.sin(2 * np.pi * f * t) + 3.0 for f in freqs_hz], axis=1)


def _features(x, n_ind=1):
    data = np.repeat(x[:, None, :], n_ind, axis=1)
    return xr.DataArray(
        data,
        dims=("time", "individual", "feature"),
        coords={"feature": [f"f{i}" for i in range(x.shape[1])], "individual": [f"id_{i}" for i in range(n_ind)]},
        attrs={"fps": FPS, "log": "[]"},
    )


def test_dyadic_frequencies_span_f_min_to_nyquist():
    f = dyadic_frequencies(25, 1.0, FPS / 2)
    assert f[0] == pytest.approx(1.0)
    assert f[-1] == pytest.approx(15.0)
    np.testing.assert_allclose(np.diff(np.log2(f)), np.log2(15.0) / 24)
    spec = morlet_spectrogram(_features(_sines([5.0], 200)))
    np.testing.assert_allclose(spec["frequency"].values, f)
    with pytest.raises(SchemaError, match="Nyquist"):
        morlet_spectrogram(_features(_sines([5.0], 200)), f_max=20.0)


@pytest.mark.parametrize("f0", [5.0, 2.0])
def test_a_sinusoid_peaks_in_the_band_nearest_its_frequency(f0):
    spec = morlet_spectrogram(_features(_sines([f0])), normalize=False)
    freqs = spec["frequency"].values
    profile = spec.isel(time=slice(200, -200)).mean("time").sel(feature="f0", individual="id_0")
    assert freqs[int(np.argmax(profile.values))] == freqs[np.argmin(np.abs(np.log(freqs / f0)))]


def test_scale_frequency_mapping_is_the_centre_frequency():
    # a fine frequency grid: the response to a 5 Hz sinusoid peaks at 5 Hz, not at MotionMapper's Fourier label
    grid = np.linspace(4.5, 5.5, 201)
    amps = wavelet_amplitudes(_sines([5.0], 1500), FPS, grid)[300:-300, 0].mean(axis=0)
    assert grid[np.argmax(amps)] == pytest.approx(5.0, abs=0.01)
    # a unit sinusoid at a band's frequency has amplitude 1 in that band
    assert amps.max() == pytest.approx(1.0, rel=0.01)
    # scales agree with PyWavelets' centre frequency for cmor2.0-omega0/(2 pi)
    pywt = pytest.importorskip("pywt")
    wavelet = pywt.ContinuousWavelet(f"cmor2.0-{OMEGA0 / (2 * math.pi)}")
    scales = morlet_scales(grid, FPS)
    np.testing.assert_allclose(wavelet.center_frequency / scales * FPS, grid, rtol=1e-6)


def test_fft_transform_has_the_analytic_response_and_matches_pywt_cwt():
    freqs = dyadic_frequencies(8, 1.0, FPS / 2)[:-1]  # a sinusoid at exactly Nyquist is not sampled
    x = _sines(freqs, 1500)
    inner = slice(300, -300)  # away from the ends, where the padding differs
    ours = wavelet_amplitudes(x, FPS, freqs)[inner].mean(axis=0)  # (sinusoid, band)
    scales_s = morlet_scales(freqs, FPS) / FPS
    analytic = np.exp(-0.5 * (2 * np.pi * freqs[:, None] * scales_s[None, :] - OMEGA0) ** 2)
    np.testing.assert_allclose(ours, analytic, atol=2e-3)  # unit sinusoid -> 1 in its own band
    pytest.importorskip("pywt")
    low = freqs <= 5.0  # pywt's integrate-then-difference discretisation drifts towards Nyquist
    ref = wavelet_amplitudes(x[:, low], FPS, freqs[low], method="pywt")[inner].mean(axis=0)
    lobe = ref > 0.05  # pywt's floor-sampled wavelet leaks ~1e-3 into far bands
    np.testing.assert_allclose(ours[np.ix_(low, low)][lobe], ref[lobe], rtol=0.05)


def test_normalised_amplitudes_sum_to_one_per_frame():
    x = _sines([2.0, 5.0, 9.0], 600) + np.random.default_rng(1).normal(scale=0.1, size=(600, 3))
    features = _features(x, n_ind=2)
    before = features.copy(deep=True)
    spec = morlet_spectrogram(features)
    xr.testing.assert_identical(features, before)
    assert spec.dims == ("time", "individual", "feature", "frequency")
    assert spec.dtype == np.float32
    np.testing.assert_allclose(spec.sum(("feature", "frequency")).values, 1.0, rtol=1e-5)
    raw = morlet_spectrogram(features, normalize=False)
    np.testing.assert_allclose(spec["total_amplitude"].values, raw.sum(("feature", "frequency")).values, rtol=1e-5)
    assert [e["operation"] for e in get_log(spec)] == ["morlet_spectrogram"]


def test_a_gap_blanks_only_its_neighbourhood():
    x = _sines([3.0], 3000)
    x[1500:1510] = np.nan
    freqs = dyadic_frequencies(25, 1.0, FPS / 2)
    amps = wavelet_amplitudes(x, FPS, freqs)[:, 0]
    margins = np.ceil(math.sqrt(2) * morlet_scales(freqs, FPS)).astype(int)
    np.testing.assert_array_equal(np.isnan(amps).sum(axis=0), 10 + 2 * margins)
    assert np.isfinite(amps[:1000]).all()
    assert np.isfinite(amps[2000:]).all()
    lowest = np.flatnonzero(np.isnan(amps[:, 0]))
    assert lowest[0] == 1500 - margins[0]
    assert lowest[-1] == 1509 + margins[0]


def test_all_nan_feature_stays_nan_and_does_not_break_normalisation():
    x = _sines([4.0, 6.0], 400)
    x[:, 1] = np.nan
    spec = morlet_spectrogram(_features(x))
    assert np.isnan(spec.sel(feature="f1")).all()
    np.testing.assert_allclose(spec.sum(("feature", "frequency")).values, 1.0, rtol=1e-5)


def test_wavelet_transformer_follows_the_scikit_learn_api():
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x = _sines([2.0, 5.0], 600)
    transformer = WaveletTransformer(fps=FPS, n_frequencies=10)
    assert transformer.fit(x) is transformer
    out = transformer.transform(x)
    assert out.shape == (600, 20)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert transformer.get_feature_names_out(["a", "b"])[0] == "a@1Hz"
    assert clone(transformer).get_params()["n_frequencies"] == 10
    pipe = make_pipeline(FunctionTransformer(lambda v: v * 2), WaveletTransformer(fps=FPS, n_frequencies=5))
    assert pipe.fit_transform(x).shape == (600, 10)
    with pytest.raises(SchemaError):
        transformer.transform(x[:, :1])


def _bounded_signal(n_time, n_cols, seed):
    """Smooth, bounded columns like real features (a few sinusoids, a slow drift, noise) with gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time)[:, None] / FPS
    x = np.sin(2 * np.pi * rng.uniform(0.5, 12, n_cols) * t) + 0.5 * np.sin(2 * np.pi * 0.05 * t + rng.uniform(0, 6))
    return x + 0.2 * rng.normal(size=(n_time, n_cols))


@pytest.mark.parametrize("chunk", [700, 4096])
def test_chunked_transform_equals_the_whole_recording_transform(chunk):
    x = _bounded_signal(9000, 11, seed=3)  # 11 columns: more than one block of columns too
    x[4080:4120, 1] = np.nan  # a gap across the block boundary at 4096
    x[:25, 2] = np.nan  # leading and trailing gaps
    x[-40:, 3] = np.nan
    x[:, 4] = np.nan  # a column without any value
    freqs = dyadic_frequencies(25, 1.0, FPS / 2)
    whole = wavelet_amplitudes(x, FPS, freqs, chunk_frames=None)
    chunked = wavelet_amplitudes(x, FPS, freqs, chunk_frames=chunk)
    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(whole))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-6)  # float32 rounding of amplitudes of order 1
    spec_whole = morlet_spectrogram(_features(x), chunk_frames=None)
    spec_chunked = morlet_spectrogram(_features(x), chunk_frames=chunk)
    np.testing.assert_allclose(spec_chunked.values, spec_whole.values, rtol=1e-5, atol=5e-8)  # shares of a frame


def test_a_frame_does_not_depend_on_frames_beyond_the_context():
    # the transform is local: appending frames (a longer recording) changes nothing more than the context away
    x = _bounded_signal(6000, 3, seed=4)
    freqs = dyadic_frequencies(25, 1.0, FPS / 2)
    context = context_frames(freqs, FPS)
    assert context == math.ceil(6 * morlet_scales(freqs[:1], FPS)[0])
    short = wavelet_amplitudes(x[:3000], FPS, freqs, chunk_frames=None)
    long = wavelet_amplitudes(x, FPS, freqs, chunk_frames=None)
    np.testing.assert_allclose(short[: 3000 - context], long[: 3000 - context], rtol=0, atol=2e-6)
    # near the end of the short recording they differ (its reflected padding is not the real continuation)
    assert np.abs(short[-5:] - long[2995:3000]).max() > 1e-2


def test_bands_roll_off_before_nyquist():
    assert nyquist_taper(np.array([0.0, 0.5, 0.8]))[...].tolist() == [1.0, 1.0, 1.0]
    assert nyquist_taper(np.array([1.0]))[0] == 0.0
    u = np.linspace(0.8, 1.0, 101)
    assert np.all(np.diff(nyquist_taper(u)) <= 0)
    # a constant has no wavelet amplitude away from the ends (the admissible Morlet is zero at DC; the plain
    # Morlet's gain there, 2 exp(-omega0**2 / 2), would give 1e-4)
    amps = wavelet_amplitudes(np.full((900, 1), 7.0), FPS, dyadic_frequencies(10, 1.0, FPS / 2))
    assert np.abs(amps[200:-200]).max() < 1e-5
    with pytest.raises(SchemaError, match="chunk_frames"):
        wavelet_amplitudes(np.zeros((100, 1)), FPS, np.array([2.0]), chunk_frames=0)

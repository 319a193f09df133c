"""Morlet wavelet spectrograms of behavioural features, as in MotionMapper (Berman et al. 2014).

The wavelet
-----------
The Morlet wavelet with ``omega0 = 5`` (MotionMapper's default),
``psi(eta) = pi**-0.25 * exp(1j * omega0 * eta) * exp(-eta**2 / 2)``, is
applied at scale ``s`` (seconds) as a filter in the frequency domain,
``H_s(omega) = 2 * exp(-(s * omega - omega0)**2 / 2)`` for ``omega > 0`` and 0
otherwise (``omega`` in rad/s).  It is the same wavelet as PyWavelets'
complex Morlet ``"cmor2.0-C"`` with ``C = omega0 / (2 pi)`` (bandwidth 2 gives
``exp(-t**2 / 2)``).

Scale <-> frequency
-------------------
``s = omega0 / (2 pi f)`` seconds, i.e. ``a = omega0 * fps / (2 pi f)``
samples: the wavelet's centre frequency, identical to PyWavelets'
``f = C * fps / a`` for ``cmor2.0-C``.  With the amplitude normalisation below
the response to a sinusoid of frequency ``f0`` at scale ``s`` is
``A * exp(-(2 pi f0 s - omega0)**2 / 2)``, so it peaks exactly in the band
whose centre frequency is ``f0`` (checked numerically in the tests, together
with agreement with ``pywt.cwt``).  MotionMapper labels the same scales with
the Fourier frequency ``f = (omega0 + sqrt(2 + omega0**2)) / (4 pi s)``, 2 %
higher for ``omega0 = 5``; amplitudes differ from MotionMapper's only by a
constant factor, which cancels in the per-frame normalisation.

Amplitude
---------
``|W|`` in the feature's own units: a sinusoid of amplitude ``A`` at a band's
frequency has amplitude ``A`` in that band.

Frequencies
-----------
``n_frequencies`` log2-spaced (dyadic) frequencies from ``f_min`` to
``f_max`` (default the Nyquist frequency ``fps / 2``), MotionMapper's
``f_k = f_min * 2**(k * log2(f_max / f_min) / (n - 1))``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pywt
import scipy.fft
import xarray as xr
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from behaviorlab._blocks import Block, blocks
from behaviorlab.errors import SchemaError
from behaviorlab.schema import check_dims, logged
from behaviorlab.trajectories.filtering import fill_linear

__all__ = [
    "CHUNK_FRAMES",
    "OMEGA0",
    "SPECTROGRAM_RECIPE",
    "SpectrogramRows",
    "WaveletTransformer",
    "context_frames",
    "dyadic_frequencies",
    "morlet_scales",
    "morlet_spectrogram",
    "nyquist_taper",
    "spectrogram_input",
    "spectrogram_rows",
    "wavelet_amplitudes",
]

log = logging.getLogger(__name__)

#: Non-dimensional frequency of the Morlet wavelet (MotionMapper's default).
OMEGA0 = 5.0
#: Cone of influence: the e-folding time of the Morlet wavelet is ``sqrt(2) * s`` (Torrence & Compo 1998).
COI_FACTOR = math.sqrt(2.0)
_COLUMN_BLOCK = 8  # feature columns transformed at once, to bound the working memory
#: Frames transformed at once (plus :func:`context_frames` on each side): a recording of any length needs
#: the working memory of this many frames, and the result equals the whole-recording transform.
CHUNK_FRAMES = 2**15
#: Context on each side of a block, in units of the largest scale: the Gaussian envelope
#: ``exp(-t**2 / (2 s**2))`` has fallen to ``exp(-18) = 1.5e-8`` at ``t = 6 s``.
CONTEXT_SCALES = 6.0
#: Attr of a features Dataset whose spectrogram is not stored: the recipe (JSON fields of
#: :class:`behaviorlab.features.pipeline.SpectrogramConfig`) that recomputes it.
SPECTROGRAM_RECIPE = "spectrogram_recipe"
#: Features the ``"posture"`` spectrogram leaves out (see :class:`behaviorlab.features.pipeline.SpectrogramConfig`).
_NOT_POSTURE = re.compile(r"^(acceleration_|confidence_|speed_(?!centroid$))|_\d+(\.\d+)?s$")
#: Bands are rolled off smoothly from this share of the Nyquist frequency to Nyquist (see :func:`nyquist_taper`).
TAPER_START = 0.8


def dyadic_frequencies(n_frequencies: int, f_min: float, f_max: float) -> np.ndarray:
    """Log2-spaced frequencies from ``f_min`` to ``f_max`` inclusive.

    Parameters
    ----------
    n_frequencies
        Number of frequencies (>= 1; 1 gives ``[f_min]``).
    f_min, f_max
        Lowest and highest frequency in Hz, ``0 < f_min <= f_max``.

    Returns
    -------
    numpy.ndarray
        ``(n_frequencies,)`` ascending frequencies in Hz.
    """
    n = int(n_frequencies)
    if n < 1:
        raise SchemaError(f"n_frequencies must be >= 1, got {n_frequencies!r}")
    if not 0 < f_min <= f_max:
        raise SchemaError(f"need 0 < f_min <= f_max, got f_min={f_min!r}, f_max={f_max!r}")
    if n == 1:
        return np.array([float(f_min)])
    return float(f_min) * 2.0 ** (np.arange(n) * math.log2(f_max / f_min) / (n - 1))


def morlet_scales(frequencies: np.ndarray, fps: float, omega0: float = OMEGA0) -> np.ndarray:
    """Wavelet scales in samples for centre frequencies in Hz: ``a = omega0 * fps / (2 pi f)``.

    Parameters
    ----------
    frequencies
        ``(n_frequencies,)`` in Hz.
    fps
        Sampling rate in frames per second.
    omega0
        Non-dimensional frequency of the Morlet wavelet.

    Returns
    -------
    numpy.ndarray
        ``(n_frequencies,)`` scales in samples, usable as ``pywt.cwt(..., scales, f"cmor2.0-{omega0 / (2 * pi)}")``.
    """
    return omega0 * float(fps) / (2 * np.pi * np.asarray(frequencies, dtype=np.float64))


def nyquist_taper(u: np.ndarray) -> np.ndarray:
    """Gain that rolls a band off between ``TAPER_START`` and 1 times the Nyquist frequency (``u`` in that unit).

    A wavelet cut at Nyquist has a step in its gain, and a step rings in
    time (decays as ``1/t``): the transform of a frame would then depend on
    frames far away and on the length of the recording.  This roll-off is
    infinitely differentiable (``f(1 - v) / (f(1 - v) + f(v))`` with
    ``f(v) = exp(-1/v)``), 1 below ``TAPER_START``, 0 at Nyquist.
    """
    v = np.clip((np.asarray(u, dtype=np.float64) - TAPER_START) / (1.0 - TAPER_START), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        rise, fall = np.exp(-1.0 / (1.0 - v)), np.exp(-1.0 / v)
    return rise / (rise + fall)


def context_frames(frequencies: np.ndarray, fps: float, omega0: float = OMEGA0) -> int:
    """Frames of context a block of a recording needs on each side for its transform to equal the whole one.

    ``ceil(CONTEXT_SCALES * a_max)`` with ``a_max`` the largest scale in
    samples (the lowest frequency): beyond it the wavelet's envelope is below
    ``1.5e-8`` of its peak, and the cone-of-influence margin around gaps
    (``sqrt(2) * a``) is inside it.
    """
    return math.ceil(CONTEXT_SCALES * float(morlet_scales(np.min(frequencies), fps, omega0)))


def _resolve_band(fps: float, n_frequencies: int, f_min: float, f_max: float | None) -> np.ndarray:
    if fps is None or not fps > 0:
        raise SchemaError(f"fps must be > 0 (frames per second), got {fps!r}")
    nyquist = float(fps) / 2
    f_max = nyquist if f_max is None else float(f_max)
    if f_max > nyquist:
        raise SchemaError(f"f_max={f_max} Hz is above the Nyquist frequency fps/2 = {nyquist} Hz")
    return dyadic_frequencies(n_frequencies, f_min, f_max)


def _transform_block(
    x: np.ndarray,
    nan: np.ndarray,
    fps: float,
    frequencies: np.ndarray,
    omega0: float,
    out: np.ndarray,
    method: str,
    tmp: np.ndarray | None = None,
    keep: slice = slice(None),
) -> None:
    """Write ``|W|`` of columns ``x (time, m)``, frames ``keep``, into ``out (kept time, m, n_frequencies)``.

    ``x`` has no NaN (gaps filled); ``nan (time, m)`` marks the original gaps,
    which are blanked with their cone-of-influence margin.  Work is done in a
    ``(frequency, column, time)`` float32 buffer ``tmp`` (reused between
    blocks when given) so every write is contiguous, then copied into ``out``
    in time blocks.
    """
    n_time, n_cols = x.shape
    scales_s = omega0 / (2 * np.pi * frequencies)  # seconds
    if tmp is None or tmp.shape[1] < n_cols:
        tmp = np.empty((len(frequencies), n_cols, n_time), dtype=np.float32)
    tmp = tmp[:, :n_cols]
    if method == "pywt":
        wavelet = pywt.ContinuousWavelet(f"cmor2.0-{omega0 / (2 * np.pi)}")
        for k, a in enumerate(scales_s * fps):
            coef = pywt.cwt(x.T, [a], wavelet, method="fft", axis=-1)[0][0]
            # pywt integrates the wavelet then takes a first difference, whose gain at the centre frequency
            # w (rad/sample) is 2 sin(w / 2) / w; undo it, and its sqrt(a) scale normalisation
            w = omega0 / a
            tmp[k] = np.abs(coef) * (2.0 / np.sqrt(a)) * (w / (2 * np.sin(w / 2)))
    else:
        pad = min(n_time - 1, math.ceil(4 * scales_s.max() * fps))  # reflect: no artificial step at the ends
        xt = np.ascontiguousarray(x.T, dtype=np.float32)
        if pad > 0:
            xt = np.pad(xt, ((0, 0), (pad, pad)), mode="reflect")
        n_fft = scipy.fft.next_fast_len(xt.shape[1] + 2 * math.ceil(scales_s.max() * fps))
        spectrum = scipy.fft.rfft(xt, n=n_fft, axis=-1, workers=1)  # (m, n_fft // 2 + 1) complex64
        omega = 2 * np.pi * scipy.fft.rfftfreq(n_fft, d=1.0 / fps)
        taper = nyquist_taper(omega / (np.pi * fps))
        buf = np.zeros((n_cols, n_fft), dtype=np.complex64)
        used = (0, 0)
        for k, s in enumerate(scales_s):
            # the admissible Morlet (zero at DC, Torrence & Compo's correction, < 4e-6 of the peak for omega0 = 5),
            # rolled off smoothly before Nyquist: no step in the gain, so the kernel is local in time
            gain = 2.0 * (np.exp(-0.5 * (s * omega - omega0) ** 2) - np.exp(-0.5 * ((s * omega) ** 2 + omega0**2)))
            gain *= taper
            band = np.flatnonzero(gain > 1e-7)  # the Gaussian is negligible elsewhere
            lo, hi = int(band[0]), int(band[-1]) + 1
            buf[:, used[0] : used[1]] = 0
            buf[:, lo:hi] = spectrum[:, lo:hi] * gain[lo:hi].astype(np.float32)
            used = (lo, hi)
            coef = scipy.fft.ifft(buf, axis=-1, workers=1)
            np.abs(coef[:, pad : pad + n_time], out=tmp[k])
    gappy = np.flatnonzero(nan.any(axis=0))
    if len(gappy):
        counts = np.concatenate([np.zeros((len(gappy), 1)), np.cumsum(nan[:, gappy].T, axis=1)], axis=1)
        t = np.arange(n_time)
        for k, a in enumerate(scales_s * fps):
            margin = math.ceil(COI_FACTOR * a)
            lo, hi = np.clip(t - margin, 0, n_time), np.clip(t + margin + 1, 0, n_time)
            near_gap = (counts[:, hi] - counts[:, lo]) > 0  # (gappy, time)
            tmp[k, gappy] = np.where(near_gap, np.float32(np.nan), tmp[k, gappy])
    first, last, _ = keep.indices(n_time)
    step = 1024
    for start in range(first, last, step):  # blocks of frames: a cache-friendly transpose
        stop = min(start + step, last)
        out[start - first : stop - first] = tmp[:, :, start:stop].transpose(2, 1, 0)


def wavelet_amplitudes(
    x: np.ndarray,
    fps: float,
    frequencies: np.ndarray,
    *,
    omega0: float = OMEGA0,
    method: Literal["fft", "pywt"] = "fft",
    chunk_frames: int | None = CHUNK_FRAMES,
) -> np.ndarray:
    """Morlet wavelet amplitudes of each column of ``x``, NaN-aware, in blocks of frames.

    NaN gaps (and leading/trailing NaN) are filled by linear interpolation
    (nearest value at the ends) for the transform; the amplitude is then set
    to NaN only within each gap plus a cone-of-influence margin of
    ``ceil(sqrt(2) * a)`` frames on both sides (``a`` the scale in samples),
    so a gap never blanks the whole series.

    Parameters
    ----------
    x
        ``(time, n_columns)`` samples of one contiguous recording, any units.
    fps
        Sampling rate, frames per second.
    frequencies
        ``(n_frequencies,)`` centre frequencies in Hz.
    omega0
        Non-dimensional frequency of the Morlet wavelet.
    method
        ``"fft"``: one FFT per column and one inverse FFT per frequency
        (fast); ``"pywt"``: :func:`pywt.cwt` with ``cmor2.0-omega0/(2 pi)``
        (slow, for cross-checking; zero-padded at the ends; its finite
        difference makes it inaccurate within a few samples per cycle, above
        about fps / 4).
    chunk_frames
        Transform this many frames at a time, each block with
        :func:`context_frames` of the recording on both sides, so the working
        memory does not grow with the recording and the result equals the
        whole-recording transform (to float32 rounding; the gaps are filled
        on the whole recording first).  ``None``: the whole recording at once.
        ``"pywt"`` always transforms the whole recording.

    Returns
    -------
    numpy.ndarray
        ``(time, n_columns, n_frequencies)`` float32 amplitudes in the units of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise SchemaError(f"x must be (time, n_columns), got shape {x.shape}")
    if method not in ("fft", "pywt"):
        raise SchemaError(f"method must be 'fft' or 'pywt', got {method!r}")
    frequencies = np.asarray(frequencies, dtype=np.float64)
    n_time, n_cols = x.shape
    out = np.empty((n_time, n_cols, len(frequencies)), dtype=np.float32)
    if n_time == 0 or n_cols == 0:
        return out
    if chunk_frames is not None and not int(chunk_frames) >= 1:
        raise SchemaError(f"chunk_frames must be a positive number of frames or None, got {chunk_frames!r}")
    filled, nan = _filled(x)
    chunk = None if method == "pywt" else chunk_frames
    context = context_frames(frequencies, fps, omega0) if chunk is not None and chunk < n_time else 0
    buffer = None
    for block in blocks(n_time, chunk, context):
        out_block = out[block.start : block.stop]
        buffer = _frames(filled, nan, (fps, frequencies, omega0, method), block, out_block, buffer)
    return out


def _filled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(filled, nan)``: ``x`` with its gaps filled linearly (constant at the ends, 0 for all-NaN columns)."""
    nan = np.isnan(x)
    filled = x
    gappy = np.flatnonzero(nan.any(axis=0))
    if len(gappy):  # fill gaps for the transform only; the columns without NaN are used as they are
        filled = x.copy()
        filled[:, gappy] = fill_linear(x[:, gappy], None, extrapolate=True)[0]
        filled[:, nan.all(axis=0)] = 0.0
    return filled, nan


def _frames(
    filled: np.ndarray,
    nan: np.ndarray,
    wavelet: tuple[float, np.ndarray, float, str],
    block: Block,
    out: np.ndarray,
    buffer: np.ndarray | None = None,
) -> np.ndarray:
    """Write ``|W|`` of the frames of ``block`` into ``out (frames, n_cols, n_frequencies)``; return the buffer.

    Only the block and its context (``block.lo:block.hi``) are transformed;
    ``wavelet`` is ``(fps, frequencies, omega0, method)``.  ``buffer`` (float32)
    is reused when it is large enough.
    """
    fps, frequencies, omega0, method = wavelet
    n_cols = filled.shape[1]
    lo, hi = block.lo, block.hi
    n_block_cols = min(_COLUMN_BLOCK, n_cols)
    size = len(frequencies) * n_block_cols * (hi - lo)
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, np.float32)
    tmp = buffer[:size].reshape(len(frequencies), n_block_cols, hi - lo)
    for start in range(0, n_cols, _COLUMN_BLOCK):
        cols = slice(start, min(start + _COLUMN_BLOCK, n_cols))
        x_block, nan_block = filled[lo:hi, cols], nan[lo:hi, cols]
        _transform_block(x_block, nan_block, float(fps), frequencies, omega0, out[:, cols], method, tmp, block.keep)
    return buffer


@logged()
def morlet_spectrogram(
    features: xr.DataArray,
    *,
    fps: float | None = None,
    n_frequencies: int = 25,
    f_min: float = 1.0,
    f_max: float | None = None,
    normalize: bool = True,
    omega0: float = OMEGA0,
    chunk_frames: int | None = CHUNK_FRAMES,
) -> xr.DataArray:
    """Morlet wavelet spectrogram of every feature (MotionMapper's postural dynamics).

    Parameters
    ----------
    features
        ``(time, ..., feature)`` samples of one contiguous recording (other
        dims, e.g. ``individual``, are transformed independently).
    fps
        Frames per second; defaults to ``features.attrs["fps"]``.
    n_frequencies
        Number of log2-spaced frequencies (MotionMapper: 25).
    f_min
        Lowest frequency in Hz (MotionMapper: 1 Hz).
    f_max
        Highest frequency in Hz; default the Nyquist frequency ``fps / 2``.
    normalize
        Divide each frame's amplitudes by their sum over features and
        frequencies (NaN ignored), so they sum to 1 per frame, as MotionMapper
        does before embedding.
    omega0
        Non-dimensional frequency of the Morlet wavelet.
    chunk_frames
        Frames transformed at once (see :func:`wavelet_amplitudes`; the result
        does not depend on it); ``None``: the whole recording at once.

    Returns
    -------
    xarray.DataArray
        ``spectrogram (time, ..., feature, frequency)`` float32; the
        ``frequency`` coordinate is in Hz.  The coordinate ``total_amplitude
        (time, ...)`` holds each frame's sum of amplitudes before
        normalisation (feature units); NaN for frames with no valid amplitude.
        Amplitudes are NaN within gaps plus a cone-of-influence margin (see
        :func:`wavelet_amplitudes`).
    """
    check_dims(features, ("time", "feature"), name="morlet_spectrogram features")
    fps = features.attrs.get("fps") if fps is None else fps
    frequencies = _resolve_band(fps, n_frequencies, f_min, f_max)
    others = [d for d in features.dims if d not in ("time", "feature")]
    ordered = features.transpose("time", *others, "feature")
    shape = ordered.shape
    flat = ordered.values.reshape(shape[0], -1)
    amps = wavelet_amplitudes(flat, float(fps), frequencies, omega0=omega0, chunk_frames=chunk_frames)
    amps = amps.reshape(*shape, len(frequencies))
    total = _frame_totals(amps, normalize)
    coords = {d: ordered[d] for d in ordered.dims if d in ordered.coords}
    coords["frequency"] = ("frequency", frequencies, {"units": "Hz"})
    coords["total_amplitude"] = (("time", *others), total.astype(np.float32))
    out = xr.DataArray(amps, dims=(*ordered.dims, "frequency"), coords=coords, name="spectrogram")
    out.attrs = {**features.attrs, "fps": float(fps), "omega0": float(omega0), "normalized": int(bool(normalize))}
    out.attrs["units"] = "1 (share of frame total)" if normalize else features.attrs.get("units", "feature units")
    return out


def _frame_totals(amps: np.ndarray, normalize: bool) -> np.ndarray:
    """Each frame's sum of amplitudes over its last two axes (NaN ignored; NaN when none); divide by it in place."""
    axes = (-2, -1)
    valid = ~np.isnan(amps)  # a boolean mask rather than nansum's full float copy
    total = np.sum(amps, axis=axes, dtype=np.float64, where=valid)
    total[~valid.any(axis=axes)] = np.nan
    del valid
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(amps, np.where(total > 0, total, np.nan)[..., None, None].astype(np.float32), out=amps)
    return total


def spectrogram_input(features: xr.DataArray, which: str = "posture") -> xr.DataArray:
    """Return the features a spectrogram transforms: all of them, or the postural ones (``"posture"``)."""
    if which == "all":
        return features
    names = [str(f) for f in features["feature"].values]
    keep = [n for n in names if not _NOT_POSTURE.search(n)]
    return features.sel(feature=keep) if keep else features


class SpectrogramRows:
    """The rows of many recordings' spectrograms, computed when they are read; never whole in memory.

    Stands for the ``(n_rows, n_features * n_frequencies)`` matrix of
    :func:`behaviorlab.features.samples.session_samples` (rows: recording
    after recording; columns feature-major, the features a spectrogram
    leaves out as zero columns), for estimators that read it in blocks of
    rows or by row indices (``X[rows]``, ``X[mask]``, ``X[a:b]``).  Reading
    transforms the blocks of :data:`CHUNK_FRAMES` frames that hold the rows,
    each with :func:`context_frames` around it, so the rows equal those of
    :func:`morlet_spectrogram` of the whole recording (see
    :func:`wavelet_amplitudes`) and memory holds the recordings' features
    and one block.  Build it with :func:`spectrogram_rows`.

    Parameters
    ----------
    recordings
        ``(time, n_features)`` features of each recording (one animal of one session), in row order.
    transformed
        ``(n_features,)`` boolean: the features the spectrogram transforms.
    fps, frequencies, omega0, normalize
        As in :func:`morlet_spectrogram`.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(
        self,
        recordings: Sequence[np.ndarray],
        transformed: np.ndarray,
        fps: float,
        frequencies: np.ndarray,
        *,
        omega0: float = OMEGA0,
        normalize: bool = True,
        block_frames: int = CHUNK_FRAMES,
    ) -> None:
        self._transformed = np.flatnonzero(np.asarray(transformed, dtype=bool))
        self._wavelet = (float(fps), np.asarray(frequencies, dtype=np.float64), float(omega0), "fft")
        self._parts = [_filled(np.asarray(x, dtype=np.float64)[:, self._transformed]) for x in recordings]
        lengths = np.array([len(x) for x in recordings], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(lengths)])
        n_features = len(np.asarray(transformed))
        self.shape = (int(self._starts[-1]), n_features * len(self._wavelet[1]))
        self._n_features = n_features
        self._normalize = bool(normalize)
        self._block = int(block_frames)
        context = context_frames(self._wavelet[1], fps, omega0)
        self._blocks = [list(blocks(len(x), self._block, context)) for x in recordings]
        self._cached: tuple[tuple[int, int], np.ndarray] | None = None

    def __len__(self) -> int:
        """Return the number of rows."""
        return self.shape[0]

    def _block_rows(self, part: int, block: int) -> np.ndarray:
        """``(frames, n_columns)`` float32 spectrogram rows of one block of one recording (the last one is kept)."""
        if self._cached is not None and self._cached[0] == (part, block):
            return self._cached[1]
        filled, nan = self._parts[part]
        frames = self._blocks[part][block]
        n_frames, n_freq = frames.stop - frames.start, len(self._wavelet[1])
        amps = np.empty((n_frames, len(self._transformed), n_freq), dtype=np.float32)
        _frames(filled, nan, self._wavelet, frames, amps)
        _frame_totals(amps, self._normalize)
        rows = np.zeros((n_frames, self._n_features, n_freq), dtype=np.float32)
        rows[:, self._transformed] = amps
        rows = rows.reshape(n_frames, -1)
        self._cached = ((part, block), rows)
        return rows

    def __getitem__(self, key: Any) -> np.ndarray:
        """Rows by a slice, a boolean mask or integer indices (in any order), as a float32 array."""
        if isinstance(key, tuple):
            raise TypeError("SpectrogramRows are indexed by rows only (X[rows])")
        rows = np.arange(self.shape[0])[key] if not isinstance(key, np.ndarray) or key.dtype == bool else key
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim == 0:
            return self[rows[None]][0]
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        part = np.searchsorted(self._starts, ordered, side="right") - 1
        local = ordered - self._starts[part]
        block = local // self._block
        bounds = np.flatnonzero((np.diff(part) != 0) | (np.diff(block) != 0)) + 1  # a new (recording, block)
        for chunk in np.split(np.arange(len(ordered)), bounds):
            if len(chunk) == 0:
                continue
            p, b = int(part[chunk[0]]), int(block[chunk[0]])
            out[order[chunk]] = self._block_rows(p, b)[local[chunk] - b * self._block]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Return the whole matrix (what the lazy rows avoid; for small data and tests)."""
        whole = self[slice(None)]
        return whole if dtype is None else whole.astype(dtype)

    def valid(self) -> np.ndarray:
        """``(n_rows,)`` boolean: rows without NaN, found without transforming.

        A row has NaN where a transformed feature is missing within the
        cone-of-influence margin of the largest scale (:func:`wavelet_amplitudes`).
        """
        fps, frequencies, omega0, _ = self._wavelet
        margin = math.ceil(COI_FACTOR * float(morlet_scales(np.min(frequencies), fps, omega0)))
        out = []
        for _, nan in self._parts:
            missing = nan.any(axis=1) if nan.shape[1] else np.ones(len(nan), dtype=bool)
            counts = np.concatenate([[0], np.cumsum(missing)])
            t = np.arange(len(missing))
            lo, hi = np.clip(t - margin, 0, len(missing)), np.clip(t + margin + 1, 0, len(missing))
            out.append(counts[hi] - counts[lo] == 0)
        return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def spectrogram_rows(recordings: Sequence[xr.DataArray], recipe: Mapping[str, Any]) -> SpectrogramRows:
    """:class:`SpectrogramRows` of ``features (time, feature)`` recordings for a spectrogram recipe.

    ``recipe`` holds the fields of :class:`behaviorlab.features.pipeline.SpectrogramConfig`
    (``n_frequencies``, ``f_min``, ``f_max``, ``normalize``, ``omega0``,
    ``features``), as ``attrs[SPECTROGRAM_RECIPE]`` of a features file keeps them; the recordings share their
    feature names and frame rate (``attrs["fps"]``).
    """
    if not recordings:
        raise SchemaError("spectrogram_rows needs at least one recording")
    first = recordings[0]
    fps = first.attrs.get("fps")
    omega0 = float(recipe.get("omega0", OMEGA0))
    frequencies = _resolve_band(
        fps, int(recipe.get("n_frequencies", 25)), float(recipe.get("f_min", 1.0)), recipe.get("f_max")
    )
    names = [str(f) for f in first["feature"].values]
    kept = {str(f) for f in spectrogram_input(first, str(recipe.get("features", "posture")))["feature"].values}
    transformed = np.array([n in kept for n in names])
    arrays = [np.asarray(r.transpose("time", "feature").values) for r in recordings]
    return SpectrogramRows(
        arrays, transformed, float(fps), frequencies, omega0=omega0, normalize=bool(recipe.get("normalize", True))
    )


class WaveletTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: Morlet wavelet amplitudes of each column of one contiguous session.

    Parameters
    ----------
    fps
        Frames per second of the rows.
    n_frequencies
        Number of log2-spaced frequencies.
    f_min
        Lowest frequency in Hz.
    f_max
        Highest frequency in Hz; ``None`` is the Nyquist frequency ``fps / 2``.
    normalize
        Make each row's amplitudes sum to 1 (MotionMapper).
    omega0
        Non-dimensional frequency of the Morlet wavelet.

    Attributes
    ----------
    frequencies_ : numpy.ndarray
        ``(n_frequencies,)`` in Hz.
    n_features_in_ : int
        Number of columns seen in :meth:`fit`.

    Notes
    -----
    :meth:`transform` treats its rows as consecutive frames of *one* session:
    transform sessions separately and stack the results.  Output columns are
    feature-major: ``feature_0 @ f_0, feature_0 @ f_1, ..., feature_1 @ f_0, ...``.
    """

    def __init__(
        self,
        fps: float = 30.0,
        n_frequencies: int = 25,
        f_min: float = 1.0,
        f_max: float | None = None,
        normalize: bool = True,
        omega0: float = OMEGA0,
    ) -> None:
        self.fps = fps
        self.n_frequencies = n_frequencies
        self.f_min = f_min
        self.f_max = f_max
        self.normalize = normalize
        self.omega0 = omega0

    def fit(self, X: np.ndarray, y: None = None) -> WaveletTransformer:
        """Check the parameters and remember the number of columns.

        Parameters
        ----------
        X
            ``(n_samples, n_features)``.
        y
            Ignored.

        Returns
        -------
        WaveletTransformer
            ``self``.
        """
        X = np.asarray(X)
        if X.ndim != 2:
            raise SchemaError(f"X must be (n_samples, n_features), got shape {X.shape}")
        self.frequencies_ = _resolve_band(self.fps, self.n_frequencies, self.f_min, self.f_max)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Wavelet amplitudes of each column.

        Parameters
        ----------
        X
            ``(n_samples, n_features)``, consecutive frames of one session; NaN allowed.

        Returns
        -------
        numpy.ndarray
            ``(n_samples, n_features * n_frequencies)`` float32.
        """
        if not hasattr(self, "frequencies_"):
            raise NotFittedError("WaveletTransformer is not fitted yet; call fit first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise SchemaError(f"X must be (n_samples, {self.n_features_in_}), got shape {X.shape}")
        amps = wavelet_amplitudes(X, self.fps, self.frequencies_, omega0=self.omega0)
        flat = amps.reshape(X.shape[0], -1)
        if self.normalize:
            total = np.nansum(flat, axis=1, dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                flat /= np.where(total > 0, total, np.nan)[:, None].astype(np.float32)
        return flat

    def get_feature_names_out(self, input_features: list[str] | None = None) -> np.ndarray:
        """Output column names ``"<feature>@<frequency>Hz"``."""
        names = input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return np.array([f"{n}@{f:.3g}Hz" for n in names for f in self.frequencies_], dtype=object)

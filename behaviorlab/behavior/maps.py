"""Behavior maps: UMAP embedding, density and watershed regions (MotionMapper with UMAP).

:class:`BehaviorMap` follows Berman et al. (2014): every frame's wavelet
spectrogram (or feature vector) is embedded in two dimensions, the density of
the embedded frames is estimated on a grid with a Gaussian kernel, and the
density is cut into regions by a watershed transform from its peaks, so that
each peak (a stereotyped behavior) gets one region and every frame the
region it falls in.  UMAP (McInnes et al. 2018) replaces t-SNE because it can
embed new frames (``transform``) after fitting, as B-SOiD does.

The estimator fits on a stratified subsample (an equal share of frames from
every session and individual, spread over time), embeds every frame with the
fitted UMAP, and keeps the grid, the density and the regions, so
:meth:`BehaviorMap.predict` labels new sessions with the same regions.
"""

from __future__ import annotations

import logging
import pickle
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import find_boundaries, watershed
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from behaviorlab._persist import SavedEstimator
from behaviorlab.errors import SchemaError
from behaviorlab.features.samples import SessionData, SessionSamples, session_items, session_samples
from behaviorlab.schema import log_step

__all__ = ["BehaviorMap", "density_regions", "stratified_subsample"]

log = logging.getLogger(__name__)

_KIND = "behaviorlab.BehaviorMap"
_REDUCE_ROWS = 10_000


# --------------------------------------------------------------------------- pure functions
def stratified_subsample(groups: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Pick at most ``n`` rows with an equal share per group, evenly spread over each group's rows.

    Parameters
    ----------
    groups
        ``(n_rows,)`` group code of each row (e.g. session × individual), rows
        of a group in time order.
    n
        Most rows to pick.  Groups with fewer rows than their share give all of
        them and the rest is shared among the larger groups.
    seed
        Seeds the random offset of each group's regular grid of rows.

    Returns
    -------
    numpy.ndarray
        Sorted row indices, ``(min(n, n_rows),)``.
    """
    groups = np.asarray(groups)
    if n >= len(groups):
        return np.arange(len(groups))
    rng = np.random.default_rng(seed)
    codes, counts = np.unique(groups, return_counts=True)
    quota = np.zeros(len(codes), dtype=np.int64)
    remaining, open_ = n, np.ones(len(codes), dtype=bool)
    while remaining > 0 and open_.any():  # water-filling: small groups give all, the rest share evenly
        share = max(remaining // int(open_.sum()), 1)
        for i in np.flatnonzero(open_):
            take = min(share, counts[i] - quota[i], remaining)
            quota[i] += take
            remaining -= take
            if quota[i] == counts[i]:
                open_[i] = False
            if remaining == 0:
                break
    picked = []
    for code, count, q in zip(codes, counts, quota, strict=True):
        rows = np.flatnonzero(groups == code)
        step = count / q
        picked.append(rows[np.minimum((rng.uniform(0, step) + step * np.arange(q)).astype(np.int64), count - 1)])
    return np.sort(np.concatenate(picked))


def density_regions(
    points: np.ndarray,
    *,
    grid_size: int = 200,
    bandwidth: float | None = None,
    min_prominence: float = 0.25,
    min_peak_fraction: float = 0.01,
    extent: tuple[float, float, float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Gaussian density of 2-D points on a grid, cut into watershed regions from its peaks.

    Parameters
    ----------
    points
        ``(n_points, 2)`` embedded frames.
    grid_size
        Cells per axis.
    bandwidth
        Standard deviation of the Gaussian kernel in embedding units; default
        1/40 of the larger side of the points' bounding box.
    min_prominence
        A peak seeds its own region only if the density falls by at least
        this fraction of the peak's height on every path to a higher peak
        (its saddle is at most ``1 - min_prominence`` of its height);
        shallower peaks are merged with their neighbours.  Relative, so rare
        but distinct behaviors keep their region.
    min_peak_fraction
        Peaks lower than this fraction of the highest peak seed no region
        (noise in the sparse tails).
    extent
        ``(x_min, x_max, y_min, y_max)`` of the grid; default the points'
        bounding box padded by three bandwidths.

    Returns
    -------
    dict
        ``x`` ``(grid_size,)`` and ``y`` ``(grid_size,)`` cell centres,
        ``density`` ``(grid_size, grid_size)`` (rows = y; integrates to 1),
        ``regions`` ``(grid_size, grid_size)`` int region of every cell
        (numbered by decreasing peak height, from 0), ``peaks`` ``(n_regions, 2)``
        (x, y) of each region's peak, ``bandwidth`` (scalar).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise SchemaError(f"density_regions needs (n_points, 2) points, got shape {points.shape}")
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float(max(hi - lo))
    if bandwidth is None:
        bandwidth = span / 40 if span > 0 else 1.0
    if bandwidth <= 0:
        raise SchemaError(f"bandwidth must be positive, got {bandwidth}")
    if extent is None:
        pad = 3 * bandwidth
        extent = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    x_edges = np.linspace(extent[0], extent[1], grid_size + 1)
    y_edges = np.linspace(extent[2], extent[3], grid_size + 1)
    hist, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=(y_edges, x_edges))
    cell = np.array([x_edges[1] - x_edges[0], y_edges[1] - y_edges[0]])
    density = ndimage.gaussian_filter(
        hist, sigma=(bandwidth / cell[1], bandwidth / cell[0]), mode="constant", truncate=4.0
    )
    density /= max(density.sum() * cell[0] * cell[1], np.finfo(float).tiny)
    rel = density / max(float(density.max()), np.finfo(float).tiny)
    # seeds: maxima whose density falls by at least `min_prominence` of their height on every path to a higher
    # peak (h-maxima of the log density), ignoring the sparse tails below `min_peak_fraction` of the highest peak
    log_rel = np.log(np.maximum(rel, 1e-12))
    seeds = h_maxima(log_rel, -np.log1p(-min_prominence)).astype(bool) & (rel >= min_peak_fraction)
    components, n_peaks = ndimage.label(seeds)
    if n_peaks == 0:
        peaks = np.array([np.unravel_index(np.argmax(density), density.shape)])
    else:
        peaks = np.array(ndimage.maximum_position(density, components, index=np.arange(1, n_peaks + 1)))
    order = np.argsort(-density[peaks[:, 0], peaks[:, 1]], kind="stable")
    peaks = peaks[order]
    markers = np.zeros(density.shape, dtype=np.int32)
    markers[peaks[:, 0], peaks[:, 1]] = np.arange(1, len(peaks) + 1)
    regions = watershed(-density, markers) - 1
    x = (x_edges[:-1] + x_edges[1:]) / 2
    y = (y_edges[:-1] + y_edges[1:]) / 2
    return {
        "x": x,
        "y": y,
        "density": density,
        "regions": regions.astype(np.int32),
        "peaks": np.column_stack([x[peaks[:, 1]], y[peaks[:, 0]]]),
        "bandwidth": np.float64(bandwidth),
    }


_UMAP_PICKLE = "_umap_pickle"


def _import_umap() -> Any:
    """Import umap-learn without its optional ParametricUMAP, which would import TensorFlow (about 15 s).

    ``umap/__init__.py`` tries ``from .parametric_umap import ...`` and falls
    back when that raises ImportError; a ``None`` entry in ``sys.modules``
    makes it raise.  The entry is removed afterwards, so an explicit
    ``import umap.parametric_umap`` still works.
    """
    if "umap" in sys.modules or "tensorflow" in sys.modules:
        import umap  # lazy: umap-learn (numba: seconds to import)

        return umap
    sys.modules["umap.parametric_umap"] = None  # type: ignore[assignment]
    try:
        import umap  # lazy: umap-learn (numba: seconds to import)
    finally:
        if sys.modules.get("umap.parametric_umap", 0) is None:
            del sys.modules["umap.parametric_umap"]
    return umap


def _cells(points: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell (row, column) of each point; points outside the grid go to the nearest edge cell."""
    dx, dy = x[1] - x[0], y[1] - y[0]
    col = np.clip(np.floor((points[:, 0] - (x[0] - dx / 2)) / dx), 0, len(x) - 1).astype(np.int64)
    row = np.clip(np.floor((points[:, 1] - (y[0] - dy / 2)) / dy), 0, len(y) - 1).astype(np.int64)
    return row, col


# --------------------------------------------------------------------------- estimator
class BehaviorMap(SavedEstimator, BaseEstimator):
    """Unsupervised behavior map: standardize, PCA, UMAP to 2-D, Gaussian density, watershed regions.

    Parameters
    ----------
    n_components
        PCA components kept before UMAP (an int, a fraction of variance in
        (0, 1), or None for no PCA).  Features are standardized first.
    n_neighbors, min_dist, metric
        UMAP's parameters.
    max_fit_frames
        UMAP and PCA fit on at most this many frames, an equal share from each
        session and individual (:func:`stratified_subsample`); every frame is
        then embedded with ``transform``.
    grid_size, bandwidth, min_prominence, min_peak_fraction
        Density grid, kernel width (embedding units; default 1/40 of the
        map's extent), the relative dip that separates two peaks' regions and
        the lowest peak that seeds a region (see :func:`density_regions`).
    variable
        Variable used when fitting on Datasets: ``"spectrogram"`` (the
        MotionMapper input) or ``"features"``.
    standardize
        Scale every column to unit variance before PCA (PCA of the
        correlation matrix).  Without it, columns keep their units, which
        suits normalized spectrograms (MotionMapper), where every value is a
        share of the frame's total amplitude.
    random_state
        Seeds the subsample, UMAP's fit and its transform: the same data and
        seed give the same map.
    n_jobs
        UMAP threads.  With a ``random_state`` UMAP is deterministic only with
        one thread, so the default is 1.

    Attributes
    ----------
    scaler_, pca_, umap_
        The fitted steps (``pca_`` is None without PCA).
    embedding_
        ``(n_valid_frames, 2)`` embedding of every valid training frame.
    labels_
        ``(n_valid_frames,)`` region of every valid training frame.
    fit_index_
        :class:`pandas.MultiIndex` (session, individual, time) of those frames.
    grid_x_, grid_y_, density_, regions_, peaks_, bandwidth_
        The density grid and its watershed regions (see :func:`density_regions`).
    n_regions_
        Number of regions; regions are numbered by decreasing peak density.
    region_fraction_
        ``(n_regions_,)`` share of the training frames in each region.
    n_features_in_
        Columns of the training matrix.
    timings_
        Wall time of each fitting step in seconds.
    """

    _model_format = _KIND
    _model_versions = ("behaviorlab", "numpy", "scipy", "scikit-learn", "umap-learn", "pynndescent", "scikit-image")

    def __init__(
        self,
        n_components: int | float | None = 30,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        max_fit_frames: int = 20_000,
        grid_size: int = 200,
        bandwidth: float | None = None,
        min_prominence: float = 0.25,
        min_peak_fraction: float = 0.01,
        variable: str = "spectrogram",
        standardize: bool = True,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.max_fit_frames = max_fit_frames
        self.grid_size = grid_size
        self.bandwidth = bandwidth
        self.min_prominence = min_prominence
        self.min_peak_fraction = min_peak_fraction
        self.variable = variable
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_saveable(self) -> None:
        if not self._fitted():
            raise SchemaError("save needs a fitted BehaviorMap: call fit first")

    def _fitted(self) -> bool:
        return "umap_" in self.__dict__ or _UMAP_PICKLE in self.__dict__

    @classmethod
    def _before_import(cls, module: str) -> None:
        if module.split(".")[0] == "umap":
            _import_umap()  # before unpickling imports umap the slow way (with TensorFlow)

    # A saved map keeps its UMAP as pickled bytes, unpickled on first use: the density, regions and examples
    # (what a dashboard shows) need neither umap-learn nor numba, whose imports cost 1-2 s.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if "umap_" in state:
            state[_UMAP_PICKLE] = pickle.dumps(state.pop("umap_"), protocol=pickle.HIGHEST_PROTOCOL)
        return state

    def __getattr__(self, name: str) -> Any:
        # only reached when ``name`` is not set: ``umap_`` of a loaded map, still pickled
        if name == "umap_" and _UMAP_PICKLE in self.__dict__:
            _import_umap()
            umap = pickle.loads(self.__dict__[_UMAP_PICKLE])  # part of the model file the user loaded
            self.__dict__["umap_"] = umap
            del self.__dict__[_UMAP_PICKLE]
            return umap
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ input
    def _samples(self, X: np.ndarray | SessionData) -> SessionSamples:
        """Rows of ``X``: a 2-D array is one sequence; anything else goes through :func:`session_samples`."""
        if isinstance(X, np.ndarray):
            if X.ndim != 2:
                raise SchemaError(f"BehaviorMap needs a 2-D (n_frames, n_features) array, got shape {X.shape}")
            X = np.asarray(X, dtype=np.float64)
            index = pd.MultiIndex.from_arrays(
                [
                    pd.Categorical(np.zeros(len(X), dtype=int)),
                    pd.Categorical(np.zeros(len(X), dtype=int)),
                    np.arange(len(X)),
                ],
                names=["session", "individual", "time"],
            )
            return SessionSamples(X, index, np.isfinite(X).all(axis=1))
        return session_samples(X, self.variable)

    def _check_params(self) -> None:
        if self.max_fit_frames < 10:
            raise SchemaError(f"max_fit_frames must be at least 10, got {self.max_fit_frames}")
        if self.grid_size < 8:
            raise SchemaError(f"grid_size must be at least 8, got {self.grid_size}")
        if not 0 <= self.min_peak_fraction < 1:
            raise SchemaError(f"min_peak_fraction must be in [0, 1), got {self.min_peak_fraction}")
        if not 0 < self.min_prominence < 1:
            raise SchemaError(f"min_prominence must be in (0, 1), got {self.min_prominence}")
        if self.n_components is not None and not (
            (isinstance(self.n_components, int) and self.n_components >= 1) or 0 < self.n_components < 1
        ):
            raise SchemaError(
                f"n_components must be an int >= 1, a fraction in (0, 1) or None, got {self.n_components}"
            )

    def _reduce(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(np.asarray(X, dtype=np.float64))
        if self.pca_ is not None:
            Z = self.pca_.transform(Z)
        return Z.astype(np.float32)

    def _check_fitted_columns(self, X: np.ndarray) -> None:
        if not self._fitted():
            raise SchemaError("this BehaviorMap is not fitted yet: call fit first")
        if X.shape[1] != self.n_features_in_:
            raise SchemaError(
                f"BehaviorMap was fitted on {self.n_features_in_} columns, got {X.shape[1]}: "
                "compute the features and spectrogram with the same config"
            )

    # ------------------------------------------------------------------ fitting
    def fit(self, X: np.ndarray | SessionData, y: Any = None) -> BehaviorMap:
        """Fit the map on the frames of one or many sessions.

        Parameters
        ----------
        X
            ``(n_frames, n_features)`` array (rows with NaN are skipped), or
            one or many sessions as accepted by
            :func:`behaviorlab.features.samples.session_samples` (Datasets, whose
            ``variable`` is used, or DataArrays).
        y
            Ignored.

        Returns
        -------
        BehaviorMap
            ``self``.
        """
        self._fit_samples(self._samples(X))
        return self

    def _fit_samples(self, samples: SessionSamples) -> None:
        """Fit on stacked rows (``fit``, ``fit_predict`` and ``fit_label`` stack them once)."""
        self._check_params()
        rows = np.flatnonzero(samples.valid)
        need = max(self.n_neighbors + 1, 10)
        if len(rows) < need:
            raise SchemaError(f"BehaviorMap needs at least {need} complete frames, got {len(rows)}")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        sub = rows[stratified_subsample(samples.groups[rows], self.max_fit_frames, seed=self.random_state)]
        X_sub = np.asarray(samples.X[sub], dtype=np.float64)
        self.n_features_in_ = samples.X.shape[1]
        self.scaler_ = StandardScaler(with_std=self.standardize).fit(X_sub)
        Zs = self.scaler_.transform(X_sub)
        self.pca_ = None
        if self.n_components is not None:
            n = self.n_components
            if isinstance(n, int):
                n = min(n, Zs.shape[1], Zs.shape[0])
            self.pca_ = PCA(n_components=n, random_state=self.random_state).fit(Zs)
        timings["pca"] = time.perf_counter() - start
        start = time.perf_counter()
        self.umap_ = _import_umap().UMAP(
            n_components=2,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            transform_seed=self.random_state,
            n_jobs=self.n_jobs,
        )
        self.umap_.fit(self._reduce(X_sub))
        del X_sub, Zs
        timings["umap_fit"] = time.perf_counter() - start
        start = time.perf_counter()
        self.embedding_ = self._embed(samples.X, rows)
        timings["umap_transform"] = time.perf_counter() - start
        start = time.perf_counter()
        grid = density_regions(
            self.embedding_,
            grid_size=self.grid_size,
            bandwidth=self.bandwidth,
            min_prominence=self.min_prominence,
            min_peak_fraction=self.min_peak_fraction,
        )
        self.grid_x_, self.grid_y_ = grid["x"], grid["y"]
        self.density_, self.regions_, self.peaks_ = grid["density"], grid["regions"], grid["peaks"]
        self.bandwidth_ = float(grid["bandwidth"])
        self.n_regions_ = len(self.peaks_)
        self.labels_ = self._region_of(self.embedding_)
        self.region_fraction_ = np.bincount(self.labels_, minlength=self.n_regions_) / len(self.labels_)
        self.fit_index_ = samples.index[samples.valid]
        timings["density_watershed"] = time.perf_counter() - start
        self.timings_ = timings
        log.info(
            "BehaviorMap: %d frames (%d fitted), %d regions; %s",
            len(rows),
            len(sub),
            self.n_regions_,
            ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        )

    def _embed(self, X: np.ndarray, rows: np.ndarray, chunk: int = 50_000) -> np.ndarray:
        """Embed ``X[rows]``: reduced in chunks (no full-size float64 copy), then UMAP ``transform``.

        The transform runs on equal chunks of at most ``chunk`` frames; UMAP
        optimizes each new point against the fixed training embedding, with
        more epochs for chunks of up to 10,000 frames, so a frame embedded
        alone can land slightly differently from the same frame embedded
        among many.
        """
        if len(rows) == 0:
            return np.zeros((0, 2))
        step = _REDUCE_ROWS  # standardize + PCA 10,000 rows at a time: a few hundred MB at most
        Z = np.concatenate([self._reduce(X[rows[i : i + step]]) for i in range(0, len(rows), step)])
        parts = [self.umap_.transform(z) for z in np.array_split(Z, -(-len(Z) // chunk))]
        return np.concatenate(parts).astype(np.float64)

    def _region_of(self, points: np.ndarray) -> np.ndarray:
        row, col = _cells(points, self.grid_x_, self.grid_y_)
        return self.regions_[row, col].astype(np.int64)

    # ------------------------------------------------------------------ applying
    def transform(self, X: np.ndarray | SessionData) -> np.ndarray:
        """Embed frames in the map: ``(n_rows, 2)``, NaN for rows with NaN (rows as in :meth:`predict`)."""
        samples = self._samples(X)
        self._check_fitted_columns(samples.X)
        out = np.full((len(samples.X), 2), np.nan)
        out[samples.valid] = self._embed(samples.X, np.flatnonzero(samples.valid))
        return out

    def predict(self, X: np.ndarray | SessionData) -> np.ndarray:
        """Region of every frame: ``(n_rows,)`` int, -1 for rows with NaN.

        Rows are those of ``X`` when it is an array, else ordered session,
        individual, time as in :func:`behaviorlab.features.samples.session_samples`.
        """
        embedding = self.transform(X)
        labels = np.full(len(embedding), -1, dtype=np.int64)
        ok = np.isfinite(embedding).all(axis=1)
        labels[ok] = self._region_of(embedding[ok])
        return labels

    def fit_predict(self, X: np.ndarray | SessionData, y: Any = None) -> np.ndarray:
        """Fit, then return the region of every training row (-1 for rows with NaN)."""
        samples = self._samples(X)
        self._fit_samples(samples)
        labels = np.full(len(samples.X), -1, dtype=np.int64)
        labels[samples.valid] = self.labels_
        return labels

    def label(self, data: SessionData) -> Any:
        """Add ``embedding (time, individual, component)`` and ``cluster (time, individual)`` to sessions.

        Parameters
        ----------
        data
            A Dataset, a list of Datasets or a mapping of session name to
            Dataset, each holding ``variable``.

        Returns
        -------
        xarray.Dataset, list or dict
            New Datasets (the inputs are not modified), in the shape of
            ``data``; ``cluster`` is -1 where a frame has NaN features.
        """
        samples = session_samples(data, self.variable)
        self._check_fitted_columns(samples.X)
        embedding = self._embed(samples.X, np.flatnonzero(samples.valid))
        return self._labeled(data, samples, embedding, self._region_of(embedding))

    def fit_label(self, data: SessionData) -> Any:
        """Fit on sessions and label them, embedding every frame once (``fit`` then ``label`` embeds twice).

        ``data`` is as in :meth:`label`.

        Returns
        -------
        xarray.Dataset, list or dict
            As :meth:`label`; the labels are :attr:`labels_`.
        """
        if isinstance(data, xr.DataArray | np.ndarray):
            raise SchemaError("fit_label needs session Datasets to add variables to; use fit_predict for arrays")
        samples = session_samples(data, self.variable)
        self._fit_samples(samples)
        return self._labeled(data, samples, self.embedding_, self.labels_)

    def _labeled(self, data: SessionData, samples: SessionSamples, embedding: np.ndarray, labels: np.ndarray) -> Any:
        emb = samples.unstack(embedding, "embedding")
        lab = samples.unstack(labels, "cluster", fill_value=-1)
        for da in lab.values():  # so statistics list every region, also those a session never visits
            da.attrs["n_regions"] = int(self.n_regions_)
        return _attach(data, {"embedding": emb, "cluster": lab}, self)

    # ------------------------------------------------------------------ reports
    def region_examples(self, n_examples: int = 5) -> pd.DataFrame:
        """Training frames closest to each region's peak, as a tidy table.

        Returns
        -------
        pandas.DataFrame
            Columns ``region, rank, session, individual, time, distance`` (distance
            to the peak in embedding units), ``n_examples`` rows per region
            (fewer when a region holds fewer frames).
        """
        rows = []
        for region in range(self.n_regions_):
            members = np.flatnonzero(self.labels_ == region)
            if len(members) == 0:
                continue
            dist = np.linalg.norm(self.embedding_[members] - self.peaks_[region], axis=1)
            best = members[np.argsort(dist, kind="stable")[:n_examples]]
            for rank, i in enumerate(best):
                session, individual, t = self.fit_index_[i]
                d = float(np.linalg.norm(self.embedding_[i] - self.peaks_[region]))
                rows.append((region, rank, str(session), str(individual), float(t), d))
        return pd.DataFrame(rows, columns=["region", "rank", "session", "individual", "time", "distance"])

    def density_figure(self, *, show_points: bool = False, max_points: int = 5000) -> Any:
        """Draw the density with the watershed borders and region numbers at the peaks (plotly figure)."""
        fig = go.Figure()
        fig.add_trace(
            go.Heatmap(
                x=self.grid_x_,
                y=self.grid_y_,
                z=self.density_.astype(np.float32),  # half the bytes sent to a browser, no visible difference
                colorscale="Viridis",
                name="density",
                colorbar={"title": "density"},
            )
        )
        # borders as a second image over the density: no WebGL context (which costs a browser without a GPU
        # seconds to start) and a few kB instead of one marker per border cell
        border = find_boundaries(self.regions_, mode="inner")
        fig.add_trace(
            go.Heatmap(
                x=self.grid_x_,
                y=self.grid_y_,
                z=np.where(border, np.float32(1), np.float32(np.nan)),
                colorscale=[[0.0, "white"], [1.0, "white"]],
                showscale=False,
                name="region borders",
                hoverinfo="skip",
            )
        )
        if show_points:
            rng = np.random.default_rng(self.random_state)
            pick = rng.choice(len(self.embedding_), size=min(max_points, len(self.embedding_)), replace=False)
            fig.add_trace(
                go.Scattergl(
                    x=self.embedding_[pick, 0],
                    y=self.embedding_[pick, 1],
                    mode="markers",
                    marker={"size": 2, "color": "rgba(255,255,255,0.3)"},
                    name="frames",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=self.peaks_[:, 0],
                y=self.peaks_[:, 1],
                mode="text",
                text=[str(i) for i in range(self.n_regions_)],
                textfont={"color": "white", "size": 14},
                name="regions",
                hovertext=[f"region {i}: {100 * f:.1f} % of frames" for i, f in enumerate(self.region_fraction_)],
            )
        )
        fig.update_layout(
            title=f"Behavior map: {self.n_regions_} regions",
            xaxis_title="UMAP 1",
            yaxis_title="UMAP 2",
            yaxis={"scaleanchor": "x"},
            template="plotly_white",
        )
        return fig


def _attach(data: SessionData, variables: Mapping[str, Mapping[str, xr.DataArray]], estimator: Any) -> Any:
    """Return new Datasets with per-session ``variables`` added, in the container shape of ``data``."""
    if isinstance(data, xr.DataArray):
        raise SchemaError("label needs Datasets to add variables to, got a DataArray; pass the session Dataset")
    out = {}
    items = session_items(data)
    for name, ds in items:
        new = ds.copy(deep=False)
        for var, per_session in variables.items():
            new[var] = per_session[str(name)].reindex(time=ds["time"], individual=ds["individual"])
        params = {k: v for k, v in estimator.get_params().items() if isinstance(v, int | float | str | type(None))}
        out[str(name)] = log_step(new, f"{type(estimator).__name__}.label", **params)
    if isinstance(data, xr.Dataset):
        return next(iter(out.values()))
    return out if isinstance(data, Mapping) else list(out.values())

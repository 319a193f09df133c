"""Stage order from poses to features: cleaning, per-frame features, Morlet spectrogram.

This is the only module that knows the order of the stages.
:func:`compute_session_features` runs :func:`behaviorlab.trajectories.filtering.clean_poses`,
:func:`behaviorlab.features.design.compute_features` and
:func:`behaviorlab.features.wavelets.morlet_spectrogram` on one pose Dataset, and
:class:`SessionFeaturesConfig` holds the parameters of the three stages in
the sections ``cleaning``, ``features`` and ``spectrogram`` of a YAML/JSON
file.  The demo and the ``behaviorlab features`` command both call it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import xarray as xr

from behaviorlab._config import ConfigBase
from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.features.design import FeatureConfig, compute_features
from behaviorlab.features.wavelets import (
    CHUNK_FRAMES,
    OMEGA0,
    SPECTROGRAM_RECIPE,
    morlet_spectrogram,
    spectrogram_input,
)
from behaviorlab.io.load import load_netcdf
from behaviorlab.schema import POSITION_DIMS, check_dims, log_step, unlogged
from behaviorlab.trajectories.filtering import CleaningConfig, clean_poses

__all__ = [
    "SPECTROGRAM_RECIPE",
    "SessionFeaturesConfig",
    "SpectrogramConfig",
    "compute_session_features",
    "load_session_features",
    "session_features",
    "with_spectrogram",
]

log = logging.getLogger(__name__)

SECTIONS = ("cleaning", "features", "spectrogram")
_SPECTROGRAM_VARIABLES = ("spectrogram", "spectrogram_total_amplitude")


# --------------------------------------------------------------------------- configs
def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not value > 0:
        raise SchemaError(f"SpectrogramConfig.{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class SpectrogramConfig(ConfigBase):
    """Parameters of :func:`behaviorlab.features.wavelets.morlet_spectrogram` (the frame rate comes from the data).

    Parameters
    ----------
    n_frequencies, f_min, f_max, omega0
        As in :class:`behaviorlab.features.wavelets.WaveletTransformer` (log2-spaced frequencies from ``f_min``
        to ``f_max`` Hz, the Nyquist frequency when ``f_max`` is None).
    normalize
        Make each frame's amplitudes sum to 1 over features and frequencies.
    features
        Which features are transformed: ``"posture"`` (default) the postural
        and whole-body signals MotionMapper transforms (egocentric
        coordinates, distances, angles, body area, heading velocity, the
        centroid's speed, wall and social features), leaving out per-keypoint
        speeds, accelerations, speeds over past windows (``..._1s``) and
        tracking confidence, which the classifiers use but which only add
        noise to a spectrogram (on generated sessions with known behaviors
        they lowered the HMM's NMI from 0.51 to 0.40); their rows of the
        spectrogram are zero.  ``"all"``: every feature.
    """

    section: ClassVar[str] = "spectrogram"

    n_frequencies: int = attrs.field(default=25, validator=_positive)
    f_min: float = attrs.field(default=1.0, validator=_positive)
    f_max: float | None = attrs.field(default=None, validator=_positive)
    normalize: bool = True
    omega0: float = attrs.field(default=OMEGA0, validator=_positive)
    features: str = attrs.field(default="posture", validator=attrs.validators.in_(("posture", "all")))

    def __attrs_post_init__(self) -> None:
        """Check that the band is not empty."""
        if self.f_max is not None and self.f_max < self.f_min:
            raise SchemaError(f"SpectrogramConfig: f_max={self.f_max} Hz is below f_min={self.f_min} Hz")


@attrs.frozen
class SessionFeaturesConfig:
    """Parameters of :func:`compute_session_features`, one section per stage.

    Parameters
    ----------
    cleaning
        :class:`behaviorlab.trajectories.filtering.CleaningConfig`.
    features
        :class:`behaviorlab.features.design.FeatureConfig`.
    spectrogram
        :class:`SpectrogramConfig`, or ``None`` to skip the spectrogram.
    """

    cleaning: CleaningConfig = attrs.field(factory=CleaningConfig)
    features: FeatureConfig = attrs.field(factory=FeatureConfig)
    spectrogram: SpectrogramConfig | None = attrs.field(factory=SpectrogramConfig)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SessionFeaturesConfig:
        """Build from plain data, e.g. a YAML file with the sections ``cleaning``, ``features``, ``spectrogram``.

        Every section is optional (missing or empty: the defaults).
        ``spectrogram: false`` skips the spectrogram.  Unknown sections or
        keys, and values of the wrong type, raise :class:`SchemaError` naming
        the section and the key.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise SchemaError(f"expected a mapping with the sections {list(SECTIONS)}, got {data!r:.80}")
        unknown = sorted(set(map(str, data)) - set(SECTIONS))
        if unknown:
            raise SchemaError(f"unknown section(s) {unknown}; known sections: {list(SECTIONS)}")
        spectrogram: Any = data.get("spectrogram")
        if spectrogram is False:
            spec = None
        else:
            spec = SpectrogramConfig.from_dict(None if spectrogram is True else spectrogram)
        return cls(
            cleaning=CleaningConfig.from_dict(data.get("cleaning")),
            features=FeatureConfig.from_dict(data.get("features")),
            spectrogram=spec,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for YAML and the provenance log; ``from_dict(to_dict())`` gives it back."""
        return {
            "cleaning": self.cleaning.to_dict(),
            "features": self.features.to_dict(),
            "spectrogram": False if self.spectrogram is None else self.spectrogram.to_dict(),
        }


# --------------------------------------------------------------------------- the chain
def _stage_done(stage: str, start: float) -> float:
    """Log the wall time of a stage (DEBUG record with ``stage`` and ``seconds`` attributes); return a new start."""
    seconds = time.perf_counter() - start
    log.debug("compute_session_features: %s took %.3f s", stage, seconds, extra={"stage": stage, "seconds": seconds})
    return time.perf_counter()


def _checked_input(
    ds: xr.Dataset, config: SessionFeaturesConfig | Mapping[str, Any] | None, name: str
) -> SessionFeaturesConfig:
    """Check a pose Dataset for the feature stages (dims; a frame rate for a spectrogram); return the config."""
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"{name} needs a pose Dataset, got {type(ds).__name__}")
    check_dims(ds, POSITION_DIMS, name=f"{name} input")
    if not isinstance(config, SessionFeaturesConfig):
        config = SessionFeaturesConfig.from_dict(config)
    if config.spectrogram is not None and ds.attrs.get("fps") is None:
        raise SchemaError(
            "the pose Dataset has no 'fps' attr and the spectrogram needs a frame rate: load the poses with "
            "fps=..., or skip the spectrogram (spectrogram: false)"
        )
    return config


def compute_session_features(
    ds: xr.Dataset, config: SessionFeaturesConfig | Mapping[str, Any] | None = None
) -> xr.Dataset:
    """Clean the poses of one session, compute per-frame features and their Morlet spectrogram.

    Parameters
    ----------
    ds
        Pose Dataset of one contiguous recording: ``position (time, space,
        keypoint, individual)`` in px (2-D) and ``confidence (time, keypoint,
        individual)``; the ``fps`` attr is needed for the spectrogram.
    config
        A :class:`SessionFeaturesConfig` or its plain-data form (see
        :meth:`SessionFeaturesConfig.from_dict`); default all defaults.

    Returns
    -------
    xarray.Dataset
        A new Dataset (``ds`` is not modified) holding

        - the cleaned ``position`` and ``confidence`` and the cleaning masks
          ``cleaning_masked`` and ``interpolated (time, keypoint,
          individual)`` of :func:`behaviorlab.trajectories.filtering.clean_poses`;
        - ``features (time, individual, feature)`` with the ``units``
          coordinate of :func:`behaviorlab.features.design.compute_features`;
        - unless the spectrogram is skipped, ``spectrogram (time, individual,
          feature, frequency)`` float32 (``frequency`` in Hz) and
          ``spectrogram_total_amplitude (time, individual)``, each frame's sum
          of amplitudes before normalisation (see
          :func:`behaviorlab.features.wavelets.morlet_spectrogram`).

        ``attrs["log"]`` records every step with its parameters.

    Notes
    -----
    The wall time of each stage (``cleaning``, ``features``,
    ``spectrogram``) is logged at DEBUG level on this module's logger; the
    records carry ``stage`` and ``seconds`` attributes (the benchmarks read
    them).
    """
    config = _checked_input(ds, config, "compute_session_features")
    start = time.perf_counter()
    cleaned = clean_poses(ds, config.cleaning)
    _stage_done("cleaning", start)
    return session_features(cleaned, config)


def session_features(
    cleaned: xr.Dataset,
    config: SessionFeaturesConfig | Mapping[str, Any] | None = None,
    *,
    spectrogram: Literal["compute", "recipe"] = "compute",
) -> xr.Dataset:
    """Per-frame features and their spectrogram of poses already cleaned (the part after cleaning).

    :func:`compute_session_features` is :func:`~behaviorlab.trajectories.filtering.clean_poses`
    followed by this; ``behaviorlab run`` caches the two apart, so a changed
    feature parameter does not clean the poses again. ``config.cleaning`` is
    not used here.  Features and spectrogram are computed in blocks of
    frames (equal to the whole-recording computation), so a long recording
    needs no more working memory than a short one beside its results.

    ``spectrogram="recipe"`` leaves the spectrogram out and records its
    config in ``attrs[SPECTROGRAM_RECIPE]``: it is 25 times the size of the
    features (about 600 MB per hour, which does not compress) and takes
    about 10 s per hour to recompute, which :func:`with_spectrogram` and
    :func:`load_session_features` do when it is asked for.
    """
    config = _checked_input(cleaned, config, "session_features")
    start = time.perf_counter()
    out = compute_features(cleaned, config.features, chunk_frames=CHUNK_FRAMES)
    start = _stage_done("features", start)
    if config.spectrogram is None:
        return out
    if spectrogram == "recipe":
        out = out.copy(deep=False)
        out.attrs[SPECTROGRAM_RECIPE] = json.dumps(config.spectrogram.to_dict())
        return out
    out = _attach_spectrogram(out, config.spectrogram)
    _stage_done("spectrogram", start)
    return out


def _attach_spectrogram(out: xr.Dataset, spec: SpectrogramConfig) -> xr.Dataset:
    fps = out.attrs.get("fps")
    with unlogged():  # logged once below, on the Dataset
        power = morlet_spectrogram(
            spectrogram_input(out["features"], spec.features),
            fps=float(fps),
            n_frequencies=spec.n_frequencies,
            f_min=spec.f_min,
            f_max=spec.f_max,
            normalize=spec.normalize,
            omega0=spec.omega0,
        )
    # the features left out keep their place (the Dataset has one feature axis) with zero amplitude
    power = power.reindex(feature=out["feature"].values, fill_value=0.0)
    total = power["total_amplitude"].reset_coords(drop=True)
    total.attrs = {"units": "feature units (sum over features and frequencies)"}
    power = power.drop_vars("total_amplitude")
    power.attrs = {k: v for k, v in power.attrs.items() if k != "log"}
    out = out.copy(deep=False)
    out.attrs = {k: v for k, v in out.attrs.items() if k != SPECTROGRAM_RECIPE}
    out["spectrogram"] = power
    out["spectrogram_total_amplitude"] = total
    return log_step(out, "morlet_spectrogram", fps=float(fps), **spec.to_dict())


def with_spectrogram(features: xr.Dataset) -> xr.Dataset:
    """Return ``features`` with its spectrogram, recomputed from ``attrs[SPECTROGRAM_RECIPE]`` if it is not there.

    Raises :class:`SchemaError` when there is neither a spectrogram nor a recipe.
    """
    if "spectrogram" in features:
        return features
    recipe = features.attrs.get(SPECTROGRAM_RECIPE)
    if recipe is None or "features" not in features:
        raise SchemaError(
            "these features have no spectrogram and no recipe to compute it: compute the features again "
            "with a spectrogram section (or fit on the features: variable: features)"
        )
    if features.attrs.get("fps") is None:
        raise SchemaError("these features have no 'fps' attr, which the spectrogram needs")
    return _attach_spectrogram(features, SpectrogramConfig.from_dict(json.loads(recipe)))


def load_session_features(
    path: str | Path,
    select: Sequence[str] | None = None,
    *,
    spectrogram: Literal["compute", "recipe"] = "compute",
    lazy: bool = False,
) -> xr.Dataset:
    """Read a features file, recomputing its spectrogram when it is asked for and was not stored.

    Parameters
    ----------
    path
        A features file (``behaviorlab features``, or the ``features`` stage of ``behaviorlab run``).
    select
        Variables to read (default all, the spectrogram included); a missing
        one is an error naming the file.
    spectrogram
        ``"compute"``: a spectrogram asked for and not stored is computed now.
        ``"recipe"``: it is left to the estimators, which compute its rows as
        they read them (:func:`behaviorlab.features.samples.session_samples`):
        the Dataset holds ``features`` and the recipe instead.
    lazy
        Read values only when they are used (:func:`behaviorlab.io.load.load_netcdf`):
        the classifier's predict then holds one block of the session at a time.
        A spectrogram computed now reads the features whole.
    """
    wanted = None if select is None else list(dict.fromkeys(select))
    asked = wanted is None or any(v in _SPECTROGRAM_VARIABLES for v in wanted)
    try:
        ds = load_netcdf(path, select=wanted, lazy=lazy)
    except FileFormatError:
        if wanted is None or not asked:  # not a missing spectrogram: the file itself
            raise
        rest = [v for v in wanted if v not in _SPECTROGRAM_VARIABLES]
        ds = load_netcdf(path, select=list(dict.fromkeys([*rest, "features"])), lazy=lazy)
        if SPECTROGRAM_RECIPE not in ds.attrs:
            ds.close()
            load_netcdf(path, select=wanted)  # the error that names what the file lacks
    if not asked or "spectrogram" in ds or SPECTROGRAM_RECIPE not in ds.attrs:
        return ds
    if spectrogram == "recipe":
        kept = [v for v in wanted or () if v not in _SPECTROGRAM_VARIABLES]
        return ds if wanted is None else ds[list(dict.fromkeys([*kept, "features"]))]
    try:
        ds = with_spectrogram(ds)
    except SchemaError as err:
        raise FileFormatError(path, str(err)) from None
    return ds if wanted is None else ds[wanted]

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

import logging
import time
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import xarray as xr

from behaviorlab.errors import SchemaError
from behaviorlab.features.design import FeatureConfig, compute_features
from behaviorlab.features.wavelets import OMEGA0, morlet_spectrogram
from behaviorlab.schema import POSITION_DIMS, check_dims, log_step
from behaviorlab.trajectories.filtering import CleaningConfig, clean_poses

__all__ = ["SessionFeaturesConfig", "SpectrogramConfig", "compute_session_features", "session_features"]

log = logging.getLogger(__name__)

SECTIONS = ("cleaning", "features", "spectrogram")


# --------------------------------------------------------------------------- plain-data checks
def _matches(value: Any, tp: Any) -> bool:
    """Whether a plain (YAML) value fits the declared type ``tp`` of a config field.

    Scalars are checked strictly (``bool`` is not a number, a string is not a
    number); sequences are only checked to be sequences, their converters and
    validators check the rest.
    """
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple or tp is tuple:
        return isinstance(value, str | list | tuple)
    return True


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if typing.get_origin(tp) is tuple or tp is tuple:
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _section_from_dict(cls: type, data: Any, section: str) -> Any:
    """Build config class ``cls`` from the plain mapping of one section, naming the section in every error."""
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise SchemaError(f"section {section!r} must be a mapping of option names to values, got {data!r:.80}")
    attrs.resolve_types(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise SchemaError(f"unknown key(s) {unknown} in section {section!r}; known keys: {sorted(fields)}")
    for key, value in data.items():
        tp = fields[key].type
        if tp is not None and not _matches(value, tp):
            raise SchemaError(f"{section}.{key} must be {_type_name(tp)}, got {value!r:.80}")
    try:
        return cls.from_dict(dict(data))
    except (TypeError, ValueError) as err:  # the class's own validators (SchemaError is a ValueError)
        raise SchemaError(f"section {section!r}: {err}") from None


# --------------------------------------------------------------------------- configs
def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not value > 0:
        raise SchemaError(f"SpectrogramConfig.{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class SpectrogramConfig:
    """Parameters of :func:`behaviorlab.features.wavelets.morlet_spectrogram` (the frame rate comes from the data).

    Parameters
    ----------
    n_frequencies
        Number of log2-spaced frequencies.
    f_min
        Lowest frequency in Hz.
    f_max
        Highest frequency in Hz; ``None`` is the Nyquist frequency ``fps / 2``.
    normalize
        Make each frame's amplitudes sum to 1 over features and frequencies.
    omega0
        Non-dimensional frequency of the Morlet wavelet.
    """

    n_frequencies: int = attrs.field(default=25, validator=_positive)
    f_min: float = attrs.field(default=1.0, validator=_positive)
    f_max: float | None = attrs.field(default=None, validator=_positive)
    normalize: bool = True
    omega0: float = attrs.field(default=OMEGA0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        """Check that the band is not empty."""
        if self.f_max is not None and self.f_max < self.f_min:
            raise SchemaError(f"SpectrogramConfig: f_max={self.f_max} Hz is below f_min={self.f_min} Hz")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpectrogramConfig:
        """Build from plain data (a YAML section); unknown keys are an error."""
        known = {f.name for f in attrs.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SchemaError(f"unknown spectrogram config keys {sorted(unknown)}; known keys: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for YAML and the provenance log."""
        return attrs.asdict(self)


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
            spec = _section_from_dict(SpectrogramConfig, None if spectrogram is True else spectrogram, "spectrogram")
        return cls(
            cleaning=_section_from_dict(CleaningConfig, data.get("cleaning"), "cleaning"),
            features=_section_from_dict(FeatureConfig, data.get("features"), "features"),
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
    cleaned: xr.Dataset, config: SessionFeaturesConfig | Mapping[str, Any] | None = None
) -> xr.Dataset:
    """Per-frame features and their spectrogram of poses already cleaned (the part after cleaning).

    :func:`compute_session_features` is :func:`~behaviorlab.trajectories.filtering.clean_poses`
    followed by this; ``behaviorlab run`` caches the two apart, so a changed
    feature parameter does not clean the poses again. ``config.cleaning`` is
    not used here.
    """
    config = _checked_input(cleaned, config, "session_features")
    fps = cleaned.attrs.get("fps")
    start = time.perf_counter()
    out = compute_features(cleaned, config.features)
    start = _stage_done("features", start)
    if config.spectrogram is not None:
        spec = config.spectrogram
        power = morlet_spectrogram.__wrapped__(  # logged once below, on the Dataset
            out["features"],
            fps=float(fps),
            n_frequencies=spec.n_frequencies,
            f_min=spec.f_min,
            f_max=spec.f_max,
            normalize=spec.normalize,
            omega0=spec.omega0,
        )
        total = power["total_amplitude"].reset_coords(drop=True)
        total.attrs = {"units": "feature units (sum over features and frequencies)"}
        power = power.drop_vars("total_amplitude")
        power.attrs = {k: v for k, v in power.attrs.items() if k != "log"}
        out = out.copy(deep=False)
        out["spectrogram"] = power
        out["spectrogram_total_amplitude"] = total
        out = log_step(out, "morlet_spectrogram", fps=float(fps), **spec.to_dict())
        _stage_done("spectrogram", start)
    return out

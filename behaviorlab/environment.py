"""What ``behaviorlab info`` reports: package versions, Keras backend and devices."""

from __future__ import annotations

import importlib.util
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["environment_report", "package_versions"]

_PACKAGES = (
    "behaviorlab",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "h5netcdf",
    "sleap-io",
    "pynwb",
    "ndx-pose",
    "av",
    "keras",
    "tensorflow",
    "tensorflow-cpu",
    "jax",
    "torch",
    "scikit-learn",
    "hmmlearn",
    "umap-learn",
    "pynndescent",
    "pywavelets",
    "scikit-image",
    "streamlit",
    "plotly",
)


def package_versions() -> dict[str, str]:
    """Installed versions of behaviorlab's main dependencies (``"not installed"`` when absent)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment_report() -> dict[str, Any]:
    """Versions, Python, platform, FFmpeg, the Keras backend and the devices it sees.

    Keras is imported only here (through :mod:`behaviorlab.pose.backend`), so
    the report costs a Keras import when Keras is installed.
    """
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    report.update(package_versions())
    if importlib.util.find_spec("av") is not None:
        import av

        report["ffmpeg (PyAV)"] = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    if importlib.util.find_spec("keras") is not None:
        from behaviorlab.pose.backend import backend_report

        report.update(backend_report())
    else:
        report["keras backend"] = "keras not installed (pose models unavailable)"
    return report

"""What ``behaviorlab info`` reports: package versions, Keras backend and devices."""

from __future__ import annotations

import atexit
import importlib.util
import os
import platform
import re
import select
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import av

__all__ = ["NATIVE_LOG_LINE", "environment_report", "filter_native_logs", "package_versions"]

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
        report["ffmpeg (PyAV)"] = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    if importlib.util.find_spec("keras") is not None:
        from behaviorlab.pose.backend import (
            backend_report,  # lazy: Keras (the pose extra), through behaviorlab.pose.backend
        )

        report.update(backend_report())
    else:
        report["keras backend"] = "keras not installed (pose models unavailable)"
    return report


# --------------------------------------------------------------------------- native log lines
#: A line of the C++ logs of TensorFlow, XLA and absl (``I0000 00:00:17.. 123 port.cc:153] ...``), or absl's banner.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] |"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)
_native_filter: dict[str, Any] = {}


def filter_native_logs() -> None:
    """Drop the C++ log lines of TensorFlow, XLA and absl from this process's standard error.

    TensorFlow writes them to file descriptor 2 before any Python setting can
    stop it (``TF_CPP_MIN_LOG_LEVEL`` does not reach absl's first lines, nor
    the ``cuInit`` error on a machine without a GPU). Descriptor 2 is put
    behind a pipe whose reader passes every other line on unchanged, so the
    filter also holds for the worker processes this process starts. Only the
    command line calls it (``behaviorlab --verbose`` does not); calling it
    again does nothing.
    """
    if _native_filter:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # what TensorFlow can filter itself, in workers too
    sys.stderr.flush()
    real = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_pump, args=(read_fd, real), name="behaviorlab-stderr", daemon=True)
    thread.start()
    _native_filter.update(real=real, thread=thread)
    atexit.register(_stop_filter)


def _pump(read_fd: int, real: int) -> None:
    """Copy the pipe to the real standard error, dropping native log lines (a partial line waits 0.1 s)."""
    pending = b""
    while True:
        ready, _, _ = select.select([read_fd], [], [], 0.1)
        if not ready:
            if pending and not NATIVE_LOG_LINE.match(pending):
                os.write(real, pending)  # a prompt or a progress line without its newline yet
                pending = b""
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NATIVE_LOG_LINE.match(line))
        if kept:
            os.write(real, kept)
    if pending and not NATIVE_LOG_LINE.match(pending):
        os.write(real, pending)
    os.close(read_fd)


def _stop_filter() -> None:
    """Give descriptor 2 back and let the reader drain what is left (worker processes may still hold the pipe)."""
    sys.stderr.flush()
    os.dup2(_native_filter["real"], 2)  # closes this process's write end of the pipe
    _native_filter["thread"].join(timeout=1.0)

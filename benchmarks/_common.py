"""Shared helpers of the benchmark scripts: machine description, compiled predict, timing, result files.

Nothing here imports Keras at module level, so a script can set
``KERAS_BACKEND`` (:func:`set_backend`) after importing this module.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_RESULTS_DIR",
    "compile_predict",
    "format_table",
    "machine_info",
    "median",
    "percentile",
    "set_backend",
    "time_calls",
    "write_results",
]

DEFAULT_RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKENDS = ("tensorflow", "jax", "torch")


def set_backend(backend: str | None) -> None:
    """Set ``KERAS_BACKEND``; must run before Keras is first imported."""
    if backend is None:
        return
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {BACKENDS}, got {backend!r}")
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
        raise RuntimeError("keras was imported before the backend was set; set --backend before importing keras")
    os.environ["KERAS_BACKEND"] = backend


# --------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, accelerators seen by the Keras backend, load and library versions."""
    from behaviorlab.pose.backend import backend_report

    report = backend_report()
    try:
        usable_cores = len(os.sched_getaffinity(0))
    except AttributeError:
        usable_cores = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    devices = report["devices"]
    gpus = [d for d in devices if any(tag in d.lower() for tag in ("gpu", "cuda", "tpu"))]
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_cores_usable": usable_cores,
        "memory_gib": _memory_gib(),
        "load_average_1_5_15min": load,
        "gpus": gpus,
        "keras_backend": report["keras backend"],
        "backend_devices": devices,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": _version("keras"),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "jax": _version("jax"),
        "torch": _version("torch"),
    }


# --------------------------------------------------------------------------- predict + timing
def compile_predict(model, mode: str = "auto") -> Callable[[np.ndarray], np.ndarray]:
    """A compiled ``images -> outputs (numpy)`` function of ``model`` (first output if several).

    Modes
    -----
    ``"graph"``
        TensorFlow only: ``tf.function`` with an unknown batch dimension and
        no XLA (one trace serves every batch size; on CPU this is as fast as
        XLA or faster).
    ``"keras"``
        Keras's own predict step, ``model.predict_on_batch`` (the function
        behind ``model.predict``): XLA on TensorFlow, ``jax.jit`` on JAX,
        eager on PyTorch.  Compiled once per input shape.
    ``"auto"``
        ``"graph"`` on TensorFlow, ``"keras"`` otherwise.
    """
    import keras

    backend = keras.backend.backend()
    if mode == "auto":
        mode = "graph" if backend == "tensorflow" else "keras"
    if mode == "graph":
        if backend != "tensorflow":
            raise ValueError(f"--compile graph needs the tensorflow backend, not {backend}")
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32)
        graph = tf.function(lambda x: model(x, training=False), input_signature=[spec], jit_compile=False)

        def run(x: np.ndarray) -> np.ndarray:
            out = graph(tf.convert_to_tensor(x, tf.float32))
            out = out[0] if isinstance(out, list | tuple) else out
            return out.numpy()

        return run
    if mode == "keras":

        def run(x: np.ndarray) -> np.ndarray:
            out = model.predict_on_batch(x)
            return np.asarray(out[0] if isinstance(out, list | tuple) else out)

        return run
    raise ValueError(f"--compile must be auto, graph or keras, got {mode!r}")


def time_calls(
    fn: Callable[[], Any], *, repeats: int, warmup: int = 1, budget_s: float | None = None
) -> tuple[list[float], float]:
    """Run ``fn`` ``warmup`` times untimed, then time up to ``repeats`` calls.

    Stops early once ``budget_s`` seconds of timed calls are spent (always at
    least one timed call).  Returns ``(seconds per timed call, seconds of the
    first warm-up call)``; the latter includes compilation.
    """
    first = math.nan
    for i in range(warmup):
        start = time.perf_counter()
        fn()
        if i == 0:
            first = time.perf_counter() - start
    times: list[float] = []
    spent = 0.0
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        spent += times[-1]
        if budget_s is not None and spent >= budget_s:
            break
    return times, first


def percentile(values: Sequence[float], q: float) -> float:
    """``q``-th percentile (linear interpolation)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def median(values: Sequence[float]) -> float:
    """Median as a float."""
    return float(statistics.median(values))


# --------------------------------------------------------------------------- output
def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain-text table with right-aligned columns (floats to 4 significant digits)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if not math.isfinite(value) else f"{value:.4g}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in text]
    return "\n".join(lines)


def _json_scalar(key: str, value: Any) -> float | int | str | None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"metric {key!r} must be a float, int or str (flat metrics), got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    return value


def write_results(
    name: str,
    metrics: dict[str, float | int | str],
    *,
    config: dict[str, Any],
    table: str,
    out_dir: str | Path = DEFAULT_RESULTS_DIR,
) -> Path:
    """Print ``table`` and write ``<out_dir>/<name>.json`` atomically.

    The file holds ``benchmark``, ``date`` (ISO 8601, UTC), ``machine``
    (:func:`machine_info`), ``config`` and a flat ``metrics`` object whose
    keys say what each number is.  Non-finite floats are written as null.
    """
    flat = {str(k): _json_scalar(str(k), v) for k, v in metrics.items()}
    record = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": config,
        "metrics": flat,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".json.tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2, allow_nan=False, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(table)
    print(f"\nwrote {path}")
    return path

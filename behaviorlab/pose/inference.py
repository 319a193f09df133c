"""Pose estimation on videos: streaming, resumable batch inference, and a batch-1 real-time path.

:func:`predict_video` decodes a video in a background thread (decoding and
preprocessing overlap with inference), runs the model in fixed-size batches
and returns a pose Dataset (``time, space, keypoint, individual``) with a
confidence per keypoint.  Memory use does not grow with the video's length
beyond the result arrays (a few bytes per frame and keypoint).

Resuming
--------
While it runs, :func:`predict_video` keeps its finished work in a folder
``<out>.partial/``: one ``.npz`` per chunk of ``chunk_size`` frames, each
written atomically, and ``meta.json`` naming the model and video it belongs
to.  After a crash or an interruption, calling it again with the same
arguments checks that the model, the video and the settings are unchanged,
keeps every finished chunk and continues with the next.  Chunks are
multiples of the batch size and every batch has the same shape (the last is
padded), so each frame passes the network in the same batch company as in an
uninterrupted run and the final file holds the same numbers.  The folder is
removed once the result is written.

Real time
---------
:class:`RealtimePredictor` compiles the inference model once for a batch of
one, warms it up, and predicts one frame per call, recording each call's
latency for closed-loop experiments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import xarray as xr

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import BehaviorlabError, FileFormatError, VideoError
from behaviorlab.io.save import save_poses
from behaviorlab.io.video import TruncatedVideoWarning, VideoReader
from behaviorlab.pose.predict import PoseModel
from behaviorlab.progress import progress_reporter
from behaviorlab.schema import from_numpy, log_step

__all__ = ["DamagedFramesWarning", "RealtimePredictor", "partial_dir", "predict_video"]

log = logging.getLogger(__name__)

META = "meta.json"
_SENTINEL = object()


def partial_dir(out: str | Path) -> Path:
    """Return the folder where :func:`predict_video` keeps the finished chunks of ``out`` until it is written."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of the first and last MiB: cheap, and changes when the file is replaced."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 2 << 20:
            handle.seek(size - (1 << 20))
            digest.update(handle.read())
    return {"path": str(path.resolve()), "size": size, "sha256_head_tail": digest.hexdigest()}


def model_fingerprint(model: PoseModel) -> str:
    """SHA-256 over the model's weights and its pose config."""
    digest = hashlib.sha256(json.dumps(model.config, sort_keys=True, default=str).encode())
    for weight in model.train_model.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)))
    return digest.hexdigest()


# --------------------------------------------------------------------------- background reading
class _BackgroundReader:
    """Decode and preprocess batches in a thread; iterate to get ``(first, n, preprocessed)``.

    Exceptions raised in the thread are re-raised in the consumer, and
    warnings (a truncated video) are re-emitted there.
    """

    def __init__(
        self,
        video: Path,
        preprocess: Callable[[np.ndarray], Any],
        batch_size: int,
        start: int,
        stop: int,
        *,
        grayscale: bool,
        prefetch: int = 3,
    ) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._args = (video, preprocess, batch_size, start, stop, grayscale)
        self._thread = threading.Thread(target=self._run, name="behaviorlab-video-reader", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        video, preprocess, batch_size, start, stop, grayscale = self._args
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", TruncatedVideoWarning)
                with VideoReader(video, grayscale=grayscale) as reader:
                    batches = reader.iter_batches(batch_size, start, stop, on_truncated="warn", on_damaged="skip")
                    seen = 0
                    for first, frames in batches:
                        damaged = reader.damaged_frames[seen:]
                        seen = len(reader.damaged_frames)
                        if not self._put(("batch", first, len(frames), preprocess(frames), damaged)):
                            return
            for warning in caught:
                self._put(("warning", warning.message, warning.category))
        except BaseException as err:  # forwarded to the consumer
            self._put(("error", err))
        finally:
            self._put(("end",))

    def __iter__(self) -> Iterator[tuple[int, int, Any, list[int]]]:
        while True:
            item = self._queue.get()
            kind = item[0]
            if kind == "end":
                return
            if kind == "error":
                raise item[1]
            if kind == "warning":
                warnings.warn(item[1], item[2], stacklevel=3)
                continue
            yield item[1], item[2], item[3], item[4]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class DamagedFramesWarning(UserWarning):
    """Some frames in the middle of a video could not be decoded; their results are NaN, the run went on."""

    def __init__(self, video: Path, frames: Sequence[int], shown: str) -> None:
        self.video = video
        self.frames = list(frames)
        super().__init__(
            f"{video}: {len(self.frames)} damaged frame(s) could not be decoded and have no poses (NaN): "
            f"frame {shown}; the other frames were predicted. Re-encode the video (ffmpeg -i in.mp4 out.mp4) "
            "if many frames are damaged"
        )


# --------------------------------------------------------------------------- chunks
def _chunk_path(folder: Path, first: int) -> Path:
    return folder / f"chunk_{first:010d}.npz"


def _load_chunks(folder: Path, chunk_size: int) -> tuple[list[np.ndarray], int, bool, list[int]]:
    """Finished chunks in order, the next frame to predict, whether the video ended early, the damaged frames."""
    parts: list[np.ndarray] = []
    damaged: list[int] = []
    next_frame = 0
    ended = False
    while True:
        path = _chunk_path(folder, next_frame)
        if not path.is_file():
            break
        with np.load(path) as data:
            peaks = data["peaks"]
            ended = bool(data["ended"])
            damaged += [int(i) for i in data["damaged"]] if "damaged" in data else []
        parts.append(peaks)
        next_frame += len(peaks)
        if ended or len(peaks) < chunk_size:
            ended = True
            break
    return parts, next_frame, ended, damaged


def _save_chunk(folder: Path, first: int, peaks: np.ndarray, ended: bool, damaged: Sequence[int] = ()) -> None:
    with atomic_path(_chunk_path(folder, first)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, peaks=peaks, ended=np.bool_(ended), damaged=np.asarray(damaged, dtype=np.int64))


def _check_meta(folder: Path, meta: dict[str, Any], out: Path) -> bool:
    """Whether ``folder`` holds resumable work for exactly this model, video and settings."""
    path = folder / META
    if not path.is_file():
        return False
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    if saved != meta:
        changed = sorted(k for k in set(saved) | set(meta) if saved.get(k) != meta.get(k))
        raise BehaviorlabError(
            f"{folder} holds unfinished predictions for {out.name} made with a different {', '.join(changed)}; "
            "delete that folder to start again, or predict with the same model, video and settings to resume"
        )
    return True


# --------------------------------------------------------------------------- video prediction
def predict_video(
    model: PoseModel | str | Path,
    video: str | Path,
    out: str | Path | None = None,
    *,
    batch_size: int = 32,
    chunk_size: int | None = None,
    start: int = 0,
    stop: int | None = None,
    individual: str = "individual_0",
    progress: bool = False,
    prefetch: int = 3,
) -> xr.Dataset:
    """Predict the keypoints of every frame of a video.

    Parameters
    ----------
    model
        A loaded :class:`~behaviorlab.pose.predict.PoseModel` or its folder.
    video
        Any video PyAV decodes.
    out
        netCDF file to write (atomically).  With ``out``, finished chunks are
        kept in :func:`partial_dir` and an interrupted call resumes; without
        it nothing is written.
    batch_size
        Frames per forward pass.
    chunk_size
        Frames per saved chunk, rounded up to a multiple of ``batch_size``;
        default about 1,000 frames.
    start, stop
        Frame range (``stop=None``: to the end).
    individual
        Name of the single individual in the result.
    progress
        Report progress: a bar with frames/s and time left on a terminal, a
        line every 10 s otherwise (:func:`behaviorlab.progress.progress_reporter`).
    prefetch
        Batches decoded ahead of the network.

    Returns
    -------
    xarray.Dataset
        Poses ``position (time, space, keypoint, individual)`` and
        ``confidence (time, keypoint, individual)``; ``time`` in seconds
        from the first predicted frame (``frame`` holds the video frame
        index); attrs ``fps``, ``source_software = "behaviorlab"``,
        ``video``, ``model``, ``damaged_frames`` (how many frames could not
        be decoded: their poses are NaN, a :class:`DamagedFramesWarning`
        names them).  A truncated video gives the readable frames and a
        :class:`~behaviorlab.io.video.TruncatedVideoWarning`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pose_model = model if isinstance(model, PoseModel) else PoseModel.load(model)

    def preprocess(frames: np.ndarray) -> np.ndarray:
        images = pose_model.preprocess(frames)
        if len(images) < batch_size:  # same shape for every batch: same numerics, one compilation
            images = np.concatenate([images, np.zeros((batch_size - len(images), *images.shape[1:]), images.dtype)])
        return images

    stream = predict_stream(
        video,
        out,
        fingerprint=lambda: model_fingerprint(pose_model),
        frame_shape=(pose_model.skeleton.n_keypoints, 3),
        preprocess=preprocess,
        make_predict=pose_model.predict_function,
        grayscale=pose_model.grayscale or pose_model.channels == 1,
        batch_size=batch_size,
        chunk_size=chunk_size,
        start=start,
        stop=stop,
        progress=progress,
        prefetch=prefetch,
    )
    ds = _to_dataset(stream.results, pose_model, stream.fps, stream.start, individual, stream.video)
    ds = log_step(
        ds,
        "predict_video",
        video=str(stream.video),
        model_dir=str(pose_model.model_dir),
        batch_size=batch_size,
        frames=[stream.start, stream.start + len(stream.results)],
        started=stream.started,
        damaged_frames=list(stream.damaged),
    )
    ds.attrs["damaged_frames"] = len(stream.damaged)
    write_result(ds, out, stream)
    return ds


@attrs.frozen
class _Stream:
    """Per-frame results of :func:`predict_stream` and what the Dataset needs about them."""

    results: np.ndarray
    video: Path
    fps: float | None
    start: int
    started: str
    folder: Path | None
    damaged: tuple[int, ...] = ()


def predict_stream(
    video: str | Path,
    out: str | Path | None,
    *,
    fingerprint: Callable[[], str],
    frame_shape: tuple[int, ...],
    preprocess: Callable[[np.ndarray], Any],
    make_predict: Callable[[], Callable[[Any], np.ndarray]],
    grayscale: bool,
    batch_size: int,
    chunk_size: int | None,
    start: int,
    stop: int | None,
    progress: bool,
    prefetch: int,
) -> _Stream:
    """Run ``predict(preprocess(frames))`` over a video in batches, resumably; shared by every video predictor.

    ``preprocess`` runs in the reader thread and must give every batch the
    same shape; ``predict`` returns ``(batch_size, *frame_shape)`` (rows past
    the real frames are ignored) and is made by ``make_predict`` only when
    work is left.  ``fingerprint()`` names the model in the resume check (called only with ``out``).
    """
    video = Path(video)
    if not video.is_file():
        raise FileFormatError(video, "no such video file")
    with VideoReader(video) as reader:
        info = reader.info
        n_total = len(reader)
    start, stop, _ = slice(start, stop).indices(n_total)
    chunk = batch_size * max(1, round((chunk_size or 1000) / batch_size))
    fps = float(info.fps) if info.fps else None

    folder = None
    parts: list[np.ndarray] = []
    damaged: list[int] = []
    next_frame = start
    ended = False
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if out is not None:
        out = Path(out)
        folder = partial_dir(out)
        meta = {
            "model": fingerprint(),
            "video": _file_fingerprint(video),
            "start": start,
            "stop": stop,
            "batch_size": batch_size,
            "chunk_size": chunk,
        }
        if _check_meta(folder, meta, out):
            parts, done, ended, damaged = _load_chunks(folder, chunk)
            next_frame = start + done
            started = json.loads((folder / "started.json").read_text())["started"]
            log.info("resuming %s at frame %d of %d", video, next_frame, stop)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(folder / "started.json") as tmp:
                Path(tmp).write_text(json.dumps({"started": started}))
            with atomic_path(folder / META) as tmp:
                Path(tmp).write_text(json.dumps(meta, indent=2))

    if not ended and next_frame < stop:
        parts += _run(
            make_predict(),
            preprocess,
            video,
            next_frame,
            stop,
            batch_size,
            chunk,
            folder,
            progress,
            prefetch,
            grayscale=grayscale,
            frame_shape=frame_shape,
            damaged=damaged,
        )
    results = np.concatenate(parts) if parts else np.zeros((0, *frame_shape), np.float32)
    if len(results) == 0:
        raise VideoError(video, f"no frame in {start}:{stop} could be decoded")
    if damaged:
        shown = ", ".join(map(str, damaged[:10])) + (" ..." if len(damaged) > 10 else "")
        warnings.warn(DamagedFramesWarning(video, damaged, shown), stacklevel=3)
    return _Stream(results, video, fps, start, started, folder, tuple(damaged))


def write_result(ds: xr.Dataset, out: str | Path | None, stream: _Stream) -> None:
    """Save ``ds`` to ``out`` (netCDF) and remove the finished chunks; nothing without ``out``."""
    if out is None:
        return
    save_poses(ds, out, format="netcdf")
    for path in sorted(stream.folder.glob("*")):
        path.unlink()
    stream.folder.rmdir()


def _run(
    predict: Callable[[Any], np.ndarray],
    preprocess: Callable[[np.ndarray], Any],
    video: Path,
    first_frame: int,
    stop: int,
    batch_size: int,
    chunk: int,
    folder: Path | None,
    progress: bool,
    prefetch: int,
    *,
    grayscale: bool,
    frame_shape: tuple[int, ...],
    damaged: list[int],
) -> list[np.ndarray]:
    """Predict frames ``first_frame:stop`` in chunks; save each chunk when ``folder`` is given.

    Frames the reader could not decode (damaged) get NaN results and are appended to ``damaged``.
    """
    parts: list[np.ndarray] = []
    chunk_damaged: list[int] = []
    buffer = np.empty((chunk, *frame_shape), np.float32)
    filled = 0
    chunk_first = first_frame
    expected = first_frame

    def flush(ended: bool) -> None:
        nonlocal filled, chunk_first
        part = buffer[:filled].copy()
        parts.append(part)
        if folder is not None:
            _save_chunk(folder, chunk_first, part, ended, chunk_damaged)
        damaged.extend(chunk_damaged)
        chunk_damaged.clear()
        chunk_first += filled
        filled = 0

    reader = _BackgroundReader(video, preprocess, batch_size, first_frame, stop, grayscale=grayscale, prefetch=prefetch)
    bar = _progress(progress, stop - first_frame, video.name)
    try:
        for first, n, images, bad in reader:
            if first != expected:
                raise BehaviorlabError(f"{video}: frames arrived out of order ({first} after {expected})")
            buffer[filled : filled + n] = predict(images)[:n]
            for index in bad:  # a black stand-in was predicted: the frame has no result
                buffer[filled + index - first] = np.nan
                chunk_damaged.append(index)
            filled += n
            expected += n
            bar(n)
            if filled == chunk:
                flush(ended=expected >= stop)
    finally:
        reader.close()
        bar(None)
    if filled or expected < stop:  # the tail, or a truncated video: mark the work as complete
        flush(ended=True)
    return parts


def _progress(enabled: bool, total: int, label: str) -> Callable[[int | None], None]:
    """``advance(n)``: a bar on a terminal, lines every 10 s otherwise (``advance(None)`` ends); no-op if disabled."""
    return progress_reporter(total, f"predicting {label}", enabled=enabled)


def _to_dataset(
    peaks: np.ndarray, pose_model: PoseModel, fps: float | None, start: int, individual: str, video: Path
) -> xr.Dataset:
    position = np.transpose(peaks[..., :2], (0, 2, 1))[..., None].astype(np.float64)  # (time, space, keypoint, 1)
    confidence = pose_model.calibrated(peaks[..., 2])[..., None].astype(np.float64)  # checkpoints keep the raw
    ds = from_numpy(
        position,
        confidence,
        keypoints=pose_model.skeleton.keypoints,
        individuals=[individual],
        fps=fps,
        source_software="behaviorlab",
        skeleton=pose_model.skeleton,
        attrs_={"video": str(video), "model": str(pose_model.config.get("model"))},
    )
    frames = np.arange(start, start + len(peaks), dtype=np.int64)
    ds = ds.assign_coords(frame=("time", frames))
    if fps:
        ds = ds.assign_coords(time=("time", frames / fps, ds["time"].attrs))
    return ds


# --------------------------------------------------------------------------- real time
class RealtimePredictor:
    """Batch-1 prediction for closed-loop experiments, with per-call latency.

    Parameters
    ----------
    model
        A loaded :class:`~behaviorlab.pose.predict.PoseModel` or its folder.
    warmup
        Calls made at construction (compilation, allocation) and not recorded.

    Examples
    --------
    >>> predictor = RealtimePredictor("model_dir")  # doctest: +SKIP
    >>> keypoints = predictor(frame)  # (n_keypoints, 3): x, y, confidence  # doctest: +SKIP
    >>> predictor.latency_ms()  # {"p50": ..., "p99": ..., "n": ...}  # doctest: +SKIP
    """

    def __init__(self, model: PoseModel | str | Path, *, warmup: int = 3) -> None:
        self.model = model if isinstance(model, PoseModel) else PoseModel.load(model)
        self._predict = self.model.predict_function()
        self.latencies_s: list[float] = []
        blank = np.zeros((1, *self.model.input_shape), np.float32)
        for _ in range(max(0, warmup)):
            self._predict(blank)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Keypoints ``(n_keypoints, 3)`` (x, y, confidence) of one ``(height, width[, channels])`` uint8 frame."""
        started = time.perf_counter()
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = frame[..., None]
        out = np.array(self._predict(self.model.preprocess(frame[None]))[0])
        out[:, 2] = self.model.calibrated(out[:, 2])
        self.latencies_s.append(time.perf_counter() - started)
        return out

    def latency_ms(self, percentiles: Sequence[float] = (50, 99)) -> dict[str, float]:
        """Latency percentiles of the recorded calls in milliseconds, and their count ``n``."""
        if not self.latencies_s:
            return {"n": 0}
        values = 1e3 * np.asarray(self.latencies_s)
        return {**{f"p{q:g}": float(np.percentile(values, q)) for q in percentiles}, "n": len(values)}

"""Write videos with PyAV (FFmpeg): deterministic H.264 MP4 files.

:func:`write_video` and :class:`VideoWriter` produce H.264 MP4 files whose
bytes depend only on the frames and the parameters: the encoder runs on one
thread with fixed options, the muxer writes no time-dependent metadata, and
the file is renamed into place only when complete.  Reading is
:mod:`behaviorlab.io.video`.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from behaviorlab._atomic import atomic_path
from behaviorlab.errors import VideoError

__all__ = ["VideoWriter", "write_video"]

logger = logging.getLogger(__name__)

_X264_LIKE = ("libx264", "libx265")


def _as_rate(fps: float) -> Fraction:
    """Return ``fps`` as an exact fraction (29.97 -> 2997/100, 30000/1001 kept)."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return Fraction(fps).limit_denominator(1001 * 1000)


def _check_frame(frame: Any) -> np.ndarray:
    """Return ``frame`` as a uint8 ``(H, W)`` or ``(H, W, 3)`` array, or raise."""
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise ValueError(f"video frames must be uint8, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"video frames must have shape (H, W), (H, W, 1) or (H, W, 3), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"video frames must not be empty, got shape {arr.shape}")
    return arr


def _pad_even(arr: np.ndarray) -> np.ndarray:
    """Pad the bottom row and/or right column by edge replication to even height and width.

    Padding at the bottom and right keeps pixel coordinates (origin top-left) unchanged.
    """
    pad_h, pad_w = arr.shape[0] % 2, arr.shape[1] % 2
    if not (pad_h or pad_w):
        return arr
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, widths, mode="edge")


class VideoWriter:
    """Write frames one by one to a deterministic H.264 MP4 file.

    The file is written to a temporary path beside ``path`` and renamed into
    place by :meth:`close` (or on leaving the ``with`` block without an error);
    if the block raises, no file is left behind and an existing ``path`` is
    untouched.  Identical frames and parameters give identical bytes (with the
    same FFmpeg build): the encoder uses one thread and the container carries no
    creation time or version strings.

    Frames must all have the same shape.  H.264 in ``yuv420p`` needs an even
    width and height: odd frames are padded by one replicated row at the bottom
    and/or column at the right (pixel coordinates do not move), so the video is
    up to one pixel larger than the frames.

    Parameters
    ----------
    path
        Destination, normally ending in ``.mp4``.
    fps
        Frame rate in frames per second; stored exactly as a fraction.
    codec
        FFmpeg encoder name.  ``crf`` and ``preset`` apply to ``libx264`` and
        ``libx265`` only.
    crf
        Constant rate factor: 0 is lossless, 18 visually lossless, 23 the
        x264 default.
    preset
        x264 speed/size trade-off (``"ultrafast"`` ... ``"veryslow"``).
    grayscale
        ``True`` converts colour frames to luma before encoding; ``False`` or
        ``None`` encode frames as given (grayscale frames become a colour video
        with neutral chroma either way, for compatibility with every player).

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=30) as writer:  # doctest: +SKIP
    ...     for frame in frames:
    ...         writer.write(frame)
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        *,
        codec: str = "libx264",
        crf: int = 18,
        preset: str = "medium",
        grayscale: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self._rate = _as_rate(fps)
        self.codec = codec
        self.crf = int(crf)
        self.preset = preset
        self.grayscale = grayscale
        self.n_frames = 0
        self._shape: tuple[int, ...] | None = None
        self._atomic: Any = None
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._reformatter: Any = None
        self._closed = False

    # -- context manager -------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort(exc_type, exc, tb)

    # -- writing -------------------------------------------------------------
    def _open(self, arr: np.ndarray) -> None:
        self._reformatter = VideoReformatter()

        height, width = arr.shape[0] + arr.shape[0] % 2, arr.shape[1] + arr.shape[1] % 2
        if (height, width) != arr.shape[:2]:
            logger.info(
                "%s: padding %dx%d frames to %dx%d (yuv420p needs even sizes)",
                self.path,
                arr.shape[1],
                arr.shape[0],
                width,
                height,
            )
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        try:
            container = av.open(
                str(self._tmp),
                mode="w",
                format="mp4",
                options={"movflags": "+faststart", "fflags": "+bitexact"},
            )
            self._container = container
            container.metadata.clear()
            stream = container.add_stream(self.codec, rate=self._rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"
            stream.time_base = 1 / self._rate
            ctx = stream.codec_context
            ctx.time_base = 1 / self._rate
            ctx.thread_count = 1
            options: dict[str, str] = {"flags": "+bitexact"}
            if self.codec in _X264_LIKE:
                options.update(crf=str(self.crf), preset=self.preset)
                if self.codec == "libx264":
                    options["x264-params"] = "threads=1:lookahead-threads=1:sliced-threads=0"
                else:
                    options["x265-params"] = "pools=1:frame-threads=1:log-level=error"
            ctx.options = options
            stream.metadata.clear()
            self._stream = stream
        except BaseException as exc:
            self._abort(type(exc), exc, exc.__traceback__)
            raise

    def write(self, frame: np.ndarray) -> None:
        """Append one frame.

        Parameters
        ----------
        frame
            uint8 array of shape ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` (RGB);
            every frame must have the shape of the first.
        """
        if self._closed:
            raise ValueError(f"{self.path}: the video writer is closed")
        arr = _check_frame(frame)
        if self._shape is None:
            self._shape = arr.shape
            self._open(arr)
        elif arr.shape != self._shape:
            raise ValueError(f"frame {self.n_frames} has shape {arr.shape}, earlier frames {self._shape}")
        arr = np.ascontiguousarray(_pad_even(arr))
        if arr.ndim == 2:
            vframe = av.VideoFrame.from_ndarray(arr, format="gray")
        else:
            vframe = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if self.grayscale:
                vframe = self._reformatter.reformat(vframe, format="gray")
        # one reformatter for all frames: FFmpeg's scaler context is then set up once, not per frame
        vframe = self._reformatter.reformat(vframe, format="yuv420p")
        vframe.pts = self.n_frames
        vframe.time_base = 1 / self._rate
        for packet in self._stream.encode(vframe):
            self._container.mux(packet)
        self.n_frames += 1

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place.

        Returns
        -------
        Path
            The written file.
        """
        if self._closed:
            return self.path
        if self._container is None:
            self._closed = True
            raise VideoError(self.path, "no frames were written, so no video was created")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
        except BaseException as exc:
            self._abort(type(exc), exc, exc.__traceback__)
            raise
        self._closed = True
        self._atomic.__exit__(None, None, None)
        return self.path

    def _abort(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        """Drop the partial file; ``path`` is left as it was."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # the original error matters, not this one
                logger.debug("error while closing an aborted video writer", exc_info=True)
            self._container = None
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            try:
                atomic.__exit__(exc_type, exc or exc_type, tb)
            except BaseException as err:
                if err is not exc:
                    raise


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: str = "libx264",
    crf: int = 18,
    preset: str = "medium",
    grayscale: bool | None = None,
) -> Path:
    """Write frames to a deterministic H.264 MP4 file, atomically.

    Parameters
    ----------
    path
        Destination, normally ending in ``.mp4``.
    frames
        uint8 frames of shape ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` (RGB),
        all the same shape; any iterable (a generator is consumed once).
        Odd sizes are padded at the bottom/right to even (see :class:`VideoWriter`).
    fps
        Frame rate in frames per second.
    codec, crf, preset, grayscale
        See :class:`VideoWriter`.

    Returns
    -------
    Path
        ``path``.  If ``frames`` raises, nothing is written.

    Raises
    ------
    VideoError
        If ``frames`` is empty.
    ValueError
        If a frame has the wrong dtype or shape.
    """
    with VideoWriter(path, fps, codec=codec, crf=crf, preset=preset, grayscale=grayscale) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)

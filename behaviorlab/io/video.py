"""Read videos with PyAV (FFmpeg).

:func:`probe_video` and :class:`VideoReader` give frames as uint8 arrays
``(n, H, W, C)`` with exact random access: the reader seeks to the keyframe
before a frame and decodes forward, mapping decoded frames to indices by their
presentation timestamps.  A missing, empty, truncated or unreadable file
raises :class:`~behaviorlab.errors.VideoError` naming the file.  Writing is
:mod:`behaviorlab.io.video_write`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from behaviorlab.errors import VideoError

__all__ = [
    "DamagedFrameError",
    "TruncatedVideoWarning",
    "VideoInfo",
    "VideoReader",
    "probe_video",
]

logger = logging.getLogger(__name__)


_MP4_FAMILY = ("mov", "mp4")
# containers that store presentation timestamps; elsewhere (AVI, raw streams) B-frames get
# made-up pts, so frames are indexed by decoding order from the file start instead
_PTS_CONTAINERS = ("mov", "mp4", "matroska", "webm", "mpegts", "nut", "ogg", "flv")


class _UnreadableFrameError(VideoError):
    """A frame lies beyond the decodable part of a (truncated) file."""


class DamagedFrameError(VideoError):
    """One frame in the middle of a video cannot be decoded; the frames after it can.

    Attributes
    ----------
    index : int
        The damaged frame.
    """

    def __init__(self, path: str | Path, index: int) -> None:
        self.index = index
        super().__init__(path, f"frame {index} is damaged and cannot be decoded (the frames after it can)")


class TruncatedVideoWarning(UserWarning):
    """Fewer frames could be decoded than the video's index announces.

    Attributes
    ----------
    path : Path
        The video file.
    n_read : int
        Frames decoded before the data ran out.
    n_expected : int
        Frames the file says it holds.
    """

    def __init__(self, path: str | Path, n_read: int, n_expected: int) -> None:
        self.path = Path(path)
        self.n_read = n_read
        self.n_expected = n_expected
        super().__init__(
            f"{self.path}: the video is truncated or corrupt: only {n_read} of {n_expected} frames could be decoded"
        )


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video without decoding it.

    Attributes
    ----------
    path : Path
        The file.
    n_frames : int
        Number of frames (see :attr:`VideoReader.n_frames` for how it is counted).
    fps : float
        Average frame rate in frames per second.
    width, height : int
        Frame size in pixels.
    channels : int
        1 for a grayscale pixel format, otherwise 3 (frames are decoded as RGB).
    codec : str
        FFmpeg decoder name, e.g. ``"h264"``.
    duration_s : float
        Duration of the video stream in seconds.
    """

    path: Path
    n_frames: int
    fps: float
    width: int
    height: int
    channels: int
    codec: str
    duration_s: float


def _open_container(path: Path) -> Any:
    """Open ``path`` for reading or raise a :class:`VideoError` that says why not."""
    if not path.exists():
        raise VideoError(path, "no such file")
    if path.is_dir():
        raise VideoError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(path, "the file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise VideoError(
            path,
            f"cannot be opened as a video: the file is truncated or not a video ({reason})",
        ) from exc


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's metadata without decoding frames.

    Parameters
    ----------
    path
        Video file (any container and codec FFmpeg reads).

    Returns
    -------
    VideoInfo
        Frame count, rate, size, channels, codec and duration.

    Raises
    ------
    VideoError
        If the file is missing, empty, not a video or has no video stream.
    """
    with VideoReader(path) as reader:
        return reader.info


class VideoReader:
    """Random and sequential access to the frames of a video file.

    Frames come as uint8 arrays with a channel axis: ``(H, W, 3)`` RGB, or
    ``(H, W, 1)`` with ``grayscale=True``.  The reader keeps one decoder open:
    consecutive reads decode forward without seeking, and a jump seeks to the
    keyframe at or before the target and decodes forward from there.  Decoded
    frames are matched to indices by presentation timestamp (pts): frame ``i``
    has the ``i``-th smallest packet pts, so B-frames and variable frame rates
    are handled.  The pts table comes from one demuxing pass (no decoding) on
    first use.  AVI files with B-frames carry no usable pts: their frames are
    counted in decoding order, and random access decodes from the file start.
    A reader is not thread-safe; open one per thread or process.

    Parameters
    ----------
    path
        Video file.
    grayscale
        Decode to 8-bit luma (``C == 1``) instead of RGB (``C == 3``).

    Attributes
    ----------
    n_frames : int
        Number of frames.  For MP4/MOV files this is the sample count of the
        file's index (``stream.frames``), which is exact; for other containers
        (where FFmpeg only estimates it) the video packets are counted in one
        demuxing pass, without decoding.  A truncated MP4 keeps the count of
        its index; reading past the decodable part raises :class:`VideoError`.
    fps : float
        Average frame rate (frames per second).
    height, width, channels : int
        Frame size; ``channels`` is 1 with ``grayscale=True``, else 3.

    Raises
    ------
    VideoError
        If the file is missing, empty, not a video (or truncated so badly that
        its index is lost) or has no video stream.

    Examples
    --------
    >>> with VideoReader("session.mp4") as video:  # doctest: +SKIP
    ...     frames = video[[10, 500, 11]]  # (3, H, W, 3)
    ...     for first, batch in video.iter_batches(64):
    ...         ...
    """

    def __init__(self, path: str | Path, *, grayscale: bool = False) -> None:
        self.path = Path(path)
        self.grayscale = bool(grayscale)
        self._format = "gray" if self.grayscale else "rgb24"

        self._reformatter = VideoReformatter()
        self._container = _open_container(self.path)
        try:
            self._init_stream()
        except BaseException:
            self._container.close()
            raise

    def _init_stream(self) -> None:
        container = self._container
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise VideoError(
                self.path,
                f"the file contains no video stream (streams found: {', '.join(kinds)}); "
                "it is truncated or not a video",
            )
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        ctx = stream.codec_context
        if ctx is None:
            raise VideoError(self.path, "the video stream has no codec (the file is truncated or corrupt)")
        self.width = int(ctx.width or stream.width)
        self.height = int(ctx.height or stream.height)
        if not (self.width and self.height):
            raise VideoError(self.path, "the video stream has no frame size (the file is probably corrupt)")
        self.channels = 1 if self.grayscale else 3
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise VideoError(self.path, "the video stream has no frame rate")
        self.fps = float(rate)
        self.codec = str(ctx.name)
        # packet index, built by _build_index on the first decode: sorted pts of the readable
        # packets, the frame index of each, and the indices and pts of the keyframes
        self._pts: np.ndarray | None = None
        self._positions = np.zeros(0, dtype=np.int64)
        self._n_indexed = 0
        self._keyframes: np.ndarray | None = None
        self._key_pts = np.zeros(0, dtype=np.int64)
        self._readable: int | None = None  # frames known to be decodable, once the data ran out
        formats = container.format.name.split(",")
        is_mp4 = any(name in _MP4_FAMILY for name in formats)
        self._pts_reliable = any(name in _PTS_CONTAINERS for name in formats) or not ctx.has_b_frames
        if is_mp4 and stream.frames > 0:
            self.n_frames = int(stream.frames)
        else:
            self._build_index()
            self.n_frames = self._n_indexed
        # decoder state: an iterator over (index, frame) and the index of the frame it yields next
        self._frames: Iterator[tuple[int, Any]] | None = self._decode()
        self._next = 0
        # (damaged frame, the frame decoded past it, that frame): kept for its turn
        self._pending: tuple[int, int, Any] | None = None
        self._data_ended = False  # the decoder is draining: the file's packets are all read
        #: Frames :meth:`iter_batches` skipped as damaged (``on_damaged="skip"``), in the order met.
        self.damaged_frames: list[int] = []
        self._closed = False

    # -- metadata -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(n_frames, height, width, channels)``."""
        return (self.n_frames, self.height, self.width, self.channels)

    @property
    def info(self) -> VideoInfo:
        """Metadata of the video; ``channels`` describes the stored pixel format."""
        stream = self._stream
        fmt = stream.codec_context.format
        name = fmt.name if fmt is not None else ""
        stored_channels = 1 if name.startswith(("gray", "ya", "y4")) else 3
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        else:
            duration = self.n_frames / self.fps
        return VideoInfo(
            path=self.path,
            n_frames=self.n_frames,
            fps=self.fps,
            width=self.width,
            height=self.height,
            channels=stored_channels,
            codec=self.codec,
            duration_s=duration,
        )

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, n_frames={self.n_frames}, fps={self.fps:g}, shape={self.shape})"

    # -- context manager ----------------------------------------------------------
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file; further reads raise ``ValueError``."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._frames = None
            self._container.close()

    # -- index of packets -------------------------------------------------------------
    def _build_index(self, expected: int | None = None) -> None:
        """Demux the whole file once (no decoding) to map packet pts to frame indices.

        Frame ``i`` is the ``i``-th smallest pts.  When the data ends early (a
        truncated file), B-frames can leave gaps just before the cut; if the pts
        lie on a regular grid (constant frame rate) the grid position is used
        instead, so frames after a gap keep their true index.
        """
        pts: list[int] = []
        keys: list[bool] = []
        cut = False
        with _open_container(self.path) as container:
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 or packet.is_discard:
                        continue
                    if packet.is_corrupt:  # a sample cut short at the end of a truncated file
                        cut = True
                        break
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    if stamp is None:
                        raise VideoError(self.path, "the video packets carry no timestamps; cannot index frames")
                    pts.append(int(stamp))
                    keys.append(bool(packet.is_keyframe))
            except av.error.FFmpegError as exc:
                cut = True
                logger.debug("%s: demuxing stopped after %d packets: %s", self.path, len(pts), exc)
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        table = np.asarray(pts, dtype=np.int64)[order]
        if len(np.unique(table)) != len(table):
            raise VideoError(self.path, "several video packets share a timestamp; cannot index frames")
        positions = np.arange(len(table), dtype=np.int64)
        cut = cut or (expected is not None and len(table) < expected)
        if cut and len(table) > 1:
            step = int(np.gcd.reduce(np.diff(table)))
            grid = (table - table[0]) // step
            if grid[-1] < (expected if expected is not None else len(table) + 16):
                positions = grid
        gaps = np.flatnonzero(positions != np.arange(len(positions)))
        self._pts = table
        self._positions = positions
        self._n_indexed = int(gaps[0]) if len(gaps) else len(table)  # frames before the first gap
        key_mask = np.asarray(keys, dtype=bool)[order]
        if not self._pts_reliable:
            key_mask[:] = False  # the pts cannot place a keyframe: always decode from the start
        self._keyframes = positions[key_mask]
        self._key_pts = table[key_mask]
        if len(self._keyframes) == 0 or self._keyframes[0] != 0:
            # decoding from the file start always works (the reader reopens the file for it)
            self._keyframes = np.concatenate([[0], self._keyframes])
            self._key_pts = np.concatenate([table[:1], self._key_pts])

    def _index_of(self, pts: int | None, previous: int) -> int:
        """Frame index of a decoded frame by its pts; the one after ``previous`` if it has none."""
        assert self._pts is not None
        if pts is not None and self._pts_reliable:
            i = int(np.searchsorted(self._pts, pts))
            if i < len(self._pts) and self._pts[i] == pts:
                return int(self._positions[i])
        return previous + 1

    # -- decoding -------------------------------------------------------------------
    def _decode(self) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, frame)`` from the container's current position until the data ends."""
        if self._pts is None:
            self._build_index(self.n_frames)
        previous = -1
        stream = self._stream
        self._data_ended = False
        try:
            for packet in self._container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.is_corrupt:
                    logger.debug("%s: corrupt packet at pts %s; skipped", self.path, packet.pts)
                    continue
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:  # one damaged packet: its frame is missing, the next decode
                    logger.debug("%s: packet at pts %s cannot be decoded (%s); skipped", self.path, packet.pts, exc)
                    continue
                for frame in frames:
                    previous = self._index_of(frame.pts, previous)
                    yield previous, frame
        except av.error.FFmpegError as exc:
            logger.debug("%s: decoding stopped after frame %d: %s", self.path, previous, exc)
        self._data_ended = True
        try:  # drain the frames still inside the decoder
            for frame in stream.codec_context.decode(None):
                previous = self._index_of(frame.pts, previous)
                yield previous, frame
        except av.error.FFmpegError as exc:
            logger.debug("%s: draining the decoder failed: %s", self.path, exc)

    def _restart(self, keyframe: int) -> None:
        """Position the decoder at frame index ``keyframe`` (an entry of ``self._keyframes``)."""
        if keyframe == 0:
            # reopening is the one position every container supports exactly
            self._container.close()
            self._container = _open_container(self.path)
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
        else:
            assert self._keyframes is not None
            stamp = int(self._key_pts[np.searchsorted(self._keyframes, keyframe)])
            self._container.seek(stamp, backward=True, any_frame=False, stream=self._stream)
        self._frames = self._decode()
        self._next = keyframe

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the video reader is closed")

    def _beyond(self, index: int, readable: int) -> _UnreadableFrameError:
        self._readable = readable if self._readable is None else min(self._readable, readable)
        return _UnreadableFrameError(
            self.path,
            f"frame {index} is beyond the readable part of the video: only {self._readable} of "
            f"{self.n_frames} frames can be decoded (the file is truncated or corrupt)",
        )

    def _seek_to(self, index: int) -> bool:
        """Make the decoder's next frame at or before ``index``, seeking only when that is faster.

        Returns whether the decoder was repositioned.
        """
        if self._frames is not None and self._next == index:
            return False
        if self._pts is None:
            self._build_index(self.n_frames)
        assert self._keyframes is not None
        if index >= self._n_indexed:
            raise self._beyond(index, self._n_indexed)
        k = int(self._keyframes[np.searchsorted(self._keyframes, index, side="right") - 1])
        if self._frames is not None and k <= self._next <= index:
            return False  # decoding forward from here is no slower than seeking
        self._restart(k)
        return True

    def _frame(self, index: int) -> np.ndarray:
        """Decode frame ``index`` (0 <= index < n_frames) as ``(H, W, C)``."""
        if self._readable is not None and index >= self._readable:
            raise self._beyond(index, self._readable)
        if self._pending is not None:
            damaged, ahead, frame = self._pending
            if ahead == index and self._next == ahead + 1:
                self._pending = None
                return self._to_array(frame)
            if damaged < index < ahead and self._next == ahead + 1:
                raise DamagedFrameError(self.path, index)  # between the damage and the frame decoded past it
            self._pending = None
        restarted = self._seek_to(index)
        while True:
            assert self._frames is not None
            start = self._next
            for i, frame in self._frames:
                self._next = i + 1
                if i < index:
                    continue
                if i == index:
                    return self._to_array(frame)
                break
            else:  # the data ended first
                self._frames = None
                raise self._beyond(index, self._next)
            # the decoder produced a later frame instead of ``index``
            if not restarted or start == 0:  # the frame is missing from the stream
                if self._data_ended:  # ... at the end of the data: a truncated file
                    self._frames = None
                    raise self._beyond(index, index)
                self._pending = (index, i, frame)  # ... in the middle: damaged, and later frames decode
                raise DamagedFrameError(self.path, index)
            assert self._keyframes is not None
            # the seek landed after the keyframe asked for: start one keyframe earlier
            self._restart(int(self._keyframes[np.searchsorted(self._keyframes, start, side="left") - 1]))

    def _to_array(self, frame: Any) -> np.ndarray:
        # same result as frame.to_ndarray(format=...), but reusing one reformatter keeps FFmpeg's
        # scaler context alive between frames: 3-20x faster than building one per frame
        arr = self._reformatter.reformat(frame, format=self._format).to_ndarray()
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.shape[:2] != (self.height, self.width):
            raise VideoError(
                self.path,
                f"a frame has size {arr.shape[1]}x{arr.shape[0]}, the stream {self.width}x{self.height}; "
                "videos whose size changes midway are not supported",
            )
        return arr

    # -- public reading ----------------------------------------------------------------
    def read(self, index: int) -> np.ndarray:
        """Return one frame.

        Parameters
        ----------
        index
            Frame index; negative counts from the end.

        Returns
        -------
        numpy.ndarray
            uint8 array ``(H, W, C)``.

        Raises
        ------
        IndexError
            If ``index`` is outside ``[-n_frames, n_frames)``.
        VideoError
            If the frame lies beyond the decodable part of a truncated file.
        """
        self._check_open()
        return self._frame(self._normalize(index))

    def _normalize(self, index: Any) -> int:
        if not isinstance(index, int | np.integer) or isinstance(index, bool | np.bool_):
            raise TypeError(f"frame indices must be integers, got {type(index).__name__}")
        i = int(index)
        if not -self.n_frames <= i < self.n_frames:
            raise IndexError(f"frame index {i} is out of range for a video of {self.n_frames} frames")
        return i + self.n_frames if i < 0 else i

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames by index, slice or sequence of indices, always as ``(n, H, W, C)``.

        An integer gives ``n == 1`` (use :meth:`read` for ``(H, W, C)``).  Indices
        may repeat and come in any order; each distinct frame is decoded once,
        in file order.
        """
        self._check_open()
        if isinstance(key, slice):
            indices = np.arange(*key.indices(self.n_frames), dtype=np.int64)
        elif isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
            indices = np.asarray([self._normalize(key)], dtype=np.int64)
        else:
            arr = np.asarray(key)
            if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
                raise TypeError(f"frame indices must be an int, a slice or a 1-D sequence of ints, got {key!r}")
            indices = np.asarray([self._normalize(i) for i in arr.astype(np.int64)], dtype=np.int64)
        out = np.empty((len(indices), self.height, self.width, self.channels), dtype=np.uint8)
        unique, inverse = np.unique(indices, return_inverse=True)
        for j, index in enumerate(unique):
            frame = self._frame(int(index))
            out[inverse == j] = frame
        return out

    def iter_batches(
        self,
        batch_size: int,
        start: int = 0,
        stop: int | None = None,
        *,
        on_truncated: Literal["raise", "warn"] = "raise",
        on_damaged: Literal["raise", "skip"] = "raise",
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Decode frames ``start:stop`` in one forward pass, in batches.

        Parameters
        ----------
        batch_size
            Frames per batch; the last batch may be shorter.
        start, stop
            Frame range, as in a slice with step 1 (``stop=None``: to the end).
        on_truncated
            What to do when the data ends before ``stop`` (a truncated file):
            ``"raise"`` raises :class:`VideoError` saying how many frames were
            readable (the incomplete batch is not yielded); ``"warn"`` yields the
            readable frames and then emits a :class:`TruncatedVideoWarning`.
        on_damaged
            What to do with a frame in the middle that cannot be decoded while
            later ones can: ``"raise"`` raises :class:`DamagedFrameError`;
            ``"skip"`` gives a black frame in its place and appends its index
            to :attr:`damaged_frames`, so the caller can mark its results missing.

        Yields
        ------
        first : int
            Index of the first frame in the batch.
        frames : numpy.ndarray
            uint8 array ``(n, H, W, C)``, a new array for each batch.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if on_truncated not in ("raise", "warn"):
            raise ValueError(f"on_truncated must be 'raise' or 'warn', got {on_truncated!r}")
        if on_damaged not in ("raise", "skip"):
            raise ValueError(f"on_damaged must be 'raise' or 'skip', got {on_damaged!r}")
        self._check_open()
        start, stop, _ = slice(start, stop).indices(self.n_frames)
        for index in range(start, stop, batch_size):
            n = min(batch_size, stop - index)
            batch = np.empty((n, self.height, self.width, self.channels), dtype=np.uint8)
            filled = 0
            try:
                while filled < n:
                    try:
                        batch[filled] = self._frame(index + filled)
                    except DamagedFrameError:
                        if on_damaged == "raise":
                            raise
                        batch[filled] = 0
                        self.damaged_frames.append(index + filled)
                    filled += 1
            except _UnreadableFrameError:
                readable = index + filled
                if on_truncated == "raise":
                    raise VideoError(
                        self.path,
                        f"the video is truncated or corrupt: decoding stopped early; "
                        f"only {readable} of {self.n_frames} frames are readable",
                    ) from None
                if filled:
                    yield index, batch[:filled]
                warnings.warn(TruncatedVideoWarning(self.path, readable, self.n_frames), stacklevel=2)
                return
            yield index, batch

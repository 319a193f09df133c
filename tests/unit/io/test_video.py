"""Tests for behaviorlab.io.video and video_write: known-answer videos whose frames encode their own index."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from behaviorlab.errors import FileFormatError, VideoError
from behaviorlab.io.video import TruncatedVideoWarning, VideoInfo, VideoReader, probe_video
from behaviorlab.io.video_write import VideoWriter, write_video

# Frame i shows the bits of i as 16x16 blocks (bright = 1) in a 6-wide grid; the
# bottom band of an RGB frame is pure red.  Large flat blocks survive lossy coding.
BLOCK = 16
BITS = 12
COLS = 6
H, W = 64, 96
N = 300
FPS = 25.0
LOW, HIGH = 40, 215


def pattern(i: int, height: int = H, width: int = W, rgb: bool = True) -> np.ndarray:
    gray = np.full((height, width), LOW, dtype=np.uint8)
    for bit in range(BITS):
        if (i >> bit) & 1:
            r, c = divmod(bit, COLS)
            gray[r * BLOCK : (r + 1) * BLOCK, c * BLOCK : (c + 1) * BLOCK] = HIGH
    if not rgb:
        return gray
    frame = np.repeat(gray[:, :, None], 3, axis=2)
    frame[3 * BLOCK : 4 * BLOCK] = (HIGH, LOW, LOW)
    return frame


def decode_index(frame: np.ndarray) -> int:
    """Read back the index from a decoded (H, W, C) frame."""
    luma = frame.astype(float).mean(axis=2) if frame.ndim == 3 else frame.astype(float)
    i = 0
    for bit in range(BITS):
        r, c = divmod(bit, COLS)
        centre = luma[r * BLOCK + 4 : (r + 1) * BLOCK - 4, c * BLOCK + 4 : (c + 1) * BLOCK - 4]
        if centre.mean() > (LOW + HIGH) / 2:
            i |= 1 << bit
    return i


def decode_indices(frames: np.ndarray) -> list[int]:
    return [decode_index(f) for f in frames]


def frames_gen(n: int = N, **kwargs: object) -> Iterator[np.ndarray]:
    for i in range(n):
        yield pattern(i, **kwargs)  # type: ignore[arg-type]


def write_keyed(path: Path, frames: Iterator[np.ndarray], fps: float, *, faststart: bool = True) -> Path:
    """Write with PyAV directly: a keyframe every 24 frames and B-frames, so reading has to seek and reorder."""
    options = {"movflags": "+faststart"} if faststart and path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.options = {"g": "24", "bf": "3", "preset": "veryfast", "crf": "18"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def rgb_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_keyed(tmp_path_factory.mktemp("video") / "pattern.mp4", frames_gen(), FPS)


@pytest.fixture(scope="module")
def gray_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "gray.mp4"
    return write_video(path, frames_gen(80, rgb=False), 30000 / 1001, preset="ultrafast")


# -- writing --------------------------------------------------------------------------------


def test_write_is_deterministic(tmp_path: Path) -> None:
    digests = set()
    for name in ("a.mp4", "b.mp4"):
        path = write_video(tmp_path / name, frames_gen(40), FPS)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_write_video_round_trip(tmp_path: Path) -> None:
    path = write_video(tmp_path / "rt.mp4", frames_gen(60), 12.5)
    assert path == tmp_path / "rt.mp4"
    assert path.read_bytes()[:64].find(b"moov") > 0  # faststart: the index precedes the media data
    assert [p.name for p in tmp_path.iterdir()] == ["rt.mp4"]  # no temporary file left
    info = probe_video(path)
    assert (info.n_frames, info.width, info.height, info.channels, info.codec) == (60, W, H, 3, "h264")
    assert info.fps == pytest.approx(12.5)
    with VideoReader(path) as video:
        assert decode_indices(video[[59, 0, 31, 30]]) == [59, 0, 31, 30]
        assert decode_indices(np.concatenate([b for _, b in video.iter_batches(16)])) == list(range(60))


def test_atomic_write_leaves_nothing_when_frames_fail(tmp_path: Path) -> None:
    def failing() -> Iterator[np.ndarray]:
        yield from frames_gen(10)
        raise RuntimeError("camera unplugged")

    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="camera unplugged"):
        write_video(target, failing(), FPS)
    assert list(tmp_path.iterdir()) == []

    write_video(target, frames_gen(5), FPS)
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        write_video(target, failing(), FPS)
    assert target.read_bytes() == before  # the previous version is untouched
    assert list(tmp_path.iterdir()) == [target]


def test_video_writer_streams_frames(tmp_path: Path) -> None:
    path = tmp_path / "stream.mp4"
    with VideoWriter(path, fps=10, preset="ultrafast") as writer:
        for frame in frames_gen(12):
            writer.write(frame)
        assert not path.exists()  # only renamed into place when complete
    assert writer.n_frames == 12
    assert writer.close() == path  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        writer.write(pattern(0))
    with VideoReader(path) as video:
        assert decode_indices(video[:]) == list(range(12))


@pytest.mark.parametrize(
    ("frames", "error", "match"),
    [
        ([], VideoError, "no frames"),
        ([np.zeros((8, 8), np.float32)], ValueError, "uint8"),
        ([np.zeros((8, 8, 4), np.uint8)], ValueError, "shape"),
        ([np.zeros((8, 8), np.uint8), np.zeros((8, 10), np.uint8)], ValueError, "earlier frames"),
    ],
)
def test_write_rejects_bad_frames(tmp_path: Path, frames: list[np.ndarray], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        write_video(tmp_path / "bad.mp4", frames, FPS)
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_bad_fps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "bad.mp4", frames_gen(2), 0)


# -- reading ----------------------------------------------------------------------------------


def test_metadata(rgb_video: Path) -> None:
    info = probe_video(rgb_video)
    assert isinstance(info, VideoInfo)
    assert (info.n_frames, info.width, info.height, info.channels, info.codec) == (N, W, H, 3, "h264")
    assert info.fps == pytest.approx(FPS)
    assert info.duration_s == pytest.approx(N / FPS, rel=1e-3)
    with VideoReader(rgb_video) as video:
        assert len(video) == video.n_frames == N
        assert video.shape == (N, H, W, 3)
        assert (video.height, video.width, video.channels) == (H, W, 3)
        assert "pattern.mp4" in repr(video)


def test_pattern_video_has_several_keyframes(rgb_video: Path) -> None:
    # random access below is only meaningful if it has to seek
    with av.open(str(rgb_video)) as container:
        keys = sum(p.is_keyframe for p in container.demux(video=0) if p.size)
    assert keys >= N // 24


def test_random_access_shuffled(rgb_video: Path) -> None:
    rng = np.random.default_rng(0)
    indices = [*rng.permutation(N)[:60].tolist(), N - 1, 0, 5, 5, 6, 299, 150, 149]
    with VideoReader(rgb_video) as video:
        frames = video[indices]
        assert frames.shape == (len(indices), H, W, 3)
        assert frames.dtype == np.uint8
        assert decode_indices(frames) == indices
        for i in rng.permutation(N)[:20]:
            assert decode_index(video.read(int(i))) == i
        assert video.read(-1).shape == (H, W, 3)
        assert decode_index(video.read(-1)) == N - 1
        assert video[7].shape == (1, H, W, 3)
        assert decode_indices(video[np.int64(7)]) == [7]
        assert decode_indices(video[250:200:-7]) == list(range(250, 200, -7))
        assert decode_indices(video[np.array([3, 1, 2])]) == [3, 1, 2]
        assert video[[]].shape == (0, H, W, 3)


def test_frames_equal_plain_pyav_decoding(rgb_video: Path) -> None:
    with av.open(str(rgb_video)) as container:
        expected = [f.to_ndarray(format="rgb24") for _, f in zip(range(30), container.decode(video=0), strict=False)]
    with VideoReader(rgb_video) as video:
        assert np.array_equal(video[29::-1], np.stack(expected)[::-1])


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_other_containers_count_packets(tmp_path: Path, suffix: str) -> None:
    path = write_keyed(tmp_path / f"pattern{suffix}", frames_gen(100), FPS)
    with VideoReader(path) as video:
        assert video.n_frames == 100
        assert video.fps == pytest.approx(FPS)
        order = np.random.default_rng(2).permutation(100)
        assert decode_indices(video[order]) == order.tolist()
        assert decode_indices(np.concatenate([b for _, b in video.iter_batches(32)])) == list(range(100))


def test_rgb_colours_survive(rgb_video: Path) -> None:
    with VideoReader(rgb_video) as video:
        band = video.read(10)[3 * BLOCK + 2 : 4 * BLOCK - 2].astype(float)
    red, green, blue = band[..., 0].mean(), band[..., 1].mean(), band[..., 2].mean()
    assert red == pytest.approx(HIGH, abs=12)
    assert green == pytest.approx(LOW, abs=12)
    assert blue == pytest.approx(LOW, abs=12)


@pytest.mark.parametrize("key", [N, -N - 1, [0, N]])
def test_index_out_of_range(rgb_video: Path, key: object) -> None:
    with VideoReader(rgb_video) as video, pytest.raises(IndexError, match="out of range"):
        video[key]  # type: ignore[index]


@pytest.mark.parametrize("key", [1.5, [1.0, 2.0], [[1, 2]], True])
def test_index_type(rgb_video: Path, key: object) -> None:
    with VideoReader(rgb_video) as video, pytest.raises(TypeError, match=r"integers|ints"):
        video[key]  # type: ignore[index]


def test_iter_batches_equals_random_access(rgb_video: Path) -> None:
    with VideoReader(rgb_video) as video:
        batches = list(video.iter_batches(64))
        assert [first for first, _ in batches] == [0, 64, 128, 192, 256]
        assert [len(b) for _, b in batches] == [64, 64, 64, 64, 44]
        sequential = np.concatenate([b for _, b in batches])
        assert decode_indices(sequential) == list(range(N))
    with VideoReader(rgb_video) as video:
        order = np.random.default_rng(1).permutation(N)
        assert np.array_equal(video[order], sequential[order])
        # a range in the middle, after random access moved the decoder around
        middle = list(video.iter_batches(7, start=101, stop=123))
        assert [first for first, _ in middle] == [101, 108, 115, 122]
        assert np.array_equal(np.concatenate([b for _, b in middle]), sequential[101:123])
        assert list(video.iter_batches(5, start=50, stop=50)) == []


def test_iter_batches_validates_arguments(rgb_video: Path) -> None:
    with VideoReader(rgb_video) as video:
        with pytest.raises(ValueError, match="batch_size"):
            next(video.iter_batches(0))
        with pytest.raises(ValueError, match="on_truncated"):
            next(video.iter_batches(4, on_truncated="ignore"))  # type: ignore[arg-type]


def test_grayscale(gray_video: Path) -> None:
    info = probe_video(gray_video)
    assert info.fps == pytest.approx(30000 / 1001)
    assert info.n_frames == 80
    with VideoReader(gray_video, grayscale=True) as video:
        assert video.shape == (80, H, W, 1)
        frames = video[::-1]
        assert frames.shape == (80, H, W, 1)
        assert decode_indices(frames[..., 0]) == list(range(79, -1, -1))
    with VideoReader(gray_video) as video:
        rgb = video.read(33).astype(int)
        assert rgb.shape == (H, W, 3)
        assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 3  # neutral chroma
        assert decode_index(rgb) == 33


def test_grayscale_true_converts_colour_input(tmp_path: Path) -> None:
    path = write_video(tmp_path / "g.mp4", frames_gen(6), FPS, grayscale=True, preset="ultrafast")
    with VideoReader(path) as video:
        frame = video.read(3).astype(int)
    assert np.abs(frame[..., 0] - frame[..., 2]).max() <= 3
    assert decode_index(frame) == 3


def test_odd_size_is_padded_at_bottom_right(tmp_path: Path) -> None:
    path = write_video(tmp_path / "odd.mp4", frames_gen(20, height=H - 1, width=W - 1), FPS)
    with VideoReader(path, grayscale=True) as video:
        assert (video.height, video.width) == (H, W)
        frames = video[:]
    assert decode_indices(frames[..., 0]) == list(range(20))
    # the padding repeats the last row: the red band (luma ~ 90) reaches the bottom
    assert np.abs(frames[:, -1].astype(int) - frames[:, -2].astype(int)).mean() < 3


def test_video_writer_single_channel_axis(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c1.mp4", (pattern(i, rgb=False)[:, :, None] for i in range(4)), FPS)
    with VideoReader(path, grayscale=True) as video:
        assert decode_indices(video[:][..., 0]) == [0, 1, 2, 3]


# -- broken files -----------------------------------------------------------------------------


@pytest.fixture
def truncated_video(rgb_video: Path, tmp_path: Path) -> Path:
    data = rgb_video.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def test_truncated_raise(truncated_video: Path) -> None:
    with VideoReader(truncated_video) as video:
        assert video.n_frames == N  # the index still announces every frame
        with pytest.raises(VideoError, match=rf"only \d+ of {N} frames are readable") as caught:
            for _ in video.iter_batches(50):
                pass
        assert "truncated.mp4" in str(caught.value)


def test_truncated_warn(truncated_video: Path) -> None:
    with VideoReader(truncated_video) as video:
        with pytest.warns(TruncatedVideoWarning, match=rf"truncated\.mp4.*only \d+ of {N} frames") as record:
            batches = list(video.iter_batches(50, on_truncated="warn"))
        warning = record[0].message
        assert isinstance(warning, TruncatedVideoWarning)
        assert warning.n_expected == N
        read = np.concatenate([b for _, b in batches])
        assert len(read) == warning.n_read
        assert 0.3 * N < len(read) < N
        assert decode_indices(read) == list(range(len(read)))
        # random access: fine inside the readable part, a VideoError beyond it
        assert decode_indices(video[[len(read) - 1, 0]]) == [len(read) - 1, 0]
        with pytest.raises(VideoError, match="beyond the readable part"):
            video.read(N - 1)
    with VideoReader(truncated_video) as video, pytest.raises(VideoError, match="beyond the readable part"):
        video.read(N - 1)  # a fresh reader finds out while seeking


def test_lost_index_fails_on_open(tmp_path: Path) -> None:
    # without faststart the moov atom comes last, so cutting the end loses it
    data = write_keyed(tmp_path / "full.mp4", frames_gen(48), FPS, faststart=False).read_bytes()
    assert data.rfind(b"moov") > len(data) // 2
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4: cannot be opened as a video: the file is truncated or not"):
        VideoReader(path)


def test_cut_inside_index_fails_on_open(rgb_video: Path, tmp_path: Path) -> None:
    path = tmp_path / "head.mp4"
    path.write_bytes(rgb_video.read_bytes()[:200])
    with pytest.raises(VideoError, match="truncated or not a video"):
        VideoReader(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no such file") as caught:
        probe_video(tmp_path / "nope.mp4")
    assert isinstance(caught.value, FileFormatError)
    assert caught.value.path == tmp_path / "nope.mp4"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(VideoError, match=r"empty\.mp4: the file is empty"):
        VideoReader(tmp_path / "empty.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="directory"):
        VideoReader(tmp_path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match=r"noise\.mp4: cannot be opened as a video"):
        VideoReader(path)


def test_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(VideoError, match=r"no video stream.*audio"):
        probe_video(path)


def test_closed_reader(rgb_video: Path) -> None:
    video = VideoReader(rgb_video)
    video.close()
    video.close()
    with pytest.raises(ValueError, match="closed"):
        video.read(0)


# -- real videos ------------------------------------------------------------------------------

REAL_VIDEOS = {
    # path: (n_frames, width, height, fps, indices to check, spanning several keyframes)
    "dlc-openfield/videos/m3v1mp4.mp4": (2330, 640, 480, 30.0, [400, 3, 190, 181, 182, 367, 0]),
    "lp-mirror-mouse/videos/test_vid.mp4": (994, 396, 406, 250.0, [450, 191, 192, 193, 0, 433, 10]),
    "sleap-centered-pair/centered_pair_low_quality.mp4": (1100, 384, 384, 15.0, [451, 149, 150, 0, 300, 301]),
    "sleap-single-fly/single_fly.mp4": (3200, 192, 192, 25.0, [1000, 17, 0, 1500, 1501]),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(REAL_VIDEOS))
def test_real_video_random_access_matches_sequential(shared_data: Path, name: str) -> None:
    n_frames, width, height, fps, indices = REAL_VIDEOS[name]
    path = shared_data / name
    info = probe_video(path)
    assert (info.n_frames, info.width, info.height) == (n_frames, width, height)
    assert info.fps == pytest.approx(fps, rel=1e-3)
    assert info.codec == "h264"
    stop = max(indices) + 1
    with VideoReader(path) as video:
        sequential = np.concatenate([b for _, b in video.iter_batches(100, stop=stop)])
    with VideoReader(path) as video:
        random = video[indices]
        assert video.read(n_frames - 1).shape == (height, width, 3)
    assert np.array_equal(random, sequential[indices])

"""Time to load 100 labeled frames of a SLEAP file whose images stay in a 1024x1024 video.

A generated grayscale video (``--frames`` frames of 1024x1024 at 30 fps,
H.264 with the encoder's default keyframe interval; moving bright disks on a
textured background, so it compresses like a camera image) and a ``.slp``
with 100 labeled frames spread evenly over it (one instance of two
keypoints each; the images are not embedded) are written to a temporary
folder.  Then, each in a fresh read of the file:

* **before**: every labeled frame's image read through sleap-io
  (``LabeledFrame.image``: one seek and decode per frame), which is what
  :func:`behaviorlab.io.labeled_frames.load_labeled_frames` did;
* **after**: :func:`~behaviorlab.io.labeled_frames.load_labeled_frames`, which
  now decodes each video once, forward through the wanted frames.

Run ``python benchmarks/labeled_frames_load.py --help``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import DEFAULT_RESULTS_DIR, format_table, write_results

SIDE = 1024
N_LABELED = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3000, help="frames of the generated video")
    parser.add_argument("--out", default=str(DEFAULT_RESULTS_DIR), help="results directory")
    return parser.parse_args(argv)


def write_inputs(folder: Path, n_frames: int) -> Path:
    """The video and the .slp that labels 100 of its frames; returns the .slp path."""
    import sleap_io as sio

    from behaviorlab.io.video_write import VideoWriter

    rng = np.random.default_rng(0)
    background = (rng.random((SIDE, SIDE)) * 60 + 40).astype(np.uint8)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    video_path = folder / "arena.mp4"
    centres = []
    with VideoWriter(video_path, fps=30.0, preset="ultrafast", grayscale=True) as writer:
        for t in range(n_frames):
            frame = background.copy()
            cx, cy = SIDE / 2 + 300 * np.cos(t / 40), SIDE / 2 + 300 * np.sin(t / 55)
            frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 40**2] = 230
            writer.write(frame[..., None])
            centres.append((cx, cy))
    skeleton = sio.Skeleton(["head", "tail"])
    video = sio.Video.from_filename(str(video_path))
    labeled = []
    for idx in np.linspace(0, n_frames - 1, N_LABELED).astype(int):
        cx, cy = centres[idx]
        points = np.array([[cx + 20, cy], [cx - 20, cy]])
        labeled.append(
            sio.LabeledFrame(video=video, frame_idx=int(idx), instances=[sio.Instance.from_numpy(points, skeleton)])
        )
    path = folder / "labels.slp"
    sio.save_slp(sio.Labels(labeled_frames=labeled, videos=[video], skeletons=[skeleton]), str(path), verbose=False)
    return path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import sleap_io as sio

    from behaviorlab.io.labeled_frames import load_labeled_frames

    with tempfile.TemporaryDirectory(prefix="labeled_frames_load_") as tmp:
        start = time.perf_counter()
        slp = write_inputs(Path(tmp), args.frames)
        prepare = time.perf_counter() - start

        start = time.perf_counter()
        labels = sio.load_slp(str(slp))
        before = [np.asarray(lf.image) for lf in labels.labeled_frames]
        before_s = time.perf_counter() - start

        start = time.perf_counter()
        frames = load_labeled_frames(slp)
        after_s = time.perf_counter() - start

    assert len(before) == len(frames.images) == N_LABELED
    diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(before, frames.images, strict=True))
    metrics = {
        "load_100_frames_1024px_before_seconds": before_s,
        "load_100_frames_1024px_after_seconds": after_s,
        "load_100_frames_1024px_speedup": before_s / after_s,
        "max_pixel_difference_after_vs_before": diff,
        "generate_inputs_seconds": prepare,
    }
    rows = [
        ("before: sleap-io, one seek per frame", before_s),
        ("after: load_labeled_frames, one pass per video", after_s),
    ]
    table = format_table(["100 labeled frames of a 1024x1024 video", "seconds"], rows)
    table += f"\nspeedup {before_s / after_s:.1f}x; largest pixel difference {diff}"
    config = {"frames": args.frames, "side_px": SIDE, "labeled": N_LABELED, "video": "H.264 ultrafast, gray"}
    write_results("labeled_frames_load", metrics, config=config, table=table, out_dir=args.out)


if __name__ == "__main__":
    main()

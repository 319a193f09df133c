"""The labeling loop from the command line: select-frames, refine, merge-labels and render."""

from __future__ import annotations

import attrs
import numpy as np
from typer.testing import CliRunner

from behaviorlab.cli.app import app
from behaviorlab.io.labeled_frames import load_labeled_frames, save_labeled_frames
from behaviorlab.io.load import load_poses
from behaviorlab.io.save import save_poses
from behaviorlab.io.video import VideoReader
from behaviorlab.io.video_write import write_video
from behaviorlab.labeling.select import parse_frame_source

runner = CliRunner()


def test_select_frames_command(tmp_path, sample_data):
    video = write_video(tmp_path / "clip.mp4", [np.full((32, 32), 10 * i, np.uint8) for i in range(20)], fps=10)
    out = tmp_path / "to_label.labels.h5"
    args = [
        "select-frames",
        str(video),
        "--out",
        str(out),
        "--n",
        "4",
        "--keypoints",
        "nose, tail",
        "--export",
        "sleap",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    frames = load_labeled_frames(out)
    assert len(frames) == 4
    assert frames.skeleton.keypoints == ("nose", "tail")
    assert np.isnan(frames.keypoints).all()
    assert (tmp_path / "to_label.pkg.slp").is_file()

    result = runner.invoke(
        app,
        [
            "select-frames",
            str(video),
            "--out",
            str(out),
            "--n",
            "5",
            "--method",
            "uniform",
            "--skeleton-from",
            str(sample_data / "labeled_frames.labels.h5"),
        ],
    )
    assert result.exit_code == 0, result.output
    frames = load_labeled_frames(out)
    assert frames.sources == tuple(f"clip.mp4#frame={f}" for f in (2, 6, 10, 14, 18))
    assert frames.individuals == ("mouse1", "mouse2")
    assert frames.n_keypoints == 10

    bad = runner.invoke(app, ["select-frames", str(video), "--out", str(out), "--n", "99", "--keypoints", "a"])
    assert bad.exit_code != 0
    assert "cannot choose 99 frames" in bad.output
    both = runner.invoke(app, ["select-frames", str(video), "--out", str(out), "--n", "2"])
    assert both.exit_code != 0
    assert "--keypoints" in both.output


def test_refine_merge_render_loop(tmp_path, sample_data):
    video = sample_data / "session_a.mp4"
    truth = load_poses(sample_data / "session_a_poses.nc")
    pos = truth["position"].values.copy()
    pos[500, :, 0, 0] += [35.0, 20.0]  # one bad prediction
    predicted = save_poses(
        truth.copy(data={"position": pos, "confidence": truth["confidence"].values}), tmp_path / "p.nc"
    )
    correct = tmp_path / "correct.labels.h5"
    result = runner.invoke(app, ["refine", str(predicted), str(video), "--out", str(correct), "--n", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[0] == "500"  # worst first
    to_fix = load_labeled_frames(correct)
    assert to_fix.sources[0] == "session_a.mp4#frame=500"
    assert len(to_fix) == 3

    picked = [parse_frame_source(s)[1] for s in to_fix.sources]
    fixed = attrs.evolve(to_fix, keypoints=truth["position"].values[picked].transpose(0, 3, 2, 1))  # the labeler
    save_labeled_frames(fixed, correct)
    merged = tmp_path / "merged.labels.h5"
    train = sample_data / "labeled_frames.labels.h5"
    result = runner.invoke(app, ["merge-labels", str(train), str(correct), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    frames = load_labeled_frames(merged)
    assert len(frames) == 120 + 3
    assert frames.sources[120] == "session_a.mp4#frame=500"
    np.testing.assert_allclose(frames.keypoints[120, 0], truth["position"].values[500, :, :, 0].T)

    again = runner.invoke(
        app,
        [
            "refine",
            str(predicted),
            str(video),
            "--out",
            str(tmp_path / "c2.labels.h5"),
            "--n",
            "3",
            "--exclude",
            str(merged),
        ],
    )
    assert again.exit_code == 0, again.output
    assert "session_a.mp4#frame=500" not in load_labeled_frames(tmp_path / "c2.labels.h5").sources

    labeled = tmp_path / "labeled.mp4"
    result = runner.invoke(
        app, ["render", str(predicted), str(video), "--out", str(labeled), "--end", "30", "--trail", "5"]
    )
    assert result.exit_code == 0, result.output
    assert VideoReader(labeled).n_frames == 30
    missing = runner.invoke(app, ["render", str(tmp_path / "nope.nc"), str(video), "--out", str(labeled)])
    assert missing.exit_code == 1
    assert "nope.nc" in missing.output

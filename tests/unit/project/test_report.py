"""The run report's notes: what a user must know about the results, said where the run ends."""

from __future__ import annotations

from pathlib import Path

from behaviorlab.project.report import RunReport, StageResult


def test_damaged_video_frames_are_counted_in_the_run_summary():
    results = (
        StageResult("poses", "s1", key="k1", info={"frames": 100, "damaged_frames": 2}),
        StageResult("poses", "s2", key="k2", info={"frames": 100, "damaged_frames": 0}),
        StageResult("poses", "s3", key="k3", info={"frames": 100, "damaged_frames": 1}),
    )
    summary = RunReport(Path("project"), results, seconds=1.0).summary()
    assert "damaged video frames skipped (poses NaN): 3 in 2 sessions (s1 2, s3 1)" in summary
    clean = RunReport(Path("project"), results[1:2], seconds=1.0).summary()
    assert "damaged" not in clean

"""The command line as a user drives it: stable command forms, clear errors, real outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from behaviorlab.cli import app
from behaviorlab.io.load import load_poses
from behaviorlab.io.save import save_poses
from behaviorlab.schema import from_numpy

runner = CliRunner()


@pytest.fixture
def poses_nc(tmp_path):
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 100, (20, 2, 3, 2))
    pos[3, :, 1, 0] = np.nan
    ds = from_numpy(pos, rng.random((20, 3, 2)), keypoints=["nose", "neck", "tail"], individuals=["m1", "m2"], fps=30)
    return save_poses(ds, tmp_path / "poses.nc"), ds


def test_info_reports_versions_backend_and_devices():
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["behaviorlab"] != "not installed"
    assert report["numpy"] == np.__version__
    assert "keras backend" in report
    table = runner.invoke(app, ["info"])
    assert table.exit_code == 0
    assert "sleap-io" in table.output


@pytest.mark.parametrize("suffix", [".csv", ".h5", ".slp", ".nwb", ".nc"])
def test_convert_round_trips_every_format(tmp_path, poses_nc, suffix):
    src, ds = poses_nc
    out = tmp_path / f"converted{suffix}"
    result = runner.invoke(app, ["convert", str(src), str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    back = load_poses(out, fps=30)
    np.testing.assert_allclose(back["position"].values, ds["position"].values, rtol=0, atol=1e-6)
    assert list(back["keypoint"].values) == ["nose", "neck", "tail"]
    assert list(back["individual"].values) == ["m1", "m2"]
    assert back.attrs["fps"] == 30


def test_convert_source_and_fps_options(tmp_path, poses_nc):
    src, _ = poses_nc
    csv = tmp_path / "tracks.csv"
    assert runner.invoke(app, ["convert", str(src), str(csv)]).exit_code == 0
    renamed = tmp_path / "tracks.txt"
    renamed.write_bytes(csv.read_bytes())
    out = tmp_path / "tracks.nc"
    result = runner.invoke(app, ["convert", str(renamed), str(out), "--source", "dlc", "--fps", "25"])
    assert result.exit_code == 0, result.output
    assert load_poses(out).attrs["fps"] == 25
    bad = runner.invoke(app, ["convert", str(renamed), str(out), "--source", "excel"])
    assert bad.exit_code == 2
    assert "--source must be one of" in bad.output


def test_convert_errors_name_the_file_without_traceback(tmp_path):
    missing = tmp_path / "nope.h5"
    result = runner.invoke(app, ["convert", str(missing), str(tmp_path / "out.nc")])
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert "Traceback" not in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["convert", str(empty), str(tmp_path / "out.nc")])
    assert result.exit_code == 1
    assert str(empty) in result.output
    assert not (tmp_path / "out.nc").exists()

"""Loaders fuzzed with hypothesis: random bytes and damaged real files give the package's own errors, never a crash.

Each example writes one file and reads it with every loader that accepts its
suffix. A loader may read it (a mutation can leave a file valid) or raise a
:class:`~behaviorlab.errors.BehaviorlabError` that names the file; any other
exception is a defect. Examples are bounded so the suite stays fast in CI.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behaviorlab.errors import BehaviorlabError

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data"
SAMPLE = REPO / "sample_data"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

#: Real files (relative to ../shared/data, or sample_data/ with the prefix "sample:") and the loaders that take them.
REAL_FILES = {
    "bsoid-openfield/raw_clip1DLC_resnet50_OpenFieldHighResApr8shuffle1_1030000.csv": ("poses", "annotations"),
    "dlc-epm-tracks/EPM_15DeepCut_resnet50_epmMay17shuffle1_1030000.csv": ("poses",),
    "sleap-centered-pair/centered_pair_predictions.slp": ("poses", "frames"),
    "sleap-single-fly/single_fly.h5": ("poses",),
    "dpk-fly-format/example_annotation_set.h5": ("frames",),
    "sample:session_a_poses.nc": ("poses",),
    "sample:session_a_boris.csv": ("annotations",),
    "sample:labeled_frames.labels.h5": ("frames",),
    "sample:session_a.mp4": ("video",),
}
SUFFIXES = {
    ".csv": ("poses", "annotations", "sessions"),
    ".h5": ("poses", "frames"),
    ".slp": ("poses", "frames"),
    ".nc": ("poses",),
    ".nwb": ("poses",),
    ".mp4": ("video",),
    ".yaml": ("config",),
}


def _read(kind: str, path: Path) -> None:
    from behaviorlab.io.annotations import load_annotations
    from behaviorlab.io.labeled_frames import load_labeled_frames
    from behaviorlab.io.load import load_poses
    from behaviorlab.io.video import probe_video
    from behaviorlab.project.config import ProjectConfig, read_sessions

    loaders = {
        "poses": lambda p: load_poses(p, fps=30.0),
        "annotations": lambda p: load_annotations(p, fps=30.0),
        "frames": load_labeled_frames,
        "video": probe_video,
        "sessions": read_sessions,
        "config": ProjectConfig.load,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged file may well warn; only exceptions are checked
        loaders[kind](path)


def _check(kind: str, path: Path) -> None:
    try:
        _read(kind, path)
    except BehaviorlabError as err:
        message = str(err)
    else:
        return
    assert str(path) in message or path.name in message, f"the {kind} error does not name the file: {message}"


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(sorted(SUFFIXES)))
def test_random_bytes_give_clear_errors(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"random{suffix}"
    path.write_bytes(data)
    for kind in SUFFIXES[suffix]:
        _check(kind, path)


def _source(name: str) -> Path:
    if name.startswith("sample:"):
        path = SAMPLE / name.removeprefix("sample:")
        if not path.is_file():
            pytest.skip(f"{path} missing: run `behaviorlab sample-data`")
        return path
    if not SHARED.is_dir():
        pytest.skip(f"real datasets not found at {SHARED} (clone the project beside ../shared to run this test)")
    return SHARED / name


#: Damages tried per suffix. netCDF files are only truncated (an interrupted copy): a flipped byte inside a
#: netCDF-4 file's dimension list can make h5netcdf/h5py loop for minutes over a corrupt count (upstream; it
#: hangs rather than crashes), which a bounded test cannot wait out.
MUTATIONS = {".nc": ("truncate",)}


@st.composite
def _mutation(draw, size: int, kinds=("truncate", "flip", "delete")):
    """A damage to a file of ``size`` bytes: cut it, flip bytes in it, or cut a piece out."""
    kind = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, max(size - 1, 0)))
    if kind == "truncate":
        return (kind, at, 0, b"")
    if kind == "flip":
        return (kind, at, 0, draw(st.binary(min_size=1, max_size=16)))
    return (kind, at, draw(st.integers(1, 4096)), b"")


def _damage(data: bytes, mutation) -> bytes:
    kind, at, length, payload = mutation
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + payload + data[at + len(payload) :]
    return data[:at] + data[at + length :]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_damaged_real_files_give_clear_errors(tmp_path_factory, name):
    source = _source(name)
    original = source.read_bytes()[:4_000_000]  # the damage lands in the first 4 MB (the headers)

    @settings(max_examples=15, deadline=None, derandomize=True, database=None)
    @given(mutation=_mutation(len(original), MUTATIONS.get(source.suffix, ("truncate", "flip", "delete"))))
    def check(mutation):
        path = tmp_path_factory.mktemp("damaged") / source.name
        path.write_bytes(_damage(original, mutation))
        for kind in REAL_FILES[name]:
            _check(kind, path)

    check()

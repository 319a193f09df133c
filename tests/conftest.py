"""Shared fixtures: paths to the real datasets and to generated sample data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets in ``../shared/data``; skips the test when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (clone the project beside ../shared to run this test)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The generated sample data committed in ``sample_data/``."""
    if not (SAMPLE_DATA / "MANIFEST.json").is_file():
        pytest.skip(f"{SAMPLE_DATA} has not been generated (run `behaviorlab sample-data`)")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, sample_data):
    """``behaviorlab demo`` run once per test session through the CLI: ``(out_dir, result)``.

    The integration test checks its outputs and the dashboard tests open the
    project it builds; a test that writes into the folder must copy it first.
    """
    from typer.testing import CliRunner

    from behaviorlab.cli.app import app

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--sample", str(sample_data)])
    return out, result


@pytest.fixture(scope="session", autouse=True)
def _model_key(tmp_path_factory):
    """Keep the key that signs the records of model files in the session's temporary folder, not in ~/.config.

    Set for the whole session (and so for the subprocesses and Dask workers it starts): every model file the
    tests write is recorded with this key, as `behaviorlab` records a user's own files with theirs.
    """
    from behaviorlab.model_trust import KEY_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, str(tmp_path_factory.mktemp("behaviorlab_config") / "model_key"))
        yield

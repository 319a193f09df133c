"""Package-level promises: light imports, the README and CI running the same test command, the CLI entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_is_light():
    """Importing the package and its non-model modules pulls in neither TensorFlow/Keras nor Streamlit."""
    code = (
        "import sys, behaviorlab, behaviorlab.schema, behaviorlab.io, behaviorlab.io.load, behaviorlab.io.save, "
        "behaviorlab.io.video, behaviorlab.io.labeled_frames, behaviorlab.synthetic.sample, behaviorlab.cli.app; "
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch', 'streamlit') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing behaviorlab loaded {out.stdout.strip()}"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S)
    assert block, "README.md must open with a bash block of commands"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_demo_and_test_commands():
    text = (ROOT / "README.md").read_text()
    first_block_start = text.index("```")
    assert text[:first_block_start].count("\n#") <= 1, "the commands must come first in the README"
    demo, tests = _readme_commands()
    assert demo.endswith("behaviorlab demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^TEST_COMMAND='(.*)'$", ci, flags=re.M)
    assert match, ".ci/run must define TEST_COMMAND"
    _, tests = _readme_commands()
    assert tests.endswith(match.group(1)), f"README test command {tests!r} differs from .ci/run {match.group(1)!r}"


def test_cli_entry_point_lists_the_stable_commands():
    out = subprocess.run([sys.executable, "-m", "behaviorlab.cli.app", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for command in ("info", "convert", "demo", "sample-data"):
        assert command in out.stdout

"""The package's house rules, measured on its source with ``ast`` (issue 20).

Every shared primitive has one owner: no module imports another module's
private name or reaches around ``@logged`` with ``.__wrapped__``; one bout
table schema and one run-length primitive; modules and functions stay small.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "behaviorlab"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), filename=str(p))) for p in SOURCES]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_imports_another_modules_private_name():
    found = []
    for path, tree in _trees():
        here = _module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("behaviorlab"):
                found += [f"{path.name}:{node.lineno} {node.module}.{a.name}" for a in node.names if _private(a.name)]
                parts = node.module.split(".")
                # a private module is private to its package: behaviorlab.io._dlc is for behaviorlab.io only
                for i, part in enumerate(parts[1:], start=1):
                    owner = ".".join(parts[:i])
                    if (
                        _private(part)
                        and not (here == owner or here.startswith(owner + "."))
                        and owner != "behaviorlab"
                    ):
                        found.append(f"{path.name}:{node.lineno} module {node.module}")
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and isinstance(node.value, ast.Name)
                and node.value.id in _imported_modules(tree)
            ):
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []


def _imported_modules(tree: ast.Module) -> set[str]:
    """Local names bound to behaviorlab modules (``from behaviorlab.x import y`` where y is a module, ``import``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("behaviorlab"):
            for a in node.names:
                if (PACKAGE.parent / node.module.replace(".", "/") / f"{a.name}.py").is_file():
                    names.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name.startswith("behaviorlab")}
    return names


def test_nothing_reaches_around_logged_with_wrapped():
    calls = [
        f"{p.name}:{n.lineno}"
        for p, tree in _trees()
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and n.attr == "__wrapped__"
    ]
    assert calls == []


def test_one_bout_table_schema_and_one_run_length_primitive():
    bout_columns = []
    run_functions = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
            bout_columns += [path.name for t in targets if isinstance(t, ast.Name) and t.id == "BOUT_COLUMNS"]
            named_runs = (isinstance(node, ast.FunctionDef) and re.fullmatch(r"_*(\w+_)?runs(_\w+)?", node.name)) or (
                isinstance(node, ast.ClassDef) and node.name.endswith("Runs")
            )
            if named_runs:
                run_functions.append(f"{_module_name(path)}.{node.name}")
    assert bout_columns == ["schema.py"]
    assert sorted(run_functions) == ["behaviorlab._runs.runs", "behaviorlab._runs.value_runs"]


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    body = node.body
    first = body[0]
    docstring = (
        isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    )
    start = first.end_lineno + 1 if docstring and len(body) > 1 else first.lineno
    return sum(1 for line in lines[start - 1 : node.end_lineno] if line.strip() and not line.strip().startswith("#"))


def test_modules_and_functions_stay_small():
    big, long = {}, {}
    for path, tree in _trees():
        rel = path.relative_to(PACKAGE).as_posix()
        lines = path.read_text().splitlines()
        if len(lines) > 800:
            big[rel] = len(lines)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (n := _code_lines(node, lines)) > 80:
                long[f"{rel}:{node.name}"] = n
    assert big == {}, "modules over 800 lines"
    assert long == {}, "functions over 80 lines of code (docstring, blank and comment lines not counted)"


@pytest.mark.parametrize(
    ("mask", "starts", "stops"),
    [
        ([0, 1, 1, 0, 1], [1, 4], [3, 5]),
        ([1, 1, 1], [0], [3]),
        ([0, 0], [], []),
        ([], [], []),
    ],
)
def test_runs_of_a_planted_sequence(mask, starts, stops):
    from behaviorlab._runs import runs

    rows, s, e = runs(np.asarray(mask, dtype=bool))
    assert s.tolist() == starts
    assert e.tolist() == stops
    assert rows.tolist() == [0] * len(starts)


def test_runs_by_row_and_value_runs_cover_every_frame():
    from behaviorlab._runs import runs, value_runs

    rows, s, e = runs(np.array([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=bool))
    assert list(zip(rows.tolist(), s.tolist(), e.tolist(), strict=True)) == [(0, 0, 1), (0, 2, 4), (1, 1, 3)]
    starts, stops, values = value_runs(np.array([2, 2, -1, 0, 0, 0, 2]))
    assert starts.tolist() == [0, 2, 3, 6]
    assert stops.tolist() == [2, 3, 6, 7]
    assert values.tolist() == [2, -1, 0, 2]


def test_function_level_imports_say_why_they_wait():
    # an import inside a function keeps a heavy or optional stack (Keras, UMAP, Dask, pynwb, ...) out of import
    # time, or keeps `behaviorlab --help` fast; every other import is at the top, where an import cycle shows
    silent = []
    for path, tree in _trees():
        lines = path.read_text().splitlines()
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    text = " ".join(lines[node.lineno - 1 : node.end_lineno])
                    if "# lazy:" not in text and "# kept here:" not in text:
                        silent.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert sorted(set(silent)) == []

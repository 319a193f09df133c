"""Group comparisons of per-animal behavior statistics: session metadata, rank tests, effect sizes, figures.

The input is a tidy statistics table with one row per session (and
``individual``, when present) and per key such as ``source`` and
``behavior``, and numeric measure columns (``time_budget_pct``,
``bout_count``, ``mean_bout_s``, ``latency_s``, ...).  Each animal gives one
value per key and measure, so the unit of replication is the animal, never
the frame or the bout.

The experimental group of each session comes from a metadata table (see
:func:`read_metadata`), joined on ``session``, or on ``session`` and
``individual`` when both tables have an ``individual`` column.  A table row
without metadata is an error: an incomplete metadata file must not silently
shrink the groups.

Tests (:func:`compare_groups`):

- two groups: Mann-Whitney U (two-sided); effect size the rank-biserial
  correlation ``r = 2 U_b / (n_a n_b) - 1`` of the second group ``b``
  against the first ``a`` (sorted order), which is Cliff's delta: ``+1`` when
  every value of ``b`` exceeds every value of ``a``, ``-1`` in the reverse
  case, 0 without separation;
- more groups: Kruskal-Wallis H; effect size ``epsilon^2 = H / (n - 1)``
  with ``n`` the number of values;
- ``test="permutation"``: a permutation test of the difference of means
  (two groups, two-sided) or of H (more groups, one-sided), same effect
  sizes.

p-values are corrected for multiple comparisons with Benjamini-Hochberg over
every row of the result that has a p-value.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Sequence
from itertools import pairwise
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
from scipy import stats

from behaviorlab.errors import FileFormatError, SchemaError

__all__ = ["DEFAULT_MEASURES", "KEY_COLUMNS", "compare_groups", "group_figure", "read_metadata", "smallest_p_value"]

KEY_COLUMNS: tuple[str, ...] = (
    "session",
    "individual",
    "subject",
    "source",
    "behavior",
    "state",
    "bin",
    "bin_start_s",
    "bin_end_s",
    "frame",
    "start_frame",
    "stop_frame",
    "end_frame",
    "time",
    "zone",
    "labeled_s",
    "tracked_s",
)
"""Columns that identify a row (or say how much was observed) rather than measure behavior; ``measures=None``
never compares them."""

#: Measures compared by default, per table.
DEFAULT_MEASURES: dict[str, list[str]] = {
    "behavior_stats": ["time_budget_pct", "bout_count", "mean_bout_s", "latency_s", "bouts_per_min"],
    "movement": ["distance", "mean_speed"],
    "zones": ["time_pct", "entries", "latency_s"],
}

TESTS: tuple[str, ...] = ("auto", "mannwhitney", "kruskal", "permutation")

_MAX_LISTED = 10


# ----------------------------------------------------------------------------- metadata
def _listing(items: Sequence[str], limit: int = _MAX_LISTED) -> str:
    """Join ``items`` with commas, cut after ``limit`` entries with ``"(and k more)"``."""
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read a session metadata table (CSV, or TSV for ``.tsv`` files).

    Parameters
    ----------
    path
        Table with a header row and one row per session (or per session and
        animal), e.g. columns ``session, subject, group, condition, day``.
        A ``session`` column is required; ``subject`` is renamed to
        ``individual``.

    Returns
    -------
    pandas.DataFrame
        A new table, one row per line of the file (blank lines skipped).
        ``session`` and ``individual`` are strings with surrounding white
        space removed; the other columns keep the types pandas infers
        (numbers, strings).  Column names are stripped of white space.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    behaviorlab.errors.FileFormatError
        The file cannot be parsed, has no ``session`` column, has both
        ``subject`` and ``individual``, has an empty ``session`` or
        ``individual`` cell, or repeats a ``session`` (``session``,
        ``individual`` when that column exists); the message gives the
        repeated keys and their line numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such metadata file")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    key_names = ("session", "subject", "individual")
    options: dict[str, Any] = {"sep": sep, "encoding": "utf-8-sig"}
    try:
        header = pd.read_csv(path, nrows=0, **options)
        dtypes = {c: str for c in header.columns if str(c).strip() in key_names}
        table = pd.read_csv(path, dtype=dtypes, **options).dropna(how="all")
        # Line numbers for the messages: a text-only read that keeps blank lines (the header is line 1).
        lines = pd.read_csv(path, dtype=str, skip_blank_lines=False, **options).dropna(how="all").index + 2
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise FileFormatError(path, f"cannot be read as a metadata table: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    table.index = lines if len(lines) == len(table) else pd.RangeIndex(2, len(table) + 2)
    columns = list(table.columns)
    if "session" not in columns:
        raise FileFormatError(path, f"a metadata table needs a 'session' column; found the columns {columns}")
    if "subject" in columns and "individual" in columns:
        raise FileFormatError(
            path, "has both a 'subject' and an 'individual' column; keep one (subject is read as individual)"
        )
    table = table.rename(columns={"subject": "individual"})
    keys = ["session", "individual"] if "individual" in table.columns else ["session"]
    for key in keys:
        table[key] = table[key].str.strip()
        empty = table.index[table[key].isna() | (table[key] == "")]
        if len(empty):
            raise FileFormatError(path, f"empty {key!r} on line(s) {_listing([str(i) for i in empty])}")
    repeated = table[table.duplicated(keys, keep=False)]
    if len(repeated):
        described = [
            f"{' / '.join(map(repr, key))} (lines {', '.join(map(str, rows.index))})"
            for key, rows in repeated.groupby(keys, sort=False)
        ]
        raise FileFormatError(
            path, f"repeats the {' / '.join(keys)} key(s) {_listing(described)}; give each one row only"
        )
    return table.reset_index(drop=True)


def _key_strings(table: pd.DataFrame, keys: Sequence[str]) -> pd.Index:
    """Return the join keys of ``table`` as strings: an Index (one key) or MultiIndex (several)."""
    columns = [table[k].astype(str).str.strip() for k in keys]
    if len(columns) == 1:
        return pd.Index(columns[0].to_numpy(), name=keys[0])
    return pd.MultiIndex.from_arrays([c.to_numpy() for c in columns], names=list(keys))


def _describe_key(key: Any, keys: Sequence[str]) -> str:
    values = key if isinstance(key, tuple) else (key,)
    return " / ".join(f"{k} {v!r}" for k, v in zip(keys, values, strict=True))


def _attach_groups(table: pd.DataFrame, metadata: pd.DataFrame | str | Path | None, group: str) -> pd.DataFrame:
    """Return a copy of ``table`` with its ``group`` column, joined from ``metadata`` when given."""
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if metadata is None:
        if group not in table.columns:
            raise SchemaError(
                f"the table has no {group!r} column (it has {list(map(str, table.columns))}); pass the session "
                "metadata (metadata=...) or name the group column (group=...)"
            )
        joined = table.copy()
    else:
        if not isinstance(metadata, pd.DataFrame):
            metadata = read_metadata(metadata)
        if "session" not in metadata.columns:
            raise SchemaError(f"the metadata has no 'session' column (it has {list(map(str, metadata.columns))})")
        if group not in metadata.columns:
            raise SchemaError(
                f"the metadata has no {group!r} column; pass group= one of {list(map(str, metadata.columns))}"
            )
        if "session" not in table.columns:
            raise SchemaError(
                f"the table has no 'session' column to join the metadata on (it has {list(table.columns)})"
            )
        if group in table.columns:
            raise SchemaError(
                f"the table already has a {group!r} column; pass metadata=None to use it, "
                "or drop it to use the metadata"
            )
        keys = (
            ["session", "individual"] if {"individual"} <= set(table.columns) & set(metadata.columns) else ["session"]
        )
        meta = pd.DataFrame({group: metadata[group].to_numpy()}, index=_key_strings(metadata, keys))
        meta = meta.reset_index().drop_duplicates().set_index(keys)
        if meta.index.has_duplicates:
            clashes = [_describe_key(k, keys) for k in meta.index[meta.index.duplicated()].unique()]
            raise SchemaError(
                f"the metadata gives several {group!r} values for {_listing(clashes)}"
                + (
                    "; the table has no 'individual' column, so each session needs one group"
                    if keys == ["session"]
                    else ""
                )
            )
        wanted = _key_strings(table, keys)
        found = wanted.isin(meta.index)
        if not found.all():
            missing = [_describe_key(k, keys) for k in wanted[~found].unique()]
            raise SchemaError(
                f"{int((~found).sum())} table row(s) have no metadata ({len(missing)} key(s)): {_listing(missing)}; "
                f"add them to the metadata (joined on {' and '.join(keys)}) or drop them from the table"
            )
        joined = table.copy()
        joined[group] = meta[group].reindex(wanted).to_numpy()
    empty = joined[group].isna()
    if empty.any():
        where = joined.loc[empty, [c for c in ("session", "individual") if c in joined.columns]]
        rows = [" / ".join(map(str, r)) for r in where.drop_duplicates().itertuples(index=False)] or ["?"]
        raise SchemaError(f"no {group!r} value for {int(empty.sum())} row(s) (session(s) {_listing(rows)})")
    return joined


def _sorted_groups(values: pd.Series, group: str) -> tuple[list[Any], list[str]]:
    """Sorted unique group values and their names (``str``); names must be unique."""
    unique = list(pd.unique(values))
    try:
        ordered = sorted(unique)
    except TypeError:
        ordered = sorted(unique, key=str)
    names = [str(v) for v in ordered]
    if len(set(names)) != len(names):
        raise SchemaError(f"the {group!r} values {ordered} are not distinct as text; give each group one spelling")
    return ordered, names


# ----------------------------------------------------------------------------- statistics
def _kruskal_h(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """Kruskal-Wallis H with the tie correction, vectorized over the leading axes (for permutation_test)."""
    moved = [np.moveaxis(np.asarray(s, dtype=np.float64), axis, -1) for s in samples]
    pooled = np.concatenate(moved, axis=-1)
    n = pooled.shape[-1]
    ranks = stats.rankdata(pooled, axis=-1)
    bounds = np.cumsum([0, *(s.shape[-1] for s in moved)])
    between = sum(ranks[..., a:b].sum(axis=-1) ** 2 / (b - a) for a, b in pairwise(bounds))
    h = 12.0 / (n * (n + 1)) * between - 3.0 * (n + 1)
    # Every resample holds the same multiset of values, so one tie correction serves them all.
    counts = np.unique(pooled.reshape(-1, n)[0], return_counts=True)[1].astype(np.float64)
    return h / (1.0 - (counts**3 - counts).sum() / (n**3 - n))


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(b, axis=axis) - np.mean(a, axis=axis)


_PERMUTATION_SEED_ARG = "rng" if "rng" in inspect.signature(stats.permutation_test).parameters else "random_state"


def _rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """``2 U_b / (n_a n_b) - 1`` with ``U_b`` the Mann-Whitney U of ``b`` (ties count one half)."""
    ranks = stats.rankdata(np.concatenate([a, b]))
    u_b = ranks[len(a) :].sum() - len(b) * (len(b) + 1) / 2.0
    return float(2.0 * u_b / (len(a) * len(b)) - 1.0)


def _compare(
    samples: list[np.ndarray], test: str, n_permutations: int, random_state: Any
) -> tuple[str, float, float, float, str, str]:
    """Test one set of group samples (each non-empty, NaN-free).

    Returns ``(test, statistic, p_value, effect_size, effect_size_name, note)``.
    """
    k = len(samples)
    name = test if test != "auto" else ("mannwhitney" if k == 2 else "kruskal")
    if k < 2:
        return (name if test != "auto" else "none"), np.nan, np.nan, np.nan, "", ""
    pooled = np.concatenate(samples)
    identical = bool(np.all(pooled == pooled[0]))
    if k == 2:
        effect_name, effect = "rank_biserial", _rank_biserial(*samples)
    else:
        effect_name = "epsilon_squared"
        effect = np.nan if identical else float(stats.kruskal(*samples).statistic) / (len(pooled) - 1)
    if identical:
        return name, np.nan, np.nan, effect, effect_name, "all values are identical; no test"
    floor = smallest_p_value([len(x) for x in samples])
    too_few = (
        f"groups of {'/'.join(str(len(x)) for x in samples)} animals: no outcome of a rank test can reach p < 0.05 "
        f"(the smallest possible p is {floor:.2g}); more animals per group are needed"
        if floor >= 0.05
        else ""
    )
    if name == "mannwhitney":
        a, b = samples
        res = stats.mannwhitneyu(b, a, alternative="two-sided", method="auto")
        return name, float(res.statistic), float(res.pvalue), effect, effect_name, too_few
    if name == "kruskal":
        res = stats.kruskal(*samples)
        return name, float(res.statistic), float(res.pvalue), effect, effect_name, too_few
    res = stats.permutation_test(
        samples,
        _mean_difference if k == 2 else _kruskal_h,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_permutations,
        alternative="two-sided" if k == 2 else "greater",
        **{_PERMUTATION_SEED_ARG: random_state},
    )
    return name, float(res.statistic), float(res.pvalue), effect, effect_name, too_few


def smallest_p_value(sizes: Sequence[int]) -> float:
    """Return the smallest p-value an exact rank test can give for groups of these sizes (no ties).

    Among the ``N! / (n_1! ... n_k!)`` equally likely ways to share the ranks
    between the groups, only the most extreme one (two of them for two
    groups, two-sided) reaches the smallest p: ``2 / C(n_1 + n_2, n_1)`` for
    Mann-Whitney, ``1 / multinomial`` for Kruskal-Wallis. With 1 and 2
    animals that is 0.67: no result could ever be significant.
    """
    sizes = [int(n) for n in sizes if n > 0]
    ways, total = 1, 0
    for n in sizes:
        total += n
        ways *= comb(total, n)
    return min(1.0, (2.0 if len(sizes) == 2 else 1.0) / ways)


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values over the finite entries of ``p``; NaN stays NaN and is not in the family."""
    adjusted = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p[finite], method="bh")
    return adjusted


def _measure_columns(table: pd.DataFrame, measures: str | Sequence[str] | None, exclude: set[str]) -> list[str]:
    numeric = [
        str(c)
        for c in table.columns
        if pd.api.types.is_numeric_dtype(table[c]) and not isinstance(table[c].dtype, pd.CategoricalDtype)
    ]
    if measures is None:
        chosen = [c for c in numeric if c not in exclude]
        if not chosen:
            raise SchemaError(f"the table has no numeric measure column (it has {list(map(str, table.columns))})")
        return chosen
    chosen = [measures] if isinstance(measures, str) else list(measures)
    if not chosen:
        raise SchemaError("measures is empty; pass None to compare every numeric column")
    for m in chosen:
        if m not in table.columns:
            raise SchemaError(f"no measure column {m!r} in the table; numeric columns: {numeric}")
        if m not in numeric:
            raise SchemaError(f"measure {m!r} is not numeric (dtype {table[m].dtype}); numeric columns: {numeric}")
    if len(set(chosen)) != len(chosen):
        raise SchemaError(f"measures lists a column twice: {chosen}")
    return chosen


def _check_one_row_per_animal(table: pd.DataFrame, keys: list[str]) -> None:
    repeated = table[table.duplicated(keys, keep=False)]
    if len(repeated):
        examples = [
            " / ".join(f"{k} {v!r}" for k, v in zip(keys, row, strict=True))
            for row in repeated[keys].drop_duplicates().itertuples(index=False)
        ]
        raise SchemaError(
            f"the table has several rows for {_listing(examples, 5)}; it needs one row per animal and key "
            f"({', '.join(keys)}): add the column that tells them apart (e.g. 'bin') to by=, or aggregate first"
        )


def compare_groups(
    table: pd.DataFrame,
    metadata: pd.DataFrame | str | Path | None = None,
    *,
    group: str = "group",
    measures: str | Sequence[str] | None = None,
    by: str | Sequence[str] = ("source", "behavior"),
    test: str = "auto",
    n_permutations: int = 9999,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Compare groups of animals on every measure, separately per key (e.g. per source and behavior).

    Parameters
    ----------
    table
        Tidy statistics, one row per ``session`` (and ``individual`` when
        present) and per ``by`` key, with numeric measure columns.
    metadata
        Session metadata (a DataFrame as :func:`read_metadata` returns, or a
        path to read with it) holding the ``group`` column, joined on
        ``session``, or on ``session`` and ``individual`` when both tables
        have that column.  ``None`` when ``table`` already has the
        ``group`` column.
    group
        Name of the column that holds each animal's group (numbers or text;
        named by their text).
    measures
        Measure column(s) to compare; ``None`` compares every numeric column
        of ``table`` except :data:`KEY_COLUMNS`, the ``by`` columns and
        ``group``.
    by
        Columns that split the comparisons; those absent from ``table`` are
        ignored (a table of distances has no ``behavior``).
    test
        ``"auto"`` (Mann-Whitney U for two groups, Kruskal-Wallis for
        more), ``"mannwhitney"`` (two groups only), ``"kruskal"`` or
        ``"permutation"`` (difference of means for two groups, two-sided;
        Kruskal-Wallis H for more, one-sided).
    n_permutations
        Resamples of the permutation test; when the samples allow fewer
        distinct permutations, the test is exact.
    random_state
        Seed (or Generator) of the permutation test.  An int seeds every
        comparison afresh, so a row's p-value does not depend on the others.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` key and measure (sorted by the keys, then in the
        order of ``measures``), with columns: the ``by`` keys present,
        ``measure``, ``test``, ``groups`` (the groups with values, joined by
        ``" vs "``), ``n`` (values compared), ``statistic`` (Mann-Whitney
        U of the second group; H; or, for a two-group permutation test,
        mean of the second group minus mean of the first), ``p_value``,
        ``p_adjusted`` (Benjamini-Hochberg over every row with a p-value),
        ``effect_size``, ``effect_size_name`` (``"rank_biserial"`` or
        ``"epsilon_squared"``), then for every group ``g`` of the table
        ``n[g]``, ``median[g]``, ``mean[g]``, and ``note`` (why a p-value
        is missing, or which group had no values; ``""`` otherwise).
        NaN values are left out.  With fewer than two groups with values, or
        when all values are identical, ``p_value`` is NaN.

    Raises
    ------
    behaviorlab.errors.SchemaError
        Table rows without metadata (the first keys are listed), a missing
        ``group`` or measure column, or several rows for one animal and key.
    ValueError
        An unknown ``test``, ``test="mannwhitney"`` with more than two
        groups, or ``n_permutations < 1``.

    Examples
    --------
    >>> table = pd.DataFrame({"session": list("abcdef"), "bout_count": [1, 2, 3, 7, 8, 9]})
    >>> meta = pd.DataFrame({"session": list("abcdef"), "group": ["ctl"] * 3 + ["ko"] * 3})
    >>> row = compare_groups(table, meta).iloc[0]
    >>> row["groups"], float(row["effect_size"]), round(float(row["p_value"]), 3)
    ('ctl vs ko', 1.0, 0.1)
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int | np.integer) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a whole number >= 1, got {n_permutations!r}")
    by_keys = [by] if isinstance(by, str) else list(by)
    present = [k for k in by_keys if k in table.columns]
    if group in present:
        raise SchemaError(f"the group column {group!r} cannot also be a by= key")
    exclude = {*KEY_COLUMNS, *present, group}
    measure_names = _measure_columns(table, measures, exclude)
    if group in measure_names:
        raise SchemaError(f"the group column {group!r} cannot also be a measure")
    joined = _attach_groups(table, metadata, group).reset_index(drop=True)
    animal = [k for k in ("session", "individual") if k in joined.columns]
    if animal:
        _check_one_row_per_animal(joined, animal + present)
    values, names = _sorted_groups(joined[group], group)
    if test == "mannwhitney" and len(values) > 2:
        raise ValueError(
            f"test='mannwhitney' compares two groups but {group!r} has {len(values)} ({', '.join(names)}); "
            "use test='kruskal' or 'auto', or select two groups first"
        )
    labels = joined[group].map(dict(zip(values, names, strict=True))).to_numpy()

    rows: list[dict[str, Any]] = []
    parts = joined.groupby(present, sort=True, dropna=False) if present else [((), joined)] if len(joined) else []
    for key, part in parts:
        key_values = key if isinstance(key, tuple) else (key,)
        part_labels = labels[part.index.to_numpy()]
        for measure in measure_names:
            column = part[measure].to_numpy(dtype=np.float64, na_value=np.nan)
            by_group = {g: column[(part_labels == g) & ~np.isnan(column)] for g in names}
            with_values = [g for g in names if len(by_group[g])]
            samples = [by_group[g] for g in with_values]
            name, statistic, p, effect, effect_name, note = _compare(samples, test, n_permutations, random_state)
            empty = [g for g in names if g not in with_values]
            if len(with_values) < 2:
                note = f"{len(with_values)} group(s) with values ({', '.join(with_values) or 'none'}); no test"
            elif empty:
                note = f"no values in group(s) {', '.join(empty)}; compared the others" + (f"; {note}" if note else "")
            row: dict[str, Any] = dict(zip(present, key_values, strict=True))
            row.update(
                measure=measure,
                test=name,
                groups=" vs ".join(with_values),
                n=int(sum(len(s) for s in samples)),
                statistic=statistic,
                p_value=p,
                effect_size=effect,
                effect_size_name=effect_name,
            )
            for g in names:
                x = by_group[g]
                row[f"n[{g}]"] = len(x)
                row[f"median[{g}]"] = float(np.median(x)) if len(x) else np.nan
                row[f"mean[{g}]"] = float(np.mean(x)) if len(x) else np.nan
            row["note"] = note
            rows.append(row)

    per_group = [f"{s}[{g}]" for g in names for s in ("n", "median", "mean")]
    columns = [*present, "measure", "test", "groups", "n", "statistic", "p_value", "p_adjusted", "effect_size"]
    columns += ["effect_size_name", *per_group, "note"]
    result = pd.DataFrame(rows, columns=[c for c in columns if c != "p_adjusted"])
    result.insert(columns.index("p_adjusted"), "p_adjusted", _benjamini_hochberg(result["p_value"].to_numpy(float)))
    return result.astype({"n": np.int64, **{f"n[{g}]": np.int64 for g in names}})


# ----------------------------------------------------------------------------- figure
def group_figure(
    table: pd.DataFrame,
    metadata: pd.DataFrame | str | Path | None = None,
    *,
    measure: str,
    group: str = "group",
    facet: str | None = "behavior",
    source: Hashable | None = None,
    title: str | None = None,
) -> Any:
    """Box plot of one measure per group, with every animal as a jittered point.

    Parameters
    ----------
    table
        Tidy statistics as for :func:`compare_groups`.
    metadata
        Session metadata holding ``group`` (DataFrame or path), joined as in
        :func:`compare_groups`; ``None`` when ``table`` has ``group``.
    measure
        Numeric column to plot.
    group
        Column that holds each animal's group.
    facet
        Column with one panel per value (``None``, or a column that
        ``table`` lacks, gives one panel).
    source
        Keep only the rows of this ``source``.  Without it, a table with
        several sources gets one row of panels per source.
    title
        Figure title; default the measure (and source).

    Returns
    -------
    plotly.graph_objects.Figure
        One box trace per group and panel that has values, each showing
        all its points (rows where ``measure`` is NaN are left out); hover
        gives the session and individual.
    """
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if measure not in table.columns:
        numeric = [str(c) for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
        raise SchemaError(f"no measure column {measure!r} in the table; numeric columns: {numeric}")
    if not pd.api.types.is_numeric_dtype(table[measure]):
        raise SchemaError(f"measure {measure!r} is not numeric (dtype {table[measure].dtype})")
    data = table
    if source is not None:
        if "source" not in table.columns:
            raise SchemaError("source= was given but the table has no 'source' column")
        data = table[table["source"] == source]
        if data.empty:
            raise SchemaError(f"no rows with source {source!r}; sources: {sorted(map(str, table['source'].unique()))}")
    data = _attach_groups(data, metadata, group)
    values, names = _sorted_groups(data[group], group)
    data[group] = data[group].map(dict(zip(values, names, strict=True)))
    data = data[data[measure].notna()].copy()
    facet_col = facet if facet is not None and facet in data.columns else None
    facet_row = "source" if source is None and "source" in data.columns and data["source"].nunique() > 1 else None
    orders: dict[str, list[Any]] = {group: names}
    for col in (facet_col, facet_row):
        if col is not None:
            data[col] = data[col].astype(str)
            orders[col] = sorted(data[col].unique())
    hover = [c for c in ("session", "individual") if c in data.columns]
    n_facets = len(orders.get(facet_col, [None])) if facet_col else 1
    fig = px.box(
        data,
        x=group,
        y=measure,
        color=group,
        facet_col=facet_col,
        facet_row=facet_row,
        facet_col_wrap=4 if facet_col and facet_row is None and n_facets > 4 else 0,
        points="all",
        hover_data=hover,
        category_orders=orders,
        boxmode="overlay",
        template="plotly_white",
    )
    fig.update_traces(jitter=0.4, pointpos=0, marker={"size": 6, "opacity": 0.7})
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    label = title if title is not None else measure + (f" ({source})" if source is not None else "")
    fig.update_layout(title=label, legend_title_text=group)
    return fig

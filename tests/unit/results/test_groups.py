"""Group comparisons on hand-made per-animal tables, checked against scipy and against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from behaviorlab.errors import FileFormatError, SchemaError
from behaviorlab.results.groups import KEY_COLUMNS, compare_groups, group_figure, read_metadata


def two_groups(a: list[float], b: list[float], measure: str = "bout_count") -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per animal (sessions s0, s1, ...): values of group 'a' then of group 'b', and their metadata."""
    values = [*a, *b]
    sessions = [f"s{i}" for i in range(len(values))]
    table = pd.DataFrame({"session": sessions, measure: values})
    meta = pd.DataFrame({"session": sessions, "group": ["a"] * len(a) + ["b"] * len(b)})
    return table, meta


def groups_table(samples: dict[str, list[float]], measure: str = "bout_count") -> pd.DataFrame:
    """A table that already has a 'group' column, one session per value."""
    rows = [(g, v) for g, values in samples.items() for v in values]
    return pd.DataFrame(
        {
            "session": [f"s{i}" for i in range(len(rows))],
            "group": [g for g, _ in rows],
            measure: [v for _, v in rows],
        }
    )


def only_row(result: pd.DataFrame) -> pd.Series:
    assert len(result) == 1
    return result.iloc[0]


# --------------------------------------------------------------------------- two groups: Mann-Whitney U
def test_mannwhitney_matches_scipy():
    a, b = [1.2, 3.4, 2.2, 5.0], [4.1, 6.3, 5.5, 7.7, 8.0]
    table, meta = two_groups(a, b)
    row = only_row(compare_groups(table, meta))
    expected = stats.mannwhitneyu(b, a, alternative="two-sided", method="auto")
    assert row["test"] == "mannwhitney"
    assert row["groups"] == "a vs b"
    assert row["n"] == 9
    assert row["statistic"] == pytest.approx(expected.statistic)  # U of the second group
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["p_adjusted"] == pytest.approx(expected.pvalue)  # a family of one
    assert row["effect_size_name"] == "rank_biserial"
    assert (row["n[a]"], row["n[b]"]) == (4, 5)
    assert row["median[a]"] == pytest.approx(np.median(a))
    assert row["mean[b]"] == pytest.approx(np.mean(b))
    assert row["note"] == ""


def test_mannwhitney_with_ties_matches_scipy():
    a, b = [1, 2, 2, 3, 3, 3, 4, 5, 6], [3, 4, 4, 5, 6, 6, 7, 8, 8, 9]
    table, meta = two_groups(a, b)
    row = only_row(compare_groups(table, meta))
    expected = stats.mannwhitneyu(b, a, alternative="two-sided", method="auto")
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["statistic"] == pytest.approx(expected.statistic)


@pytest.mark.parametrize(("a", "b", "r"), [([1, 2, 3], [4, 5, 6, 7], 1.0), ([10, 11, 12], [1, 2], -1.0)])
def test_rank_biserial_is_plus_or_minus_one_for_perfect_separation(a, b, r):
    table, meta = two_groups(a, b)
    assert only_row(compare_groups(table, meta))["effect_size"] == r


def test_rank_biserial_hand_computed_with_overlap():
    # a = 1, 2, 3; b = 2, 4, 5. Pairs with b > a: b=2 beats 1 (and ties 2: one half), b=4 and b=5 beat all three:
    # U_b = 1.5 + 3 + 3 = 7.5 of 9 pairs, r = 2 * 7.5 / 9 - 1 = 2/3 (Cliff's delta (7 - 1) / 9 as well).
    table, meta = two_groups([1, 2, 3], [2, 4, 5])
    row = only_row(compare_groups(table, meta))
    assert row["effect_size"] == pytest.approx(2 / 3)
    assert row["statistic"] == pytest.approx(7.5)


def test_effect_sign_follows_sorted_group_order_not_row_order():
    # Group 'b' rows come first in the table; 'a' is still the first group, so higher 'b' values give r = +1.
    table = pd.DataFrame({"session": list("pqrstu"), "group": list("bbbaaa"), "x": [7, 8, 9, 1, 2, 3]})
    row = only_row(compare_groups(table))
    assert row["groups"] == "a vs b"
    assert row["effect_size"] == 1.0


# --------------------------------------------------------------------------- more groups: Kruskal-Wallis
def test_kruskal_matches_scipy_and_epsilon_squared_is_hand_computed():
    # Ranks 1-3, 4-6, 7-9: rank sums 6, 15, 24; H = 12 / (9 * 10) * (36 + 225 + 576) / 3 - 3 * 10 = 7.2;
    # epsilon^2 = H / (n - 1) = 7.2 / 8 = 0.9.
    table = groups_table({"ctl": [1, 2, 3], "ko": [4, 5, 6], "het": [7, 8, 9]})
    row = only_row(compare_groups(table))
    assert row["test"] == "kruskal"
    assert row["groups"] == "ctl vs het vs ko"
    assert row["statistic"] == pytest.approx(7.2)
    assert row["p_value"] == pytest.approx(stats.kruskal([1, 2, 3], [4, 5, 6], [7, 8, 9]).pvalue)
    assert row["effect_size_name"] == "epsilon_squared"
    assert row["effect_size"] == pytest.approx(0.9)


def test_kruskal_with_ties_matches_scipy():
    samples = {"a": [1.0, 1.0, 2.0, 5.0], "b": [2.0, 3.0, 3.0], "c": [4.0, 5.0, 5.0, 6.0, 7.0]}
    row = only_row(compare_groups(groups_table(samples)))
    expected = stats.kruskal(*samples.values())
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["effect_size"] == pytest.approx(expected.statistic / (12 - 1))


def test_forced_kruskal_on_two_groups_matches_scipy():
    a, b = [1.0, 2.5, 3.0, 4.0], [3.5, 5.0, 6.0]
    table, meta = two_groups(a, b)
    row = only_row(compare_groups(table, meta, test="kruskal"))
    assert row["test"] == "kruskal"
    assert row["p_value"] == pytest.approx(stats.kruskal(a, b).pvalue)
    assert row["effect_size_name"] == "rank_biserial"


def test_mannwhitney_with_three_groups_is_an_error():
    table = groups_table({"a": [1, 2], "b": [3, 4], "c": [5, 6]})
    with pytest.raises(ValueError, match=r"two groups.*kruskal"):
        compare_groups(table, test="mannwhitney")


@pytest.mark.parametrize("kwargs", [{"test": "t-test"}, {"n_permutations": 0}, {"n_permutations": 9.5}])
def test_bad_parameters(kwargs):
    table, meta = two_groups([1, 2], [3, 4])
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        compare_groups(table, meta, **kwargs)


def test_numeric_group_values_sort_as_numbers_and_are_named_as_text():
    table = pd.DataFrame({"session": [f"s{i}" for i in range(6)], "dose": [10, 2, 10, 2, 1, 1], "x": range(6)})
    result = compare_groups(table, group="dose")
    row = only_row(result)
    assert row["groups"] == "1 vs 2 vs 10"
    assert [c for c in result.columns if c.startswith("n[")] == ["n[1]", "n[2]", "n[10]"]
    assert row["mean[10]"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- Benjamini-Hochberg
def test_benjamini_hochberg_hand_computed_over_rows_with_a_p_value():
    # Four groups of animals per measure, perfectly separated, give exact Mann-Whitney p = 2 / C(n_a + n_b, n_a):
    # 4 vs 4: 2/70, 3 vs 3: 2/20 = 0.1, 2 vs 3: 2/10 = 0.2, 1 vs 4: 2/5 = 0.4; 'none' has no values in group a.
    nan = np.nan
    table = pd.DataFrame(
        {
            "session": [f"s{i}" for i in range(8)],
            "group": ["a"] * 4 + ["b"] * 4,
            "p4v4": [1, 2, 3, 4, 5, 6, 7, 8],
            "p3v3": [nan, 2, 3, 4, 5, 6, 7, nan],
            "p2v3": [nan, nan, 3, 4, 5, 6, 7, nan],
            "p1v4": [nan, nan, nan, 4, 5, 6, 7, 8],
            "none": [nan, nan, nan, nan, 5, 6, 7, 8],
        }
    )
    result = compare_groups(table).set_index("measure")
    assert result["p_value"].drop("none").to_dict() == pytest.approx(
        {"p4v4": 2 / 70, "p3v3": 0.1, "p2v3": 0.2, "p1v4": 0.4}
    )
    # Sorted p: 2/70, 0.1, 0.2, 0.4 (m = 4): p * m / rank = 0.1143, 0.2, 0.2667, 0.4, already increasing.
    expected = {"p4v4": 8 / 70, "p3v3": 0.2, "p2v3": 0.8 / 3, "p1v4": 0.4}
    assert result["p_adjusted"].drop("none").to_dict() == pytest.approx(expected)
    assert math.isnan(result.loc["none", "p_value"])
    assert math.isnan(result.loc["none", "p_adjusted"])
    assert "no test" in result.loc["none", "note"]


def test_benjamini_hochberg_example_from_the_brief():
    # p = 0.01, 0.04, 0.03, 0.2 -> sorted 0.01, 0.03, 0.04, 0.2; p * 4 / rank = 0.04, 0.0533, 0.04, 0.2;
    # the running minimum from the top gives 0.04, 0.0533, 0.0533 (0.04 * 4 / 3), 0.2.
    from behaviorlab.results.groups import _benjamini_hochberg

    adjusted = _benjamini_hochberg(np.array([0.01, 0.04, np.nan, 0.03, 0.2]))
    np.testing.assert_allclose(adjusted[[0, 1, 3, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert math.isnan(adjusted[2])


# --------------------------------------------------------------------------- undefined tests give NaN and a note
def test_all_nan_in_one_group_gives_nan_p_and_a_note():
    table, meta = two_groups([np.nan, np.nan], [1.0, 2.0, 3.0], measure="latency_s")
    row = only_row(compare_groups(table, meta))
    assert math.isnan(row["p_value"])
    assert math.isnan(row["statistic"])
    assert row["groups"] == "b"
    assert (row["n"], row["n[a]"], row["n[b]"]) == (3, 0, 3)
    assert math.isnan(row["median[a]"])
    assert row["note"] == "1 group(s) with values (b); no test"


def test_empty_third_group_compares_the_other_two():
    table = groups_table({"a": [1, 2, 3], "b": [4, 5, 6], "c": [np.nan, np.nan]})
    row = only_row(compare_groups(table))
    assert row["test"] == "mannwhitney"
    assert row["groups"] == "a vs b"
    assert row["p_value"] == pytest.approx(stats.mannwhitneyu([4, 5, 6], [1, 2, 3]).pvalue)
    assert "no values in group(s) c" in row["note"]


@pytest.mark.parametrize("samples", [{"a": [2, 2], "b": [2, 2, 2]}, {"a": [0, 0], "b": [0], "c": [0, 0]}])
@pytest.mark.parametrize("test", ["auto", "kruskal", "permutation"])
def test_identical_values_give_nan_p_and_a_note(samples, test):
    row = only_row(compare_groups(groups_table(samples), test=test))
    assert math.isnan(row["p_value"])
    assert math.isnan(row["p_adjusted"])
    assert row["note"] == "all values are identical; no test"


def test_single_group_gives_nan_p():
    row = only_row(compare_groups(groups_table({"ctl": [1, 2, 3]})))
    assert row["test"] == "none"
    assert math.isnan(row["p_value"])
    assert row["effect_size_name"] == ""
    assert "no test" in row["note"]


# --------------------------------------------------------------------------- permutation test
def test_permutation_test_is_exact_on_small_samples_and_matches_mannwhitney():
    # 5 vs 5 has C(10, 5) = 252 splits (< 9999 resamples): the test is exact, and for a perfect separation only
    # the observed split and its mirror are as extreme, as for the exact Mann-Whitney test: p = 2 / 252.
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.5, 8.0, 9.0, 11.0]
    table, meta = two_groups(a, b)
    row = only_row(compare_groups(table, meta, test="permutation"))
    assert row["test"] == "permutation"
    assert row["p_value"] == pytest.approx(2 / 252)
    assert row["p_value"] == pytest.approx(stats.mannwhitneyu(b, a).pvalue)
    assert row["statistic"] == pytest.approx(np.mean(b) - np.mean(a))
    assert row["effect_size"] == 1.0


def test_permutation_test_is_reproducible_and_close_to_mannwhitney():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 10), rng.normal(4, 1, 10)  # clearly separated; 184,756 splits > 999 resamples
    table, meta = two_groups(list(a), list(b))
    first = compare_groups(table, meta, test="permutation", n_permutations=999, random_state=7)
    again = compare_groups(table, meta, test="permutation", n_permutations=999, random_state=7)
    pd.testing.assert_frame_equal(first, again)
    p = first["p_value"].iloc[0]
    assert p == pytest.approx(stats.mannwhitneyu(b, a).pvalue, abs=0.005)
    assert 1 / 1000 <= p < 0.005


def test_permutation_test_of_three_groups_uses_kruskal_h():
    samples = {"a": [1.0, 2.0, 3.5], "b": [3.0, 4.0, 5.0], "c": [6.0, 7.0, 8.0, 8.0]}
    result = compare_groups(groups_table(samples), test="permutation", n_permutations=499, random_state=1)
    row = only_row(result)
    expected = stats.kruskal(*samples.values())
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["effect_size"] == pytest.approx(expected.statistic / 9)
    assert 0 < row["p_value"] < 0.05
    again = compare_groups(groups_table(samples), test="permutation", n_permutations=499, random_state=1)
    assert again["p_value"].iloc[0] == row["p_value"]


# --------------------------------------------------------------------------- keys, measures and output layout
def behavior_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four animals (one per session), two sources and two behaviors, with key columns that are not measures."""
    rows = []
    for i in range(4):
        for source in ("sleap", "dlc"):
            for behavior in ("rear", "groom"):
                rows.append(
                    {
                        "session": f"s{i}",
                        "source": source,
                        "behavior": behavior,
                        "bin": 0,
                        "bin_start_s": 0.0,
                        "frame": 10,
                        "time_budget_pct": 10.0 * i + (behavior == "rear"),
                        "bout_count": i + 1,
                    }
                )
    meta = pd.DataFrame({"session": [f"s{i}" for i in range(4)], "group": ["wt", "wt", "ko", "ko"], "day": 1})
    return pd.DataFrame(rows), meta


def test_rows_are_sorted_by_keys_then_measure_order():
    table, meta = behavior_table()
    result = compare_groups(table, meta, measures=["time_budget_pct", "bout_count"])
    assert list(result.columns[:4]) == ["source", "behavior", "measure", "test"]
    assert list(zip(result["source"], result["behavior"], result["measure"], strict=True)) == [
        (s, b, m) for s in ("dlc", "sleap") for b in ("groom", "rear") for m in ("time_budget_pct", "bout_count")
    ]


def test_output_columns():
    table, meta = behavior_table()
    result = compare_groups(table, meta)
    assert list(result.columns) == [
        "source",
        "behavior",
        "measure",
        "test",
        "groups",
        "n",
        "statistic",
        "p_value",
        "p_adjusted",
        "effect_size",
        "effect_size_name",
        "n[ko]",
        "median[ko]",
        "mean[ko]",
        "n[wt]",
        "median[wt]",
        "mean[wt]",
        "note",
    ]
    assert result["groups"].eq("ko vs wt").all()
    assert result["n"].dtype == np.int64


def test_measures_none_skips_keys_and_metadata_columns():
    table, meta = behavior_table()
    assert {"bin", "bin_start_s", "frame"} <= set(KEY_COLUMNS)
    result = compare_groups(table, meta)
    assert list(dict.fromkeys(result["measure"])) == ["time_budget_pct", "bout_count"]  # not 'day' from metadata


def test_by_columns_missing_from_the_table_are_ignored():
    table, meta = two_groups([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], measure="distance_mm")
    result = compare_groups(table, meta, by=("source", "behavior"))
    assert list(result.columns[:2]) == ["measure", "test"]
    assert result["measure"].tolist() == ["distance_mm"]


def test_by_can_be_a_single_column_name():
    table, meta = behavior_table()
    result = compare_groups(table[table["source"] == "dlc"], meta, by="behavior", measures="bout_count")
    assert result["behavior"].tolist() == ["groom", "rear"]


def test_several_rows_per_animal_and_key_are_an_error():
    table, meta = behavior_table()
    binned = pd.concat([table, table.assign(bin=1)], ignore_index=True)
    with pytest.raises(SchemaError, match=r"several rows.*'bin'"):
        compare_groups(binned, meta)
    assert len(compare_groups(binned, meta, by=("source", "behavior", "bin"))) == 2 * 2 * 2 * 2


@pytest.mark.parametrize(
    ("measures", "match"),
    [(["nope"], r"no measure column 'nope'.*bout_count"), (["source"], "not numeric"), ([], "empty")],
)
def test_bad_measures(measures, match):
    table, meta = behavior_table()
    with pytest.raises(SchemaError, match=match):
        compare_groups(table, meta, measures=measures)


def test_nullable_integer_measure():
    table, meta = two_groups([1, 2, None], [4, 5, 6])
    table["bout_count"] = table["bout_count"].astype("Int64")
    row = only_row(compare_groups(table, meta))
    assert (row["n[a]"], row["n[b]"]) == (2, 3)


def test_inputs_are_not_mutated():
    table, meta = behavior_table()
    table.index = table.index * 3 + 5  # a non-default index must not matter either
    table_before, meta_before = table.copy(), meta.copy()
    compare_groups(table, meta, test="permutation", n_permutations=99)
    group_figure(table, meta, measure="bout_count", source="dlc")
    pd.testing.assert_frame_equal(table, table_before)
    pd.testing.assert_frame_equal(meta, meta_before)


# --------------------------------------------------------------------------- joining the metadata
def two_animal_sessions() -> pd.DataFrame:
    """Three sessions of two animals each (m1, m2): values 1..6 for m1, 11..16 for m2."""
    return pd.DataFrame(
        {
            "session": ["s1", "s1", "s2", "s2", "s3", "s3"],
            "individual": ["m1", "m2"] * 3,
            "bout_count": [1, 11, 2, 12, 3, 13],
        }
    )


def test_join_per_session_and_individual():
    table = two_animal_sessions()
    meta = pd.DataFrame(
        {"session": ["s1", "s1", "s2", "s2", "s3", "s3"], "individual": ["m1", "m2"] * 3, "group": ["wt", "ko"] * 3}
    )
    row = only_row(compare_groups(table, meta))
    assert (row["n[ko]"], row["n[wt]"]) == (3, 3)
    assert row["mean[ko]"] == pytest.approx(12.0)
    assert row["effect_size"] == -1.0  # every 'wt' (m1) value is below every 'ko' (m2) value: wt is b


def test_join_per_session_when_metadata_has_no_individual():
    table = two_animal_sessions()
    meta = pd.DataFrame({"session": ["s1", "s2", "s3"], "group": ["ctl", "ctl", "drug"]})
    row = only_row(compare_groups(table, meta))
    assert (row["n[ctl]"], row["n[drug]"]) == (4, 2)
    assert row["mean[drug]"] == pytest.approx(8.0)


def test_join_per_session_when_table_has_no_individual():
    table = pd.DataFrame({"session": ["s1", "s2", "s3", "s4"], "bout_count": [1, 2, 3, 4]})
    meta = pd.DataFrame({"session": ["s1", "s2", "s3", "s4"], "individual": ["m"] * 4, "group": list("aabb")})
    assert only_row(compare_groups(table, meta))["groups"] == "a vs b"
    clash = pd.concat([meta, pd.DataFrame({"session": ["s1"], "individual": ["n"], "group": ["b"]})])
    with pytest.raises(SchemaError, match=r"several 'group' values for session 's1'.*no 'individual' column"):
        compare_groups(table, clash)


def test_join_matches_numeric_sessions_to_text():
    table = pd.DataFrame({"session": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0]})
    meta = pd.DataFrame({"session": ["1", "2", "3", "4"], "group": list("aabb")})
    assert only_row(compare_groups(table, meta))["n"] == 4


def test_rows_without_metadata_are_an_error_listing_the_keys():
    table = two_animal_sessions()
    meta = pd.DataFrame({"session": ["s1", "s1"], "individual": ["m1", "m2"], "group": ["wt", "ko"]})
    with pytest.raises(SchemaError, match=r"4 table row\(s\) have no metadata.*session 's2' / individual 'm1'"):
        compare_groups(table, meta)


def test_missing_metadata_lists_at_most_ten_keys():
    table = pd.DataFrame({"session": [f"s{i:02d}" for i in range(15)], "x": range(15)})
    meta = pd.DataFrame({"session": ["s00"], "group": ["a"]})
    with pytest.raises(SchemaError, match=r"session 's10' \(and 4 more\)") as err:
        compare_groups(table, meta)
    assert "s11" not in str(err.value)


def test_empty_group_value_is_an_error():
    table, meta = two_groups([1, 2], [3, 4])
    meta.loc[1, "group"] = None
    with pytest.raises(SchemaError, match=r"no 'group' value.*s1"):
        compare_groups(table, meta)


def test_group_column_must_exist():
    table, meta = two_groups([1, 2], [3, 4])
    with pytest.raises(SchemaError, match=r"no 'genotype' column.*'session', 'group'"):
        compare_groups(table, meta, group="genotype")
    with pytest.raises(SchemaError, match=r"table has no 'group' column.*metadata="):
        compare_groups(table)
    with pytest.raises(SchemaError, match="already has a 'group' column"):
        compare_groups(table.assign(group="x"), meta)


# --------------------------------------------------------------------------- read_metadata
def test_read_metadata_renames_subject_and_reads_keys_as_text(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("session,subject,group,condition,day\n001,7,wt,light,1\n002, 8 ,ko,dark,2\n\n003,7,ko,dark,3\n")
    meta = read_metadata(path)
    assert list(meta.columns) == ["session", "individual", "group", "condition", "day"]
    assert meta["session"].tolist() == ["001", "002", "003"]
    assert meta["individual"].tolist() == ["7", "8", "7"]
    assert meta["day"].tolist() == [1, 2, 3]
    assert pd.api.types.is_integer_dtype(meta["day"])
    assert list(meta.index) == [0, 1, 2]


def test_compare_groups_reads_a_metadata_path(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("session,group\ns0,a\ns1,a\ns2,b\ns3,b\n")
    table, _ = two_groups([1, 2], [3, 4])
    assert only_row(compare_groups(table, path))["groups"] == "a vs b"


def test_read_metadata_rejects_duplicates_with_line_numbers(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("session,subject,group\ns1,m1,wt\ns1,m2,ko\ns2,m1,wt\n\ns1,m1,ko\n")
    with pytest.raises(FileFormatError, match=r"meta\.csv.*'s1' / 'm1' \(lines 2, 6\)"):
        read_metadata(path)
    path.write_text("session,group\ns1,wt\ns2,wt\ns2,ko\n")
    with pytest.raises(FileFormatError, match=r"meta\.csv.*repeats.*'s2' \(lines 3, 4\)"):
        read_metadata(path)


def test_read_metadata_needs_a_session_column(tmp_path):
    path = tmp_path / "animals.csv"
    path.write_text("mouse,group\nm1,wt\n")
    with pytest.raises(FileFormatError, match=r"animals\.csv.*'session' column.*\['mouse', 'group'\]"):
        read_metadata(path)


def test_read_metadata_rejects_subject_and_individual(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("session,subject,individual\ns1,a,b\n")
    with pytest.raises(FileFormatError, match=r"meta\.csv.*both"):
        read_metadata(path)


def test_read_metadata_rejects_an_empty_session(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("session,group\ns1,wt\n,ko\n")
    with pytest.raises(FileFormatError, match=r"empty 'session' on line\(s\) 3"):
        read_metadata(path)


def test_read_metadata_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv"):
        read_metadata(tmp_path / "nothere.csv")


def test_read_metadata_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(FileFormatError, match=r"empty\.csv"):
        read_metadata(path)


# --------------------------------------------------------------------------- group_figure
def test_group_figure_one_box_per_group_and_facet_with_every_animal():
    table, meta = behavior_table()
    table.loc[(table["session"] == "s0") & (table["behavior"] == "groom"), "bout_count"] = np.nan
    fig = group_figure(table, meta, measure="bout_count", source="dlc")
    boxes = [t for t in fig.data if t.type == "box"]
    assert len(boxes) == len(fig.data) == 2 * 2  # groups x behaviors
    assert {(t.name, t.boxpoints) for t in boxes} == {("ko", "all"), ("wt", "all")}
    points = {(t.name, t.xaxis): len(t.y) for t in boxes}
    assert sorted(points.values()) == [1, 2, 2, 2]  # s0 (wt) has no groom value
    assert sum(points.values()) == 7
    assert "session" in boxes[0].hovertemplate
    assert fig.layout.title.text == "bout_count (dlc)"


def test_group_figure_without_facet_column_and_with_group_in_table():
    table = groups_table({"a": [1, 2, 3], "b": [4, 5]}, measure="distance_mm")
    fig = group_figure(table, measure="distance_mm", title="Distance")
    assert [(t.name, len(t.y)) for t in fig.data] == [("a", 3), ("b", 2)]
    assert fig.layout.title.text == "Distance"


def test_group_figure_several_sources_get_a_row_each():
    table, meta = behavior_table()
    fig = group_figure(table, meta, measure="time_budget_pct")
    assert len(fig.data) == 2 * 2 * 2  # groups x behaviors x sources
    assert sum(len(t.y) for t in fig.data) == len(table)


def test_group_figure_errors():
    table, meta = behavior_table()
    with pytest.raises(SchemaError, match=r"no measure column 'speed'.*bout_count"):
        group_figure(table, meta, measure="speed")
    with pytest.raises(SchemaError, match=r"no rows with source 'lp'.*dlc"):
        group_figure(table, meta, measure="bout_count", source="lp")


def test_groups_too_small_for_any_significant_result_say_so():
    from behaviorlab.results.groups import smallest_p_value

    assert smallest_p_value([1, 2]) == pytest.approx(2 / 3)  # 3 ways to share the ranks, 2 as extreme
    assert smallest_p_value([3, 3]) == pytest.approx(0.1)  # 2 / C(6, 3)
    assert smallest_p_value([4, 4]) == pytest.approx(2 / 70)
    row = only_row(compare_groups(*two_groups([1.0], [2.0, 3.0])))  # the most extreme outcome there is
    assert row["p_value"] >= 0.05
    assert "no outcome of a rank test can reach p < 0.05 (the smallest possible p is 0.67)" in row["note"]
    row = only_row(compare_groups(*two_groups([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0])))
    assert row["note"] == ""  # 4 and 4 animals can reach p = 0.029

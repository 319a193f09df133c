"""Statistics: group comparisons with their tests, downloads of the results, and SQL over the project's store."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import streamlit as st
from _shared import need_store, project, project_key, table, views

from behaviorlab.errors import BehaviorlabError
from behaviorlab.results.export_bundle import bundle_file_name, export_bundle, table_csv
from behaviorlab.results.groups import DEFAULT_MEASURES, KEY_COLUMNS, TESTS, compare_groups, group_figure
from behaviorlab.results.store import StoreError

STATS_TABLES = ("behavior_stats", "movement", "zones")
CLASSIFIER_SOURCE = "behavior_prediction"
MAX_SHOWN_ROWS = 10_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(name: str, source: str | None) -> pd.DataFrame:
    data = table(name)
    return data if source is None else data[data["source"] == source].reset_index(drop=True)


@st.cache_data(show_spinner="Comparing groups...", max_entries=16)
def _comparison(
    path: str, stamp: float, name: str, source: str | None, group: str, measures: tuple[str, ...], test: str
) -> pd.DataFrame:
    data = _rows(name, source)
    by = [c for c in ("source", "behavior", "zone") if c in data.columns]
    return compare_groups(data, table("metadata"), group=group, measures=list(measures), by=by, test=test)


@st.cache_data(show_spinner=False, max_entries=4)
def _quality(path: str, stamp: float) -> pd.DataFrame:
    return project().classifier_quality()


@st.cache_data(show_spinner=False, max_entries=16)
def _figure(path: str, stamp: float, name: str, source: str | None, group: str, measure: str) -> Any:
    data = _rows(name, source)
    facet = "behavior" if "behavior" in data.columns else ("zone" if "zone" in data.columns else None)
    return group_figure(data, table("metadata"), measure=measure, group=group, facet=facet)


@st.cache_data(show_spinner="Running the query...", max_entries=8)
def _query(path: str, stamp: float, sql: str) -> pd.DataFrame:
    return project().store.query(sql)


@st.cache_resource(show_spinner=False)
def _downloads() -> tuple[threading.Lock, dict[tuple[str, str], tuple[float, bytes]]]:
    """Built download files by (store, format), each with the store stamp it was built at (the latest only)."""
    return threading.Lock(), {}


def _download_bytes(cache: tuple[threading.Lock, dict], store: Any, stamp: float, what: str) -> bytes:
    """Build (or reuse) one download; runs when its button is clicked, in a thread of its own (no Streamlit calls)."""
    lock, built = cache
    key = (str(store.path), what)
    with lock:
        if key in built and built[key][0] == stamp:
            return built[key][1]
        if what.startswith("table:"):
            data = table_csv(store, what.removeprefix("table:"))
        else:
            data = export_bundle(store, [what])[what]
        built[key] = (stamp, data)
        return data


def default_sql(metadata: pd.DataFrame | None) -> str:
    """The SQL box's first query: the mean time budget per behavior (and per group when the metadata has one)."""
    columns = [] if metadata is None else [c for c in metadata.columns if c not in ("session", "individual")]
    group = "group" if "group" in columns else (columns[0] if columns else None)
    keys = ("" if group is None else f'"{group}", ') + "source, behavior"
    return (
        f"SELECT {keys}, count(*) AS animals,\n"
        "       round(avg(time_budget_pct), 2) AS mean_time_budget_pct,\n"
        "       round(avg(mean_bout_s), 2) AS mean_bout_s\n"
        "FROM time_budget\nGROUP BY ALL\nORDER BY ALL"
    )


st.title("Statistics")
proj = need_store()
path, stamp = project_key()
store_views = views()
metadata = table("metadata") if "metadata" in store_views else None
compare_tab, sql_tab, download_tab = st.tabs(["Group comparison", "SQL", "Downloads"])

with compare_tab:
    group_columns = [] if metadata is None else [c for c in metadata.columns if c not in ("session", "individual")]
    if not group_columns:
        st.info(
            "The store has no session metadata, so there are no groups to compare. Write a CSV with a `session` "
            "column (and `subject` when a session has several animals) and a column per grouping, such as "
            "`group`, `condition` or `day`, then add it with\n\n"
            f"`behaviorlab store metadata {proj.store.path} metadata.csv`"
        )
    else:
        c1, c2, c3, c4 = st.columns(4)
        name = c1.selectbox("Table", STATS_TABLES, key="stats_table")
        data = table(name)
        sources = sorted(data["source"].dropna().unique()) if "source" in data.columns else []
        # the annotations first when there are any: a classifier's labels are only as good as its held-out score
        first = next((i for i, s in enumerate(sources) if s == "labels"), 0)
        source = c2.selectbox("Label source", sources, index=first, key="stats_source") if sources else None
        quality = _quality(path, stamp) if source == CLASSIFIER_SOURCE else None
        if quality is not None and not quality.empty:
            weak = quality[quality["below_floor"]]
            scores = ", ".join(f"{r.behavior} {r.f1:.2f}" for r in quality.itertuples())
            if len(weak):
                st.warning(
                    f"Held-out F1 of the classifiers: {scores}. Below the quality floor "
                    f"({project().quality_floor:g}): {', '.join(weak['behavior'])}; their statistics show what the "
                    "classifier labels, not what the animals did. Compare the annotations (source `labels`) or "
                    "improve these classifiers first."
                )
            else:
                st.caption(f"Held-out F1 of the classifiers: {scores}.")
        group = c3.selectbox(
            "Group column",
            group_columns,
            index=group_columns.index("group") if "group" in group_columns else 0,
            key="stats_group",
        )
        test = c4.selectbox("Test", TESTS, key="stats_test", help="auto: Mann-Whitney U for two groups, else Kruskal")
        numeric = [c for c in data.columns if c not in KEY_COLUMNS and pd.api.types.is_numeric_dtype(data[c])]
        defaults = [m for m in DEFAULT_MEASURES.get(name, []) if m in numeric] or numeric[:3]
        measures = st.multiselect("Measures", numeric, default=defaults, key=f"stats_measures_{name}")
        if data.empty:
            st.info(f"The `{name}` table has no rows yet (`behaviorlab store add` writes it with each session).")
        elif not measures:
            st.info("Choose at least one measure.")
        else:
            try:
                result = _comparison(path, stamp, name, source, group, tuple(measures), test)
            except (BehaviorlabError, ValueError) as exc:
                st.error(f"Cannot compare the groups of `{group}`: {exc}")
            else:
                if quality is not None and not quality.empty and "behavior" in result.columns:
                    f1 = dict(zip(quality["behavior"], quality["f1"], strict=True))
                    weak = set(quality.loc[quality["below_floor"], "behavior"])
                    result = result.assign(
                        classifier_f1=result["behavior"].map(f1).round(3),
                        below_quality_floor=result["behavior"].isin(weak),
                    )
                tested = result["p_value"].notna()
                st.caption(
                    f"{len(result)} comparisons ({int(tested.sum())} tested), one value per animal; p-values "
                    f"adjusted with Benjamini-Hochberg, {int((result['p_adjusted'] < 0.05).sum())} below 0.05."
                )
                st.dataframe(result, hide_index=True, width="stretch", key="stats_comparison")
                measure = st.selectbox("Figure of", measures, key=f"stats_figure_{name}")
                try:
                    st.plotly_chart(_figure(path, stamp, name, source, group, measure), key="stats_group_figure")
                except (BehaviorlabError, ValueError) as exc:
                    st.error(f"Cannot draw {measure} by `{group}`: {exc}")

with sql_tab:
    st.caption("Tables and views: " + ", ".join(f"`{v}`" for v in store_views) + " (DuckDB SQL).")
    sql = st.text_area("SQL", value=default_sql(metadata), height=160, key="stats_sql")
    if sql.strip():
        try:
            answer = _query(path, stamp, sql)
        except (StoreError, ValueError) as exc:
            st.error(str(exc))
        else:
            shown = answer.head(MAX_SHOWN_ROWS)
            more = f" (the first {MAX_SHOWN_ROWS} shown)" if len(answer) > len(shown) else ""
            st.caption(f"{len(answer)} rows{more}")
            st.dataframe(shown, hide_index=True, width="stretch", key="stats_sql_result")
            st.download_button(
                "Download the result (CSV)",
                data=lambda: answer.to_csv(index=False).encode("utf-8"),
                file_name="query.csv",
                mime="text/csv",
                on_click="ignore",
                key="stats_sql_download",
            )

with download_tab:
    st.caption(
        "Files are built when you click (NWB takes a few seconds per ten sessions) and kept until the store changes."
    )
    names = [v for v in store_views if not v.startswith("_")]
    chosen = st.selectbox(
        "Table for CSV",
        names,
        index=names.index("behavior_stats") if "behavior_stats" in names else 0,
        key="stats_csv_table",
    )
    store, cache = proj.store, _downloads()
    buttons = [
        (f"CSV: {chosen}", f"table:{chosen}", f"{chosen}.csv", "text/csv"),
        ("Excel: all tables but frame_labels", "excel", bundle_file_name(store, "excel"), XLSX),
        ("Parquet: every table (zip)", "parquet", bundle_file_name(store, "parquet"), "application/zip"),
        ("NWB: poses and bouts, a file per session (zip)", "nwb", bundle_file_name(store, "nwb"), "application/zip"),
    ]
    for column, (label, what, file_name, mime) in zip(st.columns(len(buttons)), buttons, strict=True):
        column.download_button(
            label,
            data=lambda what=what: _download_bytes(cache, store, stamp, what),
            file_name=file_name,
            mime=mime,
            on_click="ignore",
            key=f"stats_download_{what.split(':')[0]}",
        )

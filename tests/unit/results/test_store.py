"""The results store: atomic per-session writes, DuckDB views, metadata joins."""

from __future__ import annotations

import json
import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import behaviorlab.results.store as store_module
from behaviorlab.errors import FileFormatError
from behaviorlab.results.store import MANIFEST, TABLES, ResultsStore, StoreError


def _session(seed: int, n: int = 120, n_states: int = 4, individuals=("m1", "m2")) -> xr.Dataset:
    """Poses of a point walking in a line plus random HMM states, at 10 fps."""
    rng = np.random.default_rng(seed)
    k = len(individuals)
    x = np.cumsum(np.full((n, k), 1.0 + seed), axis=0)
    pos = np.stack([x, np.zeros((n, k))], axis=1)[:, :, None, :]
    states = np.repeat(rng.integers(-1, n_states, size=(n // 10, k)), 10, axis=0)
    return xr.Dataset(
        {
            "position": (("time", "space", "keypoint", "individual"), pos),
            "state": (("time", "individual"), states, {"n_states": n_states}),
        },
        coords={
            "time": np.arange(n) / 10.0,
            "space": ["x", "y"],
            "keypoint": ["body"],
            "individual": list(individuals),
        },
        attrs={"fps": 10.0},
    )


@pytest.fixture
def store(tmp_path):
    store = ResultsStore.create(tmp_path / "project", bin_s=6.0)
    store.add_session("a", _session(0))
    store.add_session("b", _session(1))
    return store


def _snapshot(store: ResultsStore) -> dict[str, pd.DataFrame]:
    return {name: store.table(name).sort_values(list(store.table(name).columns[:4])) for name in ("bouts", "movement")}


def test_queries_see_every_session(store):
    assert store.sessions == ["a", "b"]
    budget = store.query("SELECT session, individual, sum(time_budget_pct) AS total FROM time_budget GROUP BY ALL")
    assert len(budget) == 4
    np.testing.assert_allclose(budget["total"], 100.0)  # exclusive states share the known time
    # the table read back equals the one computed in memory
    from behaviorlab.results.stats import bout_table

    expected = bout_table(_session(1), session="b").sort_values(["individual", "behavior", "start_frame"])
    got = store.table("bouts", sessions=["b"]).sort_values(["individual", "behavior", "start_frame"])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)
    distance = store.query("SELECT session, distance FROM distance_travelled ORDER BY session, individual")
    assert distance["distance"].tolist() == pytest.approx([119.0, 119.0, 238.0, 238.0])
    sessions = store.query("SELECT * FROM sessions ORDER BY session")
    assert sessions["n_frames"].tolist() == [120, 120]
    assert sessions["duration_s"].tolist() == [12.0, 12.0]
    assert sessions["sources"].tolist() == ["state", "state"]
    assert set(store.query("SELECT DISTINCT bin FROM behavior_stats_by_bin")["bin"]) == {0, 1}


def test_ordered_tables_do_not_depend_on_the_order_sessions_were_stored(store, tmp_path):
    other = ResultsStore.create(tmp_path / "other", bin_s=6.0)
    other.add_session("b", _session(1))
    other.add_session("a", _session(0))
    for name in ("bouts", "behavior_stats_by_bin", "movement_by_bin"):
        table = store.table(name, ordered=True)
        pd.testing.assert_frame_equal(other.table(name, ordered=True), table)
        # sorted by every column, first to last, with a fresh index
        expected = table.sort_values(list(table.columns), kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(table, expected)
    unordered = store.table("behavior_stats_by_bin")  # rows as the files are read
    assert not unordered.equals(store.table("behavior_stats_by_bin", ordered=True))


def test_empty_tables_have_their_columns(tmp_path):
    store = ResultsStore.create(tmp_path / "empty")
    for name, columns in TABLES.items():
        assert list(store.table(name).columns) == list(columns)
    assert store.query("SELECT count(*) AS n FROM time_budget")["n"].item() == 0


def test_rerun_replaces_only_that_session(store):
    before = store.table("bouts")
    old_folder = store.path / store.session_info("b")["folder"]
    store.add_session("b", _session(7))
    after = store.table("bouts")
    a_before = before[before["session"] == "a"].reset_index(drop=True)
    a_after = after[after["session"] == "a"].sort_values(list(after.columns[:6])).reset_index(drop=True)
    pd.testing.assert_frame_equal(a_after, a_before.sort_values(list(before.columns[:6])).reset_index(drop=True))
    b_new = after[after["session"] == "b"]
    assert len(b_new) == len(store.table("bouts", sessions=["b"]))
    assert not old_folder.exists()  # the replaced version is deleted
    assert store.query("SELECT count(DISTINCT session) AS n FROM bouts")["n"].item() == 2


@pytest.mark.parametrize("fail_at", ["parquet", "dataset", "manifest"])
def test_interrupted_write_leaves_the_previous_store_unchanged(store, monkeypatch, fail_at):
    manifest_before = (store.path / MANIFEST).read_bytes()
    tables_before = _snapshot(store)
    files_before = sorted(p for p in store.path.rglob("*") if p.is_file())

    class Injected(RuntimeError):
        pass

    if fail_at == "parquet":  # the third table of the new version fails half-way
        real = store_module._write_parquet
        calls = []

        def failing(name, table, path):
            calls.append(name)
            if len(calls) % 3 == 0:
                path.write_bytes(b"PAR1 half a file")
                raise Injected("disk full")
            real(name, table, path)

        monkeypatch.setattr(store_module, "_write_parquet", failing)
    elif fail_at == "dataset":

        def failing_netcdf(ds, path):
            raise Injected("killed while writing the Dataset")

        monkeypatch.setattr(store_module, "save_netcdf", failing_netcdf)  # the store's writer of Datasets
    else:  # killed inside the catalog's transaction, after the row was written and before the commit
        real_execute = sqlite3.Connection.execute

        class KilledConnection(sqlite3.Connection):
            def execute(self, sql, *args):
                if sql == "COMMIT":
                    raise Injected("killed before the catalog transaction committed")
                return real_execute(self, sql, *args)

        real_connect = sqlite3.connect
        monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=KilledConnection, **k))
    with pytest.raises(Injected):
        store.add_session("b", _session(9))
    with pytest.raises(Injected):
        store.add_session("c", _session(10))
    monkeypatch.undo()
    assert (store.path / MANIFEST).read_bytes() == manifest_before
    reopened = ResultsStore(store.path)
    assert reopened.sessions == ["a", "b"]
    for name, table in _snapshot(reopened).items():
        pd.testing.assert_frame_equal(table, tables_before[name])
    assert sorted(p for p in store.path.rglob("*") if p.is_file()) == files_before  # no debris left


def test_leftovers_of_a_killed_process_are_ignored_and_vacuumed(store):
    debris = store.path / "sessions" / "b" / "20990101T000000000000-deadbeef.partial"
    debris.mkdir()
    (debris / "bouts.parquet").write_bytes(b"half")
    assert len(store.query("SELECT * FROM bouts WHERE session = 'b'")) > 0  # the debris is not read
    removed = store.vacuum()
    assert removed == [debris]
    assert not debris.exists()


def test_concurrent_writers_keep_every_session(tmp_path):
    store = ResultsStore.create(tmp_path / "p", bin_s=None)
    errors = []

    def write(i):
        try:
            ResultsStore(store.path).add_session(f"s{i}", _session(i, n=40), save_dataset=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.sessions == [f"s{i}" for i in range(8)]
    assert store.query("SELECT count(DISTINCT session) AS n FROM bouts")["n"].item() == 8


def test_metadata_joins_the_question_views(store, tmp_path):
    csv = tmp_path / "meta.csv"
    csv.write_text("session,subject,group\na,m1,control\na,m2,treated\nb,m1,control\nb,m2,treated\n")
    store.set_metadata(csv)
    table = store.query('SELECT "group", avg(distance) AS d FROM distance_travelled GROUP BY "group" ORDER BY "group"')
    assert table["group"].tolist() == ["control", "treated"]
    assert table["d"].tolist() == pytest.approx([(119 + 238) / 2] * 2)
    budget = store.query('SELECT DISTINCT session, individual, "group" FROM time_budget ORDER BY 1, 2')
    assert budget["group"].tolist() == ["control", "treated", "control", "treated"]
    # per-session metadata (no individual column) joins on the session alone
    store.set_metadata(pd.DataFrame({"session": ["a", "b"], "day": [1, 2]}))
    days = store.query("SELECT DISTINCT session, day FROM bout_durations ORDER BY session")
    assert days["day"].tolist() == [1, 2]
    assert len(list((store.path / "metadata").iterdir())) == 1  # the replaced table is deleted
    # the same table again writes nothing: the version, and what is keyed on it (exports), stays
    version = store.metadata_version
    store.set_metadata(pd.DataFrame({"session": ["a", "b"], "day": [1, 2]}))
    assert store.metadata_version == version
    store.set_metadata(pd.DataFrame({"session": ["a", "b"], "day": [1, 3]}))
    assert store.metadata_version != version


def test_dataset_round_trip_and_extra_tables(store):
    ds = store.dataset("a")
    np.testing.assert_array_equal(ds["state"].values, _session(0)["state"].values)
    store.add_session("extra", tables={"events": pd.DataFrame({"t": [1.5, 2.5], "what": ["tone", "shock"]})})
    events = store.query("SELECT * FROM events")
    assert events["session"].tolist() == ["extra", "extra"]
    assert events["what"].tolist() == ["tone", "shock"]
    with pytest.raises(StoreError, match="without its Dataset"):
        store.dataset("extra")


def test_errors_name_the_store_and_the_problem(tmp_path, store):
    with pytest.raises(StoreError, match="neither a behaviorlab results store"):
        ResultsStore(tmp_path)
    with pytest.raises(StoreError, match="exists already"):
        ResultsStore.create(store.path)
    assert ResultsStore.create(store.path, exist_ok=True).sessions == ["a", "b"]
    with pytest.raises(StoreError, match="no session 'zzz'"):
        store.session_info("zzz")
    with pytest.raises(StoreError, match="query failed"):
        store.query("SELECT nonsense FROM bouts")
    with pytest.raises(Exception, match="lacks the columns"):
        store.add_session("bad", tables={"bouts": pd.DataFrame({"behavior": ["x"]})})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    with pytest.raises(FileFormatError, match="manifest"):
        ResultsStore(broken)
    newer = json.loads((store.path / MANIFEST).read_text())
    newer["version"] = 99
    (broken / MANIFEST).write_text(json.dumps(newer))
    with pytest.raises(FileFormatError, match="newer"):
        ResultsStore(broken)


def test_session_names_with_odd_characters(tmp_path):
    store = ResultsStore.create(tmp_path / "p")
    store.add_session("cohort 1/mouse's day", _session(3, n=30), save_dataset=False)
    assert store.sessions == ["cohort 1/mouse's day"]
    assert set(store.table("bouts")["session"]) == {"cohort 1/mouse's day"}
    assert all(p.parent.parent == store.path / "sessions" for p in (store.path / "sessions").glob("*/*"))


def test_a_known_table_with_extra_columns_in_one_session(store):
    from behaviorlab.results.stats import bout_table

    bouts = bout_table(_session(5), session="c").assign(rater="alice")
    store.add_session("c", tables={"bouts": bouts})
    table = store.query("SELECT session, count(*) AS n, count(rater) AS rated FROM bouts GROUP BY session ORDER BY 1")
    assert table["rated"].tolist() == [0, 0, len(bouts)]
    assert table["n"].iloc[2] == len(bouts)


def test_file_links_are_kept_as_absolute_paths(tmp_path):
    store = ResultsStore.create(tmp_path / "p")
    video = tmp_path / "a.mp4"
    video.write_bytes(b"")
    store.add_session("a", _session(0, n=30), files={"video": video}, save_dataset=False)
    assert store.session_info("a")["files"] == {"video": str(video.resolve())}
    assert set(store.session_info("a")["tables"]) >= {"bouts", "movement"}


def test_session_infos_equal_each_session_info(store):
    infos = store.session_infos()
    assert sorted(infos) == store.sessions
    assert all(infos[name] == store.session_info(name) for name in infos)


def test_classifier_counts_are_stored_and_pool_across_sessions(tmp_path):
    from behaviorlab.results.scoring import COUNT_TABLES, add_counts, counts_from_tables, dataset_counts, scores_table

    def scored(seed: int) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        ds = _session(seed)
        shape = (ds.sizes["time"], ds.sizes["individual"], 3)
        truth = np.eye(3, dtype=bool)[rng.integers(0, 3, size=shape[:2])]
        prob = np.round(np.clip(truth * 0.4 + rng.random(shape) * 0.6, 0, 1), 3)
        dims = ("time", "individual", "behavior")
        return ds.assign(
            labels=(dims, truth),
            behavior_prediction=(dims, prob >= 0.5),
            behavior_probability=(dims, prob),
        ).assign_coords(behavior=["rest", "walk", "rear"])

    store = ResultsStore.create(tmp_path / "project")
    sessions = {"a": scored(0), "b": scored(1)}
    for name, ds in sessions.items():
        store.add_session(name, ds)
    store.add_session("c", _session(2))  # no classifier: no rows
    tables = {name: store.table(name) for name in COUNT_TABLES if name != "classifier_raters"}
    assert set(tables["classifier_frames"]["session"]) == {"a", "b"}
    pooled = counts_from_tables(tables)
    expected = add_counts(dataset_counts(ds) for ds in sessions.values())
    pd.testing.assert_frame_equal(scores_table(pooled), scores_table(expected))
    np.testing.assert_array_equal(pooled["positives"].values, expected["positives"].values)
    assert store.table("classifier_raters").empty  # one rater: no rows, but the table has its columns
    # summed in DuckDB: the same pooled counts, and the frames of the chosen sessions only
    summed = store.classifier_counts()
    assert "session" not in summed["classifier_pr"]
    np.testing.assert_array_equal(counts_from_tables(summed)["positives"].values, expected["positives"].values)
    pd.testing.assert_frame_equal(scores_table(counts_from_tables(summed)), scores_table(expected))
    only_b = store.classifier_counts(["b"])
    assert set(only_b["classifier_frames"]["session"]) == {"b"}
    assert only_b["classifier_frames"]["with_probability"].all()
    pd.testing.assert_frame_equal(scores_table(counts_from_tables(only_b)), scores_table(dataset_counts(sessions["b"])))


def test_metadata_subjects_match_one_animal_sessions_or_are_refused(tmp_path):
    from behaviorlab.errors import SchemaError

    store = ResultsStore.create(tmp_path / "project" / "results")
    store.add_session("solo", _session(0, individuals=("individual_0",)))  # a DeepLabCut file's name for the mouse
    store.add_session("pair", _session(1))
    csv = tmp_path / "meta.csv"
    csv.write_text("session,subject,group\nsolo,mouse12,treated\npair,m1,control\npair,m2,treated\n")
    table = store.set_metadata(csv)
    solo = table[table["session"] == "solo"].iloc[0]
    assert (solo["individual"], solo["subject"]) == ("individual_0", "mouse12")  # the lab's name is kept
    groups = store.query('SELECT DISTINCT session, individual, "group" FROM time_budget ORDER BY 1, 2')
    assert groups.values.tolist() == [
        ["pair", "m1", "control"],
        ["pair", "m2", "treated"],
        ["solo", "individual_0", "treated"],
    ]
    # a two-animal session whose subjects are not its animals: refused, both sides named
    csv.write_text("session,subject,group\nsolo,mouse12,treated\npair,left,control\npair,right,treated\n")
    with pytest.raises(SchemaError, match=r"pair: \['left', 'right'\] \(its animals: \['m1', 'm2'\]\)"):
        store.set_metadata(csv)
    # a project folder opens as its store
    assert ResultsStore(tmp_path / "project").path == tmp_path / "project" / "results"


def test_a_store_with_the_old_json_manifest_is_migrated_to_the_catalog_with_nothing_lost(store, monkeypatch):
    from behaviorlab.results.catalog import CATALOG

    store.set_metadata(pd.DataFrame({"session": ["a", "b"], "group": ["control", "treated"]}))
    before = store.query("SELECT * FROM time_budget ORDER BY ALL")
    infos, meta = store.session_infos(), store.metadata_version
    # rewrite it as behaviorlab wrote stores before the catalog: sessions and metadata in the JSON manifest
    manifest = json.loads((store.path / MANIFEST).read_text())
    manifest.update(version=1, sessions=infos, metadata=meta)
    (store.path / MANIFEST).write_text(json.dumps(manifest))
    (store.path / CATALOG).unlink()

    reopened = ResultsStore(store.path)
    assert reopened.sessions == ["a", "b"]
    assert reopened.session_infos() == infos
    assert reopened.metadata_version == meta
    pd.testing.assert_frame_equal(reopened.query("SELECT * FROM time_budget ORDER BY ALL"), before)
    slim = json.loads((store.path / MANIFEST).read_text())
    assert slim["version"] == 2
    assert "sessions" not in slim
    assert json.loads((store.path / "behaviorlab_store.v1.json").read_text())["sessions"] == infos  # kept
    reopened.add_session("c", _session(2))  # and it goes on working
    assert ResultsStore(store.path).sessions == ["a", "b", "c"]
    # opening and querying write nothing (a store on a read-only share opens)
    catalog = (store.path / CATALOG).stat().st_mtime_ns, (store.path / CATALOG).read_bytes()
    from behaviorlab.results.catalog import Catalog

    def no_writes(self):
        raise AssertionError("opening the store began a write transaction")

    monkeypatch.setattr(Catalog, "_transaction", no_writes)  # opening must not even start a write
    ResultsStore(store.path).query("SELECT count(*) FROM bouts")
    assert ((store.path / CATALOG).stat().st_mtime_ns, (store.path / CATALOG).read_bytes()) == catalog

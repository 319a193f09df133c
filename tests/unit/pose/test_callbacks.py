"""Schedules, the time budget and the memory report of a pose training (tiny blob images)."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from behaviorlab._config import duration_seconds  # noqa: E402
from behaviorlab.pose.augment import AugmentConfig  # noqa: E402
from behaviorlab.pose.callbacks import cosine_factor  # noqa: E402
from behaviorlab.pose.folder import LOG_COLUMNS, append_training_log  # noqa: E402
from behaviorlab.pose.predict import PoseModel  # noqa: E402
from behaviorlab.pose.train import TrainConfig, train_model  # noqa: E402
from tests.unit.pose.test_train import blob_frames  # noqa: E402


def test_cosine_factor_warms_up_then_decays_to_one_percent():
    values = [cosine_factor(e, 2, 6) for e in range(8)]
    np.testing.assert_allclose(values[:3], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(values[4], 0.01 + 0.99 * 0.5, rtol=1e-12)  # half-way through the decay
    np.testing.assert_allclose(values[6:], [0.01, 0.01])  # the planned end, and past it
    assert all(a >= b for a, b in itertools.pairwise(values[1:]))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90.0), ("30m", 1800.0), ("1.5h", 5400.0), ("1h30m", 5400.0), (45, 45.0)]
)
def test_durations_are_read_with_units(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["30", "thirty minutes", "-5m", "0s", "5m fast"])
def test_unreadable_durations_say_how_to_write_them(text):
    with pytest.raises(ValueError, match=r"duration"):
        duration_seconds(text)


def test_an_older_training_log_gains_the_memory_column(tmp_path):
    path = tmp_path / "training_log.csv"
    path.write_text("epoch,loss,val_loss,val_px_error,lr,seconds\n1,0.5,0.4,3.0,0.001,2.0\n")
    append_training_log(path, [2, 0.3, 0.2, 2.0, 0.001, 2.1, 512.0])
    log = pd.read_csv(path)
    assert tuple(log.columns) == LOG_COLUMNS
    assert log["epoch"].tolist() == [1, 2]
    assert np.isnan(log["peak_rss_mib"][0])
    assert log["peak_rss_mib"][1] == 512.0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning:keras")
def test_time_budget_stops_within_ten_percent_with_a_usable_model(tmp_path):
    budget = 30.0  # well above the first epoch (which also traces the model), so that one epoch is a small step
    config = TrainConfig(
        model_kwargs={"growth_rate": 8, "n_stacks": 1},
        epochs=100_000,
        batch_size=4,
        output_stride=2,
        sigma=3.0,
        graph=False,
        val_fraction=0.25,
        lr_schedule="cosine",
        learning_rate=5e-3,
        time_budget=f"{budget:g}s",
        augment=AugmentConfig.none(),
    )
    frames = blob_frames(16)
    started = time.perf_counter()
    result = train_model(frames, tmp_path / "model", config, verbose=0)
    wall = time.perf_counter() - started
    assert 0.9 * budget <= wall <= 1.1 * budget, (wall, result.epochs)
    assert result.stopped_at_budget
    assert not result.stopped_early
    assert 2 < result.epochs < config.epochs
    state = json.loads((tmp_path / "model" / "state.json").read_text())
    assert state["stopped_at_budget"] is True
    assert 2 <= state["planned_epochs"] < config.epochs
    log = pd.read_csv(tmp_path / "model" / "training_log.csv")
    # the cosine schedule: warm-up to the full rate, then falling
    assert log["lr"][0] == pytest.approx(2.5e-3)
    assert log["lr"][1] == pytest.approx(5e-3)
    assert log["lr"].iloc[-1] < 5e-3
    assert (log["peak_rss_mib"] > 100).all()
    assert result.peak_rss_mib >= log["peak_rss_mib"].max() - 0.05  # the log keeps 0.1 MiB
    # the best checkpoint is a model that predicts
    model = PoseModel.load(tmp_path / "model")
    pred = model.predict(np.stack([frames.images[1]]))
    assert pred.shape == (1, 2, 3)
    assert result.best_val_px_error < 10.0

"""What to label next (A-SOiD's active learning): the frames a classifier is least sure of, spread in time.

:func:`uncertainty_table` scores every frame of every behavior by how close
its probability lies to the behavior's threshold; :func:`spread_picks` takes
the most uncertain frames, at most one per stretch of ``min_separation_s``
of an animal, so that a few labels cover many bouts;
:func:`suggested_bouts` widens each pick to the run of uncertain frames
around it, the bout a person labels at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from behaviorlab.behavior.classify_features import LABEL_DIMS

__all__ = ["SUGGESTION_COLUMNS", "spread_picks", "suggested_bouts", "uncertainty_table"]

#: Columns of :func:`uncertainty_table` and :func:`spread_picks`.
SUGGESTION_COLUMNS = ["session", "individual", "time", "frame", "behavior", "probability", "threshold", "uncertainty"]


def uncertainty_table(
    probabilities: Mapping[str, xr.DataArray], thresholds: Mapping[str, float], behaviors: Sequence[str]
) -> pd.DataFrame:
    """Every frame's uncertainty per behavior: ``1 - |p - t| / t`` below the threshold ``t``, ``/ (1 - t)`` above.

    1 at the threshold, 0 at a sure 0 or 1; frames without a probability are left out.
    """
    t = np.array([thresholds[b] for b in behaviors])
    tables = []
    for name, proba in probabilities.items():
        da = proba.transpose(*LABEL_DIMS)
        p = np.asarray(da.values)
        unc = 1 - np.abs(p - t) / np.where(p < t, t, 1 - t)
        ti, ii, bi = np.nonzero(np.isfinite(unc))
        tables.append(
            pd.DataFrame(
                {
                    "session": name,
                    "individual": da["individual"].values[ii].astype(str),
                    "time": np.asarray(da["time"].values, float)[ti],
                    "frame": ti,
                    "behavior": np.asarray(behaviors, dtype=object)[bi],
                    "probability": p[ti, ii, bi],
                    "threshold": t[bi],
                    "uncertainty": unc[ti, ii, bi],
                }
            )
        )
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SUGGESTION_COLUMNS)


def spread_picks(table: pd.DataFrame, n: int, min_separation_s: float) -> pd.DataFrame:
    """Pick the ``n`` most uncertain rows, two of one session and individual at least ``min_separation_s`` apart."""
    if table.empty:
        return table
    order = np.argsort(-table["uncertainty"].to_numpy(), kind="stable")
    picked: list[int] = []
    taken: dict[tuple[str, str], list[float]] = {}
    sessions, individuals = table["session"].to_numpy(), table["individual"].to_numpy()
    times = table["time"].to_numpy()
    for i in order:
        if len(picked) >= n:
            break
        near = taken.setdefault((sessions[i], individuals[i]), [])
        j = bisect.bisect_left(near, times[i])
        if (j < len(near) and near[j] - times[i] < min_separation_s) or (
            j > 0 and times[i] - near[j - 1] < min_separation_s
        ):
            continue
        near.insert(j, times[i])
        picked.append(i)
    return table.iloc[picked].reset_index(drop=True)


def suggested_bouts(picks: pd.DataFrame, table: pd.DataFrame, min_uncertainty: float = 0.5) -> pd.DataFrame:
    """Widen each pick to the run of frames around it (same session, animal, behavior) at least this uncertain.

    Returns the picks with ``start_frame`` and ``end_frame`` (inclusive) added:
    the stretch a person labels at once when the pick is suggested.
    """
    out = picks.copy()
    starts, ends = [], []
    for row in picks.itertuples(index=False):
        rows = table[
            (table["session"] == row.session)
            & (table["individual"] == row.individual)
            & (table["behavior"] == row.behavior)
        ]
        frames = rows["frame"].to_numpy()
        sure = np.ones(int(frames.max()) + 2 if len(frames) else 1, dtype=bool)  # frames without a probability stop
        sure[frames] = rows["uncertainty"].to_numpy() < min_uncertainty
        lo = hi = int(row.frame)
        while lo > 0 and not sure[lo - 1]:
            lo -= 1
        while not sure[hi + 1]:
            hi += 1
        starts.append(lo)
        ends.append(hi)
    return out.assign(start_frame=np.asarray(starts, dtype=np.int64), end_frame=np.asarray(ends, dtype=np.int64))

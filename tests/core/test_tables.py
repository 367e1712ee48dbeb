"""Canonical tables: users get named errors for bad input and clean, typed tables otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.core.tables import AE_HITS, CATALOG, PICKS


def _hits(**overrides: list) -> pd.DataFrame:
    data = {"time_s": [0.1, 0.5, 2.0], "channel": [1, 2, 1], "amplitude_db": [40.0, 55.0, 60.0]}
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_hits_gain_optional_columns_as_nan() -> None:
    table = AE_HITS.validate(_hits())
    assert list(table.columns[: len(AE_HITS.names)]) == AE_HITS.names
    assert table["channel"].dtype == np.int64
    assert table["energy_eu"].isna().all()


def test_missing_column_names_the_column_and_close_match() -> None:
    frame = _hits().rename(columns={"amplitude_db": "amplitude_dB"})
    with pytest.raises(InputError, match=r"amplitude_db.*found 'amplitude_dB'") as info:
        AE_HITS.validate(frame, source="hits.csv")
    assert info.value.source == "hits.csv"
    assert info.value.field == "amplitude_db"


def test_negative_amplitude_names_row_and_field() -> None:
    frame = _hits(amplitude_v=[0.1, -0.2, 0.3])
    with pytest.raises(InputError) as info:
        AE_HITS.validate(frame, source="hits.csv")
    assert (info.value.row, info.value.field) == (1, "amplitude_v")


def test_nan_in_required_column_is_rejected() -> None:
    with pytest.raises(InputError, match="row 2"):
        AE_HITS.validate(_hits(amplitude_db=[40.0, 50.0, np.nan]))


def test_non_numeric_value_is_rejected() -> None:
    with pytest.raises(InputError, match="'abc' is not a number"):
        AE_HITS.validate(_hits(amplitude_db=[40.0, "abc", 50.0]))


def test_unsorted_times_raise_unless_sorting_is_asked_for() -> None:
    frame = _hits(time_s=[0.1, 3.0, 2.0])
    with pytest.raises(InputError, match="not sorted") as info:
        AE_HITS.validate(frame)
    assert info.value.row == 2
    repaired = AE_HITS.validate(frame, sort=True)
    assert repaired["time_s"].is_monotonic_increasing


def test_catalog_times_are_utc_and_magnitude_type_optional() -> None:
    frame = pd.DataFrame(
        {
            "time": ["2019-07-06T03:19:53Z", "2019-07-06T04:00:00+09:00"],
            "latitude_deg": [35.7, 35.8],
            "longitude_deg": [-117.5, -117.6],
            "magnitude": [7.1, 4.0],
        }
    )
    with pytest.raises(InputError, match="not sorted"):
        CATALOG.validate(frame)
    table = CATALOG.validate(frame, sort=True)
    assert str(table["time"].dt.tz) == "UTC"
    assert table["time"].iloc[0] == pd.Timestamp("2019-07-05T19:00:00Z")
    assert table["magnitude_type"].isna().all()


def test_catalog_rejects_impossible_latitude() -> None:
    frame = pd.DataFrame(
        {"time": ["2020-01-01"], "latitude_deg": [95.0], "longitude_deg": [0.0], "magnitude": [3.0]}
    )
    with pytest.raises(InputError, match="latitude_deg"):
        CATALOG.validate(frame)


def test_picks_phase_must_be_p_or_s() -> None:
    frame = pd.DataFrame({"event_id": ["e1"], "sensor": ["A"], "phase": ["Pn"], "time_s": [1.0]})
    with pytest.raises(InputError, match="not one of P, S"):
        PICKS.validate(frame)

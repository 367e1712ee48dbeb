"""AE readers: Vallen pridb/tradb, MISTRAS DTA, CSV hit tables, and their errors on bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.io.ae import read_dta, read_hits, read_hits_csv, read_pridb, read_tradb


@pytest.fixture()
def steel_plate(shared_data: Path) -> Path:
    return shared_data / "ae" / "vallenae_examples" / "steel_plate"


@pytest.mark.shared_data
def test_read_tradb_gives_volts_per_record(steel_plate: Path) -> None:
    frame = read_tradb(steel_plate / "sample.tradb")
    assert frame["trai"].tolist() == [1, 2, 3, 4]
    assert frame["channel"].tolist() == [3, 2, 4, 1]
    assert set(frame["samplerate_hz"]) == {5e6}
    assert set(frame["pretrigger_samples"]) == {500}
    first = frame["data_v"].iloc[0]
    assert first.dtype == np.float64 and first.size == 98960
    # a pencil-lead break peaks at tens of millivolts
    assert 0.01 < np.abs(first).max() < 0.1


@pytest.mark.shared_data
def test_read_tradb_selects_trai_and_rejects_unknown(steel_plate: Path) -> None:
    assert read_tradb(steel_plate / "sample.tradb", trai=[2, 4])["trai"].tolist() == [2, 4]
    with pytest.raises(InputError, match="TRAI"):
        read_tradb(steel_plate / "sample.tradb", trai=[99])


@pytest.mark.shared_data
def test_read_pridb_returns_canonical_hits(steel_plate: Path) -> None:
    hits = read_pridb(steel_plate / "sample.pridb")
    assert len(hits) == 4
    assert hits["time_s"].is_monotonic_increasing
    np.testing.assert_allclose(hits["amplitude_db"], 20 * np.log10(hits["amplitude_v"] / 1e-6))
    assert read_pridb(steel_plate / "sample.pridb", after_set_id=11)["set_id"].tolist() == [12, 13]


@pytest.mark.shared_data
def test_read_dta_matches_decoded_csv(shared_data: Path) -> None:
    folder = shared_data / "ae" / "mistras_dta_example"
    hits = read_dta(folder / "210527-CH1-15.DTA")
    expected = pd.read_csv(folder / "210527-CH1-15_hits.csv")
    assert len(hits) == len(expected) == 8
    np.testing.assert_allclose(hits["time_s"], expected["SSSSSSSS.mmmuuun"])
    np.testing.assert_allclose(hits["amplitude_db"], expected["AMP"])
    np.testing.assert_allclose(hits["duration_s"], expected["DURATION"] * 1e-6)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["steel_plate/sample.pridb", "steel_plate/sample.tradb"])
def test_truncated_vallen_file_is_input_error(shared_data: Path, tmp_path: Path, name: str) -> None:
    source = shared_data / "ae" / "vallenae_examples" / name
    broken = tmp_path / source.name
    broken.write_bytes(source.read_bytes()[:3000])
    reader = read_pridb if broken.suffix == ".pridb" else read_tradb
    with pytest.raises(InputError, match=source.name):
        reader(broken)


@pytest.mark.shared_data
@pytest.mark.parametrize("keep", [0.002, 0.5])
def test_truncated_dta_is_input_error(shared_data: Path, tmp_path: Path, keep: float) -> None:
    data = (shared_data / "ae" / "mistras_dta_example" / "210527-CH1-15.DTA").read_bytes()
    broken = tmp_path / "cut.DTA"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError, match=r"cut\.DTA"):
        read_dta(broken)


def test_garbage_pridb_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "x.pridb"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match=r"x\.pridb"):
        read_pridb(path)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "hits.csv"
    frame.to_csv(path, index=False)
    return path


def test_csv_hits_accept_volts_and_convert_to_db(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        pd.DataFrame({"time_s": [0.5, 1.0], "channel": [1, 2], "amplitude_v": [1e-4, 1e-3]}),
    )
    hits = read_hits(path)
    np.testing.assert_allclose(hits["amplitude_db"], [40.0, 60.0])


def test_csv_misnamed_column_names_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, pd.DataFrame({"time": [0.5], "channel": [1], "amplitude_db": [40]}))
    with pytest.raises(InputError, match=r"time_s.*found 'time'"):
        read_hits_csv(path)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("amplitude_v", [1e-4, np.nan], "amplitude_v"),
        ("amplitude_v", [1e-4, -2e-4], "amplitude_v"),
        ("time_s", [1.0, 0.5], "not sorted"),
        ("time_s", [1.0, 1.0], "duplicated"),
    ],
)
def test_csv_bad_values_are_input_errors(
    tmp_path: Path, column: str, values: list[float], message: str
) -> None:
    frame = pd.DataFrame({"time_s": [0.5, 1.0], "channel": [1, 1], "amplitude_v": [1e-4, 2e-4]})
    frame[column] = values
    with pytest.raises(InputError, match=message):
        read_hits_csv(_write(tmp_path, frame))


def test_csv_repair_sorts_and_drops_duplicates(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"time_s": [2.0, 1.0, 1.0], "channel": [1, 1, 1], "amplitude_db": [50.0, 40.0, 40.0]}
    )
    hits = read_hits_csv(_write(tmp_path, frame), repair=True)
    assert hits["time_s"].tolist() == [1.0, 2.0]


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_hits(tmp_path / "nope.csv")

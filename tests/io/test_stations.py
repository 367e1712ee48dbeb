"""Station readers: CSV (with aliases), Rquake LLZ text, StationXML, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from quakesense.core.errors import InputError
from quakesense.io.stations import read_stations


def test_csv_with_aliases(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("code,lat,lon,elevation\nHK1,35.2,139.0,800\nHK2,35.25,139.05,\n")
    stations = read_stations(path)
    assert list(stations.columns[:4]) == ["station", "latitude_deg", "longitude_deg", "elevation_m"]
    assert stations["station"].tolist() == ["HK1", "HK2"]
    assert stations["elevation_m"].iloc[0] == 800.0


@pytest.mark.shared_data
def test_llz_elevation_converted_to_metres(shared_data: Path) -> None:
    stations = read_stations(shared_data / "velocity" / "rquake_coso_sta_LLZ.txt")
    first = stations.iloc[0]
    assert first["station"] == "S1"
    assert first["elevation_m"] == pytest.approx(1190.0)
    assert len(stations) > 20


def test_stationxml_roundtrip(tmp_path: Path) -> None:
    from obspy.core.inventory import Inventory, Network, Station

    station = Station("AB1", latitude=35.1, longitude=139.1, elevation=500.0)
    inventory = Inventory(networks=[Network("XX", stations=[station])], source="test")
    path = tmp_path / "inv.xml"
    inventory.write(str(path), format="STATIONXML")
    stations = read_stations(path)
    assert stations["station"].tolist() == ["XX.AB1"]
    assert stations["latitude_deg"].iloc[0] == pytest.approx(35.1)


def test_bad_latitude_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("station,latitude_deg,longitude_deg\nA,35,139\nB,135,139\n")
    with pytest.raises(InputError, match=r"row 1.*latitude_deg"):
        read_stations(path)


def test_duplicate_names_rejected(tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("station,latitude_deg,longitude_deg\nA,35,139\nA,35.1,139\n")
    with pytest.raises(InputError, match="appears twice"):
        read_stations(path)

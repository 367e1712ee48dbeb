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


def test_names_match_on_station_code_with_network_optional() -> None:
    from quakesense.io.stations import match_station_names

    mapping = match_station_names(["NN09", "NM03", "ZZ1"], ["NN.NN09", "NM.NM03", "XX.OTHER"])
    assert mapping == {"NN09": "NN.NN09", "NM03": "NM.NM03"}
    assert match_station_names(["XX.A"], ["A"]) == {"XX.A": "A"}
    # The same code in two networks needs the full name: no guess.
    assert match_station_names(["A"], ["XX.A", "YY.A"]) == {}
    assert match_station_names(["XX.A"], ["XX.A", "YY.A"]) == {"XX.A": "XX.A"}


def test_a_station_far_from_the_network_is_refused() -> None:
    import pandas as pd

    from quakesense.io.stations import check_network_extent

    stations = pd.DataFrame(
        {
            "station": ["A", "B", "C", "D"],
            "latitude_deg": [43.70, 43.72, 43.75, 43.73],
            "longitude_deg": [-121.30, -121.33, -121.28, -121.31],
        }
    )
    check_network_extent(stations)
    far = stations.assign(latitude_deg=[43.70, 43.72, 43.75, 18.5])  # about 2,800 km south
    with pytest.raises(InputError, match=r"station D is 2,8\d\d km from the network"):
        check_network_extent(far, source="st.csv")


def test_tables_and_inventories_in_memory_read_like_files(tmp_path: Path) -> None:
    import pandas as pd
    from obspy.core.inventory import Inventory, Network, Station

    path = tmp_path / "st.csv"
    path.write_text("code,lat,lon,elevation\nHK1,35.2,139.0,800\nHK2,35.25,139.05,\n")
    frame = pd.read_csv(path)
    pd.testing.assert_frame_equal(read_stations(frame), read_stations(path))
    station = Station("AB1", latitude=35.1, longitude=139.1, elevation=500.0)
    inventory = Inventory(networks=[Network("XX", stations=[station])], source="test")
    assert read_stations(inventory)["station"].tolist() == ["XX.AB1"]
    frame.loc[1, "lat"] = 135.0
    with pytest.raises(InputError, match=r"<station table>.*row 1.*latitude_deg"):
        read_stations(frame)

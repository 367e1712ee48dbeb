"""Catalog readers: layouts, repairs that are reported, and bad input that is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.io.catalog import Region, normalise_time_strings, parse_column_mapping, read_catalog

COMCAT = """time,latitude,longitude,depth,mag,magType,id
2020-01-01T00:00:00.000Z,35.0,139.0,10.0,4.1,mw,a
2020-01-02T12:00:00.000Z,35.5,139.5,12.0,3.2,ml,b
2020-01-03T23:59:60.000Z,36.0,140.0,8.0,5.0,mw,c
"""


def write(tmp_path: Path, text: str, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_comcat_layout_is_recognised_and_repairs_are_reported(tmp_path: Path) -> None:
    table, report = read_catalog(write(tmp_path, COMCAT))
    assert list(table["magnitude"]) == [4.1, 3.2, 5.0]
    assert table["time"].iloc[2] == pd.Timestamp("2020-01-04T00:00:00", tz="UTC")
    assert report.n_time_normalised == 1
    assert report.magnitude_types == {"mw": 2, "ml": 1}
    assert any("mixed magnitude types" in w for w in report.warnings)


def test_a_table_in_memory_reads_like_its_file(tmp_path: Path) -> None:
    path = write(tmp_path, COMCAT)
    table, report = read_catalog(pd.read_csv(path))
    pd.testing.assert_frame_equal(table, read_catalog(path)[0])
    assert report.source == "<table>" and report.n_time_normalised == 1


def test_hour_24_rolls_over_to_next_day() -> None:
    fixed, n = normalise_time_strings(pd.Series(["2001-03-04 24:00:00", "2001-03-04 10:00:00"]))
    assert n == 1
    assert fixed.iloc[0] == pd.Timestamp("2001-03-05", tz="UTC")
    assert fixed.iloc[1] == "2001-03-04 10:00:00"


def test_column_mapping_split_time_and_negated_depth(tmp_path: Path) -> None:
    text = "yr,mo,dy,hh,mi,ss,la,lo,dep,mj\n2003,7,26,7,13,31.5,38.4,141.2,-11.9,6.2\n"
    mapping = "year=yr,month=mo,day=dy,hour=hh,minute=mi,second=ss,latitude=la,longitude=lo,"
    mapping += "depth=-dep,magnitude=mj"
    table, _ = read_catalog(write(tmp_path, text), columns=mapping)
    assert table["time"].iloc[0] == pd.Timestamp("2003-07-26T07:13:31.5", tz="UTC")
    assert table["depth_km"].iloc[0] == pytest.approx(11.9)


def test_nan_coordinate_is_an_error_naming_row_and_field(tmp_path: Path) -> None:
    text = COMCAT.replace("35.5,139.5", ",139.5")
    with pytest.raises(InputError, match=r"row 1.*latitude_deg"):
        read_catalog(write(tmp_path, text))


def test_unsorted_times_fail_unless_sort_is_asked_then_reported(tmp_path: Path) -> None:
    lines = COMCAT.strip().splitlines()
    text = "\n".join([lines[0], lines[2], lines[1], lines[3]]) + "\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="not sorted"):
        read_catalog(path)
    table, report = read_catalog(path, sort=True)
    assert table["time"].is_monotonic_increasing
    assert report.n_resorted == 1


def test_region_and_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    dup = "2020-01-02T12:00:00.400Z,35.51,139.5,12.0,3.2,ml,b2\n"
    far = "2020-01-05T00:00:00.000Z,10.0,100.0,5.0,4.0,mw,z\n"
    table, report = read_catalog(
        write(tmp_path, COMCAT.replace("2020-01-03T23:59:60", dup + "2020-01-03T23:59:60") + far),
        region=Region.parse("30,40,130,145"),
    )
    assert report.n_outside_region == 1
    assert report.n_duplicates == 1 and report.duplicate_rows == [2]
    assert list(table["event_id"]) == ["a", "b", "c"]


def test_quakeml_round_trip_through_obspy(tmp_path: Path) -> None:
    from obspy import UTCDateTime
    from obspy.core.event import Catalog, Event, Magnitude, Origin

    catalog = Catalog()
    for k in range(3):
        event = Event()
        event.origins.append(
            Origin(
                time=UTCDateTime(2020, 1, 1 + k), latitude=35.0 + k, longitude=139.0, depth=10_000.0
            )
        )
        event.magnitudes.append(Magnitude(mag=4.0 + k, magnitude_type="Mw"))
        catalog.append(event)
    path = tmp_path / "events.xml"
    catalog.write(str(path), format="QUAKEML")
    table, report = read_catalog(path)
    assert np.allclose(table["latitude_deg"], [35.0, 36.0, 37.0])
    assert np.allclose(table["depth_km"], 10.0)
    assert report.n_kept == 3


def test_polygon_file_and_bad_mapping(tmp_path: Path) -> None:
    polygon = write(tmp_path, "lon lat\n0 0\n10 0\n0 10\n", "poly.csv")
    region = Region.parse(str(polygon))
    assert list(region.contains(np.array([1.0, 9.0]), np.array([1.0, 9.0]))) == [True, False]
    with pytest.raises(InputError, match="unknown key"):
        parse_column_mapping("when=time")


@pytest.mark.shared_data
def test_real_catalogs_read(shared_data: Path) -> None:
    japan, report = read_catalog(shared_data / "catalogs/japan_comcat_1990_2019/Japan_catalog.csv")
    assert len(japan) == 37_581 and report.n_duplicates == 0
    italy = shared_data / "catalogs/italy_iside_2005_2021/catalog_central_italy_iside_2005_2021.csv"
    with pytest.raises(InputError, match="not sorted"):
        read_catalog(italy)
    table, report = read_catalog(italy, sort=True)
    assert report.n_resorted > 0 and table["depth_km"].notna().all()

"""`quakesense.load(run).predict(...)` for every pipeline, on tiny models trained through the API.

Each test trains through the pipeline's documented building blocks, loads the run folder with
`quakesense.load` (which must register every model type itself) and checks the predictions
against what the CLI path computes for the same inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from obspy import Catalog
from obspy.core.inventory import Inventory, Network, Station

import quakesense
from quakesense.api import (
    AEClassPredictor,
    ForecastPredictor,
    LocatePredictor,
    PrecursorPredictor,
    aeclass,
    forecast,
    locate,
    precursor,
)
from quakesense.cli import main
from quakesense.core.errors import InputError
from quakesense.core.persistence import load_model, model_dir
from quakesense.core.training import TrainConfig
from quakesense.precursor.alarms import persistent
from tests.test_examples import example


@pytest.fixture
def no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails the test if anything makes a temporary file or folder: the predictors work in
    memory. Every `tempfile` maker refuses, and the temporary folder must stay empty."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a temporary file or folder was made")

    for name in ("mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    yield
    assert not any(scratch.iterdir())


@pytest.mark.slow  # a fresh interpreter imports every pipeline: ~8 s CPU
def test_load_registers_every_model_type_in_a_fresh_interpreter() -> None:
    """`core.persistence.load_model` alone knows no pipeline; `quakesense.api` registers all."""
    code = (
        "import sys, quakesense\n"
        "assert 'torch' not in sys.modules, 'import quakesense must stay light'\n"
        "import quakesense.api, quakesense.core.persistence as m\n"
        "print(m.registered_models())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    for key in ("locate.cnn2d", "aeclass.profile_net", "forecast", "precursor"):
        assert key in result.stdout


def test_load_refuses_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a model folder"):
        quakesense.load(tmp_path)


# precursor --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def precursor_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, object]:
    from quakesense.precursor.features import WindowConfig, target_events
    from quakesense.precursor.models import MLP_PRESETS
    from quakesense.precursor.pipeline import ExperimentConfig
    from quakesense.synth.ae_monitoring import AEMonitoringConfig

    sim = AEMonitoringConfig(seed=0, duration_days=8)
    hits, catalog = precursor.simulate(sim)
    window = WindowConfig(threshold_db=sim.threshold_db)
    windows = precursor.window_features(hits, window)
    event_s = (catalog["time"] - pd.Timestamp(sim.start_time)).dt.total_seconds().to_numpy()
    targets = target_events(
        event_s, catalog["magnitude"].to_numpy(), None, min_magnitude=2.4, max_distance_km=None
    )
    fast = MLP_PRESETS["fast"]
    config = ExperimentConfig(
        splits=["time-blocked"],
        baselines=[],
        cross_event=False,
        mlp=fast.model_copy(
            update={"train": fast.train.model_copy(update={"max_epochs": 2, "progress": False})}
        ),
    )
    out = tmp_path_factory.mktemp("precursor") / "run"
    precursor.train(windows, targets, config, out, window=window)
    return out, windows, hits


@pytest.mark.slow
def test_precursor_predicts_windows_and_hits_alike(precursor_run: tuple) -> None:
    run, windows, hits = precursor_run
    model = quakesense.load(run)
    assert isinstance(model, PrecursorPredictor)
    scored = model.predict(windows)
    assert len(scored) == len(windows)
    assert scored["probability"].between(0, 1).all()
    above = scored["probability"].to_numpy() >= model.threshold
    assert (scored["warning"] == persistent(above, model.monitor.persistence)).all()
    live = model.predict(hits, origin="2024-03-01T00:00:00Z")
    assert len(live) > 0.9 * len(windows)
    assert str(live["time"].dt.tz) == "UTC"
    merged = live.merge(scored, on="end_s", suffixes=("_hits", "_windows"))
    assert len(merged) == len(live)
    np.testing.assert_allclose(
        merged["probability_hits"], merged["probability_windows"], rtol=1e-5, atol=1e-6
    )
    assert (merged["warning_hits"] == merged["warning_windows"]).all()


@pytest.mark.slow
def test_precursor_refuses_a_table_of_neither_kind(precursor_run: tuple) -> None:
    model = quakesense.load(precursor_run[0])
    with pytest.raises(InputError, match="neither a window table"):
        model.predict(pd.DataFrame({"x": [1.0]}))


# aeclass ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aeclass_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    data = aeclass.simulate(aeclass.HydrofracConfig(seed=0, events_per_stage=[25] * 6))
    profiles = aeclass.profile_data(data.picks, list(data.sensors["sensor"]), labels=data.events)
    config = aeclass.ClassifierConfig(
        seed=0,
        baselines=[],
        tsne=False,
        n_bootstrap=10,
        train=TrainConfig(max_epochs=20, batch_size=32, learning_rate=0.01, progress=False),
    )
    out = tmp_path_factory.mktemp("aeclass") / "run"
    aeclass.train(profiles, config, out)
    return out, data


@pytest.mark.slow
def test_aeclass_probabilities_match_the_evaluate_verb(aeclass_run: tuple, tmp_path: Path) -> None:
    run, data = aeclass_run
    model = quakesense.load(run)
    assert isinstance(model, AEClassPredictor)
    table = model.predict(data.picks)
    columns = [f"p_{name}" for name in model.classes]
    np.testing.assert_allclose(table[columns].sum(axis=1), 1.0, rtol=1e-5)
    truth = data.events.set_index("event_id").loc[table["event_id"], "label"].astype(str)
    assert (table["predicted"].to_numpy() == truth.to_numpy()).mean() > 1.5 / len(model.classes)
    profiles = aeclass.profile_data(
        data.picks, model.sensors, labels=data.events, classes=model.classes
    )
    aeclass.evaluate(load_model(model_dir(run)), profiles, tmp_path / "eval")
    reference = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    np.testing.assert_allclose(table[columns], reference[columns], rtol=1e-5, atol=1e-6)
    located = model.predict(data.picks, sensors=data.sensors)
    np.testing.assert_allclose(located[columns], table[columns])
    truth = data.picks.groupby("event_id")[["x_m", "y_m", "z_m"]].first()
    error_m = np.linalg.norm(
        located[["x_m", "y_m", "z_m"]].to_numpy() - truth.loc[located["event_id"]].to_numpy(),
        axis=1,
    )
    assert np.median(error_m) < 0.5  # leave-one-out Geiger in a borehole of ~10 m


@pytest.mark.slow
def test_aeclass_refuses_unknown_sensors(aeclass_run: tuple) -> None:
    run, data = aeclass_run
    picks = data.picks.copy()
    picks.loc[0, "sensor"] = "nosuch"
    with pytest.raises(InputError, match="nosuch"):
        quakesense.load(run).predict(picks)


# locate -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locate_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.locate.tiny_data import tiny_train_config

    root = tmp_path_factory.mktemp("locate")
    config = locate.SimulateConfig(
        n_events=30,
        seed=3,
        n_samples=120,
        chunk_events=30,
        figures=False,
        scheduler="synchronous",
        source={"origin_time_min_s": 1.0, "origin_time_max_s": 5.0},
    )
    locate.simulate(config, root / "data", progress=False)
    locate.train(root / "data", root / "run", tiny_train_config())
    return root / "data", root / "run"


@pytest.mark.slow
def test_locate_stream_matches_the_predict_verb(locate_run: tuple, tmp_path: Path) -> None:
    data_dir, run = locate_run
    model = quakesense.load(run)
    assert isinstance(model, LocatePredictor)
    stream = example("locate_example").held_out_stream(data_dir)
    table, catalog = model.predict(
        {"ev1": stream}, units="velocity", answer_after_s=1.0, catalog=True
    )
    assert list(table["event_id"]) == ["ev1"] and table["status"].iloc[0] == "ok"
    assert isinstance(catalog, Catalog) and len(catalog) == 1
    folder = tmp_path / "events" / "ev1"
    folder.mkdir(parents=True)
    stream.write(str(folder / "event.mseed"), format="MSEED")
    stations = tmp_path / "stations.csv"
    model.stations.to_csv(stations, index=False)
    args = ["locate", "predict", "--waveforms", str(tmp_path / "events")]
    args += ["--stations", str(stations), "--method", model.method, "--model", str(run)]
    args += ["--units", "velocity", "--answer-after", "1.0", "--out", str(tmp_path / "cli")]
    assert main(args) == 0
    cli = pd.read_csv(tmp_path / "cli" / "locations.csv")
    for column in ("latitude_deg", "longitude_deg", "depth_km", "magnitude"):
        np.testing.assert_allclose(table[column], cli[column], rtol=1e-4, atol=1e-4)
    inventory = Inventory(
        networks=[
            Network(
                code="XX",
                stations=[
                    Station(str(row.station), row.latitude_deg, row.longitude_deg, 0.0)
                    for row in model.stations.itertuples()
                ],
            )
        ],
        source="test",
    )
    from_inventory = model.predict(stream, inventory, units="velocity", answer_after_s=1.0)
    np.testing.assert_allclose(from_inventory["latitude_deg"], table["latitude_deg"])


@pytest.mark.slow
def test_locate_predicts_in_memory(locate_run: tuple, no_temporary_files: None) -> None:
    data_dir, run = locate_run
    stream = example("locate_example").held_out_stream(data_dir)
    before = stream.copy()
    table, catalog = quakesense.load(run).predict(
        {"ev1": stream}, units="velocity", answer_after_s=1.0, catalog=True
    )
    assert table["status"].iloc[0] == "ok" and len(catalog) == 1
    assert stream == before  # the caller's traces are left as they were


@pytest.mark.slow
def test_locate_refuses_what_is_not_a_stream(locate_run: tuple) -> None:
    with pytest.raises(InputError, match="ObsPy Stream"):
        quakesense.load(locate_run[1]).predict([1, 2, 3])


# forecast ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    catalog = forecast.simulate(5, n_days=900)
    config = forecast.ForecastConfig(
        models=["convlstm"],
        mc=4.0,
        region="35.5,40.5,139.5,144.5",
        split_dates="2001-07-01,2002-01-01",
        cell_km=40.0,
        history_days=120,
        epochs=1,
        window_steps=30,
        warm_steps=5,
        device="cpu",
        progress=False,
        n_bootstrap=10,
    )
    out = tmp_path_factory.mktemp("forecast") / "run"
    forecast.train(config, out, catalog=catalog)
    return out, catalog


@pytest.mark.slow
def test_forecast_map_matches_the_predict_verb(forecast_run: tuple, tmp_path: Path) -> None:
    run, catalog = forecast_run
    model = quakesense.load(run)
    assert isinstance(model, ForecastPredictor)
    date = "2002-03-01"
    probability = model.predict(catalog, date)
    assert probability.dims == ("y", "x")
    assert probability.attrs["mc"] == 4.0 and probability.attrs["date"] == date
    assert float(probability.min()) >= 0 and float(probability.max()) <= 1
    assert probability["latitude_deg"].shape == probability.shape
    source = tmp_path / "catalog.csv"
    catalog.to_csv(source, index=False)
    args = ["forecast", "predict", "--model", str(model.path), "--catalog", str(source)]
    assert main([*args, "--date", date, "--out", str(tmp_path / "cli")]) == 0
    cli = pd.read_csv(tmp_path / "cli" / "forecast.csv")
    np.testing.assert_allclose(
        probability.values[cli["row"], cli["col"]], cli["probability"], rtol=1e-6
    )


@pytest.mark.slow
def test_forecast_series_is_one_pass_equal_to_single_dates(
    forecast_run: tuple, tmp_path: Path
) -> None:
    run, catalog = forecast_run
    model = quakesense.load(run)
    series = model.predict(catalog, ["2002-05-20", "2002-01-15", "2002-05-20"])
    assert series.dims == ("date", "y", "x")
    assert [str(d)[:10] for d in series["date"].values] == ["2002-01-15", "2002-05-20"]
    for date in ("2002-01-15", "2002-05-20"):
        single = model.predict(catalog, date)
        np.testing.assert_allclose(series.sel(date=date).values, single.values, rtol=1e-6)
    assert not np.allclose(series.values[0], series.values[1])
    source = tmp_path / "catalog.csv"
    catalog.to_csv(source, index=False)
    args = ["forecast", "predict", "--model", str(model.path), "--catalog", str(source)]
    assert main([*args, "--date", "2002-05-20,2002-01-15", "--out", str(tmp_path / "cli")]) == 0
    cli = pd.read_csv(tmp_path / "cli" / "forecast.csv")
    assert sorted(cli["date"].unique()) == ["2002-01-15", "2002-05-20"]
    for date, rows in cli.groupby("date"):
        expected = series.sel(date=date).values[rows["row"], rows["col"]]
        np.testing.assert_allclose(rows["probability"], expected, rtol=1e-6)


@pytest.mark.slow
def test_forecast_predicts_in_memory(forecast_run: tuple, no_temporary_files: None) -> None:
    run, catalog = forecast_run
    probability = quakesense.load(run).predict(catalog, "2002-03-01")
    assert float(probability.min()) > 0 and float(probability.max()) < 1


def test_old_registry_keys_load_as_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder written under an old key loads when the class is registered under the new
    `<pipeline>.<name>` key, and the other way round (a class not yet renamed)."""
    from torch import nn

    from quakesense.core import persistence as models

    @models.register_model("testpipe_old")
    class _Old(nn.Linear):
        pass

    monkeypatch.setitem(models.LEGACY_NAMES, "testpipe_old", "testpipe.new")
    monkeypatch.setitem(models.LEGACY_NAMES, "testpipe_legacy", "testpipe.new")
    config = {"in_features": 2, "out_features": 1}
    models.save_model(tmp_path / "m", _Old(2, 1), name="testpipe_old", config=config)
    document = json.loads((tmp_path / "m" / "model.json").read_text())
    for key in ("testpipe_old", "testpipe.new", "testpipe_legacy"):
        document["model"] = key
        (tmp_path / "m" / "model.json").write_text(json.dumps(document))
        loaded = load_model(tmp_path / "m", expected="testpipe.new")
        assert isinstance(loaded.module, _Old)
    with pytest.raises(InputError, match=r"expected a 'testpipe\.other'"):
        load_model(tmp_path / "m", expected="testpipe.other")

"""Config errors name the key and the fix; a written config reads back equal."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from invspark.config import config_to_yaml, load_config, parse_config
from invspark.errors import ConfigError


@pytest.fixture
def sales_file(tmp_path):
    path = tmp_path / "sales.parquet"
    path.write_bytes(b"")  # existence is all the config checks
    return path


def minimal(sales_file, **changes):
    raw = {
        "run_date": "2012-01-04",
        "frequency": "W",
        "horizon": 13,
        "warehouse": "./warehouse",
        "inputs": {"sales": {"path": str(sales_file)}},
    }
    raw.update(changes)
    return raw


def test_minimal_config_gets_defaults(sales_file, tmp_path):
    config = parse_config(minimal(sales_file), base_dir=tmp_path)
    assert config.run_date == dt.date(2012, 1, 4)
    assert config.frequency == "W" and config.horizon == 13
    assert config.inputs["sales"].format == "parquet"
    assert config.warehouse == str((tmp_path / "warehouse").resolve())
    assert config.policy.service_level_matrix["A"]["X"] == 0.98
    assert config.periods_per_year == 52.0


def test_simulation_reforecast_every_reaches_the_outcome_backtest(sales_file, tmp_path):
    from invspark.spark.stage_simulate import simulation_settings

    assert simulation_settings(parse_config(minimal(sales_file), base_dir=tmp_path), 104).reforecast_every is None
    config = parse_config(minimal(sales_file, simulation={"reforecast_every": 4}), base_dir=tmp_path)
    settings = simulation_settings(config, 104)
    assert settings.reforecast_every == 4 and list(settings.forecast_offsets) == [0, 4, 8, 12]


def test_censored_demand_reaches_the_forecast_and_the_outcome_backtest(sales_file, tmp_path):
    from invspark.spark.stage_forecast import forecast_settings
    from invspark.spark.stage_simulate import simulation_settings
    from invspark.stages.calendar import PeriodGrid

    default = parse_config(minimal(sales_file), base_dir=tmp_path)
    assert default.forecast.censored_demand == "impute"
    config = parse_config(minimal(sales_file, forecast={"censored_demand": "lower_bound"}), base_dir=tmp_path)
    grid = PeriodGrid(origin=dt.date(2022, 1, 3), frequency="W", n_periods=104)
    assert forecast_settings(config, grid).censored_demand == "lower_bound"
    assert simulation_settings(config, 104).forecast_settings().censored_demand == "lower_bound"


def test_group_seasonality_reaches_the_forecast_and_the_outcome_backtest(sales_file, tmp_path):
    from invspark.spark.stage_forecast import forecast_settings
    from invspark.spark.stage_simulate import simulation_settings
    from invspark.stages.calendar import PeriodGrid

    grid = PeriodGrid(origin=dt.date(2022, 1, 3), frequency="W", n_periods=104)
    default = parse_config(minimal(sales_file), base_dir=tmp_path)
    assert forecast_settings(default, grid).group_seasonality is False
    config = parse_config(minimal(sales_file, forecast={"group_seasonality": True}), base_dir=tmp_path)
    assert forecast_settings(config, grid).group_seasonality is True
    assert simulation_settings(config, 104).forecast_settings().group_seasonality is True
    with pytest.raises(ConfigError, match="forecast.group_seasonality"):
        parse_config(minimal(sales_file, forecast={"group_seasonality": "sometimes"}), base_dir=tmp_path)


def test_service_target_scope_reaches_the_policy_stage_and_the_outcome_backtest(sales_file, tmp_path):
    from invspark.spark.stage_policy import policy_settings
    from invspark.spark.stage_simulate import simulation_settings

    default = parse_config(minimal(sales_file), base_dir=tmp_path)
    assert policy_settings(default).service_target_scope == "series"
    config = parse_config(minimal(sales_file, policy={"service_target_scope": "segment"}), base_dir=tmp_path)
    assert policy_settings(config).service_target_scope == "segment"
    assert simulation_settings(config, 104).service_target_scope == "segment"


@pytest.mark.parametrize("key", ["run_date", "frequency", "horizon", "warehouse", "inputs"])
def test_missing_required_key(sales_file, key):
    raw = minimal(sales_file)
    del raw[key]
    with pytest.raises(ConfigError, match=rf"missing required key\(s\) \['{key}'\]"):
        parse_config(raw)


def test_unknown_top_level_key_suggests_the_nearest(sales_file):
    with pytest.raises(ConfigError, match=r"unknown config key 'horizn'.*did you mean 'horizon'"):
        parse_config(minimal(sales_file, horizn=3))


def test_unknown_nested_key(sales_file):
    with pytest.raises(ConfigError, match=r"unknown config key policy\.'service_level_typ'.*service_level_type"):
        parse_config(minimal(sales_file, policy={"service_level_typ": "csl"}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frequency": "Q"}, r"frequency: must be one of \('D', 'W', 'M'\).*'Q'"),
        ({"horizon": 0}, r"horizon: must be an integer >= 1, got 0"),
        ({"horizon": "13"}, r"horizon: must be an integer >= 1, got '13'"),
        ({"run_date": "04/01/2012"}, r"run_date: must be a date like 2012-01-04, got '04/01/2012'"),
        ({"forecast": {"quantiles": [0.9, 0.1]}}, r"forecast.quantiles: must be increasing"),
        ({"policy": {"default_policy": "XYZ"}}, r"policy.default_policy: must be one of"),
        (
            {"policy": {"service_level_matrix": {"A": {"X": 1.2, "Y": 0.9, "Z": 0.9}, "B": {"X": 0.9, "Y": 0.9, "Z": 0.9}, "C": {"X": 0.9, "Y": 0.9, "Z": 0.9}}}},
            r"policy.service_level_matrix.A.X: must be a service level strictly between 0 and 1, got 1.2",
        ),
        ({"validation": {"max_quarantine_fraction": 2}}, r"validation.max_quarantine_fraction: must be between 0 and 1, got 2"),
        ({"network": {"enabled": "yes"}}, r"network.enabled: must be true or false, got 'yes'"),
        ({"simulation": {"reforecast_every": 0}}, r"simulation.reforecast_every: must be an integer >= 1, got 0"),
        ({"forecast": {"censored_demand": "drop"}}, r"forecast.censored_demand: must be one of \('impute', 'lower_bound'\)"),
        ({"policy": {"service_target_scope": "store"}}, r"policy.service_target_scope: must be one of \('series', 'segment'\)"),
    ],
)
def test_bad_values_name_the_key(sales_file, changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(minimal(sales_file, **changes))


def test_missing_input_path_is_reported(sales_file, tmp_path):
    raw = minimal(sales_file, inputs={"sales": {"path": "nowhere/sales.parquet"}})
    with pytest.raises(ConfigError, match=r"inputs.sales.path: .*nowhere/sales.parquet' does not exist"):
        parse_config(raw, base_dir=tmp_path)


def test_unknown_input_table(sales_file):
    raw = minimal(sales_file, inputs={"sales": {"path": str(sales_file)}, "itemz": {"path": str(sales_file)}})
    with pytest.raises(ConfigError, match=r"unknown input inputs.itemz; did you mean 'items'"):
        parse_config(raw)


def test_format_inferred_from_extension_or_given(tmp_path, sales_file):
    csv = tmp_path / "items.csv"
    csv.write_text("sku_id\nA\n")
    delta = tmp_path / "inventory"
    (delta / "_delta_log").mkdir(parents=True)
    raw = minimal(sales_file, inputs={"sales": str(sales_file), "items": {"path": str(csv)}, "inventory": {"path": str(delta)}})
    config = parse_config(raw)
    assert [config.inputs[n].format for n in ("sales", "items", "inventory")] == ["parquet", "csv", "delta"]


def test_config_file_round_trip(tmp_path, sales_file):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(minimal(sales_file, policy={"service_level_type": "fill_rate"})))
    config = load_config(path)
    again = tmp_path / "again.yaml"
    again.write_text(config_to_yaml(config))
    reread = load_config(again)
    assert reread.policy == config.policy and reread.inputs == config.inputs and reread.run_date == config.run_date


def test_overrides_win_and_non_mapping_file_is_refused(tmp_path, sales_file):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(minimal(sales_file)))
    assert load_config(path, {"run_date": "2011-06-01"}).run_date == dt.date(2011, 6, 1)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping of keys"):
        load_config(path)

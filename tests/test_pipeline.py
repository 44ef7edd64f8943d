"""The whole pipeline on a small generated data set: every output table, read without Spark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable

from invspark.config import load_config
from invspark.pipeline import run_pipeline
from invspark.sql import connect
from invspark.spark.stage_policy import policy_inputs, policy_settings
from invspark.stages.policy import POLICY_SCHEMA, policy_batch

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REQUIRED = {
    "demand_forecast": ["sku_id", "location_id", "target_date", "horizon", "mean", "p10", "p50", "p90", "p95", "p99", "model"],
    "demand_distribution": ["sku_id", "location_id", "segment", "model", "demand_mean", "demand_std", "distribution",
                            "lead_time_demand_mean", "lead_time_demand_std"],
    "inventory_policy": ["sku_id", "location_id", "policy", "service_level_type", "service_level_target", "lead_time_mean",
                         "lead_time_std", "review_period", "demand_mean", "demand_std", "safety_stock", "reorder_point",
                         "order_up_to", "order_quantity", "inventory_position", "recommended_order_qty",
                         "expected_fill_rate", "expected_csl"],
    "allocation": ["sku_id", "dc_id", "location_id", "requested_units", "allocated_units", "fair_share_units", "expected_units_sold"],
    "echelon_policy": ["sku_id", "location_id", "echelon", "service_time_in", "service_time_out", "safety_stock"],
    "forecast_accuracy": ["model", "segment", "fold", "rmsse", "pinball", "coverage_p90"],
    "runs": ["run_id", "run_date", "stage", "status", "started_at", "finished_at", "rows_in", "rows_out", "rows_quarantined"],
    "quarantine": ["run_id", "source", "reason", "record"],
}
KEYS = {
    "demand_forecast": ["sku_id", "location_id", "horizon"],
    "demand_distribution": ["sku_id", "location_id"],
    "inventory_policy": ["sku_id", "location_id"],
    "allocation": ["sku_id", "dc_id", "location_id"],
    "echelon_policy": ["sku_id", "location_id"],
    "forecast_accuracy": ["model", "segment", "fold"],
    "runs": ["run_id", "stage"],
}


@pytest.fixture(scope="module")
def pipeline_runs(spark, small_dataset):
    data, config_path = small_dataset
    config = load_config(config_path)
    first = run_pipeline(spark, config)
    versions = {name: DeltaTable(f"{config.warehouse}/{name}").version() for name in REQUIRED}
    second = run_pipeline(spark, config)
    return data, config, first, second, versions


def test_every_output_table_has_one_copy_of_the_run_with_required_columns(pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    tables = {name: DeltaTable(f"{config.warehouse}/{name}").to_pandas() for name in REQUIRED}
    for name, frame in tables.items():
        assert (frame["run_id"] == second.run_id).all(), f"{name} kept rows of the replaced run"
        assert frame["run_date"].astype(str).eq(config.run_date.isoformat()).all()
        assert DeltaTable(f"{config.warehouse}/{name}").version() > versions[name], f"{name}: no new version"
        assert not frame.empty, name
        nulls = frame[REQUIRED[name]].isna().sum()
        if name == "forecast_accuracy":  # WAPE/bias are undefined where a fold sold nothing
            nulls = frame[["model", "segment", "fold", "rmsse", "pinball", "coverage_p90"]].isna().sum()
        assert nulls.sum() == 0, f"{name} has nulls: {nulls[nulls > 0].to_dict()}"
        if name in KEYS:
            assert not frame.duplicated(KEYS[name]).any(), f"{name} has duplicate keys"
    n_series = len(tables["demand_distribution"])
    assert len(tables["demand_forecast"]) == n_series * config.horizon
    assert len(tables["inventory_policy"]) == n_series
    assert set(tables["runs"]["stage"]) == {"ingest", "forecast", "policy", "allocate"}
    assert (tables["runs"]["status"] == "succeeded").all()
    forecast = tables["demand_forecast"]
    assert (forecast[["p10", "p50", "p90", "p95", "p99"]].diff(axis=1).iloc[:, 1:] >= -1e-9).all().all()
    assert (forecast["p10"] >= 0).all()
    assert sorted(forecast["target_date"].astype(str).unique())[0] == config.run_date.isoformat()


def test_input_rows_are_used_or_quarantined(pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    runs = DeltaTable(f"{config.warehouse}/runs").to_pandas().set_index("stage")
    quarantine = DeltaTable(f"{config.warehouse}/quarantine").to_pandas()
    ingest = runs.loc["ingest"]
    assert ingest["rows_in"] == ingest["rows_out"] + ingest["rows_quarantined"]
    assert ingest["rows_quarantined"] == len(quarantine)
    injected = sum(data.bad_rows.values())
    assert injected > 0 and len(quarantine) >= injected
    assert {"null_sku_id", "negative_units", "duplicate_row", "receipt_before_order"} <= set(quarantine["reason"])


def test_duckdb_reads_every_table_like_deltalake(pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    connection = connect(config.warehouse)
    for name in REQUIRED:
        count = connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        assert count == len(DeltaTable(f"{config.warehouse}/{name}").to_pandas()), name


def test_spark_policy_stage_equals_the_pandas_face(spark, pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    inputs = policy_inputs(second)
    expected = policy_batch(inputs.toPandas(), policy_settings(config))
    written = second.read("inventory_policy").select(*POLICY_SCHEMA.names)
    expected_df = spark.createDataFrame(expected, written.schema)
    assert_df_equality(
        written.orderBy("sku_id", "location_id"), expected_df.orderBy("sku_id", "location_id"),
        ignore_nullable=True, allow_nan_equality=True,
    )


def test_network_mode_store_policies_protect_the_placed_net_lead_time(pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    assert config.network.enabled
    policy = DeltaTable(f"{config.warehouse}/inventory_policy").to_pandas().set_index(["sku_id", "location_id"])
    placement = DeltaTable(f"{config.warehouse}/echelon_policy").to_pandas()
    stores = placement[placement["echelon"] == "store"].set_index(["sku_id", "location_id"])
    panel = second.read("stage_series_panel").select("sku_id", "location_id", "lead_time_mean").toPandas()
    panel = panel.set_index(["sku_id", "location_id"])["lead_time_mean"]
    placed = stores.index.intersection(policy.index)
    assert len(placed) > 0 and (stores["service_time_in"] > 0).any()
    expected = panel.loc[placed] + stores.loc[placed, "service_time_in"] - stores.loc[placed, "service_time_out"]
    np.testing.assert_allclose(policy.loc[placed, "lead_time_mean"], expected)
    unplaced = policy.index.difference(stores.index)
    np.testing.assert_allclose(policy.loc[unplaced, "lead_time_mean"], panel.loc[unplaced])
    dcs = placement[placement["echelon"] == "dc"]
    assert len(dcs) > 0 and (placement.groupby("sku_id")["sku_total_cost"].first()
                             <= placement.groupby("sku_id")["sku_single_echelon_cost"].first() + 1e-9).all()


def test_safety_stock_budget_binds_at_the_budgeted_store_only(pipeline_runs):
    data, config, first, second, versions = pipeline_runs
    policy = DeltaTable(f"{config.warehouse}/inventory_policy").to_pandas()
    locations = DeltaTable(f"{config.warehouse}/stage_locations").to_pandas()
    budgeted = set(locations.loc[locations["safety_stock_budget"].notna(), "location_id"])
    assert len(budgeted) == 1
    flagged = policy["exception"].fillna("").str.contains("target_unreachable_budget")
    at_budgeted = policy["location_id"].isin(budgeted)
    assert flagged[at_budgeted].any() and not flagged[~at_budgeted].any()
    short = policy[flagged]
    assert (short["expected_csl"] < short["service_level_target"]).all()


def test_failed_stage_is_recorded_and_previous_version_stays_readable(spark, pipeline_runs, monkeypatch):
    data, config, first, second, versions = pipeline_runs
    import invspark.pipeline as pipeline
    from invspark.errors import StageError

    before = DeltaTable(f"{config.warehouse}/inventory_policy").to_pandas()

    def broken(context):
        raise RuntimeError("disk full")

    monkeypatch.setitem(pipeline.STAGE_FUNCTIONS, "policy", broken)
    with pytest.raises(StageError, match="stage 'policy' failed: disk full"):
        run_pipeline(spark, config, stages=("policy",), run_id=second.run_id)
    after = DeltaTable(f"{config.warehouse}/inventory_policy").to_pandas()
    pd.testing.assert_frame_equal(before, after)
    runs = DeltaTable(f"{config.warehouse}/runs").to_pandas().set_index("stage")
    assert runs.loc["policy", "status"] == "failed" and "disk full" in runs.loc["policy", "message"]

"""Network mode: the echelon placement of one bucket (invspark.stages.echelon) and the store lead
times it hands to the policy stage (invspark.spark.echelon.with_network_lead_times)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from invspark.stages.echelon import ECHELON_SCHEMA, echelon_bucket, tree_nodes
from invspark.stages.policy import PolicySettings


def _stores(n_stores: int, sku: str = "k1", dc_lead_time: float | None = 4.0) -> pd.DataFrame:
    return pd.DataFrame({
        "sku_id": sku,
        "location_id": [f"s{i}" for i in range(n_stores)],
        "dc_id": "dc",
        "lead_time_mean": 0.6,  # one whole period DC -> store
        "demand_std": 1.0,
        "dc_lead_time_mean": dc_lead_time,
        "unit_cost": 52.0,
        "holding_cost_rate": 0.5,
        "segment": "AX-smooth",
        "service_level_target": np.nan,
    })


def test_tree_has_one_dc_node_per_sku_with_its_stores_highest_target():
    stores = pd.concat([_stores(2), _stores(1, sku="k2", dc_lead_time=np.nan)], ignore_index=True)
    stores.loc[1, "service_level_target"] = 0.99
    nodes = tree_nodes(stores, PolicySettings(periods_per_year=52.0), dc_default_lead_time=2.0).set_index(
        ["sku_id", "location_id"]
    )
    assert len(nodes) == 5
    dc = nodes.loc[("k1", "dc")]
    assert dc["processing_time"] == 4.0 and dc["external_service_time"] == 0.0 and pd.isna(dc["source_id"])
    assert dc["z"] == pytest.approx(stats.norm.ppf(0.99))
    assert nodes.loc[("k1", "s0"), "z"] == pytest.approx(stats.norm.ppf(0.98))  # AX of the default matrix
    assert nodes.loc[("k2", "dc"), "processing_time"] == 2.0  # the default lead time
    assert nodes.loc[("k1", "s0"), "processing_time"] == 1.0
    assert nodes["holding_cost"].to_numpy() == pytest.approx(np.full(5, 0.5))  # 52 x 0.5 / 52


def test_dc_holds_stock_only_where_pooling_pays():
    """Two-level tree, DC lead time 4, stores 1, sigma 1 each, equal holding costs and z.
    Two stores: DC stock costs z(sqrt2 x 2 + 2 x 1) = 4.83z against z(2 x sqrt5) = 4.47z without,
    so the DC quotes its full replenishment time and each store protects 1 + 4 periods.
    Four stores: z(2 x 2 + 4 x 1) = 8z against z(4 x sqrt5) = 8.94z, so the DC holds stock and quotes 0."""
    settings = PolicySettings(periods_per_year=52.0)
    two = echelon_bucket(_stores(2), settings, dc_default_lead_time=1.0).set_index("location_id")
    assert (two.loc[["s0", "s1"], "service_time_in"] == 4.0).all()
    assert (two.loc[["s0", "s1"], "net_lead_time"] == 5.0).all()
    assert two.loc["dc", "safety_stock"] == 0.0
    four = echelon_bucket(_stores(4), settings, dc_default_lead_time=1.0).set_index("location_id")
    assert (four.loc[[f"s{i}" for i in range(4)], "service_time_in"] == 0.0).all()
    z = stats.norm.ppf(0.98)
    assert four.loc["dc", "safety_stock"] == pytest.approx(z * 2.0 * 2.0)
    assert four["sku_total_cost"].iloc[0] == pytest.approx(8 * z * 0.5)
    assert four["sku_single_echelon_cost"].iloc[0] >= four["sku_total_cost"].iloc[0]
    assert list(four.reset_index().columns) == ["location_id", *(n for n in ECHELON_SCHEMA.names if n != "location_id")]


def test_empty_bucket_has_the_declared_columns():
    empty = echelon_bucket(_stores(2).iloc[:0], PolicySettings(), dc_default_lead_time=1.0)
    assert list(empty.columns) == ECHELON_SCHEMA.names and empty.empty


@pytest.mark.spark
def test_store_lead_time_grows_by_the_dc_committed_service_time(spark):
    from invspark.spark.echelon import with_network_lead_times

    series = spark.createDataFrame(
        [("k1", "s0", 0.6, 0.1), ("k1", "s1", 0.6, 0.1), ("k2", "s0", 2.0, 0.0)],
        "sku_id string, location_id string, lead_time_mean double, lead_time_std double",
    )
    placement = spark.createDataFrame(
        [("k1", "s0", "store", 4.0, 0.0), ("k1", "s1", "store", 0.0, 0.0), ("k1", "dc", "dc", 0.0, 4.0)],
        "sku_id string, location_id string, echelon string, service_time_in double, service_time_out double",
    )
    result = {
        (r["sku_id"], r["location_id"]): r for r in with_network_lead_times(series, placement).collect()
    }
    assert result[("k1", "s0")]["lead_time_mean"] == pytest.approx(4.6)
    assert result[("k1", "s1")]["lead_time_mean"] == pytest.approx(0.6)
    assert result[("k2", "s0")]["lead_time_mean"] == pytest.approx(2.0)  # no DC: unchanged
    assert result[("k1", "s0")]["lead_time_std"] == pytest.approx(0.1)
    assert with_network_lead_times(series, placement).columns == series.columns

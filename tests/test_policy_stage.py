"""invspark.stages.policy: target / policy resolution and the batch output schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from invspark.errors import ConfigError
from invspark.stages.policy import POLICY_DDL, POLICY_SCHEMA, PolicySettings, policy_batch


def batch(**columns) -> pd.DataFrame:
    n = max(len(v) for v in columns.values() if isinstance(v, list))
    base = dict(sku_id=[f"s{i}" for i in range(n)], location_id="L1", demand_mean=10.0,
                demand_std=2.0, lead_time_mean=1.0, lead_time_std=0.0, review_period=1.0,
                distribution="normal")
    base.update(columns)
    return pd.DataFrame({k: (v if isinstance(v, list) else [v] * n) for k, v in base.items()})


def test_targets_from_abc_xyz_matrix_with_item_override_and_fallback():
    settings = PolicySettings()
    out = policy_batch(batch(
        segment=["AX-smooth", "BZ-lumpy", "new", "CY-erratic", "AY-smooth"],
        service_level_target=[None, None, None, 0.5, None],
        stockout_cost=[None, None, None, None, 3.0],
        holding_cost=0.1,
    ), settings)
    # AX 0.98, BZ 0.93, new -> fallback CZ 0.90, item override 0.5, item stockout cost -> cost mode
    np.testing.assert_allclose(out["service_level_target"][:4], [0.98, 0.93, 0.90, 0.5])
    assert np.isnan(out["service_level_target"][4])
    sigma = 2.0 * np.sqrt(2.0)
    assert out["order_up_to"][0] == pytest.approx(20 + stats.norm.ppf(0.98) * sigma)
    # cost mode, (R,S): critical ratio 3 / (3 + 0.1 * 1)
    assert out["order_up_to"][4] == pytest.approx(20 + stats.norm.ppf(3 / 3.1) * sigma)


def test_stockout_cost_without_holding_cost_keeps_the_matrix_target():
    out = policy_batch(batch(segment=["AX-smooth"], stockout_cost=[3.0]), PolicySettings())
    assert out["service_level_target"][0] == 0.98


def test_abc_and_xyz_columns_win_over_the_segment_text():
    out = policy_batch(batch(segment=["CZ-lumpy"], abc=["A"], xyz=["X"]), PolicySettings())
    assert out["service_level_target"][0] == 0.98


def test_policy_per_segment_with_item_override():
    settings = PolicySettings(default_policy="RS",
                              policy_by_segment={"AX-smooth": "sQ", "BY": "sS"})
    out = policy_batch(batch(segment=["AX-smooth", "BY-erratic", "CZ-lumpy", "AX-smooth"],
                             policy=[None, None, None, "RsS"]), settings)
    assert out["policy"].tolist() == ["sQ", "sS", "RS", "RsS"]


def test_service_level_type_from_settings_unless_given():
    settings = PolicySettings(service_level_type="fill_rate")
    out = policy_batch(batch(segment=["AX-smooth", "AX-smooth"],
                             service_level_type=[None, "csl"]), settings)
    assert out["service_level_type"].tolist() == ["fill_rate", "csl"]
    assert out["expected_fill_rate"][0] >= 0.98 - 1e-9
    assert out["expected_csl"][1] == pytest.approx(0.98)


def test_output_has_exactly_the_declared_schema():
    out = policy_batch(batch(segment=["AX-smooth", "new"], on_hand=[3.0, 0.0]), PolicySettings())
    assert list(out.columns) == POLICY_SCHEMA.names
    table = pa.Table.from_pandas(out, schema=POLICY_SCHEMA, preserve_index=False)
    assert table.num_rows == 2
    assert POLICY_DDL.startswith("sku_id string, location_id string, policy string")
    assert out["exception"].tolist() == [None, None]


@pytest.mark.parametrize("kwargs, match", [
    ({"service_level_type": "p2"}, "service_level_type must be one of"),
    ({"default_policy": "minmax"}, "default_policy must be one of"),
    ({"policy_by_segment": {"AX": "bad"}}, "policy_by_segment\\['AX'\\]"),
    ({"service_level_matrix": {"C": {"Z": 1.2}}}, "strictly between 0 and 1"),
    ({"fallback_xyz": "Q"}, "no target for the fallback class CQ"),
    ({"periods_per_year": 0}, "periods_per_year must be > 0"),
])
def test_settings_reject_bad_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PolicySettings(**kwargs)


@pytest.mark.spark
def test_spark_map_in_arrow_with_the_declared_ddl_equals_the_pandas_path(spark):
    from functools import partial

    settings = PolicySettings(policy_by_segment={"BY": "sQ"})
    pdf = batch(segment=["AX-smooth", "BY-erratic", "new", "CZ-lumpy"],
                distribution=["normal", "poisson", "gamma", "negbin"],
                demand_std=[2.0, 0.0, 3.0, 5.0], on_hand=[4.0, 0.0, 30.0, 1.0],
                case_pack=[1.0, 6.0, 1.0, 1.0])

    def run(batches, settings):
        for record_batch in batches:
            out = policy_batch(record_batch.to_pandas(), settings)
            yield pa.RecordBatch.from_pandas(out, schema=POLICY_SCHEMA, preserve_index=False)

    via_spark = (spark.createDataFrame(pdf).mapInArrow(partial(run, settings=settings), POLICY_DDL)
                 .toPandas().sort_values("sku_id").reset_index(drop=True))
    expected = policy_batch(pdf, settings)
    pd.testing.assert_frame_equal(via_spark, expected, check_dtype=False)


@pytest.mark.spark
def test_spark_pools_segment_targets_per_hash_bucket_of_series(spark):
    from invspark.spark.stage_policy import coupling_bucket, policies_by_bucket

    rng = np.random.default_rng(5)
    n = 240
    mean = rng.gamma(1.0, 1.0, n)
    pdf = pd.DataFrame({
        "sku_id": [f"s{i:03d}" for i in range(n)], "location_id": rng.choice(["L1", "L2"], n), "demand_mean": mean,
        "demand_std": np.sqrt(1.5 * mean), "distribution": "negbin", "lead_time_mean": 1.0, "review_period": 1.0,
        "segment": rng.choice(["AX-smooth", "CZ-lumpy"], n),
    })
    settings = PolicySettings(service_target_scope="segment")
    frame = spark.createDataFrame(pdf)
    bucket = coupling_bucket(by_location=False, n_buckets=3)
    via_spark = policies_by_bucket(frame, settings, bucket).toPandas().sort_values("sku_id").reset_index(drop=True)
    buckets = frame.select("sku_id", bucket.alias("bucket")).toPandas().set_index("sku_id")["bucket"]
    assert buckets.nunique() == 3
    expected = pd.concat([policy_batch(rows, settings) for _, rows in pdf.groupby(pdf["sku_id"].map(buckets))])
    expected = expected.sort_values("sku_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(via_spark, expected, check_dtype=False)
    assert (expected["order_up_to"] < policy_batch(pdf, PolicySettings()).sort_values("sku_id")["order_up_to"].to_numpy()).any()

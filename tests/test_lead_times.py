"""invspark.spark.lead_times: lead-time estimates from receipts with fallbacks and outliers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from invspark.errors import ConfigError, InputDataError
from invspark.spark.lead_times import estimate_lead_times

pytestmark = pytest.mark.spark

ORDER = dt.date(2024, 1, 1)


def receipts_frame(spark, rows):
    """rows: (sku_id, location_id, source_id, lead time in days)."""
    data = [(sku, loc, src, ORDER, ORDER + dt.timedelta(days=d)) for sku, loc, src, d in rows]
    return spark.createDataFrame(
        data, "sku_id string, location_id string, source_id string, order_date date, "
              "receipt_date date")


ROWS = [
    # sku A at L1 from S1: enough receipts of its own
    ("A", "L1", "S1", 7), ("A", "L1", "S1", 14), ("A", "L1", "S1", 21),
    # sku B at L1 from S1: one receipt -> (S1, L1) = {7, 14, 21, 35}
    ("B", "L1", "S1", 35),
    # sku C at L2 from S1: one receipt, (S1, L2) has one -> source S1 = {7, 14, 21, 35, 14}
    ("C", "L2", "S1", 14),
    # sku D at L3 from S2: one receipt anywhere for S2 -> config default
    ("D", "L3", "S2", 3),
    # sku E at L4 from S3: a 90-day receipt among ~10-day ones is an outlier
    ("E", "L4", "S3", 10), ("E", "L4", "S3", 10), ("E", "L4", "S3", 11), ("E", "L4", "S3", 10),
    ("E", "L4", "S3", 9), ("E", "L4", "S3", 90),
    # a receipt before its order is ignored (validation quarantines it upstream)
    ("A", "L1", "S1", -4),
    # no source given: the unknown source is a source of its own, (none, L7) = {14, 28, 21}
    ("N1", "L7", None, 14), ("N2", "L7", None, 28), ("N3", "L7", None, 21),
]


@pytest.fixture(scope="module")
def weekly(spark):
    out = estimate_lead_times(receipts_frame(spark, ROWS), frequency="W", min_samples=3,
                              default_lead_time_days=7.0, default_lead_time_std_days=3.5)
    return {row["sku_id"]: row for row in out.collect()}


def test_one_row_per_pair_with_the_fallback_level(weekly):
    assert sorted(weekly) == ["A", "B", "C", "D", "E", "N1", "N2", "N3"]
    levels = {sku: row["lead_time_level"] for sku, row in weekly.items()}
    assert levels == {"A": "sku_location", "B": "source_location", "C": "source",
                      "D": "default", "E": "sku_location", "N1": "source_location",
                      "N2": "source_location", "N3": "source_location"}


def test_sku_location_estimate_in_weeks(weekly):
    a = weekly["A"]
    assert a["lead_time_mean"] == pytest.approx(2.0)      # 14 days
    assert a["lead_time_std"] == pytest.approx(1.0)       # sample std 7 days
    assert a["lead_time_samples"] == 3 and a["lead_time_outliers"] == 0
    assert a["lead_time_p50"] == pytest.approx(2.0) and a["lead_time_max"] == pytest.approx(3.0)


def test_fallback_levels_pool_the_right_receipts(weekly):
    assert weekly["B"]["lead_time_mean"] == pytest.approx(np.mean([7, 14, 21, 35]) / 7)
    assert weekly["B"]["lead_time_std"] == pytest.approx(np.std([7, 14, 21, 35], ddof=1) / 7)
    assert weekly["C"]["lead_time_mean"] == pytest.approx(np.mean([7, 14, 21, 35, 14]) / 7)
    assert weekly["C"]["lead_time_samples"] == 5
    d = weekly["D"]
    assert (d["lead_time_mean"], d["lead_time_std"], d["lead_time_samples"]) == (1.0, 0.5, 0)


def test_outlier_is_dropped_and_reported(weekly):
    e = weekly["E"]
    assert e["lead_time_outliers"] == 1
    assert e["lead_time_samples"] == 5
    assert e["lead_time_mean"] == pytest.approx(10.0 / 7)
    assert e["lead_time_max"] == pytest.approx(11.0 / 7)


def test_months_conversion(spark):
    # A month is 365.25 / 12 days (weeks are checked above; a day is 1 day).
    receipts = receipts_frame(spark, [("A", "L1", "S1", 30), ("A", "L1", "S1", 31),
                                      ("A", "L1", "S1", 32)])
    monthly = estimate_lead_times(receipts, frequency="M", min_samples=3).first()
    assert monthly["lead_time_mean"] == pytest.approx(31.0 / (365.25 / 12))
    assert monthly["lead_time_std"] == pytest.approx(1.0 / (365.25 / 12))


def test_targets_without_receipts_fall_back_through_their_source(spark):
    receipts = receipts_frame(spark, ROWS)
    targets = spark.createDataFrame(
        [("Z", "L1", "S1"), ("Y", "L9", None), ("A", "L1", None)],
        "sku_id string, location_id string, source_id string")
    out = {r["sku_id"]: r for r in estimate_lead_times(receipts, "W", 3, 7.0,
                                                        targets=targets).collect()}
    assert sorted(out) == ["A", "Y", "Z"]
    assert out["Z"]["lead_time_level"] == "source_location"
    assert out["Z"]["lead_time_mean"] == pytest.approx(np.mean([7, 14, 21, 35]) / 7)
    assert out["Y"]["lead_time_level"] == "default"   # no source known, no receipts
    assert out["A"]["source_id"] == "S1"              # most frequent source of the pair


def test_null_source_is_its_own_source(weekly):
    n1 = weekly["N1"]
    assert n1["source_id"] is None
    assert n1["lead_time_mean"] == pytest.approx(3.0)
    assert n1["lead_time_samples"] == 3


def test_bad_arguments_raise(spark):
    receipts = receipts_frame(spark, ROWS[:1])
    with pytest.raises(ConfigError, match="frequency must be one of"):
        estimate_lead_times(receipts, frequency="Q")
    with pytest.raises(ConfigError, match="min_samples"):
        estimate_lead_times(receipts, frequency="W", min_samples=0)
    with pytest.raises(InputDataError, match="receipts lacks columns \\['receipt_date'\\]"):
        estimate_lead_times(receipts.drop("receipt_date"), frequency="W")


def test_random_receipts_match_the_pandas_reference_loop(spark):
    import pandas as pd
    from reference import lead_times_reference

    rng = np.random.default_rng(5)
    n = 90
    days = np.round(rng.gamma(4.0, 3.0, n)).astype(int)
    days[rng.random(n) < 0.06] += 120  # a few late deliveries
    rows = list(zip(rng.choice(["a", "b", "c", "d", "e", "f"], n),
                    rng.choice(["L1", "L2", "L3", "L4"], n),
                    rng.choice(["S1", "S2", "S3"], n, p=[0.6, 0.3, 0.1]), days.tolist()))
    out = estimate_lead_times(receipts_frame(spark, rows), "W", min_samples=4,
                              default_lead_time_days=10.0, default_lead_time_std_days=2.0)
    got = out.toPandas().sort_values(["sku_id", "location_id"]).reset_index(drop=True)
    expected = lead_times_reference.estimate(
        pd.DataFrame(rows, columns=["sku_id", "location_id", "source_id", "days"]), 7.0, 4,
        10.0, 2.0).sort_values(["sku_id", "location_id"]).reset_index(drop=True)
    assert set(expected["lead_time_level"]) >= {"sku_location", "source_location"}
    assert expected["lead_time_outliers"].sum() > 0
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)

"""The Spark side of the series panel: ABC classes from a fixed log-value histogram."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from invspark.spark.panel import abc_classes

pytestmark = pytest.mark.spark


def test_abc_classes_follow_the_pareto_shares_of_last_years_value(spark):
    """Values 1000, 500, 200 | 100, 50, 50 | 40, 30, 20, 10 (total 2000): the top three reach 85%
    of the value (A closes at 80%), the next three 95% (B), the rest is C; a series without sales
    in the last year is C."""
    values = [1000, 500, 200, 100, 50, 50, 40, 30, 20, 10]
    rows = [(f"sku{i}", "store1", 60, float(v) / 2.0, 2.0) for i, v in enumerate(values)]
    rows.append(("old", "store1", 1, 99999.0, 1.0))  # sold before the last 52 periods only
    per_period = spark.createDataFrame(rows, "sku_id string, location_id string, t int, units double, price double")
    grid = SimpleNamespace(n_periods=104)
    config = SimpleNamespace(periods_per_year=52.0)
    classes = {r["sku_id"]: r["abc"] for r in abc_classes(per_period, None, grid, config).collect()}
    assert [classes[f"sku{i}"] for i in range(len(values))] == list("AAABBBCCCC")
    assert "old" not in classes  # no recent value row: the panel's left join leaves it null -> C

"""Each validation rule quarantines the row it should, with its reason; nothing is dropped."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from invspark.spark.validate import validate_inputs

pytestmark = pytest.mark.spark

RUN_DATE = dt.date(2024, 3, 6)  # a Wednesday
D = dt.date


def sales_rows():
    good = [
        ("S1", "L1", D(2024, 1, 3), 5.0, 2.0, 0, 3.0, 10.0),
        ("S1", "L1", D(2024, 1, 10), 4.0, 2.0, 1, 0.0, 8.0),  # a stockout row: on_hand 0 is fine
        ("S2", "L1", D(2024, 1, 3), 1.0, None, None, None, None),
        ("S2", "L1", D(2024, 1, 3), 2.0, None, None, None, None),  # same key, other values: summed later
    ]
    bad = [
        (None, "L1", D(2024, 1, 3), 1.0, None, None, None, None, "null_sku_id"),
        ("S1", "", D(2024, 1, 3), 1.0, None, None, None, None, "null_location_id"),
        ("S1", "L1", None, 1.0, None, None, None, None, "null_date"),
        ("S1", "L1", D(2024, 1, 17), -2.0, None, None, None, None, "negative_units"),
        ("S1", "L1", D(2024, 1, 24), 1.0, -1.0, None, None, None, "negative_price"),
        ("S1", "L1", D(2024, 1, 31), 1.0, None, 3, None, None, "invalid_promo"),
        ("S1", "L1", D(2024, 3, 6), 1.0, None, None, None, None, "after_run_date"),
        ("S1", "L1", D(2024, 1, 4), 1.0, None, None, None, None, "off_grid_date"),  # a Thursday
        ("S1", "L1", D(2024, 1, 3), 5.0, 2.0, 0, 3.0, 10.0, "duplicate_row"),  # exact copy of the first row
    ]
    return good, bad


SALES_DDL = "sku_id string, location_id string, date date, units double, price double, promo int, on_hand double, revenue double"


def test_sales_rules_each_quarantine_their_row(spark):
    good, bad = sales_rows()
    raw = spark.createDataFrame(good + [row[:-1] for row in bad], SALES_DDL)
    validation = validate_inputs(spark, {"sales": raw}, RUN_DATE, "W")
    tables, counts = validation.tables, validation.counts
    quarantine = tables["sales"].quarantine.collect()
    assert sorted(r["reason"] for r in quarantine) == sorted(row[-1] for row in bad)
    assert tables["sales"].clean.count() == len(good)
    assert counts.rows_in["sales"] == len(good) + len(bad) == counts.total_in
    assert counts.rows_quarantined["sales"] == len(bad)
    negative = next(r for r in quarantine if r["reason"] == "negative_units")
    assert json.loads(negative["record"])["units"] == -2.0 and negative["source"] == "sales"


def test_unparseable_csv_values_are_quarantined_not_nulled(spark, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(
        "SKU_ID,location_id,date,units\n"
        "S1,L1,2024-01-03,5\n"
        "S1,L1,03/01/2024,5\n"
        "S1,L1,2024-01-10,five\n"
        "S1,L1,2024-01-17,\n"
    )
    raw = spark.read.option("header", "true").csv(str(path))
    raw = raw.toDF(*[c.lower() for c in raw.columns])
    validation = validate_inputs(spark, {"sales": raw}, RUN_DATE, "D")
    tables, counts = validation.tables, validation.counts
    reasons = sorted(r["reason"] for r in tables["sales"].quarantine.collect())
    assert reasons == ["invalid_date", "invalid_units", "null_units"]
    clean = tables["sales"].clean.collect()
    assert len(clean) == 1 and clean[0]["units"] == 5.0 and clean[0]["date"] == D(2024, 1, 3)
    assert counts.total_in == 4


def test_master_and_dependent_table_rules(spark):
    sales = spark.createDataFrame([("S1", "L1", D(2024, 1, 3), 1.0)], "sku_id string, location_id string, date date, units double")
    items = spark.createDataFrame(
        [("S1", 2.0, 1, 0.95), ("S1", 3.0, 1, 0.95), ("S2", -1.0, 1, None), ("S3", 1.0, 0, None), ("S4", 1.0, 6, 1.5)],
        "sku_id string, unit_cost double, case_pack int, service_level_target double",
    )
    locations = spark.createDataFrame(
        [("L1", "store", "DC1"), ("DC1", "dc", None), ("L2", "store", "NOWHERE"), ("L3", "shop", None)],
        "location_id string, location_type string, source_id string",
    )
    inventory = spark.createDataFrame(
        [("S1", "L1", 3.0, 0.0), ("S9", "L1", 1.0, 0.0), ("S1", "L9", 1.0, 0.0), ("S1", "L1", 4.0, 0.0), ("S4", "L1", 1.0, -1.0)],
        "sku_id string, location_id string, on_hand double, on_order double",
    )
    receipts = spark.createDataFrame(
        [("S1", "L1", D(2024, 1, 1), D(2024, 1, 5)), ("S1", "L1", D(2024, 1, 9), D(2024, 1, 2))],
        "sku_id string, location_id string, order_date date, receipt_date date",
    )
    dc_supply = spark.createDataFrame([("S1", "DC1", 10.0), ("S1", "DCX", 5.0), ("S1", "L1", -1.0)], "sku_id string, dc_id string, available_units double")
    raw = {"sales": sales, "items": items, "locations": locations, "inventory": inventory, "receipts": receipts, "dc_supply": dc_supply}
    validation = validate_inputs(spark, raw, RUN_DATE, "D")
    tables, counts = validation.tables, validation.counts
    reasons = {name: sorted(r["reason"] for r in t.quarantine.collect()) for name, t in tables.items()}
    assert reasons["items"] == ["duplicate_key", "invalid_case_pack", "invalid_service_level_target", "negative_unit_cost"]
    assert reasons["locations"] == ["invalid_location_type", "unknown_source_location"]
    assert reasons["inventory"] == ["duplicate_key", "negative_on_order", "unknown_location", "unknown_sku"]
    assert reasons["receipts"] == ["receipt_before_order"]
    assert reasons["dc_supply"] == ["negative_available_units", "unknown_dc"]
    for name, table in tables.items():
        assert table.clean.count() + counts.rows_quarantined[name] == counts.rows_in[name] == raw[name].count()
    kept_item = tables["items"].clean.where(F.col("sku_id") == "S1").collect()
    assert len(kept_item) == 1


def test_a_key_keeps_its_first_row_by_json_and_tells_copies_from_other_values(spark):
    sales = spark.createDataFrame([("S7", "L1", D(2024, 1, 3), 1.0)], "sku_id string, location_id string, date date, units double")
    # By JSON the 1.0 row comes first; the two 2.0 rows are copies of each other.
    items = spark.createDataFrame(
        [("S7", 2.0, 1), ("S7", 1.0, 1), ("S7", 2.0, 1), ("S8", 5.0, 1), ("S8", 5.0, 1)],
        "sku_id string, unit_cost double, case_pack int",
    )
    validation = validate_inputs(spark, {"sales": sales, "items": items}, RUN_DATE, "D")
    table = validation.tables["items"]
    reasons = sorted((r["reason"], json.loads(r["record"])["sku_id"]) for r in table.quarantine.collect())
    assert reasons == [("duplicate_key", "S7"), ("duplicate_row", "S7"), ("duplicate_row", "S8")]
    kept = {r["sku_id"]: r["unit_cost"] for r in table.clean.collect()}
    assert kept == {"S7": 1.0, "S8": 5.0}
    validation.release()

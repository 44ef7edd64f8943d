"""The HTML run report: figures from tiny Delta tables (written with deltalake, no Spark), sections, charts."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from invspark.errors import ConfigError, InputDataError
from invspark.report import build_report, report_main
from invspark.report import build as report_build
from invspark.report import charts

OLD, NEW = dt.date(2024, 1, 1), dt.date(2024, 1, 8)
SVG = "{http://www.w3.org/2000/svg}"


def _write(warehouse: Path, name: str, rows: dict[dt.date, dict[str, list]], types: dict[str, pa.DataType]) -> None:
    """Table `name` with one partition per run_date; every row gets its run's run_id and run_date."""
    batches = []
    for run_date, columns in rows.items():
        n = len(next(iter(columns.values())))
        data = {"run_id": [f"run-{run_date}"] * n, "run_date": [run_date] * n, **columns}
        schema = pa.schema([("run_id", pa.string()), ("run_date", pa.date32())] + [(c, types.get(c, pa.float64())) for c in columns])
        batches.append(pa.table(data, schema=schema))
    write_deltalake(str(warehouse / name), pa.concat_tables(batches), partition_by=["run_date"])


def _runs(stages: list[str], run_date: dt.date, start: dt.datetime) -> dict[str, list]:
    return {
        "stage": stages,
        "status": ["succeeded"] * len(stages),
        "started_at": [start + dt.timedelta(seconds=10 * i) for i in range(len(stages))],
        "finished_at": [start + dt.timedelta(seconds=10 * i + 4) for i in range(len(stages))],
        "rows_in": [1000, 4, 4, 4][: len(stages)],
        "rows_out": [996, 52, 4, 3][: len(stages)],
        "rows_quarantined": [4, 0, 0, 0][: len(stages)],
    }


def write_warehouse(root: Path, with_simulation: bool) -> Path:
    """Two runs; the older one has large numbers everywhere, so any leak into NEW's report shows."""
    warehouse = root / "warehouse"
    text = pa.string()
    ts = pa.timestamp("us")
    counts = {"rows_in": pa.int64(), "rows_out": pa.int64(), "rows_quarantined": pa.int64()}
    _write(warehouse, "runs", {
        OLD: _runs(["ingest"], OLD, dt.datetime(2024, 1, 1, 6)),
        NEW: _runs(["ingest", "forecast", "policy", "allocate"], NEW, dt.datetime(2024, 1, 8, 6)),
    }, {"stage": text, "status": text, "started_at": ts, "finished_at": ts, **counts})
    _write(warehouse, "quarantine", {
        OLD: {"source": ["sales"] * 50, "reason": ["null_date"] * 50, "record": ['{"old": 1}'] * 50},
        NEW: {
            "source": ["sales", "sales", "sales", "receipts"],
            "reason": ["null_sku_id", "null_sku_id", "null_sku_id", "receipt_before_order"],
            "record": ['{"units": 1}', '{"units": 2}', '{"units": 3}', '{"order_date": "2023-05-02", "receipt_date": "2023-05-01"}'],
        },
    }, {"source": text, "reason": text, "record": text})
    _write(warehouse, "stage_items", {
        OLD: {"sku_id": ["A"], "unit_cost": [1000.0]},
        NEW: {"sku_id": ["A", "B", "C"], "unit_cost": [2.0, 10.0, None]},
    }, {"sku_id": text})
    _write(warehouse, "inventory_policy", {
        OLD: {
            "sku_id": ["A"], "location_id": ["S9"], "policy": ["sQ"], "demand_mean": [999.0], "safety_stock": [1e6],
            "reorder_point": [1.0], "inventory_position": [0.0], "recommended_order_qty": [1e6],
            "expected_fill_rate": [0.1], "expected_csl": [0.1], "exception": ["old_flag"],
        },
        NEW: {
            "sku_id": ["A", "B", "B", "C"],
            "location_id": ["S1", "S1", "S2<b>", "S1"],
            "policy": ["RS", "RS", "sQ", "RS"],
            "demand_mean": [10.0, 30.0, 0.0, 20.0],
            "safety_stock": [10.0, 5.0, 4.0, 3.0],
            "reorder_point": [40.0, 90.0, 4.0, 60.0],
            "inventory_position": [30.0, -2.0, -5.0, 70.0],
            "recommended_order_qty": [20.0, 0.0, 100.0, 7.0],
            "expected_fill_rate": [0.99, 0.95, float("nan"), 0.90],
            "expected_csl": [0.95, 0.90, None, 0.80],
            "exception": [None, "negative_inventory", "order_far_above_typical;negative_inventory", "lead_time_missing"],
        },
    }, {"sku_id": text, "location_id": text, "policy": text, "exception": text})
    fold = pa.int32()
    _write(warehouse, "forecast_accuracy", {
        OLD: {"model": ["naive"], "segment": ["AX-smooth"], "fold": [0], "wape": [9.0], "rmsse": [50.0], "bias": [0.0], "pinball": [1.0], "coverage_p90": [0.5]},
        NEW: {
            "model": ["ensemble", "ensemble", "naive", "naive", "croston", "croston", "croston", "croston", "naive", "naive"],
            "segment": ["AX-smooth"] * 6 + ["CZ-lumpy"] * 4,
            "fold": [0, 1] * 5,
            "wape": [0.2, 0.3, 0.4, 0.5, 0.25, 0.25, 0.6, 0.8, 0.9, 0.9],
            "rmsse": [0.8, 0.6, 1.0, 1.2, 0.65, 0.65, 0.9, 1.1, 1.3, 1.3],
            "bias": [0.01, 0.03, 0.0, 0.0, 0.0, 0.0, -0.1, -0.1, 0.0, 0.0],
            "pinball": [1.0] * 10,
            "coverage_p90": [0.9] * 10,
        },
    }, {"model": text, "segment": text, "fold": fold})
    _write(warehouse, "demand_distribution", {
        OLD: {"sku_id": ["A"], "location_id": ["S9"], "segment": ["AX-smooth"], "model": ["naive"]},
        NEW: {
            "sku_id": ["A", "B", "C", "D", "E", "F"],
            "location_id": ["S1"] * 6,
            "segment": ["AX-smooth"] * 4 + ["CZ-lumpy"] * 2,
            "model": ["ensemble", "ensemble", "ensemble", "naive", "croston", "croston"],
        },
    }, {"sku_id": text, "location_id": text, "segment": text, "model": text})
    _write(warehouse, "allocation", {
        OLD: {"sku_id": ["A"], "dc_id": ["DC9"], "location_id": ["S9"], "requested_units": [1e6], "allocated_units": [1e6],
              "fair_share_units": [1e6], "expected_units_sold": [1e6], "expected_units_sold_fair_share": [0.0]},
        NEW: {
            "sku_id": ["A", "B", "C"], "dc_id": ["DC1", "DC1", "DC2"], "location_id": ["S1", "S2", "S1"],
            "requested_units": [10.0, 5.0, 20.0], "allocated_units": [8.0, 2.0, 20.0], "fair_share_units": [6.0, 4.0, 20.0],
            "expected_units_sold": [7.0, 2.0, 15.0], "expected_units_sold_fair_share": [5.5, 3.0, 15.0],
        },
    }, {"sku_id": text, "dc_id": text, "location_id": text})
    _write(warehouse, "echelon_policy", {
        NEW: {
            "sku_id": ["A", "A", "B", "B"], "location_id": ["DC1", "S1", "DC1", "S2"], "echelon": ["dc", "store", "dc", "store"],
            "safety_stock": [6.0, 2.0, 0.0, 3.0], "sku_total_cost": [3.0, 3.0, 2.0, 2.0], "sku_single_echelon_cost": [5.0, 5.0, 2.0, 2.0],
        },
    }, {"sku_id": text, "location_id": text, "echelon": text})
    if with_simulation:
        _write(warehouse, "policy_simulation", {
            NEW: {
                "policy": ["invspark"] * 4 + ["static_cover"] * 4,
                "segment": ["AX-smooth", "CZ-lumpy"] * 4,
                "service_level_target": [0.90, 0.90, 0.95, 0.95, 1.0, 1.0, 2.0, 2.0],  # static_cover: weeks of cover
                "fill_rate": [0.93, 0.89, 0.97, 0.95, 0.90, 0.86, 0.94, 0.90],
                "csl": [0.9, 0.88, 0.95, 0.93, 0.85, 0.8, 0.9, 0.86],
                "avg_on_hand": [10.0, 20.0, 14.0, 26.0, 15.0, 25.0, 20.0, 32.0],
                "stockout_periods": [3.0, 5.0, 1.0, 2.0, 4.0, 6.0, 2.0, 4.0],
                "holding_cost": [1.0, 2.0, 1.4, 2.6, 1.5, 2.5, 2.0, 3.2],
                "n_series": [3, 1] * 4,
            },
        }, {"policy": text, "segment": text, "n_series": pa.int64()})
    return warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return write_warehouse(tmp_path_factory.mktemp("report"), with_simulation=True)


@pytest.fixture(scope="module")
def report_html(warehouse, tmp_path_factory) -> str:
    path = build_report(str(warehouse), out_path=str(tmp_path_factory.mktemp("out") / "report.html"))
    return path.read_text()


def section_text(html: str, section_id: str) -> str:
    """The visible text of `<section id=...>`, tags dropped and whitespace collapsed."""
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', html, re.S)
    assert match, f"section {section_id!r} missing"
    body = re.sub(r"<svg.*?</svg>", " ", match.group(1), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def section_svgs(html: str, section_id: str) -> list[ET.Element]:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', html, re.S)
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", match.group(1), re.S)]


def test_latest_run_is_the_default_and_older_runs_do_not_leak(warehouse, report_html):
    assert report_build.latest_run_date(str(warehouse)) == NEW
    assert "run date <strong>2024-01-08</strong>" in report_html
    assert "old_flag" not in report_html and "DC9" not in report_html and '{"old": 1}' not in report_html


def test_headline_kpis_are_the_hand_computed_aggregates(report_html):
    kpis = section_text(report_html, "kpis")
    assert "Series 4 " in kpis
    # Safety stock value: 10 x 2 + 5 x 10 + 4 x 10 (C has no unit cost) = 110; 22 units.
    assert "Safety stock value 110 22 units at unit cost; 1 series without a cost left out" in kpis
    # Fill rate weighted by mean demand over rows with a level and demand > 0:
    # (0.99 x 10 + 0.95 x 30 + 0.90 x 20) / 60 = 0.94; CSL (0.95 x 10 + 0.90 x 30 + 0.80 x 20) / 60 = 0.875.
    assert "Expected fill rate 94.0%" in kpis
    assert "Expected cycle service level 87.5%" in kpis
    # Orders: 20 + 100 + 7 units on 3 series; value 20 x 2 + 100 x 10 = 1,040 (C unpriced).
    assert "Orders recommended 3 127 units, value 1.04 k" in kpis
    assert "Policies with exceptions 3 75.0% of series" in kpis
    assert "Quarantined input rows 4 0.40% of 1,000 rows read" in kpis
    assert "Run time 16.0 s 4 stages" in kpis


def test_stage_timings_come_from_runs(report_html):
    stages = section_text(report_html, "stages")
    assert "ingest succeeded 2024-01-08 06:00:00 UTC 4.0 s 1,000 996 4" in stages
    assert stages.index("forecast") < stages.index("policy") < stages.index("allocate")


def test_forecast_accuracy_champion_per_segment_and_weighted_rmsse(warehouse):
    tables = report_build.open_run_tables(str(warehouse), NEW)
    accuracy = report_build.forecast_accuracy(tables)
    segments = {row["segment"]: row for row in accuracy["segments"]}
    # AX-smooth: 3 of 4 series use ensemble, whose mean RMSSE over folds is (0.8 + 0.6) / 2;
    # croston has the best backtest (0.65) without being chosen.
    assert segments["AX-smooth"]["champion"] == "ensemble"
    assert segments["AX-smooth"]["champion_share"] == pytest.approx(0.75)
    assert segments["AX-smooth"]["rmsse"] == pytest.approx(0.7)
    assert (segments["AX-smooth"]["best_model"], segments["AX-smooth"]["best_rmsse"]) == ("croston", pytest.approx(0.65))
    assert (segments["CZ-lumpy"]["champion"], segments["CZ-lumpy"]["rmsse"]) == ("croston", pytest.approx(1.0))
    # Over segments, weighted by series (AX-smooth 4, CZ-lumpy 2); ensemble is only scored on AX-smooth.
    overall = {row["model"]: row["rmsse"] for row in accuracy["overall"]}
    assert overall["ensemble"] == pytest.approx(0.7)
    assert overall["croston"] == pytest.approx((0.65 * 4 + 1.0 * 2) / 6)
    assert overall["naive"] == pytest.approx((1.1 * 4 + 1.3 * 2) / 6)
    assert [row["model"] for row in accuracy["overall"]] == ["ensemble", "croston", "naive"]


def test_forecast_accuracy_section_has_table_and_rmsse_bars(report_html):
    text = section_text(report_html, "accuracy")
    assert "AX-smooth 4 ensemble 75% 0.700 25.0% 2.0% 90% croston (0.650)" in text
    model_chart = section_svgs(report_html, "accuracy")[0]
    bars = {bar.find(f"{SVG}title").text.split(":")[0]: float(bar.get("width")) for bar in model_chart.iter(f"{SVG}rect")}
    assert bars["naive"] / bars["ensemble"] == pytest.approx(((1.1 * 4 + 1.3 * 2) / 6) / 0.7, rel=1e-2)


def test_frontier_draws_one_line_per_policy_in_increasing_holding_cost(report_html):
    (chart,) = section_svgs(report_html, "frontier")
    lines = {line.get("data-name"): line.get("points") for line in chart.iter(f"{SVG}polyline") if line.get("data-name")}
    assert set(lines) == {"invspark", "static_cover"}
    points = [tuple(map(float, p.split(","))) for p in lines["invspark"].split()]
    # Two targets per policy; the 95% target costs more (x right) and serves more (y up: smaller SVG y).
    assert len(points) == 2 and points[0][0] < points[1][0] and points[0][1] > points[1][1]
    labels = [t.text for t in chart.iter(f"{SVG}text") if t.get("class") == "point-label"]
    # static_cover at 2 weeks costs 5.2, beyond 1.25 x invspark's costliest point (4.0): left out
    # of the chart, kept in the table.
    assert sorted(labels) == ["1 wk", "90%", "95%"]
    assert [len(p.split()) for name, p in sorted(lines.items())] == [2, 1]
    assert "1 baseline point beyond 5.00 (holding cost, all segments) left out" in section_text(report_html, "frontier")
    text = section_text(report_html, "frontier")
    # Segments weighted by series (3 and 1): fill (0.97 x 3 + 0.95) / 4, CSL (0.95 x 3 + 0.93) / 4,
    # units on hand 14 x 3 + 26, holding cost 1.4 + 2.6, stockout periods (1 x 3 + 2) / 4.
    assert "invspark 95% 4 96.5% 94.5% 68 4.00 1.2" in text
    assert "static_cover 2 wk 4 93.0% 89.0% 92 5.20 2.5" in text


def test_frontier_says_not_run_without_policy_simulation(tmp_path):
    warehouse = write_warehouse(tmp_path, with_simulation=False)
    html = build_report(str(warehouse), NEW, str(tmp_path / "r.html")).read_text()
    assert "Not run: policy_simulation has no rows for this date." in section_text(html, "frontier")
    assert section_svgs(html, "frontier") == []


def test_allocation_and_echelon_savings(report_html):
    text = section_text(report_html, "network")
    assert "Units allocated 30 of 35 requested by 2 stores from 2 DCs" in text
    assert "Fair-share units 30 4 units placed differently" in text
    assert "Expected units sold 24 fair share: 23.5" in text
    assert "Expected sales gain 0.5 units vs fair-share allocation (2.1%)" in text
    assert "DC1 15 10 10 0.5" in text
    # Per SKU (not per row): optimal 3 + 2, single-echelon 5 + 2.
    assert "Multi-echelon cost 5.00" in text and "Single-echelon cost 7.00" in text
    assert "Savings 2.00 28.6% of single-echelon cost" in text


def test_exceptions_counted_per_flag_and_top_rows_by_order_value(report_html):
    text = section_text(report_html, "exceptions")
    assert "negative_inventory 2" in text and "order_far_above_typical 1" in text and "lead_time_missing 1" in text
    top = text[text.index("Top 3 flagged rows"):]
    # B/S2 orders 100 x 10 = 1,000; B/S1 orders nothing (value 0); C/S1 has no cost (last).
    assert top.index("S2<b>") < top.index("B S1") < top.index("C S1")
    assert "1.00 k" in top
    assert "S2&lt;b&gt;" in report_html and "S2<b>" not in report_html


def test_input_quality_counts_and_examples(report_html):
    text = section_text(report_html, "quality")
    assert "4 input rows set aside" in text
    assert "sales null_sku_id 3" in text and "receipts receipt_before_order 1" in text
    examples = text[text.index("Example records"):]
    # One example per reason first, then more of the same reasons, five at most.
    assert examples.count("receipt_before_order") == 1 and examples.count("null_sku_id") == 3


def test_failed_stage_shows_its_message_and_later_sections_say_not_run(tmp_path):
    warehouse = tmp_path / "warehouse"
    runs = _runs(["ingest", "forecast"], NEW, dt.datetime(2024, 1, 8, 6))
    runs["status"] = ["succeeded", "failed"]
    runs["message"] = [None, "bucket 3: 'units' has no rows"]
    ts = pa.timestamp("us")
    _write(warehouse, "runs", {NEW: runs}, {
        "stage": pa.string(), "status": pa.string(), "started_at": ts, "finished_at": ts, "message": pa.string(),
        "rows_in": pa.int64(), "rows_out": pa.int64(), "rows_quarantined": pa.int64(),
    })
    html = build_report(str(warehouse), None, str(tmp_path / "r.html")).read_text()
    assert "forecast failed 2024-01-08 06:00:10 UTC 4.0 s 4 52 0 bucket 3: 'units' has no rows" in section_text(html, "stages")
    assert "Run time 8.0 s 2 stages, 1 failed" in section_text(html, "kpis")
    assert "Not run: forecast_accuracy has no rows" in section_text(html, "accuracy")
    assert "Not run: inventory_policy has no rows" in section_text(html, "exceptions")
    assert "No input row was quarantined." in section_text(html, "quality")


def test_accuracy_without_demand_distribution_weights_segments_equally(tmp_path):
    source = write_warehouse(tmp_path / "full", with_simulation=False)
    warehouse = tmp_path / "partial"
    for name in ("runs", "forecast_accuracy"):
        write_deltalake(str(warehouse / name), DeltaTable(str(source / name)).to_pyarrow_table(), partition_by=["run_date"])
    tables = report_build.open_run_tables(str(warehouse), NEW)
    accuracy = report_build.forecast_accuracy(tables)
    overall = {row["model"]: row["rmsse"] for row in accuracy["overall"]}
    assert overall["naive"] == pytest.approx((1.1 + 1.3) / 2)
    assert all(row["champion"] is None for row in accuracy["segments"])
    html = build_report(str(warehouse), NEW, str(tmp_path / "r.html")).read_text()
    assert "AX-smooth – – – – – – – croston (0.650)" in section_text(html, "accuracy")


def test_report_is_self_contained(report_html):
    assert "<script" not in report_html and "<link" not in report_html and "@import" not in report_html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report_html)
    assert "url(" not in report_html
    for section_id in ("kpis", "stages", "accuracy", "frontier", "network", "exceptions", "quality"):
        for svg in section_svgs(report_html, section_id):
            assert svg.tag == f"{SVG}svg"


def test_report_does_not_open_files_of_other_runs(tmp_path):
    warehouse = write_warehouse(tmp_path, with_simulation=False)
    table = DeltaTable(str(warehouse / "inventory_policy"))
    (old_file,) = table.file_uris(file_pruning_predicate=[("run_date", "=", OLD)])
    Path(old_file).write_bytes(b"not a parquet file")
    html = build_report(str(warehouse), NEW, str(tmp_path / "r.html")).read_text()
    assert "Series 4 " in section_text(html, "kpis")
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(old_file)


def test_filters_on_float_columns_see_rows_despite_missing_min_max_stats(tmp_path):
    """The pipeline's Delta log leaves min/max out for float columns; a filter must still match."""
    warehouse = write_warehouse(tmp_path, with_simulation=False)
    path = warehouse / "inventory_policy"
    log_file = sorted((path / "_delta_log").glob("*.json"))[-1]
    lines = log_file.read_text().splitlines()
    stripped = [re.sub(r'\\"(min|max)Values\\":\{[^}]*\}', r'\\"\1Values\\":{}', line) for line in lines]
    assert stripped != lines
    log_file.write_text("\n".join(stripped) + "\n")
    tables = report_build.open_run_tables(str(warehouse), NEW)
    assert tables.row("SELECT count(*) AS n FROM inventory_policy WHERE demand_mean > 0")["n"] == 3


def test_unknown_run_date_and_empty_warehouse_raise_with_the_fix(warehouse, tmp_path):
    with pytest.raises(InputDataError, match=r"run_date=2023-12-25 has no rows .*\(latest: 2024-01-08\)"):
        build_report(str(warehouse), dt.date(2023, 12, 25), str(tmp_path / "r.html"))
    with pytest.raises(InputDataError, match="has no 'runs' table; run the pipeline first"):
        build_report(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="run_date='Jan 8' is not a date; write it as YYYY-MM-DD"):
        build_report(str(warehouse), "Jan 8", str(tmp_path / "r.html"))


def test_report_main_writes_beside_the_warehouse_and_prints_the_path(warehouse, tmp_path, capsys):
    sales = tmp_path / "sales.parquet"
    pq.write_table(pa.table({"sku_id": ["A"], "location_id": ["S1"], "date": [NEW], "units": [1.0]}), sales)
    config = tmp_path / "run.yaml"
    config.write_text(
        f"run_date: 2024-01-08\nfrequency: W\nhorizon: 4\nwarehouse: {warehouse}\n"
        f"inputs:\n  sales: {{path: {sales}}}\n"
    )
    path = report_main(str(config), "2024-01-01")
    assert path == warehouse / "reports" / "report-2024-01-01.html"
    assert path.is_file() and f"run report: {path}" in capsys.readouterr().out
    assert "run date <strong>2024-01-01</strong>" in path.read_text()
    assert report_main(str(config), None) == warehouse / "reports" / "report-2024-01-08.html"  # the latest run


@pytest.mark.parametrize(("value", "expected"), [
    (1234567, "1,234,567"), (None, "–"), (float("nan"), "–"),
])
def test_fmt_count(value, expected):
    assert report_build.fmt_count(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (950, "950"), (12_340, "12.3 k"), (4_560_000, "4.56 M"), (1_000_000, "1.00 M"), (7.5, "7.50"), (0.0, "0"),
    (-2_500, "-2.50 k"), (123_456, "123 k"),
])
def test_fmt_value(value, expected):
    assert report_build.fmt_value(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (8.24, "8.2 s"), (125, "2 min 05 s"), (7260, "2 h 01 min"),
])
def test_fmt_seconds(value, expected):
    assert report_build.fmt_seconds(value) == expected


def test_fmt_units_and_pct():
    assert report_build.fmt_units(12.5) == "12.5"
    assert report_build.fmt_units(12345.4) == "12,345"
    assert report_build.fmt_pct(0.9734) == "97.3%"


def test_nice_ticks_cover_the_range_in_1_2_5_steps():
    assert charts.nice_ticks(0, 0.97) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert charts.nice_ticks(0, 842) == [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    assert charts.nice_ticks(0, 2, integer=True) == [0.0, 1.0, 2.0]
    ticks = charts.nice_ticks(0.861, 0.973)
    assert ticks[0] <= 0.861 and ticks[-1] >= 0.973 and len(ticks) <= 8


def test_bar_lengths_are_proportional_to_values():
    svg = ET.fromstring(charts.horizontal_bar_chart(["a", "b", "c"], [1.0, 2.0, 4.0], title="t"))
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert widths[1] / widths[0] == pytest.approx(2.0, rel=1e-2) and widths[2] / widths[0] == pytest.approx(4.0, rel=1e-2)


def test_chart_text_is_escaped_and_lengths_are_checked():
    svg = charts.horizontal_bar_chart(["<b>&"], [1.0], title="x<y")
    assert "&lt;b&gt;&amp;" in svg and "<title>x&lt;y</title>" in svg
    ET.fromstring(svg)
    with pytest.raises(InputDataError, match=r"labels \(2\) and values \(1\)"):
        charts.horizontal_bar_chart(["a", "b"], [1.0], title="t")
    with pytest.raises(InputDataError, match="series 'p' has 2 x values, 1 y values and 2 labels"):
        charts.line_chart({"p": ([1.0, 2.0], [0.9])}, title="t", x_label="x", y_label="y")

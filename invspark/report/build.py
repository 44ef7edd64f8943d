"""Gather one run's figures from the warehouse and render the self-contained HTML report.

`build_report(warehouse, run_date=None, out_path=None)` reads the output Delta tables with
`deltalake` (no Spark): the log gives the files of the run's `run_date` partition, so files of
other runs are never opened, and DuckDB aggregates over those Parquet files (`run_files`,
`open_run_tables`). Only small aggregates (a few hundred rows at most) reach Python, so the
report's memory does not grow with the number of series; its time is DuckDB's scan.

Sections (each a function of the open connection, returning plain dicts and small frames):

| section | tables | what |
|---|---|---|
| headline KPIs | `inventory_policy`, `stage_items`, `quarantine`, `runs` | series, safety stock value (units x `unit_cost`), demand-weighted expected fill rate and CSL, orders recommended, quarantined rows, stage timings |
| forecast accuracy | `forecast_accuracy`, `demand_distribution` | mean over backtest folds per segment x model; the champion of a segment is the model most of its series were given |
| service/inventory frontier | `policy_simulation` | per policy, fill rate against holding cost (or average on hand) over the service-level targets |
| allocation, echelon | `allocation`, `echelon_policy` | units allocated vs fair share, expected units sold gain; multi- vs single-echelon safety-stock cost |
| exceptions | `inventory_policy` (+ `stage_items`) | counts per flag (`exception` is a ';'-joined list) and the 20 largest orders by value among flagged rows |
| input quality | `quarantine` | rows per source x reason and 5 example records |

A table that is absent, or has no rows for the run, leaves its section saying "not run".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from invspark.errors import ConfigError, InputDataError
from invspark.report import charts

log = logging.getLogger(__name__)

# Tables the report reads, with the run's partition only.
RUN_TABLES = (
    "runs", "quarantine", "inventory_policy", "stage_items", "forecast_accuracy", "demand_distribution",
    "policy_simulation", "allocation", "echelon_policy",
)
TOP_EXCEPTION_ROWS = 20
QUARANTINE_EXAMPLES = 5
RECORD_CHARS = 240
MAX_ALLOCATION_DCS = 15
PARTITION_COLUMN = "run_date"
# policy_simulation baselines whose `service_level_target` column holds weeks of cover, not a level.
KNOBS_IN_WEEKS = frozenset({"static_cover"})
# The frontier chart spans the product's own policy ("invspark") up to this multiple of its costliest point.
OWN_POLICY = "invspark"
FRONTIER_ZOOM = 1.25
# Reader features that need no more than reading the files the log lists.
PLAIN_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})


@dataclasses.dataclass
class RunTables:
    """A DuckDB connection with one view per table of `RUN_TABLES` that has rows for the run."""

    connection: Any
    run_date: dt.date
    present: set[str]

    def has(self, name: str) -> bool:
        return name in self.present

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.connection.execute(sql, params or []).df()

    def row(self, sql: str) -> dict[str, Any]:
        frame = self.frame(sql)
        return {k: _plain(v) for k, v in frame.iloc[0].items()} if len(frame) else {}

    def columns(self, name: str) -> set[str]:
        return {d[0] for d in self.connection.execute(f"SELECT * FROM {name} LIMIT 0").description}


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python; NaN and NA -> None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_path(warehouse: str, name: str) -> str:
    return f"{warehouse.rstrip('/')}/{name}"


def _is_delta_table(path: str) -> bool:
    from deltalake import DeltaTable

    if "://" not in path:
        return (Path(path) / "_delta_log").is_dir()
    return DeltaTable.is_deltatable(path)


def latest_run_date(warehouse: str) -> dt.date:
    """The newest `run_date` recorded in the warehouse's `runs` table."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    path = _table_path(warehouse, "runs")
    if not _is_delta_table(path):
        raise InputDataError(
            f"warehouse={warehouse!r} has no 'runs' table; run the pipeline first "
            "(invspark run --config FILE) or point --config at the run's config"
        )
    run_dates = DeltaTable(path).to_pyarrow_dataset().to_table(columns=["run_date"]).column("run_date")
    latest = pc.max(run_dates).as_py()
    if latest is None:
        raise InputDataError(f"the 'runs' table at {path} is empty; run the pipeline first")
    return latest


def run_files(path: str, run_date: dt.date) -> tuple[list[str], Any]:
    """The data files of one run of the Delta table at `path`, and the table's Arrow schema.

    `deltalake` reads the log and lists only the files of the `run_date` partition (files of
    other runs are never opened). The report then scans these files itself rather than through
    `DeltaTable.to_pyarrow_dataset()`, whose fragments carry the log's statistics as guarantees:
    a column with a null count but no min/max (the pipeline leaves min/max out for floating-point
    columns, see `invspark.spark.delta_stats`) becomes `x >= null`, and pyarrow (and DuckDB
    through it) then prunes every file for any filter on that column and returns no rows.
    Tables that need more than their listed files to be read (deletion vectors, column mapping)
    are refused.
    """
    import pyarrow as pa
    from deltalake import DeltaTable

    table = DeltaTable(path)
    protocol = table.protocol()
    features = set(protocol.reader_features or ())
    if protocol.min_reader_version == 2 or features - PLAIN_READER_FEATURES:
        raise InputDataError(
            f"table at {path} needs Delta reader features {sorted(features) or ['columnMapping']} "
            "that the report cannot read file by file; write it without deletion vectors or column mapping "
            "(the pipeline's own tables never use them)"
        )
    partition_columns = table.metadata().partition_columns
    if PARTITION_COLUMN not in partition_columns:
        raise InputDataError(
            f"table at {path} is not partitioned by {PARTITION_COLUMN}; the report reads the pipeline's "
            "output tables, which all are (see CONTRACTS.md 'Outputs')"
        )
    schema = pa.schema([field for field in pa.schema(table.schema().to_arrow()) if field.name not in partition_columns])
    return table.file_uris(file_pruning_predicate=[(PARTITION_COLUMN, "=", run_date)]), schema


def open_run_tables(warehouse: str, run_date: dt.date) -> RunTables:
    """Register the run's partition of every present table as a DuckDB view (nothing is read yet).

    Local files are scanned by DuckDB's own Parquet reader (streaming by row group, columns
    and filters pushed down); remote URIs through a pyarrow dataset, which reaches object
    stores with pyarrow's filesystems.
    """
    import duckdb
    import pyarrow.dataset as pads

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    present: set[str] = set()
    for name in RUN_TABLES:
        path = _table_path(warehouse, name)
        if not _is_delta_table(path):
            continue
        files, schema = run_files(path, run_date)
        if not files:
            continue
        if all("://" not in f or f.startswith("file://") for f in files):
            local = [f.removeprefix("file://") for f in files]
            connection.read_parquet(local, union_by_name=True, hive_partitioning=False).create_view(name)
        else:
            connection.register(name, pads.dataset(files, format="parquet", schema=schema))
        if connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0] > 0:  # from the footers
            present.add(name)
    return RunTables(connection=connection, run_date=run_date, present=present)


def _items_join(tables: RunTables) -> str:
    """A LEFT JOIN giving `unit_cost` per `sku_id` (null when `stage_items` is absent)."""
    if tables.has("stage_items") and "unit_cost" in tables.columns("stage_items"):
        return "LEFT JOIN (SELECT sku_id, any_value(unit_cost) AS unit_cost FROM stage_items GROUP BY sku_id) i USING (sku_id)"
    return "LEFT JOIN (SELECT NULL::VARCHAR AS sku_id, NULL::DOUBLE AS unit_cost WHERE false) i USING (sku_id)"


def stage_timings(tables: RunTables) -> pd.DataFrame:
    """One row per stage of the run, in the order the stages ran."""
    if not tables.has("runs"):
        return pd.DataFrame()
    message = "message" if "message" in tables.columns("runs") else "NULL::VARCHAR AS message"
    return tables.frame(
        "SELECT run_id, stage, status, started_at, epoch(finished_at) - epoch(started_at) AS seconds, "
        f"rows_in, rows_out, rows_quarantined, {message} FROM runs ORDER BY started_at, stage"
    )


def headline(tables: RunTables) -> dict[str, Any]:
    """Headline KPIs: one dict of numbers (None where the table is missing)."""
    kpis: dict[str, Any] = {"series": None}
    if tables.has("inventory_policy"):
        kpis.update(tables.row(
            f"""
            SELECT count(*) AS series,
                   count(*) FILTER (WHERE exception IS NOT NULL) AS exception_rows,
                   sum(safety_stock) AS safety_stock_units,
                   sum(safety_stock * unit_cost) AS safety_stock_value,
                   count(*) FILTER (WHERE unit_cost IS NULL) AS series_without_cost,
                   count(*) FILTER (WHERE recommended_order_qty > 0) AS orders,
                   sum(recommended_order_qty) FILTER (WHERE recommended_order_qty > 0) AS order_units,
                   sum(recommended_order_qty * unit_cost) FILTER (WHERE recommended_order_qty > 0) AS order_value
            FROM inventory_policy {_items_join(tables)}
            """
        ))
        # Fill rate is the share of demand met from stock, so the run's fill rate weights each
        # series by its mean demand; each mean is over the rows that have a level.
        kpis.update(tables.row(
            """
            SELECT sum(expected_fill_rate * demand_mean) FILTER (WHERE expected_fill_rate IS NOT NULL)
                     / nullif(sum(demand_mean) FILTER (WHERE expected_fill_rate IS NOT NULL), 0) AS fill_rate,
                   sum(expected_csl * demand_mean) FILTER (WHERE expected_csl IS NOT NULL)
                     / nullif(sum(demand_mean) FILTER (WHERE expected_csl IS NOT NULL), 0) AS csl
            FROM inventory_policy WHERE demand_mean > 0
            """
        ))
    kpis["quarantined"] = tables.row("SELECT count(*) AS n FROM quarantine")["n"] if tables.has("quarantine") else 0
    timings = stage_timings(tables)
    kpis["run_id"] = timings["run_id"].iloc[-1] if len(timings) else None
    kpis["stages_failed"] = int((timings["status"] != "succeeded").sum()) if len(timings) else 0
    kpis["total_seconds"] = float(timings["seconds"].sum()) if len(timings) else None
    kpis["input_rows"] = (
        _plain(timings.loc[timings["stage"] == "ingest", "rows_in"].sum()) if len(timings) and (timings["stage"] == "ingest").any() else None
    )
    return kpis


def forecast_accuracy(tables: RunTables) -> dict[str, Any] | None:
    """Accuracy per segment x model (means over folds), the champion per segment, RMSSE charts."""
    if not tables.has("forecast_accuracy"):
        return None
    by_model = tables.frame(
        """
        SELECT segment, model, count(*) AS folds, avg(wape) AS wape, avg(rmsse) AS rmsse, avg(bias) AS bias,
               avg(pinball) AS pinball, avg(coverage_p90) AS coverage_p90
        FROM forecast_accuracy GROUP BY segment, model
        """
    )
    if tables.has("demand_distribution"):
        chosen = tables.frame(
            "SELECT segment, model, count(*) AS series FROM demand_distribution GROUP BY segment, model"
        )
    else:
        chosen = pd.DataFrame({"segment": pd.Series(dtype=object), "model": pd.Series(dtype=object), "series": pd.Series(dtype="int64")})
    segment_series = chosen.groupby("segment")["series"].sum()
    champion = (
        chosen.sort_values(["segment", "series", "model"], ascending=[True, False, True])
        .drop_duplicates("segment")
        .rename(columns={"model": "champion", "series": "champion_series"})
    )
    best = (
        by_model.dropna(subset=["rmsse"]).sort_values(["segment", "rmsse"]).drop_duplicates("segment")
        .rename(columns={"model": "best_model", "rmsse": "best_rmsse"})[["segment", "best_model", "best_rmsse"]]
    )
    scores = by_model.rename(columns={"model": "champion"})[["segment", "champion", "rmsse", "wape", "bias", "coverage_p90"]]
    segment_rows = (
        pd.DataFrame({"segment": sorted(set(by_model["segment"]))})
        .merge(segment_series.rename("series").reset_index(), on="segment", how="left")
        .merge(champion, on="segment", how="left")
        .merge(scores, on=["segment", "champion"], how="left")
        .merge(best, on="segment", how="left")
    )
    segment_rows["champion_share"] = segment_rows["champion_series"] / segment_rows["series"]
    pivot = by_model.pivot(index="segment", columns="model", values="rmsse")
    models = list(pivot.columns)
    # RMSSE per model over all segments, each segment weighted by its series (equal weights
    # when no demand_distribution says how many series a segment has).
    values = pivot.to_numpy(dtype=np.float64)  # (n_segments, n_models), NaN = model not scored there
    weights = segment_series.reindex(pivot.index).fillna(0.0).to_numpy(dtype=np.float64)[:, None]  # (n_segments, 1)
    if not (weights > 0).any():
        weights = np.ones_like(weights)
    scored = ~np.isnan(values)
    weight_sum = (scored * weights).sum(axis=0)  # (n_models,)
    overall = np.nansum(values * weights, axis=0) / np.where(weight_sum > 0, weight_sum, np.nan)
    champion_of = dict(zip(champion["segment"], champion["champion"]))
    champions = set(champion_of.values())
    order = sorted(range(len(models)), key=lambda k: (math.isnan(overall[k]), overall[k]))
    model_chart = charts.horizontal_bar_chart(
        [models[k] for k in order], [overall[k] for k in order],
        title="Backtest RMSSE by model (series-weighted over segments)",
        value_format=lambda v: f"{v:.3f}", highlight=[models[k] in champions for k in order],
    )
    with_score = segment_rows.dropna(subset=["rmsse"])
    segment_chart = charts.horizontal_bar_chart(
        [f"{r.segment} · {r.champion}" for r in with_score.itertuples()], list(with_score["rmsse"]),
        title="Champion RMSSE per segment", value_format=lambda v: f"{v:.3f}",
    ) if len(with_score) else None
    return {
        "segments": [{k: _plain(v) for k, v in r.items()} for r in segment_rows.to_dict("records")],
        "models": models,
        "overall": [{"model": models[k], "rmsse": _plain(overall[k])} for k in order],
        "pivot": [{"segment": s, "values": [_plain(v) for v in pivot.loc[s]], "champion": champion_of.get(s)} for s in pivot.index],
        "model_chart": model_chart,
        "segment_chart": segment_chart,
        "folds": _plain(by_model["folds"].max()),
    }


def knob_label(policy: str, knob: Any) -> str:
    """A `policy_simulation` knob for people: a service target as '95%', a cover rule's weeks as '2 wk'."""
    if _missing(knob):
        return "–"
    if policy in KNOBS_IN_WEEKS:
        return f"{float(knob):g} wk"
    return charts.percent_label(float(knob))


def frontier(tables: RunTables) -> dict[str, Any] | None:
    """Service/inventory frontier from `policy_simulation`: one point per policy x knob, all segments.

    `avg_on_hand` and `stockout_periods` are per series and `fill_rate`, `csl` ratios, so the
    segments are combined weighted by `n_series` where the table has it (equal weights if not):
    units on hand = sum(avg_on_hand x n_series); holding cost is a total and is summed.
    """
    if not tables.has("policy_simulation"):
        return None
    weight = "coalesce(n_series, 0)" if "n_series" in tables.columns("policy_simulation") else "1.0"
    points = tables.frame(
        f"""
        SELECT policy, service_level_target, count(*) AS segments, sum({weight}) AS n_series,
               sum(fill_rate * {weight}) / nullif(sum({weight}) FILTER (WHERE fill_rate IS NOT NULL), 0) AS fill_rate,
               sum(csl * {weight}) / nullif(sum({weight}) FILTER (WHERE csl IS NOT NULL), 0) AS csl,
               sum(avg_on_hand * {weight}) AS units_on_hand, sum(holding_cost) AS holding_cost,
               sum(stockout_periods * {weight}) / nullif(sum({weight}), 0) AS stockout_periods
        FROM policy_simulation GROUP BY policy, service_level_target ORDER BY policy, service_level_target
        """
    )
    points["knob"] = [knob_label(p, k) for p, k in zip(points["policy"], points["service_level_target"])]
    use_cost = points["holding_cost"].notna().all() and (points["holding_cost"] != 0).any()
    x_column = "holding_cost" if use_cost else "units_on_hand"
    x_label = "holding cost, all segments" if use_cost else "average units on hand, all segments"
    # Zoom on the product's own operating range: baseline points far beyond its costliest point
    # would squeeze every curve into the left edge (they stay in the table).
    own = points.loc[points["policy"] == OWN_POLICY, x_column].dropna()
    x_max = float(own.max()) * FRONTIER_ZOOM if len(own) and own.max() > 0 else None
    hidden = int((points[x_column] > x_max).sum()) if x_max is not None else 0
    groups = list(points.groupby("policy", sort=True))  # one line per policy: a handful
    chart = charts.line_chart(
        {policy: (list(group[x_column]), list(group["fill_rate"])) for policy, group in groups},
        title="Fill rate against inventory cost per policy", x_label=x_label, y_label="fill rate",
        point_labels={policy: list(group["knob"]) for policy, group in groups}, x_max=x_max,
        width=900, height=440,
    )
    return {
        "points": [{k: _plain(v) for k, v in r.items()} for r in points.to_dict("records")],
        "chart": chart, "x_label": x_label, "hidden_points": hidden, "x_max": x_max,
    }


def allocation(tables: RunTables) -> dict[str, Any] | None:
    """Units allocated vs fair share, and the expected units sold gain, in total and per DC."""
    if not tables.has("allocation"):
        return None
    has_fair_sold = "expected_units_sold_fair_share" in tables.columns("allocation")
    fair_sold = "expected_units_sold_fair_share" if has_fair_sold else "NULL::DOUBLE"
    totals = tables.row(
        f"""
        SELECT count(*) AS rows, count(DISTINCT sku_id) AS skus, count(DISTINCT dc_id) AS dcs,
               count(DISTINCT location_id) AS stores, sum(requested_units) AS requested,
               sum(allocated_units) AS allocated, sum(fair_share_units) AS fair_share,
               sum(expected_units_sold) AS expected_sold, sum({fair_sold}) AS expected_sold_fair_share,
               sum(abs(allocated_units - fair_share_units)) AS units_moved
        FROM allocation
        """
    )
    if totals.get("expected_sold") is not None and totals.get("expected_sold_fair_share") is not None:
        totals["gain"] = totals["expected_sold"] - totals["expected_sold_fair_share"]
    else:
        totals["gain"] = None
    per_dc = tables.frame(
        f"""
        SELECT dc_id, sum(requested_units) AS requested, sum(fair_share_units) AS fair_share,
               sum(allocated_units) AS allocated, sum(expected_units_sold) - sum({fair_sold}) AS gain
        FROM allocation GROUP BY dc_id ORDER BY requested DESC NULLS LAST, dc_id LIMIT {MAX_ALLOCATION_DCS}
        """
    )
    chart = charts.grouped_bar_chart(
        list(per_dc["dc_id"].astype(str)),
        {"requested": list(per_dc["requested"]), "fair share": list(per_dc["fair_share"]), "allocated": list(per_dc["allocated"])},
        title="Units requested, fair share and allocated per DC",
    ) if len(per_dc) else None
    return {"totals": totals, "per_dc": per_dc.to_dict("records"), "chart": chart, "dc_limit": MAX_ALLOCATION_DCS}


def echelon(tables: RunTables) -> dict[str, Any] | None:
    """Multi-echelon vs single-echelon safety-stock cost (per period), and stock per echelon."""
    if not tables.has("echelon_policy"):
        return None
    totals = tables.row(
        """
        SELECT count(*) AS skus, sum(total) AS optimal_cost, sum(single) AS single_cost
        FROM (SELECT sku_id, any_value(sku_total_cost) AS total, any_value(sku_single_echelon_cost) AS single
              FROM echelon_policy GROUP BY sku_id)
        """
    )
    optimal, single = totals.get("optimal_cost"), totals.get("single_cost")
    totals["savings"] = single - optimal if optimal is not None and single is not None else None
    totals["savings_share"] = totals["savings"] / single if single else None
    by_echelon = tables.frame(
        "SELECT echelon, count(*) AS nodes, sum(safety_stock) AS safety_stock FROM echelon_policy GROUP BY echelon ORDER BY echelon"
    )
    chart = charts.horizontal_bar_chart(
        ["single-echelon", "multi-echelon"], [single, optimal],
        title="Safety-stock holding cost per period", highlight=[False, True],
    ) if optimal is not None and single is not None else None
    return {"totals": totals, "by_echelon": by_echelon.to_dict("records"), "chart": chart}


def exceptions(tables: RunTables) -> dict[str, Any] | None:
    """Counts per exception flag and the flagged rows with the largest order value."""
    if not tables.has("inventory_policy"):
        return None
    counts = tables.frame(
        """
        SELECT flag AS exception, count(*) AS rows
        FROM (SELECT unnest(string_split(exception, ';')) AS flag FROM inventory_policy WHERE exception IS NOT NULL)
        GROUP BY flag ORDER BY rows DESC, flag
        """
    )
    top = tables.frame(
        f"""
        SELECT sku_id, location_id, exception, policy, demand_mean, inventory_position, reorder_point,
               recommended_order_qty, unit_cost, recommended_order_qty * unit_cost AS order_value
        FROM inventory_policy {_items_join(tables)}
        WHERE exception IS NOT NULL
        ORDER BY order_value DESC NULLS LAST, recommended_order_qty DESC NULLS LAST, sku_id, location_id
        LIMIT {TOP_EXCEPTION_ROWS}
        """
    )
    chart = charts.horizontal_bar_chart(
        list(counts["exception"]), list(counts["rows"]), title="Rows per exception",
        value_format=lambda v: f"{v:,.0f}", integer=True,
    ) if len(counts) else None
    return {
        "counts": counts.to_dict("records"),
        "top": [{k: _plain(v) for k, v in r.items()} for r in top.to_dict("records")],
        "chart": chart,
        "limit": TOP_EXCEPTION_ROWS,
    }


def input_quality(tables: RunTables) -> dict[str, Any]:
    """Quarantined rows per source x reason and a few example records (one per reason first)."""
    if not tables.has("quarantine"):
        return {"counts": [], "examples": [], "total": 0}
    counts = tables.frame(
        "SELECT source, reason, count(*) AS rows FROM quarantine GROUP BY source, reason ORDER BY rows DESC, source, reason"
    )
    examples = tables.frame(
        f"""
        SELECT source, reason, record FROM quarantine
        QUALIFY row_number() OVER (PARTITION BY source, reason ORDER BY record) <= {QUARANTINE_EXAMPLES}
        ORDER BY row_number() OVER (PARTITION BY source, reason ORDER BY record), source, reason
        LIMIT {QUARANTINE_EXAMPLES}
        """
    )
    examples["record"] = [
        r if r is None or len(r) <= RECORD_CHARS else r[: RECORD_CHARS - 1] + "…" for r in examples["record"]
    ]
    return {"counts": counts.to_dict("records"), "examples": examples.to_dict("records"), "total": int(counts["rows"].sum())}


def gather(warehouse: str, run_date: dt.date) -> dict[str, Any]:
    """Every section's figures for one run (small dicts and lists, ready for the template)."""
    tables = open_run_tables(warehouse, run_date)
    if not tables.has("runs"):
        raise InputDataError(
            f"run_date={run_date.isoformat()} has no rows in {_table_path(warehouse, 'runs')}; "
            f"pass a run_date the pipeline ran (latest: {latest_run_date(warehouse).isoformat()})"
        )
    try:
        timings = stage_timings(tables)
        return {
            "warehouse": warehouse,
            "run_date": run_date,
            "kpis": headline(tables),
            "timings": [{k: _plain(v) for k, v in r.items()} for r in timings.to_dict("records")],
            "accuracy": forecast_accuracy(tables),
            "frontier": frontier(tables),
            "allocation": allocation(tables),
            "echelon": echelon(tables),
            "exceptions": exceptions(tables),
            "quality": input_quality(tables),
        }
    finally:
        tables.connection.close()


def _as_date(run_date: dt.date | str | None, warehouse: str) -> dt.date:
    if run_date is None:
        return latest_run_date(warehouse)
    if isinstance(run_date, dt.datetime):
        return run_date.date()
    if isinstance(run_date, dt.date):
        return run_date
    try:
        return dt.date.fromisoformat(str(run_date))
    except ValueError:
        raise ConfigError(f"run_date={run_date!r} is not a date; write it as YYYY-MM-DD, e.g. 2012-01-04") from None


def default_report_path(warehouse: str, run_date: dt.date) -> Path:
    """`<warehouse>/reports/report-<run_date>.html` (local warehouses only)."""
    if "://" in warehouse and not warehouse.startswith("file://"):
        raise ConfigError(
            f"warehouse={warehouse!r} is not a local folder; pass out_path= (a local .html file) for the report"
        )
    return Path(warehouse.removeprefix("file://")) / "reports" / f"report-{run_date.isoformat()}.html"


def fmt_count(value: Any) -> str:
    """An integer count with thousands separators: 1234567 -> '1,234,567'."""
    return "–" if _missing(value) else f"{float(value):,.0f}"


def fmt_units(value: Any) -> str:
    """Units: whole numbers from 100 on, one decimal below (12.5), separators (12,345)."""
    if _missing(value):
        return "–"
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 100 or value == round(value) else f"{value:,.1f}"


def fmt_value(value: Any) -> str:
    """A money-like amount to 3 significant digits: 950 -> '950', 12,340 -> '12.3 k', 1e6 -> '1.00 M'."""
    if _missing(value):
        return "–"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{_three_digits(value / limit)} {suffix}"
    return _three_digits(value) if abs(value) < 100 else f"{value:,.0f}"


def _three_digits(value: float) -> str:
    """3 significant digits with the trailing zeros kept (1.0 -> '1.00', 12.34 -> '12.3'); 0 -> '0'."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage: 0.9734 -> '97.3%'."""
    return "–" if _missing(value) else f"{100 * float(value):.{digits}f}%"


def fmt_num(value: Any) -> str:
    """A ratio or score to 3 significant digits: 0.81234 -> '0.812'."""
    if _missing(value):
        return "–"
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def fmt_score(value: Any) -> str:
    """An accuracy score (RMSSE) to 3 decimals, so a table's column lines up: 0.8 -> '0.800'."""
    return "–" if _missing(value) else f"{float(value):.3f}"


def fmt_seconds(value: Any) -> str:
    """A duration: 8.24 -> '8.2 s', 125 -> '2 min 05 s', 7260 -> '2 h 01 min'."""
    if _missing(value):
        return "–"
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(round(seconds % 60)):02d} s"
    return f"{int(seconds // 3600)} h {int(round(seconds % 3600 / 60)):02d} min"


def fmt_time(value: Any) -> str:
    """A timestamp to the second, UTC (the `runs` table stores naive UTC times)."""
    if _missing(value):
        return "–"
    return f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S} UTC"


def _missing(value: Any) -> bool:
    value = _plain(value)
    return value is None or (isinstance(value, float) and not math.isfinite(value))


FILTERS = {
    "count": fmt_count, "units": fmt_units, "value": fmt_value, "pct": fmt_pct, "num": fmt_num, "score": fmt_score,
    "seconds": fmt_seconds, "time": fmt_time,
}


def render_html(figures: dict[str, Any]) -> str:
    """The report's HTML from `gather`'s figures (template `templates/report.html`, autoescaped)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("invspark.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    generated = dt.datetime.now(dt.timezone.utc)
    return environment.get_template("report.html").render(**figures, generated_at=generated)


def build_report(warehouse: str, run_date: dt.date | None = None, out_path: str | None = None) -> Path:
    """Write the run report of `run_date` (None: the latest run in `runs`) as one HTML file.

    The file needs nothing else to open (CSS inline, charts as inline SVG, no scripts or
    fonts). Returns its path: `out_path`, or `<warehouse>/reports/report-<run_date>.html`.
    """
    warehouse = str(warehouse)
    day = _as_date(run_date, warehouse)
    figures = gather(warehouse, day)
    path = Path(out_path) if out_path is not None else default_report_path(warehouse, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(figures), encoding="utf-8")
    log.info("run report for %s written to %s", day, path)
    return path


def report_main(config_path: str, run_date: str | dt.date | None = None) -> Path:
    """`invspark report --config FILE [--run-date D]`: write the report beside the warehouse, print its path."""
    from invspark.config import load_config

    config = load_config(config_path)
    day = _as_date(run_date, config.warehouse)
    path = build_report(config.warehouse, day, str(default_report_path(config.warehouse, day)))
    print(f"run report: {path}")
    return path

"""Synthetic input tables, generated on the executors.

The driver only creates `spark.range(n_blocks)`; `mapInArrow` calls
`invspark.kernels.synthetic.generate_series_block` once per block of `block_size` series (numpy
over `(block_size, n_periods)` matrices). Each block is generated once: its rows for every
per-series table are packed as LZ4 Arrow IPC payloads into one cached DataFrame
(one row per block x table), and each table's write job unpacks only its own payloads.
Generation is deterministic per `(seed, block_id)` (hashed attributes for SKUs and stores), so
the tables agree with each other and do not depend on the number of partitions.

Tables written under `out_dir` (Parquet, columns and types of shared/CONTRACTS.md, see SCHEMAS):
`sales`, `items`, `locations`, `inventory`, `receipts` (store orders from the DC and DC orders
from vendors "V01".."), `dc_supply`, `promotions` (past promo periods and the plan for the
`n_planned_periods` after run_date), and `truth`: per series the demand class, the parameters
drawn, launch/end dates, the true uncensored history demand and the expected and one realised
future demand.

`invspark generate --series N --periods T --frequency W --out DIR --seed S` calls
`generate_dataset`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel

from invspark.errors import ConfigError
from invspark.kernels import synthetic as syn

INPUT_TABLES = ("sales", "items", "locations", "inventory", "receipts", "dc_supply", "promotions")

# Arrow schemas of what we write: the contract columns and types of shared/CONTRACTS.md.
SCHEMAS: dict[str, pa.Schema] = {
    "sales": pa.schema([
        ("sku_id", pa.string()), ("location_id", pa.string()), ("date", pa.date32()),
        ("units", pa.float64()), ("price", pa.float64()), ("promo", pa.int32()),
        ("on_hand", pa.float64()), ("revenue", pa.float64()),
    ]),
    "items": pa.schema([
        ("sku_id", pa.string()), ("category", pa.string()), ("subcategory", pa.string()),
        ("unit_cost", pa.float64()), ("unit_price", pa.float64()), ("case_pack", pa.int32()),
        ("moq", pa.float64()), ("holding_cost_rate", pa.float64()), ("ordering_cost", pa.float64()),
        ("service_level_target", pa.float64()),
    ]),
    "locations": pa.schema([
        ("location_id", pa.string()), ("location_type", pa.string()), ("source_id", pa.string()),
        ("review_period", pa.float64()), ("capacity_units", pa.float64()),
    ]),
    "inventory": pa.schema([
        ("sku_id", pa.string()), ("location_id", pa.string()), ("on_hand", pa.float64()),
        ("on_order", pa.float64()), ("backorders", pa.float64()),
    ]),
    "receipts": pa.schema([
        ("sku_id", pa.string()), ("location_id", pa.string()), ("order_date", pa.date32()),
        ("receipt_date", pa.date32()), ("source_id", pa.string()), ("qty_ordered", pa.float64()),
        ("qty_received", pa.float64()),
    ]),
    "dc_supply": pa.schema([
        ("sku_id", pa.string()), ("dc_id", pa.string()), ("available_units", pa.float64()),
    ]),
    "promotions": pa.schema([
        ("sku_id", pa.string()), ("location_id", pa.string()), ("date", pa.date32()),
        ("promo", pa.int32()), ("price", pa.float64()),
    ]),
    # What we know and the user's data never tells: for tests of forecasts and achieved service.
    "truth": pa.schema([
        ("sku_id", pa.string()), ("location_id", pa.string()), ("dc_id", pa.string()),
        ("demand_class", pa.string()), ("distribution", pa.string()),
        ("mean_level", pa.float64()),  # p * m: per-period mean before season, trend, price, promo
        ("occurrence_prob", pa.float64()), ("size_mean", pa.float64()), ("size_cv2", pa.float64()),
        ("nb_dispersion", pa.float64()), ("seasonal_amplitude", pa.float64()),
        ("trend_change", pa.float64()), ("promo_lift", pa.float64()),
        ("price_elasticity", pa.float64()), ("safety_factor", pa.float64()),
        ("launch_date", pa.date32()),  # first period of the series' life (history start if older)
        ("end_date", pa.date32()),  # first period after a discontinued series' life, else null
        ("stockout_periods", pa.int32()),
        ("history_demand", pa.list_(pa.float64())),  # true (uncensored) demand, NaN outside life
        ("future_mean", pa.list_(pa.float64())),  # E demand for periods run_date ... (n_planned)
        ("future_demand", pa.list_(pa.float64())),  # one realisation of that future demand
        ("supply_need", pa.float64()),  # E demand over the next dc_supply_cover(plan) periods
    ]),
}
BAD_COUNT_KEYS = (*syn.BAD_ROW_KINDS, "receipt_before_order")


@dataclasses.dataclass(frozen=True)
class GeneratedDataset:
    """Where the tables were written and what is in them."""

    out_dir: str
    sales: str
    items: str
    locations: str
    inventory: str
    receipts: str
    dc_supply: str
    promotions: str
    truth: str
    frequency: str
    history_start: dt.date
    run_date: dt.date  # the first period after the history
    n_periods: int
    horizon: int  # suggested forecast horizon (periods)
    n_planned_periods: int  # periods after run_date with planned promotions
    seed: int
    n_series: int
    n_skus: int
    n_stores: int
    n_dcs: int
    closed_store_periods: int  # store-periods with no sales rows at all
    bad_rows: dict[str, int]  # injected bad rows by kind (all 0 when bad_row_rate == 0)

    @property
    def paths(self) -> dict[str, str]:
        """Table name -> path, for the run config's `inputs` (truth excluded)."""
        return {name: getattr(self, name) for name in INPUT_TABLES}


def generate_dataset(
    spark,
    out_dir: str,
    n_series: int,
    n_periods: int,
    frequency: str = "W",
    seed: int = 0,
    bad_row_rate: float = 0.0,
    start_date: dt.date | None = None,
    *,
    block_size: int = 2000,
    n_partitions: int | None = None,
) -> GeneratedDataset:
    """Generate every input table of CONTRACTS.md, plus `truth/`, as Parquet under `out_dir`.

    `n_series` sku x store series of `n_periods` history periods on the `frequency` grid
    (D, W or M) from `start_date` (default 2022-01-03, or 2022-01-01 for M). Same seed ->
    identical tables, whatever `n_partitions` (default: about 8 blocks per task); `block_size`
    is part of the seed (a different block size draws different series). Existing tables under
    `out_dir` are replaced.
    """
    if not isinstance(bad_row_rate, (int, float)) or not 0.0 <= bad_row_rate <= 0.5:
        raise ConfigError(f"bad_row_rate must be a fraction in [0, 0.5], got {bad_row_rate!r}")
    plan = syn.GeneratorPlan(
        n_series=n_series, n_periods=n_periods, frequency=frequency, seed=seed,
        start_date=start_date, block_size=block_size,
    )
    if n_partitions is not None and (not isinstance(n_partitions, int) or n_partitions < 1):
        raise ConfigError(f"n_partitions must be an integer >= 1 or None, got {n_partitions!r}")
    paths = {name: os.path.join(out_dir, name) for name in (*INPUT_TABLES, "truth")}

    # Generate each block once: its tables go to the cache as compressed Arrow IPC payloads,
    # and each table's write job only unpacks its own payloads.
    packed = _packed_series_tables(spark, plan, bad_row_rate, n_partitions).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        for table in ("sales", "promotions", "inventory", "truth"):
            _write(_unpacked(packed, table), paths[table])
        _write_receipts_and_supply(spark, plan, packed, paths, n_partitions)
        bad_rows = dict.fromkeys(BAD_COUNT_KEYS, 0)
        if bad_row_rate > 0:
            counted = _unpacked(packed, "bad_counts").groupBy().sum().collect()[0]
            bad_rows = {k: int(counted[f"sum({k})"]) for k in BAD_COUNT_KEYS}
    finally:
        packed.unpersist()
    closed = int(syn.store_closed(plan, np.arange(plan.n_stores), plan.n_periods).sum())
    return GeneratedDataset(
        out_dir=out_dir, **paths, frequency=plan.frequency, history_start=plan.start_date,
        run_date=plan.run_date, n_periods=plan.n_periods, horizon=plan.horizon,
        n_planned_periods=plan.n_planned, seed=plan.seed, n_series=plan.n_series,
        n_skus=plan.n_skus, n_stores=plan.n_stores, n_dcs=plan.n_dcs,
        closed_store_periods=closed, bad_rows=bad_rows,
    )


def _write_receipts_and_supply(spark, plan: syn.GeneratorPlan, packed, paths: dict[str, str], n_partitions: int | None) -> None:
    """receipts (store orders + vendor orders), items, locations, and dc_supply (needs truth)."""
    store_receipts = _unpacked(packed, "receipts")
    vendor_receipts = _blocks(spark, plan.n_pair_blocks, n_partitions).mapInArrow(
        functools.partial(_vendor_receipt_batches, plan=plan), _spark_schema("receipts")
    )
    _write(store_receipts.unionByName(vendor_receipts), paths["receipts"])

    item_block = 50_000
    _write(
        _blocks(spark, -(-plan.n_skus // item_block), n_partitions).mapInArrow(
            functools.partial(_item_batches, plan=plan, block_size=item_block), _spark_schema("items")
        ),
        paths["items"],
    )
    _write(
        _blocks(spark, 1, 1).mapInArrow(functools.partial(_location_batches, plan=plan), _spark_schema("locations")),
        paths["locations"],
    )
    needs = (
        spark.read.parquet(paths["truth"])
        .groupBy("sku_id", "dc_id")
        .agg({"supply_need": "sum"})
        .withColumnRenamed("sum(supply_need)", "need")
    )
    _write(needs.mapInArrow(functools.partial(_dc_supply_batches, plan=plan), _spark_schema("dc_supply")), paths["dc_supply"])


def series_table(
    spark,
    plan: syn.GeneratorPlan,
    table: str,
    bad_row_rate: float = 0.0,
    n_partitions: int | None = None,
):
    """The DataFrame of one per-series table ("sales", "promotions", "inventory", "truth", or the
    store half of "receipts"), generated lazily on the executors from `spark.range(n_blocks)`."""
    if table not in _SERIES_TABLES:
        raise ConfigError(f"table must be one of {sorted(_SERIES_TABLES)}, got {table!r}")
    return _blocks(spark, plan.n_blocks, n_partitions).mapInArrow(
        functools.partial(_series_batches, plan=plan, table=table, bad_row_rate=bad_row_rate),
        _spark_schema(table),
    )


# ----------------------------------------------------------------------------------------------
# Spark glue
# ----------------------------------------------------------------------------------------------

_PACKED_SCHEMA = "block_id long, table string, payload binary"


def _packed_series_tables(spark, plan: syn.GeneratorPlan, bad_row_rate: float, n_partitions: int | None):
    """One row per (block, table): the table's rows for that block as an LZ4 Arrow IPC stream."""
    # about 8 blocks of 2,000 weekly series (a few tens of MB packed) per task; fewer for longer series
    periods = plan.n_periods + plan.n_planned
    blocks_per_task = int(np.clip(round(8 * 117 * 2000 / (periods * plan.block_size)), 1, 64))
    return _blocks(spark, plan.n_blocks, n_partitions, blocks_per_task).mapInArrow(
        functools.partial(_packed_batches, plan=plan, bad_row_rate=bad_row_rate), _PACKED_SCHEMA
    )


def _unpacked(packed, table: str):
    from pyspark.sql import functions as F

    schema = _spark_schema(table) if table in SCHEMAS else ", ".join(f"{k} long" for k in BAD_COUNT_KEYS)
    return packed.filter(F.col("table") == table).mapInArrow(_unpack_batches, schema)


def _packed_batches(
    batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan, bad_row_rate: float
) -> Iterator[pa.RecordBatch]:
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    for block_id in _block_ids(batches):
        block = syn.generate_series_block(plan, block_id)
        tables = {name: build(plan, block, block_id, bad_row_rate) for name, build in _SERIES_TABLES.items()}
        if bad_row_rate > 0:
            tables["bad_counts"] = _bad_counts(plan, block, block_id, bad_row_rate)
        for name, batch in tables.items():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
                writer.write_batch(batch)
            yield pa.RecordBatch.from_pydict(
                {"block_id": [block_id], "table": [name], "payload": [sink.getvalue().to_pybytes()]},
                schema=pa.schema([("block_id", pa.int64()), ("table", pa.string()), ("payload", pa.binary())]),
            )


def _unpack_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for payload in batch.column("payload").to_pylist():
            yield from pa.ipc.open_stream(payload)


def _blocks(spark, n_blocks: int, n_partitions: int | None, blocks_per_task: int = 8):
    """`spark.range(n_blocks)` spread over tasks (`blocks_per_task` per task by default)."""
    if n_partitions is None:
        n_partitions = max(spark.sparkContext.defaultParallelism, -(-n_blocks // blocks_per_task))
    return spark.range(0, n_blocks, 1, numPartitions=max(1, min(n_partitions, n_blocks)))


def _spark_schema(table: str):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(SCHEMAS[table])


def _write(frame, path: str) -> None:
    frame.write.mode("overwrite").parquet(path)


def _block_ids(batches: Iterator[pa.RecordBatch]) -> Iterator[int]:
    for batch in batches:
        for block_id in batch.column(0).to_numpy():
            yield int(block_id)


def _series_batches(
    batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan, table: str, bad_row_rate: float
) -> Iterator[pa.RecordBatch]:
    build = _SERIES_TABLES[table]
    for block_id in _block_ids(batches):
        block = syn.generate_series_block(plan, block_id)
        yield build(plan, block, block_id, bad_row_rate)


def _dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=mask)


def _take(values: np.ndarray, index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """values[index] as an Arrow string array (the take runs in Arrow), null where `null`."""
    taken = pc.take(pa.array(values, type=pa.string()), pa.array(index))
    if null is not None and null.any():
        taken = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), taken)
    return taken


def _batch(table: str, columns: dict[str, object]) -> pa.RecordBatch:
    schema = SCHEMAS[table]
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[f.name], type=f.type) if not isinstance(columns[f.name], pa.Array) else columns[f.name] for f in schema],
        schema=schema,
    )


def _sales(plan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    rows = syn.sales_rows(plan, block, block_id, bad_row_rate)
    days = plan.period_days(plan.n_periods)
    return _batch("sales", {
        "sku_id": _take(syn.sku_ids(plan, block.sku), rows.series_pos, rows.null_sku_id),
        "location_id": _take(syn.store_ids(plan, block.store), rows.series_pos),
        "date": _dates(days[rows.period], rows.null_date),
        "units": rows.units, "price": rows.price, "promo": rows.promo,
        "on_hand": rows.on_hand, "revenue": rows.revenue,
    })


def _promotions(plan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    pos, period = syn.promotion_rows(block)
    days = plan.period_days(plan.n_periods + plan.n_planned)
    return _batch("promotions", {
        "sku_id": _take(syn.sku_ids(plan, block.sku), pos),
        "location_id": _take(syn.store_ids(plan, block.store), pos),
        "date": _dates(days[period]),
        "promo": np.ones(pos.size, dtype=np.int32), "price": block.price[pos, period],
    })


def _inventory(plan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    return _batch("inventory", {
        "sku_id": syn.sku_ids(plan, block.sku), "location_id": syn.store_ids(plan, block.store),
        "on_hand": block.on_hand[:, -1], "on_order": block.on_order, "backorders": block.backorders,
    })


def _store_receipts(plan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    """Store orders from the stock simulation: placed on the last day of period t, received
    lead_days later (1-3 days, so within the next period for W and M)."""
    pos, period = syn.store_order_rows(block)
    order_day = plan.period_days(plan.n_periods + 1)[period + 1] - 1
    lead = block.lead_days[pos, period]
    before = syn.spoil_receipt_dates(plan, block_id, pos.size, bad_row_rate)
    return _batch("receipts", {
        "sku_id": _take(syn.sku_ids(plan, block.sku), pos),
        "location_id": _take(syn.store_ids(plan, block.store), pos),
        "order_date": _dates(order_day),
        "receipt_date": _dates(np.where(before, order_day - lead, order_day + lead)),
        "source_id": _take(syn.dc_ids(plan, block.dc), pos),
        "qty_ordered": block.qty_ordered[pos, period], "qty_received": block.qty_received[pos, period],
    })


def _truth(plan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    T, n = plan.n_periods, block.series_index.size
    days = plan.period_days(T + plan.n_planned + 1)
    life = block.alive[:, :T]
    discontinued = block.end < T + plan.n_planned
    cover = syn.dc_supply_cover(plan)
    return _batch("truth", {
        "sku_id": syn.sku_ids(plan, block.sku), "location_id": syn.store_ids(plan, block.store),
        "dc_id": syn.dc_ids(plan, block.dc),
        "demand_class": np.asarray(syn.DEMAND_CLASSES)[block.demand_class],
        "distribution": np.full(n, "bernoulli_negbin"),
        "mean_level": block.mean_level, "occurrence_prob": block.occurrence_prob,
        "size_mean": block.size_mean, "size_cv2": block.size_cv2, "nb_dispersion": block.nb_dispersion,
        "seasonal_amplitude": block.seasonal_amplitude, "trend_change": block.trend_change,
        "promo_lift": block.promo_lift, "price_elasticity": block.price_elasticity,
        "safety_factor": block.safety_factor,
        "launch_date": _dates(days[block.launch]),
        "end_date": _dates(days[np.minimum(block.end, days.size - 1)], ~discontinued),
        "stockout_periods": ((block.on_hand == 0) & life & ~block.closed[:, :T]).sum(axis=1).astype(np.int32),
        "history_demand": _list_column(np.where(life, block.demand[:, :T], np.nan)),
        "future_mean": _list_column(block.expected_demand[:, T:]),
        "future_demand": _list_column(block.demand[:, T:]),
        "supply_need": block.expected_demand[:, T:T + cover].sum(axis=1),
    })


def _list_column(matrix: np.ndarray) -> pa.Array:
    """`(n, k)` float matrix -> Arrow list<double> column of n lists (NaN stays NaN)."""
    n, k = matrix.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * k)
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel(), type=pa.float64(), from_pandas=False))


_SERIES_TABLES: dict[str, Callable[..., pa.RecordBatch]] = {
    "sales": _sales, "promotions": _promotions, "inventory": _inventory,
    "receipts": _store_receipts, "truth": _truth,
}


def _vendor_receipt_batches(batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan) -> Iterator[pa.RecordBatch]:
    for block_id in _block_ids(batches):
        orders = syn.vendor_orders_block(plan, block_id)
        yield _batch("receipts", {
            "sku_id": syn.sku_ids(plan, orders.sku), "location_id": syn.dc_ids(plan, orders.dc),
            "order_date": _dates(orders.order_day), "receipt_date": _dates(orders.receipt_day),
            "source_id": syn.vendor_ids(plan, orders.vendor),
            "qty_ordered": orders.qty_ordered, "qty_received": orders.qty_received,
        })


def _item_batches(batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan, block_size: int) -> Iterator[pa.RecordBatch]:
    for block_id in _block_ids(batches):
        sku = np.arange(block_id * block_size, min((block_id + 1) * block_size, plan.n_skus))
        item = syn.item_attributes(plan, sku)
        item["sku_id"] = syn.sku_ids(plan, sku)
        item["service_level_target"] = pa.array(item["service_level_target"], from_pandas=True)
        yield _batch("items", item)


def _location_batches(batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan) -> Iterator[pa.RecordBatch]:
    for _ in _block_ids(batches):
        yield _batch("locations", syn.location_table(plan, np.arange(plan.n_stores + plan.n_dcs)))


def _dc_supply_batches(batches: Iterator[pa.RecordBatch], plan: syn.GeneratorPlan) -> Iterator[pa.RecordBatch]:
    sku_prefix, dc_prefix = len("SKU"), len("DC")
    for batch in batches:
        sku_id, dc_id = batch.column("sku_id"), batch.column("dc_id")
        sku = pc.cast(pc.utf8_slice_codeunits(sku_id, sku_prefix), pa.int64()).to_numpy()
        dc = pc.cast(pc.utf8_slice_codeunits(dc_id, dc_prefix), pa.int64()).to_numpy()
        available, _ = syn.dc_available_units(plan, sku, dc, batch.column("need").to_numpy())
        yield _batch("dc_supply", {"sku_id": sku_id, "dc_id": dc_id, "available_units": available})


def _bad_counts(plan: syn.GeneratorPlan, block: syn.SeriesBlock, block_id: int, bad_row_rate: float) -> pa.RecordBatch:
    """How many bad rows of each kind `_sales` and `_store_receipts` wrote for this block."""
    counts = syn.sales_rows(plan, block, block_id, bad_row_rate).bad_counts
    n_orders = syn.store_order_rows(block)[0].size
    counts["receipt_before_order"] = int(syn.spoil_receipt_dates(plan, block_id, n_orders, bad_row_rate).sum())
    return pa.RecordBatch.from_pydict({k: pa.array([counts[k]], pa.int64()) for k in BAD_COUNT_KEYS})

"""Throughput of the policy kernel: `compute_policies` in one process, or the Spark policy path.

    .venv/bin/python scripts/bench_policy.py [N]
    .venv/bin/python scripts/bench_policy.py --spark N [--master local[2]]

The batch mixes the four distribution families, the four policies and both service-level types
(half fill rate, which needs the loss-function inversion), with case packs, and gives each row a
history std (the dispersion floor of its negative binomial rows) and the slow rows (mean below 5
per period) an ADI of 1-5 and a size CV² (the compound binomial floor of the intermittent ones); a
second pass uses CSL targets only, a third drops the ADI (the std floor only), a fourth both
floors. Prints rows per second for each.

`--spark N` runs the policy stage's own Spark path on N such series: the rows are generated on the
executors (`mapInArrow`, seeded per partition), go through `stage_policy`'s `mapInArrow` of
`policy_batch` with the default settings, and are written as Parquet (the bytes a Delta write
would put down, without the commit). Prints the wall time and series per second per core.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa

from invspark.policy import compute_policies


def mixed_batch(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mean = rng.gamma(1.0, 10.0, n)
    return pd.DataFrame({
        "demand_mean": mean, "demand_std": np.sqrt(mean) * rng.uniform(0.8, 2.5, n),
        "demand_std_history": np.sqrt(mean) * rng.uniform(0.8, 1.5, n),  # the negbin rows' dispersion floor
        "adi": np.where(mean < 5.0, rng.uniform(1.0, 5.0, n), 1.0),  # >= 1.32: the compound binomial floor
        "cv2_size": rng.uniform(0.0, 1.0, n),
        "lead_time_mean": rng.uniform(0.5, 6, n), "lead_time_std": rng.uniform(0, 1.5, n),
        "review_period": rng.integers(1, 4, n).astype(float),
        "distribution": rng.choice(["normal", "poisson", "negbin", "gamma"], n),
        "policy": rng.choice(["sQ", "RS", "sS", "RsS"], n),
        "service_level_type": rng.choice(["csl", "fill_rate"], n),
        "service_level_target": rng.uniform(0.85, 0.99, n),
        "unit_cost": 5.0, "holding_cost_rate": 0.25, "ordering_cost": 20.0,
        "case_pack": rng.choice([1.0, 6.0, 12.0], n), "moq": 0.0,
        "on_hand": rng.uniform(0, 50, n), "on_order": 0.0, "backorders": 0.0,
    })


def keyed_batch(ids: np.ndarray) -> pd.DataFrame:
    """mixed_batch rows for series `ids` (seeded by the first id), with keys and a segment."""
    frame = mixed_batch(len(ids), seed=int(ids[0]))
    frame.insert(0, "sku_id", [f"sku{i}" for i in ids])
    frame.insert(1, "location_id", [f"loc{i % 500}" for i in ids])
    frame["segment"] = "BY-erratic"
    return frame


def _generated_batches(batches):
    for batch in batches:
        ids = batch.column("id").to_numpy()
        if len(ids):
            yield pa.RecordBatch.from_pandas(keyed_batch(ids), preserve_index=False)


def spark_policy_stage(n: int, master: str) -> None:
    import shutil
    import tempfile
    from functools import partial

    from pyspark.sql.pandas.types import from_arrow_schema

    from invspark.spark.session import get_spark
    from invspark.spark.stage_policy import _policy_batches
    from invspark.stages.policy import POLICY_DDL, PolicySettings

    spark = get_spark("bench-policy", master=master)
    cores = spark.sparkContext.defaultParallelism
    schema = from_arrow_schema(pa.Schema.from_pandas(keyed_batch(np.arange(2)), preserve_index=False))
    partitions = max(cores, n // 100_000)
    inputs = spark.range(0, n, numPartitions=partitions).mapInArrow(_generated_batches, schema)
    policies = inputs.mapInArrow(partial(_policy_batches, settings=PolicySettings()), POLICY_DDL)
    out = tempfile.mkdtemp(prefix="bench-policy-")
    try:
        wall = time.perf_counter()
        policies.write.mode("overwrite").parquet(f"{out}/inventory_policy")
        wall = time.perf_counter() - wall
        written = spark.read.parquet(f"{out}/inventory_policy").count()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Spark {master}, {cores} cores, "
          f"{partitions} partitions")
    print(f"Spark policy path: {written:,} series in {wall:.1f} s wall = {written / wall / cores:,.0f} series / s / core "
          "(generation of the inputs included)")
    spark.stop()


def main() -> None:
    if "--spark" in sys.argv:
        n = int(sys.argv[sys.argv.index("--spark") + 1])
        master = sys.argv[sys.argv.index("--master") + 1] if "--master" in sys.argv else "local[2]"
        spark_policy_stage(n, master)
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    frame = mixed_batch(n)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; one process, one thread")
    passes = [("mixed (half fill rate)", frame), ("CSL only", frame.assign(service_level_type="csl")),
              ("mixed, std floor only", frame.drop(columns="adi")),
              ("mixed, no dispersion floor", frame.drop(columns=["demand_std_history", "adi"]))]
    for label, batch in passes:
        cpu, wall = time.process_time(), time.perf_counter()
        out = compute_policies(batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{label}: {n:,} rows in {wall:.2f} s wall / {cpu:.2f} s CPU = {n / cpu:,.0f} rows per CPU-second; "
              f"exceptions {int(out['exception'].notna().sum())}")


if __name__ == "__main__":
    main()

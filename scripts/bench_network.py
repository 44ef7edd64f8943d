"""Benchmark the network faces on synthetic frames: invspark.network.allocate and
invspark.network.place_safety_stock (pure pandas/numpy, no Spark).

Frames are generated with numpy (seeded): each SKU has one DC and ``--stores`` stores.
Allocation: DC supply between 50% and 250% of the stores' total mean demand (stores request
their 95% quantile, so most groups are short), case packs 1/6/12, a mix of normal/Poisson/negbin/gamma demand, random on hand and
capacities. Placement: a 3-level tree per SKU, a national DC feeding two regional DCs that
feed half of the stores each; 10% of the SKUs are not stocked at the second regional DC (those
stores are fed by the national DC directly).

    .venv/bin/python scripts/bench_network.py --skus 10000 100000 --stores 50

Prints a markdown table (machine, sizes, wall and process CPU seconds, rows per second, command).
On a shared machine wall time is inflated by other processes; CPU time is not.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd

from invspark.network import allocate, place_safety_stock


def allocation_frame(n_skus: int, n_stores: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_skus * n_stores
    sku = np.repeat(np.arange(n_skus), n_stores)
    mean = rng.lognormal(mean=1.5, sigma=0.8, size=n)  # horizon demand, median ~4.5 units
    cv = rng.uniform(0.3, 1.2, n)
    case_pack = rng.choice([1, 6, 12], n_skus, p=[0.5, 0.3, 0.2])[sku]
    total_mean = np.bincount(sku, weights=mean, minlength=n_skus)
    available = np.floor(total_mean * rng.uniform(0.5, 2.5, n_skus))[sku]
    on_hand = np.floor(mean * rng.uniform(0.0, 1.0, n))
    capacity = np.where(rng.random(n) < 0.3, np.ceil(mean * 3.0 + 12.0), np.nan)
    return pd.DataFrame(
        {
            "sku_id": pd.Series(sku).map("sku{:07d}".format),
            "dc_id": "dc01",
            "location_id": pd.Series(np.tile(np.arange(n_stores), n_skus)).map("store{:04d}".format),
            "available_units": available,
            "demand_mean": mean,
            "demand_std": mean * cv,
            "distribution": rng.choice(["normal", "poisson", "negbin", "gamma"], n),
            "on_hand": on_hand,
            "unit_margin": rng.uniform(0.5, 5.0, n_skus)[sku],
            "case_pack": case_pack,
            "capacity_units": capacity,
        }
    )


def placement_frame(n_skus: int, n_stores: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_nodes = n_stores + 3
    store_ids = np.array([f"store{i:04d}" for i in range(n_stores)], dtype=object)
    location = np.concatenate([np.array(["national", "regional_a", "regional_b"], dtype=object), store_ids])
    source = np.concatenate(
        [np.array([None, "national", "national"], dtype=object), np.where(np.arange(n_stores) % 2, "regional_b", "regional_a")]
    )
    frame = pd.DataFrame(
        {
            "sku_id": pd.Series(np.repeat(np.arange(n_skus), n_nodes)).map("sku{:07d}".format),
            "location_id": np.tile(location, n_skus),
            "source_id": np.tile(source, n_skus),
        }
    )
    node = np.tile(np.arange(n_nodes), n_skus)
    is_store = node >= 3
    n = frame.shape[0]
    frame["processing_time"] = np.where(node == 0, rng.integers(2, 9, n), np.where(is_store, rng.integers(1, 3, n), rng.integers(1, 4, n)))
    frame["external_service_time"] = np.where(node == 0, rng.integers(0, 5, n), np.nan)
    frame["max_service_time_out"] = np.where(is_store, 0.0, np.nan)
    unit_cost = rng.uniform(1.0, 50.0, n_skus)[np.repeat(np.arange(n_skus), n_nodes)]
    frame["holding_cost"] = unit_cost * 0.25 / 52 * np.where(is_store, 1.3, np.where(node == 0, 1.0, 1.1))
    frame["demand_std"] = np.where(is_store, rng.lognormal(0.5, 0.8, n), np.nan)
    frame["z"] = 1.645
    # 10% of SKUs are not stocked at regional_b: drop that row, its stores are fed by the national DC
    unstocked = np.repeat(rng.random(n_skus) < 0.1, n_nodes)
    frame.loc[unstocked & (frame["source_id"] == "regional_b").to_numpy(), "source_id"] = "national"
    frame = frame.loc[~(unstocked & (node == 2))].reset_index(drop=True)
    return frame


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[10_000])
    parser.add_argument("--stores", type=int, default=50)
    args = parser.parse_args(argv)
    command = " ".join([".venv/bin/python", "scripts/bench_network.py", *sys.argv[1:]])
    results = []
    for n_skus in args.skus:
        frame = allocation_frame(n_skus, args.stores)
        start, cpu_start = time.perf_counter(), time.process_time()
        out = allocate(frame)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        short = (out.groupby("sku_id")["requested_units"].sum() > out.groupby("sku_id")["available_units"].first()).mean()
        gain = out["expected_units_sold"].sum() / out["expected_units_sold_fair_share"].sum() - 1
        results.append(("allocate", n_skus, len(frame), seconds, cpu_seconds, f"{short:.0%} of SKUs short; units sold +{gain:.2%} vs fair share"))
        del frame, out
        frame = placement_frame(n_skus, args.stores)
        start, cpu_start = time.perf_counter(), time.process_time()
        out = place_safety_stock(frame)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        results.append(("place_safety_stock", n_skus, len(frame), seconds, cpu_seconds, "3-level tree, 10% SKUs not at one regional DC"))
        del frame, out
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs visible (nproc), {cpu_model()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}; 1-min load average at the end {load:.1f}")
    print(f"command: `{command}`\n")
    print("| face | SKUs | stores/SKU | rows | wall seconds | CPU seconds | rows/second (wall) | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for face, n_skus, rows, seconds, cpu_seconds, notes in results:
        print(
            f"| {face} | {n_skus:,} | {args.stores} | {rows:,} | {seconds:.2f} | {cpu_seconds:.2f} | "
            f"{rows / seconds:,.0f} | {notes} |"
        )


if __name__ == "__main__":
    main()

"""Throughput of `invspark.policy.compute_policies` on a mixed batch (no Spark).

    .venv/bin/python scripts/bench_policy.py [N]

The batch mixes the four distribution families, the four policies and both service-level types
(half fill rate, which needs the loss-function inversion), with case packs; a second pass uses
CSL targets only. Prints rows per second for each.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

from invspark.policy import compute_policies


def mixed_batch(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mean = rng.gamma(1.0, 10.0, n)
    return pd.DataFrame({
        "demand_mean": mean, "demand_std": np.sqrt(mean) * rng.uniform(0.8, 2.5, n),
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    frame = mixed_batch(n)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; one process, one thread")
    for label, batch in [("mixed (half fill rate)", frame), ("CSL only", frame.assign(service_level_type="csl"))]:
        cpu, wall = time.process_time(), time.perf_counter()
        out = compute_policies(batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{label}: {n:,} rows in {wall:.2f} s wall / {cpu:.2f} s CPU = {n / cpu:,.0f} rows per CPU-second; "
              f"exceptions {int(out['exception'].notna().sum())}")


if __name__ == "__main__":
    main()

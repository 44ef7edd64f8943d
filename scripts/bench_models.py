"""Time every model of invspark.kernels.forecast_models on a synthetic weekly panel.

Run:  .venv/bin/python scripts/bench_models.py [--series 10000] [--periods 104] [--repeat 3]

The panel mimics store-level weekly retail demand: Poisson demand with gamma-distributed levels
(many slow movers), a yearly peak, series that start at random weeks, 1 % missing periods and
3 % censored (stockout) periods. Prints the best of ``--repeat`` wall-clock and CPU times per
model on one core (numpy does not thread these element-wise operations) and the machine's load
average: on a shared machine the wall-clock time is inflated, the process CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from invspark.kernels.forecast_models import MODELS


def synthetic_panel(n_series: int, n_periods: int, seed: int = 0):
    """Weekly demand ``(n_series, n_periods)`` with NaN before each start and a censored mask."""
    rng = np.random.default_rng(seed)
    level = rng.gamma(0.7, 3.0, size=(n_series, 1))
    season = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(n_periods) / 52)
    y = rng.poisson(level * season, size=(n_series, n_periods)).astype(float)
    start = rng.integers(0, max(n_periods - 8, 1), n_series)
    y[np.arange(n_periods)[None, :] < start[:, None]] = np.nan
    y[rng.random((n_series, n_periods)) < 0.01] = np.nan
    censored = (rng.random((n_series, n_periods)) < 0.03) & ~np.isnan(y)
    return y, censored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=104)
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--season-length", type=int, default=52)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    y, censored = synthetic_panel(args.series, args.periods)
    print(f"panel {y.shape}, horizon {args.horizon}, season_length {args.season_length}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    total_wall = total_cpu = 0.0
    print(f"{'model':18s} {'wall s':>8s} {'cpu s':>8s}")
    for name, model in MODELS.items():
        best_wall = best_cpu = np.inf
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            model(y, censored, args.horizon, args.season_length)
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        total_wall += best_wall
        total_cpu += best_cpu
        print(f"{name:18s} {best_wall:8.3f} {best_cpu:8.3f}")
    print(f"{'all models':18s} {total_wall:8.3f} {total_cpu:8.3f}")


if __name__ == "__main__":
    main()

"""Cost curve of the whole pipeline: generate N weekly series (2 years) and run every stage.

    .venv/bin/python scripts/bench_scale.py --series 10000 100000 [--periods 104] [--master local[2]]

For each size: wall time per stage (from the `runs` table), series / second / core, peak resident
memory of the Spark JVM and its Python workers (sampled from /proc every 0.5 s), shuffle bytes
written (Spark's REST API on the driver UI, loopback only) and the warehouse's size on disk.
Then a least-squares fit of total time = a + b x series, and the extrapolation to 25M series on
this machine's cores and on a 100-core cluster (assuming time scales inversely with cores, which
the bucketed design allows but which is an assumption until measured on a cluster).
Prints a markdown table; `--json OUT` also writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np


def process_tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class PeakMemory(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, process_tree_rss_bytes(self.pid))
            time.sleep(0.5)


def shuffle_bytes(spark) -> int:
    """Shuffle bytes written by all stages of this application (driver UI REST API)."""
    url = spark.sparkContext.uiWebUrl
    if not url:
        return -1
    app = spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete", timeout=30) as response:
        stages = json.load(response)
    return int(sum(stage.get("shuffleWriteBytes", 0) for stage in stages))


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run_size(n_series: int, periods: int, master: str, workdir: Path) -> dict:
    from deltalake import DeltaTable

    from invspark.cli import write_dataset_config
    from invspark.config import load_config
    from invspark.pipeline import run_pipeline
    from invspark.spark.generate import generate_dataset
    from invspark.spark.session import get_spark

    spark = get_spark("invspark-bench-scale", master=master)
    cores = spark.sparkContext.defaultParallelism
    data_dir, warehouse = workdir / f"data_{n_series}", workdir / f"warehouse_{n_series}"
    started = time.perf_counter()
    data = generate_dataset(spark, str(data_dir), n_series=n_series, n_periods=periods, frequency="W", seed=1)
    generate_seconds = time.perf_counter() - started
    config = load_config(write_dataset_config(data, data_dir, warehouse=str(warehouse)))
    jvm_pid = int(subprocess.run(["pgrep", "-f", "-n", "org.apache.spark.deploy.SparkSubmit"], capture_output=True, text=True).stdout.split()[0])
    monitor = PeakMemory(jvm_pid)
    monitor.start()
    shuffle_before = shuffle_bytes(spark)
    started = time.perf_counter()
    context = run_pipeline(spark, config)
    total_seconds = time.perf_counter() - started
    monitor.running = False
    monitor.join()
    runs = DeltaTable(str(warehouse / "runs")).to_pandas()
    runs = runs[runs["run_id"] == context.run_id].set_index("stage")
    result = {
        "series": n_series,
        "periods": periods,
        "cores": cores,
        "generate_s": generate_seconds,
        "total_s": total_seconds,
        "stage_s": {stage: float(runs.loc[stage, "seconds"]) for stage in runs.index},
        "series_per_s_per_core": n_series / total_seconds / cores,
        "peak_rss_gb": monitor.peak / 1e9,
        "shuffle_gb": (shuffle_bytes(spark) - shuffle_before) / 1e9,
        "warehouse_gb": folder_bytes(warehouse) / 1e9,
        "input_gb": folder_bytes(data_dir) / 1e9,
    }
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--periods", type=int, default=104)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-5s %(message)s", datefmt="%H:%M:%S")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="invspark-scale-"))
    results = [run_size(n, args.periods, args.master, workdir) for n in args.series]

    stages = ["ingest", "forecast", "policy", "allocate"]
    print(f"\nmachine: {os.cpu_count()} cores, master {args.master}; {args.periods} weekly periods; command: "
          f"python scripts/bench_scale.py --series {' '.join(map(str, args.series))} --master {args.master}\n")
    print("| series | " + " | ".join(f"{s} s" for s in stages) + " | total s | series/s/core | peak RSS GB | shuffle GB | output GB |")
    print("|---:|" + "---:|" * (len(stages) + 5))
    for r in results:
        print(f"| {r['series']:,} | " + " | ".join(f"{r['stage_s'].get(s, float('nan')):.0f}" for s in stages)
              + f" | {r['total_s']:.0f} | {r['series_per_s_per_core']:.1f} | {r['peak_rss_gb']:.1f} | {r['shuffle_gb']:.2f} | {r['warehouse_gb']:.2f} |")
    if len(results) >= 2:
        x = np.array([r["series"] for r in results], dtype=float)
        y = np.array([r["total_s"] for r in results])
        slope, intercept = np.polyfit(x, y, 1)
        fitted = intercept + slope * x
        r2 = 1 - ((y - fitted) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12)
        cores = results[-1]["cores"]
        here = intercept + slope * 25e6
        print(f"\nfit: total = {intercept:.0f} s + {slope * 1e6:.0f} s per million series (R^2 {r2:.3f})")
        print(f"25M series: {here / 3600:.1f} h on {cores} cores here; "
              f"{(intercept + slope * 25e6 * cores / 100) / 3600:.2f} h on 100 cores if time scales with cores")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

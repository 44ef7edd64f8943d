"""The packaged code runs under `spark-submit --master local[2]`, as it would on a cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_pipeline_job_through_spark_submit(small_dataset, tmp_path):
    data, config_path = small_dataset
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
    )
    wheel = next(dist.glob("invspark-*.whl"))
    config = yaml.safe_load(Path(config_path).read_text())
    config["warehouse"] = str(tmp_path / "warehouse")
    job_config = tmp_path / "job.yaml"
    job_config.write_text(yaml.safe_dump(config))
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    result = subprocess.run(
        [
            str(spark_submit), "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=4",
            "--py-files", str(wheel), str(ROOT / "jobs" / "run.py"),
            "--config", str(job_config), "--run-id", "submitted",
        ],
        capture_output=True, text=True, env=env, timeout=900,
    )
    output = result.stdout + result.stderr  # spark-submit forwards the Python driver's stderr to stdout
    assert result.returncode == 0, output[-3000:]
    assert "master=local[2]" in output  # the submit's master, not the config's local[*]
    runs = DeltaTable(str(tmp_path / "warehouse" / "runs")).to_pandas()
    assert sorted(runs["stage"]) == ["allocate", "forecast", "ingest", "policy"]
    assert (runs["run_id"] == "submitted").all() and (runs["status"] == "succeeded").all()

"""A real Spark standalone cluster on one machine, with fault injection (`make cluster-test`).

Starts a standalone master and two workers with pyspark's own launcher
(`spark-class org.apache.spark.deploy.master.Master` / `...deploy.worker.Worker`), all bound to
127.0.0.1 on free ports, each worker with 1 core, its own `SPARK_WORKER_DIR` and
`SPARK_LOCAL_DIRS` under one temporary folder. The code ships as a wheel
(`pip wheel --no-deps`) and runs through `spark-submit --master spark://127.0.0.1:<port>
--py-files <wheel> jobs/run.py --config <cfg>`, exactly as on a real cluster. Scenarios:

- `undisturbed`: the reference run.
- `worker_kill`: `kill -9` of one worker's process group (worker JVM, its executor and the
  executor's Python workers) once the driver logs `[forecast] started`. The job must finish on
  the remaining worker and every table must equal the undisturbed run's (keys sorted; `run_id`
  and timing columns ignored; floats within 1e-9).
- `driver_kill`: on a copy of the undisturbed warehouse, a rerun of the same `run_date` whose
  spark-submit process group is killed with `kill -9` while a table is being written (a
  `<table>/_staging/<write_id>` folder exists after `[policy] started`). Every table must still
  be readable with `deltalake` (the table being written at its previous version, with the
  previous rows); a second rerun must then succeed with no duplicate keys, `runs` must show it,
  and its tables must equal the undisturbed run's.

Everything started here runs in its own process group and is killed in a `finally` block, also
when a check fails. Usage:

    .venv/bin/python scripts/cluster_test.py [--series 200] [--periods 60] [--json report.json]
        [--scenarios undisturbed,worker_kill,driver_kill] [--short] [--keep DIR]

`--short` (the pytest form): the fault runs start from a copy of the undisturbed warehouse and
skip ingest (worker kill: forecast, policy, allocate; driver kill and rerun: policy, allocate).

Exit status 0 when every check passed; the report (timings, table comparisons, what did not
recover) is printed as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
BIN = PYTHON.parent
SPARK_HOME = Path(importlib.util.find_spec("pyspark").origin).parent
SPARK_CLASS = SPARK_HOME / "bin" / "spark-class"
SPARK_SUBMIT = BIN / "spark-submit"
SCENARIOS = ("undisturbed", "worker_kill", "driver_kill")
STAGES = ("ingest", "forecast", "policy", "allocate")

# Columns that legitimately differ between two runs of the same inputs.
VOLATILE_COLUMNS = frozenset({"run_id", "started_at", "finished_at", "seconds", "message"})
FLOAT_TOLERANCE = 1e-9
# Grain of each table (CONTRACTS.md); `run_date` is prepended. Tables not listed are keyed by
# all their scalar non-float columns.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "demand_forecast": ("sku_id", "location_id", "horizon"),
    "demand_distribution": ("sku_id", "location_id"),
    "inventory_policy": ("sku_id", "location_id"),
    "echelon_policy": ("sku_id", "location_id"),
    "allocation": ("sku_id", "dc_id", "location_id"),
    "forecast_accuracy": ("model", "segment", "fold"),
    "runs": ("run_id", "stage"),
    "stage_series_panel": ("sku_id", "location_id"),
}

# Settings that make the loss of a worker recoverable: tasks and stages are retried often enough
# for a lost executor (its running tasks, its shuffle files, its cached blocks) to be recomputed
# on the surviving worker, and the driver waits for both executors before the first job so that
# both are in use when one is killed.
SUBMIT_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "1g",
    "spark.executor.cores": "1",
    "spark.executor.memory": "1g",
    "spark.cores.max": "2",
    "spark.task.maxFailures": "8",
    "spark.stage.maxConsecutiveAttempts": "8",
    "spark.scheduler.minRegisteredResourcesRatio": "1.0",
    "spark.scheduler.maxRegisteredResourcesWaitingTime": "60s",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.pyspark.python": str(PYTHON),
    "spark.pyspark.driver.python": str(PYTHON),
}


class ClusterTestFailure(AssertionError):
    """A fault-injection check that did not hold; the message says which and why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    """The environment of every process started here: loopback only, this venv's Python."""
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"PYSPARK_SUBMIT_ARGS", "MASTER", "SPARK_CONF_DIR", "SPARK_MASTER_HOST"}
    }
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_NO_DAEMONIZE="1",
        PYSPARK_PYTHON=str(PYTHON),
        PYSPARK_DRIVER_PYTHON=str(PYTHON),
    )
    env.update(extra)
    return env


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> float:
    """Poll `condition` until it holds; return the seconds waited or raise naming `what`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise ClusterTestFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
    return time.monotonic() - start


def log_contains(path: Path, pattern: str) -> bool:
    return path.exists() and re.search(pattern, path.read_text(errors="replace")) is not None


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process group that `process` leads (it was started with its own session)."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@dataclasses.dataclass
class StandaloneCluster:
    """A standalone master and `n_workers` workers on 127.0.0.1, each in its own process group."""

    workdir: Path
    n_workers: int = 2
    worker_memory: str = "1500m"
    master_port: int = 0
    processes: dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)
    commands: dict[str, tuple[list[str], dict[str, str]]] = dataclasses.field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def _launch(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("w") as log_file:
            process = subprocess.Popen(
                [str(SPARK_CLASS), *args], stdout=log_file, stderr=subprocess.STDOUT, env=env,
                cwd=self.workdir, start_new_session=True,
            )
        self.processes[name] = process
        self.commands[name] = (args, env)
        return process

    def start(self, timeout_s: float = 120.0) -> dict[str, float]:
        """Start the master, then the workers; return seconds until each was ready."""
        started = time.monotonic()
        self.master_port = free_port()
        self._launch(
            "master",
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(self.master_port),
             "--webui-port", str(free_port())],
            # No REST submission server (port 6066 would clash with other clusters on the machine).
            base_env(SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"),
        )
        wait_until(lambda: self._alive("master") and log_contains(self.log("master"), "elected leader"),
                   timeout_s, "the master to be elected leader")
        timings = {"master_s": time.monotonic() - started}
        for index in range(1, self.n_workers + 1):
            name = f"worker{index}"
            worker_dir = self.workdir / name
            (worker_dir / "local").mkdir(parents=True, exist_ok=True)
            self._launch(
                name,
                ["org.apache.spark.deploy.worker.Worker", self.master_url, "--host", "127.0.0.1",
                 "--port", str(free_port()), "--webui-port", "0", "--cores", "1",
                 "--memory", self.worker_memory, "--work-dir", str(worker_dir / "work")],
                base_env(SPARK_WORKER_DIR=str(worker_dir / "work"), SPARK_LOCAL_DIRS=str(worker_dir / "local")),
            )
        for index in range(1, self.n_workers + 1):
            name = f"worker{index}"
            wait_until(lambda: self._alive(name) and log_contains(self.log(name), "Successfully registered with master"),
                       timeout_s, f"{name} to register with the master")
        timings["workers_s"] = time.monotonic() - started - timings["master_s"]
        return timings

    def restart_worker(self, name: str, timeout_s: float = 120.0) -> float:
        """Start a killed worker again (a new port, the same folders); seconds until registered."""
        started = time.monotonic()
        args, env = self.commands[name]
        args = [str(free_port()) if previous == "--port" else arg for previous, arg in zip(["", *args], args)]
        self._launch(name, args, env)
        wait_until(lambda: self._alive(name) and log_contains(self.log(name), "Successfully registered with master"),
                   timeout_s, f"{name} to register with the master again")
        return time.monotonic() - started

    def _alive(self, name: str) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            tail = self.log(name).read_text(errors="replace")[-2000:]
            raise ClusterTestFailure(f"{name} exited with status {process.returncode}; log tail:\n{tail}")
        return True

    def kill_worker(self, name: str) -> None:
        """`kill -9` the worker's process group: the worker JVM, its executor and Python workers."""
        kill_group(self.processes[name])
        self.processes[name].wait(timeout=30)

    def stop(self) -> None:
        """Terminate every process group started here (workers first), then kill what is left."""
        for name in sorted(self.processes, key=lambda n: n == "master"):
            kill_group(self.processes[name], signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            kill_group(process)  # also reaps executors a SIGTERM'd worker left behind
            process.wait(timeout=30)


def build_wheel(dist: Path) -> Path:
    """`pip wheel --no-deps` of this checkout: the code the executors import."""
    subprocess.run(
        [str(PYTHON), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    return next(dist.glob("invspark-*.whl"))


def generate_data(workdir: Path, series: int, periods: int) -> Path:
    """`invspark generate` (local mode) into `workdir/data`; returns the run config it wrote."""
    subprocess.run(
        [str(BIN / "invspark"), "generate", "--series", str(series), "--periods", str(periods),
         "--frequency", "W", "--seed", "3", "--bad-row-rate", "0.01",
         "--out", str(workdir / "data"), "--warehouse", str(workdir / "warehouse")],
        check=True, capture_output=True, text=True, env=base_env(), cwd=workdir,
    )
    return workdir / "data" / "invspark.yaml"


def config_for(generated: Path, warehouse: Path, path: Path) -> Path:
    """The generated run config with its own warehouse."""
    config = yaml.safe_load(generated.read_text())
    config["warehouse"] = str(warehouse)
    path.write_text(yaml.safe_dump(config))
    return path


def submit(
    cluster: StandaloneCluster, wheel: Path, config: Path, run_id: str, log_path: Path,
    stages: tuple[str, ...] | None = None,
) -> subprocess.Popen:
    """`spark-submit --master spark://...` of jobs/run.py (all stages, or `stages`), in its own process group."""
    conf_args = [arg for key, value in SUBMIT_CONF.items() for arg in ("--conf", f"{key}={value}")]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log_file:
        return subprocess.Popen(
            [str(SPARK_SUBMIT), "--master", cluster.master_url, "--deploy-mode", "client", *conf_args,
             "--py-files", str(wheel), str(ROOT / "jobs" / "run.py"), "--config", str(config), "--run-id", run_id,
             *(["--stages", ",".join(stages)] if stages else [])],
            stdout=log_file, stderr=subprocess.STDOUT, env=base_env(), cwd=cluster.workdir, start_new_session=True,
        )


def finish(process: subprocess.Popen, log_path: Path, what: str, timeout_s: float) -> None:
    """Wait for a spark-submit; a non-zero exit is a failure with the log's tail."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(process)
        process.wait(timeout=30)
        raise ClusterTestFailure(f"{what}: spark-submit still running after {timeout_s:.0f} s; killed") from None
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise ClusterTestFailure(f"{what}: spark-submit exited with {process.returncode}; log tail:\n{tail}")


# ---- reading and comparing warehouses ------------------------------------------------------------

def table_names(warehouse: Path) -> list[str]:
    return sorted(p.parent.name for p in warehouse.glob("*/_delta_log"))


def table_versions(warehouse: Path) -> dict[str, int]:
    return {name: DeltaTable(str(warehouse / name)).version() for name in table_names(warehouse)}


def read_table(warehouse: Path, name: str, version: int | None = None) -> pd.DataFrame:
    return DeltaTable(str(warehouse / name), version=version).to_pandas()


def _is_array(series: pd.Series) -> bool:
    return series.dtype == object and series.map(lambda v: isinstance(v, (list, np.ndarray))).any()


def table_keys(name: str, frame: pd.DataFrame) -> list[str]:
    """`run_date` plus the table's grain (TABLE_KEYS), or all scalar non-float columns."""
    if name in TABLE_KEYS:
        return ["run_date", *TABLE_KEYS[name]]
    return [
        column for column in frame.columns
        if column not in VOLATILE_COLUMNS and not pd.api.types.is_float_dtype(frame[column]) and not _is_array(frame[column])
    ]


def duplicate_keys(warehouse: Path) -> dict[str, int]:
    """Tables whose rows repeat a key (table -> number of repeated rows); empty when none."""
    repeated = {}
    for name in table_names(warehouse):
        frame = read_table(warehouse, name)
        keys = table_keys(name, frame)
        count = int(frame.duplicated(subset=keys).sum()) if len(frame) else 0
        if count:
            repeated[name] = count
    return repeated


def _comparable(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS])
    keys = [k for k in table_keys(name, frame) if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _column_difference(left: pd.Series, right: pd.Series) -> tuple[int, float | None]:
    """(rows that differ, largest absolute float difference or None for non-float columns)."""
    if _is_array(left) or _is_array(right):
        differing, largest = 0, 0.0
        for a, b in zip(left, right):
            a_values = np.asarray(a if a is not None else [], dtype=object)
            b_values = np.asarray(b if b is not None else [], dtype=object)
            if a_values.shape != b_values.shape:
                differing += 1
                continue
            try:
                a_float, b_float = a_values.astype(float), b_values.astype(float)
            except (TypeError, ValueError):
                differing += int(not np.array_equal(a_values, b_values))
                continue
            close = np.isclose(a_float, b_float, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE, equal_nan=True)
            differing += int(not close.all())
            if a_float.size:
                largest = max(largest, float(np.nanmax(np.abs(a_float - b_float), initial=0.0)))
        return differing, largest
    if pd.api.types.is_float_dtype(left) and pd.api.types.is_float_dtype(right):
        a, b = left.to_numpy(float), right.to_numpy(float)
        close = np.isclose(a, b, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE, equal_nan=True)
        gap = np.abs(a - b)
        return int((~close).sum()), float(np.nanmax(gap)) if np.isfinite(gap).any() else 0.0
    same = (left == right) | (left.isna() & right.isna())
    return int((~same).sum()), None


def compare_warehouses(
    expected: Path, actual: Path, run_date: str | None = None, skip: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Every difference between two warehouses' tables (of one `run_date`, when given).

    Rows are matched by the table's keys after sorting; `run_id` and timing columns are ignored;
    floats (also inside arrays) are equal within `FLOAT_TOLERANCE` (relative and absolute).
    Tables named in `skip` are not compared. Returns one entry per differing table or column; an
    empty list means equal.
    """
    differences: list[dict[str, Any]] = []
    names = sorted((set(table_names(expected)) | set(table_names(actual))) - set(skip))
    for name in names:
        if not (expected / name / "_delta_log").is_dir() or not (actual / name / "_delta_log").is_dir():
            differences.append({"table": name, "problem": "present in only one warehouse"})
            continue
        frames = []
        for warehouse in (expected, actual):
            frame = read_table(warehouse, name)
            if run_date is not None:
                frame = frame[frame["run_date"].astype(str) == run_date]
            frames.append(_comparable(name, frame))
        left, right = frames
        if list(left.columns) != list(right.columns) or len(left) != len(right):
            differences.append({
                "table": name, "problem": "shape differs",
                "expected": [len(left), list(left.columns)], "actual": [len(right), list(right.columns)],
            })
            continue
        for column in left.columns:
            differing, largest = _column_difference(left[column], right[column])
            if differing:
                differences.append({
                    "table": name, "column": column, "rows_differing": differing, "rows": len(left),
                    "max_abs_difference": largest,
                })
    return differences


# ---- scenarios -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Workspace:
    workdir: Path
    cluster: StandaloneCluster
    wheel: Path
    generated_config: Path
    run_date: str
    # Short form: the fault runs start from a copy of the undisturbed warehouse and run only the
    # stages after ingest (forecast/policy/allocate for the worker kill, policy/allocate for the
    # driver kill and its rerun); the full form runs every stage each time.
    short: bool = False

    def config(self, name: str) -> tuple[Path, Path]:
        warehouse = self.workdir / f"warehouse_{name}"
        return warehouse, config_for(self.generated_config, warehouse, self.workdir / f"{name}.yaml")


def run_undisturbed(space: Workspace, timeout_s: float) -> dict[str, Any]:
    warehouse, config = space.config("undisturbed")
    log_path = space.workdir / "logs" / "undisturbed.driver.log"
    started = time.monotonic()
    finish(submit(space.cluster, space.wheel, config, "undisturbed", log_path), log_path, "undisturbed run", timeout_s)
    seconds = time.monotonic() - started
    runs = read_table(warehouse, "runs")
    if sorted(runs["stage"]) != ["allocate", "forecast", "ingest", "policy"] or not (runs["status"] == "succeeded").all():
        raise ClusterTestFailure(f"undisturbed run: runs table is {runs[['stage', 'status']].to_dict('records')}")
    if f"master={space.cluster.master_url}" not in log_path.read_text(errors="replace"):
        raise ClusterTestFailure(f"undisturbed run did not run on {space.cluster.master_url}; see {log_path}")
    driver_log = log_path.read_text(errors="replace")
    return {
        "seconds": round(seconds, 1), "tables": table_names(warehouse),
        # Spark 4.2.0 can lose executors on its own (SPARK-59451: the heartbeat thread dies on a
        # half-deserialized accumulator of a cached DataFrame); counted here, not hidden.
        "executors_lost": len(re.findall(r"Lost executor", driver_log)),
        "heartbeat_timeouts": len(re.findall(r"heartbeat timed out", driver_log)),
    }


def _executor_logs(cluster: StandaloneCluster) -> dict[Path, str]:
    """Each executor's stderr (`<worker dir>/work/<app>/<executor>/stderr`) -> its worker's name."""
    return {
        log: name for name in cluster.processes if name.startswith("worker")
        for log in (cluster.workdir / name / "work").glob("*/*/stderr")
    }


def run_worker_kill(space: Workspace, timeout_s: float) -> dict[str, Any]:
    """Kill a worker's process group while it runs a forecast-stage task; the job must still finish.

    The victim is the first worker whose executor logs `Running task` after the driver logged
    `[forecast] started`, so that a running task, its executor's shuffle files and its cached
    blocks are all lost and must be recomputed on the other worker.
    """
    warehouse, config = space.config("worker_kill")
    stages = None
    if space.short:
        shutil.copytree(space.workdir / "warehouse_undisturbed", warehouse)
        stages = ("forecast", "policy", "allocate")
    log_path = space.workdir / "logs" / "worker_kill.driver.log"
    started = time.monotonic()
    process = submit(space.cluster, space.wheel, config, "worker-kill", log_path, stages)
    offsets: dict[Path, int] = {}
    victim: list[str] = []
    victim_log: list[Path] = []

    def forecast_started() -> bool:
        if process.poll() is not None:
            return True
        if not log_contains(log_path, r"\[forecast\] started"):
            return False
        offsets.update({log: log.stat().st_size for log in _executor_logs(space.cluster)})
        return True

    def task_running() -> bool:
        if process.poll() is not None:
            return True
        for log, worker in _executor_logs(space.cluster).items():
            with log.open("rb") as handle:
                handle.seek(offsets.get(log, 0))
                if b"Running task" in handle.read():
                    victim.append(worker)
                    victim_log.append(log)
                    return True
        return False

    try:
        wait_until(forecast_started, timeout_s, "the driver to log '[forecast] started'", interval_s=0.1)
        wait_until(task_running, timeout_s, "an executor to start a forecast-stage task", interval_s=0.05)
        if process.poll() is not None:
            raise ClusterTestFailure(f"worker_kill: the job ended (status {process.returncode}) before a worker was killed")
        killed_at = time.monotonic() - started
        space.cluster.kill_worker(victim[0])
    except BaseException:
        kill_group(process)
        raise
    try:
        finish(process, log_path, "run with a killed worker", timeout_s)
        seconds = time.monotonic() - started
    finally:
        restart_s = space.cluster.restart_worker(victim[0])  # the next scenario has two workers again
    driver_log = log_path.read_text(errors="replace")
    with victim_log[0].open("rb") as handle:
        handle.seek(offsets.get(victim_log[0], 0))
        executor_log = handle.read().decode(errors="replace")
    # Tasks the killed executor started and never finished (the driver logs their loss at INFO
    # only, which the pipeline's WARN log level hides).
    interrupted = sorted(
        set(re.findall(r"Running task \S+ in stage \S+ \(TID (\d+)\)", executor_log))
        - set(re.findall(r"Finished task \S+ in stage \S+ \(TID (\d+)\)", executor_log)),
        key=int,
    )
    # A partial run's `runs` partition holds only its own stages; checked by the finish above.
    differences = compare_warehouses(space.workdir / "warehouse_undisturbed", warehouse, skip=("runs",) if stages else ())
    if differences:
        raise ClusterTestFailure(f"worker_kill: tables differ from the undisturbed run: {json.dumps(differences, default=str)}")
    return {
        "seconds": round(seconds, 1), "worker_killed": victim[0], "worker_killed_after_s": round(killed_at, 1),
        "worker_restart_s": round(restart_s, 1),
        "executors_lost": len(re.findall(r"Lost executor", driver_log)),
        "tasks_interrupted": [int(tid) for tid in interrupted],
        "fetch_failures": len(re.findall(r"FetchFailed", driver_log)),
        "heartbeat_timeouts": len(re.findall(r"heartbeat timed out", driver_log)),
        "tables_equal_undisturbed": True,
    }


def _staging_folders(warehouse: Path) -> list[Path]:
    return [p for p in warehouse.glob("*/_staging/*") if p.is_dir()]


def run_driver_kill(space: Workspace, timeout_s: float) -> dict[str, Any]:
    """Kill the driver while a table is written; tables stay readable; a rerun completes cleanly."""
    warehouse, config = space.config("driver_kill")
    shutil.copytree(space.workdir / "warehouse_undisturbed", warehouse)
    before = table_versions(warehouse)
    staging_before = set(_staging_folders(warehouse))
    log_path = space.workdir / "logs" / "driver_kill.driver.log"
    started = time.monotonic()
    stages = ("policy", "allocate") if space.short else None
    process = submit(space.cluster, space.wheel, config, "driver-killed", log_path, stages)
    writing: list[Path] = []

    def write_in_progress() -> bool:
        if process.poll() is not None:
            return True
        if not log_contains(log_path, r"\[policy\] started"):
            return False
        writing[:] = [p for p in _staging_folders(warehouse) if p not in staging_before]
        return bool(writing)

    try:
        wait_until(write_in_progress, timeout_s, "a table write (a _staging folder) after '[policy] started'", interval_s=0.05)
    finally:
        kill_group(process)
        process.wait(timeout=30)
    killed_at = time.monotonic() - started
    if not writing:
        raise ClusterTestFailure(f"driver_kill: the job ended (status {process.returncode}) before a write could be interrupted")
    interrupted = sorted({p.parent.parent.name for p in writing})
    after = table_versions(warehouse)
    unreadable, not_previous = {}, {}
    for name, version in before.items():
        try:
            current = read_table(warehouse, name)
            read_table(warehouse, name, version=version)
        except Exception as error:  # any reader failure is the finding this check reports
            unreadable[name] = f"{type(error).__name__}: {error}"
            continue
        if name in interrupted:
            expected = _comparable(name, read_table(space.workdir / "warehouse_undisturbed", name))
            if after[name] != version or not _comparable(name, current).equals(expected):
                not_previous[name] = {"version_before": version, "version_after": after[name]}
    if unreadable or not_previous:
        raise ClusterTestFailure(
            f"driver_kill: after killing the driver while writing {interrupted}: unreadable {unreadable}, "
            f"not at the previous version {not_previous}"
        )
    leftovers = [str(p.relative_to(warehouse)) for p in _staging_folders(warehouse)]

    rerun_log = space.workdir / "logs" / "driver_kill.rerun.log"
    rerun_started = time.monotonic()
    finish(submit(space.cluster, space.wheel, config, "rerun", rerun_log, stages), rerun_log, "rerun after the driver kill", timeout_s)
    rerun_seconds = time.monotonic() - rerun_started
    duplicated = duplicate_keys(warehouse)
    runs = read_table(warehouse, "runs")
    runs = runs[runs["run_date"].astype(str) == space.run_date]
    rerun_rows = runs[runs["run_id"] == "rerun"]
    problems = []
    if duplicated:
        problems.append(f"duplicate keys {duplicated}")
    if sorted(rerun_rows["stage"]) != sorted(stages or STAGES) or not (rerun_rows["status"] == "succeeded").all():
        problems.append(f"runs shows {runs[['run_id', 'stage', 'status']].to_dict('records')}")
    if (runs["run_id"] != "rerun").any():
        problems.append(f"runs keeps rows of other runs of {space.run_date}: {sorted(set(runs['run_id']))}")
    differences = compare_warehouses(space.workdir / "warehouse_undisturbed", warehouse, skip=("runs",) if stages else ())
    if differences:
        problems.append(f"tables differ from the undisturbed run: {json.dumps(differences, default=str)}")
    if problems:
        raise ClusterTestFailure("driver_kill rerun: " + "; ".join(problems))
    return {
        "driver_killed_after_s": round(killed_at, 1), "interrupted_tables": interrupted,
        "versions_before": before, "versions_after_kill": after,
        "orphan_staging_folders_after_kill": leftovers,
        "orphan_staging_folders_after_rerun": [str(p.relative_to(warehouse)) for p in _staging_folders(warehouse)],
        "rerun_seconds": round(rerun_seconds, 1), "duplicate_keys_after_rerun": duplicated,
        "rerun_tables_equal_undisturbed": True,
    }


SCENARIO_FUNCTIONS: dict[str, Callable[[Workspace, float], dict[str, Any]]] = {
    "undisturbed": run_undisturbed,
    "worker_kill": run_worker_kill,
    "driver_kill": run_driver_kill,
}


def run_cluster_test(
    workdir: Path, series: int = 200, periods: int = 60, scenarios: tuple[str, ...] = SCENARIOS,
    run_timeout_s: float = 900.0, generated: Path | None = None, short: bool = False,
) -> dict[str, Any]:
    """Start the cluster, run `scenarios` in order, tear everything down; return the report.

    Raises `ClusterTestFailure` at the first check that fails (the cluster is stopped first).
    `worker_kill` and `driver_kill` compare against `undisturbed`, which therefore always runs.
    `generated`: the run config of an existing `invspark generate` data set (then `series` and
    `periods` are not used); default: generate one under `workdir/data`. `short`: the fault
    runs skip ingest (see `Workspace.short`).
    """
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"scenarios={unknown} are unknown; choose from {list(SCENARIOS)}")
    scenarios = ("undisturbed", *[s for s in scenarios if s != "undisturbed"])
    report: dict[str, Any] = {"series": series, "periods": periods, "short": short, "timings_s": {}}
    clock = time.monotonic()
    wheel = build_wheel(workdir / "dist")
    report["timings_s"]["wheel"] = round(time.monotonic() - clock, 1)
    if generated is None:
        clock = time.monotonic()
        generated = generate_data(workdir, series, periods)
        report["timings_s"]["generate"] = round(time.monotonic() - clock, 1)
    else:
        report.update(series=None, periods=None, generated=str(generated))
    run_date = str(yaml.safe_load(generated.read_text())["run_date"])
    cluster = StandaloneCluster(workdir / "cluster")
    try:
        report["timings_s"].update({f"cluster_{k}": round(v, 1) for k, v in cluster.start().items()})
        report["master_url"] = cluster.master_url
        space = Workspace(workdir, cluster, wheel, generated, run_date, short=short)
        _progress(f"cluster up at {cluster.master_url}: {report['timings_s']}")
        for scenario in scenarios:
            clock = time.monotonic()
            report[scenario] = SCENARIO_FUNCTIONS[scenario](space, run_timeout_s)
            report["timings_s"][scenario] = round(time.monotonic() - clock, 1)
            _progress(f"{scenario}: {report[scenario]}")
    finally:
        cluster.stop()
    report["timings_s"]["total"] = round(sum(v for v in report["timings_s"].values()), 1)
    return report


def _progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} cluster_test: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--periods", type=int, default=60)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--short", action="store_true", help="fault runs skip ingest (the pytest short form)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per spark-submit")
    parser.add_argument("--keep", help="work in this folder and keep it (logs, warehouses); default: a temp folder")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="invspark-cluster-") as temp:
        workdir = Path(args.keep).resolve() if args.keep else Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            report = run_cluster_test(workdir, args.series, args.periods, scenarios, args.timeout, short=args.short)
            report["passed"] = True
        except ClusterTestFailure as failure:
            report = {"passed": False, "failure": str(failure), "workdir": str(workdir)}
        report["wall_s"] = round(time.monotonic() - started, 1)
        text = json.dumps(report, indent=2, default=str)
        print(text)
        if args.json:
            Path(args.json).write_text(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

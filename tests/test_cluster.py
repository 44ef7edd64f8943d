"""The one-machine standalone cluster with fault injection (scripts/cluster_test.py).

The fast tests check the pieces the fault-injection verdicts rest on: the warehouse comparison
(keys, ignored columns, float tolerance, arrays), the duplicate-key check, process-group
teardown, and that conf/cluster.yaml is a valid config section. The short form of the real
cluster run (master + 2 workers, a worker killed mid-forecast, the driver killed mid-write, a
rerun) is marked `slow` and `cluster`; the full form is `make cluster-test`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import write_deltalake

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("cluster_test", ROOT / "scripts" / "cluster_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cluster_test"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


cluster_test = _load_script()

RUN_DATE = dt.date(2012, 1, 4)


def _policy_rows(run_id: str, safety_stock: list[float], order: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "run_id": run_id,
        "run_date": RUN_DATE,
        "sku_id": ["a", "a", "b"],
        "location_id": ["s1", "s2", "s1"],
        "safety_stock": safety_stock,
        "exception": [None, "no_history", None],
    })
    return frame.iloc[order].reset_index(drop=True)


def _warehouse(root: Path, tables: dict[str, pd.DataFrame]) -> Path:
    for name, frame in tables.items():
        write_deltalake(str(root / name), frame, partition_by=["run_date"])
    return root


def test_equal_tables_in_another_row_order_and_run_id_compare_equal(tmp_path):
    expected = _warehouse(tmp_path / "a", {"inventory_policy": _policy_rows("r1", [1.0, 2.0, 3.0], [0, 1, 2])})
    actual = _warehouse(tmp_path / "b", {"inventory_policy": _policy_rows("r2", [1.0, 2.0, 3.0 + 1e-12], [2, 0, 1])})
    assert cluster_test.compare_warehouses(expected, actual) == []


def test_a_float_beyond_the_tolerance_is_reported_with_its_column(tmp_path):
    expected = _warehouse(tmp_path / "a", {"inventory_policy": _policy_rows("r1", [1.0, 2.0, 3.0], [0, 1, 2])})
    actual = _warehouse(tmp_path / "b", {"inventory_policy": _policy_rows("r1", [1.0, 2.0 + 1e-6, 3.0], [1, 2, 0])})
    [difference] = cluster_test.compare_warehouses(expected, actual)
    assert difference["table"] == "inventory_policy" and difference["column"] == "safety_stock"
    assert difference["rows_differing"] == 1
    assert difference["max_abs_difference"] == pytest.approx(1e-6, rel=1e-3)


def test_a_changed_string_a_missing_row_and_a_missing_table_are_reported(tmp_path):
    base = _policy_rows("r1", [1.0, 2.0, 3.0], [0, 1, 2])
    changed = base.assign(exception=[None, "other", None])
    expected = _warehouse(tmp_path / "a", {"inventory_policy": base, "allocation_extra": base})
    actual = _warehouse(tmp_path / "b", {"inventory_policy": changed})
    differences = {(d["table"], d.get("column"), d.get("problem")) for d in cluster_test.compare_warehouses(expected, actual)}
    assert differences == {("inventory_policy", "exception", None), ("allocation_extra", None, "present in only one warehouse")}
    shorter = _warehouse(tmp_path / "c", {"inventory_policy": base.iloc[:2], "allocation_extra": base})
    [difference] = cluster_test.compare_warehouses(expected, shorter)
    assert difference["problem"] == "shape differs" and difference["expected"][0] == 3 and difference["actual"][0] == 2


def test_array_columns_compare_element_wise_within_the_tolerance(tmp_path):
    def panel(units):
        return pd.DataFrame({"run_id": "r", "run_date": RUN_DATE, "sku_id": ["a", "b"], "location_id": ["s", "s"], "units": units})

    nan = float("nan")
    expected = _warehouse(tmp_path / "a", {"stage_series_panel": panel([[1.0, nan], [2.0, 3.0]])})
    same = _warehouse(tmp_path / "b", {"stage_series_panel": panel([[1.0 + 1e-13, nan], [2.0, 3.0]])})
    assert cluster_test.compare_warehouses(expected, same) == []
    other = _warehouse(tmp_path / "c", {"stage_series_panel": panel([[1.0, nan], [2.0, 3.5]])})
    [difference] = cluster_test.compare_warehouses(expected, other)
    assert (difference["column"], difference["rows_differing"], difference["max_abs_difference"]) == ("units", 1, 0.5)


def test_duplicate_keys_counts_repeated_grain_rows_only(tmp_path):
    rows = _policy_rows("r1", [1.0, 2.0, 3.0], [0, 1, 2])
    clean = _warehouse(tmp_path / "clean", {"inventory_policy": rows})
    assert cluster_test.duplicate_keys(clean) == {}
    # A blind append of a retried write: same keys again, other values and run_id.
    doubled = _warehouse(tmp_path / "doubled", {"inventory_policy": rows})
    write_deltalake(str(doubled / "inventory_policy"), _policy_rows("r2", [9.0, 9.0, 9.0], [0, 1, 2]), mode="append")
    assert cluster_test.duplicate_keys(doubled) == {"inventory_policy": 3}


def test_kill_group_ends_the_leader_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    leader = subprocess.Popen(
        ["sh", "-c", f"sleep 60 & echo $! > {pids}; sleep 60"], start_new_session=True,
    )
    cluster_test.wait_until(lambda: pids.exists() and pids.read_text().strip() != "", 10, "the child pid")
    child = int(pids.read_text())
    cluster_test.kill_group(leader)
    assert leader.wait(timeout=10) == -signal.SIGKILL

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # an exited but unreaped child of init shows as a zombie
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"

    cluster_test.wait_until(lambda: gone(child), 10, "the child to die")


def test_wait_until_names_what_it_waited_for():
    started = time.monotonic()
    with pytest.raises(cluster_test.ClusterTestFailure, match="waiting for the impossible"):
        cluster_test.wait_until(lambda: False, 0.3, "the impossible", interval_s=0.05)
    assert time.monotonic() - started < 5


def test_unknown_scenario_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match=r"scenarios=\['worker_crash'\] are unknown"):
        cluster_test.run_cluster_test(tmp_path, scenarios=("worker_crash",))
    assert not (tmp_path / "dist").exists()


def test_cluster_yaml_is_a_valid_config_section_with_the_documented_bucket_count(tmp_path):
    from invspark.config import parse_config

    sales = tmp_path / "sales.parquet"
    sales.write_bytes(b"")
    section = yaml.safe_load((ROOT / "conf" / "cluster.yaml").read_text())
    assert set(section) == {"buckets", "spark"}
    config = parse_config(
        {"run_date": "2012-01-04", "frequency": "W", "horizon": 13, "warehouse": str(tmp_path / "wh"),
         "inputs": {"sales": {"path": str(sales)}}, **section},
        base_dir=tmp_path,
    )
    # 25M series on 400 task slots: 6,250 buckets of 4,000 series, above the 3-per-slot floor.
    assert config.buckets.n_buckets(25_000_000) == 6250
    assert config.buckets.n_buckets(1_000_000) == 1200
    assert config.spark.conf["spark.task.maxFailures"] == "8"
    assert config.spark.conf["spark.sql.shuffle.partitions"] == "1200"


@pytest.mark.slow
@pytest.mark.cluster  # registered in pyproject.toml (markers): `pytest -m "not cluster"` skips it
def test_standalone_cluster_survives_a_worker_kill_and_a_driver_kill(small_dataset, tmp_path):
    """Short form of `make cluster-test` on the session's small generated data set."""
    _, config_path = small_dataset
    report = cluster_test.run_cluster_test(tmp_path, generated=Path(config_path), short=True)
    assert {"demand_forecast", "inventory_policy", "allocation", "runs"} <= set(report["undisturbed"]["tables"])
    worker = report["worker_kill"]
    assert worker["tables_equal_undisturbed"]
    assert worker["executors_lost"] >= 1 and worker["tasks_interrupted"]  # the kill hit a running task
    driver = report["driver_kill"]
    assert driver["interrupted_tables"] and driver["duplicate_keys_after_rerun"] == {}
    assert driver["rerun_tables_equal_undisturbed"]

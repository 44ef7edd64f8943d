"""Guaranteed-service safety-stock placement: invspark.network.place_safety_stock and
invspark.kernels.guaranteed_service.

Textbook checks reproduce Snyder & Shen, "Fundamentals of Supply Chain Theory" (2nd ed., 2019),
Ch. 6: Example 6.5 (a supplier-side node feeding a DC that feeds two stores) and Problem 6.7 (a
three-stage serial line). The published optimal costs and service times used here are the ones
encoded in stockpyl's tests/test_gsm_tree.py (stockpyl is the book author's companion library).
Everything else is checked against brute-force enumeration of every integer service-time
combination on small 2-3 level trees (tests/reference/guaranteed_service_reference.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invspark.errors import InputDataError
from invspark.kernels import guaranteed_service as gsm
from invspark.network import place_safety_stock, placement_summary
from reference.guaranteed_service_reference import brute_force_tree

COLUMNS = [
    "sku_id",
    "location_id",
    "source_id",
    "processing_time",
    "external_service_time",
    "max_service_time_out",
    "holding_cost",
    "demand_std",
    "z",
]


def _frame(rows: list[dict], sku: str = "sku") -> pd.DataFrame:
    frame = pd.DataFrame([{"sku_id": sku, **row} for row in rows])
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[COLUMNS]


EXAMPLE_6_5 = [  # node 1 -> node 3 -> {node 2, node 4}; z = 1
    {"location_id": "1", "source_id": None, "processing_time": 2, "external_service_time": 1, "holding_cost": 1, "z": 1},
    {"location_id": "3", "source_id": "1", "processing_time": 1, "holding_cost": 2, "z": 1},
    {"location_id": "2", "source_id": "3", "processing_time": 1, "max_service_time_out": 0, "holding_cost": 3,
     "demand_std": 1.0, "z": 1},
    {"location_id": "4", "source_id": "3", "processing_time": 1, "max_service_time_out": 1, "holding_cost": 3,
     "demand_std": 1.0, "z": 1},
]

PROBLEM_6_7 = [  # forming (3) -> firing (2) -> glazing (1); sigma 10, z = 4
    {"location_id": "3", "source_id": None, "processing_time": 1, "external_service_time": 1, "holding_cost": 2, "z": 4},
    {"location_id": "2", "source_id": "3", "processing_time": 1, "holding_cost": 3, "z": 4},
    {"location_id": "1", "source_id": "2", "processing_time": 2, "max_service_time_out": 0, "holding_cost": 4,
     "demand_std": 10.0, "z": 4},
]


def test_snyder_shen_example_6_5():
    result = place_safety_stock(_frame(EXAMPLE_6_5)).set_index("location_id")
    assert result["safety_stock_holding_cost"].sum() == pytest.approx(2 * math.sqrt(2) + math.sqrt(6) + 3.0, rel=1e-12)
    assert result["service_time_out"].to_dict() == {"1": 0, "3": 0, "2": 0, "4": 1}
    assert result["service_time_in"].to_dict() == {"1": 1, "3": 0, "2": 0, "4": 0}
    assert result["net_lead_time"].to_dict() == {"1": 3, "3": 1, "2": 1, "4": 0}
    np.testing.assert_allclose(result["pooled_demand_std"], [math.sqrt(2), math.sqrt(2), 1.0, 1.0])
    np.testing.assert_allclose(result["safety_stock"], [math.sqrt(6), math.sqrt(2), 1.0, 0.0])
    assert result["echelon"].tolist() == ["dc", "dc", "store", "store"]


def test_snyder_shen_problem_6_7_serial_line():
    frame = _frame(PROBLEM_6_7)
    result = place_safety_stock(frame).set_index("location_id")
    assert result["safety_stock_holding_cost"].sum() == pytest.approx(160 * math.sqrt(5), rel=1e-12)
    assert result["service_time_out"].to_dict() == {"3": 2, "2": 3, "1": 0}
    summary = placement_summary(frame).iloc[0]
    # single-echelon: every DC quotes 0, so forming covers SI + T = 2, firing 1, glazing its own T = 2
    single = 2 * 4 * 10 * math.sqrt(2) + 3 * 4 * 10 * 1 + 4 * 4 * 10 * math.sqrt(2)
    assert summary["single_echelon_cost"] == pytest.approx(single, rel=1e-12)
    assert summary["saving"] == pytest.approx(single - 160 * math.sqrt(5), rel=1e-12)


@st.composite
def small_trees(draw, sku: str):
    """A 1- to 3-level tree of at most 5 nodes: a root, 0-2 DCs below it (the second may sit
    below the first), 1-4 stores below any of them. A DC left without stores is a leaf."""
    rows = [{"location_id": "root", "source_id": None, "processing_time": draw(st.integers(0, 3)),
             "external_service_time": draw(st.integers(0, 2)), "holding_cost": draw(st.sampled_from([0.5, 1.0, 2.0])),
             "z": draw(st.sampled_from([1.0, 1.645]))}]
    internals = ["root"]
    n_dcs = draw(st.integers(0, 2))
    for d in range(n_dcs):
        rows.append({"location_id": f"dc{d}", "source_id": draw(st.sampled_from(internals)),
                     "processing_time": draw(st.integers(0, 2)), "holding_cost": draw(st.sampled_from([1.0, 1.5, 3.0])),
                     "max_service_time_out": draw(st.sampled_from([None, None, 1])), "z": 1.645})
        internals.append(f"dc{d}")
    for s in range(draw(st.integers(1, 4 - n_dcs))):
        rows.append({"location_id": f"store{s}", "source_id": draw(st.sampled_from(internals)),
                     "processing_time": draw(st.integers(0, 2)),
                     "max_service_time_out": draw(st.sampled_from([None, 0, 1])),
                     "holding_cost": draw(st.sampled_from([1.0, 2.0, 4.0])),
                     "demand_std": draw(st.sampled_from([0.0, 1.0, 3.0, 10.0])), "z": draw(st.sampled_from([1.0, 2.0]))})
    return _frame(rows, sku)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_dp_matches_brute_force_enumeration_on_small_trees(data):
    frame = pd.concat([data.draw(small_trees(f"sku{k}")) for k in range(data.draw(st.integers(1, 3)))], ignore_index=True)
    result = place_safety_stock(frame)
    for sku, rows in result.groupby("sku_id"):
        nodes = rows[COLUMNS].astype(object).where(rows[COLUMNS].notna(), None).to_dict("records")
        best_cost, _ = brute_force_tree(nodes)
        assert rows["safety_stock_holding_cost"].sum() == pytest.approx(best_cost, rel=1e-9, abs=1e-9)
        # the returned plan is feasible
        default_limit = pd.Series(np.where(rows["echelon"] == "dc", np.inf, 0.0), index=rows.index)
        limit = rows["max_service_time_out"].astype(float).fillna(default_limit)
        assert (rows["service_time_out"] <= limit).all()
        assert (rows["net_lead_time"] >= 0).all()
        assert (rows["service_time_out"] >= 0).all()
    summary = placement_summary(frame)
    assert (summary["saving"] >= -1e-9).all()
    np.testing.assert_allclose(
        summary.set_index("sku_id")["total_cost"], result.groupby("sku_id")["safety_stock_holding_cost"].sum()
    )


def test_many_skus_solved_at_once_equal_each_sku_alone():
    rng = np.random.default_rng(2)
    frames = []
    for k in range(30):
        rows = [{"location_id": "vendor_dc", "source_id": None, "processing_time": int(rng.integers(1, 6)),
                 "external_service_time": int(rng.integers(0, 4)), "holding_cost": 1.0, "z": 1.645}]
        regional = k % 3 != 0  # some SKUs are not stocked at the regional DC
        if regional:
            rows.append({"location_id": "regional", "source_id": "vendor_dc", "processing_time": int(rng.integers(1, 3)),
                         "holding_cost": 1.5, "z": 1.645})
        for s in range(int(rng.integers(1, 7))):
            parent = "regional" if regional and s % 2 else "vendor_dc"
            rows.append({"location_id": f"store{s}", "source_id": parent, "processing_time": int(rng.integers(1, 4)),
                         "holding_cost": 3.0, "demand_std": float(rng.uniform(0, 20)), "z": 1.645})
        frames.append(_frame(rows, f"sku{k}"))
    together = place_safety_stock(pd.concat(frames, ignore_index=True))
    alone = pd.concat([place_safety_stock(f) for f in frames], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)


def test_pooling_dc_safety_stock_below_stores_covering_the_same_interval_alone():
    rows = [{"location_id": "dc", "source_id": None, "processing_time": 4, "external_service_time": 2,
             "holding_cost": 1.0, "z": 2.0}]
    stds = [3.0, 5.0, 1.0, 8.0]
    rows += [{"location_id": f"s{i}", "source_id": "dc", "processing_time": 1, "holding_cost": 1.2,
              "demand_std": sd, "z": 2.0} for i, sd in enumerate(stds)]
    result = place_safety_stock(_frame(rows)).set_index("location_id")
    dc = result.loc["dc"]
    assert dc["net_lead_time"] > 0  # with cheap DC holding the DC carries stock
    alone = sum(2.0 * sd * math.sqrt(dc["net_lead_time"]) for sd in stds)
    assert dc["safety_stock"] <= alone
    assert dc["safety_stock"] == pytest.approx(2.0 * math.sqrt(sum(sd**2 for sd in stds)) * math.sqrt(dc["net_lead_time"]))


def test_source_outside_the_sku_makes_a_top_node_and_dc_without_stores_holds_nothing():
    rows = [
        {"location_id": "dc", "source_id": "vendor_9", "processing_time": 3, "external_service_time": 1,
         "holding_cost": 1.0, "z": 1.0},
        {"location_id": "s1", "source_id": "dc", "processing_time": 1, "holding_cost": 2.0, "demand_std": 4.0, "z": 1.0},
        {"location_id": "lonely_dc", "source_id": None, "processing_time": 2, "external_service_time": 0,
         "holding_cost": 1.0, "z": 1.0},
    ]
    result = place_safety_stock(_frame(rows)).set_index("location_id")
    assert result.loc["dc", "service_time_in"] == 1
    assert result.loc["lonely_dc", "safety_stock"] == 0.0
    assert result.loc["lonely_dc", "echelon"] == "store"  # a leaf: it supplies no one


def test_kernel_node_depth_on_a_three_level_forest():
    parent = np.array([-1, 0, 1, 1, 0, -1, 5])
    np.testing.assert_array_equal(gsm.node_depth(parent), [0, 1, 2, 2, 1, 0, 1])


def test_errors_name_the_column_and_the_fix():
    frame = _frame(EXAMPLE_6_5)
    with pytest.raises(InputDataError, match=r"'processing_time' must hold whole periods.*np.ceil"):
        place_safety_stock(frame.assign(processing_time=[2.5, 1, 1, 1]))
    with pytest.raises(InputDataError, match=r"'external_service_time' is null at 1 top node"):
        place_safety_stock(frame.assign(external_service_time=None))
    with pytest.raises(InputDataError, match=r"contain a cycle"):
        place_safety_stock(frame.assign(source_id=["4", "1", "3", "3"]))
    with pytest.raises(InputDataError, match=r"missing required column\(s\) \['z'\]"):
        place_safety_stock(frame.drop(columns="z"))
    with pytest.raises(InputDataError, match=r"'holding_cost' must be >= 0"):
        place_safety_stock(frame.assign(holding_cost=[1, -2, 3, 3]))
    with pytest.raises(InputDataError, match=r"share their \['sku_id', 'location_id'\] key"):
        place_safety_stock(pd.concat([frame, frame.iloc[[3]]]))


def test_empty_frame_gets_the_output_columns():
    result = place_safety_stock(_frame(EXAMPLE_6_5).iloc[:0])
    assert {"service_time_in", "service_time_out", "net_lead_time", "safety_stock"} <= set(result.columns)
    assert len(result) == 0
    assert list(placement_summary(_frame(EXAMPLE_6_5).iloc[:0]).columns) == ["sku_id", "total_cost", "single_echelon_cost", "saving"]

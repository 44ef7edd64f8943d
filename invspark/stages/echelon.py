"""Echelon safety-stock placement for one bucket of SKUs: the DC -> store trees, then the GSM.

``echelon_bucket(stores, settings, dc_default_lead_time) -> frame`` is a pure function (pandas in,
pandas out) that the policy stage applies per hash bucket of ``sku_id`` when the network mode is
on, before it computes the store policies (their protection interval then starts from the
service time their DC commits to: ``service_time_in``).

Input: one row per sku x store that has a supplying DC, with ``sku_id``, ``location_id``,
``dc_id``, ``lead_time_mean`` (DC -> store, periods), ``demand_std`` (per period),
``dc_lead_time_mean`` (supplier -> DC, periods; null = ``dc_default_lead_time``), ``unit_cost``,
``holding_cost_rate`` and the columns that resolve the store's service target (``segment``,
``service_level_target``, ...; :func:`invspark.stages.policy.resolve_targets_and_policies`).

Tree (Graves and Willems 2000; Snyder and Shen 2019, ch. 6): each store is a node with
processing time ceil(lead_time_mean) and promised service time 0; its DC is the parent node with
processing time ceil(dc_lead_time_mean) and the supplier's committed service time 0. Holding cost
per unit per period = unit_cost x holding_cost_rate / periods_per_year (defaults 1 and 0.25 per
year when the item gives none); safety factor z = Phi^-1(target), a DC taking the highest target
of its stores. Output: :data:`ECHELON_SCHEMA` columns, one row per node, with each SKU's total
holding cost of the optimal placement and of the single-echelon plan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from invspark.network import place_safety_stock, placement_summary
from invspark.stages.policy import PolicySettings, resolve_targets_and_policies

DEFAULT_UNIT_COST = 1.0
DEFAULT_HOLDING_COST_RATE = 0.25  # per year

ECHELON_SCHEMA = pa.schema(
    [("sku_id", pa.string()), ("location_id", pa.string()), ("source_id", pa.string()), ("echelon", pa.string())]
    + [
        (name, pa.float64())
        for name in (
            "processing_time", "service_time_in", "service_time_out", "net_lead_time", "pooled_demand_std",
            "safety_stock", "safety_stock_holding_cost", "sku_total_cost", "sku_single_echelon_cost",
        )
    ]
)
ECHELON_DDL = ", ".join(f"{f.name} {'string' if f.type == pa.string() else 'double'}" for f in ECHELON_SCHEMA)


def _holding_cost(frame: pd.DataFrame, periods_per_year: float) -> np.ndarray:
    unit_cost = pd.to_numeric(frame["unit_cost"], errors="coerce").fillna(DEFAULT_UNIT_COST)
    rate = pd.to_numeric(frame["holding_cost_rate"], errors="coerce").fillna(DEFAULT_HOLDING_COST_RATE)
    return (unit_cost * rate / periods_per_year).to_numpy(dtype=np.float64)


def tree_nodes(stores: pd.DataFrame, settings: PolicySettings, dc_default_lead_time: float) -> pd.DataFrame:
    """The input of :func:`invspark.network.place_safety_stock`: the stores, then one DC node per
    sku x DC (see the module docstring)."""
    resolved = resolve_targets_and_policies(stores, settings)
    matrix_fallback = settings.service_level_matrix[settings.fallback_abc][settings.fallback_xyz]
    target = pd.to_numeric(resolved["service_level_target"], errors="coerce").fillna(matrix_fallback)
    z = stats.norm.ppf(np.clip(target.to_numpy(dtype=np.float64), 0.5, 0.9999))
    holding = _holding_cost(stores, settings.periods_per_year)
    store_nodes = pd.DataFrame({
        "sku_id": stores["sku_id"].to_numpy(dtype=object),
        "location_id": stores["location_id"].to_numpy(dtype=object),
        "source_id": stores["dc_id"].to_numpy(dtype=object),
        "processing_time": np.ceil(pd.to_numeric(stores["lead_time_mean"], errors="coerce").to_numpy(dtype=np.float64)),
        "external_service_time": np.nan,
        "max_service_time_out": 0.0,
        "holding_cost": holding,
        "demand_std": pd.to_numeric(stores["demand_std"], errors="coerce").to_numpy(dtype=np.float64),
        "z": z,
    })
    dc_lead_time = pd.to_numeric(stores["dc_lead_time_mean"], errors="coerce").fillna(dc_default_lead_time)
    per_dc = pd.DataFrame({
        "sku_id": store_nodes["sku_id"], "location_id": store_nodes["source_id"], "z": z, "holding_cost": holding,
        "processing_time": np.ceil(dc_lead_time.to_numpy(dtype=np.float64)),
    }).groupby(["sku_id", "location_id"], sort=False, as_index=False).agg(
        z=("z", "max"), holding_cost=("holding_cost", "first"), processing_time=("processing_time", "first")
    )
    n_dcs = len(per_dc)
    dc_columns = {
        "sku_id": per_dc["sku_id"].to_numpy(dtype=object),
        "location_id": per_dc["location_id"].to_numpy(dtype=object),
        "source_id": np.full(n_dcs, None, dtype=object),
        "processing_time": per_dc["processing_time"].to_numpy(dtype=np.float64),
        "external_service_time": np.zeros(n_dcs),
        "max_service_time_out": np.full(n_dcs, np.nan),
        "holding_cost": per_dc["holding_cost"].to_numpy(dtype=np.float64),
        "demand_std": np.full(n_dcs, np.nan),
        "z": per_dc["z"].to_numpy(dtype=np.float64),
    }
    return pd.DataFrame({name: np.concatenate([store_nodes[name].to_numpy(), dc_columns[name]]) for name in store_nodes})


def echelon_bucket(stores: pd.DataFrame, settings: PolicySettings, dc_default_lead_time: float) -> pd.DataFrame:
    """One bucket's sku x store rows in, the ``echelon_policy`` rows (:data:`ECHELON_SCHEMA`) out."""
    if len(stores) == 0:
        return ECHELON_SCHEMA.empty_table().to_pandas()
    nodes = tree_nodes(stores, settings, dc_default_lead_time)
    placed = place_safety_stock(nodes)
    summary = placement_summary(nodes).rename(
        columns={"total_cost": "sku_total_cost", "single_echelon_cost": "sku_single_echelon_cost"}
    )
    placed = placed.merge(summary[["sku_id", "sku_total_cost", "sku_single_echelon_cost"]], on="sku_id", how="left")
    return placed[ECHELON_SCHEMA.names]

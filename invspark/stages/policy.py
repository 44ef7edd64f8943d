"""The policy stage for one batch of series: resolve targets and policies, then compute_policies.

``policy_batch(frame, settings) -> frame`` is a pure function (pandas in, pandas out) that the
Spark job applies to Arrow batches (the policy is row-wise: no shuffle). Its output has exactly
the columns of :data:`POLICY_SCHEMA` (CONTRACTS.md ``inventory_policy`` without ``run_id`` and
``run_date``, plus ``segment`` so that reports can group by it).

Resolution per row (vectorized with pandas maps, no loop per row):

- **service target**: the item's ``service_level_target`` when given; otherwise, when
  ``settings.cost_mode_with_stockout_cost`` and the item has a ``stockout_cost``, none (the row
  is cost-optimal, CONTRACTS.md; it also needs a holding cost); otherwise ``service_level_matrix[abc][xyz]``. ``abc`` and
  ``xyz`` come from their columns, else from the first two letters of ``segment``
  (``"{abc}{xyz}-{pattern}"``); unknown classes (new or inactive items) use
  ``settings.fallback_abc`` / ``settings.fallback_xyz``.
- **service level type**: the row's ``service_level_type`` when given, else the settings'.
- **policy**: the row's ``policy`` (items override) when given, else ``policy_by_segment`` looked
  up by the full ``segment``, then by ``"{abc}{xyz}"``, else ``default_policy``.
- ``review_period`` missing -> ``default_review_period``; ``periods_per_year`` from the settings.

Service target scope: with ``settings.service_target_scope = 'segment'`` the rows of each
segment meet their target together (``compute_policies(..., pool_service_by=...)``,
kernels.pooled_service): whole-unit levels, each the row's own or one unit less (never 0 from
1), whose expected stockout occasions (CSL targets) or expected units short (fill-rate targets)
are those the segment's target allows. Rows with an item
target (``items.service_level_target``) or a safety-stock budget keep their own levels. The pool
is the batch's rows of a segment, so the Spark stage groups the series by a hash bucket (a fixed
pool whatever the partitioning) and the rows are sorted by key first.

Safety-stock budget: where the frame has ``safety_stock_budget`` (money per location, from
``locations.safety_stock_budget``) the rows of each budgeted location are computed by
:func:`invspark.policy.allocate_budget`, which spends the budget across the location's SKUs where
it avoids the most units short per unit of money; ``expected_fill_rate`` / ``expected_csl`` then
report the service each SKU reaches. A budget couples the rows of one location, so a batch must
hold every row of each budgeted location (the Spark stage groups by a hash of ``location_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from invspark.errors import ConfigError
from invspark.kernels.pooled_service import SERVICE_TARGET_SCOPES
from invspark.policy import POLICIES, SERVICE_LEVEL_TYPES, allocate_budget, compute_policies

POLICY_SCHEMA = pa.schema([
    ("sku_id", pa.string()), ("location_id", pa.string()), ("policy", pa.string()),
    ("service_level_type", pa.string()), ("service_level_target", pa.float64()),
    ("lead_time_mean", pa.float64()), ("lead_time_std", pa.float64()),
    ("review_period", pa.float64()), ("demand_mean", pa.float64()), ("demand_std", pa.float64()),
    ("safety_stock", pa.float64()), ("reorder_point", pa.float64()), ("order_up_to", pa.float64()),
    ("order_quantity", pa.float64()), ("inventory_position", pa.float64()),
    ("recommended_order_qty", pa.float64()), ("expected_fill_rate", pa.float64()),
    ("expected_csl", pa.float64()), ("exception", pa.string()), ("segment", pa.string()),
])
POLICY_DDL = ", ".join(
    f"{f.name} {'string' if f.type == pa.string() else 'double'}" for f in POLICY_SCHEMA
)

DEFAULT_SERVICE_LEVEL_MATRIX = {
    "A": {"X": 0.98, "Y": 0.97, "Z": 0.95},
    "B": {"X": 0.96, "Y": 0.95, "Z": 0.93},
    "C": {"X": 0.93, "Y": 0.92, "Z": 0.90},
}


@dataclass(frozen=True)
class PolicySettings:
    """Settings of the policy stage, checked at construction (bad values raise ConfigError).

    ``service_level_matrix``: ABC class -> XYZ class -> target in (0, 1); ``service_level_type``
    'csl' or 'fill_rate'; ``service_target_scope`` 'series' or 'segment' (module docstring);
    ``default_policy`` and the values of ``policy_by_segment`` one of
    'sQ', 'RS', 'sS', 'RsS'; ``periods_per_year`` converts yearly holding rates (52 weekly);
    ``default_review_period`` periods.
    """

    service_level_matrix: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: DEFAULT_SERVICE_LEVEL_MATRIX)
    service_level_type: str = "csl"
    service_target_scope: str = "series"
    default_policy: str = "RS"
    policy_by_segment: Mapping[str, str] = field(default_factory=dict)
    periods_per_year: float = 52.0
    default_review_period: float = 1.0
    fallback_abc: str = "C"
    fallback_xyz: str = "Z"
    cost_mode_with_stockout_cost: bool = True

    def __post_init__(self):
        if self.service_level_type not in SERVICE_LEVEL_TYPES:
            raise ConfigError(f"service_level_type must be one of {SERVICE_LEVEL_TYPES}, "
                              f"got {self.service_level_type!r}")
        if self.service_target_scope not in SERVICE_TARGET_SCOPES:
            raise ConfigError(f"service_target_scope must be one of {SERVICE_TARGET_SCOPES}, "
                              f"got {self.service_target_scope!r}")
        if self.default_policy not in POLICIES:
            raise ConfigError(f"default_policy must be one of {POLICIES}, "
                              f"got {self.default_policy!r}")
        for segment, policy in self.policy_by_segment.items():
            if policy not in POLICIES:
                raise ConfigError(f"policy_by_segment[{segment!r}] must be one of {POLICIES}, "
                                  f"got {policy!r}")
        for abc, row in self.service_level_matrix.items():
            for xyz, target in row.items():
                if not 0 < float(target) < 1:
                    raise ConfigError(
                        f"service_level_matrix[{abc!r}][{xyz!r}] must be strictly between 0 "
                        f"and 1 (e.g. 0.95), got {target!r}")
        fallback = self.service_level_matrix.get(self.fallback_abc, {})
        if self.fallback_xyz not in fallback:
            raise ConfigError(
                f"service_level_matrix has no target for the fallback class "
                f"{self.fallback_abc}{self.fallback_xyz}; add it or change fallback_abc/xyz")
        if not self.periods_per_year > 0:
            raise ConfigError(f"periods_per_year must be > 0 (52 weekly, 12 monthly, 365 daily), "
                              f"got {self.periods_per_year!r}")
        if not self.default_review_period > 0:
            raise ConfigError(f"default_review_period must be > 0 periods, "
                              f"got {self.default_review_period!r}")


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), None)


def _number(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce")


def _first_given(*candidates: pd.Series) -> pd.Series:
    """Row-wise the first non-null value among object Series of the same index."""
    values = candidates[0].to_numpy(dtype=object)
    for candidate in candidates[1:]:
        values = np.where(pd.isna(values), candidate.to_numpy(dtype=object), values)
    return pd.Series(values, index=candidates[0].index, dtype=object)


def resolve_targets_and_policies(frame: pd.DataFrame, settings: PolicySettings) -> pd.DataFrame:
    """The frame with `service_level_target`, `service_level_type`, `policy`, `review_period`
    and `periods_per_year` resolved per row (see the module docstring); other columns untouched."""
    segment = _text(frame, "segment")
    abc = _first_given(_text(frame, "abc"), segment.str[0:1])
    xyz = _first_given(_text(frame, "xyz"), segment.str[1:2])
    known_abc = abc.isin(list(settings.service_level_matrix))
    abc = abc.where(known_abc, settings.fallback_abc)
    class_key = abc + _first_given(xyz, pd.Series("", index=frame.index, dtype=object))
    lookup = {f"{a}{x}": float(t) for a, row in settings.service_level_matrix.items()
              for x, t in row.items()}
    fallback_target = lookup[settings.fallback_abc + settings.fallback_xyz]
    matrix_target = class_key.map(lookup).astype(float).fillna(fallback_target)

    item_target = _number(frame, "service_level_target")
    stockout = _number(frame, "stockout_cost")
    holding = _number(frame, "holding_cost").fillna(
        _number(frame, "unit_cost") * _number(frame, "holding_cost_rate")
        / _number(frame, "periods_per_year").fillna(settings.periods_per_year))
    cost_rows = (item_target.isna() & (stockout > 0) & (holding > 0)
                 & settings.cost_mode_with_stockout_cost)
    target = item_target.fillna(matrix_target).where(~cost_rows, np.nan)

    by_segment = segment.map(dict(settings.policy_by_segment))
    by_class = class_key.map(dict(settings.policy_by_segment))
    policy = _first_given(_text(frame, "policy"), by_segment, by_class,
                          pd.Series(settings.default_policy, index=frame.index, dtype=object))

    out = frame.copy()
    out["service_level_target"] = target.to_numpy()
    out["service_level_type"] = _first_given(
        _text(frame, "service_level_type"),
        pd.Series(settings.service_level_type, index=frame.index, dtype=object)).to_numpy()
    out["policy"] = policy.to_numpy()
    out["review_period"] = _number(frame, "review_period").fillna(
        settings.default_review_period).to_numpy()
    if "periods_per_year" not in out.columns:
        out["periods_per_year"] = settings.periods_per_year
    return out


def policy_batch(frame: pd.DataFrame, settings: PolicySettings) -> pd.DataFrame:
    """One batch of series in, the `inventory_policy` rows (POLICY_SCHEMA columns) out.

    `frame`: one row per sku x location with `sku_id`, `location_id`, the demand distribution
    (`demand_mean`, `demand_std`, optional `distribution`, `segment`, `abc`, `xyz`), lead times
    and review period, and any item / inventory / location columns compute_policies reads.
    """
    budget = _number(frame, "safety_stock_budget")
    pool = None
    if settings.service_target_scope == "segment":
        # a pool's ties are broken by row order: put the rows in key order, whatever the batch's
        order = np.lexsort((frame["location_id"].to_numpy(dtype=str), frame["sku_id"].to_numpy(dtype=str)))
        frame, budget = frame.iloc[order], budget.iloc[order]
        pooled = _number(frame, "service_level_target").isna() & budget.isna()
        frame = frame.assign(service_pool=_text(frame, "segment").where(pooled, None))
        pool = "service_pool"
    resolved = resolve_targets_and_policies(frame, settings)
    if budget.notna().any():
        budgets = budget.groupby(frame["location_id"]).first().dropna()
        policies = allocate_budget(resolved, budgets, pool_service_by=pool)
    else:
        policies = compute_policies(resolved, pool_service_by=pool)
    if pool is not None:
        policies = policies.iloc[np.argsort(order)]  # back in the batch's order
    if "segment" not in policies.columns:
        policies["segment"] = None
    out = pd.DataFrame({name: policies[name].to_numpy() for name in POLICY_SCHEMA.names})
    for name in POLICY_SCHEMA.names:
        if POLICY_SCHEMA.field(name).type == pa.string():
            out[name] = out[name].astype(object).where(out[name].notna(), None)
        else:
            out[name] = out[name].astype(np.float64)
    return out

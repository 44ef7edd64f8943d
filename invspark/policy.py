"""The inventory policy face: `compute_policies(frame)` and `allocate_budget(frame, budgets)`.

Pure pandas/numpy (no Spark); the Spark job applies it to batches with `mapInArrow`. One row in,
one row out, same order. Rows are grouped by policy, mode and distribution family with boolean
masks; no Python loop runs per row.

Input columns (CONTRACTS.md `inventory_policy` / pure-Python faces) and their defaults:

| column | default when absent or null |
|---|---|
| `demand_mean`, `demand_std` (per period) | required; null -> exception 'no_history' |
| `lead_time_mean` (periods) | required; null -> exception 'lead_time_missing' |
| `lead_time_std` (periods) | 0 |
| `review_period` (periods) | 1 |
| `service_level_type` | 'csl' ('csl' or 'fill_rate') |
| `service_level_target` | null: the row is cost-optimal, which needs `stockout_cost` |
| `policy` | 'RS' ('sQ', 'RS', 'sS', 'RsS') |
| `distribution` | 'normal' ('normal', 'poisson', 'negbin', 'gamma', 'empirical'; see kernels.demand_over_interval) |
| `demand_shape` (list of floats at kernels.empirical_quantiles.SHAPE_LEVELS) | null: an 'empirical' row without one is fitted as a gamma with its two moments |
| `demand_std_history` (per period: the std of the series' own demand in its history) | null: no floor. A negative binomial row's quantiles are at least those of the law of the same mean with this std (the dispersion floor of kernels.demand_over_interval) |
| `adi`, `cv2_size` (the history's average inter-demand interval and its non-zero sizes' squared CV) | null: no compound floor. A negative binomial row with `adi` >= 1.32 takes as its floor the compound binomial law of intermittent demand with occurrence 1 / `adi` and these sizes, in place of the `demand_std_history` one (kernels.demand_over_interval, kernels.compound_demand) |
| `unit_cost`, `holding_cost_rate` (per year) | null |
| `periods_per_year` | 52 (converts holding_cost_rate to per period) |
| `holding_cost` (per unit per period) | unit_cost * holding_cost_rate / periods_per_year |
| `ordering_cost` (per order) | null: no EOQ; Q = demand over max(review_period, 1) periods |
| `stockout_cost` (per unit short) | null |
| `case_pack` | 1 |
| `moq` | 0 |
| `on_hand`, `on_order`, `backorders` | 0 |
| `capacity_units` (most units of the item the location can hold: on hand + on order) | null = unlimited |

Output adds (CONTRACTS.md `inventory_policy`): `policy`, `safety_stock` (level minus mean demand
over the protection interval), `reorder_point`, `order_up_to`, `order_quantity`,
`inventory_position` (= on_hand + on_order - backorders), `recommended_order_qty`,
`expected_fill_rate`, `expected_csl`, `exception`; `lead_time_std`, `review_period` and
`service_level_type` are written back with their defaults filled in.

Policies (SPP 4th ed. ch. 6-7; kernels.service_policies and kernels.cost_policies):

| policy | protection | reorder_point | order_up_to | order_quantity | orders when |
|---|---|---|---|---|---|
| sQ | L | s | s + Q | Q | IP <= s: the smallest n Q lifting IP above s |
| RS | L + R | S | S | mu_D R (average) | IP < S at a review: S - IP |
| sS | L + undershoot | s | S = s + Q | Q | IP <= s: S - IP |
| RsS | L + R + undershoot | s | S = s + Q | Q | IP <= s at a review: S - IP |

An (s,S) or (R,s,S) order starts from s - U, U the undershoot of s by one period's (one review
period's) demand: their protection is demand plus undershoot (kernels.undershoot). Q is the EOQ
when an ordering cost and a holding cost are known, otherwise the demand of max(review_period, 1)
periods; it is raised to the MOQ and rounded up to the case pack. Cost mode
(service_level_target null, stockout_cost given): sQ/sS use the iterative Hadley-Whitin (r,Q),
RS/RsS the critical ratio p / (p + h R) over L + R; cost-optimal service is floored at a CSL
of 0.5 (kernels.cost_policies.MIN_COST_CSL). The recommended order is then the smallest
case multiple >= max(need, moq), capped by capacity (kernels.order_rounding).

Pooled service targets (`compute_policies(frame, pool_service_by=column)`): the CSL rows of each
group meet their targets together (expected stockout occasions), and so do its fill-rate rows
(expected units short), each level its own whole-unit level or one unit less (never 0 from 1), at
the least money (kernels.pooled_service; SPT ch. 6 exchange curves).

Exceptions (joined with ';', null when none): 'no_history', 'lead_time_missing',
'target_unreachable_capacity' (order_up_to above capacity, or the order was capped),
'fill_rate_capped' (a fill-rate target that needs more than the FILL_RATE_MAX_CSL = 0.999
quantile of the protection-interval demand: the level stops there and its expected fill rate is
below the target; kernels.service_policies),
'order_far_above_typical' (recommended > FAR_ABOVE_TYPICAL x the typical order, the largest of
order_quantity, moq, case_pack and mean demand over the protection interval),
'negative_inventory' (on_hand < 0), 'inconsistent_inventory' (negative on_order or backorders, or
backorders while stock is on hand), and from `allocate_budget` 'target_unreachable_budget'.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from invspark.errors import InputDataError
from invspark.kernels import budget as budget_kernel
from invspark.kernels import cost_policies, order_rounding, pooled_service, service_policies
from invspark.kernels.undershoot import plus_undershoot
from invspark.kernels.demand_over_interval import (
    DISTRIBUTIONS,
    N_KNOTS,
    IntervalDemand,
    demand_over_interval,
    select,
)

POLICIES = ("sQ", "RS", "sS", "RsS")
SERVICE_LEVEL_TYPES = ("csl", "fill_rate")
REQUIRED_COLUMNS = ("demand_mean", "demand_std", "lead_time_mean")
DEFAULTS = {
    "lead_time_std": 0.0,
    "review_period": 1.0,
    "service_level_type": "csl",
    "service_level_target": np.nan,
    "policy": "RS",
    "distribution": "normal",
    "unit_cost": np.nan,
    "holding_cost_rate": np.nan,
    "periods_per_year": 52.0,
    "holding_cost": np.nan,
    "ordering_cost": np.nan,
    "stockout_cost": np.nan,
    "case_pack": 1.0,
    "moq": 0.0,
    "on_hand": 0.0,
    "on_order": 0.0,
    "backorders": 0.0,
    "capacity_units": np.nan,
    "demand_std_history": np.nan,
    "adi": np.nan,
    "cv2_size": np.nan,
}
OUTPUT_COLUMNS = (
    "policy", "safety_stock", "reorder_point", "order_up_to", "order_quantity",
    "inventory_position", "recommended_order_qty", "expected_fill_rate", "expected_csl",
    "exception",
)
FAR_ABOVE_TYPICAL = 4.0


def _column(frame: pd.DataFrame, name: str, dtype=np.float64) -> np.ndarray:
    """The column as a numpy array with its documented default filled in (absent or null)."""
    default = DEFAULTS.get(name)
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=dtype if dtype is not object else object)
    if dtype is object:
        values = frame[name].astype(object).to_numpy()
        return np.where(pd.isna(values), default, values).astype(object)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    if default is None or (isinstance(default, float) and np.isnan(default)):
        return values
    return np.where(np.isnan(values), default, values)


def _check_values(name: str, bad: np.ndarray, values: np.ndarray, fix: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputDataError(
            f"column {name!r} has {bad.sum()} bad value(s), e.g. rows {reprlib.repr(rows.tolist())} "
            f"with {reprlib.repr(values[rows[:5]].tolist())}: {fix}"
        )


def _read_inputs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"compute_policies needs columns {missing}; got {reprlib.repr(list(frame.columns))}. "
            "Join demand_distribution (demand_mean, demand_std) and the lead-time estimates "
            "(lead_time_mean) onto the frame first."
        )
    inputs = {name: _column(frame, name) for name in REQUIRED_COLUMNS}
    for name in DEFAULTS:
        is_text = name in ("service_level_type", "policy", "distribution")
        inputs[name] = _column(frame, name, object if is_text else np.float64)

    checks = [
        ("policy", ~np.isin(inputs["policy"], POLICIES), f"use one of {POLICIES}"),
        ("distribution", ~np.isin(inputs["distribution"], DISTRIBUTIONS),
         f"use one of {DISTRIBUTIONS}"),
        ("service_level_type", ~np.isin(inputs["service_level_type"], SERVICE_LEVEL_TYPES),
         f"use one of {SERVICE_LEVEL_TYPES}"),
        ("service_level_target",
         ~np.isnan(inputs["service_level_target"])
         & ~((inputs["service_level_target"] > 0) & (inputs["service_level_target"] < 1)),
         "targets are fractions strictly between 0 and 1 (e.g. 0.95)"),
        ("demand_mean", inputs["demand_mean"] < 0, "demand is non-negative"),
        ("demand_std", inputs["demand_std"] < 0, "a standard deviation is non-negative"),
        ("demand_std_history", inputs["demand_std_history"] < 0, "a standard deviation is non-negative"),
        ("adi", inputs["adi"] < 1, "an average inter-demand interval is at least 1 period"),
        ("cv2_size", inputs["cv2_size"] < 0, "a squared coefficient of variation is non-negative"),
        ("lead_time_mean", inputs["lead_time_mean"] < 0, "lead times are >= 0 periods"),
        ("lead_time_std", inputs["lead_time_std"] < 0, "a standard deviation is non-negative"),
        ("review_period",
         ~(inputs["review_period"] > 0) & np.isin(inputs["policy"], ("RS", "RsS")),
         "periodic-review policies RS/RsS need review_period > 0 periods; use sQ or sS for "
         "continuous review"),
        ("case_pack", ~(inputs["case_pack"] > 0), "case_pack is a positive number of units"),
        ("moq", inputs["moq"] < 0, "moq is >= 0 units"),
        ("periods_per_year", ~(inputs["periods_per_year"] > 0),
         "periods_per_year is 365 (D), 52 (W) or 12 (M)"),
        ("stockout_cost",
         np.isnan(inputs["service_level_target"]) & ~(inputs["stockout_cost"] > 0),
         "a row without service_level_target needs a positive stockout_cost (cost-optimal "
         "mode); give either a target or a stockout cost"),
    ]
    for name, bad, fix in checks:
        _check_values(name, bad, inputs[name], fix)
    cost_rows = np.isnan(inputs["service_level_target"])
    _check_values("holding_cost", cost_rows & ~(_holding_cost_per_period(inputs) > 0),
                  _holding_cost_per_period(inputs),
                  "cost-optimal rows (no service_level_target) need a positive holding_cost per "
                  "unit per period, or unit_cost and holding_cost_rate")
    inputs["demand_shape"] = _shape_matrix(frame)
    return inputs


def _shape_matrix(frame: pd.DataFrame) -> np.ndarray:
    """`demand_shape` as `(n, N_KNOTS)` floats, NaN rows where absent or of another length."""
    shape = np.full((len(frame), N_KNOTS), np.nan)
    if "demand_shape" not in frame.columns or len(frame) == 0:
        return shape
    lists = pa.array(frame["demand_shape"], type=pa.list_(pa.float64()), from_pandas=True)
    given = pc.fill_null(pc.equal(pc.list_value_length(lists), N_KNOTS), False)
    if pc.any(given).as_py():
        values = lists.filter(given).flatten().to_numpy(zero_copy_only=False)
        shape[given.to_numpy(zero_copy_only=False)] = values.reshape(-1, N_KNOTS)
    return shape


def _holding_cost_per_period(inputs) -> np.ndarray:
    derived = inputs["unit_cost"] * inputs["holding_cost_rate"] / inputs["periods_per_year"]
    return np.where(np.isnan(inputs["holding_cost"]), derived, inputs["holding_cost"])


@dataclass
class _Batch:
    """Everything compute_policies derives from a frame before and including the levels."""

    inputs: dict
    usable: np.ndarray
    no_history: np.ndarray
    lead_missing: np.ndarray
    lead: IntervalDemand
    periodic: IntervalDemand
    protection: IntervalDemand
    undershoot: np.ndarray  # E[U] of (s,S) and (R,s,S) rows, 0 elsewhere
    cost_mode: np.ndarray
    quantity: np.ndarray
    level: np.ndarray


def _solve(frame: pd.DataFrame) -> _Batch:
    """Read and check the inputs, fit demand over the protection intervals, pick Q and levels."""
    inputs = _read_inputs(frame)
    n = len(frame)
    mu = inputs["demand_mean"]
    sigma = inputs["demand_std"]
    review = inputs["review_period"]
    policy = inputs["policy"]
    distribution = inputs["distribution"]
    target = inputs["service_level_target"]
    holding = _holding_cost_per_period(inputs)
    stockout = inputs["stockout_cost"]

    no_history = np.isnan(mu) | (np.isnan(sigma) & (distribution != "poisson"))
    lead_missing = np.isnan(inputs["lead_time_mean"])
    usable = ~no_history & ~lead_missing

    shape = inputs["demand_shape"]
    own_law = {"floor_std": inputs["demand_std_history"], "adi": inputs["adi"], "size_cv2": inputs["cv2_size"]}
    lead = demand_over_interval(mu, sigma, inputs["lead_time_mean"], inputs["lead_time_std"],
                                np.zeros(n), distribution, shape, **own_law)
    periodic = demand_over_interval(mu, sigma, inputs["lead_time_mean"],
                                    inputs["lead_time_std"], review, distribution, shape, **own_law)
    over_review = np.isin(policy, ("RS", "RsS"))
    protection = select(over_review, periodic, lead)
    # (s,S) and (R,s,S) order from s - U: protect X + U, U the undershoot of one period's
    # (resp. one review period's) demand (kernels.undershoot).
    from_undershoot = np.isin(policy, ("sS", "RsS"))
    undershoot = np.zeros(n)
    if from_undershoot.any():
        lump = demand_over_interval(mu, sigma, np.zeros(n), np.zeros(n), np.where(over_review, review, 1.0),
                                    distribution)
        crossed, mean_undershoot = plus_undershoot(protection, lump)
        protection = select(from_undershoot, crossed, protection)
        undershoot = np.where(from_undershoot, np.nan_to_num(mean_undershoot), 0.0)

    cost_mode = np.isnan(target)
    fill_mode = ~cost_mode & (inputs["service_level_type"] == "fill_rate")
    csl_mode = ~cost_mode & ~fill_mode
    is_rs = policy == "RS"
    lot_sized = ~is_rs  # sQ, sS, RsS carry an order quantity Q

    # Order quantity Q: EOQ (Hadley-Whitin in cost mode), else demand of max(R, 1) periods.
    quantity = cost_policies.economic_order_quantity(mu, inputs["ordering_cost"], holding)
    fallback_quantity = mu * np.maximum(review, 1.0)
    level = np.full(n, np.nan)
    hw_rows = usable & cost_mode & np.isin(policy, ("sQ", "sS"))
    if hw_rows.any():
        _, q_hw = cost_policies.cost_optimal_rq(
            lead.take(hw_rows), mu[hw_rows], holding[hw_rows], stockout[hw_rows],
            inputs["ordering_cost"][hw_rows])
        quantity[hw_rows] = q_hw
    quantity = np.where(np.isnan(quantity), fallback_quantity, quantity)
    quantity = np.where(lot_sized, order_rounding.round_up_to_case(
        np.maximum(quantity, inputs["moq"]), inputs["case_pack"]), mu * review)
    quantity = np.where(mu > 0, quantity, 0.0)  # no demand: no lot, only backorders are refilled
    # The Hadley-Whitin r is optimal for its own Q: fit it to the rounded (or fallback) Q.
    if hw_rows.any():
        level[hw_rows] = cost_policies.reorder_point_for_quantity(
            lead.take(hw_rows), quantity[hw_rows], mu[hw_rows], holding[hw_rows],
            stockout[hw_rows])

    rows = usable & cost_mode & over_review
    if rows.any():
        level[rows] = cost_policies.base_stock_level(
            periodic.take(rows), holding[rows], stockout[rows], review[rows])
    rows = usable & csl_mode
    if rows.any():
        level[rows] = service_policies.csl_level(protection.take(rows), target[rows])
    rows = usable & fill_mode & lot_sized
    if rows.any():
        level[rows] = service_policies.fill_rate_level_sq(
            protection.take(rows), quantity[rows], target[rows],
            cycle_demand=quantity[rows] + undershoot[rows])
    rows = usable & fill_mode & is_rs
    if rows.any():
        level[rows] = service_policies.fill_rate_level_rs(
            lead.take(rows), periodic.take(rows), mu[rows] * review[rows], target[rows])
    # Without demand every level meets any target; hold nothing rather than the search bracket.
    level = np.where(protection.mean > 0, level, 0.0)
    level = np.where(usable, level, np.nan)
    return _Batch(inputs, usable, no_history, lead_missing, lead, periodic, protection, undershoot,
                  cost_mode, quantity, level)


def _expected_fill(is_rs, lead: IntervalDemand, periodic: IntervalDemand, protection: IntervalDemand, level,
                   demand_per_review, quantity, undershoot) -> np.ndarray:
    """The expected fill rate at `level`: (R,S) rows by fill_rate_rs, lot-sized rows by fill_rate_sq
    over a cycle of Q plus the undershoot (kernels.service_policies)."""
    return np.where(is_rs, service_policies.fill_rate_rs(lead, periodic, level, demand_per_review),
                    service_policies.fill_rate_sq(protection, level, quantity, quantity + undershoot))


def _assemble(frame: pd.DataFrame, batch: _Batch, level: np.ndarray,
              extra_flags: list[tuple[str, np.ndarray]] = ()) -> pd.DataFrame:
    """The output frame for the chosen levels: expected service, today's order, exceptions."""
    inputs, usable, protection = batch.inputs, batch.usable, batch.protection
    mu, review, policy = inputs["demand_mean"], inputs["review_period"], inputs["policy"]
    quantity = batch.quantity
    is_rs = policy == "RS"
    expected_csl = protection.cdf(level)
    expected_fill = _expected_fill(is_rs, batch.lead, batch.periodic, protection, level, mu * review, quantity,
                                   batch.undershoot)
    reorder_point = level
    order_up_to = np.where(is_rs, level, level + quantity)
    order_quantity = np.where(usable, quantity, np.nan)

    position = inputs["on_hand"] + inputs["on_order"] - inputs["backorders"]
    need = _need(policy, position, reorder_point, order_up_to, order_quantity)
    room = inputs["capacity_units"] - (inputs["on_hand"] + inputs["on_order"])
    recommended, capped = order_rounding.round_order(need, inputs["moq"], inputs["case_pack"],
                                                     room)
    recommended = np.where(usable, recommended, np.nan)

    typical = np.fmax.reduce([order_quantity, inputs["moq"], inputs["case_pack"],
                              protection.mean])
    fill_mode = ~batch.cost_mode & (inputs["service_level_type"] == "fill_rate")
    fill_capped = usable & fill_mode & (level >= batch.level) & (expected_fill < inputs["service_level_target"] - 1e-9)
    exception = join_exceptions([
        ("no_history", batch.no_history),
        ("lead_time_missing", batch.lead_missing),
        ("target_unreachable_capacity",
         usable & (capped | (order_up_to > inputs["capacity_units"]))),
        ("fill_rate_capped", fill_capped),
        *extra_flags,
        ("order_far_above_typical", usable & (recommended > FAR_ABOVE_TYPICAL * typical)),
        ("negative_inventory", inputs["on_hand"] < 0),
        ("inconsistent_inventory",
         (inputs["on_order"] < 0) | (inputs["backorders"] < 0)
         | ((inputs["backorders"] > 0) & (inputs["on_hand"] > 0))),
    ])

    out = frame.copy()
    out["policy"] = policy
    out["service_level_type"] = np.where(batch.cost_mode, None, inputs["service_level_type"])
    out["lead_time_std"] = inputs["lead_time_std"]
    out["review_period"] = review
    out["safety_stock"] = level - protection.mean
    out["reorder_point"] = reorder_point
    out["order_up_to"] = order_up_to
    out["order_quantity"] = order_quantity
    out["inventory_position"] = position
    out["recommended_order_qty"] = recommended
    out["expected_fill_rate"] = np.where(usable, expected_fill, np.nan)
    out["expected_csl"] = np.where(usable, expected_csl, np.nan)
    out["exception"] = exception
    return out


def compute_policies(frame: pd.DataFrame, pool_service_by: str | None = None) -> pd.DataFrame:
    """Reorder points, order-up-to levels and today's recommended order for every row.

    `frame`: one row per sku x location with the columns of the module docstring. Returns a copy
    of `frame` with the policy columns added (see the module docstring for formulas and sources).
    Raises InputDataError for a missing required column or a value no policy can use.

    `pool_service_by`: a column of `frame` whose groups meet their service targets together
    (kernels.pooled_service): the service-target rows of a group with demand take whole-unit
    levels, each its own level or one unit less (never 0 from 1), so that the group's expected
    stockout occasions (CSL rows) or expected units short (fill-rate rows, a pool of their own) are
    those its targets allow, at the least money (`unit_cost`; where unknown, the group's median).
    Rows where the column is null and cost-mode rows keep their own levels.
    """
    batch = _solve(frame)
    if pool_service_by is None:
        return _assemble(frame, batch, batch.level)
    return _assemble(frame, batch, _pooled_levels(frame, batch, pool_service_by))


def _cycles_per_period(batch: _Batch) -> np.ndarray:
    """Replenishment cycles per period: 1 / R for RS, mu / Q for lot-sized policies. `(n_series,)`."""
    inputs = batch.inputs
    quantity = np.where(batch.quantity > 0, batch.quantity, 1.0)
    return np.where(inputs["policy"] == "RS", 1.0 / inputs["review_period"], inputs["demand_mean"] / quantity)


def _pooled_levels(frame: pd.DataFrame, batch: _Batch, column: str) -> np.ndarray:
    """`batch.level` with the service-target rows of each `column` group pooled (compute_policies):
    CSL rows by their expected stockout occasions, fill-rate rows by their expected units short, in
    separate pools (kernels.pooled_service)."""
    if column not in frame.columns:
        raise InputDataError(f"pool_service_by names the column {column!r}, which the frame lacks "
                             f"(columns: {reprlib.repr(list(frame.columns))})")
    inputs = batch.inputs
    key = frame[column]
    pooled = batch.usable & ~batch.cost_mode & (batch.protection.mean > 0) & key.notna().to_numpy()
    level = batch.level.copy()
    if not pooled.any():
        return level
    own = np.ceil(batch.level[pooled] - 1e-9)  # whole units: a continuous family's level rounded up
    fill = inputs["service_level_type"][pooled] == "fill_rate"
    at_level, below = _service_at(batch, pooled, own), _service_at(batch, pooled, own - 1.0)
    weight = np.where(fill, inputs["demand_mean"][pooled], _cycles_per_period(batch)[pooled])
    codes, _ = pd.factorize(pd.MultiIndex.from_arrays([key[pooled].to_numpy(), fill]))
    level[pooled] = pooled_service.pooled_levels(
        own, at_level, below, inputs["service_level_target"][pooled], weight,
        pooled_service.pool_unit_costs(inputs["unit_cost"][pooled], codes), codes)
    return level


def _service_at(batch: _Batch, rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Each of `rows`' own service measure at `level` ``(rows.sum(),)``: the cdf of its protection
    demand for CSL rows, its expected fill rate (as _assemble reports it) for fill-rate rows; each
    measure computed on its own rows only."""
    inputs = batch.inputs
    positions = np.flatnonzero(rows)
    fill = inputs["service_level_type"][positions] == "fill_rate"
    out = np.empty(positions.size)
    if (~fill).any():
        out[~fill] = batch.protection.take(positions[~fill]).cdf(level[~fill])
    if fill.any():
        at = positions[fill]
        out[fill] = _expected_fill(inputs["policy"][at] == "RS", batch.lead.take(at), batch.periodic.take(at),
                                   batch.protection.take(at), level[fill],
                                   inputs["demand_mean"][at] * inputs["review_period"][at], batch.quantity[at],
                                   batch.undershoot[at])
    return out


def allocate_budget(frame: pd.DataFrame, budgets, location_column: str = "location_id",
                    pool_service_by: str | None = None) -> pd.DataFrame:
    """compute_policies under a safety-stock budget per location (kernels.budget).

    `frame`: compute_policies input plus `location_column` and `unit_cost` (> 0 on every
    budgeted row). `budgets`: mapping or Series location -> money for safety stock: the sum
    over the location's rows of unit_cost x (level - floor), floor = the mean demand over the
    protection interval (or the unconstrained level where that is lower). Locations without a
    budget keep their compute_policies levels.

    Each row's level moves between a floor (zero safety stock, or its unconstrained level if
    lower) and its unconstrained level (the service target is never exceeded); the budget goes
    where a unit of money avoids the most units short per period (weight mu / Q for lot-sized
    policies, 1 / R for RS; one-term shortage B(y) over the protection interval). Returns the
    compute_policies columns for the budgeted levels plus `budget_multiplier` (the location's
    money per unit short per period at the margin; 0 where the budget is not binding), with
    'target_unreachable_budget' in `exception` where the level fell below the unconstrained one.
    `pool_service_by` pools the rows outside every budget as in compute_policies (give the
    budgeted rows a null there).
    """
    if location_column not in frame.columns:
        raise InputDataError(f"allocate_budget needs the column {location_column!r} "
                             f"(the location each row's budget comes from)")
    batch = _solve(frame)
    budget_by_location = pd.Series(budgets, dtype=np.float64)
    location_budget = frame[location_column].map(budget_by_location).to_numpy(dtype=np.float64)
    budgeted = batch.usable & ~np.isnan(location_budget)
    unit_cost = batch.inputs["unit_cost"]
    _check_values("unit_cost", budgeted & ~(unit_cost > 0), unit_cost,
                  "budgeted rows need a positive unit_cost to price their safety stock")

    level = batch.level.copy() if pool_service_by is None else _pooled_levels(frame, batch, pool_service_by)
    multiplier = np.full(len(frame), np.nan)
    if budgeted.any():
        protection = batch.protection.take(budgeted)
        upper = batch.level[budgeted]
        lower = np.minimum(protection.mean, upper)
        weight = _cycles_per_period(batch)[budgeted]  # expected shortage per cycle -> per period
        codes, locations = pd.factorize(frame[location_column][budgeted])
        new_level, group_multiplier = budget_kernel.allocate_budget(
            protection, weight, unit_cost[budgeted], lower, upper, codes,
            budget_by_location.reindex(locations).to_numpy())
        level[budgeted] = new_level
        multiplier[budgeted] = group_multiplier[codes]
    short_of_target = budgeted & (level < batch.level - 1e-9 * (1.0 + np.abs(batch.level)))
    out = _assemble(frame, batch, level, [("target_unreachable_budget", short_of_target)])
    out["budget_multiplier"] = multiplier
    return out


def _need(policy, position, reorder_point, order_up_to, order_quantity) -> np.ndarray:
    """Units the policy calls for now, before MOQ, case pack and capacity. `(n_series,)`."""
    is_rs = policy == "RS"
    is_sq = policy == "sQ"
    triggered = np.where(is_rs, position < order_up_to, position <= reorder_point)
    safe_q = np.where(order_quantity > 0, order_quantity, 1.0)
    batches = np.floor((reorder_point - position) / safe_q) + 1.0
    sq_need = np.where(order_quantity > 0, batches * order_quantity,
                       np.maximum(reorder_point - position, 0.0))
    need = np.where(is_sq, sq_need, order_up_to - position)
    return np.where(triggered, need, 0.0)


def join_exceptions(flags: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """';'-joined names of the flags set per row, None where none is set. `(n_series,)` object."""
    n = len(flags[0][1]) if flags else 0
    text = np.full(n, "", dtype=object)
    for name, mask in flags:
        text = text + np.where(mask, name + ";", "").astype(object)
    text = pd.Series(text, dtype=object).str.rstrip(";").to_numpy(dtype=object)
    return np.where(text == "", None, text)


__all__ = ["compute_policies", "allocate_budget", "POLICIES", "SERVICE_LEVEL_TYPES", "DEFAULTS",
           "OUTPUT_COLUMNS"]

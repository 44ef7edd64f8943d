"""Inventory simulation: replay realised demand under a replenishment policy, vectorized over series.

Numpy over ``(n_series, n_periods)`` matrices with one loop over time; every step updates all
series at once (a policy code per series, boolean masks, no loop per series). The policies are
those of :mod:`invspark.policy` (Silver, Pyke & Thomas (2017) *Inventory and Production
Management in Supply Chains*, 4th ed., ch. 6): ``RS`` (periodic review, order up to S),
``RsS`` (periodic review, order up to S when the inventory position is at or below s), ``sS``
and ``sQ`` (reviewed every period: "continuous-ish").

Timing of period ``t`` (all series alike):

1. **review** (every ``review_period`` periods from ``review_phase`` for RS / RsS, every period
   for sQ / sS): inventory position ``IP = on_hand + on_order - backorders``;
   RS orders ``S - IP`` when ``IP < S``; sS and RsS order ``S - IP`` when ``IP <= s``; sQ orders
   the smallest ``n Q`` that lifts IP above s when ``IP <= s``. The order is raised to the MOQ
   and rounded up to the case pack (:func:`invspark.kernels.order_rounding.round_order`). A
   fraction ``supply_fill[:, t]`` of it (rounded down to whole cases) is shipped: the rest is a
   supplier / DC shortage and is cancelled. It arrives ``lead_times[:, t]`` periods later, at
   the start of period ``t + L`` (``L = 0``: before period t's demand). An order placed at the
   review of period t therefore covers the demand of ``t .. t + L + R - 1``: the protection
   interval ``L + R`` of the policy formulas.
2. **arrivals**: the units due at ``t`` are put on hand; backorders are served first.
3. **demand** ``d[:, t]``: ``filled = min(d, on_hand)``; the rest is backordered, or lost when
   ``lost_sales``.

A period is a **stockout period** when some demand was not filled from stock or backorders
are still open at its end. **Replenishment cycles** run from one arrival of a cycle-marking
order to the next (RS: the order of every review, even of zero units; sQ / sS / RsS: every
order placed); the **cycle service level** is the share of complete cycles without a stockout
period (the cycle before the first arrival and the unfinished last cycle are not counted). With
backorders and RS this is the event ``D(L + R) <= S`` of the textbook CSL of RS (SPT sec. 6.9).

Initial state: on hand = ``initial_on_hand`` (callers pass the policy's order-up-to level, S or
s + Q, so the warm-up does not start empty), nothing on order, no backorders.

Lead times are drawn once per series and period (:func:`draw_lead_times`, seeded), before the
simulation, so that every policy simulated on the same series sees the same lead times (common
random numbers) and the per-series reference loop can replay them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invspark.errors import InputDataError
from invspark.kernels.order_rounding import round_down_to_case, round_order

POLICIES = ("sQ", "RS", "sS", "RsS")
PERIODIC_POLICIES = ("RS", "RsS")


def draw_lead_times(
    lead_time_mean,
    lead_time_std,
    n_periods: int,
    seed: int | np.random.SeedSequence,
    max_lead_time: int | None = None,
) -> np.ndarray:
    """Integer lead times ``(n_series, n_periods)``: one draw per series and period of placing.

    Gamma with the series' mean ``m`` and std ``s`` (shape ``m^2 / s^2``, scale ``s^2 / m``),
    rounded to the nearest whole period (a gamma keeps lead times positive and right-skewed);
    ``s = 0`` (or NaN) gives ``round(m)`` every time. Clipped to ``[0, max_lead_time]``
    (default ``ceil(max(m + 6 s))``). ``lead_time_mean``, ``lead_time_std``: ``(n_series,)`` in
    periods. Seeded: the same seed gives the same matrix.
    """
    mean = np.atleast_1d(np.asarray(lead_time_mean, dtype=np.float64))
    std = np.nan_to_num(np.broadcast_to(np.asarray(lead_time_std, dtype=np.float64), mean.shape), nan=0.0)
    if np.isnan(mean).any() or (mean < 0).any():
        bad = mean[np.isnan(mean) | (mean < 0)][:3]
        raise InputDataError(f"lead_time_mean must be >= 0 periods for every series, got {bad.tolist()}; "
                             "fill missing lead times with the config default before simulating")
    if (std < 0).any():
        raise InputDataError(f"lead_time_std must be >= 0, got {std[std < 0][:3].tolist()}")
    rng = np.random.default_rng(seed)
    n = mean.size
    random = (std > 0) & (mean > 0)
    shape = np.where(random, mean**2 / np.where(random, std**2, 1.0), 1.0)  # (n,)
    scale = np.where(random, std**2 / np.where(random, mean, 1.0), 0.0)  # (n,)
    draws = rng.gamma(np.broadcast_to(shape[:, None], (n, n_periods)), 1.0) * scale[:, None]  # (n, T)
    lead = np.where(random[:, None], draws, mean[:, None])
    if max_lead_time is None:
        max_lead_time = int(np.ceil(np.max(mean + 6.0 * std, initial=0.0)))
    return np.clip(np.rint(lead), 0, max_lead_time).astype(np.int64)


@dataclass
class SimulationResult:
    """Per-period paths ``(n_series, n_periods)`` and per-series cycle counts ``(n_series,)``."""

    on_hand: np.ndarray  # end-of-period units on hand (>= 0)
    backorders: np.ndarray  # end-of-period open backorders (0 with lost sales)
    filled: np.ndarray  # the period's demand filled from stock in the period
    short: np.ndarray  # the period's demand not filled in the period (backordered or lost)
    sold: np.ndarray  # units leaving stock in the period (filled + backorders served)
    ordered: np.ndarray  # units ordered at the period's review (after MOQ / case pack)
    received: np.ndarray  # units arriving at the start of the period
    stockout: np.ndarray  # bool: unfilled demand or open backorders at the end of the period
    cycles: np.ndarray  # complete replenishment cycles
    cycles_with_stockout: np.ndarray  # of which with at least one stockout period
    on_order_end: np.ndarray  # units still in transit after the last period


def _per_series(value, n: int, name: str, dtype=np.float64) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim == 0:
        return np.full(n, array, dtype=dtype)
    if array.shape != (n,):
        raise InputDataError(f"{name} must be a scalar or shape ({n},), got shape {array.shape}")
    return array


def _levels(value, n: int, T: int, name: str) -> np.ndarray:
    """A policy level as ``(n, T)``: a scalar, ``(n,)`` (held constant) or ``(n, T)`` (per period)."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 2:
        if array.shape != (n, T):
            raise InputDataError(f"{name} must be a scalar, ({n},) or ({n}, {T}), got shape {array.shape}")
        return array
    return np.broadcast_to(_per_series(array, n, name)[:, None], (n, T))


def simulate_inventory(
    demand: np.ndarray,
    policy,
    reorder_point,
    order_up_to,
    order_quantity,
    review_period,
    lead_times: np.ndarray,
    *,
    moq=0.0,
    case_pack=1.0,
    lost_sales: bool = False,
    review_phase=0,
    initial_on_hand=None,
    supply_fill: np.ndarray | None = None,
) -> SimulationResult:
    """Simulate each series' stock under its policy on the demand ``(n_series, n_periods)``.

    ``policy``: one of :data:`POLICIES` or ``(n_series,)`` of them. ``reorder_point`` (s) and
    ``order_up_to`` (S): scalars, ``(n_series,)`` or per period ``(n_series, n_periods)`` (a
    policy re-planned every period from a forecast path); ``order_quantity`` (Q, sQ only), ``review_period`` (R, whole periods
    >= 1, RS / RsS only), ``moq``, ``case_pack``, ``review_phase``, ``initial_on_hand``
    (default S, or s + Q for sQ, of period 0): scalars or ``(n_series,)``. ``lead_times``: integer periods
    ``(n_series, n_periods)`` (see :func:`draw_lead_times`); ``supply_fill``: the shipped
    fraction of each order ``(n_series, n_periods)`` in [0, 1] (default 1: no DC shortage).
    The timing and the definitions are in the module docstring.
    """
    demand = np.asarray(demand, dtype=np.float64)
    if demand.ndim != 2:
        raise InputDataError(f"demand must be a (n_series, n_periods) matrix, got shape {demand.shape}")
    n, T = demand.shape
    if np.isnan(demand).any() or (demand < 0).any():
        raise InputDataError("demand must be finite and >= 0 in every period; pass 0 for closed or missing "
                             "periods (and the observed units, a lower bound, for censored ones)")
    policy = np.broadcast_to(np.asarray(policy, dtype=object), (n,))
    unknown = set(policy.tolist()) - set(POLICIES)
    if unknown:
        raise InputDataError(f"policy must be one of {POLICIES}, got {sorted(map(str, unknown))[:3]}")
    s = _levels(reorder_point, n, T, "reorder_point")  # (n, T)
    S = _levels(order_up_to, n, T, "order_up_to")  # (n, T)
    Q = _per_series(order_quantity, n, "order_quantity")
    R = np.rint(np.nan_to_num(_per_series(review_period, n, "review_period"), nan=1.0)).astype(np.int64)
    phase = _per_series(review_phase, n, "review_phase", np.int64)
    moq = np.nan_to_num(_per_series(moq, n, "moq"), nan=0.0)
    case_pack = np.nan_to_num(_per_series(case_pack, n, "case_pack"), nan=1.0)
    is_sq = policy == "sQ"
    is_rs = policy == "RS"
    periodic = np.isin(policy, PERIODIC_POLICIES)
    uses_s = ~is_rs
    uses_S = ~is_sq
    for name, values, used in (("reorder_point", s, uses_s), ("order_up_to", S, uses_S), ("order_quantity", Q, is_sq)):
        missing = np.isnan(values).reshape(n, -1).any(axis=1) & used  # (n,)
        if missing.any():
            raise InputDataError(f"{name} is NaN for {int(missing.sum())} series whose policy needs it; "
                                 "drop series without a policy before simulating")
    if (Q[is_sq] <= 0).any():
        raise InputDataError(f"order_quantity must be > 0 for sQ series, got {Q[is_sq & (Q <= 0)][:3].tolist()}")
    if (R[periodic] < 1).any():
        raise InputDataError(f"review_period must be >= 1 period for RS / RsS, got {R[periodic & (R < 1)][:3].tolist()}")
    if (case_pack <= 0).any():
        raise InputDataError(f"case_pack must be > 0, got {case_pack[case_pack <= 0][:3].tolist()}")
    lead_times = np.asarray(lead_times)
    if lead_times.shape != (n, T) or (lead_times < 0).any():
        raise InputDataError(f"lead_times must be integers >= 0 of shape {(n, T)}, got shape {lead_times.shape}")
    lead_times = lead_times.astype(np.int64)
    fill = np.ones((n, T)) if supply_fill is None else np.asarray(supply_fill, dtype=np.float64)
    if fill.shape != (n, T) or np.isnan(fill).any() or (fill < 0).any() or (fill > 1).any():
        raise InputDataError(f"supply_fill must be fractions in [0, 1] of shape {(n, T)}")
    if initial_on_hand is None:
        initial_on_hand = np.where(is_sq, s[:, 0] + Q, S[:, 0])
    on_hand = _per_series(initial_on_hand, n, "initial_on_hand").astype(np.float64).copy()

    rows = np.arange(n)
    width = int(lead_times.max(initial=0)) + 1
    pipeline = np.zeros((n, width))  # slot (t % width): units arriving at the start of period t
    boundary = np.zeros((n, width), dtype=bool)  # slot (t % width): a cycle-marking order arrives at t
    on_order = np.zeros(n)
    backorders = np.zeros(n)
    cycle_open = np.zeros(n, dtype=bool)
    cycle_short = np.zeros(n, dtype=bool)
    cycles = np.zeros(n, dtype=np.int64)
    cycles_with_stockout = np.zeros(n, dtype=np.int64)
    out = {name: np.zeros((n, T)) for name in ("on_hand", "backorders", "filled", "short", "sold", "ordered", "received")}
    stockout = np.zeros((n, T), dtype=bool)
    sq_room = np.where(is_sq, Q, 1.0)
    for t in range(T):  # loop over time only; each step is vectorized over series
        # 1. review and order
        position = on_hand + on_order - backorders
        reviews = np.where(periodic, (t - phase) % np.maximum(R, 1) == 0, True)
        s_t, S_t = s[:, t], S[:, t]
        need = np.where(is_rs, np.where(position < S_t, S_t - position, 0.0),
                        np.where(position <= s_t,
                                 np.where(is_sq, (np.floor((s_t - position) / sq_room) + 1.0) * sq_room, S_t - position),
                                 0.0))
        quantity, _ = round_order(np.where(reviews, need, 0.0), moq, case_pack)
        shipped = np.where(quantity > 0, round_down_to_case(quantity * fill[:, t], case_pack), 0.0)
        arrive_slot = (t + lead_times[:, t]) % width
        pipeline[rows, arrive_slot] += shipped
        on_order += shipped
        marks = np.where(is_rs, reviews, quantity > 0)
        boundary[rows, arrive_slot] |= marks
        # 2. arrivals; a cycle ends where a marking order arrives
        slot = t % width
        arriving = pipeline[:, slot].copy()
        pipeline[:, slot] = 0.0
        on_order -= arriving
        on_hand += arriving
        ends = boundary[:, slot].copy()
        boundary[:, slot] = False
        closing = ends & cycle_open
        cycles += closing
        cycles_with_stockout += closing & cycle_short
        cycle_open |= ends
        cycle_short &= ~ends
        served_backorders = np.minimum(on_hand, backorders)
        on_hand -= served_backorders
        backorders -= served_backorders
        # 3. demand
        filled = np.minimum(demand[:, t], on_hand)
        short = demand[:, t] - filled
        on_hand -= filled
        if not lost_sales:
            backorders += short
        is_stockout = (short > 0) | (backorders > 0)
        cycle_short |= is_stockout & cycle_open
        out["on_hand"][:, t] = on_hand
        out["backorders"][:, t] = backorders
        out["filled"][:, t] = filled
        out["short"][:, t] = short
        out["sold"][:, t] = filled + served_backorders
        out["ordered"][:, t] = quantity
        out["received"][:, t] = arriving
        stockout[:, t] = is_stockout
    return SimulationResult(stockout=stockout, cycles=cycles, cycles_with_stockout=cycles_with_stockout,
                            on_order_end=on_order, **out)


SUMMARY_COLUMNS = ("periods", "demand", "filled", "sold", "lost_units", "stockout_periods", "cycles",
                   "cycles_with_stockout", "on_hand_sum", "n_orders", "holding_cost", "ordering_cost")


def summarize(
    result: SimulationResult,
    demand: np.ndarray,
    holding_cost=np.nan,
    ordering_cost=np.nan,
    lost_sales: bool = False,
    warmup: int = 0,
) -> dict[str, np.ndarray]:
    """Per-series sums over periods ``warmup .. T-1`` (each ``(n_series,)``) of :data:`SUMMARY_COLUMNS`.

    Sums (not ratios) so that segments aggregate by adding; the ratios are
    :func:`outcome_ratios`. ``holding_cost`` per unit per period on the end-of-period stock,
    ``ordering_cost`` per order placed (NaN where unknown: the series' cost is NaN).
    Cycles are counted over the whole run (the warm-up cycle is never counted, see the module
    docstring).
    """
    n, T = demand.shape
    window = slice(min(max(int(warmup), 0), T), T)
    on_hand_sum = result.on_hand[:, window].sum(axis=1)
    n_orders = (result.ordered[:, window] > 0).sum(axis=1).astype(np.float64)
    return {
        "periods": np.full(n, float(T - window.start)),
        "demand": demand[:, window].sum(axis=1),
        "filled": result.filled[:, window].sum(axis=1),
        "sold": result.sold[:, window].sum(axis=1),
        "lost_units": result.short[:, window].sum(axis=1) if lost_sales else np.zeros(n),
        "stockout_periods": result.stockout[:, window].sum(axis=1).astype(np.float64),
        "cycles": result.cycles.astype(np.float64),
        "cycles_with_stockout": result.cycles_with_stockout.astype(np.float64),
        "on_hand_sum": on_hand_sum,
        "n_orders": n_orders,
        "holding_cost": np.asarray(holding_cost, dtype=np.float64) * on_hand_sum,
        "ordering_cost": np.asarray(ordering_cost, dtype=np.float64) * n_orders,
    }


def outcome_ratios(sums, periods_per_year: float) -> dict[str, np.ndarray]:
    """Service and inventory ratios from summed outcomes (arrays or pandas columns, any shape).

    ``fill_rate`` = filled / demand (SPT ch. 6's P2 measure: the share of demand met from stock);
    ``csl`` = 1 - cycles_with_stockout / cycles; ``avg_on_hand`` = on_hand_sum / periods per
    series (the caller sums ``periods`` over series, so this is the average per series);
    ``inventory_turns`` = yearly units sold / average stock =
    ``sold / on_hand_sum * periods_per_year``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        demand = np.asarray(sums["demand"], dtype=np.float64)
        cycles = np.asarray(sums["cycles"], dtype=np.float64)
        on_hand_sum = np.asarray(sums["on_hand_sum"], dtype=np.float64)
        return {
            "fill_rate": np.where(demand > 0, np.asarray(sums["filled"]) / demand, np.nan),
            "csl": np.where(cycles > 0, 1.0 - np.asarray(sums["cycles_with_stockout"]) / cycles, np.nan),
            "avg_on_hand": on_hand_sum / np.asarray(sums["periods"], dtype=np.float64),
            "inventory_turns": np.where(on_hand_sum > 0, np.asarray(sums["sold"]) / on_hand_sum * periods_per_year, np.nan),
        }

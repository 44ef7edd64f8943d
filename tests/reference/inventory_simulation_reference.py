"""Obvious per-series, per-period loop of the inventory simulation (the spec of the vectorized kernel).

One series at a time, plain Python floats and a list of outstanding orders; the same timing and
definitions as the module docstring of `invspark.kernels.inventory_simulation`.
"""

from __future__ import annotations

import math

import numpy as np


def _round_up_to_case(quantity: float, case_pack: float) -> float:
    return max(math.ceil(quantity / case_pack - 1e-9), 0) * case_pack


def _round_down_to_case(quantity: float, case_pack: float) -> float:
    return max(math.floor(quantity / case_pack + 1e-9), 0) * case_pack


def simulate_one(demand, policy, s, S, Q, R, lead_times, moq=0.0, case_pack=1.0, lost_sales=False, phase=0,
                 initial_on_hand=None, supply_fill=None):
    """One series: returns a dict of per-period lists and the cycle counts."""
    T = len(demand)
    s_path = list(s) if np.ndim(s) == 1 else [s] * T  # levels per period (a constant level repeated)
    S_path = list(S) if np.ndim(S) == 1 else [S] * T
    on_hand = float(initial_on_hand if initial_on_hand is not None
                    else (s_path[0] + Q if policy == "sQ" else S_path[0]))
    backorders = 0.0
    outstanding = []  # [arrival_period, units, marks_cycle]
    cycle_open, cycle_short = False, False
    cycles = cycles_short = 0
    paths = {k: [] for k in ("on_hand", "backorders", "filled", "short", "sold", "ordered", "received", "stockout")}
    for t in range(T):
        position = on_hand + sum(units for _, units, _ in outstanding) - backorders
        if policy in ("RS", "RsS"):
            review = (t - phase) % R == 0
        else:
            review = True
        need = 0.0
        s, S = s_path[t], S_path[t]
        if review:
            if policy == "RS":
                need = S - position if position < S else 0.0
            elif position <= s:
                if policy == "sQ":
                    n_lots = math.floor((s - position) / Q) + 1
                    need = n_lots * Q
                else:
                    need = S - position
        quantity = _round_up_to_case(max(need, moq), case_pack) if need > 0 else 0.0
        fill = 1.0 if supply_fill is None else supply_fill[t]
        shipped = _round_down_to_case(quantity * fill, case_pack) if quantity > 0 else 0.0
        marks = review if policy == "RS" else quantity > 0
        outstanding.append([t + int(lead_times[t]), shipped, marks])
        arriving = sum(units for due, units, _ in outstanding if due == t)
        ends = any(mark for due, _, mark in outstanding if due == t)
        outstanding = [o for o in outstanding if o[0] != t]
        on_hand += arriving
        if ends:
            if cycle_open:
                cycles += 1
                cycles_short += cycle_short
            cycle_open, cycle_short = True, False
        served = min(on_hand, backorders)
        on_hand -= served
        backorders -= served
        filled = min(demand[t], on_hand)
        short = demand[t] - filled
        on_hand -= filled
        if not lost_sales:
            backorders += short
        stockout = short > 0 or backorders > 0
        if stockout and cycle_open:
            cycle_short = True
        for key, value in (("on_hand", on_hand), ("backorders", backorders), ("filled", filled), ("short", short),
                           ("sold", filled + served), ("ordered", quantity), ("received", arriving),
                           ("stockout", stockout)):
            paths[key].append(value)
    paths["cycles"] = cycles
    paths["cycles_with_stockout"] = cycles_short
    paths["on_order_end"] = sum(units for _, units, _ in outstanding)
    return paths


def simulate_reference(demand, policy, s, S, Q, R, lead_times, moq, case_pack, lost_sales, phase, supply_fill=None):
    """Loop over series; arguments are `(n,)` arrays (policy an object array; s and S may be `(n, T)`)
    and `(n, T)` matrices."""
    n = demand.shape[0]
    runs = [simulate_one(demand[i], policy[i], s[i], S[i], Q[i], int(R[i]), lead_times[i], moq[i], case_pack[i],
                         lost_sales, int(phase[i]), None, None if supply_fill is None else supply_fill[i])
            for i in range(n)]
    out = {k: np.array([r[k] for r in runs], dtype=float) for k in runs[0] if k not in ("stockout",)}
    out["stockout"] = np.array([r["stockout"] for r in runs], dtype=bool)
    return out

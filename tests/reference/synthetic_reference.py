"""Obvious per-series loops that the vectorized kernels of invspark.kernels.synthetic must match."""

from __future__ import annotations

import math

import numpy as np


def simulate_order_up_to_loop(demand, order_up_to, order_days, lead_periods, fill_fraction, case_pack, start_period):
    """One series at a time, one period at a time, with a list of outstanding orders."""
    n, T = demand.shape
    out = {k: np.zeros((n, T)) for k in ("units", "on_hand", "qty_ordered", "qty_received")}
    out["on_order"] = np.zeros(n)
    for i in range(n):
        stock = 0.0
        outstanding = []  # (arrival period, quantity)
        for t in range(T):
            if t == start_period[i]:
                stock = math.ceil(order_up_to[i, t] / case_pack[i]) * case_pack[i]
            stock += sum(q for due, q in outstanding if due == t)
            outstanding = [(due, q) for due, q in outstanding if due != t]
            sold = min(demand[i, t], stock)
            stock -= sold
            ordered = 0.0
            if order_days[i, t] and t != start_period[i]:
                position = stock + sum(q for _, q in outstanding)
                ordered = math.ceil(max(order_up_to[i, t] - position, 0.0) / case_pack[i]) * case_pack[i]
            received = math.floor(ordered * fill_fraction[i, t])
            if received > 0:
                outstanding.append((t + int(lead_periods[i, t]), received))
            out["units"][i, t] = sold
            out["on_hand"][i, t] = stock
            out["qty_ordered"][i, t] = ordered
            out["qty_received"][i, t] = received
        out["on_order"][i] = sum(q for _, q in outstanding)
    return out


def adi_cv2_loop(demand):
    """Syntetos-Boylan ADI and CV² of non-zero sizes, series by series (NaN = outside life)."""
    adi, cv2 = [], []
    for row in demand:
        observed = [x for x in row if not math.isnan(x)]
        sizes = [x for x in observed if x > 0]
        if not sizes:
            adi.append(math.inf)
            cv2.append(math.nan)
            continue
        mean = sum(sizes) / len(sizes)
        var = sum((x - mean) ** 2 for x in sizes) / len(sizes)
        adi.append(len(observed) / len(sizes))
        cv2.append(var / mean**2)
    return np.array(adi), np.array(cv2)

"""Obvious per-series loops for invspark.kernels.forecast_metrics (test reference only)."""

from __future__ import annotations

import math

import numpy as np


def m5_scale_one(history: np.ndarray, censored: np.ndarray) -> float:
    values = [math.nan if c else h for h, c in zip(history, censored)]
    started = False
    kept = []
    for v in values:
        if not math.isnan(v) and v > 0:
            started = True
        kept.append(v if started else math.nan)
    diffs = [(b - a) ** 2 for a, b in zip(kept[:-1], kept[1:]) if not math.isnan(a) and not math.isnan(b)]
    if not diffs:
        return math.nan
    scale = sum(diffs) / len(diffs)
    return scale if scale > 0 else math.nan


def error_sums_one(actual, mean, quantiles, levels, scale2, p90) -> dict:
    out = dict(abs_error=0.0, error=0.0, actual=0.0, squared_scaled_error=0.0, pinball=0.0, covered_p90=0.0, n_points=0)
    for h in range(len(actual)):
        y, f = actual[h], mean[h]
        if math.isnan(y) or math.isnan(f):
            continue
        out["abs_error"] += abs(y - f)
        out["error"] += f - y
        out["actual"] += y
        out["squared_scaled_error"] += (y - f) ** 2 / scale2
        losses = []
        for level, qf in zip(levels, quantiles):
            losses.append(level * (y - qf[h]) if y >= qf[h] else (1 - level) * (qf[h] - y))
        out["pinball"] += sum(losses) / len(levels)
        out["covered_p90"] += 1.0 if y <= p90[h] else 0.0
        out["n_points"] += 1
    return out

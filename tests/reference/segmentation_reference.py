"""Obvious per-series loops for invspark.kernels.segmentation (test reference only)."""

from __future__ import annotations

import math

import numpy as np


def demand_statistics_one(units: np.ndarray, censored: np.ndarray) -> dict:
    demand = [u for u, c in zip(units, censored) if not c and not math.isnan(u)]
    sizes = [d for d in demand if d > 0]
    n = len(demand)
    mean = sum(demand) / n if n else math.nan
    std = math.sqrt(sum((d - mean) ** 2 for d in demand) / n) if n else math.nan
    if n and mean > 0:
        cv = std / mean
    else:
        cv = math.inf
    adi = n / len(sizes) if sizes else math.inf
    if len(sizes) >= 2:
        size_mean = sum(sizes) / len(sizes)
        cv2 = (sum((s - size_mean) ** 2 for s in sizes) / len(sizes)) / size_mean**2
    else:
        cv2 = 0.0
    sold = [i for i, u in enumerate(units) if not math.isnan(u) and u > 0]
    return {
        "n_observed": n,
        "n_nonzero": len(sizes),
        "mean": mean,
        "std": std,
        "cv": cv,
        "adi": adi,
        "cv2_size": cv2,
        "first_sale": sold[0] if sold else -1,
        "last_sale": sold[-1] if sold else -1,
    }


def lifecycle_one(units: np.ndarray, censored: np.ndarray, min_history: int, inactive_window: int) -> str:
    sold = [i for i, u in enumerate(units) if not math.isnan(u) and u > 0]
    age = len(units) - sold[0] if sold else 0
    if age < min_history:
        return "new"
    recent = units[max(len(units) - inactive_window, 0):]
    recent_censored = censored[max(len(units) - inactive_window, 0):]
    if sum(0.0 if math.isnan(u) else u for u in recent) <= 0 and not any(recent_censored):
        return "inactive"
    return "active"

"""Demand segmentation over a panel of series: XYZ variability, Syntetos-Boylan pattern, lifecycle.

All functions take float64 matrices ``units`` of shape ``(n_series, n_periods)`` (``NaN`` =
missing) and a boolean ``censored`` mask of the same shape, and return per-series vectors of
shape ``(n_series,)``. Censored periods (stock-outs) are treated as unobserved: their units are
a lower bound on demand, not a demand observation.

Sources
-------
- Syntetos, A.A., Boylan, J.E. & Croston, J.D. (2005). "On the categorization of demand
  patterns." *Journal of the Operational Research Society* 56(5), 495-503: the four patterns
  split by the average inter-demand interval ``ADI = 1.32`` and the squared coefficient of
  variation of the non-zero demand sizes ``CV^2 = 0.49``.
- XYZ analysis (e.g. Scholz-Reiter et al. 2012; Silver, Pyke & Thomas 2017, Ch. 2): classes by
  the coefficient of variation of per-period demand, ``X`` stable, ``Y`` variable, ``Z`` erratic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")
INTERMITTENT_ADI = 1.32  # Syntetos, Boylan & Croston (2005): demand is intermittent from this ADI on


def observed_demand(units: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """``units`` with censored periods set to ``NaN``: the demand observations, ``(n, T)``."""
    return np.where(censored, np.nan, units)


def demand_statistics(units: np.ndarray, censored: np.ndarray) -> dict[str, np.ndarray]:
    """Per-series statistics that segmentation needs, each ``(n_series,)``.

    Returns ``n_observed`` (uncensored, non-missing periods), ``n_nonzero``, ``mean``, ``std``
    (ddof=0) and ``cv`` of per-period demand, ``adi`` (observed periods per non-zero period, the
    average inter-demand interval; ``inf`` when no demand), ``cv2_size`` (squared CV of the
    non-zero sizes, 0 with fewer than two), ``first_sale`` / ``last_sale`` (period index of the
    first and last non-zero units, censored or not; -1 when none).
    """
    demand = observed_demand(units, censored)  # (n, T)
    observed = ~np.isnan(demand)
    n_observed = observed.sum(axis=1)
    nonzero = observed & (demand > 0)
    n_nonzero = nonzero.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(observed, demand, 0.0).sum(axis=1)
        mean = np.where(n_observed > 0, total / np.maximum(n_observed, 1), np.nan)
        squares = np.where(observed, (demand - mean[:, None]) ** 2, 0.0).sum(axis=1)
        std = np.where(n_observed > 0, np.sqrt(squares / np.maximum(n_observed, 1)), np.nan)
        cv = np.where(mean > 0, std / mean, np.inf)
        adi = np.where(n_nonzero > 0, n_observed / np.maximum(n_nonzero, 1), np.inf)
        size_mean = np.where(nonzero, demand, 0.0).sum(axis=1) / np.maximum(n_nonzero, 1)
        size_var = np.where(nonzero, (demand - size_mean[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(n_nonzero, 1)
        cv2_size = np.where(n_nonzero >= 2, size_var / np.maximum(size_mean, 1e-300) ** 2, 0.0)
    sold = np.nan_to_num(units, nan=0.0) > 0  # (n, T)
    any_sale = sold.any(axis=1)
    n_periods = units.shape[1]
    first_sale = np.where(any_sale, sold.argmax(axis=1), -1)
    last_sale = np.where(any_sale, n_periods - 1 - sold[:, ::-1].argmax(axis=1), -1)
    return {
        "n_observed": n_observed,
        "n_nonzero": n_nonzero,
        "mean": mean,
        "std": std,
        "cv": cv,
        "adi": adi,
        "cv2_size": cv2_size,
        "first_sale": first_sale,
        "last_sale": last_sale,
    }


def demand_pattern(adi: np.ndarray, cv2_size: np.ndarray, adi_cutoff: float = INTERMITTENT_ADI, cv2_cutoff: float = 0.49) -> np.ndarray:
    """Syntetos-Boylan-Croston (2005) pattern per series, ``(n,)`` of str.

    ``smooth``: ADI < 1.32 and CV^2 < 0.49; ``erratic``: ADI < 1.32, CV^2 >= 0.49;
    ``intermittent``: ADI >= 1.32, CV^2 < 0.49; ``lumpy``: ADI >= 1.32, CV^2 >= 0.49.
    """
    frequent = np.asarray(adi) < adi_cutoff
    stable_size = np.asarray(cv2_size) < cv2_cutoff
    return np.where(frequent, np.where(stable_size, "smooth", "erratic"), np.where(stable_size, "intermittent", "lumpy")).astype(object)


def xyz_class(cv: np.ndarray, x_cutoff: float = 0.5, y_cutoff: float = 1.0) -> np.ndarray:
    """XYZ class by the CV of per-period demand: ``X`` if cv <= x_cutoff, ``Y`` if <= y_cutoff, else ``Z``."""
    cv = np.asarray(cv, dtype=float)
    return np.where(cv <= x_cutoff, "X", np.where(cv <= y_cutoff, "Y", "Z")).astype(object)


def lifecycle(units: np.ndarray, censored: np.ndarray, min_history: int, inactive_window: int) -> np.ndarray:
    """Lifecycle per series, ``(n,)`` of str: ``new``, ``inactive`` or ``active``.

    ``new``: fewer than ``min_history`` periods from the first sale to the end of history (or no
    sale at all). ``inactive``: established, but no units sold in the last ``inactive_window``
    periods, none of them censored (a stock-out is not a sign of dead demand).
    """
    n_periods = units.shape[1]
    stats = demand_statistics(units, censored)
    age = np.where(stats["first_sale"] >= 0, n_periods - stats["first_sale"], 0)
    is_new = age < min_history
    window = slice(max(n_periods - inactive_window, 0), n_periods)
    recent_sales = np.nan_to_num(units[:, window], nan=0.0).sum(axis=1)
    recent_censored = censored[:, window].any(axis=1)
    is_inactive = ~is_new & (recent_sales <= 0) & ~recent_censored
    return np.where(is_new, "new", np.where(is_inactive, "inactive", "active")).astype(object)


def segment_labels(abc: np.ndarray, xyz: np.ndarray, pattern: np.ndarray, life: np.ndarray) -> np.ndarray:
    """Segment name per series, ``(n,)``: ``"{abc}{xyz}-{pattern}"``, or the lifecycle when not active."""
    abc = np.where(pd.isna(np.asarray(abc, dtype=object)), "C", abc).astype(object)
    label = abc + xyz.astype(object) + "-" + pattern.astype(object)
    return np.where(life == "active", label, life).astype(object)


"""A distribution given by quantiles: piecewise-linear quantile function through knots.

The forecast stage measures, per segment, the quantiles of the standardized cumulative forecast
error over the protection interval at the fixed levels :data:`SHAPE_LEVELS` (0 = the pool's
minimum, 1 = its maximum): the series' ``demand_shape`` ``z_k``. Demand over an interval with
mean ``mu`` and standard deviation ``sigma`` then has the knots

    x_k = max(0, mu + z_k sigma),    P(X <= x_k) = u_k,

and between two knots the quantile function is linear: X is a mixture of uniforms on
``[x_k, x_{k+1}]`` with weights ``u_{k+1} - u_k`` (an atom where knots coincide, e.g. at 0). This is
the empirical distribution of the backtest errors, interpolated, with its support bounded by the
most extreme error observed: it says nothing beyond its sample. For it (per row, vectorized over
rows; ``knots`` ``(n, K)`` non-decreasing along K):

    F^-1(q) = x_k + (q - u_k) / (u_{k+1} - u_k) (x_{k+1} - x_k)       for u_k <= q <= u_{k+1}
    F(y)    = u_k + (y - x_k) / (x_{k+1} - x_k) (u_{k+1} - u_k)       for x_k <= y < x_{k+1}
    E[(X - y)^+] = sum_k (u_{k+1} - u_k) E[(V_k - y)^+],   V_k ~ U(x_k, x_{k+1}),

with ``E[(V - y)^+] = (a + b) / 2 - y`` for ``y <= a`` and ``(b - y)^2 / (2 (b - a))`` inside [a, b].
"""

from __future__ import annotations

import numpy as np

SHAPE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98,
                0.99, 0.995, 1.0)
_U = np.asarray(SHAPE_LEVELS)


def knots(mean, std, shape) -> np.ndarray:
    """``(n, K)`` knots ``max(0, mean + shape * std)``, made non-decreasing along K."""
    values = np.asarray(mean, dtype=np.float64)[:, None] + np.asarray(shape, dtype=np.float64) * np.asarray(
        std, dtype=np.float64
    )[:, None]
    return np.maximum.accumulate(np.maximum(values, 0.0), axis=1)


def ppf(points: np.ndarray, q) -> np.ndarray:
    """F^-1(q) per row, ``q`` ``(n,)`` in [0, 1]."""
    q = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0)
    k = np.clip(np.searchsorted(_U, q, side="right") - 1, 0, len(_U) - 2)  # (n,) segment
    rows = np.arange(len(points))
    lo, hi = points[rows, k], points[rows, k + 1]
    weight = (q - _U[k]) / (_U[k + 1] - _U[k])
    return lo + weight * (hi - lo)


def cdf(points: np.ndarray, y) -> np.ndarray:
    """F(y) = P(X <= y) per row, ``y`` ``(n,)``."""
    y = np.asarray(y, dtype=np.float64)
    below = points <= y[:, None]  # (n, K)
    count = below.sum(axis=1)  # knots at or below y
    k = np.clip(count - 1, 0, len(_U) - 2)
    rows = np.arange(len(points))
    lo, hi = points[rows, k], points[rows, k + 1]
    width = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.where(width > 0, np.clip((y - lo) / np.where(width > 0, width, 1.0), 0.0, 1.0), 0.0)
    value = _U[k] + inside * (_U[k + 1] - _U[k])
    return np.where(count == 0, 0.0, np.where(count >= len(_U), 1.0, value))


def loss(points: np.ndarray, y) -> np.ndarray:
    """E[(X - y)^+] per row, ``y`` ``(n,)``."""
    y = np.asarray(y, dtype=np.float64)[:, None]
    a, b = points[:, :-1], points[:, 1:]  # (n, K-1) segments
    weight = np.diff(_U)[None, :]
    width = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.where(width > 0, (b - y) ** 2 / (2.0 * np.where(width > 0, width, 1.0)), 0.0)
    excess = np.where(y <= a, 0.5 * (a + b) - y, np.where(y >= b, 0.0, inside))
    return (weight * excess).sum(axis=1)


def moments(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the interpolated distribution per row."""
    a, b = points[:, :-1], points[:, 1:]
    weight = np.diff(_U)[None, :]
    mean = (weight * 0.5 * (a + b)).sum(axis=1)
    second = (weight * (a * a + a * b + b * b) / 3.0).sum(axis=1)
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))

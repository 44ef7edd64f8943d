"""Loss functions: expected shortage E[(X - x)^+] of a demand X beyond a stock level x, vectorized.

Every function takes and returns float64 arrays that broadcast together, typically per-series
vectors of shape `(n_series,)`. All use scipy.stats; none loops per series.

Sources
- Silver, Pyke & Peterson (SPP), "Inventory and Production Management in Supply Chains", 4th ed.,
  the unit normal loss G(k) = phi(k) - k (1 - Phi(k)) used for the (s,Q) and (R,S) fill-rate
  rules (its table of G(k): G(0) = 0.3989, G(1) = 0.0833, G(2) = 0.00849).
- Snyder & Shen, "Fundamentals of Supply Chain Theory", 2nd ed., section C.3 (loss functions):
  n(x) = E[(X - x)^+], for the normal n(x) = sigma L(z), z = (x - mu) / sigma.
- Discrete and gamma losses use the size-biasing identity x f(x; theta) = E[X] f'(x - 1; theta'):
  Poisson  d p(d; lam) = lam p(d - 1; lam)
  negative binomial (scipy `nbinom(n, p)`) d f(d; n, p) = mean f(d - 1; n + 1, p)
  gamma (shape a, scale theta) x f(x; a, theta) = a theta f(x; a + 1, theta)
  so E[(X - x)^+] = E[X] P'(X' > x) - x P(X > x) in closed form.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def standard_normal_loss(z):
    """G(z) = E[(Z - z)^+] = phi(z) - z (1 - Phi(z)) for a standard normal Z.

    SPP 4th ed. (unit normal loss G_u(k)); Snyder & Shen eq. (C.22) L(z). `z`: any shape.
    """
    z = np.asarray(z, dtype=np.float64)
    return normal_pdf(z) - z * special.ndtr(-z)


def normal_pdf(z):
    """phi(z), the standard normal density (scipy.stats.norm.pdf without its argument checks)."""
    return np.exp(-0.5 * np.square(z)) / np.sqrt(2.0 * np.pi)


def poisson_sf(k, mean):
    """P(X > k) for X ~ Poisson(mean), integer-valued float k: gammainc(k + 1, mean); 1 for k < 0.

    Same values as scipy.stats.poisson.sf, through the regularized incomplete gamma function
    directly (the distribution object's checks cost more than the function in hot loops).
    """
    k = np.asarray(k, dtype=np.float64)
    return np.where(k < 0, 1.0, special.gammainc(np.maximum(k, 0.0) + 1.0, mean))


def negbin_sf(k, n, p):
    """P(X > k) for X ~ scipy nbinom(n, p), integer-valued float k: I_{1-p}(k + 1, n); 1 for k < 0."""
    k = np.asarray(k, dtype=np.float64)
    return np.where(k < 0, 1.0, special.betainc(np.maximum(k, 0.0) + 1.0, n, 1.0 - p))


def inverse_standard_normal_loss(loss):
    """The k with G(k) = loss, for loss > 0 (G is strictly decreasing from +inf to 0).

    Solved by Newton's method on all elements at once (G'(k) = -(1 - Phi(k))), started from a
    bisection bracket, so it is exact to ~1e-12 in G. `loss`: any shape; loss <= 0 gives +inf.
    """
    loss = np.asarray(loss, dtype=np.float64)
    lo = np.full(loss.shape, -40.0)
    hi = np.full(loss.shape, 40.0)
    for _ in range(60):  # bisection: G(lo) >= loss >= G(hi); 80 / 2^60 is far below 1e-12
        mid = 0.5 * (lo + hi)
        above = standard_normal_loss(mid) > loss
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    k = 0.5 * (lo + hi)
    return np.where(loss > 0, k, np.inf)


def normal_loss(x, mean, std):
    """E[(X - x)^+] for X ~ Normal(mean, std): std * G((x - mean) / std); std = 0 gives (mean - x)^+."""
    x, mean, std = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (x, mean, std)))
    safe_std = np.where(std > 0, std, 1.0)
    with np.errstate(invalid="ignore"):
        loss = safe_std * standard_normal_loss((x - mean) / safe_std)
    return np.where(std > 0, loss, np.maximum(mean - x, 0.0))


def poisson_loss(x, mean):
    """E[(X - x)^+] for X ~ Poisson(mean), any real x (x < 0 gives mean - x).

    With m = floor(x): E[(X - x)^+] = mean P(X >= m) - x P(X > m) (Snyder & Shen C.3, Poisson
    loss function n(x) = -(x - lam)(1 - F(x)) + lam f(x) for integer x).
    """
    x = np.asarray(x, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    m = np.floor(x)
    return mean * poisson_sf(m - 1, mean) - x * poisson_sf(m, mean)


def negbin_loss(x, n, p):
    """E[(X - x)^+] for X ~ scipy `nbinom(n, p)` (mean n (1 - p) / p), any real x.

    With m = floor(x): mean P_{n+1}(X >= m) - x P_n(X > m), by d f(d; n, p) = mean f(d-1; n+1, p).
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    m = np.floor(x)
    mean = n * (1.0 - p) / p
    return mean * negbin_sf(m - 1, n + 1.0, p) - x * negbin_sf(m, n, p)


def gamma_loss(x, shape, scale):
    """E[(X - x)^+] for X ~ Gamma(shape, scale): shape scale P_{shape+1}(X > x) - x P_shape(X > x)."""
    x = np.asarray(x, dtype=np.float64)
    shape = np.asarray(shape, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    upper = special.gammaincc(shape + 1.0, np.maximum(x, 0.0) / scale)
    upper_shape = special.gammaincc(shape, np.maximum(x, 0.0) / scale)
    return shape * scale * upper - x * upper_shape


def newsvendor_normal_cost(level, holding_cost, stockout_cost, mean, std):
    """Expected newsvendor cost h E[(S - D)^+] + p E[(D - S)^+] for D ~ Normal(mean, std).

    Snyder & Shen 2nd ed. eq. (4.5) with the normal loss (4.17); E[(S-D)^+] = (S - mean) + n(S).
    """
    shortage = normal_loss(level, mean, std)
    overage = np.asarray(level, dtype=np.float64) - np.asarray(mean, dtype=np.float64) + shortage
    return np.asarray(holding_cost) * overage + np.asarray(stockout_cost) * shortage


__all__ = [
    "standard_normal_loss",
    "normal_pdf",
    "poisson_sf",
    "negbin_sf",
    "inverse_standard_normal_loss",
    "normal_loss",
    "poisson_loss",
    "negbin_loss",
    "gamma_loss",
    "newsvendor_normal_cost",
]


"""Undershoot of the reorder point in (s,S) and (R,s,S) systems, and demand plus undershoot.

An (s,S) system orders when the inventory position has fallen to or below s; with demand in
lumps D (one period's demand under continuous review, one review period's under (R,s,S)) it
crosses s by an undershoot U >= 0, so the order raises the position to S from s - U and the stock
must cover X + U, X the demand over the protection interval. Renewal theory gives the asymptotic
moments of U when S - s is large against D (Karlin 1958; used for (s,S) inventory by Hadley and
Whitin 1963, and in Silver, Pyke and Thomas, *Inventory and Production Management in Supply
Chains*, 4th ed., ch. 7):

    E[U]   = E[D^2] / (2 E[D])
    E[U^2] = E[D^3] / (3 E[D]),   Var[U] = E[U^2] - E[U]^2

For integer lumps (Poisson, negative binomial) the undershoot is an integer with
P(U = k) = P(D > k) / E[D], k = 0, 1, ... (the discrete equilibrium distribution), so

    E[U]   = (E[D^2] - E[D]) / (2 E[D])
    E[U^2] = (2 E[D^3] - 3 E[D^2] + E[D]) / (6 E[D])

with E[D^2] = v + m^2 and E[D^3] = mu_3 + 3 m v + m^3 from D's mean m, variance v and third
central moment mu_3 (0 for the normal; 2 v^2 / m - v for the Poisson and negative binomial;
2 v^2 / m for the gamma). X and U are independent, so X + U has mean E[X] + E[U] and variance
Var[X] + Var[U]; it is refitted in X's family (a Poisson made over-dispersed becomes a negative
binomial; an empirical distribution is moved and stretched: knots ``E[X+U] + (x_k - E[X]) sd[X+U] /
sd[X]``); X's dispersion floor (kernels.demand_over_interval) becomes one of variance
Var_floor + Var[U]. All arrays are `(n_series,)`.
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.demand_over_interval import (
    DETERMINISTIC,
    EMPIRICAL,
    GAMMA,
    NEGBIN,
    NORMAL,
    POISSON,
    IntervalDemand,
    fit_family,
    with_shape,
)


def undershoot_moments(lump: IntervalDemand) -> tuple[np.ndarray, np.ndarray]:
    """(E[U], Var[U]) for demand lumps D distributed as `lump`; 0 where D has no demand."""
    m = lump.mean
    v = lump.std**2
    with np.errstate(invalid="ignore", divide="ignore"):
        safe_m = np.where(m > 0, m, 1.0)
        third = np.select(
            [lump.family == NORMAL, (lump.family == POISSON) | (lump.family == NEGBIN), lump.family == GAMMA],
            [np.zeros_like(m), 2.0 * v**2 / safe_m - v, 2.0 * v**2 / safe_m],
            default=0.0,
        )
        moment_2 = v + m**2
        moment_3 = third + 3.0 * m * v + m**3
        discrete = lump.discrete
        mean_u = np.where(discrete, (moment_2 - m) / (2.0 * safe_m), moment_2 / (2.0 * safe_m))
        second_u = np.where(
            discrete, (2.0 * moment_3 - 3.0 * moment_2 + m) / (6.0 * safe_m), moment_3 / (3.0 * safe_m)
        )
    var_u = np.maximum(second_u - mean_u**2, 0.0)
    has_demand = m > 0
    return np.where(has_demand, mean_u, 0.0), np.where(has_demand, var_u, 0.0)


def plus_undershoot(protection: IntervalDemand, lump: IntervalDemand) -> tuple[IntervalDemand, np.ndarray]:
    """The distribution of X + U (X ~ `protection`, U the undershoot of lumps `lump`) and E[U]."""
    mean_u, var_u = undershoot_moments(lump)
    mean = protection.mean + mean_u
    var = protection.std**2 + var_u
    family = np.where(protection.family == DETERMINISTIC, NORMAL, protection.family)
    family = np.where((family == POISSON) & (var > mean * (1.0 + 1e-9)), NEGBIN, family)
    family = np.where((family == NEGBIN) & ~(var > mean * (1.0 + 1e-9)), POISSON, family)
    empirical = protection.family == EMPIRICAL
    fitted = fit_family(mean, var, np.where(empirical, NORMAL, family), protection.floor_var + var_u)
    # an empirical X keeps its standardized knots at X + U's moments
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = np.where(protection.std[:, None] > 0, (protection.knots - protection.mean[:, None]) / protection.std[:, None], 0.0)
    return with_shape(fitted, empirical, shape), mean_u

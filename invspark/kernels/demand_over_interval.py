"""The distribution of demand over a protection interval (lead time, or lead time + review period).

Per series (all arrays `(n_series,)`): per-period demand mean mu_D and std sigma_D, lead time mean
L and std sigma_LT (periods), review period R (periods, deterministic). Over the interval T = L + R
(R = 0 for continuous review) the demand X is a random sum of a random number of periods, whose
first two moments are (SPP 4th ed., section on lead-time variability; Axsaeter 3rd ed. 5.3):

    E[X]   = mu_D (L + R)
    Var[X] = (L + R) sigma_D^2 + mu_D^2 sigma_LT^2

The family of X per series follows the declared per-period `distribution`:

- ``normal``: Normal(E[X], sd[X]) (may put mass below 0; the textbook model).
- ``poisson``: per-period variance is the mean (the given `demand_std` is ignored). With a fixed
  lead time X is Poisson(E[X]). With a random lead time X is a compound: Poisson demand over a
  gamma lead time is exactly negative binomial (Poisson-gamma mixture, Axsaeter 3rd ed. 5.3 /
  Snyder & Shen 2nd ed. C.2); here a negative binomial with the two moments above is used, exact
  when R = 0 and the lead time is gamma, a two-moment fit otherwise.
- ``negbin``: negative binomial fitted to the two moments (exact for a fixed interval, since a sum
  of i.i.d. NB(n, p) is NB(T n, p)); under-dispersed rows (Var <= E) fall back to Poisson.
- ``gamma``: Gamma fitted to the two moments.
- ``empirical``: with the series' ``demand_shape`` (the standardized quantiles of its forecast
  error over the protection interval, measured on the backtest; kernels.empirical_quantiles), X
  is the interpolated empirical distribution with knots ``max(0, E[X] + z_k sd[X])``; without a
  shape it is treated as ``gamma`` with the two moments.
- any family with E[X] = 0 or Var[X] = 0: a point mass at E[X] (``deterministic``).

Dispersion floor (negative binomial rows). The variance above is the forecast's: it holds the
demand's own noise *and* the error of the estimated level, and for a slow, lumpy count series the
second is large. A negative binomial with a large variance for its mean has a small size
parameter, and its mass at zero grows fast with the variance: the low quantiles fall to 0 while
the demand's own law, at that mean, puts far less mass there. Given ``floor_std``, the per-period
std of the series' own demand (its history), a row keeps the law ``G`` of the same mean with the
variance ``Var_own = (L + R) floor_std^2 + mu_D^2 sigma_LT^2`` (where it is below Var[X]; negative
binomial, or Poisson where ``Var_own <= E[X]``) as a floor, and X is taken with the upper envelope
of the two laws:

    P(X <= x) = min(F(x), G(x))        quantile_q = max(F^-1(q), G^-1(q))

a proper distribution, stochastically larger than both. The two laws share their mean and G is
the less dispersed, so their cdfs cross once, at the smallest whole ``c`` with ``G(c) >= F(c)``;
below ``c`` the envelope is G, from ``c`` on it is F, and its loss function is

    n(x) = n_G(x) - n_G(c) + n_F(c)  for x < c,      n_F(x) otherwise.

High quantiles (the forecast's level error) stay F's, low ones (the demand's own zero mass)
become G's. Measured against the generator's true law in docs/outcomes.md ("Dispersion floor").

Intermittent rows (given the history's average inter-demand interval ``ADI >= 1.32``, the
Syntetos-Boylan cut-off, and its sizes' squared CV): the demand's own law G is the compound
binomial of kernels.compound_demand instead, over the interval's ``L + R`` periods, with
occurrence ``1 / ADI`` and the sizes' CV², sized to the same mean (the sizes carry the level). A
negative binomial of an intermittent series' two moments puts its mass smoothly from 0 down; the
compound law keeps the zero mass and the bump at one demand's size, so its low and middle
quantiles sit above the negative binomial's. G is kept where its variance is below F's, and X is
again the envelope: cdf ``min(F, G)``, quantile ``max(F^-1, G^-1)``. The two cdfs can cross more
than once here, so the loss function is taken as

    n(x) = n_F(x) + integral from x of max(0, F - G),

the excess kept per row on whole units (from G on a grid that holds all but 1e-7 of its mass, up
to where the excess falls below 1e-10) and linear between them.

`IntervalDemand` holds the fitted parameters and evaluates cdf, quantiles and the loss function
E[(X - x)^+] for all series at once, grouping rows by family with boolean masks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special, stats

from invspark.kernels import compound_demand, empirical_quantiles, loss_functions
from invspark.kernels.segmentation import INTERMITTENT_ADI

NORMAL, POISSON, NEGBIN, GAMMA, DETERMINISTIC, EMPIRICAL = 0, 1, 2, 3, 4, 5
FAMILY_NAMES = {NORMAL: "normal", POISSON: "poisson", NEGBIN: "negbin", GAMMA: "gamma",
                DETERMINISTIC: "deterministic", EMPIRICAL: "empirical"}
N_KNOTS = len(empirical_quantiles.SHAPE_LEVELS)
DISTRIBUTIONS = ("normal", "poisson", "negbin", "gamma", "empirical")


@dataclass(frozen=True)
class IntervalDemand:
    """Demand over a protection interval for `n_series` series; every field is `(n_series,)`
    except `knots` `(n_series, N_KNOTS)`.

    `family` holds the codes NORMAL..EMPIRICAL; `mean`, `std` the two moments; the fitted
    parameters are `nb_n`, `nb_p` (scipy nbinom), `gamma_shape`, `gamma_scale` and, for
    EMPIRICAL, the quantile `knots` at empirical_quantiles.SHAPE_LEVELS (NaN where unused).
    Discrete families (Poisson, negbin) have integer quantiles. `floor_var` is the variance of the
    dispersion floor's law G, `floor_cross` the whole number c where its cdf meets the fitted law's
    F and `floor_shift` n_F(c) - n_G(c) (see the module docstring), all NaN in rows without a
    floor; `mean` and `std` stay the fitted law's. Rows whose floor is a compound binomial G
    (kernels.compound_demand) have its `floor_periods`, `floor_occurrence`, `floor_size_mean` and
    `floor_size_var` (NaN elsewhere), `floor_var` its variance, NaN `floor_cross` and
    `floor_shift`, and the excess of F over G on whole units, E(x) = sum over y >= x of
    max(0, F(y) - G(y)) for x = 0, 1, ..., in `floor_excess[start : start + length]`
    (`floor_excess_start`, `floor_excess_length`; 0 past its end). `floor_excess` is a flat buffer,
    the one field not indexed by series: sub-batches share it.
    """

    mean: np.ndarray
    std: np.ndarray
    family: np.ndarray
    nb_n: np.ndarray
    nb_p: np.ndarray
    gamma_shape: np.ndarray
    gamma_scale: np.ndarray
    knots: np.ndarray
    floor_var: np.ndarray
    floor_cross: np.ndarray
    floor_shift: np.ndarray
    floor_periods: np.ndarray
    floor_occurrence: np.ndarray
    floor_size_mean: np.ndarray
    floor_size_var: np.ndarray
    floor_excess_start: np.ndarray
    floor_excess_length: np.ndarray
    floor_excess: np.ndarray

    @property
    def discrete(self) -> np.ndarray:
        """True where the family is Poisson or negative binomial (integer support)."""
        return (self.family == POISSON) | (self.family == NEGBIN)

    def _masks(self):
        return {code: self.family == code for code in FAMILY_NAMES}

    def _floor(self) -> tuple[np.ndarray, "IntervalDemand"]:
        """The rows with a negative binomial or Poisson floor ``(n_series,)`` bool, and its law on those rows."""
        rows = np.isfinite(self.floor_var) & ~self._compound_rows()
        mean = self.mean[rows]
        count = self.floor_var[rows] > mean * (1.0 + 1e-9)
        return rows, fit_family(mean, np.where(count, self.floor_var[rows], mean), np.where(count, NEGBIN, POISSON))

    def _compound_rows(self) -> np.ndarray:
        """True in the rows whose floor is a compound binomial law ``(n_series,)``."""
        return np.isfinite(self.floor_occurrence)

    def _compound_law(self, rows) -> compound_demand.CompoundBinomial:
        return compound_demand.CompoundBinomial(self.floor_periods[rows], self.floor_occurrence[rows],
                                                self.floor_size_mean[rows], self.floor_size_var[rows])

    def cdf(self, x) -> np.ndarray:
        """P(X <= x), `x` `(n_series,)`."""
        return self._enveloped(self._family_cdf, "cdf", np.minimum, x, self._compound_cdf)

    def ppf(self, q) -> np.ndarray:
        """The smallest x with P(X <= x) >= q (an integer for discrete families); `q` in (0, 1)."""
        return self._enveloped(self._family_ppf, "ppf", np.maximum, q, self._compound_ppf)

    def _enveloped(self, family_method, floor_method: str, combine, at, compound_method) -> np.ndarray:
        """`family_method(at)`, combined in the rows with a floor with the floor law's `floor_method`
        (a compound binomial floor's: `compound_method(rows, at)`)."""
        at = np.broadcast_to(np.asarray(at, dtype=np.float64), self.mean.shape)
        out = family_method(at)
        rows, floor = self._floor()
        if rows.any():
            out[rows] = combine(out[rows], getattr(floor, floor_method)(at[rows]))
        rows = self._compound_rows()
        if rows.any():
            out[rows] = combine(out[rows], compound_method(rows, at[rows]))
        return out

    def _compound_cdf(self, rows, x) -> np.ndarray:
        return self._compound_law(rows).cdf(x)

    def _compound_ppf(self, rows, q) -> np.ndarray:
        return self._compound_law(rows).ppf(q)

    def loss(self, x) -> np.ndarray:
        """Expected shortage E[(X - x)^+] (the loss function n(x)), `x` `(n_series,)`."""
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), self.mean.shape)
        out = self._family_loss(x)
        rows, floor = self._floor()
        if rows.any():
            below = x[rows] < self.floor_cross[rows]
            out[rows] = np.where(below, floor.loss(x[rows]) + self.floor_shift[rows], out[rows])
        rows = self._compound_rows()
        if rows.any() and self.floor_excess.size:
            # n(x) = n_F(x) + the integral from x of max(0, F - G); that excess is E(j) at whole units
            # and linear between them, and holds all of E(0) below 0
            at = x[rows]
            whole = np.floor(np.maximum(np.nan_to_num(at), 0.0))
            here, after = (self._excess_at(rows, whole + step) for step in (0.0, 1.0))
            out[rows] += np.where(at < 0, here, here - (at - whole) * (here - after))
        return out

    def _excess_at(self, rows, unit) -> np.ndarray:
        """E(unit) of the compound floor on `rows` at whole `unit` >= 0: its buffer, 0 past the end."""
        start, length = self.floor_excess_start[rows], self.floor_excess_length[rows]
        inside = unit < length
        index = np.where(inside, start + np.minimum(unit, length - 1), 0).astype(np.intp)
        return np.where(inside, self.floor_excess[index], 0.0)

    def _family_cdf(self, x) -> np.ndarray:
        """P(X <= x) under the fitted family alone (no floor)."""
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), self.mean.shape)
        out = np.full(self.mean.shape, np.nan)
        m = self._masks()
        if m[NORMAL].any():
            i = m[NORMAL]
            out[i] = special.ndtr((x[i] - self.mean[i]) / self.std[i])
        if m[POISSON].any():
            i = m[POISSON]
            out[i] = 1.0 - loss_functions.poisson_sf(np.floor(x[i]), self.mean[i])
        if m[NEGBIN].any():
            i = m[NEGBIN]
            out[i] = 1.0 - loss_functions.negbin_sf(np.floor(x[i]), self.nb_n[i], self.nb_p[i])
        if m[GAMMA].any():
            i = m[GAMMA]
            out[i] = special.gammainc(self.gamma_shape[i],
                                      np.maximum(x[i], 0.0) / self.gamma_scale[i])
        if m[DETERMINISTIC].any():
            i = m[DETERMINISTIC]
            out[i] = (x[i] >= self.mean[i]).astype(np.float64)
        if m[EMPIRICAL].any():
            i = m[EMPIRICAL]
            out[i] = empirical_quantiles.cdf(self.knots[i], x[i])
        return out

    def _family_ppf(self, q) -> np.ndarray:
        """The fitted family's quantile (no floor)."""
        q = np.broadcast_to(np.asarray(q, dtype=np.float64), self.mean.shape)
        out = np.full(self.mean.shape, np.nan)
        m = self._masks()
        if m[NORMAL].any():
            i = m[NORMAL]
            out[i] = stats.norm.ppf(q[i], self.mean[i], self.std[i])
        if m[POISSON].any():
            i = m[POISSON]
            out[i] = stats.poisson.ppf(q[i], self.mean[i])
        if m[NEGBIN].any():
            i = m[NEGBIN]
            out[i] = stats.nbinom.ppf(q[i], self.nb_n[i], self.nb_p[i])
        if m[GAMMA].any():
            i = m[GAMMA]
            out[i] = stats.gamma.ppf(q[i], self.gamma_shape[i], scale=self.gamma_scale[i])
        if m[DETERMINISTIC].any():
            i = m[DETERMINISTIC]
            out[i] = self.mean[i]
        if m[EMPIRICAL].any():
            i = m[EMPIRICAL]
            out[i] = empirical_quantiles.ppf(self.knots[i], q[i])
        return out

    def _family_loss(self, x) -> np.ndarray:
        """E[(X - x)^+] under the fitted family alone (no floor)."""
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), self.mean.shape)
        out = np.full(self.mean.shape, np.nan)
        m = self._masks()
        if m[NORMAL].any():
            i = m[NORMAL]
            out[i] = loss_functions.normal_loss(x[i], self.mean[i], self.std[i])
        if m[POISSON].any():
            i = m[POISSON]
            out[i] = loss_functions.poisson_loss(x[i], self.mean[i])
        if m[NEGBIN].any():
            i = m[NEGBIN]
            out[i] = loss_functions.negbin_loss(x[i], self.nb_n[i], self.nb_p[i])
        if m[GAMMA].any():
            i = m[GAMMA]
            out[i] = loss_functions.gamma_loss(x[i], self.gamma_shape[i], self.gamma_scale[i])
        if m[DETERMINISTIC].any():
            i = m[DETERMINISTIC]
            out[i] = np.maximum(self.mean[i] - x[i], 0.0)
        if m[EMPIRICAL].any():
            i = m[EMPIRICAL]
            out[i] = empirical_quantiles.loss(self.knots[i], x[i])
        return out

    def take(self, index) -> "IntervalDemand":
        """The sub-batch at `index` (boolean mask or integer positions)."""
        return IntervalDemand(*(self.floor_excess if f == "floor_excess" else getattr(self, f)[index]
                                for f in self.__dataclass_fields__))


def interval_moments(demand_mean, demand_std, lead_time_mean, lead_time_std, review_period):
    """(E[X], Var[X]) of demand over L + R periods: mu (L + R), (L + R) sigma^2 + mu^2 sigma_LT^2.

    SPP 4th ed. (demand and lead-time variability, sigma_L^2 = L sigma_D^2 + D^2 sigma_LT^2).
    All arguments `(n_series,)`; NaN lead_time_std counts as 0. Returns two `(n_series,)` arrays.
    """
    mu = np.asarray(demand_mean, dtype=np.float64)
    sigma = np.asarray(demand_std, dtype=np.float64)
    lead = np.asarray(lead_time_mean, dtype=np.float64)
    lead_std = np.nan_to_num(np.asarray(lead_time_std, dtype=np.float64), nan=0.0)
    interval = lead + np.asarray(review_period, dtype=np.float64)
    return mu * interval, interval * sigma**2 + mu**2 * lead_std**2


def demand_over_interval(
    demand_mean, demand_std, lead_time_mean, lead_time_std, review_period, distribution, demand_shape=None,
    floor_std=None, adi=None, size_cv2=None,
) -> IntervalDemand:
    """Fit the demand over L + R periods for every series (see the module docstring).

    `demand_mean`, `demand_std` per period; `lead_time_mean`, `lead_time_std`, `review_period` in
    periods (pass review_period = 0 for a continuous-review protection interval of L);
    `distribution`: array of names from DISTRIBUTIONS. All `(n_series,)`. `demand_shape`:
    optional `(n_series, N_KNOTS)` standardized quantiles, used by `empirical` rows that have one.
    `floor_std`: optional per-period std of the series' own demand, the dispersion floor of the
    rows fitted as negative binomial (NaN: no floor). `adi`, `size_cv2`: optional, the history's
    average inter-demand interval and its non-zero sizes' squared CV; negative binomial rows with
    ``adi >= 1.32`` take the compound binomial floor instead (NaN: none).
    """
    distribution = np.asarray(distribution, dtype=object)
    mu = np.asarray(demand_mean, dtype=np.float64)
    is_poisson = distribution == "poisson"
    sigma = np.where(is_poisson, np.sqrt(np.maximum(mu, 0.0)), np.asarray(demand_std, dtype=float))
    mean, var = interval_moments(mu, sigma, lead_time_mean, lead_time_std, review_period)

    lead_std = np.nan_to_num(np.asarray(lead_time_std, dtype=np.float64), nan=0.0)
    count_family = is_poisson | (distribution == "negbin")
    over_dispersed = var > mean * (1.0 + 1e-9)
    family = np.full(mu.shape, NORMAL, dtype=np.int8)
    family[count_family & ~over_dispersed] = POISSON
    family[(distribution == "negbin") & over_dispersed] = NEGBIN
    family[is_poisson & (lead_std > 0) & over_dispersed] = NEGBIN
    family[(distribution == "gamma") | (distribution == "empirical")] = GAMMA
    floor_var = None
    if floor_std is not None:
        _, floor_var = interval_moments(mu, floor_std, lead_time_mean, lead_time_std, review_period)
    floors = []
    if adi is not None and size_cv2 is not None:
        periods = np.asarray(lead_time_mean, dtype=np.float64) + np.asarray(review_period, dtype=np.float64)
        floors = _compound_floors(mean, var, family, periods, adi, size_cv2)
    if floor_var is not None and floors:  # a row with a compound floor has no std floor
        floor_var = _put(floor_var, np.concatenate([rows for rows, _, _ in floors]), np.nan)
    fitted = fit_family(mean, var, family, floor_var)
    if floors:
        fitted = _with_compound_floor(fitted, floors)
    if demand_shape is None:
        return fitted
    shape = np.asarray(demand_shape, dtype=np.float64)
    shaped = (distribution == "empirical") & np.isfinite(shape).all(axis=1) & (fitted.family != DETERMINISTIC)
    return with_shape(fitted, shaped, shape)


def _compound_floors(mean, var, family, periods, adi, size_cv2) -> list:
    """The compound binomial floors (module docstring) as ``(rows, law, grid)`` groups: series
    positions, their laws and the laws' cdf on whole units (kernels.compound_demand,
    ``CompoundBinomial.cdf_grids``). For negative binomial rows of intermittent history
    (``adi >= 1.32``) over a positive interval whose law's variance is below the fitted `var` and
    whose law the grids can hold; other rows keep the std floor."""
    adi, size_cv2 = np.asarray(adi, dtype=np.float64), np.asarray(size_cv2, dtype=np.float64)
    candidate = ((family == NEGBIN) & (mean > 0) & (periods > 0) & np.isfinite(var) & np.isfinite(size_cv2)
                 & np.isfinite(adi) & (adi >= INTERMITTENT_ADI))
    law = compound_demand.CompoundBinomial.with_mean(mean[candidate], periods[candidate], 1.0 / adi[candidate],
                                                     size_cv2[candidate])
    narrower = law.moments()[1] < var[candidate]
    law, positions = law.take(narrower), np.flatnonzero(candidate)[narrower]
    return [(positions[part], law.take(part), grid) for part, grid in law.cdf_grids()]


def _with_compound_floor(fitted: IntervalDemand, floors: list, negligible: float = 1e-10) -> IntervalDemand:
    """`fitted` (negative binomial on the floors' rows) with the compound binomial `floors` of
    :func:`_compound_floors`: each row's law, and its excess E of F over G on whole units up to
    where E is `negligible`, in one flat buffer."""
    n = len(fitted.mean)
    floor = {name: np.full(n, np.nan) for name in ("floor_periods", "floor_occurrence", "floor_size_mean", "floor_size_var")}
    floor_var = fitted.floor_var.copy()
    start, length = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    buffer, end = [], 0
    for rows, law, grid in floors:
        units = np.arange(grid.shape[1], dtype=np.float64)[None, :]
        forecast_cdf = 1.0 - loss_functions.negbin_sf(units, fitted.nb_n[rows, None], fitted.nb_p[rows, None])
        excess = np.cumsum(np.maximum(forecast_cdf - grid, 0.0)[:, ::-1], axis=1)[:, ::-1]
        kept = (excess > negligible).sum(axis=1)  # E falls with x: its non-negligible cells come first
        buffer.append(excess[np.arange(excess.shape[1])[None, :] < kept[:, None]])
        start[rows], length[rows] = end + np.cumsum(kept) - kept, kept
        end += int(kept.sum())
        for name, values in zip(floor, (law.periods, law.occurrence, law.size_mean, law.size_var)):
            floor[name][rows] = values
        floor_var[rows] = law.moments()[1]
    return replace(fitted, floor_var=floor_var, floor_excess_start=start, floor_excess_length=length,
                   floor_excess=np.concatenate([np.zeros(0), *buffer]), **floor)


def _put(values: np.ndarray, rows, new: np.ndarray) -> np.ndarray:
    """A copy of `values` with `rows` (mask or positions) set to `new`."""
    out = values.copy()
    out[rows] = new
    return out


def with_shape(demand: IntervalDemand, rows, shape) -> IntervalDemand:
    """`demand` with `rows` turned EMPIRICAL: knots at mean + shape x std of those rows' moments;
    their mean and std become those of the interpolated distribution."""
    rows = np.asarray(rows, dtype=bool)
    if not rows.any():
        return demand
    knots = demand.knots.copy()
    knots[rows] = empirical_quantiles.knots(demand.mean[rows], demand.std[rows], np.asarray(shape)[rows])
    mean, std = demand.mean.copy(), demand.std.copy()
    mean[rows], std[rows] = empirical_quantiles.moments(knots[rows])
    family = np.where(rows, EMPIRICAL, demand.family).astype(np.int8)
    nan = np.where(rows, np.nan, 1.0)
    return IntervalDemand(mean, std, family, demand.nb_n * nan, demand.nb_p * nan, demand.gamma_shape * nan,
                          demand.gamma_scale * nan, knots, demand.floor_var * nan, demand.floor_cross * nan,
                          demand.floor_shift * nan, demand.floor_periods * nan, demand.floor_occurrence * nan,
                          demand.floor_size_mean * nan, demand.floor_size_var * nan,
                          demand.floor_excess_start, np.where(rows, 0, demand.floor_excess_length), demand.floor_excess)


def fit_family(mean, var, family, floor_var=None) -> IntervalDemand:
    """Fit each row's family (codes NORMAL..GAMMA) to its two moments `mean`, `var` `(n_series,)`.

    Negative binomial: n = E^2 / (Var - E), p = E / Var (needs Var > E); gamma: shape E^2 / Var,
    scale Var / E. Rows without positive mean and variance, or with NaN moments, become a point
    mass (DETERMINISTIC). `floor_var` `(n_series,)`, optional: the variance of the dispersion
    floor's law (module docstring), kept by negative binomial rows where it is below `var`.
    """
    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    std = np.sqrt(np.maximum(var, 0.0))
    family = np.asarray(family, dtype=np.int8).copy()
    family[~(mean > 0) | ~(var > 0)] = DETERMINISTIC
    family[np.isnan(mean) | np.isnan(var)] = DETERMINISTIC  # NaN moments stay NaN downstream

    negbin = family == NEGBIN
    safe_excess = np.where(negbin, var - mean, 1.0)
    nb_n = np.where(negbin, mean**2 / safe_excess, np.nan)
    nb_p = np.where(negbin, mean / np.where(negbin, var, 1.0), np.nan)
    gamma = family == GAMMA
    safe_mean = np.where(gamma, mean, 1.0)
    gamma_shape = np.where(gamma, mean**2 / np.where(gamma, var, 1.0), np.nan)
    gamma_scale = np.where(gamma, var / safe_mean, np.nan)
    no_floor = np.full(mean.shape, np.nan)
    fitted = IntervalDemand(mean, std, family, nb_n, nb_p, gamma_shape, gamma_scale, np.full((len(mean), N_KNOTS), np.nan),
                            no_floor, no_floor, no_floor, no_floor, no_floor, no_floor, no_floor,
                            np.zeros(len(mean), dtype=np.int64), np.zeros(len(mean), dtype=np.int64), np.zeros(0))
    if floor_var is None:
        return fitted
    floor_var = np.asarray(floor_var, dtype=np.float64)
    floored = negbin & np.isfinite(floor_var) & (floor_var < var)
    if not floored.any():
        return fitted
    plain = replace(fitted, floor_var=np.where(floored, floor_var, np.nan))
    rows = plain.take(floored)
    _, floor = rows._floor()
    cross, shift = np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    cross[floored] = _floor_crossing(rows, floor)
    shift[floored] = rows._family_loss(cross[floored]) - floor.loss(cross[floored])
    return replace(plain, floor_cross=cross, floor_shift=shift)


def _floor_crossing(demand: IntervalDemand, floor: IntervalDemand) -> np.ndarray:
    """The smallest whole c >= 0 with G(c) >= F(c) for rows that all have a floor (bisection).

    F is the fitted negative binomial, G the floor's law of the same mean and a smaller variance:
    their cdfs cross once, G below F before c and above it from c on (module docstring).
    """

    def crossed(k):
        return floor.cdf(k) >= demand._family_cdf(k) - 1e-12

    hi = np.ceil(demand.mean + 2.0 * demand.std)  # the cdfs cross near the mean: widen until past it
    while not (reached := crossed(hi)).all():
        hi = np.where(reached, hi, 2.0 * hi + 1.0)
    lo = np.zeros_like(hi)
    while (lo < hi).any():
        mid = np.floor((lo + hi) / 2.0)
        above = crossed(mid)
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid + 1.0)
    return hi


def gamma_lead_time_poisson_demand(demand_rate, lead_time_mean, lead_time_std):
    """Poisson demand over a Gamma lead time: exactly NB with n = (L/sigma_LT)^2, p = 1/(1 + lam theta).

    theta = sigma_LT^2 / L is the gamma scale (Axsaeter 3rd ed. 5.3: a Poisson process observed
    over a gamma-distributed time is negative binomial). Returns (n, p) for scipy `nbinom`,
    arrays `(n_series,)`; used to check the two-moment fit of `demand_over_interval`.
    """
    lam = np.asarray(demand_rate, dtype=np.float64)
    lead = np.asarray(lead_time_mean, dtype=np.float64)
    lead_std = np.asarray(lead_time_std, dtype=np.float64)
    theta = lead_std**2 / lead
    return (lead / lead_std) ** 2, 1.0 / (1.0 + lam * theta)


def select(mask, when_true: IntervalDemand, when_false: IntervalDemand) -> IntervalDemand:
    """Row-wise choice between two fits of the same series: `when_true` where `mask`."""
    mask = np.asarray(mask, dtype=bool)
    # the two compound floors' excess buffers joined, the second's after the first's
    excess = np.concatenate([when_true.floor_excess, when_false.floor_excess])
    when_false = replace(when_false, floor_excess_start=when_false.floor_excess_start + when_true.floor_excess.size)
    return IntervalDemand(*(
        excess if f == "floor_excess" else
        np.where(mask.reshape(-1, *([1] * (getattr(when_true, f).ndim - 1))), getattr(when_true, f), getattr(when_false, f))
        for f in IntervalDemand.__dataclass_fields__
    ))


"""Compound binomial demand over an interval: the law of intermittent demand, vectorized.

In each of P periods a demand occurs with probability p, and a demand has size Y = 1 + E, the
excess E negative binomial NB(r, q) with mean m - 1 and variance v (Poisson of mean m - 1 where
v <= m - 1, the least a count can spread; every size one unit where m = 1). Over the P periods

    X = Y_1 + ... + Y_N,    N ~ Binomial(P, p),

and since a sum of k independent NB(r, q) is NB(k r, q) (of Poissons, Poisson(k (m - 1))),

    P(X = x) = sum_k  C(P, k) p^k (1 - p)^(P - k)  P(NB(k r, q) = x - k).

A non-integer P is the mixture of floor(P) periods (weight 1 - f) and floor(P) + 1 (weight f),
f = P - floor(P), which keeps E[N] = p P. E[X] = p P m and Var[X] = E[N] Var[Y] + Var[N] m^2,
Var[N] = p (1 - p) P + p^2 f (1 - f).

Unlike a negative binomial of the same two moments, this law keeps the shape of intermittent
demand: a mass (1 - p)^P at zero, then a bump near one demand's size. Its low quantiles sit above
the negative binomial's and its high ones below. The compound Bernoulli model of intermittent
demand is Croston's (1972, Oper. Res. Q. 23(3)); the compound binomial law of the demand over a
review interval for order-up-to levels is Teunter, Syntetos & Babai (2010), "Determining
order-up-to levels under periodic review for compound binomial (intermittent) demand", EJOR
203(3) 619-624.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from invspark.kernels import loss_functions


@dataclass(frozen=True)
class CompoundBinomial:
    """The compound binomial law of `n` series; every field is `(n,)`.

    `periods` P > 0, `occurrence` p in (0, 1], `size_mean` m >= 1 and `size_var` Var[Y] >= 0 of
    one demand's size.
    """

    periods: np.ndarray
    occurrence: np.ndarray
    size_mean: np.ndarray
    size_var: np.ndarray

    @classmethod
    def with_mean(cls, mean, periods, occurrence, size_cv2) -> "CompoundBinomial":
        """The law with mean `mean` over `periods`, a series' occurrence rate and its sizes' CV².

        The sizes carry the change of level: m = mean / (P p), with the sizes' CV² kept. Where
        that m is below one unit, m = 1 (a demand is at least one unit) and p = mean / P.
        """
        mean, periods, occurrence, size_cv2 = (np.asarray(a, dtype=np.float64) for a in (mean, periods, occurrence, size_cv2))
        size_mean = mean / (periods * occurrence)
        small = size_mean < 1.0
        return cls(periods, np.where(small, mean / periods, occurrence), np.where(small, 1.0, size_mean),
                   size_cv2 * np.maximum(size_mean, 1.0) ** 2)

    def _excess(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the size excess's mean m - 1, whether it is negative binomial, and its NB (r, q)."""
        excess = self.size_mean - 1.0
        negbin = (excess > 0) & (self.size_var > excess * (1.0 + 1e-9))
        spread = np.where(negbin, self.size_var - excess, 1.0)
        return excess, negbin, np.where(negbin, excess**2 / spread, 1.0), np.where(negbin, excess / np.where(negbin, self.size_var, 1.0), 0.5)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(E[X], Var[X]), `(n,)` each (module docstring)."""
        p, m = self.occurrence, self.size_mean
        excess, negbin, _, _ = self._excess()
        size_var = np.where(negbin, self.size_var, excess)
        fraction = self.periods - np.floor(self.periods)
        occurrences_var = p * (1.0 - p) * self.periods + p**2 * fraction * (1.0 - fraction)
        return p * self.periods * m, p * self.periods * size_var + occurrences_var * m**2

    def _occurrences(self):
        """(k, P(N = k)) for k = 0, 1, ... up to the most periods of any row: N's law per row `(n,)`,
        the mixture of Binomial(floor P, p) and Binomial(floor P + 1, p)."""
        whole = np.floor(self.periods)
        fraction = self.periods - whole
        for k in range(int(whole.max(initial=0.0)) + 2):
            yield k, ((1.0 - fraction) * stats.binom.pmf(k, whole, self.occurrence)
                      + fraction * stats.binom.pmf(k, whole + 1.0, self.occurrence))

    def cdf_grid(self, width: int) -> np.ndarray:
        """P(X <= x) for x = 0, 1, ..., width - 1: `(n, width)`."""
        excess, negbin, r, q = self._excess()
        x = np.arange(width, dtype=np.float64)
        log_factorial = special.gammaln(x + 1.0)  # (width,)
        pmf = np.zeros((self.periods.size, width))
        for k, weight in self._occurrences():
            if k == 0:
                pmf[:, 0] += weight
                continue
            if k >= width:
                break
            rest, rest_factorial = x[None, : width - k], log_factorial[None, : width - k]  # the k sizes' excess
            with np.errstate(divide="ignore", invalid="ignore"):  # log 0 where a row has no excess
                size_nb, rate = k * r[:, None], k * excess[:, None]
                log_negbin = (special.gammaln(rest + size_nb) - special.gammaln(size_nb) - rest_factorial
                              + size_nb * np.log(q[:, None]) + rest * np.log1p(-q[:, None]))
                log_poisson = np.where(rate > 0, rest * np.log(rate) - rate - rest_factorial, np.where(rest == 0, 0.0, -np.inf))
            pmf[:, k:] += weight[:, None] * np.exp(np.where(negbin[:, None], log_negbin, log_poisson))
        return np.minimum(np.cumsum(pmf, axis=1), 1.0)

    def cdf(self, x) -> np.ndarray:
        """P(X <= x), `x` `(n,)`: the binomial mixture of the k sizes' laws at x - k."""
        x = np.floor(np.asarray(x, dtype=np.float64))
        excess, negbin, r, q = self._excess()
        out = np.zeros(self.periods.size)
        for k, weight in self._occurrences():
            rest = x - k
            below = np.where(negbin, loss_functions.negbin_sf(rest, np.maximum(k * r, 1e-300), q),
                             loss_functions.poisson_sf(rest, k * excess))
            out += weight * np.where(rest >= 0, 1.0 - below, 0.0)
        return np.minimum(out, 1.0)

    def ppf(self, q) -> np.ndarray:
        """The smallest whole x with P(X <= x) >= q, `q` `(n,)` in (0, 1) (bisection on whole units);
        NaN where q is outside (0, 1) or beyond what the cdf's rounding reaches."""
        given = np.asarray(q, dtype=np.float64)
        valid = (given > 0) & (given < 1)
        q = np.where(valid, given, 0.5)
        mean, var = self.moments()
        hi = np.ceil(mean + 2.0 * np.sqrt(var))
        for _ in range(64):  # widen until past the quantile (a few doublings; 64 bound the rounding's worst case)
            if (reached := self.cdf(hi) >= q).all():
                break
            hi = np.where(reached, hi, 2.0 * hi + 1.0)
        valid &= reached
        q = np.where(valid, q, 0.5)
        hi = np.where(valid, hi, np.ceil(mean))
        lo = np.zeros_like(hi)
        while (lo < hi).any():
            mid = np.floor((lo + hi) / 2.0)
            above = self.cdf(mid) >= q
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid + 1.0)
        return np.where(valid, hi, np.nan)

    def cdf_grids(self, tail: float = 1e-7, max_width: int = 4096) -> list[tuple[np.ndarray, np.ndarray]]:
        """P(X <= x) on whole units from 0 until each row holds all but `tail` of its mass, as
        `(rows, grid)` pairs: row positions `(k,)` and their cdf `(k, w)` on a common width w,
        rows of a similar spread together. Rows not done at `max_width` units are left out."""
        mean, var = self.moments()
        need = 2 ** np.ceil(np.log2(mean + 10.0 * np.sqrt(var) + 8.0))  # (n,) a first guess per row
        grids, finished = [], np.zeros(need.size, dtype=bool)
        while (todo := np.flatnonzero(~finished & (need <= max_width))).size:
            width = need[todo].min()
            rows = todo[need[todo] == width]
            grid = self.take(rows).cdf_grid(int(width))
            done = grid[:, -1] >= 1.0 - tail
            if done.any():
                grids.append((rows[done], grid[done]))
                finished[rows[done]] = True
            need[rows[~done]] *= 2
        return grids

    def take(self, index) -> "CompoundBinomial":
        """The laws at `index` (boolean mask or integer positions)."""
        return CompoundBinomial(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

"""Imputation of demand lost to stockouts (invspark.kernels.censored_demand)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from invspark.kernels.censored_demand import impute_censored, truncated_draw


def lost_sales_panel(seed: int, n: int = 2000, T: int = 104, occurrence: float = 1.0):
    """Hurdle demand (occurrence x (1 + negative binomial) sizes), sold from a fixed stock per
    period: sales = min(demand, stock), censored where the stock ran out."""
    rng = np.random.default_rng(seed)
    size_mean = rng.gamma(2.0, 4.0, (n, 1)) + 1.0
    sizes = 1.0 + rng.negative_binomial(2.0, 2.0 / (2.0 + size_mean - 1.0), (n, T))
    demand = np.where(rng.random((n, T)) < occurrence, sizes, 0.0)
    stock = np.floor(occurrence * size_mean * rng.uniform(1.5, 3.0, (n, 1)))
    return demand, np.minimum(demand, stock), demand >= stock


def test_truncated_draws_follow_the_truncated_distribution():
    """Mean of draws given D >= 6 equals the direct sum over the truncated pmf (NB mean 4, size 1.5)."""
    n = 200_000
    bound, mean, size = np.full(n, 6.0), np.full(n, 4.0), np.full(n, 1.5)
    draws = truncated_draw(bound, mean, size, np.ones(n, dtype=bool), np.random.default_rng(0).random(n))
    support = np.arange(6, 2000)
    pmf = stats.nbinom.pmf(support, 1.5, 1.5 / 5.5)
    assert draws.min() == 6 and np.all(draws == np.round(draws))
    assert draws.mean() == pytest.approx((support * pmf).sum() / pmf.sum(), rel=0.01)
    gamma = truncated_draw(bound, mean, size, np.zeros(n, dtype=bool), np.random.default_rng(1).random(n))
    assert gamma.min() >= 6 and gamma.mean() == pytest.approx(
        stats.gamma.expect(lambda x: x, args=(1.5,), scale=4 / 1.5, lb=6, conditional=True), rel=0.01)


@pytest.mark.parametrize("occurrence", [1.0, 0.7])
def test_imputation_recovers_the_lost_demand(occurrence):
    demand, sales, censored = lost_sales_panel(seed=3, occurrence=occurrence)
    assert 0.05 < censored.mean() < 0.25  # the test can fail: a real share of periods is censored
    imputed = impute_censored(sales, censored)
    dropped = np.nanmean(np.where(censored, np.nan, sales))  # what dropping the stockouts believes
    assert dropped < 0.87 * demand.mean()
    # most of the bias goes, not all: the size dispersion is fitted on the uncensored sizes,
    # which lack the largest ones, and the local means are shrunk toward the series' mean
    assert abs(imputed.mean() - demand.mean()) < 0.25 * (demand.mean() - dropped)
    assert imputed.mean() == pytest.approx(demand.mean(), rel=0.07)
    assert imputed[censored].std() == pytest.approx(demand[censored].std(), rel=0.15)  # the spread is kept
    assert imputed.max() < 1.5 * demand.max()  # no runaway: an imputed size never feeds its own level


def test_only_censored_periods_change_and_never_below_their_sales():
    demand, sales, censored = lost_sales_panel(seed=4, n=300, occurrence=0.7)
    sales[:, :5] = np.nan  # before launch
    censored[:, :5] = True  # a flag on a missing period is ignored
    imputed = impute_censored(sales, censored)
    np.testing.assert_array_equal(imputed[~censored], sales[~censored])
    assert np.isnan(imputed[:, :5]).all()
    assert np.all(imputed[censored & ~np.isnan(sales)] >= sales[censored & ~np.isnan(sales)])
    assert np.all(imputed == np.round(imputed)) | np.isnan(imputed).any()  # counts stay counts
    np.testing.assert_array_equal(imputed, impute_censored(sales, censored))  # deterministic
    np.testing.assert_array_equal(impute_censored(sales, np.zeros_like(censored)), sales)


def test_fractional_series_get_fractional_demand_and_a_series_without_sales_keeps_its_own():
    demand, sales, censored = lost_sales_panel(seed=5, n=200)
    sales = sales * 0.25  # kilograms, say
    sales[0], censored[0] = 0.0, np.arange(sales.shape[1]) % 3 == 0  # never sold outside a stockout
    imputed = impute_censored(sales, censored)
    np.testing.assert_array_equal(imputed[0], sales[0])
    filled = imputed[1:][censored[1:]]
    assert np.all(filled >= sales[1:][censored[1:]]) and np.mean(filled != np.round(filled * 4) / 4) > 0.5


def test_promotion_periods_are_imputed_at_their_lifted_level():
    """Same demand, stock and flags; the series on promotion at the stockout sells twice its level."""
    rng = np.random.default_rng(6)
    n, T = 400, 52
    level = np.where(np.arange(T) == 40, 2.0, 1.0)[None, :] * 10.0  # a promotion at t = 40
    demand = rng.poisson(np.broadcast_to(level, (n, T))).astype(float)
    censored = np.zeros((n, T), dtype=bool)
    censored[:, 40] = True
    sales = np.where(censored, 5.0, demand)  # sold 5 from a stock of 5
    promo = np.zeros((n, T))
    promo[:, 40] = 1.0
    plain = impute_censored(sales, censored)[:, 40].mean()
    lifted = impute_censored(sales, censored, promo_lift=np.full(n, 2.0), promo=promo)[:, 40].mean()
    assert plain == pytest.approx(10.0, rel=0.1) and lifted == pytest.approx(20.0, rel=0.1)


def test_a_series_that_stocks_out_whenever_it_sells_more_than_one_is_not_run_away():
    """A generated count series (seed 42, series 1268 of the outcome report's panel) with 1-3 units
    on the shelf a week: it stocks out in 35 of its 52 selling weeks, so its uncensored sizes are
    its smallest (mostly 1) and their moment dispersion is near 0. Under that dispersion the EM has
    no fixed point (each step multiplied the level; the imputations averaged 125 units, up to
    1,391, for sales of 1-3); the series takes the bucket's dispersion instead. Its true demand in
    those weeks: 1 + NB sizes of mean 5.6."""
    units = np.array([
        0, 2, 2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 2, 2, 0, 2, 0, 0, 0, 2, 2, 2, 0, 2, 2, 2, 2, 0, 2, 0, 0, 2, 2, 0, 0,
        0, 1, 1, 0, 0, 2, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 3, 0, 0, 2, 2, 1, 0, 2, 0, 2,
        1, 0, 2, 0, 0, 1, 2, 0, 0, 0, 2, 3, 0, 0, 2, 0, 0, 2, 2, 0, 1, 2, 2, 1, 2, 0, 0, 0, 2, 1, 2, 0], dtype=float)
    censored = np.zeros(104, dtype=bool)
    censored[[2, 10, 13, 14, 16, 20, 21, 22, 24, 25, 26, 27, 29, 32, 33, 41, 44, 62, 65, 66, 69, 71, 72, 74, 78,
              82, 83, 86, 89, 90, 93, 94, 96, 100, 102]] = True
    promo = np.zeros(104)
    promo[[0, 3, 5, 45, 53, 56, 59, 60, 82, 100]] = 1.0
    rng = np.random.default_rng(3)
    others = rng.poisson(3.0, (40, 104)).astype(float)  # the rest of the bucket, stocking out at 7
    imputed = impute_censored(np.vstack([units, others]), np.vstack([censored, others >= 7]),
                              np.r_[1.69, np.ones(40)], np.vstack([promo, np.zeros((40, 104))]))
    assert np.all(imputed[0, censored] >= units[censored])
    assert imputed[0, censored].mean() < 10 and imputed[0, censored].max() < 30

"""The compound binomial law of intermittent demand (kernels.compound_demand) and its use as the
floor of intermittent negative binomial rows (kernels.demand_over_interval)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from invspark.kernels.compound_demand import CompoundBinomial
from invspark.kernels.demand_over_interval import demand_over_interval


def _reference_pmf(periods: float, p: float, size_pmf: np.ndarray, width: int) -> np.ndarray:
    """One series by brute force: the pmf of X over whole periods by repeated convolution of one
    period's demand (0 with 1 - p, a size with p), mixed over floor(P) and floor(P) + 1."""
    one_period = np.concatenate([[1.0 - p], p * size_pmf[1:]])  # size_pmf[0] = 0: a demand is >= 1 unit
    whole = int(np.floor(periods))
    total = np.zeros(width)
    for n_periods, weight in ((whole, 1.0 - (periods - whole)), (whole + 1, periods - whole)):
        pmf = np.array([1.0])
        for _ in range(n_periods):
            pmf = np.convolve(pmf, one_period)
        total[: min(width, pmf.size)] += weight * pmf[:width]
    return total


def test_unit_sizes_give_the_binomial_law():
    """Every demand one unit (m = 1, no spread): X ~ Binomial(P, p); P = 2, p = 0.3 gives P(X = 0) =
    0.49, P(X <= 1) = 0.91 by hand."""
    law = CompoundBinomial(np.array([2.0]), np.array([0.3]), np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose(law.cdf_grid(4)[0], [0.49, 0.91, 1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(law.moments(), ([0.6], [0.42]))


@settings(max_examples=30, deadline=None)
@given(periods=st.floats(0.3, 6.0), p=st.floats(0.05, 1.0), size_mean=st.one_of(st.just(1.0), st.floats(1.1, 6.0)),
       cv2=st.floats(0.0, 2.5))
def test_vectorized_law_equals_a_per_series_convolution(periods, p, size_mean, cv2):
    """(Sizes of mean just above 1 with a large CV² have tails of thousands of units, which the
    kernel leaves out past its widest grid; the property is checked away from them.)"""
    law = CompoundBinomial(np.array([periods]), np.array([p]), np.array([size_mean]), np.array([cv2 * size_mean**2]))
    (_, grid), = law.cdf_grids(tail=1e-9)
    width = grid.shape[1]
    excess, var = size_mean - 1.0, cv2 * size_mean**2
    sizes = np.arange(width)
    if excess > 0 and var > excess * (1 + 1e-9):
        size_pmf = stats.nbinom.pmf(sizes - 1, excess**2 / (var - excess), excess / var)
    else:
        size_pmf = stats.poisson.pmf(sizes - 1, excess)
    reference = np.cumsum(_reference_pmf(periods, p, size_pmf, width))
    np.testing.assert_allclose(law.cdf_grid(width)[0], reference, atol=1e-9)
    assert grid[0, -1] >= 1 - 1e-9
    # pointwise, the cdf and the quantile agree with the grid
    np.testing.assert_allclose(law.take(np.zeros(width, dtype=int)).cdf(np.arange(width)), reference, atol=1e-9)
    levels = np.array([0.05, 0.3, 0.5, 0.8, 0.95, 0.999])
    expected = [np.argmax(reference >= level - 1e-12) for level in levels]
    assert law.take(np.zeros(levels.size, dtype=int)).ppf(levels).tolist() == expected
    # the closed-form moments are those of the law (on a grid wide enough for the second moment's tail)
    wide = np.arange(8 * width)
    pmf = np.diff(law.cdf_grid(wide.size)[0], prepend=0.0)
    mean, variance = law.moments()
    np.testing.assert_allclose(mean[0], (wide * pmf).sum(), rtol=1e-6)
    np.testing.assert_allclose(variance[0], ((wide - mean[0]) ** 2 * pmf).sum(), rtol=1e-5, atol=1e-12)


def test_with_mean_scales_the_sizes_and_keeps_their_cv2():
    law = CompoundBinomial.with_mean(np.array([1.8, 0.1]), np.array([2.0, 2.0]), np.array([0.3, 0.3]), np.array([0.25, 0.25]))
    np.testing.assert_allclose(law.size_mean, [3.0, 1.0])  # 1.8 / (2 x 0.3); 0.1 would be a size below one unit
    np.testing.assert_allclose(law.occurrence, [0.3, 0.05])  # ... so the occurrence carries it
    np.testing.assert_allclose(law.size_var, [0.25 * 9.0, 0.25])
    np.testing.assert_allclose(law.moments()[0], [1.8, 0.1])


def test_quantile_is_nan_outside_the_open_unit_interval():
    law = CompoundBinomial.with_mean(np.full(4, 1.8), np.full(4, 2.0), np.full(4, 0.3), np.full(4, 0.25))
    out = law.ppf(np.array([0.0, 1.0, np.nan, 0.7]))
    assert np.isnan(out[:3]).all() and out[3] == 3.0


# --- the compound floor of intermittent rows ------------------------------------------------------

def _intermittent(adi, size_cv2=0.25, sigma=1.8, review=1.0):
    """Per-period mean 0.9 over L + R = 2 periods; the forecast's std 1.8 (NB of variance 6.48)."""
    n = len(adi)
    return demand_over_interval(np.full(n, 0.9), np.full(n, sigma), np.ones(n), np.zeros(n), np.full(n, review),
                                np.array(["negbin"] * n, dtype=object), None, np.full(n, 1.5), np.asarray(adi, dtype=float),
                                np.full(n, size_cv2))


@settings(max_examples=40, deadline=None)
@given(adi=st.floats(1.32, 8.0), cv2=st.floats(0.0, 2.0), q=st.floats(0.02, 0.995), x=st.floats(-2.0, 30.0))
def test_compound_floor_is_the_upper_envelope_of_the_two_laws(adi, cv2, q, x):
    """cdf = min(F, G), the quantile the smallest whole x with min(F, G) >= q, and the loss the sum
    of the envelope's survival function, all from scipy's negative binomial F and the grid of G."""
    demand = _intermittent([adi], cv2)
    if not demand._compound_rows()[0]:
        assume(False)  # the compound law is as dispersed as the forecast's: no floor
    law_f = stats.nbinom(3.24 / (6.48 - 1.8), 1.8 / 6.48)
    law_g = CompoundBinomial.with_mean(np.array([1.8]), np.array([2.0]), np.array([1.0 / adi]), np.array([cv2]))
    width = law_g.cdf_grids(tail=1e-12)[0][1].shape[1] + 60
    k = np.arange(width)
    envelope = np.minimum(law_f.cdf(k), law_g.cdf_grid(width)[0])
    assert demand.ppf(np.array([q]))[0] == np.argmax(envelope >= q)
    np.testing.assert_allclose(demand.cdf(np.array([x])), envelope[int(np.floor(x))] if x >= 0 else 0.0, atol=1e-9)
    survival = 1.0 - envelope
    whole = max(np.floor(x), 0.0)
    tail = law_f.sf(k[-1])  # beyond the grid: a little of F's mass
    expected = survival[k >= whole].sum() - (x - whole) * survival[int(whole)] if x >= 0 else survival.sum() - x
    # G is kept to all but 1e-7 of its mass: the loss is exact to about 1e-6 units
    np.testing.assert_allclose(demand.loss(np.array([x])), expected, rtol=1e-6, atol=1e-6 + 10 * tail)


def test_compound_floor_only_on_intermittent_history_and_lifts_the_middle_quantiles():
    """Occurrence 0.3 and sizes of mean 3 over 2 periods: P(X = 0) = 0.49, then a bump near 3; the
    negative binomial of the demand's own two moments has its 0.70 quantile at 2, the compound at 3."""
    demand = _intermittent([1 / 0.3, 1.2, np.nan])
    assert demand._compound_rows().tolist() == [True, False, False]
    assert np.isfinite(demand.floor_var).all()  # the frequent and unknown rows keep the std floor
    np.testing.assert_array_equal(demand.ppf(np.full(3, 0.7)), [3.0, 2.0, 2.0])
    # the high quantiles are the forecast's
    assert demand.ppf(np.full(3, 0.99))[0] == stats.nbinom(3.24 / 4.68, 1.8 / 6.48).ppf(0.99)


def test_no_compound_floor_where_the_forecast_is_less_dispersed():
    demand = _intermittent([1 / 0.3], sigma=1.0)  # variance 2 over the interval, the compound law's 5
    assert not demand._compound_rows()[0]


def test_select_and_take_keep_each_rows_compound_floor():
    """Sub-batches and row-wise choices share or join the floors' excess buffers: every row
    evaluates as in the batch it came from."""
    from invspark.kernels.demand_over_interval import select

    adi = np.array([3.0, 2.0, 1.1, 4.0])
    lead = _intermittent(adi, review=0.0)
    periodic = _intermittent(adi, review=2.0)
    mask = np.array([True, False, True, False])
    chosen = select(mask, periodic, lead)
    x, q = np.array([0.5, 2.0, 3.7, 6.0]), np.full(4, 0.8)
    for method, at in (("loss", x), ("cdf", x), ("ppf", q)):
        expected = np.where(mask, getattr(periodic, method)(at), getattr(lead, method)(at))
        np.testing.assert_array_equal(getattr(chosen, method)(at), expected)
        np.testing.assert_array_equal(getattr(chosen.take([3, 0]), method)(at[[3, 0]]), expected[[3, 0]])


def test_a_law_beyond_the_widest_grid_keeps_the_std_floor():
    """Sizes of mean 2.7 with CV² 2,000 (almost all 1-3 units, now and then thousands) have a tail
    far past the kernel's 4,096-unit grid: that row keeps the negative binomial floor of its std."""
    demand = _intermittent([3.0], size_cv2=2000.0, sigma=300.0)
    assert not demand._compound_rows()[0]
    assert np.isfinite(demand.floor_cross[0]) and demand.floor_var[0] == pytest.approx(2 * 1.5**2)

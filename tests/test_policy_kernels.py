"""Policy kernels: loss functions, demand over the protection interval, service and cost levels,
order rounding. Textbook numbers are named in each test; the rest is checked against the slow
loops in tests/reference/policy_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import policy_reference as ref
from scipy import stats

from invspark.kernels import cost_policies, loss_functions, order_rounding, service_policies
from invspark.kernels.demand_over_interval import (
    DETERMINISTIC,
    GAMMA,
    NEGBIN,
    NORMAL,
    POISSON,
    demand_over_interval,
    gamma_lead_time_poisson_demand,
)


def fit(mu, sigma, lead, lead_std=0.0, review=0.0, distribution="normal"):
    """demand_over_interval on 1-d arrays built from scalars or lists."""
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                   for v in (mu, sigma, lead, lead_std, review)))
    names = np.broadcast_to(np.asarray(distribution, dtype=object), arrays[0].shape)
    return demand_over_interval(*arrays, names)


# --- loss functions ----------------------------------------------------------------------------

def test_spp_unit_normal_loss_table_values():
    # The unit normal loss table in SPP (4th ed.): G(0) = 0.3989, G(1) = 0.0833, G(2) = 0.00849.
    np.testing.assert_allclose(loss_functions.standard_normal_loss([0.0, 1.0, 2.0]),
                               [0.3989, 0.0833, 0.00849], atol=5e-5)


def test_inverse_standard_normal_loss_round_trips():
    k = np.array([-3.0, -1.0, 0.0, 0.5, 1.25, 2.0, 3.5])
    np.testing.assert_allclose(
        loss_functions.inverse_standard_normal_loss(loss_functions.standard_normal_loss(k)), k,
        atol=1e-8)
    assert np.isinf(loss_functions.inverse_standard_normal_loss(0.0))


@pytest.mark.parametrize("distribution, mu, sigma, lead, lead_std", [
    ("normal", 10.0, 3.0, 2.0, 0.0),
    ("poisson", 2.5, 0.0, 3.0, 0.0),
    ("poisson", 2.5, 0.0, 3.0, 1.0),      # compound: Poisson over a random lead time -> negbin
    ("negbin", 4.0, 3.0, 2.0, 0.0),
    ("gamma", 6.0, 4.0, 1.5, 0.5),
    ("empirical", 6.0, 4.0, 1.5, 0.0),
])
def test_interval_loss_and_cdf_match_summation_reference(distribution, mu, sigma, lead, lead_std):
    demand = fit(mu, sigma, lead, lead_std, 0.0, distribution)
    dist, mean = ref.interval_distribution(mu, sigma, lead, lead_std, 0.0, distribution)
    for x in [-3.0, 0.0, 2.0, mean - 0.5, mean, mean + 7.3, mean + 40.0]:
        np.testing.assert_allclose(demand.loss(np.array([x])), ref.loss(dist, mean, x),
                                   rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(demand.cdf(np.array([x])), ref.cdf(dist, mean, x), atol=1e-12)


def test_family_resolution_per_row():
    demand = fit([2.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 0.0],
                 [9.0, 9.0, 9.0, 3.0, 1.0, 4.0, 4.0, 1.0],
                 2.0, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.0,
                 ["normal", "poisson", "poisson", "negbin", "negbin", "gamma", "empirical",
                  "normal"])
    assert demand.family.tolist() == [NORMAL, POISSON, NEGBIN, NEGBIN, POISSON, GAMMA, GAMMA,
                                      DETERMINISTIC]


def test_poisson_demand_over_gamma_lead_time_is_the_fitted_negative_binomial():
    # Axsaeter 3rd ed. 5.3: Poisson demand over a gamma lead time is negative binomial; the
    # two-moment fit of demand_over_interval must be that exact distribution.
    demand = fit(3.0, 0.0, 4.0, 2.0, 0.0, "poisson")
    n, p = gamma_lead_time_poisson_demand(3.0, 4.0, 2.0)
    np.testing.assert_allclose([demand.nb_n[0], demand.nb_p[0]], [n, p], rtol=1e-12)
    rng = np.random.default_rng(7)
    lead_times = rng.gamma(4.0, 1.0, size=200_000)  # shape (4/2)^2 = 4, scale 2^2/4 = 1
    draws = rng.poisson(3.0 * lead_times)
    assert abs(np.mean(draws <= 12) - stats.nbinom.cdf(12, n, p)) < 0.005


def test_interval_moments_with_lead_time_variability_by_hand():
    # SPP 4th ed.: sigma_L^2 = L sigma_D^2 + D^2 sigma_LT^2; 4 * 20^2 + 100^2 * 1^2 = 11600.
    demand = fit(100.0, 20.0, 4.0, 1.0, 0.0, "normal")
    assert demand.mean[0] == pytest.approx(400.0)
    assert demand.std[0] == pytest.approx(np.sqrt(11_600.0))


# --- service levels ----------------------------------------------------------------------------

def test_spp_sq_fill_rate_rule_by_hand():
    # SPP's P2 rule for (s,Q): G(k) = Q (1 - P2) / sigma_L. Numbers by hand: Q = 500,
    # P2 = 0.99, sigma_L = 100 -> G(k) = 0.05, between the table's G(1.25) = 0.0506 and
    # G(1.26) = 0.0495; the exact second term sigma G(k + Q/sigma) ~ 1e-10 does not move it.
    lead = fit(100.0, 50.0, 4.0)  # mean 400, sigma_L = 50 * 2 = 100
    s = service_policies.fill_rate_level_sq(lead, np.array([500.0]), np.array([0.99]))
    k = (s[0] - 400.0) / 100.0
    assert 1.25 < k < 1.26
    assert loss_functions.standard_normal_loss(k) == pytest.approx(0.05, abs=1e-7)


def test_csl_level_is_the_normal_quantile():
    # SPP (s,Q) with P1: s = x_L + k sigma_L, k = Phi^-1(P1); 400 + 1.6449 * 100 for P1 = 0.95.
    lead = fit(100.0, 50.0, 4.0)
    assert service_policies.csl_level(lead, np.array([0.95]))[0] == pytest.approx(
        400.0 + stats.norm.ppf(0.95) * 100.0)


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(0.05, 60.0), extra=st.floats(0.0, 3.0), lead=st.floats(0.5, 6.0),
       target=st.floats(0.01, 0.999), negbin=st.booleans())
def test_discrete_reorder_point_is_the_exact_quantile(mean, extra, lead, target, negbin):
    sigma = np.sqrt(mean * (1.0 + extra)) if negbin else 0.0
    demand = fit(mean, sigma, lead, 0.0, 0.0, "negbin" if negbin else "poisson")
    s = service_policies.csl_level(demand, np.array([target]))[0]
    assert s == np.floor(s)
    if demand.family[0] == NEGBIN:
        dist = stats.nbinom(demand.nb_n[0], demand.nb_p[0])
    else:
        dist = stats.poisson(demand.mean[0])
    assert dist.cdf(s) >= target - 1e-12
    assert dist.cdf(s - 1) < target


def test_fill_rate_levels_match_reference_loop():
    rng = np.random.default_rng(3)
    n = 8
    distributions = np.array(["normal", "poisson", "negbin", "gamma"] * 2, dtype=object)
    mu = rng.uniform(0.5, 30.0, n)
    sigma = np.sqrt(mu) * rng.uniform(1.1, 2.5, n)
    lead = rng.uniform(0.5, 5.0, n)
    lead_std = np.where(np.arange(n) % 2 == 0, 0.0, rng.uniform(0.1, 1.0, n))
    review = rng.integers(1, 4, n).astype(float)
    quantity = np.round(mu * rng.uniform(1.0, 4.0, n))
    target = rng.uniform(0.8, 0.995, n)
    lead_fit = demand_over_interval(mu, sigma, lead, lead_std, np.zeros(n), distributions)
    periodic = demand_over_interval(mu, sigma, lead, lead_std, review, distributions)
    s = service_policies.fill_rate_level_sq(lead_fit, quantity, target)
    big_s = service_policies.fill_rate_level_rs(lead_fit, periodic, mu * review, target)
    for i in range(n):
        row = dict(demand_mean=mu[i], demand_std=sigma[i], lead_time_mean=lead[i],
                   lead_time_std=lead_std[i], review_period=review[i],
                   distribution=distributions[i], service_level_type="fill_rate",
                   service_level_target=target[i], order_quantity_in=quantity[i])
        expected_sq = ref.policy_row(dict(row, policy="sQ"))
        expected_rs = ref.policy_row(dict(row, policy="RS"))
        np.testing.assert_allclose(s[i], expected_sq["reorder_point"], atol=1e-6)
        np.testing.assert_allclose(big_s[i], expected_rs["reorder_point"], atol=1e-6)


# --- cost policies -----------------------------------------------------------------------------

def test_snyder_shen_example_3_1_eoq():
    # Snyder & Shen 2nd ed. Example 3.1: K = 8, h = 0.75 * 0.3, lambda = 1300 -> Q* = 304.05.
    assert cost_policies.economic_order_quantity(1300.0, 8.0, 0.225) == pytest.approx(
        304.0467800264368, rel=1e-12)


def test_snyder_shen_example_4_3_newsvendor_normal():
    # Snyder & Shen 2nd ed. Example 4.3: h = 0.18, p = 0.70, D ~ N(50, 8^2) -> S* = 56.60.
    demand = fit(50.0, 8.0, 0.0, 0.0, 1.0)
    level = cost_policies.base_stock_level(demand, np.array([0.18]), np.array([0.70]))
    assert level[0] == pytest.approx(56.603955927433887, rel=1e-10)
    cost = loss_functions.newsvendor_normal_cost(level, 0.18, 0.70, 50.0, 8.0)
    assert cost[0] == pytest.approx(1.997605193176645, rel=1e-9)


def test_snyder_shen_example_4_7_newsvendor_poisson():
    # Snyder & Shen 2nd ed. Example 4.7: h = 1, p = 4, Poisson(6) demand -> S* = 8.
    demand = fit(6.0, 0.0, 0.0, 0.0, 1.0, "poisson")
    assert cost_policies.base_stock_level(demand, np.array([1.0]), np.array([4.0]))[0] == 8.0


def test_snyder_shen_example_5_2_eil_approximation():
    # Snyder & Shen 2nd ed. Example 5.2 (data of Example 5.1): h = 0.225, p = 7.5, K = 8,
    # lambda = 1300/yr, sigma = 150/yr, L = 1/12 yr -> r = 213.97, Q = 318.59.
    lead = fit(1300.0, 150.0, 1.0 / 12.0)
    r, q = cost_policies.cost_optimal_rq(lead, np.array([1300.0]), np.array([0.225]),
                                         np.array([7.5]), np.array([8.0]))
    assert r[0] == pytest.approx(213.9704421358024, rel=1e-7)
    assert q[0] == pytest.approx(318.5901810768729, rel=1e-7)


def test_cost_optimal_rq_is_vectorized_and_floors_cheap_stockouts():
    lead = fit([1300.0, 1300.0], [150.0, 150.0], [1.0 / 12.0, 1.0 / 12.0])
    r, q = cost_policies.cost_optimal_rq(lead, np.array([1300.0, 1300.0]),
                                         np.array([0.225, 0.225]), np.array([7.5, 1e-4]),
                                         np.array([8.0, 8.0]))
    assert r[0] == pytest.approx(213.9704421358024, rel=1e-7)
    # p = 1e-4: Q h / (p lambda) >> 1, so the CSL floor MIN_COST_CSL = 0.5 applies: r = mean.
    assert r[1] == pytest.approx(1300.0 / 12.0)


# --- order rounding ----------------------------------------------------------------------------

@pytest.mark.parametrize("need, moq, case_pack, room, expected, capped", [
    (0.0, 10.0, 6.0, np.nan, 0.0, False),      # nothing needed: no order, MOQ irrelevant
    (-5.0, 0.0, 1.0, np.nan, 0.0, False),
    (7.0, 0.0, 6.0, np.nan, 12.0, False),      # next case multiple
    (12.0, 0.0, 6.0, np.nan, 12.0, False),     # exact multiple stays
    (3.0, 20.0, 6.0, np.nan, 24.0, False),     # MOQ 20 -> smallest case multiple >= 20
    (3.0, 20.0, 1.0, np.nan, 20.0, False),
    (50.0, 0.0, 6.0, 40.0, 36.0, True),        # capacity room 40 -> 6 cases
    (50.0, 38.0, 6.0, 40.0, 0.0, True),        # 36 fits but is below the MOQ of 38
    (2.5, 0.0, 0.5, np.nan, 2.5, False),       # fractional packs (kg)
])
def test_round_order_cases(need, moq, case_pack, room, expected, capped):
    quantity, was_capped = order_rounding.round_order(np.array([need]), np.array([moq]),
                                                      np.array([case_pack]), np.array([room]))
    assert quantity[0] == expected
    assert was_capped[0] == capped


def test_round_up_to_case_ignores_floating_noise():
    assert order_rounding.round_up_to_case(np.array([12.000000000001]), 6.0)[0] == 12.0


def test_fill_rate_levels_accept_scalar_targets_and_quantities():
    lead = fit([100.0, 100.0], [50.0, 50.0], [4.0, 4.0])
    s = service_policies.fill_rate_level_sq(lead, 500.0, 0.99)
    assert s[0] == pytest.approx(s[1])
    assert service_policies.fill_rate_sq(lead, s, 500.0)[0] == pytest.approx(0.99, abs=1e-9)


# --- undershoot of (s,S) -----------------------------------------------------------------------

def test_undershoot_of_exponential_lumps_is_exponential_with_the_same_mean():
    """Memorylessness: the equilibrium excess of exponential lumps (gamma, shape 1) is exponential
    with the lumps' own mean, so E[U] = m and Var[U] = m^2."""
    from invspark.kernels.demand_over_interval import demand_over_interval
    from invspark.kernels.undershoot import undershoot_moments

    m = np.array([1.0, 7.5])
    lump = demand_over_interval(m, m, np.zeros(2), np.zeros(2), np.ones(2), np.array(["gamma", "gamma"]))
    mean, var = undershoot_moments(lump)
    np.testing.assert_allclose(mean, m)
    np.testing.assert_allclose(var, m**2)


def test_undershoot_of_integer_lumps_matches_the_discrete_equilibrium_distribution():
    """P(U = k) = P(D > k) / E[D] for integer lumps; moments summed here from scipy's sf."""
    from invspark.kernels.demand_over_interval import demand_over_interval
    from invspark.kernels.undershoot import undershoot_moments

    lump = demand_over_interval(np.array([3.0, 3.0]), np.array([np.nan, 4.0]), np.zeros(2), np.zeros(2),
                                np.ones(2), np.array(["poisson", "negbin"]))
    mean, var = undershoot_moments(lump)
    k = np.arange(0, 400)
    laws = [stats.poisson(3.0), stats.nbinom(9.0 / 13.0, 3.0 / 16.0)]
    for i, law in enumerate(laws):
        p = law.sf(k) / 3.0
        assert p.sum() == pytest.approx(1.0)
        assert mean[i] == pytest.approx((k * p).sum())
        assert var[i] == pytest.approx((k**2 * p).sum() - (k * p).sum() ** 2)


# --- empirical (quantile-knot) distribution ----------------------------------------------------

def _uniform_knots(low, high):
    from invspark.kernels import empirical_quantiles as eq

    u = np.asarray(eq.SHAPE_LEVELS)
    return np.asarray(low, dtype=float)[:, None] + u[None, :] * (np.asarray(high) - np.asarray(low))[:, None]


def test_empirical_knots_of_a_uniform_give_the_uniform_quantiles_cdf_and_loss():
    """X ~ U(a, b): F^-1(q) = a + q (b - a), F(y) = (y - a) / (b - a) and
    E[(X - y)^+] = (b - y)^2 / (2 (b - a)) inside [a, b], (a + b) / 2 - y below a."""
    from invspark.kernels import empirical_quantiles as eq

    a, b = np.array([2.0, 0.0, 5.0]), np.array([10.0, 1.0, 6.0])
    points = _uniform_knots(a, b)
    q = np.array([0.9, 0.33, 0.999])
    np.testing.assert_allclose(eq.ppf(points, q), a + q * (b - a))
    y = np.array([4.0, -1.0, 7.0])
    np.testing.assert_allclose(eq.cdf(points, y), [0.25, 0.0, 1.0])
    np.testing.assert_allclose(eq.loss(points, y), [(10 - 4.0) ** 2 / 16, 0.5 + 1.0, 0.0])
    mean, std = eq.moments(points)
    np.testing.assert_allclose(mean, (a + b) / 2)
    np.testing.assert_allclose(std, (b - a) / np.sqrt(12))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_empirical_cdf_inverts_ppf_and_loss_matches_integration(seed):
    from invspark.kernels import empirical_quantiles as eq

    rng = np.random.default_rng(seed)
    shape = np.sort(rng.standard_t(3, size=(4, len(eq.SHAPE_LEVELS))), axis=1)
    points = eq.knots(rng.uniform(0, 20, 4), rng.uniform(0.5, 8, 4), shape)  # atoms at 0 possible
    q = rng.uniform(0.01, 0.99, 4)
    level = eq.ppf(points, q)
    assert (eq.cdf(points, level) >= q - 1e-9).all()
    # E[(X - y)^+] = integral over u of (F^-1(u) - y)^+: a midpoint rule on 200,000 points of u
    # (a Monte Carlo sample is too noisy here: a t(3) shape puts far knots in the last 0.5%)
    u = (np.arange(200_000) + 0.5) / 200_000
    draws = eq.ppf(np.repeat(points, u.size, axis=0), np.tile(u, 4)).reshape(4, -1)
    y = rng.uniform(0, 25, 4)
    integrated = np.maximum(draws - y[:, None], 0.0).mean(axis=1)
    np.testing.assert_allclose(eq.loss(points, y), integrated, rtol=1e-3, atol=1e-4)


# --- dispersion floor (upper envelope of the forecast's law and the demand's own) --------------

def _nb(mean, var):
    """scipy's negative binomial with the given mean and variance (var > mean)."""
    return stats.nbinom(mean**2 / (var - mean), mean / var)


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(0.2, 6.0), own_excess=st.floats(0.0, 3.0), spread=st.floats(1.2, 8.0),
       lead=st.sampled_from([1.0, 2.0, 3.5]), q=st.floats(0.05, 0.995), x=st.floats(-2.0, 40.0))
def test_dispersion_floor_is_the_upper_envelope_of_the_two_laws(mu, own_excess, spread, lead, q, x):
    """cdf = min(F, G), quantile = max(F^-1, G^-1), and the loss n(x) = sum over the envelope's
    survival function (E[(X - x)^+] = integral of P(X > t) from x), summed here from scipy's laws."""
    own_var = mu + own_excess * mu  # per period; G: NB (or Poisson when own_excess = 0)
    sigma = np.sqrt(own_var * spread)  # the forecast's per-period std, larger than the demand's own
    demand = demand_over_interval(np.array([mu]), np.array([sigma]), np.array([lead]), np.zeros(1), np.zeros(1),
                                  np.array(["negbin"]), None, np.array([np.sqrt(own_var)]))
    mean, var_f, var_g = mu * lead, sigma**2 * lead, own_var * lead
    law_f = _nb(mean, var_f)
    law_g = _nb(mean, var_g) if var_g > mean * (1 + 1e-9) else stats.poisson(mean)
    assert demand.floor_var[0] == pytest.approx(var_g)
    assert demand.ppf(np.array([q]))[0] == max(law_f.ppf(q), law_g.ppf(q))
    np.testing.assert_allclose(demand.cdf(np.array([x])), min(law_f.cdf(x), law_g.cdf(x)), atol=1e-12)
    k = np.arange(0, int(law_f.ppf(1 - 1e-13)) + 50)
    survival = np.maximum(law_f.sf(k), law_g.sf(k))  # P(X > t) on [k, k + 1)
    whole = max(np.floor(x), 0.0)
    expected = survival[k >= whole].sum() - (x - whole) * survival[int(whole)] if x >= 0 else survival.sum() - x
    np.testing.assert_allclose(demand.loss(np.array([x])), expected, rtol=1e-7, atol=1e-9)
    assert demand.mean[0] == pytest.approx(mean)  # the fitted law's moments are kept


def test_dispersion_floor_applies_only_to_negative_binomial_rows_below_their_variance():
    mu = np.full(5, 2.0)
    sigma = np.array([3.0, 3.0, 3.0, 3.0, 3.0])
    own = np.array([1.8, 3.5, np.nan, 1.8, 1.8])
    names = np.array(["negbin", "negbin", "negbin", "normal", "gamma"], dtype=object)
    demand = demand_over_interval(mu, sigma, np.full(5, 2.0), np.zeros(5), np.ones(5), names, None, own)
    assert np.isfinite(demand.floor_var).tolist() == [True, False, False, False, False]
    plain = demand_over_interval(mu, sigma, np.full(5, 2.0), np.zeros(5), np.ones(5), names)
    q = np.full(5, 0.3)
    np.testing.assert_array_equal(demand.ppf(q)[1:], plain.ppf(q)[1:])
    assert demand.ppf(q)[0] > plain.ppf(q)[0]  # the forecast's NB puts too much mass at 0


def test_dispersion_floor_carries_through_the_undershoot():
    """X + U keeps a floor of variance Var_floor + Var[U] (kernels.undershoot)."""
    from invspark.kernels.undershoot import plus_undershoot, undershoot_moments

    mu, names = np.array([1.5]), np.array(["negbin"], dtype=object)
    protection = demand_over_interval(mu, np.array([4.0]), np.array([2.0]), np.zeros(1), np.zeros(1), names,
                                      None, np.array([2.0]))
    lump = demand_over_interval(mu, np.array([4.0]), np.zeros(1), np.zeros(1), np.ones(1), names)
    crossed, _ = plus_undershoot(protection, lump)
    _, var_u = undershoot_moments(lump)
    assert crossed.floor_var[0] == pytest.approx(protection.floor_var[0] + var_u[0])
    assert crossed.floor_cross[0] >= 1

"""invspark.policy.compute_policies: the pure-Python face of the policy stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import policy_reference as ref
from scipy import stats

from invspark.errors import InputDataError
from invspark.kernels import cost_policies
from invspark.kernels.compound_demand import CompoundBinomial
from invspark.policy import compute_policies


def frame(**columns) -> pd.DataFrame:
    """A policy input frame; scalars broadcast to the length of the longest list."""
    n = max((len(v) for v in columns.values() if isinstance(v, list)), default=1)
    base = dict(demand_mean=100.0, demand_std=20.0, lead_time_mean=2.0, lead_time_std=0.0,
                review_period=1.0, service_level_type="csl", service_level_target=0.95,
                policy="RS", distribution="normal")
    base.update(columns)
    return pd.DataFrame({k: (v if isinstance(v, list) else [v] * n) for k, v in base.items()})


# --- textbook examples through the face --------------------------------------------------------

def test_snyder_shen_example_4_4_base_stock_with_lead_time():
    # Snyder & Shen 2nd ed. Example 4.4: h = 0.18, p = 0.70, N(50, 8^2) per period, L = 4 and a
    # review every period -> S* = 264.77 (protection over L + 1 = 5 periods).
    out = compute_policies(frame(demand_mean=50.0, demand_std=8.0, lead_time_mean=4.0,
                                 service_level_target=np.nan, service_level_type=None,
                                 holding_cost=0.18, stockout_cost=0.70))
    assert out["order_up_to"][0] == pytest.approx(2.647668943741548e02, rel=1e-10)
    assert out["safety_stock"][0] == pytest.approx(264.7668943741548 - 250.0, rel=1e-9)
    assert out["service_level_type"][0] is None


def test_snyder_shen_example_5_2_rq_through_the_face():
    # Example 5.2 data with yearly periods: the face rounds Q = 318.59 up to whole units (319)
    # and refits r for that Q: 1 - F(r) = Q h / (p lambda).
    out = compute_policies(frame(demand_mean=1300.0, demand_std=150.0, lead_time_mean=1 / 12,
                                 policy="sQ", service_level_target=np.nan, holding_cost=0.225,
                                 ordering_cost=8.0, stockout_cost=7.5))
    assert out["order_quantity"][0] == 319.0
    lead_sigma = 150.0 / np.sqrt(12.0)
    z = stats.norm.ppf(1 - 319.0 * 0.225 / (7.5 * 1300.0))
    assert out["reorder_point"][0] == pytest.approx(1300.0 / 12 + z * lead_sigma, rel=1e-9)
    assert out["reorder_point"][0] == pytest.approx(213.97, abs=0.05)
    assert out["order_up_to"][0] == pytest.approx(out["reorder_point"][0] + 319.0)


def test_spp_rs_csl_with_lead_time_variability_by_hand():
    # SPP 4th ed. (R,S) with P1 over R + L and sigma^2 = (R+L) sigma_D^2 + D^2 sigma_LT^2.
    # By hand: R = 1, L = 3, sigma_D = 20, D = 100, sigma_LT = 1 -> sigma = sqrt(4*400 + 10000)
    # = 107.70; S = 400 + 1.6449 * 107.70 = 577.16.
    out = compute_policies(frame(lead_time_mean=3.0, lead_time_std=1.0))
    assert out["safety_stock"][0] == pytest.approx(stats.norm.ppf(0.95) * np.sqrt(11_600.0))
    assert out["order_up_to"][0] == pytest.approx(577.16, abs=0.01)
    assert out["expected_csl"][0] == pytest.approx(0.95)


# --- against the per-series reference loop -----------------------------------------------------

def test_matches_reference_loop_on_a_mixed_batch():
    rng = np.random.default_rng(11)
    n = 16
    distributions = ["normal", "poisson", "negbin", "gamma", "empirical"]
    policies = ["sQ", "RS"]
    f = frame(
        demand_mean=list(rng.uniform(0.5, 40.0, n)),
        demand_std=list(rng.uniform(1.0, 8.0, n)),
        lead_time_mean=list(rng.uniform(0.5, 4.0, n)),
        lead_time_std=list(np.where(np.arange(n) % 3 == 0, 0.4, 0.0)),
        review_period=list(rng.integers(1, 4, n).astype(float)),
        distribution=[distributions[i % 5] for i in range(n)],
        policy=[policies[(i // 5) % 2] for i in range(n)],
        service_level_type=["csl" if i % 4 < 2 else "fill_rate" for i in range(n)],
        service_level_target=list(rng.uniform(0.8, 0.99, n)),
    )
    f.loc[[3, 7], "service_level_target"] = np.nan  # cost mode, (R,S) critical ratio
    f.loc[[3, 7], "policy"] = "RS"
    f["holding_cost"] = 0.2
    f["stockout_cost"] = 5.0
    out = compute_policies(f)
    for i, row in f.iterrows():
        expected = ref.policy_row(dict(row, order_quantity_in=out["order_quantity"][i]))
        for column, value in expected.items():
            np.testing.assert_allclose(out[column][i], value, atol=1e-6, rtol=1e-7,
                                       err_msg=f"row {i} {column}")


# --- inventory position, recommended orders, exceptions ---------------------------------------

def test_recommended_order_rs_applies_moq_case_pack_and_position():
    out = compute_policies(frame(demand_mean=10.0, demand_std=0.0, lead_time_mean=1.0,
                                 review_period=1.0, on_hand=[5.0, 5.0, 25.0, 5.0],
                                 on_order=[3.0, 3.0, 0.0, 3.0], backorders=[0.0, 0.0, 0.0, 0.0],
                                 case_pack=[1.0, 6.0, 6.0, 6.0], moq=[0.0, 0.0, 0.0, 30.0]))
    # S = 20 (no variability); IP = 8 -> need 12 -> 12, 12 (2 cases), none (IP 25 >= S), MOQ 30
    # -> 30 rounded up to 5 cases = 30.
    assert out["order_up_to"].tolist() == [20.0] * 4
    assert out["inventory_position"].tolist() == [8.0, 8.0, 25.0, 8.0]
    assert out["recommended_order_qty"].tolist() == [12.0, 12.0, 0.0, 30.0]


def test_recommended_order_sq_orders_whole_batches():
    out = compute_policies(frame(policy="sQ", demand_mean=10.0, demand_std=0.0,
                                 lead_time_mean=2.0, review_period=2.0, on_hand=[-5.0, 25.0],
                                 backorders=[0.0, 0.0]))
    # Q = demand of 2 periods = 20, s = 20; IP = -5: n = floor(25 / 20) + 1 = 2 batches; IP 25 > s.
    assert out["order_quantity"].tolist() == [20.0, 20.0]
    assert out["recommended_order_qty"].tolist() == [40.0, 0.0]
    assert out["exception"].tolist() == ["negative_inventory", None]


def test_exceptions_are_flagged_and_joined():
    out = compute_policies(frame(
        demand_mean=[np.nan, 100.0, 100.0, 100.0, 100.0, 100.0],
        lead_time_mean=[2.0, np.nan, 2.0, 2.0, 2.0, 2.0],
        on_hand=[0.0, 0.0, 0.0, 5.0, 0.0, -3.0],
        backorders=[0.0, 0.0, 0.0, 2.0, 5000.0, 0.0],
        on_order=[0.0, 0.0, 0.0, 0.0, 0.0, -1.0],
        capacity_units=[np.nan, np.nan, 100.0, np.nan, np.nan, np.nan],
    ))
    assert out["exception"].tolist() == [
        "no_history",
        "lead_time_missing",
        "target_unreachable_capacity",
        "inconsistent_inventory",
        "order_far_above_typical",
        "negative_inventory;inconsistent_inventory",
    ]
    assert np.isnan(out["reorder_point"][0]) and np.isnan(out["recommended_order_qty"][1])
    assert out["recommended_order_qty"][2] == 100.0  # capped at capacity - on hand - on order


def test_zero_demand_orders_nothing_and_reports_full_service():
    out = compute_policies(frame(demand_mean=[0.0, 0.0], demand_std=[0.0, 0.0],
                                 service_level_type=["csl", "fill_rate"]))
    assert out["reorder_point"].tolist() == [0.0, 0.0]
    assert out["recommended_order_qty"].tolist() == [0.0, 0.0]
    assert out["expected_fill_rate"].tolist() == [1.0, 1.0]


def test_defaults_fill_missing_optional_columns_and_row_order_is_kept():
    f = pd.DataFrame({"demand_mean": [5.0, 50.0], "demand_std": [2.0, 10.0],
                      "lead_time_mean": [1.0, 3.0], "service_level_target": [0.9, 0.99]})
    out = compute_policies(f)
    assert out["policy"].tolist() == ["RS", "RS"]
    assert out["review_period"].tolist() == [1.0, 1.0]
    assert out["inventory_position"].tolist() == [0.0, 0.0]
    expected = [5 * 2 + stats.norm.ppf(0.9) * 2 * np.sqrt(2),
                50 * 4 + stats.norm.ppf(0.99) * 10 * 2]
    np.testing.assert_allclose(out["order_up_to"], expected)


def test_holding_cost_from_rate_and_periods_per_year_drives_eoq():
    out = compute_policies(frame(policy="sQ", demand_mean=100.0, unit_cost=10.0,
                                 holding_cost_rate=0.26, periods_per_year=[52.0, 12.0],
                                 ordering_cost=50.0, case_pack=1.0))
    # h = 10 * 0.26 / 52 = 0.05 -> EOQ sqrt(2*50*100/0.05) = 447.2 -> 448; monthly h = 0.2167.
    assert out["order_quantity"][0] == 448.0
    assert out["order_quantity"][1] == np.ceil(
        cost_policies.economic_order_quantity(100.0, 50.0, 10 * 0.26 / 12))


@pytest.mark.parametrize("column, value, match", [
    ("policy", "minmax", "policy.*use one of"),
    ("distribution", "lognormal", "distribution.*use one of"),
    ("service_level_target", 1.5, "strictly between 0 and 1"),
    ("service_level_type", "p3", "service_level_type"),
    ("case_pack", 0.0, "case_pack is a positive"),
    ("demand_std", -1.0, "non-negative"),
    ("demand_std_history", -1.0, "demand_std_history.*non-negative"),
])
def test_bad_values_raise_with_the_column_and_fix(column, value, match):
    with pytest.raises(InputDataError, match=match):
        compute_policies(frame(**{column: value}))


def test_missing_required_column_and_missing_target_raise():
    with pytest.raises(InputDataError, match="needs columns \\['lead_time_mean'\\]"):
        compute_policies(frame().drop(columns=["lead_time_mean"]))
    with pytest.raises(InputDataError, match="needs a positive stockout_cost"):
        compute_policies(frame(service_level_target=np.nan))
    with pytest.raises(InputDataError, match="holding_cost.*unit_cost and holding_cost_rate"):
        compute_policies(frame(service_level_target=np.nan, stockout_cost=5.0))


# --- properties --------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(target=st.floats(0.5, 0.995), bump=st.floats(0.0, 0.004), sigma=st.floats(0.0, 30.0),
       lead_std=st.floats(0.0, 2.0), distribution=st.sampled_from(["normal", "gamma", "negbin"]))
def test_safety_stock_is_non_decreasing_in_target_and_variability(target, bump, sigma, lead_std,
                                                                  distribution):
    out = compute_policies(frame(
        distribution=distribution, demand_mean=20.0,
        service_level_target=[target, target + bump, target, target],
        demand_std=[sigma, sigma, sigma + 1.0, sigma],
        lead_time_std=[lead_std, lead_std, lead_std, lead_std + 0.5],
    ))
    ss = out["safety_stock"].to_numpy()
    tol = 1e-7 * (1 + np.abs(ss[0]))
    if distribution == "normal":  # continuous: strict monotonicity holds as written
        assert ss[1] >= ss[0] - tol and ss[2] >= ss[0] - tol and ss[3] >= ss[0] - tol
    else:  # the rounded/skewed families: a larger spread never lowers the target quantile here
        assert ss[1] >= ss[0] - tol


@settings(max_examples=25, deadline=None)
@given(target=st.floats(0.5, 0.99), bump=st.floats(0.0, 0.009), q_periods=st.floats(0.5, 6.0),
       distribution=st.sampled_from(["normal", "poisson", "negbin", "gamma"]),
       policy=st.sampled_from(["sQ", "RS"]))
def test_fill_rate_level_meets_target_and_is_monotone(target, bump, q_periods, distribution,
                                                      policy):
    out = compute_policies(frame(distribution=distribution, demand_mean=6.0, demand_std=4.0,
                                 policy=policy, review_period=q_periods,
                                 service_level_type="fill_rate",
                                 service_level_target=[target, target + bump]))
    assert (out["expected_fill_rate"] >= out["service_level_target"] - 1e-9).all()
    assert out["reorder_point"][1] >= out["reorder_point"][0] - 1e-7


# --- Monte Carlo check of the chosen (R,S) levels ---------------------------------------------

@pytest.mark.parametrize("distribution", ["normal", "poisson"])
def test_rs_levels_reach_their_targets_in_simulation(distribution):
    rng = np.random.default_rng(2026)
    targets = [0.9, 0.95, 0.98, 0.9, 0.95, 0.98]
    kinds = ["csl"] * 3 + ["fill_rate"] * 3
    lead, review, mu, sigma = 2, 2, 8.0, 3.0
    out = compute_policies(frame(distribution=distribution, demand_mean=mu, demand_std=sigma,
                                 lead_time_mean=float(lead), review_period=float(review),
                                 service_level_type=kinds, service_level_target=targets))
    n_periods = 40_000
    shape = (len(targets), n_periods)  # (n_series, n_periods)
    if distribution == "poisson":
        demand = rng.poisson(mu, size=shape).astype(float)
    else:
        demand = rng.normal(mu, sigma, size=shape)
    fill, csl = ref.simulate_rs(out["order_up_to"].to_numpy(), demand, lead, review)
    # The model's own predictions are exact for this system (backorders, fixed lead time).
    np.testing.assert_allclose(csl, out["expected_csl"], atol=0.012)
    np.testing.assert_allclose(fill, out["expected_fill_rate"], atol=0.006)
    reached = np.where(np.array(kinds) == "csl", csl, fill)
    assert (reached >= np.array(targets) - 0.012).all()


# --- (s,S) and (R,s,S) -------------------------------------------------------------------------

def test_ss_and_rss_protect_demand_plus_undershoot_and_order_up_to_s_plus_q():
    out = compute_policies(frame(policy=["sS", "RsS"], demand_mean=100.0, demand_std=20.0,
                                 lead_time_mean=2.0, review_period=2.0, holding_cost=0.05,
                                 ordering_cost=50.0))
    q = np.ceil(np.sqrt(2 * 50 * 100 / 0.05))  # EOQ 447.2 -> 448
    assert out["order_quantity"].tolist() == [q, q]
    z = stats.norm.ppf(0.95)

    def undershoot(m, v):  # renewal moments of the undershoot of normal lumps (mean m, variance v)
        mean = (v + m**2) / (2 * m)
        return mean, (3 * m * v + m**3) / (3 * m) - mean**2

    # sS: X over L = 2 periods, lumps of one period; RsS: X over L + R = 4, lumps of R = 2 periods
    u1, var1 = undershoot(100.0, 400.0)  # 52, 1029.3
    u2, var2 = undershoot(200.0, 800.0)  # 102, 2662.7
    np.testing.assert_allclose(out["reorder_point"], [200 + u1 + z * np.sqrt(800 + var1),
                                                      400 + u2 + z * np.sqrt(1600 + var2)])
    np.testing.assert_allclose(out["order_up_to"], out["reorder_point"] + q)
    np.testing.assert_allclose(out["expected_csl"], [0.95, 0.95])
    # IP = 0 <= s: order up to S
    np.testing.assert_allclose(out["recommended_order_qty"], np.ceil(out["order_up_to"]))


@pytest.mark.parametrize("distribution", ["normal", "poisson", "gamma"])
def test_ss_levels_reach_their_targets_in_simulation(distribution):
    """(s,S) reviewed every period: the undershoot of s matters (here E[U] is about half a period's
    demand on top of a two-period lead time); the predicted service must match a simulation."""
    rng = np.random.default_rng(2027)
    targets = [0.9, 0.95, 0.98, 0.9, 0.95, 0.98]
    kinds = ["csl"] * 3 + ["fill_rate"] * 3
    lead, mu, sigma = 2, 10.0, 12.0
    out = compute_policies(frame(policy="sS", distribution=distribution, demand_mean=mu,
                                 demand_std=sigma, lead_time_mean=float(lead), holding_cost=0.05,
                                 ordering_cost=20.0, service_level_type=kinds,
                                 service_level_target=targets))
    shape = (len(targets), 40_000)
    if distribution == "poisson":
        demand = rng.poisson(mu, size=shape).astype(float)
    elif distribution == "gamma":
        demand = rng.gamma((mu / sigma) ** 2, sigma**2 / mu, size=shape)
    else:
        demand = np.maximum(rng.normal(mu, sigma, size=shape), 0.0)
    fill, csl = ref.simulate_ss(out["reorder_point"].to_numpy(), out["order_up_to"].to_numpy(),
                                demand, lead)
    tolerance = 0.03 if distribution == "normal" else 0.015  # the normal puts mass below 0
    np.testing.assert_allclose(csl[:3], out["expected_csl"][:3], atol=tolerance)
    np.testing.assert_allclose(fill, out["expected_fill_rate"], atol=0.01)
    reached = np.where(np.array(kinds) == "csl", csl, fill)
    assert (reached >= np.array(targets) - tolerance).all()


def test_cost_mode_ss_is_the_hadley_whitin_rq_with_s_equal_r_plus_q():
    common = dict(demand_mean=1300.0, demand_std=150.0, lead_time_mean=1 / 12,
                  service_level_target=np.nan, holding_cost=0.225, ordering_cost=8.0,
                  stockout_cost=7.5)
    rq = compute_policies(frame(policy="sQ", **common))
    ss = compute_policies(frame(policy="sS", **common))
    assert ss["reorder_point"][0] == pytest.approx(rq["reorder_point"][0])
    assert ss["order_up_to"][0] == pytest.approx(rq["reorder_point"][0] + rq["order_quantity"][0])


def test_empty_batch_returns_empty_frame_with_policy_columns():
    out = compute_policies(frame().iloc[:0])
    assert len(out) == 0 and "recommended_order_qty" in out.columns


def test_axsaeter_rq_poisson_fill_rate_equals_ready_rate_formula():
    # Axsaeter, Inventory Control 3rd ed., (R,Q) policy with Poisson demand: IP is uniform on
    # R+1..R+Q, so the fill rate (= ready rate for unit demands) is
    # (1/Q) sum_{k=R+1}^{R+Q} P(D(L) <= k - 1). Formula from the book; numbers computed here.
    out = compute_policies(frame(policy="sQ", distribution="poisson", demand_mean=2.0,
                                 lead_time_mean=3.0, review_period=4.0,
                                 service_level_type="fill_rate",
                                 service_level_target=[0.8, 0.9, 0.95, 0.99]))
    q = 8.0  # demand of max(R, 1) = 4 periods
    assert (out["order_quantity"] == q).all()
    for r, fill, target in zip(out["reorder_point"], out["expected_fill_rate"],
                               out["service_level_target"]):
        ready = np.mean(stats.poisson.cdf(np.arange(r + 1, r + q + 1) - 1, 6.0))
        assert fill == pytest.approx(ready, abs=1e-12)
        assert ready >= target
        below = np.mean(stats.poisson.cdf(np.arange(r, r + q) - 1, 6.0))
        assert below < target  # r is the smallest reorder point meeting the target


def test_snyder_shen_example_4_7_poisson_base_stock_through_the_face():
    # Snyder & Shen 2nd ed. Example 4.7: h = 1, p = 4, Poisson(6) per period, no lead time,
    # reviewed every period -> S* = 8.
    out = compute_policies(frame(distribution="poisson", demand_mean=6.0, lead_time_mean=0.0,
                                 service_level_target=np.nan, holding_cost=1.0,
                                 stockout_cost=4.0))
    assert out["order_up_to"][0] == 8.0


# --- empirical distribution from the forecast's error shape --------------------------------------

def _uniform_shape():
    from invspark.kernels.empirical_quantiles import SHAPE_LEVELS

    return list(np.sqrt(3.0) * (2.0 * np.asarray(SHAPE_LEVELS) - 1.0))  # U(-sqrt3, sqrt3): std 1


def test_empirical_rows_use_the_demand_shape_quantiles_and_fall_back_to_gamma_without_one():
    """RS over L + R = 4 periods, sigma 2 per period: X ~ mean 40 + 4 x U(-sqrt3, sqrt3), so
    S(q) = 40 + 4 sqrt3 (2q - 1); a row without a shape gets the gamma with the same moments."""
    out = compute_policies(frame(distribution="empirical", demand_mean=10.0, demand_std=2.0,
                                 lead_time_mean=3.0, review_period=1.0,
                                 service_level_target=[0.9, 0.97, 0.9],
                                 demand_shape=[_uniform_shape(), _uniform_shape(), None]))
    np.testing.assert_allclose(out["order_up_to"][:2], 40 + 4 * np.sqrt(3) * (2 * np.array([0.9, 0.97]) - 1))
    np.testing.assert_allclose(out["expected_csl"], [0.9, 0.97, 0.9])
    gamma = stats.gamma(a=40.0**2 / 16.0, scale=16.0 / 40.0)
    assert out["order_up_to"][2] == pytest.approx(gamma.ppf(0.9))


def test_empirical_fill_rate_level_meets_its_target():
    out = compute_policies(frame(distribution="empirical", demand_mean=10.0, demand_std=6.0,
                                 lead_time_mean=2.0, review_period=1.0, policy=["RS", "sQ", "sS"],
                                 service_level_type="fill_rate", service_level_target=0.95,
                                 demand_shape=[_uniform_shape()] * 3))
    np.testing.assert_allclose(out["expected_fill_rate"], 0.95, atol=1e-6)


def test_lumpy_negative_binomial_rows_take_the_higher_quantile_of_the_demands_own_law():
    """RS at a CSL target over L + R = 2 periods, per-period mean 1.5: the forecast's std 4 gives
    NB(mean 3, var 32), the history's std 2 gives NB(mean 3, var 8); the level is the larger of
    their quantiles (kernels.demand_over_interval, dispersion floor) and the expected CSL is the
    envelope's min(F, G) at it."""
    targets = [0.5, 0.7, 0.9, 0.98]
    rows = frame(demand_mean=1.5, demand_std=4.0, demand_std_history=[2.0] * 4 + [None] * 4,
                 lead_time_mean=1.0, review_period=1.0, distribution="negbin",
                 service_level_target=targets * 2)
    out = compute_policies(rows)
    forecast_law, own_law = stats.nbinom(9 / 29, 3 / 32), stats.nbinom(9 / 5, 3 / 8)
    expected = [max(forecast_law.ppf(a), own_law.ppf(a)) for a in targets]
    assert out["order_up_to"][:4].tolist() == expected
    assert out["order_up_to"][4:].tolist() == [forecast_law.ppf(a) for a in targets]
    assert expected[0] > forecast_law.ppf(0.5) and expected[-1] == forecast_law.ppf(0.98)
    np.testing.assert_allclose(out["expected_csl"][:4],
                               [min(forecast_law.cdf(s), own_law.cdf(s)) for s in expected])
    assert (out["expected_csl"][:4] >= np.array(targets)).all()


def test_intermittent_rows_take_the_compound_binomial_quantile_of_their_history():
    """RS, L + R = 2 periods, per-period mean 0.9 and forecast std 1.8: F = NB(mean 1.8, var 6.48).
    A history with a demand one period in three (ADI 3) of sizes with CV² 0.25 gives the compound
    binomial G of kernels.compound_demand; the level is the smallest whole S with min(F, G) >= the
    target. A frequent history (ADI 1.2) keeps the std floor."""
    targets = [0.5, 0.7, 0.8, 0.95]
    rows = frame(demand_mean=0.9, demand_std=1.8, demand_std_history=1.5, adi=[3.0] * 4 + [1.2] * 4,
                 cv2_size=0.25, lead_time_mean=1.0, review_period=1.0, distribution="negbin",
                 service_level_target=targets * 2)
    out = compute_policies(rows)
    forecast_law = stats.nbinom(3.24 / 4.68, 1.8 / 6.48)
    own = CompoundBinomial.with_mean(np.array([1.8]), np.array([2.0]), np.array([1 / 3]), np.array([0.25]))
    envelope = np.minimum(forecast_law.cdf(np.arange(60)), own.cdf_grid(60)[0])
    assert out["order_up_to"][:4].tolist() == [np.argmax(envelope >= a) for a in targets]
    np.testing.assert_allclose(out["expected_csl"][:4], [envelope[np.argmax(envelope >= a)] for a in targets])
    std_floor = stats.nbinom(3.24 / (2 * 2.25 - 1.8), 1.8 / (2 * 2.25))
    assert out["order_up_to"][4:].tolist() == [max(forecast_law.ppf(a), std_floor.ppf(a)) for a in targets]
    assert out["order_up_to"][1] > out["order_up_to"][5]  # the bump at one demand's size


@pytest.mark.parametrize("column, value, message", [("adi", 0.5, "adi.*at least 1"), ("cv2_size", -0.1, "cv2_size.*non-negative")])
def test_bad_history_statistics_are_refused(column, value, message):
    with pytest.raises(InputDataError, match=message):
        compute_policies(frame(demand_mean=1.0, demand_std=1.0, lead_time_mean=1.0, **{column: value}))


def test_fill_rate_level_stops_at_the_0999_quantile_and_flags_the_row():
    """An item that has all but stopped selling (mean 0.001 per period) with the spread of its past
    sales (std 1): a 0.90 fill rate under that negative binomial needs an order-up-to level in the
    hundreds of thousands. The level stops at the 0.999 quantile of demand over L + R
    (kernels.service_policies.FILL_RATE_MAX_CSL), the expected fill rate says what it buys, and the
    row is flagged; a fast mover's fill-rate level is the uncapped smallest level meeting it."""
    rows = frame(demand_mean=[0.001, 50.0], demand_std=[1.0, 10.0], distribution=["negbin", "normal"],
                 lead_time_mean=1.0, review_period=1.0, service_level_type="fill_rate", service_level_target=0.9)
    out = compute_policies(rows)
    interval = stats.nbinom(0.002**2 / (2.0 - 0.002), 0.002 / 2.0)  # mean 0.002, variance 2 over L + R
    assert out["order_up_to"][0] == interval.ppf(0.999)
    assert out["expected_fill_rate"][0] < 0.9
    assert out["exception"][0] == "fill_rate_capped"
    assert out["expected_fill_rate"][1] == pytest.approx(0.9, abs=1e-6)
    assert out["exception"][1] is None

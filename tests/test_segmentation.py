"""Segmentation: Syntetos-Boylan patterns, XYZ classes, lifecycle, against a per-series loop."""

from __future__ import annotations

import numpy as np
import pytest

from invspark.kernels import segmentation
from reference.segmentation_reference import demand_statistics_one, lifecycle_one


def random_panel(seed: int, n: int = 40, periods: int = 30):
    """Random panel with the awkward rows: all-NaN, all-censored, constant, single sale, late start."""
    rng = np.random.default_rng(seed)
    units = rng.poisson(rng.gamma(0.5, 4.0, (n, 1)), (n, periods)).astype(float)
    units[rng.random((n, periods)) < 0.1] = np.nan
    censored = rng.random((n, periods)) < 0.1
    units[0] = np.nan
    censored[1] = True
    units[2] = 5.0
    units[3] = 0.0
    units[3, 7] = 2.0
    units[4, :20] = np.nan
    units[5] = 0.0
    return units, censored


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demand_statistics_match_per_series_loop(seed):
    units, censored = random_panel(seed)
    stats = segmentation.demand_statistics(units, censored)
    for i in range(units.shape[0]):
        expected = demand_statistics_one(units[i], censored[i])
        for key, value in expected.items():
            np.testing.assert_allclose(stats[key][i], value, rtol=1e-12, err_msg=f"row {i} {key}")


def test_single_period_series():
    stats = segmentation.demand_statistics(np.array([[3.0], [np.nan]]), np.array([[False], [False]]))
    assert stats["adi"][0] == 1.0 and stats["cv2_size"][0] == 0.0 and stats["cv"][0] == 0.0
    assert stats["n_observed"][1] == 0 and stats["first_sale"][1] == -1 and np.isinf(stats["adi"][1])


def test_syntetos_boylan_croston_2005_cutoffs():
    # the four quadrants of Syntetos, Boylan & Croston (2005), Figure 2, and the boundaries
    adi = np.array([1.0, 1.0, 2.0, 2.0, 1.32, 1.3199, 1.0])
    cv2 = np.array([0.2, 0.8, 0.2, 0.8, 0.2, 0.2, 0.49])
    assert list(segmentation.demand_pattern(adi, cv2)) == [
        "smooth", "erratic", "intermittent", "lumpy", "intermittent", "smooth", "erratic",
    ]


def test_pattern_from_a_hand_built_series():
    # sizes 4 and 8 every other period: ADI = 6 observed / 3 non-zero = 2, sizes 4,8,4 -> mean 16/3,
    # variance 32/9, CV^2 = (32/9)/(256/9) = 0.125 -> intermittent
    units = np.array([[4.0, 0.0, 8.0, 0.0, 4.0, 0.0]])
    stats = segmentation.demand_statistics(units, np.zeros_like(units, dtype=bool))
    assert stats["adi"][0] == pytest.approx(2.0)
    assert stats["cv2_size"][0] == pytest.approx(0.125)
    assert segmentation.demand_pattern(stats["adi"], stats["cv2_size"])[0] == "intermittent"


def test_censored_zero_is_not_a_zero_demand_period():
    units = np.array([[5.0, 0.0, 5.0, 0.0, 5.0]])
    censored = np.array([[False, True, False, True, False]])
    stats = segmentation.demand_statistics(units, censored)
    assert stats["adi"][0] == 1.0  # the stock-out zeros are not intervals without demand
    assert segmentation.demand_pattern(stats["adi"], stats["cv2_size"])[0] == "smooth"


def test_xyz_cutoffs_inclusive():
    assert list(segmentation.xyz_class(np.array([0.0, 0.5, 0.51, 1.0, 1.01, np.inf]))) == ["X", "X", "Y", "Y", "Z", "Z"]
    assert list(segmentation.xyz_class(np.array([0.3]), x_cutoff=0.25, y_cutoff=0.3)) == ["Y"]


@pytest.mark.parametrize("seed", [0, 3])
def test_lifecycle_matches_per_series_loop(seed):
    units, censored = random_panel(seed)
    got = segmentation.lifecycle(units, censored, min_history=12, inactive_window=5)
    expected = [lifecycle_one(units[i], censored[i], 12, 5) for i in range(units.shape[0])]
    assert list(got) == expected


def test_lifecycle_examples():
    periods = 20
    units = np.ones((4, periods))
    units[0, :15] = np.nan  # first sale 5 periods before the end: new
    units[1, -6:] = 0.0  # six empty periods: inactive
    units[2, -6:] = 0.0  # same, but the last period was a stock-out: still active
    censored = np.zeros_like(units, dtype=bool)
    censored[2, -1] = True
    life = segmentation.lifecycle(units, censored, min_history=8, inactive_window=6)
    assert list(life) == ["new", "inactive", "active", "active"]


def test_segment_labels_and_missing_abc():
    labels = segmentation.segment_labels(
        np.array(["A", None, "B"], dtype=object), np.array(["X", "Y", "Z"], dtype=object),
        np.array(["smooth", "lumpy", "erratic"], dtype=object), np.array(["active", "active", "new"], dtype=object),
    )
    assert list(labels) == ["AX-smooth", "CY-lumpy", "new"]

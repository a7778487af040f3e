"""Inequality and concentration metrics (abm.analysis) on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.analysis import concentration, gini, hhi, top_share


def test_gini_hand_examples():
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)  # (n - 1) / n
    # Sorted 1, 2, 3, 4: 2 x (1 + 4 + 9 + 16) / (4 x 10) - 5/4 = 0.25.
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)
    # Mean absolute difference over twice the mean: pairs of (1, 3): |1-3| x 2 / 4 / (2 x 2).
    assert gini([1, 3]) == pytest.approx(0.25)


def test_gini_is_scale_and_order_invariant():
    x = np.array([3.0, 0.0, 7.0, 1.0, 9.0])
    assert gini(x) == pytest.approx(gini(1_000_000 * x))
    assert gini(x) == pytest.approx(gini(x[::-1]))


def test_hhi_hand_examples():
    assert hhi([1, 1, 1, 1]) == pytest.approx(0.25)
    assert hhi([0, 0, 5]) == 1.0
    # Shares 0.5, 0.3, 0.2: 0.25 + 0.09 + 0.04.
    assert hhi([50, 30, 20]) == pytest.approx(0.38)


def test_top_share_hand_examples():
    assert top_share([1, 2, 3, 94]) == pytest.approx(0.94)  # top 1% of 4 is one holder
    assert top_share([1, 1, 1, 1], fraction=0.5) == pytest.approx(0.5)
    # 200 holders: the top 1% is two of them.
    values = [1] * 198 + [51, 51]
    assert top_share(values) == pytest.approx(102 / 300)
    assert top_share([10, 20, 30], fraction=1.0) == 1.0


def test_undefined_inputs_give_nan_and_bad_ones_raise():
    for metric in (gini, hhi, top_share):
        assert math.isnan(metric([]))
        assert math.isnan(metric([0, 0]))
        with pytest.raises(ValueError, match="non-negative"):
            metric([1, -1])
    with pytest.raises(ValueError, match="fraction"):
        top_share([1, 2], fraction=0)


def test_concentration_bundles_the_three():
    assert concentration([0, 0, 0, 1]) == {
        "holders": 4,
        "gini": pytest.approx(0.75),
        "hhi": 1.0,
        "top_share": 1.0,
        "top_fraction": 0.01,
    }

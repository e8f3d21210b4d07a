"""Paired two-way bootstrap comparison (automatch_lib.evaluation.compare)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from automatch_lib.evaluation.compare import compare, paired_difference, verdict


def _scores(n_seeds=3, n_sequences=100, seed=0):
    """(n_seeds, n_sequences) AUC-like scores in [0.2, 0.8]."""
    return np.random.default_rng(seed).uniform(0.2, 0.8, (n_seeds, n_sequences))


def test_clearly_better_and_swapped_worse():
    rng = np.random.default_rng(1)
    b = _scores(seed=2)
    a = b + 0.1 + rng.normal(0, 0.02, b.shape)
    res = paired_difference(a, b)
    low, high = res["ci95"]
    assert res["verdict"] == "better"
    assert 0 < low <= 0.1 <= high
    assert low <= res["diff"] <= high
    assert res["half_width"] == pytest.approx((high - low) / 2)
    swapped = paired_difference(b, a)
    assert swapped["verdict"] == "worse"
    assert swapped["ci95"][1] < 0 and swapped["ci95"][0] <= -0.1 <= swapped["ci95"][1]
    assert swapped["diff"] == pytest.approx(-res["diff"])


def test_pure_noise_gives_no_detectable_difference():
    a, b = _scores(seed=10), _scores(seed=11)  # iid from the same distribution
    res = paired_difference(a, b)
    low, high = res["ci95"]
    assert low < 0 < high
    assert res["verdict"] == "no detectable difference"


def test_interval_narrows_with_more_sequences():
    rng = np.random.default_rng(3)
    d_small = rng.normal(0.02, 0.1, (3, 25))
    d_large = rng.normal(0.02, 0.1, (3, 400))
    zeros_small, zeros_large = np.zeros_like(d_small), np.zeros_like(d_large)
    hw_small = paired_difference(d_small, zeros_small)["half_width"]
    hw_large = paired_difference(d_large, zeros_large)["half_width"]
    assert hw_large < 0.6 * hw_small  # ~ sqrt(25 / 400) = 0.25 expected


def test_seed_variation_widens_interval():
    rng = np.random.default_rng(4)
    b = _scores(seed=5)
    a = b + 0.05 + rng.normal(0, 0.05, b.shape)
    shifted = a.copy()
    shifted[0] += 0.3  # seed 0 is much better on every sequence; seeds 1 and 2 are not
    plain = paired_difference(a, b)
    seedy = paired_difference(shifted, b)
    # a sequences-only bootstrap would give the same width for both (the shift is constant across columns)
    assert seedy["half_width"] > 3 * plain["half_width"]
    assert seedy["diff"] == pytest.approx(plain["diff"] + 0.1)


def test_deterministic_and_seed_used():
    a, b = _scores(seed=6), _scores(seed=7)
    assert paired_difference(a, b, seed=3) == paired_difference(a, b, seed=3)
    assert compare("x", "y", a, b) == compare("x", "y", a, b)
    assert paired_difference(a, b, seed=3)["ci95"] != paired_difference(a, b, seed=4)["ci95"]


def test_single_seed_bootstraps_sequences_only():
    a, b = _scores(1, 50, seed=8), _scores(1, 50, seed=9)
    res = paired_difference(a + 0.3, b)
    assert res["verdict"] == "better"
    assert res["ci95"][0] < res["diff"] < res["ci95"][1]
    assert res == paired_difference(a + 0.3, b)


@pytest.mark.parametrize("a, b, match", [
    (np.zeros((3, 10)), np.zeros((3, 11)), r"same shape.*\(3, 10\).*\(3, 11\)"),
    (np.zeros(10), np.zeros(10), r"2-D.*\(10,\)"),
    (np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), r"2-D.*\(2, 3, 4\)"),
    (np.zeros((3, 1)), np.zeros((3, 1)), r"at least 2 sequences"),
    (np.zeros((0, 5)), np.zeros((0, 5)), r"at least 1 seed"),
    (np.array([[0.1, np.nan, 0.3]]), np.zeros((1, 3)), r"a .*NaN"),
    (np.zeros((2, 3)), np.array([[0.1, 0.2, 0.3], [0.1, np.inf, 0.3]]), r"b .*non-finite"),
])
def test_input_errors(a, b, match):
    with pytest.raises(ValueError, match=match):
        paired_difference(a, b)
    with pytest.raises(ValueError, match=match):
        compare("x", "y", a, b)


def test_compare_is_json_ready():
    a, b = _scores(seed=12), _scores(seed=13)
    out = compare("automatch", "baseline", a, b, n_resamples=500)
    assert set(out) == {"a", "b", "diff", "ci95", "half_width", "verdict", "a_seeds", "b_seeds",
                        "n_seeds", "n_sequences"}
    assert json.loads(json.dumps(out)) == out
    assert out["a"] == "automatch" and out["b"] == "baseline"
    assert out["n_seeds"] == 3 and out["n_sequences"] == 100
    assert type(out["n_seeds"]) is int and type(out["n_sequences"]) is int
    for x in [out["diff"], out["half_width"], *out["ci95"], *out["a_seeds"], *out["b_seeds"]]:
        assert type(x) is float and x == round(x, 4)
    assert out["a_seeds"] == pytest.approx(a.mean(axis=1), abs=5e-5)
    assert out["b_seeds"] == pytest.approx(b.mean(axis=1), abs=5e-5)
    full = paired_difference(a, b, n_resamples=500)
    assert out["diff"] == round(full["diff"], 4) and out["verdict"] == full["verdict"]


@pytest.mark.parametrize("va, vb, expected", [(0.7, 0.5, "better"), (0.5, 0.7, "worse"),
                                              (0.6, 0.6, "no detectable difference")])
def test_degenerate_constant_difference(va, vb, expected):
    a, b = np.full((3, 20), va), np.full((3, 20), vb)
    c = va - vb
    res = paired_difference(a, b)
    assert res["ci95"] == [c, c] and res["diff"] == c and res["half_width"] == 0
    assert res["verdict"] == expected
    single = paired_difference(a[:1], b[:1])
    assert single["ci95"] == [c, c] and single["verdict"] == expected


def test_nearly_constant_difference_does_not_crash():
    b = _scores(seed=14)
    res = paired_difference(b + 0.05, b)  # differences equal up to rounding
    assert res["ci95"] == pytest.approx([0.05, 0.05]) and res["verdict"] == "better"


def test_verdict():
    assert verdict(0.01, 0.2) == "better"
    assert verdict(-0.2, -0.01) == "worse"
    assert verdict(-0.1, 0.1) == "no detectable difference"
    assert verdict(0.0, 0.1) == "no detectable difference"
    assert verdict(-0.1, 0.0) == "no detectable difference"

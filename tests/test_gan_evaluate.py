"""Mode-collapse metrics against cases whose answers are known by construction."""

import numpy as np
import pytest

from descend.gan.evaluate import class_coverage, mode_report, near_duplicate_rate

RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)


def _draw(rng, modes, counts, std):
    return np.concatenate([m + std * rng.standard_normal((c, 2)) for m, c in zip(modes, counts)])


def test_perfect_generator_covers_every_mode_with_zero_kl():
    rng = np.random.default_rng(0)
    x = _draw(rng, RING, [2500 // 8 + 1] * 8, 0.01)[:2500]
    r = mode_report(x, RING, 0.01)
    assert r.modes_covered == 8
    # within 3 sigma of a 2-D Gaussian: 1 - exp(-9/2) = 98.9 % of samples
    assert r.high_quality == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    assert r.reverse_kl < 0.01


def test_collapsed_generator_scores_one_mode_and_log_k():
    rng = np.random.default_rng(1)
    x = RING[3] + 0.005 * rng.standard_normal((2500, 2))
    r = mode_report(x, RING, 0.01)
    assert (r.modes_covered, r.high_quality) == (1, 1.0)
    assert r.reverse_kl == pytest.approx(np.log(8))  # all mass on one of eight modes
    assert r.counts[3] == 2500


def test_half_the_modes_gives_log_two():
    rng = np.random.default_rng(2)
    x = _draw(rng, RING[:4], [500] * 4, 0.01)
    r = mode_report(x, RING, 0.01)
    assert r.modes_covered == 4
    assert r.reverse_kl == pytest.approx(np.log(2), abs=1e-3)


def test_samples_between_modes_are_low_quality_and_cover_nothing():
    mid = (RING[0] + RING[1]) / 2
    r = mode_report(np.tile(mid, (100, 1)), RING, 0.01)
    assert (r.modes_covered, r.high_quality, r.reverse_kl) == (0, 0.0, float("inf"))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(8, 2\)"):
        mode_report(np.zeros((5, 3)), RING, 0.01)


def test_class_coverage_and_duplicates():
    c = class_coverage(np.array([0, 0, 1, 1]), 4)
    assert c["classes_covered"] == 2 and c["entropy"] == pytest.approx(np.log(2) / np.log(4))
    same = np.zeros((10, 4))
    assert near_duplicate_rate(same) == 1.0
    spread = np.eye(10) * 10
    assert near_duplicate_rate(spread) == 0.0

"""collinearity.py: the collision finder, the distance to mixup points, the mixup-optimal prediction."""
import itertools

import numpy as np
import pytest
import torch

from mixupbook.collinearity import (find_collisions, has_collision, lam_interval, mixup_conditional_label,
                                    mixup_distances, mixup_optimal_prediction, sampled_mixup_distances)

# a hand-built set with one known collision: (1, 1) of class 0 is the midpoint of (0, 0) and (2, 2), class 1
X_HIT = np.array([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0], [0.0, 3.0]])
Y_HIT = np.array([1, 1, 0, 0])


def test_known_collision_is_found_with_its_weight():
    df = find_collisions(X_HIT, Y_HIT)
    assert len(df) == 1
    row = df.iloc[0]
    assert (row.point, row.a, row.b) == (2, 0, 1) and row.lam == pytest.approx(0.5) and row.distance < 1e-12
    assert has_collision(X_HIT, Y_HIT)


def test_no_collision_after_moving_the_point_off_the_segment():
    x = X_HIT.copy()
    x[2] = [1.0, 1.1]
    assert find_collisions(x, Y_HIT).empty and not has_collision(x, Y_HIT)

def test_tolerance_decides():
    x = X_HIT.copy()
    x[2] = [1.0, 1.1]                        # distance 0.1 / sqrt(2) = 0.0707 from the segment
    assert find_collisions(x, Y_HIT, tol=0.07).empty
    assert len(find_collisions(x, Y_HIT, tol=0.071)) == 1


def test_alternating_line_and_class_rules():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0, 1, 0])
    df = find_collisions(x, y)
    assert list(zip(df.point, df.a, df.b)) == [(1, 0, 2)]
    # the point 0 lies on no open segment; end points never count
    x4, y4 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1])
    assert find_collisions(x4, y4, classes="both_other").empty
    # "any_other": 1 (class 0) lies inside (0, 2) and (0, 3), whose other end is class 1
    hits = find_collisions(x4, y4, classes="any_other")
    assert set(zip(hits.point, hits.a, hits.b)) >= {(1, 0, 2), (1, 0, 3), (2, 1, 3), (2, 0, 3)}
    with pytest.raises(ValueError, match="classes"):
        find_collisions(x, y, classes="some")
    with pytest.raises(ValueError, match="tol"):
        find_collisions(x, y, tol=-1.0)


def test_equal_points_with_different_labels_count_as_collision():
    assert has_collision(np.array([[0.0], [0.0], [5.0]]), np.array([0, 1, 0]))


def _brute_distance(x, y, lo, hi, distinct=False, classes="both_other"):
    out = []
    for k in range(len(x)):
        best = np.inf
        for a, b in itertools.combinations(range(len(x)), 2):
            other = (y[a] != y[k], y[b] != y[k])
            if not (all(other) if classes == "both_other" else any(other)) or k in (a, b) or (distinct and y[a] == y[b]):
                continue
            for lam in np.linspace(lo, hi, 2001):
                best = min(best, np.linalg.norm(x[k] - lam * x[a] - (1 - lam) * x[b]))
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("alpha,distinct", [(None, False), (4.0, False), (4.0, True)])
def test_mixup_distances_match_brute_force(alpha, distinct):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    lo, hi = lam_interval(alpha, 0.9)
    fast = mixup_distances(x, y, alpha, 0.9, distinct=distinct, max_elements=37).numpy()  # tiny blocks
    slow = _brute_distance(x, y, lo, hi, distinct)
    assert np.allclose(fast, slow, atol=2e-3)   # the brute force grids lam in steps of (hi - lo) / 2000
    assert np.all(fast <= slow + 1e-12)          # exact projection never loses to the grid


def test_mixup_distance_is_zero_at_a_collision_and_blocks_do_not_matter():
    d = mixup_distances(X_HIT, Y_HIT, alpha=1024.0)
    assert float(d[2]) < 1e-7                  # the colliding point
    # (0, 0) to the part of the segment (1, 1)-(0, 3) that Beta(1024, 1024) uses: nearest at its end
    lo, _ = lam_interval(1024.0)
    assert float(d[0]) == pytest.approx(np.hypot(1 - lo, 1 + 2 * lo), abs=1e-9)
    assert torch.allclose(d, mixup_distances(X_HIT, Y_HIT, alpha=1024.0, max_elements=1))
    with pytest.raises(ValueError, match="max_elements"):
        mixup_distances(X_HIT, Y_HIT, max_elements=0)
    with pytest.raises(ValueError, match="alpha"):
        lam_interval(-1.0)


def test_mixup_optimal_prediction_on_the_counterexample():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0, 1, 0])
    # with self-pairs the point mass of (1, 1) wins at x = 1: class 1, for every alpha
    for alpha in (0.5, 1.0, 32.0):
        p = mixup_optimal_prediction(x, y, [[1.0]], alpha, self_pairs=True, eps=1e-8)
        assert p[0, 1] == pytest.approx(1.0, abs=1e-6)
    # without: alpha = 1 gives 2/3 to class 1; alpha > 1 gives class 0; alpha < 1 class 1
    p1 = mixup_optimal_prediction(x, y, [[1.0]], 1.0, self_pairs=False, eps=1e-8)[0, 1]
    p32 = mixup_optimal_prediction(x, y, [[1.0]], 32.0, self_pairs=False, eps=1e-8)[0, 1]
    p05 = mixup_optimal_prediction(x, y, [[1.0]], 0.5, self_pairs=False, eps=1e-8)[0, 1]
    assert p1 == pytest.approx(2 / 3, abs=1e-6) and p32 < 1e-6 and p05 > 0.99
    # off every segment (here: outside [0, 2]) there is no mixup mass
    assert np.isnan(mixup_optimal_prediction(x, y, [[3.0]], 1.0)).all()


def test_conditional_label_matches_monte_carlo(gen):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 2)), np.eye(2)[[0, 1, 1, 0]]
    point, eps, alpha = 0.5 * (x[0] + x[1]), 0.4, 2.0
    label, mass = mixup_conditional_label(x, y, point, eps, alpha, self_pairs=True)
    n = 400000
    i, j = rng.integers(0, 4, (2, n))
    lam = rng.beta(alpha, alpha, n)
    z = lam[:, None] * x[i] + (1 - lam[:, None]) * x[j]
    inside = np.linalg.norm(z - point, axis=1) < eps
    ymix = lam[:, None] * y[i] + (1 - lam[:, None]) * y[j]
    assert abs(inside.mean() - mass) < 4 * np.sqrt(mass * (1 - mass) / n)
    mc = ymix[inside, 1]
    assert abs(mc.mean() - label[1]) < 4 * mc.std() / np.sqrt(len(mc))


def test_both_other_condition_is_not_enough_without_self_pairs():
    # 0.8 (class 0) lies between 0 (class 0) and 1 (class 1), nearer the class-1 end: no
    # "both_other" collision, an "any_other" one, and the optimum without self-pairs is class 1
    x, y = np.array([0.0, 0.8, 1.0]), np.array([0, 0, 1])
    assert find_collisions(x, y, classes="both_other").empty
    assert not find_collisions(x, y, classes="any_other").empty
    g = mixup_optimal_prediction(x, y, [[0.8]], 32.0, self_pairs=False, eps=1e-8)[0]
    assert g[1] == pytest.approx(0.8, abs=1e-6)
    assert mixup_optimal_prediction(x, y, [[0.8]], 32.0, self_pairs=True, eps=1e-8)[0, 0] > 0.99


@pytest.mark.parametrize("alpha", [None, 4.0])
def test_any_other_class_rule_matches_brute_force_and_skips_the_query(alpha):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((11, 3)), rng.integers(0, 3, 11)
    lo, hi = lam_interval(alpha, 0.9)
    fast = mixup_distances(x, y, alpha, 0.9, classes="any_other", max_elements=29).numpy()
    slow = _brute_distance(x, y, lo, hi, classes="any_other")
    assert np.allclose(fast, slow, atol=2e-3) and np.all(fast <= slow + 1e-12)
    # more segments than "both_other", so never farther; the query is never its own segment's end
    assert np.all(fast <= mixup_distances(x, y, alpha, 0.9).numpy() + 1e-12) and np.all(fast > 0)
    # with x_ref given, query_rows says which reference row each query is
    ref = mixup_distances(x[:4], y[:4], alpha, 0.9, x_ref=x, y_ref=y, classes="any_other", query_rows=np.arange(4))
    assert torch.allclose(ref, torch.as_tensor(fast[:4]))
    with pytest.raises(ValueError, match="classes"):
        mixup_distances(x, y, classes="neither")
    with pytest.raises(ValueError, match="query_rows"):
        mixup_distances(x, y, classes="any_other", query_rows=[0, 1])


def test_sampled_distances_follow_the_authors_protocol():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 4, 40)
    d = sampled_mixup_distances(x, y, 1024.0, torch.Generator().manual_seed(0)).numpy()
    again = sampled_mixup_distances(x, y, 1024.0, torch.Generator().manual_seed(0)).numpy()
    assert np.array_equal(d, again)
    # the same draws by hand: one mixup point per point, partner uniform, both classes other than y_k
    g = torch.Generator().manual_seed(0)
    partner = torch.randint(0, 40, (40,), generator=g).numpy()
    from mixupbook.lam import Beta
    lam = Beta(1024.0).sample(40, g).double().numpy()
    z = lam[:, None] * x + (1 - lam[:, None]) * x[partner]
    hand = [min(np.linalg.norm(x[k] - z[j]) for j in range(40) if y[j] != y[k] and y[partner[j]] != y[k])
            for k in range(40)]
    assert np.allclose(d, hand, atol=1e-12)
    # a sample of the segments: never closer than the exact distance to whole segments
    assert np.all(d >= mixup_distances(x, y, alpha=None).numpy() - 1e-12)
    with pytest.raises(ValueError, match="rounds"):
        sampled_mixup_distances(x, y, rounds=0)

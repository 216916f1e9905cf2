"""Orthogonality, alignment and disentanglement metrics on cases with known answers."""

import itertools
import math

import numpy as np
import pytest

from companion.ppca.metrics import (
    collapsed_directions, column_cosines, dead_columns, distance_to_orthogonality, matched_angles,
    mean_abs_cosine, nearest_signed_permutation, principal_directions, retained_variance, sap_score,
)


def rotation(theta):
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def orthonormal(rows, columns, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(rows, columns)))[0]


def test_dto_of_orthogonal_columns_in_any_order_and_sign_is_zero():
    signed_permutation = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    jacobian = orthonormal(7, 3) @ np.diag([3.0, 2.0, 0.5]) @ signed_permutation
    assert distance_to_orthogonality(jacobian) == pytest.approx(0.0, abs=1e-12)
    assert distance_to_orthogonality(signed_permutation) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("theta", [0.1, 0.4, math.pi / 4])
def test_dto_of_a_rotated_decoder(theta):
    # J = Q diag(3, 1) R(θ)ᵀ has V = R(θ); its nearest signed permutation is I, so DtO² = 4 − 4 cos θ
    jacobian = orthonormal(5, 2) @ np.diag([3.0, 1.0]) @ rotation(theta).T
    assert distance_to_orthogonality(jacobian) == pytest.approx(2 * math.sqrt(1 - math.cos(theta)), rel=1e-9)
    stacked = np.stack([jacobian, orthonormal(5, 2)])
    assert distance_to_orthogonality(stacked) == pytest.approx(math.sqrt(1 - math.cos(theta)), rel=1e-9)


def columns_at_cosine(cosine, scale=1.0):
    basis = orthonormal(6, 2, seed=4)
    return np.stack([basis[:, 0], scale * (cosine * basis[:, 0] + math.sqrt(1 - cosine ** 2) * basis[:, 1])], axis=1)


def test_dto_goes_to_zero_when_a_column_collapses_whatever_the_angle():
    # columns at |cos| 0.78: far from orthogonal (DtO 1.08); scale one by 0.03 and DtO is 0.033
    assert mean_abs_cosine(columns_at_cosine(0.78)) == pytest.approx(0.78)
    assert distance_to_orthogonality(columns_at_cosine(0.78)) == pytest.approx(1.0824, abs=1e-4)
    collapsed = columns_at_cosine(0.78, scale=0.03)
    assert mean_abs_cosine(collapsed) == pytest.approx(0.78)
    assert distance_to_orthogonality(collapsed) == pytest.approx(0.0331, abs=1e-4)


def test_dto_of_orthogonal_columns_with_equal_norms_depends_on_the_svd():
    # JᵀJ = I: every V is a valid right-singular basis, so DtO is not forced to 0
    basis = orthonormal(5, 2)
    assert mean_abs_cosine(basis) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 <= distance_to_orthogonality(basis) <= 2 * math.sqrt(1 - math.cos(math.pi / 4)) + 1e-9


def test_retained_variance_is_the_ppca_posterior_variance():
    loadings = columns_at_cosine(0.0) @ np.diag([2.0, 0.3])
    posterior = np.linalg.inv(loadings.T @ loadings / 0.5 ** 2 + np.eye(2))
    assert np.diag(posterior) == pytest.approx(retained_variance([2.0, 0.3], 0.5))
    with pytest.raises(ValueError, match="noise_std=0"):
        retained_variance([1.0], 0)


def test_a_dead_column_is_detected_and_a_live_one_is_not():
    assert dead_columns(columns_at_cosine(0.78, scale=0.03), noise_std=0.1) == 1
    assert collapsed_directions(columns_at_cosine(0.78, scale=0.03), noise_std=0.1) == 1
    assert dead_columns(columns_at_cosine(0.78), noise_std=0.1) == 0
    assert collapsed_directions(columns_at_cosine(0.78), noise_std=0.1) == 0
    # the threshold σ/3: a column of norm 0.3 is live at σ = 0.5 only if above 0.5/3
    assert dead_columns(columns_at_cosine(0.0, scale=0.18), noise_std=0.5) == 0
    assert dead_columns(columns_at_cosine(0.0, scale=0.15), noise_std=0.5) == 1
    assert dead_columns(np.zeros((6, 2)), noise_std=0.1) == 2


def test_parallel_live_columns_collapse_a_direction_but_no_column():
    parallel = columns_at_cosine(0.9999)
    assert dead_columns(parallel, noise_std=0.1) == 0
    assert collapsed_directions(parallel, noise_std=0.1) == 1
    stack = np.stack([parallel, columns_at_cosine(0.0), columns_at_cosine(0.0)])
    assert collapsed_directions(stack, noise_std=0.1) == 0  # a third of the points: mean share below 0.9


def test_nearest_signed_permutation_beats_every_other_signed_permutation():
    matrix = np.random.default_rng(3).normal(size=(3, 3))
    best = np.linalg.norm(matrix - nearest_signed_permutation(matrix))
    for order in itertools.permutations(range(3)):
        for signs in itertools.product([-1.0, 1.0], repeat=3):
            candidate = np.zeros((3, 3))
            candidate[range(3), order] = signs
            assert best <= np.linalg.norm(matrix - candidate) + 1e-12


def test_cosines_between_columns_at_a_known_angle():
    basis = orthonormal(4, 2)
    loadings = np.stack([2 * basis[:, 0], 0.5 * (math.cos(1.0) * basis[:, 0] + math.sin(1.0) * basis[:, 1])], axis=1)
    assert column_cosines(loadings)[0, 1] == pytest.approx(math.cos(1.0))
    assert mean_abs_cosine(-loadings) == pytest.approx(math.cos(1.0))
    assert mean_abs_cosine(basis) == pytest.approx(0.0, abs=1e-12)


def test_matched_angles_ignore_order_sign_and_scale():
    reference = orthonormal(6, 2)
    turned = reference @ rotation(math.radians(20.0))
    learned = -3.0 * turned[:, ::-1]
    np.testing.assert_allclose(matched_angles(learned, reference), [20.0, 20.0], rtol=1e-9)


def test_principal_directions_are_the_leading_eigenvectors():
    basis = orthonormal(4, 4, seed=5)
    covariance = basis @ np.diag([1.0, 5.0, 0.5, 3.0]) @ basis.T
    directions = principal_directions(covariance, 2)
    np.testing.assert_allclose(np.abs(directions.T @ basis[:, [1, 3]]), np.eye(2), atol=1e-12)


def test_sap_is_one_for_separated_codes_and_zero_for_mixed_codes():
    factors = np.random.default_rng(0).normal(size=(20000, 2))
    assert sap_score(factors[:, ::-1] * [2.0, -0.5], factors) == pytest.approx(1.0, abs=1e-3)
    assert sap_score(factors @ rotation(math.pi / 4).T, factors) == pytest.approx(0.0, abs=2e-2)
    # a code that is factor 0 plus a little of factor 1: R² = 1/(1 + 0.25) for factor 0
    codes = np.stack([factors[:, 0] + 0.5 * factors[:, 1], factors[:, 1]], axis=1)
    expected = ((1 / 1.25) - 0.0 + (1.0 - 0.25 / 1.25)) / 2
    assert sap_score(codes, factors) == pytest.approx(expected, abs=2e-2)

"""Synthetic PPCA data: the true columns have the angles and norms asked for."""

import math

import pytest
import torch

from companion.ppca.synthetic import column_norms, factor_loadings, make_dataset


@pytest.mark.parametrize(("latent_dim", "angle", "ratio"), [(2, 60.0, 2.0), (3, 45.0, 1.5), (2, 90.0, 1.0)])
def test_loadings_have_the_requested_gram_matrix(latent_dim, angle, ratio):
    loadings = factor_loadings(7, latent_dim, angle, ratio, torch.Generator().manual_seed(0))
    norms = loadings.norm(dim=0)
    assert float(norms.max() / norms.min()) == pytest.approx(ratio)
    assert float(norms.min()) == pytest.approx(1.0)
    cosines = (loadings.T @ loadings) / torch.outer(norms, norms)
    off_diagonal = cosines[~torch.eye(latent_dim, dtype=torch.bool)]
    torch.testing.assert_close(off_diagonal, torch.full_like(off_diagonal, math.cos(math.radians(angle))))


def test_column_norms_are_geometric():
    torch.testing.assert_close(column_norms(3, 4.0), torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64))


def test_sample_covariance_approaches_the_model_covariance():
    data = make_dataset(5, 2, 60.0, 2.0, 0.3, 100_000, seed=0)
    expected = data.loadings @ data.loadings.T + 0.09 * torch.eye(5, dtype=torch.float64)
    torch.testing.assert_close(torch.cov(data.x.T), expected, atol=0.05, rtol=0.0)


def test_true_jacobian_of_the_tanh_decoder_matches_autograd():
    data = make_dataset(4, 2, 60.0, 2.0, 0.1, 3, seed=1, decoder="tanh")
    for z, jacobian in zip(data.factors, data.true_jacobian()):
        expected = torch.autograd.functional.jacobian(lambda v: torch.tanh(data.loadings @ v), z)
        torch.testing.assert_close(jacobian, expected)
    linear = make_dataset(4, 2, 60.0, 2.0, 0.1, 3, seed=1)
    torch.testing.assert_close(linear.true_jacobian()[0], linear.loadings)


def test_impossible_angles_are_rejected():
    with pytest.raises(ValueError, match="cannot all be"):
        factor_loadings(6, 3, 130.0, 1.0, torch.Generator().manual_seed(0))

"""Closed-form PPCA against scikit-learn's PCA (a Tipping–Bishop PPCA) and Gaussian identities."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA

from companion.ppca.closed_form import (
    PPCAParameters, hadamard_gap, log_likelihood, maximum_likelihood, moments, optimal_diagonal_elbo,
    posterior, posterior_covariance,
)
from companion.ppca.synthetic import make_dataset


@pytest.fixture(scope="module")
def data():
    return make_dataset(observed_dim=6, latent_dim=2, angle=60.0, norm_ratio=2.0, noise=0.3, examples=500, seed=3)


def random_params(d=5, k=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return PPCAParameters(torch.randn(d, k, generator=generator, dtype=torch.float64),
                          torch.randn(d, generator=generator, dtype=torch.float64),
                          torch.tensor(0.4, dtype=torch.float64))


def test_maximum_likelihood_matches_sklearn_pca(data):
    x = data.x.numpy()
    pca = PCA(n_components=2).fit(x)
    mean = data.x.mean(0)
    unbiased = torch.as_tensor(np.cov(x, rowvar=False))
    params = maximum_likelihood(mean, unbiased, 2)
    assert float(params.noise_variance) == pytest.approx(pca.noise_variance_, rel=1e-10)
    expected = pca.components_.T * np.sqrt(pca.explained_variance_ - pca.noise_variance_)
    signs = np.sign((params.loadings.numpy() * expected).sum(0))
    np.testing.assert_allclose(params.loadings.numpy() * signs, expected, atol=1e-10)
    # sklearn's score is the average PPCA log-likelihood of the points under its fitted model
    biased_mean, biased_cov = moments(data.x)
    assert float(log_likelihood(params, biased_mean, biased_cov)) == pytest.approx(pca.score(x), rel=1e-10)


def test_log_likelihood_is_the_average_gaussian_log_density(data):
    params = random_params(d=6, k=2)
    covariance = params.loadings @ params.loadings.T + params.noise_variance * torch.eye(6, dtype=torch.float64)
    expected = multivariate_normal(params.offset.numpy(), covariance.numpy()).logpdf(data.x.numpy()).mean()
    assert float(log_likelihood(params, *moments(data.x))) == pytest.approx(expected, rel=1e-10)


def test_posterior_is_gaussian_conditioning():
    params = random_params()
    x = torch.randn(4, 5, dtype=torch.float64)
    means, covariance = posterior(x, params)
    marginal = params.loadings @ params.loadings.T + params.noise_variance * torch.eye(5, dtype=torch.float64)
    gain = params.loadings.T @ torch.linalg.inv(marginal)  # Cov(z, x) Cov(x)⁻¹
    torch.testing.assert_close(means, (x - params.offset) @ gain.T)
    torch.testing.assert_close(covariance, torch.eye(3, dtype=torch.float64) - gain @ params.loadings)


def test_likelihood_is_invariant_to_rotating_the_loadings(data):
    mean, covariance = moments(data.x)
    params = maximum_likelihood(mean, covariance, 2)
    angle = torch.tensor(0.7, dtype=torch.float64)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    rotated = PPCAParameters(params.loadings @ rotation, params.offset, params.noise_variance)
    assert float(log_likelihood(rotated, mean, covariance)) == pytest.approx(float(log_likelihood(params, mean, covariance)), rel=1e-12)
    assert float(hadamard_gap(rotated.loadings, rotated.noise_variance)) > 1e-3


def test_hadamard_gap_is_non_negative_and_zero_for_orthogonal_columns():
    for seed in range(20):
        params = random_params(seed=seed)
        assert float(hadamard_gap(params.loadings, params.noise_variance)) >= 0.0
    orthogonal, _ = torch.linalg.qr(torch.randn(5, 3, dtype=torch.float64))
    loadings = orthogonal * torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64)
    assert abs(float(hadamard_gap(loadings, torch.tensor(0.1, dtype=torch.float64)))) < 1e-12


def test_hadamard_gap_is_the_kl_of_the_best_diagonal_posterior():
    params = random_params(seed=5)
    sigma = posterior_covariance(params.loadings, params.noise_variance)
    precision = torch.linalg.inv(sigma)
    best_diagonal = torch.diag(1.0 / precision.diagonal())  # the KL-optimal diagonal covariance
    # KL(N(m, D) ‖ N(m, Σ)) = ½[tr(Σ⁻¹D) − k − log det(Σ⁻¹D)]
    kl = 0.5 * ((precision @ best_diagonal).trace() - 3 - torch.logdet(precision @ best_diagonal))
    assert float(hadamard_gap(params.loadings, params.noise_variance)) == pytest.approx(float(kl), rel=1e-10)


def test_optimal_diagonal_elbo_is_likelihood_minus_gap(data):
    mean, covariance = moments(data.x)
    params = random_params(d=6, k=2)
    difference = log_likelihood(params, mean, covariance) - optimal_diagonal_elbo(params, mean, covariance)
    assert float(difference) == pytest.approx(float(hadamard_gap(params.loadings, params.noise_variance)))


def test_maximum_likelihood_rejects_a_latent_dimension_without_discarded_eigenvalues(data):
    with pytest.raises(ValueError, match="latent_dim=6"):
        maximum_likelihood(*moments(data.x), 6)

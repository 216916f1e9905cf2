"""The linear VAE: analytic ELBO against Monte Carlo and closed forms, and its optima."""

import math

import pytest
import torch

from companion.ppca.closed_form import (
    hadamard_gap, log_likelihood, maximum_likelihood, moments, optimal_diagonal_elbo, posterior_covariance,
)
from companion.ppca.linear_vae import LinearVAE, fit_expected_elbo, train_stochastic
from companion.ppca.metrics import mean_abs_cosine
from companion.ppca.synthetic import make_dataset


@pytest.fixture(scope="module")
def data():
    return make_dataset(observed_dim=6, latent_dim=2, angle=60.0, norm_ratio=2.0, noise=0.1, examples=1000, seed=1)


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_expected_elbo_matches_a_monte_carlo_estimate(data, posterior):
    torch.manual_seed(0)
    model = LinearVAE(6, 2, posterior, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        model.log_noise_variance.fill_(math.log(0.5))
        analytic = float(model.expected_elbo(*moments(data.x)))
        samples = torch.stack([model.sample_elbo(data.x).mean() for _ in range(400)])
    standard_error = float(samples.std()) / math.sqrt(len(samples))
    assert abs(float(samples.mean()) - analytic) < 4 * standard_error + 1e-9


def _set_encoder_to_the_true_posterior(model, params):
    sigma = posterior_covariance(params.loadings, params.noise_variance)
    with torch.no_grad():
        model.loadings.copy_(params.loadings)
        model.offset.copy_(params.offset)
        model.log_noise_variance.copy_(params.noise_variance.log())
        model.encoder.copy_(sigma @ params.loadings.T / params.noise_variance)  # V = σ⁻² Σ Wᵀ
    return sigma


def test_full_posterior_at_the_true_posterior_gives_the_likelihood(data):
    mean, covariance = moments(data.x)
    params = maximum_likelihood(mean, covariance, 2)
    params = type(params)(params.loadings @ torch.tensor([[0.8, -0.6], [0.6, 0.8]], dtype=torch.float64),
                          params.offset, params.noise_variance)
    model = LinearVAE(6, 2, "full")
    sigma = _set_encoder_to_the_true_posterior(model, params)
    scale = torch.linalg.cholesky(sigma)
    with torch.no_grad():
        model.log_posterior_std.copy_(scale.diagonal().log())
        model.posterior_lower.copy_(scale)
        elbo = model.expected_elbo(mean, covariance)
    assert float(elbo) == pytest.approx(float(log_likelihood(params, mean, covariance)), abs=1e-10)


def test_best_diagonal_posterior_gives_likelihood_minus_gap(data):
    mean, covariance = moments(data.x)
    params = maximum_likelihood(mean, covariance, 2)
    params = type(params)(params.loadings @ torch.tensor([[0.8, -0.6], [0.6, 0.8]], dtype=torch.float64),
                          params.offset, params.noise_variance)
    model = LinearVAE(6, 2, "diagonal")
    sigma = _set_encoder_to_the_true_posterior(model, params)
    with torch.no_grad():
        model.log_posterior_std.copy_(-0.5 * torch.linalg.inv(sigma).diagonal().log())  # D_jj = 1/(Σ⁻¹)_jj
        elbo = model.expected_elbo(mean, covariance)
    assert float(hadamard_gap(params.loadings, params.noise_variance)) > 0.05
    assert float(elbo) == pytest.approx(float(optimal_diagonal_elbo(params, mean, covariance)), abs=1e-10)


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_optimised_elbo_reaches_the_ppca_log_likelihood(data, posterior):
    mean, covariance = moments(data.x)
    best = float(log_likelihood(maximum_likelihood(mean, covariance, 2), mean, covariance))
    model = LinearVAE(6, 2, posterior, generator=torch.Generator().manual_seed(4))
    elbo = fit_expected_elbo(model, mean, covariance, max_iterations=500)
    assert float(elbo) == pytest.approx(best, abs=1e-6)
    if posterior == "diagonal":
        assert mean_abs_cosine(model.loadings) < 1e-3


def test_a_batched_module_holds_independent_models(data):
    mean, covariance = moments(data.x)
    batched = LinearVAE(6, 2, "full", batch=(3,), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batched.log_noise_variance.copy_(torch.tensor([-1.0, 0.0, 0.5]))
        elbos = batched.expected_elbo(mean.expand(3, 6), covariance.expand(3, 6, 6))
        samples = batched.sample_elbo(data.x.expand(3, *data.x.shape))
    for index in range(3):
        single = LinearVAE(6, 2, "full")
        with torch.no_grad():
            for name, parameter in single.named_parameters():
                parameter.copy_(getattr(batched, name)[index])
            assert float(single.expected_elbo(mean, covariance)) == pytest.approx(float(elbos[index]), rel=1e-12)
    assert samples.shape == (3, len(data.x))


def test_stochastic_training_raises_the_elbo(data):
    mean, covariance = moments(data.x)
    torch.manual_seed(0)
    model = LinearVAE(6, 2, "diagonal", generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = float(model.expected_elbo(mean, covariance))
    result = train_stochastic(model, data.x, epochs=5, learning_rate=2e-2)
    with torch.no_grad():
        after = float(model.expected_elbo(mean, covariance))
    assert after > before + 1.0
    assert len(result.epochs) == 5


def test_unknown_posterior_is_rejected():
    with pytest.raises(ValueError, match="posterior='banded'"):
        LinearVAE(4, 2, "banded")

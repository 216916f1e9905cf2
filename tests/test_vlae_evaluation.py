"""companion.vlae.evaluation: importance sampling against the exact log p(x) of a linear model."""

import math

import torch
from torch.distributions import MultivariateNormal

from companion.vlae.evaluation import importance_log_likelihood, log_mean_exp
from companion.vlae.models import VAE, VLAE
from companion.vlae.networks import MLP, Encoder, GaussianLikelihood

LOG_VAR = math.log(0.5)


def linear_model(model_class, **options):
    """A model with a linear decoder g(z) = Wz + b, so p(x) = N(b, WWᵀ + σ²I) exactly."""
    torch.manual_seed(0)
    encoder = Encoder(6, 2, [8], variance_head=model_class is VAE).double()
    decoder = MLP([2, 6]).double()
    return model_class(encoder, decoder, GaussianLikelihood(LOG_VAR).double(), **options)


def exact_log_likelihood(model, x):
    layer = model.decoder.layers[0]
    covariance = layer.weight @ layer.weight.T + math.exp(LOG_VAR) * torch.eye(6, dtype=torch.float64)
    return MultivariateNormal(layer.bias, covariance).log_prob(x)


def test_log_mean_exp_is_stable():
    values = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3.0)]])
    torch.testing.assert_close(log_mean_exp(values, dim=1),
                               torch.tensor([1000.0, -1000.0 + math.log(2.0)]))


def test_estimate_is_below_in_expectation_and_converges_as_samples_grow():
    model = linear_model(VAE)
    x = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = exact_log_likelihood(model, x)
    torch.manual_seed(2)
    errors = {}
    for samples in (1, 10, 100, 1000, 10000):
        estimates = torch.stack([importance_log_likelihood(model, x, samples) for _ in range(50)])
        gap = exact - estimates.mean(0)
        standard_error = estimates.std(0) / math.sqrt(len(estimates))
        # Jensen: E[log p̂(x)] ≤ log p(x); allow three standard errors of Monte-Carlo noise.
        assert (gap > -3.0 * standard_error).all()
        if samples == 1:  # the ELBO: below by KL(q ‖ p(z|x)), clearly
            assert (gap > 3.0 * standard_error).all()
        errors[samples] = float((estimates - exact).abs().mean())
    assert errors[1] > errors[10] > errors[100] > errors[1000] > errors[10000]
    assert errors[10000] < 0.05


def test_exact_posterior_as_proposal_gives_the_exact_value_with_any_sample_count():
    """A linear decoder after one undamped Laplace update has q = p(z|x): every weight is p(x)."""
    model = linear_model(VLAE, steps=1, damping="none")
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for samples in (1, 7):
        torch.testing.assert_close(importance_log_likelihood(model, x, samples),
                                   exact_log_likelihood(model, x))


def test_chunking_does_not_change_the_estimate():
    model = linear_model(VAE)
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(5)
    whole = importance_log_likelihood(model, x, 4, max_rows=4)
    torch.manual_seed(5)
    per_example = importance_log_likelihood(model, x, 4, max_rows=1 << 20)
    assert whole.shape == (5,)
    assert torch.isfinite(whole).all() and torch.isfinite(per_example).all()

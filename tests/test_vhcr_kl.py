"""Gaussian KL, log-density and KL annealing against closed forms and Monte Carlo."""

import math

import pytest
import torch

from companion.vhcr.kl import gaussian_kl, gaussian_log_density, kl_weight, reparameterize


def test_closed_form_kl_matches_monte_carlo():
    generator = torch.Generator().manual_seed(0)
    mean_q, mean_p = torch.randn(3, generator=generator), torch.randn(3, generator=generator)
    var_q, var_p = torch.rand(3, generator=generator) + 0.2, torch.rand(3, generator=generator) + 0.5
    z = mean_q + var_q.sqrt() * torch.randn(200_000, 3, generator=generator)
    monte_carlo = (gaussian_log_density(z, mean_q, var_q) - gaussian_log_density(z, mean_p, var_p)).mean()
    assert gaussian_kl(mean_q, var_q, mean_p, var_p).item() == pytest.approx(monte_carlo.item(), abs=0.01)


def test_kl_known_values():
    zero, one = torch.zeros(4), torch.ones(4)
    assert gaussian_kl(zero, one, zero, one).item() == 0.0
    # KL(N(1, 1) || N(0, 1)) = 1/2 per dimension
    assert gaussian_kl(one, one, zero, one).item() == pytest.approx(2.0)
    # KL(N(0, 4) || N(0, 1)) = (4 - 1 - log 4) / 2
    assert gaussian_kl(zero[:1], 4 * one[:1], zero[:1], one[:1]).item() == pytest.approx((3 - math.log(4)) / 2)


def test_log_density_matches_torch_distributions():
    z, mean, var = torch.randn(5, 3), torch.randn(5, 3), torch.rand(5, 3) + 0.1
    expected = torch.distributions.Normal(mean, var.sqrt()).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_density(z, mean, var), expected, atol=1e-5)


def test_reparameterized_samples_have_the_given_moments():
    torch.manual_seed(0)
    samples = reparameterize(torch.full((100_000, 1), 2.0), torch.full((100_000, 1), 9.0))
    assert samples.mean().item() == pytest.approx(2.0, abs=0.05)
    assert samples.std().item() == pytest.approx(3.0, abs=0.05)


def test_kl_annealing_rises_linearly_to_one():
    assert [kl_weight(step, 4) for step in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0

"""companion.vlae.laplace: the exact Jacobian and the Laplace updates against closed forms."""

import math

import pytest
import torch

from companion.vlae.laplace import (
    NotPositiveDefiniteError,
    decoder_jacobian,
    iterative_laplace,
    laplace_precision,
    linearize,
    precision_cholesky,
)
from companion.vlae.networks import MLP, BernoulliLikelihood, GaussianLikelihood, standard_normal_log_prob


@pytest.mark.parametrize("sizes", [[2, 5], [3, 7, 5, 4], [4, 16, 16, 9], [5, 8, 6, 8, 6, 11]])
def test_jacobian_equals_autograd(sizes):
    torch.manual_seed(sum(sizes))
    decoder = MLP(sizes).double()
    z = torch.randn(6, sizes[0], dtype=torch.float64)
    output, jacobian = linearize(decoder, z)
    expected = torch.func.vmap(torch.func.jacrev(decoder))(z)
    assert jacobian.shape == (6, sizes[-1], sizes[0])
    torch.testing.assert_close(output, decoder(z))
    torch.testing.assert_close(jacobian, expected)


def test_jacobian_handles_leading_dimensions():
    torch.manual_seed(0)
    decoder = MLP([3, 10, 10, 7]).double()
    z = torch.randn(4, 5, 3, dtype=torch.float64)
    flat = decoder_jacobian(decoder, z.reshape(20, 3)).reshape(4, 5, 7, 3)
    torch.testing.assert_close(decoder_jacobian(decoder, z), flat)


def ppca_posterior(weight, bias, log_var, x):
    """Closed form (Tipping & Bishop): Σ = (σ⁻²WᵀW + I)⁻¹, μ = σ⁻² Σ Wᵀ (x − b)."""
    inv_var = math.exp(-log_var)
    covariance = torch.linalg.inv(inv_var * weight.T @ weight + torch.eye(weight.shape[1], dtype=weight.dtype))
    mean = inv_var * (x - bias) @ weight @ covariance
    return mean, covariance


def test_one_undamped_update_of_a_linear_decoder_is_the_ppca_posterior():
    torch.manual_seed(1)
    decoder = MLP([3, 8]).double()
    likelihood = GaussianLikelihood(log_var=math.log(0.3)).double()
    x = torch.randn(5, 8, dtype=torch.float64)
    start = torch.randn(5, 3, dtype=torch.float64)
    posterior, iterates = iterative_laplace(decoder, likelihood, x, start, steps=1, damping="none")
    layer = decoder.layers[0]
    mean, covariance = ppca_posterior(layer.weight, layer.bias, math.log(0.3), x)
    assert len(iterates) == 2
    torch.testing.assert_close(posterior.mean, mean)
    torch.testing.assert_close(posterior.covariance(), covariance.expand(5, 3, 3))


def test_damping_moves_part_of_the_way():
    torch.manual_seed(2)
    decoder = MLP([2, 6]).double()
    likelihood = GaussianLikelihood(log_var=0.0).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    start = torch.randn(4, 2, dtype=torch.float64)
    exact, _ = iterative_laplace(decoder, likelihood, x, start, steps=1, damping="none")
    damped, _ = iterative_laplace(decoder, likelihood, x, start, steps=1, damping="harmonic")
    torch.testing.assert_close(damped.mean, 0.5 * start + 0.5 * exact.mean)


def test_bernoulli_update_is_a_newton_step():
    torch.manual_seed(3)
    decoder = MLP([3, 12, 12, 10]).double()
    likelihood = BernoulliLikelihood()
    x = torch.bernoulli(torch.full((4, 10), 0.4, dtype=torch.float64))
    start = torch.randn(4, 3, dtype=torch.float64)
    posterior, _ = iterative_laplace(decoder, likelihood, x, start, steps=1, damping="none")
    _, jacobian = linearize(decoder, start)
    for index in range(len(x)):
        def log_joint(z):
            return (likelihood.log_prob(x[index], decoder(z)) + standard_normal_log_prob(z))
        z = start[index]
        gradient = torch.func.grad(log_joint)(z)
        hessian = torch.autograd.functional.hessian(log_joint, z)
        # Newton: z − H⁻¹ ∇f, with H the autograd Hessian of the log joint.
        newton = z - torch.linalg.solve(hessian, gradient)
        torch.testing.assert_close(posterior.mean[index], newton)
        precision = laplace_precision(jacobian[index], likelihood.output_curvature(decoder(z)))
        torch.testing.assert_close(precision, -hessian)


def test_iterates_approach_the_mode_of_a_linear_model_at_the_damped_rate():
    torch.manual_seed(4)
    decoder = MLP([2, 5]).double()
    likelihood = GaussianLikelihood(log_var=0.0).double()
    x = torch.randn(3, 5, dtype=torch.float64)
    start = torch.randn(3, 2, dtype=torch.float64)
    exact, _ = iterative_laplace(decoder, likelihood, x, start, steps=1, damping="none")
    _, iterates = iterative_laplace(decoder, likelihood, x, start, steps=6, damping="harmonic")
    # μ_{t+1} − μ* = (1 − α_t)(μ_t − μ*) with α_t = 0.5 / (t + 1)
    remaining = 1.0
    for step, mean in enumerate(iterates):
        torch.testing.assert_close(mean - exact.mean, remaining * (start - exact.mean))
        remaining *= 1.0 - 0.5 / (step + 1)


def test_non_positive_definite_precision_raises_a_clear_error():
    bad = torch.eye(3).expand(2, 3, 3).clone()
    bad[1, 0, 0] = -1.0
    with pytest.raises(NotPositiveDefiniteError, match="1 of 2"):
        precision_cholesky(bad)
    with pytest.raises(NotPositiveDefiniteError, match="NaN or infinite"):
        precision_cholesky(torch.full((1, 2, 2), float("nan")))


def test_gradients_flow_through_the_updates():
    torch.manual_seed(5)
    decoder = MLP([2, 6, 4])
    likelihood = GaussianLikelihood(log_var=-1.0)
    x = torch.randn(3, 4)
    start = torch.randn(3, 2, requires_grad=True)
    posterior, _ = iterative_laplace(decoder, likelihood, x, start, steps=3)
    z, log_q = posterior.rsample(2)
    (likelihood.log_prob(x, decoder(z)) - log_q).sum().backward()
    assert start.grad is not None and torch.isfinite(start.grad).all()
    assert likelihood.log_var.grad is not None and decoder.layers[0].weight.grad.abs().sum() > 0

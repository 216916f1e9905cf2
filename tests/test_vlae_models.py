"""companion.vlae.models: the four models, SA-VAE's refinement, and the public constructor."""

import math

import pytest
import torch

from companion.vlae.models import MODELS, SAVAE, VLAE, authors_clip, authors_svi_refine, build_model, svi_refine
from companion.vlae.networks import MLP, Encoder, GaussianLikelihood


def linear_gaussian_elbo(weight, bias, log_var, x, mean, variance_log):
    """Exact ELBO of q = N(mean, diag exp(variance_log)) under p(x|z) = N(Wz + b, σ²I), p(z) = N(0, I)."""
    inv_var = math.exp(-log_var)
    variance = variance_log.exp()
    residual = (x - mean @ weight.T - bias).pow(2).sum(-1)
    spread = (variance * weight.pow(2).sum(0)).sum(-1)
    expected_log_likelihood = -0.5 * (x.shape[-1] * (math.log(2 * math.pi) + log_var)
                                      + inv_var * (residual + spread))
    kl = 0.5 * (mean.pow(2) + variance - variance_log - 1.0).sum(-1)
    return expected_log_likelihood - kl


def test_svi_steps_raise_every_examples_elbo():
    torch.manual_seed(0)
    weight, bias, log_var = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, dtype=torch.float64), -0.5
    x = torch.randn(8, 6, dtype=torch.float64)
    mean, variance_log = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)

    def elbo(m, v):
        return linear_gaussian_elbo(weight, bias, log_var, x, m, v)

    previous = elbo(mean, variance_log)
    for _ in range(5):
        mean, variance_log = svi_refine(elbo, mean, variance_log, steps=1, lr=0.02, max_grad_norm=5.0)
        current = elbo(mean, variance_log)
        assert (current > previous).all()
        previous = current


def test_svi_steps_are_per_example():
    """One example's step must not depend on the other examples of its batch."""
    torch.manual_seed(1)
    weight, bias = torch.randn(5, 2, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64)
    mean, variance_log = torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64)

    def refined(rows):
        def elbo(m, v):
            return linear_gaussian_elbo(weight, bias, 0.0, x[rows], m, v)
        return svi_refine(elbo, mean[rows], variance_log[rows], steps=3, lr=0.05, max_grad_norm=5.0)[0]

    torch.testing.assert_close(refined(slice(0, 4))[:1], refined(slice(0, 1)))


def test_the_authors_step_moves_each_example_down_its_elbo_by_a_batch_share():
    """Their step adds α ∇(−mean ELBO): for ELBO_b(m) = −½‖m − c_b‖² that is
    m ← m + α (m − c)/B, away from each example's optimum, the same for every example."""
    torch.manual_seed(5)
    centres, mean = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    log_var = torch.zeros(8, 3, dtype=torch.float64)

    def elbo(m):
        return -0.5 * (m - centres).pow(2).sum(-1)

    stepped, _ = authors_svi_refine(lambda m, v: -elbo(m).mean() + 0.0 * v.sum(), mean, log_var, steps=1, lr=0.1,
                                    max_value=1e6)
    torch.testing.assert_close(stepped, mean + 0.1 * (mean - centres) / 8)
    assert (elbo(stepped) < elbo(mean)).all()
    ascended, _ = svi_refine(lambda m, v: elbo(m) + 0.0 * v.sum(-1), mean, log_var, steps=1, lr=0.1,
                             max_grad_norm=1e6)
    assert (elbo(ascended) > elbo(mean)).all()  # ours steps up each example's own ELBO


def test_the_authors_clip_divides_by_the_squared_norm():
    gradient = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    clipped = authors_clip(gradient, 5.0)
    torch.testing.assert_close(clipped[0], gradient[0] / 5.0)  # ‖g‖² = 25: divided by 25 / 5
    torch.testing.assert_close(clipped[1], gradient[1])  # ‖g‖² = 0.25 ≤ 5: unchanged


def test_savae_refinement_raises_the_exact_elbo_of_a_linear_model():
    torch.manual_seed(2)
    encoder = Encoder(6, 3, [16]).double()
    decoder = MLP([3, 6]).double()
    likelihood = GaussianLikelihood(log_var=-1.0).double()
    model = SAVAE(encoder, decoder, likelihood, steps=20, svi_lr=0.01)
    x = torch.randn(32, 6, dtype=torch.float64)
    layer = decoder.layers[0]
    with torch.no_grad():
        mean, log_var, _ = encoder(x)
        refined = model.posterior(x)
        before = linear_gaussian_elbo(layer.weight, layer.bias, -1.0, x, mean, log_var)
        after = linear_gaussian_elbo(layer.weight, layer.bias, -1.0, x, refined.mean, refined.log_var)
    assert float((after - before).mean()) > 1.0
    assert float((after > before).double().mean()) > 0.9


def test_savae_is_differentiated_through_its_steps():
    torch.manual_seed(3)
    model = build_model("savae", 10, 2, 8, "gaussian", steps=2, svi_lr=0.05)
    (-model.elbo(torch.randn(4, 10)).mean()).backward()
    gradient = model.encoder.log_var.weight.grad
    assert gradient is not None and gradient.abs().sum() > 0


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_every_model_trains_one_step(name, likelihood):
    torch.manual_seed(4)
    model = build_model(name, 12, 3, 16, likelihood, steps=2, init="authors")
    x = torch.bernoulli(torch.full((5, 12), 0.3))
    elbo = model.elbo(x)
    assert elbo.shape == (5,) and torch.isfinite(elbo).all()
    (-elbo.mean()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_vlae_uses_only_the_encoder_mean():
    model = build_model("vlae", 12, 3, 16, "gaussian", steps=2)
    assert isinstance(model, VLAE) and model.encoder.log_var is None


def test_gaussian_log_var_starts_where_asked():
    model = build_model("vae", 12, 3, 16, "gaussian", log_var=-2.5)
    assert float(model.likelihood.log_var.detach()) == pytest.approx(-2.5)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="valid values"):
        build_model("iwae", 12, 3, 16, "gaussian")
    with pytest.raises(ValueError, match="valid values"):
        build_model("vae", 12, 3, 16, "poisson")
    with pytest.raises(ValueError, match="valid values"):
        build_model("vlae", 12, 3, 16, "gaussian", damping="cosine")


def test_vlae_refuses_a_bad_jacobian_option_when_built():
    with pytest.raises(ValueError, match=r"jacobian='dense'.*valid values"):
        build_model("vlae", 12, 3, 16, "gaussian", jacobian="dense")
    with pytest.raises(ValueError, match="jacobian='gram' needs a Gaussian likelihood"):
        build_model("vlae", 12, 3, 16, "bernoulli", jacobian="gram")
    assert build_model("vlae", 12, 3, 16, "bernoulli", jacobian="explicit").jacobian == "explicit"


def test_bernoulli_curvature_is_the_authors_clamped_p_times_one_minus_p_plus_epsilon():
    from companion.vlae.networks import BernoulliLikelihood

    logits = torch.tensor([0.0, 40.0, -40.0], dtype=torch.float64)
    curvature = BernoulliLikelihood().output_curvature(logits)
    clamped = torch.tensor([0.5, 1 - 1e-5, 1e-5], dtype=torch.float64)
    torch.testing.assert_close(curvature, clamped * (1 - clamped) + 1e-5)

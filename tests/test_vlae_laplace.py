"""companion.vlae.laplace: the exact Jacobian and the Laplace updates against closed forms."""

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from companion.config import resolve
from companion.vlae.laplace import (
    ExplicitLinearization,
    GramLinearization,
    GramQuadratic,
    NotPositiveDefiniteError,
    choose_jacobian,
    decoder_gram,
    decoder_jacobian,
    decoder_linearization,
    factor_precision,
    iterative_laplace,
    jacobian_flops,
    laplace_precision,
    linearize,
    precision_cholesky,
)
from companion.vlae.models import VLAE
from companion.vlae.networks import MLP, BernoulliLikelihood, Encoder, GaussianLikelihood, standard_normal_log_prob
from companion.vlae.settings import PROFILES


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
        # the autograd Hessian of the log joint, less the authors' ε·WᵀW (ε added to p(1 − p))
        hessian = (torch.autograd.functional.hessian(log_joint, z)
                   - likelihood.clamp * jacobian[index].mT @ jacobian[index])
        # Newton: z − H⁻¹ ∇f
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
    with pytest.raises(NotPositiveDefiniteError, match="1 of 2 .* even in float64"):
        precision_cholesky(bad)
    with pytest.raises(NotPositiveDefiniteError, match="NaN or infinite"):
        precision_cholesky(torch.full((1, 2, 2), float("nan")))


@pytest.mark.parametrize("path", ["explicit", "gram"])
def test_an_ill_conditioned_precision_is_formed_and_factorised_in_float64(path):
    # W = (10⁴, 10⁴) for one example: Λ = WᵀW + I has eigenvalues 1 and 2·10⁸ + 1, but in float32
    # 10⁸ + 1 rounds to 10⁸, the I is lost and the factorisation fails; formed in float64 it is not
    hidden = torch.tensor([[[1e4], [1e4]], [[1.0], [0.0]]], requires_grad=True)  # Aᵀ: 2 examples, d=2, h=1
    last = torch.ones(1, 1)  # W_L: D = h = 1
    if path == "gram":
        linearization = GramLinearization(torch.zeros(2, 1), hidden, last, last.mT @ last)
    else:
        linearization = ExplicitLinearization(torch.zeros(2, 1), (hidden @ last.mT).mT)
    curvature = torch.tensor(1.0)
    assert int(torch.linalg.cholesky_ex(linearization.precision(curvature).detach())[1][0]) > 0
    factor = factor_precision(linearization, curvature)
    assert factor.dtype == torch.float32
    w = torch.tensor([1e4, 1e4], dtype=torch.float64)
    exact = torch.linalg.cholesky(torch.outer(w, w) + torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(factor[0].double(), exact, rtol=1e-6, atol=0)
    torch.testing.assert_close(factor[1], torch.tensor([[2.0 ** 0.5, 0.0], [0.0, 1.0]]))
    torch.diagonal(factor, dim1=-2, dim2=-1).log().sum().backward()  # half the log det
    assert torch.isfinite(hidden.grad).all() and hidden.grad[0].abs().sum() > 0


@pytest.mark.parametrize("learning_rate", [0.3, 0.5, 1.0])
def test_a_gaussian_vlae_trains_at_learning_rates_whose_precisions_defeat_float32(learning_rate):
    # before the float64 fallback, each of these stopped within 21 steps with
    # NotPositiveDefiniteError (1–6 of 128 matrices, entries finite)
    from companion.config import resolve
    from companion.vlae import PROFILES
    from companion.vlae.experiments import fit_model, prepare_data

    params = resolve(PROFILES, "cpu", epochs=5, steps=4, learning_rate=learning_rate, device="cpu")
    fitted = fit_model("vlae", params, prepare_data("digits", "gaussian"))
    assert len(fitted.history) == 5 and fitted.history["test_elbo"].notna().all()


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


def test_gram_quadratic_backward_matches_finite_differences():
    torch.manual_seed(6)
    hidden_transposed = torch.randn(3, 2, 5, dtype=torch.float64, requires_grad=True)
    root = torch.randn(7, 5, dtype=torch.float64)
    gram = (root.T @ root).requires_grad_()
    assert torch.autograd.gradcheck(GramQuadratic.apply, (hidden_transposed, gram))


@pytest.mark.parametrize("sizes", [[3, 4], [2, 6, 9], [3, 7, 5, 11], [4, 8, 6, 5, 13]])
def test_gram_linearization_gives_the_explicit_precision_and_transpose_product(sizes):
    torch.manual_seed(7 + sum(sizes))
    decoder = MLP(sizes).double()
    z = torch.randn(5, sizes[0], dtype=torch.float64)
    vector = torch.randn(5, sizes[-1], dtype=torch.float64)
    curvature = torch.tensor(1.7, dtype=torch.float64)
    explicit = decoder_linearization(decoder, z)
    gram = decoder_linearization(decoder, z, decoder_gram(decoder))
    torch.testing.assert_close(gram.output, explicit.output)
    torch.testing.assert_close(gram.precision(curvature), explicit.precision(curvature))
    torch.testing.assert_close(gram.transpose_times(vector), explicit.transpose_times(vector))
    with pytest.raises(ValueError, match="explicit"):
        gram.precision(torch.rand(sizes[-1], dtype=torch.float64))


def counted_flops(function) -> int:
    """Matrix-multiply FLOPs of ``function()`` as torch's FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


def vlae_pair(sizes: list[int], steps: int) -> dict[str, VLAE]:
    """Two float64 Gaussian VLAEs with the same weights, one per forced Jacobian path."""
    torch.manual_seed(sum(sizes))
    models = {path: VLAE(Encoder(sizes[-1], sizes[0], [9], variance_head=False), MLP(sizes),
                         GaussianLikelihood(log_var=-0.7), steps, jacobian=path).double()
              for path in ("explicit", "gram")}
    models["gram"].load_state_dict(models["explicit"].state_dict())
    return models


@pytest.mark.parametrize("sizes", [[3, 12], [3, 7, 5, 11], [4, 6, 9, 16], [5, 8, 6, 8, 13]])
def test_gram_path_gives_the_explicit_loss_and_gradients(sizes):
    steps, batch = 3, 6
    models = vlae_pair(sizes, steps)
    x = torch.randn(batch, sizes[-1], dtype=torch.float64)
    losses, gradients, flops = {}, {}, {}
    for path, model in models.items():
        torch.manual_seed(11)
        with FlopCounterMode(display=False) as counter:
            loss = -model.elbo(x).mean()
        loss.backward()
        losses[path], flops[path] = loss.detach(), counter.get_total_flops()
        gradients[path] = {name: parameter.grad for name, parameter in model.named_parameters()}
    # the two models really took different paths: their FLOPs differ by what jacobian_flops says
    expected = jacobian_flops(sizes[0], sizes[-2], sizes[-1], batch, steps)
    assert flops["explicit"] - flops["gram"] == expected["explicit"] - expected["gram"]
    assert abs(losses["gram"] - losses["explicit"]) <= 1e-10 * abs(losses["explicit"])
    assert gradients["gram"].keys() == gradients["explicit"].keys()
    for name, reference in gradients["explicit"].items():
        difference = (gradients["gram"][name] - reference).norm()
        assert difference <= 1e-10 * reference.norm(), name


@pytest.mark.parametrize(("latent", "hidden", "pixels", "batch"), [
    (8, 128, 64, 128), (50, 500, 784, 32), (50, 500, 3072, 1), (4, 16, 12, 8),
    (4, 16, 15, 8), (4, 16, 17, 8), (4, 16, 22, 2), (4, 16, 22, 64), (2, 2, 6, 3), (3, 3, 40, 1),
])
def test_auto_picks_the_gram_path_exactly_when_it_does_fewer_flops(latent, hidden, pixels, batch):
    torch.manual_seed(latent + hidden + pixels)
    decoder = MLP([latent, hidden, hidden, pixels] if hidden != latent else [latent, pixels])
    likelihood = GaussianLikelihood(log_var=-1.0)
    x, start = torch.randn(batch, pixels), torch.randn(batch, latent)
    steps = 2

    def flops(jacobian: str) -> int:
        with torch.no_grad():
            return counted_flops(lambda: iterative_laplace(decoder, likelihood, x, start, steps, jacobian=jacobian))

    counted = {path: flops(path) for path in ("explicit", "gram", "auto")}
    formula = jacobian_flops(latent, hidden, pixels, batch, steps)
    assert counted["explicit"] - counted["gram"] == formula["explicit"] - formula["gram"]
    cheaper = "gram" if counted["gram"] < counted["explicit"] else "explicit"
    assert choose_jacobian("auto", likelihood, decoder, batch, steps) == cheaper
    assert counted["auto"] == counted[cheaper]
    assert choose_jacobian("auto", BernoulliLikelihood(), decoder, batch, steps) == "explicit"


def test_the_cpu_profile_keeps_the_explicit_path():
    """The chapter's default run (8×8 digits, D = 64) must keep the path its recorded outputs used."""
    params = resolve(PROFILES, "cpu")
    decoder = MLP([params.latent_dim, params.hidden_dim, params.hidden_dim, 64])
    for batch in (params.batch_size, 10_000):
        assert choose_jacobian("auto", GaussianLikelihood(), decoder, batch, params.steps) == "explicit"


def test_bad_jacobian_options_raise_naming_the_valid_values():
    decoder = MLP([2, 4, 6])
    with pytest.raises(ValueError, match=r"jacobian='dense'.*'auto', 'explicit', 'gram'"):
        choose_jacobian("dense", GaussianLikelihood(), decoder, 4, 2)
    with pytest.raises(ValueError, match="Gaussian likelihood"):
        choose_jacobian("gram", BernoulliLikelihood(), decoder, 4, 2)

"""companion.vlae.figures: the example chosen for the posterior-shapes figure, VAE+IAF drawn."""

import numpy as np
import torch

from companion.vlae.figures import chunked_log_joint, most_correlated_posterior, posterior_correlation
from companion.vlae.models import build_model
from companion.vlae.networks import MLP


def linear_model(weight: torch.Tensor):
    """A 2-D VAE whose decoder is the linear map ``weight`` (D×2), σ² = 1: its true posterior
    is N(Λ⁻¹Wᵀx, Λ⁻¹) with Λ = WᵀW + I, whatever x."""
    model = build_model("vae", weight.shape[0], 2, 8, "gaussian")
    model.decoder = MLP([2, weight.shape[0]])
    with torch.no_grad():
        model.decoder.layers[0].weight.copy_(weight)
        model.decoder.layers[0].bias.zero_()
    return model


def test_true_posterior_correlation_matches_the_linear_gaussian_closed_form():
    weight = torch.tensor([[1.0, 0.8], [0.5, 1.5], [0.0, 0.3]])
    covariance = torch.linalg.inv(weight.T @ weight + torch.eye(2))
    expected = float(covariance[0, 1] / (covariance[0, 0] * covariance[1, 1]).sqrt())
    x = torch.tensor([0.3, -0.2, 1.0])
    assert abs(posterior_correlation(linear_model(weight), x, points=81) - expected) < 0.01
    orthogonal = linear_model(torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    assert abs(posterior_correlation(orthogonal, x, points=81)) < 0.01


def test_the_chosen_example_has_the_most_correlated_posteriors():
    # one decoder; the posterior's correlation does not depend on x for a linear Gaussian model,
    # so a Bernoulli decoder (whose curvature p(1 − p) depends on x through z) is used instead
    torch.manual_seed(0)
    model = build_model("vae", 6, 2, 8, "bernoulli")
    x = torch.bernoulli(torch.full((5, 6), 0.5))
    scores = [abs(posterior_correlation(model, example)) for example in x]
    assert most_correlated_posterior({"vae": model}, x) == max(range(5), key=scores.__getitem__)


def test_seed_gains_draws_every_seed_of_every_model():
    from test_vlae_evidence import long_runs

    from companion.vlae.figures import seed_gains

    figure = seed_gains(long_runs(5.0, (0.1, -0.2, 0.15)))
    (ax,) = figure.axes
    dots = sum(len(collection.get_offsets()) for collection in ax.collections)
    # T=4: SA-VAE, VAE+HF, VLAE; T=1 and T=8: VLAE — five models × three seeds
    assert dots == 15
    assert [label.get_text() for label in ax.get_xticklabels()] == [
        "SA-VAE (T=4)", "VAE+HF (T=4)", "VLAE (T=1)", "VLAE (T=4)", "VLAE (T=8)"]


def test_vae_iaf_posterior_is_drawn_and_its_covariance_matches_its_density():
    """VAE+IAF has no closed-form covariance: the Monte-Carlo one must match the moments of its
    own density on a grid, and the figure and the correlation table must take the model."""
    from matplotlib.figure import Figure

    from companion.vlae.experiments import FittedModel, posterior_correlations
    from companion.vlae.figures import latent_grid, posterior_shapes

    torch.manual_seed(1)
    model = build_model("iaf", 6, 2, 8, "bernoulli", steps=2).double()
    for made in model.flows:
        with torch.no_grad():
            made.shift.weight.mul_(3.0)
            made.gate.weight.mul_(3.0)
    x = torch.bernoulli(torch.full((1, 6), 0.5, dtype=torch.float64))
    with torch.no_grad():
        posterior = model.posterior(x)
        covariance = posterior.covariance(200_000)[0]
        first, _, points = latent_grid(np.zeros(2), 9.0, points=301)
        density = posterior.log_prob(points.double())[:, 0].exp()
    spacing = float(first[0, 1] - first[0, 0])  # the same along both axes
    grid = points[:, 0].double()
    assert abs(float(density.sum()) * spacing ** 2 - 1.0) < 5e-3
    weights = density / density.sum()
    mean = weights @ grid
    centred = grid - mean
    torch.testing.assert_close(covariance, (centred * weights[:, None]).T @ centred, atol=0.02, rtol=0.03)
    assert isinstance(posterior_shapes({"iaf": model.float()}, x.float()), Figure)
    table = posterior_correlations({"iaf": FittedModel("iaf", model, None, 0.0)}, x.float())
    assert list(table.index) == ["VAE+IAF"] and np.isfinite(table.to_numpy()).all()


def test_chunked_log_joint_is_the_linear_gaussian_joint_in_any_chunks():
    # log N(x; Wz, I) + log N(z; 0, I) at every sample and point, whatever the chunk size
    weight = torch.tensor([[1.0, 0.8], [0.5, 1.5], [0.0, 0.3]])
    model, x = linear_model(weight), torch.tensor([[0.3, -0.2, 1.0]])
    z = torch.randn(5, 7, 2, generator=torch.Generator().manual_seed(0))
    residual = x - z @ weight.T
    expected = -0.5 * (residual.pow(2).sum(-1) + z.pow(2).sum(-1) + 5 * np.log(2 * np.pi))
    for max_rows in (1, 10, 35, 2 ** 16):  # one point a chunk, two points, all of them
        torch.testing.assert_close(chunked_log_joint(model, x, z, max_rows=max_rows), expected)

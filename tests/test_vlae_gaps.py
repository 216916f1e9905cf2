"""The inference-gap decomposition against a linear-Gaussian decoder, where every term has a closed form."""

import math

import pandas as pd
import pytest
import torch

from companion.vlae import gaps
from companion.vlae.models import VAE
from companion.vlae.networks import MLP, Encoder, GaussianLikelihood


def _linear_gaussian_vae(seed=0, latent=2, pixels=5, log_var=-1.0):
    """A VAE whose decoder is linear, x = W z + b + N(0, σ²I): p(z|x) is Gaussian and log p(x)
    is N(x; b, WWᵀ + σ²I)."""
    torch.manual_seed(seed)
    decoder = MLP([latent, pixels])
    model = VAE(Encoder(pixels, latent, [8]), decoder, GaussianLikelihood(log_var))
    x = torch.randn(6, pixels) * 2.0
    return model, x


def _exact(model, x):
    weight, bias = model.decoder.layers[0].weight.detach(), model.decoder.layers[0].bias.detach()
    variance = math.exp(float(model.likelihood.log_var.detach()))
    covariance = weight @ weight.T + variance * torch.eye(len(bias))
    log_px = torch.distributions.MultivariateNormal(bias, covariance).log_prob(x)
    precision = weight.T @ weight / variance + torch.eye(weight.shape[1])
    # the best diagonal q under KL(q‖p) has variances 1/Λ_ii: KL = ½(Σ log Λ_ii − log det Λ)
    diagonal_gap = 0.5 * (precision.diagonal().log().sum() - torch.logdet(precision))
    return float(log_px.mean()), float(diagonal_gap)


def test_the_full_family_closes_the_approximation_gap_of_a_gaussian_posterior():
    model, x = _linear_gaussian_vae()
    log_px, _ = _exact(model, x)
    result = gaps.decompose(model, x, "full", steps=400, lr=0.05, samples=32, evaluation_samples=4000,
                            sample_counts=(10, 1000))
    assert result.log_px == pytest.approx(log_px, abs=0.01)  # q* is the true posterior: IS is exact
    assert result.approximation == pytest.approx(0.0, abs=0.05)
    assert result.amortisation > 0.5  # an untrained encoder is far from each example's posterior
    assert result.elbo_amortised + result.amortisation + result.approximation == pytest.approx(result.log_px)


def test_the_diagonal_family_leaves_the_kl_to_the_correlated_posterior():
    model, x = _linear_gaussian_vae(seed=1)
    log_px, diagonal_gap = _exact(model, x)
    assert diagonal_gap > 0.1  # the posterior is correlated enough to tell
    result = gaps.decompose(model, x, "diagonal", steps=400, lr=0.05, samples=32, evaluation_samples=4000,
                            sample_counts=(1000,))
    assert result.approximation == pytest.approx(diagonal_gap, abs=0.05)
    assert result.log_px == pytest.approx(log_px, abs=0.05)


def test_importance_estimates_rise_towards_log_px_with_more_samples():
    model, _ = _linear_gaussian_vae(seed=2)
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(2)) * 2.0
    log_px, _ = _exact(model, x)
    with torch.no_grad():
        own = model.posterior(x)  # an untrained encoder: a poor proposal, so K matters
    estimates = gaps.importance_estimates(model, x, own, (1, 100, 3000))
    assert estimates[1] < estimates[100] < estimates[3000] <= log_px + 0.05
    assert log_px - estimates[3000] < log_px - estimates[1]


def test_the_decoder_is_left_as_it_was():
    model, x = _linear_gaussian_vae(seed=3)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    gaps.fit_best_posterior(model, x, "full", steps=20)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(parameter.requires_grad for parameter in model.parameters())
    with pytest.raises(ValueError, match="family='flow'"):
        gaps.fit_best_posterior(model, x, "flow")


def test_a_runs_gap_decomposition_survives_its_record(tmp_path):
    """with_gaps puts each model's gaps in its results row; a record of those rows, loaded
    back, gives recorded_gaps the same numbers, and per_seed leaves the re-trained seed out."""

    from companion.config import resolve
    from companion.results import load_runs, record_run
    from companion.vlae.experiments import per_seed, recorded_gaps, retrained_agreement, with_gaps
    from companion.vlae.settings import PROFILES

    gap = pd.DataFrame([
        {"model": model, "split": split, "family of q*": "diagonal", "log p(x)": base,
         "ELBO(q)": base - 3.0, "ELBO(q*)": base - 1.0, "approximation gap": 1.0,
         "amortisation gap": 2.0, "log p(x), K=100": base - 0.5, "log p(x), K=1000": base}
        for model, base in (("VAE", 10.0), ("VLAE", 12.0)) for split in ("train", "test")])
    rows = [{"model": "VAE", "steps": 0, "log_px": 10.0}, {"model": "VLAE", "steps": 4, "log_px": 12.0}]
    plain, gapped = (resolve(PROFILES, "cpu", models="vae,vlae", steps=4, gap_examples=examples)
                     for examples in (100, 200))
    assert "gap_examples" not in plain.record() and gapped.record()["gap_examples"] == 200
    record_run("vlae", plain.record(), rows, wall_time_s=1.0, device="cpu", directory=tmp_path)
    again = [rows[0], {**rows[1], "log_px": 12.5}]  # the re-trained VLAE lands half a nat higher
    record_run("vlae", gapped.record(), with_gaps(again, gap), wall_time_s=1.0, device="cpu",
               directory=tmp_path)
    runs = load_runs("vlae", tmp_path)
    table = recorded_gaps(runs).set_index(["model", "split"])
    assert table.loc[("VLAE (T=4)", "test"), "amortisation gap"] == 2.0
    assert table.loc[("VAE", "train"), "ELBO(q*)"] == 9.0
    assert (table["runs"] == 1).all() and (table["images"] == 200).all() and len(table) == 4
    assert len(per_seed(runs)) == 2  # the plain run's two models, not the re-trained seed's
    agreement = retrained_agreement(runs).set_index("model")
    assert list(agreement["difference"]) == [0.0, 0.5] and agreement.loc["VLAE (T=4)", "recorded"] == 12.0
    # a run given gap_examples of its own (another seed, no plain twin) is compared like any other
    record_run("vlae", {**gapped.record(), "seed": 1}, with_gaps(rows, gap), wall_time_s=1.0, device="cpu",
               directory=tmp_path)
    runs = load_runs("vlae", tmp_path)
    table = per_seed(runs)
    assert sorted(table["param_seed"]) == [0, 0, 1, 1] and table[table["param_seed"] == 0]["log_px"].tolist() == [10.0, 12.0]
    assert len(retrained_agreement(runs)) == 2  # only the re-trained seed 0 has an earlier record



def test_the_estimator_check_sets_each_run_s_log_px_beside_its_q_star_estimate():
    from companion.vlae.experiments import estimator_check

    base = {"profile": "cpu-long", "param_likelihood": "gaussian", "param_gap_examples": 200}
    rows = []
    for seed, shift in enumerate((0.0, 2.0)):
        for model, steps, log_px, q_star, elbo, gap_elbo in (("VAE", 0, 430.0, 475.0, 406.0, 409.0),
                                                             ("VLAE", 4, 479.0, 496.0, 470.0, 475.0)):
            rows.append({**base, "run_id": f"r{seed}", "param_seed": seed, "model": model, "steps": steps,
                         "log_px": log_px + shift, "test_gap_log_px": q_star, "elbo": elbo,
                         "test_gap_elbo": gap_elbo})
    rows.append({**base, "run_id": "old", "param_seed": 0, "model": "VAE", "steps": 0, "log_px": 1.0,
                 "test_gap_log_px": float("nan"), "elbo": 0.0, "test_gap_elbo": float("nan")})
    table = estimator_check(pd.DataFrame(rows)).set_index("model")
    assert list(table.index) == ["VAE", "VLAE (T=4)"] and (table["runs"] == 2).all()
    assert table.loc["VAE", "q* − q"] == pytest.approx(45.0 - 1.0)  # the runs' shifts average to 1
    assert table.loc["VLAE (T=4)", "gain over VAE, from q"] == pytest.approx(49.0)
    assert table.loc["VLAE (T=4)", "gain over VAE, from q*"] == pytest.approx(21.0)
    assert table.loc["VLAE (T=4)", "images' ELBO shift"] == pytest.approx(5.0)
    assert math.isnan(table.loc["VAE", "gain over VAE, from q*"])
    assert estimator_check(pd.DataFrame(rows).drop(columns="test_gap_log_px")).empty

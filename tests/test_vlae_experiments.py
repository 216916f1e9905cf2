"""companion.vlae.experiments: data preparation and the Table 1 comparison helpers."""

import math

import numpy as np
import pandas as pd
import pytest

from companion.data import load_images
from companion.paper import reported
from companion.vlae.experiments import (
    model_label,
    prepare_data,
    seed_table,
    table1_comparison,
)


def test_gaussian_data_is_centred_and_sigma_starts_at_its_mean_square():
    data = prepare_data("digits", "gaussian")
    assert data.input_dim == 64 and len(data.train) + len(data.test) == 1797
    np.testing.assert_allclose(data.train.mean(0).numpy(), 0.0, atol=1e-5)
    assert data.log_var == pytest.approx(float((data.train.double() ** 2).mean().log()))
    original = load_images("digits", "test").images
    np.testing.assert_allclose(data.images(data.test), original, atol=1e-6)


def test_bernoulli_test_set_is_binarised_once_and_the_same_every_time():
    first, second = prepare_data("digits", "bernoulli"), prepare_data("digits", "bernoulli")
    assert set(first.test.unique().tolist()) == {0.0, 1.0}
    assert bool((first.test == second.test).all())
    assert float(first.train.min()) == 0.0 and float(first.train.max()) == 1.0
    assert len(first.train.unique()) > 2  # training pixels stay grey: binarised at every step


def fake_runs():
    """Two seeds of VAE and VLAE at T=1 and T=4 (numbers chosen by hand)."""
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.4)):
        for steps, vlae in ((1, 28.0), (4, 30.0)):
            run = f"run-{seed}-{steps}"
            base = {"run_id": run, "profile": "cpu", "param_seed": seed, "param_steps": steps,
                    "param_dataset": "digits", "param_likelihood": "gaussian", "param_epochs": 5,
                    "param_latent_dim": 8, "param_hidden_dim": 128}
            rows.append({**base, "model": "VAE", "steps": 0, "log_px": 25.0 + shift})
            rows.append({**base, "model": "VLAE", "steps": steps, "log_px": vlae + shift})
    return pd.DataFrame(rows)


def test_comparison_is_computed_from_the_numbers():
    runs, paper = fake_runs(), reported("vlae_table1")
    table = table1_comparison(runs, paper)
    vlae4 = table.xs("VLAE (T=4)", level="model").iloc[0]
    assert vlae4["seeds"] == 2 and vlae4["ours"] == pytest.approx(30.2)
    assert vlae4["ours − VAE"] == pytest.approx(5.0) and vlae4["paper − VAE"] == pytest.approx(37.0)
    seeds = seed_table(runs)
    assert list(seeds.columns) == ["seed 0", "seed 1"]
    assert seeds.loc[(seeds.index[0][0], "VAE"), "seed 1"] == pytest.approx(25.4)


def test_model_label():
    assert model_label("VAE", 0) == "VAE" and model_label("VLAE", 4) == "VLAE (T=4)"


def test_a_model_killed_half_way_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """With $COMPANION_CHECKPOINT_DIR set, fit_model checkpoints each model: a run stopped
    after 2 of 4 epochs and started again ends with the weights of an uninterrupted run, a
    finished model is not trained again, and a checkpoint of other parameters is refused."""
    import torch

    from companion.training import CheckpointMismatchError
    from companion.config import resolve
    from companion.vlae import PROFILES
    from companion.vlae.experiments import fit_model

    data = prepare_data("digits", "gaussian")
    params = resolve(PROFILES, "cpu", epochs=4, hidden_dim=16, latent_dim=2, device="cpu")
    straight = fit_model("vae", params, data)

    monkeypatch.setenv("COMPANION_CHECKPOINT_DIR", str(tmp_path))
    fit_model("vae", params, data, epochs=2)  # the kill: its checkpoint is the 2-epoch model…
    (tmp_path / "vae-z2-4epochs").mkdir()
    (tmp_path / "vae-z2-2epochs" / "checkpoint.pt").rename(tmp_path / "vae-z2-4epochs" / "checkpoint.pt")
    with pytest.raises(CheckpointMismatchError, match="epochs: checkpoint 2, this run 4"):
        fit_model("vae", params, data)  # …which another configuration must not take over
    payload = torch.load(tmp_path / "vae-z2-4epochs" / "checkpoint.pt")
    payload["fingerprint"]["epochs"] = 4  # as a run of 4 epochs killed after its second
    torch.save(payload, tmp_path / "vae-z2-4epochs" / "checkpoint.pt")
    resumed = fit_model("vae", params, data)
    for name, tensor in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=0, atol=0)
    again = fit_model("vae", params, data)
    # a model's time is its epochs' own, kept across the resume and the reload of a finished model
    assert again.history.equals(resumed.history)
    assert again.seconds == resumed.seconds == pytest.approx(float(resumed.history["seconds"].sum()))
    assert resumed.seconds > 0


def test_a_run_s_setting_is_the_label_its_records_get():
    from companion.config import resolve
    from companion.results import with_this_run
    from companion.vlae import PROFILES
    from companion.vlae.experiments import per_seed, setting_of

    params = resolve(PROFILES, "cpu-long", likelihood="bernoulli", svi_lr=0.3, steps=8)
    runs = with_this_run("vlae", pd.DataFrame(), params.record(),
                         [{"model": "VAE", "steps": 0, "log_px": 1.0}])
    assert per_seed(runs)["setting"].tolist() == [setting_of(params)]
    assert setting_of(params) == "mnist5k, bernoulli, cpu-long (z=16, h=200, 100 epochs)"


def test_long_table_shows_both_paper_sources():
    from companion.vlae.experiments import long_table

    from test_vlae_evidence import long_runs

    bernoulli = long_runs(5.0, (0.1, -0.2, 0.15)).assign(param_likelihood="bernoulli")
    table = long_table(bernoulli, reported("vlae_table1"), reported("vlae_poster"))
    row = table.loc[("bernoulli", "VLAE (T=4)")]
    assert row["seeds"] == 3 and row["ours − VAE"] == pytest.approx(5.02, abs=0.01)
    assert row["paper − VAE (summary)"] == pytest.approx(-94.41 + 96.73)
    assert row["paper − VAE (poster)"] == pytest.approx(-83.72 + 85.37)


def test_records_keep_training_slice_metrics_and_learning_curves():
    import torch

    from companion.config import resolve
    from companion.vlae import PROFILES
    from companion.vlae.experiments import evaluate_model, fit_model, results_table

    gaussian, bernoulli = prepare_data("digits", "gaussian"), prepare_data("digits", "bernoulli")
    assert len(gaussian.train_eval) == len(gaussian.test)
    torch.testing.assert_close(gaussian.train_eval, gaussian.train[: len(gaussian.test)])  # preprocessed alike
    assert set(torch.unique(bernoulli.train_eval).tolist()) <= {0.0, 1.0}  # binarised once, fixed
    assert torch.equal(bernoulli.train_eval, prepare_data("digits", "bernoulli").train_eval)
    params = resolve(PROFILES, "cpu", epochs=3, hidden_dim=16, latent_dim=2, device="cpu", importance_samples=5)
    fitted = fit_model("vae", params, gaussian)
    row = evaluate_model(fitted, params, gaussian)
    assert row["train_elbo_by_epoch"] == fitted.history["train_elbo"].tolist() and len(row["test_elbo_by_epoch"]) == 3
    assert row["train_elbo"] == pytest.approx(row["train_elbo_by_epoch"][-1], abs=1.0)  # same model and slice, other noise
    assert row["train_log_px"] >= row["train_elbo"] - 1.0  # log p(x) estimate sits above the ELBO
    table = results_table([row])
    assert table.loc["VAE", "train − test log p(x)"] == pytest.approx(round(row["train_log_px"] - row["log_px"], 2))


def test_the_logit_transform_matches_the_authors_code():
    import torch

    from companion.data import inverse_logit_transform, logit_transform

    x = torch.tensor([[0.0, 0.5, 1.0]])
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    expected = 0.05 + 0.9 * (x * 255.0 + noise) / 256.0  # datasets.py: lamb + (1 - 2 lamb) x
    torch.testing.assert_close(logit_transform(x, generator), torch.log(expected) - torch.log(1 - expected))
    torch.testing.assert_close(inverse_logit_transform(logit_transform(x, torch.Generator().manual_seed(0))),
                               (x * 255.0 + noise) / 256.0)
    data = prepare_data("digits", "gaussian", logit=True)
    assert data.preprocessing == "logit" and data.train.min() >= 0 and data.train.max() <= 1  # raw, per batch
    assert abs(float(data.test.mean())) < 0.2  # centred by the transformed training mean
    first, second = data.training_batch(data.train[:4]), data.training_batch(data.train[:4])
    assert not torch.equal(first, second)  # fresh dequantisation noise in every batch
    assert (first - second).abs().max() < 0.5
    images = data.images(data.test[:2])
    assert images.shape == (2, 1, 8, 8) and images.min() >= 0 and images.max() <= 1


def test_the_logit_transform_is_refused_for_binary_pixels():
    from companion.config import ParameterError, resolve
    from companion.vlae import PROFILES

    with pytest.raises(ParameterError, match="logit_transform=True"):
        resolve(PROFILES, "cpu", likelihood="bernoulli", dataset="mnist5k", logit_transform=True)
    assert resolve(PROFILES, "cpu", logit_transform=True).record()["logit_transform"] is True


def test_table1_in_the_papers_layout_with_our_paper_scale_runs_and_not_run_elsewhere(tmp_path):
    from companion import paper
    from companion.config import resolve
    from companion.results import load_runs, record_run
    from companion.vlae.experiments import our_table1, paper_table1
    from companion.vlae.settings import PROFILES

    reported = paper.reported("vlae_table1")
    printed = paper_table1(reported)
    assert list(printed.columns) == ["MNIST", "OMNIGLOT", "FashionMNIST", "SVHN", "CIFAR10", "MNIST (Bernoulli)"]
    assert printed.loc["VLAE (T=8)", "OMNIGLOT"] == 380.7 and printed.loc["VAE", "MNIST (Bernoulli)"] == -96.73
    assert len(printed) == 13 and not printed.isna().any().any()  # every cell of the paper's table
    for seed, shift in enumerate((0.0, 2.0)):
        params = resolve(PROFILES, "paper", dataset="svhn", steps=4, seed=seed, models="vae,vlae")
        record_run("vlae", params.record(), [{"model": "VAE", "steps": 0, "log_px": 4500.0 + shift},
                                             {"model": "VLAE", "steps": 4, "log_px": 4700.0 + shift}],
                   wall_time_s=1.0, device="cuda", directory=tmp_path)
    ours = our_table1(load_runs("vlae", tmp_path, profile="paper"), reported)
    assert ours.shape == printed.shape
    assert ours.loc["VLAE (T=4)", "SVHN"] == "4701.0 ± 1.4 (2)" and ours.loc["VAE", "SVHN"] == "4501.0 ± 1.4 (2)"
    assert (ours.drop(columns="SVHN") == "not run").all().all()


def test_the_authors_code_table_sets_our_logit_runs_beside_their_numbers():
    from companion import paper
    from companion.vlae.experiments import authors_code_table

    rows = []
    for seed in range(3):
        for logit, shift in ((True, 0.0), (False, 500.0)):
            for model, value in {"VAE": -500.0, "SA-VAE": -499.0, "SA-VAE, authors' step": -501.0,
                                 "VLAE": -480.0 - seed}.items():
                rows.append({"run_id": f"run-{seed}-{logit}", "profile": "cpu-long", "param_seed": seed,
                             "param_dataset": "mnist5k", "param_likelihood": "gaussian", "param_epochs": 100,
                             "param_latent_dim": 16, "param_hidden_dim": 200, "param_logit_transform": logit,
                             "model": model, "steps": 0 if model == "VAE" else 4, "log_px": value + seed + shift})
    table = authors_code_table(pd.DataFrame(rows), paper.reported("vlae_authors_code"))
    assert list(table.index) == ["VAE", "SA-VAE (T=4)", "SA-VAE, authors' step (T=4)", "VLAE (T=4)"]
    assert table.loc["VLAE (T=4)", "ours − VAE"] == 20.0 - 1.0 and table.loc["VLAE (T=4)", "sd of gain"] == 1.0
    assert table.loc["VAE", "log p(x)"] == -499.0 and table["seeds"].tolist() == [3] * 4
    # their SA-VAE is the authors' step; our corrected SA-VAE has no row in their table
    assert table.loc["SA-VAE, authors' step (T=4)", "authors' − VAE"] == pytest.approx(-409.4 + 408.5)
    assert table.loc["VLAE (T=4)", "authors' code"] == -381.2
    assert math.isnan(table.loc["SA-VAE (T=4)", "authors' code"])


def test_train_and_test_log_px_average_the_seeds_that_recorded_both():
    from companion.vlae.experiments import train_and_test_log_px

    base = {"profile": "cpu-long", "param_dataset": "mnist5k", "param_likelihood": "gaussian", "param_epochs": 100,
            "param_latent_dim": 16, "param_hidden_dim": 200, "model": "VAE", "steps": 0}
    runs = pd.DataFrame([{**base, "run_id": "a", "param_seed": 0, "log_px": 10.0, "train_log_px": 40.0},
                         {**base, "run_id": "b", "param_seed": 1, "log_px": 12.0, "train_log_px": 50.0},
                         {**base, "run_id": "c", "param_seed": 2, "log_px": 99.0, "train_log_px": float("nan")},
                         {**base, "run_id": "d", "param_seed": 0, "model": "VLAE", "steps": 4, "log_px": 0.0,
                          "train_log_px": 0.0}])
    assert train_and_test_log_px(runs, "VAE") == (45.0, 11.0)
    assert all(math.isnan(value) for value in train_and_test_log_px(runs.drop(columns="train_log_px"), "VAE"))
    assert all(math.isnan(value) for value in train_and_test_log_px(runs.iloc[:0], "VAE"))

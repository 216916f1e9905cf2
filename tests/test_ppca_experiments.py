"""The chapter's experiments on a small grid: the diagonal posterior finds the PCA axes."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from companion.config import resolve
from companion.ppca import experiments, nonlinear
from companion.ppca.settings import PROFILES
from companion.results import run_key


@pytest.fixture(scope="module")
def params():
    return resolve(PROFILES, norm_ratios=[2.0], seeds=1, examples=500, lbfgs_iterations=300, sgd_epochs=2,
                   nonlinear_epochs=2, nonlinear_seeds=1, hidden_dim=8)


@pytest.fixture(scope="module")
def grid(params):
    return experiments.fit_grid(params)


def test_grid_has_a_row_per_cell_and_method(grid):
    assert len(grid) == 2 * 3  # angles 90° and 60°, one ratio, one replicate, three methods
    assert set(grid["method"]) == set(experiments.METHODS)


def test_diagonal_posterior_reaches_the_likelihood_on_the_pca_axes(grid):
    diagonal = grid[grid["method"] == "diagonal"]
    assert (diagonal["elbo_deficit"].abs() < 1e-6).all()
    assert (diagonal["abs_cos"] < 1e-3).all() and (diagonal["pca_angle"] < 0.1).all()
    full = grid[grid["method"] == "full"]
    assert (full["elbo_deficit"].abs() < 1e-6).all()


def test_summaries_cover_every_cell(grid):
    table = experiments.summarise(grid)
    assert len(table) == 6 and table.index.names == ["true angle (°)", "norm ratio", "fit"]
    rows = experiments.summary_rows(grid)
    assert {row["method"] for row in rows} == set(experiments.METHODS)


def test_rotation_profile_keeps_the_likelihood_and_penalises_the_diagonal_elbo(params):
    data = experiments.replicate_data(params, 60.0, 2.0, 0)
    profile = experiments.rotation_profile(data, np.array([0.0, 30.0, 45.0, 90.0]))
    assert np.ptp(profile["log_likelihood"]) < 1e-9
    gap = profile["log_likelihood"] - profile["diagonal_elbo"]
    assert gap[0] == pytest.approx(0.0, abs=1e-9) and gap[3] == pytest.approx(0.0, abs=1e-9)
    assert gap[2] > gap[1] > 0.0


def test_run_metrics_feed_the_recorded_tables(grid, params):
    histories = experiments.sgd_histories(experiments.replicate_data(params, 60.0, 2.0, 0), params)
    assert list(histories.groupby("method").size()) == [2, 2]
    summary = pd.DataFrame({"replicate": [0, 0, 0], "model": ["truth", "vae", "vlae"], "elbo": [np.nan, 1.0, 1.2],
                            "noise_std": [0.1, 0.11, 0.1], "abs_cos": [0.5, 0.2, 0.4], "dto": [0.6, 0.2, 0.5],
                            "collapsed": np.array([0, 0, 1]), "dead_columns": np.array([0, 0, 0]),
                            "sap": [1.0, 0.6, 0.5]})
    rows = pd.DataFrame(experiments.run_metrics(grid, histories, summary)).assign(
        run_id="r1", profile="cpu", param_seeds=1, param_latent_dim=2, param_observed_dim=6, param_noise=0.1,
        param_nonlinear_epochs=2, param_hidden_dim=8, param_angle=60.0)
    assert set(rows["section"]) == {"linear", "sgd", "nonlinear"}
    recorded = [row for row in experiments.run_metrics(grid, histories, summary) if row["section"] == "nonlinear"]
    assert [row["collapsed"] for row in recorded] == [0, 0, 1] and recorded[0]["elbo"] is None
    assert all(type(row["collapsed"]) is int for row in recorded)  # JSON-ready, one row per replicate
    table = experiments.recorded_table(rows)
    assert len(table) == 2 and table.shape[1] == 9
    assert experiments.recorded_nonlinear_table(rows).shape == (1, 6)
    assert experiments.recorded_table(pd.DataFrame(columns=["run_id"])).empty


def test_jacobian_metrics_of_orthogonal_jacobians_are_zero():
    basis = torch.linalg.qr(torch.randn(5, 2, dtype=torch.float64))[0]
    jacobians = torch.stack([basis * torch.tensor([2.0, 0.5], dtype=torch.float64), basis.flip(1)])
    result = nonlinear.jacobian_metrics(jacobians, noise=0.1)
    assert result["abs_cos"] == pytest.approx(0.0, abs=1e-12) and result["dto"] == pytest.approx(0.0, abs=1e-12)
    assert result["collapsed"] == result["dead_columns"] == 0
    # the second column at σ/4 on every point: dead, and DtO 0 as if orthogonal
    dead = nonlinear.jacobian_metrics(jacobians * torch.tensor([1.0, 0.01], dtype=torch.float64), noise=0.1)
    assert dead["collapsed"] == dead["dead_columns"] == 1


def test_nonlinear_study_compares_vae_vlae_and_the_true_decoder(params):
    study = nonlinear.nonlinear_study(params)
    frame = study.summary
    assert list(frame["model"]) == ["truth", "vae", "vlae"]
    assert frame[["abs_cos", "dto", "sap"]].notna().all().all()
    assert frame.loc[frame["model"] == "truth", "sap"].item() == pytest.approx(1.0, abs=0.05)
    assert len(study.cosines) == 3 * params.examples
    assert len(nonlinear.nonlinear_table(frame)) == 3


def test_at_default_sizes_the_vae_jacobian_is_closer_to_orthogonal_than_the_vlae():
    # the direction the chapter reports at σ = 0.1 (one replicate of the default run; at smaller
    # sizes, e.g. 10–20 epochs, the pilot found no stable direction and many collapsed latents)
    study = nonlinear.nonlinear_study(resolve(PROFILES, noise=0.1, nonlinear_seeds=1))
    by_model = study.summary.set_index("model")
    assert (by_model["collapsed"] == 0).all()
    assert by_model.loc["vae", "abs_cos"] < by_model.loc["vlae", "abs_cos"] - 0.1
    assert by_model.loc["vae", "abs_cos"] < by_model.loc["truth", "abs_cos"] - 0.1


def test_when_noise_swamps_the_signal_both_models_switch_every_latent_off():
    # σ = 2 on tanh outputs bounded by 1: the detector sees every direction collapsed, where
    # |cos| between the (dead) columns takes arbitrary values
    study = nonlinear.nonlinear_study(resolve(PROFILES, noise=2.0, nonlinear_seeds=1, examples=500,
                                              hidden_dim=16, nonlinear_epochs=10))
    by_model = study.summary.set_index("model")
    assert list(by_model.loc[["vae", "vlae"], "collapsed"]) == [2, 2]
    assert list(by_model.loc[["vae", "vlae"], "dead_columns"]) == [2, 2]
    assert (by_model.loc[["vae", "vlae"], "noise_std"] > 1.9).all()


def test_the_record_keeps_the_settings_and_their_key(params, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_RESULTS_DIR", str(tmp_path))
    path = experiments.record(params, [{"section": "sgd", "abs_cos": 0.5}], wall_time_s=1.0)
    record = json.loads(path.read_text())
    assert record["params"] == params.record() and record["params"]["norm_ratios"] == [2.0]
    assert record["key"] == run_key("ppca", params.record()) and record["device"] in ("cpu", "cuda")


def _interrupt_second_fit(module, monkeypatch):
    """Wrap ``module.batches`` so that the second fit's epoch 1 raises KeyboardInterrupt once
    (a kill after that fit's first checkpoint); return the epochs each fit asked for."""
    real, requested, interrupted = module.batches, [], []

    def counted(*args, **kwargs):
        per_epoch, asked = real(*args, **kwargs), []
        requested.append(asked)
        fit = len(requested) - 1

        def epoch_batches(epoch):
            if fit == 1 and epoch == 1 and not interrupted:
                interrupted.append(epoch)
                raise KeyboardInterrupt
            asked.append(epoch)
            return per_epoch(epoch)
        return epoch_batches

    monkeypatch.setattr(module, "batches", counted)
    return requested


def test_an_interrupted_ppca_run_resumes_from_its_checkpoints_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """With $COMPANION_CHECKPOINT_DIR set, every fit of the chapter checkpoints in its own folder:
    a run killed in its second fit (the VLAE; the full-covariance SGD VAE) and started again
    trains only the epochs it had not finished and gives exactly the uninterrupted result, and a
    third run trains nothing."""
    from companion.ppca import linear_vae
    from companion.training import CHECKPOINT_DIR_VARIABLE, load_checkpoint

    params = resolve(PROFILES, norm_ratios=[2.0], seeds=1, examples=300, sgd_epochs=3, nonlinear_epochs=3,
                     nonlinear_seeds=1, hidden_dim=8)
    data = experiments.replicate_data(params, 60.0, 2.0, 0)
    straight_study, straight_sgd = nonlinear.nonlinear_study(params), experiments.sgd_histories(data, params)

    monkeypatch.setenv(CHECKPOINT_DIR_VARIABLE, str(tmp_path))
    studies = _interrupt_second_fit(nonlinear, monkeypatch)
    sgd = _interrupt_second_fit(linear_vae, monkeypatch)
    for run in (lambda: nonlinear.nonlinear_study(params), lambda: experiments.sgd_histories(data, params)):
        with pytest.raises(KeyboardInterrupt):
            run()
    seed = 1000 * params.seed
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"nonlinear-vae-seed{seed}", f"nonlinear-vlae-seed{seed}", "sgd-diagonal", "sgd-full"]
    assert [load_checkpoint(tmp_path / name / "checkpoint.pt")["epoch"]
            for name in (f"nonlinear-vae-seed{seed}", f"nonlinear-vlae-seed{seed}", "sgd-diagonal", "sgd-full")
            ] == [3, 1, 3, 1]

    del studies[:], sgd[:]
    resumed_study, resumed_sgd = nonlinear.nonlinear_study(params), experiments.sgd_histories(data, params)
    assert studies == [[], [1, 2]] and sgd == [[], [1, 2]], "finished fits skipped, the others resumed"
    pd.testing.assert_frame_equal(resumed_study.summary, straight_study.summary, check_exact=True)
    pd.testing.assert_frame_equal(resumed_study.cosines, straight_study.cosines, check_exact=True)
    pd.testing.assert_frame_equal(resumed_sgd, straight_sgd, check_exact=True)

    del studies[:], sgd[:]
    again_study, again_sgd = nonlinear.nonlinear_study(params), experiments.sgd_histories(data, params)
    assert studies == [[], []] and sgd == [[], []], "every fit finished: nothing trained again"
    pd.testing.assert_frame_equal(again_study.summary, straight_study.summary, check_exact=True)
    pd.testing.assert_frame_equal(again_sgd, straight_sgd, check_exact=True)


def test_a_ppca_checkpoint_of_other_data_is_refused(tmp_path, monkeypatch):
    from companion.training import CHECKPOINT_DIR_VARIABLE, CheckpointMismatchError

    params = resolve(PROFILES, norm_ratios=[2.0], seeds=1, examples=300, sgd_epochs=1)
    monkeypatch.setenv(CHECKPOINT_DIR_VARIABLE, str(tmp_path))
    experiments.sgd_histories(experiments.replicate_data(params, 60.0, 2.0, 0), params)
    with pytest.raises(CheckpointMismatchError, match="data: checkpoint"):
        experiments.sgd_histories(experiments.replicate_data(params, 30.0, 2.0, 0), params)

"""The chapter's run helpers on a tiny problem, and the CIFAR augmentation."""

import numpy as np
import pandas as pd
import pytest
import torch

from companion.splitnet import experiments
from companion.splitnet.assignment import balanced_groups
from companion.splitnet.augmentation import random_crop_flip, standardize_per_image
from companion.config import ParameterError, resolve
from companion.splitnet.settings import PROFILES, decay_milestones


def settings(**given):
    return resolve(PROFILES, "cpu", **given)


def _tiny_data(classes=4, count=64):
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(count) % classes
    images = torch.randn(count, 1, 8, 8, generator=generator) + labels[:, None, None, None].float()
    return experiments.SplitData("toy", images, labels, images[:32], labels[:32],
                                 np.zeros((32, 1, 8, 8), np.float32), classes)


def test_grouping_then_split_then_finetune_runs_and_records_assignments():
    params = settings(lr_decay_at=(), finetune_lr_decay_at=(), groups="1-2-2", epochs=2, finetune_epochs=1, batch_size=16, width=1,
                      device="cpu", grouping_init="scratch")
    data = _tiny_data()
    grouping = experiments.train_grouping(params, data)
    assert len(grouping.snapshots) == params.epochs + 1  # before training and after each epoch
    assert {"cross_entropy", "R_W", "R_D", "R_E", "test_error"} <= set(grouping.history.epochs.columns)
    moved = (grouping.snapshots[-1]["classes"] - grouping.snapshots[0]["classes"]).abs().max()
    assert moved > 0  # the assignment logits learn
    frozen = grouping.model.network.stages[0][0].bn1.weight
    assert torch.equal(frozen, torch.ones_like(frozen))  # block BN scales fixed at 1
    # two epochs on toy data may leave a group empty: cut along balanced groups instead
    assignments = grouping.model.assignments
    assignments.set_hard(balanced_groups(assignments, torch.Generator().manual_seed(0)))
    split, history, error_at_split = experiments.finetune_split(params, data, grouping)
    assert 0 <= error_at_split <= 100 and len(history.epochs) == 1
    row = experiments.model_row("SplitNet", split, grouping.model.network, data, "1-2-2")
    assert row["params"] < sum(p.numel() for p in grouping.model.network.parameters())


def test_run_rows_record_every_model_with_what_the_evidence_needs():
    params = settings(lr_decay_at=(), finetune_lr_decay_at=(), groups="1-1-2", epochs=2, finetune_epochs=1, batch_size=16, width=1, device="cpu",
                      grouping_init="scratch")
    data = _tiny_data()
    baseline, baseline_history = experiments.train_baseline(params, data)
    frozen = experiments.random_partition(params, data)
    learned = experiments.train_arm(params, data, frozen=frozen)  # frozen too: two toy epochs may empty a group
    random = experiments.train_arm(params, data, frozen=frozen)
    direct, direct_history = experiments.train_random_split(params, data)
    rows = experiments.run_rows(params, data, baseline=baseline, baseline_history=baseline_history,
                                learned=learned, random=random, direct=direct, direct_history=direct_history)
    by_model = {row["model"]: row for row in rows}
    assert list(by_model) == ["baseline", "SplitNet", "SplitNet-R", "SplitNet-R (direct)"]
    assert len(baseline_history.epochs) == params.epochs + params.finetune_epochs
    assert by_model["baseline"]["test_error"] == experiments.last_error(baseline_history)
    assert len(by_model["baseline"]["classifier_partition"]) == data.num_classes
    confusion = torch.tensor(by_model["baseline"]["soft_confusion"])
    assert confusion.shape == (4, 4) and torch.allclose(confusion.sum(dim=1), torch.ones(4), atol=1e-3)
    for name, arm in (("SplitNet", learned), ("SplitNet-R", random)):
        row = by_model[name]
        assert row["error_at_split"] == arm.error_at_split
        assert row["grouping_error"] == experiments.last_error(arm.grouping.history)
        assert row["test_error"] == experiments.last_error(arm.history)
        assert 0 <= row["off_block_mass"] <= row["off_block_max"] <= 1
    assert {"class_partition", "initial_partition", "kept_from_init"} <= set(by_model["SplitNet"])
    assert all(len(row["test_correct"]) == len(data.test_labels) for row in rows)
    assert len(direct_history.epochs) == params.epochs + params.finetune_epochs


def test_the_random_control_differs_from_splitnet_in_the_assignment_alone(monkeypatch):
    # both arms go through one pipeline: the same phases' schedules, optimiser settings, start
    # and minibatches; the control's assignment stays frozen at its random groups
    params = settings(lr_decay_at=(), finetune_lr_decay_at=(), groups="1-2-2", epochs=2, finetune_epochs=1, batch_size=16, width=1, device="cpu",
                      grouping_init="scratch")
    data = _tiny_data()
    calls = []
    real_fit = experiments.fit

    def recording_fit(model, loss_fn, params, data, *, phase, seed_offset, **kwargs):
        weights = [p.detach().clone() for p in (model.network if hasattr(model, "network") else model).parameters()]
        calls.append({"phase": phase, "seed_offset": seed_offset, "start": weights})
        return real_fit(model, loss_fn, params, data, phase=phase, seed_offset=seed_offset, **kwargs)

    monkeypatch.setattr(experiments, "fit", recording_fit)
    frozen = experiments.random_partition(params, data)
    learned_grouping = experiments.train_grouping(params, data)
    random_grouping = experiments.train_grouping(params, data, frozen=frozen)
    learned, random = calls
    assert (learned["phase"], random["phase"]) == ("grouping", "random_grouping")
    assert learned["seed_offset"] == random["seed_offset"]  # the same minibatches
    assert all(torch.equal(a, b) for a, b in zip(learned["start"], random["start"]))  # the same start
    schedule = experiments.schedules(params)
    assert schedule["grouping"] == schedule["random_grouping"] and schedule["finetune"] == schedule["random_finetune"]
    assignments = random_grouping.model.assignments
    assert all(torch.equal(assignments.hard_groups()[name], frozen[name]) for name in assignments.free_names)
    assert torch.equal(random_grouping.snapshots[0]["classes"], random_grouping.snapshots[-1]["classes"])
    assert not torch.equal(learned_grouping.snapshots[0]["classes"], learned_grouping.snapshots[-1]["classes"])


def test_optimizer_decays_only_weights_and_speeds_up_assignments():
    params = settings(groups="1-1-2", width=1)
    model = experiments.LearnedSplitWRN(experiments.make_network(params, _tiny_data()), "1-1-2")
    optimizer = experiments.make_optimizer(model, 0.1, 1e-4, assignment_lr_scale=50.0)
    decayed, others, logits = optimizer.param_groups
    assert decayed["weight_decay"] == 1e-4 and others["weight_decay"] == 0.0
    assert logits["lr"] == 5.0 and len(logits["params"]) == 2
    assert all(p.dim() > 1 for p in decayed["params"])


def test_scheduler_decays_at_fractions_of_the_run():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = experiments.make_scheduler(optimizer, 400, [0.6, 0.75])
    assert scheduler.milestones == {240: 1, 300: 1}


def test_decays_that_round_to_one_epoch_move_apart():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    # the paper's fine-tuning decays (100 and 140 of 240 epochs) on a 4-epoch fine-tuning both
    # round to epoch 2; a set of milestones kept one decay of the two, they now act at 2 and 3
    scheduler = experiments.make_scheduler(optimizer, 4, [5 / 12, 7 / 12])
    lrs = []
    for _ in range(4):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.01])
    assert decay_milestones(3, (0.6, 0.75)) == [1, 2] and decay_milestones(5, (0.9, 0.95, 1.0)) == [2, 3, 4]
    assert decay_milestones(240, (5 / 12, 7 / 12)) == [100, 140]  # untouched where they are distinct
    with pytest.raises(ValueError, match="cannot act on distinct epochs of a 2-epoch run"):
        experiments.make_scheduler(optimizer, 2, [0.6, 0.75])
    with pytest.raises(ParameterError, match="lr_decay_at"):
        settings(epochs=1, finetune_epochs=1)


def test_random_crop_flip_moves_pixels_without_changing_them():
    torch.manual_seed(0)
    image = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(50, 1, 1, 1)
    shifted = random_crop_flip(image, padding=1)
    assert shifted.shape == image.shape
    values = set(shifted.unique().tolist())
    assert values <= set(range(16)) | {0.0}
    assert not torch.equal(shifted, image)
    assert torch.equal(random_crop_flip(image, padding=0)[:, :, :, [0, 3]].sort(-1).values,
                       image[:, :, :, [0, 3]])  # with no padding only flips: the edge columns swap


def test_per_image_standardisation():
    images = torch.rand(3, 3, 5, 5) * 4 + 2
    standard = standardize_per_image(images)
    torch.testing.assert_close(standard.flatten(1).mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(standard.flatten(1).std(1, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_learned_vs_random_counts_wins_per_run():
    runs = pd.DataFrame({
        "param_dataset": ["digits"] * 6, "groups": ["1-2-2"] * 6,
        "run_id": ["a", "a", "b", "b", "c", "c"],
        "model": ["SplitNet", "SplitNet-R"] * 3,
        "test_error": [1.0, 2.0, 3.0, 1.0, 2.0, 2.0],
        "grouping_error": [0.5, None, 1.5, None, 1.0, None],
        "error_at_split": [1.5, None, 2.5, None, 1.0, None],
    })
    table = experiments.learned_vs_random(runs).iloc[0]
    assert (table["runs"], table["learned_better"], table["random_better"]) == (3, 1, 1)
    assert table["difference"] == pytest.approx((-1.0 + 2.0 + 0.0) / 3, abs=0.01)
    assert table["error_at_split"] == pytest.approx(5.0 / 3, abs=0.01)


def test_split_kind_names_the_papers_configurations():
    assert [experiments.split_kind(t) for t in ("1-1-4", "1-2-2", "2-2-2", "2-4-4")] == [
        "FC", "shallow", "deep", "hierarchical"]


def test_gamma_schedule_holds_back_the_disjoint_term_during_the_ramp():
    gammas = [1.0, 2.0, 10.0]
    assert [experiments.scheduled_gammas(gammas, epoch, 2) for epoch in range(4)] == [
        (1.0, 0.0, 10.0), (1.0, 0.0, 10.0), (1.0, 2.0, 10.0), (1.0, 2.0, 10.0)]
    assert experiments.scheduled_gammas(gammas, 0, 0) == (1.0, 2.0, 10.0)  # no ramp: as before


def test_grouping_loss_follows_the_ramp_in_training():
    params = settings(lr_decay_at=(), finetune_lr_decay_at=(), groups="1-1-2", epochs=2, gamma_ramp=0.5, finetune_epochs=0, batch_size=16,
                      width=1, device="cpu", gammas=[1.0, 2.0, 10.0], grouping_init="scratch")
    grouping = experiments.train_grouping(params, _tiny_data())
    steps = grouping.history.steps
    rest = steps["loss"] - steps["cross_entropy"] - steps["R_W"]  # γ1 = 1
    first, second = steps["epoch"] == 0, steps["epoch"] == 1
    torch.testing.assert_close(torch.tensor(rest[first].values), torch.tensor(10.0 * steps["R_E"][first].values),
                               atol=1e-4, rtol=1e-5)
    expected = 2.0 * steps["R_D"][second] + 10.0 * steps["R_E"][second]
    torch.testing.assert_close(torch.tensor(rest[second].values), torch.tensor(expected.values), atol=1e-4, rtol=1e-5)


def _perturbed_baseline():
    """Settings warm-starting from the baseline, tiny data, and a baseline unlike any fresh network."""
    params = settings(lr_decay_at=(), finetune_lr_decay_at=(), groups="1-2-2", epochs=1, finetune_epochs=0, batch_size=16, width=1, device="cpu",
                      grouping_init="baseline")
    data = _tiny_data()
    baseline = experiments.make_network(params, data)
    with torch.no_grad():
        for parameter in baseline.parameters():
            parameter.add_(torch.randn_like(parameter))
    return params, data, baseline


def test_grouping_from_the_baseline_starts_with_its_weights(monkeypatch):
    params, data, baseline = _perturbed_baseline()
    started = {}
    original_fit = experiments.fit

    def fit_recording_start(model, *args, **kwargs):
        started.update({name: value.clone() for name, value in model.network.state_dict().items()})
        return original_fit(model, *args, **kwargs)

    monkeypatch.setattr(experiments, "fit", fit_recording_start)
    experiments.train_grouping(params, data, baseline)
    assert started.keys() == baseline.state_dict().keys()
    assert all(torch.equal(started[name], value) for name, value in baseline.state_dict().items())
    with pytest.raises(ValueError, match="needs the trained baseline"):
        experiments.train_grouping(params, data)


def test_runs_of_another_grouping_procedure_are_not_pooled():
    runs = pd.DataFrame({"param_grouping_init": [None, "baseline", "scratch", "baseline"],
                         "param_gamma_ramp": [None, 0.5, 0.0, 0.25]})
    assert experiments.same_procedure(runs, settings(grouping_init="baseline", gamma_ramp=0.5)).tolist() == [
        False, True, False, False]
    assert experiments.same_procedure(runs, settings(grouping_init="scratch", gamma_ramp=0.0)).tolist() == [
        True, False, True, False]
    old = pd.DataFrame({"run_id": ["a"]})  # recorded before the options existed: the paper's procedure
    assert experiments.same_procedure(old, settings(grouping_init="scratch", gamma_ramp=0.0)).tolist() == [True]


def test_random_control_from_the_baseline_starts_with_its_weights(monkeypatch):
    params, data, baseline = _perturbed_baseline()
    started = {}

    def fit_recording_start(model, *args, **kwargs):
        started["stem"] = next(model.trunk.parameters()).detach().clone()
        return None

    monkeypatch.setattr(experiments, "fit", fit_recording_start)
    experiments.train_random_split(params, data, baseline)
    assert torch.equal(started["stem"], next(baseline.parameters()))
    with pytest.raises(ValueError, match="needs the trained baseline"):
        experiments.train_random_split(params, data)

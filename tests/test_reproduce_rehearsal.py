"""The paper rehearsal (companion.reproduce.rehearsal): one paper run per chapter rehearsed at
paper sizes on fixture data, and the arithmetic of its GPU estimate."""

import math
from pathlib import Path

import pandas as pd
import pytest

from companion.data import load_images
from companion.data.fixtures import FIXTURE_SIZES, write_fixtures
from companion.reproduce.__main__ import main
from companion.reproduce.plan import registered_chapters
from companion.reproduce.rehearsal import REHEARSALS, full_run_calls, rehearsal_runs, run_cost
from rehearsal_check import ONE_RUN, check_one_paper_run
from companion.results import stored_results_dir
from companion.vhcr.corpora import load_splits

@pytest.fixture(scope="module")
def chapters():
    return registered_chapters()[0]


def test_every_chapter_with_a_paper_grid_is_rehearsed(chapters):
    assert {name for name, spec in chapters.items() if "paper" in spec.grid} == set(REHEARSALS) == set(ONE_RUN)


@pytest.mark.parametrize("chapter", ["data", "ppca", "vlae"])  # SplitNet and VHCR: files of their own
def test_one_paper_run_rehearses(chapters, chapter, tmp_path):
    check_one_paper_run(chapter, tmp_path, chapters)


def test_fixtures_load_as_the_paper_data_sets(tmp_path):
    root = write_fixtures(tmp_path)
    for name in ("mnist", "fashion_mnist", "omniglot", "svhn", "cifar10", "cifar100"):
        for split in ("train", "test"):
            assert len(load_images(name, split, data_dir=root)) == FIXTURE_SIZES[name][split]
    cornell = load_splits("cornell", root)
    assert len(cornell["train"]) == 160 and all(len(turns) == 10 for turns in cornell["train"])
    ubuntu = load_splits("ubuntu", root)
    assert {split: len(found) for split, found in ubuntu.items()} == FIXTURE_SIZES["ubuntu"]
    words = {word for conversation in cornell["train"][:80] for turn in conversation for word in turn.split()}
    assert len(words) == 20000  # the first 80 training conversations already hold every word


def test_full_run_steps_scale_each_splitnet_phase_to_the_paper(chapters, tmp_path):
    (run,) = rehearsal_runs(chapters["splitnet"], tmp_path, only={"groups": ["2-2-2"]})
    measured = [{"description": phase, "epochs": epochs, "steps_per_epoch": 1, "steps": epochs}
                for phase, epochs in (("baseline", 2), ("grouping", 1), ("finetune", 1))]
    calls = full_run_calls(run, measured)
    # 45,000 training images in batches of 90; 400 + 240 epochs for the baseline
    assert calls["full_steps_per_epoch"].tolist() == [500] * 3
    assert calls["full_epochs"].tolist() == [640, 400, 240]


def test_a_call_that_matches_no_phase_is_an_error(chapters, tmp_path):
    (run,) = rehearsal_runs(chapters["vhcr"], tmp_path, only={"dataset": ["cornell"]})
    with pytest.raises(ValueError, match="matches no phase"):
        full_run_calls(run, [{"description": "hred", "epochs": 7, "steps_per_epoch": 1, "steps": 7}])


def test_gpu_hours_are_flops_over_the_assumed_throughput(chapters, tmp_path):
    (run,) = rehearsal_runs(chapters["vhcr"], tmp_path, only={"dataset": ["cornell"]})
    calls = pd.DataFrame([{"flops_per_step": 1e12, "operators_per_step": 1000, "seconds_per_step": 2.0,
                           "full_steps": 3000, "repeats": 2.0, "peak_rss_bytes": 2**30,
                           "state_bytes": 2**29, "activation_bytes": 2**29}])
    row = run_cost(run, calls, utilisation=0.5, gpus={"G": 10e12}, launch_seconds=1e-5)
    assert row["full_steps"] == 6000 and row["flops_per_step"] == 1e12
    # 6e15 FLOPs at 5 TFLOP/s, plus 6e6 operator launches of 10 µs
    assert math.isclose(row["G_h"], (6e15 / 5e12 + 6000 * 1000 * 1e-5) / 3600)
    assert math.isclose(row["cpu_full_run_h"], 6000 * 2.0 / 3600)
    assert row["gpu_memory_gib"] == 1.0 and row["peak_rss_gib"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--rehearse"], "give --profile paper"),
    (["--rehearse", "--profile", "paper", "--results-dir", str(stored_results_dir())], "not evidence"),
    (["--rehearse", "--profile", "paper", "--gpu-utilisation", "2"], "fraction"),
    (["--rehearse", "--profile", "paper", "--executor", "slurm"], "runs on this machine"),
])
def test_rehearse_refuses_bad_options(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_rehearsal_runs_are_the_planned_paper_runs_with_overrides(chapters, tmp_path):
    runs = rehearsal_runs(chapters["vlae"], tmp_path)
    assert len(runs) == 24  # five Gaussian sets and binarised MNIST, T = 1, 2, 4, 8; one seed
    assert {run.parameters["seed"] for run in runs} == {0}
    assert all(run.parameters["epochs"] == 2 and run.parameters["data_dir"] == str(tmp_path)
               and run.parameters["device"] == "cpu" for run in runs)
    assert Path(runs[0].notebook).name == "vlae.ipynb"


def test_dry_run_shows_the_committed_estimates_per_grid_point(tmp_path, monkeypatch, capsys):
    from companion.reproduce import rehearsal

    estimates = tmp_path / "paper.csv"
    pd.DataFrame([{"chapter": "vlae", "grid_point": "dataset=mnist likelihood=gaussian steps=1", "calls": 12,
                   "A100_h": 2.04, "H100 SXM_h": 0.61, "gpu_memory_gib": 0.1}]).to_csv(estimates, index=False)
    monkeypatch.setattr(rehearsal, "estimates_file", lambda: estimates)
    assert main(["--dry-run", "--profile", "paper", "--chapters", "vlae", "--only", "dataset=mnist",
                 "--only", "likelihood=gaussian", "--only", "steps=1,2",
                 "--results-dir", str(tmp_path / "results")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "steps=" in line]
    assert len(lines) == 6  # two values of T, three seeds: every seed shares its grid point's estimate
    assert sum("A100 2 h, H100 SXM 0.61 h, 0.1 GiB (est.)" in line for line in lines) == 3
    assert sum("not rehearsed" in line for line in lines) == 3

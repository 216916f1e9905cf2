"""Planning a sweep: grids expanded into runs, options parsed, the dry-run table."""

import json

import pytest

from companion.reproduce.__main__ import main
from companion.reproduce.executors import slurm_minutes
from companion.reproduce.ledger import Ledger
from companion.reproduce.plan import code_version, expand, parse_assignments, parse_seeds
from companion.results import record_run
from reproduce_fixture import chapters, write_notebook


@pytest.fixture
def tiny(tmp_path):
    return chapters(tmp_path / "notebooks", {"cpu": {"scale": [1.0, 2.0], "fail": [None, "x"]},
                                             "paper": {"scale": [10.0]}})["tiny"]


def test_grid_is_the_product_of_its_axes_times_the_seeds(tiny):
    runs = expand(tiny, "cpu", seeds=[0, 1, 2])
    assert len(runs) == 2 * 2 * 3
    assert {(r.parameters["scale"], r.parameters["fail"], r.parameters["seed"]) for r in runs} == {
        (s, f, seed) for s in (1.0, 2.0) for f in (None, "x") for seed in (0, 1, 2)}
    assert all(r.parameters["profile"] == "cpu" for r in runs)
    assert len({r.key for r in runs}) == len(runs), "each run has its own key"
    assert runs[0].label == "scale=1.0 fail=None seed=0"


def test_a_value_listed_twice_runs_once(tiny):
    twice = type(tiny)(tiny.name, tiny.notebook, {"cpu": {"scale": [1.0, 1.0, 2.0]}})
    assert [r.parameters["scale"] for r in expand(twice, "cpu")] == [1.0, 2.0]


def test_seed_defaults_to_zero_and_grid_seeds_are_kept(tiny):
    assert [r.parameters["seed"] for r in expand(tiny, "paper")] == [0]
    tiny = type(tiny)(tiny.name, tiny.notebook, {"cpu": {"scale": [1.0], "seed": [3, 4]}})
    assert [r.parameters["seed"] for r in expand(tiny, "cpu")] == [3, 4]
    assert [r.parameters["seed"] for r in expand(tiny, "cpu", seeds=[7])] == [7]


def test_only_keeps_the_chosen_values_and_names_the_valid_ones(tiny):
    runs = expand(tiny, "cpu", only={"scale": ["2"], "fail": ["None"]})
    assert [(r.parameters["scale"], r.parameters["fail"]) for r in runs] == [(2.0, None)]
    assert expand(tiny, "cpu", only={"dataset": ["digits"]}) == [], "no such axis: no runs"
    with pytest.raises(ValueError, match=r"valid values: \[1.0, 2.0\]"):
        expand(tiny, "cpu", only={"scale": ["3"]})


def test_fixed_parameters_reach_every_run_and_bad_values_stop_the_plan(tiny):
    runs = expand(tiny, "paper", fixed={"device": "cuda", "data_dir": "/data"})
    assert runs[0].parameters == {"profile": "paper", "scale": 10.0, "seed": 0,
                                  "device": "cuda", "data_dir": "/data"}
    bad = type(tiny)(tiny.name, tiny.notebook, {"cpu": {"scale": [1.0, -1.0]}}, tiny.settings)
    with pytest.raises(ValueError, match="scale=-1.0 must be positive"):
        expand(bad, "cpu")
    with pytest.raises(ValueError, match=r"valid values: \['cpu', 'paper'\]"):
        expand(tiny, "laptop")


def test_code_version_follows_code_cells_not_outputs(tmp_path):
    path = write_notebook(tmp_path)
    before = code_version(path)
    notebook = json.loads(path.read_text())
    notebook["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    notebook["cells"][0]["source"] = "# Another title"
    path.write_text(json.dumps(notebook))
    assert code_version(path) == before
    assert code_version(write_notebook(tmp_path, extra_code="\nx = 1")) != before


def test_code_version_follows_the_library_sources(tmp_path):
    notebook = write_notebook(tmp_path / "notebooks")
    library = tmp_path / "lib"
    (library / "sub").mkdir(parents=True)
    (library / "sub" / "model.py").write_text("WIDTH = 1\n")
    (library / "reproduce").mkdir()
    (library / "reproduce" / "plan.py").write_text("# scheduling only\n")
    before = code_version(notebook, library)
    assert code_version(notebook) != before, "the default library is the companion package"
    (library / "reproduce" / "plan.py").write_text("# changed\n")
    assert code_version(notebook, library) == before, "the scheduler is not the run's code"
    (library / "sub" / "model.py").write_text("WIDTH = 2\n")
    assert code_version(notebook, library) != before


@pytest.mark.parametrize(("text", "seeds"), [("0,1,2", [0, 1, 2]), ("0-3", [0, 1, 2, 3]),
                                             ("2-3,7,3", [2, 3, 7]), ("5", [5])])
def test_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "1-"])
def test_bad_seeds_are_refused(text):
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(text)


def test_assignments():
    assert parse_assignments(["dataset=digits,mnist5k", "seed=1", "dataset=svhn"], "--only") == {
        "dataset": ["digits", "mnist5k", "svhn"], "seed": ["1"]}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignments(["dataset"], "--only")


@pytest.mark.parametrize(("text", "minutes"), [("90", 90), ("1:30", 2), ("2:00:00", 120),
                                               ("1:30:01", 91), ("1-0", 1440),
                                               ("1-2:03", 1563), ("0-0:00:30", 1)])
def test_slurm_time_limits(text, minutes):
    assert slurm_minutes(text) == minutes


@pytest.mark.parametrize("text", ["abc", "1:2:3:4", "0", "x-1"])
def test_bad_time_limits_are_refused(text):
    with pytest.raises(ValueError, match="--time-limit"):
        slurm_minutes(text)


def test_dry_run_prints_the_plan_and_runs_nothing(tiny, tmp_path, capsys):
    status = main(["--dry-run", "--results-dir", str(tmp_path / "results"), "--seeds", "0-1",
                   "--only", "fail=None"], chapters={"tiny": tiny})
    out = capsys.readouterr().out
    assert status == 0
    assert out.splitlines()[0].startswith("4 runs, 4 to run, 0 done")
    assert out.count("to run") == 5 and "scale=2.0 fail=None seed=1" in out
    assert not (tmp_path / "results").exists()


def test_dry_run_of_the_book_chapters_lists_the_data_grid(tmp_path, capsys):
    status = main(["--dry-run", "--chapters", "data", "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0 and "dataset=digits seed=0" in out and "dataset=mnist5k seed=0" in out


def test_unknown_chapters_and_parameters_are_named(tmp_path, capsys):
    assert main(["--dry-run", "--chapters", "nope", "--results-dir", str(tmp_path)]) == 2
    assert "'nope'" in capsys.readouterr().err
    assert main(["--dry-run", "--chapters", "data", "--only", "steps=4",
                 "--results-dir", str(tmp_path)]) == 2
    assert "grid parameters: ['dataset', 'seed']" in capsys.readouterr().err


def test_ledger_state_reads_what_became_of_a_run(tiny, tmp_path):
    ledger = Ledger(tmp_path)
    run = expand(tiny, "paper")[0]
    assert ledger.state(run) == "to run"
    ledger.write(run, status="failed", error="RuntimeError: boom")
    assert ledger.state(run).startswith("failed before (RuntimeError: boom)")
    ledger.write(run, status="done", notebook="tiny/notebooks/x.ipynb", records=[])
    assert ledger.state(run) == "outputs missing: rerun" and not ledger.is_complete(run)
    (tmp_path / "tiny" / "notebooks").mkdir(parents=True)
    (tmp_path / "tiny" / "notebooks" / "x.ipynb").write_text("{}")
    assert ledger.is_complete(run) and ledger.state(run) == "done: skip"
    ledger.write(run, **{**ledger.read(run), "code_version": "older"})
    assert ledger.state(run) == "done with other code: rerun"


def test_a_record_with_the_runs_resolved_parameters_counts_as_done(tmp_path, capsys):
    """A record committed by an earlier sweep (it carries the notebook's resolved parameters,
    not the grid's) is recognised: the dry run skips it and lists the others to run."""
    from companion.config import resolve
    from companion.vlae import PROFILES

    record_run("vlae", resolve(PROFILES, "cpu", seed=1, steps=4, likelihood="bernoulli",
                               device="auto").record(),
               [{"model": "VAE", "log_px": -1.0}], wall_time_s=1.0, device="cpu",
               directory=tmp_path)
    assert main(["--dry-run", "--chapters", "vlae", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("12 runs, 11 to run, 1 done")
    recorded = [line for line in out.splitlines() if "recorded: skip" in line]
    assert len(recorded) == 1 and "steps=4 likelihood=bernoulli seed=1" in recorded[0]


def test_chapters_that_train_nothing_ask_slurm_for_no_gpu(tmp_path, monkeypatch):
    import shutil

    from companion.reproduce.executors import SlurmExecutor, SlurmOptions
    from companion.reproduce.plan import registered_chapters
    from submitit.slurm.slurm import _make_sbatch_string

    specs, _ = registered_chapters()
    assert not specs["data"].uses_gpu and specs["vlae"].uses_gpu
    assert all(not run.uses_gpu for run in expand(specs["data"], "paper"))
    which = shutil.which  # submitit checks that srun exists before it writes any job script
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/bin/true" if name == "srun"
                        else which(name, *a, **k))
    executor = SlurmExecutor(tmp_path, SlurmOptions(gpus_per_job=2))

    def gpu_lines(uses_gpu):
        script = _make_sbatch_string(command="run", folder=str(tmp_path),
                                     **executor.executors[uses_gpu]._executor.parameters)
        return [line for line in script.splitlines() if "gpu" in line]

    assert gpu_lines(True) == ["#SBATCH --gpus-per-node=2"] and gpu_lines(False) == []


def test_estimates_come_from_the_recorded_wall_times(tiny):
    from companion.reproduce.plan import estimated_seconds, format_duration

    run = expand(tiny, "cpu")[0]
    assert estimated_seconds(run, []) is None and format_duration(None) == "no record yet"
    records = [{"chapter": "tiny", "profile": "cpu", "key": f"k{i}", "wall_time_s": seconds,
                "params": {"epochs": epochs}}
               for i, (seconds, epochs) in enumerate([(100.0, 10), (300.0, 10), (50.0, 5)])]
    records.append({**records[0], "profile": "paper", "wall_time_s": 9e9})
    assert estimated_seconds(run, records) == 100.0  # the median, other profiles left out
    run = expand(tiny, "cpu", fixed={"epochs": 20})[0]
    assert estimated_seconds(run, records) == 200.0  # scaled to the run's epochs
    assert [format_duration(s) for s in (45, 720, 12600)] == ["45 s", "12 min", "3.5 h"]


def test_coverage_counts_the_planned_runs_that_have_a_record(tmp_path):
    from companion.reproduce.plan import coverage, coverage_sentence, expand, registered_chapters
    from companion.results import record_run
    from companion.config import resolve
    from companion.vlae import PROFILES

    empty = coverage("vlae", "cpu", tmp_path)
    assert len(empty) == 12 and not empty["recorded"].any() and empty["wall_time_s"].isna().all()
    assert coverage_sentence(empty, "cpu") == "0 of the 12 planned cpu runs are recorded (not yet: " + \
        ", ".join(empty["run"]) + ")."
    first, second = expand(registered_chapters()[0]["vlae"], "cpu")[:2]
    for run, seconds in [(first, 600.0), (second, 1500.0)]:
        resolved = resolve(PROFILES, **{k: v for k, v in run.parameters.items() if k != "device"}).record()
        record_run("vlae", {**resolved, "device": "auto"}, {"log_px": 0.0}, wall_time_s=seconds,
                   device="cpu", directory=tmp_path)
    table = coverage("vlae", "cpu", tmp_path)
    assert table["recorded"].tolist() == [True, True] + [False] * 10
    assert table["run"].iloc[0] == first.label
    assert table["wall_time_s"].iloc[:2].tolist() == [600.0, 1500.0] and table["wall_time_s"].iloc[2:].isna().all()
    sentence = coverage_sentence(table, "cpu")
    assert sentence.startswith("2 of the 12 planned cpu runs are recorded (not yet: ")
    assert first.label not in sentence and ", ".join(table["run"].iloc[2:]) in sentence
    assert "; wall time per run 10–25 min, 35 min in all (a run resumed" in sentence
    assert coverage_sentence(table.iloc[:2], "cpu").startswith(
        "2 of the 2 planned cpu runs are recorded; wall time per run 10–25 min, 35 min in all")


def test_coverage_names_the_commits_and_flags_records_of_uncommitted_code():
    import pandas as pd

    from companion.reproduce.plan import coverage_sentence

    clean, dirty = "a" * 40, "b" * 40 + "+dirty"
    one = pd.DataFrame({"run": ["seed=0", "seed=1"], "recorded": [True, True], "wall_time_s": [60.0, 60.0],
                        "commit": [clean, clean]})
    assert coverage_sentence(one, "cpu-long").endswith("; made at one commit, aaaaaaaa.")
    mixed = one.assign(commit=[clean, dirty])
    assert coverage_sentence(mixed, "cpu-long").endswith(
        "; made at 2 different commits (aaaaaaaa, bbbbbbbb (dirty)); 1 of the 2 from uncommitted code (dirty).")


def test_planned_keys_leave_out_records_of_earlier_settings(tmp_path):
    from companion.reproduce.plan import expand, planned_keys, registered_chapters
    from companion.results import load_runs, record_run
    from companion.config import resolve
    from companion.vlae import PROFILES

    first = expand(registered_chapters()[0]["vlae"], "cpu")[0]
    resolved = resolve(PROFILES, **{k: v for k, v in first.parameters.items() if k != "device"}).record()
    record_run("vlae", {**resolved, "device": "auto"}, {"log_px": 1.0}, wall_time_s=1, device="cpu",
               directory=tmp_path)
    earlier = {**resolved, "epochs": resolved["epochs"] + 1, "device": "auto"}  # a setting since changed
    record_run("vlae", earlier, {"log_px": 2.0}, wall_time_s=1, device="cpu", directory=tmp_path)
    keys = planned_keys("vlae", "cpu")
    assert len(keys) == 12
    assert len(load_runs("vlae", tmp_path, profile="cpu")) == 2
    kept = load_runs("vlae", tmp_path, profile="cpu", keys=keys)
    assert kept["log_px"].tolist() == [1.0]

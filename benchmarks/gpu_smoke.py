"""A short check of the GPU paths, for a machine with CUDA: every chapter at a tiny size with
``device="cuda"``, SplitNet's branches on two GPUs where there are two (one process, and the
Table 5 measurement with two NCCL processes), and a chapter run killed mid-training and re-run,
which must resume from its checkpoints and record what an uninterrupted run records.

    python benchmarks/gpu_smoke.py --out /tmp/smoke                 # on a GPU machine
    python benchmarks/gpu_smoke.py --device cpu --out /tmp/smoke    # the same checks on CPUs

Runs go through papermill, as a sweep runs them; their records, checkpoints and executed
notebooks stay under ``--out``, never in ``data/results``. One line per check (ok, or FAILED and
why); the exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]

#: Every chapter at a size that runs in well under a minute: the defaults, made small.
TINY: dict[str, dict] = {
    "data": {"examples": 8},
    "vlae": {"epochs": 3, "figure_epochs": 1, "importance_samples": 10, "hidden_dim": 32, "latent_dim": 4},
    "splitnet": {"epochs": 2, "finetune_epochs": 1, "depth": 10, "width": 1, "lr_decay_at": [], "finetune_lr_decay_at": []},
    "vhcr": {"epochs": 1, "train_conversations": 64, "eval_conversations": 4, "importance_samples": 5,
             "replies": 1, "kl_annealing_steps": 2},
    "ppca": {"seeds": 1, "examples": 200, "lbfgs_iterations": 20, "sgd_epochs": 2, "nonlinear_epochs": 2,
             "nonlinear_seeds": 1},
}


def papermill(chapter: str, parameters: dict, out: Path, name: str) -> subprocess.Popen:
    """Start one papermill run of ``chapter`` in its own process group; records and checkpoints
    go under ``out/name``."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COMPANION_RESULTS_DIR": str(folder / "results"),
           "COMPANION_CHECKPOINT_DIR": str(folder / "checkpoints")}
    command = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / f"{chapter}.ipynb"),
               str(folder / f"{chapter}.ipynb"), "-y", yaml.safe_dump(parameters), "--cwd",
               str(ROOT / "notebooks"), "--no-progress-bar"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def finished(process: subprocess.Popen) -> None:
    """Wait for ``process``; raise with its last lines when it failed."""
    output, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"papermill exit {process.returncode}: " + " | ".join(output.strip().splitlines()[-5:]))


def metrics(out: Path, name: str, chapter: str) -> list[dict]:
    """The metric rows of the one record a run left under ``out/name``."""
    [record] = (out / name / "results" / chapter).glob("*.json")
    return json.loads(record.read_text())["metrics"]


def chapters(device: str, out: Path) -> None:
    """Every chapter at its tiny size on ``device``, one after another."""
    for chapter, parameters in TINY.items():
        start = time.perf_counter()
        finished(papermill(chapter, {**parameters, "device": device}, out, f"chapter-{chapter}"))
        print(f"  {chapter}: {time.perf_counter() - start:.0f} s")


def two_devices(device: str, out: Path) -> None:
    """SplitNet with its branches on two devices; on two GPUs the run also measures Table 5."""
    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    if device.startswith("cuda") and gpus < 2:
        raise RuntimeError(f"needs two GPUs, this machine has {gpus}")
    devices = ["cuda:0", "cuda:1"] if gpus >= 2 else [device, device]
    finished(papermill("splitnet", {**TINY["splitnet"], "device": device, "devices": devices}, out, "two-devices"))
    speed = list((out / "two-devices" / "results" / "splitnet" / "parallel").glob("*.json"))
    if gpus >= 2 and len(speed) != 1:
        raise RuntimeError("the run on two GPUs recorded no Table 5 measurement")


def kill_and_resume(device: str, out: Path) -> None:
    """The VLAE chapter killed once its first checkpoint is written, then re-run: it must resume
    from that checkpoint (the epochs it had kept, timings included), and its record must equal an
    uninterrupted run's (to 1e-4, relative; timings left out)."""
    parameters = {**TINY["vlae"], "epochs": 6, "device": device, "models": ["vae", "vlae"]}
    finished(papermill("vlae", parameters, out, "uninterrupted"))
    first = papermill("vlae", parameters, out, "killed")
    checkpoints = out / "killed" / "checkpoints"
    while first.poll() is None and not any(checkpoints.rglob("checkpoint.pt")):
        time.sleep(0.2)
    if first.poll() is not None:
        raise RuntimeError("the run ended before its first checkpoint; nothing was killed")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    [checkpoint] = checkpoints.rglob("checkpoint.pt")
    before = torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch_history"]
    finished(papermill("vlae", parameters, out, "killed"))
    after = torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch_history"]
    if after[:len(before)] != before:  # the epoch timings too: trained again, they would differ
        raise RuntimeError(f"{checkpoint.parent.name}: the re-run did not resume from the killed run's checkpoint")
    for expected, resumed in zip(metrics(out, "uninterrupted", "vlae"), metrics(out, "killed", "vlae"), strict=True):
        for key, value in expected.items():
            if "seconds" in key:  # timings differ from run to run
                continue
            if isinstance(value, float) and abs(resumed[key] - value) > 1e-4 * max(1.0, abs(value)):
                raise RuntimeError(f"{expected.get('model')} {key}: resumed {resumed[key]} ≠ uninterrupted {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs' records and notebooks")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("CUDA is not available here; give --device cpu to run the checks on CPUs")
    print(f"torch {torch.__version__}, {torch.cuda.device_count()} CUDA device(s), checks on {args.device}")
    checks: list[tuple[str, Callable[[str, Path], None]]] = [
        ("every chapter at a tiny size", chapters), ("SplitNet on two devices", two_devices),
        ("kill and resume (VLAE)", kill_and_resume)]
    failed = 0
    for name, check in checks:
        start = time.perf_counter()
        try:
            check(args.device, args.out)
            print(f"ok      {name} ({time.perf_counter() - start:.0f} s)", flush=True)
        except Exception as error:  # one failed check must not hide the others
            failed += 1
            print(f"FAILED  {name}: {error}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Training speed of HRED, VHRED and VHCR: target words per second and memory per batch.

For each model, at the CPU profile's sizes and at the paper's (embeddings 500, GRUs 1000,
latents 100, vocabulary 20,000, batch 80), one optimiser step is warmed up and ``--steps``
steps on real Chit-Chat batches are timed. Memory per batch is what autograd keeps for the
backward pass of one batch (each tensor storage counted once, parameters excluded), which is what grows with the
batch; on CUDA the peak of allocated GPU memory over the timed steps is added. Each
configuration runs in its own process.

    .venv/bin/python benchmarks/vhcr_speed.py [--device cpu] [--threads 1] [--steps 5] [--paper-steps 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import pandas as pd
import torch

from companion.config import resolve_device
from companion.training import TrainState
from companion.vhcr import PROFILES
from companion.vhcr.corpora import load_dialogue_data
from companion.vhcr.experiments import annealed_loss, build_model

MODELS = ("hred", "vhred", "vhcr_ud")
#: The paper's vocabulary limit (Chit-Chat has fewer words; the output layer is what costs).
PAPER_VOCABULARY = 20000


def saved_activation_mib(model: torch.nn.Module, loss_fn, batch, state: TrainState) -> float:
    """MiB of the tensors autograd keeps for the backward pass of one batch (parameters excluded)."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss_fn(model, batch, state)["loss"].backward()
    model.zero_grad(set_to_none=True)
    return sum(storages.values()) / 2**20


def measure(variant: str, profile: str, steps: int, device: str, threads: int) -> dict[str, float]:
    """Words per second and memory of ``steps`` training steps of ``variant`` at ``profile`` sizes."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params = PROFILES[profile]
    data = load_dialogue_data("chitchat", max_vocab_size=params.max_vocab_size, min_count=params.min_count,
                              max_turns=params.max_turns, max_tokens=params.max_tokens,
                              train_conversations=max(params.train_conversations,
                                                      params.batch_size * (steps + 1)))
    vocabulary = PAPER_VOCABULARY if profile == "paper" else len(data.vocabulary)
    target = resolve_device(device)
    model = build_model(variant, vocabulary, params).to(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.learning_rate)
    loss_fn = annealed_loss(params.kl_annealing_steps)
    size = params.batch_size
    batches = [(data.train.tokens[i:i + size].to(target), data.train.turn_lengths[i:i + size].to(target))
               for i in range(0, size * (steps + 1), size)]
    state = TrainState(model=model, optimizer=optimizer)

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        loss = loss_fn(model, batch, state)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.grad_clip)
        optimizer.step()

    model.train()
    step(batches[0])
    activations = saved_activation_mib(model, loss_fn, batches[1], state)
    if target.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    words = sum(int(lengths[:, 1:].sum()) for _, lengths in batches[1:])
    return {
        "model": variant, "sizes": profile, "batch": size, "vocabulary": vocabulary,
        "parameters (M)": sum(p.numel() for p in model.parameters()) / 1e6,
        "steps timed": steps, "s per step": seconds / steps, "target words per s": words / seconds,
        "activations per batch (MiB)": activations,
        "peak GPU memory (MiB)": torch.cuda.max_memory_allocated() / 2**20 if target.type == "cuda" else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=5, help="timed steps at the CPU sizes")
    parser.add_argument("--paper-steps", type=int, default=2, help="timed steps at the paper's sizes")
    parser.add_argument("--single", nargs=2, metavar=("MODEL", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        steps = args.steps if args.single[1] == "cpu" else args.paper_steps
        print(json.dumps(measure(*args.single, steps=steps, device=args.device, threads=args.threads)))
        return
    rows = []
    for profile in ("cpu", "paper"):
        for variant in MODELS:
            command = [sys.executable, __file__, "--single", variant, profile, "--device", args.device,
                       "--threads", str(args.threads), "--steps", str(args.steps),
                       "--paper-steps", str(args.paper_steps)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
    table = pd.DataFrame(rows).set_index(["sizes", "model"])
    print(f"device={args.device}, torch threads={args.threads}")
    print(table.to_string(float_format=lambda value: f"{value:,.2f}"))


if __name__ == "__main__":
    main()

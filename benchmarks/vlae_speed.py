"""Speed of the VLAE chapter's models, how close the Laplace update runs to matmul speed, and
what the Gram path of the Gaussian update saves.

Prints three tables:

1. Seconds per training epoch of every model (the shared training loop, batch 128) at the CPU
   defaults (8×8 digits: 1,437 images, 64 pixels, 2×128 ReLU, z = 8) and at the paper's
   architecture (MNIST-sized: 60,000 images, 784 pixels, 2×500 ReLU, z = 50). An epoch is timed
   on ``--batches`` batches of random data and scaled to the full epoch; the ratio to the VAE
   is what T updates cost.
2. One Laplace update (linearise the decoder, build Λ, Cholesky, solve) in inference mode: its
   FLOPs counted from the shapes, its achieved FLOP/s, and that as a fraction of this machine's
   measured float32 matmul FLOP/s with the same thread count (target ≥ 40%).
3. A training step of a Gaussian VLAE (forward, backward, Adam; batch 128, 500-500 ReLU,
   z = 50) at D = 784 and D = 3072 for T ∈ {1, 2, 4, 8}, with the explicit Jacobian and with the
   Gram path (``jacobian="explicit"`` / ``"gram"``): milliseconds (median of ``--repeats`` steps
   after warm-up, the two paths interleaved), their ratio, and each step's peak memory. Peak
   memory is the most bytes PyTorch's allocator held during one step beyond what it held when
   the step began: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the running total
   that torch.profiler's allocation events report (``profile_memory=True``).

Run: ``.venv/bin/python benchmarks/vlae_speed.py [--device cuda] [--threads 1] [--table gram]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import pandas as pd
import torch
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile

from companion.config import resolve_device
from companion.data import batches
from companion.training import seed_everything, train
from companion.vlae import MODELS, TITLES, LatentVariableModel, build_model, decoder_linearization, laplace_target

#: (name, pixels D, training-set size, hidden width, latent d) of the two scales timed.
SCALES = {
    "cpu defaults": (64, 1437, 128, 8),
    "paper": (784, 60000, 500, 50),
}
BATCH = 128
#: Pixels D and updates T of table 3 (the paper's MNIST size and SVHN/CIFAR-10's 32×32×3).
GRAM_PIXELS = (784, 3072)
GRAM_STEPS = (1, 2, 4, 8)
PATHS = ("explicit", "gram")
TABLES = ("all", "epoch", "update", "gram")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch_seconds(name: str, scale: str, steps: int, batch_count: int, device: torch.device) -> float:
    """Seconds of one full training epoch, from ``batch_count`` timed batches of the shared loop."""
    pixels, examples, hidden, latent = SCALES[scale]
    seed_everything(0, deterministic=False)
    model = build_model(name, pixels, latent, hidden, "gaussian", steps, log_var=-2.0,
                        svi_lr=1e-3).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    data = torch.rand(BATCH * batch_count, pixels) - 0.5

    def loss_fn(model, batch, state):
        return -model.elbo(batch[0]).mean()

    def run(count: int) -> float:
        batch_fn = batches((data[: BATCH * count],), BATCH, shuffle=False)
        synchronize(device)
        start = time.perf_counter()
        train(model, loss_fn, batch_fn, epochs=1, optimizer=optimizer, device=device, progress=False)
        synchronize(device)
        return time.perf_counter() - start

    run(1)  # warm-up
    return run(batch_count) / batch_count * -(-examples // BATCH)


def laplace_flops(batch: int, pixels: int, hidden: int, latent: int) -> float:
    """FLOPs of one Laplace update: decoder pass, Jacobian products, Λ, Cholesky and solves."""
    forward = 2 * batch * (latent * hidden + hidden * hidden + hidden * pixels)
    jacobian = 2 * batch * latent * (hidden * hidden + hidden * pixels)
    precision = 2 * batch * latent * latent * pixels
    gradient = 2 * batch * latent * pixels
    cholesky = batch * latent ** 3 / 3
    solves = 4 * batch * latent ** 2
    return forward + jacobian + precision + gradient + cholesky + solves


def time_call(function, device: torch.device, repeats: int) -> float:
    """Best-of-``repeats`` seconds of ``function()``."""
    function()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        function()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops_per_second(size: int, device: torch.device, repeats: int) -> float:
    """float32 FLOP/s of a size×size matrix product on ``device``."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return 2 * size ** 3 / time_call(lambda: a @ b, device, repeats)


def laplace_update_row(scale: str, device: torch.device, repeats: int, peak: float) -> dict[str, object]:
    """Achieved FLOP/s of one Laplace update at ``scale`` (inference mode, batch 128)."""
    pixels, _, hidden, latent = SCALES[scale]
    seed_everything(0, deterministic=False)
    model = build_model("vlae", pixels, latent, hidden, "gaussian", 1, log_var=-2.0).to(device)
    x = torch.rand(BATCH, pixels, device=device) - 0.5
    mean = torch.randn(BATCH, latent, device=device)

    def update() -> None:
        with torch.inference_mode():
            laplace_target(model.likelihood, x, mean, decoder_linearization(model.decoder, mean))

    seconds = time_call(update, device, repeats)
    flops = laplace_flops(BATCH, pixels, hidden, latent)
    return {"scale": scale, "GFLOP per update": round(flops / 1e9, 3),
            "ms per update": round(seconds * 1e3, 2), "GFLOP/s": round(flops / seconds / 1e9, 1),
            "matmul GFLOP/s": round(peak / 1e9, 1), "fraction of matmul": round(flops / seconds / peak, 2)}


def training_step(model: LatentVariableModel, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> None:
    """One step of the chapter's training: −ELBO (one sample), backward, Adam."""
    optimizer.zero_grad(set_to_none=True)
    (-model.elbo(x).mean()).backward()
    optimizer.step()


def step_seconds(step: Callable[[], None], device: torch.device) -> float:
    """Wall seconds of one call of ``step``."""
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def _events(nodes):
    for node in nodes:
        yield node
        yield from _events(node.children)


def peak_step_bytes(step: Callable[[], None], device: torch.device) -> int:
    """Most bytes the allocator held during one call of ``step`` beyond what it held before."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        step()
    allocations = sorted((event for event in _events(profiler.profiler.kineto_results.experimental_event_tree())
                          if event.tag == _EventType.Allocation), key=lambda event: event.start_time_ns)
    fields = [event.extra_fields for event in allocations]
    before = fields[0].total_allocated - fields[0].alloc_size
    return max(field.total_allocated for field in fields) - before


def gram_rows(pixels: int, steps: int, device: torch.device, repeats: int, warmup: int) -> dict[str, object]:
    """Table 3's row: a training step with each Jacobian path at D = ``pixels`` and T = ``steps``."""
    seed_everything(0, deterministic=False)
    x = torch.rand(BATCH, pixels, device=device) - 0.5
    models = {path: build_model("vlae", pixels, 50, 500, "gaussian", steps, log_var=-2.0, init="authors",
                                jacobian=path).to(device) for path in PATHS}
    models["gram"].load_state_dict(models["explicit"].state_dict())
    optimizers = {path: torch.optim.Adam(model.parameters(), lr=5e-4) for path, model in models.items()}
    runs = {path: (lambda path=path: training_step(models[path], optimizers[path], x)) for path in PATHS}
    for _ in range(warmup):
        for step in runs.values():
            step()
    seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    for repeat in range(repeats):
        for path in (PATHS if repeat % 2 == 0 else PATHS[::-1]):
            seconds[path].append(step_seconds(runs[path], device))
    ms = {path: 1e3 * statistics.median(values) for path, values in seconds.items()}
    peak = {path: peak_step_bytes(runs[path], device) / 2 ** 20 for path in PATHS}
    return {"D": pixels, "T": steps, "explicit ms": round(ms["explicit"], 1), "gram ms": round(ms["gram"], 1),
            "gram / explicit": round(ms["gram"] / ms["explicit"], 3),
            "explicit peak MiB": round(peak["explicit"], 1), "gram peak MiB": round(peak["gram"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=4, help="T for SA-VAE, VAE+HF and VLAE")
    parser.add_argument("--batches", type=int, default=0,
                        help="batches timed per epoch (default: 12 on the CPU scale, 3 at paper scale on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed training steps per path in table 3")
    parser.add_argument("--scales", default=",".join(SCALES), help=f"comma-separated, of {list(SCALES)}")
    parser.add_argument("--table", default="all", choices=TABLES, help="run only table 1, 2 or 3")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
    print(f"device: {device}; CPU threads: {torch.get_num_threads()}; T = {args.steps}; batch {BATCH}\n")

    scales = [scale.strip() for scale in args.scales.split(",")]
    if args.table in ("all", "epoch"):
        rows = []
        for scale in scales:
            count = args.batches or (12 if scale == "cpu defaults" or device.type == "cuda" else 3)
            base = None
            for name in MODELS:
                seconds = epoch_seconds(name, scale, args.steps, count, device)
                base = seconds if name == "vae" else base
                rows.append({"scale": scale, "model": TITLES[name] + ("" if name == "vae" else f" (T={args.steps})"),
                             "s / epoch": round(seconds, 2), "× VAE": round(seconds / base, 1),
                             "timed batches": count})
        print(pd.DataFrame(rows).to_string(index=False), end="\n\n")

    if args.table in ("all", "update"):
        peak = matmul_flops_per_second(2048 if device.type == "cpu" else 8192, device, args.repeats)
        updates = [laplace_update_row(scale, device, args.repeats, peak) for scale in scales]
        print(pd.DataFrame(updates).to_string(index=False), end="\n\n")

    if args.table in ("all", "gram"):
        table = pd.DataFrame([gram_rows(pixels, steps, device, args.repeats, args.warmup)
                              for pixels in GRAM_PIXELS for steps in GRAM_STEPS])
        print(f"training step, Gaussian VLAE (z = 50, 500-500 ReLU, batch {BATCH}); "
              f"median of {args.repeats} steps after {args.warmup} warm-up steps per path")
        print(table.to_string(index=False))
        at_four = table[table["T"] == 4].set_index("D")["gram / explicit"]
        print("ratio gram / explicit at T = 4: " + "; ".join(f"D = {pixels}: {ratio:.3f}"
                                                             for pixels, ratio in at_four.items()))


if __name__ == "__main__":
    main()

"""Speed of the VLAE chapter's models, and how close the Laplace update runs to matmul speed.

Prints two tables:

1. Seconds per training epoch of every model (the shared training loop, batch 128) at the CPU
   defaults (8×8 digits: 1,437 images, 64 pixels, 2×128 ReLU, z = 8) and at the paper's
   architecture (MNIST-sized: 60,000 images, 784 pixels, 2×500 ReLU, z = 50). An epoch is timed
   on ``--batches`` batches of random data and scaled to the full epoch; the ratio to the VAE
   is what T updates cost.
2. One Laplace update (linearise the decoder, build Λ, Cholesky, solve) in inference mode: its
   FLOPs counted from the shapes, its achieved FLOP/s, and that as a fraction of this machine's
   measured float32 matmul FLOP/s with the same thread count (target ≥ 40%).

Run: ``.venv/bin/python benchmarks/vlae_speed.py [--device cuda] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd
import torch

from companion.config import resolve_device
from companion.data import batches
from companion.training import seed_everything, train
from companion.vlae import MODELS, TITLES, build_model, laplace_target, linearize

#: (name, pixels D, training-set size, hidden width, latent d) of the two scales timed.
SCALES = {
    "cpu defaults": (64, 1437, 128, 8),
    "paper": (784, 60000, 500, 50),
}
BATCH = 128


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
            output, jacobian = linearize(model.decoder, mean)
            laplace_target(model.likelihood, x, mean, output, jacobian)

    seconds = time_call(update, device, repeats)
    flops = laplace_flops(BATCH, pixels, hidden, latent)
    return {"scale": scale, "GFLOP per update": round(flops / 1e9, 3),
            "ms per update": round(seconds * 1e3, 2), "GFLOP/s": round(flops / seconds / 1e9, 1),
            "matmul GFLOP/s": round(peak / 1e9, 1), "fraction of matmul": round(flops / seconds / peak, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=4, help="T for SA-VAE, VAE+HF and VLAE")
    parser.add_argument("--batches", type=int, default=0,
                        help="batches timed per epoch (default: 12 on the CPU scale, 3 at paper scale on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scales", default=",".join(SCALES), help=f"comma-separated, of {list(SCALES)}")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
    print(f"device: {device}; CPU threads: {torch.get_num_threads()}; T = {args.steps}; batch {BATCH}\n")

    scales = [scale.strip() for scale in args.scales.split(",")]
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
    print(pd.DataFrame(rows).to_string(index=False))

    peak = matmul_flops_per_second(2048 if device.type == "cpu" else 8192, device, args.repeats)
    updates = [laplace_update_row(scale, device, args.repeats, peak) for scale in scales]
    print()
    print(pd.DataFrame(updates).to_string(index=False))


if __name__ == "__main__":
    main()

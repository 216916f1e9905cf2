"""A small training run for the resume test: ``python training_script.py CKPT_DIR OUT [HANG_AT]``.

With HANG_AT it writes CKPT_DIR/hanging when epoch HANG_AT ends (after that epoch's
evaluation, before its checkpoint) and then waits to be killed.
"""

import sys
import time
from pathlib import Path

import torch
from torch import nn

from companion.data import batches
from companion.training import seed_everything, train

checkpoint_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
hang_at = int(sys.argv[3]) if len(sys.argv) > 3 else None

seed_everything(0)
inputs = torch.randn(64, 5)
targets = inputs @ torch.randn(5, 1) + 0.1 * torch.randn(64, 1)
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)


def loss_fn(model, batch, state):
    x, y = batch
    noisy = x + 0.01 * torch.randn_like(x)  # draws from the global RNG, as sampling models do
    return nn.functional.mse_loss(model(noisy), y)


def evaluate(model, epoch):
    if epoch == hang_at:
        (checkpoint_dir / "hanging").write_text("killed here")
        time.sleep(600)
    return {}


result = train(model, loss_fn, batches([inputs, targets], 16, seed=0), epochs=6,
               optimizer=optimizer, evaluate=evaluate, checkpoint_dir=checkpoint_dir)
torch.save({"model": model.state_dict(), "loss": torch.tensor(result.epochs["loss"].to_numpy())}, out)

"""The VLAE chapter's experiments: data, training with the shared loop, evaluation, tables.

The notebook calls these so that it only narrates: :func:`prepare_data` → :func:`fit_model`
(one model, with :func:`companion.training.train`) → :func:`evaluate_model`; the Table 1
comparison reads the recorded runs (:func:`table1_comparison`, :func:`claim_checks`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from companion.config import resolve_device
from companion.data import batches, center, dynamic_binarize, flatten, load_images, pixel_mean
from companion.results import Stopwatch
from companion.training import seed_everything, train
from companion.vlae.evaluation import importance_log_likelihood, mean_elbo
from companion.vlae.models import TITLES, LatentVariableModel, build_model

#: Seed of the one fixed binarisation of a Bernoulli model's test set (the same for every run).
TEST_BINARIZATION_SEED = 0


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` intra-op CPU threads (0 keeps torch's choice), then restore.

    The chapter's CPU models are small: on a shared 2-core machine one thread is several
    times faster than two, which spend their time waiting for each other.
    """
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class ChapterData:
    """Flattened training and test images, preprocessed for one likelihood.

    Gaussian: pixels in [0, 1] minus the per-pixel training mean, and ``log_var`` = log of the
    centred training data's mean square (the initial log σ²). Bernoulli: raw intensities for
    training (binarised afresh at every step) and one fixed binarisation of the test set.
    """

    name: str
    likelihood: str
    train: torch.Tensor
    test: torch.Tensor
    mean: np.ndarray
    shape: tuple[int, int, int]
    log_var: float

    @property
    def input_dim(self) -> int:
        """Pixels per image D."""
        return self.train.shape[1]

    def images(self, rows: torch.Tensor) -> np.ndarray:
        """Rows of (preprocessed) data or decoder means back to N×C×H×W images in [0, 1]."""
        pixels = rows.detach().cpu().numpy() + self.mean
        return np.clip(pixels, 0.0, 1.0).reshape(-1, *self.shape)


def prepare_data(dataset: str, likelihood: str, data_dir: str | Path | None = None) -> ChapterData:
    """Load ``dataset`` and preprocess it as the authors do for ``likelihood``."""
    train_set = load_images(dataset, "train", data_dir)
    test_set = load_images(dataset, "test", data_dir)
    train_x, test_x = flatten(train_set.images), flatten(test_set.images)
    if likelihood == "gaussian":
        mean = pixel_mean(train_x)
        train_x, test_x = center(train_x, mean), center(test_x, mean)
        log_var = float(np.log(np.mean(train_x.astype(np.float64) ** 2)))
        test = torch.from_numpy(test_x)
    else:
        mean = np.zeros((1, train_x.shape[1]), np.float32)
        log_var = 0.0
        generator = torch.Generator().manual_seed(TEST_BINARIZATION_SEED)
        test = dynamic_binarize(torch.from_numpy(test_x), generator=generator)
    return ChapterData(dataset, likelihood, torch.from_numpy(train_x), test, mean,
                       train_set.shape, log_var)


@dataclass
class FittedModel:
    """A trained model with its per-epoch history and training time."""

    name: str
    model: LatentVariableModel
    history: pd.DataFrame
    seconds: float


def make_model(name: str, params: dict[str, Any], data: ChapterData,
               latent_dim: int | None = None) -> LatentVariableModel:
    """The chapter's model ``name`` for ``data`` with the parameters' sizes and options."""
    return build_model(
        name, data.input_dim, latent_dim or params["latent_dim"], params["hidden_dim"],
        data.likelihood, params["steps"], log_var=data.log_var, init=params["init"],
        damping=params["damping"], svi_lr=params["svi_lr"])


def fit_model(name: str, params: dict[str, Any], data: ChapterData, *,
              latent_dim: int | None = None, epochs: int | None = None) -> FittedModel:
    """Train model ``name`` on ``data`` with the shared loop; the test ELBO is logged each epoch.

    The seed is reset first, so every model of a run sees the same batches in the same order.
    """
    seed_everything(params["seed"])
    device = resolve_device(params["device"])
    model = make_model(name, params, data, latent_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
    binary = data.likelihood == "bernoulli"
    test = data.test.to(device)

    def loss_fn(model: LatentVariableModel, batch: tuple[torch.Tensor], state: Any) -> dict[str, torch.Tensor]:
        x = dynamic_binarize(batch[0]) if binary else batch[0]
        return {"loss": -model.elbo(x).mean()}

    def evaluate(model: LatentVariableModel, epoch: int) -> dict[str, float]:
        return {"test_elbo": mean_elbo(model, test)}

    with torch_threads(params["threads"]), warnings.catch_warnings(), Stopwatch() as clock:
        # train() logs float(loss) while the loss still requires grad; torch ≥ 2.13 warns.
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
        result = train(model, loss_fn, batches((data.train,), params["batch_size"], seed=params["seed"]),
                       epochs=epochs or params["epochs"], optimizer=optimizer, device=device,
                       evaluate=evaluate, description=TITLES[name])
    history = result.epochs.rename(columns={"loss": "train_loss"})
    return FittedModel(name, model, history, clock.seconds)


def evaluate_model(fitted: FittedModel, params: dict[str, Any], data: ChapterData) -> dict[str, Any]:
    """One results row: log p(x) (K importance samples) and ELBO on the test set."""
    seed_everything(params["seed"])
    device = resolve_device(params["device"])
    test = data.test.to(device)
    with torch_threads(params["threads"]):
        log_px = importance_log_likelihood(fitted.model, test, params["importance_samples"])
        elbo = mean_elbo(fitted.model, test)
    return {
        "model": TITLES[fitted.name],
        "steps": 0 if fitted.name == "vae" else params["steps"],
        "log_px": float(log_px.mean()),
        "elbo": elbo,
        "epoch_seconds": fitted.seconds / len(fitted.history),
    }


def model_label(model: str, steps: int) -> str:
    """How Table 1 names a row: "VAE", "VLAE (T=4)"."""
    return model if steps == 0 or (isinstance(steps, float) and math.isnan(steps)) else f"{model} (T={int(steps)})"

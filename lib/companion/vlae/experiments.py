"""The VLAE chapter's experiments: data, training with the shared loop, evaluation, tables.

The notebook calls these so that it only narrates: :func:`prepare_data` → :func:`fit_model`
(one model, with :func:`companion.training.train`) → :func:`evaluate_model`; the Table 1
comparison reads the recorded runs (:func:`table1_comparison`, :func:`seed_table`); the claims
are decided in :mod:`companion.vlae.evidence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from companion.config import resolve_device
from companion.data import (
    batches,
    center,
    dynamic_binarize,
    flatten,
    inverse_logit_transform,
    load_images,
    logit_transform,
    pixel_mean,
)
from companion.training import checkpoint_fingerprint, checkpoint_folder, seed_everything, train
from companion.vlae import gaps
from companion.vlae.evaluation import (
    correlation,
    importance_log_likelihood,
    mean_elbo,
    mean_off_diagonal,
    posterior_moments,
)
from companion.vlae.models import TITLES, LatentVariableModel, build_model
from companion.vlae.settings import VLAESettings

#: Seed of the one fixed binarisation of a Bernoulli model's test set (the same for every run).
TEST_BINARIZATION_SEED = 0


@dataclass(frozen=True)
class ChapterData:
    """Flattened training and test images, preprocessed for one likelihood.

    Gaussian: pixels in [0, 1] minus the per-pixel training mean, and ``log_var`` = log of the
    centred training data's mean square (the initial log σ²). Bernoulli: raw intensities for
    training (binarised afresh at every step) and one fixed binarisation of the test set.
    ``train_eval``: the first training images, as many as the test set has, preprocessed as the
    test set is (one fixed binarisation for Bernoulli): the training-set metrics are measured on
    it, so that training and test numbers compare like with like and an overfitting encoder or
    decoder shows as a gap between them.
    """

    name: str
    likelihood: str
    train: torch.Tensor
    test: torch.Tensor
    mean: np.ndarray
    shape: tuple[int, int, int]
    log_var: float
    train_eval: torch.Tensor
    #: "centred", "binarised" or "logit", the last the authors' logit transform.
    #: With "logit" ``train`` holds the raw intensities, dequantised and transformed afresh in
    #: every batch.
    preprocessing: str = "centred"

    @property
    def input_dim(self) -> int:
        """Pixels per image D."""
        return self.train.shape[1]

    def training_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch of ``train`` as the model sees it: binarised or logit-transformed afresh."""
        if self.preprocessing == "binarised":
            return dynamic_binarize(batch)
        if self.preprocessing == "logit":
            return logit_transform(batch) - torch.as_tensor(self.mean, device=batch.device)
        return batch

    def images(self, rows: torch.Tensor) -> np.ndarray:
        """Rows of (preprocessed) data or decoder means back to N×C×H×W images in [0, 1]."""
        pixels = rows.detach().cpu().numpy() + self.mean
        if self.preprocessing == "logit":
            pixels = inverse_logit_transform(torch.from_numpy(pixels)).numpy()
        return np.clip(pixels, 0.0, 1.0).reshape(-1, *self.shape)


def prepare_data(dataset: str, likelihood: str, data_dir: str | Path | None = None,
                 logit: bool = False) -> ChapterData:
    """Load ``dataset`` and preprocess it as the authors do for ``likelihood`` (Gaussian with
    ``logit``: their logit transform, :func:`~companion.data.logit_transform`; the mean and the
    initial σ² from one transformed draw of the training set, the test set and the training
    slice transformed once with a fixed draw)."""
    train_set = load_images(dataset, "train", data_dir)
    test_set = load_images(dataset, "test", data_dir)
    train_x, test_x = flatten(train_set.images), flatten(test_set.images)
    evaluated = min(len(train_x), len(test_x))
    generator = torch.Generator().manual_seed(TEST_BINARIZATION_SEED)
    preprocessing = "centred"
    if likelihood == "gaussian" and logit:
        raw = torch.from_numpy(train_x)
        transformed = logit_transform(raw, generator=generator)
        mean = transformed.mean(dim=0, keepdim=True).numpy()
        log_var = float(torch.log(((transformed - torch.from_numpy(mean)) ** 2).double().mean()))
        test = logit_transform(torch.from_numpy(test_x), generator=generator) - torch.from_numpy(mean)
        train_eval = logit_transform(raw[:evaluated], generator=generator) - torch.from_numpy(mean)
        return ChapterData(dataset, likelihood, raw, test, mean, train_set.shape, log_var, train_eval, "logit")
    if likelihood == "gaussian":
        mean = pixel_mean(train_x)
        train_x, test_x = center(train_x, mean), center(test_x, mean)
        log_var = float(np.log(np.mean(train_x.astype(np.float64) ** 2)))
        test, train_eval = torch.from_numpy(test_x), torch.from_numpy(train_x[:evaluated])
    else:
        mean = np.zeros((1, train_x.shape[1]), np.float32)
        log_var = 0.0
        test = dynamic_binarize(torch.from_numpy(test_x), generator=generator)
        train_eval = dynamic_binarize(torch.from_numpy(train_x[:evaluated]), generator=generator)
        preprocessing = "binarised"
    return ChapterData(dataset, likelihood, torch.from_numpy(train_x), test, mean,
                       train_set.shape, log_var, train_eval, preprocessing)


@dataclass
class FittedModel:
    """A trained model with its per-epoch history and training time."""

    name: str
    model: LatentVariableModel
    history: pd.DataFrame
    seconds: float


def make_model(name: str, params: VLAESettings, data: ChapterData,
               latent_dim: int | None = None) -> LatentVariableModel:
    """The chapter's model ``name`` for ``data`` with the parameters' sizes and options."""
    svi_lr = params.authors_svi_lr if name == "savae_authors" else params.svi_lr
    return build_model(
        name, data.input_dim, latent_dim or params.latent_dim, params.hidden_dim,
        data.likelihood, params.steps, log_var=data.log_var, init=params.init,
        damping=params.damping, svi_lr=svi_lr)


def fit_model(name: str, params: VLAESettings, data: ChapterData, *,
              latent_dim: int | None = None, epochs: int | None = None) -> FittedModel:
    """Train model ``name`` on ``data`` with the shared loop; the ELBO on the training slice
    (``data.train_eval``) and on the test set is logged each epoch.

    The seed is reset first, so every model of a run sees the same batches in the same order.
    """
    seed_everything(params.seed)
    device = resolve_device(params.device)
    model = make_model(name, params, data, latent_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.learning_rate)
    test, train_eval = data.test.to(device), data.train_eval.to(device)

    def loss_fn(model: LatentVariableModel, batch: tuple[torch.Tensor], state: Any) -> dict[str, torch.Tensor]:
        x = data.training_batch(batch[0])
        return {"loss": -model.elbo(x).mean()}

    def evaluate(model: LatentVariableModel, epoch: int) -> dict[str, float]:
        return {"train_elbo": mean_elbo(model, train_eval), "test_elbo": mean_elbo(model, test)}

    latent_dim, epochs = latent_dim or params.latent_dim, epochs or params.epochs
    result = train(model, loss_fn, batches((data.train,), params.batch_size, seed=params.seed),
                   epochs=epochs, optimizer=optimizer, device=device,
                   evaluate=evaluate, description=TITLES[name],
                   checkpoint_dir=checkpoint_folder(f"{name}-z{latent_dim}-{epochs}epochs"),
                   fingerprint=checkpoint_fingerprint(params.record(), model=name, latent_dim=latent_dim,
                                                      epochs=epochs))
    history = result.epochs.rename(columns={"loss": "train_loss"})
    # every epoch's own seconds, kept across a resume (a stopwatch here would time only the last stretch)
    return FittedModel(name, model, history, float(history["seconds"].sum()))


def evaluate_model(fitted: FittedModel, params: VLAESettings, data: ChapterData) -> dict[str, Any]:
    """One results row: log p(x) (K importance samples) and ELBO on the test set and on the
    training slice (``train_``), and the per-epoch ELBO on both (learning curves)."""
    seed_everything(params.seed)
    device = resolve_device(params.device)
    test, train_eval = data.test.to(device), data.train_eval.to(device)
    log_px = importance_log_likelihood(fitted.model, test, params.importance_samples)
    train_log_px = importance_log_likelihood(fitted.model, train_eval, params.importance_samples)
    return {
        "model": TITLES[fitted.name],
        "steps": 0 if fitted.name == "vae" else params.steps,
        "log_px": float(log_px.mean()),
        "elbo": mean_elbo(fitted.model, test),
        "train_log_px": float(train_log_px.mean()),
        "train_elbo": mean_elbo(fitted.model, train_eval),
        "train_elbo_by_epoch": [float(value) for value in fitted.history["train_elbo"]],
        "test_elbo_by_epoch": [float(value) for value in fitted.history["test_elbo"]],
        "epoch_seconds": fitted.seconds / len(fitted.history),
    }


#: The posterior family each model's q*(z|x) is fitted in for the gap decomposition
#: (:mod:`companion.vlae.gaps`): VAE+HF's reflected diagonal Gaussians are full-covariance
#: Gaussians; VAE+IAF's flow is not Gaussian and has no such family here.
GAP_FAMILIES = {"vae": "diagonal", "savae": "diagonal", "savae_authors": "diagonal", "hf": "full",
                "vlae": "full"}


def gap_table(fitted: dict[str, FittedModel], data: ChapterData, examples: int = 100, steps: int = 300,
              sample_counts: Sequence[int] = (100, 1000, 5000)) -> pd.DataFrame:
    """The inference-gap decomposition (:func:`companion.vlae.gaps.decompose`) of each fitted
    model of :data:`GAP_FAMILIES` on the first ``examples`` test images and as many of the
    training slice: one row per model and split, nats per image, log p(x) for each K."""
    rows = []
    for name, model in fitted.items():
        if name not in GAP_FAMILIES:
            continue
        for split, x in (("train", data.train_eval[:examples]), ("test", data.test[:examples])):
            seed_everything(0)
            device = next(model.model.parameters()).device
            result = gaps.decompose(model.model, x.to(device), GAP_FAMILIES[name], steps=steps,
                                    sample_counts=sample_counts)
            rows.append({"model": TITLES[name], "split": split, "family of q*": result.family,
                         "log p(x)": result.log_px, "ELBO(q)": result.elbo_amortised,
                         "ELBO(q*)": result.elbo_best, "approximation gap": result.approximation,
                         "amortisation gap": result.amortisation,
                         **{f"log p(x), K={count}": value for count, value in result.log_px_by_samples.items()}})
    return pd.DataFrame(rows)


#: The gap table's columns a run's record keeps per model and split (``test_approximation_gap``, …).
GAP_RECORDED = {"log p(x)": "gap_log_px", "ELBO(q)": "gap_elbo", "ELBO(q*)": "gap_elbo_best",
                "approximation gap": "approximation_gap", "amortisation gap": "amortisation_gap"}


def with_gaps(rows: list[dict[str, Any]], gap: pd.DataFrame) -> list[dict[str, Any]]:
    """The results rows with each model's gap decomposition (:func:`gap_table`) added, per split:
    ``{split}_`` + :data:`GAP_RECORDED`'s names, and ``{split}_gap_log_px_k{K}`` for each K."""
    added = []
    for row in rows:
        mine = gap[gap["model"] == row["model"]]
        extra = {}
        for _, numbers in mine.iterrows():
            split = numbers["split"]
            extra.update({f"{split}_{name}": float(numbers[column]) for column, name in GAP_RECORDED.items()})
            extra.update({f"{split}_gap_log_px_k{column.rsplit('=', 1)[1]}": float(numbers[column])
                          for column in numbers.index if column.startswith("log p(x), K=")})
        added.append({**row, **extra})
    return added


def _with_gap_images(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with ``images``, the test images of each run's gap decomposition (runs that do
    not record ``gap_examples`` had the value it was added with)."""
    images = runs["param_gap_examples"] if "param_gap_examples" in runs else pd.Series(float("nan"), runs.index)
    return runs.assign(images=images.fillna(VLAESettings.ADDED_LATER["gap_examples"]).astype(int))


def recorded_gaps(runs: pd.DataFrame) -> pd.DataFrame:
    """The gap decomposition of every recorded run that kept it (:func:`with_gaps`), one row per
    likelihood, model, number of images (``gap_examples``) and split: the mean over the runs
    (``runs`` counts them) of the gap table's numbers, log p(x) for each K included, nats per image."""
    rows = []
    for split in ("train", "test"):
        columns = {f"{split}_{name}": column for column, name in GAP_RECORDED.items()}
        if next(iter(columns)) not in runs:
            continue
        kept = _with_gap_images(runs.dropna(subset=[next(iter(columns))]))
        samples = {name: f"log p(x), K={name.rsplit('_k', 1)[1]}" for name in runs.columns
                   if name.startswith(f"{split}_gap_log_px_k")}
        for (likelihood, model, steps, count), group in kept.groupby(
                ["param_likelihood", "model", "steps", "images"], sort=False):
            rows.append({"likelihood": likelihood, "model": model_label(model, steps), "split": split,
                         "images": count, "runs": len(group), **{column: group[name].mean()
                                                for name, column in {**columns, **samples}.items()}})
    if not rows:
        return pd.DataFrame(rows)
    frame = pd.DataFrame(rows)
    keys = list(zip(frame["likelihood"], frame["model"], frame["images"]))
    first = {key: rank for rank, key in enumerate(dict.fromkeys(keys))}
    order = pd.Series([(first[key], split == "test") for key, split in zip(keys, frame["split"])], frame.index)
    return frame.loc[order.sort_values().index].reset_index(drop=True)


def estimator_check(runs: pd.DataFrame) -> pd.DataFrame:
    """How the test log p(x) the comparisons use — K importance samples from each model's own q on
    every test image — compares with the decomposition's estimate from each image's best Gaussian
    q* (:func:`recorded_gaps`; its largest K, where it has converged) on the decomposition's test
    images, for every recorded run that kept both. Both are lower bounds of log p(x) in
    expectation, so the higher is the nearer. Per likelihood, (model, T) and number of images: the
    mean over runs of each estimate, their difference, the ELBO(q) on the decomposition's images
    less that on every test image (how typical those images are), and the gain over the VAE of
    the same run by each estimate (NaN for the VAE itself and where the run kept no VAE gaps)."""
    if "test_gap_log_px" not in runs:
        return pd.DataFrame()
    kept = _with_gap_images(runs.dropna(subset=["test_gap_log_px"]).reset_index(drop=True))
    vae = kept[kept["model"] == "VAE"].set_index("run_id")
    kept = kept.assign(gain=kept["log_px"] - kept["run_id"].map(vae["log_px"]),
                       gain_q_star=kept["test_gap_log_px"] - kept["run_id"].map(vae["test_gap_log_px"]))
    rows = []
    for (likelihood, model, steps, count), group in kept.groupby(
            ["param_likelihood", "model", "steps", "images"], sort=False):
        rows.append({"likelihood": likelihood, "model": model_label(model, steps), "images": count,
                     "runs": len(group), "log p(x) from q": group["log_px"].mean(),
                     "log p(x) from q*": group["test_gap_log_px"].mean(),
                     "q* − q": (group["test_gap_log_px"] - group["log_px"]).mean(),
                     "images' ELBO shift": (group["test_gap_elbo"] - group["elbo"]).mean(),
                     "gain over VAE, from q": group["gain"].mean() if model != "VAE" else float("nan"),
                     "gain over VAE, from q*": group["gain_q_star"].mean() if model != "VAE" else float("nan")})
    return pd.DataFrame(rows)


def retrained_agreement(runs: pd.DataFrame) -> pd.DataFrame:
    """Each model of a run that re-trained a seed to record its gaps (``gap_examples`` set) beside
    the same seed's earlier record of the same setting (:func:`per_seed`'s): test log p(x) of
    both and their difference, which is zero when training is reproducible across the commits."""
    if "param_gap_examples" not in runs:
        return pd.DataFrame(columns=["likelihood", "model", "seed", "recorded", "re-trained", "difference"])
    earlier = per_seed(runs[runs["param_gap_examples"].isna()]).set_index(["setting", "model", "steps", "seed"])["log_px"]
    again = runs[runs["param_gap_examples"].notna()].reset_index(drop=True)
    again["setting"] = settings_of(again)
    rows = []
    for _, row in again.iterrows():
        key = (row["setting"], row["model"], int(row["steps"]), row["param_seed"])
        if key in earlier.index:
            rows.append({"likelihood": row["param_likelihood"], "model": model_label(row["model"], row["steps"]),
                         "seed": row["param_seed"], "recorded": earlier[key], "re-trained": row["log_px"],
                         "difference": row["log_px"] - earlier[key]})
    return pd.DataFrame(rows, columns=["likelihood", "model", "seed", "recorded", "re-trained", "difference"])


def model_label(model: str, steps: int) -> str:
    """How Table 1 names a row: "VAE", "VLAE (T=4)"."""
    return model if int(steps) == 0 else f"{model} (T={int(steps)})"


def fit_models(names: Sequence[str], params: VLAESettings, data: ChapterData, *,
               latent_dim: int | None = None, epochs: int | None = None) -> dict[str, FittedModel]:
    """:func:`fit_model` for each of ``names``, in order."""
    return {name: fit_model(name, params, data, latent_dim=latent_dim, epochs=epochs) for name in names}


def furthest_from_mode(model: LatentVariableModel, x: torch.Tensor, steps: int = 20) -> int:
    """Index of the example whose encoder mean lies furthest from its mode (found by ``steps``
    Laplace updates): where an update has the most to do, so the figures show it clearly."""
    with torch.no_grad():
        _, iterates = model.laplace(x, steps)
    return int((iterates[-1] - iterates[0]).norm(dim=-1).argmax())


def results_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """This run's test numbers: log p(x), ELBO, their gap, each model's gain over the VAE, and
    log p(x) on the training slice less that on the test set (how much the model fits its
    training images better than new ones; rows recorded before it was measured show NaN)."""
    frame = pd.DataFrame(rows)
    frame.index = [model_label(model, steps) for model, steps in zip(frame["model"], frame["steps"])]
    frame.index.name = "model"
    table = pd.DataFrame({"log p(x)": frame["log_px"], "ELBO": frame["elbo"],
                          "log p(x) − ELBO": frame["log_px"] - frame["elbo"]})
    if "VAE" in set(frame["model"]):
        table["gain over VAE"] = frame["log_px"] - float(frame.loc[frame["model"] == "VAE", "log_px"].iloc[0])
    if "train_log_px" in frame:
        table["train − test log p(x)"] = frame["train_log_px"] - frame["log_px"]
    return table.round(2)


def posterior_correlations(fitted: dict[str, FittedModel], x: torch.Tensor,
                           samples: int = 2000) -> pd.DataFrame:
    """Mean |off-diagonal correlation| of each model's q and of its decoder's true posterior
    (self-normalised importance sampling with ``samples`` draws), over the examples x."""
    rows = {}
    with torch.no_grad():
        for name, entry in fitted.items():
            learned = correlation(entry.model.posterior(x).covariance())
            true = correlation(posterior_moments(entry.model, x, samples)[1])
            rows[TITLES[name]] = {"q(z|x)": mean_off_diagonal(learned),
                                  "true posterior p(z|x)": mean_off_diagonal(true)}
    table = pd.DataFrame(rows).T.round(3)
    table.index.name = "model"
    return table


#: The paper's data set nearest to each of ours (the embedded sets are small MNIST-like sets).
PAPER_DATASET = {"digits": "mnist", "mnist5k": "mnist"}

#: Parameters that vary within one setting of the comparison (the rest define the setting).
VARYING = ("seed", "steps", "models", "device", "data_dir", "threads", "figure_epochs", "gap_examples")


def setting_label(setting: pd.Series) -> str:
    """A short name for one setting of recorded runs."""
    pixels = " on logit-transformed pixels" if _true(setting.get("param_logit_transform")) else ""
    return (f"{setting['param_dataset']}, {setting['param_likelihood']}{pixels}, {setting['profile']} "
            f"(z={setting['param_latent_dim']}, h={setting['param_hidden_dim']}, "
            f"{setting['param_epochs']} epochs)")


def logit_transformed(runs: pd.DataFrame) -> pd.Series:
    """Whether each recorded row trained on the authors' logit-transformed pixels (rows recorded
    before the option existed did not)."""
    if "param_logit_transform" not in runs:
        return pd.Series(False, runs.index)
    return runs["param_logit_transform"].map(_true)


def _true(value: Any) -> bool:
    """A recorded flag: True or False as stored, missing (NaN, None) as False."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def settings_of(runs: pd.DataFrame) -> pd.Series:
    """Each recorded row's setting (:func:`setting_label` of every parameter but :data:`VARYING`)."""
    columns = [column for column in runs.columns if column.startswith("param_")
               and column.removeprefix("param_") not in VARYING] + ["profile"]
    return runs[columns].apply(setting_label, axis=1)


def per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per setting, (model, T) and seed: log p(x), and the gain over the VAE of the same
    run. A setting is every parameter except those in :data:`VARYING`. A model of a run that
    re-trains a seed to record its gap decomposition (``gap_examples`` set, :func:`recorded_gaps`)
    is left out where that seed's own run of the model is recorded (it is already in the
    comparison), kept where it is not (a run given ``gap_examples`` of its own)."""
    frame = runs.reset_index(drop=True)
    frame["setting"] = settings_of(frame)
    if "param_gap_examples" in frame:
        retrained = frame["param_gap_examples"].notna()
        key = list(zip(frame["setting"], frame["model"], frame["steps"].astype(int), frame["param_seed"]))
        plain = {k for k, again in zip(key, retrained) if not again}
        frame = frame[[not again or k not in plain for k, again in zip(key, retrained)]].reset_index(drop=True)
    vae = frame[frame["model"] == "VAE"].set_index("run_id")["log_px"]
    frame["gain"] = frame["log_px"] - frame["run_id"].map(vae)
    frame["seed"] = frame["param_seed"]
    frame["steps"] = frame["steps"].astype(int)
    frame = frame.drop_duplicates(["setting", "model", "steps", "seed"], keep="last")
    settings = list(dict.fromkeys(frame["setting"]))
    ranks = {title: rank for rank, title in enumerate(TITLES.values())}
    order = pd.DataFrame({"setting": frame["setting"].map(settings.index),
                          "model": frame["model"].map(ranks), "steps": frame["steps"]})
    return frame.loc[order.sort_values(["setting", "model", "steps"], kind="stable").index]


def train_and_test_log_px(runs: pd.DataFrame, model: str) -> tuple[float, float]:
    """``model``'s log p(x) on the training slice and on the test set, each the mean over the
    seeds (:func:`per_seed`) that recorded both; NaN, NaN when none did."""
    frame = per_seed(runs) if len(runs) else pd.DataFrame(columns=["model"])
    frame = frame[frame["model"] == model]
    if "train_log_px" not in frame or not frame["train_log_px"].notna().any():
        return float("nan"), float("nan")
    both = frame.dropna(subset=["train_log_px", "log_px"])
    return float(both["train_log_px"].mean()), float(both["log_px"].mean())


def seed_table(runs: pd.DataFrame, models: tuple[str, ...] = tuple(TITLES.values())) -> pd.DataFrame:
    """log p(x) of ``models`` for every recorded seed: rows (setting, model), columns seeds."""
    frame = per_seed(runs)
    frame = frame[frame["model"].isin(models)]
    frame["model"] = [model_label(model, steps) for model, steps in zip(frame["model"], frame["steps"])]
    table = frame.pivot_table(index=["setting", "model"], columns="seed", values="log_px", sort=False)
    table.columns = [f"seed {seed}" for seed in table.columns]
    return table.round(2)


def seed_statistics(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting and (model, T): log p(x) over seeds (mean, sd, range) and the mean gain over
    the VAE, paired by run."""
    return (per_seed(runs).groupby(["setting", "model", "steps"], sort=False)
            .agg(seeds=("seed", "size"), mean=("log_px", "mean"), sd=("log_px", "std"),
                 low=("log_px", "min"), high=("log_px", "max"), gain=("gain", "mean"),
                 dataset=("param_dataset", "first"), likelihood=("param_likelihood", "first"))
            .reset_index())


def paper_value(paper: pd.DataFrame, model: str, steps: int, dataset: str, likelihood: str) -> float:
    """The reported log p(x) of (model, T) on the paper's data set nearest to ``dataset``."""
    match = paper[(paper["model"] == model) & (paper["steps"] == steps)
                  & (paper["dataset"] == PAPER_DATASET.get(dataset, dataset))
                  & (paper["likelihood"] == likelihood)]
    return float(match["log_px"].iloc[0]) if len(match) else float("nan")


#: Table 1's columns in the paper's order, (data set, likelihood) → the column's name.
TABLE1_COLUMNS = {("mnist", "gaussian"): "MNIST", ("omniglot", "gaussian"): "OMNIGLOT",
                  ("fashion_mnist", "gaussian"): "FashionMNIST", ("svhn", "gaussian"): "SVHN",
                  ("cifar10", "gaussian"): "CIFAR10", ("mnist", "bernoulli"): "MNIST (Bernoulli)"}


def paper_table1(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1 as it prints it: a row per model and T (its order), a column per data
    set (:data:`TABLE1_COLUMNS`), test log p(x)."""
    frame = paper.assign(row=[model_label(model, steps) for model, steps in zip(paper["model"], paper["steps"])],
                         column=[TABLE1_COLUMNS[key] for key in zip(paper["dataset"], paper["likelihood"])])
    table = frame.pivot(index="row", columns="column", values="log_px")
    table = table.loc[list(dict.fromkeys(frame["row"])), list(TABLE1_COLUMNS.values())]
    table.index.name, table.columns.name = "model", None
    return table


def our_table1(runs: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Our runs of the paper's own data sets in Table 1's layout (:func:`paper_table1`): "mean ±
    sd (seeds)" of test log p(x) per cell, "not run" where no run is recorded."""
    table = paper_table1(paper).astype(object)
    table.loc[:, :] = "not run"
    if len(runs):
        stats = seed_statistics(runs)
        for _, row in stats.iterrows():
            column = TABLE1_COLUMNS.get((row["dataset"], row["likelihood"]))
            label = model_label(row["model"], row["steps"])
            if column is None or label not in table.index:
                continue
            spread = f" ± {row['sd']:.1f}" if row["seeds"] > 1 else ""
            table.loc[label, column] = f"{row['mean']:.1f}{spread} ({int(row['seeds'])})"
    return table


def table1_comparison(runs: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 1 side by side: ours (mean and sd over seeds) and the paper's, with gains over the
    VAE; the absolute gap only where our data set is the paper's own."""
    stats = seed_statistics(runs)
    rows = []
    for _, row in stats.iterrows():
        reported = paper_value(paper, row["model"], row["steps"], row["dataset"], row["likelihood"])
        reported_vae = paper_value(paper, "VAE", 0, row["dataset"], row["likelihood"])
        nearest = PAPER_DATASET.get(row["dataset"], row["dataset"])
        same = nearest == row["dataset"]
        rows.append({
            "setting": row["setting"], "model": model_label(row["model"], row["steps"]),
            "seeds": int(row["seeds"]), "ours": row["mean"], "ours sd": row["sd"],
            "ours − VAE": row["gain"],
            "paper data set": f"{nearest}, {row['likelihood']}" + ("" if same else " (nearest)"),
            "paper": reported, "paper − VAE": reported - reported_vae,
            "ours − paper": row["mean"] - reported if same else float("nan"),
        })
    return pd.DataFrame(rows).set_index(["setting", "model"]).round(2)


def setting_of(params: VLAESettings) -> str:
    """The setting label (see :func:`per_seed`) of a run with the settings ``params``."""
    return setting_label(pd.Series({"profile": params.profile,
                                    **{f"param_{name}": value for name, value in params.record().items()}}))


def long_table(runs: pd.DataFrame, summary: pd.DataFrame, poster: pd.DataFrame) -> pd.DataFrame:
    """The ``cpu-long`` log p(x) per likelihood and (model, T): mean ± sd over seeds and the gain
    over the VAE, beside the paper's gains on MNIST from the research summary's Table 1 and,
    for binarised MNIST, from the published poster."""
    stats = seed_statistics(runs)
    rows = []
    for _, row in stats.iterrows():
        gains = {}
        for source, table in (("summary", summary), ("poster", poster)):
            value = paper_value(table, row["model"], row["steps"], row["dataset"], row["likelihood"])
            vae = paper_value(table, "VAE", 0, row["dataset"], row["likelihood"])
            gains[f"paper − VAE ({source})"] = value - vae
        rows.append({"likelihood": row["likelihood"], "model": model_label(row["model"], row["steps"]),
                     "seeds": int(row["seeds"]), "log p(x)": row["mean"], "sd": row["sd"],
                     "ours − VAE": row["gain"], **gains})
    columns = ["likelihood", "model", "seeds", "log p(x)", "sd", "ours − VAE",
               "paper − VAE (summary)", "paper − VAE (poster)"]
    return pd.DataFrame(rows, columns=columns).set_index(["likelihood", "model"]).round(2)


#: Our model beside each row of the authors' code's results (their SA-VAE takes their step).
AUTHORS_CODE_MODELS = {"VAE": "VAE", "SA-VAE, authors' step": "SA-VAE", "VAE+HF": "VAE+HF",
                       "VAE+IAF": "VAE+IAF", "VLAE": "VLAE"}


def authors_code_table(runs: pd.DataFrame, authors: pd.DataFrame) -> pd.DataFrame:
    """Our runs on logit-transformed pixels (:func:`logit_transformed`) per (model, T): log p(x)
    over seeds (mean, sd), the gain over the VAE of the same run (mean, sd), beside the log p(x)
    and gain over the VAE of the authors' code's example results (``authors``, rows named as
    :data:`AUTHORS_CODE_MODELS` maps ours; NaN where their table has no such row)."""
    frame = per_seed(runs[logit_transformed(runs)])
    theirs = authors.set_index("model")["log_px"]
    rows = []
    for (model, steps), group in frame.groupby(["model", "steps"], sort=False):
        reported = theirs.get(AUTHORS_CODE_MODELS.get(model, ""), float("nan"))
        rows.append({"model": model_label(model, steps), "seeds": len(group),
                     "log p(x)": group["log_px"].mean(), "sd": group["log_px"].std(),
                     "ours − VAE": group["gain"].mean(), "sd of gain": group["gain"].std(),
                     "authors' code": reported, "authors' − VAE": reported - theirs["VAE"]})
    columns = ["model", "seeds", "log p(x)", "sd", "ours − VAE", "sd of gain", "authors' code", "authors' − VAE"]
    return pd.DataFrame(rows, columns=columns).set_index("model").round(2)

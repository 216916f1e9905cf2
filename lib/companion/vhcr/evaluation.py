"""Evaluating conversation models: likelihood per word, KL per latent, probes of a known latent, embedding metrics.

Negative log-likelihood per word (Park et al., 2018, Sec. 5): exact for HRED; for VHRED and
VHCR the importance-sampled estimate with K posterior samples, formed per conversation as
log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k | x) (a log-mean-exp, never over a whole batch as
the authors' code does), summed over conversations and divided by the number of predicted words.
By Jensen's inequality the estimate is never above the one-sample bound −ELBO and tightens as K
grows (Burda et al., 2016).

Probes (on the designed corpus, whose conversations' true latent is known): a multinomial
logistic regression on standardised features of each conversation (:func:`latent_features`:
the context GRU's last state, a posterior draw or mean of z_conv, of z_t averaged over turns),
fitted on training conversations and scored on test conversations; its held-out accuracy at
predicting the latent, against chance 1/K, says how much of the latent a representation carries.

Embedding metrics (Liu et al., 2016) compare a generated reply with the reference reply through
word vectors: Average (cosine of mean vectors), Extrema (cosine of per-dimension extreme
values) and Greedy (each word matched to its most similar word, averaged both ways). They need
a word-vector table (the authors use word2vec GoogleNews, 300 d) that the user provides; there is
no stand-in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from companion.data import CorruptDataError, DataNotFoundError
from companion.vhcr.models import HierarchicalModel
from companion.vhcr.text import ConversationTensors


def log_mean_exp(values: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log (1/K) Σ_k exp(values_k) along ``dim``, computed stably."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])  # $\log\frac1K\sum_k e^{v_k}$


@torch.no_grad()
def conversation_terms(
    model: HierarchicalModel, data: ConversationTensors, samples: int, batch_size: int = 400
) -> dict[str, torch.Tensor]:
    """Per-conversation terms of ``samples`` posterior draws each (N × K tensors).

    ``batch_size`` bounds the conversation copies in one forward pass.
    """
    model.eval()
    device = next(model.parameters()).device
    copies = torch.arange(len(data)).repeat_interleave(samples)
    rows: dict[str, list[torch.Tensor]] = {}
    for chunk in copies.split(batch_size):
        terms = model(data.tokens[chunk].to(device), data.turn_lengths[chunk].to(device))
        for name in ("reconstruction", "kl_conversation", "kl_utterance", "negative_elbo", "log_weight"):
            rows.setdefault(name, []).append(getattr(terms, name).cpu())
    return {name: torch.cat(values).view(len(data), samples) for name, values in rows.items()}


def evaluate_likelihood(
    model: HierarchicalModel, data: ConversationTensors, samples: int = 100, batch_size: int = 400
) -> dict[str, float]:
    """NLL per word (exact, or importance-sampled with ``samples`` draws), −ELBO and KLs per word."""
    draws = samples if model.is_variational else 1
    terms = conversation_terms(model, data, draws, batch_size)
    words = data.target_words()
    log_likelihood = log_mean_exp(terms["log_weight"], dim=1)  # one estimate per conversation
    return {
        "nll_per_word": float(-log_likelihood.sum() / words),
        "negative_elbo_per_word": float(terms["negative_elbo"].mean(dim=1).sum() / words),
        "reconstruction_per_word": float(terms["reconstruction"].mean(dim=1).sum() / words),
        "kl_utterance_per_word": float(terms["kl_utterance"].mean(dim=1).sum() / words),
        "kl_conversation_per_word": float(terms["kl_conversation"].mean(dim=1).sum() / words),
        "importance_samples": draws,
    }


@torch.no_grad()
def latent_features(model: HierarchicalModel, data: ConversationTensors, batch_size: int = 400) -> dict[str, np.ndarray]:
    """:meth:`~companion.vhcr.models.HierarchicalModel.latent_summary` of every conversation of
    ``data`` (N × D arrays by name; draws from torch's generator, so seed it first)."""
    model.eval()
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {}
    for chunk in torch.arange(len(data)).split(batch_size):
        summary = model.latent_summary(data.tokens[chunk].to(device), data.turn_lengths[chunk].to(device))
        for name, values in summary.items():
            parts.setdefault(name, []).append(values.cpu())
    return {name: torch.cat(values).numpy() for name, values in parts.items()}


def probe_accuracy(
    train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray, test_labels: np.ndarray
) -> float:
    """Held-out accuracy of a logistic-regression probe (features standardised on the training
    set) fitted to predict ``train_labels``, scored on the test set."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train_features, train_labels)
    return float((probe.predict(test_features) == test_labels).mean())


def load_word_vectors(path: str | Path, words: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Word vectors from a word2vec binary (``.bin``) or a text file (GloVe, or word2vec with header).

    Only ``words`` are kept when given (a full GoogleNews table is 3.6 GB).
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"word-vector file {path} does not exist (folder {path.parent})")
    wanted = set(words) if words is not None else None
    if path.suffix == ".bin":
        return _read_word2vec_binary(path, wanted)
    vectors: dict[str, np.ndarray] = {}
    with path.open(encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2:
                continue
            if len(fields) < 2:
                raise CorruptDataError(f"{path}, line {number}: expected a word followed by numbers")
            if wanted is None or fields[0] in wanted:
                vectors[fields[0]] = np.asarray(fields[1:], dtype=np.float32)
    return vectors


def _read_word2vec_binary(path: Path, wanted: set[str] | None) -> dict[str, np.ndarray]:
    vectors = {}
    with path.open("rb") as stream:
        header = stream.readline().split()
        if len(header) != 2:
            raise CorruptDataError(f"{path}: a word2vec binary starts with '<count> <dimension>'")
        count, dimension = int(header[0]), int(header[1])
        for index in range(count):
            word = bytearray()
            while (byte := stream.read(1)) not in (b" ", b""):
                if byte != b"\n":
                    word.extend(byte)
            data = stream.read(4 * dimension)
            if len(data) != 4 * dimension:
                raise CorruptDataError(f"{path}: truncated at vector {index} of {count}")
            text = word.decode("utf-8", errors="replace")
            if wanted is None or text in wanted:
                vectors[text] = np.frombuffer(data, dtype=np.float32).copy()
    return vectors


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def average_score(hypothesis: np.ndarray, reference: np.ndarray) -> float:
    """Cosine similarity of the mean word vectors (rows) of two replies."""
    return _cosine(hypothesis.mean(axis=0), reference.mean(axis=0))


def extrema_vector(vectors: np.ndarray) -> np.ndarray:
    """Per dimension, the value of largest magnitude among the rows (sign kept)."""
    high, low = vectors.max(axis=0), vectors.min(axis=0)
    return np.where(np.abs(high) >= np.abs(low), high, low)


def extrema_score(hypothesis: np.ndarray, reference: np.ndarray) -> float:
    """Cosine similarity of the two replies' extrema vectors."""
    return _cosine(extrema_vector(hypothesis), extrema_vector(reference))


def greedy_score(hypothesis: np.ndarray, reference: np.ndarray) -> float:
    """Symmetric greedy matching: mean best cosine of each word, averaged over both directions."""
    unit_h = hypothesis / (np.linalg.norm(hypothesis, axis=1, keepdims=True) + 1e-12)
    unit_r = reference / (np.linalg.norm(reference, axis=1, keepdims=True) + 1e-12)
    similarity = unit_h @ unit_r.T
    return float((similarity.max(axis=1).mean() + similarity.max(axis=0).mean()) / 2)


def embedding_metrics(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], vectors: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Mean Average, Extrema and Greedy scores over reply pairs with ≥ 1 word in ``vectors`` each."""
    scores: dict[str, list[float]] = {"average": [], "extrema": [], "greedy": []}
    for hypothesis, reference in zip(hypotheses, references):
        known_h = [vectors[word] for word in hypothesis if word in vectors]
        known_r = [vectors[word] for word in reference if word in vectors]
        if not known_h or not known_r:
            continue
        h, r = np.stack(known_h), np.stack(known_r)
        scores["average"].append(average_score(h, r))
        scores["extrema"].append(extrema_score(h, r))
        scores["greedy"].append(greedy_score(h, r))
    result = {name: float(np.mean(values)) if values else float("nan") for name, values in scores.items()}
    result["pairs"] = len(scores["average"])
    return result

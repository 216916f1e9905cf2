"""The VHCR chapter's runs, tables and figures, so that the notebook only narrates.

:func:`train_variant` trains one model variant with the shared loop
(:func:`companion.training.train`) on the KL-annealed negative ELBO per word, β taken from the
loop's step counter; :func:`evaluation_table` measures NLL and KL per word on test
conversations; :func:`known_latent_table` sets, on the designed corpus, the generator's own NLL
beside them and probes how much of the true conversation latent each model's representations
carry; the plotting functions draw the KL term over training and the utterance-drop ablation;
:func:`reply_examples` decodes replies with z_conv held fixed or resampled; :func:`metric_rows`
builds the rows a run records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from companion.data import batches
from companion.plotting import FIGURE_WIDTH, MODEL_COLORS
from companion.training import (TrainResult, TrainState, checkpoint_fingerprint, checkpoint_folder,
                                seed_everything, train)
from companion.vhcr.corpora import DialogueData
from companion.vhcr.designed import DESIGN
from companion.vhcr.evaluation import embedding_metrics, evaluate_likelihood, latent_features, probe_accuracy
from companion.vhcr.generation import beam_search, greedy_decode, sample_decode
from companion.vhcr.kl import kl_weight
from companion.vhcr.models import HRED, VHCR, VHRED, HierarchicalModel
from companion.vhcr.settings import LABELS, VARIANTS, VHCRSettings
from companion.vhcr.text import UNK_ID, ConversationTensors, Vocabulary


@dataclass
class TrainedVariant:
    """A trained model variant and its training history."""

    variant: str
    model: HierarchicalModel
    history: TrainResult


def build_model(variant: str, vocabulary_size: int, params: VHCRSettings) -> HierarchicalModel:
    """The model of ``variant`` (see :data:`VARIANTS`) with the sizes and drop rates in ``params``."""
    kind, uses_word_drop, uses_utterance_drop = VARIANTS[variant]
    sizes = (vocabulary_size, params.embedding_size, params.encoder_size, params.context_size,
             params.decoder_size)
    word_drop = params.word_drop if uses_word_drop else 0.0
    if kind == "hred":
        return HRED(*sizes, word_drop=word_drop)
    if kind == "vhred":
        return VHRED(*sizes, params.latent_size, word_drop=word_drop)
    utterance_drop = params.utterance_drop if uses_utterance_drop else 0.0
    return VHCR(*sizes, params.latent_size, utterance_drop=utterance_drop, word_drop=word_drop)


def annealed_loss(annealing_steps: int):
    """``loss_fn(model, batch, state)``: (reconstruction + β·KL) per word, β = min(step / S, 1).

    Also logs the reconstruction and each latent's KL per word, and β.
    """
    def loss_fn(model: HierarchicalModel, batch: Sequence[torch.Tensor], state: TrainState) -> dict[str, torch.Tensor]:
        terms = model(*batch)
        words = terms.words.sum()
        beta = kl_weight(state.step, annealing_steps)
        reconstruction = terms.reconstruction.sum() / words
        kl_utterance = terms.kl_utterance.sum() / words
        kl_conversation = terms.kl_conversation.sum() / words
        return {
            "loss": reconstruction + beta * (kl_utterance + kl_conversation),  # $-\log p(x|z)+\beta\,\mathrm{KL}$
            "reconstruction": reconstruction.detach(), "kl_utterance": kl_utterance.detach(),
            "kl_conversation": kl_conversation.detach(), "kl_weight": torch.tensor(beta),
        }

    return loss_fn


def train_variant(
    variant: str, data: DialogueData, params: VHCRSettings, device: torch.device | str = "cpu"
) -> TrainedVariant:
    """Train ``variant`` on ``data.train`` with Adam and gradient-norm clipping (seeded by params)."""
    seed_everything(params.seed)
    model = build_model(variant, len(data.vocabulary), params).to(device)
    history = train(
        model, annealed_loss(params.kl_annealing_steps),
        batches((data.train.tokens, data.train.turn_lengths), params.batch_size, seed=params.seed),
        epochs=params.epochs, optimizer=torch.optim.Adam(model.parameters(), lr=params.learning_rate),
        device=device, grad_clip=params.grad_clip, description=variant,
        checkpoint_dir=checkpoint_folder(variant),
        fingerprint=checkpoint_fingerprint(params.record(), variant=variant),
    )
    return TrainedVariant(variant, model, history)


def evaluation_conversations(data: DialogueData, count: int) -> ConversationTensors:
    """The first ``count`` test conversations (all when ``count`` is 0)."""
    return data.test.subset(count) if count else data.test


def evaluation_table(
    trained: Mapping[str, TrainedVariant], test: ConversationTensors, samples: int, seed: int
) -> pd.DataFrame:
    """NLL per word (exact or importance-sampled), −ELBO and KL per word of each latent."""
    rows = []
    for variant, run in trained.items():
        torch.manual_seed(seed)
        result = evaluate_likelihood(run.model, test, samples)
        rows.append({
            "model": LABELS[variant],
            "NLL": result["nll_per_word"],
            "NLL method": (f"importance sampling, K={result['importance_samples']}"
                           if run.model.is_variational else "exact"),
            "-ELBO": result["negative_elbo_per_word"],
            "KL": result["kl_utterance_per_word"] + result["kl_conversation_per_word"],
            "KL z_utt": result["kl_utterance_per_word"],
            "KL z_conv": result["kl_conversation_per_word"],
        })
    return pd.DataFrame(rows).set_index("model")


#: What the probes read, as :meth:`~companion.vhcr.models.HierarchicalModel.latent_summary` names it.
PROBED = ("context", "z_utt", "z_utt mean", "z_conv", "z_conv mean")


def known_latent_table(
    trained: Mapping[str, TrainedVariant], data: DialogueData, eval_conversations: int, seed: int
) -> pd.DataFrame:
    """Per model, on a corpus whose conversation latent is known (the designed corpus): the
    generator's exact NLL per word on the evaluated test conversations ("generator NLL", the
    best any model can do there), and the held-out accuracy of a probe of the true latent on
    each representation of :data:`PROBED` ("probe <name>", NaN where the model has none), fitted
    on every training conversation and scored on every test conversation, with chance (1/K) and
    the generator's own posterior accuracy on those conversations (the ceiling)."""
    if data.latents is None:
        raise ValueError(f"corpus {data.name!r} has no known conversation latent; only the designed corpus has")
    scored = data.test_tokens[:eval_conversations] if eval_conversations else data.test_tokens
    test_words = DESIGN.word_ids(data.test_tokens)
    reference = {
        "generator NLL": DESIGN.nll_per_word(DESIGN.word_ids(scored)),
        "probe chance": 1.0 / DESIGN.topics,
        "probe ceiling": float((DESIGN.topic_posterior(test_words).argmax(axis=1) == data.latents["test"]).mean()),
    }
    rows = []
    for variant, run in trained.items():
        torch.manual_seed(seed)
        train_features, test_features = (latent_features(run.model, split) for split in (data.train, data.test))
        probes = {f"probe {name}": (probe_accuracy(train_features[name], data.latents["train"], test_features[name],
                                                   data.latents["test"]) if name in train_features else np.nan)
                  for name in PROBED}
        rows.append({"model": LABELS[variant], **reference, **probes})
    return pd.DataFrame(rows).set_index("model")


def kl_history(trained: Mapping[str, TrainedVariant], window: int = 10) -> pd.DataFrame:
    """Per-step training KL per word of each latent (rolling mean over ``window`` steps), long form
    (empty, with the columns, when no model has a latent)."""
    frames = []
    for variant, run in trained.items():
        if not run.model.is_variational:
            continue
        steps = run.history.steps
        frame = steps[["step", "kl_weight"]].copy()
        for column in ("kl_utterance", "kl_conversation", "reconstruction"):
            frame[column] = steps[column].rolling(window, min_periods=1).mean()
        frame["model"] = LABELS[variant]
        frames.append(frame)
    columns = ["step", "kl_weight", "kl_utterance", "kl_conversation", "reconstruction", "model"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def plot_kl_over_training(history: pd.DataFrame, models: Sequence[str], title: str = "") -> Figure:
    """KL per word of z_utt (left) and z_conv (right) on a log scale against the step, with β dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.6), sharex=True)
    for model in models:
        frame = history[history["model"] == model]
        axes[0].plot(frame["step"], frame["kl_utterance"], color=MODEL_COLORS[model], label=model)
        if frame["kl_conversation"].abs().sum() > 0:
            axes[1].plot(frame["step"], frame["kl_conversation"], color=MODEL_COLORS[model], label=model)
    for ax, latent in zip(axes, ("utterance latent $z_t$", "conversation latent $z_{conv}$")):
        weight = ax.twinx()
        first = history[history["model"] == models[0]]
        weight.plot(first["step"], first["kl_weight"], color="grey", linestyle="--", linewidth=1)
        weight.set_ylim(0, 1.05)
        weight.set_ylabel("KL weight β (dashed)")
        ax.set_xlabel("training step")
        ax.set_yscale("log")
        ax.set_ylabel("KL per word (nats, log scale)")
        ax.set_title(f"KL of the {latent}")
        ax.legend(fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ablation(table: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Bars of test KL per word (z_utt, z_conv) and NLL per word for ``models`` (rows of ``table``)."""
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.2))
    subset = table.loc[list(models)]
    subset[["KL z_utt", "KL z_conv"]].plot.bar(ax=axes[0], rot=0)
    axes[0].set_ylabel("KL per word (nats)")
    axes[0].set_title("How much the latents carry")
    subset["NLL"].plot.bar(ax=axes[1], rot=0, color="tab:green")
    axes[1].set_ylabel("NLL per word (nats)")
    axes[1].set_ylim(subset["NLL"].min() - 0.1, subset["NLL"].max() + 0.05)
    axes[1].set_title("Test likelihood")
    for ax in axes:
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def paper_comparison(
    ours: pd.DataFrame, reported: pd.DataFrame, dataset: str, paper_dataset: str
) -> pd.DataFrame:
    """The paper's NLL and KL per word on ``paper_dataset`` (where verified) beside ours, per model."""
    reported = reported[reported["dataset"] == paper_dataset]
    rows = []
    for model, row in ours.iterrows():
        found = reported[reported["model"] == model]
        paper = {}
        for metric in ("NLL", "KL"):
            values = found.loc[found["metric"] == metric, "value"].dropna()
            paper[metric] = float(values.iloc[0]) if len(values) else np.nan
        rows.append({
            "model": model,
            f"paper NLL ({paper_dataset})": paper["NLL"], f"our NLL ({dataset})": row["NLL"],
            f"paper KL ({paper_dataset})": paper["KL"], f"our KL ({dataset})": row["KL"],
            "paper source": "; ".join(sorted(set(found["source"]))) if len(found) else "not available",
        })
    return pd.DataFrame(rows).set_index("model")


def decode(
    model: HierarchicalModel, start: torch.Tensor, decoding: str, beam_size: int, max_length: int
) -> torch.Tensor:
    """Replies from decoder start states by ``decoding`` ("greedy", "beam" or "sample")."""
    if decoding == "greedy":
        return greedy_decode(model.decoder, start, max_length)
    if decoding == "beam":
        return beam_search(model.decoder, start, beam_size, max_length)
    return sample_decode(model.decoder, start, max_length)


@torch.no_grad()
def reply_examples(
    model: VHCR, test: ConversationTensors, vocabulary: Vocabulary, conversation: int, context_turns: int,
    replies: int, decoding: str, beam_size: int, max_length: int, seed: int,
) -> pd.DataFrame:
    """Replies to one context: z_conv drawn once and held fixed, or drawn afresh for each reply.

    z_conv is drawn from q(z_conv | context) (as the authors' generator does); z_t from its prior.
    """
    model.eval()
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    tokens = test.tokens[conversation:conversation + 1, :context_turns].to(device)
    lengths = test.turn_lengths[conversation:conversation + 1, :context_turns].to(device)
    fixed = model.sample_conversation_latent(tokens, lengths)
    rows = []
    for index in range(replies):
        for label, z_conversation in (("z_conv fixed", fixed), ("z_conv resampled", None)):
            start = model.reply_state(tokens, lengths, z_conversation)
            reply = decode(model, start, decoding, beam_size, max_length)[0]
            rows.append({"reply": index + 1, "z_conv": label, "text": vocabulary.decode(reply.tolist())})
    return pd.DataFrame(rows).pivot(index="reply", columns="z_conv", values="text")


def readable_conversation(test: ConversationTensors, context_turns: int) -> int:
    """The test conversation with > ``context_turns`` turns whose first turns have the fewest ``<unk>``."""
    turns = test.tokens[:, :context_turns + 1]
    words = test.turn_lengths[:, :context_turns + 1].sum(dim=1).clamp(min=1)
    unknown = (turns == UNK_ID).sum(dim=(1, 2)) / words
    unknown[test.conversation_lengths <= context_turns] = float("inf")
    return int(unknown.argmin())


def context_table(
    test: ConversationTensors, vocabulary: Vocabulary, conversation: int, context_turns: int
) -> pd.DataFrame:
    """The context turns and the reference reply of one test conversation."""
    rows = [{"turn": turn + 1, "role": "context" if turn < context_turns else "reference reply",
             "text": vocabulary.decode(test.tokens[conversation, turn].tolist())}
            for turn in range(min(context_turns + 1, int(test.conversation_lengths[conversation])))]
    return pd.DataFrame(rows).set_index("turn")


@torch.no_grad()
def generated_replies(
    model: HierarchicalModel, test: ConversationTensors, vocabulary: Vocabulary, decoding: str, beam_size: int,
    max_length: int,
) -> tuple[list[list[str]], list[list[str]]]:
    """One generated reply for every turn t ≥ 2 of ``test`` given turns < t, with the references."""
    model.eval()
    device = next(model.parameters()).device
    hypotheses, references = [], []
    for turn in range(1, test.tokens.shape[1]):
        present = test.turn_lengths[:, turn] > 0
        if not present.any():
            break
        lengths = test.turn_lengths[present].clone()
        lengths[:, turn:] = 0
        start = model.reply_state(test.tokens[present].to(device), lengths.to(device))
        for reply, reference in zip(decode(model, start, decoding, beam_size, max_length), test.tokens[present, turn]):
            hypotheses.append(vocabulary.decode(reply.tolist()).split())
            references.append(vocabulary.decode(reference.tolist()).split())
    return hypotheses, references


def embedding_table(
    trained: Mapping[str, TrainedVariant], test: ConversationTensors, vocabulary: Vocabulary,
    vectors: Mapping[str, np.ndarray], decoding: str, beam_size: int, max_length: int, seed: int,
) -> pd.DataFrame:
    """Average, Extrema and Greedy embedding similarity of generated and reference replies."""
    rows = []
    for variant, run in trained.items():
        torch.manual_seed(seed)
        hypotheses, references = generated_replies(run.model, test, vocabulary, decoding, beam_size, max_length)
        rows.append({"model": LABELS[variant], **embedding_metrics(hypotheses, references, vectors)})
    return pd.DataFrame(rows).set_index("model")


def training_history(epochs: pd.DataFrame) -> list[dict[str, float]]:
    """Per epoch: the step reached and the mean training KL per word of z_t and z_conv and β."""
    return [{"epoch": int(row["epoch"]), "step": int(row["steps"]),
             "kl_utterance": float(row.get("kl_utterance", 0.0)),
             "kl_conversation": float(row.get("kl_conversation", 0.0)),
             "kl_weight": float(row.get("kl_weight", 0.0))} for _, row in epochs.iterrows()]


def metric_rows(table: pd.DataFrame, trained: Mapping[str, TrainedVariant],
                embedding: pd.DataFrame | None = None, known_latent: pd.DataFrame | None = None
                ) -> list[dict[str, Any]]:
    """The rows a run records, one per model: test metrics (``table``, and on the designed corpus
    the columns of :func:`known_latent_table`, ``known_latent``), the final epoch's training KL
    per word, the per-epoch training history (:func:`training_history`) and, when computed, the
    embedding metrics (``embedding``, prefixed "embedding ")."""
    if known_latent is not None:
        table = table.join(known_latent)
    rows = []
    for variant, run in trained.items():
        last = run.history.epochs.iloc[-1]
        measured = table.loc[LABELS[variant]].items()
        row = {"variant": variant, "model": LABELS[variant],
               **{k: float(v) if isinstance(v, (int, float, np.floating)) else v for k, v in measured}}
        row["train KL z_utt (last epoch)"] = float(last.get("kl_utterance", 0.0))
        row["train KL z_conv (last epoch)"] = float(last.get("kl_conversation", 0.0))
        row["train history"] = training_history(run.history.epochs)
        if embedding is not None:
            row.update({f"embedding {k}": v for k, v in embedding.loc[LABELS[variant]].items()})
        rows.append(row)
    return rows

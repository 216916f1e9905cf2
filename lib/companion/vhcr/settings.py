"""Parameters of the VHCR chapter: typed settings (:class:`VHCRSettings`), profiles, the reproduce grid.

``profile="cpu"`` trains small models on a subset of the Chit-Chat corpus in about two minutes
on two CPU cores; ``profile="paper"`` uses the sizes of the authors' code (ctr4si,
``model/configs.py``): embeddings 500, GRUs 1000, latents 100, Adam 1e-4, gradient-norm clip
1, batch 80, 30 epochs, 100 importance samples; KL annealing over 15,000 steps (the authors'
code defaults to 25,000 and its README examples use 250,000; 15,000 is the Cornell setting a user
read from the paper's supplementary notes, which is about 60% of 30 Cornell epochs — the CPU
profile keeps that ratio: 45 of its 76 steps).

``profile="cpu-long"`` trains every model on all 2,757 Chit-Chat training conversations with
three seeds (``GRID``) for as many steps as about two hours of one core allow: GRUs half the CPU
profile's (embeddings 32, encoder 32 per direction, context and decoder 64; latents 16), batches
of 16, 10 epochs = 1,730 optimiser steps per model (23 times the CPU profile's 76), β annealed
over 1,038 steps (the same 60%), NLL/KL measured on the first 100 test conversations with 100
importance samples. Sized by a pilot (2026-12-01, one torch thread, CPU time on the shared
machine): one optimiser step of HRED / VHCR took 0.72 / 0.80 s at the CPU profile's sizes and
batch 32, 0.41 s at batch 16, 0.44 / 0.52 s at half the sizes and batch 32, and 0.25 / 0.31 s
at half the sizes and batch 16; K = 100 importance samples took 0.7–0.9 s per test conversation;
loading the corpus about 30 s. The grid — 12 trainings of 1,730 steps, 9 likelihood estimates,
3 corpus loads — thus needs about 1.8 hours of one core (the CPU profile's sizes at batch 32
would have allowed only about 700 steps). On the shared machine, where a process gets a third
of a core, it runs for several hours.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from companion.config import (ChapterSettings, ParameterError, check_choice, check_choices, check_float, check_int,
                              warn_unused)
from companion.vhcr.corpora import CORPORA

#: Model variants, name → (model, word drop applies, utterance drop applies).
VARIANTS: dict[str, tuple[str, bool, bool]] = {
    "hred": ("hred", False, False),
    "vhred": ("vhred", False, False),
    "vhred_wd": ("vhred", True, False),
    "vhcr": ("vhcr", False, False),
    "vhcr_ud": ("vhcr", False, True),
}
LABELS = {
    "hred": "HRED", "vhred": "VHRED", "vhred_wd": "VHRED + word drop", "vhcr": "VHCR",
    "vhcr_ud": "VHCR + utterance drop",
}
#: How replies can be decoded.
DECODINGS = ("greedy", "beam", "sample")

_SIZES = ("embedding_size", "encoder_size", "context_size", "decoder_size", "latent_size")


@dataclass(frozen=True, kw_only=True)
class VHCRSettings(ChapterSettings):
    """The VHCR chapter's parameters: corpus, model sizes, training, evaluation and decoding."""

    #: the model variants trained (keys of :data:`VARIANTS`; a comma-separated string is split)
    models: tuple[str, ...] = ("hred", "vhred", "vhcr", "vhcr_ud")
    #: the corpus (a key of :data:`companion.vhcr.corpora.CORPORA`)
    dataset: str = "chitchat"
    #: training conversations used (0 uses all)
    train_conversations: int = 600
    #: test conversations the likelihood and KL are measured on (0 uses all)
    eval_conversations: int = 24
    #: the vocabulary's largest size
    max_vocab_size: int = 20000
    #: fewest occurrences in the training split for a word to enter the vocabulary
    min_count: int = 5
    #: turns kept per conversation (its first ones)
    max_turns: int = 10
    #: tokens kept per turn, ``<eos>`` included
    max_tokens: int = 30
    #: word embedding size
    embedding_size: int = 64
    #: utterance encoder GRU size per direction
    encoder_size: int = 64
    #: context GRU size
    context_size: int = 128
    #: decoder GRU size
    decoder_size: int = 128
    #: size of each latent (z_t and z_conv)
    latent_size: int = 16
    #: conversations per optimiser step
    batch_size: int = 32
    #: Adam's learning rate
    learning_rate: float = 2e-3
    #: passes over the training conversations
    epochs: int = 4
    #: optimiser steps over which β rises linearly from 0 to 1 (with 0, β = 1 from the start)
    kl_annealing_steps: int = 45
    #: probability that word drop replaces a decoder input word by ``<unk>`` (variant ``vhred_wd``)
    word_drop: float = 0.25
    #: probability that utterance drop replaces a turn's encoding by h_unk (variant ``vhcr_ud``)
    utterance_drop: float = 0.25
    #: largest gradient norm (clipped above it)
    grad_clip: float = 1.0
    #: importance samples per test conversation for the NLL
    importance_samples: int = 100
    #: how replies are decoded (one of :data:`DECODINGS`)
    decoding: str = "greedy"
    #: beam width when ``decoding="beam"``
    beam_size: int = 1
    #: replies generated per column of the z_conv example
    replies: int = 3
    #: a word2vec (``.bin`` or text) or GloVe file for the embedding metrics (None skips them)
    word_vectors: str | None = None

    def validate(self) -> None:
        """Check every parameter (``models`` becomes a tuple); warn about a drop rate no model uses."""
        self.normalise("models", tuple(check_choices("models", self.models, VARIANTS)))
        check_choice("dataset", self.dataset, CORPORA)
        check_choice("decoding", self.decoding, DECODINGS)
        for name in ("train_conversations", "eval_conversations"):
            check_int(name, getattr(self, name), minimum=0)
        for name in ("max_vocab_size", "min_count", "batch_size", "epochs", "importance_samples", "beam_size",
                     "replies", *_SIZES):
            check_int(name, getattr(self, name), minimum=1)
        check_int("max_turns", self.max_turns, minimum=2)
        check_int("max_tokens", self.max_tokens, minimum=2)
        check_int("kl_annealing_steps", self.kl_annealing_steps, minimum=0)
        check_float("learning_rate", self.learning_rate, 0.0, 1.0, open_min=True)
        check_float("grad_clip", self.grad_clip, 0.0, open_min=True)
        for name, position in (("word_drop", 1), ("utterance_drop", 2)):
            value = getattr(self, name)
            check_float(name, value, 0.0, 1.0)
            if value >= 1.0:
                raise ParameterError(f"{name}={value!r} must lie in [0, 1)")
            self._warn_if_unused(name, position)
        if self.word_vectors is not None:
            if not isinstance(self.word_vectors, str):
                raise ParameterError(f"word_vectors={self.word_vectors!r} must be a path to a word-vector file or None")
            if not Path(self.word_vectors).expanduser().is_file():
                raise ParameterError(f"word_vectors={self.word_vectors!r}: no such file (give a word2vec or "
                                     "GloVe file, or None for no embedding metrics)")

    def _warn_if_unused(self, name: str, position: int) -> None:
        """Warn when a drop rate other than the default is given but no model in ``models`` applies it."""
        default = next(field.default for field in fields(self) if field.name == name)
        users = [variant for variant, flags in VARIANTS.items() if flags[position]]
        if getattr(self, name) != default and not set(users) & set(self.models):
            warn_unused(name, getattr(self, name), f"no model in models={list(self.models)} applies it "
                        f"(only {users} do)")


PROFILES: dict[str, VHCRSettings] = {"cpu": VHCRSettings()}
PROFILES["cpu-long"] = replace(
    PROFILES["cpu"], profile="cpu-long", train_conversations=0, eval_conversations=100, embedding_size=32,
    encoder_size=32, context_size=64, decoder_size=64, batch_size=16, epochs=10, kl_annealing_steps=1038)
PROFILES["paper"] = replace(
    PROFILES["cpu"], profile="paper", models=("hred", "vhred", "vhred_wd", "vhcr", "vhcr_ud"), dataset="cornell",
    train_conversations=0, eval_conversations=0, embedding_size=500, encoder_size=1000, context_size=1000,
    decoder_size=1000, latent_size=100, batch_size=80, learning_rate=1e-4, epochs=30, kl_annealing_steps=15000)

#: The designed corpus at cpu-long scale (:mod:`companion.vhcr.designed`): the cpu-long models
#: on its 8,000 training conversations, 10 epochs of batches of 16 (5,000 steps, β annealed over
#: the first 3,000, the same 60%), NLL and KL on all 1,000 test conversations; utterance drop
#: 0.25 (the paper's), 0.5 and 0.75, the generator's break-even rate (about 0.47,
#: :meth:`~companion.vhcr.designed.DesignedCorpus.topic_code_balance`) lying between the first
#: two. A pilot (2026-12-03, one thread) trained each model for 2,500 steps of batch 32 in about a
#: minute. Seeds 0–2 were planned first. When seeds 0–2 of 0.25 and 0.5 and seeds 0–1 of 0.75 had
#: run, every verdict was inconclusive under Holm's adjustment over six tests (the effects' signs
#: agreeing in every seed), so seeds 3 and 4 were added at every rate; the chapter shows the
#: decisions on seeds 0–2 beside the five-seed ones.
DESIGNED_LONG: dict[str, list[Any]] = {
    "dataset": ["designed"], "utterance_drop": [0.25, 0.5, 0.75], "eval_conversations": [0],
    "kl_annealing_steps": [3000], "seed": [0, 1, 2, 3, 4]}
#: The seeds the designed grid ran first, before it was extended (see :data:`DESIGNED_LONG`).
DESIGNED_FIRST_SEEDS = (0, 1, 2)

GRID: dict[str, dict[str, list[Any]] | list[dict[str, list[Any]]]] = {
    "cpu": {"seed": [0, 1], "utterance_drop": [0.25, 0.5]},
    "cpu-long": [{"seed": [0, 1, 2]}, DESIGNED_LONG],
    "paper": {"dataset": ["cornell", "ubuntu"], "seed": [0, 1, 2]},
}

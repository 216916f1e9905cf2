"""Parameters of the VHCR chapter: profiles, the reproduce grid, validation.

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

from typing import Any

from companion.config import ParameterError, check_choice, check_choices, check_float, check_int, resolve
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
DECODINGS = ("greedy", "beam", "sample")

_SIZES = ("embedding_size", "encoder_size", "context_size", "decoder_size", "latent_size")

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {
        "models": "hred,vhred,vhcr,vhcr_ud", "dataset": "chitchat", "train_conversations": 600,
        "eval_conversations": 24, "max_vocab_size": 20000, "min_count": 5, "max_turns": 10, "max_tokens": 30,
        "embedding_size": 64, "encoder_size": 64, "context_size": 128, "decoder_size": 128, "latent_size": 16,
        "batch_size": 32, "learning_rate": 2e-3, "epochs": 4, "kl_annealing_steps": 45,
        "word_drop": 0.25, "utterance_drop": 0.25, "grad_clip": 1.0, "importance_samples": 100,
        "decoding": "greedy", "beam_size": 1, "replies": 3, "word_vectors": None,
    },
    "cpu-long": {
        "models": "hred,vhred,vhcr,vhcr_ud", "dataset": "chitchat", "train_conversations": 0,
        "eval_conversations": 100, "max_vocab_size": 20000, "min_count": 5, "max_turns": 10, "max_tokens": 30,
        "embedding_size": 32, "encoder_size": 32, "context_size": 64, "decoder_size": 64, "latent_size": 16,
        "batch_size": 16, "learning_rate": 2e-3, "epochs": 10, "kl_annealing_steps": 1038,
        "word_drop": 0.25, "utterance_drop": 0.25, "grad_clip": 1.0, "importance_samples": 100,
        "decoding": "greedy", "beam_size": 1, "replies": 3, "word_vectors": None,
    },
    "paper": {
        "models": "hred,vhred,vhred_wd,vhcr,vhcr_ud", "dataset": "cornell", "train_conversations": 0,
        "eval_conversations": 0, "max_vocab_size": 20000, "min_count": 5, "max_turns": 10, "max_tokens": 30,
        "embedding_size": 500, "encoder_size": 1000, "context_size": 1000, "decoder_size": 1000, "latent_size": 100,
        "batch_size": 80, "learning_rate": 1e-4, "epochs": 30, "kl_annealing_steps": 15000,
        "word_drop": 0.25, "utterance_drop": 0.25, "grad_clip": 1.0, "importance_samples": 100,
        "decoding": "greedy", "beam_size": 1, "replies": 3, "word_vectors": None,
    },
}

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"seed": [0, 1], "utterance_drop": [0.25, 0.5]},
    "cpu-long": {"seed": [0, 1, 2]},
    "paper": {"dataset": ["cornell", "ubuntu"], "seed": [0, 1, 2]},
}


def settings(profile: str = "cpu", **given: Any) -> dict[str, Any]:
    """The chapter's parameters: the profile's values, overridden by those given (validated).

    ``models`` becomes a list; ``train_conversations``/``eval_conversations`` = 0 mean "all".
    """
    params = resolve(PROFILES, profile, **given)
    params["models"] = check_choices("models", params["models"], VARIANTS)
    check_choice("dataset", params["dataset"], CORPORA)
    check_choice("decoding", params["decoding"], DECODINGS)
    for name in ("train_conversations", "eval_conversations"):
        check_int(name, params[name], minimum=0)
    for name in ("max_vocab_size", "min_count", "max_turns", "max_tokens", "batch_size", "epochs",
                 "importance_samples", "beam_size", "replies", *_SIZES):
        check_int(name, params[name], minimum=1)
    check_int("max_turns", params["max_turns"], minimum=2)
    check_int("max_tokens", params["max_tokens"], minimum=2)
    check_int("kl_annealing_steps", params["kl_annealing_steps"], minimum=0)
    check_float("learning_rate", params["learning_rate"], 0.0, 1.0, open_min=True)
    check_float("grad_clip", params["grad_clip"], 0.0, open_min=True)
    for name in ("word_drop", "utterance_drop"):
        check_float(name, params[name], 0.0, 1.0)
        if params[name] >= 1.0:
            raise ParameterError(f"{name}={params[name]!r} must lie in [0, 1)")
    if params["word_vectors"] is not None and not isinstance(params["word_vectors"], str):
        raise ParameterError(f"word_vectors={params['word_vectors']!r} must be a path to a word-vector file or None")
    return params

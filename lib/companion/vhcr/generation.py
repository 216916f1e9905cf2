"""Decoding a reply from a decoder start state: greedy, sampling, beam search.

Each function takes the decoder and B start states and returns B × steps word ids, ``<pad>``
after each reply's ``<eos>``; :meth:`Vocabulary.decode` turns a row into text. The authors
decode with beam search of width 1 (= greedy) or by sampling, at most 30 words.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from companion.vhcr.modules import UtteranceDecoder
from companion.vhcr.text import EOS_ID, PAD_ID, SOS_ID

Chooser = Callable[[torch.Tensor], torch.Tensor]


def _decode(decoder: UtteranceDecoder, start: torch.Tensor, max_length: int, choose: Chooser) -> torch.Tensor:
    hidden = start
    tokens = torch.full((len(start),), SOS_ID, dtype=torch.long, device=start.device)
    finished = torch.zeros(len(start), dtype=torch.bool, device=start.device)
    words = []
    for _ in range(max_length):
        log_probs, hidden = decoder.step(tokens, hidden)
        tokens = choose(log_probs).masked_fill(finished, PAD_ID)
        words.append(tokens)
        finished |= tokens == EOS_ID
        if finished.all():
            break
    return torch.stack(words, dim=1)


@torch.no_grad()
def greedy_decode(decoder: UtteranceDecoder, start: torch.Tensor, max_length: int = 30) -> torch.Tensor:
    """The most probable word at every step."""
    return _decode(decoder, start, max_length, lambda log_probs: log_probs.argmax(dim=-1))


@torch.no_grad()
def sample_decode(
    decoder: UtteranceDecoder, start: torch.Tensor, max_length: int = 30, temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A word drawn from softmax(logits / temperature) at every step."""
    def draw(log_probs: torch.Tensor) -> torch.Tensor:
        probabilities = torch.softmax(log_probs / temperature, dim=-1)
        return torch.multinomial(probabilities, 1, generator=generator)[:, 0]

    return _decode(decoder, start, max_length, draw)


@torch.no_grad()
def beam_search(
    decoder: UtteranceDecoder, start: torch.Tensor, beam_size: int = 1, max_length: int = 30
) -> torch.Tensor:
    """The highest-scoring (summed log-probability) of ``beam_size`` hypotheses kept per step.

    A finished hypothesis (``<eos>`` emitted) keeps its score and only extends with ``<pad>``,
    so with ``beam_size = 1`` this is exactly greedy decoding.
    """
    count, size = start.shape
    hidden = start.repeat_interleave(beam_size, dim=0)
    scores = torch.full((count, beam_size), float("-inf"), device=start.device)
    scores[:, 0] = 0.0
    tokens = torch.full((count * beam_size,), SOS_ID, dtype=torch.long, device=start.device)
    finished = torch.zeros((count, beam_size), dtype=torch.bool, device=start.device)
    sequences = torch.zeros((count, beam_size, 0), dtype=torch.long, device=start.device)
    for _ in range(max_length):
        log_probs, hidden = decoder.step(tokens, hidden)
        log_probs = log_probs.view(count, beam_size, -1)
        vocabulary = log_probs.shape[-1]
        pad_only = torch.full_like(log_probs, float("-inf"))
        pad_only[..., PAD_ID] = 0.0
        log_probs = torch.where(finished.unsqueeze(-1), pad_only, log_probs)
        scores, index = (scores.unsqueeze(-1) + log_probs).view(count, -1).topk(beam_size, dim=-1)
        beam, word = index // vocabulary, index % vocabulary
        hidden = hidden.view(count, beam_size, size).gather(1, beam.unsqueeze(-1).expand(-1, -1, size))
        hidden = hidden.reshape(count * beam_size, size)
        kept = sequences.gather(1, beam.unsqueeze(-1).expand_as(sequences))
        sequences = torch.cat([kept, word.unsqueeze(-1)], dim=-1)
        finished = finished.gather(1, beam) | (word == EOS_ID)
        tokens = word.reshape(-1)
        if finished.all():
            break
    best = scores.argmax(dim=1)
    return sequences[torch.arange(count, device=start.device), best]

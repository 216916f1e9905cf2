"""Building blocks of HRED, VHRED and VHCR: GRU encoders and decoder, Gaussian layers, drops.

Shapes: B conversations, T turns, L tokens per turn, M = the turns actually present.
Utterances are encoded with packed sequences and the decoder's loss is masked, so the amount
of padding never changes a result.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from companion.vhcr.text import UNK_ID


class FeedForward(nn.Module):
    """``layers`` Linear layers, each followed by tanh (the authors' ``FeedForward``)."""

    def __init__(self, input_size: int, output_size: int, layers: int = 1) -> None:
        """
        Args:
            input_size: size of the input vector.
            output_size: size of every hidden layer and of the output.
            layers: number of Linear + tanh layers.
        """
        super().__init__()
        sizes = [input_size] + [output_size] * layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            inputs = torch.tanh(layer(inputs))  # $h\leftarrow\tanh(Wh+b)$
        return inputs


class GaussianLayer(nn.Module):
    """A diagonal Gaussian from an MLP: mean = Linear(h), variance = softplus(Linear(h))."""

    def __init__(self, input_size: int, hidden_size: int, latent_size: int, layers: int) -> None:
        """
        Args:
            input_size: size of the conditioning vector.
            hidden_size: width of the tanh MLP.
            latent_size: dimension of the latent variable.
            layers: depth of the tanh MLP (2 for posteriors, 1 for VHCR's utterance prior).
        """
        super().__init__()
        self.hidden = FeedForward(input_size, hidden_size, layers)
        self.mean = nn.Linear(hidden_size, latent_size)
        self.var = nn.Linear(hidden_size, latent_size)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(inputs)
        return self.mean(hidden), F.softplus(self.var(hidden))  # $\mu,\ \sigma^2=\log(1+e^{a})$


class UtteranceEncoder(nn.Module):
    """Bidirectional GRU over a turn's word embeddings; h_enc = [forward last, backward last]."""

    def __init__(self, embedding: nn.Embedding, hidden_size: int) -> None:
        """
        Args:
            embedding: word embeddings, shared with the decoder.
            hidden_size: GRU size per direction (h_enc has twice this size).
        """
        super().__init__()
        self.embedding = embedding
        self.rnn = nn.GRU(embedding.embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encodings (M × 2H) of M turns (``tokens`` M × L, ``lengths`` ≥ 1)."""
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.rnn(packed)
        return torch.cat([last[0], last[1]], dim=-1)

    def encode_turns(self, tokens: torch.Tensor, turn_lengths: torch.Tensor) -> torch.Tensor:
        """Encodings B × T × 2H of every present turn of B conversations (zeros elsewhere)."""
        present = turn_lengths > 0
        encodings = tokens.new_zeros((*present.shape, self.output_size), dtype=torch.float)
        encodings[present] = self(tokens[present], turn_lengths[present])
        return encodings


class ContextRNN(nn.Module):
    """Unidirectional GRU over turn encodings: h_cxt_t summarises turns 1…t."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        """
        Args:
            input_size: size of each turn's input vector.
            hidden_size: size of h_cxt.
        """
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)

    def forward(self, inputs: torch.Tensor, initial: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs B × T × C; causal, so padding after a conversation's end cannot reach them."""
        outputs, _ = self.rnn(inputs, None if initial is None else initial.unsqueeze(0).contiguous())
        return outputs


class ConversationEncoder(nn.Module):
    """VHCR's inference network over a whole conversation: a bidirectional GRU on h_enc."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        """
        Args:
            input_size: size of h_enc.
            hidden_size: GRU size per direction (the output has twice this size).
        """
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, encodings: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """B × 2H summary of the first ``lengths[b]`` turns of each conversation."""
        packed = pack_padded_sequence(encodings, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.rnn(packed)
        return torch.cat([last[0], last[1]], dim=-1)


class UtteranceDecoder(nn.Module):
    """GRU language model of one turn, started from a hidden state the context provides."""

    def __init__(self, embedding: nn.Embedding, hidden_size: int) -> None:
        """
        Args:
            embedding: word embeddings, shared with the encoder.
            hidden_size: GRU size.
        """
        super().__init__()
        self.embedding = embedding
        self.rnn = nn.GRU(embedding.embedding_dim, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, embedding.num_embeddings)
        self.hidden_size = hidden_size

    def hidden_states(self, inputs: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
        """Teacher-forced states M × L × H for input tokens M × L (``<sos>`` first)."""
        states, _ = self.rnn(self.embedding(inputs), initial.unsqueeze(0).contiguous())
        return states

    def step(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: log-probabilities of the next word (M × V) and the new state (M × H)."""
        states, hidden = self.rnn(self.embedding(tokens).unsqueeze(1), hidden.unsqueeze(0).contiguous())
        return F.log_softmax(self.output(states[:, 0]), dim=-1), hidden[0]


def word_drop(inputs: torch.Tensor, probability: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decoder inputs with each word after ``<sos>`` replaced by ``<unk>`` with ``probability``."""
    if probability <= 0.0:
        return inputs
    dropped = torch.rand(inputs.shape, generator=generator, device=inputs.device) < probability
    dropped[:, 0] = False
    return inputs.masked_fill(dropped, UNK_ID)


def utterance_drop_mask(turns: int, probability: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Which of ``turns`` turn positions to drop (one draw per position, shared by the batch)."""
    return torch.rand(turns, generator=generator) < probability


def drop_utterances(encodings: torch.Tensor, dropped: torch.Tensor, replacement: torch.Tensor) -> torch.Tensor:
    """Encodings B × T × D with the turns where ``dropped`` (T or B × T) replaced by ``replacement``."""
    dropped = dropped.to(encodings.device)
    if dropped.dim() == 1:
        dropped = dropped.unsqueeze(0).expand(encodings.shape[:2])
    return torch.where(dropped.unsqueeze(-1), replacement.expand_as(encodings), encodings)

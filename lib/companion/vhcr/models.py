"""HRED, VHRED and VHCR: hierarchical encoder-decoders of conversations x_1…x_n.

All three encode each turn with a bidirectional GRU (h_enc), run a context GRU over the turns
(h_cxt_t summarises x_≤t) and decode turn t+1 with a GRU started from tanh(Linear(·)) of what
the model knows before it. They differ in the latent variables (Park et al., 2018, Sec. 2–3):

- HRED: no latent; decoder start tanh(W h_cxt_t).
- VHRED: one latent per turn z_t, prior p(z_t | x_<t) from h_cxt, posterior q(z_t | x_≤t) from
  [h_cxt, h_enc(x_t)]; decoder start tanh(W [h_cxt, z_t]); optional word drop.
- VHCR: a conversation latent z_conv ~ N(0, I) with posterior q(z_conv | x_1…n) from a
  bidirectional GRU over every h_enc; the context GRU starts from tanh(W z_conv) and reads
  [h_enc(x_t), z_conv]; p(z_t | h_cxt, z_conv) and q(z_t | h_cxt, h_enc(x_t), z_conv); decoder
  start tanh(W [h_cxt, z_t, z_conv]); utterance drop replaces the context GRU's input of
  randomly chosen turns by a learned vector h_unk (in training only).

``model(tokens, turn_lengths)`` returns :class:`ConversationTerms`, per-conversation sums from
which the loss, the ELBO and the importance weights are formed. Latents are sampled from the
posterior (training and likelihood estimation); :meth:`reply_state` samples from the prior to
generate; :meth:`latent_summary` gives, per conversation, what a probe of the latents reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from companion.vhcr.kl import gaussian_kl, gaussian_log_density, reparameterize
from companion.vhcr.modules import (
    ContextRNN, ConversationEncoder, GaussianLayer, UtteranceDecoder, UtteranceEncoder, drop_utterances,
    utterance_drop_mask, word_drop,
)
from companion.vhcr.text import PAD_ID, SOS_ID, conversation_lengths, token_mask, trim_batch


@dataclass
class ConversationTerms:
    """Per-conversation terms (each of shape B) of one posterior sample.

    ``reconstruction`` = −log p(x_2…n | z, x_1) summed over words; ``kl_*`` are closed-form
    KLs; ``log_prior`` and ``log_posterior`` are log p(z) and log q(z | x) at the sample.
    """

    reconstruction: torch.Tensor
    kl_conversation: torch.Tensor
    kl_utterance: torch.Tensor
    log_prior: torch.Tensor
    log_posterior: torch.Tensor
    words: torch.Tensor

    @property
    def negative_elbo(self) -> torch.Tensor:
        """−ELBO = reconstruction + KL(z_conv) + Σ_t KL(z_t)."""
        return self.reconstruction + self.kl_conversation + self.kl_utterance  # $-\mathcal{L}=-\log p(x|z)+\mathrm{KL}$

    @property
    def log_weight(self) -> torch.Tensor:
        """Importance weight log p(x, z) − log q(z | x) of the sample."""
        return -self.reconstruction + self.log_prior - self.log_posterior  # $\log w=\log p(x|z)+\log p(z)-\log q(z|x)$


def _per_conversation(values: torch.Tensor, conversation: torch.Tensor, count: int) -> torch.Tensor:
    """Sum per-turn ``values`` into ``count`` conversations."""
    return values.new_zeros(count).index_add(0, conversation, values)


def _last_present(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``outputs[b, lengths[b] - 1]`` for each conversation b."""
    return outputs[torch.arange(len(lengths), device=outputs.device), lengths - 1]


def _mean_per_conversation(values: torch.Tensor, conversation: torch.Tensor, count: int) -> torch.Tensor:
    """The mean of per-turn vectors ``values`` (M × D) over each of ``count`` conversations' turns."""
    sums = values.new_zeros((count, values.shape[-1])).index_add(0, conversation, values)
    turns = values.new_zeros(count).index_add(0, conversation, torch.ones_like(values[:, 0]))
    return sums / turns.clamp(min=1).unsqueeze(-1)


class HierarchicalModel(nn.Module):
    """What the three models share: encoders, context GRU, decoder and the likelihood terms."""

    def __init__(
        self, vocabulary_size: int, embedding_size: int, encoder_size: int, context_size: int,
        decoder_size: int, utterance_latent_size: int, conversation_latent_size: int, word_drop: float,
    ) -> None:
        """
        Args:
            vocabulary_size: number of word ids (special tokens included).
            embedding_size: word-embedding size, shared by encoder and decoder.
            encoder_size: utterance GRU size per direction.
            context_size: context GRU size.
            decoder_size: decoder GRU size.
            utterance_latent_size: size of each z_t (0: none).
            conversation_latent_size: size of z_conv (0: none).
            word_drop: probability of replacing a decoder input word by ``<unk>`` in training.
        """
        super().__init__()
        self.utterance_latent_size = utterance_latent_size
        self.conversation_latent_size = conversation_latent_size
        self.word_drop = word_drop
        self.embedding = nn.Embedding(vocabulary_size, embedding_size, padding_idx=PAD_ID)
        self.encoder = UtteranceEncoder(self.embedding, encoder_size)
        self.context = ContextRNN(self.encoder.output_size + self.conversation_latent_size, context_size)
        self.decoder = UtteranceDecoder(self.embedding, decoder_size)
        self.decoder_start = nn.Linear(context_size + self.utterance_latent_size + self.conversation_latent_size,
                                       decoder_size)

    @property
    def is_variational(self) -> bool:
        """Whether the model has latent variables (its likelihood then needs sampling)."""
        return self.utterance_latent_size > 0

    def forward(self, tokens: torch.Tensor, turn_lengths: torch.Tensor) -> ConversationTerms:
        """Terms of B conversations (``tokens`` B × T × L, ``turn_lengths`` B × T)."""
        tokens, turn_lengths = trim_batch(tokens, turn_lengths)
        encodings = self.encoder.encode_turns(tokens, turn_lengths)
        targets = turn_lengths[:, 1:] > 0
        conversation = targets.nonzero()[:, 0]
        count = len(tokens)
        latent = self.latent_terms(encodings, conversation_lengths(turn_lengths), targets, conversation)
        start = torch.tanh(self.decoder_start(latent.pop("features")))  # $h^{dec}_0=\tanh(W[\cdot])$
        reconstruction = self.reconstruction(tokens[:, 1:][targets], turn_lengths[:, 1:][targets], start)
        zero = encodings.new_zeros(count)
        return ConversationTerms(
            reconstruction=_per_conversation(reconstruction, conversation, count),
            kl_conversation=latent.get("kl_conversation", zero),
            kl_utterance=(_per_conversation(latent["kl_utterance"], conversation, count)
                          if "kl_utterance" in latent else zero),
            log_prior=latent.get("log_prior", zero),
            log_posterior=latent.get("log_posterior", zero),
            words=turn_lengths[:, 1:].sum(dim=1).to(encodings.dtype),
        )

    def latent_terms(
        self, encodings: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, conversation: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Decoder features of each target turn (M × F) and the latent terms (HRED: none)."""
        context = self.context(encodings[:, :-1])
        return {"features": context[targets]}

    def reconstruction(self, targets: torch.Tensor, lengths: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """−log p(turn) summed over its words, for M target turns (M × L, lengths M)."""
        inputs = torch.cat([torch.full_like(targets[:, :1], SOS_ID), targets[:, :-1]], dim=1)
        if self.training:
            inputs = word_drop(inputs, self.word_drop)
        mask = token_mask(lengths, targets.shape[1])
        states = self.decoder.hidden_states(inputs, start)[mask]
        losses = F.cross_entropy(self.decoder.output(states), targets[mask], reduction="none")  # $-\log p(w_i|w_{<i})$
        return losses.new_zeros(len(targets)).index_add(0, mask.nonzero()[:, 0], losses)

    @torch.no_grad()
    def latent_summary(self, tokens: torch.Tensor, turn_lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """What a probe reads of B whole conversations, each B × D: ``"context"``, h_cxt after the
        last turn (VHCR's read with z_conv at its posterior mean) and, for a latent model, one
        posterior draw and the posterior mean of z_t averaged over the predicted turns
        (``"z_utt"``, ``"z_utt mean"``) and of z_conv (``"z_conv"``, ``"z_conv mean"``). A draw
        carries only what the posterior's noise lets through; a mean, whatever the encoder
        separates however little the decoder uses it. Call in eval mode (no utterance drop)."""
        tokens, turn_lengths = trim_batch(tokens, turn_lengths)
        encodings = self.encoder.encode_turns(tokens, turn_lengths)
        targets = turn_lengths[:, 1:] > 0
        conversation = targets.nonzero()[:, 0]
        lengths = conversation_lengths(turn_lengths)
        latent = self.latent_terms(encodings, lengths, targets, conversation)
        summary = {"context": self.final_context(encodings, lengths, latent.get("z_conv mean"))}
        for name in ("z_utt", "z_utt mean"):
            if name in latent:
                summary[name] = _mean_per_conversation(latent[name], conversation, len(tokens))
        summary.update({name: latent[name] for name in ("z_conv", "z_conv mean") if name in latent})
        return summary

    def final_context(
        self, encodings: torch.Tensor, lengths: torch.Tensor, z_conversation: torch.Tensor | None
    ) -> torch.Tensor:
        """h_cxt after each conversation's last turn (HRED and VHRED ignore ``z_conversation``)."""
        return _last_present(self.context(encodings), lengths)

    def reply_state(
        self, tokens: torch.Tensor, turn_lengths: torch.Tensor, z_conversation: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decoder start state (B × H) for the turn after each context, latents from the prior."""
        tokens, turn_lengths = trim_batch(tokens, turn_lengths)
        encodings = self.encoder.encode_turns(tokens, turn_lengths)
        lengths = conversation_lengths(turn_lengths)
        return torch.tanh(self.decoder_start(self.reply_features(encodings, lengths, z_conversation)))

    def reply_features(
        self, encodings: torch.Tensor, lengths: torch.Tensor, z_conversation: torch.Tensor | None
    ) -> torch.Tensor:
        """Decoder features for the next turn (HRED: h_cxt after the last context turn)."""
        return self.final_context(encodings, lengths, z_conversation)


class HRED(HierarchicalModel):
    """Hierarchical recurrent encoder-decoder (Serban et al., 2016)."""

    def __init__(
        self, vocabulary_size: int, embedding_size: int, encoder_size: int, context_size: int,
        decoder_size: int, word_drop: float = 0.0,
    ) -> None:
        """Arguments as :class:`HierarchicalModel` (no latents)."""
        super().__init__(vocabulary_size, embedding_size, encoder_size, context_size, decoder_size, 0, 0, word_drop)


class VHRED(HierarchicalModel):
    """Latent variable hierarchical recurrent encoder-decoder (Serban et al., 2017)."""

    def __init__(
        self, vocabulary_size: int, embedding_size: int, encoder_size: int, context_size: int,
        decoder_size: int, latent_size: int, word_drop: float = 0.0,
    ) -> None:
        """Arguments as :class:`HRED`, plus ``latent_size``, the size of each z_t."""
        super().__init__(vocabulary_size, embedding_size, encoder_size, context_size, decoder_size,
                         latent_size, 0, word_drop)
        self.prior = GaussianLayer(context_size, context_size, latent_size, layers=2)
        self.posterior = GaussianLayer(context_size + self.encoder.output_size, context_size, latent_size, layers=2)

    def latent_terms(
        self, encodings: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, conversation: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        context = self.context(encodings[:, :-1])[targets]
        prior = self.prior(context)  # $p(z_t|x_{<t})$
        posterior = self.posterior(torch.cat([context, encodings[:, 1:][targets]], dim=-1))  # $q(z_t|x_{\le t})$
        z = reparameterize(*posterior)
        count = len(encodings)
        return {
            "features": torch.cat([context, z], dim=-1),
            "kl_utterance": gaussian_kl(*posterior, *prior),
            "log_prior": _per_conversation(gaussian_log_density(z, *prior), conversation, count),
            "log_posterior": _per_conversation(gaussian_log_density(z, *posterior), conversation, count),
            "z_utt": z, "z_utt mean": posterior[0],
        }

    def reply_features(
        self, encodings: torch.Tensor, lengths: torch.Tensor, z_conversation: torch.Tensor | None
    ) -> torch.Tensor:
        context = self.final_context(encodings, lengths, z_conversation)
        return torch.cat([context, reparameterize(*self.prior(context))], dim=-1)


class VHCR(HierarchicalModel):
    """Variational hierarchical conversation RNN (Park et al., 2018) with utterance drop."""

    def __init__(
        self, vocabulary_size: int, embedding_size: int, encoder_size: int, context_size: int,
        decoder_size: int, latent_size: int, conversation_latent_size: int | None = None,
        utterance_drop: float = 0.0, word_drop: float = 0.0,
    ) -> None:
        """
        Args: as :class:`VHRED`, plus
            conversation_latent_size: size of z_conv (default: ``latent_size``).
            utterance_drop: probability of replacing a turn's context input by h_unk in training.
        """
        super().__init__(vocabulary_size, embedding_size, encoder_size, context_size, decoder_size,
                         latent_size, conversation_latent_size or latent_size, word_drop)
        self.utterance_drop = utterance_drop
        size = self.encoder.output_size
        self.unknown_utterance = nn.Parameter(torch.randn(size))
        self.context_start = nn.Linear(self.conversation_latent_size, context_size)
        self.conversation_encoder = ConversationEncoder(size, context_size)
        self.conversation_posterior = GaussianLayer(
            self.conversation_encoder.output_size, context_size, self.conversation_latent_size, layers=2)
        self.prior = GaussianLayer(context_size + self.conversation_latent_size, context_size, latent_size, layers=1)
        self.posterior = GaussianLayer(
            context_size + size + self.conversation_latent_size, context_size, latent_size, layers=2)

    def conversation_distribution(
        self, encodings: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(z_conv | the first ``lengths`` turns)."""
        return self.conversation_posterior(self.conversation_encoder(encodings, lengths))

    def context_outputs(self, encodings: torch.Tensor, z_conversation: torch.Tensor) -> torch.Tensor:
        """h_cxt of each turn, the GRU started from tanh(W z_conv) and reading [h_enc, z_conv]."""
        start = torch.tanh(self.context_start(z_conversation))  # $h^{cxt}_0=\tanh(W z_{conv})$
        z_turns = z_conversation.unsqueeze(1).expand(-1, encodings.shape[1], -1)
        return self.context(torch.cat([encodings, z_turns], dim=-1), start)

    def final_context(
        self, encodings: torch.Tensor, lengths: torch.Tensor, z_conversation: torch.Tensor | None
    ) -> torch.Tensor:
        """h_cxt after each conversation's last turn, read with ``z_conversation`` (its posterior
        mean when None)."""
        if z_conversation is None:
            z_conversation = self.conversation_distribution(encodings, lengths)[0]
        return _last_present(self.context_outputs(encodings, z_conversation), lengths)

    def latent_terms(
        self, encodings: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor, conversation: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        q_conversation = self.conversation_distribution(encodings, lengths)  # $q(z_{conv}|x_{1..n})$
        z_conversation = reparameterize(*q_conversation)
        standard = (torch.zeros_like(z_conversation), torch.ones_like(z_conversation))
        inputs = encodings[:, :-1]
        if self.training and self.utterance_drop > 0.0:
            dropped = utterance_drop_mask(inputs.shape[1], self.utterance_drop)
            inputs = drop_utterances(inputs, dropped, self.unknown_utterance)
        context = self.context_outputs(inputs, z_conversation)[targets]
        z_per_turn = z_conversation[conversation]
        prior = self.prior(torch.cat([context, z_per_turn], dim=-1))  # $p(z_t|x_{<t},z_{conv})$
        posterior = self.posterior(torch.cat([context, encodings[:, 1:][targets], z_per_turn], dim=-1))
        z = reparameterize(*posterior)
        count = len(encodings)
        return {
            "features": torch.cat([context, z, z_per_turn], dim=-1),
            "kl_conversation": gaussian_kl(*q_conversation, *standard),
            "kl_utterance": gaussian_kl(*posterior, *prior),
            "log_prior": gaussian_log_density(z_conversation, *standard)
            + _per_conversation(gaussian_log_density(z, *prior), conversation, count),
            "log_posterior": gaussian_log_density(z_conversation, *q_conversation)
            + _per_conversation(gaussian_log_density(z, *posterior), conversation, count),
            "z_utt": z, "z_utt mean": posterior[0], "z_conv": z_conversation, "z_conv mean": q_conversation[0],
        }

    def sample_conversation_latent(self, tokens: torch.Tensor, turn_lengths: torch.Tensor) -> torch.Tensor:
        """A draw of z_conv from q(z_conv | context), as the authors' generator does."""
        tokens, turn_lengths = trim_batch(tokens, turn_lengths)
        encodings = self.encoder.encode_turns(tokens, turn_lengths)
        return reparameterize(*self.conversation_distribution(encodings, conversation_lengths(turn_lengths)))

    def reply_features(
        self, encodings: torch.Tensor, lengths: torch.Tensor, z_conversation: torch.Tensor | None
    ) -> torch.Tensor:
        if z_conversation is None:
            z_conversation = reparameterize(*self.conversation_distribution(encodings, lengths))
        context = self.final_context(encodings, lengths, z_conversation)
        z = reparameterize(*self.prior(torch.cat([context, z_conversation], dim=-1)))
        return torch.cat([context, z, z_conversation], dim=-1)


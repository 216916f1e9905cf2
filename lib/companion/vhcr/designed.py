"""A designed conversation corpus with a known conversation-level latent: the VHCR chapter's test of the mechanism.

Generated from a seed, nothing downloaded. Each conversation of :attr:`DesignedCorpus.turns`
turns draws a **topic** k ∈ {1…K}, shared by all its turns; each turn draws an **act**
a ∈ {1…A} of its own (both uniform). A turn is :attr:`~DesignedCorpus.words` words and
``<eos>``: first the act's marker word m_a, then words drawn independently, each a topic word
w ~ p_k with probability ρ or an act word w ~ q_a with probability 1 − ρ:

    p(x_t | k) = Σ_a (1/A) [w_1 = m_a] Π_{i≥2} (ρ p_k(w_i) + (1 − ρ) q_a(w_i)).

Topic words sit on a ring of M words and p_k(w) ∝ exp(−d(w, c_k)² / 2σ²) around the topic's
centre c_k = kM/K (d the distance on the ring), so neighbouring topics share words and a turn
names its topic only roughly: a model must gather the topic from several turns and carry it.
The acts' word sets are disjoint, with Zipf probabilities q_a(w) ∝ 1/rank.

Exact quantities. Markers, act words and topic words have disjoint supports, so a turn's act
and which of its words are topic words can be read off it, and the entropy of a turn given its
topic is closed-form (:meth:`DesignedCorpus.turn_entropy_given_topic`):

    H(x_t | k) = log A + (L − 1) [H_b(ρ) + ρ H(p_k) + (1 − ρ) (1/A) Σ_a H(q_a)]   (``<eos>``: 0).

The likelihood of any conversation is exact (:meth:`DesignedCorpus.log_likelihood`):
log p(x_2…T | x_1) = log Σ_k p(k) Π_t p(x_t | k) − log Σ_k p(k) p(x_1 | k). Its expectation,
H(x_2…T | x_1), is the best NLL any model of the chapter can reach (the models predict turns
2…T given the first); with the entropy of a turn that ignores the rest of its conversation,
H(x_t), it needs a Monte-Carlo average of exact log-probabilities
(:meth:`DesignedCorpus.monte_carlo_entropies`). Everything is per word as the models count
words: every token of turns 2…T, ``<eos>`` included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import logsumexp

from companion.data import CorruptDataError

SPLITS = ("train", "valid", "test")


def entropy(probabilities: np.ndarray) -> float:
    """Shannon entropy (nats) of a probability vector."""
    positive = probabilities[probabilities > 0]
    return float(-(positive * np.log(positive)).sum())  # $-\sum_w p(w)\log p(w)$


@dataclass(frozen=True)
class DesignedCorpus:
    """The generative process of the designed corpus (see the module docstring) and its exact quantities."""

    #: K, conversation topics (the conversation-level latent)
    topics: int = 8
    #: A, acts per turn (the utterance-level latent)
    acts: int = 4
    #: T, turns per conversation
    turns: int = 6
    #: L, words per turn, the act's marker included (``<eos>`` follows)
    words: int = 6
    #: M, topic words on the ring
    topic_words: int = 32
    #: σ, the width of a topic's bump on the ring (in words)
    topic_spread: float = 2.0
    #: words of each act (disjoint sets)
    act_words: int = 8
    #: ρ, the probability that a word after the marker is a topic word
    topic_share: float = 0.5
    #: conversations of the train, valid and test splits
    conversations: tuple[int, int, int] = (8000, 500, 1000)

    def __post_init__(self) -> None:
        if min(self.topics, self.acts, self.act_words, self.topic_words) < 1 or self.turns < 2 or self.words < 2:
            raise ValueError(f"{self}: topics, acts and words need at least 1, turns and words per turn 2")
        if not 0.0 < self.topic_share < 1.0 or self.topic_spread <= 0:
            raise ValueError(f"{self}: topic_share must lie in (0, 1) and topic_spread be positive")

    # -- the words ---------------------------------------------------------------------------

    @cached_property
    def vocabulary(self) -> tuple[str, ...]:
        """The corpus's words by id, markers ``act0``…, act words ``a0w0``…, topic words ``t00``…."""
        markers = [f"act{a}" for a in range(self.acts)]
        act_words = [f"a{a}w{i}" for a in range(self.acts) for i in range(self.act_words)]
        digits = len(str(self.topic_words - 1))
        return tuple(markers + act_words + [f"t{w:0{digits}d}" for w in range(self.topic_words)])

    @cached_property
    def topic_distributions(self) -> np.ndarray:
        """p_k(w) over the topic words, K × M."""
        ring = np.arange(self.topic_words)
        centres = np.arange(self.topics) * self.topic_words / self.topics
        distance = np.abs(ring[None, :] - centres[:, None])
        distance = np.minimum(distance, self.topic_words - distance)  # $d(w,c_k)$ on the ring
        weights = np.exp(-distance ** 2 / (2 * self.topic_spread ** 2))  # $\exp(-d^2/2\sigma^2)$
        return weights / weights.sum(axis=1, keepdims=True)

    @cached_property
    def act_distribution(self) -> np.ndarray:
        """q_a(w) over an act's own words (the same Zipf shape for every act)."""
        weights = 1.0 / np.arange(1, self.act_words + 1)  # $q(w)\propto 1/\mathrm{rank}$
        return weights / weights.sum()

    @cached_property
    def _log_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """log p(w | k, a) of the first word (the marker) and of every later word, each K × A × V."""
        size, first_act_word = len(self.vocabulary), self.acts
        first_topic_word = self.acts + self.acts * self.act_words
        first = np.zeros((self.topics, self.acts, size))
        later = np.zeros((self.topics, self.acts, size))
        for a in range(self.acts):
            first[:, a, a] = 1.0  # $w_1=m_a$
            start = first_act_word + a * self.act_words
            later[:, a, start:start + self.act_words] = (1 - self.topic_share) * self.act_distribution
        later[:, :, first_topic_word:] = self.topic_share * self.topic_distributions[:, None, :]
        with np.errstate(divide="ignore"):
            return np.log(first), np.log(later)

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count`` conversations: word ids N × T × L, topics N and acts N × T."""
        topics = rng.integers(self.topics, size=count)
        acts = rng.integers(self.acts, size=(count, self.turns))
        shape = (count, self.turns, self.words - 1)
        is_topic_word = rng.random(shape) < self.topic_share
        topic_cdf = np.cumsum(self.topic_distributions, axis=1)[topics][:, None, None, :]
        topic_word = (rng.random(shape)[..., None] > topic_cdf).sum(axis=-1).clip(max=self.topic_words - 1)
        act_word = (rng.random(shape)[..., None] > np.cumsum(self.act_distribution)).sum(axis=-1)
        act_word = act_word.clip(max=self.act_words - 1)
        later = np.where(is_topic_word, self.acts + self.acts * self.act_words + topic_word,
                         self.acts + acts[..., None] * self.act_words + act_word)
        words = np.concatenate([acts[..., None], later], axis=-1)
        return words, topics, acts

    def splits(self, seed: int) -> dict[str, tuple[list[list[str]], np.ndarray]]:
        """Train, valid and test conversations (turn strings) with each conversation's topic,
        drawn from one generator seeded with ``seed``."""
        words, topics, _ = self.sample(sum(self.conversations), np.random.default_rng(seed))
        text = self.to_text(words)
        bounds = np.cumsum((0, *self.conversations))
        return {split: (text[start:stop], topics[start:stop])
                for split, start, stop in zip(SPLITS, bounds[:-1], bounds[1:])}

    def to_text(self, words: np.ndarray) -> list[list[str]]:
        """Conversations as lists of turn strings (words separated by spaces)."""
        vocabulary = np.asarray(self.vocabulary)
        return [[" ".join(turn) for turn in conversation] for conversation in vocabulary[words].tolist()]

    def word_ids(self, conversations: Sequence[Sequence[Sequence[str]]]) -> np.ndarray:
        """Tokenised conversations (as :func:`~companion.vhcr.text.tokenize` leaves them) back to
        word ids N × T × L; CorruptDataError unless every one has T turns of L of the corpus's words."""
        index = {word: position for position, word in enumerate(self.vocabulary)}
        try:
            words = np.array([[[index[word] for word in turn] for turn in conversation]
                              for conversation in conversations])
        except KeyError as error:
            raise CorruptDataError(f"{error.args[0]!r} is not a word of the designed corpus") from error
        if words.ndim != 3 or words.shape[1:] != (self.turns, self.words):
            raise CorruptDataError(f"designed conversations have {self.turns} turns of {self.words} words each; "
                                   "these are cut or padded (max_turns, max_tokens)")
        return words

    # -- exact probabilities ---------------------------------------------------------------------

    def turn_log_likelihoods(self, words: np.ndarray) -> np.ndarray:
        """log p(x_t | k) of every turn under every topic, N × T × K (word ids N × T × L)."""
        first, later = self._log_tables
        chunks = []
        for chunk in np.array_split(words, max(1, len(words) // 2000)):  # bounds the K × A × N × T × L table
            given_act = first[:, :, chunk[..., 0]] + later[:, :, chunk[..., 1:]].sum(axis=-1)  # K × A × N × T
            per_topic = logsumexp(given_act, axis=1) - math.log(self.acts)  # $\log\sum_a p(a)\,p(x_t|k,a)$
            chunks.append(np.moveaxis(per_topic, 0, -1))
        return np.concatenate(chunks)

    def log_likelihood(self, words: np.ndarray) -> np.ndarray:
        """log p(x_2…T | x_1) of each conversation (N), exact."""
        turns = self.turn_log_likelihoods(words)
        prior = -math.log(self.topics)
        whole = logsumexp(prior + turns.sum(axis=1), axis=-1)  # $\log\sum_k p(k)\prod_t p(x_t|k)$
        opening = logsumexp(prior + turns[:, 0], axis=-1)  # $\log p(x_1)$
        return whole - opening

    def topic_posterior(self, words: np.ndarray) -> np.ndarray:
        """p(k | x_1…T) of each conversation, N × K."""
        joint = self.turn_log_likelihoods(words).sum(axis=1)
        return np.exp(joint - logsumexp(joint, axis=-1, keepdims=True))

    def nll_per_word(self, words: np.ndarray) -> float:
        """The generator's own NLL per word of turns 2…T (``<eos>`` counted) on these conversations."""
        return float(-self.log_likelihood(words).sum() / (len(words) * self.target_words))

    # -- entropies -----------------------------------------------------------------------------

    @property
    def target_words(self) -> int:
        """Words a model predicts per conversation, turns 2…T of L words and ``<eos>`` each."""
        return (self.turns - 1) * (self.words + 1)

    def turn_entropy_given_topic(self) -> np.ndarray:
        """H(x_t | k) of each topic, closed form (K; ``<eos>`` costs nothing, every turn has L words)."""
        rho = self.topic_share
        binary = -rho * math.log(rho) - (1 - rho) * math.log(1 - rho)  # $H_b(\rho)$
        later = [binary + rho * entropy(p) + (1 - rho) * entropy(self.act_distribution)
                 for p in self.topic_distributions]
        return math.log(self.acts) + (self.words - 1) * np.array(later)  # $\log A+(L-1)[\dots]$

    def entropy_per_word_given_topic(self) -> float:
        """H(x_t | k) per word, averaged over topics: the NLL of a model told each conversation's topic."""
        return float(self.turn_entropy_given_topic().mean() / (self.words + 1))

    def monte_carlo_entropies(self, samples: int = 20000, seed: int = 0) -> dict[str, float]:
        """Per word, from ``samples`` conversations and their exact log-probabilities, each with its
        standard error ("… se"): "given topic" (−log p(x_t | k) of the true topic, whose exact value
        is :meth:`entropy_per_word_given_topic`), "best" (−log p(x_2…T | x_1): the best NLL a model
        of turns 2…T given the first can reach) and "without context" (−log p(x_t): a model that
        sees no other turn of the conversation)."""
        words, topics, _ = self.sample(samples, np.random.default_rng(seed))
        turns = self.turn_log_likelihoods(words)[:, 1:]
        per_conversation = {
            "given topic": -np.take_along_axis(turns, topics[:, None, None], axis=-1).sum(axis=(1, 2)),
            "best": -self.log_likelihood(words),
            "without context": -(logsumexp(turns, axis=-1) - math.log(self.topics)).sum(axis=1),
        }
        result = {}
        for name, values in per_conversation.items():
            per_word = values / self.target_words
            result[name] = float(per_word.mean())
            result[f"{name} se"] = float(per_word.std(ddof=1) / math.sqrt(samples))
        return result

    def topic_code_balance(self, utterance_drop: float, samples: int = 20000, seed: int = 0) -> dict[str, float]:
        """What a z_conv that names each conversation's topic would gain and cost an ideal VHCR
        trained with utterance drop at rate ``utterance_drop``, in nats per conversation (each
        with its standard error, "… se").

        "gain": E Σ_{t≥2} [log p(x_t | k) − log p(x_t | x_S)], where S holds the turns before t
        that the drop kept (each kept with probability 1 − rate, drawn once per turn as the model
        draws them) and p(x_t | x_S) is the exact predictive of a context that infers the topic
        from them; "cost": I(k; x_1…T) = H(k) − E H(k | x_1…T), the least KL per conversation a
        latent carrying the topic pays against a prior that ignores x_1. With no drop the gain is
        I(k; x_2…T | x_1), never above the cost: a model that infers the topic from the turns it
        reads needs no latent for it, and only a drop that hides enough turns can make one pay.
        """
        words, topics, _ = self.sample(samples, np.random.default_rng(seed))
        turns = self.turn_log_likelihoods(words)  # N × T × K
        kept = np.random.default_rng(seed + 1).random((samples, self.turns)) >= utterance_drop
        prior = -math.log(self.topics)
        read = np.cumsum(turns * kept[..., None], axis=1) - turns * kept[..., None]  # Σ_{j<t, kept} log p(x_j|k)
        predictive = logsumexp(prior + read + turns, axis=-1) - logsumexp(prior + read, axis=-1)  # $\log p(x_t|x_S)$
        given_topic = np.take_along_axis(turns, topics[:, None, None], axis=-1)[..., 0]
        gain = (given_topic - predictive)[:, 1:].sum(axis=1)
        posterior = self.topic_posterior(words)
        conditional = -(posterior * np.log(np.clip(posterior, 1e-300, None))).sum(axis=1)  # $H(k|x)$
        cost = math.log(self.topics) - conditional
        return {"gain": float(gain.mean()), "gain se": float(gain.std(ddof=1) / math.sqrt(samples)),
                "cost": float(cost.mean()), "cost se": float(cost.std(ddof=1) / math.sqrt(samples))}


#: The chapter's designed corpus (``dataset="designed"``).
DESIGN = DesignedCorpus()

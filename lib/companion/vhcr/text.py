"""Text pipeline for conversation models: cleaning, tokens, vocabulary, padded tensors, masks.

Follows the authors' preprocessing (ctr4si's ``cornell_preprocess.py``/``ubuntu_preprocess.py``):
their ``clean_str`` (keep letters, digits and ``,!?'`.``, split English clitics, lower-case),
then tokens; utterances are cut to ``max_tokens - 1`` words plus ``<eos>``, conversations to
their first ``max_turns`` turns; the vocabulary keeps at most ``max_size`` words seen at least
``min_count`` times in the training split. The authors split tokens with spaCy; without it we
split on white space and detach a word's trailing full stops and ``'m`` as spaCy does.

Conversations become one tensor ``tokens`` (N × turns × tokens, ``<pad>`` = 0) and
``turn_lengths`` (N × turns, 0 for a missing turn, counting ``<eos>``); every model trims a
batch to its longest turn and conversation and masks the rest, so padding never changes a loss.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

PAD, UNK, SOS, EOS = "<pad>", "<unk>", "<sos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, SOS, EOS)
PAD_ID, UNK_ID, SOS_ID, EOS_ID = range(4)

_CLEANING = (
    (r"[^A-Za-z0-9,!?\'\`\.]", " "),
    (r"\.{3}", " ..."),
    (r"\'s", " 's"),
    (r"\'ve", " 've"),
    (r"n\'t", " n't"),
    (r"\'re", " 're"),
    (r"\'d", " 'd"),
    (r"\'ll", " 'll"),
    (r"\'m", " 'm"),
    (r",", " , "),
    (r"!", " ! "),
    (r"\?", " ? "),
    (r"\s{2,}", " "),
)


def clean_text(text: str) -> str:
    """The authors' ``clean_str``: drop other characters, split clitics and punctuation, lower-case."""
    for pattern, replacement in _CLEANING:
        text = re.sub(pattern, replacement, text)
    return text.strip().lower()


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` after :func:`clean_text` (a word's trailing full stops become tokens)."""
    tokens = []
    for token in clean_text(text).split():
        word = token.rstrip(".")
        if word and word != token:
            tokens.extend([word, token[len(word):]])
        else:
            tokens.append(token)
    return tokens


@dataclass(frozen=True)
class Vocabulary:
    """Words by id: the four special tokens first, then words by decreasing count."""

    words: tuple[str, ...]

    @classmethod
    def build(
        cls, conversations: Iterable[Sequence[Sequence[str]]], max_size: int, min_count: int
    ) -> "Vocabulary":
        """The ≤ ``max_size`` words (special tokens excluded) seen ≥ ``min_count`` times.

        Ties in count are broken alphabetically, so the vocabulary depends only on the data.
        """
        counts = Counter(token for conversation in conversations for turn in conversation for token in turn)
        kept = sorted(
            (word for word, count in counts.items() if count >= min_count and word not in SPECIAL_TOKENS),
            key=lambda word: (-counts[word], word),
        )
        return cls(SPECIAL_TOKENS + tuple(kept[:max_size]))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        """Word → id."""
        return {word: position for position, word in enumerate(self.words)}

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens`` (unknown words → ``<unk>``)."""
        index = self.index
        return [index.get(token, UNK_ID) for token in tokens]

    def decode(self, ids: Iterable[int]) -> str:
        """The words of ``ids`` up to the first ``<eos>``, padding and ``<sos>`` left out."""
        words = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id == EOS_ID:
                break
            if token_id not in (PAD_ID, SOS_ID):
                words.append(self.words[token_id])
        return " ".join(words)


@dataclass
class ConversationTensors:
    """Padded conversations: ``tokens`` N × turns × tokens, ``turn_lengths`` N × turns."""

    tokens: torch.Tensor
    turn_lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def conversation_lengths(self) -> torch.Tensor:
        """Number of turns of each conversation."""
        return conversation_lengths(self.turn_lengths)

    def subset(self, count: int) -> "ConversationTensors":
        """The first ``count`` conversations."""
        return ConversationTensors(self.tokens[:count], self.turn_lengths[:count])

    def target_words(self) -> int:
        """Words the models predict: every token of turns 2…n, ``<eos>`` included."""
        return int(self.turn_lengths[:, 1:].sum())


def encode_conversations(
    conversations: Sequence[Sequence[Sequence[str]]], vocabulary: Vocabulary, max_turns: int, max_tokens: int
) -> ConversationTensors:
    """Pad tokenised conversations: first ``max_turns`` turns, ``max_tokens - 1`` words + ``<eos>`` each."""
    tokens = torch.full((len(conversations), max_turns, max_tokens), PAD_ID, dtype=torch.long)
    lengths = torch.zeros((len(conversations), max_turns), dtype=torch.long)
    for row, conversation in enumerate(conversations):
        for turn, words in enumerate(conversation[:max_turns]):
            ids = vocabulary.encode(words[:max_tokens - 1]) + [EOS_ID]
            tokens[row, turn, :len(ids)] = torch.tensor(ids)
            lengths[row, turn] = len(ids)
    return ConversationTensors(tokens, lengths)


def conversation_lengths(turn_lengths: torch.Tensor) -> torch.Tensor:
    """Turns per conversation (turns are contiguous from the first)."""
    return (turn_lengths > 0).sum(dim=1)


def trim_batch(tokens: torch.Tensor, turn_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a batch to its longest conversation and longest turn (pure padding removed)."""
    turns = max(int(conversation_lengths(turn_lengths).max()), 1)
    length = max(int(turn_lengths.max()), 1)
    return tokens[:, :turns, :length], turn_lengths[:, :turns]


def token_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``mask[..., i]`` is True where position ``i`` < the sequence's length."""
    return torch.arange(max_length, device=lengths.device) < lengths.unsqueeze(-1)

"""Conversation corpora: Chit-Chat (ships with a PyPI package), Cornell Movie-Dialogs, Ubuntu v1.

Each loader returns conversations as lists of turn strings. :func:`load_splits` adds the
split (a seeded 80/10/10 shuffle by conversation for Chit-Chat and Cornell, as the authors'
``cornell_preprocess.py`` does; the official file lists for Ubuntu) and the minimum number of
turns; :func:`load_dialogue_data` tokenises, builds the vocabulary on the training split and
pads.

Files, under ``data_root(data_dir)`` (see :func:`companion.config.data_root`):

- ``cornell/movie_lines.txt`` and ``cornell/movie_conversations.txt`` from
  ``cornell_movie_dialogs_corpus.zip`` (fields separated by ``+++$+++`` between spaces, ISO-8859-1);
- ``ubuntu/dialogs/<folder>/<n>.tsv`` from ``ubuntu_dialogs.tgz`` (one dialog per file: time,
  speaker, listener, text separated by tabs) and ``ubuntu/meta/{trainfiles,valfiles,testfiles}.csv``
  (``<n>.tsv,<folder>`` per line) from rkadlec/ubuntu-ranking-dataset-creator.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.config import check_choice, data_root
from companion.data import CorruptDataError, DataNotFoundError, load_conversations
from companion.vhcr.text import ConversationTensors, Vocabulary, encode_conversations, tokenize

CORPORA = ("chitchat", "cornell", "ubuntu")
SPLITS = ("train", "valid", "test")
CORNELL_SEPARATOR = " +++$+++ "
CORNELL_FILES = ("movie_lines.txt", "movie_conversations.txt")
UBUNTU_LISTS = {"train": "trainfiles.csv", "valid": "valfiles.csv", "test": "testfiles.csv"}
#: Fewest turns a conversation keeps (the authors drop shorter Ubuntu dialogs; Cornell keeps all).
MIN_TURNS = {"chitchat": 3, "cornell": 2, "ubuntu": 3}

Conversation = list[str]


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataNotFoundError(f"{what}: {path} does not exist (folder {path.parent})")
    return path


def _read_cornell_lines(path: Path) -> dict[str, str]:
    lines = {}
    with path.open(encoding="iso-8859-1") as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.rstrip("\n").split(CORNELL_SEPARATOR)
            if len(fields) != 5:
                raise CorruptDataError(
                    f"{path}, line {number}: expected 5 fields separated by {CORNELL_SEPARATOR!r}, "
                    f"found {len(fields)}"
                )
            lines[fields[0]] = fields[4]
    return lines


def load_cornell(folder: str | Path) -> list[Conversation]:
    """Cornell Movie-Dialogs conversations (lists of line texts) in the file's order.

    ``folder`` holds ``movie_lines.txt`` and ``movie_conversations.txt``.
    """
    folder = Path(folder)
    lines_path, conversations_path = (_require(folder / name, "Cornell Movie-Dialogs") for name in CORNELL_FILES)
    lines = _read_cornell_lines(lines_path)
    conversations = []
    with conversations_path.open(encoding="iso-8859-1") as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.rstrip("\n").split(CORNELL_SEPARATOR)
            where = f"{conversations_path}, line {number}"
            if len(fields) != 4:
                raise CorruptDataError(f"{where}: expected 4 fields, found {len(fields)}")
            try:
                line_ids = ast.literal_eval(fields[3])
            except (ValueError, SyntaxError) as error:
                raise CorruptDataError(f"{where}: the line-ID list {fields[3]!r} cannot be read") from error
            missing = [line_id for line_id in line_ids if line_id not in lines]
            if missing:
                raise CorruptDataError(f"{where}: line IDs {missing} are not in {lines_path.name}")
            conversations.append([lines[line_id] for line_id in line_ids])
    return conversations


def read_ubuntu_dialog(path: Path) -> Conversation:
    """One Ubuntu dialog: consecutive lines of one speaker joined (with a space) into a turn."""
    turns: list[list[str]] = []
    speaker = None
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.rstrip("\n").split("\t", 3)
            if len(fields) != 4:
                raise CorruptDataError(
                    f"{path}, line {number}: expected 4 tab-separated fields (time, speaker, "
                    f"listener, text), found {len(fields)}"
                )
            if fields[1] != speaker or not turns:
                turns.append([])
                speaker = fields[1]
            turns[-1].append(fields[3])
    return [" ".join(turn) for turn in turns]


def load_ubuntu(folder: str | Path, split: str) -> list[Conversation]:
    """Ubuntu Dialogue Corpus v1 dialogs of the official ``split`` (train, valid or test)."""
    check_choice("split", split, SPLITS)
    folder = Path(folder)
    listing = _require(folder / "meta" / UBUNTU_LISTS[split], "Ubuntu split list")
    dialogs = []
    with listing.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            fields = line.strip().split(",")
            if len(fields) != 2:
                raise CorruptDataError(f"{listing}, line {number}: expected '<file>,<folder>', found {line.strip()!r}")
            name, subfolder = fields
            dialogs.append(read_ubuntu_dialog(_require(folder / "dialogs" / subfolder / name, "Ubuntu dialog")))
    return dialogs


def split_conversations(
    conversations: Sequence[Conversation], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[Conversation]]:
    """A seeded shuffle cut into train/valid/test by ``fractions`` (which sum to 1)."""
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions {fractions} must sum to 1")
    shuffled = list(conversations)
    random.Random(seed).shuffle(shuffled)
    first = int(len(shuffled) * fractions[0])
    second = int(len(shuffled) * (fractions[0] + fractions[1]))
    return {"train": shuffled[:first], "valid": shuffled[first:second], "test": shuffled[second:]}


def load_splits(name: str, data_dir: str | Path | None = None, seed: int = 0) -> dict[str, list[Conversation]]:
    """Train/valid/test conversations (turn strings) of corpus ``name``, short ones dropped."""
    check_choice("dataset", name, CORPORA)
    root = data_root(data_dir)
    if name == "ubuntu":
        splits = {split: load_ubuntu(root / "ubuntu", split) for split in SPLITS}
    else:
        conversations = load_conversations("chitchat") if name == "chitchat" else load_cornell(root / "cornell")
        splits = split_conversations(conversations, seed=seed)
    return {split: [c for c in found if len(c) >= MIN_TURNS[name]] for split, found in splits.items()}


@dataclass
class DialogueData:
    """A corpus ready for the models: vocabulary, padded splits and the tokenised test turns."""

    name: str
    vocabulary: Vocabulary
    train: ConversationTensors
    valid: ConversationTensors
    test: ConversationTensors
    test_tokens: list[list[list[str]]]

    def summary(self) -> dict[str, int]:
        """Sizes: conversations per split, vocabulary, training words predicted."""
        return {
            "train conversations": len(self.train), "valid conversations": len(self.valid),
            "test conversations": len(self.test), "vocabulary": len(self.vocabulary),
            "train target words": self.train.target_words(),
        }


def load_dialogue_data(
    name: str, *, max_vocab_size: int, min_count: int, max_turns: int, max_tokens: int,
    train_conversations: int | None = None, data_dir: str | Path | None = None, seed: int = 0,
) -> DialogueData:
    """Tokenise, build the vocabulary on the (first ``train_conversations``) training split, pad."""
    splits = load_splits(name, data_dir, seed)
    if train_conversations:
        splits["train"] = splits["train"][:train_conversations]
    tokens = {split: [[tokenize(turn) for turn in c[:max_turns]] for c in found] for split, found in splits.items()}
    vocabulary = Vocabulary.build(tokens["train"], max_vocab_size, min_count)
    padded = {split: encode_conversations(found, vocabulary, max_turns, max_tokens) for split, found in tokens.items()}
    return DialogueData(name, vocabulary, padded["train"], padded["valid"], padded["test"], tokens["test"])

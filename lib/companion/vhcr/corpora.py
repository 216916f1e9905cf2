"""Conversation corpora: Chit-Chat (ships with a PyPI package), Cornell Movie-Dialogs, Ubuntu v1,
and the designed corpus (:mod:`companion.vhcr.designed`, generated from the seed).

Each loader returns conversations as lists of turn strings. :func:`load_splits` adds the
split (a seeded 80/10/10 shuffle by conversation for Chit-Chat and Cornell, as the authors'
``cornell_preprocess.py`` does; the official file lists for Ubuntu; the designed corpus draws
its splits from a generator seeded with the seed) and the minimum number of turns;
:func:`load_dialogue_data` tokenises, builds the vocabulary on the training split and pads, as
for every corpus, and keeps the designed corpus's true conversation latents (its topics).

Files, under ``data_root(data_dir)`` (see :func:`companion.config.data_root`):

- ``cornell/movie_lines.txt`` and ``cornell/movie_conversations.txt`` from
  ``cornell_movie_dialogs_corpus.zip`` (fields separated by ``+++$+++`` between spaces, ISO-8859-1);
- ``ubuntu/dialogs/<folder>/<n>.tsv`` from ``ubuntu_dialogs.tgz`` (one dialog per file: time,
  speaker, listener, text separated by tabs) and ``ubuntu/meta/{trainfiles,valfiles,testfiles}.csv``
  (``<n>.tsv,<folder>`` per line) from rkadlec/ubuntu-ranking-dataset-creator.

Copies that went through another tool read the same: LF or CRLF line ends, a UTF-8 byte-order
mark, and the Cornell files re-encoded as UTF-8 (the Ubuntu files are UTF-8 already). Nothing is
skipped: the official files have no bad lines (the authors' scripts index every line ID and split
every dialog line into its four fields), so a malformed line, an empty file or a corpus with fewer
than :data:`MIN_CONVERSATIONS` conversations raises :class:`~companion.data.CorruptDataError`
naming the file (and line) and what was expected.
"""

from __future__ import annotations

import ast
import codecs
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.config import check_choice, data_root
from companion.data import CorruptDataError, DataNotFoundError, load_conversations
from companion.vhcr.designed import DESIGN
from companion.vhcr.text import ConversationTensors, Vocabulary, encode_conversations, tokenize

#: The corpora the chapter reads (the first ships inside a package, the last is generated).
CORPORA = ("chitchat", "cornell", "ubuntu", "designed")
SPLITS = ("train", "valid", "test")
CORNELL_SEPARATOR = " +++$+++ "
CORNELL_FILES = ("movie_lines.txt", "movie_conversations.txt")
#: What one line of each Cornell file holds.
CORNELL_LINE_FORMATS = {
    "movie_lines.txt": "lineID +++$+++ characterID +++$+++ movieID +++$+++ character +++$+++ text",
    "movie_conversations.txt": "character1ID +++$+++ character2ID +++$+++ movieID +++$+++ ['L194', 'L195', ...]",
}
#: Encodings tried in turn on a Cornell file, a UTF-8 re-encoding or the official ISO-8859-1.
CORNELL_ENCODINGS = ("utf-8", "iso-8859-1")
UBUNTU_DIALOG_FORMAT = "time<TAB>speaker<TAB>listener<TAB>text"
UBUNTU_LIST_FORMAT = "<n>.tsv,<folder>"
UBUNTU_LISTS = {"train": "trainfiles.csv", "valid": "valfiles.csv", "test": "testfiles.csv"}
#: Fewest turns a conversation keeps (the authors drop shorter Ubuntu dialogs; Cornell keeps all).
MIN_TURNS = {"chitchat": 3, "cornell": 2, "ubuntu": 3, "designed": 2}
#: Fewest conversations a Cornell file or an Ubuntu split list must yield (fewer means an
#: interrupted download or extraction, never a corpus to train on).
MIN_CONVERSATIONS = 1

Conversation = list[str]


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataNotFoundError(f"{what}: {path} does not exist (folder {path.parent})")
    return path


def _read_text_lines(path: Path, encodings: Sequence[str]) -> list[str]:
    """The lines of ``path`` without their LF or CRLF, decoded by the first of ``encodings`` that fits.

    A UTF-8 byte-order mark is dropped (and then only UTF-8 fits). Lines end at LF only, so a lone
    CR or a C1 control character inside a text stays in it. Bytes that no encoding fits raise
    CorruptDataError naming the file, the line and the byte.
    """
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        raw, encodings = raw[len(codecs.BOM_UTF8):], ["utf-8"]
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError as error:
            problem = error
    else:
        line = raw.count(b"\n", 0, problem.start) + 1
        raise CorruptDataError(
            f"{path}, line {line}: byte {problem.start} ({raw[problem.start:problem.start + 1]!r}) is not "
            f"valid {' or '.join(encodings)} ({problem.reason}); the file is damaged, download it again"
        )
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # what follows the last line end
    return [line.removesuffix("\r") for line in lines]


def _sized(path: Path) -> str:
    return f"{path} ({path.stat().st_size} bytes)"


def _check_count(found: int, minimum: int, what: str, source: str, line_format: str) -> None:
    """Raise CorruptDataError naming ``source`` and the line format unless ``found`` ≥ ``minimum``."""
    if found < minimum:
        raise CorruptDataError(
            f"{source}: holds {found} {what}, expected at least {minimum}, one per line as "
            f"{line_format!r}; an interrupted download or extraction leaves such files: fetch the corpus again"
        )


def _split_cornell(line: str, count: int, where: str) -> list[str]:
    fields = line.split(CORNELL_SEPARATOR)
    if len(fields) != count:
        raise CorruptDataError(
            f"{where}: expected {count} fields separated by {CORNELL_SEPARATOR!r}, found {len(fields)}")
    return fields


def _read_cornell_lines(path: Path) -> dict[str, str]:
    """``movie_lines.txt`` as line ID → text."""
    lines = {}
    for number, line in enumerate(_read_text_lines(path, CORNELL_ENCODINGS), start=1):
        fields = _split_cornell(line, 5, f"{path}, line {number}")
        lines[fields[0]] = fields[4]
    _check_count(len(lines), 1, "lines", _sized(path), CORNELL_LINE_FORMATS[path.name])
    return lines


def _parse_line_ids(text: str, where: str) -> list[str]:
    """A conversation's line-ID list, written as a Python list of strings (``['L194', 'L195']``)."""
    try:
        line_ids = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
        raise CorruptDataError(f"{where}: the line-ID list {text!r} cannot be read") from error
    if not (isinstance(line_ids, list) and line_ids and all(isinstance(line_id, str) for line_id in line_ids)):
        raise CorruptDataError(
            f"{where}: the line-ID list {text!r} is not a non-empty list of IDs like ['L194', 'L195']")
    return line_ids


def load_cornell(folder: str | Path) -> list[Conversation]:
    """Cornell Movie-Dialogs conversations (lists of line texts) in the file's order.

    ``folder`` holds ``movie_lines.txt`` and ``movie_conversations.txt``.
    """
    folder = Path(folder)
    lines_path, conversations_path = (_require(folder / name, "Cornell Movie-Dialogs") for name in CORNELL_FILES)
    lines = _read_cornell_lines(lines_path)
    conversations = []
    for number, line in enumerate(_read_text_lines(conversations_path, CORNELL_ENCODINGS), start=1):
        where = f"{conversations_path}, line {number}"
        line_ids = _parse_line_ids(_split_cornell(line, 4, where)[3], where)
        missing = [line_id for line_id in line_ids if line_id not in lines]
        if missing:
            raise CorruptDataError(f"{where}: line IDs {missing} are not in {lines_path.name}")
        conversations.append([lines[line_id] for line_id in line_ids])
    _check_count(len(conversations), MIN_CONVERSATIONS, "conversations", _sized(conversations_path),
                 CORNELL_LINE_FORMATS[conversations_path.name])
    return conversations


def read_ubuntu_dialog(path: Path) -> Conversation:
    """One Ubuntu dialog: consecutive lines of one speaker joined (with a space) into a turn.

    An empty file is an error, neither a dialog of no turns nor skipped: a dialog file holds an
    extracted conversation, never nothing (the dataset creator even stops on a listed dialog of
    fewer than three turns), so an empty one is what an interrupted extraction leaves, and skipping
    it would quietly shrink the corpus.
    """
    turns: list[list[str]] = []
    speaker = None
    for number, line in enumerate(_read_text_lines(path, ["utf-8"]), start=1):
        fields = line.split("\t", 3)
        if len(fields) != 4:
            raise CorruptDataError(
                f"{path}, line {number}: expected 4 tab-separated fields (time, speaker, "
                f"listener, text), found {len(fields)}"
            )
        if fields[1] != speaker or not turns:
            turns.append([])
            speaker = fields[1]
        turns[-1].append(fields[3])
    _check_count(len(turns), 1, "lines", _sized(path), UBUNTU_DIALOG_FORMAT)
    return [" ".join(turn) for turn in turns]


def load_ubuntu(folder: str | Path, split: str) -> list[Conversation]:
    """Ubuntu Dialogue Corpus v1 dialogs of the official ``split`` (train, valid or test)."""
    check_choice("split", split, SPLITS)
    folder = Path(folder)
    listing = _require(folder / "meta" / UBUNTU_LISTS[split], "Ubuntu split list")
    dialogs = []
    for number, line in enumerate(_read_text_lines(listing, ["utf-8"]), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2:
            raise CorruptDataError(f"{listing}, line {number}: expected {UBUNTU_LIST_FORMAT!r}, found {line.strip()!r}")
        name, subfolder = fields
        dialogs.append(read_ubuntu_dialog(_require(folder / "dialogs" / subfolder / name, "Ubuntu dialog")))
    _check_count(len(dialogs), MIN_CONVERSATIONS, f"{split} dialogs", f"Ubuntu folder {folder}: {listing}",
                 UBUNTU_LIST_FORMAT)
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
    """Train/valid/test conversations (turn strings) of corpus ``name``, short ones dropped.

    A split left with no conversation raises CorruptDataError naming the corpus's folder and the
    count of each split: a model is never trained or scored on nothing.
    """
    return load_labelled_splits(name, data_dir, seed)[0]


def load_labelled_splits(
    name: str, data_dir: str | Path | None = None, seed: int = 0
) -> tuple[dict[str, list[Conversation]], dict[str, np.ndarray] | None]:
    """:func:`load_splits` and, for the designed corpus, the true latent (topic) of each kept
    conversation per split (None for the other corpora, whose latents nobody knows)."""
    check_choice("dataset", name, CORPORA)
    root = data_root(data_dir)
    latents = None
    if name == "ubuntu":
        splits = {split: load_ubuntu(root / "ubuntu", split) for split in SPLITS}
    elif name == "designed":
        drawn = DESIGN.splits(seed)
        splits = {split: conversations for split, (conversations, _) in drawn.items()}
        latents = {split: topics for split, (_, topics) in drawn.items()}
    else:
        conversations = load_conversations("chitchat") if name == "chitchat" else load_cornell(root / "cornell")
        splits = split_conversations(conversations, seed=seed)
    long_enough = {split: np.array([len(c) >= MIN_TURNS[name] for c in found], dtype=bool)
                   for split, found in splits.items()}
    kept = {split: [c for c, keep in zip(found, long_enough[split]) if keep] for split, found in splits.items()}
    if latents is not None:
        latents = {split: found[long_enough[split]] for split, found in latents.items()}
    empty = [split for split, found in kept.items() if not found]
    if empty:
        counts = ", ".join(f"{split} {len(kept[split])} of {len(splits[split])}" for split in SPLITS)
        source = "the chitchat package" if name == "chitchat" else root / name
        raise CorruptDataError(
            f"{name} ({source}): no conversation of at least {MIN_TURNS[name]} turns is left for "
            f"{' and '.join(empty)} (kept: {counts}); the corpus is incomplete, fetch it again"
        )
    return kept, latents


@dataclass
class DialogueData:
    """A corpus ready for the models: vocabulary, padded splits and the tokenised test turns, and
    ``latents``, each conversation's true latent per split where it is known (the designed corpus)."""

    name: str
    vocabulary: Vocabulary
    train: ConversationTensors
    valid: ConversationTensors
    test: ConversationTensors
    test_tokens: list[list[list[str]]]
    latents: dict[str, np.ndarray] | None = None

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
    splits, latents = load_labelled_splits(name, data_dir, seed)
    if train_conversations:
        splits["train"] = splits["train"][:train_conversations]
        if latents is not None:
            latents["train"] = latents["train"][:train_conversations]
    tokens = {split: [[tokenize(turn) for turn in c[:max_turns]] for c in found] for split, found in splits.items()}
    vocabulary = Vocabulary.build(tokens["train"], max_vocab_size, min_count)
    padded = {split: encode_conversations(found, vocabulary, max_turns, max_tokens) for split, found in tokens.items()}
    return DialogueData(name, vocabulary, padded["train"], padded["valid"], padded["test"], tokens["test"], latents)

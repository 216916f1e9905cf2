"""Small data sets written in the official formats of the full ones, for rehearsals and tests.

Each writer puts a data set's official files (the names, layout and encoding the loaders of
:mod:`companion.data.files` and :mod:`companion.vhcr.corpora` expect) into ``root/<name>/``,
with random pixels or words and as many examples as asked: a paper-profile run pointed at
``data_dir=root`` then reads real-format files, only fewer of them. The pixels and words are
random; nothing learned from them means anything.

:func:`write_fixtures` writes every data set at once (:data:`FIXTURE_SIZES` examples per split).
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import scipy.io

from companion.data.files import CIFAR_FOLDERS, IDX_FILES, OMNIGLOT_ALPHABETS

#: Cornell's field separator, written between the fields of every line.
CORNELL_SEPARATOR = " +++$+++ "


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file: 0x00 0x00 0x08 ndim, big-endian uint32 sizes, then the unsigned bytes
    (gzipped when ``path`` ends in .gz)."""
    raw = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def column_major(images: np.ndarray) -> np.ndarray:
    """N×28×28 upright images → 784×N, each column an image in MATLAB (column-major) order."""
    return np.stack([image.ravel(order="F") for image in images], axis=1)


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """classes×N one-hot columns, as chardata.mat stores its targets."""
    return np.eye(classes)[:, labels]


def write_idx_set(folder: Path, sizes: Mapping[str, int], rng: np.random.Generator,
                  suffix: str = "") -> None:
    """MNIST's (and Fashion-MNIST's) four IDX files with ``sizes[split]`` 28×28 images."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in sizes.items():
        images_name, labels_name = IDX_FILES[split]
        write_idx(folder / (images_name + suffix), rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(folder / (labels_name + suffix), rng.integers(0, 10, count))


def write_omniglot(folder: Path, sizes: Mapping[str, int], rng: np.random.Generator) -> None:
    """The IWAE ``chardata.mat``: 784×N images in [0, 1] and 50×N one-hot alphabets per split."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, (data_name, target_name) in (("train", ("data", "target")), ("test", ("testdata", "testtarget"))):
        count = sizes[split]
        arrays[data_name] = column_major(rng.random((count, 28, 28)))
        arrays[target_name] = one_hot(rng.integers(0, OMNIGLOT_ALPHABETS, count), OMNIGLOT_ALPHABETS)
    scipy.io.savemat(folder / "chardata.mat", arrays)


def write_svhn(folder: Path, sizes: Mapping[str, int], rng: np.random.Generator) -> None:
    """``<split>_32x32.mat`` per split: X 32×32×3×N uint8, y N×1 with labels 1–10 (10 is a 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in sizes.items():
        scipy.io.savemat(folder / f"{split}_32x32.mat", {
            "X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8),
            "y": rng.integers(1, 11, (count, 1)).astype(np.uint8)})


def write_cifar_batch(path: Path, labels: Mapping[bytes, np.ndarray], rng: np.random.Generator) -> None:
    """A CIFAR python batch (a protocol-2 pickle with byte-string keys, as the official files
    are) of ``len(labels)`` images, rows the R, G and B planes."""
    count = len(next(iter(labels.values())))
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = {b"batch_label": b"fixture", b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
             b"filenames": [b"img%d.png" % index for index in range(count)],
             **{key: [int(label) for label in values] for key, values in labels.items()}}
    path.write_bytes(pickle.dumps(batch, protocol=2))


def write_cifar10(folder: Path, sizes: Mapping[str, int], rng: np.random.Generator) -> None:
    """``cifar-10-batches-py/``: five training batches (the training images spread over them)
    and ``test_batch``."""
    extracted = folder / CIFAR_FOLDERS["cifar10"]
    for number, part in enumerate(np.array_split(np.arange(sizes["train"]), 5), start=1):
        write_cifar_batch(extracted / f"data_batch_{number}", {b"labels": rng.integers(0, 10, len(part))}, rng)
    write_cifar_batch(extracted / "test_batch", {b"labels": rng.integers(0, 10, sizes["test"])}, rng)


def write_cifar100(folder: Path, sizes: Mapping[str, int], rng: np.random.Generator) -> None:
    """``cifar-100-python/train`` and ``test`` with fine (100) and coarse (20) labels."""
    for split, count in sizes.items():
        fine = rng.integers(0, 100, count)
        write_cifar_batch(folder / CIFAR_FOLDERS["cifar100"] / split,
                          {b"fine_labels": fine, b"coarse_labels": fine // 5}, rng)


def random_turns(count: int, turns: int, words: int, vocabulary: int, rng: np.random.Generator
                 ) -> list[list[str]]:
    """``count`` conversations of ``turns`` turns of ``words`` words each, the words ``w0`` …
    ``w<vocabulary - 1>`` dealt in a shuffled cycle, so that every one occurs once the
    conversations hold ``vocabulary`` words."""
    total = count * turns * words
    cycles = -(-total // vocabulary)
    order = np.concatenate([rng.permutation(vocabulary) for _ in range(cycles)])[:total]
    tokens = order.reshape(count, turns, words)
    return [[" ".join(f"w{word}" for word in turn) for turn in conversation] for conversation in tokens]


def in_split_order(conversations: list[list[str]], seed: int = 0) -> list[list[str]]:
    """``conversations`` reordered so that the loader's seeded split of Cornell
    (:func:`companion.vhcr.corpora.split_conversations`, run seed ``seed``) gives them back in
    this order: its first training conversations are the first ones here, which hold every word."""
    from companion.vhcr.corpora import split_conversations

    positions = [position for split in split_conversations(list(range(len(conversations))), seed=seed).values()
                 for position in split]
    reordered: list[list[str]] = [[] for _ in conversations]
    for conversation, position in zip(conversations, positions):
        reordered[position] = conversation
    return reordered


def write_cornell(folder: Path, conversations: list[list[str]]) -> None:
    """``movie_lines.txt`` and ``movie_conversations.txt`` as distributed (ISO-8859-1, fields
    separated by :data:`CORNELL_SEPARATOR`): one line per turn, one conversation listing its line ids."""
    folder.mkdir(parents=True, exist_ok=True)
    lines, listed = [], []
    for index, conversation in enumerate(conversations):
        ids = [f"L{index}_{turn}" for turn in range(len(conversation))]
        for turn, (line_id, text) in enumerate(zip(ids, conversation)):
            lines.append(CORNELL_SEPARATOR.join([line_id, f"u{turn % 2}", f"m{index}", f"SPEAKER{turn % 2}", text]))
        listed.append(CORNELL_SEPARATOR.join(["u0", "u1", f"m{index}", str(ids)]))
    (folder / "movie_lines.txt").write_bytes(("\n".join(lines) + "\n").encode("iso-8859-1"))
    (folder / "movie_conversations.txt").write_bytes(("\n".join(listed) + "\n").encode("iso-8859-1"))


def write_ubuntu(folder: Path, splits: Mapping[str, list[list[str]]]) -> None:
    """Ubuntu Dialogue v1: ``dialogs/<n>/<m>.tsv`` (time, speaker, listener, text; speakers
    alternate, so each line is a turn) and ``meta/{train,val,test}files.csv`` listing them."""
    lists = {"train": "trainfiles.csv", "valid": "valfiles.csv", "test": "testfiles.csv"}
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    for number, (split, conversations) in enumerate(splits.items()):
        subfolder = folder / "dialogs" / str(number)
        subfolder.mkdir(parents=True, exist_ok=True)
        names = []
        for index, conversation in enumerate(conversations):
            speakers = [f"user{index}a", f"user{index}b"]
            rows = [f"2004-11-23T11:{turn:02d}:00.000Z\t{speakers[turn % 2]}\t{speakers[1 - turn % 2]}\t{text}"
                    for turn, text in enumerate(conversation)]
            (subfolder / f"{index}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
            names.append(f"{index}.tsv,{number}")
        (folder / "meta" / lists[split]).write_text("\n".join(names) + "\n", encoding="utf-8")


#: Examples per split of each fixture data set.
#: Whole batches of the paper profiles (VLAE's 128, SplitNet's 90, VHCR's 80), two per epoch, and a
#: few test examples.
FIXTURE_SIZES: dict[str, dict[str, int]] = {
    **{name: {"train": 256, "test": 16} for name in ("mnist", "fashion_mnist", "omniglot", "svhn", "cifar10")},
    "cifar100": {"train": 180, "test": 20},
    # Cornell is split 80/10/10 by the loader: 200 conversations give 160 training ones
    "cornell": {"conversations": 200},
    "ubuntu": {"train": 160, "valid": 8, "test": 8},
}

#: Turns per conversation and words per turn of the dialogue fixtures (VHCR's paper limits,
#: ``max_turns`` 10 and ``max_tokens`` 30 with ``<eos>``), and the distinct words (its
#: ``max_vocab_size``): batches as long and a softmax as wide as the full corpora's.
DIALOGUE_SHAPE = {"turns": 10, "words": 29, "vocabulary": 20000}

_IMAGE_WRITERS: dict[str, Callable[[Path, Mapping[str, int], np.random.Generator], None]] = {
    "mnist": write_idx_set, "fashion_mnist": write_idx_set, "omniglot": write_omniglot,
    "svhn": write_svhn, "cifar10": write_cifar10, "cifar100": write_cifar100,
}


def write_fixtures(root: Path, names: list[str] | None = None, seed: int = 0) -> Path:
    """Write the fixture data sets ``names`` (default: all of :data:`FIXTURE_SIZES`) under
    ``root/<name>/``; return ``root``, a ``data_dir`` for the chapters."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in names or list(FIXTURE_SIZES):
        sizes = FIXTURE_SIZES[name]
        if name in _IMAGE_WRITERS:
            _IMAGE_WRITERS[name](root / name, sizes, rng)
        elif name == "cornell":
            write_cornell(root / name, in_split_order(random_turns(sizes["conversations"], rng=rng,
                                                                   **DIALOGUE_SHAPE)))
        elif name == "ubuntu":
            write_ubuntu(root / name, {split: random_turns(count, rng=rng, **DIALOGUE_SHAPE)
                                       for split, count in sizes.items()})
        else:
            raise ValueError(f"no fixture writer for {name!r}; valid names: {sorted(FIXTURE_SIZES)}")
    return root

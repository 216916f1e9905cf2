"""Loaders for the full data sets, read from their official files in a local folder.

Each entry of :data:`LOADERS` takes the data set's folder and a split ("train" or "test") and
returns an :class:`~companion.data.images.ImageSet` (float32 images in [0, 1], N×C×H×W).
A missing file raises :class:`~companion.data.errors.DataNotFoundError` naming the expected
files, the folder looked in and where to download them (:data:`SOURCES`); a file that cannot be
read as its format (truncated, wrong header, wrong contents) raises
:class:`~companion.data.errors.CorruptDataError` naming the file.

CIFAR's python batches are pickles, which can run code when loaded: they are read with an
unpickler that admits only numpy arrays, numpy scalars and plain containers.
"""

from __future__ import annotations

import codecs
import gzip
import math
import pickle
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from companion.data.errors import CorruptDataError, DataNotFoundError
from companion.data.images import ImageSet

#: Where to download each full data set's official files.
SOURCES: dict[str, str] = {
    "mnist": "https://yann.lecun.com/exdb/mnist/ (the four IDX files, gzipped or not)",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist (folder data/fashion/)",
    "omniglot": "the IWAE repository, https://github.com/yburda/iwae "
                "(datasets/OMNIGLOT/chardata.mat)",
    "svhn": "http://ufldl.stanford.edu/housenumbers/ (format 2, cropped digits)",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html "
               "(CIFAR-10 python version, cifar-10-python.tar.gz, extracted)",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar.html "
                "(CIFAR-100 python version, cifar-100-python.tar.gz, extracted)",
}

# What a damaged file makes the readers below raise (gzip, struct, scipy.io, pickle, numpy).
_READ_ERRORS = (OSError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                NotImplementedError, MemoryError, struct.error, zlib.error,
                pickle.UnpicklingError, MatReadError)


# --- finding and reading files -------------------------------------------------------------

def _locate(dataset: str, folders: Sequence[Path], names: Sequence[str],
            suffixes: Sequence[str] = ("",)) -> list[Path]:
    """The path of each file in ``names`` (first match over ``folders`` × ``suffixes``).

    Raises DataNotFoundError naming the missing files, the folders and where to get them.
    """
    found, missing = [], []
    for name in names:
        candidates = [folder / (name + suffix) for folder in folders for suffix in suffixes]
        # an empty file (an interrupted download) does not hide an intact variant beside it
        present = [candidate for candidate in candidates if candidate.is_file()]
        path = next((c for c in present if c.stat().st_size > 0), present[0] if present else None)
        if path is None:
            missing.append(name)
        else:
            found.append(path)
    if missing:
        needed = "" if missing == list(names) else f" (needed: {', '.join(names)})"
        variants = " (each gzipped or not)" if ".gz" in suffixes else ""
        raise DataNotFoundError(
            f"{dataset}: cannot find {', '.join(missing)}{variants} in "
            f"{' or '.join(map(str, folders))}{needed}. Download the files from "
            f"{SOURCES[dataset]} and put them there (or pass data_dir / set $COMPANION_DATA_DIR "
            f"to a folder holding {dataset}/)."
        )
    return found


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any error raised while parsing ``path`` into a CorruptDataError naming it."""
    try:
        yield
    except CorruptDataError:
        raise
    except _READ_ERRORS as error:
        raise CorruptDataError(
            f"{path}: cannot be read ({type(error).__name__}: {error}); the file is truncated "
            f"or corrupt, download it again"
        ) from error


def _check(path: Path, condition: bool, problem: str) -> None:
    """Raise CorruptDataError naming ``path`` and ``problem`` unless ``condition`` holds."""
    if not condition:
        raise CorruptDataError(f"{path}: {problem}; the file is corrupt, download it again")


def _check_entries(path: Path, container: Any, keys: Sequence[Any]) -> None:
    """Check that ``container`` (a .mat file's variables, a pickled dict) holds ``keys``."""
    _check(path, isinstance(container, dict), f"holds a {type(container).__name__}, not a dict")
    missing = [key for key in keys if key not in container]
    _check(path, not missing, f"lacks the entries {missing}")


def _labels(values: Any, path: Path, num_classes: int, first: int = 0) -> np.ndarray:
    """``values`` as int64, checked to lie in first, …, first + num_classes − 1."""
    labels = np.asarray(values).ravel()
    _check(path, np.issubdtype(labels.dtype, np.integer) or labels.size == 0,
           f"labels have type {labels.dtype}, not integers")
    in_range = (labels >= first) & (labels < first + num_classes)
    _check(path, bool(in_range.all()), f"labels outside {first}..{first + num_classes - 1}")
    return labels.astype(np.int64)


def _scaled(images: np.ndarray) -> np.ndarray:
    """8-bit images N×C×H×W → float32 in [0, 1], contiguous."""
    return np.divide(images, np.float32(255), dtype=np.float32, order="C")


def _read_mat(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The variables ``names`` of a MATLAB (v4–v7) file."""
    with _reading(path):
        variables = scipy.io.loadmat(path, variable_names=list(names))
    _check_entries(path, variables, names)
    return variables


# --- IDX (MNIST, Fashion-MNIST) ------------------------------------------------------------

IDX_UNSIGNED_BYTE = 0x08
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions (gzipped when named .gz).

    Layout: magic 0x00 0x00 0x08 ndim, then ndim big-endian uint32 sizes, then the bytes.
    """
    with _reading(path):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header = 4 + 4 * ndim
    _check(path, len(raw) >= header, f"has {len(raw)} bytes, fewer than its {header}-byte header")
    magic = bytes([0, 0, IDX_UNSIGNED_BYTE, ndim])
    _check(path, raw[:4] == magic,
           f"magic number 0x{raw[:4].hex()} is not 0x{magic.hex()} (unsigned bytes, {ndim}-D)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    _check(path, len(raw) - header == math.prod(shape),
           f"holds {len(raw) - header} data bytes but its sizes {shape} need "
           f"{math.prod(shape)} (truncated?)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_idx(dataset: str, folder: Path, split: str) -> ImageSet:
    """MNIST or Fashion-MNIST (same IDX file names and 28×28 layout) from ``folder``."""
    images_path, labels_path = _locate(dataset, [folder], IDX_FILES[split], ("", ".gz"))
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    _check(images_path, images.shape[1:] == (28, 28),
           f"holds {images.shape[1]}×{images.shape[2]} images, not 28×28")
    _check(labels_path, len(labels) == len(images),
           f"has {len(labels)} labels for the {len(images)} images of {images_path.name}")
    return ImageSet(dataset, split, _scaled(images[:, None]), _labels(labels, labels_path, 10), 10)


# --- MATLAB files (Omniglot, SVHN) ---------------------------------------------------------

OMNIGLOT_ALPHABETS = 50
OMNIGLOT_VARIABLES = {"train": ("data", "target"), "test": ("testdata", "testtarget")}


def load_omniglot(folder: Path, split: str) -> ImageSet:
    """Omniglot 28×28 from the IWAE ``chardata.mat``; labels are the 50 alphabets."""
    (path,) = _locate("omniglot", [folder], ["chardata.mat"])
    data_name, target_name = OMNIGLOT_VARIABLES[split]
    variables = _read_mat(path, OMNIGLOT_VARIABLES[split])
    data, target = variables[data_name], variables[target_name]
    _check(path, data.dtype.kind in "fiu" and data.ndim == 2 and data.shape[0] == 784,
           f"'{data_name}' has shape {data.shape} and type {data.dtype}, not 784×N numbers")
    _check(path, target.dtype.kind in "fiu" and target.shape == (OMNIGLOT_ALPHABETS, data.shape[1]),
           f"'{target_name}' has shape {target.shape} and type {target.dtype}, not "
           f"{OMNIGLOT_ALPHABETS}×{data.shape[1]} numbers")
    _check(path, bool(((data >= 0) & (data <= 1)).all()),
           f"'{data_name}' has values outside [0, 1]")
    # Each column is an image stored column-major; IWAE reads it as
    # data.T.reshape(-1, 28, 28).reshape(-1, 784, order="F"), i.e. each 28×28 block transposed.
    images = data.T.reshape(-1, 28, 28).transpose(0, 2, 1)[:, None]
    labels = _labels(target.argmax(axis=0), path, OMNIGLOT_ALPHABETS)
    return ImageSet("omniglot", split, np.ascontiguousarray(images, dtype=np.float32), labels,
                    OMNIGLOT_ALPHABETS)


def load_svhn(folder: Path, split: str) -> ImageSet:
    """SVHN cropped digits from ``train_32x32.mat`` / ``test_32x32.mat``."""
    (path,) = _locate("svhn", [folder], [f"{split}_32x32.mat"])
    variables = _read_mat(path, ["X", "y"])
    pixels, digits = variables["X"], variables["y"]
    _check(path, pixels.dtype == np.uint8 and pixels.ndim == 4 and pixels.shape[:3] == (32, 32, 3),
           f"'X' has shape {pixels.shape} and type {pixels.dtype}, not 32×32×3×N uint8")
    _check(path, digits.size == pixels.shape[3],
           f"'y' has {digits.size} labels for {pixels.shape[3]} images")
    labels = _labels(digits, path, 10, first=1) % 10  # SVHN stores the digit 0 as label 10
    return ImageSet("svhn", split, _scaled(pixels.transpose(3, 2, 0, 1)), labels, 10)


# --- CIFAR python batches ------------------------------------------------------------------

_ARRAY_REBUILD = np.empty(0).__reduce__()[0]  # numpy's _reconstruct, wherever it lives
# how numpy ≥ 1.16 rebuilds an array pickled with protocol 5 (from its raw buffer)
_FROM_BUFFER = np.empty(0).__reduce_ex__(5)[0]
# how numpy rebuilds a scalar (np.int64(3), as list(np.asarray(labels)) holds) from dtype and bytes
_SCALAR_REBUILD = np.int64(0).__reduce__()[0]
PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _ARRAY_REBUILD,
    ("numpy._core.multiarray", "_reconstruct"): _ARRAY_REBUILD,
    ("numpy.core.multiarray", "scalar"): _SCALAR_REBUILD,
    ("numpy._core.multiarray", "scalar"): _SCALAR_REBUILD,
    ("numpy.core.numeric", "_frombuffer"): _FROM_BUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROM_BUFFER,
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1")
    ("_codecs", "encode"): codecs.encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(module, container.__name__): container
       for module in ("builtins", "__builtin__")  # Python 3 and Python 2 names
       for container in (dict, list, tuple, set, frozenset)},
}


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers, numpy arrays and numpy scalars only; any other global is refused.

    Python 2 pickles (like CIFAR's) are read with ``encoding="bytes"``: their strings,
    dictionary keys included, come back as bytes.
    """

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        """The admitted global ``module.name``, else CorruptDataError naming it."""
        if (module, name) not in PICKLE_GLOBALS:
            raise CorruptDataError(
                f"{self.path}: refuses to load the global {module}.{name}; a data batch holds "
                f"only numpy arrays, numpy scalars and plain containers, so this file is not one"
            )
        return PICKLE_GLOBALS[module, name]


def read_python_batch(path: Path, keys: Sequence[bytes]) -> dict[bytes, Any]:
    """A CIFAR python batch: a pickled dict with bytes keys, which must include ``keys``.

    The batches as distributed are Python 2 pickles (bytes keys); a batch re-saved by
    Python 3 (any protocol) has str keys, which are read as their bytes.
    """
    with _reading(path), path.open("rb") as file:
        batch = ArrayUnpickler(file, path).load()
    if isinstance(batch, dict):
        batch = {key.encode("latin1") if isinstance(key, str) else key: value
                 for key, value in batch.items()}
    _check_entries(path, batch, keys)
    return batch


CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
CIFAR_FILES = {
    "cifar10": {"train": [f"data_batch_{index}" for index in range(1, 6)], "test": ["test_batch"]},
    "cifar100": {"train": ["train"], "test": ["test"]},
}
CIFAR_LABELS = {"cifar10": (b"labels", 10), "cifar100": (b"fine_labels", 100)}
CIFAR100_COARSE_LABELS = (b"coarse_labels", 20)


def _read_cifar(dataset: str, folder: Path, split: str,
                labelling: tuple[bytes, int]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images N×3×32×32 and the labels under key ``labelling[0]`` of a CIFAR split.

    ``folder`` is the data set's folder or the folder extracted from the archive within it.
    """
    label_key, num_classes = labelling
    folders = [folder / CIFAR_FOLDERS[dataset], folder]
    images, labels = [], []
    for path in _locate(dataset, folders, CIFAR_FILES[dataset][split]):
        batch = read_python_batch(path, [b"data", label_key])
        data = batch[b"data"]
        _check(path, isinstance(data, np.ndarray) and data.dtype == np.uint8
               and data.ndim == 2 and data.shape[1] == 3 * 32 * 32,
               "b'data' is not an N×3072 uint8 array")
        labels.append(_labels(batch[label_key], path, num_classes))
        _check(path, len(labels[-1]) == len(data),
               f"has {len(labels[-1])} labels for {len(data)} images")
        images.append(data.reshape(-1, 3, 32, 32))  # each row: red, green, blue 32×32 planes
    return np.concatenate(images), np.concatenate(labels)


def load_cifar(dataset: str, folder: Path, split: str) -> ImageSet:
    """CIFAR-10 (10 classes) or CIFAR-100 (100 fine classes) from the python batches."""
    images, labels = _read_cifar(dataset, folder, split, CIFAR_LABELS[dataset])
    return ImageSet(dataset, split, _scaled(images), labels, CIFAR_LABELS[dataset][1])


def cifar100_coarse_labels(folder: Path, split: str) -> np.ndarray:
    """CIFAR-100's 20 super-class labels (int64), aligned with ``load_cifar("cifar100", …)``."""
    return _read_cifar("cifar100", folder, split, CIFAR100_COARSE_LABELS)[1]


#: Each full data set's loader, called as ``LOADERS[name](folder, split)`` for an ImageSet.
LOADERS: dict[str, Callable[[Path, str], ImageSet]] = {
    "mnist": partial(load_idx, "mnist"),
    "fashion_mnist": partial(load_idx, "fashion_mnist"),
    "omniglot": load_omniglot,
    "svhn": load_svhn,
    "cifar10": partial(load_cifar, "cifar10"),
    "cifar100": partial(load_cifar, "cifar100"),
}

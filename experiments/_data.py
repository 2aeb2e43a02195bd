"""The MNIST experiments' data: the data flags and one loader, NHWC images on the device.

Every MNIST experiment (the classification and generalisation chapters) takes
``--dataset``, ``--source`` and ``--data-dir`` (:func:`add_arguments`) and loads with
:func:`data`; ``--quick`` keeps a random slice of each split drawn by
``numpy.random.default_rng(seed)``, the one quick-slice convention.
"""

from __future__ import annotations

import argparse
import re

import jax
import numpy as np

from experiments._cli import UsageError, existing_dir
from jaxbasics.data import load
from jaxbasics.data.datasets import NAMES, SOURCES, DatasetNotFound, WrongDataset

QUICK_TRAIN, QUICK_TEST = 1000, 500


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--source``, ``--data-dir``."""
    p.add_argument("--dataset", choices=NAMES, default="mnist", help="default %(default)s")
    p.add_argument("--source", choices=SOURCES, default=None,
                   help="where the images come from (default: 'idx' with --data-dir, else "
                        "'embedded', the 5,000 digits shipped with the package, for mnist; "
                        "'auto' for fashion_mnist, which tries the full sets first)")
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="a directory with the four IDX files (alone: use them)")


def data(args, quick_sizes=(QUICK_TRAIN, QUICK_TEST)) -> tuple[tuple, tuple, str]:
    """(train (x, y), test (x, y), source) on the device: x (n, 28, 28, 1) float32
    normalised, y (n,) int32. With ``--quick``, random slices of ``quick_sizes`` (train,
    test) images (None: all of that split)."""
    source = args.source or ("idx" if args.data_dir else
                             "embedded" if args.dataset == "mnist" else "auto")
    if source == "embedded" and args.data_dir is not None:
        raise UsageError("argument --data-dir: --source embedded reads no files; leave out "
                         "one of the two")
    try:
        train = load(args.dataset, "train", source, data_dir=args.data_dir)
        test = load(args.dataset, "test", source, data_dir=args.data_dir)
    except WrongDataset as e:
        raise UsageError(f"argument --data-dir: {e.path} is {e.found}'s file, not "
                         f"{e.wanted}'s: point --data-dir at {e.wanted}'s files") from None
    except DatasetNotFound as e:  # the library's advice, in flags
        raise UsageError(_as_flags(str(e))) from None
    if source == "auto" and train.source.startswith("embedded"):
        print(f"note: no full {args.dataset} found (--data-dir, $JAXBASICS_DATA, the cache, "
              "tensorflow-datasets); using the 5,000 embedded MNIST digits", flush=True)
    tr, te = (train.images, train.labels), (test.images, test.labels)
    if args.quick:
        tr, te = (quick_slice(d, n, args.seed) if n else d for d, n in zip((tr, te), quick_sizes))
    source = train.source + (f" (quick: {len(tr[1])} train, {len(te[1])} test)"
                             if args.quick else "")
    return jax.device_put(tr), jax.device_put(te), source


def _as_flags(message: str) -> str:
    """The data layer's advice (``source='download'``, ``use source='idx', 'tfds'``) as the
    command line's flags (``--source download``, ``use --source idx, tfds``)."""
    message = message.replace("pass --data-dir / set $JAXBASICS_DATA", "pass --data-dir")
    message = re.sub(r"source='(\w+)'", r"--source \1", message)
    return re.sub(r"'(" + "|".join(SOURCES) + r")'", r"\1", message)


def quick_slice(arrays: tuple, n: int, seed: int) -> tuple:
    """``n`` examples of host ``arrays`` drawn at random by ``default_rng(seed)``."""
    order = np.random.default_rng(seed).permutation(len(arrays[0]))[:n]
    return tuple(np.asarray(a)[order] for a in arrays)


def seed_epochs(seed_epochs: int, batch_size: int, n_train: int) -> int:
    """Epochs over ``n_train`` images that make as many steps as the seed's ``seed_epochs``
    over MNIST's 60,000 (e.g. 150 of 4,000 embedded digits for the MLP's 10 x 300 steps)."""
    steps = seed_epochs * (60_000 // batch_size)
    return max(1, round(steps / max(1, n_train // batch_size)))

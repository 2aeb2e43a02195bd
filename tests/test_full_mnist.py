"""The seeds' numbers on the full MNIST (60,000 / 10,000), the seeds' settings.

Marked ``full_data`` (about 10-30 s each on 2 CPU cores) and skipped unless
``$JAXBASICS_DATA`` (or ``$JAXBASICS_DATA/mnist``) holds the four upstream IDX files, the
way ``jaxbasics.data`` looks for them; ``.ci/run`` points it at ``../shared/data``.
Section B here; section C's experiments take no data flags yet.
"""

import os
from pathlib import Path

import pytest

from experiments import lenet, mnist_first, mnist_mlp
from jaxbasics.data import datasets

pytestmark = pytest.mark.full_data


def _mnist_dir() -> Path | None:
    env = os.environ.get("JAXBASICS_DATA")
    if not env:
        return None
    for d in (Path(env) / "mnist", Path(env)):
        if all(datasets._find_file(d, stem) for split in ("train", "test")
               for stem in datasets.FILES[split]):
            return d
    return None


@pytest.fixture(scope="module")
def mnist_dir():
    d = _mnist_dir()
    if d is None:
        pytest.skip("full MNIST not found: set JAXBASICS_DATA to a directory holding "
                    "mnist/ with the four IDX files (e.g. ../shared/data)")
    return d


def _run(module, mnist_dir, tmp_path, *flags):
    return module.main(["--source", "idx", "--data-dir", str(mnist_dir),
                        "--out", str(tmp_path), *flags])


def test_mnist_first_full(mnist_dir, tmp_path, capsys):
    """Seed 001 §9-13: 784-256-64-10, MSE to one-hot, SGD 0.01 momentum 0.9, batch 512,
    3 epochs (351 steps): the seed's ≈ 0.9 (measured 0.886)."""
    m = _run(mnist_first, mnist_dir, tmp_path)
    assert m["data_source"].startswith("mnist idx")
    assert (m["result"]["epochs"], m["result"]["steps"]) == (3, 3 * (60_000 // 512))
    assert m["result"]["test_accuracy"] >= 0.87 and m["ok"]


def test_mnist_mlp_full(mnist_dir, tmp_path, capsys):
    """Seeds 001 §50 / 004: 784-200-200-10 Kaiming, SGD 0.01, batch 200, 10 epochs
    (3,000 steps): the seed's 90-97 % (measured 0.958)."""
    m = _run(mnist_mlp, mnist_dir, tmp_path)
    assert (m["result"]["epochs"], m["result"]["steps"]) == (10, 3000)
    assert m["result"]["test_accuracy"] >= 0.95 and m["ok"]
    out = capsys.readouterr().out  # the seed's lines: every 100 batches, and per epoch
    assert "Train Epoch: 9 [40000/60000 (67%)]" in out and "/10000 (" in out


def test_lenet_full(mnist_dir, tmp_path, capsys):
    """Seed 002's LeNet, SGD 0.1, batch 64, 10 epochs: ≈ 0.99 (measured 0.988)."""
    m = _run(lenet, mnist_dir, tmp_path)
    assert (m["result"]["epochs"], m["result"]["steps"]) == (10, 10 * (60_000 // 64))
    assert m["result"]["test_accuracy"] >= 0.985 and m["ok"]

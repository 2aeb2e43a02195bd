"""What the MNIST experiments share: flags, data, the seed's log lines, evaluation, figures.

The classification chapter (``mnist_first``, ``mnist_mlp``, ``lenet``, ``classic_cnns``) uses
the command-line pieces; the generalisation chapter (``cross_validation``,
``regularization``, ``lr_schedules``, ``early_stopping_dropout``) trains the course's MLP on
:func:`digits` with :func:`objective` and :func:`mlp_metrics`. No training loop here: every
experiment trains with ``jaxbasics.train.fit``.
"""

from __future__ import annotations

import argparse
import functools

import jax
import numpy as np

from jaxbasics import losses, metrics, plots
from jaxbasics.data import load
from jaxbasics.data.datasets import NAMES, SOURCES
from jaxbasics.models import apply_mlp
from jaxbasics.train import LogEvent, Step, TrainState

QUICK_TRAIN, QUICK_TEST = 1000, 500


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=NAMES, default="mnist", help="default %(default)s")
    p.add_argument("--source", choices=SOURCES, default=None,
                   help="where the images come from (default: 'idx' with --data-dir, else "
                        "'embedded', the 5,000 digits shipped with the package, for mnist; "
                        "'auto' for fashion_mnist, which tries the full sets first)")
    p.add_argument("--data-dir", default=None, help="a directory with the four IDX files")


def data(args, quick_sizes=(QUICK_TRAIN, QUICK_TEST)) -> tuple[tuple, tuple, str]:
    """(train (x, y), test (x, y), source) on the device; with ``--quick``, random slices of
    ``quick_sizes`` (train, test) images (None: all of that split)."""
    source = args.source or ("idx" if args.data_dir else
                             "embedded" if args.dataset == "mnist" else "auto")
    train = load(args.dataset, "train", source, data_dir=args.data_dir)
    test = load(args.dataset, "test", source, data_dir=args.data_dir)
    tr, te = (train.images, train.labels), (test.images, test.labels)
    if args.quick:
        tr, te = (_slice(*d, n, args.seed) if n else d for d, n in zip((tr, te), quick_sizes))
    source = train.source + (f" (quick: {len(tr[1])} train, {len(te[1])} test)"
                             if args.quick else "")
    return jax.device_put(tr), jax.device_put(te), source


def _slice(x, y, n, seed):
    order = np.random.default_rng(seed).permutation(len(y))[:n]
    return x[order], y[order]


def seed_epochs(seed_epochs: int, batch_size: int, n_train: int) -> int:
    """Epochs over ``n_train`` images that make as many steps as the seed's ``seed_epochs``
    over MNIST's 60,000 (e.g. 150 of 4,000 embedded digits for the MLP's 10 x 300 steps)."""
    steps = seed_epochs * (60_000 // batch_size)
    return max(1, round(steps / max(1, n_train // batch_size)))


def shown(epoch: int, epochs: int) -> bool:
    """Whether a run of ``epochs`` prints 0-based ``epoch``: ten of them, the last always."""
    return (epoch + 1) % max(1, epochs // 10) == 0 or epoch + 1 == epochs


def train_log(n_train: int, batch_size: int, epochs: int | None = None):
    """The seed's ``Train Epoch: e [seen/n (p%)]\\tLoss: l`` printer, for ``fit(on_log=)``.

    With ``epochs``, only the epochs :func:`shown` picks print (long runs on small data).
    """
    def on_log(e: LogEvent) -> None:
        if epochs is not None and not shown(e.epoch, epochs):
            return
        print(f"Train Epoch: {e.epoch} [{e.batch * batch_size}/{n_train} "
              f"({100.0 * e.batch / e.num_batches:.0f}%)]\tLoss: {e.metrics['loss']:.6f}")
    return on_log


def test_log(step: Step, state: TrainState, test, batch_size: int,
             quiet=False) -> dict[str, float]:
    """Evaluate and print the seed's ``Test set`` line; returns {"loss", "accuracy"}."""
    m = step.evaluate(state, test, batch_size)
    if quiet:
        return m
    n = len(test[1])
    correct = round(m["accuracy"] * n)
    print(f"\nTest set: Average loss: {m['loss']:.4f}, Accuracy: {correct}/{n} "
          f"({100.0 * m['accuracy']:.0f}%)\n")
    return m


def figures(out, name, history, apply, params, test, per_epoch, loss_name="cross-entropy"):
    """Loss curve (per step, and test loss per epoch) and 32 test digits with predictions,
    drawn evenly through the test set."""
    steps_per_epoch = len(history.loss) // max(len(per_epoch), 1)
    curve = plots.curves(
        out / "loss.png", {"train (per batch)": history.loss,
                           "test (per epoch)": [m["loss"] for m in per_epoch]},
        x={"train (per batch)": np.arange(len(history.loss)),
           "test (per epoch)": steps_per_epoch * np.arange(1, len(per_epoch) + 1)},
        title=f"{name}: {loss_name}", xlabel="step")
    # Evenly spaced through the test set: the embedded split is sorted by label.
    pick = np.linspace(0, len(test[1]) - 1, 32).astype(int)
    x, y = (np.asarray(a)[pick] for a in test)
    predicted = np.argmax(np.asarray(jax.jit(apply)(params, x)), -1)
    grid = plots.digits(out / "predictions.png", x, y, predicted,
                        title=f"{name}: predicted (true), wrong in red")
    return [curve, grid]


def digits(split: str, limit: int | None = None, key=None):
    """(images (n, 784) float32, labels (n,) int32) on the device, and the source string.

    The embedded splits are stored in class order, so they are shuffled (by ``key``, or a
    fixed key 0) before the first ``limit`` examples are kept.
    """
    ds = load("mnist", split)
    x, y = ds.images.reshape(len(ds), -1), ds.labels
    order = np.asarray(jax.jit(jax.random.permutation, static_argnums=1)(
        jax.random.key(0) if key is None else key, len(y)))
    if limit is not None:
        order = order[:limit]
    return (jax.device_put(x[order]), jax.device_put(y[order])), ds.source


def objective(params, batch, activation=jax.nn.relu):
    """Mean cross-entropy of the MLP (no dropout) on (x (n, 784), y (n,))."""
    x, y = batch
    return losses.cross_entropy(apply_mlp(params, x, activation=activation), y)


def dropout_objective(p: float):
    """A stateful objective: the MLP with dropout ``p``, the engine's per-step key."""
    def obj(params, batch, model_state, key):
        x, y = batch
        logits = apply_mlp(params, x, p=p, key=key, train=True)
        return losses.cross_entropy(logits, y), (model_state, {})
    return obj


def mlp_metrics(activation=jax.nn.relu):
    """Per-example loss and correctness of the MLP in evaluation mode (no dropout)."""
    return metrics.classification(functools.partial(apply_mlp, activation=activation))

"""Train / validation / test and K-fold cross-validation (seed 001, "train-val-test").

The course splits MNIST's 60k training images 50k/10k (``random_split``), prints a
"VAL set" line after every epoch and evaluates the test set once at the end. Here the
embedded digits' training split is split in the same 5:1 ratio, the "VAL set" line comes
from a :class:`~jaxbasics.callbacks.Monitor` ``on_epoch`` callback (which also tracks the
best epoch: "test while train"), and the test set is touched once, with the best epoch's
parameters. Then K-fold cross-validation (fold indices a pure function of n, K and a key)
gives the mean ± std of the validation accuracy.

The model is the course's (784-200-200-10, LeakyReLU). The course trains plain SGD lr 0.01
with batch 200 for 10 epochs on 50k images (2,500 steps); on the 4,000 embedded digits that
would be 170 steps, so here batches are 64 and SGD has momentum 0.9 to learn in as few.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from experiments import _cli, _mnist
from jaxbasics import optim
from jaxbasics.callbacks import Monitor
from jaxbasics.data import kfold_indices, split_indices
from jaxbasics.models import init_mlp
from jaxbasics.train import Step, fit, init_state, make_step

LEARNING_RATE, MOMENTUM, BATCH = 0.01, 0.9, 64
VAL_FRACTION = 10 / 60  # the course's 50k/10k of 60k


def make() -> Step:
    """The course's LeakyReLU MLP step: cross-entropy, SGD momentum 0.9, test metrics."""
    return make_step(functools.partial(_mnist.objective, activation=jax.nn.leaky_relu),
                     optim.make("sgd", LEARNING_RATE, momentum=MOMENTUM),
                     metrics=_mnist.mlp_metrics(jax.nn.leaky_relu))


def train(step: Step, data, val, key, *, epochs: int, mode: str, verbose: bool = False):
    """Train the MLP on ``data``, evaluating ``val`` each epoch; returns (best state, monitor)."""
    k_init, k_shuffle = _cli.keys(key, 2)
    monitor = Monitor(lambda s: step.evaluate(s, val, 500), monitor="accuracy", mode="max")

    def on_epoch(epoch, state):
        logs = monitor(epoch, state)
        if verbose:
            n = len(val[1])
            correct = round(logs["val_accuracy"] * n)
            print(f"\nVAL set: Average loss: {logs['val_loss']:.4f}, Accuracy: "
                  f"{correct}/{n} ({100 * logs['val_accuracy']:.0f}%)")
        return logs

    state, history = fit(step, init_state(init_mlp(k_init), step), data, epochs=epochs, batch_size=BATCH, key=k_shuffle, mode=mode,
                         on_epoch=on_epoch)
    return monitor.best_state, monitor, history


def body(args) -> _cli.Outcome:
    limit, epochs, k, k_epochs = (2400, 4, 3, 3) if args.quick else (None, 10, 5, 10)
    k_data, k_split, k_folds, k_train, *k_fold = _cli.keys(args.seed, 4 + k)
    data, source = _mnist.digits("train", limit, k_data)
    test, _ = _mnist.digits("test")
    n = len(data[1])
    val_idx, train_idx = split_indices(n, VAL_FRACTION, k_split)
    host = jax.device_get(data)
    pick = lambda idx: jax.device_put(tuple(a[np.asarray(idx)] for a in host))  # noqa: E731
    step = make()
    best, monitor, history = train(step, pick(train_idx), pick(val_idx), k_train,
                                   epochs=epochs, mode=args.mode, verbose=True)
    test_m = step.evaluate(best, test, 500)  # the test set, once
    print(f"\nTEST set: Average loss: {test_m['loss']:.4f}, Accuracy: "
          f"{100 * test_m['accuracy']:.1f}%")
    fold_acc = []
    for i, (tr, va) in enumerate(kfold_indices(n, k, k_folds)):
        _, mon, _ = train(step, pick(tr), pick(va), k_fold[i], epochs=k_epochs, mode=args.mode)
        fold_acc.append(mon.history[-1]["accuracy"])
    result = {"train_size": len(train_idx), "val_size": len(val_idx),
              "val_accuracy_per_epoch": [h["accuracy"] for h in monitor.history],
              "best_epoch": monitor.best_epoch, "best_val_accuracy": monitor.best_value,
              "test_accuracy": test_m["accuracy"], "k": k, "fold_val_accuracy": fold_acc,
              "kfold_mean": float(np.mean(fold_acc)), "kfold_std": float(np.std(fold_acc))}
    print(f"{k}-fold validation accuracy: {result['kfold_mean']:.4f} ± "
          f"{result['kfold_std']:.4f}")
    ok = (len(history.epochs) == epochs and test_m["accuracy"] > 0.85
          and result["kfold_mean"] > 0.8 and result["kfold_std"] < 0.05
          and abs(result["val_size"] / n - VAL_FRACTION) < 0.01)
    reference = {"split": "50k/10k of 60k (scaled 5:1)"}
    return _cli.Outcome(result, reference, bool(ok), data_source=source)


def main(argv=None) -> dict:
    return _cli.run("cross_validation", __doc__, body, argv)


if __name__ == "__main__":
    main()

"""Train / validation / test and K-fold cross-validation (seed 001, "train-val-test").

The course splits MNIST's 60k training images 50k/10k (``random_split``), trains the MLP
(784-200-200-10, LeakyReLU) with SGD lr 0.01, batch 200 for 10 epochs, prints a "VAL set"
line after every epoch and evaluates the test set once at the end. With the full MNIST
(``--data-dir DIR`` holding the four IDX files, or ``--source auto``) this is that
setting exactly: 50,000 / 10,000 hold-out, the test set once, with the best epoch's
parameters. The "VAL set" line comes from a :class:`~jaxbasics.callbacks.Monitor`
``on_epoch`` callback (which also tracks the best epoch: "test while train"). Then 6-fold
cross-validation (fold indices a pure function of n, K and a key; the seed's example, "take
50k of the 60k to train and 10k to validate", is one fold of six, and the hold-out is fold
0) gives the mean ± std of the validation accuracy.

On the 4,000 embedded digits (the default) the split keeps the same 5:1 ratio, but the
course's 2,500 steps would be 170, so there batches are 64 and SGD has momentum 0.9 to
learn in as few.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import numpy as np

from experiments import _cli, _data, _logs, _mlp
from jaxbasics import optim
from jaxbasics.callbacks import Monitor
from jaxbasics.data import kfold_indices
from jaxbasics.models import init_mlp
from jaxbasics.train import Step, init_state, make_step

# The course's setting (full MNIST) and the embedded digits' (see the module docstring).
LEARNING_RATE, BATCH, EPOCHS, MOMENTUM = 0.01, 200, 10, 0.0
SMALL_BATCH, SMALL_MOMENTUM = 64, 0.9
VAL_FRACTION = 10 / 60  # the course's 50k/10k of 60k
K = 6  # folds: one of six is the course's 10k of 60k (the seed's own K-fold example)


def make(learning_rate: float = LEARNING_RATE, momentum: float = MOMENTUM) -> Step:
    """The course's LeakyReLU MLP step: cross-entropy, SGD (with ``momentum``), test metrics."""
    return make_step(functools.partial(_mlp.objective, activation=jax.nn.leaky_relu),
                     optim.make("sgd", learning_rate, momentum=momentum),
                     metrics=_mlp.mlp_metrics(jax.nn.leaky_relu))


def train(args, step: Step, data, val, key, *, epochs: int, batch_size: int,
          verbose: bool = False, name: str | None = None):
    """Train the MLP on ``data``, evaluating ``val`` each epoch; returns (the best epoch's
    state, history)."""
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

    state, history = _cli.train(args, step, init_state(init_mlp(k_init), step), data,
                                epochs=epochs, batch_size=batch_size, key=k_shuffle,
                                on_epoch=on_epoch, name=name, learning_rate=args.lr,
                                save_every_epoch=True)  # a resume restores the best epoch
    curve = [logs["val_accuracy"] for logs in history.epochs]  # a resumed run's saved ones too
    best = int(np.argmax(curve)) if curve else None  # the first maximum, as the Monitor keeps
    if best is None or best == monitor.best_epoch:
        return monitor.best_state or state, history
    # Resumed: the best epoch came before the interruption (or the run had finished), so
    # this process's Monitor never held its parameters; its checkpoint does, if still kept.
    saved = _checkpointed(args, name, state, (best + 1) * (len(data[1]) // batch_size))
    if saved is None:
        print(f"{name}: epoch {best}'s checkpoint is no longer kept; the final state stands")
    return saved or state, history


def _checkpointed(args, name: str, template, step: int):
    """The state ``--checkpoint-dir DIR`` saved at ``step`` for ``name`` (``DIR/name``), shaped
    like ``template``; None if that checkpoint is not kept."""
    if getattr(args, "checkpoint_dir", None) is None:
        return None
    from jaxbasics.checkpoint import Checkpoints
    with Checkpoints(Path(args.checkpoint_dir) / name) as saved:
        return saved.restore(template, step) if step in saved.steps else None


def body(args) -> _cli.Outcome:
    train_all, test, source = _data.data(args, quick_sizes=(2400, None))
    full = len(train_all[1]) >= 60_000
    batch = args.batch_size or (BATCH if full else SMALL_BATCH)
    momentum = args.momentum if args.momentum is not None else (MOMENTUM if full else SMALL_MOMENTUM)
    epochs = args.epochs or (4 if args.quick else EPOCHS)
    k_folds, *k_fold = _cli.keys(args.seed, 1 + K)
    n = len(train_all[1])
    # Equal folds (the last n mod K examples sit out: 4 of the 4,000 embedded digits, none
    # of MNIST's 60,000), so every training set has one shape: one compiled program trains
    # the hold-out and every fold, one evaluates every validation fold.
    folds = kfold_indices(n - n % K, K, k_folds)
    train_idx, val_idx = folds[0]
    host = jax.device_get(train_all)
    pick = lambda idx: jax.device_put(tuple(a[np.asarray(idx)] for a in host))  # noqa: E731
    step = make(args.lr, momentum)
    print(f"hold-out (fold 0 of {K}): {len(train_idx)} train / {len(val_idx)} validation of "
          f"{n}; SGD lr {args.lr} momentum {momentum}, batch {batch}, {epochs} epochs")
    best, history = train(args, step, pick(train_idx), pick(val_idx), k_fold[0],
                          epochs=epochs, batch_size=batch, verbose=True, name="holdout")
    test_m = _logs.test_log(step, best, test, 500, label="TEST")  # the test set, once
    # Fold 0 is the hold-out run; each fold reports its last epoch's validation accuracy,
    # read from the run's epoch logs (a resumed run's include the saved ones).
    curve = [logs["val_accuracy"] for logs in history.epochs]
    fold_acc = [curve[-1] if curve else float("nan")]
    for i, (tr, va) in enumerate(folds[1:], 1):
        _, fold = train(args, step, pick(tr), pick(va), k_fold[i], epochs=epochs,
                        batch_size=batch, name=f"fold{i}")
        fold_acc.append(fold.epochs[-1]["val_accuracy"] if fold.epochs else float("nan"))
    result = {"train_size": len(train_idx), "val_size": len(val_idx),
              "val_accuracy_per_epoch": curve,
              "best_epoch": int(np.argmax(curve)) if curve else None,
              "best_val_accuracy": max(curve) if curve else float("nan"),
              "test_accuracy": test_m["accuracy"], "k": K, "fold_val_accuracy": fold_acc,
              "kfold_mean": float(np.mean(fold_acc)), "kfold_std": float(np.std(fold_acc)),
              "learning_rate": args.lr, "momentum": momentum, "batch_size": batch,
              "epochs": epochs}
    print(f"{K}-fold validation accuracy: {result['kfold_mean']:.4f} ± "
          f"{result['kfold_std']:.4f}")
    ok = (len(history.epochs) == epochs and test_m["accuracy"] > 0.85
          and result["kfold_mean"] > 0.8 and result["kfold_std"] < 0.05
          and abs(result["val_size"] / n - VAL_FRACTION) < 0.01)
    reference = {"split": "50k/10k of 60k" + ("" if full else " (scaled 5:1)")}
    return _cli.Outcome(result, reference, bool(ok), data_source=source)


def add_arguments(p) -> None:
    _data.add_arguments(p)
    _cli.add_training_arguments(
        p, lr=LEARNING_RATE,
        batch_help=f"default {BATCH} (the course's; {SMALL_BATCH} on the embedded digits)",
        epochs_help=f"default {EPOCHS} (quick: 4)")
    p.add_argument("--momentum", type=_cli.non_negative_float, default=None,
                   help=f"SGD momentum, default {MOMENTUM} (the course's; {SMALL_MOMENTUM} on "
                        "the embedded digits)")


def main(argv=None) -> dict:
    return _cli.run("cross_validation", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

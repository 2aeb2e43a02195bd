"""L1 and L2 regularisation (seed 001, "正则化" / weight decay).

The course's MLP on the digits (``--data-dir`` for the full MNIST) trained three ways with the same optimizer (SGD,
momentum 0.9): plain, with an L2 penalty (``regularized(objective, l2=)``, which for SGD
is ``SGD(weight_decay=l2)``) and with an L1 penalty. L1's constant pull towards zero
drives many weights to (nearly) exactly zero; L2's pull shrinks with the weight, so it
only makes weights small. Reported: the fraction of weights with |w| < 1e-3, the mean |w|,
and the train/validation accuracy gap of each.
"""

from __future__ import annotations

import numpy as np

from experiments import _cli, _data, _mlp
from jaxbasics import optim, plots
from jaxbasics.data import train_val_split
from jaxbasics.models import init_mlp
from jaxbasics.regularizers import fraction_small, regularized, weights_only
from jaxbasics.train import init_state, make_step

LEARNING_RATE, MOMENTUM, BATCH, EPOCHS = 0.05, 0.9, 64, 30
PENALTIES = {"plain": {}, "L2": {"l2": 1e-3}, "L1": {"l1": 5e-4}}
THRESHOLD = 1e-3


def train_one(args, name: str, penalty: dict, train, key, *, epochs: int):
    """The MLP trained with ``regularized(objective, **penalty)``; (step, state, history)."""
    k_init, k_shuffle = _cli.keys(key, 2)
    step = make_step(regularized(_mlp.objective, only=weights_only, **penalty),
                     optim.make("sgd", args.lr, momentum=MOMENTUM),
                     metrics=_mlp.mlp_metrics())
    state, history = _cli.train(args, step, init_state(init_mlp(k_init), step), train,
                                epochs=epochs, batch_size=args.batch_size, key=k_shuffle,
                                name=name, learning_rate=args.lr)
    return step, state, history


def body(args) -> _cli.Outcome:
    data, _, source = _data.data(args, quick_sizes=(1500, 1))
    epochs = args.epochs or (6 if args.quick else EPOCHS)
    k_split, key = _cli.keys(args.seed, 2)
    train, val = train_val_split(data, 0.2, k_split)
    result, curves = {}, {}
    for name, penalty in PENALTIES.items():
        step, state, history = train_one(args, name, penalty, train, key, epochs=epochs)
        tr, va = step.evaluate(state, train, 500), step.evaluate(state, val, 500)
        weights = [np.asarray(layer["w"]) for layer in state.params]
        result[name] = {
            "fraction_|w|<1e-3": fraction_small(weights, THRESHOLD),
            "mean_|w|": float(np.mean(np.concatenate([np.abs(w).ravel()
                                                      for w in weights]))),
            "train_accuracy": tr["accuracy"], "val_accuracy": va["accuracy"],
            "gap": tr["accuracy"] - va["accuracy"]}
        curves[name] = history.loss
    figure = plots.curves(args.out / "loss.png", curves, xlabel="step",
                          ylabel="objective (loss + penalty)", logy=True,
                          title="plain / L2 / L1")
    frac = {k: v["fraction_|w|<1e-3"] for k, v in result.items()}
    ok = (frac["L1"] > 5 * max(frac["L2"], 0.01) and frac["L1"] > 0.3
          and result["L2"]["mean_|w|"] < result["plain"]["mean_|w|"]
          and all(v["val_accuracy"] > 0.8 for v in result.values())) or (
        (args.lr, args.batch_size, args.epochs) != (LEARNING_RATE, BATCH, None))
    reference = {"note": "L1 fraction of |w|<1e-3 much larger than L2's"}
    return _cli.Outcome(result, reference, bool(ok), data_source=source, figures=[figure])


def add_arguments(p) -> None:
    _data.add_arguments(p)
    _cli.add_training_arguments(p, lr=LEARNING_RATE, batch_size=BATCH,
                                epochs_help=f"default {EPOCHS} (quick: 6)")


def main(argv=None) -> dict:
    return _cli.run("regularization", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

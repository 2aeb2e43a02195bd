"""L1 and L2 regularisation (seed 001, "正则化" / weight decay).

The course's MLP on the embedded digits trained three ways with the same optimizer (SGD,
momentum 0.9): plain, with an L2 penalty (``regularized(objective, l2=)``, which for SGD
is ``SGD(weight_decay=l2)``) and with an L1 penalty. L1's constant pull towards zero
drives many weights to (nearly) exactly zero; L2's pull shrinks with the weight, so it
only makes weights small. Reported: the fraction of weights with |w| < 1e-3, the mean |w|,
and the train/validation accuracy gap of each.
"""

from __future__ import annotations

import numpy as np

from experiments import _cli, _mnist
from jaxbasics import optim, plots
from jaxbasics.data import train_val_split
from jaxbasics.models import init_mlp
from jaxbasics.regularizers import fraction_small, regularized, weights_only
from jaxbasics.train import fit, init_state, make_step

LEARNING_RATE, MOMENTUM, BATCH = 0.05, 0.9, 64
PENALTIES = {"plain": {}, "L2": {"l2": 1e-3}, "L1": {"l1": 5e-4}}
THRESHOLD = 1e-3


def train_one(penalty: dict, train, key, *, epochs: int, mode: str):
    """The MLP trained with ``regularized(objective, **penalty)``; returns the final state."""
    k_init, k_shuffle = _cli.keys(key, 2)
    step = make_step(regularized(_mnist.objective, only=weights_only, **penalty),
                     optim.make("sgd", LEARNING_RATE, momentum=MOMENTUM),
                     metrics=_mnist.mlp_metrics())
    state, history = fit(step, init_state(init_mlp(k_init), step), train, epochs=epochs,
                         batch_size=BATCH, key=k_shuffle, mode=mode)
    return step, state, history


def body(args) -> _cli.Outcome:
    limit, epochs = (1500, 6) if args.quick else (None, 30)
    k_data, k_split, key = _cli.keys(args.seed, 3)
    data, source = _mnist.digits("train", limit, k_data)
    train, val = train_val_split(data, 0.2, k_split)
    result, curves = {}, {}
    for name, penalty in PENALTIES.items():
        step, state, history = train_one(penalty, train, key, epochs=epochs, mode=args.mode)
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
          and all(v["val_accuracy"] > 0.8 for v in result.values()))
    reference = {"note": "L1 fraction of |w|<1e-3 much larger than L2's"}
    return _cli.Outcome(result, reference, bool(ok), data_source=source, figures=[figure])


def main(argv=None) -> dict:
    return _cli.run("regularization", __doc__, body, argv)


if __name__ == "__main__":
    main()

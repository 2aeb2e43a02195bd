"""L1 and L2 regularisation (seed 001, "正则化" / weight decay).

The course's MLP on the digits (``--data-dir`` for the full MNIST) trained three ways with the same optimizer (SGD,
momentum 0.9): plain, with an L2 penalty (``l2 / 2 · Σw²``, which for SGD is
``SGD(weight_decay=l2)``) and with an L1 penalty (``l1 · Σ|w|``), over the weight matrices.
The objective is ``regularized(objective, l1=, l2=)``'s sum with the two coefficients read
from the train state (its ``model_state``) instead of compiled in as constants, so the
three runs share one step and its compiled programs. L1's constant pull towards zero
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
from jaxbasics.regularizers import fraction_small, l1_penalty, l2_penalty, weights_only
from jaxbasics.train import Step, init_state, make_step

LEARNING_RATE, MOMENTUM, BATCH, EPOCHS = 0.05, 0.9, 64, 30
PENALTIES = {"plain": {}, "L2": {"l2": 1e-3}, "L1": {"l1": 5e-4}}
THRESHOLD = 1e-3


def objective(params, batch, coefficients, key):
    """The MLP's cross-entropy + l1·Σ|w| + l2/2·Σw² over the weight matrices (what
    ``regularized(_mlp.objective, l1=, l2=, only=weights_only)`` computes), the
    coefficients {"l1", "l2"} () float32 from the state."""
    penalty = (coefficients["l1"] * l1_penalty(params, weights_only)
               + 0.5 * coefficients["l2"] * l2_penalty(params, weights_only))
    return _mlp.objective(params, batch) + penalty, (coefficients, {})


def make(args) -> Step:
    """SGD with momentum on :func:`objective`: one step for the three penalties."""
    return make_step(objective, optim.make("sgd", args.lr, momentum=MOMENTUM), stateful=True,
                     metrics=_mlp.mlp_metrics(stateful=True))


def train_one(args, step: Step, name: str, penalty: dict, train, key, *, epochs: int):
    """The MLP trained with ``penalty`` ({"l1": ...} or {"l2": ...} or none); (state,
    history)."""
    k_init, k_shuffle = _cli.keys(key, 2)
    coefficients = {c: np.float32(penalty.get(c, 0.0)) for c in ("l1", "l2")}
    state = init_state(init_mlp(k_init), step, model_state=coefficients)
    return _cli.train(args, step, state, train, epochs=epochs, batch_size=args.batch_size,
                      key=k_shuffle, name=name, learning_rate=args.lr)


def body(args) -> _cli.Outcome:
    data, _, source = _data.data(args, quick_sizes=(1500, 1))
    epochs = args.epochs or (6 if args.quick else EPOCHS)
    k_split, key = _cli.keys(args.seed, 2)
    train, val = train_val_split(data, 0.2, k_split)
    result, curves = {}, {}
    step = make(args)
    for name, penalty in PENALTIES.items():
        state, history = train_one(args, step, name, penalty, train, key, epochs=epochs)
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

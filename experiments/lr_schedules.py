"""Momentum and learning-rate schedules (seed 001, "动量" and "learning rate decay").

The course's MLP on the digits (``--data-dir`` for the full MNIST), SGD. First momentum 0 / 0.78 / 0.9 at a fixed
rate; then, at momentum 0.9, a constant rate, step decay (``StepLR(step_size, gamma)`` as
an Optax schedule) and reduce-on-plateau (``optax.contrib.reduce_on_plateau``, which reads
the loss the engine passes as ``value=`` and acts once per epoch here). The plateau
factor is recorded after every epoch by an ``on_epoch`` callback and must fall once the
loss stalls. All curves go on one figure.

Note: Optax's plateau rule measures improvement relative to the best loss, which is
ill-defined for negative losses (an open Optax problem); cross-entropy is >= 0.
"""

from __future__ import annotations

import optax

from experiments import _cli, _data, _mlp
from jaxbasics import optim, plots
from jaxbasics.data import num_batches
from jaxbasics.models import init_mlp
from jaxbasics.schedules import plateau_scale, step_decay, with_plateau
from jaxbasics.train import init_state, make_step

LEARNING_RATE, BATCH, EPOCHS = 0.02, 64, 40
MOMENTA = (0.0, 0.78, 0.9)


def run(args, name: str, tx, train, val, key, *, epochs: int, record_scale: bool = False):
    """Train the MLP with ``tx``; returns (per-epoch train loss, per-epoch val loss, scales)."""
    k_init, k_shuffle = _cli.keys(key, 2)
    scales: list[float] = []

    def on_epoch(epoch, state):
        if record_scale:
            scales.append(plateau_scale(state.opt_state))
        return {"val_loss": step.evaluate(state, val, 500)["loss"]}

    step = make_step(_mlp.objective, tx, metrics=_mlp.mlp_metrics())
    state, history = _cli.train(args, step, init_state(init_mlp(k_init), step), train,
                                epochs=epochs, batch_size=args.batch_size, key=k_shuffle,
                                on_epoch=on_epoch, name=name)
    per_epoch = history.loss.reshape(len(history.epochs), -1).mean(axis=1)
    return per_epoch.tolist(), [e["val_loss"] for e in history.epochs], scales


def body(args) -> _cli.Outcome:
    data, val, source = _data.data(args, quick_sizes=(1000, 500))
    epochs = args.epochs or (10 if args.quick else EPOCHS)
    (key,) = _cli.keys(args.seed, 1)
    lr, spe = args.lr, num_batches(len(data[1]), args.batch_size)
    curves, result = {}, {}
    for m in MOMENTA:
        # torch.optim.SGD(lr, momentum=m) is optax.sgd's trace (m = 0: b = g). With the
        # momentum injected as a number in the optimizer state, the three runs are one
        # program (compiled once, then the persistent cache's hits).
        tx = optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=m)
        tr, va, _ = run(args, f"momentum{m}", tx, data, val, key, epochs=epochs)
        curves[f"momentum {m}"] = tr
        result[f"momentum={m}"] = {"final_train_loss": tr[-1], "final_val_loss": va[-1]}
    schedules = {
        "step decay": optim.make("sgd", step_decay(lr * 5, step_size=3, gamma=0.3,
                                                   steps_per_epoch=spe), momentum=0.9),
        # A cut once an epoch's mean loss improves on the best by less than 20 %: with 10 %
        # the short --quick runs (1,000 digits, still falling fast) cut on some seeds only.
        "plateau": with_plateau(optim.make("sgd", lr * 5, momentum=0.9),
                                factor=0.3, patience=0, rtol=0.2, accumulation_size=spe),
    }
    scales = []
    for name, tx in schedules.items():
        tr, va, sc = run(args, name.replace(" ", "_"), tx, data, val, key, epochs=epochs,
                         record_scale=name == "plateau")
        curves[f"{name} (momentum 0.9)"] = tr
        result[name] = {"final_train_loss": tr[-1], "final_val_loss": va[-1]}
        if sc:
            scales = sc
    rate = [lr * 5 * s for s in scales]
    first_cut = next((i for i, s in enumerate(scales) if s < 1.0), None)
    result["plateau"].update({"rate_per_epoch": rate, "first_cut_epoch": first_cut})
    figure = plots.curves(args.out / "schedules.png", curves, xlabel="epoch",
                          ylabel="mean training loss", logy=True,
                          title="momentum and learning-rate schedules")
    ok = (first_cut is not None and rate[-1] < rate[0]
          and all(b <= a for a, b in zip(rate, rate[1:]))
          and result["momentum=0.9"]["final_train_loss"]
          < result["momentum=0.0"]["final_train_loss"])
    reference = {"momenta": list(MOMENTA)}
    return _cli.Outcome(result, reference, bool(ok), data_source=source, figures=[figure])


def add_arguments(p) -> None:
    _data.add_arguments(p)
    _cli.add_training_arguments(
        p, lr=LEARNING_RATE, batch_size=BATCH, epochs_help=f"default {EPOCHS} (quick: 10)",
        lr_help=f"default {LEARNING_RATE} (the schedules start at 5 times it)")


def main(argv=None) -> dict:
    return _cli.run("lr_schedules", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

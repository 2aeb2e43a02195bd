"""Batch vs mini-batch gradient descent (seed 000 §2.2.4) on seed 000's regression.

The data, model and optimizer of ``linear_regression``: 256 points x ~ U[0, 1),
y = 5x + 7 + N(0, 1)/4, ``Linear(1, 1)``, MSE, SGD lr 0.01. From the same initial parameters
and with the same shuffling key, batches of 256 (the full batch: one update per epoch), 64,
10 and 1 (the seed advises powers of two; 10 is the course's usual DataLoader size) train
for the same number of epochs, all through ``train.fit``; the last partial batch is dropped
(batch 10 sees 250 points an epoch). lr 0.01 is stable for every batch size, so all use it.

Recorded: the loss of every update (on its own batch, before the update) and the full-data
MSE after each epoch. The result, per batch size: the epochs (and updates) until the
full-data MSE is within ``TOL`` of the closed-form least-squares MSE, the final MSE, and the
noise (std of the per-update loss over the last epoch). One figure, two panels: cost per
update and excess cost per epoch, log-log.

The runs make 858,000 updates (286,000 with --quick), batch 1 nearly all of them: ``fused``
takes seconds, ``jit`` (≈ 35 µs an update) about 35 s, ``eager`` (≈ 1.5 ms) about 20 min.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments import _cli
from experiments.linear_regression import (LEARNING_RATE, least_squares, make, objective,
                                           problem)
from jaxbasics import plots
from jaxbasics.train import Step, fit, init_state

N, BATCHES = 256, (256, 64, 10, 1)
# "Reached the minimum": full-data MSE - least-squares MSE < TOL. Full batch needs 230-2110
# epochs for 1e-3 and 170-960 for 2e-2 (seeds 0-11); --quick uses the looser tolerance.
EPOCHS, QUICK_EPOCHS, TOL, QUICK_TOL = 3000, 1000, 1e-3, 2e-2
NEAR = 1e-2  # "ends near it" (or TOL if larger): batch 1's excess at lr 0.01 is ≈ 5e-4, ≤ 7e-3
COLUMNS = ("epochs_to_min", "updates_to_min", "final_mse", "noise")


def train(step: Step, batch_size: int, seed: int, *, epochs: int, mode: str = "fused",
          args=None):
    """One run from ``seed``'s initial parameters and data (x, y: (256, 1) float32).

    Returns (per_update, per_epoch): (epochs * (256 // batch_size),) the batch loss before
    each update and (epochs,) the full-data MSE after each epoch. With the command line's
    ``args``, through ``_cli.train`` (its mode, checkpoints, Ctrl-C, progress).
    """
    params, data = problem(seed)
    full_mse = jax.jit(objective)
    kwargs = dict(epochs=epochs, batch_size=batch_size, key=_cli.keys(seed, 3)[2],
                  on_epoch=lambda epoch, s: {"mse": float(full_mse(s.params, data))})
    if args is None:
        _, history = fit(step, init_state(params, step), data, mode=mode, **kwargs)
    else:
        _, history = _cli.train(args, step, init_state(params, step), data,
                                name=f"batch{batch_size}", learning_rate=args.lr, **kwargs)
    return history.loss, np.array([e["mse"] for e in history.epochs])


def epochs_to(per_epoch: np.ndarray, least: float, tol: float) -> int | None:
    """The first epoch (1-based) whose full-data MSE is within ``tol`` of ``least``."""
    hits = np.flatnonzero(per_epoch - least < tol)
    return int(hits[0]) + 1 if hits.size else None


def figure(path, runs: dict, least: float, tol: float):
    """Cost per update (left, ≈ 4000 log-spaced updates a curve) and full-data MSE - least
    squares per epoch (right), log-log; ``runs`` maps batch size -> ``train``'s pair."""
    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for c, (b, (per_update, per_epoch)) in reversed(list(enumerate(runs.items()))):
        label = f"batch {b}" + (" (full)" if b == N else "")  # the noisiest drawn first
        i = np.unique(np.geomspace(1, len(per_update), 4000).astype(int)) - 1  # thinned
        left.plot(i + 1, per_update[i], f"C{c}", lw=0.6, alpha=0.8, label=label)
        right.plot(np.arange(1, len(per_epoch) + 1), np.maximum(per_epoch - least, 1e-9),
                   f"C{c}", lw=1.2, label=label)
    right.axhline(tol, color="k", ls="--", lw=0.8, label=f"tolerance {tol:g}")
    left.set(xscale="log", yscale="log", ylim=(1e-4, None), xlabel="update",
             ylabel="loss on the update's batch", title="cost per update")
    right.set(xscale="log", yscale="log", ylim=(1e-7, None), xlabel="epoch",
              ylabel="full-data MSE - least squares",
              title=f"cost per epoch (least-squares MSE {least:.4f})")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return plots._save(fig, path)


def body(args) -> _cli.Outcome:
    epochs, tol = (QUICK_EPOCHS, QUICK_TOL) if args.quick else (EPOCHS, TOL)
    epochs = args.epochs or epochs
    least = least_squares(*problem(args.seed)[1])[2]
    step = make(args.lr)
    runs = {b: train(step, b, args.seed, epochs=epochs, args=args) for b in BATCHES}
    result = {k: {} for k in COLUMNS}
    for b, (per_update, per_epoch) in runs.items():
        reached = epochs_to(per_epoch, least, tol)
        result["epochs_to_min"][str(b)] = reached
        result["updates_to_min"][str(b)] = None if reached is None else reached * (N // b)
        result["final_mse"][str(b)] = float(per_epoch[-1])
        result["noise"][str(b)] = float(np.std(per_update[-(N // b):]))
    result.update(least_squares_mse=least, tolerance=tol, epochs=epochs)
    print(_cli.table([[str(b), N // b] + [result[k][str(b)] for k in COLUMNS] for b in BATCHES],
                     ["batch", "updates/epoch", "epochs to min", "updates to min", "final MSE",
                      "noise"]))
    reach, noise = ([result[k][str(b)] for b in BATCHES] for k in ("epochs_to_min", "noise"))
    ok = (None not in reach and all(a > b for a, b in zip(reach, reach[1:]))  # full batch first
          and all(a < b for a, b in zip(noise, noise[1:]))  # noisier as the batch shrinks
          and all(v - least < max(tol, NEAR) for v in result["final_mse"].values()))
    fig = figure(args.out / "minibatch_gd.png", runs, least, tol)
    reference = {"epochs_to_min": "fewer for smaller batches: 1 < 10 < 64 < 256",
                 "final_mse": {str(b): least for b in BATCHES}}
    return _cli.Outcome(result, reference, bool(ok), figures=[fig])


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE,
                                epochs_help=f"default {EPOCHS} (quick: {QUICK_EPOCHS}); the batch "
                                            f"sizes compared are {', '.join(map(str, BATCHES))}")


def main(argv=None) -> dict:
    return _cli.run("minibatch_gd", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""Linear regression, the concise way (seed 003, d2l 3.3): library parts only.

The same data as ``linreg_scratch``; a Flax NNX ``Linear(2, 1)`` (weight N(0, 0.01), bias 0)
in place of ``nn.Sequential(nn.Linear(2, 1))``; ``MSELoss`` (mean); ``optax.sgd(0.03)``;
minibatches of 10; 3 epochs.
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from experiments import _cli, linreg_scratch
from experiments._workload import Workload
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.data import synthetic_data
from jaxbasics.nn import build, functional
from jaxbasics.train import Step, fit, init_state, make_step

LEARNING_RATE, BATCH_SIZE, EPOCHS = 0.03, 10, 3


def make_model(key) -> nnx.Linear:
    """``nn.Linear(2, 1)`` with d2l's init: weight.data.normal_(0, 0.01), bias.data.fill_(0)."""
    return nnx.Linear(2, 1, kernel_init=nnx.initializers.normal(0.01),
                      bias_init=nnx.initializers.zeros_init(), rngs=nnx.Rngs(key))


def make(apply, learning_rate: float = LEARNING_RATE, *,
         quick_compile: bool | None = None) -> Step:
    """nn.MSELoss() of the NNX layer's ``apply`` and ``optax.sgd(0.03)``, compiled as
    ``linreg_scratch.make`` explains."""
    def objective(params, batch):
        x, y = batch  # x: (b, 2), y: (b, 1)
        return losses.mse(apply(params, x), y)
    return make_step(objective, optim.make("sgd", learning_rate), quick_compile=quick_compile)


def _draws(k_data, k_init, k_shuffle):
    return synthetic_data(k_data, linreg_scratch.TRUE_W, linreg_scratch.TRUE_B, n=1000), k_init, k_shuffle


def problem(seed: int, learning_rate: float = LEARNING_RATE, *,
            quick_compile: bool | None = None):
    """(step, the NNX layer's parameters, data, shuffling key) for a seed."""
    data, k_init, k_shuffle = _cli.seeded(_draws, seed, 3)
    apply, params = functional(build(lambda: make_model(k_init)))
    return make(apply, learning_rate, quick_compile=quick_compile), params, data, k_shuffle


def body(args) -> _cli.Outcome:
    step, params, data, key = problem(args.seed, args.lr)
    epoch_losses: list[float] = []
    full_mse = jit_once(lambda params: step.objective(params, data))  # a tiny program

    def on_epoch(epoch, state):
        loss = float(full_mse(state.params))
        epoch_losses.append(loss)
        print(f"epoch {epoch + 1}, loss {loss:f}")
        return {"loss": loss}

    state, history = _cli.train(args, step, init_state(params, step), data, epochs=args.epochs,
                                batch_size=args.batch_size, key=key, on_epoch=on_epoch,
                                learning_rate=args.lr)
    w = np.asarray(state.params["kernel"][...]).reshape(-1)
    b = float(np.asarray(state.params["bias"][...])[0])
    w_error = np.asarray(linreg_scratch.TRUE_W) - w
    b_error = linreg_scratch.TRUE_B - b
    print(f"w的估计误差: {w_error}")
    print(f"b的估计误差: {b_error}")
    figure = plots.curves(args.out / "loss.png", {"batch MSE": history.loss}, logy=True,
                          title="d2l linear regression, concise (Flax NNX + Optax)")
    result = {"epoch_3_loss": epoch_losses[-1], "w_error_max": float(np.max(np.abs(w_error))),
              "b_error": abs(b_error), "epoch_losses": epoch_losses}
    # MSE has no 1/2: its floor is the noise variance 0.01² = 1e-4 itself (twice the
    # scratch loss's), which an epoch-3 loss straddles from draw to draw.
    ok = (epoch_losses[-1] < 1.5e-4 and np.max(np.abs(w_error)) < 5e-3 and abs(b_error) < 5e-3
          ) or (args.lr, args.batch_size, args.epochs) != (LEARNING_RATE, BATCH_SIZE, EPOCHS)
    reference = {"epoch_3_loss": "≈ 1e-4 (the noise variance)", "w_error_max": 1e-3,
                 "b_error": 1e-3}
    return _cli.Outcome(result, reference, bool(ok), figures=[figure])


def workloads(quick: bool) -> list[Workload]:
    """3 epochs of 100 minibatches for ``experiments.jit_vs_eager``, compiled by the full
    pipeline (the steady state; see ``linreg_scratch.workloads``)."""
    step, params, data, key = problem(0, quick_compile=False)

    def run(mode: str, epochs: int) -> float:
        return fit(step, init_state(params, step), data, epochs=epochs, batch_size=BATCH_SIZE, key=key,
                   mode=mode)[1].loss[-1]

    return [Workload("d2l linear regression concise (NNX), batches of 10", run, 1 if quick else EPOCHS,
                     torch=_cli.torch_original("linreg_concise"))]


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE, batch_size=BATCH_SIZE, epochs=EPOCHS)


def main(argv=None) -> dict:
    return _cli.run("linreg_concise", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

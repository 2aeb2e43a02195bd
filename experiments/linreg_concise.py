"""Linear regression, the concise way (seed 003, d2l 3.3): library parts only.

The same data as ``linreg_scratch``; a Flax NNX ``Linear(2, 1)`` (weight N(0, 0.01), bias 0)
in place of ``nn.Sequential(nn.Linear(2, 1))``; ``MSELoss`` (mean); ``optax.sgd(0.03)``;
minibatches of 10; 3 epochs.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from experiments import _cli, linreg_scratch
from jaxbasics import losses, optim, plots
from jaxbasics.bench import Workload
from jaxbasics.data import synthetic_data
from jaxbasics.nn import functional
from jaxbasics.train import fit, init_state, make_step

LEARNING_RATE, BATCH_SIZE, EPOCHS = 0.03, 10, 3


def make_model(seed: int) -> nnx.Linear:
    """``nn.Linear(2, 1)`` with d2l's init: weight.data.normal_(0, 0.01), bias.data.fill_(0)."""
    return nnx.Linear(2, 1, kernel_init=nnx.initializers.normal(0.01),
                      bias_init=nnx.initializers.zeros_init(), rngs=nnx.Rngs(seed))


# The module's structure is fixed; only its parameters are trained.
APPLY, _ = functional(make_model(0))
OPTIMIZER = optim.make("sgd", LEARNING_RATE)


def objective(params, batch):
    """nn.MSELoss() of the NNX linear layer on a batch (x: (b, 2), y: (b, 1))."""
    x, y = batch
    return losses.mse(APPLY(params, x), y)


STEP = make_step(objective, OPTIMIZER)


def problem(key):
    """The initial state, the data and the shuffling key for a seed."""
    k_data, k_init, k_shuffle = jax.random.split(key, 3)
    data = synthetic_data(k_data, linreg_scratch.TRUE_W, linreg_scratch.TRUE_B, n=1000)
    _, params = functional(make_model(int(jax.random.randint(k_init, (), 0, 2**31 - 1))))
    return init_state(params, OPTIMIZER), data, k_shuffle


def body(args) -> _cli.Outcome:
    state, data, key = problem(jax.random.key(args.seed))
    epoch_losses: list[float] = []

    def on_epoch(epoch, state):
        loss = float(objective(state.params, data))
        epoch_losses.append(loss)
        print(f"epoch {epoch + 1}, loss {loss:f}")
        return {"loss": loss}

    state, history = fit(STEP, state, data, epochs=EPOCHS, batch_size=BATCH_SIZE, key=key,
                         mode=args.mode, on_epoch=on_epoch)
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
    ok = epoch_losses[-1] < 1e-4 and np.max(np.abs(w_error)) < 5e-3 and abs(b_error) < 5e-3
    reference = {"epoch_3_loss": 1e-4, "w_error_max": 1e-3, "b_error": 1e-3}
    return _cli.Outcome(result, reference, bool(ok), figures=[figure])


def workloads(quick: bool) -> list[Workload]:
    """3 epochs of 100 minibatches for ``experiments.jit_vs_eager``."""
    state, data, key = problem(jax.random.key(0))

    def run(mode: str, epochs: int) -> float:
        return fit(STEP, state, data, epochs=epochs, batch_size=BATCH_SIZE, key=key,
                   mode=mode)[1].loss[-1]

    return [Workload("d2l linear regression concise (NNX), batches of 10", run, 1 if quick else EPOCHS,
                     torch=_cli.torch_original("linreg_concise"))]


def main(argv=None) -> dict:
    return _cli.run("linreg_concise", __doc__, body, argv)


if __name__ == "__main__":
    main()

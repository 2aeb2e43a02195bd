"""Linear regression from scratch (seed 003, d2l 3.2).

w = [2, -3.4], b = 4.2, 1000 samples with noise 0.01; shuffled minibatches of 10;
w ~ N(0, 0.01), b = 0; squared loss (ŷ - y)²/2 summed over the batch; the hand-written
``sgd`` (param -= lr·grad/batch_size) as an Optax transformation; lr 0.03; 3 epochs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from experiments._workload import Workload
from jaxbasics import losses, optim, plots
from jaxbasics.data import synthetic_data
from jaxbasics.train import Step, fit, init_state, make_step

TRUE_W, TRUE_B = (2.0, -3.4), 4.2
LEARNING_RATE, BATCH_SIZE, EPOCHS = 0.03, 10, 3
REFERENCE = {"epoch_3_loss": 5e-5, "w_error_max": 1e-3, "b_error": 1e-3}


def linreg(params, x):
    """d2l's ``linreg``: X @ w + b; x: (n, 2), w: (2, 1), b: (1,) -> (n, 1)."""
    return x @ params["w"] + params["b"]


def objective(params, batch):
    """d2l's ``l.sum()``: the summed squared loss of the batch (the sgd divides by its size)."""
    x, y = batch
    return jnp.sum(losses.squared_loss(linreg(params, x), y))


@jax.jit
def full_loss(params, data):
    """The epoch's reported loss: mean squared loss over all the data."""
    x, y = data
    return jnp.mean(losses.squared_loss(linreg(params, x), y))


def make() -> Step:
    """d2l's step: the summed squared loss and the hand-written minibatch sgd."""
    return make_step(objective, optim.minibatch_sgd(LEARNING_RATE, BATCH_SIZE))


@jax.jit
def init_params(key):
    """d2l's init: w ~ N(0, 0.01) (2, 1), b = 0 (1,)."""
    return {"w": 0.01 * jax.random.normal(key, (2, 1)), "b": jnp.zeros((1,))}


def problem(seed: int):
    """(step, initial parameters, data, shuffling key) for a seed."""
    k_data, k_init, k_shuffle = _cli.keys(seed, 3)
    data = synthetic_data(k_data, TRUE_W, TRUE_B, n=1000, noise=0.01)
    return make(), init_params(k_init), data, k_shuffle


def report_epoch(data, epoch_losses):
    """An ``on_epoch`` hook that prints d2l's line and records the full-data loss."""
    def on_epoch(epoch, state):
        loss = float(full_loss(state.params, data))
        epoch_losses.append(loss)
        print(f"epoch {epoch + 1}, loss {loss:f}")
        return {"loss": loss}
    return on_epoch


def body(args) -> _cli.Outcome:
    step, params, data, key = problem(args.seed)
    epoch_losses: list[float] = []
    state, history = fit(step, init_state(params, step), data, epochs=EPOCHS, batch_size=BATCH_SIZE, key=key,
                         mode=args.mode, on_epoch=report_epoch(data, epoch_losses))
    w_error = np.asarray(TRUE_W) - np.asarray(state.params["w"]).reshape(-1)
    b_error = TRUE_B - float(np.asarray(state.params["b"])[0])
    print(f"w的估计误差: {w_error}")
    print(f"b的估计误差: {b_error}")
    figure = plots.curves(args.out / "loss.png", {"batch loss (sum of 10)": history.loss},
                          logy=True, title="d2l linear regression from scratch")
    result = {"epoch_3_loss": epoch_losses[-1], "w_error_max": float(np.max(np.abs(w_error))),
              "b_error": abs(b_error), "epoch_losses": epoch_losses}
    ok = epoch_losses[-1] < 1e-4 and np.max(np.abs(w_error)) < 5e-3 and abs(b_error) < 5e-3
    return _cli.Outcome(result, REFERENCE, bool(ok), figures=[figure])


def workloads(quick: bool) -> list[Workload]:
    """3 epochs of 100 minibatches for ``experiments.jit_vs_eager``."""
    step, params, data, key = problem(0)

    def run(mode: str, epochs: int) -> float:
        return fit(step, init_state(params, step), data, epochs=epochs, batch_size=BATCH_SIZE, key=key,
                   mode=mode)[1].loss[-1]

    return [Workload("d2l linear regression from scratch, batches of 10", run, 1 if quick else EPOCHS,
                     torch=_cli.torch_original("linreg_scratch"))]


def main(argv=None) -> dict:
    return _cli.run("linreg_scratch", __doc__, body, argv)


if __name__ == "__main__":
    main()

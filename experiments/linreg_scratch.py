"""Linear regression from scratch (seed 003, d2l 3.2), and the training step in plain sight.

w = [2, -3.4], b = 4.2, 1000 samples with noise 0.01; shuffled minibatches of 10;
w ~ N(0, 0.01), b = 0; squared loss (ŷ - y)²/2 summed over the batch; the hand-written
``sgd`` (param -= lr·grad/batch_size) as an Optax transformation; lr 0.03; 3 epochs.

The seed's PyTorch loop (d2l 3.2)::

    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)      # the minibatch's losses
            l.sum().backward()             # gradients of [w, b] into .grad
            sgd([w, b], lr, batch_size)    # param -= lr * param.grad / batch_size; grad.zero_()
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')

Its JAX twin is :func:`train_step` and :func:`train_by_hand` below: ``jax.value_and_grad``
(``l.sum().backward()``, but returning the gradients instead of storing them, so nothing
needs zeroing), ``optimizer.update`` (the ``sgd`` call, as an Optax transformation) and
``optax.apply_updates`` in one ``@jax.jit`` function, called from a Python loop over the
shuffled batches. The run trains the same model twice, by that loop and by the engine's
``fit`` (which runs the same step, fused into one compiled program per epoch), and checks
that both end with the same parameters.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _cli
from experiments._workload import Workload
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.data import epoch_indices, synthetic_data
from jaxbasics.train import Step, fit, init_state, make_step

TRUE_W, TRUE_B = (2.0, -3.4), 4.2
LEARNING_RATE, BATCH_SIZE, EPOCHS = 0.03, 10, 3
N = 1000  # examples
REFERENCE = {"epoch_3_loss": 5e-5, "w_error_max": 1e-3, "b_error": 1e-3}


def linreg(params, x):
    """d2l's ``linreg``: X @ w + b; x: (n, 2), w: (2, 1), b: (1,) -> (n, 1)."""
    return x @ params["w"] + params["b"]


def objective(params, batch):
    """d2l's ``l.sum()``: the summed squared loss of the batch (the sgd divides by its size)."""
    x, y = batch
    return jnp.sum(losses.squared_loss(linreg(params, x), y))


def full_loss(params, data) -> float:
    """The epoch's reported loss: mean squared loss (ŷ - y)²/2 over all the data, in NumPy
    (a number to print, not to differentiate: nothing to compile)."""
    x, y = (np.asarray(a) for a in data)
    residual = x @ np.asarray(params["w"]) + np.asarray(params["b"]) - y
    return float(np.mean(residual**2) / 2)


def make(learning_rate: float = LEARNING_RATE, batch_size: int = BATCH_SIZE, *,
         quick_compile: bool | None = None) -> Step:
    """d2l's step: the summed squared loss and the hand-written minibatch sgd. The engine
    compiles a whole default run (300 steps of 10 examples, estimated well under 30 ms)
    with XLA's quick CPU pipeline (fused: 0.08 s to compile instead of 0.2 s, 0.6 ms to
    run instead of 0.4 ms); ``quick_compile=False`` forces the full one (the benchmark's
    steady state)."""
    return make_step(objective, optim.minibatch_sgd(learning_rate, batch_size),
                     quick_compile=quick_compile)


# --- The step in plain sight: what ``make`` and ``fit`` do, written out. ---------------

def make_train_step(optimizer: optax.GradientTransformation):
    """The seed's loop body as one compiled function:
    ``train_step(params, opt_state, batch) -> (params, opt_state, loss)``. It is
    ``jax.jit(train_step)`` compiled, like :func:`make`'s step, by XLA's quick CPU pipeline
    (``jit_once``: 300 steps of 10 examples run in less time than optimising would take)."""
    @jit_once
    def train_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(objective)(params, batch)   # l.sum().backward()
        updates, opt_state = optimizer.update(grads, opt_state, params)  # sgd(...)
        params = optax.apply_updates(params, updates)                  # param += update
        return params, opt_state, loss
    return train_step


@functools.partial(jit_once, static_argnames=("epochs", "n", "batch_size"))
def epoch_orders(key, *, epochs: int, n: int, batch_size: int):
    """d2l's ``data_iter`` order for epochs 0 .. epochs - 1: (epochs, n // batch_size,
    batch_size) int32 indices, the shuffle ``fit`` uses (epoch ``e``: ``fold_in(key, e)``),
    so both loops see the same batches."""
    return jax.vmap(lambda e: epoch_indices(jax.random.fold_in(key, e), n, batch_size))(
        jnp.arange(epochs))


def train_by_hand(params, data, orders, *, learning_rate: float = LEARNING_RATE,
                  verbose: bool = True):
    """The seed's Python loop over epochs and batches around :func:`make_train_step`;
    ``orders`` from :func:`epoch_orders`, one epoch per row. Returns the final parameters.
    Batches are cut on the host (numpy), so the loop compiles the step, nothing else."""
    orders = np.asarray(orders)
    batch_size = orders.shape[-1]
    optimizer = optim.minibatch_sgd(learning_rate, batch_size)
    train_step = make_train_step(optimizer)
    opt_state = optimizer.init(params)
    x, y = (np.asarray(a) for a in data)
    for epoch, order in enumerate(orders):
        for rows in order:
            params, opt_state, loss = train_step(params, opt_state, (x[rows], y[rows]))
        if verbose:
            print(f"epoch {epoch + 1}, loss {float(full_loss(params, data)):f}  (by hand)")
    return params


def init_params(key):
    """d2l's init: w ~ N(0, 0.01) (2, 1), b = 0 (1,)."""
    return {"w": 0.01 * jax.random.normal(key, (2, 1)), "b": jnp.zeros((1,))}


def _draws(k_data, k_init, k_shuffle, epochs: int, batch_size: int):
    data = synthetic_data(k_data, TRUE_W, TRUE_B, n=N, noise=0.01)
    orders = epoch_orders(k_shuffle, epochs=epochs, n=N, batch_size=batch_size)
    return init_params(k_init), data, k_shuffle, orders


def problem(seed: int, *, quick_compile: bool | None = None):
    """(step, initial parameters, data, shuffling key) for a seed; the data and the
    parameters are drawn by one compiled program."""
    params, data, key, _ = _cli.seeded(_draws, seed, 3, 0, BATCH_SIZE)
    return make(quick_compile=quick_compile), params, data, key


def report_epoch(data, epoch_losses):
    """An ``on_epoch`` hook that prints d2l's line and records the full-data loss."""
    def on_epoch(epoch, state):
        loss = float(full_loss(state.params, data))
        epoch_losses.append(loss)
        print(f"epoch {epoch + 1}, loss {loss:f}")
        return {"loss": loss}
    return on_epoch


def body(args) -> _cli.Outcome:
    lr, bs, epochs = args.lr, args.batch_size, args.epochs
    if bs > N:
        raise _cli.UsageError(f"argument --batch-size: {bs} is more than the {N} examples")
    # The data, the parameters and the by-hand loop's batch orders: one compiled program.
    params, data, key, orders = _cli.seeded(_draws, args.seed, 3, epochs, bs)
    by_hand = train_by_hand(params, data, orders, learning_rate=lr)
    step = make(lr, bs)
    epoch_losses: list[float] = []
    state, history = _cli.train(args, step, init_state(params, step), data, epochs=epochs,
                                batch_size=bs, key=key, on_epoch=report_epoch(data, epoch_losses),
                                learning_rate=lr)
    gap = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
              for a, b in zip(jax.tree.leaves(by_hand), jax.tree.leaves(state.params)))
    print(f"the loop by hand and fit: largest parameter difference {gap:.2g}")
    w_error = np.asarray(TRUE_W) - np.asarray(state.params["w"]).reshape(-1)
    b_error = TRUE_B - float(np.asarray(state.params["b"])[0])
    print(f"w的估计误差: {w_error}")
    print(f"b的估计误差: {b_error}")
    figure = plots.curves(args.out / "loss.png", {f"batch loss (sum of {bs})": history.loss},
                          logy=True, title="d2l linear regression from scratch")
    final = epoch_losses[-1] if epoch_losses else float("nan")
    result = {"epoch_3_loss": final, "w_error_max": float(np.max(np.abs(w_error))),
              "b_error": abs(b_error), "epoch_losses": epoch_losses,
              "by_hand_vs_fit_max_difference": gap}
    seed_setting = (lr, bs, epochs) == (LEARNING_RATE, BATCH_SIZE, EPOCHS)
    ok = gap < 1e-5 and (not seed_setting or (
        final < 1e-4 and np.max(np.abs(w_error)) < 5e-3 and abs(b_error) < 5e-3))
    return _cli.Outcome(result, REFERENCE, bool(ok), figures=[figure])


def workloads(quick: bool) -> list[Workload]:
    """3 epochs of 100 minibatches for ``experiments.jit_vs_eager``, compiled by the full
    pipeline: the benchmark times the loop's steady state (the experiment compiles quick)."""
    step, params, data, key = problem(0, quick_compile=False)

    def run(mode: str, epochs: int) -> float:
        return fit(step, init_state(params, step), data, epochs=epochs, batch_size=BATCH_SIZE, key=key,
                   mode=mode)[1].loss[-1]

    return [Workload("d2l linear regression from scratch, batches of 10", run, 1 if quick else EPOCHS,
                     torch=_cli.torch_original("linreg_scratch"))]


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE, batch_size=BATCH_SIZE, epochs=EPOCHS)


def main(argv=None) -> dict:
    return _cli.run("linreg_scratch", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

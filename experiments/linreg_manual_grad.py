"""Linear regression with hand-written gradients (seed 001 §6) against ``jax.grad``.

The seed's numpy program: ``compute_error(b, w, points)`` is the mean of (y - (w·x + b))²;
``step_gradient`` writes out ∂/∂b = -2/N Σ (y - (w·x + b)) and ∂/∂w = -2/N Σ x(y - (w·x + b))
and takes one step of lr 1e-4; ``gradient_descent_runner`` repeats it 1000 times from
b = w = 0. Here the 100 points are generated (x ~ U(0, 100), y = 1.5x + 4 + N(0, 10²))
instead of read from data.csv. The same run through ``jaxbasics.train.fit`` with
``optax.sgd(1e-4)`` and ``jax.grad`` of ``compute_error`` must give the same b and w.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from experiments._workload import Workload
from jaxbasics import optim, plots
from jaxbasics._once import jit_once
from jaxbasics.train import Step, fit, init_state, make_step

LEARNING_RATE, ITERATIONS, N = 1e-4, 1000, 100
QUICK_ITERATIONS = 1000  # the full run is already small


@jit_once(static_argnums=1)
def points(key, n: int = N):
    """(n, 2) float32 rows (x, y): x ~ U(0, 100), y = 1.5x + 4 + N(0, 10²)."""
    kx, kn = jax.random.split(key)
    x = jax.random.uniform(kx, (n,), minval=0.0, maxval=100.0)
    return jnp.stack([x, 1.5 * x + 4.0 + 10.0 * jax.random.normal(kn, (n,))], axis=1)


def compute_error(b, w, pts):
    """The seed's mean squared error of the line w·x + b over pts (n, 2) -> () float."""
    x, y = pts[:, 0], pts[:, 1]
    return jnp.mean((y - (w * x + b)) ** 2)


def hand_gradient(b, w, pts):
    """The seed's gradients written out: (∂E/∂b, ∂E/∂w), each () float."""
    x, y = pts[:, 0], pts[:, 1]
    r = y - (w * x + b)
    n = pts.shape[0]
    return -2.0 / n * jnp.sum(r), -2.0 / n * jnp.sum(x * r)


def step_gradient(b, w, pts, learning_rate):
    """One hand step: (b, w) - lr·(∂E/∂b, ∂E/∂w)."""
    gb, gw = hand_gradient(b, w, pts)
    return b - learning_rate * gb, w - learning_rate * gw


@jit_once
def gradient_descent_runner(pts, b0, w0, learning_rate, iterations: int = ITERATIONS):
    """The seed's loop as one compiled ``fori_loop``: ``iterations`` hand steps -> (b, w)."""
    return jax.lax.fori_loop(0, iterations, lambda _, bw: step_gradient(*bw, pts, learning_rate),
                             (b0, w0))


def objective(params, pts):
    return compute_error(params["b"], params["w"], pts)


def make(learning_rate: float = LEARNING_RATE, *, quick_compile: bool | None = None) -> Step:
    """The same descent with ``jax.grad``: the error as the objective, SGD lr 1e-4
    (``quick_compile``: see :class:`~jaxbasics.train.Step`)."""
    return make_step(objective, optim.make("sgd", learning_rate), quick_compile=quick_compile)


def with_autodiff(step: Step, pts, iterations: int = ITERATIONS, mode: str = "fused"):
    """The descent through train.fit from b = w = 0: (final params, loss history)."""
    state = init_state({"b": np.float32(0), "w": np.float32(0)}, step)
    state, history = fit(step, state, pts, epochs=iterations, mode=mode)
    return state.params, history.loss


@jit_once
def gradients_at_zero(pts):
    """The error at b = w = 0 and its gradient by hand and by jax.grad, each (2,)."""
    zero = jnp.zeros(())
    return (compute_error(zero, zero, pts), jnp.stack(hand_gradient(zero, zero, pts)),
            jnp.stack(jax.grad(compute_error, argnums=(0, 1))(zero, zero, pts)))


def body(args) -> _cli.Outcome:
    iterations = args.epochs or (QUICK_ITERATIONS if args.quick else ITERATIONS)
    pts = points(_cli.keys(args.seed, 1)[0])
    e0, g_hand, g_auto = (np.asarray(a) for a in gradients_at_zero(pts))
    e0 = float(e0)
    b, w = (float(v) for v in gradient_descent_runner(pts, np.float32(0), np.float32(0),
                                                      args.lr, iterations))
    step = make(args.lr)
    state, history = _cli.train(args, step, init_state({"b": np.float32(0), "w": np.float32(0)},
                                                       step), pts, epochs=iterations,
                                learning_rate=args.lr)
    params, history = state.params, history.loss
    pts = np.asarray(pts)
    x = pts[:, 0]
    e1 = float(np.mean((pts[:, 1] - (w * x + b)) ** 2))
    figure = plots.fit_line(args.out / "fit.png", x, pts[:, 1], w * x + b,
                            title=f"after {iterations} hand steps")
    curve = plots.curves(args.out / "error.png", {"compute_error": history}, logy=True,
                         title="error during gradient descent")
    grad_gap = float(np.max(np.abs(g_hand - g_auto) / np.abs(g_auto)))
    param_gap = max(abs(float(b) - float(params["b"])), abs(float(w) - float(params["w"])))
    result = {"initial_error": e0, "final_error": e1, "b": float(b), "w": float(w),
              "b_autodiff": float(params["b"]), "w_autodiff": float(params["w"]),
              "gradient_relative_gap": grad_gap, "parameter_gap": param_gap}
    ok = grad_gap < 1e-5 and param_gap < 1e-4 and e1 < e0 / 20 and abs(float(w) - 1.5) < 0.1
    return _cli.Outcome(result, {"w": 1.5, "gradient_relative_gap": 0.0, "parameter_gap": 0.0},
                        bool(ok), figures=[figure, curve])


def workloads(quick: bool) -> list[Workload]:
    """The seed's 1000 steps with jax.grad, for ``jit_vs_eager``, on XLA's full pipeline
    (the steady state; a default run compiles them quick)."""
    pts = points(_cli.keys(0, 1)[0])
    step = make(quick_compile=False)

    def run(mode: str, steps: int) -> float:
        return with_autodiff(step, pts, steps, mode)[1][-1]

    return [Workload("seed 001 §6 hand-gradient regression, 100 points", run,
                     200 if quick else ITERATIONS, unit="step",
                     eager_units=None if quick else 200)]


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE,
                                epochs_help=f"iterations, default {ITERATIONS} (the course's)")


def main(argv=None) -> dict:
    return _cli.run("linreg_manual_grad", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""Gradient descent in one dimension (seed 001 §4-5): minimise f(x) = x²·sin(x).

The update is the course's x' = x - lr·f'(x) (``optax.sgd``), with f' from ``jax.grad``,
from x0 = 3 for several learning rates. The local minimum near x ≈ 5.087 solves
f'(x) = 2x·sin x + x²·cos x = 0; a large learning rate jumps back and forth across it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _cli
from jaxbasics import plots
from jaxbasics._once import jit_once
from jaxbasics.train import fit, init_state, make_step

X0 = 3.0
LEARNING_RATES = (0.001, 0.005, 0.01, 0.03, 0.05)
STEPS, QUICK_STEPS = 1000, 1000
SMALL_LR = 0.01  # up to this rate the run must settle at the minimum


def f(x):
    """The course's loss x²·sin(x); x: () float32."""
    return x**2 * jnp.sin(x)


def objective(x, batch):
    """The sum of f over the points x (rates,): each point's gradient is its own f'."""
    del batch  # a function to minimise, no data
    values = f(x)
    return jnp.sum(values), {"x": x, "f": values}


@jit_once(static_argnums=(1,))
def local_minimum(x0: float = 5.0, iterations: int = 30):
    """The root of f' near x0 by Newton's method on f' (jax.grad twice), one program."""
    df, d2f = jax.grad(f), jax.grad(jax.grad(f))
    return jax.lax.fori_loop(0, iterations, lambda _, x: x - df(x) / d2f(x), jnp.float32(x0))


def descend(learning_rates, steps: int, mode: str = "fused"):
    """x' = x - lr·f'(x) from X0 for every rate at once: x holds one point per rate and the
    rates are a vector hyper-parameter of ``optax.sgd`` (``inject_hyperparams``), so the
    runs share one compiled program. Returns x from X0 to after the last update,
    (steps + 1, rates), and f(x) before each update, (steps, rates)."""
    optimizer = optax.inject_hyperparams(optax.sgd)(
        learning_rate=np.asarray(learning_rates, np.float32))
    step = make_step(objective, optimizer, has_aux=True)
    x0 = np.full(len(learning_rates), X0, np.float32)
    state, history = fit(step, init_state(x0, step), None, epochs=steps, mode=mode)
    return np.vstack([history.steps["x"], np.asarray(state.params)[None]]), history.steps["f"]


def body(args) -> _cli.Outcome:
    steps = args.epochs or (QUICK_STEPS if args.quick else STEPS)
    rates = tuple(args.lr)
    x_star = float(local_minimum(5.0, 30))
    result, paths = {"x_star": x_star}, {}
    ok = True
    f_np = lambda x: x**2 * np.sin(x)  # noqa: E731  (f for numpy arrays)
    print(f"f'(x) = 0 at x* = {x_star:.4f}, f(x*) = {f_np(x_star):.4f}")
    trajectories, _ = descend(rates, steps, args.mode)
    for i, lr in enumerate(rates):
        xs = trajectories[:, i]  # X0, then x after each update
        err = xs - x_star
        within = np.flatnonzero(np.abs(err) < 1e-3)
        crossings = int(np.sum(np.diff(np.sign(err[np.abs(err) > 1e-6])) != 0))
        result[f"lr={lr}"] = {"x_final": float(xs[-1]), "f_final": float(f_np(xs[-1])),
                              "steps_to_1e-3": int(within[0]) if within.size else None,
                              "crossings_of_x*": crossings}
        print(f"lr {lr:<6} x = {xs[-1]:.5f}  f(x) = {f_np(xs[-1]):.4f}  "
              f"crossings of x*: {crossings}")
        if lr <= SMALL_LR:
            ok &= abs(xs[-1] - x_star) < 1e-2
        paths[f"lr={lr}"] = (xs[:200], f_np(xs[:200]))
    grid = np.linspace(0, 8, 400)
    figure = plots.function_with_paths(args.out / "trajectories.png", grid, f_np(grid),
                                       paths, title="x' = x - lr·f'(x) on f = x²·sin x "
                                       "(first 200 steps)", x_star=x_star)
    large = result[f"lr={max(rates)}"]["crossings_of_x*"]
    small = result[f"lr={min(rates)}"]["crossings_of_x*"]
    ok &= large > small  # the large rate oscillates across the minimum, the small does not
    reference = {"x_star": 5.087, "note": "large lr oscillates around x*"}
    return _cli.Outcome(result, reference, bool(ok), data_source="none", figures=[figure])


def add_arguments(p) -> None:
    p.add_argument("--lr", type=_cli.positive_float, nargs="+", default=LEARNING_RATES,
                   metavar="RATE", help="the learning rates compared, default "
                   + " ".join(map(str, LEARNING_RATES)) + " (the seed's)")
    p.add_argument("--epochs", type=_cli.positive_int, default=None, metavar="N",
                   help=f"steps, default {STEPS}")


def main(argv=None) -> dict:
    return _cli.run("gradient_descent_1d", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""Himmelblau's function (seed 004, seed 001 §46): Adam from four starting points.

f(x, y) = (x² + y - 11)² + (x + y² - 7)²; the surface over [-6, 6)² in steps of 0.1;
Adam lr 1e-3 for 20000 steps from [0, 0], [1, 0], [-4, 0], [4, 0], logged every 2000 steps.
The four starts are one program: a (4, 2) parameter array, the objective summed over the
``vmap``ped rows. Adam is elementwise, so this is exactly four independent runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _cli
from experiments._workload import Workload
from jaxbasics import optim, plots
from jaxbasics.train import Step, fit, init_state, make_step

STARTS = ((0.0, 0.0), (1.0, 0.0), (-4.0, 0.0), (4.0, 0.0))
MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))
LEARNING_RATE, STEPS, LOG_EVERY = 1e-3, 20000, 2000
QUICK_LEARNING_RATE, QUICK_STEPS, QUICK_LOG_EVERY = 1e-2, 3000, 500


def himmelblau(p):
    """f at a point p: (2,) float32 -> () float32."""
    x, y = p[0], p[1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def objective(points, batch):
    """The sum of f over the starts (points: (k, 2)); records f of each start."""
    del batch
    values = jax.vmap(himmelblau)(points)
    return jnp.sum(values), {"f": values, "xy": points}


def make(learning_rate: float = LEARNING_RATE, optimizer: str = "adam") -> Step:
    """The seed's Adam step (or ``optim.make(optimizer)``) for a learning rate."""
    return make_step(objective, optim.make(optimizer, learning_rate), has_aux=True)


def initial_state(step: Step):
    """The four starting points (4, 2) float32 as a train state."""
    return init_state(np.asarray(STARTS, np.float32), step)


def nearest_minimum(point) -> int:
    return int(np.argmin(np.linalg.norm(np.asarray(MINIMA) - np.asarray(point), axis=1)))


def body(args) -> _cli.Outcome:
    lr, steps, every = ((QUICK_LEARNING_RATE, QUICK_STEPS, QUICK_LOG_EVERY) if args.quick
                        else (LEARNING_RATE, STEPS, LOG_EVERY))
    lr, steps = args.lr or lr, args.epochs or steps
    step = make(lr, args.optimizer)
    xs = np.arange(-6, 6, 0.1)
    X, Y = np.meshgrid(xs, xs)
    print("x,y range:", xs.shape, xs.shape)
    print("X,Y maps:", X.shape, Y.shape)
    Z = himmelblau(np.stack([X, Y]))  # numpy evaluates the same formula on the grid

    def on_log(event):
        for start, xy, fv in zip(STARTS, event.metrics["xy"], event.metrics["f"]):
            print(f"start {list(start)} step {event.step}: x_y = {xy}, f(x) = {fv}")

    state, history = _cli.train(args, step, initial_state(step), None, epochs=steps,
                                log_every=every, on_log=on_log, learning_rate=lr)
    final = np.asarray(state.params)
    f_final = himmelblau(final.T)  # numpy, at the final points
    result, ok = {}, True
    for start, point, fv in zip(STARTS, final, f_final):
        m = nearest_minimum(point)
        result[str(list(start))] = {"x_y": point.round(6).tolist(), "f": float(fv),
                                    "minimum": list(MINIMA[m])}
        ok &= bool(fv < 1e-6 and np.linalg.norm(point - np.asarray(MINIMA[m])) < 1e-3)
        print(f"from {list(start)} -> ({point[0]:.6f}, {point[1]:.6f}), f = {fv:.3g}, "
              f"minimum {MINIMA[m]}")
    paths = {f"from {list(s)}": np.concatenate([[s], history.steps["xy"][:, i]])
             for i, s in enumerate(STARTS)}
    figure = plots.surface_with_paths(args.out / "himmelblau.png", X, Y, Z, paths,
                                      title="Himmelblau")
    curve = plots.curves(args.out / "loss.png",
                         {f"from {list(s)}": history.steps["f"][:, i] + 1e-12
                          for i, s in enumerate(STARTS)}, logy=True, title="f during Adam")
    reference = {str(list(s)): {"f": 0.0, "minimum": list(MINIMA[m])}
                 for s, m in zip(STARTS, (0, 0, 2, 3))}
    return _cli.Outcome(result, reference, bool(ok), data_source="none",
                        figures=[figure, curve])


def workloads(quick: bool) -> list[Workload]:
    """The seed's 4 x 20000 Adam steps (as one vmapped program) for ``jit_vs_eager``."""
    step = make()

    def run(mode: str, steps: int) -> float:
        return fit(step, initial_state(step), None, epochs=steps, mode=mode)[1].loss[-1]

    return [Workload("Himmelblau, 4 starts x Adam steps", run, 500 if quick else STEPS,
                     unit="step", torch=_cli.torch_original("himmelblau"),
                     eager_units=None if quick else 1000)]


def add_arguments(p) -> None:
    _cli.add_training_arguments(
        p, lr=None, optimizer="adam", optimizers=("adam", "sgd", "rmsprop"),
        lr_help=f"default {LEARNING_RATE} (the seed's; quick: {QUICK_LEARNING_RATE})",
        epochs_help=f"steps from each start, default {STEPS} (the seed's; quick: "
                    f"{QUICK_STEPS})")


def main(argv=None) -> dict:
    return _cli.run("himmelblau", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

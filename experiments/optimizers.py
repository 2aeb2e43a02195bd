"""Optimizers compared (seed 001 §46, ``torch.optim``): SGD, momentum, RMSprop, Adam, AdamW, L-BFGS.

Two problems, every optimizer run through the one engine ``jaxbasics.train.fit``
(full batch, one compiled ``lax.scan`` in fused mode):

* linear regression, y = 2x - 3.4 + 0.01·noise on 256 points, MSE, params from zero;
* Himmelblau's function from (0, 0), whose minimum there is (3, 2) with f = 0.

The learning rates are each optimizer's usual one for the problem's scale (``RATES``);
L-BFGS uses its strong-Wolfe line search (PyTorch's ``line_search_fn="strong_wolfe"``).
Figures: loss against step on a log axis for each problem. The result ranks the optimizers
by final excess loss over the least attainable (ties broken by the first step under ``TOL``).
"""

from __future__ import annotations

import jax
import numpy as np

from experiments import _cli
from experiments._workload import Workload
from experiments.himmelblau import himmelblau
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.train import Step, fit, init_state, make_step

NAMES = ("sgd", "momentum", "rmsprop", "adam", "adamw", "lbfgs")
RATES = {
    "linreg": {"sgd": 0.1, "momentum": 0.05, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05,
               "lbfgs": 1.0},
    "himmelblau": {"sgd": 2e-3, "momentum": 1e-3, "rmsprop": 1e-2, "adam": 5e-2,
                   "adamw": 5e-2, "lbfgs": 1.0},
}
STEPS, QUICK_STEPS = 2000, 300
TOL = 1e-6


@jit_once(static_argnums=1)
def linreg_data(key, n: int = 256):
    """x: (n, 1) float32 standard normal; y = 2x - 3.4 + 0.01·noise, (n, 1)."""
    kx, kn = jax.random.split(key)
    x = jax.random.normal(kx, (n, 1))
    return x, 2.0 * x - 3.4 + 0.01 * jax.random.normal(kn, (n, 1))


def linreg_objective(params, batch):
    x, y = batch
    return losses.mse(x @ params["w"] + params["b"], y)


def himmelblau_objective(p, batch):
    del batch
    return himmelblau(p)


PROBLEMS = {  # objective, initial parameters, data
    "linreg": (linreg_objective,
               lambda: {"w": np.zeros((1, 1), np.float32), "b": np.zeros((1,), np.float32)},
               lambda: _cli.seeded(linreg_data, 0, 1)),  # the key and the data: one program
    "himmelblau": (himmelblau_objective, lambda: np.zeros(2, np.float32), lambda: None),
}


def optimizer(problem: str, name: str):
    """The Optax optimizer for ``name`` at ``RATES[problem][name]`` (PyTorch defaults else)."""
    kw = {"weight_decay": 0.0} if name == "adamw" and problem == "himmelblau" else {}
    return optim.make(name, RATES[problem][name], **kw)


def floor(problem: str) -> float:
    """The least loss attainable: least squares' MSE for linreg, 0 for Himmelblau."""
    if problem != "linreg":
        return 0.0
    x, y = (np.asarray(a, np.float64) for a in PROBLEMS[problem][2]())
    X = np.hstack([x, np.ones_like(x)])
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(np.mean((X @ coef - y) ** 2))


def make(problem: str, name: str, *, quick_compile: bool | None = None) -> Step:
    """The training step of ``name`` on ``problem`` (``quick_compile``: see
    :class:`~jaxbasics.train.Step`)."""
    return make_step(PROBLEMS[problem][0], optimizer(problem, name),
                     quick_compile=quick_compile)


def run(step: Step, problem: str, data, steps: int, mode: str = "fused"):
    """Train ``step`` on ``problem`` for ``steps`` full-batch steps from its initial
    parameters; returns (final params, the loss before each step and after the last)."""
    objective, init, _ = PROBLEMS[problem]
    state, history = fit(step, init_state(init(), step), data, epochs=steps, mode=mode)
    final = float(jit_once(objective)(state.params, data))
    return np.asarray(state.params) if problem == "himmelblau" else state.params, \
        np.append(history.loss, final)


def rank(finals: dict[str, float], curves: dict[str, np.ndarray]) -> list[str]:
    """Names by final loss, ties (both under TOL) by the first step under TOL."""
    def first_under(name):
        hits = np.flatnonzero(curves[name] < TOL)
        return int(hits[0]) if hits.size else len(curves[name])
    return sorted(finals, key=lambda n: (max(finals[n], TOL), first_under(n)))


def body(args) -> _cli.Outcome:
    steps = args.epochs or (QUICK_STEPS if args.quick else STEPS)
    result, figures, ok = {}, [], True
    for problem in PROBLEMS:
        curves, finals, params, least = {}, {}, {}, floor(problem)
        data = PROBLEMS[problem][2]()
        for name in NAMES:
            p, curve = run(make(problem, name), problem, data, steps, args.mode)
            curve = np.maximum(curve - least, 0.0)   # excess over the least attainable loss
            curves[name], finals[name], params[name] = curve, float(curve[-1]), p
        order = rank(finals, curves)
        result[problem] = {"least_loss": least, "excess_loss": finals, "ranking": order,
                           "steps_to_tol": {n: int(np.argmax(curves[n] < TOL))
                                            if (curves[n] < TOL).any() else None for n in NAMES}}
        figures.append(plots.curves(args.out / f"{problem}_loss.png",
                                    {n: c + 1e-12 for n, c in curves.items()}, logy=True,
                                    title=f"{problem}: loss - least loss against step ({steps} steps)"))
        ok &= finals["lbfgs"] < TOL and all(finals[n] < curves[n][0] / 100 for n in NAMES)
        if problem == "himmelblau":
            result[problem]["lbfgs_point"] = np.asarray(params["lbfgs"]).round(5).tolist()
            ok &= bool(np.allclose(params["lbfgs"], [3.0, 2.0], atol=1e-3))
    reference = {"linreg": {"excess_loss": {"lbfgs": 0.0}},
                 "himmelblau": {"excess_loss": {"lbfgs": 0.0}, "lbfgs_point": [3.0, 2.0]}}
    return _cli.Outcome(result, reference, bool(ok), figures=figures)


def workloads(quick: bool) -> list[Workload]:
    """Adam on the 256-point regression, for ``jit_vs_eager``, on XLA's full pipeline (the
    steady state; a default run compiles it quick)."""
    step, data = make("linreg", "adam", quick_compile=False), PROBLEMS["linreg"][2]()

    def run_adam(mode: str, steps: int) -> float:
        return run(step, "linreg", data, steps, mode)[1][-1]

    return [Workload("optimizers: Adam, 256-point regression, full batch", run_adam,
                     100 if quick else STEPS, unit="step", eager_units=None if quick else 200)]


def add_arguments(p) -> None:
    p.add_argument("--epochs", type=_cli.positive_int, default=None, metavar="N",
                   help=f"full-batch steps of every optimizer, default {STEPS} (quick: "
                        f"{QUICK_STEPS}); each keeps its usual learning rate for the problem")


def main(argv=None) -> dict:
    return _cli.run("optimizers", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

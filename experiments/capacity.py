"""Model capacity: under- and overfitting with polynomial regression (seed 001, "过拟合").

A small noisy 1-D set, y = sin(2.5x) + noise on x ∈ [-1, 1], 20 training and 200
validation points. For each degree 1…15 a polynomial (features x, x², …, scaled to
[-1, 1] already) is fitted by least squares, the minimiser of the MSE the engine would
reach; the degree-3 model is also trained by the engine (``fit``, Adam) to show it
reaches the same fit. The training error falls monotonically with the degree (nested
models); the validation error is U-shaped: falls, bottoms out, rises again.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments import _cli
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.train import init_state, make_step

DEGREES = tuple(range(1, 16))
N_TRAIN, N_VAL, NOISE = 20, 200, 0.2


@jit_once
def _draws(key):
    kx, kn, kvx, kvn = jax.random.split(key, 4)
    return (jax.random.uniform(kx, (N_TRAIN,), minval=-1, maxval=1), jax.random.normal(kn, (N_TRAIN,)),
            jax.random.uniform(kvx, (N_VAL,), minval=-1, maxval=1), jax.random.normal(kvn, (N_VAL,)))


def make_data(seed: int):
    """((x_train, y_train), (x_val, y_val)), each x (n,), y (n,) float64 numpy."""
    x, n, xv, nv = (np.asarray(a, np.float64) for a in _draws(_cli.keys(seed, 1)[0]))
    return (x, np.sin(2.5 * x) + NOISE * n), (xv, np.sin(2.5 * xv) + NOISE * nv)


def features(x, degree: int):
    """(n,) -> (n, degree + 1): 1, x, …, x^degree."""
    return np.vander(x, degree + 1, increasing=True)


def least_squares_errors(train, val, degree: int) -> tuple[float, float]:
    """Train and validation MSE of the least-squares polynomial of ``degree``."""
    coef, *_ = np.linalg.lstsq(features(train[0], degree), train[1], rcond=None)
    mse = lambda x, y: float(np.mean((features(x, degree) @ coef - y) ** 2))  # noqa: E731
    return mse(*train), mse(*val)


LEARNING_RATE, STEPS = 0.05, 2000  # the engine's fit of degree 3: Adam, full batch


def engine_fit(args, train, degree: int) -> float:
    """Train MSE reached by the engine (full batch, Adam ``--lr``, ``--epochs`` steps) on the
    same polynomial model."""
    x = features(train[0], degree).astype(np.float32)
    y = train[1].astype(np.float32)

    def objective(w, batch):
        xb, yb = batch
        return losses.mse(xb @ w, yb)
    step = make_step(objective, optim.make("adam", args.lr))
    state, history = _cli.train(args, step, init_state(np.zeros(degree + 1, np.float32), step),
                                (x, y), epochs=args.epochs, learning_rate=args.lr)
    w = np.asarray(state.params, np.float64)
    return float(np.mean((x @ w - y) ** 2))


def body(args) -> _cli.Outcome:
    train, val = make_data(args.seed)
    errors = [least_squares_errors(train, val, d) for d in DEGREES]
    tr = [e[0] for e in errors]
    va = [e[1] for e in errors]
    for d, (a, b) in zip(DEGREES, errors):
        print(f"degree {d:2d}: train MSE {a:.4f}, validation MSE {b:.4f}")
    best = DEGREES[int(np.argmin(va))]
    engine3 = engine_fit(args, train, 3)
    figure = plots.curves(args.out / "capacity.png", {"train": tr, "validation": va},
                          x={"train": list(DEGREES), "validation": list(DEGREES)},
                          xlabel="polynomial degree", ylabel="MSE", logy=True,
                          title="capacity: train error falls, validation error is U-shaped")
    falls = all(b <= a + 1e-9 for a, b in zip(tr, tr[1:]))
    u_shaped = 1 < best < DEGREES[-1] and va[-1] > 2 * min(va) and va[0] > 2 * min(va)
    result = {"train_mse": tr, "val_mse": va, "best_degree": best,
              "train_falls_monotonically": falls, "val_u_shaped": u_shaped,
              "engine_degree3_train_mse": engine3, "lstsq_degree3_train_mse": tr[2]}
    ok = falls and u_shaped and abs(engine3 - tr[2]) < 0.1 * tr[2] + 1e-3
    reference = {"noise_variance": NOISE ** 2}
    return _cli.Outcome(result, reference, bool(ok), figures=[figure])


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE, epochs=STEPS,
                                lr_help=f"Adam's, for the engine's degree-3 fit, default {LEARNING_RATE}",
                                epochs_help=f"full-batch steps of that fit, default {STEPS}")


def main(argv=None) -> dict:
    return _cli.run("capacity", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""Logistic regression (seed 001 §47-49): binary (sigmoid) and 3-class (softmax) on 2-D data.

Binary: two Gaussian blobs N((±2, ±2), 1), one linear unit, ``sigmoid`` + binary
cross-entropy (``optax.sigmoid_binary_cross_entropy``, PyTorch's ``BCEWithLogitsLoss``).
Multi-class: three blobs, ``Linear(2, 3)``, softmax cross-entropy. SGD lr 0.1 full batch,
both trained by the one engine; decision boundaries plotted. Separated blobs reach ~100%.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _cli
from jaxbasics import losses, optim, plots
from jaxbasics._once import jit_once
from jaxbasics.models import apply_linear, init_linear
from jaxbasics.train import Step, init_state, make_step

EPOCHS, QUICK_EPOCHS, LEARNING_RATE = 500, 200, 0.1
CENTRES = {2: np.array([[-2.0, -2.0], [2.0, 2.0]]),
           3: np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])}


@jit_once(static_argnums=(1, 2))
def blobs(key, classes: int, n_per_class: int = 200):
    """x (classes*n, 2) float32 around CENTRES[classes] with unit variance; y (classes*n,) int32."""
    noise = jax.random.normal(key, (classes, n_per_class, 2))
    x = (noise + CENTRES[classes][:, None, :]).reshape(-1, 2).astype(jnp.float32)
    y = jnp.repeat(jnp.arange(classes, dtype=jnp.int32), n_per_class)
    return x, y


def binary_objective(params, batch):
    """Mean binary cross-entropy of sigmoid(x @ w.T + b) against y in {0, 1}."""
    x, y = batch
    logits = apply_linear(params, x)[:, 0]
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y.astype(jnp.float32)))


def softmax_objective(params, batch):
    x, y = batch
    return losses.cross_entropy(apply_linear(params, x), y)


@jit_once(static_argnums=2)
def predict(params, x, classes: int):
    """(n,) int32 class predictions: sigmoid > 0.5 for 2 classes, argmax otherwise."""
    out = apply_linear(params, x)
    return ((out[:, 0] > 0).astype(jnp.int32) if classes == 2
            else jnp.argmax(out, -1).astype(jnp.int32))


def make(classes: int, learning_rate: float = LEARNING_RATE) -> Step:
    """SGD 0.1 on BCE (2 classes) or softmax cross-entropy, with accuracy as the metric."""
    objective = binary_objective if classes == 2 else softmax_objective
    return make_step(objective, optim.make("sgd", learning_rate),
                     metrics=lambda p, b: {"accuracy": predict(p, b[0], classes) == b[1]})


def run_one(args, seed: int, classes: int, epochs: int):
    k_data, k_init = _cli.keys(seed, 2)
    data = blobs(k_data, classes)
    step = make(classes, args.lr)
    state = init_state(init_linear(k_init, 2, 1 if classes == 2 else classes), step)
    state, history = _cli.train(args, step, state, data, epochs=epochs, name=f"{classes}class",
                                learning_rate=args.lr)
    return state, history, data, step.evaluate(state, data)["accuracy"]


def boundary_plot(path, params, data, classes, title):
    plt = plots.pyplot()
    x, y = (np.asarray(a) for a in data)
    gx, gy = np.meshgrid(np.linspace(x[:, 0].min() - 1, x[:, 0].max() + 1, 200),
                         np.linspace(x[:, 1].min() - 1, x[:, 1].max() + 1, 200))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    z = np.asarray(predict(params, grid, classes)).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.contourf(gx, gy, z, alpha=0.25, levels=np.arange(classes + 1) - 0.5, cmap="viridis")
    ax.scatter(x[:, 0], x[:, 1], c=y, s=8, cmap="viridis")
    ax.set(title=title, xlabel="x1", ylabel="x2")
    return plots._save(fig, path)


def body(args) -> _cli.Outcome:
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    result, figures = {}, []
    for classes, label in ((2, "binary (sigmoid)"), (3, "3-class (softmax)")):
        state, history, data, acc = run_one(args, args.seed + classes, classes, epochs)
        print(f"{label}: final loss {history.loss[-1]:.4f}, accuracy {acc:.4f}")
        result[label] = {"accuracy": acc, "final_loss": float(history.loss[-1])}
        figures.append(boundary_plot(args.out / f"boundary_{classes}.png", state.params, data,
                                     classes, f"{label}: accuracy {acc:.3f}"))
        figures.append(plots.curves(args.out / f"loss_{classes}.png", {label: history.loss},
                                    xlabel="epoch", title=f"{label}: training loss"))
    reference = {k: {"accuracy": "≈ 1.0 (separated blobs)"} for k in result}
    ok = all(v["accuracy"] >= 0.97 for v in result.values())
    return _cli.Outcome(result, reference, ok, figures=figures)


def add_arguments(p) -> None:
    _cli.add_training_arguments(p, lr=LEARNING_RATE,
                                epochs_help=f"full-batch steps, default {EPOCHS} (quick: {QUICK_EPOCHS})")


def main(argv=None) -> dict:
    return _cli.run("logistic_regression", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""The first handwritten-digit model (seed 001 §9-13): 784-256-64-10 fitted by MSE.

Three ``nn.Linear`` layers (PyTorch's default init), relu on the hidden layers, MSE
between the 10 outputs and one-hot labels, SGD lr 0.01 momentum 0.9, batch 512, 3 epochs,
the loss printed every 10 batches, a loss curve, test accuracy and a grid of test digits
with their predicted labels. By default on the 5,000 embedded digits (``--source auto`` for
the full set); 3 epochs of 4,000 digits are only 21 steps, so ``--epochs`` is offered.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments import _cli, _mnist
from jaxbasics import losses, optim
from jaxbasics.models import apply_linear, init_linear
from jaxbasics.train import fit, init_state, make_step

SIZES, BATCH_SIZE, EPOCHS = (784, 256, 64, 10), 512, 3
OPTIMIZER = optim.make("sgd", 0.01, momentum=0.9)
# 21 steps on 4,000 digits (quick: 1,000 digits, batch 128, 21 steps) only begin to fit.
MIN_ACCURACY = {"quick": 0.2, "full": 0.25}


def init(key):
    """Three linear layers with ``nn.Linear``'s default init."""
    keys = jax.random.split(key, len(SIZES) - 1)
    return [init_linear(k, i, o) for k, i, o in zip(keys, SIZES[:-1], SIZES[1:])]


def apply(params, x):
    """Outputs (n, 10) of images x (n, 28, 28, 1): relu on the hidden layers only."""
    h = x.reshape(x.shape[0], -1)
    for i, layer in enumerate(params):
        h = apply_linear(layer, h)
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def objective(params, batch):
    """MSE between the outputs and one-hot labels, as the course fits it."""
    x, y = batch
    return losses.mse(apply(params, x), jax.nn.one_hot(y, 10))


STEP = make_step(objective, OPTIMIZER)


def body(args) -> _cli.Outcome:
    train_data, test, source = _mnist.data(args)
    epochs = args.epochs or EPOCHS
    batch_size = 128 if args.quick else BATCH_SIZE
    metrics = _mnist.metric_fn(apply)
    k_init, k_shuffle = jax.random.split(jax.random.key(args.seed))

    def on_log(e):
        print(e.epoch, e.batch, e.metrics["loss"])  # the course's print(epoch, batch_idx, loss)

    state, history = fit(STEP, init_state(init(k_init), OPTIMIZER), train_data, epochs=epochs,
                         batch_size=batch_size, key=k_shuffle, mode=args.mode, log_every=10,
                         on_log=on_log,
                         on_epoch=lambda e, s: _mnist.test_log(metrics, s.params, test, 512))
    final = history.epochs[-1]
    print("test acc:", final["accuracy"])
    figures = _mnist.figures(args.out, "mnist_first", history, apply, state.params, test,
                             history.epochs)
    result = {"test_accuracy": final["accuracy"], "final_train_mse": float(history.loss[-1]),
              "epochs": epochs, "steps": len(history.loss)}
    threshold = MIN_ACCURACY["quick" if args.quick else "full"]
    reference = {"test_accuracy": f">= {threshold} here (≈ 0.9 on full MNIST)"}
    ok = final["accuracy"] >= threshold or args.dataset != "mnist"
    return _cli.Outcome(result, reference, bool(ok), data_source=source, figures=figures)


def add_arguments(p) -> None:
    _mnist.add_data_arguments(p)
    p.add_argument("--epochs", type=int, default=None, help="default 3")


def main(argv=None) -> dict:
    return _cli.run("mnist_first", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

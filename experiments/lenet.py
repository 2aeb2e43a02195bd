"""LeNet on MNIST (seed 002): conv 6@5x5, pool, conv 16@5x5, pool, 120, 84, 10.

The seed's model and loop: ``nn.Conv2d``/``nn.Linear`` default init, relu, max-pool 2,
cross-entropy, SGD; the seed's lr 1e-3 with batch 64 barely moves in a few epochs on
4,000 digits, so the default here is lr 0.1 (``--lr 1e-3`` for the seed's), batch 64,
10 epochs, the loss printed every 100 batches. ``--optimizer adam --lr 1e-3`` is the
faster setting for full Fashion-MNIST (``--dataset fashion_mnist``). Convolutions are
``jax.lax.conv_general_dilated`` with NHWC images and PyTorch's OIHW kernels.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from experiments import _cli, _data, _logs
from experiments._workload import Workload
from jaxbasics import losses, metrics, optim
from jaxbasics.data import load, take
from jaxbasics.models import apply_lenet, init_lenet
from jaxbasics.train import Step, fit, init_state, make_step

BATCH_SIZE, LEARNING_RATE, EPOCHS, QUICK_EPOCHS, TEST_BATCH = 64, 0.1, 10, 3, 256
# Quick mode (1,000 digits, 45 steps) has only begun to learn: loss well below log(10).
# The default run on the embedded digits, and Adam 1e-3 on full Fashion-MNIST.
MIN_ACCURACY = {"quick": 0.3, "mnist": 0.93, "fashion_mnist": 0.88}


def objective(params, batch):
    """Cross-entropy of LeNet's logits on a batch (x (b, 28, 28, 1), y (b,) int32)."""
    x, y = batch
    return losses.cross_entropy(apply_lenet(params, x), y)


def make(optimizer: str = "sgd", learning_rate: float = LEARNING_RATE) -> Step:
    """The training step (and test metrics) of LeNet with ``optim.make(optimizer, lr)``.

    Evaluation runs the model forward only, with XLA's own convolution: it runs as fast as
    the slices the training step differentiates and compiles several times faster."""
    return make_step(objective, optim.make(optimizer, learning_rate),
                     metrics=metrics.classification(functools.partial(apply_lenet, impl="xla")))


def _params_and_key(k_init, k_shuffle):
    return init_lenet(k_init), k_shuffle


def start(step: Step, seed: int):
    """LeNet's initial state and the shuffling key from ``seed`` (drawn in one program)."""
    params, k_shuffle = _cli.seeded(_params_and_key, seed, 2)
    return init_state(params, step), k_shuffle


def train(step: Step, seed: int, train_data, *, epochs=EPOCHS, mode="fused"):
    """Train LeNet from ``seed`` on (x, y) with ``step`` (from :func:`make`), batch 64;
    returns (state, history)."""
    state, key = start(step, seed)
    return fit(step, state, train_data, epochs=epochs, batch_size=BATCH_SIZE, key=key,
               mode=mode)


def seed_train_log(size: int, batch_size: int = BATCH_SIZE):
    """Seed 002's ``loss: l [current/size]`` line every 100 batches."""
    def on_log(e) -> None:
        print(f"loss: {e.metrics['loss']:>7f} [{e.batch * batch_size:>5d}/{size:>5d}]")
    return on_log


def seed_test_log(step: Step, state, test) -> dict[str, float]:
    """Seed 002's ``Test Error: Accuracy: p%, Avg loss: l`` after an epoch."""
    m = step.evaluate(state, test, TEST_BATCH)
    print(f"Test Error: \n Accuracy: {100 * m['accuracy']:>0.1f}%, Avg loss: {m['loss']:>8f} \n")
    return m


def body(args) -> _cli.Outcome:
    train_data, test, source = _data.data(args)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    step = make(args.optimizer, args.lr)
    state, key = start(step, args.seed)
    state, history = _cli.train(
        args, step, state, train_data, epochs=epochs, batch_size=args.batch_size, key=key,
        log_every=100, on_log=seed_train_log(len(train_data[1]), args.batch_size),
        on_epoch=lambda e, s: seed_test_log(step, s, test), learning_rate=args.lr,
        mesh=args.mesh)
    final = history.epochs[-1]
    predicted = step.evaluate(state, test, TEST_BATCH, per_example=True)["prediction"]
    figures = _logs.figures(args.out, "lenet", history, predicted, test, history.epochs)
    result = {"test_accuracy": final["accuracy"], "test_loss": final["loss"],
              "final_train_loss": float(history.loss[-1]), "epochs": epochs,
              "steps": len(history.loss), "optimizer": args.optimizer,
              "learning_rate": args.lr, "batch_size": args.batch_size}
    threshold = MIN_ACCURACY["quick" if args.quick else args.dataset]
    setting = "SGD 0.1" if args.dataset == "mnist" else "Adam 1e-3"
    reference = {"test_accuracy": f">= {threshold} ({setting}; LeNet-5 reports 0.992 on "
                                  "full MNIST)"}
    # Other settings (the seed's lr 1e-3, shorter runs) are shown, not judged.
    judged = args.epochs is None and args.batch_size == BATCH_SIZE and (args.optimizer, args.lr) == (
        ("sgd", LEARNING_RATE) if args.dataset == "mnist" else ("adam", 1e-3))
    return _cli.Outcome(result, reference, final["accuracy"] >= threshold, data_source=source,
                        figures=figures, judged=judged)


def add_arguments(p) -> None:
    _data.add_arguments(p)
    _cli.add_training_arguments(
        p, lr=LEARNING_RATE, batch_size=BATCH_SIZE, optimizer="sgd",
        lr_help=f"default {LEARNING_RATE} (the seed's 1e-3 barely moves in 10 epochs of "
                "4,000 digits)", epochs_help=f"default {EPOCHS} (quick: {QUICK_EPOCHS})")


def workloads(quick: bool) -> list[Workload]:
    """One epoch of LeNet on the embedded digits, for ``experiments.jit_vs_eager``."""
    ds = load("mnist", "train")
    data = jax.device_put((ds.images, ds.labels))
    step = make()

    def run(mode: str, epochs: int) -> float:
        return float(train(step, 0, data, epochs=epochs, mode=mode)[1].loss[-1])

    def traced():
        n = len(ds.labels)
        return step, start(step, 0)[0], take(data, np.arange(BATCH_SIZE)), n // BATCH_SIZE

    return [Workload("LeNet, 4,000 digits, batch 64", run, 1 if quick else 3,
                     torch=_cli.torch_original("lenet"), eager_units=1, traced=traced)]


def main(argv=None) -> dict:
    return _cli.run("lenet", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

"""MNIST MLP with raw parameters (seeds 001 §50, 004): 784-200-200-10, relu, SGD.

Three layers ``x @ w.T + b`` with w (out, in) Kaiming-normal (``--no-kaiming``: the
seed's bare ``torch.randn``, N(0, 1): with ``--relu-logits`` too, every logit dies and the
loss stalls at ln 10 = 2.3026, the seed's 梯度离散), relu between layers,
cross-entropy, SGD lr 0.01, batch 200, the seed's ``Train Epoch`` line every 100 batches
and its ``Test set`` line (ten of them per run). ``--module`` trains the same network as a
Flax NNX module through the same engine.

The seed also applies relu to the logits and remarks that this last relu may be dropped
(最后的F.relu也可以不用). ``--relu-logits`` reproduces it; it is off by default because a
class whose logit unit goes negative for every input gets no gradient again, so the result
depends on the initialisation (embedded digits, 3,000 steps: seed 0 reaches 83.6 %, seed 2
92.7 %, against 93.1 % and 92.7 % without it).

Training length is the seed's: 3,000 SGD steps (10 epochs of 60,000 images). On the 5,000
embedded digits (4,000 train, 1,000 test; the default) that is 150 epochs; ``--source
auto`` or ``idx`` with ``--data-dir`` uses the full 60,000/10,000 sets and 10 epochs.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from experiments import _cli, _data, _logs
from experiments._workload import Workload
from jaxbasics import losses, metrics, optim
from jaxbasics.bench import mlp_flops
from jaxbasics.data import load, take
from jaxbasics.models import apply_mlp, init_mlp
from jaxbasics.train import Step, fit, init_state, make_step

BATCH_SIZE, LEARNING_RATE, EPOCHS, QUICK_EPOCHS = 200, 0.01, 10, 10  # EPOCHS: the seed's
# Test accuracy the default run reaches at least: quick mode (1,000 training digits, 50
# steps), and 3,000 steps on the embedded digits or on full Fashion-MNIST.
MIN_ACCURACY = {"quick": 0.6, "mnist": 0.9, "fashion_mnist": 0.85}


def model(key, *, kaiming: bool = True, module: bool = False, relu_logits: bool = False):
    """(apply, params): raw parameters, or the NNX module made functional."""
    if module:  # Flax is imported here only: the default run does not pay for it
        from flax import nnx

        from jaxbasics import nn
        from jaxbasics.models.mlp_nnx import MLP
        return nn.functional(nn.build(lambda: MLP(kaiming=kaiming, relu_logits=relu_logits,
                                                 rngs=nnx.Rngs(key))))
    return (functools.partial(apply_mlp, relu_logits=relu_logits),
            init_mlp(key, init="kaiming" if kaiming else "normal"))


def make(apply, learning_rate: float = LEARNING_RATE, optimizer: str = "sgd") -> Step:
    """The seed's training step for a model's ``apply``: cross-entropy, SGD (or
    ``optim.make(optimizer, learning_rate)``), test metrics."""
    def objective(params, batch):
        x, y = batch
        return losses.cross_entropy(apply(params, x), y)
    return make_step(objective, optim.make(optimizer, learning_rate),
                     metrics=metrics.classification(apply))


def train(step: Step, params, key, train_data, *, epochs=EPOCHS, mode="fused"):
    """The seed's loop: ``epochs`` shuffled (by ``key``) epochs of batches of 200 from
    ``params``; returns (state, history)."""
    return fit(step, init_state(params, step), train_data, epochs=epochs,
               batch_size=BATCH_SIZE, key=key, mode=mode)


def body(args) -> _cli.Outcome:
    train_data, test, source = _data.data(args)
    bs = args.batch_size
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else
                             _data.seed_epochs(EPOCHS, bs, len(train_data[1])))
    variant = dict(kaiming=not args.no_kaiming, module=args.module, relu_logits=args.relu_logits)

    k_init, k_shuffle = _cli.keys(args.seed, 2)
    apply, params = model(k_init, **variant)
    step = make(apply, args.lr, args.optimizer)

    def on_epoch(epoch, state):
        return _logs.test_log(step, state, test, bs, quiet=not _logs.shown(epoch, epochs))

    state, history = _cli.train(
        args, step, init_state(params, step), train_data, epochs=epochs, batch_size=bs,
        key=k_shuffle, log_every=100, on_log=_logs.train_log(len(train_data[1]), bs, epochs),
        on_epoch=on_epoch, learning_rate=args.lr, mesh=args.mesh)
    final = history.epochs[-1]
    predicted = step.evaluate(state, test, bs, per_example=True)["prediction"]
    figures = _logs.figures(args.out, "mnist_mlp", history, predicted, test, history.epochs)
    result = {"test_accuracy": final["accuracy"], "test_loss": final["loss"],
              "final_train_loss": float(history.loss[-1]), "epochs": epochs,
              "steps": len(history.loss), "optimizer": args.optimizer,
              "learning_rate": args.lr, "batch_size": bs,
              **variant}
    threshold = MIN_ACCURACY["quick" if args.quick else args.dataset]
    reference = {"test_accuracy": f">= {threshold} (the seed's full-MNIST run: ~0.9 after "
                                  "3,000 steps)"}
    # The seed's variants are demonstrations (N(0, 1) init stalls, relu logits may die):
    # only the default network is held to the threshold.
    demo = (args.no_kaiming or args.relu_logits or args.epochs is not None
            or (args.optimizer, args.lr, bs) != ("sgd", LEARNING_RATE, BATCH_SIZE))
    return _cli.Outcome(result, reference, final["accuracy"] >= threshold, data_source=source,
                        figures=figures, judged=not demo)


def add_arguments(p) -> None:
    _data.add_arguments(p)
    p.add_argument("--no-kaiming", action="store_true",
                   help="keep torch.randn's N(0, 1) weights (the seed before kaiming_normal_)")
    p.add_argument("--relu-logits", action="store_true",
                   help="relu on the logits too, as the seed writes it (may kill a class)")
    p.add_argument("--module", action="store_true", help="the Flax NNX module version")
    _cli.add_training_arguments(
        p, lr=LEARNING_RATE, batch_size=BATCH_SIZE, optimizer="sgd",
        epochs_help="default: the seed's 3,000 steps (150 epochs on the embedded digits, "
                    f"10 on 60,000 images; quick: {QUICK_EPOCHS})")


def workloads(quick: bool) -> list[Workload]:
    """One epoch of the seed's MLP on the embedded digits, for ``experiments.jit_vs_eager``."""
    ds = load("mnist", "train")
    data = jax.device_put((ds.images, ds.labels))
    k_init, k_shuffle = _cli.keys(0, 2)
    apply, params = model(k_init)
    step = make(apply)

    def run(mode: str, epochs: int) -> float:
        return float(train(step, params, k_shuffle, data, epochs=epochs, mode=mode)[1].loss[-1])

    def traced():
        return step, init_state(params, step), take(data, np.arange(BATCH_SIZE)), n // BATCH_SIZE

    n = len(ds.labels) // BATCH_SIZE * BATCH_SIZE
    return [Workload("MNIST MLP 784-200-200-10, 4,000 digits, batch 200", run,
                     1 if quick else 5, torch=_cli.torch_original("mnist_mlp"),
                     eager_units=1, flops=mlp_flops((784, 200, 200, 10), n), traced=traced)]


def main(argv=None) -> dict:
    return _cli.run("mnist_mlp", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

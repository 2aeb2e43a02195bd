"""Classic CNNs (seed 001, 经典卷积网络 / ResNet / DenseNet): small AlexNet, VGG, GoogLeNet
(Inception block), ResNet (the course's ResBlk) and DenseNet (dense block + transition) on
28×28 digits, as Flax NNX modules trained by the one engine (``train.fit``), batch-norm
statistics in the train state. Prints parameter counts, test accuracy and seconds per epoch.

Data: the embedded MNIST digits (4,000 train / 1,000 test); ``--quick`` trains on 2,000 of
them for one epoch. ``--dataset fashion_mnist`` (with ``--train-size`` for a short run)
trains on Fashion-MNIST. Default ``--mode fused``: the convolutions go through
:func:`jaxbasics.conv.conv_general_dilated`, which on CPU avoids XLA's slow convolution
gradients inside ``lax.scan``; compare the modes with ``--mode jit`` (the run prints
seconds per epoch). A fused epoch runs in calls of about 1,024 examples, so Ctrl-C and
the progress bar answer within about a second even on GoogLeNet.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from experiments import _cli, _data
from experiments._workload import Workload
from jaxbasics import losses, optim
from jaxbasics.data import load, take
from jaxbasics.models.cnns import MODELS
from jaxbasics.nn import build, count_params, stateful
from jaxbasics.train import Step, fit, init_state, make_step

BATCH_SIZE, LEARNING_RATE = 32, 3e-3
# Test accuracy each model reaches at least (chance is 0.1): quick is 62 steps on 2,000
# digits, after which the small GoogLeNet and DenseNet have only begun (seed 0: 0.25 and
# 0.65, AlexNet 0.91), so quick asks for twice chance; the default runs 3 epochs on the
# 4,000 embedded digits (where the batch-norm DenseNet's test accuracy swings with the
# draws: 0.84 on seed 0, 0.947 and 0.944 on seeds 1 and 2) or on Fashion-MNIST.
THRESHOLD = {"quick": 0.2, "mnist": 0.8, "fashion_mnist": 0.8}


def make(name: str, seed: int, optimizer: str = "adam", learning_rate: float = LEARNING_RATE):
    """(step, params, model_state) of architecture ``name`` built from ``seed``: Adam 3e-3
    (or ``optim.make(optimizer, learning_rate)``) on the cross-entropy in train mode; test
    accuracy in eval mode (running statistics)."""
    apply, params, model_state = stateful(build(lambda: MODELS[name](rngs=nnx.Rngs(seed))))

    def objective(params, batch, model_state, key):
        """Cross-entropy in train mode; x (b, 28, 28, 1), y (b,) int32."""
        x, y = batch
        logits, model_state = apply(params, model_state, x, train=True)
        return losses.cross_entropy(logits, y), (model_state, {})

    def accuracy(params, batch, model_state):
        logits, _ = apply(params, model_state, batch[0], train=False)
        return {"accuracy": jnp.argmax(logits, -1) == batch[1]}

    step = make_step(objective, optim.make(optimizer, learning_rate), stateful=True,
                     metrics=accuracy)
    return step, params, model_state


def train(step: Step, params, model_state, seed: int, data, epochs: int, mode: str,
          on_epoch=None):
    """Train from (params, model_state) on (x, y), shuffled by ``seed``; (state, history)."""
    state = init_state(params, step, model_state=model_state)
    return fit(step, state, data, epochs=epochs, batch_size=BATCH_SIZE,
               key=_cli.keys(seed, 1)[0], mode=mode, on_epoch=on_epoch)


EXAMPLES_PER_CALL = 1024  # about half a second of GoogLeNet, the slowest, on a laptop CPU


def train_one(args, name: str, train_data, test, epochs: int) -> dict:
    """Train ``name`` for ``epochs`` shuffled epochs; test accuracy, params, seconds/epoch."""
    step, params, model_state = make(name, args.seed, args.optimizer, args.lr)
    times: list[float] = []
    clock = [time.perf_counter()]

    def on_epoch(epoch, state):
        now = time.perf_counter()
        times.append(now - clock[0])
        clock[0] = now

    state, history = _cli.train(
        args, step, init_state(params, step, model_state=model_state), train_data,
        epochs=epochs, batch_size=args.batch_size, key=_cli.keys(args.seed, 1)[0], name=name,
        on_epoch=on_epoch, learning_rate=args.lr, examples_per_call=EXAMPLES_PER_CALL)
    acc = step.evaluate(state, test, batch_size=500)["accuracy"]
    return {"parameters": count_params(params), "test_accuracy": acc,
            "final_train_loss": float(np.mean(history.loss[-10:])),
            # the first epoch includes compilation; none when a resumed run had nothing left
            "seconds_per_epoch": (float(np.median(times[1:] if len(times) > 1 else times))
                                  if times else None)}


def add_arguments(p) -> None:
    _data.add_arguments(p)
    p.add_argument("--only", nargs="+", choices=list(MODELS), default=list(MODELS),
                   help="architectures to train (default: all)")
    _cli.add_training_arguments(p, lr=LEARNING_RATE, batch_size=BATCH_SIZE, optimizer="adam",
                                epochs_help="default 3 (quick: 1)")
    p.add_argument("--train-size", type=_cli.positive_int, default=None,
                   help="train on this many images drawn at random (default: all; quick 2,000)")


def body(args) -> _cli.Outcome:
    train_data, test, source = _data.data(args, quick_sizes=(2000, None))
    if args.train_size is not None:
        if not 0 < args.train_size <= len(train_data[1]):
            raise _cli.UsageError(f"argument --train-size: at most {len(train_data[1])} "
                                  f"(the training images); got {args.train_size}")
        train_data = jax.device_put(_data.quick_slice(jax.device_get(train_data),
                                                      args.train_size, args.seed))
    epochs = args.epochs or (1 if args.quick else 3)
    threshold = THRESHOLD["quick" if args.quick else args.dataset]
    rows, result = [], {}
    for name in args.only:
        r = train_one(args, name, train_data, test, epochs)
        result[name] = r
        rows.append([name, r["parameters"], r["test_accuracy"],
                     "-" if r["seconds_per_epoch"] is None else r["seconds_per_epoch"]])
        per_epoch = r["seconds_per_epoch"]
        print(f"{name}: {r['parameters']} parameters, test accuracy {r['test_accuracy']:.3f}, "
              + ("trained before this run (resumed)" if per_epoch is None
                 else f"{per_epoch:.2f} s/epoch"))
    print(_cli.table(rows, ["model", "parameters", "test accuracy", "s/epoch"]))
    reference = {name: {"test_accuracy": f">= {threshold}"} for name in args.only}
    ok = all(r["test_accuracy"] >= threshold for r in result.values())
    result["train_examples"], result["epochs"] = len(train_data[1]), epochs
    return _cli.Outcome(result, reference, bool(ok), data_source=source)


BENCHMARKED = {"resnet": "ResNet (ResBlk, batch-norm)", "googlenet": "GoogLeNet (Inception)",
               "densenet": "DenseNet (dense blocks, batch-norm)"}


def workloads(quick: bool) -> list[Workload]:
    """One epoch of each of ResNet, GoogLeNet and DenseNet on embedded digits (batch 32),
    for ``experiments.jit_vs_eager``; the PyTorch originals of the same networks beside
    them (not in quick mode)."""
    n = 256 if quick else 2048
    ds = load("mnist", "train")
    order = np.random.default_rng(0).permutation(len(ds.labels))[:n]
    data = jax.device_put((ds.images[order], ds.labels[order]))

    def workload(name: str) -> Workload:
        step, params, model_state = make(name, 0)

        def run(mode: str, epochs: int) -> float:
            return float(train(step, params, model_state, 0, data, epochs, mode)[1].loss[-1])

        def traced():
            state = init_state(params, step, model_state=model_state)
            return step, state, take(data, np.arange(BATCH_SIZE)), n // BATCH_SIZE

        return Workload(f"{BENCHMARKED[name]}, {n:,} digits, batch 32", run, 1,
                        torch=_cli.torch_original(name) if not quick else None, traced=traced)

    return [workload(name) for name in BENCHMARKED]


def main(argv=None) -> dict:
    return _cli.run("classic_cnns", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

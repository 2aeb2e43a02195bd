"""Classic CNNs (seed 001, 经典卷积网络 / ResNet / DenseNet): small AlexNet, VGG, GoogLeNet
(Inception block), ResNet (the course's ResBlk) and DenseNet (dense block + transition) on
28×28 digits, as Flax NNX modules trained by the one engine (``train.fit``), batch-norm
statistics in the train state. Prints parameter counts, test accuracy and seconds per epoch.

Data: the embedded MNIST digits (4,000 train / 1,000 test); ``--quick`` trains on 2,000 of
them for one epoch. Default ``--mode jit`` (convolution gradients inside ``lax.scan`` are
slow on CPU, see PERFORMANCE-NOTES).
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from experiments import _cli
from jaxbasics import losses
from jaxbasics.data import load
from jaxbasics.models.cnns import MODELS
from jaxbasics.nn import count_params, stateful
from jaxbasics.train import evaluate, fit, init_state, make_step

BATCH_SIZE, LEARNING_RATE = 32, 3e-3
OPTIMIZER = optax.adam(LEARNING_RATE)


@functools.lru_cache(maxsize=None)
def program(name: str):
    """(apply, step, metric_fn) for one architecture, built once so fits never recompile."""
    apply, _, _ = stateful(MODELS[name](rngs=nnx.Rngs(0)))

    def objective(params, batch, model_state, key):
        """Cross-entropy in train mode; x (b, 28, 28, 1), y (b,) int32."""
        x, y = batch
        logits, model_state = apply(params, model_state, x, train=True)
        return losses.cross_entropy(logits, y), (model_state, {})

    def metric_fn(params_and_state, batch):
        params, model_state = params_and_state
        logits, _ = apply(params, model_state, batch[0], train=False)
        return {"accuracy": jnp.argmax(logits, -1) == batch[1]}

    return apply, make_step(objective, OPTIMIZER, stateful=True), metric_fn


def train_one(name: str, seed: int, train, test, epochs: int, mode: str) -> dict:
    """Train ``name`` for ``epochs`` shuffled epochs; test accuracy, params, seconds/epoch."""
    _, step, metric_fn = program(name)
    _, params, model_state = stateful(MODELS[name](rngs=nnx.Rngs(seed)))
    state = init_state(params, OPTIMIZER, model_state=model_state)
    times: list[float] = []
    clock = [time.perf_counter()]

    def on_epoch(epoch, state):
        now = time.perf_counter()
        times.append(now - clock[0])
        clock[0] = now

    state, history = fit(step, state, train, epochs=epochs, batch_size=BATCH_SIZE,
                         key=jax.random.key(seed), mode=mode, on_epoch=on_epoch)
    acc = evaluate(metric_fn, (state.params, state.model_state), test, batch_size=500)["accuracy"]
    return {"parameters": count_params(params), "test_accuracy": acc,
            "final_train_loss": float(np.mean(history.loss[-10:])),
            # the first epoch includes compilation
            "seconds_per_epoch": float(np.median(times[1:] if len(times) > 1 else times))}


def add_arguments(p) -> None:
    p.add_argument("--only", nargs="+", choices=list(MODELS), default=list(MODELS),
                   help="architectures to train (default: all)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 1 quick, 3 full)")


def body(args) -> _cli.Outcome:
    tr, te = load("mnist", "train"), load("mnist", "test")
    n_train = 2000 if args.quick else len(tr)
    perm = np.random.default_rng(args.seed).permutation(len(tr))[:n_train]
    train = jax.device_put((jnp.asarray(tr.images[perm]), jnp.asarray(tr.labels[perm])))
    test = jax.device_put((jnp.asarray(te.images), jnp.asarray(te.labels)))
    epochs = args.epochs or (1 if args.quick else 3)
    threshold = 0.35 if args.quick else 0.9  # chance is 0.1; quick is 62 steps
    rows, result = [], {}
    for name in args.only:
        r = train_one(name, args.seed, train, test, epochs, args.mode)
        result[name] = r
        rows.append([name, r["parameters"], r["test_accuracy"], r["seconds_per_epoch"]])
        print(f"{name}: {r['parameters']} parameters, test accuracy {r['test_accuracy']:.3f}, "
              f"{r['seconds_per_epoch']:.2f} s/epoch")
    print(_cli.table(rows, ["model", "parameters", "test accuracy", "s/epoch"]))
    reference = {name: {"test_accuracy": threshold} for name in args.only}
    ok = all(r["test_accuracy"] >= threshold for r in result.values())
    result["train_examples"], result["epochs"] = n_train, epochs
    return _cli.Outcome(result, reference, bool(ok), data_source=tr.source)


def main(argv=None) -> dict:
    return _cli.run("classic_cnns", __doc__, body, argv, default_mode="jit",
                    add_arguments=add_arguments)


if __name__ == "__main__":
    main()

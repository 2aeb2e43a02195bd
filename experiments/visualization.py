"""Seeing training live (seed 001 §Visdom可视化): the course's Visdom lesson as TensorBoard.

The course starts ``python -m visdom.server`` and, while its MNIST MLP trains, draws a
single curve (``viz.line([loss], [global_step], win='train loss', update='append')``),
several curves in one window (``win='test'``, legend ``['loss', 'acc.']``) and images
(``viz.images(data, win='x')`` with ``viz.text(str(pred), win='pred')``); it names
TensorboardX as the other way. The JAX ecosystem logs to TensorBoard (Flax's examples do):
event files written by ``tensorboardX`` and served by ``tensorboard --logdir DIR``, neither
needing TensorFlow. Here the seed's MLP (784-200-200-10, Kaiming init, cross-entropy, batch
200) trains on the digits with SGD momentum 0.9 and a cosine-decayed learning rate
(``optax.inject_hyperparams``, so the rate is read from the optimizer state), and writes:

- ``train_loss``: one curve, the training loss at every logging step (from the per-step
  history ``fit`` returns after each compiled epoch: no host sync per step);
- ``test``: the test loss and accuracy, two curves in one chart, after every epoch;
- ``x`` / ``pred`` / ``predictions``: 32 test digits, their predicted labels as text, and
  the digits titled "predicted (true)", after every epoch;
- ``train/learning_rate`` and the run's figures (loss curve, predictions) as images.

The event files go to ``--tensorboard DIR`` (default ``OUT/tensorboard``) under
``visualization/``; the command to open TensorBoard is printed. The run then reads its own
event files back and checks that the three views hold what was logged.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

from experiments import _cli, _data, _logs, _mlp
from jaxbasics.models import init_mlp
from jaxbasics.tensorboard import read_events
from jaxbasics.train import init_state, make_step

BATCH_SIZE, LEARNING_RATE, MOMENTUM, EPOCHS, QUICK_EPOCHS = 200, 0.02, 0.9, 10, 3
SHOWN, TEST_BATCH = 32, 500  # test digits in the image views; evaluation batch
MIN_ACCURACY = {"quick": 0.6, "mnist": 0.9, "fashion_mnist": 0.75}


def body(args) -> _cli.Outcome:
    train_data, test, source = _data.data(args)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    batch_size = args.batch_size or (100 if args.quick else BATCH_SIZE)
    steps_per_epoch = len(train_data[1]) // batch_size
    log_every = max(1, steps_per_epoch // 4)
    schedule = optax.cosine_decay_schedule(args.lr, epochs * steps_per_epoch)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule, momentum=MOMENTUM)
    step = make_step(_mlp.objective, tx, metrics=_mlp.mlp_metrics())
    k_init, k_shuffle = _cli.keys(args.seed, 2)
    state = init_state(init_mlp(k_init, init="kaiming"), step)

    if args.tensorboard is None:
        args.tensorboard = args.out / "tensorboard"
    started = time.time()
    tb = _cli.tensorboard_logger(args)
    print(f"Logging to {tb.logdir}. To watch it live, run in another shell:\n"
          f"    tensorboard --logdir {args.tensorboard}\n"
          "and open http://localhost:6006 (SCALARS: 'train_loss', 'test'; IMAGES: 'x', "
          "'predictions'; TEXT: 'pred').\n")
    pick = np.linspace(0, len(test[1]) - 1, SHOWN).astype(int)
    shown_x, shown_y = (np.asarray(a)[pick] for a in test)

    def on_log(e):  # the single curve: win='train loss' (TensorBoard tags take no spaces)
        tb.scalar("train_loss", e.metrics["loss"], e.step)

    def on_epoch(epoch, s):
        m = _logs.test_log(step, s, test, TEST_BATCH, quiet=not _logs.shown(epoch, epochs))
        at = int(s.step)
        tb.scalars("test", {"loss": m["loss"], "acc.": m["accuracy"]}, at)  # win='test'
        # The evaluation's program again: every test digit's class, no other compilation.
        predicted = step.evaluate(s, test, TEST_BATCH, per_example=True)["prediction"][pick]
        tb.images("x", shown_x, at)                                          # win='x'
        tb.text("pred", str(predicted), at)                                   # win='pred'
        tb.predictions("predictions", shown_x, shown_y, predicted, at)
        return m

    state, history = _cli.train(args, step, state, train_data, epochs=epochs,
                                batch_size=batch_size, key=k_shuffle, log_every=log_every,
                                on_log=on_log, on_epoch=tb.on_epoch(on_epoch),  # + rate, eval/*
                                log_to_tensorboard=False)
    # Closed, not only flushed: tensorboardX writes events from a background thread and its
    # flush does not wait for the queue, so a read right after a flush can miss the last
    # epoch's events (seen once in a fast warm-cache run). Closing joins the thread.
    tb.close()
    predicted = step.evaluate(state, test, TEST_BATCH, per_example=True)["prediction"]
    figures = _logs.figures(args.out, "visualization", history, predicted, test, history.epochs)

    # Read the event files back: what TensorBoard will show.
    runs = read_events(tb.logdir, since=started)
    root = runs.get(".", {})  # the run itself; scalars() adds runs test/loss, test/acc.
    curve = root.get("train_loss", [])
    expected_steps = [i for i in range(len(history.loss))
                      if (i % steps_per_epoch) % log_every == 0]
    epoch_steps = [steps_per_epoch * (e + 1) for e in range(len(history.epochs))]
    test_acc = runs.get("test/acc.", {}).get("test", [])
    test_loss = runs.get("test/loss", {}).get("test", [])
    rates = root.get("train/learning_rate", [])
    single_ok = ([s for s, _ in curve] == expected_steps and
                 np.allclose([v for _, v in curve], history.loss[expected_steps], rtol=1e-6))
    multi_ok = ([s for s, _ in test_acc] == epoch_steps == [s for s, _ in test_loss] and
                np.allclose([v for _, v in test_acc],
                            [m["accuracy"] for m in history.epochs], rtol=1e-6))
    images_ok = (len(root.get("x", [])) == len(root.get("predictions", [])) == epochs and
                 len(root.get("pred/text_summary", [])) == epochs)
    # inject_hyperparams stores the rate it used for the last update: schedule(step - 1).
    expected_rates = jax.jit(jax.vmap(schedule))(np.asarray(epoch_steps) - 1)  # one program
    rates_ok = np.allclose([v for _, v in rates], np.asarray(expected_rates),
                           rtol=1e-5, atol=1e-9) and len(rates) == epochs
    final = history.epochs[-1]
    result = {
        "test_accuracy": final["accuracy"],
        "views": {"train loss points": len(curve), "test curves": 2 * len(test_acc),
                  "image grids": len(root.get("x", [])),
                  "learning rate first/last": [rates[0][1], rates[-1][1]] if rates else []},
        "read back": {"single curve": bool(single_ok), "multi-curve": bool(multi_ok),
                      "images": bool(images_ok), "learning rate": bool(rates_ok)},
        "logdir": str(tb.logdir),
    }
    threshold = MIN_ACCURACY["quick" if args.quick else args.dataset]
    reference = {"test_accuracy": f">= {threshold}",
                 # the seed's three views hold the logged values at the logged steps
                 "read back": {"single curve": True, "multi-curve": True, "images": True,
                               "learning rate": True}}
    ok = single_ok and multi_ok and images_ok and rates_ok and (
        final["accuracy"] >= threshold or args.epochs is not None
        or (args.lr, args.batch_size) != (LEARNING_RATE, None))
    return _cli.Outcome(result, reference, bool(ok), data_source=source, figures=figures)


def add_arguments(p) -> None:
    _data.add_arguments(p)
    _cli.add_training_arguments(
        p, lr=LEARNING_RATE, batch_help=f"default {BATCH_SIZE} (quick: 100)",
        lr_help=f"default {LEARNING_RATE}, cosine-decayed to 0",
        epochs_help=f"default {EPOCHS} (quick: {QUICK_EPOCHS})")


def main(argv=None) -> dict:
    return _cli.run("visualization", __doc__, body, argv, add_arguments=add_arguments)


if __name__ == "__main__":
    main()

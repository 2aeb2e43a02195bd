"""The seeds' MNIST log lines and figures, as ``fit`` hooks and plot calls for the experiments."""

from __future__ import annotations

import numpy as np

from jaxbasics import plots
from jaxbasics.train import LogEvent, Step, TrainState


def shown(epoch: int, epochs: int) -> bool:
    """Whether a run of ``epochs`` prints 0-based ``epoch``: ten of them, the last always."""
    return (epoch + 1) % max(1, epochs // 10) == 0 or epoch + 1 == epochs


def train_log(n_train: int, batch_size: int, epochs: int | None = None):
    """The seed's ``Train Epoch: e [seen/n (p%)]\\tLoss: l`` printer, for ``fit(on_log=)``.

    With ``epochs``, only the epochs :func:`shown` picks print (long runs on small data).
    """
    def on_log(e: LogEvent) -> None:
        if epochs is not None and not shown(e.epoch, epochs):
            return
        print(f"Train Epoch: {e.epoch} [{e.batch * batch_size}/{n_train} "
              f"({100.0 * e.batch / e.num_batches:.0f}%)]\tLoss: {e.metrics['loss']:.6f}")
    return on_log


def test_log(step: Step, state: TrainState, test, batch_size: int,
             quiet=False, label: str = "Test") -> dict[str, float]:
    """Evaluate and print the seed's ``Test set`` line (``label`` set); returns {"loss",
    "accuracy"}."""
    m = step.evaluate(state, test, batch_size)
    if quiet:
        return m
    n = len(test[1])
    correct = round(m["accuracy"] * n)
    print(f"\n{label} set: Average loss: {m['loss']:.4f}, Accuracy: {correct}/{n} "
          f"({100.0 * m['accuracy']:.0f}%)\n")
    return m


def figures(out, name, history, predicted, test, per_epoch, loss_name="cross-entropy"):
    """Loss curve (per step, and test loss per epoch) and 32 test digits with their
    ``predicted`` classes (n,) (``step.evaluate(..., per_example=True)["prediction"]``),
    drawn evenly through the test set."""
    steps_per_epoch = len(history.loss) // max(len(per_epoch), 1)
    curve = plots.curves(
        out / "loss.png", {"train (per batch)": history.loss,
                           "test (per epoch)": [m["loss"] for m in per_epoch]},
        x={"train (per batch)": np.arange(len(history.loss)),
           "test (per epoch)": steps_per_epoch * np.arange(1, len(per_epoch) + 1)},
        title=f"{name}: {loss_name}", xlabel="step")
    # Evenly spaced through the test set: the embedded split is sorted by label.
    pick = np.linspace(0, len(test[1]) - 1, 32).astype(int)
    x, y = (np.asarray(a)[pick] for a in test)
    grid = plots.digits(out / "predictions.png", x, y, np.asarray(predicted)[pick],
                        title=f"{name}: predicted (true), wrong in red")
    return [curve, grid]

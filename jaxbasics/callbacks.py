"""Reusable ``on_epoch`` callbacks for :func:`jaxbasics.train.fit`.

``fit`` calls ``on_epoch(epoch, state) -> dict | None`` after each minibatch epoch and stops
when the dict has ``"stop": True``. The callbacks here are small host-side objects that
evaluate the model, remember the best epoch and its parameters, and ask to stop:

* :class:`Monitor`: "test while train" - evaluates each epoch and tracks the best epoch.
* :class:`EarlyStopping`: a Monitor that stops after ``patience`` epochs without
  improvement and hands back the best epoch's state (PyTorch's save-best-checkpoint idiom).

They hold Python state (the best value so far), so build a fresh one per ``fit``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from jaxbasics._checks import choice
from jaxbasics.train import TrainState

Evaluate = Callable[[TrainState], dict[str, float]]


class Monitor:
    """Evaluate every epoch, record the numbers, and track the best epoch.

    evaluate: ``evaluate(state) -> {name: float}`` (e.g.
        ``lambda state: step.evaluate(state, val_data, batch_size)``).
    monitor: which of those names decides "best"; mode: ``'min'`` or ``'max'``.
    min_delta: an improvement must beat the best by more than this.
    prefix: prepended to the names in the dict returned to ``fit`` (``"val_"``).

    After the fit: ``best_epoch`` (0-based), ``best_value``, ``best_state`` (the whole
    TrainState of the best epoch) and ``history`` (one dict per epoch).
    """

    def __init__(self, evaluate: Evaluate, monitor: str = "loss", mode: str = "min", *,
                 min_delta: float = 0.0, prefix: str = "val_"):
        self.evaluate = evaluate
        self.monitor = monitor
        self.mode = choice("mode", mode, ("min", "max"))
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.prefix = prefix
        self.best_epoch: int | None = None
        self.best_value = math.inf if mode == "min" else -math.inf
        self.best_state: TrainState | None = None
        self.history: list[dict[str, float]] = []
        self.epochs_without_improvement = 0

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def __call__(self, epoch: int, state: TrainState) -> dict[str, Any]:
        values = dict(self.evaluate(state))
        if self.monitor not in values:
            raise KeyError(f"monitor {self.monitor!r} is not among the evaluated metrics "
                           f"{sorted(values)}")
        value = float(values[self.monitor])
        improved = self._improved(value)
        if improved:
            self.best_epoch, self.best_value, self.best_state = epoch, value, state
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        self.history.append(values)
        logs: dict[str, Any] = {f"{self.prefix}{k}": v for k, v in values.items()}
        logs["best_epoch"] = self.best_epoch
        logs["improved"] = improved
        return logs


class EarlyStopping(Monitor):
    """Stop after ``patience`` epochs in a row without improvement of ``monitor``.

    Same arguments as :class:`Monitor` plus ``patience`` (a positive int). Use
    :meth:`restore` on the state ``fit`` returns to get the best epoch's parameters.
    """

    def __init__(self, evaluate: Evaluate, monitor: str = "loss", mode: str = "min", *,
                 patience: int = 5, min_delta: float = 0.0, prefix: str = "val_"):
        super().__init__(evaluate, monitor, mode, min_delta=min_delta, prefix=prefix)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer; got {patience!r}")
        self.patience = patience
        self.stopped_epoch: int | None = None

    def __call__(self, epoch: int, state: TrainState) -> dict[str, Any]:
        logs = super().__call__(epoch, state)
        if self.epochs_without_improvement >= self.patience:
            self.stopped_epoch = epoch
            logs["stop"] = True
        return logs

    def restore(self, state: TrainState) -> TrainState:
        """The best epoch's state (``state`` itself if no epoch was evaluated)."""
        return state if self.best_state is None else self.best_state


def chain(*callbacks: Callable[[int, TrainState], dict[str, Any] | None]
          ) -> Callable[[int, TrainState], dict[str, Any]]:
    """Run several ``on_epoch`` callbacks in order; merge their dicts; stop if any asks."""
    def on_epoch(epoch: int, state: TrainState) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        stop = False
        for cb in callbacks:
            logs = cb(epoch, state) or {}
            stop = stop or bool(logs.get("stop"))
            merged.update(logs)
        if stop:
            merged["stop"] = True
        return merged
    return on_epoch

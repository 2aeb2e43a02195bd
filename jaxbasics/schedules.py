"""Learning-rate schedules as Optax pieces (``torch.optim.lr_scheduler`` equivalents).

* :func:`step_decay` - ``StepLR(step_size, gamma)`` in epochs, as an Optax schedule of the
  step count (``optax.exponential_decay(staircase=True)``); pass it as the learning rate.
* :func:`with_plateau` - ``ReduceLROnPlateau``: ``optax.contrib.reduce_on_plateau`` chained
  after the optimizer. It reads the loss from ``update(..., value=)``, which the engine's
  step always passes; :func:`plateau_scale` reads the current factor from the opt state.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from jaxbasics._checks import positive


def step_decay(learning_rate: float, step_size: int, gamma: float = 0.1, *,
               steps_per_epoch: int = 1) -> optax.Schedule:
    """``lr * gamma ** (epoch // step_size)`` as a function of the step count.

    step_size: epochs between decays (PyTorch's ``step_size``); steps_per_epoch: optimizer
    steps in one epoch (1 for full batch). gamma > 0 (PyTorch allows growth too).
    """
    positive("learning_rate", learning_rate)
    positive("step_size", step_size, integer=True)
    positive("steps_per_epoch", steps_per_epoch, integer=True)
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0 (below 1 decays); got {gamma!r}")
    return optax.exponential_decay(learning_rate, transition_steps=step_size * steps_per_epoch,
                                   decay_rate=gamma, staircase=True)


def with_plateau(optimizer: optax.GradientTransformation, *, factor: float = 0.1,
                 patience: int = 10, rtol: float = 1e-4, cooldown: int = 0,
                 accumulation_size: int = 1, min_scale: float = 0.0
                 ) -> optax.GradientTransformation:
    """``optimizer`` followed by ``ReduceLROnPlateau(factor, patience)`` on the training loss.

    The updates are scaled by a factor that is multiplied by ``factor`` each time the loss
    (averaged over ``accumulation_size`` steps - set it to the steps per epoch for a
    per-epoch rule like PyTorch's) fails to improve by ``rtol`` for *more than*
    ``patience`` rounds in a row, as PyTorch counts: ``patience=2`` cuts at the third bad
    round. (Optax's ``reduce_on_plateau(patience=p)`` cuts when the count *reaches* p, so
    it is given ``patience + 1``.) ``patience=0`` cuts after every bad round.
    """
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1); got {factor!r}")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ValueError(f"patience must be a non-negative integer; got {patience!r}")
    positive("accumulation_size", accumulation_size, integer=True)
    return optax.chain(optimizer, optax.contrib.reduce_on_plateau(
        factor=factor, patience=patience + 1, rtol=rtol, atol=0.0, cooldown=cooldown,
        accumulation_size=accumulation_size, min_scale=min_scale))


def plateau_scale(opt_state: Any) -> float:
    """The current ``reduce_on_plateau`` scale in an opt state (1.0 until the first cut)."""
    found = [s.scale for s in jax.tree.leaves(
        opt_state, is_leaf=lambda s: isinstance(s, optax.contrib.ReduceLROnPlateauState))
        if isinstance(s, optax.contrib.ReduceLROnPlateauState)]
    if not found:
        raise ValueError("opt_state holds no reduce_on_plateau state")
    return float(found[0])

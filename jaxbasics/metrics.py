"""Per-example evaluation metrics, for ``make_step(..., metrics=)`` and ``Step.evaluate``.

A metrics function maps ``(params, batch)`` to ``{name: (b,) array}``, one value per
example, so that evaluation can batch, pad and average them exactly.
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp
from jax import Array

from jaxbasics import losses


def classification(apply: Callable[[Any, Array], Array]) -> Callable[[Any, tuple], dict[str, Array]]:
    """Cross-entropy, correctness and prediction of ``apply(params, x) -> logits (b,
    classes)`` on a batch ``(x, y)`` with integer labels y (b,): ``{"loss": (b,) float32,
    "accuracy": (b,) bool, "prediction": (b,) int32}`` (the prediction has no mean:
    ``Step.evaluate`` returns it with ``per_example=True``)."""
    def metrics(params: Any, batch: tuple[Array, Array]) -> dict[str, Array]:
        x, y = batch
        logits = apply(params, x)
        prediction = jnp.argmax(logits, -1).astype(jnp.int32)
        return {"loss": losses.cross_entropy(logits, y, reduction="none"),
                "accuracy": prediction == y, "prediction": prediction}
    return metrics

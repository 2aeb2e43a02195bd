"""Shared pieces of the section C digit experiments: data, objective, metrics.

No training loop here: every experiment trains with ``jaxbasics.train.fit``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxbasics import losses
from jaxbasics.data import load
from jaxbasics.models import apply_mlp


def digits(split: str, limit: int | None = None, key=None):
    """(images (n, 784) float32, labels (n,) int32) on the device, and the source string.

    The embedded splits are stored in class order, so they are shuffled (by ``key``, or a
    fixed key 0) before the first ``limit`` examples are kept.
    """
    ds = load("mnist", split)
    x, y = ds.images.reshape(len(ds), -1), ds.labels
    order = np.asarray(jax.random.permutation(
        jax.random.key(0) if key is None else key, len(y)))
    if limit is not None:
        order = order[:limit]
    return (jax.device_put(x[order]), jax.device_put(y[order])), ds.source


def objective(params, batch, activation=jax.nn.relu):
    """Mean cross-entropy of the MLP (no dropout) on (x (n, 784), y (n,))."""
    x, y = batch
    return losses.cross_entropy(apply_mlp(params, x, activation=activation), y)


def dropout_objective(p: float):
    """A stateful objective: the MLP with dropout ``p``, the engine's per-step key."""
    def obj(params, batch, model_state, key):
        x, y = batch
        logits = apply_mlp(params, x, p=p, key=key, train=True)
        return losses.cross_entropy(logits, y), (model_state, {})
    return obj


def metrics(params, batch, activation=jax.nn.relu):
    """Per-example loss and accuracy of the MLP in evaluation mode (no dropout)."""
    x, y = batch
    logits = apply_mlp(params, x, activation=activation)
    return {"loss": losses.cross_entropy(logits, y, reduction="none"),
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32)}

"""The course's MNIST MLP objectives, shared by the generalisation chapter's experiments."""

from __future__ import annotations

import functools

import jax

from jaxbasics import losses, metrics
from jaxbasics.models import apply_mlp


def objective(params, batch, activation=jax.nn.relu):
    """Mean cross-entropy of the MLP (no dropout) on (x (n, 28, 28, 1), y (n,))."""
    x, y = batch
    return losses.cross_entropy(apply_mlp(params, x, activation=activation), y)


def dropout_objective(p: float):
    """A stateful objective: the MLP with dropout ``p``, the engine's per-step key."""
    def obj(params, batch, model_state, key):
        x, y = batch
        logits = apply_mlp(params, x, p=p, key=key, train=True)
        return losses.cross_entropy(logits, y), (model_state, {})
    return obj


def mlp_metrics(activation=jax.nn.relu):
    """Per-example loss and correctness of the MLP in evaluation mode (no dropout)."""
    return metrics.classification(functools.partial(apply_mlp, activation=activation))

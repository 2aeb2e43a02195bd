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


def dropout_objective(params, batch, rate, key):
    """A stateful objective: the MLP with dropout, the engine's per-step key. The rate is
    the train state's ``model_state``, a () float32: a number the program reads, not a
    constant compiled into it, so one step (one compiled program) trains every rate."""
    x, y = batch
    logits = apply_mlp(params, x, p=rate, key=key, train=True)
    return losses.cross_entropy(logits, y), (rate, {})


def mlp_metrics(activation=jax.nn.relu, *, stateful: bool = False):
    """Per-example loss and correctness of the MLP in evaluation mode (no dropout);
    ``stateful``: for a state whose ``model_state`` is :func:`dropout_objective`'s rate
    (evaluation ignores it)."""
    classify = metrics.classification(functools.partial(apply_mlp, activation=activation))
    if not stateful:
        return classify
    return lambda params, batch, rate: classify(params, batch)

"""Loss functions with PyTorch's semantics (``torch.nn.functional``).

Every loss takes ``(input, target)`` in PyTorch's argument order and a ``reduction`` of
``'mean'`` (default), ``'sum'`` or ``'none'``. Shapes must match exactly: PyTorch would
broadcast ``(n, 1)`` against ``(n,)`` to ``(n, n)`` with only a warning, which silently
trains the wrong model, so here it is an error.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import choice

REDUCTIONS = ("mean", "sum", "none")


def reduce(values: Array, reduction: str = "mean") -> Array:
    """Reduce elementwise losses: ``'mean'`` -> scalar mean, ``'sum'`` -> scalar, ``'none'`` -> as is."""
    choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def _same_shape(input: Array, target: Array) -> None:
    if jnp.shape(input) != jnp.shape(target):
        raise ValueError(
            f"input and target must have the same shape; got input {jnp.shape(input)} "
            f"and target {jnp.shape(target)}"
        )


def mse(input: Array, target: Array, reduction: str = "mean") -> Array:
    """Mean squared error, ``torch.nn.MSELoss``: reduce((input - target)**2).

    input, target: any shape, the same for both, float.
    """
    _same_shape(input, target)
    return reduce(jnp.square(input - target), reduction)


def l1(input: Array, target: Array, reduction: str = "mean") -> Array:
    """Mean absolute error, ``torch.nn.L1Loss``: reduce(|input - target|)."""
    _same_shape(input, target)
    return reduce(jnp.abs(input - target), reduction)


def squared_loss(y_hat: Array, y: Array) -> Array:
    """d2l's ``squared_loss``: (y_hat - y)**2 / 2 per example, unreduced.

    y_hat, y: (n, 1) or (n,), same shape.
    """
    _same_shape(y_hat, y)
    return jnp.square(y_hat - y) / 2


def _check_labels(logits: Array, labels: Array) -> None:
    if jnp.ndim(logits) < 1 or jnp.shape(labels) != jnp.shape(logits)[:-1]:
        raise ValueError(f"labels must have the shape of input without its class axis; got "
                         f"input {jnp.shape(logits)} and labels {jnp.shape(labels)}")
    if not jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer):
        raise TypeError(f"labels must be integer class indices; got dtype {jnp.asarray(labels).dtype}")


def nll(log_probs: Array, labels: Array, weight: Array | None = None,
        reduction: str = "mean") -> Array:
    """``F.nll_loss``: -log_probs[i, labels[i]], weighted by ``weight[labels[i]]``.

    log_probs: (n, C) float; labels: (n,) int in [0, C); weight: (C,) or None. With weights
    the mean is Σ wᵢ·lᵢ / Σ wᵢ (PyTorch's), not a plain mean.
    """
    _check_labels(log_probs, labels)
    picked = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    if weight is None:
        return reduce(picked, reduction)
    w = jnp.asarray(weight)[labels]
    if reduction == "mean":
        return jnp.sum(w * picked) / jnp.sum(w)
    return reduce(w * picked, reduction)


def cross_entropy(logits: Array, labels: Array, weight: Array | None = None,
                  reduction: str = "mean") -> Array:
    """``F.cross_entropy`` on integer labels: ``nll(log_softmax(logits), labels)``.

    logits: (n, C) float; labels: (n,) int in [0, C).
    """
    import jax
    return nll(jax.nn.log_softmax(logits, axis=-1), labels, weight, reduction)

"""Weight penalties as objective wrappers (the course's L1/L2 regularisation).

``regularized(objective, l1=, l2=)`` returns a new objective with the same signature whose
loss is ``loss + l1 * Σ|w| + l2/2 * Σw²``. The gradient of ``l2/2 * Σw²`` is ``l2 * w``,
so plain SGD on it equals ``torch.optim.SGD(weight_decay=l2)`` (coupled L2), which
``optim.make('sgd', lr, weight_decay=l2)`` builds.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxbasics import tensor
from jaxbasics._checks import non_negative


def _leaves(params: Any, only: Callable[[Array], bool] | None) -> list[Array]:
    leaves = jax.tree.leaves(params)
    return [leaf for leaf in leaves if only is None or only(leaf)]


def l1_penalty(params: Any, only: Callable[[Array], bool] | None = None) -> Array:
    """Σ|w| over every float leaf of the pytree ``params`` (or those ``only(leaf)`` keeps).

    Returns a () float32 scalar (0 for an empty pytree). Its gradient is sign(w), 0 at
    w = 0 as PyTorch's ``w.abs().sum()`` (:func:`jaxbasics.tensor.abs`; ``jnp.abs``'s
    would push a zero-initialised bias off 0 on the first step).
    """
    return sum((jnp.sum(tensor.abs(w)) for w in _leaves(params, only)),
               jnp.zeros((), jnp.float32))


def l2_penalty(params: Any, only: Callable[[Array], bool] | None = None) -> Array:
    """Σw² over every leaf of ``params`` (or those ``only(leaf)`` keeps); () float32."""
    return sum((jnp.sum(jnp.square(w)) for w in _leaves(params, only)),
               jnp.zeros((), jnp.float32))


def weights_only(leaf: Array) -> bool:
    """A filter for ``only=``: matrices and kernels (ndim >= 2), not biases."""
    return jnp.ndim(leaf) >= 2


def regularized(objective: Callable[..., Any], *, l1: float = 0.0, l2: float = 0.0,
                only: Callable[[Array], bool] | None = None) -> Callable[..., Any]:
    """``objective`` plus ``l1 * Σ|w| + l2 / 2 * Σw²`` over its first argument (the params).

    objective: any objective of the engine (``objective(params, ...)``), returning a loss or
        a ``(loss, aux)`` tuple (``has_aux``/``stateful``); the penalty is added to the loss
        and the aux passes through untouched.
    l1, l2: coefficients >= 0. ``l2`` matches PyTorch's SGD ``weight_decay``.
    only: which leaves to penalise (e.g. :func:`weights_only`); None: all of them.
    """
    l1, l2 = float(non_negative("l1", l1)), float(non_negative("l2", l2))

    def penalized(params, *args, **kwargs):
        out = objective(params, *args, **kwargs)
        penalty = jnp.zeros((), jnp.float32)
        if l1:
            penalty = penalty + l1 * l1_penalty(params, only)
        if l2:
            penalty = penalty + 0.5 * l2 * l2_penalty(params, only)
        if isinstance(out, tuple):
            return (out[0] + penalty, *out[1:])
        return out + penalty

    return penalized


def fraction_small(params: Any, threshold: float = 1e-3,
                   only: Callable[[Array], bool] | None = None) -> float:
    """The fraction of entries with ``|w| < threshold`` (sparsity), a Python float,
    counted on the host (a report, not a training computation)."""
    leaves = [np.asarray(w) for w in _leaves(params, only)]
    total = sum(w.size for w in leaves)
    if total == 0:
        raise ValueError("params has no entries to measure")
    small = sum(int(np.sum(np.abs(w) < threshold)) for w in leaves)
    return small / total

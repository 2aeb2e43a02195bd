"""Dropout as PyTorch does it: inverted dropout, identity in evaluation.

In training each entry is zeroed with probability ``p`` and the survivors are scaled by
``1 / (1 - p)`` so the expectation is unchanged; in evaluation the input passes through
unchanged. The key comes from the engine's stateful objective (a fresh split each step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxbasics._checks import prng_key


def check_rate(p: float | Array) -> float | Array:
    """Return ``p`` as a float if it is in [0, 1), else raise ValueError naming ``p``. A
    traced rate (a () float array inside ``jit``: one program for several rates) is
    returned as it is; its value cannot be checked there."""
    if isinstance(p, jax.core.Tracer):
        if jnp.shape(p) != () or not jnp.issubdtype(p.dtype, jnp.floating):
            raise TypeError(f"p (the dropout probability) must be a () float; got {p!r}")
        return p
    if isinstance(p, (jax.Array, np.ndarray)) and np.ndim(p) == 0:
        p = float(p)
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p (the dropout probability) must be a number in [0, 1); got {p!r}")
    if not 0 <= p < 1:
        raise ValueError(f"p (the dropout probability) must be in [0, 1); got {p!r}")
    return float(p)


def dropout(x: Array, p: float | Array, key: Array | None, *, train: bool = True) -> Array:
    """``F.dropout(x, p, training=train)``: x * mask / (1 - p), mask ~ Bernoulli(1 - p).

    x: any shape, float. p: drop probability in [0, 1), a Python float or, inside ``jit``,
    a traced () float (the mask is then drawn even at 0, where it keeps every entry).
    key: a PRNG key, required when ``train`` and ``p`` may be above 0. ``train=False``
    (or a float ``p == 0``) returns ``x`` unchanged. Returns an array of x's shape and dtype.
    """
    p = check_rate(p)
    if not train or (isinstance(p, float) and p == 0.0):
        return x
    if key is None:
        raise ValueError("key must be a PRNG key when dropout trains with p > 0; use "
                         "make_step(..., stateful=True) and init_state(..., key=)")
    prng_key("key", key)
    keep = jax.random.bernoulli(key, 1.0 - p, jnp.shape(x))
    return jnp.where(keep, x / (1.0 - p), jnp.zeros((), x.dtype)).astype(x.dtype)

"""The course's multilayer perceptron (784-200-200-10, ReLU), with optional dropout."""

from __future__ import annotations

from typing import Callable, Sequence

import jax
from jax import Array

from jaxbasics.dropout import check_rate, dropout
from jaxbasics.models.linear import apply_linear, init_linear


def init_mlp(key: Array, sizes: Sequence[int] = (784, 200, 200, 10)) -> list[dict[str, Array]]:
    """One ``nn.Linear``-initialised layer per consecutive pair of ``sizes``."""
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least input and output sizes; got {sizes!r}")
    keys = jax.random.split(key, len(sizes) - 1)
    return [init_linear(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def apply_mlp(params: list[dict[str, Array]], x: Array, *, p: float = 0.0,
              key: Array | None = None, train: bool = False,
              activation: Callable[[Array], Array] = jax.nn.relu) -> Array:
    """Logits (n, classes) float32 from x (n, ...) flattened to (n, in).

    ``activation`` between layers (ReLU; ``jax.nn.leaky_relu`` is ``nn.LeakyReLU()``); with ``p > 0`` and ``train`` each hidden activation goes through
    inverted dropout (``nn.Dropout(p)`` after each ReLU, as in the course), one key per
    layer split from ``key``. ``train=False`` is deterministic.
    """
    check_rate(p)
    h = x.reshape(x.shape[0], -1)
    keys = (jax.random.split(key, len(params)) if (train and p > 0 and key is not None)
            else [None] * len(params))
    for i, layer in enumerate(params):
        h = apply_linear(layer, h)
        if i < len(params) - 1:
            h = dropout(activation(h), p, keys[i], train=train)
    return h

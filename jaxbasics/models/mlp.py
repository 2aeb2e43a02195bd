"""The course's multilayer perceptron (seeds 001/004: 784-200-200-10, ReLU) as a pure pair.

Layers are ``nn.Linear`` layouts (w: (out, in)); images (n, 28, 28, 1) are flattened to
(n, 784). Optional inverted dropout after each hidden activation (``nn.Dropout(p)``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
from jax import Array

from jaxbasics._checks import choice, positive
from jaxbasics._once import jit_once
from jaxbasics.dropout import check_rate, dropout
from jaxbasics.models.linear import INITS, apply_linear, draw_linears


def init_mlp(key: Array, sizes: Sequence[int] = (784, 200, 200, 10), *, init: str = "torch",
             std: float = 1.0) -> list[dict[str, Array]]:
    """One ``{"w": (out, in), "b": (out,)}`` float32 layer per consecutive pair of ``sizes``,
    drawn by one compiled program.

    init: as :func:`init_linear`: ``'torch'`` (``nn.Linear``'s default), ``'kaiming'``
        (``kaiming_normal_``, the seeds' MLP), ``'normal'`` (w ~ N(0, std); the seeds'
        ``torch.randn`` is std 1, the init that stalls), ``'zeros'``.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least input and output sizes; got {sizes!r}")
    choice("init", init, INITS)
    for size in sizes:
        positive("sizes entry", size, integer=True)
    return _init_mlp(key, tuple(sizes), init, std)


@jit_once(static_argnums=(1, 2, 3))
def _init_mlp(key: Array, sizes: tuple[int, ...], init: str, std: float):
    """All layers in one compiled program."""
    return draw_linears(key, list(zip(sizes[:-1], sizes[1:])), init, std)


def apply_mlp(params: list[dict[str, Array]], x: Array, *, p: float | Array = 0.0,
              key: Array | None = None, train: bool = False, relu_logits: bool = False,
              activation: Callable[[Array], Array] = jax.nn.relu) -> Array:
    """Logits (n, classes) float32 from x (n, ...) flattened to (n, in).

    activation: between layers (``jax.nn.leaky_relu`` is ``nn.LeakyReLU()``).
    relu_logits: apply ``activation`` to the last layer too, as seeds 001/004 write it (their
        logits are >= 0); off by default.
    p, key, train: with ``p > 0`` and ``train``, inverted dropout after each hidden
        activation, one key per layer split from ``key``; ``train=False`` is deterministic.
        ``p`` may be a traced () float (one compiled program for several rates).
    """
    p = check_rate(p)
    h = x.reshape(x.shape[0], -1)
    drops = train and key is not None and not (isinstance(p, float) and p == 0.0)
    keys = jax.random.split(key, len(params)) if drops else [None] * len(params)
    for i, layer in enumerate(params):
        h = apply_linear(layer, h)
        if i < len(params) - 1:
            h = dropout(activation(h), p, keys[i], train=train)
        elif relu_logits:
            h = activation(h)
    return h

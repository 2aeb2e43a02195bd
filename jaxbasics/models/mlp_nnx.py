"""The seed's MLP as a Flax NNX module, beside the pure pair in :mod:`jaxbasics.models.mlp`.

In a module of its own so that the pure models do not import Flax (0.25 s and 12 MiB of
every process that imports it, measured on a 2-core Zen 4).
"""

from __future__ import annotations

from typing import Sequence

import jax
from flax import nnx
from jax import Array


class MLP(nnx.Module):
    """The seed's 784-200-200-10 MLP as an NNX module (``nn.Sequential`` of Linear/ReLU).

    x: (n, 28, 28, 1) or (n, 784) float32 -> logits (n, 10). Kaiming-normal weights (or
    N(0, 1) with ``kaiming=False``), zero biases; ``relu_logits`` as in :func:`apply_mlp`.
    """

    def __init__(self, sizes: Sequence[int] = (784, 200, 200, 10), *, kaiming: bool = True,
                 relu_logits: bool = False, rngs: nnx.Rngs):
        init = (nnx.initializers.variance_scaling(2.0, "fan_in", "normal") if kaiming
                else nnx.initializers.normal(1.0))
        self.layers = nnx.List([nnx.Linear(i, o, kernel_init=init, rngs=rngs)
                                for i, o in zip(sizes[:-1], sizes[1:])])
        self.relu_logits = relu_logits

    def __call__(self, x: Array) -> Array:
        h = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1 or self.relu_logits:
                h = jax.nn.relu(h)
        return h

"""LeNet-5 as seed 002 writes it, as a pure pair.

Layouts are the project's (see :mod:`jaxbasics.conv`): images NHWC (n, 28, 28, 1), as
:func:`jaxbasics.data.load` returns them, convolution kernels HWIO (kh, kw, in, out), linear
weights PyTorch's (out, in). The features are flattened in PyTorch's (C, H, W) order, so a
state dict copied from PyTorch (kernels through :func:`jaxbasics.conv.torch_to_flax_kernel`)
gives the same outputs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics import conv
from jaxbasics._once import jit_once

SHAPES = {"conv1": (5, 5, 1, 6), "conv2": (5, 5, 6, 16), "fc1": (120, 256), "fc2": (84, 120),
          "fc3": (10, 84)}


@jit_once
def init_lenet(key: Array) -> dict[str, dict[str, Array]]:
    """PyTorch's default init, w and b ~ U(±1/sqrt(fan_in)), float32 (one compiled program).

    conv1 (5, 5, 1, 6), conv2 (5, 5, 6, 16), fc1 (120, 256), fc2 (84, 120), fc3 (10, 84),
    each ``{"w": ..., "b": (out,)}``. All 61,706 values come from one U(-1, 1) draw, cut
    and scaled per layer: XLA compiles one random draw 3x faster than ten.
    """
    pieces = []
    for name, shape in SHAPES.items():
        conv_layer = len(shape) == 4
        fan_in = math.prod(shape[:3]) if conv_layer else shape[1]
        out = shape[-1] if conv_layer else shape[0]
        pieces += [(name, "w", shape, fan_in), (name, "b", (out,), fan_in)]
    u = jax.random.uniform(key, (sum(math.prod(p[2]) for p in pieces),), jnp.float32, -1, 1)
    params: dict[str, dict[str, Array]] = {}
    start = 0
    for name, part, shape, fan_in in pieces:
        size = math.prod(shape)
        params.setdefault(name, {})[part] = u[start:start + size].reshape(shape) / math.sqrt(fan_in)
        start += size
    return params


def apply_lenet(params: dict[str, dict[str, Array]], x: Array, *, impl: str = "auto") -> Array:
    """Logits (n, 10) of images x (n, 28, 28, 1) float32.

    impl: the convolution's, see :func:`jaxbasics.conv.conv2d` (``'auto'``: shifted slices
    and a matmul on CPU, where they keep the fused epoch fast; XLA's convolution elsewhere).
    """
    h = x
    for name in ("conv1", "conv2"):
        h = conv.conv2d(h, params[name]["w"], params[name]["b"], impl=impl)
        # relu then max-pool, as the seed writes it, equals max-pool then relu (both are
        # monotone); pooling first applies relu to a quarter of the values (0.93-1.0x the
        # fused epoch's time, measured on a Zen 4).
        h = jax.nn.relu(conv.max_pool2d(h, 2))
    h = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)  # PyTorch's view(-1, 16*4*4)
    h = jax.nn.relu(h @ params["fc1"]["w"].T + params["fc1"]["b"])
    h = jax.nn.relu(h @ params["fc2"]["w"].T + params["fc2"]["b"])
    return h @ params["fc3"]["w"].T + params["fc3"]["b"]

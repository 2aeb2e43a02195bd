"""LeNet-5 as seed 002 writes it, as a pure pair.

Layouts are PyTorch's: a convolution kernel is OIHW (out_channels, in_channels, kh, kw), a
linear weight (out, in). Images come in NHWC (n, 28, 28, 1), as :func:`jaxbasics.data.load`
returns them, and LeNet flattens its features in PyTorch's (C, H, W) order, so a state dict
copied from PyTorch gives the same outputs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array


def _torch_uniform(key: Array, shape: tuple[int, ...], fan_in: int) -> Array:
    bound = 1 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def init_lenet(key: Array) -> dict[str, dict[str, Array]]:
    """LeNet-5 as seed 002 writes it, PyTorch's default init (U(±1/sqrt(fan_in))).

    conv1 (6, 1, 5, 5), conv2 (16, 6, 5, 5), fc1 (120, 256), fc2 (84, 120), fc3 (10, 84),
    each with a bias of its output size.
    """
    shapes = {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5), "fc1": (120, 256),
              "fc2": (84, 120), "fc3": (10, 84)}
    params = {}
    for k, (name, shape) in zip(jax.random.split(key, len(shapes)), shapes.items()):
        kw, kb = jax.random.split(k)
        fan_in = math.prod(shape[1:])
        params[name] = {"w": _torch_uniform(kw, shape, fan_in),
                        "b": _torch_uniform(kb, (shape[0],), fan_in)}
    return params


def conv2d(x: Array, w: Array, b: Array) -> Array:
    """``F.conv2d`` with no padding, stride 1: x (n, H, W, C) NHWC, w OIHW -> NHWC."""
    y = jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding="VALID",
                                     dimension_numbers=("NHWC", "OIHW", "NHWC"))
    return y + b


def max_pool2d(x: Array) -> Array:
    """``F.max_pool2d(x, 2, 2)`` on NHWC."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def apply_lenet(params: dict[str, dict[str, Array]], x: Array) -> Array:
    """Logits (n, 10) of images x (n, 28, 28, 1) float32."""
    h = max_pool2d(jax.nn.relu(conv2d(x, params["conv1"]["w"], params["conv1"]["b"])))
    h = max_pool2d(jax.nn.relu(conv2d(h, params["conv2"]["w"], params["conv2"]["b"])))
    h = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)  # PyTorch's view(-1, 16*4*4)
    h = jax.nn.relu(h @ params["fc1"]["w"].T + params["fc1"]["b"])
    h = jax.nn.relu(h @ params["fc2"]["w"].T + params["fc2"]["b"])
    return h @ params["fc3"]["w"].T + params["fc3"]["b"]

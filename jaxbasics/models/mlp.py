"""The seeds' MNIST models as pure pairs: the raw-parameter MLP (seed 001/004) and LeNet (002).

Layouts are PyTorch's: a linear weight is (out, in); a convolution kernel is OIHW
(out_channels, in_channels, kh, kw). Images come in NHWC (n, 28, 28, 1), as
:func:`jaxbasics.data.load` returns them, and LeNet flattens its features in PyTorch's
(C, H, W) order, so a state dict copied from PyTorch gives the same outputs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array

from jaxbasics._checks import choice

MLP_INITS = ("kaiming", "normal")


def init_mlp(key: Array, sizes: tuple[int, ...] = (784, 200, 200, 10), *,
             init: str = "kaiming") -> list[dict[str, Array]]:
    """One ``{"w": (out, in), "b": (out,)}`` float32 per layer, biases zero.

    init: ``'kaiming'`` is ``torch.nn.init.kaiming_normal_`` (fan_in, gain sqrt(2):
        w ~ N(0, 2/in)); ``'normal'`` keeps the seed's ``torch.randn`` w ~ N(0, 1).
    """
    choice("init", init, MLP_INITS)
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:]):
        std = math.sqrt(2.0 / fan_in) if init == "kaiming" else 1.0
        layers.append({"w": std * jax.random.normal(k, (fan_out, fan_in), jnp.float32),
                       "b": jnp.zeros((fan_out,), jnp.float32)})
    return layers


def apply_mlp(params: list[dict[str, Array]], x: Array, *, relu_logits: bool = True) -> Array:
    """Logits (n, 10) of images x (n, 28, 28, 1) or (n, 784): x @ w.T + b, relu between.

    relu_logits: the seed also applies relu to the last layer (its logits are >= 0).
    """
    h = x.reshape(x.shape[0], -1)
    for i, layer in enumerate(params):
        h = h @ layer["w"].T + layer["b"]
        if i < len(params) - 1 or relu_logits:
            h = jax.nn.relu(h)
    return h


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
